import { Duration, Size } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { KafkaAuthentication, KafkaClusterProps, KafkaClusterType, KafkaVersion } from '../lib';
import { clusterStack } from './kafka-cluster-support';
import { StubKafkaTopic } from './support/kafka-cluster-stub';

const build = (props: Partial<KafkaClusterProps>, zones = 3) => () => clusterStack(props, zones);
const { EXPRESS, SERVERLESS } = KafkaClusterType;

describe('KafkaCluster validation at synth: each error names the prop, its value and the rule', () => {
  test('broker count not a multiple of the AZ count', () => {
    expect(build({ brokerCount: 4 })).toThrow(/`brokerCount` \(4\) must be a multiple of the number of availability zones \(3\)/);
    expect(build({ brokerCount: 2 })).toThrow(/`brokerCount` \(2\) must be a multiple/);
  });

  test('fewer than 3 AZs with the no-loss profile', () => {
    expect(build({}, 2)).toThrow(/`vpcSubnets` \(2 availability zones\) must span 3 availability zones: with replication factor 3 and min.insync.replicas 2/);
    expect(build({ clusterType: EXPRESS }, 2)).toThrow(/`vpcSubnets` \(2 availability zones\) must span 3/);
  });

  test('replication factor above the broker count', () => {
    expect(build({ defaultReplicationFactor: 4 })).toThrow(/`defaultReplicationFactor` \(4\) must be a whole number no greater than the broker count \(3\)/);
  });

  test('min.insync.replicas not below the replication factor (writes would stop during a rolling patch)', () => {
    expect(build({ minInsyncReplicas: 3 })).toThrow(/`minInsyncReplicas` \(3\) must be below `defaultReplicationFactor` \(3\): otherwise acks=all writes stop whenever one broker is down/);
    expect(build({ brokerCount: 6, defaultReplicationFactor: 4, minInsyncReplicas: 4 })).toThrow(/`minInsyncReplicas` \(4\) must be below `defaultReplicationFactor` \(4\)/);
  });

  test('min.insync.replicas of 1 (an acknowledged record on a single broker)', () => {
    expect(build({ minInsyncReplicas: 1 })).toThrow(/`minInsyncReplicas` \(1\) must be at least 2/);
  });

  test('Serverless with non-IAM authentication', () => {
    const ca = 'arn:aws:acm-pca:us-east-1:123456789012:certificate-authority/x';
    expect(build({ clusterType: SERVERLESS, authentication: KafkaAuthentication.iamAndMutualTls([ca]) }))
      .toThrow(/`authentication` \(IAM and mutual TLS\) is not possible on MSK Serverless, which takes IAM access control only/);
    expect(build({ authentication: KafkaAuthentication.iamAndMutualTls([]) })).toThrow(/`authentication` \(IAM and mutual TLS\) names no certificate authority/);
  });

  test('unclean election on without the acknowledgement, or with an empty reason, or an acknowledgement with election off', () => {
    expect(build({ uncleanLeaderElection: true }))
      .toThrow(/`uncleanLeaderElection` \(true\) lets a replica that missed acknowledged records become leader.*set `uncleanLeaderElectionAcknowledgement: \{ reason \}`/);
    expect(build({ uncleanLeaderElection: true, uncleanLeaderElectionAcknowledgement: { reason: ' ' } })).toThrow(/`uncleanLeaderElectionAcknowledgement.reason` must say why/);
    expect(build({ uncleanLeaderElectionAcknowledgement: { reason: 'x' } })).toThrow(/`uncleanLeaderElectionAcknowledgement` is given but `uncleanLeaderElection` is not true/);
  });

  test('unclean election on through additionalServerProperties is refused: the typed prop owns the key', () => {
    expect(build({ additionalServerProperties: { 'unclean.leader.election.enable': 'true' } }))
      .toThrow(/`additionalServerProperties.unclean.leader.election.enable` is set by the prop `uncleanLeaderElection`/);
    expect(build({ additionalServerProperties: { 'min.insync.replicas': '1' } })).toThrow(/`additionalServerProperties.min.insync.replicas` is set by the prop `minInsyncReplicas`/);
    expect(build({ additionalServerProperties: { 'auto.create.topics.enable': 'true' } })).toThrow(/`additionalServerProperties.auto.create.topics.enable` is always false/);
    expect(build({ additionalServerProperties: { 'message.max.bytes': 'a\nb' } })).toThrow(/`additionalServerProperties.message.max.bytes` \('a\nb'\) must be a non-empty single-line value/);
    expect(build({ additionalServerProperties: { 'Bad Key': '1' } })).toThrow(/`additionalServerProperties.Bad Key` is not a broker property name/);
  });

  test('an Express-only version on Standard brokers', () => {
    expect(build({ kafkaVersion: KafkaVersion.V4_2_X_KRAFT })).toThrow(/`kafkaVersion` \('4.2.x.kraft'\) is offered by MSK on Express brokers only/);
  });

  test('a version without KRaft (ZooKeeper mode) or not an MSK version string', () => {
    expect(build({ kafkaVersion: KafkaVersion.of('3.9.x') })).toThrow(/`kafkaVersion` \('3.9.x'\) is a ZooKeeper-mode version: use '3.9.x.kraft'/);
    expect(build({ kafkaVersion: KafkaVersion.of('3.6.0.kraft') })).toThrow(/`kafkaVersion` \('3.6.0.kraft'\) predates KRaft on MSK, which starts at 3.7.x.kraft/);
    expect(build({ kafkaVersion: KafkaVersion.of('latest') })).toThrow(/`kafkaVersion` \('latest'\) is not an MSK KRaft version/);
  });

  test('Express brokers given props that only Standard brokers take', () => {
    expect(build({ clusterType: EXPRESS, storage: { volumeSize: Size.gibibytes(500) } })).toThrow(/`storage` does not apply to Express brokers: AWS manages their storage/);
    for (const prop of ['defaultReplicationFactor', 'minInsyncReplicas'] as const) {
      expect(build({ clusterType: EXPRESS, [prop]: 3 })).toThrow(new RegExp(`\`${prop}\` does not apply to Express brokers: AWS fixes default.replication.factor=3, min.insync.replicas=2 and unclean.leader.election.enable=false`));
    }
    expect(build({ clusterType: EXPRESS, uncleanLeaderElection: false })).toThrow(/`uncleanLeaderElection` does not apply to Express brokers/);
    expect(build({ clusterType: EXPRESS, additionalServerProperties: { 'num.io.threads': '8' } })).toThrow(/`additionalServerProperties.num.io.threads` is read-only on Express brokers/);
    expect(build({ clusterType: EXPRESS, instanceType: 'kafka.m7g.large' })).toThrow(/`instanceType` \('kafka.m7g.large'\) must be an Express broker type \(`express.\*`\)/);
    expect(build({ instanceType: 'express.m7g.large' })).toThrow(/`instanceType` \('express.m7g.large'\) must be a Standard broker type \(`kafka.\*`\)/);
  });

  test('Serverless given props for brokers', () => {
    const cases: Partial<KafkaClusterProps>[] = [
      { kafkaVersion: KafkaVersion.V3_9_X_KRAFT }, { brokerCount: 3 }, { instanceType: 'kafka.m7g.large' }, { storage: {} },
      { numPartitions: 3 }, { logRetention: Duration.days(1) }, { publicAccess: { reason: 'x' } }, { additionalServerProperties: {} },
    ];
    for (const props of cases) {
      const prop = Object.keys(props)[0];
      expect(build({ clusterType: SERVERLESS, ...props })).toThrow(new RegExp(`\`${prop}\` does not apply to MSK Serverless`));
    }
    expect(() => {
      const { stack } = clusterStack({});
      clusterStack({ clusterType: SERVERLESS, encryptionKey: new kms.Key(stack, 'K') });
    }).toThrow(/`encryptionKey` does not apply to MSK Serverless/);
  });

  test('storage sizes and target outside MSK\'s limits, and a ceiling below the initial size', () => {
    expect(build({ storage: { volumeSize: Size.tebibytes(17) } })).toThrow(/`storage.volumeSize` \(17408 GiB\) must be a whole number of GiB from 1 to 16384/);
    expect(build({ storage: { volumeSize: Size.mebibytes(1500) } })).toThrow(/`storage.volumeSize` \(1.46484375 GiB\) must be a whole number of GiB/);
    expect(build({ storage: { volumeSize: Size.gibibytes(2000), maxVolumeSize: Size.gibibytes(1000) } })).toThrow(/`storage.maxVolumeSize` \(1000 GiB\) must be at least `storage.volumeSize` \(2000 GiB\)/);
    expect(build({ storage: { targetUtilizationPercent: 90 } })).toThrow(/`storage.targetUtilizationPercent` \(90\) must be from 10 to 80/);
  });

  test('public access without a reason, or on private subnets', () => {
    expect(build({ publicAccess: { reason: '' }, vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC } })).toThrow(/`publicAccess.reason` must say why/);
    expect(build({ publicAccess: { reason: 'partners' } })).toThrow(/`vpcSubnets` must select public subnets when `publicAccess` is on/);
  });

  test('partitions, retention and cluster name out of range', () => {
    expect(build({ numPartitions: 0 })).toThrow(/`numPartitions` \(0\) must be a whole number of at least 1/);
    expect(build({ logRetention: Duration.seconds(10) })).toThrow(/`logRetention` \(10000 ms\) must be at least one minute/);
    expect(build({ clusterName: '1-orders' })).toThrow(/`clusterName` \('1-orders'\) must be 1-64 letters, digits and '-', starting with a letter/);
  });

  test('a cluster policy on Serverless', () => {
    const { cluster } = clusterStack({ clusterType: SERVERLESS });
    expect(() => cluster.addToResourcePolicy(new iam.PolicyStatement({ principals: [new iam.AccountRootPrincipal()], actions: ['kafka:DescribeCluster'], resources: ['*'] })))
      .toThrow(/`clusterType` \(serverless\) has no cluster policy/);
  });

  test('consumer-lag alarms for a non-ASCII group id (MSK drops its lag metrics) or with a non-positive threshold', () => {
    const { stack, cluster } = clusterStack();
    const topic = new StubKafkaTopic(stack, 'T', cluster, 'orders');
    expect(() => cluster.addConsumerLagAlarms('facturación', topic)).toThrow(/`groupId` \('facturación'\) must be non-empty printable ASCII without ':'/);
    expect(() => cluster.addConsumerLagAlarms('billing', topic, { maxOffsetLag: 0 })).toThrow(/`maxOffsetLag` \(0\) must be above 0/);
  });
});
