import { CfnResource, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { addCustomerTotalsFunction, exampleSchema } from './examples';
import { AccessLogBucket, KafkaCluster, PipelineKey, StreamConsumer, StreamingLake, type KafkaTopic } from '../lib';
import { ignoreCfnLint, ROLE_DEPENDS_ON } from '../lib/core/cfn-lint';

const PACKS = ['HIPAA.Security', 'NIST.800.53.R5', 'PCI.DSS.321'];

/**
 * A VPC over three AZs for an MSK cluster. The stacks are env-agnostic, so the AZs are named
 * (us-east-1 here): a region-agnostic VPC gets only two, and the no-loss profile needs three.
 */
export function addKafkaVpc(stack: Stack, key: kms.IKey, id = 'Vpc'): ec2.Vpc {
  const vpc = new ec2.Vpc(stack, id, {
    availabilityZones: ['us-east-1a', 'us-east-1b', 'us-east-1c'],
    natGateways: 1,
    // Nothing may use the default security group: every resource here has its own.
    restrictDefaultSecurityGroup: true,
    subnetConfiguration: [
      { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24, mapPublicIpOnLaunch: false },
      { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
    ],
  });
  for (const subnet of [...vpc.publicSubnets, ...vpc.privateSubnets]) {
    ignoreCfnLint(subnet.node.defaultChild as CfnResource, 'W3010',
      'The example stacks are env-agnostic, where a VPC gets two AZs; the no-loss cluster needs three, so they are named (us-east-1).');
  }
  // aws-cdk-lib's provider for restrictDefaultSecurityGroup: its handler depends on its role, also read by GetAtt.
  const restrictProvider = stack.node.tryFindChild('Custom::VpcRestrictDefaultSGCustomResourceProvider');
  const restrictHandler = restrictProvider?.node.tryFindChild('Handler');
  if (restrictHandler instanceof CfnResource) ignoreCfnLint(restrictHandler, 'W3005', ROLE_DEPENDS_ON);
  const flowLogs = vpc.addFlowLog('FlowLogs', {
    destination: ec2.FlowLogDestination.toCloudWatchLogs(new logs.LogGroup(stack, `${id}FlowLogs`, { retention: logs.RetentionDays.ONE_YEAR, encryptionKey: key })),
  });
  for (const pack of PACKS) {
    Validations.of(flowLogs.node.findChild('IAMRole')).acknowledge({
      id: `${pack}-IAMNoInlinePolicy`,
      reason: 'CDK generates this policy for the flow-log role alone, scoped to its one log group; an inline policy cannot be attached elsewhere.',
    });
    for (const subnet of vpc.publicSubnets) {
      Validations.of(subnet.node.findChild('DefaultRoute')).acknowledge({
        id: `${pack}-VPCNoUnrestrictedRouteToIGW`,
        reason: 'The public subnets hold only the NAT gateway (no instance, no public IP on launch); their route to the internet gateway is what gives the private subnets egress.',
      });
    }
  }
  return vpc;
}

/** What {@link addKafkaPipeline} builds. */
export interface KafkaPipeline {
  readonly cluster: KafkaCluster;
  readonly orders: KafkaTopic;
  readonly replays: KafkaTopic;
  readonly lake: StreamingLake;
  readonly consumer: StreamConsumer;
}

/**
 * The Kinesis pipeline, on MSK: a hardened cluster with an `orders` topic, a lake reading it
 * (curated Parquet and the raw archive through Firehose's MSK source), replays into a separate
 * `orders-replay` topic, and the customer-totals consumer on both topics.
 */
export function addKafkaPipeline(stack: Stack): KafkaPipeline {
  const vpc = addKafkaVpc(stack, new PipelineKey(stack, 'NetworkKey').key);
  const cluster = new KafkaCluster(stack, 'Kafka', { vpc });
  const orders = cluster.addTopic('Orders', { topicName: 'orders', partitions: 12 });
  // Replays go to a topic the lake does not read, so they never duplicate the curated or raw zone.
  const replays = cluster.addTopic('OrderReplays', { topicName: 'orders-replay', partitions: 12 });
  const lake = new StreamingLake(stack, 'KafkaLake', {
    topic: orders,
    schema: exampleSchema,
    eventTime: { field: 'event_time' },
    rawArchiveOptions: { replayTopics: [replays] },
  });
  const key = lake.encryptionKey;
  const fn = addCustomerTotalsFunction(stack, key, 'KafkaTotals');
  const accessLogs = new AccessLogBucket(stack, 'KafkaTotalsAccessLogs').bucket;
  const consumer = new StreamConsumer(stack, 'KafkaTotals', { function: fn, topic: orders, encryptionKey: key, accessLogs });
  // The first mapping created the S3 gateway endpoint its failed batches need; a second one on the
  // same route tables would fail the deployment.
  const replayConsumer = new StreamConsumer(stack, 'KafkaTotalsReplays', {
    function: fn, topic: replays, encryptionKey: key, accessLogs, failureDestinationEndpoint: false,
  });
  for (const [id, c] of [['KafkaTotals', consumer], ['KafkaTotalsReplays', replayConsumer]] as const) {
    lake.monitor.addConsumer(id, {
      function: fn, functionAlarms: c === consumer, maxRecordAge: c.maxRecordAge,
      failureBucket: c.failureBucket, eventSourceMappingId: c.eventSource.eventSourceMappingId,
    });
  }
  return { cluster, orders, replays, lake, consumer };
}
