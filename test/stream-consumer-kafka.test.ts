import { Duration, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { BundledFunction, ConsumerOrdering, FailureDestination, KafkaTopicEventSource, StreamConsumer, type StreamConsumerProps } from '../lib';
import { addFailureQueue } from '../bin/examples';
import { POLLER_NETWORK_ACTIONS } from '../lib/core/kafka-consumer';
import { StubKafkaCluster, StubKafkaTopic } from './support/kafka-cluster-stub';
import { expectNagClean, newApp } from './support/nag';
import { only, userFunction } from './support/template';

interface Built { stack: Stack; template: Template; consumer: StreamConsumer; cluster: StubKafkaCluster; topic: StubKafkaTopic; fn: lambda.Function }

function make(stack: Stack, props: Partial<StreamConsumerProps> = {}, topicName = 'orders.v1-eu'): Omit<Built, 'template' | 'stack'> {
  const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
  const cluster = new StubKafkaCluster(stack, 'Cluster');
  const topic = new StubKafkaTopic(stack, 'Topic', cluster, topicName, 6);
  const fn = userFunction(stack, 'Fn', 'exports.handler=async()=>({batchItemFailures:[]})', 'index.handler');
  const consumer = new StreamConsumer(stack, 'Consumer', { function: fn, topic, encryptionKey: key, ...props });
  return { consumer, cluster, topic, fn };
}

function build(props: Partial<StreamConsumerProps> = {}, topicName?: string): Built {
  const stack = new Stack(newApp(), 'K');
  const parts = make(stack, props, topicName);
  return { stack, template: Template.fromStack(stack), ...parts };
}

/** Every statement of the function's role policy, resolved. */
function statements(b: Built): { Action: string | string[]; Resource: unknown }[] {
  const policies = b.template.findResources('AWS::IAM::Policy');
  return Object.values(policies).flatMap((p: any) => p.Properties.PolicyDocument.Statement);
}

const actionsOf = (s: { Action: string | string[] }) => (Array.isArray(s.Action) ? s.Action : [s.Action]);

describe('StreamConsumer on an MSK topic', () => {
  test('maps the topic in provisioned-poller mode with finite retries, record age, bisect and partial batch responses', () => {
    const b = build();
    b.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: b.stack.resolve(b.cluster.clusterArn),
      Topics: ['orders.v1-eu'],
      StartingPosition: 'TRIM_HORIZON',
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 5,
      MaximumRecordAgeInSeconds: 7 * 24 * 3600,
      BatchSize: 500,
      MaximumBatchingWindowInSeconds: 1,
      ProvisionedPollerConfig: { MinimumPollers: 1, MaximumPollers: 6 },
      AmazonManagedKafkaEventSourceConfig: { ConsumerGroupId: b.consumer.consumerGroupId },
      ParallelizationFactor: Match.absent(),
      SourceAccessConfigurations: Match.absent(), // IAM access control: Lambda signs with the function's role
    });
  });

  test('the default consumer group is stable, ASCII, and named in the mapping, the grant and the lag alarms', () => {
    const a = build();
    const again = build();
    expect(a.consumer.consumerGroupId).toBe(again.consumer.consumerGroupId);
    expect(a.consumer.consumerGroupId).toMatch(/^[A-Za-z0-9._-]{1,200}$/);
    expect(a.cluster.lagAlarms).toEqual([{ groupId: a.consumer.consumerGroupId, topic: 'orders.v1-eu', options: undefined }]);
    const group = statements(a).find((s) => actionsOf(s).includes('kafka-cluster:AlterGroup'))!;
    expect(JSON.stringify(group.Resource)).toContain(`/${a.consumer.consumerGroupId}"`);
  });

  test('a given consumer group and lag thresholds are used as given', () => {
    const b = build({ consumerGroupId: 'orders-totals', consumerLag: { maxOffsetLag: 5000 } });
    b.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { AmazonManagedKafkaEventSourceConfig: { ConsumerGroupId: 'orders-totals' } });
    expect(b.cluster.lagAlarms).toEqual([{ groupId: 'orders-totals', topic: 'orders.v1-eu', options: { maxOffsetLag: 5000 } }]);
  });

  test('poller bounds are props, the maximum defaulting to the partition count', () => {
    build({ minimumPollers: 2, maximumPollers: 12 }).template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { ProvisionedPollerConfig: { MinimumPollers: 2, MaximumPollers: 12 } });
    build({ minimumPollers: 8 }).template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { ProvisionedPollerConfig: { MinimumPollers: 8, MaximumPollers: 8 } });
  });

  test('grants exactly what the mapping uses: no AWSLambdaMSKExecutionRole, no kafka-cluster wildcard', () => {
    const b = build();
    const role = only(b.template, 'AWS::IAM::Role');
    expect(JSON.stringify(role.Properties.ManagedPolicyArns ?? [])).not.toContain('AWSLambdaMSKExecutionRole');
    const all = statements(b);
    const byAction = (a: string) => all.filter((s) => actionsOf(s).includes(a));
    const cluster = b.stack.resolve(b.cluster.clusterArn);
    for (const a of ['kafka:DescribeClusterV2', 'kafka:GetBootstrapBrokers', 'kafka-cluster:DescribeClusterDynamicConfiguration', 'kafka-cluster:Connect', 'kafka-cluster:DescribeCluster']) {
      expect(byAction(a).map((s) => s.Resource)).toEqual([cluster]);
    }
    expect(byAction('kafka-cluster:ReadData').map((s) => s.Resource)).toEqual([b.stack.resolve(b.topic.topicArn)]);
    expect(byAction('kafka-cluster:DescribeTopic').map((s) => s.Resource)).toEqual([b.stack.resolve(b.topic.topicArn)]);
    expect(byAction('kafka-cluster:AlterGroup').map((s) => s.Resource)).toEqual([b.stack.resolve(b.cluster.groupArn(b.consumer.consumerGroupId!))]);
    expect(byAction('kafka-cluster:DescribeGroup').map((s) => s.Resource)).toEqual([b.stack.resolve(b.cluster.groupArn(b.consumer.consumerGroupId!))]);
    // The pollers' network interfaces: AWSLambdaMSKExecutionRole's EC2 actions, nothing more.
    const wildcard = all.filter((s) => s.Resource === '*');
    expect(wildcard.flatMap(actionsOf).sort()).toEqual([...POLLER_NETWORK_ACTIONS].sort());
    const kafkaActions = all.flatMap(actionsOf).filter((a) => a.startsWith('kafka'));
    expect(kafkaActions.some((a) => a.includes('*'))).toBe(false);
    expect(kafkaActions).not.toContain('kafka:ListScramSecrets');
  });

  test('the cluster security groups let the pollers (which run in them) reach the brokers and AWS APIs', () => {
    const b = build();
    const sg = b.stack.resolve((b.cluster.connections.securityGroups[0].node.defaultChild as any).attrGroupId);
    b.template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', { GroupId: sg, SourceSecurityGroupId: sg, IpProtocol: 'tcp', FromPort: 9098, ToPort: 9098 });
    b.template.hasResourceProperties('AWS::EC2::SecurityGroupEgress', { GroupId: sg, DestinationSecurityGroupId: sg, IpProtocol: 'tcp', FromPort: 9098, ToPort: 9098 });
    b.template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: 'stub brokers',
      SecurityGroupEgress: Match.arrayWith([Match.objectLike({ CidrIp: '0.0.0.0/0', IpProtocol: 'tcp', FromPort: 443, ToPort: 443 })]),
    });
  });

  test('the S3 on-failure destination gets an S3 gateway endpoint on the cluster subnets\' route tables', () => {
    const b = build();
    const esm = only(b.template, 'AWS::Lambda::EventSourceMapping');
    expect(esm.Properties.DestinationConfig.OnFailure.Destination['Fn::GetAtt'][0]).toMatch(/^ConsumerFailures/);
    const routeTables = b.cluster.vpc.selectSubnets(b.cluster.vpcSubnets).subnets.map((s) => b.stack.resolve(s.routeTable.routeTableId));
    b.template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Gateway', VpcId: b.stack.resolve(b.cluster.vpc.vpcId),
      ServiceName: { 'Fn::Join': ['', ['com.amazonaws.', { Ref: 'AWS::Region' }, '.s3']] },
      RouteTableIds: routeTables,
    });
    expect(b.consumer.failureDestinationEndpoint).toBeDefined();
    // Lambda writes the whole failed batch to S3: PutObject, ListBucket and the key, as for Kinesis.
    const all = statements(b);
    expect(all.some((s) => actionsOf(s).includes('s3:PutObject'))).toBe(true);
    expect(b.consumer.redriveFunction).toBeUndefined(); // the redrive puts into Kinesis streams only
  });

  test('an SQS destination gets an SQS interface endpoint the cluster security groups may reach on 443', () => {
    const stack = new Stack(newApp(), 'Q');
    const key = new kms.Key(stack, 'QueueKey', { enableKeyRotation: true });
    const queue = new sqs.Queue(stack, 'Failed', { encryptionMasterKey: key, enforceSSL: true });
    const parts = make(stack, { failureDestination: FailureDestination.SQS, failureQueue: queue });
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', { DestinationConfig: { OnFailure: { Destination: stack.resolve(queue.queueArn) } } });
    t.hasResourceProperties('AWS::EC2::VPCEndpoint', { VpcEndpointType: 'Interface', PrivateDnsEnabled: true, ServiceName: { 'Fn::Join': ['', ['com.amazonaws.', { Ref: 'AWS::Region' }, '.sqs']] } });
    const clusterSg = stack.resolve(parts.cluster.connections.securityGroups[0].securityGroupId);
    t.hasResourceProperties('AWS::EC2::SecurityGroupIngress', { SourceSecurityGroupId: clusterSg, FromPort: 443, ToPort: 443, IpProtocol: 'tcp' });
    expect(t.findResources('AWS::S3::Bucket')).toEqual({});
  });

  test('failureDestinationEndpoint: false creates no endpoint (the VPC has one)', () => {
    const b = build({ failureDestinationEndpoint: false });
    b.template.resourceCountIs('AWS::EC2::VPCEndpoint', 0);
    expect(b.consumer.failureDestinationEndpoint).toBeUndefined();
  });

  test('the event source is usable for the monitor: its mapping id is the mapping\'s Ref', () => {
    const b = build();
    expect(b.consumer.eventSource).toBeInstanceOf(KafkaTopicEventSource);
    const [logicalId] = Object.keys(b.template.findResources('AWS::Lambda::EventSourceMapping'));
    expect(b.stack.resolve(b.consumer.eventSource.eventSourceMappingId)).toEqual({ Ref: logicalId });
  });

  test('topic names with dots and dashes are passed as they are', () => {
    build({}, 'payments.eu-west-1.v2').template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { Topics: ['payments.eu-west-1.v2'] });
  });
});

describe('StreamConsumer on an MSK topic: validation', () => {
  const stack = () => new Stack(newApp(), 'V');
  const fails = (props: Partial<StreamConsumerProps>, message: RegExp) => expect(() => make(stack(), props)).toThrow(message);

  test('exactly one of stream and topic', () => {
    const s = stack();
    const key = new kms.Key(s, 'Key', { enableKeyRotation: true });
    const fn = userFunction(s, 'Fn');
    const cluster = new StubKafkaCluster(s, 'Cluster');
    const topic = new StubKafkaTopic(s, 'Topic', cluster, 't');
    const stream = new kinesis.Stream(s, 'Stream');
    expect(() => new StreamConsumer(s, 'Both', { function: fn, stream, topic, encryptionKey: key })).toThrow(/`topic` and `topic` are alternatives|`topic` .*give exactly one/);
    expect(() => new StreamConsumer(s, 'None', { function: fn, encryptionKey: key })).toThrow(/`stream` and `topic` are alternatives: give exactly one/);
  });

  test('retries are capped at 10, as Lambda caps a Kafka mapping with an on-failure destination', () => {
    fails({ retryAttempts: 11 }, /`retryAttempts` \(11\) must be at most 10 for a `topic`/);
    expect(() => make(stack(), { retryAttempts: 10 })).not.toThrow();
  });

  test.each([
    [{ consumerGroupId: 'commandes-été' }, /`consumerGroupId` \('commandes-été'\) must be 1-200 ASCII characters/],
    [{ consumerGroupId: 'a/b' }, /`consumerGroupId` \('a\/b'\) must be 1-200 ASCII/],
    [{ consumerGroupId: 'group*' }, /`consumerGroupId` \('group\*'\)/],
    [{ consumerGroupId: '' }, /`consumerGroupId` \(''\)/],
    [{ consumerGroupId: 'x'.repeat(201) }, /`consumerGroupId`/],
  ])('consumer group %p is refused', (props, message) => fails(props, message));

  test.each([
    [{ minimumPollers: 0 }, /`minimumPollers` \(0\) must be an integer 1-200/],
    [{ minimumPollers: 201 }, /`minimumPollers` \(201\) must be an integer 1-200/],
    [{ maximumPollers: 2001 }, /`maximumPollers` \(2001\) must be an integer 1-2,000/],
    [{ minimumPollers: 5, maximumPollers: 4 }, /`minimumPollers` \(5\) exceeds maximumPollers \(4\)/],
  ])('poller bounds %p are refused', (props, message) => fails(props, message));

  test.each([
    [{ maxRecordAge: Duration.seconds(59) }, /`maxRecordAge` \(59 s\) must be 60 s-7 days/],
    [{ maxRecordAge: Duration.days(8) }, /`maxRecordAge` \(691200 s\) must be 60 s-7 days/],
    [{ startingPosition: lambda.StartingPosition.AT_TIMESTAMP }, /`startingPosition` \(AT_TIMESTAMP\) must be TRIM_HORIZON or LATEST/],
    [{ enhancedFanOut: true }, /`enhancedFanOut` applies to a `stream` only/],
    [{ startingAt: new Date(Date.now() - 1000) }, /`startingAt` applies to a `stream` only/],
    [{ streamRetention: Duration.days(1) }, /`streamRetention` applies to a `stream` only/],
    [{ parallelizationFactor: 2 }, /`parallelizationFactor` applies to a `stream` only/],
    [{ ordering: ConsumerOrdering.PER_KEY }, /`ordering` \(PER_KEY\) applies to a `stream` only/],
    [{ redrive: true }, /`redrive` applies to a `stream` only/],
  ])('%p is refused for a topic', (props, message) => fails(props, message));

  test('LATEST is accepted', () => {
    const s = stack();
    make(s, { startingPosition: lambda.StartingPosition.LATEST });
    Template.fromStack(s).hasResourceProperties('AWS::Lambda::EventSourceMapping', { StartingPosition: 'LATEST' });
  });

  test.each([
    ['minimumPollers', { minimumPollers: 1 }, /`minimumPollers` applies to a `topic` only/],
    ['consumerGroupId', { consumerGroupId: 'g' }, /`consumerGroupId` applies to a `topic` only/],
    ['failureDestinationEndpoint', { failureDestinationEndpoint: false }, /`failureDestinationEndpoint` applies to a `topic` only/],
  ])('%s is refused for a stream', (_name, props, message) => {
    const s = stack();
    const key = new kms.Key(s, 'Key', { enableKeyRotation: true });
    expect(() => new StreamConsumer(s, 'C', { function: userFunction(s, 'Fn'), stream: new kinesis.Stream(s, 'S'), encryptionKey: key, ...props })).toThrow(message);
  });
});

describe('StreamConsumer on an MSK topic: compliance', () => {
  test.each([
    ['S3 destination', FailureDestination.S3],
    ['SQS destination', FailureDestination.SQS],
  ])('nag-clean under all five packs (%s)', (_name, destination) => {
    expectNagClean((stack) => {
      const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
      const cluster = new StubKafkaCluster(stack, 'Cluster');
      const topic = new StubKafkaTopic(stack, 'Topic', cluster, 'orders', 6);
      const fn = new BundledFunction(stack, 'Fn', {
        handler: 'redrive', encryptionKey: key,
        synchronousInvoker: 'A Lambda event-source mapping invokes this function synchronously; its on-failure destination keeps failed batches.',
      }).function;
      const queue = destination === FailureDestination.SQS ? addFailureQueue(stack, key) : undefined;
      new StreamConsumer(stack, 'Consumer', { function: fn, topic, encryptionKey: key, failureDestination: destination, failureQueue: queue });
      acknowledgeStubVpc(cluster);
    });
  });
});

/** The stub cluster's VPC is the test's stand-in for the user's (KafkaCluster's own tests cover a real one): its findings are not StreamConsumer's. */
function acknowledgeStubVpc(cluster: StubKafkaCluster): void {
  const reason = 'Test stand-in for the user\'s VPC; StreamConsumer adds only an endpoint and security-group rules to it.';
  const packs = ['HIPAA.Security', 'NIST.800.53.R5', 'PCI.DSS.321'];
  const vpc = cluster.vpc.node.defaultChild!;
  for (const id of ['AwsSolutions-VPC7', ...packs.flatMap((p) => [`${p}-VPCDefaultSecurityGroupClosed`, `${p}-VPCFlowLogsEnabled`])]) Validations.of(vpc).acknowledge({ id, reason });
  for (const subnet of cluster.vpc.publicSubnets) {
    for (const p of packs) {
      Validations.of(subnet.node.defaultChild!).acknowledge({ id: `${p}-VPCSubnetAutoAssignPublicIpDisabled`, reason });
      Validations.of(subnet.node.findChild('DefaultRoute')).acknowledge({ id: `${p}-VPCNoUnrestrictedRouteToIGW`, reason });
    }
  }
}
