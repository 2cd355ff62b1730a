import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import { KafkaClusterType } from '../lib/core/kafka-refs';
import { KafkaTopic } from '../lib/core/kafka-topic';
import { KafkaTopicResource } from '../lib/core/kafka-topic-resource';
import { StubKafkaCluster } from './support/kafka-cluster-stub';
import { fixtureVpc } from './support/kafka-fixture-vpc';
import { expectNagClean, newApp } from './support/nag';
import { only } from './support/template';

function serverless(build?: (stack: Stack, cluster: StubKafkaCluster, key: kms.IKey) => void): { stack: Stack; template: Template; cluster: StubKafkaCluster } {
  const stack = new Stack(newApp(), 'S');
  const cluster = new StubKafkaCluster(stack, 'Cluster', { clusterType: KafkaClusterType.SERVERLESS });
  const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
  (build ?? ((s, c, k) => new KafkaTopicResource(s, 'Orders', { cluster: c, topicName: 'orders', partitions: 6, encryptionKey: k })))(stack, cluster, key);
  return { stack, template: Template.fromStack(stack), cluster };
}

/** The topic ARN the stub cluster builds for `name`, as the template renders it. */
function topicArn(stack: Stack, cluster: StubKafkaCluster, name: string): unknown {
  return stack.resolve(cluster.topicArn(name));
}

const TOPIC_ACTIONS = ['kafka-cluster:CreateTopic', 'kafka-cluster:DescribeTopic', 'kafka-cluster:AlterTopic', 'kafka-cluster:DescribeTopicDynamicConfiguration', 'kafka-cluster:AlterTopicDynamicConfiguration'];

describe('KafkaTopicResource: the topics custom resource', () => {
  test('a Custom::KafkaTopic served by the kafka-topics function, with a 10-minute service timeout', () => {
    const { template, stack, cluster } = serverless();
    const cr = only(template, 'Custom::KafkaTopic');
    const fnId = Object.keys(template.findResources('AWS::Lambda::Function'))[0];
    expect(cr.Properties).toEqual({
      ServiceToken: { 'Fn::GetAtt': [fnId, 'Arn'] },
      ServiceTimeout: '600',
      ClusterArn: stack.resolve(cluster.clusterArn),
      TopicName: 'orders',
      Partitions: 6,
      Configs: {},
      AllowReplacement: false,
      RemovalPolicy: 'retain',
      Serverless: true,
    });
    expect(cr.DeletionPolicy).toBe('Retain');
    expect(cr.UpdateReplacePolicy).toBe('Retain');
  });

  test('the function runs in the cluster\'s subnets and may reach the brokers on the IAM/TLS port (9098)', () => {
    const { template, stack, cluster } = serverless();
    const fn = only(template, 'AWS::Lambda::Function');
    expect(fn.Properties.VpcConfig.SubnetIds).toEqual(stack.resolve(cluster.vpc.selectSubnets(cluster.vpcSubnets).subnetIds));
    const fnSg = fn.Properties.VpcConfig.SecurityGroupIds[0];
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      IpProtocol: 'tcp', FromPort: 9098, ToPort: 9098, SourceSecurityGroupId: fnSg,
    });
  });

  test('exact IAM: bootstrap brokers and Connect on the cluster, the five topic actions on the exact topic ARN, no DeleteTopic', () => {
    const { template, stack, cluster } = serverless();
    const policy = only(template, 'AWS::IAM::Policy');
    const statements = policy.Properties.PolicyDocument.Statement;
    expect(statements).toEqual(expect.arrayContaining([
      { Effect: 'Allow', Action: ['kafka:GetBootstrapBrokers', 'kafka-cluster:Connect'], Resource: stack.resolve(cluster.clusterArn) },
      { Effect: 'Allow', Action: TOPIC_ACTIONS, Resource: topicArn(stack, cluster, 'orders') },
    ]));
    const kafkaActions = statements.flatMap((s: any) => [s.Action].flat()).filter((a: string) => a.startsWith('kafka'));
    expect(kafkaActions).not.toContain('kafka-cluster:DeleteTopic');
    expect(kafkaActions.every((a: string) => !a.includes('*'))).toBe(true);
  });

  test('RemovalPolicy.DESTROY: Delete reaches the handler, which may delete that topic', () => {
    const { template, stack, cluster } = serverless((s, c, k) => new KafkaTopicResource(s, 'Scratch', { cluster: c, topicName: 'scratch', partitions: 1, encryptionKey: k, removalPolicy: RemovalPolicy.DESTROY }));
    const cr = only(template, 'Custom::KafkaTopic');
    expect(cr.Properties.RemovalPolicy).toBe('destroy');
    expect(cr.DeletionPolicy).toBe('Delete');
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([{ Effect: 'Allow', Action: [...TOPIC_ACTIONS, 'kafka-cluster:DeleteTopic'], Resource: topicArn(stack, cluster, 'scratch') }]) },
    });
  });

  test('the resource waits for the function\'s role policy and the brokers\' security group rule', () => {
    const { template } = serverless();
    const [, cr] = Object.entries(template.findResources('Custom::KafkaTopic'))[0];
    const ingress = Object.keys(template.findResources('AWS::EC2::SecurityGroupIngress'));
    expect(cr.DependsOn).toEqual(expect.arrayContaining(ingress));
    // The policy: through the ServiceToken's GetAtt on the function, which depends on its role's policy.
    const [fnId, fn] = Object.entries(template.findResources('AWS::Lambda::Function'))[0];
    expect(cr.Properties.ServiceToken).toEqual({ 'Fn::GetAtt': [fnId, 'Arn'] });
    expect(fn.DependsOn).toEqual(expect.arrayContaining(Object.keys(template.findResources('AWS::IAM::Policy'))));
  });

  test('one function per cluster and key in a stack; each topic adds its own ARN', () => {
    const { template, stack, cluster } = serverless((s, c, k) => {
      new KafkaTopicResource(s, 'A', { cluster: c, topicName: 'a', partitions: 1, encryptionKey: k });
      new KafkaTopicResource(s, 'B', { cluster: c, topicName: 'b', partitions: 1, encryptionKey: k, replicationFactor: 3, configs: { 'retention.ms': '1000' }, allowReplacement: true });
    });
    template.resourceCountIs('AWS::Lambda::Function', 1);
    template.resourceCountIs('Custom::KafkaTopic', 2);
    const resources = only(template, 'AWS::IAM::Policy').Properties.PolicyDocument.Statement.map((s: any) => s.Resource);
    expect(resources).toEqual(expect.arrayContaining([topicArn(stack, cluster, 'a'), topicArn(stack, cluster, 'b')]));
    template.hasResourceProperties('Custom::KafkaTopic', { TopicName: 'b', ReplicationFactor: 3, Configs: { 'retention.ms': '1000' }, AllowReplacement: true });
  });

  test('topicArn is the resource\'s physical id (Ref): users of the topic wait for it to exist', () => {
    const stack = new Stack(newApp(), 'S');
    const cluster = new StubKafkaCluster(stack, 'Cluster', { clusterType: KafkaClusterType.SERVERLESS });
    const r = new KafkaTopicResource(stack, 'Orders', { cluster, topicName: 'orders', partitions: 6, encryptionKey: new kms.Key(stack, 'Key', { enableKeyRotation: true }) });
    expect(stack.resolve(r.topicArn)).toEqual({ Ref: stack.getLogicalId(r.resource.node.defaultChild as any) });
  });

  test.each([
    [{ topicName: 'a b' }, /`topicName` \('a b'\) must be 1–249 characters/],
    [{ partitions: 0 }, /`partitions` \(0\) must be a whole number of at least 1/],
    [{ replicationFactor: 0 }, /`replicationFactor` \(0\) must be a whole number of at least 1/],
  ])('validation at synth %#', (o, message) => {
    expect(() => serverless((s, c, k) => new KafkaTopicResource(s, 'T', { cluster: c, topicName: 't', partitions: 1, encryptionKey: k, ...o }))).toThrow(message);
  });

  test('nag-clean under the five packs (Serverless topic through KafkaTopic)', () => {
    expectNagClean((stack) => {
      const cluster = new StubKafkaCluster(stack, 'Cluster', { clusterType: KafkaClusterType.SERVERLESS, vpc: fixtureVpc(stack) });
      new KafkaTopic(stack, 'Orders', { cluster, topicName: 'orders', partitions: 6, encryptionKey: new kms.Key(stack, 'Key', { enableKeyRotation: true }) });
    });
  });
});
