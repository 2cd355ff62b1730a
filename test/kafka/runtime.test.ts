/**
 * Real records through the runtime (issue 11, Part C): records with keys (one null), headers (a
 * repeated key, non-UTF-8 bytes) and a tombstone are produced to a 3-partition topic whose name holds
 * '.' and '-' on the real 3-broker KRaft cluster, read back with kafkajs, shaped into the exact MSK
 * event-source-mapping event, and run through processBatch. Then a model of Lambda's Kafka poller
 * (test/support/kafka-esm.ts) drains the topic through it, committing to the real consumer group.
 * Figures go to stderr as `KAFKA {json}` lines.
 */
import { Admin, Kafka, KafkaMessage } from 'kafkajs';
import { KafkaTestCluster } from './cluster';
import { waitFor } from './client';
import { processBatch, type RecordContext } from '../../lambda/shared/batch/process-batch';
import { InMemoryIdempotencyStore } from '../../lambda/shared/idempotency/store';
import { drainTopic, mskRecord, type KafkaRecordIn, type OffsetStore } from '../support/kafka-esm';

const TOPIC = 'orders.eu-west-1';
const PARTITIONS = 3;
const PER_PARTITION = 40;
const CLUSTER_ARN = 'arn:aws:kafka:eu-west-1:111122223333:cluster/orders/0b9e1d0c-7c3a-4d55-9d0e-4f1f0b4a2a11-3';
/** Not UTF-8 (0x80 and 0xff are never valid lead bytes): Lambda sends them as negative Java bytes. */
const BINARY = Buffer.from([0x00, 0x80, 0xff, 0x7f, 0xc3]);

type Kind = 'ok' | 'transient' | 'poison' | 'crash';
interface Doc { id: string; kind: Kind }

/** Record i of partition p: which ones fail, and how. */
function kindOf(p: number, i: number): Kind {
  if (p === 0 && (i === 3 || i === 17)) return 'transient';
  if (p === 1 && i === 25) return 'poison';
  if (p === 2 && i === 33) return 'crash';
  if (p === 2 && i === 30) return 'poison';
  return 'ok';
}

const keyOf = (i: number) => (i % 10 === 0 ? null : `customer-${i % 4}`);

function report(scenario: string, figures: Record<string, unknown>): void {
  process.stderr.write(`KAFKA ${JSON.stringify({ scenario, ...figures })}\n`);
}

/** kafkajs headers back into the MSK shape: single-key objects of Java (signed) bytes, repeated keys as separate entries. */
function mskHeaders(headers: KafkaMessage['headers']): { [key: string]: number[] }[] {
  const out: { [key: string]: number[] }[] = [];
  for (const [key, v] of Object.entries(headers ?? {})) {
    for (const one of Array.isArray(v) ? v : [v]) {
      const buf = Buffer.isBuffer(one) ? one : Buffer.from(String(one));
      out.push({ [key]: [...buf].map((b) => (b > 127 ? b - 256 : b)) });
    }
  }
  return out;
}

/**
 * The consumer group's committed offsets on the real cluster, as Lambda's poller keeps them: a member of the
 * group (joined once, paused: the model hands records to the function itself) commits with OffsetCommit, and
 * reads go through OffsetFetch. kafkajs's admin.setOffsets would rejoin the group on every commit (seconds each).
 */
async function groupOffsets(kafka: Kafka, admin: Admin, groupId: string): Promise<{ offsets: OffsetStore; close: () => Promise<void> }> {
  const poller = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 500 });
  const joined = new Promise<void>((resolve) => poller.on(poller.events.GROUP_JOIN, () => resolve()));
  await poller.connect();
  await poller.subscribe({ topic: TOPIC, fromBeginning: true });
  await poller.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: async () => { /* the model delivers records */ } });
  poller.pause([{ topic: TOPIC }]);
  await joined;
  const offsets: OffsetStore = {
    read: async (partitions) => {
      const got = await admin.fetchOffsets({ groupId, topics: [TOPIC] });
      const parts = got[0]?.partitions ?? [];
      return new Map(partitions.map((p) => [p, Math.max(0, Number(parts.find((x) => x.partition === p)?.offset ?? -1))]));
    },
    commit: async (partition, offset) => poller.commitOffsets([{ topic: TOPIC, partition, offset: String(offset) }]),
  };
  return { offsets, close: () => poller.disconnect() };
}

describe('real Kafka records through the runtime (3 brokers, KRaft)', () => {
  let cluster: KafkaTestCluster;
  let kafka: Kafka;
  let admin: Admin;
  /** What was read back, per partition, in offset order, shaped as the MSK event carries it. */
  const records = new Map<number, KafkaRecordIn[]>();
  let produced = 0;

  beforeAll(async () => {
    cluster = await KafkaTestCluster.start({ brokers: 3, serverProperties: { 'default.replication.factor': '3', 'min.insync.replicas': '2', 'auto.create.topics.enable': 'false' } });
    report('runtime-startup', { brokers: 3, startupMs: cluster.startupMs });
    kafka = cluster.client('runtime');
    admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: TOPIC, numPartitions: PARTITIONS, replicationFactor: 3 }] });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    await producer.connect();
    // One partition per send(): kafkajs 2.2.4 can drop records of a send() spanning leaders (tulios/kafkajs#1303).
    for (let p = 0; p < PARTITIONS; p++) {
      await producer.send({
        topic: TOPIC, acks: -1,
        messages: Array.from({ length: PER_PARTITION }, (_, i) => ({
          partition: p, key: keyOf(i),
          value: p === 2 && i === 5 ? null : JSON.stringify({ id: `p${p}-${i}`, kind: kindOf(p, i) }),
          // A repeated header key and non-UTF-8 bytes (repeated keys adjacent: kafkajs reads headers into an object).
          headers: { bin: BINARY, trace: [`t-${p}-${i}`, 'second'] },
        })),
      });
      produced += PER_PARTITION;
    }
    await producer.disconnect();
    const consumer = kafka.consumer({ groupId: `read-back-${Date.now()}` });
    await consumer.connect();
    await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
    let read = 0;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`read ${read} of ${produced} records`)), 60_000);
      void consumer.run({
        eachBatch: async ({ batch }) => {
          const list = records.get(batch.partition) ?? [];
          for (const m of batch.messages) {
            list.push({
              offset: Number(m.offset), timestamp: Number(m.timestamp),
              key: m.key === null ? undefined : m.key.toString('base64'),
              value: m.value === null ? null : m.value.toString('base64'),
              headers: mskHeaders(m.headers),
            });
          }
          records.set(batch.partition, list);
          read += batch.messages.length;
          if (read >= produced) {
            clearTimeout(timer);
            resolve();
          }
        },
      }).catch(reject);
    });
    await consumer.disconnect();
    for (const list of records.values()) list.sort((a, b) => a.offset - b.offset);
  }, 180_000);

  afterAll(async () => {
    await admin?.disconnect();
    await cluster?.stop();
  }, 60_000);

  test('every record was read back, with its key, headers and tombstone as produced', () => {
    expect([...records.values()].reduce((n, l) => n + l.length, 0)).toBe(produced);
    for (let p = 0; p < PARTITIONS; p++) {
      const list = records.get(p)!;
      expect(list.map((r) => r.offset)).toEqual(Array.from({ length: PER_PARTITION }, (_, i) => i));
      expect(list[0].key).toBeUndefined(); // a null key
      expect(Buffer.from(list[1].key!, 'base64').toString()).toBe('customer-1');
      expect(list[1].headers.map((h) => Object.keys(h)[0])).toEqual(['bin', 'trace', 'trace']);
      expect(list[1].headers[0].bin.some((b) => b < 0)).toBe(true); // bytes ≥ 0x80 arrive negative
    }
    expect(records.get(2)![5].value).toBeNull();
  });

  test('one MSK event over three partitions: the runtime reports the lowest failed offset per partition, as {partition: "<topic>-<n>", offset}', async () => {
    const event = {
      eventSource: 'aws:kafka', eventSourceArn: CLUSTER_ARN, bootstrapServers: 'b-1.test:9098,b-2.test:9098',
      records: Object.fromEntries([...records].map(([p, list]) => [`${TOPIC}-${p}`, list.slice(0, 20).map((r) => mskRecord(TOPIC, p, r))])),
    };
    // Fails p0@3 (and p0@17, after it), p2@12; p1 has no failure in its first 20 records.
    const fail = new Set(['p0-3', 'p0-17', 'p2-12']);
    const contexts = new Map<string, RecordContext>();
    const res = await processBatch(event, (r, ctx) => {
      contexts.set(`${ctx.kafka!.partition}@${ctx.kafka!.offset}`, ctx);
      if (r !== null && fail.has((r as Doc).id)) throw new Error('chosen failure');
    });
    const byPartition = (a: { itemIdentifier: unknown }, b: { itemIdentifier: unknown }) => JSON.stringify(a).localeCompare(JSON.stringify(b));
    expect([...res.batchItemFailures].sort(byPartition)).toEqual([
      { itemIdentifier: { partition: 'orders.eu-west-1-0', offset: 3 } },
      { itemIdentifier: { partition: 'orders.eu-west-1-2', offset: 12 } },
    ]);
    // The handler saw the record's metadata as produced: null key, exact header bytes, the tombstone.
    const nullKey = contexts.get('1@0')!.kafka!;
    expect(nullKey).toMatchObject({ topic: TOPIC, partition: 1, offset: 0, key: null, tombstone: false });
    expect(nullKey.headers.map((h) => [h.key, h.value])).toEqual([['bin', BINARY], ['trace', Buffer.from('t-1-0')], ['trace', Buffer.from('second')]]);
    expect(contexts.get('1@1')!.kafka!.key).toEqual(Buffer.from('customer-1'));
    expect(contexts.get('2@5')!.kafka!.tombstone).toBe(true);
    report('runtime-one-event', { records: 60, failedChosen: 3, reported: res.batchItemFailures.length, stats: res.stats });
  });

  test('Lambda\'s redelivery rules over the real consumer group: every record ends applied exactly once or in the destination with its reason', async () => {
    const { offsets, close } = await groupOffsets(kafka, admin, `lambda-esm-${Date.now()}`);
    const store = new InMemoryIdempotencyStore({ owner: 'inv-0', ttlSeconds: 3600 });
    const applied: { id: string; partition: number; offset: number; key: string | null }[] = [];
    const attempts = new Map<string, number>();
    let handlerFailures = 0;
    let invocation = 0;
    const handler = (r: unknown, ctx: RecordContext) => {
      const m = ctx.kafka!;
      const id = r === null ? `p${m.partition}-${m.offset}` : (r as Doc).id;
      const n = (attempts.get(id) ?? 0) + 1;
      attempts.set(id, n);
      const kind = r === null ? 'ok' : (r as Doc).kind;
      if ((kind === 'transient' && n <= 2) || kind === 'poison') {
        handlerFailures++;
        throw new Error(`${kind} failure of ${id}`);
      }
      applied.push({ id, partition: m.partition, offset: m.offset, key: m.key?.toString() ?? null });
    };
    const result = await drainTopic(records, offsets, { topic: TOPIC, clusterArn: CLUSTER_ARN, batchSize: 10, retryAttempts: 10, bisect: true }, async (event) => {
      invocation++;
      const batch = (event as { records: Record<string, { offset: number; partition: number }[]> }).records;
      // A record that crashes the function (a timeout, an out-of-memory): the whole invocation fails.
      if (Object.values(batch).some((list) => list.some((r) => r.partition === 2 && r.offset === 33))) return { kind: 'error', why: 'function crashed' };
      const res = await processBatch(event, handler, {
        idempotency: { store: store.withOwner(`inv-${invocation}`), keyOf: (r) => (r === null ? undefined : (r as Doc).id) },
      });
      return { kind: 'response', response: { batchItemFailures: res.batchItemFailures } };
    });
    expect(result.violations).toEqual([]);

    // The group's committed offsets on the real cluster reached the end of every partition.
    const committed = await offsets.read([0, 1, 2]);
    expect([...committed.values()]).toEqual([PER_PARTITION, PER_PARTITION, PER_PARTITION]);
    await close();

    const inDestination = new Map<string, string>();
    for (const d of result.destination) for (const o of d.offsets) inDestination.set(`${d.partition}@${o}`, d.condition);
    const appliedCount = new Map<string, number>();
    for (const a of applied) appliedCount.set(`${TOPIC}-${a.partition}@${a.offset}`, (appliedCount.get(`${TOPIC}-${a.partition}@${a.offset}`) ?? 0) + 1);
    let redelivered = 0;
    let appliedAndInDestination = 0;
    const lost: string[] = [];
    for (let p = 0; p < PARTITIONS; p++) {
      for (const r of records.get(p)!) {
        const id = `${TOPIC}-${p}@${r.offset}`;
        const n = appliedCount.get(id) ?? 0;
        // Never applied twice: idempotency absorbs the redeliveries.
        expect([id, n]).toEqual([id, n > 0 ? 1 : 0]);
        if (n === 0 && !inDestination.has(id)) lost.push(id);
        // A destination batch may hold records a key chain applied before the failure that stopped the partition.
        if (n === 1 && inDestination.has(id)) appliedAndInDestination++;
        if ((result.deliveries.get(`${TOPIC}-${p}`)!.get(r.offset) ?? 0) > 1) redelivered++;
      }
    }
    expect(lost).toEqual([]);
    // The failing records are in the destination with the reason Lambda gives; the transient ones were applied.
    for (const id of [`${TOPIC}-1@25`, `${TOPIC}-2@33`, `${TOPIC}-2@30`]) expect(inDestination.get(id)).toBe('RetryAttemptsExhausted');
    expect(appliedCount.get(`${TOPIC}-0@3`)).toBe(1);
    expect(appliedCount.get(`${TOPIC}-0@17`)).toBe(1);
    expect(appliedCount.get(`${TOPIC}-2@5`)).toBe(1); // the tombstone, processed without an idempotency claim
    // Order: per partition and key, records were first applied in offset order (Kafka's and the runtime's guarantee).
    const firstApplied = applied.filter((a, i) => applied.findIndex((b) => b.id === a.id) === i);
    for (let p = 0; p < PARTITIONS; p++) {
      for (const key of [null, 'customer-0', 'customer-1', 'customer-2', 'customer-3']) {
        const seq = firstApplied.filter((a) => a.partition === p && a.key === key).map((a) => a.offset);
        expect(seq).toEqual([...seq].sort((a, b) => a - b));
      }
    }
    const destinationRecords = inDestination.size;
    report('runtime-redelivery', {
      produced, applied: appliedCount.size, appliedAndInDestination, handlerFailures, reported: result.stats.reported, redelivered,
      inDestination: destinationRecords, destinationEntries: result.destination.map((d) => `${d.partition}@${d.offsets[0]}..${d.offsets.at(-1)} ${d.condition}`),
      invocations: result.stats.invocations, functionErrors: result.stats.functionErrors, bisects: result.stats.bisects, partialFailures: result.stats.partialFailures,
    });
  }, 120_000);

  test('records older than the maximum record age go to the destination unprocessed, and the group moves past them', async () => {
    const { offsets, close } = await groupOffsets(kafka, admin, `lambda-esm-age-${Date.now()}`);
    const day = 24 * 3600 * 1000;
    let invoked = 0;
    const result = await drainTopic(records, offsets, { topic: TOPIC, clusterArn: CLUSTER_ARN, batchSize: 10, retryAttempts: 3, bisect: true, maxRecordAgeMs: day, now: () => Date.now() + 2 * day },
      async () => { invoked++; return { kind: 'response', response: { batchItemFailures: [] } }; });
    expect(invoked).toBe(0);
    expect(result.destination.map((d) => [d.partition, d.offsets.length, d.condition])).toEqual(
      [0, 1, 2].map((p) => [`${TOPIC}-${p}`, PER_PARTITION, 'MaximumRecordAgeExceeded']));
    await waitFor('the group at the end', () => offsets.read([0, 1, 2]), (m) => [...m.values()].every((o) => o === PER_PARTITION), 10_000);
    await close();
  }, 60_000);
});
