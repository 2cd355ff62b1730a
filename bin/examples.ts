import * as path from 'path';
import { Duration, RemovalPolicy, Size, Stack, Validations } from 'aws-cdk-lib';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as glue from 'aws-cdk-lib/aws-glue';
import type * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as firehose from 'aws-cdk-lib/aws-kinesisfirehose';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import {
  AccessLogBucket, AlertPolicy, BundledFunction, ConsumerOrdering, EventTimeFormat, FailureDestination, FraudPipeline, FraudRule, FraudWindow,
  IdempotencyTable, IngestStream, ObjectLockMode, PipelineKey, ReplayArchive, SecureBucket, StreamConsumer, StreamingLake, TimeGranularity,
  type FraudSpecProps,
} from '../lib';

/** Columns of the example clickstream events. */
export const exampleSchema: glue.Column[] = [
  { name: 'event_id', type: glue.Schema.STRING },
  { name: 'event_time', type: glue.Schema.STRING },
  { name: 'customer_id', type: glue.Schema.BIG_INT },
  { name: 'region', type: glue.Schema.STRING },
  { name: 'tenant', type: glue.Schema.STRING },
  { name: 'amount', type: glue.Schema.decimal(12, 2) },
  { name: 'quantity', type: glue.Schema.INTEGER },
  { name: 'score', type: glue.Schema.DOUBLE },
  { name: 'is_test', type: glue.Schema.BOOLEAN },
  { name: 'ingested_at', type: glue.Schema.TIMESTAMP },
  { name: 'business_date', type: glue.Schema.DATE },
  { name: 'device', type: glue.Schema.struct([{ name: 'os', type: glue.Schema.STRING }, { name: 'version', type: glue.Schema.STRING }]) },
  { name: 'tags', type: glue.Schema.array(glue.Schema.STRING) },
  { name: 'attributes', type: glue.Schema.map(glue.Schema.STRING, glue.Schema.STRING) },
  { name: 'device_country', type: glue.Schema.STRING },
];

/** A StreamingLake on all defaults: ISO-8601 UTC event time, daily partitions, on-demand stream. */
export function addDefaultLake(stack: Stack, id = 'Lake'): StreamingLake {
  return new StreamingLake(stack, id, {
    schema: exampleSchema,
    eventTime: { field: 'event_time' },
  });
}

/** A StreamingLake with every option on: offsets via the transform handler, hourly, keys, provisioned. */
export function addFullLake(full: Stack, id = 'Lake'): StreamingLake {
  // The user's own pager topic: the monitor adds to its policy and its key's policy the Allow
  // CloudWatch needs to publish this account's alarms (its TLS-only policy alone would refuse them).
  const topicKey = new kms.Key(full, `${id}AlarmTopicKey`, { enableKeyRotation: true });
  const topic = new sns.Topic(full, `${id}Alarms`, { enforceSSL: true, masterKey: topicKey });
  return new StreamingLake(full, id, {
    schema: exampleSchema,
    eventTime: { field: 'event_time', format: EventTimeFormat.ISO_8601, granularity: TimeGranularity.HOUR, projectionStart: '2024-01-01' },
    partitionKeys: [
      { field: 'region', name: 'p_region', values: ['us', 'eu', 'apac'] },
      { field: 'tenant' },
    ],
    throughput: { recordsPerSecond: 5000, averageRecordBytes: 1024 },
    retention: Duration.days(14),
    bufferingSize: Size.mebibytes(128),
    bufferingInterval: Duration.seconds(600),
    compression: firehose.ParquetCompression.SNAPPY,
    lifecycle: { infrequentAccessAfter: Duration.days(60), archiveAfter: Duration.days(180), expireAfter: Duration.days(730) },
    rawLifecycle: { infrequentAccessAfter: Duration.days(30), archiveAfter: Duration.days(90), expireAfter: Duration.days(2555) },
    rawObjectLockRetention: Duration.days(365),
    transform: { flatten: { device_country: 'device.geo.country' } },
    alarmAction: new cwActions.SnsAction(topic),
    removalPolicy: RemovalPolicy.RETAIN,
    maxActivePartitions: 500,
  });
}

/**
 * A StreamingLake on resources the user already owns (key, stream, database,
 * bucket), with epoch-millis event time and jq-derived key partitions.
 */
export function addLakeOnExistingResources(stack: Stack, id = 'Lake'): StreamingLake {
  const key = new PipelineKey(stack, `${id}OwnKey`).key;
  const stream = new IngestStream(stack, `${id}OwnStream`, { encryptionKey: key, retention: Duration.days(3) });
  const logs = new AccessLogBucket(stack, `${id}OwnAccessLogs`).bucket;
  const bucket = new SecureBucket(stack, `${id}OwnBucket`, { encryptionKey: key, accessLogs: logs, accessLogsPrefix: 'own/' }).bucket;
  const database = new glue.Database(stack, `${id}OwnDatabase`);
  return new StreamingLake(stack, id, {
    schema: [
      { name: 'event_id', type: glue.Schema.STRING },
      { name: 'ts', type: glue.Schema.BIG_INT },
      { name: 'tenant', type: glue.Schema.STRING },
      { name: 'payload', type: glue.Schema.STRING },
    ],
    eventTime: { field: 'ts', format: EventTimeFormat.EPOCH_MILLIS },
    partitionKeys: [{ field: 'tenant', name: 'tenant_id', values: ['acme', 'globex'] }],
    stream: stream.stream,
    retention: stream.retention,
    encryptionKey: key,
    bucket,
    database,
    rawArchive: false,
  });
}

/** Where `npm run build` bundles the example app's own handlers (examples/<name>/index.ts). */
const EXAMPLE_ASSETS = path.join(__dirname, '..', 'assets', 'examples');

/** How the example consumer reads the lake's stream. */
export interface CustomerTotalsOptions {
  readonly ordering?: ConsumerOrdering;
  /**
   * Read through enhanced fan-out (the default here): the lake's curated and archive deliveries
   * already use the two polling shares an on-demand stream's reads allow (twice its write capacity).
   */
  readonly enhancedFanOut?: boolean;
  /** Send exhausted batches to this queue instead of the default S3 failure bucket. */
  readonly failureQueue?: sqs.IQueue;
  /** The stream replays write to, read as well as the lake's. Default: `lake.replayStream`. */
  readonly replayStream?: kinesis.IStream;
}

/**
 * The example consumer's function: examples/customer-totals keeps a running total per customer
 * in a DynamoDB table, exactly once thanks to the IdempotencyTable. Any source the runtime reads
 * (Kinesis, SQS, Kafka) can drive it.
 */
export function addCustomerTotalsFunction(stack: Stack, key: kms.IKey, id = 'CustomerTotals'): lambda.IFunction {
  const totals = new dynamodb.Table(stack, `${id}Table`, {
    partitionKey: { name: 'customerId', type: dynamodb.AttributeType.STRING },
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
    encryptionKey: key,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
  });
  for (const pack of ['HIPAA.Security', 'NIST.800.53.R5', 'PCI.DSS.321']) {
    Validations.of(totals).acknowledge({ id: `${pack}-DynamoDBInBackupPlan`, reason: 'Example table with point-in-time recovery; totals can be rebuilt by replaying the lake.' });
  }
  const idempotency = new IdempotencyTable(stack, `${id}Idempotency`, { encryptionKey: key });
  const fn = new BundledFunction(stack, `${id}Function`, {
    handler: 'customer-totals',
    code: lambda.Code.fromAsset(path.join(EXAMPLE_ASSETS, 'customer-totals')),
    environment: { TOTALS_TABLE: totals.tableName }, // IDEMPOTENCY_TABLE: set by idempotency.grantStore(fn)
    encryptionKey: key,
    synchronousInvoker: 'A Lambda event-source mapping invokes this function synchronously; its on-failure destination keeps failed batches.',
  }).function;
  totals.grant(fn, 'dynamodb:UpdateItem');
  key.grant(fn, 'kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey');
  idempotency.grantStore(fn);
  return fn;
}

/**
 * A consumer a user would write: examples/customer-totals (built on
 * `cdk-streaming-pipelines/runtime`) keeps a running total per customer in
 * DynamoDB, exactly once thanks to the IdempotencyTable, wired to the lake's
 * stream by a StreamConsumer and watched by the lake's monitor. It also reads
 * the replay stream: replays go there, not into the lake's stream, so the
 * consumer sees a replayed window again while the lake's zones do not.
 */
export function addCustomerTotals(stack: Stack, lake: StreamingLake, options: CustomerTotalsOptions = {}, id = 'CustomerTotals'): StreamConsumer {
  const key = lake.encryptionKey;
  const fn = addCustomerTotalsFunction(stack, key, id);
  // One access-log bucket for both mappings' failure buckets (none with a failure queue).
  const accessLogs = options.failureQueue ? undefined : new AccessLogBucket(stack, `${id}AccessLogs`).bucket;
  const replays = options.replayStream ?? lake.replayStream;
  const consumer = new StreamConsumer(stack, id, {
    function: fn,
    stream: lake.stream!, // this example lake reads Kinesis
    // Failed batches are redriven into the replay stream, which this function also reads: into the lake's
    // stream, the lake's deliveries would store them a second time.
    redriveInto: replays,
    // The lake knows its stream's retention even when it did not create the stream; the record age follows it.
    streamRetention: lake.retention,
    encryptionKey: key,
    accessLogs,
    ordering: options.ordering,
    enhancedFanOut: options.enhancedFanOut ?? true,
    failureDestination: options.failureQueue ? FailureDestination.SQS : FailureDestination.S3,
    failureQueue: options.failureQueue,
  });
  lake.monitor.addConsumer(id, {
    function: fn,
    maxRecordAge: consumer.maxRecordAge,
    failureBucket: consumer.failureBucket,
    eventSourceMappingId: consumer.eventSource.eventSourceMappingId,
    failureQueue: consumer.failureQueue,
    consumerName: consumer.consumer?.streamConsumerName,
    stream: consumer.consumer ? lake.stream : undefined,
  });
  if (replays) {
    // The same function on the replay stream. Replays are bulk catch-up: no enhanced fan-out needed.
    const replayConsumer = new StreamConsumer(stack, `${id}Replays`, {
      function: fn,
      stream: replays,
      encryptionKey: key,
      accessLogs,
      ordering: options.ordering,
      failureDestination: options.failureQueue ? FailureDestination.SQS : FailureDestination.S3,
      failureQueue: options.failureQueue,
    });
    // Its failed batches land in a bucket of their own and page like the main mapping's; the function's
    // errors, throttles and iterator age are the same metrics, already alarmed above.
    lake.monitor.addConsumer(`${id}Replays`, {
      function: fn, functionAlarms: false, maxRecordAge: replayConsumer.maxRecordAge,
      failureBucket: replayConsumer.failureBucket, eventSourceMappingId: replayConsumer.eventSource.eventSourceMappingId,
      failureQueue: replayConsumer.failureQueue,
    });
  }
  return consumer;
}

/** An encrypted queue for failed-batch metadata, itself kept 14 days. */
export function addFailureQueue(stack: Stack, key: kms.IKey, id = 'ConsumerFailures'): sqs.Queue {
  const queue = new sqs.Queue(stack, id, { encryptionMasterKey: key, enforceSSL: true, retentionPeriod: Duration.days(14) });
  const reason = 'This queue is itself the event-source mapping\'s on-failure destination (a dead-letter queue for failed batches); a DLQ behind it would only move the same messages.';
  Validations.of(queue).acknowledge({ id: 'AwsSolutions-SQS3', reason });
  Validations.of(queue).acknowledge({ id: 'Serverless-SQSRedrivePolicy', reason });
  return queue;
}

/**
 * A standalone ReplayArchive for a lake without a raw zone: compliance-mode Object Lock for seven years,
 * Glacier Instant Retrieval after 30 days, and its own replay stream planned for faster replays
 * (2 shards; a replay uses a quarter of them), which the lake's consumers also read.
 */
export function addStandaloneArchive(stack: Stack, lake: StreamingLake, id = 'Archive'): ReplayArchive {
  return new ReplayArchive(stack, id, {
    stream: lake.stream,
    encryptionKey: lake.encryptionKey,
    objectLock: { retention: Duration.days(2555), mode: ObjectLockMode.COMPLIANCE },
    lifecycle: { infrequentAccessAfter: Duration.days(30), archiveAfter: Duration.days(31), expireAfter: Duration.days(2600) },
    replayStreamThroughput: { recordsPerSecond: 1500, averageRecordBytes: 1024 },
    replayStreamRetention: Duration.days(2),
    writeShare: 0.25,
    monitor: lake.monitor,
  });
}

/** The payments rules: 30-second tumbling windows, five rules, an alert per rule. */
export const exampleFraudRules: FraudSpecProps = {
  schema: {
    customerId: 'customer_id', eventId: 'event_id', eventTime: { field: 'ts', format: EventTimeFormat.ISO_8601 },
    amount: 'amount', attributes: ['merchant_id', 'country', 'device_id'],
  },
  window: FraudWindow.tumbling(Duration.seconds(30)),
  allowedLateness: Duration.minutes(2),
  rules: [
    FraudRule.countAbove(10),
    FraudRule.sumAbove(5000),
    FraudRule.distinctAbove('merchant_id', 4),
    FraudRule.distinctAbove('country', 1),
    FraudRule.maxAbove(2500),
  ],
  alertWhen: AlertPolicy.anyRule(),
};

/** A FraudPipeline on defaults: created stream, created encrypted alert topic. */
export function addDefaultFraudPipeline(stack: Stack, id = 'Fraud'): FraudPipeline {
  return new FraudPipeline(stack, id, exampleFraudRules);
}

/**
 * A FraudPipeline with every option on: hopping windows scored by weights, a provisioned stream, a
 * FIFO alert topic (it dedupes redelivered alerts on alert_id) and an EventBridge bus, a results lake.
 */
export function addFullFraudPipeline(stack: Stack, id = 'Fraud'): FraudPipeline {
  const key = new PipelineKey(stack, `${id}OwnKey`).key;
  const topic = new sns.Topic(stack, `${id}AlertTopic`, { fifo: true, contentBasedDeduplication: false, masterKey: key, enforceSSL: true });
  const bus = new events.EventBus(stack, `${id}Bus`);
  return new FraudPipeline(stack, id, {
    ...exampleFraudRules,
    window: FraudWindow.hopping(Duration.minutes(5), Duration.minutes(1)),
    rules: [
      FraudRule.countAbove(20, { id: 'burst', weight: 2 }),
      FraudRule.sumAbove(10_000, { weight: 3 }),
      FraudRule.distinctAbove('country', 2, { weight: 2 }),
      FraudRule.maxAbove(5000),
    ],
    alertWhen: AlertPolicy.scoreAtLeast(4),
    throughput: { recordsPerSecond: 2000, averageRecordBytes: 512 },
    retention: Duration.days(3),
    encryptionKey: key,
    alerts: { topic, eventBus: bus },
    lake: { bufferingInterval: Duration.seconds(900), projectionStart: '2026-01-01' },
    futureTolerance: Duration.minutes(1),
    distinctCap: 50,
    evidenceEventIds: 20,
    maxEventsPerWindow: 10_000,
    stateRetention: Duration.days(3),
    idleTimeout: Duration.minutes(2),
    lateEventAlarmRate: 0.05,
  });
}

/** A FraudPipeline on a stream the user owns (producers key records by customer id), alerts to an event bus only. */
export function addFraudPipelineOnExistingStream(stack: Stack, lake: StreamingLake, id = 'Fraud'): FraudPipeline {
  const stream = new IngestStream(stack, `${id}OwnStream`, { encryptionKey: lake.encryptionKey, retention: Duration.days(1) }).stream;
  return new FraudPipeline(stack, id, {
    ...exampleFraudRules,
    stream,
    encryptionKey: lake.encryptionKey,
    alerts: { eventBus: events.EventBus.fromEventBusName(stack, `${id}DefaultBus`, 'default') },
  });
}
