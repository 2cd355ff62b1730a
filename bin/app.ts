#!/usr/bin/env node
import { App, Duration, RemovalPolicy, Size, Stack } from 'aws-cdk-lib';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as firehose from 'aws-cdk-lib/aws-kinesisfirehose';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { applyAllPacks, formatFindings, synthFindings } from './compliance';
import { EventTimeFormat, StreamingLake, TimeGranularity } from '../lib';

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

/** Adds the example stacks to `app`: a lake on all defaults, and one with every option on. */
export function buildExampleApp(app: App): void {
  const defaults = new Stack(app, 'StreamingLakeDefaults');
  new StreamingLake(defaults, 'Lake', {
    schema: exampleSchema,
    eventTime: { field: 'event_time' },
  });

  const full = new Stack(app, 'StreamingLakeFull');
  // CloudWatch publishes alarms to an encrypted topic only if the key lets it.
  const topicKey = new kms.Key(full, 'AlarmTopicKey', { enableKeyRotation: true });
  topicKey.grant(new iam.ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey*');
  const topic = new sns.Topic(full, 'Alarms', { enforceSSL: true, masterKey: topicKey });
  new StreamingLake(full, 'Lake', {
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
    transform: { flatten: { device_country: 'device.geo.country' } },
    alarmAction: new cwActions.SnsAction(topic),
    removalPolicy: RemovalPolicy.RETAIN,
    maxActivePartitions: 500,
  });
}

if (require.main === module) {
  const app = new App();
  applyAllPacks(app);
  buildExampleApp(app);
  const findings = synthFindings(app);
  if (findings.length > 0) {
    process.stderr.write(`cdk-nag: ${findings.length} unacknowledged finding(s):\n${formatFindings(findings)}\n`);
    process.exit(1);
  }
}
