import { Duration, RemovalPolicy, Size, SizeRoundingBehavior, Stack } from 'aws-cdk-lib';
import type * as glue from 'aws-cdk-lib/aws-glue';
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
import { PartitionKeySource, type PartitionSpec } from './partition-spec';
import { s3DeliveryStream } from './s3-delivery-stream';

/** Firehose's floor for the buffer size with conversion or dynamic partitioning. */
export const MIN_BUFFER_SIZE = Size.mebibytes(64);
/** Firehose's floor for the buffer interval with dynamic partitioning. */
export const MIN_BUFFER_INTERVAL = Duration.seconds(60);
/** Big objects (128-512 MB) come from the largest buffer Firehose allows. */
export const DEFAULT_BUFFER_SIZE = Size.mebibytes(128);
export const DEFAULT_BUFFER_INTERVAL = Duration.seconds(300);
const MAX_BUFFER_SIZE = Size.mebibytes(128);
const MAX_BUFFER_INTERVAL = Duration.seconds(900);
/** Parquet codecs Firehose writes. There is no ZSTD. */
export const PARQUET_CODECS = ['SNAPPY', 'GZIP', 'UNCOMPRESSED'];
/** Firehose rejects a processor parameter value (the jq query included) over 5,120 characters at CreateDeliveryStream. */
export const MAX_PROCESSOR_PARAMETER_LENGTH = 5120;
/** Hive JSON timestamp parsers: epoch millis and ISO-8601 with a zone (`Z` or an offset). */
export const TIMESTAMP_PARSERS = ['millis', "yyyy-MM-dd'T'HH:mm:ss.SSSZZ", "yyyy-MM-dd'T'HH:mm:ssZZ"];

/** The raw zone: the exact ingested records, gzip, by arrival hour. */
export interface RawArchiveOptions {
  /** Bucket of the raw zone. */
  readonly bucket: s3.IBucket;
  /** Prefix of the raw zone; must end with `/`. @default 'raw/' */
  readonly prefix?: string;
}

/** Properties of a {@link ParquetDelivery}. */
export interface ParquetDeliveryProps {
  /** The source stream. Exactly one of `stream` and `topic`. @default - none */
  readonly stream?: kinesis.IStream;
  /**
   * The source MSK topic, read over multi-VPC private connectivity with IAM (turned on for its cluster by
   * a custom resource, which the delivery stream waits for). Exactly one of `stream` and `topic`.
   * @default - none
   */
  readonly topic?: IKafkaTopic;
  /** Bucket of the curated Parquet data. */
  readonly bucket: s3.IBucket;
  /** Glue table whose schema drives the JSON→Parquet conversion. */
  readonly table: glue.S3Table;
  /** The lake's partition layout. */
  readonly partitions: PartitionSpec;
  /** Key for SSE-KMS of written objects and the error log group. */
  readonly encryptionKey: kms.IKey;
  /** Buffer size, 64-128 MiB. @default Size.mebibytes(128) */
  readonly bufferingSize?: Size;
  /** Buffer interval, 60-900 s. @default Duration.seconds(300) */
  readonly bufferingInterval?: Duration;
  /** Parquet codec: SNAPPY, GZIP or UNCOMPRESSED. @default ParquetCompression.SNAPPY */
  readonly compression?: firehose.ParquetCompression;
  /** Transform Lambda supplying partition keys (`!{partitionKeyFromLambda:…}`). @default - inline jq 1.6 extraction */
  readonly transform?: lambda.IFunction;
  /** Source-record backup into a raw zone. @default - no raw zone */
  readonly rawArchive?: RawArchiveOptions;
  /** Retention of the delivery error log group. @default logs.RetentionDays.ONE_YEAR */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * Firehose from a Kinesis stream or an MSK topic to S3: JSON→Parquet through the Glue schema,
 * dynamic partitioning on event time, errors under their own prefix, delivery
 * errors logged to a KMS-encrypted log group, and an optional raw zone.
 */
export class ParquetDelivery extends Construct {
  /** The delivery stream. */
  public readonly deliveryStream: firehose.DeliveryStream;
  /** Log group receiving delivery and conversion errors. */
  public readonly logGroup: logs.LogGroup;
  /** Effective buffer interval (the freshness alarm is relative to it). */
  public readonly bufferingInterval: Duration;
  /** Effective buffer size. */
  public readonly bufferingSize: Size;
  /** The Firehose `Prefix` of the curated data. */
  public readonly dataPrefix: string;

  constructor(scope: Construct, id: string, props: ParquetDeliveryProps) {
    super(scope, id);
    this.bufferingSize = props.bufferingSize ?? DEFAULT_BUFFER_SIZE;
    this.bufferingInterval = props.bufferingInterval ?? DEFAULT_BUFFER_INTERVAL;
    ParquetDelivery.validateBuffering(this, this.bufferingSize, this.bufferingInterval);
    const compression = props.compression ?? firehose.ParquetCompression.SNAPPY;
    ParquetDelivery.validateCompression(this, compression);
    const raw = props.rawArchive;
    if (raw?.prefix !== undefined && !/^([A-Za-z0-9_.-]+\/)+$/.test(raw.prefix)) {
      throw propError(this, 'rawArchive.prefix', `('${raw.prefix}') must be path segments ending with '/'`);
    }

    this.logGroup = new logs.LogGroup(this, 'Errors', {
      encryptionKey: props.encryptionKey,
      retention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const logging = new firehose.EnableLogging(this.logGroup);

    // Event-time partitions come from the payload (jq or the transform), never !{timestamp}, which is arrival time.
    const keySource = props.transform ? PartitionKeySource.LAMBDA : PartitionKeySource.QUERY;
    this.dataPrefix = props.partitions.firehosePrefix(keySource);
    const processors: firehose.IDataProcessor[] = props.transform
      ? [new firehose.LambdaFunctionProcessor(props.transform, { bufferSize: Size.mebibytes(1), bufferInterval: Duration.seconds(60), retries: 3 })]
      : [firehose.MetadataExtractionProcessor.jq16(props.partitions.jqQueries)];

    const rawPrefix = raw?.prefix ?? 'raw/';
    const source = new DeliverySource(this, { stream: props.stream, topic: props.topic, encryptionKey: props.encryptionKey });
    this.deliveryStream = s3DeliveryStream(this, 'Resource', {
      source: source.source,
      destination: new firehose.S3Bucket(props.bucket, {
        dataOutputPrefix: this.dataPrefix,
        errorOutputPrefix: props.partitions.errorPrefix,
        bufferingSize: this.bufferingSize,
        bufferingInterval: this.bufferingInterval,
        encryptionKey: props.encryptionKey,
        loggingConfig: logging,
        dynamicPartitioning: { enabled: true, retryDuration: Duration.hours(2) },
        processors,
        dataFormatConversion: {
          schemaConfiguration: firehose.SchemaConfiguration.fromCfnTable(props.table.node.defaultChild as glue.CfnTable),
          inputFormat: new firehose.HiveJsonInputFormat({
            timestampParsers: TIMESTAMP_PARSERS.map((f) => (f === 'millis' ? firehose.TimestampParser.EPOCH_MILLIS : firehose.TimestampParser.fromFormatString(f))),
          }),
          outputFormat: new firehose.ParquetOutputFormat({ compression }),
        },
        s3Backup: raw ? {
          bucket: raw.bucket,
          mode: firehose.BackupMode.ALL,
          // The raw zone keeps the exact source records by arrival hour: the replay source of truth.
          dataOutputPrefix: `${rawPrefix}dt=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH}/`,
          errorOutputPrefix: `${rawPrefix.slice(0, -1)}-errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/`,
          compression: firehose.Compression.GZIP,
          bufferingSize: DEFAULT_BUFFER_SIZE,
          bufferingInterval: this.bufferingInterval,
          encryptionKey: props.encryptionKey,
          loggingConfig: logging,
        } : undefined,
      }),
    });
    source.finish(this.deliveryStream);
    this.checkProcessorParameters(props.partitions);
    this.acknowledgeFindings(props, source);
  }

  /**
   * Checks every processor parameter as rendered into the template against Firehose's
   * 5,120-character limit, which CloudFormation would otherwise report only at deploy.
   */
  private checkProcessorParameters(partitions: PartitionSpec): void {
    const cfn = this.deliveryStream.node.defaultChild as firehose.CfnDeliveryStream;
    const destination = Stack.of(this).resolve(cfn.extendedS3DestinationConfiguration);
    for (const processor of destination?.processingConfiguration?.processors ?? []) {
      for (const { parameterName: name, parameterValue: value } of processor.parameters ?? []) {
        if (typeof value !== 'string' || value.length <= MAX_PROCESSOR_PARAMETER_LENGTH) continue;
        if (name !== 'MetadataExtractionQuery') {
          throw propError(this, 'transform', `renders a ${value.length}-character ${name} processor parameter, over Firehose's limit of ${MAX_PROCESSOR_PARAMETER_LENGTH}`);
        }
        const longest = [...partitions.segments].sort((a, b) => b.jq.length - a.jq.length)[0];
        throw propError(this, 'partitions', `render a ${value.length}-character jq MetadataExtractionQuery, over Firehose's limit of ${MAX_PROCESSOR_PARAMETER_LENGTH} characters per processor parameter (CreateDeliveryStream would fail). The longest key expression is '${longest.name}' (${longest.jq.length} characters): list fewer or shorter enum \`values\`, or drop them (the key is then projected as injected)`);
      }
    }
  }

  private acknowledgeFindings(props: ParquetDeliveryProps, source: DeliverySource): void {
    acknowledgeFirehoseFindings(this, this.deliveryStream, {
      noSseReason: source.noSseReason,
      buckets: [props.bucket, ...(props.rawArchive ? [props.rawArchive.bucket] : [])],
      processor: props.transform,
      extra: {
        'AwsSolutions-IAM5[Resource::*]': 'glue:GetSchemaVersion is added by the L2 schema configuration for Parquet conversion; it is read-only and a Glue-table schema has no schema-registry ARN to scope it to.',
      },
    });
  }

  /** Buffering bounds of a delivery with dynamic partitioning (every delivery here): 64-128 MiB, 60-900 s. */
  public static validateBuffering(scope: Construct, size: Size, interval: Duration): void {
    const mib = size.toMebibytes({ rounding: SizeRoundingBehavior.NONE });
    if (mib < MIN_BUFFER_SIZE.toMebibytes() || mib > MAX_BUFFER_SIZE.toMebibytes()) {
      throw propError(scope, 'bufferingSize', `(${mib} MiB) must be 64-128 MiB: Firehose needs at least 64 MiB with dynamic partitioning`);
    }
    const s = interval.toSeconds({ integral: false });
    if (s < MIN_BUFFER_INTERVAL.toSeconds() || s > MAX_BUFFER_INTERVAL.toSeconds()) {
      throw propError(scope, 'bufferingInterval', `(${s} s) must be 60-900 s: Firehose needs at least 60 s with dynamic partitioning`);
    }
  }

  /** Firehose writes Parquet as SNAPPY, GZIP or UNCOMPRESSED only. */
  public static validateCompression(scope: Construct, compression: firehose.ParquetCompression): void {
    if (!PARQUET_CODECS.includes(compression.value)) {
      throw propError(scope, 'compression', `('${compression.value}') is not a Parquet codec Firehose can write; use one of ${PARQUET_CODECS.join(', ')} (there is no ZSTD)`);
    }
  }
}
