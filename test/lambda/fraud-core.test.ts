import { createHash } from 'node:crypto';
import { alertId, resultId, valueHash, windowIso } from '../../lambda/shared/fraud/ids';
import { decodeShard, decodeWindow, encodeShard, encodeWindow, isExpired, itemSize, windowExpiresAt } from '../../lambda/shared/fraud/item-codec';
import { MAX_ITEM_BYTES, windowItemSizeBound } from '../../lambda/shared/fraud/item-size';
import { fraudUnits, parseFraudEvent } from '../../lambda/shared/fraud/parse-event';
import type { FraudSpec } from '../../lambda/shared/fraud/spec';
import { compileFraudSpec, specFromEnv } from '../../lambda/shared/fraud/validate-spec';
import { applyEvent, decideAlerts, newWindow, windowResult } from '../../lambda/shared/fraud/window-state';
import { parseWindowPk, windowPk, windowsOf } from '../../lambda/shared/fraud/windows';
import { kplAggregate } from './batch/fixtures';
import { fraudSpec, kinesisRecord, T0 } from '../support/fraud-engine';

const spec = fraudSpec();
const compiled = compileFraudSpec(spec);
const base = { id: 'e1', customer: { id: 'c1' }, ts: T0, amount: 10, merchant: 'm1', country: 'FR' };
const parse = (v: unknown, arrival = T0) => parseFraudEvent(v, arrival, compiled);
const reason = (v: unknown, arrival = T0) => {
  const p = parse(v, arrival);
  return p.ok ? 'ok' : p.reason;
};

describe('parsing an event (contract section 1)', () => {
  test('a valid event: ids, time, amount, attributes as strings', () => {
    expect(parse({ ...base, customer: { id: 42 }, amount: '12.50', merchant: 7, country: true })).toEqual({
      ok: true, event: { customerId: '42', eventId: 'e1', timeMs: T0, amount: 12.5, attributes: ['7', 'true'] },
    });
  });
  test.each([
    ['not an object', [1, 2], 'invalid_json'],
    ['null', null, 'invalid_json'],
    ['customerId missing', { ...base, customer: {} }, 'missing_customer_id'],
    ['customerId empty', { ...base, customer: { id: '' } }, 'missing_customer_id'],
    ['customerId an object', { ...base, customer: { id: {} } }, 'missing_customer_id'],
    ['customerId over 1024 UTF-8 bytes', { ...base, customer: { id: 'é'.repeat(513) } }, 'missing_customer_id'],
    ['eventId missing', { ...base, id: undefined }, 'missing_event_id'],
    ['eventId boolean', { ...base, id: true }, 'missing_event_id'],
    ['eventId 257 chars', { ...base, id: 'x'.repeat(257) }, 'event_id_too_long'],
    ['eventTime missing', { ...base, ts: undefined }, 'invalid_event_time'],
    ['eventTime text', { ...base, ts: 'soon' }, 'invalid_event_time'],
    ['eventTime negative', { ...base, ts: -1 }, 'event_time_out_of_range'],
    ['amount missing', { ...base, amount: undefined }, 'missing_amount'],
    ['amount null', { ...base, amount: null }, 'missing_amount'],
    ['amount text', { ...base, amount: '1e3' }, 'invalid_amount'],
    ['amount boolean', { ...base, amount: true }, 'invalid_amount'],
    ['amount overflowing a double', { ...base, amount: '9'.repeat(400) }, 'invalid_amount'],
    ['attribute an object', { ...base, merchant: { a: 1 } }, 'invalid_attribute'],
    ['attribute an array', { ...base, country: [] }, 'invalid_attribute'],
    ['time past arrival + tolerance', { ...base, ts: T0 + 60_001 }, 'event_time_in_future'],
  ])('%s → %s', (_name, value, expected) => {
    expect(reason(value)).toBe(expected);
  });
  test('checks run in contract order: the first failing one is the reason', () => {
    expect(reason({ id: 'x'.repeat(300), ts: 'bad', amount: null })).toBe('missing_customer_id');
    expect(reason({ ...base, id: 'x'.repeat(300), ts: 'bad' })).toBe('event_id_too_long');
    expect(reason({ ...base, ts: 'bad', amount: null })).toBe('invalid_event_time');
    expect(reason({ ...base, amount: null, merchant: [] })).toBe('missing_amount');
    expect(reason({ ...base, merchant: [], ts: T0 + 3_600_000 })).toBe('invalid_attribute');
  });
  test('exactly 256 characters and exactly arrival + tolerance are accepted; a null attribute is absent', () => {
    expect(reason({ ...base, id: 'x'.repeat(256), ts: T0 + 60_000 })).toBe('ok');
    const p = parse({ ...base, merchant: null, country: undefined });
    expect(p.ok && p.event.attributes).toEqual([undefined, undefined]);
  });
  test('records: non-JSON and invalid UTF-8 are invalid_json; a corrupt KPL aggregate is kpl_decode_error; an aggregate yields its sub-records', () => {
    const body = Buffer.from([0x1a, 0x05, 0x08]);
    const corrupt = Buffer.concat([Buffer.from([0xf3, 0x89, 0x9a, 0xc2]), body, createHash('md5').update(body).digest()]);
    const agg = kplAggregate([{ partitionKey: 'a', data: JSON.stringify(base) }, { partitionKey: 'b', data: JSON.stringify({ ...base, id: 'e2' }) }]);
    const units = fraudUnits([
      kinesisRecord('not json', T0), kinesisRecord(Buffer.from([0xff, 0xfe]), T0), kinesisRecord(corrupt, T0), kinesisRecord(agg, T0 + 1234.4),
    ], compiled);
    expect(units.map((u) => (u.parsed.ok ? u.parsed.event.eventId : u.parsed.reason))).toEqual(['invalid_json', 'invalid_json', 'kpl_decode_error', 'e1', 'e2']);
    expect(units.map((u) => [u.record, u.subSequence])).toEqual([[0, 0], [1, 0], [2, 0], [3, 0], [3, 1]]);
    expect(units[3].arrivalMs).toBe(T0 + 1234);
  });
});

describe('windows (contract section 2)', () => {
  test('tumbling: one window; an event at exactly the end belongs to the next', () => {
    expect(windowsOf(T0 + 59_999, spec.window)).toEqual([{ startMs: T0, endMs: T0 + 60_000 }]);
    expect(windowsOf(T0 + 60_000, spec.window)).toEqual([{ startMs: T0 + 60_000, endMs: T0 + 120_000 }]);
  });
  test('hopping: size/slide windows ascending by start, each holding t', () => {
    const w = windowsOf(T0 + 30_000, { sizeMs: 60_000, slideMs: 20_000 });
    expect(w.map((x) => x.startMs - T0)).toEqual([-20_000, 0, 20_000]);
    expect(windowsOf(T0, { sizeMs: 60_000, slideMs: 20_000 }).map((x) => x.startMs - T0)).toEqual([-40_000, -20_000, 0]);
  });
  test('window keys round-trip, with a customer id holding #', () => {
    const b = { startMs: T0, endMs: T0 + 60_000 };
    expect(parseWindowPk(windowPk('a#b#c', b))).toEqual({ customerId: 'a#b#c', bounds: b });
  });
});

describe('ids (contract section 5)', () => {
  test('alertId and resultId are the first 32 hex chars of sha256 of the contract strings', () => {
    const w = { startMs: T0, endMs: T0 + 60_000 };
    const sha = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 32);
    expect(alertId('c1', w, 'count_above_2')).toBe(sha(`alert|c1|${T0}|${T0 + 60_000}|count_above_2`));
    expect(resultId('c1', w)).toBe(sha(`result|c1|${T0}|${T0 + 60_000}`));
    expect(windowIso(T0 + 30_000)).toBe('2026-12-03T12:00:30.000Z');
    expect(valueHash('x')).toHaveLength(8);
  });
});

function event(id: string, amount: number, merchant?: string) {
  return { customerId: 'c1', eventId: id, timeMs: T0, amount, attributes: [merchant, undefined] };
}

describe('window state, rules and alerts (contract section 3)', () => {
  const bounds = { startMs: T0, endMs: T0 + 60_000 };
  test('features, capped distinct sets, the recent ring; anyRule fires each rule once with the holding rules and evidence', () => {
    const w = newWindow(spec, 'c1', bounds, 'shard');
    const fired: string[] = [];
    ['m1', 'm2', 'm3', 'm4', 'm5'].forEach((m, i) => {
      const e = event(`e${i}`, 30, m);
      applyEvent(spec, w, e, valueHash(e.eventId));
      fired.push(...decideAlerts(spec, w, e.eventId).map((a) => `${e.eventId}:${a.alert_key}`));
    });
    expect(fired).toEqual(['e1:distinct_merchant_above_1', 'e2:count_above_2', 'e3:sum_above_100']);
    const r = windowResult(spec, w);
    expect(r).toMatchObject({ event_count: 5, amount_sum: 150, amount_min: 30, amount_max: 30, amount_avg: 30, distinct: { merchant: 3, country: 0 }, distinct_saturated: ['merchant'], score: 4 });
    expect(r.alerted).toEqual(['distinct_merchant_above_1', 'count_above_2', 'sum_above_100']);
    expect(w.recent).toEqual(['e2', 'e3', 'e4']);
  });
  test('an alert carries rules_hit, score, features, the trigger and the evidence ending with it', () => {
    const w = newWindow(spec, 'c1', bounds, 'shard');
    applyEvent(spec, w, event('a', 150), valueHash('a'));
    const [alert] = decideAlerts(spec, w, 'a');
    expect(alert).toEqual({
      alert_id: alertId('c1', bounds, 'sum_above_100'), customer_id: 'c1', window_start: windowIso(T0), window_end: windowIso(T0 + 60_000),
      alert_key: 'sum_above_100', rules_hit: ['sum_above_100'], score: 2,
      features: { count: 1, sum: 150, min: 150, max: 150, avg: 150, distinct: { merchant: 0, country: 0 } },
      triggering_event_id: 'a', evidence_event_ids: ['a'],
    });
  });
  test('a key fires once per window even when its rule stops and starts holding again', () => {
    const w = newWindow(spec, 'c1', bounds, 'shard');
    const keys: string[] = [];
    for (const [id, amount] of [['a', 150], ['b', -100], ['c', 100]] as const) {
      applyEvent(spec, w, event(id, amount), valueHash(id));
      keys.push(...decideAlerts(spec, w, id).map((x) => x.alert_key));
    }
    expect(keys).toEqual(['sum_above_100', 'count_above_2']);
  });
  test('scoreAtLeast: one *score alert when the weights of the holding rules first reach the score', () => {
    const s = fraudSpec({ alert: { kind: 'scoreAtLeast', score: 3 } });
    const w = newWindow(s, 'c1', bounds, 'shard');
    const out: string[] = [];
    for (const id of ['a', 'b', 'c', 'd']) {
      applyEvent(s, w, event(id, 40), valueHash(id));
      out.push(...decideAlerts(s, w, id).map((x) => `${id}:${x.alert_key}:${x.score}`));
    }
    // sum > 100 (weight 2) at c, count > 2 (weight 1) at c: score 3 at c; never again.
    expect(out).toEqual(['c:*score:3']);
  });
});

describe('items (contract section 6)', () => {
  test('a window item round-trips, with the GSI keys only while open, and the result once closed', () => {
    const w = newWindow(spec, 'c#1', { startMs: T0, endMs: T0 + 60_000 }, 'arn|shard-0');
    applyEvent(spec, w, event('a', 0.1, 'm1'), valueHash('a'));
    applyEvent(spec, w, event('b', 0.2, 'm2'), valueHash('b'));
    w.fired.push('count_above_2');
    const item = encodeWindow(spec, w, 3);
    expect(item).toMatchObject({ pk: { S: w.pk }, kind: { S: 'window' }, status: { S: 'open' }, v: { N: '3' }, shard: { S: 'arn|shard-0' }, openShard: { S: 'arn|shard-0' }, end: { N: String(T0 + 60_000) } });
    expect(item.expiresAt.N).toBe(String(Math.ceil((T0 + 60_000 + 10_000 + 3_600_000) / 1000)));
    const back = decodeWindow(spec, item)!;
    expect({ ...back, v: 0 }).toEqual({ ...w, result: undefined });
    expect(back.sum).toBe(0.1 + 0.2);
    w.status = 'closed';
    w.result = '{}';
    const closed = encodeWindow(spec, w, 4);
    expect(closed.openShard).toBeUndefined();
    expect(closed.end).toBeUndefined();
    expect(closed.result).toEqual({ S: '{}' });
    expect(decodeWindow(spec, closed)!.ids.size).toBe(2);
  });
  test('expiresAt < now (seconds) reads as expired; windowExpiresAt is end + lateness + retention', () => {
    const item = { pk: { S: 'x' }, expiresAt: { N: '1000' } };
    expect(isExpired(item, 1_000_999)).toBe(false);
    expect(isExpired(item, 1_001_000)).toBe(true);
    expect(windowExpiresAt(spec, 1000)).toBe(Math.ceil((1000 + 10_000 + 3_600_000) / 1000));
  });
  test('a shard item round-trips; an absent one is −∞ at version 0', () => {
    const s = { key: 'k', v: 4, wm: 123, lastSeenAt: 456, ends: new Map([[789, { settleAt: 5, swept: true }]]) };
    expect(decodeShard('k', encodeShard(s, 5))).toEqual({ ...s, v: 5 });
    expect(decodeShard('k', undefined)).toEqual({ key: 'k', v: 0, ends: new Map() });
  });
  test('the largest window item the spec allows stays under the derived bound, and the bound under 400 KB', () => {
    const s = fraudSpec({ maxEventsPerWindow: 30_000, distinctCap: 1000, evidenceEventIds: 20 });
    const w = newWindow(s, 'é'.repeat(512), { startMs: T0, endMs: T0 + 60_000 }, 'a'.repeat(512));
    for (let i = 0; i < s.maxEventsPerWindow; i++) {
      const id = `${'é'.repeat(120)}${String(i).padStart(16, '0')}`;
      applyEvent(s, w, { customerId: 'c', eventId: id, timeMs: T0, amount: i, attributes: [`m${i}`, `c${i}`] }, valueHash(id));
    }
    for (const r of s.rules) w.fired.push(r.id);
    const bound = windowItemSizeBound(s);
    expect(itemSize(encodeWindow(s, w, 1))).toBeLessThanOrEqual(bound);
    w.status = 'closed';
    w.result = JSON.stringify(windowResult(s, w));
    expect(itemSize(encodeWindow(s, w, 2))).toBeLessThanOrEqual(bound);
    expect(bound).toBeLessThanOrEqual(MAX_ITEM_BYTES);
  });
});

describe('spec check at init', () => {
  test('an unknown version is refused', () => {
    expect(() => compileFraudSpec({ ...spec, version: 2 })).toThrow(/version 2 is unknown/);
  });
  test.each<[string, Partial<Record<keyof FraudSpec, unknown>>, RegExp]>([
    ['size not a multiple of slide', { window: { sizeMs: 60_000, slideMs: 25_000 } }, /multiple of window.slideMs/],
    ['zero slide', { window: { sizeMs: 60_000, slideMs: 0 } }, /positive integers/],
    ['negative lateness', { allowedLatenessMs: -1 }, /allowedLatenessMs/],
    ['zero distinctCap', { distinctCap: 0 }, /distinctCap/],
    ['no rules', { rules: [] }, /rules must be/],
    ['duplicate rule ids', { rules: [{ id: 'a', feature: 'count', threshold: 1, weight: 1 }, { id: 'a', feature: 'sum', threshold: 1, weight: 1 }] }, /not unique/],
    ['distinct rule on an unknown attribute', { rules: [{ id: 'a', feature: 'distinct', attribute: 'ip', threshold: 1, weight: 1 }] }, /schema.attributes/],
    ['unknown feature', { rules: [{ id: 'a', feature: 'avg', threshold: 1, weight: 1 }] }, /feature/],
    ['infinite threshold', { rules: [{ id: 'a', feature: 'count', threshold: null, weight: 1 }] }, /threshold/],
    ['bad alert', { alert: { kind: 'scoreAtLeast' } }, /alert must be/],
    ['bad path', { schema: { ...spec.schema, amount: 'a..b' } }, /empty segment/],
    ['bad time format', { schema: { ...spec.schema, eventTime: { field: 'ts', format: 'unix' } } }, /format/],
    ['an item bound over 400 KB', { maxEventsPerWindow: 60_000 }, /over DynamoDB's 409600/],
  ])('%s is refused, naming the field', (_name, patch, message) => {
    expect(() => compileFraudSpec({ ...spec, ...patch })).toThrow(message);
  });
  test('FRAUD_SPEC unset or not JSON fails loudly', () => {
    expect(() => specFromEnv(undefined)).toThrow(/FRAUD_SPEC is not set/);
    expect(() => specFromEnv('{')).toThrow(/not JSON/);
    expect(specFromEnv(JSON.stringify(spec)).spec).toEqual(spec);
  });
});
