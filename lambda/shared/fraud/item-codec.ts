/**
 * DynamoDB items of the state table (contract section 6) ⇄ engine state.
 *
 * Window item (engine-private attributes besides the contract's pk, kind, status, v, shard, openShard,
 * end, expiresAt, result):
 *   n     N  count
 *   f     B  sum, min, max as three IEEE doubles (exact: a decimal N could round a double)
 *   ids   B  8-byte sha256 prefixes of the accepted event ids, concatenated (kept after closing: dedup)
 *   d<i>  B  8-byte sha256 prefixes of attribute i's distinct values (dropped on closing)
 *   r     L  the recent event ids, oldest first (dropped on closing)
 *   k     L  fired alert keys, in firing order (dropped on closing: the result lists them)
 * Size bound: item-size.ts. Reads treat an item whose expiresAt < now (seconds) as absent.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { HASH_BYTES } from './ids';
import type { FraudAlert, FraudSpec } from './spec';
import type { WindowState } from './window-state';
import { alertPk, parseWindowPk, shardPk } from './windows';

export type Item = Record<string, AttributeValue>;

/** Alert outbox items live 7 days (the publisher marks them delivered long before). */
export const ALERT_TTL_SECONDS = 7 * 24 * 3600;

export const nowSeconds = (nowMs: number): number => Math.floor(nowMs / 1000);

/** An item TTL has passed (DynamoDB deletes lazily, so reads must ignore it). */
export function isExpired(item: Item, nowMs: number): boolean {
  const e = item.expiresAt?.N;
  return e !== undefined && Number(e) < nowSeconds(nowMs);
}

export function windowExpiresAt(spec: FraudSpec, endMs: number): number {
  return Math.ceil((endMs + spec.allowedLatenessMs + spec.stateRetentionMs) / 1000);
}

function joinHashes(set: Set<string>): Uint8Array {
  return Buffer.from([...set].join(''), 'latin1');
}

function splitHashes(bytes: Uint8Array | undefined): Set<string> {
  const out = new Set<string>();
  if (bytes === undefined) return out;
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i + HASH_BYTES <= b.length; i += HASH_BYTES) out.add(b.toString('latin1', i, i + HASH_BYTES));
  return out;
}

function strings(list: string[]): AttributeValue {
  return { L: list.map((S) => ({ S })) };
}

/** The item for `w` at version `v`. */
export function encodeWindow(spec: FraudSpec, w: WindowState, v: number): Item {
  const f = Buffer.alloc(24);
  f.writeDoubleBE(w.sum, 0);
  f.writeDoubleBE(w.min, 8);
  f.writeDoubleBE(w.max, 16);
  const item: Item = {
    pk: { S: w.pk }, kind: { S: 'window' }, status: { S: w.status }, v: { N: String(v) }, shard: { S: w.owner },
    expiresAt: { N: String(windowExpiresAt(spec, w.bounds.endMs)) }, n: { N: String(w.count) }, f: { B: f },
  };
  if (w.ids.size > 0) item.ids = { B: joinHashes(w.ids) };
  if (w.status === 'open') {
    // Only open windows carry the sparse GSI's keys, so the index lists exactly the windows left to close.
    item.openShard = { S: w.owner };
    item.end = { N: String(w.bounds.endMs) };
    w.distinct.forEach((set, i) => {
      if (set.size > 0) item[`d${i}`] = { B: joinHashes(set) };
    });
    if (w.recent.length > 0) item.r = strings(w.recent);
    if (w.fired.length > 0) item.k = strings(w.fired);
  } else {
    item.result = { S: w.result as string };
  }
  return item;
}

/** A window item → state; undefined when it is not a window item. */
export function decodeWindow(spec: FraudSpec, item: Item): WindowState | undefined {
  const key = parseWindowPk(item.pk?.S ?? '');
  if (key === undefined || item.kind?.S !== 'window') return undefined;
  const f = item.f?.B;
  const fb = f === undefined ? undefined : Buffer.from(f.buffer, f.byteOffset, f.byteLength);
  const status = item.status?.S === 'closed' ? 'closed' : 'open';
  return {
    pk: item.pk.S as string, customerId: key.customerId, bounds: key.bounds, owner: item.shard?.S ?? '', status,
    v: Number(item.v?.N ?? '0'), count: Number(item.n?.N ?? '0'),
    sum: fb ? fb.readDoubleBE(0) : 0, min: fb ? fb.readDoubleBE(8) : Infinity, max: fb ? fb.readDoubleBE(16) : -Infinity,
    ids: splitHashes(item.ids?.B),
    distinct: spec.schema.attributes.map((_a, i) => splitHashes(item[`d${i}`]?.B)),
    recent: (item.r?.L ?? []).map((x) => x.S as string),
    fired: (item.k?.L ?? []).map((x) => x.S as string),
    result: item.result?.S,
  };
}

/** A shard's watermark and bookkeeping (the shard item). */
export interface ShardState {
  readonly key: string;
  /** Stored version; 0 when the item does not exist. */
  readonly v: number;
  /** Watermark, epoch ms; undefined = −∞. */
  readonly wm?: number;
  /** Wall ms of the last batch that had records. */
  readonly lastSeenAt?: number;
  /**
   * Sequence number of the last record whose outcome is settled (checkpointed or not): a redelivered
   * record at or before it (a lost checkpoint, or an invocation that died after its last write) is
   * skipped, so it is neither judged again against a later watermark nor written twice to the sinks.
   */
  readonly seq?: string;
  /**
   * Ends of windows this shard owns that may still be open, each with the wall time after which the
   * GSI (eventually consistent) surely lists every such window, and whether a Query has swept it
   * since the watermark passed it. See lambda/fraud-scorer/closures.ts.
   */
  readonly ends: ReadonlyMap<number, EndMark>;
}

export interface EndMark {
  readonly settleAt: number;
  readonly swept: boolean;
}

export function emptyShard(key: string): ShardState {
  return { key, v: 0, ends: new Map() };
}

export function encodeShard(s: ShardState, v: number): Item {
  const item: Item = { pk: { S: shardPk(s.key) }, kind: { S: 'shard' }, v: { N: String(v) } };
  if (s.wm !== undefined) item.wm = { N: String(s.wm) };
  if (s.lastSeenAt !== undefined) item.lastSeenAt = { N: String(s.lastSeenAt) };
  if (s.seq !== undefined) item.seq = { S: s.seq };
  const ends = [...s.ends].sort((a, b) => a[0] - b[0]).map(([e, m]) => [e, m.settleAt, m.swept ? 1 : 0]);
  item.ends = { S: JSON.stringify(ends) };
  return item;
}

export function decodeShard(key: string, item: Item | undefined): ShardState {
  if (item === undefined) return emptyShard(key);
  const ends = new Map<number, EndMark>();
  for (const [e, settleAt, swept] of JSON.parse(item.ends?.S ?? '[]') as [number, number, number][]) ends.set(e, { settleAt, swept: swept === 1 });
  return {
    key, v: Number(item.v?.N ?? '0'),
    wm: item.wm?.N === undefined ? undefined : Number(item.wm.N),
    lastSeenAt: item.lastSeenAt?.N === undefined ? undefined : Number(item.lastSeenAt.N),
    ...(item.seq?.S === undefined ? {} : { seq: item.seq.S }),
    ends,
  };
}

export function encodeAlert(alert: FraudAlert, nowMs: number): Item {
  return {
    pk: { S: alertPk(alert.alert_id) }, kind: { S: 'alert' }, alert: { S: JSON.stringify(alert) },
    expiresAt: { N: String(nowSeconds(nowMs) + ALERT_TTL_SECONDS) },
  };
}

/** DynamoDB's size of an item: UTF-8 names and values (numbers ≤ 21 bytes, lists 3 + 1 per element). */
export function itemSize(item: Item): number {
  let n = 0;
  for (const [name, value] of Object.entries(item)) n += Buffer.byteLength(name, 'utf8') + valueSize(value);
  return n;
}

function valueSize(v: AttributeValue): number {
  if (v.S !== undefined) return Buffer.byteLength(v.S, 'utf8');
  if (v.N !== undefined) return Math.ceil(v.N.replace(/^-|\.|e.*$/gi, '').length / 2) + 1;
  if (v.B !== undefined) return v.B.byteLength;
  if (v.L !== undefined) return 3 + v.L.reduce((n, x) => n + 1 + valueSize(x), 0);
  if (v.SS !== undefined) return v.SS.reduce((n, s) => n + Buffer.byteLength(s, 'utf8'), 0);
  return 1;
}
