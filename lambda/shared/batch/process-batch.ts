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
import { DecodeFailure, decodeUnits, EMPTY, mayBeAggregate, parseBytes, payloadBytes, tombstoneValue, type DecodedUnit } from './decode-units';
import { sourceLanes, type BatchItemFailure, type KafkaRecordMetadata, type SourceKind, type SourceLane } from './event-sources';
import type { ClaimOutcome, IdempotencyStore } from '../idempotency/store';
import { errorMessage } from '../unknown';

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
  /** Set on records a ReplayArchive replay re-put (its `replay_id` KPL tag): the replay's id. */
  readonly replayId?: string;
  /** A Kafka record's topic, partition, offset, timestamp, key and headers (Kafka batches only). */
  readonly kafka?: KafkaRecordMetadata;
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
  /** Idempotency keys whose completion or release failed (they stay in progress until their expiry). */
  readonly unsettledClaims: number;
  readonly durationMs: number;
}

export interface BatchResult {
  readonly batchItemFailures: BatchItemFailure[];
  readonly stats: BatchStats;
  /** Per user record outcome, in lane order (for tests and logs). */
  readonly outcomes: { lane: string; index: number; subSequence: number; outcome: Outcome; reason?: string }[];
  /**
   * The records that failed or were dead-lettered, each by its item identifier and reason, in lane order, at
   * most {@link FAILED_RECORDS_LOGGED} of them (`failedRecordsOmitted` counts the rest): what the log names.
   */
  readonly failedRecords: FailedRecord[];
  readonly failedRecordsOmitted: number;
}

/** One failed or dead-lettered record, as logged. */
export interface FailedRecord {
  readonly id: BatchItemFailure['itemIdentifier'];
  /** Position inside a KPL aggregate (0 for a plain record). */
  readonly subSequence: number;
  readonly outcome: 'failed' | 'dead_lettered';
  readonly reason: string;
  /** The handler's error message, cut to 200 characters, when it threw. */
  readonly message?: string;
}

/** Bound on the records a batch's failure log names: a bad deploy must not turn one batch into megabytes of logs. */
export const FAILED_RECORDS_LOGGED = 25;
const MESSAGE_CHARS = 200;

const PERMANENT = new Set(['invalid_base64', 'invalid_utf8', 'invalid_json', 'kpl_corrupt', 'hash_mismatch', 'missing_idempotency_key', 'poison']);

interface Unit extends DecodedUnit {
  lane: SourceLane;
  pos: number;
  outcome?: Outcome;
  reason?: string;
  /** The handler's error message, when it threw (for the failed-record log). */
  detail?: string;
  claimKey?: string;
  claimed?: boolean;
  /** The first occurrence of this unit's key in the batch; this unit shares its fate. */
  dupOf?: Unit;
  /** The handler's promise for this unit, started by the direct path, which holds a concurrency slot for it. */
  running?: PromiseLike<unknown>;
}

/**
 * A lane's fate: a prefix of its delivered records that the direct path processed without units (every
 * user record in it processed), then units for the rest of the lane.
 */
interface LaneRun {
  readonly lane: SourceLane;
  /** Delivered records in the prefix. */
  items: number;
  /** User records in the prefix, all processed. */
  processed: number;
  /** Delivered records in the prefix that hold at least one user record. */
  records: number;
  /** Sub-sequence numbers of the user records of each KPL aggregate in the prefix, by position in the lane. */
  aggregates?: Map<number, number[]>;
  /** The rest of the lane, in lane order. */
  units: Unit[];
}

/** Shared by every lane of a batch: whether a handler has returned a promise yet. */
interface RunState {
  async: boolean;
}

/** Processes one event-source-mapping batch and returns the partial batch response. */
export async function processBatch(event: unknown, handler: RecordHandler, options: ProcessOptions = {}): Promise<BatchResult> {
  const now = options.now ?? Date.now;
  const started = now();
  const batch = sourceLanes(event);
  const parse = options.parse ?? 'json';
  const aggregates = batch.kind === 'kinesis';
  const limit = new Semaphore(Math.max(1, options.concurrency ?? 16));
  const margin = options.safetyMarginMs ?? 3000;
  const remainingTimeMs = options.remainingTimeMs;
  const outOfTime = () => remainingTimeMs !== undefined && remainingTimeMs() < margin;
  const state: RunState = { async: false };
  const idem = options.idempotency;

  if (!idem && !options.deadLetter) {
    // Direct path: nothing to claim or divert before processing, so each record is decoded when its turn
    // comes and processed at once, in lane order (an order every order key's chain allows), with no unit
    // per record. While the handler answers synchronously no record is in flight, so the concurrency
    // bound holds trivially. The first record that does not simply succeed (a decode failure, a failure,
    // the deadline, a promise) hands the rest of its lane to the general engine (decoded up front, as
    // step 1 below does), and after a promise every later lane runs there too, concurrently.
    const runs: LaneRun[] = [];
    const lanes: Promise<void>[] = [];
    for (const lane of batch.lanes) {
      const run = state.async
        ? { lane, items: 0, processed: 0, records: 0, units: decodeLane(lane, 0, 0, parse, aggregates) }
        : runDirect(lane, handler, parse, aggregates, remainingTimeMs, margin, limit);
      runs.push(run);
      if (run.units.length > 0) {
        if (run.units.some((u) => u.running !== undefined)) state.async = true;
        lanes.push(runLane(run.units, handler, limit, outOfTime, false, state));
      }
    }
    if (lanes.length > 0) await Promise.all(lanes);
    return respond(batch.kind, runs, now() - started);
  }

  // 1. Decode every delivered record into user records (KPL aggregates expand).
  const runs: LaneRun[] = batch.lanes.map((lane) => ({ lane, items: 0, processed: 0, records: 0, units: decodeLane(lane, 0, 0, parse, aggregates) }));
  const all = runs.flatMap((run) => run.units);

  // 2. Claim idempotency keys for the whole batch in a few store calls.
  if (idem) await claimAll(all.filter((u) => !u.outcome), idem, options);

  // 3. Divert permanent failures found so far, so they do not block their lane.
  await divert(all, options);

  // 4. Process lanes: in order per order key, stopping a stream lane at its first failure.
  await Promise.all(runs.map((run) => runLane(run.units, handler, limit, outOfTime, options.deadLetter !== undefined, state)));

  // 5. Permanent failures raised by the handler (PoisonRecordError) are diverted too.
  await divert(all, options);

  // A repeated key succeeds only if its first occurrence did.
  for (const u of all) {
    if (u.dupOf && !['processed', 'dead_lettered', 'duplicate'].includes(u.dupOf.outcome ?? '')) fail(u, 'first_occurrence_failed');
  }

  // 6. Settle claims: completed effects are marked, everything else is released for a retry.
  const unsettled = idem ? await settleClaims(all, idem.store) : 0;

  return respond(batch.kind, runs, now() - started, unsettled);
}

function fail(u: Unit, reason: string): void {
  u.outcome = 'failed';
  u.reason = reason;
}

/** A handler's exception as the unit's failure. */
function failWith(u: Unit, e: unknown): void {
  fail(u, e instanceof PoisonRecordError ? 'poison' : 'handler_error');
  u.detail = errorMessage(e);
}

const isThenable = (r: unknown): r is PromiseLike<unknown> => !!r && typeof (r as PromiseLike<unknown>).then === 'function';

/** Units of the lane's records from position `from` on, numbered from `pos`; undecodable ones are failed. */
function decodeLane(lane: SourceLane, from: number, pos: number, parse: 'json' | 'bytes', aggregates: boolean, into: Unit[] = []): Unit[] {
  for (let k = from; k < lane.length; k++) {
    for (const d of decodeUnits(lane.item(k), parse, aggregates)) {
      // Extend the decoded unit in place: a copy per record is measurable on 10,000-record batches.
      const unit = d as Unit;
      unit.lane = lane;
      unit.pos = pos++;
      if (unit.error) fail(unit, unit.error);
      into.push(unit);
    }
  }
  return into;
}

/** What runDirect's attempt at a user record came to. */
type Attempt = 0 | 1 | 2 | 3;
const PROCESSED = 0;
const DEADLINE = 1;
const THREW = 2;
const RUNNING = 3;

/**
 * Processes the lane record by record while every record succeeds synchronously; returns at the end
 * of the lane, or with the rest of the lane as units (the record that stopped it settled, failed, or
 * running) for runLane.
 */
function runDirect(lane: SourceLane, handler: RecordHandler, parse: 'json' | 'bytes', aggregates: boolean,
  remainingTimeMs: (() => number) | undefined, margin: number, limit: Semaphore): LaneRun {
  const run: LaneRun = { lane, items: 0, processed: 0, records: 0, units: [] };
  const id = lane.id;
  const encoding = lane.encoding;
  const n = lane.length;
  let thrown: unknown;
  let running: PromiseLike<unknown> | undefined;

  /** Runs one user record (the deadline check, then the handler). */
  const attempt = (value: unknown, partitionKey: string | undefined, subSequence: number, bytes: Buffer, replayId?: string, kafka?: KafkaRecordMetadata): Attempt => {
    if (remainingTimeMs !== undefined && remainingTimeMs() < margin) return DEADLINE;
    let r: unknown;
    try {
      r = handler(value, kafka !== undefined ? { lane: id, partitionKey, subSequence, bytes, kafka }
        : replayId === undefined ? { lane: id, partitionKey, subSequence, bytes } : { lane: id, partitionKey, subSequence, bytes, replayId });
    } catch (e) {
      thrown = e;
      return THREW;
    }
    if (!isThenable(r)) return PROCESSED;
    // Nothing else is in flight on the direct path, so a slot is free: the promise holds it until it settles.
    limit.acquire();
    running = r;
    return RUNNING;
  };
  const settle = (u: Unit, a: Attempt): void => {
    if (a === DEADLINE) fail(u, 'deadline');
    else if (a === THREW) failWith(u, thrown);
    else if (a === RUNNING) u.running = running;
    else u.outcome = 'processed';
  };
  /** The prefix ends before record k; `first` are record k's units (default: decoded anew). */
  const handOff = (k: number, first?: Unit[]): LaneRun => {
    run.items = k;
    let pos = run.processed;
    if (first === undefined) {
      run.units = decodeLane(lane, k, pos, parse, aggregates);
    } else {
      for (const u of first) {
        u.lane = lane;
        u.pos = pos++;
        if (u.error !== undefined && u.outcome === undefined) fail(u, u.error);
      }
      run.units = decodeLane(lane, k + 1, pos, parse, aggregates, first);
    }
    return run;
  };

  for (let k = 0; k < n; k++) {
    const kafka = lane.kafka(k);
    if (kafka?.tombstone) {
      // A null value: no payload to decode; the handler gets null (or an empty buffer).
      const a = attempt(tombstoneValue(parse), undefined, 0, EMPTY, undefined, kafka);
      if (a !== PROCESSED) {
        const u = decodeUnits(lane.item(k), parse, false)[0] as Unit;
        settle(u, a);
        return handOff(k, [u]);
      }
      run.processed++;
      run.records++;
      continue;
    }
    const bytes = payloadBytes(lane.payload(k), encoding);
    if (bytes === undefined) return handOff(k); // decoded again there, as a failed unit
    if (aggregates && mayBeAggregate(bytes)) {
      // Rare: decoded into units up front, and processed in order like plain records.
      const units = decodeUnits(lane.item(k), parse, true) as Unit[];
      for (const u of units) {
        if (u.error !== undefined) return handOff(k, units);
        const a = attempt(u.value, u.partitionKey, u.subSequence, u.bytes, u.replayId);
        settle(u, a);
        if (a !== PROCESSED) return handOff(k, units);
      }
      if (run.aggregates === undefined) run.aggregates = new Map();
      run.aggregates.set(k, units.map((u) => u.subSequence));
      run.processed += units.length;
      if (units.length > 0) run.records++;
      continue;
    }
    const value = parseBytes(bytes, parse);
    if (value instanceof DecodeFailure) return handOff(k);
    const a = attempt(value, lane.partitionKey(k), 0, bytes, undefined, kafka);
    if (a !== PROCESSED) {
      // The record as decodeUnits decodes it, with what happened to it.
      const item = lane.item(k);
      const u = {
        failureId: item.failureId, payload: item.payload, encoding: item.encoding, orderKey: item.orderKey,
        partitionKey: item.partitionKey, index: item.index, subSequence: 0, bytes, value, error: undefined, kafka,
      } as DecodedUnit as Unit;
      settle(u, a);
      return handOff(k, [u]);
    }
    run.processed++;
    run.records++;
  }
  run.items = n;
  return run;
}

async function claimAll(units: Unit[], idem: IdempotencyOptions, options: ProcessOptions): Promise<void> {
  const requests: { key: string; payloadHash?: string }[] = [];
  const owners: Unit[] = [];
  for (const u of units) {
    // A tombstone has no payload, so no key: a delete applied twice is the same delete, so it runs unclaimed.
    if (u.kafka?.tombstone) continue;
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

async function runLane(units: Unit[], handler: RecordHandler, limit: Semaphore, outOfTime: () => boolean, canDivert: boolean, state: RunState): Promise<void> {
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
  const handlerFailed = (u: Unit, e: unknown) => {
    failWith(u, e);
    // A poison record bound for the dead-letter sink does not stop the lane; if the sink
    // fails it is reported, and everything after it is redelivered (nothing is lost).
    if (!(u.reason === 'poison' && canDivert)) noteFailure(u);
  };
  const runChain = async (chain: Unit[]) => {
    for (const u of chain) {
      const running = u.running;
      if (running !== undefined) {
        // Started by the direct path, which took a slot for it.
        u.running = undefined;
        try {
          await running;
          u.outcome = 'processed';
        } catch (e) {
          handlerFailed(u, e);
        } finally {
          limit.release();
        }
        continue;
      }
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
        const r = handler(u.value, u.kafka !== undefined
          ? { lane: lane.id, partitionKey: u.partitionKey, subSequence: u.subSequence, bytes: u.bytes, kafka: u.kafka }
          : { lane: lane.id, partitionKey: u.partitionKey, subSequence: u.subSequence, bytes: u.bytes, replayId: u.replayId });
        if (isThenable(r)) {
          state.async = true;
          await r;
        }
        u.outcome = 'processed';
      } catch (e) {
        handlerFailed(u, e);
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

/**
 * Completes the claims of applied records and releases the others; returns how many keys could not
 * be settled. A completion that fails leaves an in-progress claim that expires: the record is
 * reported processed (its effect was applied), but a replay of the same event after the expiry would
 * apply it again, so the count is a metric (UnsettledClaims) and a warning, never silent.
 */
async function settleClaims(all: Unit[], store: IdempotencyStore): Promise<number> {
  const done: string[] = [];
  const undo: string[] = [];
  for (const u of all) {
    if (!u.claimed) continue;
    if (u.outcome === 'processed' || u.outcome === 'dead_lettered') done.push(u.claimKey!);
    else undo.push(u.claimKey!);
  }
  const settle = async (keys: string[], op: (k: string[]) => Promise<{ failed: string[] }>): Promise<string[]> => {
    if (keys.length === 0) return [];
    try {
      return (await op(keys)).failed;
    } catch {
      return keys;
    }
  };
  const [notCompleted, notReleased] = await Promise.all([settle(done, (k) => store.complete(k)), settle(undo, (k) => store.release(k))]);
  const unsettled = notCompleted.length + notReleased.length;
  if (unsettled > 0) {
    console.warn(JSON.stringify({ level: 'WARN', message: 'idempotency claims not settled', notCompleted: notCompleted.length, notReleased: notReleased.length }));
  }
  return unsettled;
}

function respond(kind: SourceKind, runs: LaneRun[], durationMs: number, unsettledClaims = 0): BatchResult {
  const failures: BatchItemFailure[] = [];
  const seen = new Set<string>();
  const report = (id: BatchItemFailure['itemIdentifier']) => {
    const k = typeof id === 'string' ? id : `${id.partition}@${id.offset}`;
    if (!seen.has(k)) {
      seen.add(k);
      failures.push({ itemIdentifier: id });
    }
  };
  // The direct path's prefixes hold processed records only: every other outcome is in the units.
  for (const { lane, units } of runs) {
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
  const all = runs.flatMap((run) => run.units);
  const sum = (f: (run: LaneRun) => number) => runs.reduce((n, run) => n + f(run), 0);
  const count = (o: Outcome) => all.filter((u) => u.outcome === o).length;
  const failuresByReason: Record<string, number> = {};
  for (const u of all) if (u.outcome === 'failed') failuresByReason[u.reason!] = (failuresByReason[u.reason!] ?? 0) + 1;
  const records = sum((run) => run.records + new Set(run.units.map((u) => u.index)).size);
  const prefix = sum((run) => run.processed);
  let outcomes: BatchResult['outcomes'] | undefined;
  const failing = all.filter((u) => u.outcome === 'failed' || u.outcome === 'dead_lettered');
  return {
    batchItemFailures: failures,
    stats: {
      kind, records, userRecords: prefix + all.length, processed: prefix + count('processed'), duplicates: count('duplicate'),
      deadLettered: count('dead_lettered'), failed: count('failed'), skipped: count('skipped'), failuresByReason, unsettledClaims, durationMs,
    },
    // Built when first read: the response and the stats are what a batch needs.
    get outcomes() {
      return (outcomes ??= listOutcomes(runs));
    },
    failedRecords: failing.slice(0, FAILED_RECORDS_LOGGED).map(failedRecord),
    failedRecordsOmitted: Math.max(0, failing.length - FAILED_RECORDS_LOGGED),
  };
}

function failedRecord(u: Unit): FailedRecord {
  const record: FailedRecord = { id: u.failureId, subSequence: u.subSequence, outcome: u.outcome as FailedRecord['outcome'], reason: u.reason! };
  return u.detail === undefined ? record : { ...record, message: u.detail.length > MESSAGE_CHARS ? `${u.detail.slice(0, MESSAGE_CHARS)}…` : u.detail };
}

function listOutcomes(runs: LaneRun[]): BatchResult['outcomes'] {
  const list: BatchResult['outcomes'] = [];
  for (const run of runs) {
    const lane = run.lane.id;
    for (let k = 0; k < run.items; k++) {
      const index = run.lane.index(k);
      const subs = run.aggregates?.get(k);
      if (subs === undefined) list.push({ lane, index, subSequence: 0, outcome: 'processed', reason: undefined });
      else for (const subSequence of subs) list.push({ lane, index, subSequence, outcome: 'processed', reason: undefined });
    }
    for (const u of run.units) list.push({ lane, index: u.index, subSequence: u.subSequence, outcome: u.outcome ?? 'skipped', reason: u.reason });
  }
  return list;
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
