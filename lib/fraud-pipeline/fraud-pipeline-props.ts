import type { Duration, RemovalPolicy, Size } from 'aws-cdk-lib';
import type * as cw from 'aws-cdk-lib/aws-cloudwatch';
import type * as events from 'aws-cdk-lib/aws-events';
import type * as glue from 'aws-cdk-lib/aws-glue';
import type * as kinesis from 'aws-cdk-lib/aws-kinesis';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { FraudSpecProps } from './fraud-rules';
import type { ThroughputIntent } from '../core/ingest-stream';
import type { LifecycleOptions } from '../core/secure-bucket';

/** Where alerts go. Delivery is at least once; every alert carries a deterministic `alert_id` to dedupe on. */
export interface FraudAlertDestinations {
  /**
   * An SNS topic (PublishBatch). A FIFO topic (`.fifo`) dedupes redeliveries by itself within 5 minutes:
   * the publisher sets MessageDeduplicationId = `alert_id` and MessageGroupId = the customer id. A
   * standard topic does not dedupe. For an imported topic with a KMS key, grant the publisher
   * (`pipeline.publisher`) `kms:GenerateDataKey*` and `kms:Decrypt` on it.
   * @default - an encrypted SNS topic is created when `eventBus` is not given either
   */
  readonly topic?: sns.ITopic;
  /** An EventBridge bus (PutEvents, source `cdk-streaming-pipelines.fraud`, detail type `FraudAlert`); it does not dedupe. @default - none */
  readonly eventBus?: events.IEventBus;
}

/**
 * The StreamingLake of window results (one row per closed customer-window), for Athena. Its schema
 * comes from the rules (`distinct_<attribute>` columns), partitioned on `window_start`.
 */
export interface FraudLakeOptions {
  /** Expected load of the lake's stream (results per second). @default - on-demand */
  readonly throughput?: ThroughputIntent;
  /** Retention of the lake's stream. @default Duration.days(7) */
  readonly retention?: Duration;
  /** Firehose buffer size, 64-128 MiB. @default Size.mebibytes(128) */
  readonly bufferingSize?: Size;
  /** Firehose buffer interval, 60-900 s. @default Duration.seconds(300) */
  readonly bufferingInterval?: Duration;
  /** Tiering and expiry of the results. @default - Standard-IA at 30 days, Glacier IR at 90, never expires */
  readonly lifecycle?: LifecycleOptions;
  /** Keep a raw zone of the result records too (results can be recomputed by a replay). @default false */
  readonly rawArchive?: boolean;
  /** An existing Glue database. @default - one is created */
  readonly database?: glue.IDatabase;
  /** An existing bucket for the results. @default - a secure bucket is created */
  readonly bucket?: s3.IBucket;
  /** First day of the `dt` projection (`yyyy-MM-dd`). @default '2020-01-01' */
  readonly projectionStart?: string;
}

/** Properties of a {@link FraudPipeline}: the rules (see {@link FraudSpecProps}) and the infrastructure. */
export interface FraudPipelineProps extends FraudSpecProps {
  /**
   * An existing stream of transactions instead of a created one. Producers must use the customer id as
   * the partition key, so a customer's events stay in order on one shard. Not with `throughput`.
   * @default - a stream is created
   */
  readonly stream?: kinesis.IStream;
  /** Expected load, which plans the created stream's capacity. Not with `stream`. @default - on-demand */
  readonly throughput?: ThroughputIntent;
  /**
   * Retention of the created stream; with `stream`, give its retention (it bounds `allowedLateness`, the
   * scorer's record age and the iterator-age alarm) unless the stream was created in this app.
   * @default Duration.days(7) for a created stream; a given stream's own retention, or 24 h when it is unknown
   */
  readonly retention?: Duration;
  /** Key for the stream, tables, buckets, topic and log groups. It must allow CloudWatch Logs to use it. @default - a customer-managed key with rotation */
  readonly encryptionKey?: kms.IKey;
  /** Where alerts go. @default - an encrypted SNS topic is created (`alertTopic`) */
  readonly alerts?: FraudAlertDestinations;
  /** Also write every window result to a StreamingLake. @default - no lake */
  readonly lake?: FraudLakeOptions;
  /**
   * Action of the alarms that page and of the composite (see the README's paging table).
   * @default - an encrypted SNS topic is created (`monitor.alarmTopic`)
   */
  readonly alarmAction?: cw.IAlarmAction;
  /** Share of valid events arriving later than `allowedLateness` (in 3 of 5 minutes) that pages. @default 0.01 */
  readonly lateEventAlarmRate?: number;
  /** Removal policy of the created tables and buckets. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}
