/**
 * The scorer's driver for one shard's batch: read → score (core.ts) → late/invalid objects → transactions
 * → checkpoint. All I/O goes through the injected store and object writer.
 *
 * Checkpoint rule (contract section 7): a record succeeds only when every window write that holds its
 * effect committed. On a conditional conflict (someone else wrote an item since it was read) the batch is
 * read and scored again: what committed before shows up as duplicates, so nothing is applied twice.
 * Throttling is retried inside the store. When the time budget runs out the batch fails from the first
 * record whose state did not commit, and the shard item is written with the watermark as of the records
 * before it (if that write fails too, the batch fails from its first record).
 *
 * The late and invalid objects are written before any state, for the whole batch: a batch that then fails
 * part-way rewrites the lines of its redelivered records in the redelivery's own object, so those sinks are
 * at-least-once (each line carries its shard and sequence number to dedupe on). State is exactly-once.
 */
import { queryDue } from '../shared/fraud/closures';
import { decodeShard, decodeWindow, type ShardState } from '../shared/fraud/item-codec';
import type { FraudUnit } from '../shared/fraud/parse-event';
import type { FraudAlert, FraudWindowResult } from '../shared/fraud/spec';
import { BudgetExhaustedError, type StateStore } from '../shared/fraud/state-store';
import { packTransactions, shardPut, type Transaction } from '../shared/fraud/transactions';
import type { CompiledSpec } from '../shared/fraud/validate-spec';
import type { WindowState } from '../shared/fraud/window-state';
import { shardPk } from '../shared/fraud/windows';
import { backoffDelayMs, realSleep } from '../shared/retry';
import { finalWatermark, readKeys, scoreBatch, type ScorePlan, type UnitOutcome, type WindowWrite } from './core';
import { invalidObject, lateObject } from './sinks';

export interface ScorerIo {
  readonly store: StateStore;
  readonly table: string;
  readonly putObject: (bucket: string, key: string, body: string) => Promise<void>;
  readonly lateBucket: string;
  readonly failureBucket: string;
  readonly now: () => number;
  /** Epoch ms after which no new attempt starts; the final shard write may use the time after it. */
  readonly deadlineMs: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
}

export interface ShardRun {
  /** Index of the first delivered record whose state did not commit; undefined when all did. */
  readonly failedRecord?: number;
  /** Units [0, settledUnits) are final: their outcomes below hold. */
  readonly settledUnits: number;
  readonly outcomes: readonly UnitOutcome[];
  /** Alerts and results whose writes committed. */
  readonly alerts: readonly FraudAlert[];
  readonly results: readonly FraudWindowResult[];
  readonly conflicts: number;
  readonly lateLines: number;
  readonly invalidLines: number;
}

interface ReadState {
  readonly shard: ShardState;
  readonly windows: Map<string, WindowState>;
  readonly candidates: WindowState[];
  readonly queried: boolean;
}

/** Windows the GSI lists for the shard up to `wm`, less those already known. */
async function listed(io: ScorerIo, shardKey: string, wm: number, known: (pk: string) => boolean): Promise<string[]> {
  return (await io.store.openWindows(shardKey, wm)).filter((pk) => !known(pk));
}

/**
 * One strongly consistent read of every key the batch touches, the shard item and the windows to close;
 * the GSI only when an end is due. With the shard state this container wrote last (`cached`), the Query
 * runs first and its windows join the same read; the read shard item confirms the guess (else the GSI is
 * queried again with the right watermark).
 */
export async function readState(spec: CompiledSpec, io: ScorerIo, shardKey: string, units: readonly FraudUnit[], cached?: ShardState): Promise<ReadState> {
  const keys = readKeys(spec, units);
  const keySet = new Set(keys);
  const guessWm = cached && finalWatermark(spec, cached, units);
  const early = cached && queryDue(cached, guessWm, io.now()) ? await listed(io, shardKey, guessWm as number, (pk) => keySet.has(pk)) : [];
  const items = await io.store.getItems([shardPk(shardKey), ...keys, ...early]);
  const shard = decodeShard(shardKey, items.get(shardPk(shardKey)));
  const wm = finalWatermark(spec, shard, units);
  const queried = queryDue(shard, wm, io.now());
  let extra: string[] = [];
  // Same version: the cached state is the one read, so the early Query (or its absence) was the right one.
  const guessed = cached !== undefined && cached.v === shard.v;
  if (queried && wm !== undefined && !guessed) {
    extra = await listed(io, shardKey, wm, (pk) => keySet.has(pk) || items.has(pk));
    for (const [pk, item] of await io.store.getItems(extra)) items.set(pk, item);
  }
  const windows = new Map<string, WindowState>();
  const candidates: WindowState[] = [];
  for (const pk of [...keys, ...early, ...extra]) {
    const item = items.get(pk);
    const w = item && decodeWindow(spec.spec, item);
    if (!w) continue;
    // The index is eventually consistent: a listed window is closed only from its consistent read.
    if (keySet.has(pk)) windows.set(pk, w);
    else if (w.status === 'open' && w.owner === shardKey) candidates.push(w);
  }
  return { shard, windows, candidates, queried };
}

interface Progress {
  committed: number;
}

/** Sends the transactions in order until one is cancelled by a condition; an alert that already exists is dropped and the rest resent. */
async function commit(io: ScorerIo, txs: Transaction[], progress: Progress): Promise<boolean> {
  for (const tx of txs) {
    for (;;) {
      const outcome = await io.store.transact(tx.actions);
      if (outcome.ok) break;
      // An alert item left from a window state that expired and was built again: that alert was already decided.
      if (!outcome.failed.every((i) => tx.kinds[i] === 'alert')) return false;
      const drop = new Set(outcome.failed);
      const keep = tx.actions.flatMap((a, i) => (drop.has(i) ? [] : [{ a, k: tx.kinds[i] }]));
      tx.actions.splice(0, tx.actions.length, ...keep.map((x) => x.a));
      tx.kinds.splice(0, tx.kinds.length, ...keep.map((x) => x.k));
    }
    progress.committed++;
  }
  return true;
}

async function writeSinks(io: ScorerIo, plan: ScorePlan, units: readonly FraudUnit[], shard: ShardState, shardId: string): Promise<[number, number]> {
  const before = [shard.wm, ...plan.wmAfter.slice(0, -1)];
  const late = lateObject(units, plan.outcomes, before, shardId, units.length);
  const invalid = invalidObject(units, plan.outcomes, shardId, units.length);
  if (late) await io.putObject(io.lateBucket, late.key, late.body);
  if (invalid) await io.putObject(io.failureBucket, invalid.key, invalid.body);
  return [late?.lines ?? 0, invalid?.lines ?? 0];
}

class Attempts {
  conflicts = 0;
  lines: [number, number] = [0, 0];
  /** Units applied by writes that committed in an earlier attempt (they read as duplicates afterwards). */
  readonly applied = new Set<number>();
  readonly alerts: FraudAlert[] = [];
  readonly results: FraudWindowResult[] = [];

  record(txs: Transaction[], committed: number, byPk: Map<string, WindowWrite>): void {
    for (const tx of txs.slice(0, committed)) {
      for (const p of tx.writes) {
        const w = byPk.get(p.state.pk) as WindowWrite;
        w.units.forEach((u) => this.applied.add(u));
        this.alerts.push(...w.alerts);
        if (w.result) this.results.push(w.result);
      }
    }
  }

  outcomes(plan: ScorePlan): UnitOutcome[] {
    return plan.outcomes.map((o, i) => (o.kind === 'duplicate' && this.applied.has(i) ? { kind: 'applied', late: [] } : o));
  }
}

/** Scores one shard's units (contract sections 3 and 7); see the file comment. */
export async function runShard(spec: CompiledSpec, io: ScorerIo, shardKey: string, shardId: string, units: readonly FraudUnit[], cache?: Map<string, ShardState>): Promise<ShardRun> {
  const a = new Attempts();
  let plan: ScorePlan | undefined;
  let shard: ShardState | undefined;
  let txs: Transaction[] = [];
  const progress: Progress = { committed: 0 };
  try {
    for (let attempt = 1; ; attempt++) {
      const state = await readState(spec, io, shardKey, units, attempt === 1 ? cache?.get(shardKey) : undefined);
      cache?.delete(shardKey);
      shard = state.shard;
      plan = scoreBatch({ spec, shard: state.shard, windows: state.windows, candidates: state.candidates, queried: state.queried, units, nowMs: io.now() });
      a.lines = await writeSinks(io, plan, units, state.shard, shardId);
      txs = packTransactions(spec.spec, io.table, plan.writes, io.now(), plan.shard);
      progress.committed = 0;
      let done: boolean;
      try {
        done = await commit(io, txs, progress);
      } finally {
        a.record(txs, progress.committed, new Map(plan.writes.map((w) => [w.state.pk, w])));
      }
      if (done) cache?.set(shardKey, { ...plan.shard, v: plan.shard.v + 1 });
      if (done) return { settledUnits: units.length, outcomes: a.outcomes(plan), alerts: a.alerts, results: a.results, conflicts: a.conflicts, lateLines: a.lines[0], invalidLines: a.lines[1] };
      a.conflicts++;
      const delay = backoffDelayMs(attempt, { baseMs: 25, maxMs: 1000, random: io.random });
      if (io.now() + delay > io.deadlineMs) break;
      await (io.sleep ?? realSleep)(delay);
    }
  } catch (e) {
    if (!(e instanceof BudgetExhaustedError)) throw e;
  }
  return failFrom(io, units, a, plan, shard, txs.slice(progress.committed));
}

/** The checkpoint after a failed batch: fail from the first record whose state did not commit. */
async function failFrom(io: ScorerIo, units: readonly FraudUnit[], a: Attempts, plan: ScorePlan | undefined, shard: ShardState | undefined, pending: Transaction[]): Promise<ShardRun> {
  const failed = (k: number): ShardRun => ({
    failedRecord: units.length === 0 ? undefined : units[Math.min(k, units.length - 1)].record, settledUnits: k,
    outcomes: plan ? a.outcomes(plan).slice(0, k) : [], alerts: a.alerts, results: a.results, conflicts: a.conflicts, lateLines: a.lines[0], invalidLines: a.lines[1],
  });
  if (plan === undefined || shard === undefined) return failed(0);
  const firstUnit = Math.min(units.length, ...pending.flatMap((tx) => tx.writes.map((w) => w.firstUnit)));
  // All units of the record that holds the first failed unit are redelivered with it.
  const record = firstUnit < units.length ? units[firstUnit].record : undefined;
  const k = record === undefined ? units.length : units.findIndex((u) => u.record === record);
  if (k === 0) return failed(0);
  // Ends are never forgotten here: the closures of a failed batch may not have committed.
  const ends = new Map([...shard.ends, ...plan.shard.ends]);
  const before = units[k - 1].sequenceNumber;
  const persisted: ShardState = { ...shard, wm: plan.wmAfter[k - 1], lastSeenAt: io.now(), seq: shard.seq !== undefined && BigInt(shard.seq) > BigInt(before) ? shard.seq : before, ends };
  try {
    const outcome = await io.store.transact([shardPut(io.table, persisted)]);
    if (!outcome.ok) return failed(0);
  } catch (e) {
    if (!(e instanceof BudgetExhaustedError)) throw e;
    return failed(0);
  }
  return k === units.length ? { ...failed(k), failedRecord: undefined } : failed(k);
}
