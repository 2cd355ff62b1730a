/**
 * A stand-in IKafkaCluster for tests of the constructs that use a cluster (the lake source, the
 * event source, the replay sink), so they need not build a whole KafkaCluster. Its grants are
 * the exact ones IKafkaCluster documents; KafkaCluster's own tests check the real ones.
 */
import { Fn, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { KafkaClusterType, type ConsumerLagOptions, type IKafkaCluster, type IKafkaTopic } from '../../lib/core/kafka-refs';

export class StubKafkaCluster extends Construct implements IKafkaCluster {
  public readonly clusterArn: string;
  public readonly clusterName: string;
  public readonly clusterType: KafkaClusterType;
  public readonly vpc: ec2.IVpc;
  public readonly vpcSubnets: ec2.SubnetSelection = { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };
  public readonly brokerCount?: number;
  public readonly kafkaVersion?: string;
  public readonly brokerInstanceType?: string;
  public readonly connections: ec2.Connections;
  public readonly policyStatements: iam.PolicyStatement[] = [];
  public readonly lagAlarms: { groupId: string; topic: string; options?: ConsumerLagOptions }[] = [];

  constructor(scope: Construct, id: string, props: { vpc?: ec2.IVpc; clusterType?: KafkaClusterType; clusterName?: string } = {}) {
    super(scope, id);
    this.vpc = props.vpc ?? new ec2.Vpc(this, 'Vpc', { maxAzs: 3, natGateways: 1 });
    this.clusterType = props.clusterType ?? KafkaClusterType.PROVISIONED;
    this.clusterName = props.clusterName ?? 'stub-cluster';
    this.brokerCount = this.clusterType === KafkaClusterType.SERVERLESS ? undefined : 3;
    this.kafkaVersion = this.clusterType === KafkaClusterType.SERVERLESS ? undefined : '3.9.x.kraft';
    this.brokerInstanceType = this.clusterType === KafkaClusterType.SERVERLESS ? undefined : this.clusterType === KafkaClusterType.EXPRESS ? 'express.m7g.large' : 'kafka.m7g.large';
    this.clusterArn = Stack.of(this).formatArn({ service: 'kafka', resource: 'cluster', resourceName: `${this.clusterName}/11111111-2222-3333-4444-555555555555-7` });
    const sg = new ec2.SecurityGroup(this, 'Brokers', { vpc: this.vpc, allowAllOutbound: false, description: 'stub brokers' });
    this.connections = new ec2.Connections({ securityGroups: [sg], defaultPort: ec2.Port.tcp(9098) });
  }

  private arnOf(kind: string, name: string): string {
    const parts = Fn.split('/', this.clusterArn);
    return Fn.join('', [Stack.of(this).formatArn({ service: 'kafka', resource: kind, resourceName: '' }).replace(/\/$/, ''), '/', Fn.select(1, parts), '/', Fn.select(2, parts), '/', name]);
  }
  public topicArn(topicName: string): string { return this.arnOf('topic', topicName); }
  public groupArn(groupId: string): string { return this.arnOf('group', groupId); }
  public grantProduce(grantee: iam.IGrantable, topic: IKafkaTopic): iam.Grant {
    iam.Grant.addToPrincipal({ grantee, actions: ['kafka-cluster:Connect', 'kafka-cluster:WriteDataIdempotently'], resourceArns: [this.clusterArn] });
    return iam.Grant.addToPrincipal({ grantee, actions: ['kafka-cluster:DescribeTopic', 'kafka-cluster:WriteData'], resourceArns: [topic.topicArn] });
  }
  public grantConsume(grantee: iam.IGrantable, topic: IKafkaTopic, groupId: string): iam.Grant {
    iam.Grant.addToPrincipal({ grantee, actions: ['kafka-cluster:Connect', 'kafka-cluster:DescribeCluster'], resourceArns: [this.clusterArn] });
    iam.Grant.addToPrincipal({ grantee, actions: ['kafka-cluster:DescribeGroup', 'kafka-cluster:AlterGroup'], resourceArns: [this.groupArn(groupId)] });
    return iam.Grant.addToPrincipal({ grantee, actions: ['kafka-cluster:DescribeTopic', 'kafka-cluster:ReadData'], resourceArns: [topic.topicArn] });
  }
  public addToResourcePolicy(statement: iam.PolicyStatement): void { this.policyStatements.push(statement); }
  public addConsumerLagAlarms(groupId: string, topic: IKafkaTopic, options?: ConsumerLagOptions): void {
    this.lagAlarms.push({ groupId, topic: topic.topicName, options });
  }
}

export class StubKafkaTopic extends Construct implements IKafkaTopic {
  public readonly topicArn: string;
  constructor(scope: Construct, id: string, public readonly cluster: IKafkaCluster, public readonly topicName: string, public readonly partitions = 6) {
    super(scope, id);
    this.topicArn = cluster.topicArn(topicName);
  }
}
