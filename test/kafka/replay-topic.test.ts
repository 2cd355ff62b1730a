/**
 * A replay into an MSK topic, on a real 3-broker Kafka cluster (KRaft, RF 3, min ISR 2): the replay
 * worker's core with its kafkajs topic sink (idempotent, acks=all, one partition per send) reads an
 * archive lane built with the archive format's helpers and writes it into a topic while a broker is
 * killed (kill -9). Every archived record is read back: count, keys, per-key order, the partition
 * Apache Kafka's Java producer would pick, and the `replay_id` header.
 * Figures go to stderr as `KAFKA {json}` lines.
 */
import { replayLane, type ReplayInput, type ReplayOptions, type TopicSink } from '../../lambda/replay-worker/core';
import { kafkaTopicIo } from '../../lambda/replay-worker/topic-producer';
import { useKafkaCluster } from './shared-cluster';
import { waitFor } from './client';
import { ARCHIVE, buildLane, HOUR, javaPartitions, LANE, laneKeys, memoryIo, PREFIX, readTopic, report, STATE, T0, type ReadRecord } from './replay-fixtures';

const PARTITIONS = 6;
const topicArn = (topic: string): string => `arn:aws:kafka:us-east-1:123456789012:topic/local/11111111-2222-3333-4444-555555555555-7/${topic}`;

function input(replayId: string, topic: string): ReplayInput {
  return {
    replayId,
    archiveBucket: ARCHIVE,
    archivePrefix: PREFIX,
    lane: LANE,
    fromMs: T0,
    toMs: T0 + 4 * HOUR,
    targetTopic: topicArn(topic),
    rate: { recordsPerSecond: 1e6, bytesPerSecond: 1e9 },
    tagging: 'kpl-tag',
    stateBucket: STATE,
    statePrefix: 'replays/',
  };
}

const options = (segment = 400): ReplayOptions => ({ remainingTimeMs: () => 600_000, segment: { maxRecords: segment } });

/** Per key, the `n` of its records in topic order. */
function perKeyOrder(read: readonly ReadRecord[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const r of read) out.set(r.key, [...(out.get(r.key) ?? []), (JSON.parse(r.value.toString('utf8')) as { n: number }).n]);
  return out;
}

describe('replay into a topic on a real Kafka cluster (3 brokers, KRaft)', () => {
  const kafka = useKafkaCluster('replay-startup');

  const createTopic = (topic: string, configEntries: { name: string; value: string }[] = []): Promise<boolean> => kafka.admin.createTopics({
    waitForLeaders: true,
    topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 3, configEntries: [{ name: 'min.insync.replicas', value: '2' }, ...configEntries] }],
  });

  test('a broker killed (kill -9) mid-replay: every archived record is in the topic once, in per-key order, where Java puts its key, tagged', async () => {
    const t0 = Date.now();
    await createTopic('replayed');
    const keys = laneKeys(48);
    const lane = buildLane({ hours: 3, objectsPerHour: 4, perObject: 250, keys });
    const topics = kafkaTopicIo(async () => kafka.cluster.client('replay-worker'));
    const before = await kafka.admin.fetchTopicMetadata({ topics: ['replayed'] });
    const ledByKilled = before.topics[0].partitions.filter((p) => p.leader === 2).map((p) => p.partitionId);
    let written = 0;
    let sendErrors = 0;
    let killedAfter = -1;
    let kill: Promise<void> | undefined;
    const openTopic = async (arn: string): Promise<TopicSink> => {
      const sink = await topics.openTopic(arn);
      return {
        partitions: sink.partitions,
        async produce(partition, messages) {
          try {
            await sink.produce(partition, messages);
          } catch (e) {
            sendErrors++;
            throw e;
          }
          written += messages.length;
          // Not awaited: the kill lands while the next sends are in flight.
          if (kill === undefined && written >= 1000) {
            killedAfter = written;
            kill = kafka.cluster.killBroker(2);
          }
        },
      };
    };
    const state = new Map<string, string>();
    const result = await replayLane(input('kill-9', 'replayed'), { ...memoryIo(lane, state), openTopic }, options());
    await kill;
    await topics.close();

    expect(result.error).toBeUndefined();
    expect(result.done).toBe(true);
    expect(killedAfter).toBeGreaterThanOrEqual(1000);
    expect(killedAfter).toBeLessThan(lane.records.length); // the replay went on after the kill
    expect(result.progress.recordsReplayed).toBe(lane.records.length);

    // Read back with broker 2 still dead: the acknowledged records are on the two live replicas.
    await waitFor('broker 2 out of every ISR', () => kafka.admin.fetchTopicMetadata({ topics: ['replayed'] }),
      (m) => m.topics[0].partitions.every((p) => !p.isr.includes(2)));
    const read = await readTopic(kafka.cluster.client('reader'), 'replayed');
    expect(read).toHaveLength(lane.records.length); // each once: no record lost, none duplicated
    const archivedEvents = lane.records.map((r) => `${r.key}|${r.data.toString('utf8')}`).sort();
    expect(read.map((r) => `${r.key}|${r.value.toString('utf8')}`).sort()).toEqual(archivedEvents);
    for (const [key, ns] of perKeyOrder(read)) expect({ key, ns }).toEqual({ key, ns: ns.map((_, i) => i) });
    const java = javaPartitions(keys, PARTITIONS);
    expect(read.filter((r) => r.partition !== java.get(r.key))).toEqual([]);
    expect(read.filter((r) => r.headers.replay_id !== 'kill-9')).toEqual([]);
    await kafka.cluster.startBroker(2);
    report('replay-kill-9-mid-replay', {
      archived: lane.records.length, keys: keys.length, partitions: PARTITIONS, partitionsLedByKilledBroker: ledByKilled,
      killedAfterWritten: killedAfter, replayed: result.progress.recordsReplayed, sends: result.progress.putCalls, sendErrorsAfterProducerRetries: sendErrors,
      readBack: read.length, duplicatesRead: read.length - new Set(read.map((r) => `${r.partition}|${r.key}|${r.value.toString('utf8')}`)).size,
      objects: lane.objects.size, ms: Date.now() - t0,
    });
  }, 180_000);

  test('a record the topic can never take goes to the failure output with its reason; the rest is written or held back, none lost silently', async () => {
    await createTopic('tight', [{ name: 'max.message.bytes', value: '4096' }]);
    const keys = laneKeys(24);
    const lane = buildLane({ hours: 1, objectsPerHour: 2, perObject: 200, keys, big: new Map([[150, 8000]]) });
    const topics = kafkaTopicIo(async () => kafka.cluster.client('replay-worker-tight'));
    const state = new Map<string, string>();
    const result = await replayLane(input('too-large', 'tight'), { ...memoryIo(lane, state), openTopic: topics.openTopic }, options());
    await topics.close();

    const big = lane.records[150];
    expect(result.done).toBe(false);
    expect(result.error).toMatchObject({ code: 'RecordsFailed', objectKey: big.objectKey });
    expect(result.error!.failedRecords![0]).toMatchObject({ partitionKey: big.key, errorCode: 'MESSAGE_TOO_LARGE', objectKey: big.objectKey });
    // The object resumes at the refused record: the 150 before it are committed.
    const checkpoint = JSON.parse(state.get(`replays/too-large/progress/${big.objectKey}`)!) as { written: number };
    expect(checkpoint.written).toBe(150);
    const read = await readTopic(kafka.cluster.client('reader-tight'), 'tight');
    const readEvents = new Set(read.map((r) => r.value.toString('utf8')));
    expect(read).toHaveLength(readEvents.size);
    // Every record before the refused one is in the topic; every archived record is written or reported failed.
    expect(lane.records.slice(0, 150).filter((r) => !readEvents.has(r.data.toString('utf8')))).toEqual([]);
    expect(readEvents.has(big.data.toString('utf8'))).toBe(false);
    expect(read.length + result.progress.failed).toBe(lane.records.length);
    report('replay-record-too-large', {
      archived: lane.records.length, refused: 1, failed: result.progress.failed, readBack: read.length,
      heldBackInItsPartition: result.progress.failed - 1, checkpointWritten: checkpoint.written,
    });
  }, 120_000);

  test('a worker killed between sending a segment and committing it: the rerun writes every record, duplicating at most that segment, all tagged', async () => {
    await createTopic('resumed');
    const keys = laneKeys(48);
    const lane = buildLane({ hours: 3, objectsPerHour: 2, perObject: 300, keys });
    const state = new Map<string, string>();
    // The third checkpoint write never returns: the Lambda died after its sends, before its commit.
    let checkpoints = 0;
    let frozen: () => void = () => undefined;
    const died = new Promise<void>((resolve) => {
      frozen = resolve;
    });
    const dying = memoryIo(lane, state, {
      onCheckpoint: async () => {
        if (++checkpoints === 3) {
          frozen();
          await new Promise<never>(() => undefined);
        }
      },
    });
    const first = kafkaTopicIo(async () => kafka.cluster.client('replay-worker-1'));
    void replayLane(input('resumed', 'resumed'), { ...dying, openTopic: first.openTopic }, options());
    await died;
    await first.close();
    // A new invocation (a new container: a new producer id) resumes from the committed state.
    const second = kafkaTopicIo(async () => kafka.cluster.client('replay-worker-2'));
    const result = await replayLane(input('resumed', 'resumed'), { ...memoryIo(lane, state), openTopic: second.openTopic }, options());
    await second.close();
    expect(result.error).toBeUndefined();
    expect(result.done).toBe(true);

    const read = await readTopic(kafka.cluster.client('reader-resumed'), 'resumed');
    const firstSeen = new Map<string, ReadRecord>();
    for (const r of read) if (!firstSeen.has(r.value.toString('utf8'))) firstSeen.set(r.value.toString('utf8'), r);
    expect([...firstSeen.keys()].sort()).toEqual(lane.records.map((r) => r.data.toString('utf8')).sort());
    const duplicates = read.length - firstSeen.size;
    expect(duplicates).toBeGreaterThan(0);
    expect(duplicates).toBeLessThanOrEqual(400); // one segment
    for (const [key, ns] of perKeyOrder([...firstSeen.values()].sort((a, b) => a.partition - b.partition || a.offset - b.offset))) {
      expect({ key, ns }).toEqual({ key, ns: ns.map((_, i) => i) });
    }
    expect(read.filter((r) => r.headers.replay_id !== 'resumed')).toEqual([]);
    report('replay-worker-killed-before-commit', {
      archived: lane.records.length, segment: 400, replayedByRerun: result.progress.recordsReplayed, readBack: read.length, distinct: firstSeen.size, duplicates,
    });
  }, 120_000);
});
