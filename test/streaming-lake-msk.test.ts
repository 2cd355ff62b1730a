/**
 * StreamingLake reading an MSK topic: both Firehose streams (curated Parquet and raw archive) are
 * MSKAsSource over PRIVATE connectivity, wait for the cluster's multi-VPC connectivity custom
 * resource, and their role reads exactly that topic.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as msk from 'aws-cdk-lib/aws-msk';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { ArchiveDelivery, StreamingLake } from '../lib';
import { KafkaClusterType } from '../lib/core/kafka-refs';
import type { StubKafkaCluster, StubKafkaTopic } from './support/kafka-cluster-stub';
import { stubTopic } from './support/msk-lake';
import { expectNagClean, newApp } from './support/nag';
import { archiveDeliveryEntry, curatedDeliveryEntry } from './support/template';

const schema = [
  { name: 'event_id', type: glue.Schema.STRING },
  { name: 'event_time', type: glue.Schema.STRING },
];

function lakeOnTopic(stack: Stack, extra: Record<string, unknown> = {}, topic: StubKafkaTopic = stubTopic(stack)): StreamingLake {
  return new StreamingLake(stack, 'Lake', { schema, eventTime: { field: 'event_time' }, topic, ...extra });
}

describe('StreamingLake on an MSK topic', () => {
  const stack = new Stack(newApp(), 'TestStack');
  const topic = stubTopic(stack);
  const cluster = topic.cluster as StubKafkaCluster;
  const lake = lakeOnTopic(stack, {}, topic);
  const template = Template.fromStack(stack);
  const streams = () => [curatedDeliveryEntry(template), archiveDeliveryEntry(template)];
  const clusterArn = stack.resolve(cluster.clusterArn);
  const [crId] = Object.keys(template.findResources('Custom::KafkaMultiVpcIamConnectivity'));

  test('creates no Kinesis stream and exposes the topic instead', () => {
    template.resourceCountIs('AWS::Kinesis::Stream', 1); // the dedicated replay stream only
    expect(lake.stream).toBeUndefined();
    expect(lake.retention).toBeUndefined();
    expect(lake.topic).toBe(topic);
    const [replay] = Object.keys(template.findResources('AWS::Kinesis::Stream'));
    expect(replay).toMatch(/^LakeRawReplayStream/);
  });

  test.each(['curated', 'archive'])('the %s delivery reads the topic from its earliest record: MSKAsSource, exact cluster ARN, topic, its role, PRIVATE', (which) => {
    const [, ds] = streams()[which === 'curated' ? 0 : 1];
    expect(ds.Properties.DeliveryStreamType).toBe('MSKAsSource');
    expect(ds.Properties.KinesisStreamSourceConfiguration).toBeUndefined();
    expect(ds.Properties.DeliveryStreamEncryptionConfigurationInput).toBeUndefined();
    const msk = ds.Properties.MSKSourceConfiguration;
    expect(msk).toEqual({
      MSKClusterARN: clusterArn,
      TopicName: 'orders',
      ReadFromTimestamp: '1970-01-01T00:00:00Z', // the earliest offset, not Firehose's default (its activation time)
      AuthenticationConfiguration: { RoleARN: { 'Fn::GetAtt': [expect.stringMatching(/ServiceRole/), 'Arn'] }, Connectivity: 'PRIVATE' },
    });
  });

  test('both deliveries wait for the cluster\'s multi-VPC connectivity custom resource', () => {
    expect(crId).toBeDefined();
    for (const [, ds] of streams()) expect(ds.DependsOn).toContain(crId);
    template.resourceCountIs('Custom::KafkaMultiVpcIamConnectivity', 1);
  });

  test('the source role reads exactly the topic: cluster, topic and Firehose\'s own group', () => {
    for (const [, ds] of streams()) {
      const roleId = ds.Properties.MSKSourceConfiguration.AuthenticationConfiguration.RoleARN['Fn::GetAtt'][0];
      const [policy] = Object.values(template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: roleId }] } })) as any[];
      const statements = policy.Properties.PolicyDocument.Statement;
      expect(statements).toEqual(expect.arrayContaining([
        { Effect: 'Allow', Action: ['kafka:GetBootstrapBrokers', 'kafka:DescribeCluster', 'kafka:DescribeClusterV2', 'kafka-cluster:Connect'], Resource: clusterArn },
        { Effect: 'Allow', Action: ['kafka-cluster:DescribeGroup', 'kafka-cluster:AlterGroup'], Resource: stack.resolve(cluster.groupArn('*')) },
        { Effect: 'Allow', Action: ['kafka-cluster:DescribeTopic', 'kafka-cluster:DescribeTopicDynamicConfiguration', 'kafka-cluster:ReadData'], Resource: stack.resolve(topic.topicArn) },
      ]));
      expect(JSON.stringify(statements)).not.toContain('kinesis:');
      const role = template.toJSON().Resources[roleId];
      expect(role.Properties.AssumeRolePolicyDocument.Statement[0].Principal).toEqual({ Service: 'firehose.amazonaws.com' });
    }
  });

  test('the cluster policy lets the Firehose service create its VPC connection, once for both deliveries', () => {
    expect(cluster.policyStatements.map((s) => stack.resolve(s.toStatementJson()))).toEqual([
      { Effect: 'Allow', Principal: { Service: 'firehose.amazonaws.com' }, Action: 'kafka:CreateVpcConnection', Resource: clusterArn },
    ]);
  });

  test('the archive processor is told the topic, which MSK records do not carry', () => {
    const fns = Object.values(template.findResources('AWS::Lambda::Function')).filter((f: any) => f.Properties.Environment?.Variables?.ARCHIVE_BUCKETS);
    expect(fns).toHaveLength(1);
    expect((fns[0] as any).Properties.Environment.Variables.KAFKA_TOPIC).toBe('orders');
  });

  test('alarms watch the deliveries, and no alarm names a Kinesis stream that does not exist', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')) as any[];
    expect(alarms.length).toBeGreaterThan(0);
    const namespaces = new Set(alarms.flatMap((a) => a.Properties.Namespace ? [a.Properties.Namespace] : (a.Properties.Metrics ?? []).map((m: any) => m.MetricStat?.Metric?.Namespace).filter(Boolean)));
    expect(namespaces.has('AWS/Firehose')).toBe(true);
    const kinesisAlarms = alarms.filter((a) => JSON.stringify(a.Properties).includes('AWS/Kinesis'));
    // Only the replay stream's (a real stream the archive creates) may appear.
    for (const a of kinesisAlarms) expect(JSON.stringify(a.Properties.Dimensions ?? a.Properties.Metrics)).toMatch(/LakeRawReplayStream/);
    expect(JSON.stringify(alarms)).not.toContain('LakeStream');
  });

  test('two lakes on one cluster share one connectivity resource and one policy statement', () => {
    const s = new Stack(newApp(), 'Two');
    const t = stubTopic(s);
    new StreamingLake(s, 'A', { schema, eventTime: { field: 'event_time' }, topic: t });
    new StreamingLake(s, 'B', { schema, eventTime: { field: 'event_time' }, topic: t, rawArchive: false });
    Template.fromStack(s).resourceCountIs('Custom::KafkaMultiVpcIamConnectivity', 1);
    expect((t.cluster as StubKafkaCluster).policyStatements).toHaveLength(1);
  });

  test('is nag-clean under the five packs', () => {
    expectNagClean((s) => { lakeOnTopic(s); });
  });
});

describe('StreamingLake topic validation', () => {
  const fresh = () => new Stack(newApp(), 'V');

  test('topic and stream are exclusive', () => {
    const s = fresh();
    const stream = new kinesis.Stream(s, 'S');
    expect(() => lakeOnTopic(s, { stream })).toThrow(/`stream` cannot be combined with `topic`: the lake reads one source/);
  });

  test('throughput does not apply to a topic', () => {
    expect(() => lakeOnTopic(fresh(), { throughput: { recordsPerSecond: 100, averageRecordBytes: 1000 } })).toThrow(/`throughput` cannot be combined with `topic`/);
  });

  test('retention does not apply to a topic', () => {
    expect(() => lakeOnTopic(fresh(), { retention: Duration.days(3) })).toThrow(/`retention` cannot be combined with `topic`: it is the Kinesis stream's retention/);
  });

  test('a Serverless cluster is refused, naming `topic`', () => {
    const s = fresh();
    expect(() => lakeOnTopic(s, {}, stubTopic(s, { clusterType: KafkaClusterType.SERVERLESS }))).toThrow(/`topic` is on an MSK Serverless cluster/);
  });

  test('t3 brokers are refused, naming `topic`', () => {
    const s = fresh();
    const t = stubTopic(s);
    (t.cluster as unknown as { brokerInstanceType: string }).brokerInstanceType = 'kafka.t3.small';
    expect(() => lakeOnTopic(s, {}, t)).toThrow(/`topic` is on a cluster of kafka.t3.small brokers/);
  });
});

describe('the deliveries\' source', () => {
  test.each([['both', true], ['neither', false]])('ArchiveDelivery refuses %s of stream and topic', (_what, both) => {
    const s = new Stack(newApp(), 'D');
    const key = new kms.Key(s, 'K', { enableKeyRotation: true });
    const bucket = new s3.Bucket(s, 'B');
    const props = both ? { stream: new kinesis.Stream(s, 'S'), topic: stubTopic(s) } : {};
    expect(() => new ArchiveDelivery(s, 'A', { bucket, encryptionKey: key, ...props }))
      .toThrow(new RegExp(`\`stream\` and \`topic\` are exclusive and one is required \\(${both ? 'both are' : 'neither is'} given\\)`));
  });
});

describe('the deliveries and the cluster policy', () => {
  test('wait for the cluster\'s AWS::MSK::ClusterPolicy wherever the cluster renders it', () => {
    const s = new Stack(newApp(), 'P');
    const topic = stubTopic(s);
    // What a real cluster renders for addToResourcePolicy (the stub only records statements).
    const policy = new msk.CfnClusterPolicy(topic.cluster as StubKafkaCluster, 'Policy', { clusterArn: topic.cluster.clusterArn, policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'firehose.amazonaws.com' }, Action: 'kafka:CreateVpcConnection', Resource: topic.cluster.clusterArn }] } });
    lakeOnTopic(s, {}, topic);
    const t = Template.fromStack(s);
    const policyId = s.getLogicalId(policy);
    for (const [, ds] of [curatedDeliveryEntry(t), archiveDeliveryEntry(t)]) expect(ds.DependsOn).toContain(policyId);
  });
});
