import { Duration, Names, Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';
import { acknowledge } from './acknowledge';
import { propError } from './errors';
import type { IKafkaTopic } from './kafka-refs';
import type { StreamConsumerProps } from './stream-consumer';

/** Properties of a {@link KafkaTopicEventSource}: the mapping's settings, already decided. */
export interface KafkaTopicEventSourceProps {
  /**
   * The consumer group the mapping's pollers join (`AmazonManagedKafkaEventSourceConfig.ConsumerGroupId`).
   * Replacing it starts a new group at `startingPosition`.
   */
  readonly consumerGroupId: string;
  /** Where a new consumer group starts reading: TRIM_HORIZON or LATEST. */
  readonly startingPosition: lambda.StartingPosition;
  /** Records per batch, 1-10,000. */
  readonly batchSize: number;
  /** How long records may wait to fill a batch. @default - Lambda's default (500 ms for Kafka) */
  readonly maxBatchingWindow?: Duration;
  /** Retries of a failing batch, 0-10 (Lambda caps retries at 10 when an on-failure destination is set). */
  readonly retryAttempts: number;
  /** Records older than this go to the on-failure destination unprocessed, 60 s-7 days. */
  readonly maxRecordAge: Duration;
  /** Where batches that exhaust their retries or age go. */
  readonly onFailure: lambda.IEventSourceDlq;
  /** Provisioned event pollers kept running, 1-200. */
  readonly minimumPollers: number;
  /** Most provisioned event pollers, 1-2,000. */
  readonly maximumPollers: number;
}

/**
 * An MSK topic as a Lambda event source, in provisioned-poller mode with the error controls that
 * need it: finite retries and record age, bisect on error, `ReportBatchItemFailures` and an
 * on-failure destination. It grants the function exactly what the mapping uses (no
 * `AWSLambdaMSKExecutionRole`): `kafka:DescribeClusterV2` and `kafka:GetBootstrapBrokers` on the
 * cluster, the network-interface actions Lambda's pollers need in the cluster's VPC, and the
 * consumer's `kafka-cluster:*` actions on the cluster, topic and group. StreamConsumer adds the
 * network the pollers need (security-group rules, the destination's VPC endpoint); used alone,
 * that is the caller's part.
 */
export class KafkaTopicEventSource implements lambda.IEventSource {
  private mapping?: lambda.EventSourceMapping;

  constructor(public readonly topic: IKafkaTopic, private readonly props: KafkaTopicEventSourceProps) {}

  public bind(target: lambda.IFunction): void {
    const p = this.props;
    const cluster = this.topic.cluster;
    this.mapping = target.addEventSourceMapping(`KafkaEventSource:${Names.nodeUniqueId(this.topic.node)}:${p.consumerGroupId}`, {
      eventSourceArn: cluster.clusterArn,
      kafkaTopic: this.topic.topicName,
      kafkaConsumerGroupId: p.consumerGroupId,
      startingPosition: p.startingPosition,
      batchSize: p.batchSize,
      maxBatchingWindow: p.maxBatchingWindow,
      retryAttempts: p.retryAttempts,
      maxRecordAge: p.maxRecordAge,
      bisectBatchOnError: true,
      reportBatchItemFailures: true,
      onFailure: p.onFailure,
      // Lambda applies the error controls above only to mappings in provisioned mode.
      provisionedPollerConfig: { minimumPollers: p.minimumPollers, maximumPollers: p.maximumPollers },
    });
    cluster.grantConsume(target, this.topic, p.consumerGroupId);
    // Lambda's MSK permissions page lists DescribeClusterDynamicConfiguration among the poller's data-plane actions.
    target.addToRolePolicy(new iam.PolicyStatement({
      actions: ['kafka:DescribeClusterV2', 'kafka:GetBootstrapBrokers', 'kafka-cluster:DescribeClusterDynamicConfiguration'],
      resources: [cluster.clusterArn],
    }));
    // The pollers attach network interfaces to the cluster's subnets under the function's role.
    target.addToRolePolicy(new iam.PolicyStatement({ actions: [...POLLER_NETWORK_ACTIONS], resources: ['*'] }));
    if (target.role) {
      acknowledge(target.role, {
        'AwsSolutions-IAM5[Resource::*]': 'Lambda\'s Kafka pollers create, describe and delete their network interfaces in the cluster\'s subnets under the function\'s role (AWSLambdaMSKExecutionRole lists the same actions on *): the interface ids are not known in advance and the ec2:Describe* actions take no resource-level permissions.',
      });
    }
  }

  /** The mapping's UUID. */
  public get eventSourceMappingId(): string {
    return this.bound().eventSourceMappingId;
  }

  /** The mapping's ARN. */
  public get eventSourceMappingArn(): string {
    return this.bound().eventSourceMappingArn;
  }

  private bound(): lambda.EventSourceMapping {
    if (!this.mapping) throw new Error('KafkaTopicEventSource is not yet bound to a function');
    return this.mapping;
  }
}

/** The EC2 actions of AWSLambdaMSKExecutionRole: what the pollers' network interfaces need. */
export const POLLER_NETWORK_ACTIONS = [
  'ec2:CreateNetworkInterface', 'ec2:DescribeNetworkInterfaces', 'ec2:DescribeVpcs',
  'ec2:DeleteNetworkInterface', 'ec2:DescribeSubnets', 'ec2:DescribeSecurityGroups',
] as const;

/** Default pollers kept running: one, the cheapest that keeps the error controls. */
export const DEFAULT_MINIMUM_POLLERS = 1;
/** Default retries of a Kafka batch before the on-failure destination. */
export const KAFKA_MAX_RETRY_ATTEMPTS = 10;
/** Default maximum record age of a Kafka mapping: Lambda's longest, so a consumer that falls behind still processes what the topic keeps. */
export const DEFAULT_KAFKA_MAX_RECORD_AGE = Duration.days(7);

/** The characters a consumer group id may hold: ASCII (MSK drops the lag metrics of other names), no '/' or '*' (they would change its IAM group ARN). */
const GROUP_ID = /^[A-Za-z0-9._:+=@-]{1,200}$/;

/** A stable, ASCII consumer group id from the construct's path. */
export function defaultConsumerGroupId(scope: Construct): string {
  return Names.uniqueResourceName(scope, { maxLength: 200, separator: '-', allowedSpecialCharacters: '-_.' });
}

/** Checks a consumer group id the user gave. */
export function validateConsumerGroupId(scope: Construct, id: string): void {
  if (Token.isUnresolved(id)) throw propError(scope, 'consumerGroupId', 'must be a literal string: it names the group in the IAM grant and the lag alarms');
  if (!GROUP_ID.test(id)) {
    throw propError(scope, 'consumerGroupId', `('${id}') must be 1-200 ASCII characters from A-Z a-z 0-9 . _ : + = @ -: MSK publishes no lag metrics for non-ASCII group names, and '/' or '*' would change the group's IAM ARN`);
  }
}

/** Checks the poller bounds; returns [minimum, maximum]. */
export function pollerBounds(scope: Construct, minimum: number | undefined, maximum: number | undefined, partitions: number): [number, number] {
  const min = minimum ?? DEFAULT_MINIMUM_POLLERS;
  if (!Number.isInteger(min) || min < 1 || min > 200) throw propError(scope, 'minimumPollers', `(${min}) must be an integer 1-200, Lambda's range`);
  // A partition is read by one poller at a time: pollers beyond the partitions stay idle.
  const max = maximum ?? Math.min(2000, Math.max(min, partitions));
  if (!Number.isInteger(max) || max < 1 || max > 2000) throw propError(scope, 'maximumPollers', `(${max}) must be an integer 1-2,000, Lambda's range`);
  if (min > max) throw propError(scope, 'minimumPollers', `(${min}) exceeds maximumPollers (${max})`);
  return [min, max];
}

/**
 * The network Lambda's pollers need: they run in the cluster's subnets with the cluster's security
 * groups, so those groups must let their own members reach the brokers, and reach AWS APIs (Lambda,
 * STS, the on-failure destination) on 443.
 */
export function allowPollers(topic: IKafkaTopic): void {
  const cluster = topic.cluster;
  cluster.connections.allowDefaultPortInternally('Lambda event pollers (in the cluster security groups) to the brokers');
  cluster.connections.allowTo(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'Lambda event pollers to the Lambda, STS and on-failure destination endpoints');
}

/**
 * The VPC endpoint Lambda needs to deliver failed batches from a Kafka mapping: its pollers run in the
 * cluster's VPC and reach the destination only through an endpoint there. An S3 gateway endpoint on the
 * cluster's subnets, or an SQS interface endpoint the cluster's security groups may reach.
 */
export function addDestinationEndpoint(scope: Construct, topic: IKafkaTopic, kind: 's3' | 'sqs'): ec2.IVpcEndpoint {
  const cluster = topic.cluster;
  if (kind === 's3') {
    return new ec2.GatewayVpcEndpoint(scope, 'FailureBucketEndpoint', { vpc: cluster.vpc, service: ec2.GatewayVpcEndpointAwsService.S3, subnets: [cluster.vpcSubnets] });
  }
  const endpoint = new ec2.InterfaceVpcEndpoint(scope, 'FailureQueueEndpoint', {
    vpc: cluster.vpc, service: ec2.InterfaceVpcEndpointAwsService.SQS, subnets: cluster.vpcSubnets, privateDnsEnabled: true, open: false,
  });
  endpoint.connections.allowDefaultPortFrom(cluster, 'Lambda event pollers deliver failed-batch metadata to SQS');
  return endpoint;
}

/** A Kinesis consumer refuses the props that only mean something for a topic. */
export function refuseTopicProps(scope: Construct, props: StreamConsumerProps): void {
  if (props.minimumPollers !== undefined || props.maximumPollers !== undefined) {
    throw propError(scope, props.minimumPollers !== undefined ? 'minimumPollers' : 'maximumPollers', 'applies to a `topic` only: Lambda has no provisioned pollers for Kinesis (CDK drops the setting)');
  }
  for (const prop of ['consumerGroupId', 'consumerLag'] as const) {
    if (props[prop] !== undefined) throw propError(scope, prop, 'applies to a `topic` only');
  }
  if (props.failureDestinationEndpoint !== undefined) throw propError(scope, 'failureDestinationEndpoint', 'applies to a `topic` only: Lambda reads Kinesis and delivers failed batches outside any VPC of yours');
}

/** A topic consumer refuses the props that only mean something for a Kinesis stream. */
export function refuseStreamProps(scope: Construct, props: StreamConsumerProps): void {
  const kinesisOnly: [keyof StreamConsumerProps, string][] = [
    ['enhancedFanOut', 'Kinesis enhanced fan-out'], ['startingAt', 'an AT_TIMESTAMP start'], ['streamRetention', 'a stream\'s retention'],
    ['redriveInto', 'the redrive into a stream'], ['parallelizationFactor', 'Kinesis\'s per-shard parallelization (a Kafka partition is read by one poller at a time)'],
  ];
  for (const [prop, what] of kinesisOnly) {
    if (props[prop] !== undefined) throw propError(scope, prop, `applies to a \`stream\` only (${what}); this consumer reads a \`topic\``);
  }
  if (props.redrive === true) throw propError(scope, 'redrive', 'applies to a `stream` only: the redrive function puts failed batches back into a Kinesis stream');
}
