import type { Duration } from 'aws-cdk-lib';
import type * as glue from 'aws-cdk-lib/aws-glue';
import type * as kinesis from 'aws-cdk-lib/aws-kinesis';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type { IKafkaTopic } from '../core/kafka-refs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { StreamingLakeProps } from './streaming-lake-props';
import { AccessLogBucket } from '../core/access-log-bucket';
import { namePropsAs, propError } from '../core/errors';
import { DEFAULT_RETENTION, IngestStream } from '../core/ingest-stream';
import { LakeTable } from '../core/lake-table';
import { ParquetDelivery } from '../core/parquet-delivery';
import { PartitionSpec } from '../core/partition-spec';
import { PipelineKey } from '../core/pipeline-key';
import { PipelineMonitor } from '../core/pipeline-monitor';
import { SecureBucket, type LifecycleOptions } from '../core/secure-bucket';
import { FirehoseTransformFunction } from '../handlers/firehose-transform-function';
import { ReplayArchive } from '../replay-archive/replay-archive';

/**
 * Kinesis (or an MSK topic) → Firehose (JSON→Parquet, dynamic partitioning on event time) → S3,
 * with a raw zone, a Glue table using partition projection, alarms, a composite
 * alarm and a dashboard.
 */
export class StreamingLake extends Construct {
  /** The stream (created or given), when the lake reads Kinesis. */
  public readonly stream?: kinesis.IStream;
  /** The MSK topic the lake reads, when `topic` is given. */
  public readonly topic?: IKafkaTopic;
  /** The created stream block, when the lake created its stream. */
  public readonly ingest?: IngestStream;
  /** The stream's retention (given, or the created stream's); consumers' record-age defaults follow it. Undefined with `topic`. */
  public readonly retention?: Duration;
  /** The encryption key (created or given). */
  public readonly encryptionKey: kms.IKey;
  /** Curated Parquet bucket (created or given). */
  public readonly bucket: s3.IBucket;
  /** Raw zone bucket, when `rawArchive` is on. */
  public readonly rawBucket?: s3.IBucket;
  /** The raw zone: archive, archive table and replay state machine, when `rawArchive` is on. */
  public readonly archive?: ReplayArchive;
  /**
   * Where replays write (unless `rawArchiveOptions.replayTargets` names other streams): a dedicated
   * stream the lake's deliveries do not read, so replays never duplicate the curated or raw zone.
   * Subscribe consumers to it as well as to `stream`, idempotently on the event id.
   */
  public readonly replayStream?: kinesis.IStream;
  /** The partition layout shared by Firehose and Glue. */
  public readonly partitions: PartitionSpec;
  /** The Glue table. */
  public readonly table: glue.S3Table;
  /** The Glue database (created or given). */
  public readonly database: glue.IDatabase;
  /** The Firehose delivery. */
  public readonly delivery: ParquetDelivery;
  /** The transform handler, when used. */
  public readonly transform?: FirehoseTransformFunction;
  /** Alarms and dashboard. */
  public readonly monitor: PipelineMonitor;

  constructor(scope: Construct, id: string, props: StreamingLakeProps) {
    super(scope, id);
    if (props.throughput && props.stream) {
      throw propError(this, 'throughput', 'cannot be combined with `stream`: capacity is planned only for a stream the lake creates');
    }
    StreamingLake.validateTopic(this, props);
    const partitions = PartitionSpec.of(this, {
      columns: props.schema,
      eventTime: props.eventTime,
      keys: props.partitionKeys,
      maxActivePartitions: props.maxActivePartitions,
    });
    this.partitions = partitions;
    const retention = props.topic ? undefined : props.retention ?? DEFAULT_RETENTION;
    if (retention) IngestStream.validateRetention(this, retention);
    this.retention = retention;
    this.encryptionKey = new PipelineKey(this, 'Key', { key: props.encryptionKey }).key;

    // 1. Stream: the given one, a created one, or none when the lake reads an MSK topic.
    this.topic = props.topic;
    this.ingest = props.stream || props.topic ? undefined : new IngestStream(this, 'Stream', { throughput: props.throughput, retention, encryptionKey: this.encryptionKey });
    this.stream = props.stream ?? this.ingest?.stream;

    // 2. Buckets: curated and raw zones, both logged to one access-log bucket.
    const logs = new AccessLogBucket(this, 'AccessLogs').bucket;
    const zone = (name: string, lifecycle: LifecycleOptions | undefined, prop: string) => new SecureBucket(this, name, {
      encryptionKey: this.encryptionKey, accessLogs: logs, accessLogsPrefix: `${name.toLowerCase()}/`,
      lifecycle, lifecyclePropName: prop, removalPolicy: props.removalPolicy,
    }).bucket;
    this.bucket = props.bucket ?? zone('Curated', props.lifecycle, 'lifecycle');
    const raw = props.rawArchive !== false;
    for (const prop of ['rawObjectLockRetention', 'rawObjectLockMode', 'rawLifecycle', 'rawArchiveOptions'] as const) {
      if (!raw && props[prop] !== undefined) throw propError(this, prop, 'needs the raw zone; it cannot be set with `rawArchive: false`');
    }

    // 3. Table.
    const lake = new LakeTable(this, 'Table', { columns: props.schema, partitions, bucket: this.bucket, database: props.database, compression: props.compression });
    this.table = lake.table;
    this.database = lake.database;

    // 4. Delivery, through the transform handler when jq 1.6 cannot derive the partitions.
    if (props.transform || partitions.format.requiresTransform) {
      for (const column of Object.keys(props.transform?.flatten ?? {})) {
        if (!props.schema.some((c) => c.name === column)) {
          throw propError(this, `transform.flatten.${column}`, `('${column}') is not a column of \`schema\``);
        }
      }
      namePropsAs(this, 'Transform', { partitions: 'partitionKeys' });
      this.transform = new FirehoseTransformFunction(this, 'Transform', { partitions, encryptionKey: this.encryptionKey, flatten: props.transform?.flatten });
    }
    // The delivery checks its rendered jq query, whose size comes from the lake's partition keys.
    namePropsAs(this, 'Delivery', { partitions: 'partitionKeys' });
    this.delivery = new ParquetDelivery(this, 'Delivery', {
      stream: this.stream,
      topic: props.topic,
      bucket: this.bucket,
      table: this.table,
      partitions,
      encryptionKey: this.encryptionKey,
      bufferingSize: props.bufferingSize,
      bufferingInterval: props.bufferingInterval,
      compression: props.compression,
      transform: this.transform?.function,
    });

    // 5. Monitor.
    this.monitor = new PipelineMonitor(this, 'Monitor', {
      // Utilization is measured against the write plan: shards added for polling readers serve their
      // reads, and those readers keep up only to about the planned write peak.
      // A topic has no Kinesis metrics; Firehose's consumer group lag cannot be alarmed by name (Firehose picks the group id).
      stream: this.stream && retention ? { stream: this.stream, retention, writeCapacityBytesPerSecond: this.ingest?.capacity.shards ? this.ingest.writeCapacityBytesPerSecond : undefined } : undefined,
      delivery: { deliveryStream: this.delivery.deliveryStream, bufferingInterval: this.delivery.bufferingInterval, activePartitionQuota: props.maxActivePartitions },
      alarmAction: props.alarmAction,
      encryptionKey: this.encryptionKey,
    });

    // 6. Raw zone: the archive of every record, its table and the replay machine.
    if (raw) {
      const o = props.rawArchiveOptions ?? {};
      // The archive passes on no Object Lock without a retention, so it cannot see this one.
      if (props.rawObjectLockMode !== undefined && !props.rawObjectLockRetention) {
        throw propError(this, 'rawObjectLockMode', 'needs rawObjectLockRetention (the retention period of the lock)');
      }
      // The archive's blocks check the rest, naming the lake's props.
      namePropsAs(this, 'Raw', {
        lifecycle: 'rawLifecycle',
        lanes: 'rawArchiveOptions.lanes',
        replayTargets: 'rawArchiveOptions.replayTargets',
        replayTopics: 'rawArchiveOptions.replayTopics',
        topicWriteCapacity: 'rawArchiveOptions.topicWriteCapacity',
        allowReplayIntoArchivedStream: 'rawArchiveOptions.allowReplayIntoArchivedStream',
        replayStreamThroughput: 'rawArchiveOptions.replayStreamThroughput',
        replayStreamRetention: 'rawArchiveOptions.replayStreamRetention',
        writeShare: 'rawArchiveOptions.writeShare',
        onDemandWriteCapacity: 'rawArchiveOptions.onDemandWriteCapacity',
      });
      this.archive = new ReplayArchive(this, 'Raw', {
        stream: this.stream,
        topic: props.topic,
        encryptionKey: this.encryptionKey,
        accessLogs: logs,
        database: this.database,
        monitor: this.monitor,
        lifecycle: props.rawLifecycle,
        objectLock: props.rawObjectLockRetention ? { retention: props.rawObjectLockRetention, mode: props.rawObjectLockMode } : undefined,
        removalPolicy: props.removalPolicy,
        // The raw zone follows the lake's buffering (the archive is partitioned by arrival, so its
        // projection keeps its own start).
        bufferingSize: props.bufferingSize,
        bufferingInterval: props.bufferingInterval,
        lanes: o.lanes,
        replayTargets: o.replayTargets,
        replayTopics: o.replayTopics,
        topicWriteCapacity: o.topicWriteCapacity,
        allowReplayIntoArchivedStream: o.allowReplayIntoArchivedStream,
        replayStreamThroughput: o.replayStreamThroughput,
        replayStreamRetention: o.replayStreamRetention,
        writeShare: o.writeShare,
        onDemandWriteCapacity: o.onDemandWriteCapacity,
        tagging: o.tagging,
      });
      this.rawBucket = this.archive.bucket;
      this.replayStream = this.archive.replayStream;
    }
  }

  /** A topic replaces the Kinesis stream and everything planned for it. */
  private static validateTopic(scope: Construct, props: StreamingLakeProps): void {
    if (!props.topic) return;
    const notWith: [keyof StreamingLakeProps, string][] = [
      ['stream', 'the lake reads one source, a Kinesis stream or an MSK topic'],
      ['throughput', 'it plans the Kinesis stream the lake would create; a topic\'s capacity is its partitions and brokers'],
      ['retention', 'it is the Kinesis stream\'s retention; a topic keeps records for its own `retention.ms`'],
    ];
    for (const [prop, why] of notWith) {
      if (props[prop] !== undefined) throw propError(scope, prop, `cannot be combined with \`topic\`: ${why}`);
    }
  }
}
