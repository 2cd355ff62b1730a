import { CfnResource, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import { addDefaultLake, addFullLake, addLakeOnExistingResources, exampleSchema } from '../bin/examples';
import { StreamingLake } from '../lib';
import { expectNagClean, newApp } from './support/nag';
import { joinToString, only, s3Destination, synth } from './support/template';

const defaults = synth((s) => addDefaultLake(s));
const full = synth((s) => addFullLake(s));

describe('Firehose', () => {
  test('reads from the stream through KinesisStreamSourceConfiguration', () => {
    const ds = only(defaults, 'AWS::KinesisFirehose::DeliveryStream').Properties;
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

  test('backs up the exact source records to the raw zone, gzip, by arrival hour', () => {
    const dest = s3Destination(defaults);
    expect(dest.S3BackupMode).toBe('Enabled');
    expect(dest.S3BackupConfiguration.CompressionFormat).toBe('GZIP');
    expect(dest.S3BackupConfiguration.Prefix).toBe('raw/dt=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH}/');
    expect(dest.S3BackupConfiguration.BucketARN).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^LakeRaw/), 'Arn'] });
  });

  test('encrypts written objects with the lake key', () => {
    expect(s3Destination(defaults).EncryptionConfiguration.KMSEncryptionConfig.AWSKMSKeyARN).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^LakeKey/), 'Arn'] });
  });
});

describe('Glue table', () => {
  const table = () => only(defaults, 'AWS::Glue::Table').Properties.TableInput;

  test('creates a database when none is given', () => {
    defaults.resourceCountIs('AWS::Glue::Database', 1);
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
    const p = only(full, 'AWS::Glue::Table').Properties.TableInput.Parameters;
    expect(p['projection.hour.type']).toBe('integer');
    expect(p['projection.hour.range']).toBe('0,23');
    expect(p['projection.hour.digits']).toBe('2');
    expect(p['projection.p_region.type']).toBe('enum');
    expect(p['projection.p_region.values']).toBe('us,eu,apac');
    expect(p['projection.p_tenant.type']).toBe('injected');
  });

  test('has the partition keys in path order', () => {
    const keys = only(full, 'AWS::Glue::Table').Properties.TableInput.PartitionKeys.map((k: any) => k.Name);
    expect(keys).toEqual(['dt', 'hour', 'p_region', 'p_tenant']);
  });

  test('uses a given database instead of creating one', () => {
    const t = synth((s) => addLakeOnExistingResources(s));
    t.resourceCountIs('AWS::Glue::Database', 1); // the user's own
    const dbRef = only(t, 'AWS::Glue::Table').Properties.DatabaseName.Ref;
    expect(dbRef).toMatch(/^LakeOwnDatabase/);
  });
});

describe('one partition definition', () => {
  /** Substitutes sample values into a Firehose prefix and a Glue location template and compares. */
  function agree(t: Template): void {
    const dest = s3Destination(t);
    const table = only(t, 'AWS::Glue::Table').Properties.TableInput;
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
    const table = only(defaults, 'AWS::Glue::Table').Properties.TableInput;
    expect(joinToString(table.StorageDescriptor.Location)).toBe(`s3://{${dest.BucketARN['Fn::GetAtt'][0]}}/data/`);
  });
});

describe('buckets', () => {
  const buckets = (t: Template) => Object.entries(t.findResources('AWS::S3::Bucket'));
  const dataBuckets = (t: Template) => buckets(t).filter(([id]) => !id.includes('AccessLogs'));

  test('curated and raw zones use KMS, TLS only, block all public access and are versioned', () => {
    const data = dataBuckets(defaults);
    expect(data.map(([id]) => id.replace(/[0-9A-F]{8}$/, ''))).toEqual(['LakeCurated', 'LakeRaw']);
    for (const [id, b] of data) {
      expect(b.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm).toBe('aws:kms');
      expect(b.Properties.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
      expect(b.Properties.VersioningConfiguration).toEqual({ Status: 'Enabled' });
      expect(b.Properties.LoggingConfiguration.DestinationBucketName.Ref).toMatch(/^LakeAccessLogs/);
      expect(b.DeletionPolicy).toBe('Retain');
      const policy = Object.values(defaults.findResources('AWS::S3::BucketPolicy')).find((p: any) => p.Properties.Bucket.Ref === id) as any;
      expect(policy.Properties.PolicyDocument.Statement).toEqual(expect.arrayContaining([
        expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
      ]));
    }
  });

  test('lifecycle aborts incomplete multipart uploads and tiers by the given days', () => {
    const curated = dataBuckets(full).find(([id]) => id.startsWith('LakeCurated'))![1];
    const rule = curated.Properties.LifecycleConfiguration.Rules[0];
    expect(rule.AbortIncompleteMultipartUpload).toEqual({ DaysAfterInitiation: 7 });
    expect(rule.Transitions).toEqual([
      { StorageClass: 'STANDARD_IA', TransitionInDays: 60 },
      { StorageClass: 'GLACIER_IR', TransitionInDays: 180 },
    ]);
    expect(rule.ExpirationInDays).toBe(730);
    expect(rule.NoncurrentVersionExpiration).toEqual({ NoncurrentDays: 30 });
  });

  test('the raw zone can be write-once with Object Lock in governance mode', () => {
    const raw = dataBuckets(full).find(([id]) => id.startsWith('LakeRaw'))![1];
    expect(raw.Properties.ObjectLockEnabled).toBe(true);
    expect(raw.Properties.ObjectLockConfiguration).toEqual({ ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 365 } } });
    const curated = dataBuckets(full).find(([id]) => id.startsWith('LakeCurated'))![1];
    expect(curated.Properties.ObjectLockEnabled).toBeUndefined();
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
    t.resourceCountIs('AWS::Kinesis::Stream', 0);
    expect(only(t, 'AWS::KinesisFirehose::DeliveryStream').Properties.KinesisStreamSourceConfiguration.KinesisStreamARN).toBe('arn:aws:kinesis:eu-west-1:111122223333:stream/events');
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
    for (const type of ['AWS::Kinesis::Stream', 'AWS::KinesisFirehose::DeliveryStream', 'AWS::Glue::Table', 'AWS::Glue::Database', 'AWS::CloudWatch::Dashboard']) {
      tpl.resourceCountIs(type, 2);
    }
    // No fixed physical names: the only explicit name is the composite alarm's, which CDK derives from the path.
    const nameProps = ['BucketName', 'StreamName', 'DeliveryStreamName', 'DashboardName', 'AlarmName', 'TopicName', 'Name', 'LogGroupName', 'FunctionName'];
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
