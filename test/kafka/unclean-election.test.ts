/**
 * What `unclean.leader.election.enable=false` prevents, shown on a real Kafka (KRaft) cluster.
 * Brokers A=1, B=2, C=3 replicate one partition (preferred leader A), min.insync.replicas=2:
 * stop C; produce with acks=all (acknowledged by A and B); kill -9 A and B; start C.
 *  - false (our setting): the partition stays offline while only C is up; when A and B return,
 *    every acknowledged record is there.
 *  - true (MSK's default without tiered storage): C, which never had the records, becomes leader,
 *    and the acknowledged records are gone for good once A and B rejoin and truncate to C's log.
 * KRaft honours the setting from Kafka 3.9 by a periodic check; the harness sets its period
 * (unclean.leader.election.interval.ms) to 1 s, and the test waits on the partition's metadata.
 *
 * The brokers run with exactly the broker properties a default KafkaCluster's template ships (its
 * `AWS::MSK::Configuration`). The `true` scenario overrides that one key, and only it, to show what
 * the shipped `false` prevents; min.insync.replicas and the replication factor come from the shipped
 * broker defaults (the topic is created without either).
 */
import { Admin } from 'kafkajs';
import { KafkaTestCluster } from './cluster';
import { errorName, idempotentProducer, keys, partitionState, produceKeys, readUntil, waitFor } from './client';
import { templateServerProperties } from './template-properties';

/** What our template ships: the no-loss profile of a default KafkaCluster. */
const SHIPPED = templateServerProperties();

const TOPIC = 'ledger';
const RECORDS = 300;
/** How long the no-loss cluster is watched for an unclean election: 5 periods of the 1 s check. */
const OFFLINE_WATCH_MS = 5_000;

function report(scenario: string, figures: Record<string, unknown>): void {
  process.stderr.write(`KAFKA ${JSON.stringify({ scenario, ...figures })}\n`);
}

/** Starts the cluster, runs the scenario up to "only C is up", and hands the rest to `then`. */
async function scenario(unclean: boolean, then: (c: KafkaTestCluster, admin: Admin, acked: string[]) => Promise<void>): Promise<void> {
  // `unclean` false: the shipped properties as they are; true: the same with only unclean.leader.election.enable overridden.
  const serverProperties = unclean ? { ...SHIPPED, 'unclean.leader.election.enable': 'true' } : SHIPPED;
  const cluster = await KafkaTestCluster.start({ brokers: 3, serverProperties });
  const admin = cluster.client('admin').admin();
  try {
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: TOPIC, replicaAssignment: [{ partition: 0, replicas: [1, 2, 3] }] }] });
    await cluster.stopBroker(3);
    await waitFor('ISR = {A, B}', () => partitionState(admin, TOPIC), (s) => s.isr.join() === '1,2');
    const producer = await idempotentProducer(cluster.client('producer'));
    const sent = await produceKeys(producer, TOPIC, keys('acked', RECORDS), 100, undefined, 1);
    await producer.disconnect();
    expect(sent.acked).toHaveLength(RECORDS); // acknowledged by A and B: ISR 2 = min.insync.replicas
    await cluster.killBroker(1);
    await cluster.killBroker(2);
    await cluster.startBroker(3);
    await then(cluster, admin, sent.acked);
  } finally {
    await admin.disconnect().catch(() => undefined);
    await cluster.stop();
  }
}

describe('unclean leader election on a real KRaft cluster', () => {
  test('the template ships unclean.leader.election.enable=false and min.insync.replicas=2', () => {
    expect(SHIPPED['unclean.leader.election.enable']).toBe('false');
    expect(SHIPPED['min.insync.replicas']).toBe('2');
    expect(SHIPPED['default.replication.factor']).toBe('3');
  });

  test('false: the partition stays offline with only C up, and every acknowledged record survives', async () => {
    const t0 = Date.now();
    await scenario(false, async (cluster, admin, acked) => {
      // kafkajs answers a leaderless partition's metadata with LEADER_NOT_AVAILABLE: that counts as "no leader".
      const leaderOf = () => partitionState(admin, TOPIC).then((st) => st.leader, (e) => {
        if (errorName(e) !== 'LEADER_NOT_AVAILABLE') throw e;
        return -1;
      });
      // First the controller fences the killed A and B (broker.session.timeout.ms): until then A still shows as leader.
      const tFence = Date.now();
      await waitFor('A and B fenced: no leader', leaderOf, (l) => l === -1);
      const fencedMs = Date.now() - tFence;
      // Then watched for 5 unclean-election periods: the leader stays none and C is not made leader.
      const watchEnd = Date.now() + OFFLINE_WATCH_MS;
      let polls = 0;
      while (Date.now() < watchEnd) {
        expect(await leaderOf()).toBe(-1);
        polls++;
        await new Promise((r) => setTimeout(r, 200));
      }
      const offline = await idempotentProducer(cluster.client('producer-offline'), 1).then(async (producer) => {
        try {
          return await produceKeys(producer, TOPIC, keys('offline', 10), 100, undefined, 1);
        } finally {
          await producer.disconnect();
        }
      }, (e) => ({ acked: [] as string[], refused: keys('offline', 10), errors: [`connect: ${errorName(e)}`] }));
      expect(offline.acked).toEqual([]);

      await Promise.all([cluster.startBroker(1), cluster.startBroker(2)]);
      const back = await waitFor('a leader again', () => partitionState(admin, TOPIC), (s) => s.leader !== -1);
      expect([1, 2]).toContain(back.leader);
      const read = await readUntil(cluster.client('reader'), TOPIC, (seen) => acked.every((k) => seen.includes(k)));
      const readBack = acked.filter((k) => read.includes(k)).length;
      expect(readBack).toBe(RECORDS);
      report('unclean-false', {
        produced: RECORDS, acknowledged: acked.length, noLeaderAfterCStartedMs: fencedMs, offlineWatchMs: OFFLINE_WATCH_MS, offlinePolls: polls,
        producedWhileOffline: 10, acknowledgedWhileOffline: offline.acked.length, offlineErrors: offline.errors,
        leaderAfterReturn: back.leader, readBack, ms: Date.now() - t0,
      });
    });
  }, 180_000);

  test('true: C becomes leader and the acknowledged records are lost', async () => {
    const t0 = Date.now();
    await scenario(true, async (cluster, admin, acked) => {
      const tElect = Date.now();
      const elected = await waitFor('C elected leader (unclean)', () => partitionState(admin, TOPIC), (s) => s.leader === 3);
      const electionMs = Date.now() - tElect;
      expect(elected.isr).toEqual([3]);

      await Promise.all([cluster.startBroker(1), cluster.startBroker(2)]);
      // A marker produced after the election: reading up to it reads everything the partition now holds.
      const producer = await idempotentProducer(cluster.client('producer-after'));
      const marker = await produceKeys(producer, TOPIC, ['marker'], 100, undefined, 1);
      await producer.disconnect();
      expect(marker.acked).toEqual(['marker']);
      const read = await readUntil(cluster.client('reader'), TOPIC, (seen) => seen.includes('marker'));
      const readBack = acked.filter((k) => read.includes(k)).length;
      const offsets = await admin.fetchTopicOffsets(TOPIC);
      expect(readBack).toBe(0);
      expect(offsets[0].high).toBe('1'); // the marker only
      report('unclean-true', {
        produced: RECORDS, acknowledged: acked.length, electionMsAfterCStarted: electionMs,
        readBack, lost: acked.length - readBack, partitionRecordsAfter: Number(offsets[0].high), ms: Date.now() - t0,
      });
    });
  }, 180_000);
});
