/**
 * The test Kafka cluster harness on a real Apache Kafka (KRaft) cluster, its brokers configured with
 * exactly the broker properties a default KafkaCluster's template ships (read out of its
 * `AWS::MSK::Configuration`): RF 3 / min ISR 2 with acks=all keeps producing through a stopped or
 * killed broker and loses nothing; with two brokers down, writes are refused, not lost. Topics are
 * created without a replication factor or min.insync.replicas, so the shipped broker defaults apply.
 * Figures (records produced, acknowledged, read back; times) go to stderr as `KAFKA {json}` lines.
 */
import { ConfigResourceTypes } from 'kafkajs';
import { reportKafka, useKafkaCluster } from './shared-cluster';
import { idempotentProducer, keys, partitionState, produceKeys, readUntil, waitFor } from './client';
import { templateServerProperties } from './template-properties';

/** What our template ships: the no-loss profile of a default KafkaCluster. */
const SHIPPED = templateServerProperties();

const report = reportKafka;

describe('test Kafka cluster (3 brokers, KRaft)', () => {
  const kafka = useKafkaCluster('startup', { serverProperties: SHIPPED });

  test('the template ships the no-loss profile, and every node runs each shipped property exactly once, unchanged', () => {
    expect(SHIPPED).toMatchObject({
      'default.replication.factor': '3', 'min.insync.replicas': '2', 'unclean.leader.election.enable': 'false',
      'auto.create.topics.enable': 'false', 'allow.everyone.if.no.acl.found': 'false',
    });
    for (const id of [...kafka.cluster.brokerIds, 1001]) {
      const lines = kafka.cluster.nodeProperties(id).split('\n');
      for (const [key, value] of Object.entries(SHIPPED)) {
        expect(lines.filter((l) => l.startsWith(`${key}=`))).toEqual([`${key}=${value}`]);
      }
      expect(lines).toContainEqual(expect.stringMatching(/^listeners=(PLAINTEXT|CONTROLLER):\/\/127\.0\.0\.1:\d+$/));
    }
    expect(kafka.cluster.bootstrap).toHaveLength(3);
  });

  test('metadata lists the 3 brokers; a topic created with broker defaults gets the shipped RF 3 and min.insync.replicas 2', async () => {
    const described = await kafka.admin.describeCluster();
    expect(described.brokers.map((b) => b.nodeId).sort()).toEqual([1, 2, 3]);
    await kafka.admin.createTopics({ waitForLeaders: true, topics: [{ topic: 'orders', numPartitions: 3 }] });
    const meta = await kafka.admin.fetchTopicMetadata({ topics: ['orders'] });
    expect(meta.topics[0].partitions.map((p) => p.replicas.length)).toEqual([3, 3, 3]);
    const configs = await kafka.admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: 'orders', configNames: ['min.insync.replicas', 'unclean.leader.election.enable'] }] });
    const entries = Object.fromEntries(configs.resources[0].configEntries.map((e) => [e.configName, e.configValue]));
    expect(entries).toEqual({ 'min.insync.replicas': '2', 'unclean.leader.election.enable': 'false' });
  });

  test('automatic topic creation is off: a producer asking for it gets an error, and no topic appears', async () => {
    // kafkajs asks the broker to auto-create unknown topics when allowAutoTopicCreation is true (its default).
    const producer = kafka.cluster.client('producer-auto').producer({ allowAutoTopicCreation: true, retry: { retries: 1, initialRetryTime: 100 } });
    await producer.connect();
    try {
      await expect(producer.send({ topic: 'no-such-topic', acks: -1, messages: [{ key: 'x', value: 'y' }] })).rejects.toThrow();
    } finally {
      await producer.disconnect();
    }
    expect(await kafka.admin.listTopics()).not.toContain('no-such-topic');
  });

  test('1,000 keyed records with acks=all, a broker stopped, 500 more: all acknowledged and read back', async () => {
    const t0 = Date.now();
    const producer = await idempotentProducer(kafka.cluster.client('producer'));
    const first = await produceKeys(producer, 'orders', keys('a', 1000));
    expect(first.refused).toEqual([]);
    const readFirst = await readUntil(kafka.cluster.client('reader'), 'orders', (seen) => new Set(seen).size >= 1000);
    expect(new Set(readFirst)).toEqual(new Set(first.acked));

    await kafka.cluster.stopBroker(2);
    await waitFor('broker 2 out of every ISR', () => kafka.admin.fetchTopicMetadata({ topics: ['orders'] }),
      (m) => m.topics[0].partitions.every((p) => !p.isr.includes(2)));
    const second = await produceKeys(producer, 'orders', keys('b', 500));
    expect(second.refused).toEqual([]); // ISR of 2 = min.insync.replicas: still acknowledged
    await kafka.cluster.startBroker(2);
    await producer.disconnect();

    const all = [...first.acked, ...second.acked];
    const readAll = await readUntil(kafka.cluster.client('reader'), 'orders', (seen) => new Set(seen).size >= all.length);
    expect(new Set(readAll)).toEqual(new Set(all));
    report('stop-one-broker', {
      produced: 1500, acknowledged: all.length, readBack: new Set(readAll).size, duplicatesRead: readAll.length - new Set(readAll).size, ms: Date.now() - t0,
    });
  }, 120_000);

  test('a broker killed (kill -9) mid-stream: production goes on, and every acknowledged record is read back', async () => {
    const t0 = Date.now();
    await kafka.admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic: 'killed', numPartitions: 3 }],
    });
    // Enough retries to ride out the controller fencing the dead broker (broker.session.timeout.ms 3 s).
    const producer = await idempotentProducer(kafka.cluster.client('producer-k'), 10);
    let killedAt = -1;
    const sent = await produceKeys(producer, 'killed', keys('k', 2000), 50, async (acked) => {
      if (killedAt < 0 && acked >= 500) {
        killedAt = acked;
        await kafka.cluster.killBroker(3);
      }
    });
    await producer.disconnect();
    expect(killedAt).toBeGreaterThanOrEqual(500);
    expect(sent.acked.length).toBeGreaterThan(killedAt); // production went on after the kill
    const read = await readUntil(kafka.cluster.client('reader'), 'killed', (seen) => sent.acked.every((k) => seen.includes(k)));
    const readBack = sent.acked.filter((k) => read.includes(k)).length;
    expect(readBack).toBe(sent.acked.length);
    await kafka.cluster.startBroker(3);
    report('kill-9-mid-stream', {
      produced: 2000, killedAfterAcknowledged: killedAt, acknowledged: sent.acked.length, refused: sent.refused.length,
      errors: sent.errors, readBack, ms: Date.now() - t0,
    });
  }, 120_000);

  test('two brokers down: sends are refused (not enough replicas), and after restart every acknowledged record is there', async () => {
    const t0 = Date.now();
    await kafka.admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic: 'two-down', replicaAssignment: [{ partition: 0, replicas: [1, 2, 3] }] }],
    });
    const producer = await idempotentProducer(kafka.cluster.client('producer-2'), 2);
    const before = await produceKeys(producer, 'two-down', keys('c', 200), 100, undefined, 1);
    expect(before.refused).toEqual([]);
    await kafka.cluster.stopBroker(2);
    await kafka.cluster.stopBroker(3);
    await waitFor('ISR = {1}', () => partitionState(kafka.admin, 'two-down'), (s) => s.isr.join() === '1');
    const during = await produceKeys(producer, 'two-down', keys('d', 100), 50, undefined, 1);
    expect(during.acked).toEqual([]);
    expect(during.errors.join()).toMatch(/NOT_ENOUGH_REPLICAS/);
    await Promise.all([kafka.cluster.startBroker(2), kafka.cluster.startBroker(3)]);
    await producer.disconnect();
    const read = await readUntil(kafka.cluster.client('reader'), 'two-down', (seen) => before.acked.every((k) => seen.includes(k)));
    expect(read.filter((k) => k.startsWith('c-')).length).toBeGreaterThanOrEqual(200);
    report('two-brokers-down', {
      producedBefore: 200, acknowledgedBefore: before.acked.length, producedDuring: 100, acknowledgedDuring: during.acked.length,
      errorsDuring: during.errors, readBackOfAcknowledged: before.acked.filter((k) => read.includes(k)).length, ms: Date.now() - t0,
    });
  }, 120_000);
});
