/**
 * The closer's pure core (contract section 4): which shards are quiet, the idle tick's watermark, and
 * the closures it makes (the scorer's closure code, closures.ts).
 */
import { closeOwned, nextEnds } from '../shared/fraud/closures';
import type { ShardState } from '../shared/fraud/item-codec';
import type { FraudSpec, FraudWindowResult } from '../shared/fraud/spec';
import type { PendingWrite } from '../shared/fraud/transactions';
import type { WindowState } from '../shared/fraud/window-state';

/** A shard is quiet when its last batch is more than idleTimeoutMs of wall time old. A shard never seen is left alone. */
export function isIdle(shard: ShardState, nowMs: number, idleTimeoutMs: number): boolean {
  return shard.lastSeenAt !== undefined && nowMs - shard.lastSeenAt > idleTimeoutMs;
}

/** The idle tick at wall time `nowMs`: W := max(W, now − allowedLateness). lastSeenAt is kept, so the shard stays quiet. */
export function tickShard(spec: FraudSpec, shard: ShardState, nowMs: number): ShardState {
  const t = nowMs - spec.allowedLatenessMs;
  return { ...shard, wm: shard.wm === undefined || t > shard.wm ? t : shard.wm };
}

export interface TickClosures {
  readonly writes: PendingWrite[];
  readonly results: FraudWindowResult[];
  /** The shard's `ends` once these closures committed. */
  readonly ends: ShardState['ends'];
}

/** Closes the shard's open windows the GSI listed (read consistently) whose end the ticked watermark passed. */
export function closeAtTick(spec: FraudSpec, shard: ShardState, candidates: readonly WindowState[], nowMs: number): TickClosures {
  const closed = closeOwned(spec, shard.key, shard.wm, candidates.map((c) => ({ ...c })));
  return {
    writes: closed.map(({ window }) => ({ state: window, expectedV: window.v, firstUnit: Infinity, alerts: [] })),
    results: closed.map((c) => c.result),
    ends: nextEnds(shard, [], shard.wm, nowMs, true),
  };
}
