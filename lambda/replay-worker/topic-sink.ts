/**
 * Sending to an MSK topic: the Kafka sink beside the Kinesis one
 * (send-segment.ts). Pure: the producer is injected (topic-producer.ts binds
 * it to kafkajs), so the protocol is unit-tested without a broker.
 *
 * PLACEMENT. Each record goes to the partition a Java producer would pick for
 * its archived partition key: murmur2(key bytes) & 0x7fffffff mod partitions
 * (kafkajs's DefaultPartitioner, the Java-compatible one since kafkajs 2), so
 * a key replayed here lands where the application's own producers put it.
 * A record archived from an MSK topic has no key in the archive (Firehose
 * passes only the value, partition and offset): it goes keyless to its source
 * partition (mod the target's partitions), which keeps its partition's order.
 *
 * ONE PARTITION PER SEND. kafkajs 2.2.4 resolves a send() spanning several
 * partitions although some were never written when a leader fails over
 * mid-send (tulios/kafkajs#1303, reproduced in test/kafka/client.ts). So the
 * segment is grouped by partition and every send() carries records of one
 * partition, in lane order, at most `limits` per send (a v2 record batch is
 * one "message" to the broker's `max.message.bytes`). Partitions are sent one
 * after the other, so a key's records keep their order.
 *
 * ERRORS. The producer is idempotent with acks=all (-1) and one request in
 * flight, and retries retriable errors itself with the same producer sequence
 * numbers (no duplicates). When it gives up, a retriable root cause
 * (NOT_ENOUGH_REPLICAS, NOT_LEADER, a dropped connection, a timeout) is sent
 * again after a full-jitter backoff, up to `maxAttempts` sends, every send
 * paced by the rate limiter. A record too large for the topic
 * (MESSAGE_TOO_LARGE, RECORD_LIST_TOO_LARGE, INVALID_RECORD) is isolated by
 * halving its send; alone, it is sent once more without its replay header (as
 * the Kinesis sink sends an oversize record without its KPL tag), and fails
 * with that code if it still does not fit. Any other error (authorization,
 * unknown topic, a fenced producer) stops the send: every record not yet
 * written fails with it. A failed record holds back the later records of its
 * partition (`PrecededByFailure`), never those of other partitions; the
 * committer then checkpoints before the first failed record and the lane
 * stops with the failures in its error, as for Kinesis. Nothing is dropped.
 */
import { Partitioners, type PartitionerArgs } from 'kafkajs';
import { backoffDelayMs } from '../shared/retry';
import type { TokenBucketRateLimiter } from '../shared/rate-limiter';
import type { FailedEntry } from '../shared/put-records-packer';
import type { ArchivedRecord } from '../shared/archive-format';
import type { ProgressCounts } from './result';
import type { Pending } from './segment';
import { creditWritten } from './send-segment';

/** One record as produced: key = the archived partition key, value = the archived payload bytes. */
export interface TopicMessage {
  /** Null for a record archived from a topic: the archive holds no record key. */
  readonly key: Buffer | null;
  readonly value: Buffer;
  readonly headers?: Readonly<Record<string, string>>;
}

/** A producer on one topic (topic-producer.ts: kafkajs, idempotent, acks=all). */
export interface TopicSink {
  /** The topic's partition count. */
  readonly partitions: number;
  /** One produce request of records all for `partition`; rejects with the producer's error. */
  produce(partition: number, messages: readonly TopicMessage[]): Promise<void>;
}

/** Records and bytes (keys + values + headers) per send. */
export interface TopicSendLimits {
  readonly maxRecords: number;
  readonly maxBytes: number;
}

/**
 * Bytes per send: well under the 1 MiB default `max.message.bytes` of a v2 record batch (MSK's default too), with
 * room for the per-record overhead. A record larger than this goes alone.
 */
export const TOPIC_SEND_BYTES = 512 * 1024;

export interface TopicSender {
  /** Opens the topic (memoized by the caller): connects the producer and reads the partition count. */
  readonly open: () => Promise<TopicSink>;
  readonly limiter: TokenBucketRateLimiter;
  readonly limits: TopicSendLimits;
  /** Headers every replayed record carries (`replay_id`); none with tagging `none`. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Sends per record, the first included. @default 6 */
  readonly maxAttempts?: number;
  /** @default 100 */
  readonly baseDelayMs?: number;
  /** @default 5000 */
  readonly maxDelayMs?: number;
  readonly random?: () => number;
  readonly sleep: (ms: number) => Promise<void>;
}

/** What a producer error means for the records of the send. */
export interface TopicError {
  readonly code: string;
  readonly message: string;
  /** retry: send again after a backoff; too-large: isolate the record; stop: no send can succeed. */
  readonly action: 'retry' | 'too-large' | 'stop';
}

const TOO_LARGE = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE', 'INVALID_RECORD']);

/**
 * Classifies a kafkajs error by its root cause: KafkaJSNumberOfRetriesExceeded (not retriable itself) wraps
 * the broker's or the connection's error, whose `retriable` flag says whether another send may succeed.
 */
export function classifyTopicError(e: unknown): TopicError {
  let err = e as { name?: string; type?: string; message?: string; retriable?: boolean; cause?: unknown; originalError?: unknown } | undefined;
  // kafkajs gives up with KafkaJSNumberOfRetriesExceeded only on errors it deems retriable (retriable !== false).
  let retriedOut = false;
  for (let depth = 0; depth < 5 && err && err.type === undefined && (err.cause ?? err.originalError) && err.cause !== err; depth++) {
    retriedOut ||= err.name === 'KafkaJSNumberOfRetriesExceeded';
    err = (err.cause ?? err.originalError) as typeof err;
  }
  const code = err?.type ?? err?.name ?? 'Error';
  const message = err?.message ?? String(e);
  if (TOO_LARGE.has(code)) return { code, message, action: 'too-large' };
  const retriable = err?.retriable === true || (retriedOut && err?.retriable !== false);
  return { code, message, action: retriable ? 'retry' : 'stop' };
}

const partitioner = Partitioners.DefaultPartitioner();

/** The partition kafkajs's (Java-compatible) default partitioner gives `key` on a topic of `partitions`. */
export function topicPartitionOf(key: string, partitions: number): number {
  // For a keyed record only the partition count matters; the metadata's leaders are ignored.
  const partitionMetadata = Array.from({ length: partitions }, (_, partitionId) => ({ partitionId, leader: 0, replicas: [], isr: [], partitionErrorCode: 0 }));
  return partitioner({ topic: 'replay', partitionMetadata, message: { key, value: null } } as PartitionerArgs);
}

/**
 * The source partition of a line the archive processor wrote for an MSK record: the partition number as
 * `partition_key` and `<topic>-<partition>` as `shard_id` (a Kinesis shard id is `shardId-` and 12 digits).
 */
export function mskSourcePartition(r: Pick<ArchivedRecord, 'partition_key' | 'shard_id'>): number | undefined {
  const p = r.partition_key;
  if (!/^(0|[1-9][0-9]{0,9})$/.test(p) || r.shard_id.length <= p.length + 1 || !r.shard_id.endsWith(`-${p}`)) return undefined;
  return Number(p);
}

const messageBytes = (m: TopicMessage): number => (m.key?.byteLength ?? 0) + m.value.byteLength
  + Object.entries(m.headers ?? {}).reduce((sum, [k, v]) => sum + Buffer.byteLength(k) + Buffer.byteLength(v), 0);

/** The outcome of one partition's records: failures by index into the segment, and entries written without headers. */
interface PartitionRun {
  readonly failed: FailedEntry[];
  readonly untagged: Set<number>;
  stop?: TopicError;
}

/** Sends the segment's records, one partition per send; returns the entries not written, in segment order. */
export async function sendSegmentToTopic(sent: readonly Pending[], sender: TopicSender, progress: ProgressCounts): Promise<FailedEntry[]> {
  const sink = await sender.open();
  const byPartition = new Map<number, number[]>();
  sent.forEach((s, i) => {
    const p = s.sourcePartition !== undefined ? s.sourcePartition % sink.partitions : topicPartitionOf(s.entry.partitionKey, sink.partitions);
    byPartition.set(p, [...(byPartition.get(p) ?? []), i]);
  });
  const run: PartitionRun = { failed: [], untagged: new Set() };
  for (const [partition, indices] of byPartition) {
    if (run.stop) {
      for (const i of indices) run.failed.push(failure(sent, i, run.stop.code, run.stop.message, 0));
      continue;
    }
    await sendPartition(sent, partition, indices, sink, sender, progress, run);
  }
  run.failed.sort((a, b) => a.index - b.index);
  creditWritten(sent, run.failed, progress, run.untagged);
  return run.failed;
}

function failure(sent: readonly Pending[], index: number, errorCode: string, errorMessage: string, attempts: number): FailedEntry {
  return { entry: sent[index].entry, index, errorCode, errorMessage, attempts };
}

/** The partition's records in order, in sends within the limits; the first that fails holds back the rest. */
async function sendPartition(sent: readonly Pending[], partition: number, indices: readonly number[], sink: TopicSink,
  sender: TopicSender, progress: ProgressCounts, run: PartitionRun): Promise<void> {
  const message = (i: number, withHeaders = true): TopicMessage => ({
    key: sent[i].sourcePartition !== undefined ? null : Buffer.from(sent[i].entry.partitionKey, 'utf8'),
    value: Buffer.from(sent[i].entry.data),
    ...(withHeaders && sender.headers ? { headers: sender.headers } : {}),
  });
  const queue = chunks(indices, (i) => messageBytes(message(i)), sender.limits);
  while (queue.length > 0) {
    const chunk = queue.shift()!;
    const outcome = await sendWithRetries(sink, partition, chunk.map((i) => message(i)), sender, progress);
    if (outcome === undefined) continue;
    if (outcome.action === 'too-large' && chunk.length > 1) {
      // Isolate the record the topic refuses: the halves go first, in order.
      const half = Math.ceil(chunk.length / 2);
      queue.unshift(chunk.slice(0, half), chunk.slice(half));
      continue;
    }
    let final = outcome;
    if (outcome.action === 'too-large' && sender.headers) {
      const bare = await sendWithRetries(sink, partition, [message(chunk[0], false)], sender, progress);
      if (bare === undefined) {
        run.untagged.add(chunk[0]);
        continue;
      }
      final = bare;
    }
    const [first, ...rest] = [...chunk, ...queue.flat()];
    run.failed.push(failure(sent, first, final.code, final.message, final.attempts));
    for (const i of rest) {
      run.failed.push(final.action === 'stop'
        ? failure(sent, i, final.code, final.message, 0)
        : failure(sent, i, 'PrecededByFailure', `an earlier record of partition ${partition} was not written`, 0));
    }
    if (final.action === 'stop') run.stop = final;
    return;
  }
}

/** Consecutive runs of at most `limits` records and bytes (a record over the byte limit alone). */
function chunks(indices: readonly number[], bytesOf: (i: number) => number, limits: TopicSendLimits): number[][] {
  const out: number[][] = [];
  let current: number[] = [];
  let bytes = 0;
  for (const i of indices) {
    const b = bytesOf(i);
    if (current.length > 0 && (current.length >= limits.maxRecords || bytes + b > limits.maxBytes)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(i);
    bytes += b;
  }
  if (current.length > 0) out.push(current);
  return out;
}

/** One send, repeated after a backoff while the error is retriable; undefined when written. */
async function sendWithRetries(sink: TopicSink, partition: number, messages: TopicMessage[], sender: TopicSender,
  progress: ProgressCounts): Promise<(TopicError & { attempts: number }) | undefined> {
  const maxAttempts = sender.maxAttempts ?? 6;
  const bytes = messages.reduce((sum, m) => sum + messageBytes(m), 0);
  for (let attempt = 1; ; attempt++) {
    // Resends load the brokers the same: every send is paced.
    await sender.limiter.acquire(messages.length, bytes);
    progress.putCalls++;
    try {
      await sink.produce(partition, messages);
      return undefined;
    } catch (e) {
      const error = classifyTopicError(e);
      if (error.action !== 'retry' || attempt >= maxAttempts) return { ...error, attempts: attempt };
      await sender.sleep(backoffDelayMs(attempt, { baseMs: sender.baseDelayMs ?? 100, maxMs: sender.maxDelayMs ?? 5000, random: sender.random }));
    }
  }
}
