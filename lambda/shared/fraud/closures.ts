/**
 * Closing windows (contract section 3 step 6 and section 4), shared by the scorer and the closer.
 *
 * A shard's windows are found two ways: those the batch touched (read with the batch), and the rest
 * through the sparse GSI `open` (openShard = shard, end <= W). The GSI is eventually consistent, so a
 * window created a moment ago may be missing from it: the shard item remembers the end of every window
 * the shard owns that may be open (`ends`), with the wall time after which the index surely lists all
 * of them (`settleAt` = last creation or update + GSI_SETTLE_MS). Once the watermark has passed an end
 * no window with that end can be created any more (its events are late), so an end is forgotten after a
 * Query that ran past the settleAt left by the batches before (the windows the querying batch wrote itself
 * are closed with it). A Query runs only when some end is due: past the watermark and not
 * yet swept, or swept before it settled. So a shard pays about two Queries per window end, not one per
 * batch, and a window the index was slow to list is still closed.
 */
import type { EndMark, ShardState } from './item-codec';
import type { FraudSpec, FraudWindowResult } from './spec';
import { closeWindow, type WindowState } from './window-state';

/** How long after a write the GSI is assumed to list it (its propagation is normally well under a second). */
export const GSI_SETTLE_MS = 10_000;

/** Whether a GSI Query is needed to close the shard's windows at watermark `wm`. */
export function queryDue(shard: ShardState, wm: number | undefined, nowMs: number): boolean {
  if (wm === undefined) return false;
  for (const [end, mark] of shard.ends) if (end <= wm && (!mark.swept || nowMs >= mark.settleAt)) return true;
  return false;
}

/** Closes (mutating) every window of `windows` owned by `shardKey`, open, with end <= wm; returns their results. */
export function closeOwned(spec: FraudSpec, shardKey: string, wm: number | undefined, windows: Iterable<WindowState>): { window: WindowState; result: FraudWindowResult }[] {
  const out: { window: WindowState; result: FraudWindowResult }[] = [];
  if (wm === undefined) return out;
  for (const w of windows) {
    if (w.owner === shardKey && w.status === 'open' && w.bounds.endMs <= wm) out.push({ window: w, result: closeWindow(spec, w) });
  }
  return out;
}

/**
 * The shard's `ends` after a batch or tick. The ends of the owned windows it read or wrote are refreshed.
 * After a Query, each end it covered is forgotten when the Query ran after that end's settleAt as read
 * (every window written before this batch was listed; the ones this batch wrote were closed with it),
 * else marked swept, to be queried once more after it settles.
 */
export function nextEnds(shard: ShardState, owned: Iterable<WindowState>, wm: number | undefined, nowMs: number, queried: boolean): Map<number, EndMark> {
  const ends = new Map(shard.ends);
  for (const w of owned) {
    const end = w.bounds.endMs;
    const prev = ends.get(end);
    ends.set(end, { settleAt: Math.max(prev?.settleAt ?? 0, nowMs + GSI_SETTLE_MS), swept: prev?.swept ?? false });
  }
  if (queried && wm !== undefined) {
    for (const [end, mark] of ends) {
      if (end > wm) continue;
      const read = shard.ends.get(end);
      if (read === undefined || nowMs >= read.settleAt) ends.delete(end);
      else ends.set(end, { settleAt: mark.settleAt, swept: true });
    }
  }
  return ends;
}
