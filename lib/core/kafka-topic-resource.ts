import { CustomResource, Duration, Names, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { propError } from './errors';
import { KafkaClusterType, type IKafkaCluster } from './kafka-refs';
import { KafkaTopicsFunction } from '../handlers/kafka-topics-function';

/** Properties of a {@link KafkaTopicResource}. */
export interface KafkaTopicResourceProps {
  /** The cluster holding the topic. */
  readonly cluster: IKafkaCluster;
  /** The topic name. */
  readonly topicName: string;
  /** Number of partitions; it can only grow. */
  readonly partitions: number;
  /**
   * Replicas of each partition; it cannot change after creation.
   * @default - the cluster's `default.replication.factor` (MSK Serverless: 3, fixed)
   */
  readonly replicationFactor?: number;
  /**
   * Topic-level configs. Those dropped on an update return to the broker default; configs set on the
   * topic by others are kept.
   * @default - none
   */
  readonly configs?: { [key: string]: string };
  /** Key for the custom resource function's logs and environment. */
  readonly encryptionKey: kms.IKey;
  /**
   * Lets a new `topicName` (or cluster) create a new topic in place of this one; the old topic is
   * kept unless `removalPolicy` is DESTROY.
   * @default false: the deployment fails and rolls back
   */
  readonly allowReplacement?: boolean;
  /**
   * What happens to the topic when the resource is removed or replaced. DESTROY deletes the topic
   * and its records.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * A Kafka topic managed by a custom resource, for clusters `AWS::MSK::Topic` does not serve (MSK
 * Serverless). The function ({@link KafkaTopicsFunction}, one per cluster and key in a stack) runs
 * Kafka admin requests over IAM/TLS from the cluster's subnets. It creates the topic, adds
 * partitions and sets configs; it refuses what would lose data or cannot be done in place (fewer
 * partitions, another replication factor, a rename without `allowReplacement`, and on Serverless a
 * `cleanup.policy` change), failing the deployment so CloudFormation rolls back.
 *
 * The physical id is the topic ARN, so a rename is a replacement; the old topic is deleted only
 * under `RemovalPolicy.DESTROY`.
 */
export class KafkaTopicResource extends Construct {
  /** The topic ARN (the resource's physical id): depending on it waits for the topic to exist. */
  public readonly topicArn: string;
  /** The custom resource. */
  public readonly resource: CustomResource;
  /** The function behind it, shared by the cluster's topics in this stack. */
  public readonly handler: KafkaTopicsFunction;

  constructor(scope: Construct, id: string, props: KafkaTopicResourceProps) {
    super(scope, id);
    // The handler checks these too, but at deploy time; here they fail where they are cheap to fix.
    if (!Token.isUnresolved(props.topicName) && (!/^[a-zA-Z0-9._-]{1,249}$/.test(props.topicName) || props.topicName === '.' || props.topicName === '..')) {
      throw propError(this, 'topicName', `('${props.topicName}') must be 1–249 characters of [a-zA-Z0-9._-], and not '.' or '..' (Kafka's topic name rule).`);
    }
    if (!Token.isUnresolved(props.partitions) && (!Number.isInteger(props.partitions) || props.partitions < 1)) {
      throw propError(this, 'partitions', `(${props.partitions}) must be a whole number of at least 1.`);
    }
    const rf = props.replicationFactor;
    if (rf !== undefined && !Token.isUnresolved(rf) && (!Number.isInteger(rf) || rf < 1)) {
      throw propError(this, 'replicationFactor', `(${rf}) must be a whole number of at least 1.`);
    }
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const destroy = removalPolicy === RemovalPolicy.DESTROY;
    this.handler = topicsFunction(this, props.cluster, props.encryptionKey);
    this.handler.allowTopic(props.topicName, destroy);
    this.resource = new CustomResource(this, 'Resource', {
      resourceType: 'Custom::KafkaTopic',
      serviceToken: this.handler.function.functionArn,
      // Beyond the function's 5 minutes, so the function's own FAILED answer arrives first.
      serviceTimeout: Duration.minutes(10),
      properties: {
        ClusterArn: props.cluster.clusterArn,
        TopicName: props.topicName,
        Partitions: props.partitions,
        ReplicationFactor: props.replicationFactor,
        Configs: props.configs ?? {},
        AllowReplacement: props.allowReplacement ?? false,
        RemovalPolicy: destroy ? 'destroy' : 'retain',
        Serverless: props.cluster.clusterType === KafkaClusterType.SERVERLESS,
      },
      // RETAIN also stops CloudFormation from sending the Delete at all: two guards, not one.
      removalPolicy,
    });
    // The route to the brokers must exist before the first request. (The role policy does: the
    // function depends on it, and the resource on the function through its ServiceToken.)
    for (const sg of props.cluster.connections.securityGroups) this.resource.node.addDependency(sg);
    this.topicArn = this.resource.ref;
  }
}

/** The stack's topics function for `cluster` and `key`, created on first use. */
function topicsFunction(scope: Construct, cluster: IKafkaCluster, key: kms.IKey): KafkaTopicsFunction {
  const stack = Stack.of(scope);
  const id = `KafkaTopics${Names.nodeUniqueId(cluster.node).slice(-8)}${Names.nodeUniqueId(key.node).slice(-8)}`;
  return (stack.node.tryFindChild(id) as KafkaTopicsFunction | undefined) ?? new KafkaTopicsFunction(stack, id, { cluster, encryptionKey: key });
}
