import { decodeShard, decodeWindow, type Item } from '../../lambda/shared/fraud/item-codec';
import { packTransactions, MAX_TRANSACTION_ACTIONS } from '../../lambda/shared/fraud/transactions';
import { newWindow, type WindowState } from '../../lambda/shared/fraud/window-state';
import { windowPk } from '../../lambda/shared/fraud/windows';
import { valueHash } from '../../lambda/shared/fraud/ids';
import type { FraudAlert, FraudSpec } from '../../lambda/shared/fraud/spec';
import { engine, fraudSpec, kinesisRecord, lastMetrics, paymentJson, STREAM_ARN, T0, type Payment } from '../support/fraud-engine';
import { FaultyDynamo, InvocationDiedError } from '../support/fault-dynamo';
import { MemoryDynamo } from '../support/memory-dynamo';

const SHARD = 'shardId-000000000000';
const SHARD_KEY = `${STREAM_ARN}|${SHARD}`;
const MIN = 60_000;

function setup(spec: FraudSpec = fraudSpec()) {
  const db = new MemoryDynamo();
  return { db, e: engine(spec, db), spec };
}

const rec = (p: Payment, arrival = p.ts) => kinesisRecord(paymentJson(p), arrival);
const pay = (id: string, customer: string, ts: number, amount = 10, merchant = 'm1'): Payment => ({ id, customer, ts, amount, merchant, country: 'FR' });

function windowOf(db: MemoryDynamo, spec: FraudSpec, customer: string, start: number, size = MIN): WindowState | undefined {
  const item = db.items.get(windowPk(customer, { startMs: start, endMs: start + size }));
  return item && decodeWindow(spec, item);
}
const shardOf = (db: MemoryDynamo) => decodeShard(SHARD_KEY, db.items.get(`s#${SHARD_KEY}`));
const alerts = (db: MemoryDynamo): FraudAlert[] => [...db.items.values()].filter((i) => i.kind?.S === 'alert').map((i) => JSON.parse(i.alert.S as string));
const results = (db: MemoryDynamo) => [...db.items.values()].filter((i) => i.status?.S === 'closed').map((i) => JSON.parse(i.result.S as string));

describe('scoring a batch (contract section 3)', () => {
  test('applies events, counts duplicates, advances the watermark, registers the shard', async () => {
    const { db, e, spec } = setup();
    const out = await e.score([rec(pay('a', 'c1', T0 + 1000)), rec(pay('b', 'c1', T0 + 2000, 20, 'm2')), rec(pay('a', 'c1', T0 + 1000))]);
    expect(out.batchItemFailures).toEqual([]);
    const w = windowOf(db, spec, 'c1', T0)!;
    expect([w.count, w.sum, w.status, w.owner]).toEqual([2, 30, 'open', SHARD_KEY]);
    expect(shardOf(db).wm).toBe(T0 + 2000 - 10_000);
    expect(db.items.get('shards')?.keys.SS).toEqual([SHARD_KEY]);
    expect(lastMetrics(e.logs)).toMatchObject({ Events: 3, Applied: 2, Duplicates: 1, LateEvents: 0, Pipeline: 'P' });
  });

  test('late is decided by the watermark, half-open: end <= W is late, end = W + 1 is not', async () => {
    const { db, e, spec } = setup();
    // W after the first event: T0 + 70s - 10s = T0 + 60s = the end of [T0, T0+60s).
    await e.score([rec(pay('x', 'c9', T0 + 70_000), T0 + 70_000), rec(pay('late', 'c1', T0 + 59_000), T0 + 70_000)]);
    expect(windowOf(db, spec, 'c1', T0)).toBeUndefined();
    const lines = e.s3.lines('late/');
    expect(lines).toEqual([expect.objectContaining({
      event_id: 'late', customer_id: 'c1', late_windows: [{ window_start: '2026-12-03T12:00:00.000Z', window_end: '2026-12-03T12:01:00.000Z' }],
      watermark: '2026-12-03T12:01:00.000Z', shard_id: SHARD, payload: expect.objectContaining({ id: 'late' }),
    })]);
    const { db: db2, e: e2 } = setup();
    await e2.score([rec(pay('x', 'c9', T0 + 69_999), T0 + 70_000), rec(pay('ok', 'c1', T0 + 59_000), T0 + 70_000)]);
    expect(windowOf(db2, spec, 'c1', T0)?.count).toBe(1);
    expect(lastMetrics(e.logs).LateEvents).toBe(1);
  });

  test('hopping: an event applies to its open windows and is late for the others (one late line listing them)', async () => {
    const spec = fraudSpec({ window: { sizeMs: 3 * MIN, slideMs: MIN }, allowedLatenessMs: 0 });
    const { db, e } = setup(spec);
    await e.score([rec(pay('x', 'c9', T0 + 2 * MIN), T0 + 2 * MIN), rec(pay('h', 'c1', T0 + MIN + 5000), T0 + 2 * MIN)]);
    // windows of T0+65s: [T0-60s, T0+120s) late (end = W), [T0, T0+180s) and [T0+60s, T0+240s) open.
    expect(windowOf(db, spec, 'c1', T0 - MIN, 3 * MIN)).toBeUndefined();
    expect(windowOf(db, spec, 'c1', T0, 3 * MIN)?.count).toBe(1);
    expect(windowOf(db, spec, 'c1', T0 + MIN, 3 * MIN)?.count).toBe(1);
    expect(e.s3.lines('late/')[0].late_windows).toEqual([{ window_start: '2026-12-03T11:59:00.000Z', window_end: '2026-12-03T12:02:00.000Z' }]);
    expect(lastMetrics(e.logs)).toMatchObject({ Applied: 2, LateEvents: 1 });
  });

  test('window_full refuses the whole event to the failure destination: no window changes', async () => {
    const spec = fraudSpec({ maxEventsPerWindow: 2, window: { sizeMs: 2 * MIN, slideMs: MIN } });
    const { db, e } = setup(spec);
    // a and b fill [T0, T0+120s); c also falls in [T0+60s, T0+180s), which has room, and is refused for both.
    await e.score([rec(pay('a', 'c1', T0 + 1000)), rec(pay('b', 'c1', T0 + 2000)), rec(pay('c', 'c1', T0 + MIN + 1000)), rec(pay('a', 'c1', T0 + 1000))]);
    expect(windowOf(db, spec, 'c1', T0, 2 * MIN)?.count).toBe(2);
    expect(windowOf(db, spec, 'c1', T0 + MIN, 2 * MIN)).toBeUndefined();
    expect(e.s3.lines('failures/')).toEqual([expect.objectContaining({ reason: 'window_full', shard_id: SHARD })]);
    expect(lastMetrics(e.logs)).toMatchObject({ WindowFull: 1, Duplicates: 1, InvalidEvents: 0 });
  });

  test('invalid records go to the failure object with their reason and never touch state or the watermark', async () => {
    const { db, e } = setup();
    const records = [kinesisRecord('nope', T0), rec({ ...pay('f', 'c1', T0 + 120_000) }, T0)];
    await e.score(records);
    expect(db.items.has(`s#${SHARD_KEY}`)).toBe(true);
    expect(shardOf(db).wm).toBeUndefined();
    const lines = e.s3.lines('failures/');
    expect(lines.map((l) => l.reason)).toEqual(['invalid_json', 'event_time_in_future']);
    expect(lines[0]).toEqual({ reason: 'invalid_json', shard_id: SHARD, sequence_number: records[0].kinesis.sequenceNumber, arrival: '2026-12-03T12:00:00.000Z', payload_base64: Buffer.from('nope').toString('base64') });
    const keys = [...e.s3.objects.keys()];
    expect(keys).toEqual([`failures/invalid/2026/12/03/${SHARD}/${records[0].kinesis.sequenceNumber}-${records[1].kinesis.sequenceNumber}.jsonl`]);
    expect(lastMetrics(e.logs).InvalidEvents).toBe(2);
  });

  test('alerts are written once, in the transaction of the window that decided them, across batches', async () => {
    const { db, e } = setup();
    await e.score([rec(pay('a', 'c1', T0 + 1), T0 + 10), rec(pay('b', 'c1', T0 + 2, 10, 'm2'), T0 + 10)]);
    await e.score([rec(pay('c', 'c1', T0 + 3, 10, 'm3'), T0 + 10), rec(pay('d', 'c1', T0 + 4), T0 + 10)]);
    await e.score([rec(pay('d', 'c1', T0 + 4), T0 + 10)]);
    expect(alerts(db).map((a) => [a.alert_key, a.triggering_event_id, a.evidence_event_ids])).toEqual([
      ['distinct_merchant_above_1', 'b', ['a', 'b']], ['count_above_2', 'c', ['a', 'b', 'c']],
    ]);
    expect(windowOf(db, fraudSpec(), 'c1', T0)?.fired).toEqual(['distinct_merchant_above_1', 'count_above_2']);
  });

  test('closes windows the watermark passed: touched ones in the batch, older ones through the GSI; one result each', async () => {
    const { db, e } = setup();
    await e.score([rec(pay('a', 'c1', T0 + 1000)), rec(pay('b', 'c2', T0 + 2000))]);
    e.clock.ms += 1000;
    await e.score([rec(pay('c', 'c1', T0 + 50_000)), rec(pay('z', 'c3', T0 + 71_000), T0 + 71_000)]);
    const got = results(db).sort((x, y) => x.customer_id.localeCompare(y.customer_id));
    expect(got.map((r) => [r.customer_id, r.event_count])).toEqual([['c1', 2], ['c2', 1]]);
    expect(db.items.get(windowPk('c2', { startMs: T0, endMs: T0 + MIN }))?.openShard).toBeUndefined();
    expect(lastMetrics(e.logs).WindowsClosed).toBe(2);
    // Closed windows stay closed: a duplicate is a duplicate, a new event is late.
    await e.score([rec(pay('a', 'c1', T0 + 1000), T0 + 72_000), rec(pay('n', 'c1', T0 + 5000), T0 + 72_000)]);
    expect(lastMetrics(e.logs)).toMatchObject({ Duplicates: 1, LateEvents: 1, WindowsClosed: 0 });
    expect(results(db)).toHaveLength(2);
  });

  test('an item whose expiresAt has passed is treated as absent and written over', async () => {
    const spec = fraudSpec();
    const { db, e } = setup(spec);
    await e.score([rec(pay('a', 'c1', T0 + 1000))]);
    const pk = windowPk('c1', { startMs: T0, endMs: T0 + MIN });
    db.items.set(pk, { ...(db.items.get(pk) as Item), expiresAt: { N: String(Math.floor(T0 / 1000) - 1) } });
    await e.score([rec(pay('a', 'c1', T0 + 1000)), rec(pay('b', 'c1', T0 + 2000))]);
    expect(lastMetrics(e.logs)).toMatchObject({ Applied: 2, Duplicates: 0 });
    expect(windowOf(db, spec, 'c1', T0)?.count).toBe(2);
  });
});

describe('the checkpoint rule (contract section 7)', () => {
  test('DynamoDB throttling past the time budget fails from the first record whose state did not commit; the watermark is persisted as of the records before it', async () => {
    const spec = fraudSpec();
    const db = new MemoryDynamo();
    let txs = 0;
    const throttleAfterFirstTx = {
      send: async (c: object) => {
        // The shard's own checkpoint write (a transaction of one action) goes through.
        const actions = (c as { input?: { TransactItems?: unknown[] } }).input?.TransactItems?.length ?? 0;
        if (actions > 1 && txs++ >= 1) throw Object.assign(new Error('slow down'), { name: 'ProvisionedThroughputExceededException' });
        return db.send(c);
      },
    };
    const e = engine(spec, throttleAfterFirstTx);
    // 150 customers: the first transaction holds the first 100 windows, the second (with the shard item) the rest.
    const records = Array.from({ length: 150 }, (_, i) => rec(pay(`e${i}`, `c${i}`, T0 + i)));
    const out = await e.score(records, 10_000);
    expect(out.batchItemFailures).toEqual([{ itemIdentifier: records[100].kinesis.sequenceNumber }]);
    expect(shardOf(db).wm).toBe(T0 + 99 - 10_000);
    expect(windowOf(db, spec, 'c99', T0)?.count).toBe(1);
    expect(windowOf(db, spec, 'c100', T0)).toBeUndefined();
    expect(lastMetrics(e.logs)).toMatchObject({ Events: 100, Applied: 100 });
    expect(lastMetrics(e.logs).Throttles).toBeGreaterThan(0);
    // The redelivery from record 100 completes the batch; nothing is applied twice.
    txs = -1000;
    expect((await e.score(records.slice(100))).batchItemFailures).toEqual([]);
    expect(lastMetrics(e.logs)).toMatchObject({ Applied: 50, Duplicates: 0 });
  });

  test('when nothing committed (or the watermark write fails) the batch fails from its first record', async () => {
    const db = new MemoryDynamo();
    const always = { send: async (c: object) => { if (c.constructor.name === 'TransactWriteItemsCommand') throw Object.assign(new Error('x'), { name: 'ThrottlingException' }); return db.send(c); } };
    const e = engine(fraudSpec(), always);
    const records = [rec(pay('a', 'c1', T0)), rec(pay('b', 'c2', T0))];
    expect((await e.score(records, 5000)).batchItemFailures).toEqual([{ itemIdentifier: records[0].kinesis.sequenceNumber }]);
    expect(db.items.has(`s#${SHARD_KEY}`)).toBe(false);
  });

  test('a conditional conflict reads and scores again: the effect lands once and counts as applied', async () => {
    const db = new MemoryDynamo();
    const faulty = new FaultyDynamo(db, { conflict: 1, store: db, random: () => 0 });
    const e = engine(fraudSpec(), faulty);
    await engine(fraudSpec(), db, e.clock).score([rec(pay('a', 'c1', T0))]);
    const out = await e.score([rec(pay('b', 'c1', T0 + 1)), rec(pay('c', 'c1', T0 + 2))], 1_000_000);
    // conflict: 1 makes every transaction meet a bump, so the budget runs out: nothing commits.
    expect(out.batchItemFailures).toHaveLength(1);
    expect(lastMetrics(e.logs).StateConflicts).toBeGreaterThan(1);
    const once = new FaultyDynamo(db, { store: db, random: () => 1 });
    once.conflictsPending = 1;
    const e2 = engine(fraudSpec(), once, e.clock);
    expect((await e2.score([rec(pay('b', 'c1', T0 + 1)), rec(pay('c', 'c1', T0 + 2))])).batchItemFailures).toEqual([]);
    expect(lastMetrics(e2.logs)).toMatchObject({ Applied: 2, StateConflicts: 1 });
    expect(windowOf(db, fraudSpec(), 'c1', T0)?.count).toBe(3);
  });

  test('a timeout mid-batch (the invocation dies after a committed transaction): the redelivery applies only what did not commit', async () => {
    const spec = fraudSpec();
    const db = new MemoryDynamo();
    const faulty = new FaultyDynamo(db, { random: () => 1 });
    faulty.dieAfterCommits = 0;
    const e = engine(spec, faulty);
    const records = Array.from({ length: 150 }, (_, i) => rec(pay(`e${i}`, `c${i % 120}`, T0 + i)));
    await expect(e.score(records)).rejects.toBeInstanceOf(InvocationDiedError);
    expect(db.items.has(`s#${SHARD_KEY}`)).toBe(false);
    faulty.dieAfterCommits = undefined;
    expect((await e.score(records)).batchItemFailures).toEqual([]);
    const counts = Array.from({ length: 120 }, (_, c) => windowOf(db, spec, `c${c}`, T0)?.count);
    expect(counts).toEqual(Array.from({ length: 120 }, (_, c) => (c < 30 ? 2 : 1)));
    expect(lastMetrics(e.logs)).toMatchObject({ Events: 150 });
  });
});

describe('transaction packing', () => {
  const spec = fraudSpec();
  const win = (i: number, alerts = 0) => {
    const state = newWindow(spec, `c${i}`, { startMs: T0, endMs: T0 + MIN }, 'k');
    state.ids.add(valueHash(`e${i}`));
    state.count = 1;
    const a = Array.from({ length: alerts }, (_, j) => ({ alert_id: `${i}-${j}` }) as FraudAlert);
    return { state, expectedV: 0, firstUnit: i, alerts: a };
  };
  test('at most 100 actions per call; a window and its alerts never split; the shard item rides last', () => {
    const writes = Array.from({ length: 120 }, (_, i) => win(i, i % 7 === 0 ? 3 : 0));
    const txs = packTransactions(spec, 't', writes, T0, { key: 'k', v: 2, ends: new Map() });
    for (const tx of txs) expect(tx.actions.length).toBeLessThanOrEqual(MAX_TRANSACTION_ACTIONS);
    expect(txs.flatMap((t) => t.writes.map((w) => w.firstUnit))).toEqual(writes.map((w) => w.firstUnit));
    for (const tx of txs) {
      tx.writes.forEach((w) => {
        const at = tx.actions.findIndex((a) => a.Put?.Item?.pk.S === w.state.pk);
        expect(tx.kinds.slice(at + 1, at + 1 + w.alerts.length)).toEqual(w.alerts.map(() => 'alert'));
      });
    }
    expect(txs[txs.length - 1].kinds.at(-1)).toBe('shard');
    expect(txs[txs.length - 1].actions.at(-1)?.Put?.ConditionExpression).toBe('v = :v');
  });
  test('at most 4 MB of items per call', () => {
    const big = Array.from({ length: 30 }, (_, i) => {
      const w = win(i);
      for (let j = 0; j < 40_000; j++) w.state.ids.add(valueHash(`${i}-${j}`));
      return w;
    });
    const txs = packTransactions(spec, 't', big, T0);
    expect(txs.length).toBeGreaterThan(1);
    for (const tx of txs) expect(tx.bytes).toBeLessThanOrEqual(4_000_000);
  });
  test('conditions: a new window may replace only an absent or expired item; a read one its version', () => {
    const [tx] = packTransactions(spec, 't', [win(1), { ...win(2), expectedV: 4 }], T0);
    expect(tx.actions.map((a) => a.Put?.ConditionExpression)).toEqual(['attribute_not_exists(pk) OR expiresAt < :now', 'v = :v']);
    expect(tx.actions[1].Put?.Item?.v).toEqual({ N: '5' });
  });
});

describe('DynamoDB calls', () => {
  test('1,000 events over 100 customers in batches of 100 (tumbling) cost at most 30 calls', async () => {
    const { db, e } = setup(fraudSpec({ rules: [{ id: 'count_above_1000', feature: 'count', threshold: 1000, weight: 1 }] }));
    let state = 1;
    const rnd = () => ((state = (state * 48271) % 2147483647) / 2147483647);
    const records = Array.from({ length: 1000 }, (_, i) => rec(pay(`e${i}`, `c${Math.floor(rnd() * 100)}`, T0 + i * 240), T0 + i * 240));
    for (let i = 0; i < 1000; i += 100) {
      e.clock.ms = T0 + i * 240;
      expect((await e.score(records.slice(i, i + 100))).batchItemFailures).toEqual([]);
    }
    expect(db.totalCalls).toBeLessThanOrEqual(30);
  });
});
