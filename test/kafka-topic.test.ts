import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import { KafkaCleanupPolicy, KafkaRetention, KafkaTopic, type KafkaTopicOptions } from '../lib/core/kafka-topic';
import { KafkaClusterType } from '../lib/core/kafka-refs';
import { StubKafkaCluster } from './support/kafka-cluster-stub';
import { fixtureVpc } from './support/kafka-fixture-vpc';
import { expectNagClean, newApp } from './support/nag';
import { only } from './support/template';

function topicTemplate(options: Partial<KafkaTopicOptions> = {}, clusterType = KafkaClusterType.PROVISIONED): Template {
  const stack = new Stack(newApp(), 'TopicStack');
  const cluster = new StubKafkaCluster(stack, 'Cluster', { clusterType });
  new KafkaTopic(stack, 'Orders', { cluster, topicName: 'orders', partitions: 6, ...options });
  return Template.fromStack(stack);
}

function build(options: Partial<KafkaTopicOptions> = {}, clusterType = KafkaClusterType.PROVISIONED): () => void {
  return () => topicTemplate(options, clusterType);
}

const decode = (b64: string): string => Buffer.from(b64, 'base64').toString('utf8');

describe('KafkaTopic on a provisioned cluster: AWS::MSK::Topic', () => {
  test('defaults: RF 3, min.insync.replicas=2, cleanup.policy=delete, on the cluster ARN', () => {
    const topic = only(topicTemplate(), 'AWS::MSK::Topic');
    expect(topic.Properties).toEqual({
      ClusterArn: expect.anything(),
      TopicName: 'orders',
      PartitionCount: 6,
      ReplicationFactor: 3,
      Configs: expect.any(String),
    });
    expect(decode(topic.Properties.Configs)).toBe('cleanup.policy=delete\nmin.insync.replicas=2');
  });

  test('Configs is the base64 of the key=value lines: retention, compaction, extra configs, sorted', () => {
    const topic = only(topicTemplate({
      replicationFactor: 3,
      minInsyncReplicas: 2,
      cleanupPolicy: KafkaCleanupPolicy.COMPACT_DELETE,
      retention: KafkaRetention.of(Duration.days(3)),
      configs: { 'max.message.bytes': '2097152', 'compression.type': 'zstd' },
    }), 'AWS::MSK::Topic');
    expect(decode(topic.Properties.Configs)).toBe([
      'cleanup.policy=compact,delete',
      'compression.type=zstd',
      'max.message.bytes=2097152',
      'min.insync.replicas=2',
      'retention.ms=259200000',
    ].join('\n'));
  });

  test('KafkaRetention.INFINITE is retention.ms=-1; COMPACT has no retention.ms', () => {
    expect(decode(only(topicTemplate({ retention: KafkaRetention.INFINITE }), 'AWS::MSK::Topic').Properties.Configs)).toContain('retention.ms=-1');
    expect(decode(only(topicTemplate({ cleanupPolicy: KafkaCleanupPolicy.COMPACT }), 'AWS::MSK::Topic').Properties.Configs))
      .toBe('cleanup.policy=compact\nmin.insync.replicas=2');
  });

  test('retained by default: DeletionPolicy and UpdateReplacePolicy Retain (a replaced or removed topic is orphaned, not deleted)', () => {
    const topic = only(topicTemplate(), 'AWS::MSK::Topic');
    expect(topic.DeletionPolicy).toBe('Retain');
    expect(topic.UpdateReplacePolicy).toBe('Retain');
  });

  test('removalPolicy DESTROY deletes it with the stack', () => {
    const topic = only(topicTemplate({ removalPolicy: RemovalPolicy.DESTROY }), 'AWS::MSK::Topic');
    expect(topic.DeletionPolicy).toBe('Delete');
  });

  test('topicArn is the topic resource\'s own ARN (Ref), so users depend on the topic existing', () => {
    const stack = new Stack(newApp(), 'S');
    const cluster = new StubKafkaCluster(stack, 'Cluster');
    const topic = new KafkaTopic(stack, 'Orders', { cluster, topicName: 'orders', partitions: 3 });
    const logicalId = stack.getLogicalId(topic.node.defaultChild as any);
    expect(stack.resolve(topic.topicArn)).toEqual({ 'Fn::GetAtt': [logicalId, 'TopicArn'] });
    expect(topic.partitions).toBe(3);
    expect(topic.replicationFactor).toBe(3);
  });

  test('Express: no min.insync.replicas config (AWS fixes it at 2), RF 3', () => {
    const topic = only(topicTemplate({}, KafkaClusterType.EXPRESS), 'AWS::MSK::Topic');
    expect(topic.Properties.ReplicationFactor).toBe(3);
    expect(decode(topic.Properties.Configs)).toBe('cleanup.policy=delete');
  });

  test('nag-clean under the five packs', () => {
    expectNagClean((stack) => {
      const cluster = new StubKafkaCluster(stack, 'Cluster', { vpc: fixtureVpc(stack) });
      new KafkaTopic(stack, 'Orders', { cluster, topicName: 'orders', partitions: 6 });
    });
  });
});

describe('KafkaTopic validation: each error names the prop, its value and the rule', () => {
  test.each([
    ['orders/eu', /`topicName` \('orders\/eu'\) must be 1–249 characters of \[a-zA-Z0-9._-\]/],
    ['..', /`topicName` \('\.\.'\) must be/],
    ['x'.repeat(250), /`topicName` \('x{250}'\) must be 1–249/],
  ])('topicName %s', (topicName, message) => {
    expect(build({ topicName })).toThrow(message);
  });

  test.each([[0], [-1], [1.5]])('partitions %p', (partitions) => {
    expect(build({ partitions })).toThrow(new RegExp(`\`partitions\` \\(${partitions}\\) must be a whole number of at least 1`));
  });

  test('replicationFactor above the broker count', () => {
    expect(build({ replicationFactor: 4, minInsyncReplicas: 2 })).toThrow(/`replicationFactor` \(4\) exceeds the cluster's 3 brokers/);
  });

  test('replicationFactor below 1', () => {
    expect(build({ replicationFactor: 0 })).toThrow(/`replicationFactor` \(0\) must be a whole number of at least 1/);
  });

  test('minInsyncReplicas equal to or above the replication factor (writes stop during a rolling patch)', () => {
    expect(build({ minInsyncReplicas: 3 })).toThrow(/`minInsyncReplicas` \(3\) must be less than replicationFactor \(3\): .*rolling patch/);
    expect(build({ replicationFactor: 2 })).toThrow(/`minInsyncReplicas` \(2\) must be less than replicationFactor \(2\)/);
  });

  test('minInsyncReplicas below 1', () => {
    expect(build({ minInsyncReplicas: 0 })).toThrow(/`minInsyncReplicas` \(0\) must be a whole number of at least 1/);
  });

  test('Express takes only RF 3 and min.insync.replicas 2', () => {
    expect(build({ replicationFactor: 2, minInsyncReplicas: 1 }, KafkaClusterType.EXPRESS)).toThrow(/`replicationFactor` \(2\) must be 3 on Express brokers/);
    expect(build({ minInsyncReplicas: 1 }, KafkaClusterType.EXPRESS)).toThrow(/`minInsyncReplicas` \(1\) must be 2 on Express brokers/);
    expect(build({ minInsyncReplicas: 2 }, KafkaClusterType.EXPRESS)).not.toThrow();
  });

  test('retention on a COMPACT topic has no effect', () => {
    expect(build({ cleanupPolicy: KafkaCleanupPolicy.COMPACT, retention: KafkaRetention.of(Duration.days(1)) }))
      .toThrow(/`retention` has no effect on a COMPACT topic.*COMPACT_DELETE/);
  });

  test('INFINITE retention on a COMPACT_DELETE topic is COMPACT', () => {
    expect(build({ cleanupPolicy: KafkaCleanupPolicy.COMPACT_DELETE, retention: KafkaRetention.INFINITE }))
      .toThrow(/`retention` is INFINITE on a COMPACT_DELETE topic.*use KafkaCleanupPolicy.COMPACT/);
  });

  test('zero retention', () => {
    expect(build({ retention: KafkaRetention.of(Duration.seconds(0)) })).toThrow(/`retention` \(0 ms\) must be positive/);
  });

  test('configs may not set what a typed prop owns', () => {
    expect(build({ configs: { 'min.insync.replicas': '1' } })).toThrow(/`configs.min.insync.replicas` is set with the `minInsyncReplicas` prop/);
    expect(build({ configs: { 'retention.ms': '1' } })).toThrow(/`configs.retention.ms` is set with the `retention` prop/);
    expect(build({ configs: { 'cleanup.policy': 'compact' } })).toThrow(/`configs.cleanup.policy` is set with the `cleanupPolicy` prop/);
  });

  test('configs keys must be config names, values single lines', () => {
    expect(build({ configs: { 'Max Bytes': '1' } })).toThrow(/`configs.Max Bytes` is not a Kafka topic config name/);
    expect(build({ configs: { 'segment.ms': '1\nunclean.leader.election.enable=true' } })).toThrow(/`configs.segment.ms` contains a line break/);
  });
});

describe('KafkaTopic on MSK Serverless: the topics custom resource', () => {
  const key = (stack: Stack) => new kms.Key(stack, 'Key', { enableKeyRotation: true });

  test('a Custom::KafkaTopic instead of AWS::MSK::Topic, with the Serverless configs only', () => {
    const stack = new Stack(newApp(), 'S');
    const cluster = new StubKafkaCluster(stack, 'Cluster', { clusterType: KafkaClusterType.SERVERLESS });
    new KafkaTopic(stack, 'Orders', { cluster, topicName: 'orders', partitions: 6, encryptionKey: key(stack), retention: KafkaRetention.of(Duration.days(1)) });
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::MSK::Topic', 0);
    const cr = only(t, 'Custom::KafkaTopic');
    expect(cr.Properties).toEqual(expect.objectContaining({
      TopicName: 'orders',
      Partitions: 6,
      Configs: { 'cleanup.policy': 'delete', 'retention.ms': '86400000' },
      AllowReplacement: false,
      RemovalPolicy: 'retain',
      Serverless: true,
    }));
    expect(cr.Properties.ReplicationFactor).toBeUndefined();
    expect(cr.DeletionPolicy).toBe('Retain');
  });

  test('validation: encryptionKey required, RF 3 only, no min.insync.replicas, only the Serverless configs', () => {
    expect(build({}, KafkaClusterType.SERVERLESS)).toThrow(/`encryptionKey` is required for a topic of an MSK Serverless cluster/);
    const withKey = (o: Partial<KafkaTopicOptions>) => () => {
      const stack = new Stack(newApp(), 'S');
      const cluster = new StubKafkaCluster(stack, 'Cluster', { clusterType: KafkaClusterType.SERVERLESS });
      new KafkaTopic(stack, 'T', { cluster, topicName: 't', partitions: 1, encryptionKey: key(stack), ...o });
    };
    expect(withKey({ replicationFactor: 2 })).toThrow(/`replicationFactor` \(2\) must be 3 on MSK Serverless/);
    expect(withKey({ minInsyncReplicas: 2 })).toThrow(/`minInsyncReplicas` \(2\) cannot be set on MSK Serverless/);
    expect(withKey({ configs: { 'segment.bytes': '1000000' } })).toThrow(/`configs.segment.bytes` cannot be set on MSK Serverless, which accepts only cleanup.policy/);
    expect(withKey({ configs: { 'max.message.bytes': '2000000' } })).not.toThrow();
  });
});
