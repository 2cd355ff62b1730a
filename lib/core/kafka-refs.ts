import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type { IConstruct } from 'constructs';

/** How an MSK cluster's brokers are provided. */
export enum KafkaClusterType {
  /**
   * MSK Provisioned with Standard brokers: the construct's broker configuration (the no-loss
   * profile), EBS storage with autoscaling, 3 AZs.
   */
  PROVISIONED = 'provisioned',
  /**
   * MSK Provisioned with Express brokers: AWS fixes `default.replication.factor=3`,
   * `min.insync.replicas=2` and `unclean.leader.election.enable=false` (read-only), and manages storage.
   */
  EXPRESS = 'express',
  /** MSK Serverless: IAM access control only, no broker configuration, AWS-managed encryption. */
  SERVERLESS = 'serverless',
}

/** Consumer-lag alarm thresholds of one consumer group on one topic. */
export interface ConsumerLagOptions {
  /** Alarm when the group's largest partition lag (`MaxOffsetLag`) exceeds this many records. @default 100,000 */
  readonly maxOffsetLag?: number;
  /** Alarm when the group's estimated time lag (`EstimatedMaxTimeLag`) exceeds this many seconds. @default 900 */
  readonly maxTimeLagSeconds?: number;
}

/** An MSK cluster the library's constructs can read from, write to and grant on. */
export interface IKafkaCluster extends IConstruct, ec2.IConnectable {
  /** The cluster ARN (`arn:…:kafka:<region>:<account>:cluster/<name>/<uuid>`). */
  readonly clusterArn: string;
  /** The cluster name: the `Cluster Name` dimension of its metrics. */
  readonly clusterName: string;
  /** Provisioned (Standard brokers), Express or Serverless. */
  readonly clusterType: KafkaClusterType;
  /** The VPC of the cluster's client subnets. */
  readonly vpc: ec2.IVpc;
  /** The cluster's client subnets: where in-VPC clients (Lambda) run. */
  readonly vpcSubnets: ec2.SubnetSelection;
  /** Number of brokers. @default - unknown (Serverless) */
  readonly brokerCount?: number;
  /** The MSK Kafka version string (e.g. `3.9.x.kraft`). @default - unknown (Serverless) */
  readonly kafkaVersion?: string;
  /** The broker instance type (e.g. `kafka.m7g.large`, `express.m7g.large`). @default - unknown (Serverless) */
  readonly brokerInstanceType?: string;

  /** ARN of a topic of this cluster (`…:topic/<cluster name>/<cluster uuid>/<topic>`), for IAM. */
  topicArn(topicName: string): string;
  /** ARN of a consumer group of this cluster (`…:group/<cluster name>/<cluster uuid>/<group>`), for IAM. */
  groupArn(groupId: string): string;
  /**
   * Lets `grantee` produce to `topic` with idempotence: `kafka-cluster:Connect` and
   * `WriteDataIdempotently` on the cluster, `DescribeTopic` and `WriteData` on the topic.
   */
  grantProduce(grantee: iam.IGrantable, topic: IKafkaTopic): iam.Grant;
  /**
   * Lets `grantee` consume `topic` as consumer group `groupId`: `kafka-cluster:Connect` and
   * `DescribeCluster` on the cluster, `DescribeTopic` and `ReadData` on the topic, `DescribeGroup`
   * and `AlterGroup` on the group.
   */
  grantConsume(grantee: iam.IGrantable, topic: IKafkaTopic, groupId: string): iam.Grant;
  /**
   * Adds a statement to the cluster's resource policy (`AWS::MSK::ClusterPolicy`, created on first
   * use), e.g. letting Firehose create a multi-VPC connection. Not for Serverless clusters.
   */
  addToResourcePolicy(statement: iam.PolicyStatement): void;
  /** Alarms on a consumer group's lag on a topic (`MaxOffsetLag`, `EstimatedMaxTimeLag`). */
  addConsumerLagAlarms(groupId: string, topic: IKafkaTopic, options?: ConsumerLagOptions): void;
}

/** A topic of an MSK cluster. */
export interface IKafkaTopic extends IConstruct {
  /** The topic name. */
  readonly topicName: string;
  /** The topic ARN, for IAM. */
  readonly topicArn: string;
  /** The cluster holding the topic. */
  readonly cluster: IKafkaCluster;
  /** Number of partitions. */
  readonly partitions: number;
}
