import type { Duration, RemovalPolicy, Size } from 'aws-cdk-lib';
import type * as cw from 'aws-cdk-lib/aws-cloudwatch';
import type * as glue from 'aws-cdk-lib/aws-glue';
import type * as kinesis from 'aws-cdk-lib/aws-kinesis';
import type * as firehose from 'aws-cdk-lib/aws-kinesisfirehose';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type { ThroughputIntent } from '../core/ingest-stream';
import type { IKafkaTopic } from '../core/kafka-refs';
import type { EventTimeOptions, PartitionKey } from '../core/partition-spec';
import type { ReplayTagging, WriteCapacity } from '../core/replay-machine';
import type { LifecycleOptions, ObjectLockMode } from '../core/secure-bucket';

/** The ReplayArchive options a lake passes through to its raw zone. */
export interface LakeRawArchiveOptions {
  /** Partition-key lanes per hour, 1-100. @default 16 */
  readonly lanes?: number;
  /**
   * Streams a replay may write to; the first is the default target. Listing the lake's own stream
   * needs `allowReplayIntoArchivedStream`.
   * @default - [lake.replayStream]: a dedicated replay stream, which the lake's deliveries do not read
   */
  readonly replayTargets?: kinesis.IStream[];
  /**
   * MSK topics a replay may write to (`"targetTopic"` in the execution input); the first is the default
   * target when `replayTargets` is not given, and no replay stream is created. The replay worker runs
   * in the topics' cluster VPC. See ReplayArchiveProps.replayTopics.
   * @default - none
   */
  readonly replayTopics?: IKafkaTopic[];
  /** Write capacity assumed for a topic target. @default 5,000 records/s and 5 MiB/s */
  readonly topicWriteCapacity?: WriteCapacity;
  /**
   * Let `replayTargets` list the lake's own stream, accepting that the curated zone appends the
   * replayed window again as duplicate rows and the raw zone archives it again.
   * @default false
   */
  readonly allowReplayIntoArchivedStream?: boolean;
  /** Write load the created replay stream is planned for. Not with `replayTargets`. @default - one provisioned shard */
  readonly replayStreamThroughput?: ThroughputIntent;
  /** Retention of the created replay stream. Not with `replayTargets`. @default Duration.days(1) */
  readonly replayStreamRetention?: Duration;
  /** Share of the target's write capacity a replay may use. @default 0.5 */
  readonly writeShare?: number;
  /** Write capacity of an on-demand target. @default 4,000 records/s and 4 MiB/s */
  readonly onDemandWriteCapacity?: WriteCapacity;
  /** How replayed records are marked. @default ReplayTagging.KPL_TAG */
  readonly tagging?: ReplayTagging;
}

/** The bundled transform handler's options. */
export interface TransformOptions {
  /**
   * Top-level column → dotted payload path (`device.geo.region`): the handler
   * copies nested values to the top level so the Parquet schema can hold them.
   * Each column must be in `schema`.
   * @default - none
   */
  readonly flatten?: { [column: string]: string };
}

/** Properties of a {@link StreamingLake}. */
export interface StreamingLakeProps {
  /** Typed data columns (use `glue.Schema.*`, including struct, array and map). They drive the Parquet conversion. */
  readonly schema: glue.Column[];
  /** Which payload field holds event time, its format, the partition granularity, the projection start and the future-skew allowance. */
  readonly eventTime: EventTimeOptions;
  /** Up to 3 low-cardinality payload keys partitioned after event time. @default - none */
  readonly partitionKeys?: PartitionKey[];
  /** Expected load; plans provisioned shards for writes and for the stream's polling readers (counted at synth), with 25% headroom. Not with `stream` or `topic`. @default - on-demand */
  readonly throughput?: ThroughputIntent;
  /** An existing stream to read from instead of creating one. Not with `throughput` or `topic`. @default - a stream is created */
  readonly stream?: kinesis.IStream;
  /**
   * An MSK topic to read instead of a Kinesis stream (MSK Provisioned, IAM access control, no t3
   * brokers). Both zones read it through Firehose over multi-VPC private connectivity, which a custom
   * resource turns on for the cluster after it exists (MSK refuses it at creation; it takes up to an
   * hour) and which the delivery streams wait for. Not with `stream`, `throughput` or `retention`.
   * @default - the lake reads a Kinesis stream
   */
  readonly topic?: IKafkaTopic;
  /** Retention of the created stream (24 h-8,760 h); with `stream`, give its retention so the iterator-age alarm is relative to it. Not with `topic`. @default Duration.days(7) */
  readonly retention?: Duration;
  /** Key for the stream, buckets and log groups. It must allow CloudWatch Logs to use it. @default - a customer-managed key with rotation */
  readonly encryptionKey?: kms.IKey;
  /** Firehose buffer size, 64-128 MiB. @default Size.mebibytes(128) */
  readonly bufferingSize?: Size;
  /** Firehose buffer interval, 60-900 s. @default Duration.seconds(300) */
  readonly bufferingInterval?: Duration;
  /** Parquet codec: SNAPPY, GZIP or UNCOMPRESSED (Firehose has no ZSTD). @default ParquetCompression.SNAPPY */
  readonly compression?: firehose.ParquetCompression;
  /** Tiering and expiry of the curated data. @default - Standard-IA at 30 days, Glacier IR at 90, never expires */
  readonly lifecycle?: LifecycleOptions;
  /**
   * Keep a raw zone: a ReplayArchive of the stream (exact records as gzip JSON Lines by arrival hour
   * and partition-key lane, an Athena table over them, and a replay state machine), for audits and replays.
   * @default true
   */
  readonly rawArchive?: boolean;
  /**
   * Make the raw zone write-once for this long (S3 Object Lock), so the audit and replay source
   * of truth cannot be altered or deleted.
   * @default - no Object Lock
   */
  readonly rawObjectLockRetention?: Duration;
  /** Object Lock mode of `rawObjectLockRetention`. @default ObjectLockMode.GOVERNANCE */
  readonly rawObjectLockMode?: ObjectLockMode;
  /** Options of the raw zone's archive and replay (lanes, replay targets and stream, write share, tagging). @default - the ReplayArchive defaults */
  readonly rawArchiveOptions?: LakeRawArchiveOptions;
  /** Tiering and expiry of the raw zone. @default - Standard-IA at 30 days, Glacier IR at 90, never expires */
  readonly rawLifecycle?: LifecycleOptions;
  /** Use the bundled transform handler instead of inline jq. Always used for `EventTimeFormat.ISO_8601`. @default - jq, unless the format needs the handler */
  readonly transform?: TransformOptions;
  /**
   * Action of the alarms that page and of the composite (e.g. `new SnsAction(topic)`; CloudWatch is
   * allowed to publish to a topic of this app, see the README's paging table).
   * @default - an encrypted SNS topic is created (`monitor.alarmTopic`)
   */
  readonly alarmAction?: cw.IAlarmAction;
  /** An existing Glue database for the table. @default - a database is created */
  readonly database?: glue.IDatabase;
  /** An existing bucket for the curated data. Import a KMS bucket with its key. @default - a secure bucket is created */
  readonly bucket?: s3.IBucket;
  /** Removal policy of created data buckets. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
  /** Firehose's active-partition quota for the account (500, raisable to 5,000). @default 500 */
  readonly maxActivePartitions?: number;
}
