import type { Duration, RemovalPolicy, Size } from 'aws-cdk-lib';
import type * as cw from 'aws-cdk-lib/aws-cloudwatch';
import type * as glue from 'aws-cdk-lib/aws-glue';
import type * as kinesis from 'aws-cdk-lib/aws-kinesis';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type { IKafkaTopic } from '../core/kafka-refs';
import type { ThroughputIntent } from '../core/ingest-stream';
import type { PipelineMonitor } from '../core/pipeline-monitor';
import type { ReplayTagging, WriteCapacity } from '../core/replay-machine';
import type { LifecycleOptions, ObjectLockMode } from '../core/secure-bucket';

/** Write-once retention of the archive. */
export interface ArchiveObjectLock {
  /** How long each archived object version is locked. */
  readonly retention: Duration;
  /** GOVERNANCE (bypass permission can lift it) or COMPLIANCE (nobody can). @default ObjectLockMode.GOVERNANCE */
  readonly mode?: ObjectLockMode;
}

/** Properties of a {@link ReplayArchive}. */
export interface ReplayArchiveProps {
  /**
   * The stream to archive. A replay never writes into it unless `allowReplayIntoArchivedStream` says so.
   * Exactly one of `stream` and `topic`.
   * @default - none
   */
  readonly stream?: kinesis.IStream;
  /**
   * The MSK topic to archive (Firehose over multi-VPC private connectivity with IAM, turned on for its
   * cluster by a custom resource). Firehose gives the archive each record's value, partition and offset,
   * not its key or headers. Exactly one of `stream` and `topic`.
   * @default - none
   */
  readonly topic?: IKafkaTopic;
  /** Key for the buckets, log groups and environments. It must allow CloudWatch Logs to use it. @default - a customer-managed key with rotation */
  readonly encryptionKey?: kms.IKey;
  /** Prefix of the archive in its bucket. @default 'archive/' */
  readonly prefix?: string;
  /** Partition-key lanes per hour (`bucket=00..NN`), 1-100: one replay worker per lane. @default 16 */
  readonly lanes?: number;
  /** S3 Object Lock on the archive bucket. @default - none */
  readonly objectLock?: ArchiveObjectLock;
  /** Tiering (Standard-IA, then Glacier Instant Retrieval) and expiry. @default - Standard-IA at 30 days, Glacier IR at 90, never expires */
  readonly lifecycle?: LifecycleOptions;
  /** Glue database of the archive table. @default - a database is created */
  readonly database?: glue.IDatabase;
  /** First day of the table's `dt` projection (`yyyy-MM-dd`). @default '2020-01-01' */
  readonly projectionStart?: string;
  /**
   * Streams a replay may write to; the first is the default target. Listing `stream` itself needs
   * `allowReplayIntoArchivedStream`.
   * @default - [replayStream]: a dedicated replay stream the archive creates, which consumers also read
   * (none when `replayTopics` is given)
   */
  readonly replayTargets?: kinesis.IStream[];
  /**
   * MSK topics a replay may write to (`"targetTopic"` in the execution input, by name or ARN); the
   * first is the default target when `replayTargets` is not given, and no replay stream is created.
   * The replay worker then runs in the topics' cluster VPC (every topic's cluster must share it),
   * reaches the brokers on the IAM port and produces with idempotence and acks=all; the cluster's
   * subnets need a route to S3, KMS and the MSK API (a NAT gateway or VPC endpoints).
   * @default - none
   */
  readonly replayTopics?: IKafkaTopic[];
  /** Write capacity assumed for a topic target; a replay writes at `writeShare` of it. @default 5,000 records/s and 5 MiB/s */
  readonly topicWriteCapacity?: WriteCapacity;
  /**
   * Let `replayTargets` list the archived stream itself (or `replayTopics` the archived topic). Everything that reads that stream then reads
   * the window again: this archive stores it again under a new arrival hour (so a later replay of an
   * overlapping window replays the replays), and a lake's curated delivery appends it again as duplicate
   * rows. The `replay_id` tag does not help there: Firehose de-aggregates KPL records before any
   * processor sees them. Only for consumers that can read no other stream, with sinks that deduplicate.
   * @default false
   */
  readonly allowReplayIntoArchivedStream?: boolean;
  /**
   * Write load the created replay stream is planned for (shards with 25% headroom, or on-demand when
   * `spiky`); a replay writes at `writeShare` of that capacity. Not with `replayTargets` or `replayTopics`.
   * @default - one provisioned shard (1,000 records/s, 1 MiB/s): replays run at up to 500 records/s
   */
  readonly replayStreamThroughput?: ThroughputIntent;
  /** Retention of the created replay stream, 24 h-8,760 h. Not with `replayTargets` or `replayTopics`. @default Duration.days(1) */
  readonly replayStreamRetention?: Duration;
  /** Share of the target's write capacity a replay may use, (0, 1]. @default 0.5 */
  readonly writeShare?: number;
  /** Write capacity of an on-demand target. @default 4,000 records/s and 4 MiB/s */
  readonly onDemandWriteCapacity?: WriteCapacity;
  /** How replayed records are marked. @default ReplayTagging.KPL_TAG */
  readonly tagging?: ReplayTagging;
  /** Firehose buffer size, 64-128 MiB. @default Size.mebibytes(128) */
  readonly bufferingSize?: Size;
  /** Firehose buffer interval, 60-900 s. @default Duration.seconds(300) */
  readonly bufferingInterval?: Duration;
  /** A monitor to add the archive's and the replay's alarms and widgets to. @default - one is created */
  readonly monitor?: PipelineMonitor;
  /** Action of the created monitor's paging alarms (e.g. `new SnsAction(topic)`; CloudWatch is allowed to publish to a topic of this app). @default - an encrypted SNS topic */
  readonly alarmAction?: cw.IAlarmAction;
  /** Bucket for the buckets' access logs. @default - one is created */
  readonly accessLogs?: s3.IBucket;
  /** Removal policy of the archive bucket. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}
