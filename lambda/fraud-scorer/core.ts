/**
 * The scorer's pure core: one shard's batch of user records, the state it read, and the decisions
 * (contract section 3), with no I/O. The adapter (run.ts) reads what `readKeys` names, calls
 * `scoreBatch`, and writes what it returns.
 *
 * Cost is per customer-window, not per event: every window the batch touches is read once and
 * written once (its final state of the batch), whatever the number of events in it.
 */
import { closeOwned, nextEnds } from '../shared/fraud/closures';
import { valueHash } from '../shared/fraud/ids';
import type { ShardState } from '../shared/fraud/item-codec';
import type { FraudEvent, FraudUnit } from '../shared/fraud/parse-event';
import type { FraudAlert, FraudInvalidReason, FraudWindowResult, WindowBounds } from '../shared/fraud/spec';
import type { CompiledSpec } from '../shared/fraud/validate-spec';
import { applyEvent, cloneWindow, decideAlerts, newWindow, type WindowState } from '../shared/fraud/window-state';
import { windowPk, windowsOf } from '../shared/fraud/windows';

export type UnitOutcome =
  | { readonly kind: 'invalid'; readonly reason: FraudInvalidReason }
  | { readonly kind: 'duplicate' }
  | { readonly kind: 'window_full' }
  /** Applied to at least one window; `late` lists the windows it was too late for. */
  | { readonly kind: 'applied'; readonly late: readonly WindowBounds[] }
  | { readonly kind: 'late'; readonly late: readonly WindowBounds[] }
  /** A record the shard had already settled, delivered again: skipped. */
  | { readonly kind: 'redelivered' };

/** One window item to write: its final state of the batch, conditional on the version read. */
export interface WindowWrite {
  readonly state: WindowState;
  /** Version read; 0 = the item must not exist (or be expired). */
  readonly expectedV: number;
  /** First unit whose effect is in this write; Infinity for a window only closed. */
  firstUnit: number;
  /** Alerts this window decided in the batch: written in the same transaction. */
  readonly alerts: FraudAlert[];
  /** Units applied to it. */
  readonly units: number[];
  result?: FraudWindowResult;
}

export interface ScoreInput {
  readonly spec: CompiledSpec;
  /** The shard state as read (its version is the write condition). */
  readonly shard: ShardState;
  /** Window items read (not expired), by pk: every window the batch's valid events fall in that exists. */
  readonly windows: ReadonlyMap<string, WindowState>;
  /** Open windows of this shard the GSI listed with end <= the final watermark (read consistently). */
  readonly candidates?: readonly WindowState[];
  /** Whether the GSI was queried for this batch (closures.ts). */
  readonly queried: boolean;
  readonly units: readonly FraudUnit[];
  /** Wall clock, epoch ms. */
  readonly nowMs: number;
}

export interface ScorePlan {
  readonly outcomes: UnitOutcome[];
  /** Watermark after each unit (undefined = −∞): what the shard item holds if the batch stops after it. */
  readonly wmAfter: (number | undefined)[];
  /** Ordered by firstUnit, so a prefix of the writes covers a prefix of the units. */
  readonly writes: WindowWrite[];
  /** Decision order. */
  readonly alerts: FraudAlert[];
  readonly results: FraudWindowResult[];
  /** The shard item to write after the batch (its `v` is still the version read). */
  readonly shard: ShardState;
}

/** The watermark after the batch: every valid event moves it, whatever the state says (contract step 5). */
export function finalWatermark(spec: CompiledSpec, shard: Pick<ShardState, 'wm' | 'seq'>, units: readonly FraudUnit[]): number | undefined {
  let w = shard.wm;
  for (const u of units) if (u.parsed.ok && !settled(shard, u)) w = advance(w, u.parsed.event.timeMs - spec.spec.allowedLatenessMs);
  return w;
}

/** Whether the shard already settled this record (sequence numbers grow along a shard). */
export function settled(shard: Pick<ShardState, 'seq'>, u: FraudUnit): boolean {
  return shard.seq !== undefined && BigInt(u.sequenceNumber) <= BigInt(shard.seq);
}

function advance(wm: number | undefined, t: number): number {
  return wm === undefined || t > wm ? t : wm;
}

/** The keys the batch must read: the shard item's and every window its valid events fall in. */
export function readKeys(spec: CompiledSpec, units: readonly FraudUnit[]): string[] {
  const keys = new Set<string>();
  for (const u of units) {
    if (!u.parsed.ok) continue;
    for (const w of windowsOf(u.parsed.event.timeMs, spec.spec.window)) keys.add(windowPk(u.parsed.event.customerId, w));
  }
  return [...keys];
}

class BatchState {
  readonly current = new Map<string, WindowState>();
  readonly writes = new Map<string, WindowWrite>();
  readonly alerts: FraudAlert[] = [];
  constructor(readonly input: ScoreInput) {}

  get(pk: string): WindowState | undefined {
    return this.current.get(pk) ?? this.input.windows.get(pk);
  }

  /** The window to mutate for unit `i` (created when absent), registered as a write. */
  writable(pk: string, customerId: string, bounds: WindowBounds, i: number): WindowWrite {
    let write = this.writes.get(pk);
    if (write === undefined) {
      const read = this.input.windows.get(pk);
      const state = read ? cloneWindow(read) : newWindow(this.input.spec.spec, customerId, bounds, this.input.shard.key);
      write = { state, expectedV: read?.v ?? 0, firstUnit: i, alerts: [], units: [] };
      this.writes.set(pk, write);
      this.current.set(pk, state);
    }
    if (i < write.firstUnit) write.firstUnit = i;
    return write;
  }
}

type Slot = { readonly bounds: WindowBounds; readonly pk: string; readonly cls: 'dup' | 'late' | 'open' };

function classify(b: BatchState, e: FraudEvent, idHash: string, wm: number | undefined): Slot[] {
  return windowsOf(e.timeMs, b.input.spec.spec.window).map((bounds) => {
    const pk = windowPk(e.customerId, bounds);
    const w = b.get(pk);
    if (w !== undefined && w.ids.has(idHash)) return { bounds, pk, cls: 'dup' };
    if (wm !== undefined && bounds.endMs <= wm) return { bounds, pk, cls: 'late' };
    return { bounds, pk, cls: 'open' };
  });
}

function scoreEvent(b: BatchState, i: number, e: FraudEvent, wm: number | undefined): UnitOutcome {
  const spec = b.input.spec.spec;
  const idHash = valueHash(e.eventId);
  const slots = classify(b, e, idHash, wm);
  if (slots.every((s) => s.cls === 'dup')) return { kind: 'duplicate' };
  let open = slots.filter((s) => s.cls === 'open');
  if (open.some((s) => (b.get(s.pk)?.ids.size ?? 0) >= spec.maxEventsPerWindow)) return { kind: 'window_full' };
  // A window closed ahead of this watermark: a failed batch committed its closure (decided on the batch's final
  // watermark) and persisted an earlier watermark. Every event of that batch the window could take is in it, so
  // an event that is neither a duplicate nor late found it full (above). A closed window never changes again:
  // past that (only when one customer's events come from two shards) the event is late for it.
  const closed = open.filter((s) => b.get(s.pk)?.status === 'closed');
  if (closed.length > 0) {
    open = open.filter((s) => !closed.includes(s));
    closed.forEach((s) => slots.splice(slots.indexOf(s), 1, { ...s, cls: 'late' }));
  }
  for (const s of open) {
    const write = b.writable(s.pk, e.customerId, s.bounds, i);
    applyEvent(spec, write.state, e, idHash);
    write.units.push(i);
    const alerts = decideAlerts(spec, write.state, e.eventId);
    write.alerts.push(...alerts);
    b.alerts.push(...alerts);
  }
  const late = slots.filter((s) => s.cls === 'late').map((s) => s.bounds);
  return open.length > 0 ? { kind: 'applied', late } : { kind: 'late', late };
}

/** Scores the batch's units in order, then closes the shard's windows the final watermark passed. */
export function scoreBatch(input: ScoreInput): ScorePlan {
  const b = new BatchState(input);
  const outcomes: UnitOutcome[] = [];
  const wmAfter: (number | undefined)[] = [];
  let wm = input.shard.wm;
  input.units.forEach((u, i) => {
    if (settled(input.shard, u)) {
      outcomes.push({ kind: 'redelivered' });
    } else if (!u.parsed.ok) {
      outcomes.push({ kind: 'invalid', reason: u.parsed.reason });
    } else {
      outcomes.push(scoreEvent(b, i, u.parsed.event, wm));
      wm = advance(wm, u.parsed.event.timeMs - input.spec.spec.allowedLatenessMs);
    }
    wmAfter.push(wm);
  });
  const results = closeBatch(b, wm);
  const owned = [...input.windows.values(), ...b.current.values()].filter((w) => w.owner === input.shard.key && (w.status === 'open' || b.writes.has(w.pk)));
  const last = input.units[input.units.length - 1];
  const seq = last === undefined || settled(input.shard, last) ? input.shard.seq : last.sequenceNumber;
  const shard: ShardState = { ...input.shard, wm, lastSeenAt: input.nowMs, ...(seq === undefined ? {} : { seq }), ends: nextEnds(input.shard, owned, wm, input.nowMs, input.queried) };
  const writes = [...b.writes.values()].sort((x, y) => x.firstUnit - y.firstUnit);
  return { outcomes, wmAfter, writes, alerts: b.alerts, results, shard };
}

/** Closes every owned open window the batch read, wrote or the GSI listed, whose end the watermark passed. */
function closeBatch(b: BatchState, wm: number | undefined): FraudWindowResult[] {
  const { input } = b;
  const pool = new Map<string, WindowState>();
  for (const c of input.candidates ?? []) pool.set(c.pk, c);
  for (const [pk, w] of input.windows) pool.set(pk, w);
  for (const [pk, w] of b.current) pool.set(pk, w);
  const due = [...pool.values()].filter((w) => w.owner === input.shard.key && w.status === 'open' && wm !== undefined && w.bounds.endMs <= wm);
  const results: FraudWindowResult[] = [];
  for (const w of due) {
    // A window not written yet is the state read: its own version is the condition.
    const write = b.writes.get(w.pk) ?? { state: cloneWindow(w), expectedV: w.v, firstUnit: Infinity, alerts: [], units: [] };
    b.writes.set(w.pk, write);
    b.current.set(w.pk, write.state);
    const [closed] = closeOwned(input.spec.spec, input.shard.key, wm, [write.state]);
    write.result = closed.result;
    results.push(closed.result);
  }
  return results;
}
