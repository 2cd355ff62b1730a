import { RemovalPolicy, Size, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { KafkaAuthentication, KafkaCluster, KafkaClusterType, KafkaMonitoringLevel, KafkaVersion } from '../lib';
import { allowStatements, clusterStack, clusterTemplate, evaluate, parseProperties, threeAzVpc } from './kafka-cluster-support';
import { StubKafkaTopic } from './support/kafka-cluster-stub';
import { newApp } from './support/nag';
import { only } from './support/template';

const NO_LOSS = {
  'default.replication.factor': '3',
  'min.insync.replicas': '2',
  'unclean.leader.election.enable': 'false',
  'offsets.topic.replication.factor': '3',
  'transaction.state.log.replication.factor': '3',
  'transaction.state.log.min.isr': '2',
  'auto.create.topics.enable': 'false',
  'allow.everyone.if.no.acl.found': 'false',
  'num.partitions': '6',
  'log.retention.ms': String(7 * 24 * 3600 * 1000),
};

const serverProperties = (t: Template): Record<string, string> => parseProperties(only(t, 'AWS::MSK::Configuration').Properties.ServerProperties);

describe('KafkaCluster: Standard brokers (default)', () => {
  const template = clusterTemplate();
  const cluster = only(template, 'AWS::MSK::Cluster');

  test('3 brokers of kafka.m7g.large on Kafka 3.9.x in KRaft mode, one client subnet in each of 3 AZs', () => {
    expect(cluster.Properties).toMatchObject({
      KafkaVersion: '3.9.x.kraft',
      NumberOfBrokerNodes: 3,
      BrokerNodeGroupInfo: { InstanceType: 'kafka.m7g.large', ClientSubnets: ['subnet-private1', 'subnet-private2', 'subnet-private3'] },
      EnhancedMonitoring: 'PER_BROKER',
    });
  });

  test('IAM authentication only, TLS between clients and brokers and inside the cluster', () => {
    expect(cluster.Properties.ClientAuthentication).toEqual({ Sasl: { Iam: { Enabled: true } }, Unauthenticated: { Enabled: false } });
    expect(cluster.Properties.EncryptionInfo.EncryptionInTransit).toEqual({ ClientBroker: 'TLS', InCluster: true });
  });

  test('data at rest under a created customer-managed key with rotation', () => {
    const [keyId] = Object.keys(template.findResources('AWS::KMS::Key', { Properties: { EnableKeyRotation: true } }));
    expect(cluster.Properties.EncryptionInfo.EncryptionAtRest).toEqual({ DataVolumeKMSKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] } });
  });

  test('broker logs go to a log group encrypted with that key, whose policy lets CloudWatch Logs use it for this account\'s log groups', () => {
    const [keyId, key] = Object.entries(template.findResources('AWS::KMS::Key'))[0] as [string, any];
    const [groupId] = Object.keys(template.findResources('AWS::Logs::LogGroup', { Properties: { KmsKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] }, RetentionInDays: 365 } }));
    expect(cluster.Properties.LoggingInfo).toEqual({ BrokerLogs: { CloudWatchLogs: { Enabled: true, LogGroup: { Ref: groupId } } } });
    const logs = key.Properties.KeyPolicy.Statement.find((s: any) => JSON.stringify(s.Principal).includes('.amazonaws.com'));
    expect(evaluate(logs.Principal.Service, 'unused')).toBe('logs.us-east-1.amazonaws.com');
    expect(logs.Action).toEqual(expect.arrayContaining(['kms:Encrypt*', 'kms:Decrypt*', 'kms:GenerateDataKey*']));
    expect(evaluate(logs.Condition.ArnLike['kms:EncryptionContext:aws:logs:arn'], 'unused')).toBe('arn:aws:logs:us-east-1:123456789012:log-group:*');
  });

  test('the configuration holds the no-loss profile, and the cluster follows its latest revision', () => {
    expect(serverProperties(template)).toEqual(NO_LOSS);
    const [configId, config] = Object.entries(template.findResources('AWS::MSK::Configuration'))[0] as [string, any];
    expect(config.Properties.KafkaVersionsList).toBeUndefined(); // create-only: a version list would replace it on upgrades
    expect(config.Properties.Name).toMatch(/^K-Kafka-Configuration-[0-9A-F]{8}$/);
    expect(cluster.Properties.ConfigurationInfo).toEqual({ Arn: { 'Fn::GetAtt': [configId, 'Arn'] }, Revision: { 'Fn::GetAtt': [configId, 'LatestRevision.Revision'] } });
  });

  test('storage autoscaling: 100 GiB per broker, up to 1,000 GiB at 60% utilization, never scaling in', () => {
    expect(cluster.Properties.BrokerNodeGroupInfo.StorageInfo).toEqual({ EBSStorageInfo: { VolumeSize: 100 } });
    const [clusterId] = Object.keys(template.findResources('AWS::MSK::Cluster'));
    const [targetId] = Object.keys(template.findResources('AWS::ApplicationAutoScaling::ScalableTarget', {
      Properties: { ServiceNamespace: 'kafka', ScalableDimension: 'kafka:broker-storage:VolumeSize', ResourceId: { 'Fn::GetAtt': [clusterId, 'Arn'] }, MinCapacity: 100, MaxCapacity: 1000, RoleARN: Match.absent() },
    }));
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      PolicyType: 'TargetTrackingScaling',
      ScalingTargetId: { Ref: targetId },
      TargetTrackingScalingPolicyConfiguration: { PredefinedMetricSpecification: { PredefinedMetricType: 'KafkaBrokerStorageUtilization' }, TargetValue: 60, DisableScaleIn: true },
    });
  });

  test('no public access and no multi-VPC connectivity at creation (MSK refuses both then)', () => {
    expect(cluster.Properties.BrokerNodeGroupInfo.ConnectivityInfo).toBeUndefined();
  });

  test('the cluster and its configuration are retained', () => {
    template.hasResource('AWS::MSK::Cluster', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    template.hasResource('AWS::MSK::Configuration', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
  });

  test('the brokers\' security group has no ingress and no egress until connections open it', () => {
    const sg = only(template, 'AWS::EC2::SecurityGroup');
    expect(sg.Properties.SecurityGroupIngress).toBeUndefined();
    expect(sg.Properties.SecurityGroupEgress).toEqual([expect.objectContaining({ CidrIp: '255.255.255.255/32', Description: 'Disallow all traffic' })]);
    expect(cluster.Properties.BrokerNodeGroupInfo.SecurityGroups).toEqual([{ 'Fn::GetAtt': [Object.keys(template.findResources('AWS::EC2::SecurityGroup'))[0], 'GroupId'] }]);
  });
});

describe('KafkaCluster: grants, connections and the cluster policy', () => {
  const CLUSTER_ARN = 'arn:aws:kafka:us-east-1:123456789012:cluster/K-Kafka-2DC1BCE3/0b6d2f4e-1111-2222-3333-444455556666-3';
  const BASE = 'arn:aws:kafka:us-east-1:123456789012';
  const ID = 'K-Kafka-2DC1BCE3/0b6d2f4e-1111-2222-3333-444455556666-3';

  function granted(grant: (cluster: KafkaCluster, role: iam.Role, topic: StubKafkaTopic) => void): { actions: string[]; resources: string[] }[] {
    const { stack, cluster } = clusterStack();
    const role = new iam.Role(stack, 'Client', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    grant(cluster, role, new StubKafkaTopic(stack, 'Orders', cluster, 'orders'));
    return allowStatements(Template.fromStack(stack)).map((s) => ({ actions: s.actions, resources: s.resources.map((r) => evaluate(r, CLUSTER_ARN)) }));
  }

  test('grantProduce: Connect and WriteDataIdempotently on the cluster, DescribeTopic and WriteData on the exact topic ARN', () => {
    expect(granted((c, role, topic) => c.grantProduce(role, topic))).toEqual([
      { actions: ['kafka-cluster:Connect', 'kafka-cluster:WriteDataIdempotently'], resources: [CLUSTER_ARN] },
      { actions: ['kafka-cluster:DescribeTopic', 'kafka-cluster:WriteData'], resources: [`${BASE}:topic/${ID}/orders`] },
    ]);
  });

  test('grantConsume: Connect and DescribeCluster on the cluster, DescribeTopic and ReadData on the topic, DescribeGroup and AlterGroup on the exact group ARN', () => {
    expect(granted((c, role, topic) => c.grantConsume(role, topic, 'billing'))).toEqual([
      { actions: ['kafka-cluster:Connect', 'kafka-cluster:DescribeCluster'], resources: [CLUSTER_ARN] },
      { actions: ['kafka-cluster:DescribeTopic', 'kafka-cluster:ReadData'], resources: [`${BASE}:topic/${ID}/orders`] },
      { actions: ['kafka-cluster:DescribeGroup', 'kafka-cluster:AlterGroup'], resources: [`${BASE}:group/${ID}/billing`] },
    ]);
  });

  test('grantBootstrap: GetBootstrapBrokers and DescribeClusterV2 on the cluster only', () => {
    expect(granted((c, role) => c.grantBootstrap(role))).toEqual([
      { actions: ['kafka:GetBootstrapBrokers', 'kafka:DescribeClusterV2'], resources: [CLUSTER_ARN] },
    ]);
  });

  test('topicArn and groupArn are built from the cluster ARN\'s name and uuid', () => {
    const { stack, cluster } = clusterStack();
    expect(evaluate(stack.resolve(cluster.topicArn('a.b-c')), CLUSTER_ARN)).toBe(`${BASE}:topic/${ID}/a.b-c`);
    expect(evaluate(stack.resolve(cluster.groupArn('g1')), CLUSTER_ARN)).toBe(`${BASE}:group/${ID}/g1`);
  });

  test('connections open port 9098 (IAM over TLS) to a client\'s security group only', () => {
    const { stack, cluster } = clusterStack();
    const clientSg = new ec2.SecurityGroup(stack, 'ClientSg', { vpc: cluster.vpc });
    cluster.connections.allowDefaultPortFrom(clientSg);
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::EC2::SecurityGroupIngress', { IpProtocol: 'tcp', FromPort: 9098, ToPort: 9098, SourceSecurityGroupId: Match.anyValue() });
    expect(JSON.stringify(t.findResources('AWS::EC2::SecurityGroupIngress'))).not.toContain('0.0.0.0/0');
  });

  test('addToResourcePolicy creates one cluster policy holding every statement', () => {
    const { stack, cluster } = clusterStack();
    cluster.addToResourcePolicy(new iam.PolicyStatement({ principals: [new iam.ServicePrincipal('firehose.amazonaws.com')], actions: ['kafka:CreateVpcConnection'], resources: [cluster.clusterArn] }));
    cluster.addToResourcePolicy(new iam.PolicyStatement({ principals: [new iam.ServicePrincipal('firehose.amazonaws.com')], actions: ['kafka:GetBootstrapBrokers'], resources: [cluster.clusterArn] }));
    const t = Template.fromStack(stack);
    const policy = only(t, 'AWS::MSK::ClusterPolicy');
    const [clusterId] = Object.keys(t.findResources('AWS::MSK::Cluster'));
    expect(policy.Properties.ClusterArn).toEqual({ 'Fn::GetAtt': [clusterId, 'Arn'] });
    expect(policy.Properties.Policy.Statement.map((s: any) => s.Action)).toEqual(['kafka:CreateVpcConnection', 'kafka:GetBootstrapBrokers']);
  });

  test('addConsumerLagAlarms creates the lag alarms on the cluster monitor, with the cluster name dimension', () => {
    const { stack, cluster } = clusterStack();
    cluster.addConsumerLagAlarms('billing', new StubKafkaTopic(stack, 'T', cluster, 'orders'), { maxOffsetLag: 5000 });
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'MaxOffsetLag', Namespace: 'AWS/Kafka', Threshold: 5000,
      Dimensions: Match.arrayWith([{ Name: 'Cluster Name', Value: stack.resolve(cluster.clusterName) }, { Name: 'Consumer Group', Value: 'billing' }, { Name: 'Topic', Value: 'orders' }]),
    });
    expect(Object.keys(cluster.monitor.alarmsByName)).toEqual(expect.arrayContaining(['billing/orders/MaxOffsetLag', 'billing/orders/EstimatedMaxTimeLag']));
  });

  test('the monitor waits for the cluster: NoActiveController counts missing data as breaching', () => {
    const { stack } = clusterStack();
    const t = Template.fromStack(stack);
    const [clusterId] = Object.keys(t.findResources('AWS::MSK::Cluster'));
    const alarms = t.findResources('AWS::CloudWatch::Alarm', { Properties: { MetricName: 'ActiveControllerCount' } });
    expect(Object.values(alarms)).toHaveLength(1);
    expect(Object.values(alarms)[0].DependsOn).toEqual(expect.arrayContaining([clusterId]));
  });
});

describe('KafkaCluster: options', () => {
  test('Express brokers: express.m7g.large, no EBS storage or autoscaling, and only the keys AWS lets users write', () => {
    const t = clusterTemplate({ clusterType: KafkaClusterType.EXPRESS });
    const cluster = only(t, 'AWS::MSK::Cluster');
    expect(cluster.Properties.BrokerNodeGroupInfo.InstanceType).toBe('express.m7g.large');
    expect(cluster.Properties.BrokerNodeGroupInfo.StorageInfo).toBeUndefined();
    t.resourceCountIs('AWS::ApplicationAutoScaling::ScalableTarget', 0);
    expect(serverProperties(t)).toEqual({ 'auto.create.topics.enable': 'false', 'allow.everyone.if.no.acl.found': 'false', 'num.partitions': '6', 'log.retention.ms': '604800000' });
    expect(cluster.Properties.ClientAuthentication).toEqual({ Sasl: { Iam: { Enabled: true } }, Unauthenticated: { Enabled: false } });
  });

  test('Express brokers may run Kafka 4.2.x', () => {
    expect(only(clusterTemplate({ clusterType: KafkaClusterType.EXPRESS, kafkaVersion: KafkaVersion.V4_2_X_KRAFT }), 'AWS::MSK::Cluster').Properties.KafkaVersion).toBe('4.2.x.kraft');
  });

  test('Serverless: IAM only, in the client subnets with the brokers\' security group, no configuration, key or broker logs, retained', () => {
    const { stack, cluster } = clusterStack({ clusterType: KafkaClusterType.SERVERLESS });
    const t = Template.fromStack(stack);
    const serverless = only(t, 'AWS::MSK::ServerlessCluster');
    expect(serverless.Properties).toEqual({
      ClusterName: 'K-Kafka-2DC1BCE3',
      ClientAuthentication: { Sasl: { Iam: { Enabled: true } } },
      VpcConfigs: [{ SubnetIds: ['subnet-private1', 'subnet-private2', 'subnet-private3'], SecurityGroups: [{ 'Fn::GetAtt': [Object.keys(t.findResources('AWS::EC2::SecurityGroup'))[0], 'GroupId'] }] }],
    });
    expect(serverless.DeletionPolicy).toBe('Retain');
    for (const type of ['AWS::MSK::Cluster', 'AWS::MSK::Configuration', 'AWS::Logs::LogGroup', 'AWS::ApplicationAutoScaling::ScalableTarget']) t.resourceCountIs(type, 0);
    // MSK encrypts Serverless data with its own key; the one key here is the construct's, for the alarm topic.
    t.resourceCountIs('AWS::KMS::Key', 1);
    t.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    expect(cluster.brokerCount).toBeUndefined();
    expect(cluster.kafkaVersion).toBeUndefined();
  });

  test('public access, asked for with a reason on public subnets, is rendered without any multi-VPC connectivity', () => {
    const t = clusterTemplate({ publicAccess: { reason: 'on-premises producers without a VPN' }, vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC } });
    expect(only(t, 'AWS::MSK::Cluster').Properties.BrokerNodeGroupInfo.ConnectivityInfo).toEqual({ PublicAccess: { Type: 'SERVICE_PROVIDED_EIPS' } });
  });

  test('mutual TLS besides IAM names the trusted certificate authorities', () => {
    const ca = 'arn:aws:acm-pca:us-east-1:123456789012:certificate-authority/11111111-2222-3333-4444-555555555555';
    const t = clusterTemplate({ authentication: KafkaAuthentication.iamAndMutualTls([ca]) });
    expect(only(t, 'AWS::MSK::Cluster').Properties.ClientAuthentication).toEqual({
      Sasl: { Iam: { Enabled: true } }, Tls: { Enabled: true, CertificateAuthorityArnList: [ca] }, Unauthenticated: { Enabled: false },
    });
  });

  test('typed props shape the profile: replication, partitions, retention, extra keys', () => {
    const { stack } = clusterStack({
      brokerCount: 6, defaultReplicationFactor: 4, minInsyncReplicas: 3, numPartitions: 12,
      additionalServerProperties: { 'message.max.bytes': '2097152', 'compression.type': 'zstd' },
    });
    expect(serverProperties(Template.fromStack(stack))).toEqual({
      ...NO_LOSS, 'default.replication.factor': '4', 'offsets.topic.replication.factor': '4', 'transaction.state.log.replication.factor': '4',
      'min.insync.replicas': '3', 'transaction.state.log.min.isr': '3', 'num.partitions': '12', 'compression.type': 'zstd', 'message.max.bytes': '2097152',
    });
  });

  test('unclean election turned on with an acknowledgement: the configuration says true', () => {
    const t = clusterTemplate({ uncleanLeaderElection: true, uncleanLeaderElectionAcknowledgement: { reason: 'metrics topic: availability over completeness' } });
    expect(serverProperties(t)['unclean.leader.election.enable']).toBe('true');
  });

  test('sizes, version, instance type, monitoring and removal policy follow their props', () => {
    const t = clusterTemplate({
      kafkaVersion: KafkaVersion.of('4.1.x.kraft'), instanceType: 'kafka.m7g.xlarge', enhancedMonitoring: KafkaMonitoringLevel.PER_TOPIC_PER_PARTITION,
      storage: { volumeSize: Size.gibibytes(500), maxVolumeSize: Size.tebibytes(4), targetUtilizationPercent: 50 }, removalPolicy: RemovalPolicy.DESTROY,
    });
    const cluster = t.findResources('AWS::MSK::Cluster');
    expect(Object.values(cluster)[0]).toMatchObject({
      DeletionPolicy: 'Delete',
      Properties: { KafkaVersion: '4.1.x.kraft', EnhancedMonitoring: 'PER_TOPIC_PER_PARTITION', BrokerNodeGroupInfo: { InstanceType: 'kafka.m7g.xlarge', StorageInfo: { EBSStorageInfo: { VolumeSize: 500 } } } },
    });
    t.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: 500, MaxCapacity: 4096 });
    t.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', { TargetTrackingScalingPolicyConfiguration: Match.objectLike({ TargetValue: 50 }) });
  });

  test('KafkaVersion.of returns the known version for a known string', () => {
    expect(KafkaVersion.of('4.2.x.kraft')).toBe(KafkaVersion.V4_2_X_KRAFT);
    expect(KafkaVersion.V4_2_X_KRAFT.expressOnly).toBe(true);
    expect(KafkaVersion.V3_9_X_KRAFT.expressOnly).toBe(false);
  });

  test('two clusters fit in one stack: distinct cluster and configuration names', () => {
    const stack = new Stack(newApp(), 'Two');
    const vpc = threeAzVpc(stack);
    new KafkaCluster(stack, 'A', { vpc });
    new KafkaCluster(stack, 'B', { vpc });
    const t = Template.fromStack(stack);
    const names = Object.values(t.findResources('AWS::MSK::Cluster')).map((r: any) => r.Properties.ClusterName);
    const configs = Object.values(t.findResources('AWS::MSK::Configuration')).map((r: any) => r.Properties.Name);
    expect(new Set(names).size).toBe(2);
    expect(new Set(configs).size).toBe(2);
  });
});

/** CloudFormation's create-only properties (cfn-lint 1.51 provider schemas): a change to any of them replaces the resource. */
const CREATE_ONLY: Record<string, string[][]> = {
  'AWS::MSK::Cluster': [['BrokerNodeGroupInfo', 'BrokerAZDistribution'], ['BrokerNodeGroupInfo', 'ClientSubnets'], ['BrokerNodeGroupInfo', 'SecurityGroups'],
    ['EncryptionInfo', 'EncryptionAtRest'], ['EncryptionInfo', 'EncryptionInTransit', 'InCluster'], ['ClusterName']],
  'AWS::MSK::Configuration': [['Name'], ['KafkaVersionsList']],
};
const at = (o: any, path: string[]): unknown => path.reduce((v, k) => v?.[k], o);

describe('KafkaCluster: changing a broker property', () => {
  test('changes only the configuration\'s ServerProperties: nothing create-only, and the cluster picks up the new revision by GetAtt', () => {
    const before = clusterTemplate().toJSON().Resources;
    const after = clusterTemplate({ numPartitions: 12, additionalServerProperties: { 'message.max.bytes': '2097152' } }).toJSON().Resources;
    expect(Object.keys(after)).toEqual(Object.keys(before));
    const changed = Object.keys(before).filter((id) => JSON.stringify(before[id]) !== JSON.stringify(after[id]));
    expect(changed.map((id) => before[id].Type)).toEqual(['AWS::MSK::Configuration']);
    const id = changed[0];
    expect(Object.keys(before[id].Properties).filter((k) => JSON.stringify(before[id].Properties[k]) !== JSON.stringify(after[id].Properties[k]))).toEqual(['ServerProperties']);
    for (const [rid, r] of Object.entries(before) as [string, any][]) {
      for (const path of CREATE_ONLY[r.Type] ?? []) expect(at(after[rid].Properties, path)).toEqual(at(r.Properties, path));
    }
    const cluster = Object.values(after).find((r: any) => r.Type === 'AWS::MSK::Cluster') as any;
    expect(cluster.Properties.ConfigurationInfo.Revision).toEqual({ 'Fn::GetAtt': [id, 'LatestRevision.Revision'] });
  });
});

describe('KafkaCluster.addTopic', () => {
  test('Standard brokers: an AWS::MSK::Topic on this cluster, retained, RF 3 and min ISR 2', () => {
    const { stack, cluster } = clusterStack();
    const topic = cluster.addTopic('Orders', { topicName: 'orders', partitions: 12 });
    const t = Template.fromStack(stack);
    const [clusterId] = Object.keys(t.findResources('AWS::MSK::Cluster'));
    const res = only(t, 'AWS::MSK::Topic');
    expect(res.Properties).toMatchObject({ ClusterArn: { 'Fn::GetAtt': [clusterId, 'Arn'] }, TopicName: 'orders', PartitionCount: 12, ReplicationFactor: 3 });
    expect(Buffer.from(res.Properties.Configs, 'base64').toString('utf8')).toContain('min.insync.replicas=2');
    expect(res.DeletionPolicy).toBe('Retain');
    expect(res.UpdateReplacePolicy).toBe('Retain');
    expect(topic.cluster).toBe(cluster);
  });

  test('Serverless: a custom resource manages the topic, with the cluster key on its function logs', () => {
    const stack = new Stack(newApp(), 'S');
    const cluster = new KafkaCluster(stack, 'Kafka', { vpc: threeAzVpc(stack), clusterType: KafkaClusterType.SERVERLESS });
    cluster.addTopic('Orders', { topicName: 'orders', partitions: 6 });
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::MSK::Topic', 0);
    expect(Object.keys(t.findResources('Custom::KafkaTopic')).length + Object.keys(t.findResources('AWS::CloudFormation::CustomResource')).length).toBe(1);
  });
});
