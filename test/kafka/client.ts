/**
 * kafkajs helpers for the tests on the real cluster: produce with acks=all and count what was
 * acknowledged, read a topic back until a condition holds, and wait on partition metadata.
 */
import { Admin, Kafka, Partitioners, Producer } from 'kafkajs';

/** Per record: acknowledged (the broker confirmed acks=all) or refused (the send threw). */
export interface ProduceResult {
  readonly acked: string[];
  readonly refused: string[];
  readonly errors: string[];
}

/** An idempotent producer (kafkajs requires maxInFlightRequests 1 for it); sends use acks=all (-1). */
export async function idempotentProducer(kafka: Kafka, retries = 5): Promise<Producer> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, retry: { retries, initialRetryTime: 100, maxRetryTime: 1000 } });
  await producer.connect();
  return producer;
}

/**
 * Sends `keys` in batches of `batch` with acks=all; a send that throws counts its records as refused, not acknowledged.
 * `between(ackedSoFar)` runs after each batch (a test kills a broker there, mid-stream).
 *
 * Each send() carries ONE partition (the key's partition by kafkajs's default murmur2 partitioner, so the
 * placement is the same as without this). kafkajs 2.2.4 loses records otherwise (tulios/kafkajs#1303, open;
 * seen here: 14 of 2,000 "acknowledged" records never written): when a send() spanning several leaders is
 * retried after one leader died, the partitions that moved to a broker that had already answered that send()
 * are never sent, and send() still resolves. With one partition per send() there is no such broker.
 */
export async function produceKeys(producer: Producer, topic: string, keys: string[], batch = 100,
  between?: (ackedSoFar: number) => Promise<void>, partitions = 3): Promise<ProduceResult> {
  const acked: string[] = [];
  const refused: string[] = [];
  const errors: string[] = [];
  const partitioner = Partitioners.DefaultPartitioner();
  const partitionMetadata = Array.from({ length: partitions }, (_, partitionId) => ({ partitionId, leader: 0, replicas: [], isr: [], partitionErrorCode: 0 }));
  for (let i = 0; i < keys.length; i += batch) {
    const perPartition = new Map<number, string[]>();
    for (const key of keys.slice(i, i + batch)) {
      const p = partitioner({ topic, partitionMetadata, message: { key, value: null } });
      perPartition.set(p, [...(perPartition.get(p) ?? []), key]);
    }
    for (const [partition, chunk] of perPartition) {
      try {
        await producer.send({ topic, acks: -1, messages: chunk.map((key) => ({ key, partition, value: `value-of-${key}`, headers: { source: 'kafka-test' } })) });
        acked.push(...chunk);
      } catch (e) {
        refused.push(...chunk);
        errors.push(errorName(e));
      }
    }
    await between?.(acked.length);
  }
  return { acked, refused, errors: [...new Set(errors)] };
}

/** The Kafka error type behind a kafkajs error (retries wrap the broker's error). */
export function errorName(e: unknown): string {
  const err = e as { type?: string; name?: string; cause?: unknown; originalError?: unknown };
  const inner = err.originalError ?? err.cause;
  if (inner) return errorName(inner);
  return err.type ?? err.name ?? String(e);
}

export function keys(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}-${String(i).padStart(5, '0')}`);
}

/**
 * Reads `topic` from the beginning with a fresh consumer group until `done(keys so far)` holds,
 * and returns every key read (duplicates kept, so a test can see them). Fails after `timeoutMs`.
 */
export async function readUntil(kafka: Kafka, topic: string, done: (keys: string[]) => boolean, timeoutMs = 30_000): Promise<string[]> {
  const consumer = kafka.consumer({ groupId: `read-${topic}-${Date.now()}-${Math.random()}`, sessionTimeout: 10_000, heartbeatInterval: 1000 });
  const seen: string[] = [];
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`read ${seen.length} records from ${topic} in ${timeoutMs} ms without reaching the expected set`)), timeoutMs);
      void consumer.run({
        eachBatch: async ({ batch }) => {
          for (const m of batch.messages) seen.push(m.key?.toString() ?? '');
          if (done(seen)) {
            clearTimeout(timer);
            resolve();
          }
        },
      }).catch(reject);
    });
    return seen;
  } finally {
    await consumer.disconnect();
  }
}

/** Leader and ISR of partition 0 of `topic`, read from the cluster's metadata. */
export async function partitionState(admin: Admin, topic: string): Promise<{ leader: number; isr: number[] }> {
  const meta = await admin.fetchTopicMetadata({ topics: [topic] });
  const p = meta.topics[0].partitions.find((x) => x.partitionId === 0)!;
  return { leader: p.leader, isr: [...p.isr].sort() };
}

/**
 * Polls `probe` until it returns a value `ok` accepts, retrying on errors (brokers down or electing),
 * and fails with the last value after `timeoutMs`. The 200 ms is the poll interval, not the condition.
 */
export async function waitFor<T>(what: string, probe: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (ok(v)) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${JSON.stringify(last) ?? String(last)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
