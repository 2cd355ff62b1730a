/**
 * ReplayArchive (and the lake's raw zone) replaying into MSK topics: the worker in the cluster's VPC,
 * its exact IAM, the security-group rules to the brokers, the planner's configuration, validation,
 * and the five nag packs. The cluster is test/support/kafka-cluster-stub.ts.
 */
import { Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import { exampleSchema } from '../bin/examples';
import { IngestStream, ReplayArchive, StreamingLake, type ReplayArchiveProps } from '../lib';
import { StubKafkaCluster, StubKafkaTopic } from './support/kafka-cluster-stub';
import { expectNagClean, newApp } from './support/nag';

interface Built {
  readonly t: Template;
  readonly stack: Stack;
  readonly archive: ReplayArchive;
  readonly cluster: StubKafkaCluster;
  readonly topic: StubKafkaTopic;
}

function build(props: (stack: Stack, cluster: StubKafkaCluster, topic: StubKafkaTopic) => Partial<ReplayArchiveProps> = (_s, _c, topic) => ({ replayTopics: [topic] })): Built {
  const stack = new Stack(newApp(), 'K');
  const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
  const stream = new IngestStream(stack, 'Source', { encryptionKey: key }).stream;
  const cluster = new StubKafkaCluster(stack, 'Cluster');
  const topic = new StubKafkaTopic(stack, 'ReplayTopic', cluster, 'orders.replayed');
  const archive = new ReplayArchive(stack, 'Archive', { stream, encryptionKey: key, ...props(stack, cluster, topic) });
  return { t: Template.fromStack(stack), stack, archive, cluster, topic };
}

const logicalId = (stack: Stack, c: { node: { defaultChild?: unknown } } | undefined): string => stack.getLogicalId(c!.node.defaultChild as never);
const fnProps = (b: Built, fn: 'worker' | 'planner'): any => b.t.toJSON().Resources[logicalId(b.stack, b.archive.replay[fn])].Properties;

/** Every statement of the worker role's policies. */
function workerStatements(b: Built): any[] {
  const role = logicalId(b.stack, b.archive.replay.worker.role as never);
  return Object.values(b.t.findResources('AWS::IAM::Policy'))
    .filter((p: any) => p.Properties.Roles.some((r: any) => r.Ref === role))
    .flatMap((p: any) => p.Properties.PolicyDocument.Statement);
}
const actionsOf = (s: any): string[] => [s.Action].flat();

describe('ReplayArchive with replayTopics', () => {
  const b = build();

  test('no replay stream is created: the first topic is the default target', () => {
    b.t.resourceCountIs('AWS::Kinesis::Stream', 1); // the archived stream only
    expect(b.archive.replayStream).toBeUndefined();
    expect(Object.keys(b.t.findOutputs('*')).filter((o) => o.includes('ReplayStreamArn'))).toEqual([]);
    const env = fnProps(b, 'planner').Environment.Variables;
    expect(env).toMatchObject({ TARGET_STREAMS: '[]', TOPIC_RECORDS_PER_SECOND: '5000', TOPIC_BYTES_PER_SECOND: '5242880' });
    expect(JSON.stringify(env.TARGET_TOPICS)).toContain('/orders.replayed');
  });

  test('the worker runs in the cluster\'s client subnets with its own security group; the planner stays out of the VPC', () => {
    const worker = fnProps(b, 'worker');
    const subnets = b.cluster.vpc.selectSubnets(b.cluster.vpcSubnets).subnets.map((s) => ({ Ref: logicalId(b.stack, s as never) }));
    expect(worker.VpcConfig.SubnetIds).toEqual(subnets);
    expect(worker.VpcConfig.SecurityGroupIds).toEqual([{ 'Fn::GetAtt': [expect.stringMatching(/^ArchiveReplayWorkerSecurityGroup/), 'GroupId'] }]);
    expect(fnProps(b, 'planner').VpcConfig).toBeUndefined();
  });

  test('the worker\'s security group: HTTPS out, the brokers\' IAM port (9098) out; the brokers\' group lets it in on 9098 only', () => {
    const sgId = Object.keys(b.t.findResources('AWS::EC2::SecurityGroup')).find((id) => id.startsWith('ArchiveReplayWorkerSecurityGroup'))!;
    const sg = b.t.toJSON().Resources[sgId].Properties;
    expect(sg.SecurityGroupEgress).toEqual([{ CidrIp: '0.0.0.0/0', Description: expect.stringContaining('HTTPS'), FromPort: 443, IpProtocol: 'tcp', ToPort: 443 }]);
    const brokers = { 'Fn::GetAtt': [expect.stringMatching(/^ClusterBrokers/), 'GroupId'] };
    const egress = Object.values(b.t.findResources('AWS::EC2::SecurityGroupEgress')).map((r: any) => r.Properties);
    expect(egress).toEqual([{ GroupId: { 'Fn::GetAtt': [sgId, 'GroupId'] }, DestinationSecurityGroupId: brokers, IpProtocol: 'tcp', FromPort: 9098, ToPort: 9098, Description: expect.any(String) }]);
    const ingress = Object.values(b.t.findResources('AWS::EC2::SecurityGroupIngress')).map((r: any) => r.Properties);
    expect(ingress).toEqual([{ GroupId: brokers, SourceSecurityGroupId: { 'Fn::GetAtt': [sgId, 'GroupId'] }, IpProtocol: 'tcp', FromPort: 9098, ToPort: 9098, Description: expect.stringContaining('Replay worker') }]);
  });

  test('exact IAM: Connect and WriteDataIdempotently on the cluster, DescribeTopic and WriteData on the topic, GetBootstrapBrokers; no PutRecords', () => {
    const kafka = workerStatements(b).filter((s) => actionsOf(s).some((a) => a.startsWith('kafka')));
    const cluster = b.stack.resolve(b.cluster.clusterArn);
    const topic = b.stack.resolve(b.topic.topicArn);
    expect(kafka.map((s) => ({ Action: actionsOf(s).sort(), Resource: s.Resource, Effect: s.Effect }))).toEqual([
      { Action: ['kafka-cluster:Connect', 'kafka-cluster:WriteDataIdempotently'], Resource: cluster, Effect: 'Allow' },
      { Action: ['kafka-cluster:DescribeTopic', 'kafka-cluster:WriteData'], Resource: topic, Effect: 'Allow' },
      { Action: ['kafka:GetBootstrapBrokers'], Resource: cluster, Effect: 'Allow' },
    ]);
    expect(workerStatements(b).flatMap(actionsOf).filter((a) => a.startsWith('kinesis:'))).toEqual([]);
  });

  test('the execution output names the topic; records are tagged with a replay_id header by default', () => {
    const sm = Object.values(b.t.findResources('AWS::StepFunctions::StateMachine'))[0] as any;
    expect(JSON.stringify(sm.Properties.DefinitionString)).toContain('\\"targetTopic.$\\":\\"$.targetTopic\\"');
    expect(fnProps(b, 'planner').Environment.Variables.TAGGING).toBe('kpl-tag');
  });
});

describe('ReplayArchive with streams and topics', () => {
  test('two topics of one cluster beside a stream: the stream stays the default, one bootstrap grant and one broker rule', () => {
    const b = build((stack, cluster, topic) => ({
      replayTargets: [new IngestStream(stack, 'Replays', { encryptionKey: new kms.Key(stack, 'ReplaysKey', { enableKeyRotation: true }) }).stream],
      replayTopics: [topic, new StubKafkaTopic(stack, 'Audit', cluster, 'audit')],
      topicWriteCapacity: { recordsPerSecond: 20_000, bytesPerSecond: 20 * 1024 * 1024 },
    }));
    const env = fnProps(b, 'planner').Environment.Variables;
    expect(env).toMatchObject({ TOPIC_RECORDS_PER_SECOND: '20000', TOPIC_BYTES_PER_SECOND: '20971520' });
    expect(JSON.stringify(env.TARGET_STREAMS)).toContain('Replays');
    expect(workerStatements(b).filter((s) => actionsOf(s).includes('kafka:GetBootstrapBrokers'))).toHaveLength(1);
    expect(workerStatements(b).filter((s) => actionsOf(s).includes('kafka-cluster:WriteData'))).toHaveLength(2);
    expect(workerStatements(b).some((s) => actionsOf(s).includes('kinesis:PutRecords'))).toBe(true);
    b.t.resourceCountIs('AWS::EC2::SecurityGroupIngress', 1);
  });

  test('without replayTopics nothing changes: the worker is outside any VPC', () => {
    const b = build(() => ({}));
    expect(fnProps(b, 'worker').VpcConfig).toBeUndefined();
    expect(fnProps(b, 'planner').Environment.Variables.TARGET_TOPICS).toBeUndefined();
    b.t.resourceCountIs('AWS::Kinesis::Stream', 2);
  });
});

describe('validation', () => {
  test.each<[string, (stack: Stack, cluster: StubKafkaCluster, topic: StubKafkaTopic) => Partial<ReplayArchiveProps>, RegExp]>([
    ['topics on clusters in two VPCs', (stack, _c, topic) => ({ replayTopics: [topic, new StubKafkaTopic(stack, 'FarTopic', new StubKafkaCluster(stack, 'Far'), 'far')] }),
      /`replayTopics` \[1\] \('K\/FarTopic'\) is on a cluster in another VPC than \[0\]: the replay worker runs in one VPC/],
    ['replayStreamThroughput with topics only', (_s, _c, topic) => ({ replayTopics: [topic], replayStreamThroughput: { recordsPerSecond: 10, averageRecordBytes: 10 } }),
      /`replayStreamThroughput` applies to the replay stream the archive creates; it cannot be set with `replayTopics`/],
    ['no target at all', () => ({ replayTargets: [], replayTopics: [] }), /`replayTargets` must list at least one stream \(or `replayTopics` one topic\)/],
    ['a topic capacity of 0', (_s, _c, topic) => ({ replayTopics: [topic], topicWriteCapacity: { recordsPerSecond: 0, bytesPerSecond: 1 } }), /`topicWriteCapacity` must give positive recordsPerSecond and bytesPerSecond/],
  ])('%s is refused, naming the prop', (_, props, message) => {
    expect(() => build(props)).toThrow(message);
  });

  test('an archive of a topic refuses a replay into that topic unless allowReplayIntoArchivedStream', () => {
    const archiveOfTopic = (allow?: boolean) => {
      const stack = new Stack(newApp(), 'K');
      const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
      const cluster = new StubKafkaCluster(stack, 'Cluster');
      const source = new StubKafkaTopic(stack, 'Orders', cluster, 'orders');
      return new ReplayArchive(stack, 'Archive', { topic: source, encryptionKey: key, replayTopics: [source], allowReplayIntoArchivedStream: allow });
    };
    expect(() => archiveOfTopic()).toThrow(/`replayTopics` \[0\] is the archived topic: a replay into it is archived again/);
    expect(() => archiveOfTopic(true)).not.toThrow();
  });

  test('two clusters in one VPC are fine', () => {
    const b = build((stack, cluster, topic) => ({ replayTopics: [topic, new StubKafkaTopic(stack, 'OtherTopic', new StubKafkaCluster(stack, 'Other', { vpc: cluster.vpc, clusterName: 'other' }), 'other')] }));
    expect(workerStatements(b).filter((s) => actionsOf(s).includes('kafka:GetBootstrapBrokers'))).toHaveLength(2);
    b.t.resourceCountIs('AWS::EC2::SecurityGroupIngress', 2);
  });

  test('the lake names rawArchiveOptions.replayTopics', () => {
    const stack = new Stack(newApp(), 'L');
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
    const topic = new StubKafkaTopic(stack, 'T', new StubKafkaCluster(stack, 'C', { vpc }), 't');
    const far = new StubKafkaTopic(stack, 'F', new StubKafkaCluster(stack, 'D'), 'f');
    expect(() => new StreamingLake(stack, 'Lake', { schema: exampleSchema, eventTime: { field: 'event_time' }, rawArchiveOptions: { replayTopics: [topic, far] } }))
      .toThrow(/`rawArchiveOptions.replayTopics` \[1\]/);
  });
});

/** The stub cluster's VPC stands for the user's network, which the archive does not create: its findings are the user's. */
function userCluster(stack: Stack): StubKafkaCluster {
  const cluster = new StubKafkaCluster(stack, 'Cluster');
  const reason = 'Test fixture: the VPC of the user\'s MSK cluster, which the archive does not create; its network hardening is the user\'s.';
  for (const c of cluster.vpc.node.findAll()) {
    if (!(c instanceof ec2.CfnVPC || c instanceof ec2.CfnSubnet || c instanceof ec2.CfnRoute)) continue;
    for (const id of ['AwsSolutions-VPC7', ...['HIPAA.Security', 'NIST.800.53.R5', 'PCI.DSS.321'].flatMap((pack) => [
      'VPCFlowLogsEnabled', 'VPCDefaultSecurityGroupClosed', 'VPCSubnetAutoAssignPublicIpDisabled', 'VPCNoUnrestrictedRouteToIGW',
    ].map((rule) => `${pack}-${rule}`))]) Validations.of(c).acknowledge({ id, reason });
  }
  return cluster;
}

describe('compliance', () => {
  test('an archive replaying into a topic is nag-clean under the five packs', () => {
    expectNagClean((stack) => {
      const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
      const stream = new IngestStream(stack, 'Source', { encryptionKey: key }).stream;
      const cluster = userCluster(stack);
      new ReplayArchive(stack, 'Archive', { stream, encryptionKey: key, replayTopics: [new StubKafkaTopic(stack, 'T', cluster, 'orders.replayed')] });
    });
  });

  test('a lake whose raw zone replays into a topic is nag-clean under the five packs', () => {
    expectNagClean((stack) => {
      const cluster = userCluster(stack);
      new StreamingLake(stack, 'Lake', {
        schema: exampleSchema,
        eventTime: { field: 'event_time' },
        rawArchiveOptions: { replayTopics: [new StubKafkaTopic(stack, 'T', cluster, 'orders.replayed')] },
      });
    });
  });
});

