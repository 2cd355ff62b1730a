import { Duration, RemovalPolicy, Size, Stack } from 'aws-cdk-lib';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as firehose from 'aws-cdk-lib/aws-kinesisfirehose';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { AccessLogBucket, EventTimeFormat, IngestStream, PipelineKey, SecureBucket, StreamingLake, TimeGranularity } from '../lib';

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
  // CloudWatch publishes alarms to an encrypted topic only if the key lets it.
  const topicKey = new kms.Key(full, `${id}AlarmTopicKey`, { enableKeyRotation: true });
  topicKey.grant(new iam.ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey*');
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
