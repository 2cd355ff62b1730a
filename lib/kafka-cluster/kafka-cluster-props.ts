import type { RemovalPolicy } from 'aws-cdk-lib';
import type * as cw from 'aws-cdk-lib/aws-cloudwatch';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type { KafkaBrokerProfileOptions } from '../core/kafka-configuration';
import type { KafkaClusterType } from '../core/kafka-refs';
import type { KafkaBrokerStorage } from '../core/kafka-storage';
import type { KafkaVersion } from '../core/kafka-version';

/** How clients authenticate to the brokers. IAM is always on; TLS in transit always. */
export class KafkaAuthentication {
  /** IAM access control only (port 9098): clients sign in with their AWS credentials, authorized by IAM policy. */
  public static iam(): KafkaAuthentication {
    return new KafkaAuthentication(false, []);
  }

  /**
   * IAM plus mutual TLS (port 9094) with client certificates issued by these AWS Private CA
   * authorities. Certificate clients are authorized by Kafka ACLs, not IAM: with
   * `allow.everyone.if.no.acl.found=false` they are denied until ACLs allow them. Standard and
   * Express brokers only.
   */
  public static iamAndMutualTls(certificateAuthorityArns: string[]): KafkaAuthentication {
    return new KafkaAuthentication(true, [...certificateAuthorityArns]);
  }

  /**
   * @param mutualTls whether mutual TLS is on besides IAM
   * @param certificateAuthorityArns ACM Private CA ARNs trusted for client certificates
   */
  private constructor(public readonly mutualTls: boolean, public readonly certificateAuthorityArns: string[]) {}
}

/** How much MSK publishes to CloudWatch (`EnhancedMonitoring`). */
export enum KafkaMonitoringLevel {
  /** Cluster-level metrics only (free). */
  DEFAULT = 'DEFAULT',
  /** Adds per-broker metrics (UnderMinIsrPartitionCount, KafkaDataLogsDiskUsed per broker): AWS's minimum for production. */
  PER_BROKER = 'PER_BROKER',
  /** Adds per-topic-per-broker metrics. */
  PER_TOPIC_PER_BROKER = 'PER_TOPIC_PER_BROKER',
  /** Adds per-partition metrics (OffsetLag, EstimatedTimeLag per partition). */
  PER_TOPIC_PER_PARTITION = 'PER_TOPIC_PER_PARTITION',
}

/** The explicit request to reach the brokers from the internet. */
export interface KafkaPublicAccess {
  /** Why the brokers must be reachable from the internet (kept in the construct tree for review). */
  readonly reason: string;
}

/** Properties of a {@link KafkaCluster}. */
export interface KafkaClusterProps extends KafkaBrokerProfileOptions {
  /** The VPC of the brokers' (or the Serverless cluster's) client subnets. */
  readonly vpc: ec2.IVpc;
  /**
   * The client subnets: one per availability zone is used, in 3 AZs (the first 3 if more are selected).
   * Create-only: changing them replaces the cluster.
   * @default - the VPC's private subnets
   */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /** Standard brokers, Express brokers or Serverless. @default KafkaClusterType.PROVISIONED */
  readonly clusterType?: KafkaClusterType;
  /**
   * The cluster name (letters, digits and '-', starting with a letter, up to 64). Create-only.
   * @default - a name unique to this construct's path
   */
  readonly clusterName?: string;
  /** Kafka version, KRaft mode. Not for Serverless. @default KafkaVersion.V3_9_X_KRAFT */
  readonly kafkaVersion?: KafkaVersion;
  /** Number of brokers: a multiple of the AZ count (3). Not for Serverless. @default 3 */
  readonly brokerCount?: number;
  /**
   * Broker instance type: `kafka.*` for Standard brokers, `express.*` for Express. Not for Serverless.
   * @default 'kafka.m7g.large' (Standard), 'express.m7g.large' (Express)
   */
  readonly instanceType?: string;
  /**
   * EBS storage of each Standard broker and its autoscaling. Its `volumeSize` must never change after
   * creation (see {@link KafkaBrokerStorage.volumeSize}). Not for Express (AWS manages storage) or Serverless.
   * @default - 100 GiB per broker, autoscaling to 1,000 GiB at 60% utilization
   */
  readonly storage?: KafkaBrokerStorage;
  /** Client authentication. Serverless takes IAM only. @default KafkaAuthentication.iam() */
  readonly authentication?: KafkaAuthentication;
  /**
   * Customer-managed key for data at rest and the broker log group. A given key must let CloudWatch
   * Logs (`logs.<region>.amazonaws.com`) use it. Not for Serverless (AWS-owned encryption).
   * @default - a created key with yearly rotation (PipelineKey)
   */
  readonly encryptionKey?: kms.IKey;
  /** Retention of the broker log group. Not for Serverless (no broker logs). @default logs.RetentionDays.ONE_YEAR */
  readonly brokerLogRetention?: logs.RetentionDays;
  /** CloudWatch metrics level. Not for Serverless. @default KafkaMonitoringLevel.PER_BROKER */
  readonly enhancedMonitoring?: KafkaMonitoringLevel;
  /**
   * Turns on public access (`SERVICE_PROVIDED_EIPS`, IAM on port 9198), with the reason. MSK refuses it
   * when it creates a cluster: deploy the cluster first (in public subnets, `vpcSubnets`), then add
   * this prop in a second deployment. Not for Serverless.
   * @default - no public access
   */
  readonly publicAccess?: KafkaPublicAccess;
  /** Security groups of the brokers. @default - one created group, with no ingress until `connections` allows it */
  readonly securityGroups?: ec2.ISecurityGroup[];
  /**
   * Action of the alarms that page (no active controller, offline partitions, partitions under min ISR,
   * full disks) and of the composite alarm (see the README's paging table); consumer-lag alarms of
   * `addConsumerLagAlarms` feed the composite.
   * @default - an encrypted SNS topic is created (`monitor.alarmTopic`); subscribe your pager to it
   */
  readonly alarmAction?: cw.IAlarmAction;
  /**
   * What happens to the cluster (and its configuration) when it leaves the stack or is replaced.
   * RETAIN keeps the data: a replacement then fails on the name still in use instead of deleting the old cluster.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}
