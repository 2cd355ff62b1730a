/**
 * The test Kafka cluster harness on a real Apache Kafka (KRaft) cluster: RF 3 / min ISR 2 with
 * acks=all keeps producing through a stopped broker and loses nothing.
 * Figures (records produced, acknowledged, read back; times) go to stderr as `KAFKA {json}` lines.
 */
import { Admin } from 'kafkajs';
import { KafkaTestCluster } from './cluster';
import { idempotentProducer, keys, partitionState, produceKeys, readUntil, waitFor } from './client';

/** The no-loss settings the MSK configuration will carry (issue 11); the construct's template will supply them later. */
const NO_LOSS = {
  'default.replication.factor': '3',
  'min.insync.replicas': '2',
  'unclean.leader.election.enable': 'false',
  'auto.create.topics.enable': 'false',
};

function report(scenario: string, figures: Record<string, unknown>): void {
  process.stderr.write(`KAFKA ${JSON.stringify({ scenario, ...figures })}\n`);
}

describe('test Kafka cluster (3 brokers, KRaft)', () => {
  let cluster: KafkaTestCluster;
  let admin: Admin;

  beforeAll(async () => {
    cluster = await KafkaTestCluster.start({ brokers: 3, serverProperties: NO_LOSS });
    report('startup', { brokers: 3, controllers: 1, startupMs: cluster.startupMs });
    admin = cluster.client('admin').admin();
    await admin.connect();
  }, 120_000);

  afterAll(async () => {
    await admin?.disconnect();
    await cluster?.stop();
  }, 60_000);

  test('passes the given server properties to every node, its own listeners last', () => {
    for (const id of [...cluster.brokerIds, 1001]) {
      const props = cluster.nodeProperties(id);
      expect(props).toContain('min.insync.replicas=2\n');
      expect(props).toContain('unclean.leader.election.enable=false\n');
      expect(props).toMatch(/^listeners=(PLAINTEXT|CONTROLLER):\/\/127\.0\.0\.1:\d+$/m);
    }
    expect(cluster.bootstrap).toHaveLength(3);
  });

  test('metadata lists the 3 brokers and the no-loss topic config', async () => {
    const described = await admin.describeCluster();
    expect(described.brokers.map((b) => b.nodeId).sort()).toEqual([1, 2, 3]);
    await admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic: 'orders', numPartitions: 3, replicationFactor: 3, configEntries: [{ name: 'min.insync.replicas', value: '2' }] }],
    });
    const meta = await admin.fetchTopicMetadata({ topics: ['orders'] });
    expect(meta.topics[0].partitions.map((p) => p.replicas.length)).toEqual([3, 3, 3]);
  });

  test('1,000 keyed records with acks=all, a broker stopped, 500 more: all acknowledged and read back', async () => {
    const t0 = Date.now();
    const producer = await idempotentProducer(cluster.client('producer'));
    const first = await produceKeys(producer, 'orders', keys('a', 1000));
    expect(first.refused).toEqual([]);
    const readFirst = await readUntil(cluster.client('reader'), 'orders', (seen) => new Set(seen).size >= 1000);
    expect(new Set(readFirst)).toEqual(new Set(first.acked));

    await cluster.stopBroker(2);
    await waitFor('broker 2 out of every ISR', () => admin.fetchTopicMetadata({ topics: ['orders'] }),
      (m) => m.topics[0].partitions.every((p) => !p.isr.includes(2)));
    const second = await produceKeys(producer, 'orders', keys('b', 500));
    expect(second.refused).toEqual([]); // ISR of 2 = min.insync.replicas: still acknowledged
    await cluster.startBroker(2);
    await producer.disconnect();

    const all = [...first.acked, ...second.acked];
    const readAll = await readUntil(cluster.client('reader'), 'orders', (seen) => new Set(seen).size >= all.length);
    expect(new Set(readAll)).toEqual(new Set(all));
    report('stop-one-broker', {
      produced: 1500, acknowledged: all.length, readBack: new Set(readAll).size, duplicatesRead: readAll.length - new Set(readAll).size, ms: Date.now() - t0,
    });
  }, 120_000);

  test('a broker killed (kill -9) mid-stream: production goes on, and every acknowledged record is read back', async () => {
    const t0 = Date.now();
    await admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic: 'killed', numPartitions: 3, replicationFactor: 3, configEntries: [{ name: 'min.insync.replicas', value: '2' }] }],
    });
    // Enough retries to ride out the controller fencing the dead broker (broker.session.timeout.ms 3 s).
    const producer = await idempotentProducer(cluster.client('producer-k'), 10);
    let killedAt = -1;
    const sent = await produceKeys(producer, 'killed', keys('k', 2000), 50, async (acked) => {
      if (killedAt < 0 && acked >= 500) {
        killedAt = acked;
        await cluster.killBroker(3);
      }
    });
    await producer.disconnect();
    expect(killedAt).toBeGreaterThanOrEqual(500);
    expect(sent.acked.length).toBeGreaterThan(killedAt); // production went on after the kill
    const read = await readUntil(cluster.client('reader'), 'killed', (seen) => sent.acked.every((k) => seen.includes(k)));
    const readBack = sent.acked.filter((k) => read.includes(k)).length;
    expect(readBack).toBe(sent.acked.length);
    await cluster.startBroker(3);
    report('kill-9-mid-stream', {
      produced: 2000, killedAfterAcknowledged: killedAt, acknowledged: sent.acked.length, refused: sent.refused.length,
      errors: sent.errors, readBack, ms: Date.now() - t0,
    });
  }, 120_000);

  test('two brokers down: sends are refused (not enough replicas), and after restart every acknowledged record is there', async () => {
    const t0 = Date.now();
    await admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic: 'two-down', replicaAssignment: [{ partition: 0, replicas: [1, 2, 3] }], configEntries: [{ name: 'min.insync.replicas', value: '2' }] }],
    });
    const producer = await idempotentProducer(cluster.client('producer-2'), 2);
    const before = await produceKeys(producer, 'two-down', keys('c', 200), 100, undefined, 1);
    expect(before.refused).toEqual([]);
    await cluster.stopBroker(2);
    await cluster.stopBroker(3);
    await waitFor('ISR = {1}', () => partitionState(admin, 'two-down'), (s) => s.isr.join() === '1');
    const during = await produceKeys(producer, 'two-down', keys('d', 100), 50, undefined, 1);
    expect(during.acked).toEqual([]);
    expect(during.errors.join()).toMatch(/NOT_ENOUGH_REPLICAS/);
    await Promise.all([cluster.startBroker(2), cluster.startBroker(3)]);
    await producer.disconnect();
    const read = await readUntil(cluster.client('reader'), 'two-down', (seen) => before.acked.every((k) => seen.includes(k)));
    expect(read.filter((k) => k.startsWith('c-')).length).toBeGreaterThanOrEqual(200);
    report('two-brokers-down', {
      producedBefore: 200, acknowledgedBefore: before.acked.length, producedDuring: 100, acknowledgedDuring: during.acked.length,
      errorsDuring: during.errors, readBackOfAcknowledged: before.acked.filter((k) => read.includes(k)).length, ms: Date.now() - t0,
    });
  }, 120_000);
});
