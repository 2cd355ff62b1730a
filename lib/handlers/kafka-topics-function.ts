import { Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { BundledFunction } from './bundled-function';
import type { IKafkaCluster } from '../core/kafka-refs';

/** Properties of a {@link KafkaTopicsFunction}. */
export interface KafkaTopicsFunctionProps {
  /** The cluster whose topics the function manages. */
  readonly cluster: IKafkaCluster;
  /** Key for the log group and environment. */
  readonly encryptionKey: kms.IKey;
}

/** The Kafka admin actions the handler's requests need on a topic (lambda/kafka-topics/admin.ts). */
const TOPIC_ACTIONS = [
  'kafka-cluster:CreateTopic', // CreateTopics
  'kafka-cluster:DescribeTopic', // Metadata
  'kafka-cluster:AlterTopic', // CreatePartitions
  'kafka-cluster:DescribeTopicDynamicConfiguration', // DescribeConfigs
  'kafka-cluster:AlterTopicDynamicConfiguration', // AlterConfigs
];

/**
 * The bundled kafka-topics handler: the function behind {@link KafkaTopicResource}. It runs in
 * the cluster's subnets, reaches the brokers on the IAM/TLS port and authenticates as its role
 * (SASL/IAM), so it needs the Kafka API (`kafka:GetBootstrapBrokers`) and a route to it (NAT or an
 * interface endpoint), like any client of an MSK cluster. Its role holds only what
 * {@link allowTopic} grants on each exact topic ARN.
 */
export class KafkaTopicsFunction extends Construct {
  /** The function. */
  public readonly function: lambda.IFunction;
  private readonly cluster: IKafkaCluster;

  constructor(scope: Construct, id: string, props: KafkaTopicsFunctionProps) {
    super(scope, id);
    this.cluster = props.cluster;
    const fn = new BundledFunction(this, 'Function', {
      handler: 'kafka-topics',
      encryptionKey: props.encryptionKey,
      vpc: props.cluster.vpc,
      vpcSubnets: props.cluster.vpcSubnets,
      // Topic operations take seconds; the handler answers CloudFormation FAILED 15 s before this.
      timeout: Duration.minutes(5),
      synchronousInvoker: 'CloudFormation invokes it for topic changes.',
      asynchronousInvoker: 'CloudFormation invokes this custom-resource function asynchronously and waits for the response the function PUTs itself: '
        + 'a failure is answered FAILED (or times out the resource), which fails and rolls back the deployment, so no request is lost silently and a DLQ or destination would hold nothing to act on.',
    }).function;
    props.cluster.connections.allowDefaultPortFrom(fn, 'the topics custom resource (Kafka admin over IAM/TLS)');
    fn.addToRolePolicy(new iam.PolicyStatement({
      actions: ['kafka:GetBootstrapBrokers', 'kafka-cluster:Connect'],
      resources: [props.cluster.clusterArn],
    }));
    this.function = fn;
  }

  /**
   * Lets the function manage topic `topicName`: create, describe, add partitions, read and set
   * configs; and delete it if `deletable` (a topic whose removal policy is destroy).
   */
  public allowTopic(topicName: string, deletable: boolean): void {
    this.function.addToRolePolicy(new iam.PolicyStatement({
      actions: deletable ? [...TOPIC_ACTIONS, 'kafka-cluster:DeleteTopic'] : TOPIC_ACTIONS,
      resources: [this.cluster.topicArn(topicName)],
    }));
  }
}
