import { Duration, Size, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as events from 'aws-cdk-lib/aws-events';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { addDefaultFraudPipeline, addFraudPipelineOnExistingStream, addFullFraudPipeline, addLakeOnExistingResources, exampleFraudRules } from '../bin/examples';
import { FRAUD_METRICS_NAMESPACE, FraudPipeline, FraudRule, type FraudPipelineProps } from '../lib';
import { compileFraudSpec } from '../lib/fraud-pipeline/fraud-spec';
import { listAcknowledgements } from '../bin/compliance';
import { expectNagClean, newApp } from './support/nag';
import { joinToString, only, onlyWhere } from './support/template';

function build(add: (s: Stack) => FraudPipeline): { t: Template; stack: Stack; p: FraudPipeline } {
  const stack = new Stack(newApp(), 'S');
  const p = add(stack);
  return { t: Template.fromStack(stack), stack, p };
}
const defaults = build((s) => addDefaultFraudPipeline(s));
const full = build((s) => addFullFraudPipeline(s));
const id = (stack: Stack, c: { node: { defaultChild?: unknown } }): string => stack.getLogicalId(c.node.defaultChild as never);

/** The function whose logical id starts with `Fraud<name>` (not its log group or role). */
function fn(t: Template, name: string): any {
  return onlyWhere(t, 'AWS::Lambda::Function', `Fraud${name}`, (r) => JSON.stringify(r.Properties.Role).includes(`Fraud${name}Role`))[1];
}
/** Every statement of a function's role, but logs and X-Ray, as `actions -> resource`. */
function grants(t: Template, name: string): string[] {
  const [, policy] = onlyWhere(t, 'AWS::IAM::Policy', `${name} policy`, (r) => JSON.stringify(r.Properties.Roles).includes(`Fraud${name}Role`));
  return policy.Properties.PolicyDocument.Statement
    .filter((s: any) => !String(s.Action).startsWith('logs:') && !String(s.Action).startsWith('xray:'))
    .map((s: any) => `${[s.Action].flat().sort().join(',')} -> ${joinToString(s.Resource).replace(/[0-9A-F]{8}(?=[.}])/g, '')}`)
    .sort();
}
const esm = (t: Template, source: RegExp) => onlyWhere(t, 'AWS::Lambda::EventSourceMapping', String(source), (r) => source.test(JSON.stringify(r.Properties.EventSourceArn)))[1].Properties;

describe('ingest and scorer', () => {
  test('creates a KMS-encrypted stream planned by IngestStream (on-demand without throughput, provisioned with it)', () => {
    defaults.t.hasResourceProperties('AWS::Kinesis::Stream', { StreamModeDetails: { StreamMode: 'ON_DEMAND' }, RetentionPeriodHours: 168, StreamEncryption: { EncryptionType: 'KMS', KeyId: Match.anyValue() } });
    full.t.hasResourceProperties('AWS::Kinesis::Stream', { StreamModeDetails: { StreamMode: 'PROVISIONED' }, ShardCount: 3, RetentionPeriodHours: 72 });
  });

  test('the scorer reads through an enhanced fan-out consumer: per shard, 1,000 records, partial batch responses, S3 on failure', () => {
    const { t } = defaults;
    only(t, 'AWS::Kinesis::StreamConsumer');
    expect(esm(t, /ScorerConsumer/)).toMatchObject({
      EventSourceArn: { 'Fn::GetAtt': [expect.stringMatching(/^FraudScorerConsumer/), 'ConsumerARN'] },
      BatchSize: 1000, ParallelizationFactor: 1, FunctionResponseTypes: ['ReportBatchItemFailures'], BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 5, MaximumRecordAgeInSeconds: 604800, StartingPosition: 'TRIM_HORIZON',
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [expect.stringMatching(/^FraudScorerConsumerFailures/), 'Arn'] } } },
    });
  });

  test('the scorer runs the fraud-scorer bundle on Node 22 with FRAUD_SPEC equal to the compiled spec and the contract\'s variables', () => {
    const { t, p, stack } = defaults;
    const scorer = fn(t, 'Scorer').Properties;
    expect(scorer.Runtime).toBe('nodejs22.x');
    const env = scorer.Environment.Variables;
    expect(JSON.parse(env.FRAUD_SPEC)).toEqual(compileFraudSpec(new Stack(newApp(), 'X'), exampleFraudRules, Duration.days(7)));
    expect(env.FRAUD_SPEC).toBe(p.specJson);
    expect(env).toEqual({
      FRAUD_SPEC: p.specJson,
      STATE_TABLE: { Ref: id(stack, p.stateTable.table) },
      LATE_BUCKET: { Ref: id(stack, p.lateBucket) },
      FAILURE_BUCKET: { Ref: id(stack, p.scorerConsumer.failureBucket!) },
      METRICS_NAMESPACE: 'StreamingPipelines/Fraud',
      PIPELINE_NAME: 'S/Fraud',
    });
  });

  test('scorer IAM is exact: state items, the open index, late/* and the failure bucket, the stream through its consumer', () => {
    expect(grants(defaults.t, 'Scorer')).toEqual([
      'dynamodb:BatchGetItem,dynamodb:ConditionCheckItem,dynamodb:GetItem,dynamodb:PutItem,dynamodb:UpdateItem -> {FraudState.Arn}',
      'dynamodb:Query -> {FraudState.Arn}/index/open',
      'kinesis:DescribeStream,kinesis:DescribeStreamConsumer,kinesis:DescribeStreamSummary,kinesis:GetRecords,kinesis:GetShardIterator,kinesis:ListShards,kinesis:ListStreams,kinesis:SubscribeToShard -> {FraudStream.Arn}',
      'kinesis:DescribeStreamConsumer,kinesis:SubscribeToShard -> {FraudScorerConsumer.ConsumerARN}',
      'kms:Decrypt -> {FraudKey.Arn}',
      'kms:Decrypt,kms:DescribeKey,kms:Encrypt,kms:GenerateDataKey -> {FraudKey.Arn}',
      'kms:GenerateDataKey -> {FraudKey.Arn}',
      's3:ListBucket -> {FraudScorerConsumerFailures.Arn}',
      's3:PutObject -> {FraudLate.Arn}/late/*',
      's3:PutObject -> {FraudScorerConsumerFailures.Arn}/*',
    ]);
  });
});

describe('state and results tables', () => {
  test('one state table: pk, TTL expiresAt, NEW_IMAGE stream, sparse KEYS_ONLY GSI open (openShard S, end N), KMS, PITR, retained', () => {
    const { t, stack, p } = defaults;
    const [, table] = onlyWhere(t, 'AWS::DynamoDB::Table', 'state table', (r) => r.Properties.KeySchema[0].AttributeName === 'pk');
    expect(table.Properties).toMatchObject({
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      AttributeDefinitions: expect.arrayContaining([{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'openShard', AttributeType: 'S' }, { AttributeName: 'end', AttributeType: 'N' }]),
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      StreamSpecification: { StreamViewType: 'NEW_IMAGE' },
      GlobalSecondaryIndexes: [{ IndexName: 'open', KeySchema: [{ AttributeName: 'openShard', KeyType: 'HASH' }, { AttributeName: 'end', KeyType: 'RANGE' }], Projection: { ProjectionType: 'KEYS_ONLY' } }],
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: { 'Fn::GetAtt': [id(stack, p.encryptionKey as kms.Key), 'Arn'] } },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      BillingMode: 'PAY_PER_REQUEST',
    });
    expect(table.Properties.KeySchema).toHaveLength(1);
    expect(table.DeletionPolicy).toBe('Retain');
  });

  test('the results table: customer_id (S) and window (S), KMS, PITR, retained', () => {
    const [, table] = onlyWhere(defaults.t, 'AWS::DynamoDB::Table', 'results table', (r) => r.Properties.KeySchema[0].AttributeName === 'customer_id');
    expect(table.Properties).toMatchObject({
      KeySchema: [{ AttributeName: 'customer_id', KeyType: 'HASH' }, { AttributeName: 'window', KeyType: 'RANGE' }],
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS' }, PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
    expect(table.DeletionPolicy).toBe('Retain');
  });
});

describe('late sink', () => {
  test('is a KMS-encrypted, TLS-only, access-logged bucket with a lifecycle', () => {
    const { t, stack, p } = defaults;
    const bucket = t.toJSON().Resources[id(stack, p.lateBucket)].Properties;
    expect(bucket.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault).toMatchObject({ SSEAlgorithm: 'aws:kms' });
    expect(bucket.LoggingConfiguration).toMatchObject({ LogFilePrefix: 'late/' });
    expect(bucket.LifecycleConfiguration.Rules[0].Transitions).toHaveLength(2);
    t.hasResourceProperties('AWS::S3::BucketPolicy', { Bucket: { Ref: id(stack, p.lateBucket) }, PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) } });
  });
});

describe('closer', () => {
  test('runs every minute from an EventBridge rule EventBridge may invoke, with the spec and state table, and no retries', () => {
    const { t, stack, p } = defaults;
    const closer = fn(t, 'Closer').Properties;
    expect(closer.Environment.Variables).toEqual({ FRAUD_SPEC: p.specJson, STATE_TABLE: { Ref: id(stack, p.stateTable.table) }, METRICS_NAMESPACE: FRAUD_METRICS_NAMESPACE, PIPELINE_NAME: 'S/Fraud' });
    const [ruleId] = onlyWhere(t, 'AWS::Events::Rule', 'closer schedule', (r) => r.Properties.ScheduleExpression === 'rate(1 minute)');
    t.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(1 minute)', State: 'ENABLED', Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [id(stack, p.closer as never), 'Arn'] }, RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 120 } })] });
    t.hasResourceProperties('AWS::Lambda::Permission', { Action: 'lambda:InvokeFunction', Principal: 'events.amazonaws.com', FunctionName: { 'Fn::GetAtt': [id(stack, p.closer as never), 'Arn'] }, SourceArn: { 'Fn::GetAtt': [ruleId, 'Arn'] } });
    t.hasResourceProperties('AWS::Lambda::EventInvokeConfig', { MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60 });
  });

  test('its missing DLQ is acknowledged for what it is, a scheduled function whose next run redoes the work', () => {
    const reasons = listAcknowledgements(defaults.p.node.findChild('Closer'))
      .filter((a) => /LambdaDLQ|LambdaAsyncFailureDestination/.test(a.id)).map((a) => a.reason);
    expect(reasons.length).toBeGreaterThanOrEqual(4);
    for (const reason of reasons) {
      expect(reason).toContain('EventBridge invokes the closer every minute');
      expect(reason).not.toContain('synchronously');
    }
  });

  test('closer IAM is exact', () => {
    expect(grants(defaults.t, 'Closer')).toEqual([
      'dynamodb:BatchGetItem,dynamodb:ConditionCheckItem,dynamodb:GetItem,dynamodb:PutItem,dynamodb:UpdateItem -> {FraudState.Arn}',
      'dynamodb:Query -> {FraudState.Arn}/index/open',
      'kms:Decrypt,kms:DescribeKey,kms:Encrypt,kms:GenerateDataKey -> {FraudKey.Arn}',
    ]);
  });
});

describe('publisher', () => {
  test('drains the state table\'s stream: alerts and closed windows only, partial batch responses, bisect, bounded retries, S3 on failure', () => {
    const m = esm(defaults.t, /StreamArn/);
    expect(m).toMatchObject({
      EventSourceArn: { 'Fn::GetAtt': [expect.stringMatching(/^FraudState/), 'StreamArn'] },
      FunctionResponseTypes: ['ReportBatchItemFailures'], BisectBatchOnFunctionError: true, MaximumRetryAttempts: 10, MaximumRecordAgeInSeconds: 86400,
      StartingPosition: 'TRIM_HORIZON', DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [expect.stringMatching(/^FraudPublisherFailures/), 'Arn'] } } },
    });
    expect(m.FilterCriteria.Filters.map((f: any) => JSON.parse(f.Pattern))).toEqual([
      { eventName: ['INSERT'], dynamodb: { NewImage: { kind: { S: ['alert'] } } } },
      { eventName: ['INSERT', 'MODIFY'], dynamodb: { NewImage: { status: { S: ['closed'] } } } },
    ]);
  });

  test('its environment names the topic and the results table (no bus, no lake by default)', () => {
    const { t, stack, p } = defaults;
    expect(fn(t, 'Publisher').Properties.Environment.Variables).toEqual({
      ALERT_TOPIC_ARN: { Ref: id(stack, p.alertTopic as sns.Topic) }, RESULTS_TABLE: { Ref: id(stack, p.resultsTable.table) },
      STATE_TABLE: { Ref: id(stack, p.stateTable.table) }, METRICS_NAMESPACE: FRAUD_METRICS_NAMESPACE, PIPELINE_NAME: 'S/Fraud',
    });
  });

  test('publisher IAM is exact: the stream read, deliveredAt, result rows, sns:Publish and the key', () => {
    expect(grants(defaults.t, 'Publisher')).toEqual([
      'dynamodb:DescribeStream,dynamodb:GetRecords,dynamodb:GetShardIterator -> {FraudState.StreamArn}',
      'dynamodb:ListStreams -> *',
      'dynamodb:PutItem -> {FraudResults.Arn}',
      'dynamodb:UpdateItem -> {FraudState.Arn}',
      'kms:Decrypt,kms:DescribeKey -> {FraudKey.Arn}',
      'kms:Decrypt,kms:DescribeKey,kms:Encrypt,kms:GenerateDataKey -> {FraudKey.Arn}',
      'kms:Decrypt,kms:GenerateDataKey -> {FraudKey.Arn}',
      'kms:GenerateDataKey -> {FraudKey.Arn}',
      's3:ListBucket -> {FraudPublisherFailures.Arn}',
      's3:PutObject -> {FraudPublisherFailures.Arn}/*',
      'sns:Publish -> {FraudAlerts}',
    ]);
  });

  test('with a FIFO topic, a bus and a lake: PutEvents on the bus, PutRecords on the lake stream, both named in the environment', () => {
    const { t, stack, p } = full;
    const env = fn(t, 'Publisher').Properties.Environment.Variables;
    expect(env).toMatchObject({ ALERT_TOPIC_ARN: { Ref: expect.stringMatching(/^FraudAlertTopic/) }, ALERT_EVENT_BUS_NAME: { Ref: expect.stringMatching(/^FraudBus/) }, LAKE_STREAM_NAME: { Ref: id(stack, p.lake!.stream as kinesis.Stream) } });
    t.hasResourceProperties('AWS::SNS::Topic', { FifoTopic: true });
    const g = grants(t, 'Publisher');
    expect(g).toContain('events:PutEvents -> {FraudBus.Arn}');
    expect(g).toContain('kinesis:PutRecords -> {FraudLakeStream.Arn}');
    expect(g).toContain('sns:Publish -> {FraudAlertTopic}');
    expect(g.filter((s) => s.startsWith('kinesis:') || s.startsWith('events:') || s.startsWith('sns:'))).toHaveLength(3);
    // Only the given topic: none is created.
    expect(Object.keys(t.findResources('AWS::SNS::Topic')).filter((k) => k.startsWith('FraudAlerts'))).toEqual([]);
  });

  test('only an event bus: no topic is created and ALERT_TOPIC_ARN is unset', () => {
    const { t, p } = build((s) => addFraudPipelineOnExistingStream(s, addLakeOnExistingResources(s)));
    expect(p.alertTopic).toBeUndefined();
    const env = fn(t, 'Publisher').Properties.Environment.Variables;
    expect(env.ALERT_TOPIC_ARN).toBeUndefined();
    expect(joinToString(env.ALERT_EVENT_BUS_NAME)).toBe('default');
    expect(grants(t, 'Publisher').filter((s) => s.startsWith('events:'))).toEqual(['events:PutEvents -> arn:{AWS::Partition}:events:{AWS::Region}:{AWS::AccountId}:event-bus/default']);
  });
});

describe('alert topic', () => {
  test('is created encrypted with the pipeline key and TLS-only; the publisher publishes through IAM, which the key policy delegates', () => {
    const { t, stack, p } = defaults;
    const keyId = id(stack, p.encryptionKey as kms.Key);
    t.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] } });
    const policy = onlyWhere(t, 'AWS::SNS::TopicPolicy', 'alert topic policy', (r) => JSON.stringify(r.Properties.Topics).includes(id(stack, p.alertTopic as sns.Topic)))[1];
    expect(policy.Properties.PolicyDocument.Statement).toEqual([expect.objectContaining({ Effect: 'Deny', Action: 'sns:Publish', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]);
    // The topic policy has no Allow: same-account roles publish through their IAM policy; the key policy lets IAM grant its use.
    const key = t.toJSON().Resources[keyId].Properties.KeyPolicy.Statement;
    expect(key).toContainEqual(expect.objectContaining({ Effect: 'Allow', Action: 'kms:*', Principal: { AWS: expect.anything() } }));
  });
});

describe('lake of results', () => {
  test('its Glue schema comes from the spec: result columns and one distinct_<attribute> column per attribute, partitioned on window_start', () => {
    const { t } = full;
    const table = onlyWhere(t, 'AWS::Glue::Table', 'results table', (r) => r.Properties.TableInput.StorageDescriptor?.SerdeInfo?.SerializationLibrary?.includes('Parquet'))[1];
    expect(table.Properties.TableInput.StorageDescriptor.Columns.map((c: any) => `${c.Name}:${c.Type}`)).toEqual([
      'result_id:string', 'customer_id:string', 'window_start:string', 'window_end:string', 'event_count:bigint',
      'amount_sum:double', 'amount_min:double', 'amount_max:double', 'amount_avg:double',
      'distinct_merchant_id:int', 'distinct_country:int', 'distinct_device_id:int',
      'distinct_saturated:array<string>', 'score:double', 'rules_hit:array<string>', 'alerted:array<string>',
    ]);
    expect([full.p.lake!.partitions.eventTimeField, full.p.lake!.partitions.projectionStart]).toEqual(['window_start', '2026-01-01']);
  });

  test('the lake\'s own checks name the props under `lake`', () => {
    const make = (lake: object) => () => new FraudPipeline(new Stack(newApp(), 'S'), 'Fraud', { ...exampleFraudRules, lake });
    expect(make({ bufferingSize: Size.mebibytes(32) })).toThrow(/`lake.bufferingSize` \(32 MiB\) must be 64-128 MiB/);
    expect(make({ projectionStart: '2020-13-01' })).toThrow(/`lake.projectionStart`/);
  });

  test('an attribute that cannot be a column fails with `lake`, naming it', () => {
    expect(() => build((s) => new FraudPipeline(s, 'Fraud', { ...exampleFraudRules, schema: { ...exampleFraudRules.schema, attributes: ['device.id'] }, rules: [FraudRule.countAbove(1)], lake: {} })))
      .toThrow(/`schema.attributes\[0\]` \('device.id'\) becomes the lake column distinct_device.id/);
  });
});

describe('monitoring', () => {
  test('alarms: scorer and publisher consumers, late rate, refused events, state throttles, closer errors, each with its dimension', () => {
    const { p } = defaults;
    expect(Object.keys(p.monitor.alarms).sort()).toEqual([
      'CloserErrors', 'LateEvents', 'PublisherErrors', 'PublisherFailedBatches', 'PublisherIteratorAge', 'PublisherThrottles', 'RefusedEvents',
      'ScorerErrors', 'ScorerFailedBatches', 'ScorerIteratorAge', 'ScorerMillisBehindLatest', 'ScorerThrottles', 'StateThrottles',
      'iteratorAge', 'readThrottled', 'writeThrottled',
    ]);
    const { t, stack } = defaults;
    const alarm = (name: string) => t.toJSON().Resources[id(stack, p.monitor.alarms[name])].Properties;
    const late = alarm('LateEvents');
    expect(late).toMatchObject({ Threshold: 0.01, EvaluationPeriods: 5, DatapointsToAlarm: 3, AlarmActions: [expect.anything()] });
    const metrics = late.Metrics.filter((m: any) => m.MetricStat).map((m: any) => m.MetricStat.Metric);
    expect(metrics).toEqual([
      { Namespace: FRAUD_METRICS_NAMESPACE, MetricName: 'LateEvents', Dimensions: [{ Name: 'Pipeline', Value: 'S/Fraud' }] },
      { Namespace: FRAUD_METRICS_NAMESPACE, MetricName: 'Events', Dimensions: [{ Name: 'Pipeline', Value: 'S/Fraud' }] },
    ]);
    expect(alarm('RefusedEvents')).toMatchObject({ Threshold: 0, AlarmActions: [expect.anything()] });
    expect(alarm('CloserErrors')).toMatchObject({ Dimensions: [{ Name: 'FunctionName', Value: { Ref: id(stack, p.closer as never) } }], EvaluationPeriods: 5, DatapointsToAlarm: 5 });
    expect(alarm('StateThrottles').AlarmActions).toBeUndefined(); // a cause: it pages through the composite
    expect(JSON.stringify(alarm('StateThrottles').Metrics)).toContain('TransactWriteItems');
  });

  test('the dashboard shows alerts per minute, late and refused events, state throttling and every alarm', () => {
    const { t } = defaults;
    const body = JSON.stringify(only(t, 'AWS::CloudWatch::Dashboard').Properties.DashboardBody);
    for (const text of ['Alerts per minute', 'AlertsDecided', 'LateEvents', 'InvalidEvents', 'WindowFull', 'StateConflicts', 'Throttles', 'EFO millis behind latest', 'events sent to the failure destination']) expect(body).toContain(text);
    expect(body).toContain('\\"type\\":\\"alarm\\"');
  });

  test('the lake\'s alarms go to the pipeline\'s alarm topic', () => {
    const { t, stack, p } = full;
    const topic = { Ref: id(stack, p.monitor.alarmTopic!) };
    const lakeAlarm = t.toJSON().Resources[id(stack, p.lake!.monitor.alarms.deliverySuccess)].Properties;
    expect(lakeAlarm.AlarmActions).toEqual([topic]);
  });
});

describe('composition', () => {
  test('two pipelines fit in one stack, each with its own PIPELINE_NAME and consumer', () => {
    const stack = new Stack(newApp(), 'Two');
    const a = new FraudPipeline(stack, 'A', exampleFraudRules);
    const b = new FraudPipeline(stack, 'B', exampleFraudRules);
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::Kinesis::StreamConsumer', 2);
    t.resourceCountIs('AWS::DynamoDB::Table', 4);
    const names = Object.values(t.findResources('AWS::Lambda::Function')).map((f: any) => f.Properties.Environment?.Variables?.PIPELINE_NAME).filter(Boolean);
    expect(new Set(names)).toEqual(new Set(['Two/A', 'Two/B']));
    expect(a.specJson).toBe(b.specJson);
  });

  test('on a given stream: no stream is created, its retention bounds the lateness, and throughput is refused', () => {
    const stack = new Stack(newApp(), 'S');
    const stream = new kinesis.Stream(stack, 'Own', { retentionPeriod: Duration.hours(24) });
    new FraudPipeline(stack, 'Fraud', { ...exampleFraudRules, stream });
    Template.fromStack(stack).resourceCountIs('AWS::Kinesis::Stream', 1);
    expect(() => new FraudPipeline(stack, 'Late', { ...exampleFraudRules, stream, retention: Duration.hours(24), allowedLateness: Duration.hours(25) }))
      .toThrow(/`allowedLateness` \(1 day 1 hour\) exceeds the stream's retention \(1 day\)/);
    expect(() => new FraudPipeline(stack, 'Both', { ...exampleFraudRules, stream, throughput: { recordsPerSecond: 1, averageRecordBytes: 1 } })).toThrow(/`throughput` cannot be combined with `stream`/);
  });

  test('a given stream\'s own retention bounds the lateness unstated, and a stated one that differs fails naming `retention`', () => {
    const stack = new Stack(newApp(), 'S');
    const stream = new kinesis.Stream(stack, 'Own', { retentionPeriod: Duration.hours(24) });
    expect(() => new FraudPipeline(stack, 'Late', { ...exampleFraudRules, stream, allowedLateness: Duration.hours(25) }))
      .toThrow(/`allowedLateness` \(1 day 1 hour\) exceeds the stream's retention \(1 day\)/);
    expect(() => new FraudPipeline(stack, 'Differs', { ...exampleFraudRules, stream, retention: Duration.hours(48) }))
      .toThrow(/`retention` \(48 h\) differs from the stream's own retention \(24 h\)/);
  });

  test('an imported stream of unknown retention is watched as if it kept 24 h', () => {
    const stack = new Stack(newApp(), 'S');
    const stream = kinesis.Stream.fromStreamArn(stack, 'Imported', 'arn:aws:kinesis:eu-west-1:111122223333:stream/payments');
    const p = new FraudPipeline(stack, 'Fraud', { ...exampleFraudRules, stream });
    const age = Template.fromStack(stack).toJSON().Resources[id(stack, p.monitor.alarms.iteratorAge)].Properties;
    expect(age.Threshold).toBe(0.25 * 86_400_000);
    expect(p.scorerConsumer.maxRecordAge.toHours()).toBe(24);
  });

  test('validation at synth names the prop: the created stream\'s retention bounds lateness; lateEventAlarmRate in (0, 1]', () => {
    const make = (over: Partial<FraudPipelineProps>) => () => new FraudPipeline(new Stack(newApp(), 'S'), 'Fraud', { ...exampleFraudRules, ...over });
    expect(make({ retention: Duration.days(1), allowedLateness: Duration.days(2) })).toThrow(/`allowedLateness` \(2 days\) exceeds the stream's retention \(1 day\)/);
    expect(make({ lateEventAlarmRate: 0 })).toThrow(/`lateEventAlarmRate` \(0\) must be in \(0, 1\]/);
    expect(make({ rules: [] })).toThrow(/`rules` \(empty\) must hold at least one rule/);
    expect(make({ rules: [FraudRule.distinctAbove('ip', 1)] })).toThrow(/`rules\[0\].attribute` \('ip'\) is not one of `schema.attributes`/);
  });

  test('an imported topic is used as is: only sns:Publish on it', () => {
    const stack = new Stack(newApp(), 'S');
    const topic = sns.Topic.fromTopicArn(stack, 'T', 'arn:aws:sns:eu-west-1:111122223333:fraud-alerts.fifo');
    const bus = events.EventBus.fromEventBusArn(stack, 'B', 'arn:aws:events:eu-west-1:111122223333:event-bus/fraud');
    new FraudPipeline(stack, 'Fraud', { ...exampleFraudRules, alerts: { topic, eventBus: bus } });
    const g = grants(Template.fromStack(stack), 'Publisher');
    expect(g).toContain('sns:Publish -> arn:aws:sns:eu-west-1:111122223333:fraud-alerts.fifo');
    expect(g).toContain('events:PutEvents -> arn:aws:events:eu-west-1:111122223333:event-bus/fraud');
  });
});

describe('snapshots', () => {
  // Asset hashes follow the handler bundles, which other changes rebuild: they are masked.
  const masked = (t: Template) => JSON.parse(JSON.stringify(t.toJSON()).replace(/[0-9a-f]{64}\.zip/g, '<asset>.zip'));
  test('defaults', () => expect(masked(defaults.t)).toMatchSnapshot());
  test('all options', () => expect(masked(full.t)).toMatchSnapshot());
});

describe('cdk-nag (AwsSolutions, HIPAA, NIST 800-53 R5, PCI DSS 3.2.1, Serverless)', () => {
  test('defaults are clean', () => expectNagClean((s) => addDefaultFraudPipeline(s)));
  test('all options are clean', () => expectNagClean((s) => addFullFraudPipeline(s)));
  test('on an existing stream with only an event bus is clean', () => expectNagClean((s) => addFraudPipelineOnExistingStream(s, addLakeOnExistingResources(s))));
});
