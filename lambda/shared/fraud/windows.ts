/** Window assignment (contract section 2) and the state table's keys (section 6). */
import type { FraudWindowSpec, WindowBounds } from './spec';

/** Every [s, s+size) with s a multiple of slide and s <= t < s+size, ascending by s (half-open: t = s+size is the next one). */
export function windowsOf(t: number, window: FraudWindowSpec): WindowBounds[] {
  const { sizeMs, slideMs } = window;
  const last = Math.floor(t / slideMs) * slideMs;
  const out: WindowBounds[] = [];
  for (let s = last - sizeMs + slideMs; s <= last; s += slideMs) {
    if (s + sizeMs > t) out.push({ startMs: s, endMs: s + sizeMs });
  }
  return out;
}

export function windowPk(customerId: string, w: WindowBounds): string {
  return `w#${w.startMs}#${w.endMs}#${customerId}`;
}

/** The customer and window of a window item's pk (the customer id may itself hold '#'). */
export function parseWindowPk(pk: string): { customerId: string; bounds: WindowBounds } | undefined {
  const m = /^w#(-?\d+)#(-?\d+)#([\s\S]*)$/.exec(pk);
  if (m === null) return undefined;
  return { customerId: m[3], bounds: { startMs: Number(m[1]), endMs: Number(m[2]) } };
}

export function shardPk(shardKey: string): string {
  return `s#${shardKey}`;
}

export function alertPk(alertIdValue: string): string {
  return `a#${alertIdValue}`;
}

/** The registry item: the shard keys the closer visits. */
export const REGISTRY_PK = 'shards';

/** Name of the sparse GSI listing open windows by owner shard and end. */
export const OPEN_INDEX = 'open';
