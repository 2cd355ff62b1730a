/**
 * A model of Lambda's Kinesis event-source mapping (ESM) for one shard, independent of any engine: it
 * only sees each invocation's outcome (a function error, or a partial batch response). Extracted from
 * test/lambda/batch/conservation.test.ts, whose file comment describes the model; that test and the
 * fraud engine's tests drive their handlers through it.
 *
 * - The checkpoint is an index into the shard; a batch is up to `batchSize` records from it.
 * - A function error is one failed attempt; past `retryAttempts` the batch goes to the on-failure
 *   destination; with `bisectBatchOnError` it is split in two halves retried in order.
 * - A partial batch response checkpoints at the LOWEST reported sequence number (an invalid response
 *   is a function error); a successful batch may be delivered again (`redeliver`: a lost checkpoint).
 */
/** What one invocation produced, as Lambda sees it. */
export type Attempt = { kind: 'error'; why: string } | { kind: 'response'; response: unknown };

/** The record Lambda sends to a Kinesis mapping's on-failure destination (metadata only). */
export interface OnFailureRecord {
  requestContext: { condition: 'RetryAttemptsExhausted'; approximateInvokeCount: number };
  KinesisBatchInfo: { shardId: string; startSequenceNumber: string; endSequenceNumber: string; batchSize: number };
}

export interface EsmOptions {
  readonly batchSize: number;
  readonly retryAttempts: number;
  readonly bisect: boolean;
  /** Asked after each successful batch: deliver it again (lost checkpoint)? */
  readonly redeliver?: () => boolean;
  readonly maxInvocations?: number;
  readonly shardId?: string;
  /** Where the trace goes (shared with the caller's own notes). @default a new array */
  readonly trace?: string[];
}

export interface EsmResult {
  /** Every delivered range [start, end) in order. */
  readonly deliveries: [number, number][];
  /** What the on-failure destination received. */
  readonly destination: OnFailureRecord[];
  /** The simulator's own log of the ranges it sent to the destination. */
  readonly sent: [number, number][];
  readonly violations: string[];
  readonly trace: string[];
  readonly stats: { invocations: number; functionErrors: number; partialFailures: number; bisects: number; redeliveries: number };
}

interface Range { start: number; end: number; failures: number; top: boolean }

/**
 * Drains one shard (sequence numbers in increasing order) through `invoke`, as Lambda's ESM
 * does with reportBatchItemFailures, finite retryAttempts, optional bisect and an on-failure
 * destination.
 */
export async function drainShard(seqs: readonly string[], opts: EsmOptions, invoke: (start: number, end: number) => Promise<Attempt>): Promise<EsmResult> {
  const n = seqs.length;
  const indexOf = new Map(seqs.map((s, i) => [s, i]));
  const deliveries: [number, number][] = [];
  const destination: OnFailureRecord[] = [];
  const sent: [number, number][] = [];
  const violations: string[] = [];
  const trace = opts.trace ?? [];
  const stats = { invocations: 0, functionErrors: 0, partialFailures: 0, bisects: 0, redeliveries: 0 };
  const max = opts.maxInvocations ?? 20_000;
  let cp = 0;
  const pending: Range[] = [];

  const toDestination = (r: Range) => {
    destination.push({
      requestContext: { condition: 'RetryAttemptsExhausted', approximateInvokeCount: r.failures },
      KinesisBatchInfo: { shardId: opts.shardId ?? 'shardId-000000000000', startSequenceNumber: seqs[r.start], endSequenceNumber: seqs[r.end - 1], batchSize: r.end - r.start },
    });
    sent.push([r.start, r.end]);
    trace.push(`  → on-failure destination [${r.start},${r.end}) after ${r.failures} failed attempts`);
    cp = r.end;
    pending.shift();
  };

  while (cp < n || pending.length > 0) {
    if (pending.length === 0) pending.push({ start: cp, end: Math.min(n, cp + opts.batchSize), failures: 0, top: true });
    const r = pending[0];
    if (r.start !== cp) violations.push(`simulator: range [${r.start},${r.end}) does not start at checkpoint ${cp}`);
    if (stats.invocations >= max) {
      violations.push(`shard not drained after ${max} invocations (checkpoint ${cp}/${n})`);
      break;
    }
    stats.invocations++;
    deliveries.push([r.start, r.end]);
    const attempt = await invoke(r.start, r.end);

    // Validate a partial batch response as Lambda does; an invalid one fails the whole batch.
    let lowest: number | undefined;
    let error: string | undefined = attempt.kind === 'error' ? attempt.why : undefined;
    if (attempt.kind === 'response') {
      const failures = (attempt.response as { batchItemFailures?: unknown })?.batchItemFailures;
      if (!Array.isArray(failures)) {
        error = 'invalid response';
        violations.push(`[${r.start},${r.end}): response without a batchItemFailures array`);
      } else {
        let lowestSeq: bigint | undefined;
        for (const f of failures) {
          const id = (f as { itemIdentifier?: unknown })?.itemIdentifier;
          const i = typeof id === 'string' ? indexOf.get(id) : undefined;
          if (typeof id !== 'string' || id === '') {
            error = 'empty itemIdentifier';
            violations.push(`[${r.start},${r.end}): empty or non-string itemIdentifier ${JSON.stringify(id)}`);
          } else if (i === undefined || i < r.start || i >= r.end) {
            error = 'itemIdentifier not in batch';
            violations.push(`[${r.start},${r.end}): itemIdentifier ${id} is not a sequence number of the batch`);
          } else if (lowestSeq === undefined || BigInt(id) < lowestSeq) {
            lowestSeq = BigInt(id);
            lowest = i;
          }
        }
        // Sequence numbers increase along the shard: the lowest one is the earliest record.
        if (error === undefined && lowest !== undefined && failures.some((f) => indexOf.get((f as { itemIdentifier: string }).itemIdentifier)! < lowest!)) {
          violations.push('simulator: sequence order and shard order disagree');
        }
      }
    }

    if (error !== undefined) {
      stats.functionErrors++;
      r.failures++;
      trace.push(`#${stats.invocations} [${r.start},${r.end}) FUNCTION ERROR (${error}), failed attempts ${r.failures}`);
      if (r.failures > opts.retryAttempts) {
        toDestination(r);
      } else if (opts.bisect && r.end - r.start > 1) {
        const mid = r.start + Math.floor((r.end - r.start) / 2);
        pending.splice(0, 1, { start: r.start, end: mid, failures: r.failures, top: false }, { start: mid, end: r.end, failures: r.failures, top: false });
        stats.bisects++;
        trace.push(`  → bisect into [${r.start},${mid}) and [${mid},${r.end})`);
      }
      continue;
    }
    if (lowest === undefined) {
      trace.push(`#${stats.invocations} [${r.start},${r.end}) ok`);
      if (opts.redeliver?.()) {
        stats.redeliveries++;
        trace.push('  → checkpoint lost: the same batch is delivered again');
        continue;
      }
      cp = r.end;
      pending.shift();
      continue;
    }
    stats.partialFailures++;
    if (lowest > r.start) {
      r.start = lowest;
      r.failures = 0;
      if (r.top) r.end = Math.min(n, lowest + opts.batchSize);
      cp = lowest;
    }
    r.failures++;
    trace.push(`#${stats.invocations} partial failure at ${lowest} (seq ${seqs[lowest]}), checkpoint ${cp}, failed attempts at this start ${r.failures}`);
    if (r.failures > opts.retryAttempts) toDestination(r);
  }
  return { deliveries, destination, sent, violations, trace, stats };
}
