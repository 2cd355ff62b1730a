import { Fn, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { IConstruct } from 'constructs';

/** Kinds of MSK resource IAM authorizes Kafka actions on, below a cluster. */
type KafkaResourceKind = 'topic' | 'group' | 'transactional-id';

/**
 * ARN of a topic, group or transactional id of the cluster `clusterArn`
 * (`arn:<partition>:kafka:<region>:<account>:<kind>/<cluster name>/<cluster uuid>/<name>`).
 * The cluster ARN (`…:cluster/<name>/<uuid>`) is only known at deploy time, so the name and uuid
 * are its 2nd and 3rd '/'-separated fields, selected by CloudFormation.
 */
export function kafkaResourceArn(scope: IConstruct, clusterArn: string, kind: KafkaResourceKind, name: string): string {
  const stack = Stack.of(scope);
  const parts = Fn.split('/', clusterArn, 3);
  return Fn.join('', [
    `arn:${stack.partition}:kafka:${stack.region}:${stack.account}:${kind}/`,
    Fn.select(1, parts), '/', Fn.select(2, parts), '/', name,
  ]);
}

/** `kafka-cluster:` data-plane actions of a producer (MSK IAM access control, "common use cases"). */
export const PRODUCE_CLUSTER_ACTIONS = ['kafka-cluster:Connect', 'kafka-cluster:WriteDataIdempotently'];
/** Producer actions on the topic. */
export const PRODUCE_TOPIC_ACTIONS = ['kafka-cluster:DescribeTopic', 'kafka-cluster:WriteData'];
/** Consumer actions on the cluster (many clients describe the cluster before they join a group). */
export const CONSUME_CLUSTER_ACTIONS = ['kafka-cluster:Connect', 'kafka-cluster:DescribeCluster'];
/** Consumer actions on the topic. */
export const CONSUME_TOPIC_ACTIONS = ['kafka-cluster:DescribeTopic', 'kafka-cluster:ReadData'];
/** Consumer actions on its group (AlterGroup is Kafka's READ on the group: joining and committing offsets). */
export const CONSUME_GROUP_ACTIONS = ['kafka-cluster:DescribeGroup', 'kafka-cluster:AlterGroup'];

/**
 * Lets `grantee` produce to the topic `topicArn` of cluster `clusterArn` with idempotence (on by
 * default in Java clients from 3.0, needed for exactly-once-per-session writes).
 */
export function grantKafkaProduce(grantee: iam.IGrantable, clusterArn: string, topicArn: string): iam.Grant {
  return iam.Grant.addToPrincipal({ grantee, actions: PRODUCE_CLUSTER_ACTIONS, resourceArns: [clusterArn] })
    .combine(iam.Grant.addToPrincipal({ grantee, actions: PRODUCE_TOPIC_ACTIONS, resourceArns: [topicArn] }));
}

/** Lets `grantee` consume the topic `topicArn` as the consumer group `groupArn` of cluster `clusterArn`. */
export function grantKafkaConsume(grantee: iam.IGrantable, clusterArn: string, topicArn: string, groupArn: string): iam.Grant {
  return iam.Grant.addToPrincipal({ grantee, actions: CONSUME_CLUSTER_ACTIONS, resourceArns: [clusterArn] })
    .combine(iam.Grant.addToPrincipal({ grantee, actions: CONSUME_TOPIC_ACTIONS, resourceArns: [topicArn] }))
    .combine(iam.Grant.addToPrincipal({ grantee, actions: CONSUME_GROUP_ACTIONS, resourceArns: [groupArn] }));
}

/**
 * Lets `grantee` look up the brokers' IAM endpoints (`kafka:GetBootstrapBrokers`) and describe the
 * cluster (`kafka:DescribeClusterV2`, which Serverless requires): what a client that finds its brokers
 * from the cluster ARN (lambda/shared/kafka/msk-iam.ts) calls before it connects.
 */
export function grantKafkaBootstrap(grantee: iam.IGrantable, clusterArn: string): iam.Grant {
  return iam.Grant.addToPrincipal({ grantee, actions: ['kafka:GetBootstrapBrokers', 'kafka:DescribeClusterV2'], resourceArns: [clusterArn] });
}
