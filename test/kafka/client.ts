/**
 * kafkajs helpers for the tests on the real cluster: produce with acks=all and count what was
 * acknowledged, read a topic back until a condition holds, and wait on partition metadata.
 */
import { Admin, Kafka, Producer } from 'kafkajs';

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

/** Sends `keys` in batches of `batch` with acks=all; a batch whose send throws counts as refused, not acknowledged. */
export async function produceKeys(producer: Producer, topic: string, keys: string[], batch = 100): Promise<ProduceResult> {
  const acked: string[] = [];
  const refused: string[] = [];
  const errors: string[] = [];
  for (let i = 0; i < keys.length; i += batch) {
    const chunk = keys.slice(i, i + batch);
    try {
      await producer.send({ topic, acks: -1, messages: chunk.map((key) => ({ key, value: `value-of-${key}`, headers: { source: 'kafka-test' } })) });
      acked.push(...chunk);
    } catch (e) {
      refused.push(...chunk);
      errors.push(errorName(e));
    }
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
