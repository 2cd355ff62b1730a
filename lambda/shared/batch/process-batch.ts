/**
 * The batch-processing engine: decode → (claim) → process in order → (complete/release) → report.
 * Pure apart from the injected handler, store and clock; no AWS SDK.
 *
 * Guarantees:
 * - Every record ends processed, skipped as an already-applied duplicate, diverted to the
 *   dead-letter sink, or reported as a failure (so Lambda retries it and, after the mapping's
 *   finite retries, sends it to the on-failure destination). None is dropped.
 * - Within a lane, records with the same order key run in order; a stream lane stops at its first
 *   failure and reports it; nothing before the checkpoint is left unprocessed.
 * - With an idempotency store, a record whose effect was applied and completed is never applied
 *   again, even when Lambda redelivers it after a later record's failure.
 */
import { decodeUnits, type DecodedUnit } from './decode-units';
import { normalizeEvent, type BatchItemFailure, type Lane, type SourceKind } from './event-sources';
import type { ClaimOutcome, IdempotencyStore } from '../idempotency/store';

/** A record whose failure is permanent (retrying cannot help): sent to the dead-letter sink when one is set. */
export class PoisonRecordError extends Error {}

export interface RecordContext {
  /** Lane (shard, partition, message group) the record belongs to. */
  readonly lane: string;
  /** Partition key (Kinesis) of the record or of its KPL aggregate. */
  readonly partitionKey?: string;
  /** Index inside a KPL aggregate (0 for plain records). */
  readonly subSequence: number;
  /** Raw bytes of the user record. */
  readonly bytes: Buffer;
}

export type RecordHandler = (record: unknown, ctx: RecordContext) => unknown;

export interface DeadLetterEntry {
  readonly lane: string;
  readonly failureId: BatchItemFailure['itemIdentifier'];
  readonly subSequence: number;
  readonly reason: string;
  /** Original payload of the delivered record (base64 for streams, text for SQS). */
  readonly payload: string;
}

export interface IdempotencyOptions {
  readonly store: IdempotencyStore;
  /** Key of a decoded record (e.g. its `event_id`); undefined fails the record as `missing_idempotency_key`. */
  readonly keyOf: (record: unknown) => string | undefined;
  /** Hash of the payload bytes, to reject a key reused with different content. @default none */
  readonly hashOf?: (bytes: Buffer) => string;
}

export interface ProcessOptions {
  /** `json` (default) parses each user record; `bytes` hands the raw Buffer to the handler. */
  readonly parse?: 'json' | 'bytes';
  /** Most order keys processed at once across the batch. @default 16 */
  readonly concurrency?: number;
  readonly idempotency?: IdempotencyOptions;
  /** Permanent failures (decode errors, PoisonRecordError, hash mismatch) go here instead of blocking the lane. */
  readonly deadLetter?: (entries: DeadLetterEntry[]) => Promise<void>;
  /** Remaining invocation time; records are not started within `safetyMarginMs` of the deadline. */
  readonly remainingTimeMs?: () => number;
  /** @default 3000 */
  readonly safetyMarginMs?: number;
  readonly now?: () => number;
}

export type Outcome = 'processed' | 'duplicate' | 'dead_lettered' | 'failed' | 'skipped';

export interface BatchStats {
  readonly kind: SourceKind;
  readonly records: number;
  readonly userRecords: number;
  readonly processed: number;
  readonly duplicates: number;
  readonly deadLettered: number;
  readonly failed: number;
  readonly skipped: number;
  readonly failuresByReason: Record<string, number>;
  readonly durationMs: number;
}

export interface BatchResult {
  readonly batchItemFailures: BatchItemFailure[];
  readonly stats: BatchStats;
  /** Per user record outcome, in lane order (for tests and logs). */
  readonly outcomes: { lane: string; index: number; subSequence: number; outcome: Outcome; reason?: string }[];
}

const PERMANENT = new Set(['invalid_base64', 'invalid_utf8', 'invalid_json', 'kpl_corrupt', 'hash_mismatch', 'missing_idempotency_key', 'poison']);

interface Unit extends DecodedUnit {
  lane: Lane;
  pos: number;
  outcome?: Outcome;
  reason?: string;
  claimKey?: string;
  claimed?: boolean;
  /** The first occurrence of this unit's key in the batch; this unit shares its fate. */
  dupOf?: Unit;
}

/** Processes one event-source-mapping batch and returns the partial batch response. */
export async function processBatch(event: unknown, handler: RecordHandler, options: ProcessOptions = {}): Promise<BatchResult> {
  const now = options.now ?? Date.now;
  const started = now();
  const batch = normalizeEvent(event);
  const parse = options.parse ?? 'json';

  // 1. Decode every delivered record into user records (KPL aggregates expand).
  const byLane = batch.lanes.map((lane) => {
    const units: Unit[] = [];
    for (const item of lane.items) {
      for (const u of decodeUnits(item, parse, batch.kind === 'kinesis')) {
        // Extend the decoded unit in place: a copy per record is measurable on 10,000-record batches.
        const unit = u as Unit;
        unit.lane = lane;
        unit.pos = units.length;
        units.push(unit);
      }
    }
    return units;
  });
  const all = byLane.flat();
  for (const u of all) if (u.error) fail(u, u.error);

  // 2. Claim idempotency keys for the whole batch in a few store calls.
  const idem = options.idempotency;
  if (idem) await claimAll(all.filter((u) => !u.outcome), idem, options);

  // 3. Divert permanent failures found so far, so they do not block their lane.
  await divert(all, options);

  // 4. Process lanes: in order per order key, stopping a stream lane at its first failure.
  const limit = new Semaphore(Math.max(1, options.concurrency ?? 16));
  const margin = options.safetyMarginMs ?? 3000;
  const outOfTime = () => options.remainingTimeMs !== undefined && options.remainingTimeMs() < margin;
  await Promise.all(byLane.map((units) => runLane(units, handler, limit, outOfTime, options.deadLetter !== undefined)));

  // 5. Permanent failures raised by the handler (PoisonRecordError) are diverted too.
  await divert(all, options);

  // A repeated key succeeds only if its first occurrence did.
  for (const u of all) {
    if (u.dupOf && !['processed', 'dead_lettered', 'duplicate'].includes(u.dupOf.outcome ?? '')) fail(u, 'first_occurrence_failed');
  }

  // 6. Settle claims: completed effects are marked, everything else is released for a retry.
  if (idem) await settleClaims(all, idem.store);

  return respond(batch.kind, byLane, all, now() - started);
}

function fail(u: Unit, reason: string): void {
  u.outcome = 'failed';
  u.reason = reason;
}

async function claimAll(units: Unit[], idem: IdempotencyOptions, options: ProcessOptions): Promise<void> {
  const requests: { key: string; payloadHash?: string }[] = [];
  const owners: Unit[] = [];
  for (const u of units) {
    let key: string | undefined;
    try {
      key = idem.keyOf(u.value);
    } catch {
      key = undefined; // a payload the key function cannot read fails alone, not the batch
    }
    if (key === undefined || key === '') {
      fail(u, 'missing_idempotency_key');
      continue;
    }
    u.claimKey = key;
    requests.push({ key, payloadHash: idem.hashOf?.(u.bytes) });
    owners.push(u);
  }
  if (requests.length === 0) return;
  // An in-progress claim expires with this invocation, so a crash frees it for the retry.
  const inProgressExpiryMs = Math.max(1000, options.remainingTimeMs?.() ?? 60_000);
  let outcomes: ClaimOutcome[];
  try {
    outcomes = await idem.store.claim(requests, { inProgressExpiryMs });
  } catch {
    outcomes = requests.map(() => 'error');
  }
  // An 'error' claim may have committed with its response lost: release it with the failures,
  // so the retry can claim at once instead of waiting out the invocation's timeout.
  owners.forEach((u, i) => {
    if (outcomes[i] === 'error') u.claimed = true;
  });
  const firstOfKey = new Map<string, Unit>();
  owners.forEach((u, i) => {
    const o = outcomes[i];
    if (o === 'claimed') {
      u.claimed = true;
      firstOfKey.set(u.claimKey!, u);
    } else if (o === 'duplicate') {
      u.outcome = 'duplicate';
    } else if (o === 'duplicate_in_batch') {
      // Same key earlier in this batch: its effect is the first occurrence's, and so is its fate.
      u.outcome = 'duplicate';
      u.dupOf = firstOfKey.get(u.claimKey!);
    } else {
      fail(u, o === 'in_progress' ? 'in_progress' : o === 'hash_mismatch' ? 'hash_mismatch' : 'idempotency_store_error');
    }
  });
}

async function runLane(units: Unit[], handler: RecordHandler, limit: Semaphore, outOfTime: () => boolean, canDivert: boolean): Promise<void> {
  if (units.length === 0) return;
  const lane = units[0].lane;
  let minFailed = Infinity;
  const noteFailure = (u: Unit) => {
    if (lane.stopsAtFirstFailure && u.pos < minFailed) minFailed = u.pos;
  };
  for (const u of units) if (u.outcome === 'failed') noteFailure(u);

  // Chains per order key: records of one key run in order, keys run concurrently.
  const chains = new Map<string, Unit[]>();
  for (const u of units) {
    let chain = chains.get(u.orderKey);
    if (!chain) chains.set(u.orderKey, (chain = []));
    chain.push(u);
  }
  const runChain = async (chain: Unit[]) => {
    for (const u of chain) {
      if (u.outcome) continue; // failed at decode/claim, a duplicate, or diverted
      if (u.pos > minFailed) {
        u.outcome = 'skipped'; // after the checkpoint: Lambda redelivers it
        continue;
      }
      if (outOfTime()) {
        fail(u, 'deadline');
        noteFailure(u);
        continue;
      }
      const wait = limit.acquire();
      if (wait) await wait; // no microtask hop when a slot is free
      try {
        const r = handler(u.value, { lane: lane.id, partitionKey: u.partitionKey, subSequence: u.subSequence, bytes: u.bytes });
        if (r && typeof (r as Promise<unknown>).then === 'function') await r;
        u.outcome = 'processed';
      } catch (e) {
        const poison = e instanceof PoisonRecordError;
        fail(u, poison ? 'poison' : 'handler_error');
        // A poison record bound for the dead-letter sink does not stop the lane; if the sink
        // fails it is reported, and everything after it is redelivered (nothing is lost).
        if (!(poison && canDivert)) noteFailure(u);
      } finally {
        limit.release();
      }
    }
  };
  await Promise.all([...chains.values()].map(runChain));
  // A chain may have processed past a failure found later in another chain; mark what lies beyond it.
  for (const u of units) if (u.pos > minFailed && u.outcome === undefined) u.outcome = 'skipped';
}

async function divert(all: Unit[], options: ProcessOptions): Promise<void> {
  if (!options.deadLetter) return;
  const targets = all.filter((u) => u.outcome === 'failed' && PERMANENT.has(u.reason!));
  if (targets.length === 0) return;
  try {
    await options.deadLetter(targets.map((u) => ({ lane: u.lane.id, failureId: u.failureId, subSequence: u.subSequence, reason: u.reason!, payload: u.payload })));
    // Diverted records are settled: the lane moves on and the claim can be completed (the record is handled).
    for (const u of targets) u.outcome = 'dead_lettered';
  } catch {
    // The sink failed: the records stay reported failures, so the mapping retries them.
  }
}

async function settleClaims(all: Unit[], store: IdempotencyStore): Promise<void> {
  const done: string[] = [];
  const undo: string[] = [];
  for (const u of all) {
    if (!u.claimed) continue;
    if (u.outcome === 'processed' || u.outcome === 'dead_lettered') done.push(u.claimKey!);
    else undo.push(u.claimKey!);
  }
  // A completion that fails leaves an in-progress claim that expires; the effect is not re-applied
  // in this batch because the record is reported as processed.
  await Promise.all([done.length ? store.complete(done).catch(() => undefined) : undefined, undo.length ? store.release(undo).catch(() => undefined) : undefined]);
}

function respond(kind: SourceKind, byLane: Unit[][], all: Unit[], durationMs: number): BatchResult {
  const failures: BatchItemFailure[] = [];
  const seen = new Set<string>();
  const report = (id: BatchItemFailure['itemIdentifier']) => {
    const k = typeof id === 'string' ? id : `${id.partition}@${id.offset}`;
    if (!seen.has(k)) {
      seen.add(k);
      failures.push({ itemIdentifier: id });
    }
  };
  for (const units of byLane) {
    if (units.length === 0) continue;
    const lane = units[0].lane;
    const failed = units.filter((u) => u.outcome === 'failed');
    if (failed.length === 0 && !units.some((u) => u.outcome === 'skipped')) continue;
    if (!lane.stopsAtFirstFailure) {
      failed.forEach((u) => report(u.failureId));
    } else {
      // Skipped records always need redelivery, even when the failure that stopped the lane was
      // later settled (a dead-letter sink that failed once, then took the record).
      const pending = units.filter((u) => u.outcome === 'failed' || u.outcome === 'skipped');
      const first = pending.reduce((a, b) => (a.pos < b.pos ? a : b));
      report(first.failureId);
      // SQS FIFO deletes what is not reported: report every later message of the group too.
      if (lane.reportsSkipped) units.filter((u) => u.pos > first.pos).forEach((u) => report(u.failureId));
    }
  }
  const count = (o: Outcome) => all.filter((u) => u.outcome === o).length;
  const failuresByReason: Record<string, number> = {};
  for (const u of all) if (u.outcome === 'failed') failuresByReason[u.reason!] = (failuresByReason[u.reason!] ?? 0) + 1;
  const records = byLane.reduce((n, units) => n + new Set(units.map((u) => u.index)).size, 0);
  return {
    batchItemFailures: failures,
    stats: {
      kind, records, userRecords: all.length, processed: count('processed'), duplicates: count('duplicate'),
      deadLettered: count('dead_lettered'), failed: count('failed'), skipped: count('skipped'), failuresByReason, durationMs,
    },
    outcomes: all.map((u) => ({ lane: u.lane.id, index: u.index, subSequence: u.subSequence, outcome: u.outcome ?? 'skipped', reason: u.reason })),
  };
}

/** A counting semaphore with a FIFO queue. */
class Semaphore {
  private free: number;
  private readonly waiters: (() => void)[] = [];
  constructor(n: number) {
    this.free = n;
  }
  acquire(): Promise<void> | void {
    if (this.free > 0) {
      this.free--;
      return;
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }
  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.free++;
  }
}
