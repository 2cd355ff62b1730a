import type { Duration } from 'aws-cdk-lib';
import type * as glue from 'aws-cdk-lib/aws-glue';
import type * as kinesis from 'aws-cdk-lib/aws-kinesis';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { StreamingLakeProps } from './streaming-lake-props';
import { AccessLogBucket } from '../core/access-log-bucket';
import { propError } from '../core/errors';
import { DEFAULT_RETENTION, IngestStream } from '../core/ingest-stream';
import { LakeTable } from '../core/lake-table';
import { ParquetDelivery } from '../core/parquet-delivery';
import { PartitionSpec } from '../core/partition-spec';
import { PipelineKey } from '../core/pipeline-key';
import { PipelineMonitor } from '../core/pipeline-monitor';
import { SecureBucket, type LifecycleOptions } from '../core/secure-bucket';
import { FirehoseTransformFunction } from '../handlers/firehose-transform-function';

/**
 * Kinesis → Firehose (JSON→Parquet, dynamic partitioning on event time) → S3,
 * with a raw zone, a Glue table using partition projection, alarms, a composite
 * alarm and a dashboard.
 */
export class StreamingLake extends Construct {
  /** The stream (created or given). */
  public readonly stream: kinesis.IStream;
  /** The created stream block, when the lake created its stream. */
  public readonly ingest?: IngestStream;
  /** The encryption key (created or given). */
  public readonly encryptionKey: kms.IKey;
  /** Curated Parquet bucket (created or given). */
  public readonly bucket: s3.IBucket;
  /** Raw zone bucket, when `rawArchive` is on. */
  public readonly rawBucket?: s3.IBucket;
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
    const partitions = PartitionSpec.of(this, {
      columns: props.schema,
      eventTime: props.eventTime,
      keys: props.partitionKeys,
      maxActivePartitions: props.maxActivePartitions,
    });
    this.partitions = partitions;
    const retention = props.retention ?? DEFAULT_RETENTION;
    IngestStream.validateRetention(this, retention);
    this.encryptionKey = new PipelineKey(this, 'Key', { key: props.encryptionKey }).key;

    // 1. Stream.
    this.ingest = props.stream ? undefined : new IngestStream(this, 'Stream', { throughput: props.throughput, retention, encryptionKey: this.encryptionKey });
    this.stream = props.stream ?? this.ingest!.stream;

    // 2. Buckets: curated and raw zones, both logged to one access-log bucket.
    const logs = new AccessLogBucket(this, 'AccessLogs').bucket;
    const zone = (name: string, lifecycle: LifecycleOptions | undefined, prop: string, objectLockRetention?: Duration) => new SecureBucket(this, name, {
      encryptionKey: this.encryptionKey, accessLogs: logs, accessLogsPrefix: `${name.toLowerCase()}/`,
      lifecycle, lifecyclePropName: prop, removalPolicy: props.removalPolicy, objectLockRetention,
    }).bucket;
    this.bucket = props.bucket ?? zone('Curated', props.lifecycle, 'lifecycle');
    if (props.rawArchive === false && props.rawObjectLockRetention) {
      throw propError(this, 'rawObjectLockRetention', 'needs the raw zone; it cannot be set with `rawArchive: false`');
    }
    this.rawBucket = props.rawArchive === false ? undefined : zone('Raw', props.rawLifecycle, 'rawLifecycle', props.rawObjectLockRetention);

    // 3. Table.
    const lake = new LakeTable(this, 'Table', { columns: props.schema, partitions, bucket: this.bucket, database: props.database });
    this.table = lake.table;
    this.database = lake.database;

    // 4. Delivery, through the transform handler when jq 1.6 cannot derive the partitions.
    if (props.transform || partitions.format.requiresTransform) {
      for (const column of Object.keys(props.transform?.flatten ?? {})) {
        if (!props.schema.some((c) => c.name === column)) {
          throw propError(this, `transform.flatten.${column}`, `('${column}') is not a column of \`schema\``);
        }
      }
      this.transform = new FirehoseTransformFunction(this, 'Transform', { partitions, encryptionKey: this.encryptionKey, flatten: props.transform?.flatten });
    }
    this.delivery = new ParquetDelivery(this, 'Delivery', {
      stream: this.stream,
      bucket: this.bucket,
      table: this.table,
      partitions,
      encryptionKey: this.encryptionKey,
      bufferingSize: props.bufferingSize,
      bufferingInterval: props.bufferingInterval,
      compression: props.compression,
      transform: this.transform?.function,
      rawArchive: this.rawBucket ? { bucket: this.rawBucket } : undefined,
    });

    // 5. Monitor.
    this.monitor = new PipelineMonitor(this, 'Monitor', {
      stream: { stream: this.stream, retention, writeCapacityBytesPerSecond: this.ingest?.capacity.shards ? this.ingest.capacity.writeBytesPerSecond : undefined },
      delivery: { deliveryStream: this.delivery.deliveryStream, bufferingInterval: this.delivery.bufferingInterval, activePartitionQuota: props.maxActivePartitions },
      alarmAction: props.alarmAction,
      encryptionKey: this.encryptionKey,
    });
  }
}
