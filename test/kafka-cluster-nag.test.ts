import * as iam from 'aws-cdk-lib/aws-iam';
import { KafkaCluster, KafkaClusterType } from '../lib';
import { threeAzVpc } from './kafka-cluster-support';
import { expectNagClean } from './support/nag';

describe('KafkaCluster compliance (five cdk-nag packs)', () => {
  test('Standard brokers with defaults are clean', () => expectNagClean((s) => {
    new KafkaCluster(s, 'Kafka', { vpc: threeAzVpc(s) });
  }));
  test('Express brokers are clean', () => expectNagClean((s) => {
    new KafkaCluster(s, 'Kafka', { vpc: threeAzVpc(s), clusterType: KafkaClusterType.EXPRESS });
  }));
  test('Serverless is clean', () => expectNagClean((s) => {
    new KafkaCluster(s, 'Kafka', { vpc: threeAzVpc(s), clusterType: KafkaClusterType.SERVERLESS });
  }));
  test('a cluster policy is clean', () => expectNagClean((s) => {
    const cluster = new KafkaCluster(s, 'Kafka', { vpc: threeAzVpc(s) });
    cluster.addToResourcePolicy(new iam.PolicyStatement({
      principals: [new iam.ServicePrincipal('firehose.amazonaws.com')],
      actions: ['kafka:CreateVpcConnection', 'kafka:GetBootstrapBrokers', 'kafka:DescribeCluster', 'kafka:DescribeClusterV2'],
      resources: [cluster.clusterArn],
    }));
  }));
});
