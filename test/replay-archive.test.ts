import { Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as kms from 'aws-cdk-lib/aws-kms';
import { IngestStream, ObjectLockMode, ReplayArchive, type ReplayArchiveProps, ReplayTagging } from '../lib';
import { expectNagClean, newApp } from './support/nag';

function build(props: Partial<ReplayArchiveProps> = {}): { t: Template; archive: ReplayArchive; stack: Stack } {
  const stack = new Stack(newApp(), 'A');
  const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
  const stream = new IngestStream(stack, 'Source', { encryptionKey: key }).stream;
  const archive = new ReplayArchive(stack, 'Archive', { stream, encryptionKey: key, ...props });
  return { t: Template.fromStack(stack), archive, stack };
}

const resources = (t: Template, type: string): [string, any][] => Object.entries(t.findResources(type));
const byPrefix = (t: Template, type: string, prefix: string): any => {
  const found = resources(t, type).filter(([id]) => id.startsWith(prefix));
  if (found.length !== 1) throw new Error(`expected one ${type} starting with ${prefix}, found ${found.map(([id]) => id).join(', ') || 'none'}`);
  return found[0][1];
};
const definition = (t: Template): any => {
  const sm = resources(t, 'AWS::StepFunctions::StateMachine')[0][1];
  const parts = sm.Properties.DefinitionString['Fn::Join'][1].map((p: unknown) => (typeof p === 'string' ? p : '"TOKEN"'));
  return JSON.parse(parts.join('').replace(/""TOKEN""/g, '"TOKEN"'));
};

describe('ReplayArchive: the archive', () => {
  const { t } = build();

  test('a second delivery from the stream through the archive processor, gzip JSON Lines by arrival hour and lane', () => {
    const ds = byPrefix(t, 'AWS::KinesisFirehose::DeliveryStream', 'ArchiveDelivery').Properties;
    expect(ds.DeliveryStreamType).toBe('KinesisStreamAsSource');
    expect(ds.KinesisStreamSourceConfiguration.KinesisStreamARN['Fn::GetAtt'][0]).toMatch(/^Source/);
    const s3 = ds.ExtendedS3DestinationConfiguration;
    expect(s3).toMatchObject({
      Prefix: 'archive/dt=!{partitionKeyFromLambda:dt}/hour=!{partitionKeyFromLambda:hour}/bucket=!{partitionKeyFromLambda:bucket}/',
      ErrorOutputPrefix: 'archive-errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/',
      CompressionFormat: 'GZIP',
      FileExtension: '.jsonl.gz',
      DynamicPartitioningConfiguration: { Enabled: true, RetryOptions: { DurationInSeconds: 7200 } },
      BufferingHints: { SizeInMBs: 128, IntervalInSeconds: 300 },
      EncryptionConfiguration: { KMSEncryptionConfig: { AWSKMSKeyARN: { 'Fn::GetAtt': [expect.stringMatching(/^Key/), 'Arn'] } } },
    });
    expect(s3.S3BackupMode ?? 'Disabled').toBe('Disabled');
    const processor = s3.ProcessingConfiguration.Processors[0];
    expect(processor.Type).toBe('Lambda');
    const fn = byPrefix(t, 'AWS::Lambda::Function', 'ArchiveDeliveryProcessor').Properties;
    expect(fn.Environment.Variables).toEqual({ ARCHIVE_BUCKETS: '16' });
    expect(fn).toMatchObject({ Runtime: 'nodejs22.x', Architectures: ['arm64'], Handler: 'index.handler' });
  });

  test('an Athena table over it: JSON, projection on dt, hour and bucket 00-15, no crawler', () => {
    const table = byPrefix(t, 'AWS::Glue::Table', 'ArchiveTable').Properties.TableInput;
    expect(table.StorageDescriptor.Columns.map((c: any) => `${c.Name}:${c.Type}`)).toEqual([
      'partition_key:string', 'sequence_number:string', 'sub_sequence_number:int', 'approximate_arrival_timestamp:bigint', 'shard_id:string', 'data:string',
    ]);
    expect(table.StorageDescriptor.SerdeInfo.SerializationLibrary).toBe('org.openx.data.jsonserde.JsonSerDe');
    expect(table.PartitionKeys.map((c: any) => c.Name)).toEqual(['dt', 'hour', 'bucket']);
    expect(table.Parameters).toMatchObject({
      'projection.enabled': 'true',
      'projection.dt.type': 'date', 'projection.dt.format': 'yyyy-MM-dd', 'projection.dt.range': '2020-01-01,NOW',
      'projection.hour.type': 'integer', 'projection.hour.range': '0,23', 'projection.hour.digits': '2',
      'projection.bucket.type': 'integer', 'projection.bucket.range': '0,15', 'projection.bucket.digits': '2',
    });
    expect(JSON.stringify(table.Parameters['storage.location.template'])).toContain('/archive/dt=${dt}/hour=${hour}/bucket=${bucket}/');
    t.resourceCountIs('AWS::Glue::Crawler', 0);
  });

  test('Object Lock in compliance or governance mode, lifecycle to Glacier IR and expiry', () => {
    const locked = build({ objectLock: { retention: Duration.days(2555), mode: ObjectLockMode.COMPLIANCE }, lifecycle: { archiveAfter: Duration.days(60), expireAfter: Duration.days(2600) } }).t;
    const bucket = byPrefix(locked, 'AWS::S3::Bucket', 'ArchiveBucket').Properties;
    expect(bucket.ObjectLockEnabled).toBe(true);
    expect(bucket.ObjectLockConfiguration).toEqual({ ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 2555 } } });
    const rule = bucket.LifecycleConfiguration.Rules[0];
    expect(rule.Transitions).toEqual(expect.arrayContaining([{ StorageClass: 'GLACIER_IR', TransitionInDays: 60 }]));
    expect(rule.ExpirationInDays).toBe(2600);
    const governance = byPrefix(build({ objectLock: { retention: Duration.days(30) } }).t, 'AWS::S3::Bucket', 'ArchiveBucket').Properties;
    expect(governance.ObjectLockConfiguration.Rule.DefaultRetention).toEqual({ Mode: 'GOVERNANCE', Days: 30 });
  });
});

describe('ReplayArchive: the replay stream', () => {
  const { t, archive, stack } = build();
  const streams = (tt: Template) => resources(tt, 'AWS::Kinesis::Stream').filter(([id]) => id.startsWith('ArchiveReplayStream'));

  test('replays go to a dedicated stream by default, never to the archived one: KMS with the archive key, one provisioned shard, 24 h', () => {
    const [[id, stream]] = streams(t);
    expect(stream.Properties).toMatchObject({
      ShardCount: 1,
      RetentionPeriodHours: 24,
      StreamEncryption: { EncryptionType: 'KMS', KeyId: { 'Fn::GetAtt': [expect.stringMatching(/^Key/), 'Arn'] } },
    });
    expect(stream.Properties.StreamModeDetails?.StreamMode ?? 'PROVISIONED').toBe('PROVISIONED');
    expect(stack.resolve(archive.replayStream!.streamArn)).toEqual({ 'Fn::GetAtt': [id, 'Arn'] });
    // The planner's only target, the worker's only PutRecords resource.
    const env = byPrefix(t, 'AWS::Lambda::Function', 'ArchiveReplayPlanner').Properties.Environment.Variables;
    expect(env.TARGET_STREAMS).toEqual({ 'Fn::Join': ['', ['["', { 'Fn::GetAtt': [id, 'Arn'] }, '"]']] });
    const put = byPrefix(t, 'AWS::IAM::Policy', 'ArchiveReplayWorkerRole').Properties.PolicyDocument.Statement.filter((s: any) => s.Action === 'kinesis:PutRecords');
    expect(put.map((s: any) => s.Resource)).toEqual([{ 'Fn::GetAtt': [id, 'Arn'] }]);
    // Nothing the archive owns reads it: its delivery reads the archived stream.
    const ds = byPrefix(t, 'AWS::KinesisFirehose::DeliveryStream', 'ArchiveDelivery').Properties;
    expect(ds.KinesisStreamSourceConfiguration.KinesisStreamARN['Fn::GetAtt'][0]).toMatch(/^Source/);
    // Consumers find it in the stack outputs.
    const out = Object.entries(t.toJSON().Outputs).find(([o]) => o.startsWith('ArchiveReplayStreamArn'))![1] as any;
    expect(out.Value).toEqual({ 'Fn::GetAtt': [id, 'Arn'] });
  });

  test('its capacity and retention follow replayStreamThroughput and replayStreamRetention', () => {
    const planned = build({ replayStreamThroughput: { recordsPerSecond: 3000, averageRecordBytes: 500 }, replayStreamRetention: Duration.days(3) }).t;
    expect(streams(planned)[0][1].Properties).toMatchObject({ ShardCount: 4, RetentionPeriodHours: 72 });
    const spiky = build({ replayStreamThroughput: { recordsPerSecond: 3000, averageRecordBytes: 500, spiky: true } }).t;
    expect(streams(spiky)[0][1].Properties.StreamModeDetails).toEqual({ StreamMode: 'ON_DEMAND' });
  });

  test('the monitor alarms when its consumers fall behind by 25% of its retention, and graphs its writes', () => {
    const [[id]] = streams(t);
    const age = resources(t, 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties).filter((a) => a.MetricName === 'GetRecords.IteratorAgeMilliseconds');
    expect(age).toHaveLength(1);
    expect(age[0]).toMatchObject({ Threshold: 24 * 3600 * 1000 * 0.25, Dimensions: [{ Name: 'StreamName', Value: { Ref: id } }], EvaluationPeriods: 3, DatapointsToAlarm: 3 });
    expect(age[0].AlarmActions).toHaveLength(1);
    const body = JSON.stringify(resources(t, 'AWS::CloudWatch::Dashboard')[0][1].Properties.DashboardBody);
    expect(body).toContain('replay stream records in');
    expect(body).toContain('WriteProvisionedThroughputExceeded');
  });

  test('refuses the archived stream as a target unless acknowledged, also when imported by ARN', () => {
    const stack2 = new Stack(newApp(), 'Self');
    const key = new kms.Key(stack2, 'Key', { enableKeyRotation: true });
    const source = new IngestStream(stack2, 'Source', { encryptionKey: key }).stream;
    const other = new IngestStream(stack2, 'Other', { encryptionKey: key }).stream;
    const same = kinesis.Stream.fromStreamArn(stack2, 'SameByArn', source.streamArn);
    expect(() => new ReplayArchive(stack2, 'A1', { stream: source, encryptionKey: key, replayTargets: [other, source] }))
      .toThrow(/`replayTargets` \[1\] is the archived stream: a replay into it is archived again .* set `allowReplayIntoArchivedStream: true` to accept the duplicates/);
    expect(() => new ReplayArchive(stack2, 'A2', { stream: source, encryptionKey: key, replayTargets: [same] })).toThrow(/`replayTargets` \[0\] is the archived stream/);
    expect(() => new ReplayArchive(stack2, 'A3', { stream: source, encryptionKey: key, replayTargets: [other] })).not.toThrow();
  });

  test.each([
    [{ replayTargets: [] as kinesis.IStream[], replayStreamThroughput: { recordsPerSecond: 10, averageRecordBytes: 10 } }, /`replayStreamThroughput` applies to the replay stream the archive creates; it cannot be set with `replayTargets`/],
    [{ replayTargets: [] as kinesis.IStream[], replayStreamRetention: Duration.days(2) }, /`replayStreamRetention` applies to the replay stream the archive creates/],
    [{ replayStreamRetention: Duration.hours(12) }, /`replayStreamRetention` \(12 h\) must be between 24 h and 8,760 h/],
    [{ replayStreamThroughput: { recordsPerSecond: 0, averageRecordBytes: 10 } }, /`replayStreamThroughput.recordsPerSecond` \(0\) must be a number greater than 0/],
  ])('rejects %p at synth', (props, error) => {
    expect(() => build(props as Partial<ReplayArchiveProps>)).toThrow(error);
  });
});

describe('ReplayArchive: the replay', () => {
  const { t } = build();

  test('plan, then a Distributed Map with one iteration per lane, each a worker loop until done, then a summary', () => {
    const d = definition(t);
    expect(d.StartAt).toBe('Plan');
    expect(d.States.Plan.Parameters).toEqual({ action: 'plan', 'request.$': '$$.Execution.Input', 'executionName.$': '$$.Execution.Name' });
    const lanes = d.States.Lanes;
    expect(lanes).toMatchObject({ Type: 'Map', ItemsPath: '$.lanes', MaxConcurrency: 16, ResultPath: '$.laneResults', Next: 'Summarize' });
    expect(lanes.ItemProcessor.ProcessorConfig.Mode).toBe('DISTRIBUTED');
    const inner = lanes.ItemProcessor.States;
    expect(inner.ReplayLane.Next).toBe('LaneDone?');
    expect(inner['LaneDone?'].Choices).toEqual([{ Variable: '$.done', BooleanEquals: true, Next: 'LaneReplayed' }]);
    expect(inner['LaneDone?'].Default).toBe('ReplayLane');
    expect(inner.ReplayLane.Retry).toEqual(expect.arrayContaining([
      expect.objectContaining({ ErrorEquals: ['Lambda.TooManyRequestsException'], JitterStrategy: 'FULL' }),
      expect.objectContaining({ ErrorEquals: ['ReplayWorkerError'], MaxAttempts: 3 }),
    ]));
    // The planner's request errors are final: no retry.
    expect(JSON.stringify(d.States.Plan.Retry)).not.toContain('ReplayRequestError');
    expect(d.States.Summarize.Parameters).toEqual({ action: 'summarize', 'lanes.$': '$.laneResults' });
    expect(d.States.Output.End).toBe(true);
  });

  test('logs every execution to a KMS log group and traces it', () => {
    const sm = resources(t, 'AWS::StepFunctions::StateMachine')[0][1].Properties;
    expect(sm.LoggingConfiguration).toMatchObject({ Level: 'ALL', IncludeExecutionData: false });
    expect(sm.TracingConfiguration).toEqual({ Enabled: true });
  });

  test('the planner knows the archive, the lanes, the targets, the share and the on-demand capacity', () => {
    const { t: t2 } = build({ writeShare: 0.25, onDemandWriteCapacity: { recordsPerSecond: 10000, bytesPerSecond: 10 * 1024 * 1024 }, tagging: ReplayTagging.NONE, lanes: 8 });
    const env = byPrefix(t2, 'AWS::Lambda::Function', 'ArchiveReplayPlanner').Properties.Environment.Variables;
    expect(env).toMatchObject({ ARCHIVE_PREFIX: 'archive/', LANES: '8', WRITE_SHARE: '0.25', ON_DEMAND_RECORDS_PER_SECOND: '10000', ON_DEMAND_BYTES_PER_SECOND: '10485760', TAGGING: 'none', STATE_PREFIX: 'replays/' });
    expect(env.TARGET_STREAMS['Fn::Join'][1].some((p: any) => JSON.stringify(p).includes('ArchiveReplayStream'))).toBe(true);
    expect(JSON.stringify(env.TARGET_STREAMS)).not.toContain('Source');
  });

  test('the worker may read the archive, write its state and put records into the targets only', () => {
    const other = build();
    const statements = (prefix: string, tt: Template): any[] => byPrefix(tt, 'AWS::IAM::Policy', prefix).Properties.PolicyDocument.Statement;
    const worker = statements('ArchiveReplayWorkerRole', other.t);
    const actions = worker.map((s) => s.Action).flat();
    expect(actions).toEqual(expect.arrayContaining(['s3:ListBucket', 's3:GetObject', 's3:PutObject', 'kinesis:PutRecords', 'kms:Decrypt', 'kms:GenerateDataKey']));
    expect(actions.filter((a: string) => /Delete|\*$/.test(a) && !a.startsWith('xray'))).toEqual([]);
    const put = worker.find((s) => s.Action === 'kinesis:PutRecords');
    expect(put.Resource['Fn::GetAtt'][0]).toMatch(/^ArchiveReplayStream/);
    const archiveRead = worker.find((s) => s.Action === 's3:GetObject');
    expect(JSON.stringify(archiveRead.Resource)).toContain('/archive/*');
    const planner = statements('ArchiveReplayPlannerRole', other.t).map((s) => s.Action).flat();
    expect(planner).toEqual(expect.arrayContaining(['s3:ListBucket', 'kinesis:DescribeStreamSummary']));
    expect(planner).not.toContain('kinesis:PutRecords');
  });

  test('replay targets other than the source are granted, and the state machine ARN is an output', () => {
    const stack = new Stack(newApp(), 'B');
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    const source = new kinesis.Stream(stack, 'Src', { encryption: kinesis.StreamEncryption.KMS, encryptionKey: key });
    const target = new kinesis.Stream(stack, 'Backfill', { encryption: kinesis.StreamEncryption.KMS, encryptionKey: key });
    const archive = new ReplayArchive(stack, 'Archive', { stream: source, encryptionKey: key, replayTargets: [target, source], allowReplayIntoArchivedStream: true });
    const tt = Template.fromStack(stack);
    // Explicit targets replace the dedicated replay stream.
    expect(archive.replayStream).toBeUndefined();
    expect(Object.keys(tt.findResources('AWS::Kinesis::Stream')).map((id) => id.replace(/[0-9A-F]{8}$/, '')).sort()).toEqual(['Backfill', 'Src']);
    const put = byPrefix(tt, 'AWS::IAM::Policy', 'ArchiveReplayWorkerRole').Properties.PolicyDocument.Statement.filter((s: any) => s.Action === 'kinesis:PutRecords');
    expect(put.map((s: any) => s.Resource['Fn::GetAtt'][0]).sort()).toEqual([expect.stringMatching(/^Backfill/), expect.stringMatching(/^Src/)]);
    const outputs = tt.toJSON().Outputs;
    const out = Object.entries(outputs).find(([id]) => id.startsWith('ArchiveReplayStateMachineArn'))![1] as any;
    expect(out.Value.Ref).toMatch(/^ArchiveReplay/);
    expect(out.Description).toMatch(/aws stepfunctions start-execution/);
  });

  test('the monitor watches the archive delivery and replay executions, and graphs replay progress', () => {
    const alarms = resources(t, 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties);
    const names = alarms.map((a) => a.MetricName).sort();
    expect(names).toEqual(['DeliveryToS3.DataFreshness', 'DeliveryToS3.Success', 'ExecutionsFailed', 'GetRecords.IteratorAgeMilliseconds']);
    for (const a of alarms) {
      expect(a.Dimensions).toHaveLength(1);
      // Freshness (lag) feeds the composite; failed deliveries and failed replays page on their own.
      expect([a.MetricName, a.AlarmActions?.length ?? 0]).toEqual([a.MetricName, a.MetricName === 'DeliveryToS3.DataFreshness' ? 0 : 1]);
    }
    const body = JSON.stringify(resources(t, 'AWS::CloudWatch::Dashboard')[0][1].Properties.DashboardBody);
    // The alarm-status widget lists the alarms added after the monitor was built.
    expect(body).toContain('\\"type\\":\\"alarm\\"');
    for (const m of ['RecordsReplayed', 'BytesReplayed', 'ObjectsRemaining', 'Throttles']) expect(body).toContain(m);
    expect(body).toContain('StreamingPipelines/Replay');
  });

  test.each([
    [{ lanes: 0 }, /`lanes` \(0\) must be an integer 1-100/],
    [{ lanes: 101 }, /`lanes` \(101\) must be an integer 1-100/],
    [{ writeShare: 0 }, /`writeShare` \(0\) must be in \(0, 1\]/],
    [{ writeShare: 1.5 }, /`writeShare` \(1.5\) must be in \(0, 1\]/],
    [{ prefix: 'archive' }, /`prefix` \('archive'\) must be path segments ending with '\/'/],
    [{ replayTargets: [] }, /`replayTargets` must list at least one stream/],
    [{ bufferingInterval: Duration.seconds(30) }, /`bufferingInterval` \(30 s\) must be 60-900 s/],
    [{ onDemandWriteCapacity: { recordsPerSecond: 0, bytesPerSecond: 1 } }, /`onDemandWriteCapacity` must give positive/],
  ])('rejects %p at synth', (props, error) => {
    expect(() => build(props as Partial<ReplayArchiveProps>)).toThrow(error);
  });

  test('is nag-clean under all five packs, standalone with Object Lock and its replay stream', () => {
    expectNagClean((s) => {
      const key = new kms.Key(s, 'Key', { enableKeyRotation: true });
      const stream = new IngestStream(s, 'Source', { encryptionKey: key }).stream;
      new ReplayArchive(s, 'Archive', { stream, encryptionKey: key, objectLock: { retention: Duration.days(365), mode: ObjectLockMode.COMPLIANCE } });
    });
  });

  test('is nag-clean with explicit targets, the archived stream acknowledged among them', () => {
    expectNagClean((s) => {
      const key = new kms.Key(s, 'Key', { enableKeyRotation: true });
      const stream = new IngestStream(s, 'Source', { encryptionKey: key }).stream;
      const target = new IngestStream(s, 'Target', { encryptionKey: key }).stream;
      new ReplayArchive(s, 'Archive', { stream, encryptionKey: key, replayTargets: [target, stream], allowReplayIntoArchivedStream: true });
    });
  });

  test('snapshot', () => {
    expect(t.toJSON()).toMatchSnapshot();
  });
});
