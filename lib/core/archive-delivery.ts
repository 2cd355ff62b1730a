import { Duration, RemovalPolicy, Size } from 'aws-cdk-lib';
import * as firehose from 'aws-cdk-lib/aws-kinesisfirehose';
import type * as kinesis from 'aws-cdk-lib/aws-kinesis';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { propError } from './errors';
import { DeliverySource } from './delivery-source';
import { acknowledgeFirehoseFindings } from './firehose-findings';
import type { IKafkaTopic } from './kafka-refs';
import { DEFAULT_BUFFER_INTERVAL, DEFAULT_BUFFER_SIZE, ParquetDelivery } from './parquet-delivery';
import { s3DeliveryStream } from './s3-delivery-stream';
import { BundledFunction } from '../handlers/bundled-function';

/** Lanes per hour by default (lambda/shared/archive-format.ts). */
export const DEFAULT_ARCHIVE_LANES = 16;
/** Most lanes: two digits. */
export const MAX_ARCHIVE_LANES = 100;
/** Default archive prefix. */
export const DEFAULT_ARCHIVE_PREFIX = 'archive/';

/** Properties of an {@link ArchiveDelivery}. */
export interface ArchiveDeliveryProps {
  /** The stream to archive. Exactly one of `stream` and `topic`. @default - none */
  readonly stream?: kinesis.IStream;
  /**
   * The MSK topic to archive, read over multi-VPC private connectivity with IAM. Firehose passes the
   * processor each record's value, partition and offset, not its key or headers: the archive keeps those
   * three (see lambda/shared/archive-format.ts). Exactly one of `stream` and `topic`.
   * @default - none
   */
  readonly topic?: IKafkaTopic;
  /** The archive bucket. */
  readonly bucket: s3.IBucket;
  /** Key for SSE-KMS of the objects, the log groups and the processor's environment. */
  readonly encryptionKey: kms.IKey;
  /** Prefix of the archive; path segments ending with `/`. @default 'archive/' */
  readonly prefix?: string;
  /**
   * Lanes: partition keys hash into this many `bucket=NN` partitions per hour, and a replay runs one
   * worker per lane. 1-100; hours × lanes count against Firehose's 500 active partitions. @default 16
   */
  readonly lanes?: number;
  /** Buffer size, 64-128 MiB (dynamic partitioning needs 64). @default Size.mebibytes(128) */
  readonly bufferingSize?: Size;
  /** Buffer interval, 60-900 s. @default Duration.seconds(300) */
  readonly bufferingInterval?: Duration;
  /** Retention of the log groups. @default logs.RetentionDays.ONE_YEAR */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * The raw archive: a second Firehose delivery from the stream to S3 through the
 * bundled archive processor, which writes each record as a JSON line keeping the
 * exact payload bytes (base64), the partition key, the sequence number and the
 * arrival time; gzip; partitioned by arrival `dt`/`hour` and a partition-key
 * hash `bucket`, so replays run lanes in parallel without breaking per-key order.
 */
export class ArchiveDelivery extends Construct {
  /** The delivery stream. */
  public readonly deliveryStream: firehose.DeliveryStream;
  /** The processor function. */
  public readonly processor: lambda.IFunction;
  /** Delivery error log group. */
  public readonly logGroup: logs.LogGroup;
  /** The archive prefix. */
  public readonly prefix: string;
  /** Number of lanes. */
  public readonly lanes: number;
  /** Effective buffer interval. */
  public readonly bufferingInterval: Duration;

  constructor(scope: Construct, id: string, props: ArchiveDeliveryProps) {
    super(scope, id);
    this.prefix = props.prefix ?? DEFAULT_ARCHIVE_PREFIX;
    if (!/^([A-Za-z0-9_.-]+\/)+$/.test(this.prefix)) throw propError(this, 'prefix', `('${this.prefix}') must be path segments ending with '/'`);
    this.lanes = props.lanes ?? DEFAULT_ARCHIVE_LANES;
    if (!Number.isInteger(this.lanes) || this.lanes < 1 || this.lanes > MAX_ARCHIVE_LANES) {
      throw propError(this, 'lanes', `(${this.lanes}) must be an integer 1-${MAX_ARCHIVE_LANES}; two hours × lanes must stay under Firehose's 500 active partitions`);
    }
    const size = props.bufferingSize ?? DEFAULT_BUFFER_SIZE;
    this.bufferingInterval = props.bufferingInterval ?? DEFAULT_BUFFER_INTERVAL;
    ParquetDelivery.validateBuffering(this, size, this.bufferingInterval);

    const source = new DeliverySource(this, { stream: props.stream, topic: props.topic, encryptionKey: props.encryptionKey });
    this.processor = new BundledFunction(this, 'Processor', {
      handler: 'archive-processor',
      // MSK records do not name their topic; the archive line does.
      environment: { ARCHIVE_BUCKETS: String(this.lanes), ...(props.topic ? { KAFKA_TOPIC: props.topic.topicName } : {}) },
      encryptionKey: props.encryptionKey,
      timeout: Duration.minutes(1),
      logRetention: props.logRetention,
      synchronousInvoker: 'Firehose invokes this function synchronously and routes failed records to the error prefix itself.',
    }).function;
    this.logGroup = new logs.LogGroup(this, 'Errors', {
      encryptionKey: props.encryptionKey,
      retention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const keys = (k: string): string => `!{partitionKeyFromLambda:${k}}`;
    this.deliveryStream = s3DeliveryStream(this, 'Resource', {
      source: source.source,
      destination: new firehose.S3Bucket(props.bucket, {
        dataOutputPrefix: `${this.prefix}dt=${keys('dt')}/hour=${keys('hour')}/bucket=${keys('bucket')}/`,
        errorOutputPrefix: `${this.prefix.slice(0, -1)}-errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/`,
        fileExtension: '.jsonl.gz',
        compression: firehose.Compression.GZIP,
        bufferingSize: size,
        bufferingInterval: this.bufferingInterval,
        encryptionKey: props.encryptionKey,
        loggingConfig: new firehose.EnableLogging(this.logGroup),
        dynamicPartitioning: { enabled: true, retryDuration: Duration.hours(2) },
        // 1 MiB in leaves the processor room for its ~1.8× larger output under the 6 MB response limit.
        processors: [new firehose.LambdaFunctionProcessor(this.processor, { bufferSize: Size.mebibytes(1), bufferInterval: Duration.seconds(60), retries: 3 })],
      }),
    });
    source.finish(this.deliveryStream);
    acknowledgeFirehoseFindings(this, this.deliveryStream, { buckets: [props.bucket], processor: this.processor, noSseReason: source.noSseReason });
  }
}
