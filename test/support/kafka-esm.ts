/**
 * A model of Lambda's MSK / self-managed Kafka event-source mapping with the error controls of
 * provisioned mode, for tests that drive the runtime through it. It sees only each invocation's
 * outcome (a function error, or a partial batch response), as Lambda does.
 *
 * - Positions are the consumer group's committed offsets, read and written through `offsets` (the
 *   real cluster's group offsets in test/kafka/runtime.test.ts). Lambda's poller owns the group.
 * - A batch holds, per partition with records past its committed offset, up to `batchSize` records;
 *   the event is the exact MSK event (`records` keyed `<topic>-<partition>`).
 * - A partial batch response must name records of the batch as `{ partition: "<topic>-<n>", offset }`;
 *   anything else (a string, an unknown partition or offset, no array) fails the whole batch. Per
 *   partition, the group commits up to the LOWEST reported offset and redelivers from it; partitions
 *   not reported commit past the batch.
 * - A function error retries the whole batch; with `bisect` a batch of more than one record is split in
 *   two (each partition's records halved, or the partitions themselves once each has one record), retried
 *   in order. How Lambda splits a multi-partition Kafka batch is not documented: this is our model. After `retryAttempts` failed attempts
 *   (function errors, or partial failures at the same offset) the records go to the on-failure
 *   destination with the condition, and the offset advances past them.
 * - Records older than `maxRecordAgeMs` (by their timestamp and `now`) go to the destination unprocessed.
 */
export interface KafkaRecordIn {
  readonly offset: number;
  readonly timestamp: number;
  /** base64, or undefined for a null key */
  readonly key?: string;
  /** base64, or null for a tombstone */
  readonly value: string | null;
  readonly headers: { [key: string]: number[] }[];
}

export interface KafkaEsmOptions {
  readonly topic: string;
  readonly clusterArn: string;
  readonly batchSize: number;
  readonly retryAttempts: number;
  readonly bisect: boolean;
  readonly maxRecordAgeMs?: number;
  readonly now?: () => number;
  readonly maxInvocations?: number;
}

/** Where the group's committed offsets live (the next offset to read, per partition). */
export interface OffsetStore {
  read(partitions: number[]): Promise<Map<number, number>>;
  commit(partition: number, offset: number): Promise<void>;
}

/** What the destination receives: the failed records of one partition and why. */
export interface DestinationEntry {
  readonly condition: 'RetryAttemptsExhausted' | 'MaximumRecordAgeExceeded';
  readonly partition: string;
  readonly offsets: number[];
  readonly approximateInvokeCount: number;
}

export type Invocation = { kind: 'error'; why: string } | { kind: 'response'; response: unknown };

export interface KafkaEsmResult {
  readonly destination: DestinationEntry[];
  /** Per `<topic>-<partition>`: how many times each offset was delivered. */
  readonly deliveries: Map<string, Map<number, number>>;
  readonly violations: string[];
  readonly stats: { invocations: number; functionErrors: number; invalidResponses: number; partialFailures: number; reported: number; bisects: number };
  readonly trace: string[];
}

interface Range { partition: number; start: number; end: number }
interface Batch { ranges: Range[]; failures: number }

/** Drains `records` (per partition, in offset order) through `invoke`, as Lambda's Kafka poller does. */
export async function drainTopic(records: Map<number, KafkaRecordIn[]>, offsets: OffsetStore, opts: KafkaEsmOptions,
  invoke: (event: unknown) => Promise<Invocation>): Promise<KafkaEsmResult> {
  const partitions = [...records.keys()].sort((a, b) => a - b);
  const key = (p: number) => `${opts.topic}-${p}`;
  const byOffset = new Map(partitions.map((p) => [p, new Map(records.get(p)!.map((r, i) => [r.offset, i]))]));
  const destination: DestinationEntry[] = [];
  const deliveries = new Map(partitions.map((p) => [key(p), new Map<number, number>()]));
  const violations: string[] = [];
  const trace: string[] = [];
  const stats = { invocations: 0, functionErrors: 0, invalidResponses: 0, partialFailures: 0, reported: 0, bisects: 0 };
  /** Failed attempts of the records starting at an offset, per partition (a partial failure retries from there). */
  const attemptsAt = new Map<string, number>();
  const pending: Batch[] = [];
  const now = opts.now ?? Date.now;

  const inRange = (r: Range) => records.get(r.partition)!.filter((x) => x.offset >= r.start && x.offset < r.end);
  const toDestination = async (r: Range, condition: DestinationEntry['condition'], count: number) => {
    const offs = inRange(r).map((x) => x.offset);
    destination.push({ condition, partition: key(r.partition), offsets: offs, approximateInvokeCount: count });
    trace.push(`  → destination ${key(r.partition)} [${r.start},${r.end}) ${condition}`);
    await offsets.commit(r.partition, r.end);
  };

  for (;;) {
    if (pending.length === 0) {
      const committed = await offsets.read(partitions);
      // Records past the age limit never reach the function.
      if (opts.maxRecordAgeMs !== undefined) {
        for (const p of partitions) {
          const last = agedOut(records.get(p)!, committed.get(p) ?? 0, now() - opts.maxRecordAgeMs);
          if (last > (committed.get(p) ?? 0)) {
            await toDestination({ partition: p, start: committed.get(p) ?? 0, end: last }, 'MaximumRecordAgeExceeded', 0);
            committed.set(p, last);
          }
        }
      }
      const ranges = nextRanges(records, byOffset, committed, opts.batchSize);
      if (ranges.length === 0) break;
      pending.push({ ranges, failures: 0 });
    }
    if (stats.invocations >= (opts.maxInvocations ?? 5_000)) {
      violations.push(`not drained after ${stats.invocations} invocations`);
      break;
    }
    const batch = pending[0];
    stats.invocations++;
    for (const r of batch.ranges) {
      const seen = deliveries.get(key(r.partition))!;
      for (const x of inRange(r)) seen.set(x.offset, (seen.get(x.offset) ?? 0) + 1);
    }
    const event = mskEvent(opts, batch.ranges, inRange);
    const outcome = await invoke(event);
    const desc = batch.ranges.map((r) => `${key(r.partition)}[${r.start},${r.end})`).join(' ');

    // Validate the partial batch response as Lambda does: anything unknown fails the whole batch.
    const { error, lowest, reported } = readResponse(outcome, batch.ranges, key, (p, o) => byOffset.get(p)!.has(o));
    stats.reported += reported;
    if (outcome.kind === 'response' && error !== undefined) {
      stats.invalidResponses++;
      violations.push(`${desc}: ${error}`);
    }

    if (error !== undefined) {
      stats.functionErrors++;
      batch.failures++;
      trace.push(`#${stats.invocations} ${desc} FUNCTION ERROR (${error}), failed attempts ${batch.failures}`);
      if (batch.failures > opts.retryAttempts) {
        pending.shift();
        for (const r of batch.ranges) await toDestination(r, 'RetryAttemptsExhausted', batch.failures);
      } else if (opts.bisect && batch.ranges.reduce((n, r) => n + inRange(r).length, 0) > 1) {
        const halves = bisect(batch, inRange);
        pending.splice(0, 1, ...halves);
        stats.bisects++;
        trace.push(`  → bisect into ${halves.length} batches`);
      }
      continue;
    }
    pending.shift();
    if (lowest.size > 0) stats.partialFailures++;
    trace.push(`#${stats.invocations} ${desc} ${lowest.size === 0 ? 'ok' : `partial: ${[...lowest].map(([p, o]) => `${key(p)}@${o}`).join(' ')}`}`);
    await commitResponse(batch.ranges, lowest, batch.failures, { offsets, attemptsAt, retryAttempts: opts.retryAttempts, toDestination });
    // Bisected halves still pending were delivered from offsets the group has not reached: drop the ones a partial failure overtook.
    for (const b of pending) b.ranges = b.ranges.filter((r) => !lowest.has(r.partition));
    while (pending.length > 0 && pending[0].ranges.length === 0) pending.shift();
  }
  return { destination, deliveries, violations, stats, trace };
}

/**
 * After a response: per partition, commit past the batch, or up to the lowest reported offset (counting the
 * failed attempts of deliveries starting there) and, past `retryAttempts`, send the rest to the destination.
 */
async function commitResponse(ranges: Range[], lowest: Map<number, number>, batchFailures: number, ctx: {
  offsets: OffsetStore; attemptsAt: Map<string, number>; retryAttempts: number;
  toDestination: (r: Range, condition: DestinationEntry['condition'], count: number) => Promise<void>;
}): Promise<void> {
  const { offsets, attemptsAt } = ctx;
  for (const r of ranges) {
    const failed = lowest.get(r.partition);
    if (failed === undefined) {
      await offsets.commit(r.partition, r.end);
      attemptsAt.delete(`${r.partition}@${r.start}`);
      continue;
    }
    const at = `${r.partition}@${failed}`;
    // A failure at the first record of what was delivered counts the attempts of a batch there; a later one starts anew.
    const attempts = (failed === r.start ? batchFailures + (attemptsAt.get(at) ?? 0) : 0) + 1;
    attemptsAt.set(at, attempts);
    await offsets.commit(r.partition, failed);
    if (attempts > ctx.retryAttempts) {
      attemptsAt.delete(at);
      await ctx.toDestination({ partition: r.partition, start: failed, end: r.end }, 'RetryAttemptsExhausted', attempts);
    }
  }
}

/** Per partition, the next up to `batchSize` records from its committed offset. */
function nextRanges(records: Map<number, KafkaRecordIn[]>, byOffset: Map<number, Map<number, number>>, committed: Map<number, number>, batchSize: number): Range[] {
  return [...records.keys()].sort((a, b) => a - b).map((p): Range => {
    const start = committed.get(p) ?? 0;
    const list = records.get(p)!;
    const i = byOffset.get(p)!.get(start) ?? list.length;
    const last = list[Math.min(list.length, i + batchSize) - 1];
    return { partition: p, start, end: i >= list.length ? start : last.offset + 1 };
  }).filter((r) => r.end > r.start);
}

/** The exact MSK event of a batch. */
function mskEvent(opts: KafkaEsmOptions, ranges: Range[], inRange: (r: Range) => KafkaRecordIn[]): unknown {
  const records: Record<string, unknown[]> = {};
  for (const r of ranges) records[`${opts.topic}-${r.partition}`] = inRange(r).map((x) => mskRecord(opts.topic, r.partition, x));
  return { eventSource: 'aws:kafka', eventSourceArn: opts.clusterArn, bootstrapServers: 'b-1.test:9098,b-2.test:9098,b-3.test:9098', records };
}

/** Past the leading run of records older than `oldest` from offset `from`: the offset to move to. */
function agedOut(list: KafkaRecordIn[], from: number, oldest: number): number {
  let last = from;
  for (const x of list) {
    if (x.offset < from) continue;
    if (x.offset !== last || x.timestamp >= oldest) break; // a younger record ends the run
    last = x.offset + 1;
  }
  return last;
}

/** A response as Lambda reads it: the lowest reported offset per partition, or why it fails the whole batch. */
function readResponse(outcome: Invocation, ranges: Range[], key: (p: number) => string, known: (p: number, offset: number) => boolean):
{ error?: string; lowest: Map<number, number>; reported: number } {
  const lowest = new Map<number, number>();
  if (outcome.kind === 'error') return { error: outcome.why, lowest, reported: 0 };
  let error: string | undefined;
  let reported = 0;
  const failures = (outcome.response as { batchItemFailures?: unknown } | null)?.batchItemFailures;
  if (failures !== undefined && failures !== null && !Array.isArray(failures)) error = 'batchItemFailures is not an array';
  for (const f of (Array.isArray(failures) ? failures : [])) {
    const id = (f as { itemIdentifier?: unknown })?.itemIdentifier as { partition?: unknown; offset?: unknown } | undefined;
    const r = ranges.find((x) => key(x.partition) === id?.partition);
    if (typeof id !== 'object' || id === null || typeof id.offset !== 'number' || !r || id.offset < r.start || id.offset >= r.end || !known(r.partition, id.offset)) {
      error = `unknown itemIdentifier ${JSON.stringify(id)}`;
      continue;
    }
    reported++;
    if (!lowest.has(r.partition) || id.offset < lowest.get(r.partition)!) lowest.set(r.partition, id.offset);
  }
  return { error, lowest, reported };
}

function bisect(batch: Batch, inRange: (r: Range) => KafkaRecordIn[]): Batch[] {
  const first: Range[] = [];
  const second: Range[] = [];
  for (const r of batch.ranges) {
    const list = inRange(r);
    if (list.length <= 1) {
      first.push(r);
      continue;
    }
    const mid = list[Math.floor(list.length / 2)].offset;
    first.push({ partition: r.partition, start: r.start, end: mid });
    second.push({ partition: r.partition, start: mid, end: r.end });
  }
  // One record per partition left: split the partitions instead.
  if (second.length === 0 && first.length > 1) return [{ ranges: first.slice(0, first.length >> 1), failures: batch.failures }, { ranges: first.slice(first.length >> 1), failures: batch.failures }];
  return [{ ranges: first, failures: batch.failures }, ...(second.length > 0 ? [{ ranges: second, failures: batch.failures }] : [])];
}

/** One record as the MSK event carries it. */
export function mskRecord(topic: string, partition: number, r: KafkaRecordIn): Record<string, unknown> {
  const out: Record<string, unknown> = { topic, partition, offset: r.offset, timestamp: r.timestamp, timestampType: 'CREATE_TIME' };
  if (r.key !== undefined) out.key = r.key;
  if (r.value !== null) out.value = r.value;
  out.headers = r.headers;
  return out;
}
