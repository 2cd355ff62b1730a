import { CfnResource, Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as firehose from 'aws-cdk-lib/aws-kinesisfirehose';
import * as kms from 'aws-cdk-lib/aws-kms';
import { addDefaultLake, addFullLake, addLakeOnExistingResources, exampleSchema } from '../bin/examples';
import { BundledFunction, ObjectLockMode, StreamConsumer, StreamingLake } from '../lib';
import { expectNagClean, newApp } from './support/nag';
import {
  archiveDelivery, archiveDeliveryEntry, archiveDestination, archiveTable, archiveTableEntry, curatedDelivery, curatedDeliveryEntry, curatedTable,
  curatedTableEntry, joinToString, only, onlyWhere, s3Destination, synth, userFunction,
} from './support/template';

const defaults = synth((s) => addDefaultLake(s));
const full = synth((s) => addFullLake(s));

describe('Firehose', () => {
  test('reads from the stream through KinesisStreamSourceConfiguration', () => {
    const ds = curatedDelivery(defaults).Properties;
    expect(ds.DeliveryStreamType).toBe('KinesisStreamAsSource');
    expect(ds.KinesisStreamSourceConfiguration.KinesisStreamARN).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^LakeStream/), 'Arn'] });
  });

  test('converts JSON to Parquet with SNAPPY from the Glue table and leaves destination compression unset', () => {
    const dest = s3Destination(defaults);
    const conv = dest.DataFormatConversionConfiguration;
    expect(conv.Enabled).toBe(true);
    expect(conv.OutputFormatConfiguration.Serializer.ParquetSerDe.Compression).toBe('SNAPPY');
    expect(conv.InputFormatConfiguration.Deserializer.HiveJsonSerDe.TimestampFormats).toEqual(['millis', "yyyy-MM-dd'T'HH:mm:ss.SSSZZ", "yyyy-MM-dd'T'HH:mm:ssZZ"]);
    expect(conv.SchemaConfiguration.TableName).toEqual({ Ref: expect.stringMatching(/^LakeTable/) });
    expect(conv.SchemaConfiguration.DatabaseName).toEqual({ Ref: expect.stringMatching(/^LakeTableDatabase/) });
    expect(dest.CompressionFormat).toBeUndefined();
  });

  test('enables dynamic partitioning with a jq 1.6 MetadataExtraction query', () => {
    const dest = s3Destination(defaults);
    expect(dest.DynamicPartitioningConfiguration.Enabled).toBe(true);
    const processor = dest.ProcessingConfiguration.Processors.find((p: any) => p.Type === 'MetadataExtraction');
    const params = Object.fromEntries(processor.Parameters.map((p: any) => [p.ParameterName, p.ParameterValue]));
    expect(params.JsonParsingEngine).toBe('JQ-1.6');
    expect(params.MetadataExtractionQuery).toContain('"dt":');
  });

  test('uses the transform Lambda processor when configured, with partitionKeyFromLambda', () => {
    const dest = s3Destination(full);
    const types = dest.ProcessingConfiguration.Processors.map((p: any) => p.Type);
    expect(types).toEqual(['Lambda']);
    expect(dest.Prefix).toBe('data/dt=!{partitionKeyFromLambda:dt}/hour=!{partitionKeyFromLambda:hour}/p_region=!{partitionKeyFromLambda:p_region}/p_tenant=!{partitionKeyFromLambda:p_tenant}/');
  });

  test('never partitions curated data on arrival time', () => {
    for (const t of [defaults, full]) expect(s3Destination(t).Prefix).not.toContain('!{timestamp');
  });

  test('writes errors under a prefix with !{firehose:error-output-type} and no partition keys', () => {
    for (const t of [defaults, full]) {
      const prefix = s3Destination(t).ErrorOutputPrefix;
      expect(prefix).toContain('!{firehose:error-output-type}');
      expect(prefix).not.toMatch(/partitionKeyFrom/);
    }
  });

  test('logs delivery errors to a KMS-encrypted log group', () => {
    const dest = s3Destination(defaults);
    expect(dest.CloudWatchLoggingOptions.Enabled).toBe(true);
    const groupRef = dest.CloudWatchLoggingOptions.LogGroupName.Ref;
    const group = defaults.toJSON().Resources[groupRef];
    expect(group.Type).toBe('AWS::Logs::LogGroup');
    expect(group.Properties.KmsKeyId).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^LakeKey/), 'Arn'] });
  });

  test('buffers 128 MiB / 300 s by default and honours given values', () => {
    expect(s3Destination(defaults).BufferingHints).toEqual({ SizeInMBs: 128, IntervalInSeconds: 300 });
    expect(s3Destination(full).BufferingHints).toEqual({ SizeInMBs: 128, IntervalInSeconds: 600 });
  });

  test('encrypts written objects with the lake key', () => {
    expect(s3Destination(defaults).EncryptionConfiguration.KMSEncryptionConfig.AWSKMSKeyARN).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^LakeKey/), 'Arn'] });
  });
});

/** The S3Key of the pre-bundled `handler` asset, as a BundledFunction of its own synthesizes it. */
function assetKeyOf(handler: string): string {
  const stack = new Stack(newApp(), 'AssetProbe');
  new BundledFunction(stack, 'Probe', { handler, encryptionKey: new kms.Key(stack, 'Key'), synchronousInvoker: 'Probe only.' });
  return only(Template.fromStack(stack), 'AWS::Lambda::Function').Properties.Code.S3Key;
}

/** The policy document attached to the role `roleId`, as JSON text. */
function policyOfRole(t: Template, roleId: string): string {
  const policies = Object.values(t.findResources('AWS::IAM::Policy')).filter((p: any) => p.Properties.Roles.some((r: any) => r.Ref === roleId));
  expect(policies).toHaveLength(1);
  return JSON.stringify((policies[0] as any).Properties.PolicyDocument);
}

describe('raw zone: the archive delivery', () => {
  test('is a second delivery stream reading the lake stream', () => {
    const [id, ds] = archiveDeliveryEntry(defaults);
    expect(id).toMatch(/^LakeRawDelivery[0-9A-F]{8}$/);
    defaults.resourceCountIs('AWS::KinesisFirehose::DeliveryStream', 2);
    expect(ds.Properties.DeliveryStreamType).toBe('KinesisStreamAsSource');
    expect(ds.Properties.KinesisStreamSourceConfiguration.KinesisStreamARN).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^LakeStream/), 'Arn'] });
    expect(ds.Properties.KinesisStreamSourceConfiguration.KinesisStreamARN).toEqual(curatedDelivery(defaults).Properties.KinesisStreamSourceConfiguration.KinesisStreamARN);
  });

  test('runs every record through the bundled archive-processor Lambda', () => {
    const processors = archiveDestination(defaults).ProcessingConfiguration.Processors;
    expect(processors.map((p: any) => p.Type)).toEqual(['Lambda']);
    const params = Object.fromEntries(processors[0].Parameters.map((p: any) => [p.ParameterName, p.ParameterValue]));
    const fnId = params.LambdaArn['Fn::GetAtt'][0];
    expect(fnId).toMatch(/^LakeRawDeliveryProcessor[0-9A-F]{8}$/);
    const fn = defaults.toJSON().Resources[fnId];
    expect(fn.Type).toBe('AWS::Lambda::Function');
    expect(fn.Properties.Code.S3Key).toBe(assetKeyOf('archive-processor'));
    expect(fn.Properties.Code.S3Key).not.toBe(assetKeyOf('firehose-transform'));
    // The processor hashes partition keys into as many lanes as the archive table projects.
    expect(fn.Properties.Environment.Variables.ARCHIVE_BUCKETS).toBe('16');
    expect(fn.Properties.KmsKeyArn).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^LakeKey/), 'Arn'] });
  });

  test('partitions by arrival dt, hour and lane from the Lambda under archive/, errors outside it', () => {
    for (const t of [defaults, full]) {
      const dest = archiveDestination(t);
      expect(dest.Prefix).toBe('archive/dt=!{partitionKeyFromLambda:dt}/hour=!{partitionKeyFromLambda:hour}/bucket=!{partitionKeyFromLambda:bucket}/');
      expect(dest.DynamicPartitioningConfiguration.Enabled).toBe(true);
      expect(dest.ErrorOutputPrefix).toContain('!{firehose:error-output-type}');
      expect(dest.ErrorOutputPrefix).not.toMatch(/partitionKeyFrom/);
      // Failed records never land where the archive table or a replay reads.
      expect(dest.ErrorOutputPrefix).not.toMatch(/^archive\//);
    }
  });

  test('writes gzip JSON Lines (no Parquet conversion) to the raw-zone bucket with SSE-KMS under the lake key', () => {
    const dest = archiveDestination(defaults);
    expect(dest.CompressionFormat).toBe('GZIP');
    expect(dest.FileExtension).toBe('.jsonl.gz');
    expect(dest.DataFormatConversionConfiguration).toBeUndefined();
    expect(dest.BucketARN).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^LakeRawBucket[0-9A-F]{8}$/), 'Arn'] });
    expect(dest.EncryptionConfiguration.KMSEncryptionConfig.AWSKMSKeyARN).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^LakeKey/), 'Arn'] });
    expect(dest.EncryptionConfiguration.KMSEncryptionConfig.AWSKMSKeyARN).toEqual(s3Destination(defaults).EncryptionConfiguration.KMSEncryptionConfig.AWSKMSKeyARN);
  });

  test('buffers at least 64 MiB and 60 s, as dynamic partitioning requires', () => {
    for (const t of [defaults, full]) {
      const hints = archiveDestination(t).BufferingHints;
      expect(hints.SizeInMBs).toBeGreaterThanOrEqual(64);
      expect(hints.SizeInMBs).toBeLessThanOrEqual(128);
      expect(hints.IntervalInSeconds).toBeGreaterThanOrEqual(60);
    }
  });

  test('logs delivery errors to its own KMS-encrypted log group', () => {
    const logging = archiveDestination(defaults).CloudWatchLoggingOptions;
    expect(logging.Enabled).toBe(true);
    expect(logging.LogGroupName.Ref).not.toBe(s3Destination(defaults).CloudWatchLoggingOptions.LogGroupName.Ref);
    const group = defaults.toJSON().Resources[logging.LogGroupName.Ref];
    expect(group.Type).toBe('AWS::Logs::LogGroup');
    expect(group.Properties.KmsKeyId).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^LakeKey/), 'Arn'] });
  });

  test('the curated delivery has no S3 backup anymore, and each delivery role writes only its own bucket', () => {
    for (const t of [defaults, full]) {
      const dest = s3Destination(t);
      expect(dest.S3BackupConfiguration).toBeUndefined();
      expect(dest.S3BackupMode ?? 'Disabled').toBe('Disabled');
      const curatedPolicy = policyOfRole(t, dest.RoleARN['Fn::GetAtt'][0]);
      expect(curatedPolicy).toMatch(/LakeCurated[0-9A-F]{8}/);
      expect(curatedPolicy).not.toMatch(/LakeRawBucket/);
      const archivePolicy = policyOfRole(t, archiveDestination(t).RoleARN['Fn::GetAtt'][0]);
      expect(archivePolicy).toMatch(/LakeRawBucket[0-9A-F]{8}/);
      expect(archivePolicy).not.toMatch(/LakeCurated/);
    }
  });

  test('is the lake\'s archive, and rawBucket is the archive bucket', () => {
    const stack = new Stack(newApp(), 'TestStack');
    const lake = addDefaultLake(stack);
    expect(lake.archive).toBeDefined();
    expect(lake.rawBucket).toBe(lake.archive!.bucket);
    const t = Template.fromStack(stack);
    expect(stack.resolve(lake.rawBucket!.bucketArn)).toEqual(archiveDestination(t).BucketARN);
    expect(stack.resolve(lake.archive!.delivery.deliveryStream.deliveryStreamArn)).toEqual({ 'Fn::GetAtt': [archiveDeliveryEntry(t)[0], 'Arn'] });
  });
});

describe('raw zone: the archive table', () => {
  test('is a second Glue table in the lake database: JSON Lines, gzip, the archived record columns', () => {
    defaults.resourceCountIs('AWS::Glue::Table', 2);
    const [id, table] = archiveTableEntry(defaults);
    expect(id).toMatch(/^LakeRawTable/);
    expect(table.Properties.DatabaseName).toEqual(curatedTable(defaults).Properties.DatabaseName);
    const t = table.Properties.TableInput;
    expect(t.StorageDescriptor.SerdeInfo.SerializationLibrary).toBe('org.openx.data.jsonserde.JsonSerDe');
    expect(t.Parameters).toMatchObject({ classification: 'json', compressionType: 'gzip', 'projection.enabled': 'true' });
    expect(t.StorageDescriptor.Columns.map((c: any) => c.Name)).toEqual(['partition_key', 'sequence_number', 'sub_sequence_number', 'approximate_arrival_timestamp', 'shard_id', 'data']);
    expect(t.PartitionKeys.map((k: any) => k.Name)).toEqual(['dt', 'hour', 'bucket']);
  });

  test('projects dt from the projection start to NOW, hour 00-23 and one 2-digit lane per processor bucket, with no crawler', () => {
    const p = archiveTable(defaults).Properties.TableInput.Parameters;
    expect(p).toMatchObject({
      'projection.dt.type': 'date', 'projection.dt.range': '2020-01-01,NOW', 'projection.dt.format': 'yyyy-MM-dd',
      'projection.hour.type': 'integer', 'projection.hour.range': '0,23', 'projection.hour.digits': '2',
      'projection.bucket.type': 'integer', 'projection.bucket.range': '0,15', 'projection.bucket.digits': '2',
    });
    // The archive is partitioned by arrival time, so the event-time projectionStart (2024-01-01 in `full`) does not apply.
    expect(archiveTable(full).Properties.TableInput.Parameters['projection.dt.range']).toBe('2020-01-01,NOW');
    defaults.resourceCountIs('AWS::Glue::Crawler', 0);
  });

  test('the archive prefix and the archive table location template agree path for path', () => {
    for (const t of [defaults, full]) {
      const dest = archiveDestination(t);
      const table = archiveTable(t).Properties.TableInput;
      const template = joinToString(table.Parameters['storage.location.template']);
      const sample: Record<string, string> = { dt: '2024-12-31', hour: '23', bucket: '07' };
      const fromFirehose = dest.Prefix.replace(/!\{partitionKeyFromLambda:([a-z_]+)\}/g, (_: string, k: string) => sample[k]);
      const fromGlue = template.replace(/\$\{([a-z_]+)\}/g, (_: string, k: string) => sample[k]);
      const bucket = `{${dest.BucketARN['Fn::GetAtt'][0]}}`;
      expect(fromGlue).toBe(`s3://${bucket}/${fromFirehose}`);
      expect(joinToString(table.StorageDescriptor.Location)).toBe(`s3://${bucket}/archive/`);
      const names = table.PartitionKeys.map((k: any) => k.Name);
      expect([...dest.Prefix.matchAll(/([a-z_]+)=!\{/g)].map((m) => m[1])).toEqual(names);
      expect([...template.matchAll(/([a-z_]+)=\$\{/g)].map((m) => m[1])).toEqual(names);
    }
  });
});

describe('raw zone: replay', () => {
  test('a state machine with planner and worker Lambdas replays the archive into the replay stream by default', () => {
    defaults.resourceCountIs('AWS::StepFunctions::StateMachine', 1);
    const [smId] = onlyWhere(defaults, 'AWS::StepFunctions::StateMachine', 'replay state machine', () => true);
    expect(smId).toMatch(/^LakeRawReplay[0-9A-F]{8}$/);
    const fns = defaults.toJSON().Resources as Record<string, any>;
    const [plannerId, planner] = onlyWhere(defaults, 'AWS::Lambda::Function', 'replay planner', (f) => f.Properties.Environment?.Variables?.ARCHIVE_PREFIX !== undefined);
    expect(plannerId).toMatch(/^LakeRawReplayPlanner/);
    expect(planner.Properties.Code.S3Key).toBe(assetKeyOf('replay-planner'));
    const env = planner.Properties.Environment.Variables;
    expect(env.ARCHIVE_BUCKET).toEqual({ Ref: archiveDestination(defaults).BucketARN['Fn::GetAtt'][0] });
    expect(env.ARCHIVE_PREFIX).toBe('archive/');
    expect(env.LANES).toBe('16');
    expect(joinToString(env.TARGET_STREAMS)).toMatch(/^\["\{LakeRawReplayStream[0-9A-F]{8}\.Arn\}"\]$/);
    expect(env.STATE_BUCKET).toEqual({ Ref: expect.stringMatching(/^LakeRawReplayState[0-9A-F]{8}$/) });
    const [workerId, worker] = onlyWhere(defaults, 'AWS::Lambda::Function', 'replay worker', (f) => f.Properties.Environment?.Variables?.REPLAY_STATE_MACHINE_NAME !== undefined);
    expect(workerId).toMatch(/^LakeRawReplayWorker/);
    expect(worker.Properties.Code.S3Key).toBe(assetKeyOf('replay-worker'));
    // The state machine invokes the planner and the worker.
    const definition = JSON.stringify(fns[smId].Properties.DefinitionString);
    expect(definition).toContain(plannerId);
    expect(definition).toContain(workerId);
    const outputs = Object.values(defaults.findOutputs('*')).filter((o: any) => o.Value?.Ref === smId);
    expect(outputs).toHaveLength(1);
  });

  test('the worker reads only the archive prefix and its own replay state, and writes only the replay stream', () => {
    const [, worker] = onlyWhere(defaults, 'AWS::Lambda::Function', 'replay worker', (f) => f.Properties.Environment?.Variables?.REPLAY_STATE_MACHINE_NAME !== undefined);
    const doc = JSON.parse(policyOfRole(defaults, worker.Properties.Role['Fn::GetAtt'][0]));
    const resourcesOf = (action: string) => doc.Statement.filter((s: any) => [s.Action].flat().includes(action)).flatMap((s: any) => [s.Resource].flat()).map(joinToString);
    expect(resourcesOf('kinesis:PutRecords')).toEqual([expect.stringMatching(/^\{LakeRawReplayStream[0-9A-F]{8}\.Arn\}$/)]);
    const reads = resourcesOf('s3:GetObject');
    expect(reads).toHaveLength(2);
    expect(reads).toEqual(expect.arrayContaining([
      expect.stringMatching(/^\{LakeRawBucket[0-9A-F]{8}\.Arn\}\/archive\/\*$/),
      expect.stringMatching(/^\{LakeRawReplayState[0-9A-F]{8}\.Arn\}\/replays\/\*$/),
    ]));
    expect(resourcesOf('s3:PutObject')).toEqual([expect.stringMatching(/^\{LakeRawReplayState[0-9A-F]{8}\.Arn\}\/replays\/\*$/)]);
  });

  test('lake.replayStream is the archive\'s replay stream: no delivery of the lake reads it', () => {
    const stack = new Stack(newApp(), 'ReplayStream');
    const lake = addDefaultLake(stack);
    const t = Template.fromStack(stack);
    expect(lake.replayStream).toBe(lake.archive!.replayStream);
    const replayId = stack.resolve(lake.replayStream!.streamArn)['Fn::GetAtt'][0];
    expect(replayId).toMatch(/^LakeRawReplayStream[0-9A-F]{8}$/);
    const sources = Object.values(t.findResources('AWS::KinesisFirehose::DeliveryStream')).map((d: any) => d.Properties.KinesisStreamSourceConfiguration.KinesisStreamARN['Fn::GetAtt'][0]);
    expect(sources).toEqual([stack.resolve(lake.stream!.streamArn)['Fn::GetAtt'][0], stack.resolve(lake.stream!.streamArn)['Fn::GetAtt'][0]]);
    expect(sources).not.toContain(replayId);
  });

  test('replaying into the lake\'s own stream needs rawArchiveOptions.allowReplayIntoArchivedStream', () => {
    const build = (allow?: boolean) => () => synth((s) => {
      const stream = kinesis.Stream.fromStreamArn(s, 'Existing', 'arn:aws:kinesis:eu-west-1:111122223333:stream/events');
      new StreamingLake(s, 'Lake', { schema: exampleSchema, eventTime: { field: 'event_time' }, stream, rawArchiveOptions: { replayTargets: [stream], allowReplayIntoArchivedStream: allow } });
    });
    expect(build()).toThrow(/`rawArchiveOptions.replayTargets` \[0\] is the archived stream: .*curated zone gets duplicate rows.* set `rawArchiveOptions.allowReplayIntoArchivedStream: true`/);
    const t = build(true)();
    t.resourceCountIs('AWS::Kinesis::Stream', 0);
    const [, planner] = onlyWhere(t, 'AWS::Lambda::Function', 'replay planner', (f) => f.Properties.Environment?.Variables?.TARGET_STREAMS !== undefined);
    expect(JSON.parse(planner.Properties.Environment.Variables.TARGET_STREAMS)).toEqual(['arn:aws:kinesis:eu-west-1:111122223333:stream/events']);
  });

  test('replay stream options name the lake\'s props in errors', () => {
    const lake = (o: object) => () => synth((s) => new StreamingLake(s, 'Lake', { schema: exampleSchema, eventTime: { field: 'event_time' }, rawArchiveOptions: o }));
    expect(lake({ replayStreamRetention: Duration.hours(1) })).toThrow(/`rawArchiveOptions.replayStreamRetention` \(1 h\) must be between 24 h and 8,760 h/);
    expect(lake({ replayTargets: [], replayStreamThroughput: { recordsPerSecond: 1, averageRecordBytes: 1 } })).toThrow(/`rawArchiveOptions.replayStreamThroughput` applies to the replay stream/);
  });

  test('rawArchive: false creates neither the archive delivery nor the replay', () => {
    const stack = new Stack(newApp(), 'NoRaw');
    const lake = new StreamingLake(stack, 'Lake', { schema: exampleSchema, eventTime: { field: 'event_time' }, rawArchive: false });
    const t = Template.fromStack(stack);
    expect(lake.archive).toBeUndefined();
    expect(lake.rawBucket).toBeUndefined();
    expect(lake.replayStream).toBeUndefined();
    t.resourceCountIs('AWS::KinesisFirehose::DeliveryStream', 1);
    expect(curatedDeliveryEntry(t)[0]).toMatch(/^LakeDelivery/);
    t.resourceCountIs('AWS::StepFunctions::StateMachine', 0);
    t.resourceCountIs('AWS::Lambda::Function', 0);
    t.resourceCountIs('AWS::Glue::Table', 1);
    expect(curatedTableEntry(t)[0]).toMatch(/^LakeTable/);
    expect(Object.keys(t.findResources('AWS::S3::Bucket')).map((id) => id.replace(/[0-9A-F]{8}$/, '')).sort()).toEqual(['LakeAccessLogs', 'LakeCurated']);
    expect(Object.keys(t.findResources('AWS::CloudWatch::Alarm')).filter((id) => /Archive|Replay/.test(id))).toEqual([]);
  });
});

describe('Glue table', () => {
  const table = () => curatedTable(defaults).Properties.TableInput;

  test('creates one database when none is given, holding the curated and the archive tables', () => {
    defaults.resourceCountIs('AWS::Glue::Database', 1);
    const [dbId] = Object.keys(defaults.findResources('AWS::Glue::Database'));
    expect(curatedTable(defaults).Properties.DatabaseName).toEqual({ Ref: dbId });
    expect(archiveTable(defaults).Properties.DatabaseName).toEqual({ Ref: dbId });
  });

  test('is Parquet with the typed columns, including decimal and nested types', () => {
    const t = table();
    expect(t.StorageDescriptor.InputFormat).toBe('org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat');
    expect(t.StorageDescriptor.SerdeInfo.SerializationLibrary).toBe('org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe');
    const cols = Object.fromEntries(t.StorageDescriptor.Columns.map((c: any) => [c.Name, c.Type]));
    expect(cols).toMatchObject({
      event_id: 'string', customer_id: 'bigint', amount: 'decimal(12,2)', quantity: 'int', score: 'double',
      is_test: 'boolean', ingested_at: 'timestamp', business_date: 'date',
      device: 'struct<os:string,version:string>', tags: 'array<string>', attributes: 'map<string,string>',
    });
    expect(t.StorageDescriptor.Columns).toHaveLength(exampleSchema.length);
  });

  test('projects dt as a date from a start date to NOW, with no crawler', () => {
    const p = table().Parameters;
    expect(p['projection.enabled']).toBe('true');
    expect(p['projection.dt.type']).toBe('date');
    expect(p['projection.dt.range']).toBe('2020-01-01,NOW');
    expect(p['projection.dt.format']).toBe('yyyy-MM-dd');
    defaults.resourceCountIs('AWS::Glue::Crawler', 0);
  });

  test('projects hour as a 2-digit integer, enum keys as enum and open keys as injected', () => {
    const p = curatedTable(full).Properties.TableInput.Parameters;
    expect(p['projection.hour.type']).toBe('integer');
    expect(p['projection.hour.range']).toBe('0,23');
    expect(p['projection.hour.digits']).toBe('2');
    expect(p['projection.p_region.type']).toBe('enum');
    expect(p['projection.p_region.values']).toBe('us,eu,apac');
    expect(p['projection.p_tenant.type']).toBe('injected');
  });

  test('has the partition keys in path order', () => {
    const keys = curatedTable(full).Properties.TableInput.PartitionKeys.map((k: any) => k.Name);
    expect(keys).toEqual(['dt', 'hour', 'p_region', 'p_tenant']);
  });

  test('records the Parquet codec Firehose writes as the table\'s parquet.compression', () => {
    expect(table().Parameters['parquet.compression']).toBe('SNAPPY');
    for (const compression of [firehose.ParquetCompression.GZIP, firehose.ParquetCompression.UNCOMPRESSED]) {
      const t = synth((s) => new StreamingLake(s, 'Lake', { schema: exampleSchema, eventTime: { field: 'event_time' }, compression }));
      expect(s3Destination(t).DataFormatConversionConfiguration.OutputFormatConfiguration.Serializer.ParquetSerDe.Compression).toBe(compression.value);
      expect(curatedTable(t).Properties.TableInput.Parameters['parquet.compression']).toBe(compression.value);
    }
  });

  test('does not flag SSE-KMS data as client-side encrypted (has_encrypted_data is the CSE-KMS flag)', () => {
    expect(table().Parameters.has_encrypted_data).toBe(false);
    expect(archiveTable(defaults).Properties.TableInput.Parameters.has_encrypted_data).toBe(false);
  });

  test('uses a given database instead of creating one', () => {
    const t = synth((s) => addLakeOnExistingResources(s));
    t.resourceCountIs('AWS::Glue::Database', 1); // the user's own
    // rawArchive: false, so the curated table is the only one.
    const dbRef = only(t, 'AWS::Glue::Table').Properties.DatabaseName.Ref;
    expect(dbRef).toMatch(/^LakeOwnDatabase/);
  });
});

describe('one partition definition', () => {
  /** Substitutes sample values into a Firehose prefix and a Glue location template and compares. */
  function agree(t: Template): void {
    const dest = s3Destination(t);
    const table = curatedTable(t).Properties.TableInput;
    const template = joinToString(table.Parameters['storage.location.template']);
    const names = table.PartitionKeys.map((k: any) => k.Name);
    const sample: Record<string, string> = { dt: '2024-12-31', hour: '23', p_region: 'eu', p_tenant: 'acme' };
    const fromFirehose = dest.Prefix.replace(/!\{partitionKeyFrom(?:Query|Lambda):([a-z_]+)\}/g, (_: string, k: string) => sample[k]);
    const fromGlue = template.replace(/\$\{([a-z_]+)\}/g, (_: string, k: string) => sample[k]);
    const bucket = `{${dest.BucketARN['Fn::GetAtt'][0]}}`;
    expect(fromGlue).toBe(`s3://${bucket}/${fromFirehose}`);
    // Every Glue partition key appears in both, in the same order.
    expect([...dest.Prefix.matchAll(/([a-z_]+)=!\{/g)].map((m) => m[1])).toEqual(names);
    expect([...template.matchAll(/([a-z_]+)=\$\{/g)].map((m) => m[1])).toEqual(names);
  }

  test('the Firehose prefix and the Glue location template agree path for path (defaults)', () => agree(defaults));
  test('the Firehose prefix and the Glue location template agree path for path (all options)', () => agree(full));

  test('the Glue table points at the bucket Firehose writes to', () => {
    const dest = s3Destination(defaults);
    const table = curatedTable(defaults).Properties.TableInput;
    expect(joinToString(table.StorageDescriptor.Location)).toBe(`s3://{${dest.BucketARN['Fn::GetAtt'][0]}}/data/`);
  });
});

describe('buckets', () => {
  const buckets = (t: Template) => Object.entries(t.findResources('AWS::S3::Bucket'));
  const dataBuckets = (t: Template) => buckets(t).filter(([id]) => !id.includes('AccessLogs'));

  const bucket = (t: Template, prefix: string) => {
    const found = dataBuckets(t).filter(([id]) => id.replace(/[0-9A-F]{8}$/, '') === prefix);
    expect(found).toHaveLength(1);
    return found[0][1];
  };

  test('curated, raw-zone and replay-state buckets use KMS, TLS only, block all public access, are versioned and logged apart', () => {
    const data = dataBuckets(defaults);
    expect(data.map(([id]) => id.replace(/[0-9A-F]{8}$/, ''))).toEqual(['LakeCurated', 'LakeRawBucket', 'LakeRawReplayState']);
    for (const [id, b] of data) {
      expect(b.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault).toEqual({
        SSEAlgorithm: 'aws:kms', KMSMasterKeyID: { 'Fn::GetAtt': [expect.stringMatching(/^LakeKey/), 'Arn'] },
      });
      expect(b.Properties.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
      expect(b.Properties.VersioningConfiguration).toEqual({ Status: 'Enabled' });
      expect(b.Properties.LoggingConfiguration.DestinationBucketName.Ref).toMatch(/^LakeAccessLogs/);
      const policy = Object.values(defaults.findResources('AWS::S3::BucketPolicy')).find((p: any) => p.Properties.Bucket.Ref === id) as any;
      expect(policy.Properties.PolicyDocument.Statement).toEqual(expect.arrayContaining([
        expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
      ]));
    }
    // One access-log bucket, one prefix per bucket.
    const prefixes = data.map(([, b]) => b.Properties.LoggingConfiguration.LogFilePrefix);
    expect(new Set(prefixes).size).toBe(prefixes.length);
    // The data zones outlive the stack.
    for (const zone of ['LakeCurated', 'LakeRawBucket']) expect(bucket(defaults, zone).DeletionPolicy).toBe('Retain');
  });

  test('lifecycle aborts incomplete multipart uploads and tiers by the given days', () => {
    const rule = bucket(full, 'LakeCurated').Properties.LifecycleConfiguration.Rules[0];
    expect(rule.AbortIncompleteMultipartUpload).toEqual({ DaysAfterInitiation: 7 });
    expect(rule.Transitions).toEqual([
      { StorageClass: 'STANDARD_IA', TransitionInDays: 60 },
      { StorageClass: 'GLACIER_IR', TransitionInDays: 180 },
    ]);
    expect(rule.ExpirationInDays).toBe(730);
    expect(rule.NoncurrentVersionExpiration).toEqual({ NoncurrentDays: 30 });
  });

  test('rawLifecycle tiers and expires the archive bucket', () => {
    const rule = bucket(full, 'LakeRawBucket').Properties.LifecycleConfiguration.Rules[0];
    expect(rule.AbortIncompleteMultipartUpload).toEqual({ DaysAfterInitiation: 7 });
    expect(rule.Transitions).toEqual([
      { StorageClass: 'STANDARD_IA', TransitionInDays: 30 },
      { StorageClass: 'GLACIER_IR', TransitionInDays: 90 },
    ]);
    expect(rule.ExpirationInDays).toBe(2555);
  });

  test('the raw zone can be write-once with Object Lock on the archive bucket, in governance mode by default', () => {
    const raw = bucket(full, 'LakeRawBucket');
    expect(raw.Properties.ObjectLockEnabled).toBe(true);
    expect(raw.Properties.ObjectLockConfiguration).toEqual({ ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 365 } } });
    // The locked bucket is the one the archive delivery writes.
    expect(archiveDestination(full).BucketARN['Fn::GetAtt'][0]).toBe(dataBuckets(full).find(([id]) => id.startsWith('LakeRawBucket'))![0]);
    for (const other of ['LakeCurated', 'LakeRawReplayState']) {
      expect(bucket(full, other).Properties.ObjectLockEnabled).toBeUndefined();
      expect(bucket(full, other).Properties.ObjectLockConfiguration).toBeUndefined();
    }
    for (const zone of ['LakeCurated', 'LakeRawBucket', 'LakeRawReplayState']) expect(bucket(defaults, zone).Properties.ObjectLockConfiguration).toBeUndefined();
  });

  test('rawObjectLockMode COMPLIANCE locks the archive bucket in compliance mode', () => {
    const stack = new Stack(newApp(), 'TestStack');
    const lake = new StreamingLake(stack, 'Lake', {
      schema: exampleSchema, eventTime: { field: 'event_time' },
      rawObjectLockRetention: Duration.days(30), rawObjectLockMode: ObjectLockMode.COMPLIANCE,
    });
    const t = Template.fromStack(stack);
    const rawId = stack.resolve(lake.rawBucket!.bucketArn)['Fn::GetAtt'][0];
    expect(rawId).toMatch(/^LakeRawBucket/);
    expect(t.toJSON().Resources[rawId].Properties.ObjectLockConfiguration).toEqual({ ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 30 } } });
    expect(archiveDestination(t).BucketARN['Fn::GetAtt'][0]).toBe(rawId);
    expect(bucket(t, 'LakeCurated').Properties.ObjectLockConfiguration).toBeUndefined();
  });

  test('access logs go to a log bucket that S3 log delivery can write through its bucket policy', () => {
    const logs = buckets(defaults).find(([id]) => id.startsWith('LakeAccessLogs'))!;
    expect(logs[1].Properties.OwnershipControls.Rules[0].ObjectOwnership).toBe('BucketOwnerEnforced');
    const policy = Object.values(defaults.findResources('AWS::S3::BucketPolicy')).find((p: any) => p.Properties.Bucket.Ref === logs[0]) as any;
    expect(policy.Properties.PolicyDocument.Statement).toEqual(expect.arrayContaining([
      expect.objectContaining({ Principal: { Service: 'logging.s3.amazonaws.com' }, Action: 's3:PutObject' }),
    ]));
  });

  test('uses a given bucket instead of creating a curated one', () => {
    const t = synth((s) => addLakeOnExistingResources(s));
    expect(s3Destination(t).BucketARN['Fn::GetAtt'][0]).toMatch(/^LakeOwnBucket/);
    expect(Object.keys(t.findResources('AWS::S3::Bucket')).filter((id) => id.startsWith('LakeCurated'))).toEqual([]);
  });
});

describe('stream', () => {
  test('is on-demand with 7-day retention and the lake key by default', () => {
    defaults.hasResourceProperties('AWS::Kinesis::Stream', {
      StreamModeDetails: { StreamMode: 'ON_DEMAND' },
      RetentionPeriodHours: 168,
      StreamEncryption: { EncryptionType: 'KMS', KeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^LakeKey'), 'Arn'] } },
    });
  });

  test('is provisioned from a throughput intent with 25% headroom', () => {
    // 5,000 rec/s x 1 KiB = 4.88 MiB/s; by records 5 shards; ceil(5 x 1.25) = 7.
    full.hasResourceProperties('AWS::Kinesis::Stream', { StreamModeDetails: { StreamMode: 'PROVISIONED' }, ShardCount: 7, RetentionPeriodHours: 336 });
  });

  describe('reads are planned: the curated and archive deliveries and every polling consumer share each shard\'s 2 MiB/s', () => {
    /** A lake of 1,000 rec/s of 4 KiB (3.9 MiB/s: 5 shards for writes) and Lambda consumers of its stream. */
    function lakeWith(throughput: boolean, efo: boolean[]): Stack {
      const stack = new Stack(newApp(), 'L');
      const lake = new StreamingLake(stack, 'Lake', {
        schema: exampleSchema, eventTime: { field: 'event_time' },
        throughput: throughput ? { recordsPerSecond: 1000, averageRecordBytes: 4096 } : undefined,
      });
      efo.forEach((enhancedFanOut, i) => {
        const fn = userFunction(stack, `Fn${i}`);
        new StreamConsumer(stack, `Consumer${i}`, { function: fn, stream: lake.stream!, encryptionKey: lake.encryptionKey, enhancedFanOut, redrive: false });
      });
      return stack;
    }

    test('two deliveries alone need no more shards than writes (5)', () => {
      Template.fromStack(lakeWith(true, [])).hasResourceProperties('AWS::Kinesis::Stream', { ShardCount: 5 });
    });

    test('a polling consumer added after the lake makes three readers: ceil(3 x 3.9 / 2 x 1.25) = 8 shards', () => {
      const stack = lakeWith(true, [false]);
      Template.fromStack(stack).hasResourceProperties('AWS::Kinesis::Stream', { ShardCount: 8 });
      // The utilization alarm keeps the write plan (5 MiB/s): the readers keep up to about that load.
      const util = Object.values(Template.fromStack(stack).findResources('AWS::CloudWatch::Alarm')).map((a: any) => a.Properties).find((a) => a.MetricName === 'IncomingBytes');
      expect(util.Threshold).toBe(5 * 1024 * 1024 * 60 * 0.8);
    });

    test('an enhanced fan-out consumer reads on its own pipe and adds no shard', () => {
      Template.fromStack(lakeWith(true, [true])).hasResourceProperties('AWS::Kinesis::Stream', { ShardCount: 5 });
    });

    test('on-demand: a polling consumer on the default lake is a third reader and warns; an enhanced fan-out one does not', () => {
      Annotations.fromStack(lakeWith(false, [false])).hasWarning('/L/Lake/Stream', Match.stringLikeRegexp('^3 polling readers \\(L/Lake/Delivery/.*on-demand'));
      Annotations.fromStack(lakeWith(false, [true])).hasNoWarning('*', Match.anyValue());
    });
  });

  test('the created key rotates and lets CloudWatch Logs use it', () => {
    defaults.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: { Statement: Match.arrayWith([Match.objectLike({ Principal: { Service: { 'Fn::Join': ['', ['logs.', { Ref: 'AWS::Region' }, '.amazonaws.com']] } } })]) },
    });
  });

  test('reads an existing stream without creating one', () => {
    const t = synth((s) => {
      const stream = kinesis.Stream.fromStreamArn(s, 'Existing', 'arn:aws:kinesis:eu-west-1:111122223333:stream/events');
      new StreamingLake(s, 'Lake', { schema: exampleSchema, eventTime: { field: 'event_time' }, stream, retention: Duration.days(2) });
    });
    // The only stream created is the replay stream.
    expect(Object.keys(t.findResources('AWS::Kinesis::Stream'))).toEqual([expect.stringMatching(/^LakeRawReplayStream[0-9A-F]{8}$/)]);
    // Both the curated and the archive delivery read it; replays go to the replay stream, not back into it.
    for (const ds of [curatedDelivery(t), archiveDelivery(t)]) {
      expect(ds.Properties.KinesisStreamSourceConfiguration.KinesisStreamARN).toBe('arn:aws:kinesis:eu-west-1:111122223333:stream/events');
    }
    const [, planner] = onlyWhere(t, 'AWS::Lambda::Function', 'replay planner', (f) => f.Properties.Environment?.Variables?.TARGET_STREAMS !== undefined);
    expect(joinToString(planner.Properties.Environment.Variables.TARGET_STREAMS)).toMatch(/^\["\{LakeRawReplayStream[0-9A-F]{8}\.Arn\}"\]$/);
  });
});

describe('instances', () => {
  test('two lakes synthesize in one stack and every created resource lives under its construct', () => {
    const stack = new Stack(newApp(), 'Two');
    addDefaultLake(stack, 'First');
    addDefaultLake(stack, 'Second');
    const tpl = Template.fromStack(stack);
    const resources = tpl.toJSON().Resources as Record<string, any>;
    const cfn = stack.node.findAll().filter((c) => c instanceof CfnResource);
    expect(cfn).toHaveLength(Object.keys(resources).length);
    // Nothing is added to the stack's own scope.
    for (const c of cfn) expect(c.node.path).toMatch(/^Two\/(First|Second)\//);
    for (const type of ['AWS::Glue::Database', 'AWS::CloudWatch::Dashboard', 'AWS::StepFunctions::StateMachine']) {
      tpl.resourceCountIs(type, 2);
    }
    // Each lake has its stream and its replay stream.
    tpl.resourceCountIs('AWS::Kinesis::Stream', 4);
    // Each lake has its curated and its archive delivery and table, each under its own construct.
    tpl.resourceCountIs('AWS::KinesisFirehose::DeliveryStream', 4);
    tpl.resourceCountIs('AWS::Glue::Table', 4);
    for (const lake of ['First', 'Second']) {
      const deliveries = (parquet: boolean) => {
        const found = Object.entries(tpl.findResources('AWS::KinesisFirehose::DeliveryStream'))
          .filter(([id, r]) => id.startsWith(lake) && (r.Properties.ExtendedS3DestinationConfiguration.DataFormatConversionConfiguration !== undefined) === parquet);
        expect(found).toHaveLength(1);
        return found[0];
      };
      const curatedDs = deliveries(true);
      const archiveDs = deliveries(false);
      expect(curatedDs[0]).toMatch(new RegExp(`^${lake}Delivery`));
      expect(archiveDs[0]).toMatch(new RegExp(`^${lake}RawDelivery`));
      // Each reads its own lake's stream and writes its own lake's buckets.
      for (const [, ds] of [curatedDs, archiveDs]) {
        expect(ds.Properties.KinesisStreamSourceConfiguration.KinesisStreamARN['Fn::GetAtt'][0]).toMatch(new RegExp(`^${lake}Stream`));
      }
      expect(curatedDs[1].Properties.ExtendedS3DestinationConfiguration.BucketARN['Fn::GetAtt'][0]).toMatch(new RegExp(`^${lake}Curated`));
      expect(archiveDs[1].Properties.ExtendedS3DestinationConfiguration.BucketARN['Fn::GetAtt'][0]).toMatch(new RegExp(`^${lake}RawBucket`));
    }
    // The two replays report their progress under distinct metric dimensions.
    const dims = Object.values(tpl.findResources('AWS::Lambda::Function')).map((f: any) => f.Properties.Environment?.Variables?.REPLAY_STATE_MACHINE_NAME).filter((d) => d !== undefined);
    expect(dims).toHaveLength(2);
    expect(new Set(dims).size).toBe(2);
    // No fixed physical names: the only explicit name is the composite alarm's, which CDK derives from the path.
    const nameProps = ['BucketName', 'StreamName', 'DeliveryStreamName', 'DashboardName', 'AlarmName', 'TopicName', 'Name', 'LogGroupName', 'FunctionName', 'StateMachineName', 'RoleName'];
    const names = Object.values(resources).flatMap((r) => nameProps.map((k) => r.Properties?.[k]).filter((v) => typeof v === 'string'));
    expect(names).toHaveLength(2);
    expect(new Set(names).size).toBe(names.length);
  });
});

describe('snapshots', () => {
  test('defaults', () => expect(defaults.toJSON()).toMatchSnapshot());
  test('all options', () => expect(full.toJSON()).toMatchSnapshot());
  test('existing resources', () => expect(synth((s) => addLakeOnExistingResources(s)).toJSON()).toMatchSnapshot());
});

describe('cdk-nag (AwsSolutions, HIPAA, NIST 800-53 R5, PCI DSS 3.2.1, Serverless)', () => {
  test('defaults are clean', () => expectNagClean((s) => addDefaultLake(s)));
  test('all options are clean', () => expectNagClean((s) => addFullLake(s)));
  test('existing resources are clean', () => expectNagClean((s) => addLakeOnExistingResources(s)));
});
