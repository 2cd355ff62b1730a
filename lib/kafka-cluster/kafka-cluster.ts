import { Names, RemovalPolicy, type CfnResource } from 'aws-cdk-lib';
import type * as cw from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as msk from 'aws-cdk-lib/aws-msk';
import { Construct } from 'constructs';
import { KafkaAuthentication, KafkaMonitoringLevel, type KafkaClusterProps } from './kafka-cluster-props';
import { propError } from '../core/errors';
import { KafkaConfiguration, validateBrokerLayout } from '../core/kafka-configuration';
import { grantKafkaBootstrap, grantKafkaConsume, grantKafkaProduce, kafkaResourceArn } from '../core/kafka-grants';
import { KafkaMonitor } from '../core/kafka-monitor';
import { KafkaClusterType, type ConsumerLagOptions, type IKafkaCluster, type IKafkaTopic } from '../core/kafka-refs';
import { KafkaStorageAutoScaling, resolveBrokerStorage } from '../core/kafka-storage';
import { KafkaTopic, type KafkaTopicOptions } from '../core/kafka-topic';
import { KafkaVersion } from '../core/kafka-version';
import { PipelineKey } from '../core/pipeline-key';

/** Props that configure brokers, so Serverless refuses them; the first list also applies to Express. */
const BROKER_STORAGE_PROPS = ['storage', 'defaultReplicationFactor', 'minInsyncReplicas', 'uncleanLeaderElection', 'uncleanLeaderElectionAcknowledgement'] as const;
const BROKER_PROPS = [...BROKER_STORAGE_PROPS, 'kafkaVersion', 'brokerCount', 'instanceType', 'numPartitions', 'logRetention',
  'additionalServerProperties', 'encryptionKey', 'brokerLogRetention', 'enhancedMonitoring', 'publicAccess'] as const;

/** IAM over TLS: MSK's private bootstrap port for IAM clients. */
const IAM_PORT = 9098;

/**
 * An Amazon MSK cluster that does not lose an acknowledged record to a broker or AZ failure:
 * 3 AZs, KRaft, replication factor 3 with min.insync.replicas 2 and unclean leader election off,
 * IAM auth over TLS only, a customer-managed key at rest, broker logs to an encrypted log group,
 * storage autoscaling, and exact `kafka-cluster:*` grants. Express brokers and Serverless are options.
 */
export class KafkaCluster extends Construct implements IKafkaCluster {
  public readonly clusterArn: string;
  public readonly clusterName: string;
  public readonly clusterType: KafkaClusterType;
  public readonly vpc: ec2.IVpc;
  public readonly vpcSubnets: ec2.SubnetSelection;
  public readonly brokerCount?: number;
  public readonly kafkaVersion?: string;
  public readonly brokerInstanceType?: string;
  /** The brokers' security groups; the default port is 9098 (IAM over TLS). */
  public readonly connections: ec2.Connections;
  /** The cluster resource: `AWS::MSK::Cluster`, or `AWS::MSK::ServerlessCluster`. */
  public readonly resource: CfnResource;
  /** The broker configuration (the no-loss profile), for Standard and Express brokers. */
  public readonly configuration?: KafkaConfiguration;
  /**
   * The key encrypting data at rest and the broker logs; on Serverless (whose data MSK encrypts with
   * an AWS-owned key) a key of the construct's own resources only: the alarm topic and the topics
   * custom resource's logs.
   */
  public readonly encryptionKey: kms.IKey;
  /** The broker log group (not for Serverless). */
  public readonly brokerLogGroup?: logs.ILogGroup;
  /** Storage autoscaling (Standard brokers only). */
  public readonly storageAutoScaling?: KafkaStorageAutoScaling;
  /** What the cluster's alarms notify. */
  public readonly alarmAction?: cw.IAlarmAction;
  /** Alarms (per the README's paging table) and the dashboard. */
  public readonly monitor: KafkaMonitor;
  private policy?: iam.PolicyDocument;

  constructor(scope: Construct, id: string, props: KafkaClusterProps) {
    super(scope, id);
    this.clusterType = props.clusterType ?? KafkaClusterType.PROVISIONED;
    this.vpc = props.vpc;
    this.alarmAction = props.alarmAction;
    this.clusterName = props.clusterName ?? Names.uniqueResourceName(this, { maxLength: 64, separator: '-' });
    this.validateApplicable(props);
    const subnets = this.selectSubnets(props);
    this.vpcSubnets = { subnets };
    // A fixed description: it is create-only, and a new group would replace the cluster (SecurityGroups is create-only too).
    const securityGroups = props.securityGroups ?? [new ec2.SecurityGroup(this, 'Brokers', {
      vpc: this.vpc, allowAllOutbound: false, description: 'MSK brokers: clients reach them through the cluster connections',
    })];
    this.connections = new ec2.Connections({ securityGroups, defaultPort: ec2.Port.tcp(IAM_PORT) });
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;

    if (this.clusterType === KafkaClusterType.SERVERLESS) {
      const serverless = new msk.CfnServerlessCluster(this, 'Resource', {
        clusterName: this.clusterName,
        vpcConfigs: [{ subnetIds: subnets.map((s) => s.subnetId), securityGroups: securityGroups.map((g) => g.securityGroupId) }],
        clientAuthentication: { sasl: { iam: { enabled: true } } },
      });
      this.resource = serverless;
      this.clusterArn = serverless.attrArn;
      this.encryptionKey = new PipelineKey(this, 'Key', { description: `MSK Serverless ${this.clusterName}: alarm topic and topic-management logs` }).key;
    } else {
      const express = this.clusterType === KafkaClusterType.EXPRESS;
      const version = props.kafkaVersion ?? KafkaVersion.V3_9_X_KRAFT;
      version.validate(this, 'kafkaVersion', express);
      this.kafkaVersion = version.version;
      this.brokerCount = props.brokerCount ?? 3;
      validateBrokerLayout(this, subnets.length, this.brokerCount);
      this.brokerInstanceType = this.instanceType(props.instanceType, express);
      const storage = express ? undefined : resolveBrokerStorage(this, 'storage', props.storage);
      this.configuration = new KafkaConfiguration(this, 'Configuration', { ...props, clusterType: this.clusterType, brokerCount: this.brokerCount, removalPolicy });
      this.encryptionKey = new PipelineKey(this, 'Key', { key: props.encryptionKey, description: `MSK ${this.clusterName} data and broker logs` }).key;
      this.brokerLogGroup = new logs.LogGroup(this, 'BrokerLogs', {
        encryptionKey: this.encryptionKey,
        retention: props.brokerLogRetention ?? logs.RetentionDays.ONE_YEAR,
        removalPolicy: RemovalPolicy.RETAIN,
      });
      const auth = props.authentication ?? KafkaAuthentication.iam();
      const cluster = new msk.CfnCluster(this, 'Resource', {
        clusterName: this.clusterName,
        kafkaVersion: this.kafkaVersion,
        numberOfBrokerNodes: this.brokerCount,
        brokerNodeGroupInfo: {
          instanceType: this.brokerInstanceType,
          clientSubnets: subnets.map((s) => s.subnetId),
          securityGroups: securityGroups.map((g) => g.securityGroupId),
          storageInfo: storage ? { ebsStorageInfo: { volumeSize: storage.volumeGib } } : undefined,
          // Multi-VPC connectivity is never rendered: MSK refuses it at creation, and the
          // connectivity custom resource (kafka-multi-vpc) owns it afterwards.
          connectivityInfo: props.publicAccess ? { publicAccess: { type: 'SERVICE_PROVIDED_EIPS' } } : undefined,
        },
        clientAuthentication: {
          sasl: { iam: { enabled: true } },
          tls: auth.mutualTls ? { enabled: true, certificateAuthorityArnList: auth.certificateAuthorityArns } : undefined,
          unauthenticated: { enabled: false },
        },
        encryptionInfo: {
          encryptionAtRest: { dataVolumeKmsKeyId: this.encryptionKey.keyArn },
          encryptionInTransit: { clientBroker: 'TLS', inCluster: true },
        },
        configurationInfo: { arn: this.configuration.resource.attrArn, revision: this.configuration.resource.attrLatestRevisionRevision },
        loggingInfo: { brokerLogs: { cloudWatchLogs: { enabled: true, logGroup: this.brokerLogGroup.logGroupName } } },
        enhancedMonitoring: props.enhancedMonitoring ?? KafkaMonitoringLevel.PER_BROKER,
      });
      this.resource = cluster;
      this.clusterArn = cluster.attrArn;
      if (storage) this.storageAutoScaling = new KafkaStorageAutoScaling(this, 'StorageAutoScaling', { clusterArn: this.clusterArn, storage });
    }
    this.resource.applyRemovalPolicy(removalPolicy);
    this.monitor = new KafkaMonitor(this, 'Monitor', {
      clusterName: this.clusterName, clusterType: this.clusterType, brokerCount: this.brokerCount,
      alarmAction: props.alarmAction, encryptionKey: this.encryptionKey,
    });
    // MSK publishes metrics once the cluster is ACTIVE: alarms that count missing data as breaching wait for it.
    this.monitor.node.addDependency(this.resource);
  }

  /**
   * A topic of this cluster, as code: `AWS::MSK::Topic` (retained) on Standard and Express brokers,
   * a custom resource on Serverless. A change that would replace it is refused at synth unless
   * `allowReplacement` (see the topics lock file).
   */
  public addTopic(id: string, options: KafkaTopicOptions): KafkaTopic {
    return new KafkaTopic(this, id, { ...options, cluster: this, encryptionKey: options.encryptionKey ?? this.encryptionKey });
  }

  public topicArn(topicName: string): string {
    return kafkaResourceArn(this, this.clusterArn, 'topic', topicName);
  }

  public groupArn(groupId: string): string {
    return kafkaResourceArn(this, this.clusterArn, 'group', groupId);
  }

  public grantProduce(grantee: iam.IGrantable, topic: IKafkaTopic): iam.Grant {
    return grantKafkaProduce(grantee, this.clusterArn, topic.topicArn);
  }

  public grantConsume(grantee: iam.IGrantable, topic: IKafkaTopic, groupId: string): iam.Grant {
    return grantKafkaConsume(grantee, this.clusterArn, topic.topicArn, this.groupArn(groupId));
  }

  /**
   * Lets `grantee` find the brokers from the cluster ARN: `kafka:GetBootstrapBrokers` and
   * `kafka:DescribeClusterV2` on this cluster (what an IAM Kafka client calls before it connects).
   */
  public grantBootstrap(grantee: iam.IGrantable): iam.Grant {
    return grantKafkaBootstrap(grantee, this.clusterArn);
  }

  public addToResourcePolicy(statement: iam.PolicyStatement): void {
    if (this.clusterType === KafkaClusterType.SERVERLESS) {
      throw propError(this, 'clusterType', '(serverless) has no cluster policy (AWS::MSK::ClusterPolicy is for provisioned clusters)');
    }
    if (!this.policy) {
      this.policy = new iam.PolicyDocument();
      new msk.CfnClusterPolicy(this, 'Policy', { clusterArn: this.clusterArn, policy: this.policy });
    }
    this.policy.addStatements(statement);
  }

  /**
   * Alarms on consumer group `groupId`'s lag on `topic` (`MaxOffsetLag`, `EstimatedMaxTimeLag`),
   * through the cluster's monitor. MSK drops lag metrics of groups whose id is not ASCII or has a
   * colon, so such an id is refused.
   */
  public addConsumerLagAlarms(groupId: string, topic: IKafkaTopic, options?: ConsumerLagOptions): void {
    this.monitor.addConsumerLag(groupId, topic.topicName, options);
  }

  /** Refuses props that configure brokers on a cluster type that has none of them to configure. */
  private validateApplicable(props: KafkaClusterProps): void {
    const fixed = this.clusterType === KafkaClusterType.SERVERLESS ? BROKER_PROPS
      : this.clusterType === KafkaClusterType.EXPRESS ? ['storage'] as const : [];
    const why = this.clusterType === KafkaClusterType.SERVERLESS
      ? 'does not apply to MSK Serverless, which has no brokers, configuration, customer key or broker logs to set'
      : 'does not apply to Express brokers: AWS manages their storage';
    for (const prop of fixed) {
      if (props[prop] !== undefined) throw propError(this, prop, why);
    }
    if (this.clusterType === KafkaClusterType.SERVERLESS && props.authentication?.mutualTls) {
      throw propError(this, 'authentication', '(IAM and mutual TLS) is not possible on MSK Serverless, which takes IAM access control only');
    }
    if (props.authentication?.mutualTls && props.authentication.certificateAuthorityArns.length === 0) {
      throw propError(this, 'authentication', '(IAM and mutual TLS) names no certificate authority to trust for client certificates');
    }
    if (props.publicAccess && !props.publicAccess.reason?.trim()) {
      throw propError(this, 'publicAccess.reason', 'must say why the brokers must be reachable from the internet');
    }
    if (props.clusterName !== undefined && !/^[a-zA-Z][a-zA-Z0-9-]{0,63}$/.test(props.clusterName)) {
      throw propError(this, 'clusterName', `('${props.clusterName}') must be 1-64 letters, digits and '-', starting with a letter`);
    }
  }

  /** One client subnet per AZ, in at most 3 AZs (MSK takes 2 or 3 subnets, each in its own AZ). */
  private selectSubnets(props: KafkaClusterProps): ec2.ISubnet[] {
    const subnets = this.vpc.selectSubnets({ ...props.vpcSubnets, onePerAz: true }).subnets.slice(0, 3);
    if (this.clusterType === KafkaClusterType.SERVERLESS && subnets.length < 2) {
      throw propError(this, 'vpcSubnets', `(${subnets.length} availability zone) must span at least 2 availability zones (MSK Serverless)`);
    }
    if (props.publicAccess) {
      const publicIds = new Set(this.vpc.publicSubnets.map((s) => s.subnetId));
      if (!subnets.every((s) => publicIds.has(s.subnetId))) {
        throw propError(this, 'vpcSubnets', 'must select public subnets when `publicAccess` is on: MSK only gives brokers in public subnets public addresses, and the subnets cannot change after creation');
      }
    }
    return subnets;
  }

  private instanceType(given: string | undefined, express: boolean): string {
    const prefix = express ? 'express.' : 'kafka.';
    const type = given ?? `${prefix}m7g.large`;
    if (!type.startsWith(prefix)) {
      throw propError(this, 'instanceType', `('${type}') must be a${express ? 'n Express' : ' Standard'} broker type (\`${prefix}*\`) for \`clusterType\` ${this.clusterType}`);
    }
    return type;
  }
}
