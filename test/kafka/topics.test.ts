/**
 * The topics custom resource's core and its kafkajs adapter against a real 3-broker Kafka (KRaft):
 * CloudFormation requests in, the cluster's own metadata and DescribeConfigs out. What is checked on
 * the cluster is read with a separate admin client, not through the adapter under test.
 */
import { Admin, ConfigResourceTypes, ConfigSource } from 'kafkajs';
import { KafkaTestCluster } from './cluster';
import { waitFor } from './client';
import { KafkajsTopicAdmin } from '../../lambda/kafka-topics/admin';
import { failedCreateId, handleTopicRequest, RefusedChange, topicArnOf, type TopicRequest } from '../../lambda/kafka-topics/core';

const CLUSTER_ARN = 'arn:aws:kafka:eu-west-1:123456789012:cluster/test/11111111-2222-3333-4444-555555555555-7';

/** CloudFormation's resource properties: every scalar a string, as the custom resource receives them. */
function props(topicName: string, partitions: number, configs: Record<string, string> = {}, extra: Record<string, string> = {}): Record<string, unknown> {
  return { ServiceToken: 'arn:aws:lambda:eu-west-1:123456789012:function:x', ClusterArn: CLUSTER_ARN, TopicName: topicName, Partitions: String(partitions), ReplicationFactor: '3', Configs: configs, ...extra };
}

let n = 0;
function request(type: TopicRequest['RequestType'], resource: Record<string, unknown>, old?: Record<string, unknown>, physicalId?: string): TopicRequest {
  return { RequestType: type, RequestId: `req-${++n}`, ResourceProperties: resource, OldResourceProperties: old, PhysicalResourceId: physicalId };
}

interface Live { partitions: number; replicas: number[]; configs: Record<string, string> }

describe('topics custom resource on a real Kafka cluster (3 brokers, KRaft)', () => {
  let cluster: KafkaTestCluster;
  let admin: Admin; // the adapter's client
  let observer: Admin; // reads the cluster for the assertions
  let topics: KafkajsTopicAdmin;

  /** The topic as the cluster reports it: partition count, replicas per partition, dynamic topic configs. */
  async function live(name: string): Promise<Live | undefined> {
    if (!(await observer.listTopics()).includes(name)) return undefined;
    const meta = await observer.fetchTopicMetadata({ topics: [name] });
    const described = await observer.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name }] });
    const configs = Object.fromEntries(described.resources[0].configEntries
      .filter((e) => e.configSource === ConfigSource.TOPIC_CONFIG).map((e) => [e.configName, e.configValue]));
    const partitions = meta.topics[0].partitions;
    return { partitions: partitions.length, replicas: partitions.map((p) => p.replicas.length), configs };
  }

  beforeAll(async () => {
    cluster = await KafkaTestCluster.start({
      brokers: 3,
      serverProperties: { 'default.replication.factor': '3', 'min.insync.replicas': '2', 'auto.create.topics.enable': 'false' },
    });
    process.stderr.write(`KAFKA ${JSON.stringify({ scenario: 'topics-startup', brokers: 3, startupMs: cluster.startupMs })}\n`);
    admin = cluster.client('topics-cr').admin();
    observer = cluster.client('observer').admin();
    await admin.connect();
    await observer.connect();
    topics = new KafkajsTopicAdmin(admin);
  }, 120_000);

  afterAll(async () => {
    await admin?.disconnect();
    await observer?.disconnect();
    await cluster?.stop();
  }, 60_000);

  const ORDERS = { 'min.insync.replicas': '2', 'cleanup.policy': 'delete', 'retention.ms': '604800000' };

  test('Create makes the topic with its partitions, replication factor and configs; the physical id is the topic ARN', async () => {
    const out = await handleTopicRequest(topics, request('Create', props('orders', 3, ORDERS)));
    expect(out.physicalResourceId).toBe(topicArnOf(CLUSTER_ARN, 'orders'));
    expect(out.physicalResourceId).toBe('arn:aws:kafka:eu-west-1:123456789012:topic/test/11111111-2222-3333-4444-555555555555-7/orders');
    expect(out.operations.map((o) => o.op)).toEqual(['create']);
    expect(await live('orders')).toEqual({ partitions: 3, replicas: [3, 3, 3], configs: ORDERS });
  });

  test('the same request again is a no-op: no operation, nothing changed', async () => {
    const before = await live('orders');
    const again = await handleTopicRequest(topics, request('Update', props('orders', 3, ORDERS), props('orders', 3, ORDERS), topicArnOf(CLUSTER_ARN, 'orders')));
    const recreate = await handleTopicRequest(topics, request('Create', props('orders', 3, ORDERS)));
    expect(again.operations).toEqual([]);
    expect(recreate.operations).toEqual([]);
    expect(await live('orders')).toEqual(before);
  });

  test('Update raises the partition count', async () => {
    const out = await handleTopicRequest(topics, request('Update', props('orders', 6, ORDERS), props('orders', 3, ORDERS), topicArnOf(CLUSTER_ARN, 'orders')));
    expect(out.operations).toEqual([{ op: 'increasePartitions', topicName: 'orders', from: 3, to: 6 }]);
    const after = await waitFor('6 partitions', () => live('orders'), (t) => t?.partitions === 6);
    expect(after).toEqual({ partitions: 6, replicas: [3, 3, 3, 3, 3, 3], configs: ORDERS });
  });

  test('Update changes configs: a changed value is set, a dropped one returns to the default, one set by someone else is kept', async () => {
    await observer.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: 'orders', configEntries: [...Object.entries(ORDERS), ['max.message.bytes', '2000000']].map(([name, value]) => ({ name, value })) }] });
    const next = { 'min.insync.replicas': '2', 'retention.ms': '86400000' }; // cleanup.policy no longer managed
    const out = await handleTopicRequest(topics, request('Update', props('orders', 6, next), props('orders', 6, ORDERS), topicArnOf(CLUSTER_ARN, 'orders')));
    expect(out.operations).toEqual([{ op: 'setConfigs', topicName: 'orders', changed: ['cleanup.policy', 'retention.ms'], configs: { 'min.insync.replicas': '2', 'retention.ms': '86400000', 'max.message.bytes': '2000000' } }]);
    expect((await live('orders'))?.configs).toEqual({ 'min.insync.replicas': '2', 'retention.ms': '86400000', 'max.message.bytes': '2000000' });
  });

  test('Update changing configs and partitions together sets the configs first, then adds the partitions', async () => {
    const cfg = { 'min.insync.replicas': '2', 'retention.ms': '172800000' };
    const out = await handleTopicRequest(topics, request('Update', props('orders', 8, cfg), props('orders', 6, { 'min.insync.replicas': '2', 'retention.ms': '86400000' }), topicArnOf(CLUSTER_ARN, 'orders')));
    expect(out.operations.map((o) => o.op)).toEqual(['setConfigs', 'increasePartitions']);
    const after = await waitFor('8 partitions', () => live('orders'), (t) => t?.partitions === 8);
    expect(after?.configs['retention.ms']).toBe('172800000');
  });

  test('a config the cluster rejects fails the request before the partitions are added', async () => {
    const before = await live('orders');
    const bad = { 'min.insync.replicas': '2', 'retention.ms': 'a week' };
    await expect(handleTopicRequest(topics, request('Update', props('orders', 10, bad), props('orders', 8, { 'min.insync.replicas': '2', 'retention.ms': '172800000' }), topicArnOf(CLUSTER_ARN, 'orders'))))
      .rejects.toThrow(/retention\.ms|Invalid|invalid/);
    expect(await live('orders')).toEqual(before);
  });

  test('a partition decrease is refused and changes nothing on the cluster', async () => {
    const before = await live('orders');
    const cfg = { 'min.insync.replicas': '2', 'retention.ms': '1000' };
    await expect(handleTopicRequest(topics, request('Update', props('orders', 4, cfg), props('orders', 8, {}), topicArnOf(CLUSTER_ARN, 'orders'))))
      .rejects.toThrow(new RefusedChange("topic 'orders': cannot decrease partitions from 8 to 4: Kafka can only add partitions."));
    expect(await live('orders')).toEqual(before);
  });

  test('a replication factor change is refused and changes nothing on the cluster', async () => {
    const before = await live('orders');
    const p = { ...props('orders', 10, { 'retention.ms': '1000' }), ReplicationFactor: '2' };
    await expect(handleTopicRequest(topics, request('Update', p, props('orders', 8, {}), topicArnOf(CLUSTER_ARN, 'orders'))))
      .rejects.toThrow(/cannot change the replication factor from 3 to 2 in place/);
    expect(await live('orders')).toEqual(before);
    expect(before?.replicas.every((r) => r === 3)).toBe(true);
  });

  test('a rename is refused without allowReplacement: no new topic, the old one untouched', async () => {
    const before = await live('orders');
    await expect(handleTopicRequest(topics, request('Update', props('orders-v2', 8, {}), props('orders', 8, {}), topicArnOf(CLUSTER_ARN, 'orders'))))
      .rejects.toThrow(/renaming topic 'orders' to 'orders-v2'.*Set allowReplacement/);
    expect(await live('orders-v2')).toBeUndefined();
    expect(await live('orders')).toEqual(before);
  });

  test('with allowReplacement a rename creates the new topic; the Delete of the old id keeps the old topic (retain)', async () => {
    const withAllow = { ...props('orders-v2', 2, {}), AllowReplacement: 'true' };
    const out = await handleTopicRequest(topics, request('Update', withAllow, props('orders', 8, {}), topicArnOf(CLUSTER_ARN, 'orders')));
    expect(out.physicalResourceId).toBe(topicArnOf(CLUSTER_ARN, 'orders-v2'));
    expect((await live('orders-v2'))?.partitions).toBe(2);
    // CloudFormation then deletes the old physical resource, with the old properties.
    const del = await handleTopicRequest(topics, request('Delete', props('orders', 8, {}), undefined, topicArnOf(CLUSTER_ARN, 'orders')));
    expect(del.operations).toEqual([]);
    expect((await live('orders'))?.partitions).toBe(8);
  });

  test('Delete removes the topic only when the removal policy is destroy', async () => {
    await handleTopicRequest(topics, request('Create', props('scratch', 1, {}, { RemovalPolicy: 'destroy' })));
    expect(await live('scratch')).toBeDefined();
    const del = await handleTopicRequest(topics, request('Delete', props('scratch', 1, {}, { RemovalPolicy: 'destroy' }), undefined, topicArnOf(CLUSTER_ARN, 'scratch')));
    expect(del.operations).toEqual([{ op: 'delete', topicName: 'scratch' }]);
    await waitFor('scratch deleted', () => live('scratch'), (t) => t === undefined);
  });

  test('the rollback Delete of a failed Create touches no topic, even with removal policy destroy', async () => {
    // Create refused: the topic exists with more partitions; the handler answers with failedCreateId.
    await expect(handleTopicRequest(topics, request('Create', props('orders', 2, {}, { RemovalPolicy: 'destroy' })))).rejects.toThrow(RefusedChange);
    const del = await handleTopicRequest(topics, request('Delete', props('orders', 2, {}, { RemovalPolicy: 'destroy' }), undefined, failedCreateId('req-x')));
    expect(del.operations).toEqual([]);
    expect((await live('orders'))?.partitions).toBe(8);
  });

  test('Serverless: created with the cluster default replication factor; a cleanup.policy change is refused', async () => {
    const sl = (partitions: number, configs: Record<string, string>) => ({ ...props('events', partitions, configs), ReplicationFactor: undefined, Serverless: 'true' });
    await handleTopicRequest(topics, request('Create', sl(2, { 'cleanup.policy': 'compact' })));
    expect(await live('events')).toEqual({ partitions: 2, replicas: [3, 3], configs: { 'cleanup.policy': 'compact' } });
    await expect(handleTopicRequest(topics, request('Update', sl(2, { 'cleanup.policy': 'delete' }), sl(2, { 'cleanup.policy': 'compact' }), topicArnOf(CLUSTER_ARN, 'events'))))
      .rejects.toThrow(/MSK Serverless sets cleanup.policy only at topic creation; it is 'compact', the template asks for 'delete'/);
    expect((await live('events'))?.configs).toEqual({ 'cleanup.policy': 'compact' });
  });
});
