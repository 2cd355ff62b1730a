import { Size } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { KafkaAuthentication, KafkaCluster, KafkaClusterType, KafkaMonitoringLevel, KafkaVersion } from '../lib';
import { acknowledge, inCompliancePacks, INLINE_GRANT_POLICY } from '../lib/core/acknowledge';
import { threeAzVpc } from './kafka-cluster-support';
import { StubKafkaTopic } from './support/kafka-cluster-stub';
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
  test('every option, with grants to a client role, is clean (only the client role\'s own inline policy acknowledged)', () => expectNagClean((s) => {
    const vpc = threeAzVpc(s);
    const key = new kms.Key(s, 'Key', { enableKeyRotation: true });
    const cluster = new KafkaCluster(s, 'Kafka', {
      vpc, vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC }, publicAccess: { reason: 'partners produce over the internet with IAM' },
      encryptionKey: key, kafkaVersion: KafkaVersion.V4_1_X_KRAFT, brokerCount: 6, instanceType: 'kafka.m7g.xlarge',
      storage: { volumeSize: Size.gibibytes(500), maxVolumeSize: Size.gibibytes(4000) }, enhancedMonitoring: KafkaMonitoringLevel.PER_TOPIC_PER_PARTITION,
      authentication: KafkaAuthentication.iamAndMutualTls(['arn:aws:acm-pca:us-east-1:123456789012:certificate-authority/11111111-2222-3333-4444-555555555555']),
      uncleanLeaderElection: true, uncleanLeaderElectionAcknowledgement: { reason: 'metrics only' },
    });
    const role = new iam.Role(s, 'Client', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    const topic = new StubKafkaTopic(s, 'Orders', cluster, 'orders');
    cluster.grantProduce(role, topic);
    cluster.grantConsume(role, topic, 'billing');
    cluster.grantBootstrap(role);
    cluster.connections.allowDefaultPortFrom(new ec2.SecurityGroup(s, 'ClientSg', { vpc }));
    acknowledge(role, inCompliancePacks('IAMNoInlinePolicy', INLINE_GRANT_POLICY));
  }));
});
