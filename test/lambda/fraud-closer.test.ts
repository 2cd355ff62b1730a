import { decodeShard } from '../../lambda/shared/fraud/item-codec';
import { isIdle, tickShard } from '../../lambda/fraud-closer/core';
import { engine, fraudSpec, kinesisRecord, lastMetrics, paymentJson, STREAM_ARN, T0 } from '../support/fraud-engine';
import { MemoryDynamo } from '../support/memory-dynamo';

const SHARD_KEY = `${STREAM_ARN}|shardId-000000000000`;
const spec = fraudSpec();
const rec = (id: string, customer: string, ts: number) => kinesisRecord(paymentJson({ id, customer, ts, amount: 5 }), ts);
const results = (db: MemoryDynamo) => [...db.items.values()].filter((i) => i.status?.S === 'closed').map((i) => JSON.parse(i.result.S as string));

describe('fraud-closer core (contract section 4)', () => {
  test('a shard is idle only when its last batch is MORE than idleTimeoutMs old; one never seen is left alone', () => {
    const s = { key: 'k', v: 1, lastSeenAt: 1000, ends: new Map() };
    expect(isIdle(s, 1000 + 120_000, 120_000)).toBe(false);
    expect(isIdle(s, 1000 + 120_001, 120_000)).toBe(true);
    expect(isIdle({ key: 'k', v: 0, ends: new Map() }, 1e15, 1)).toBe(false);
  });
  test('the tick moves W to max(W, now − lateness), never back', () => {
    expect(tickShard(spec, { key: 'k', v: 1, ends: new Map() }, 50_000).wm).toBe(40_000);
    expect(tickShard(spec, { key: 'k', v: 1, wm: 45_000, ends: new Map() }, 50_000).wm).toBe(45_000);
  });
});

describe('fraud-closer handler', () => {
  test('closes a quiet shard\'s windows once its idle tick passes their end; an active shard is left alone', async () => {
    const db = new MemoryDynamo();
    const e = engine(spec, db);
    await e.score([rec('a', 'c1', T0 + 1000), rec('b', 'c2', T0 + 2000)]);
    e.clock.ms = T0 + 60_000;
    expect(await e.close()).toEqual({ idleTicks: 0, windowsClosed: 0 });
    e.clock.ms = T0 + 120_001;
    expect(await e.close()).toEqual({ idleTicks: 1, windowsClosed: 2 });
    expect(results(db).map((r) => r.customer_id).sort()).toEqual(['c1', 'c2']);
    const shard = decodeShard(SHARD_KEY, db.items.get(`s#${SHARD_KEY}`));
    expect(shard.wm).toBe(T0 + 120_001 - 10_000);
    expect(shard.lastSeenAt).toBe(T0);
    expect(shard.ends.size).toBe(0);
    expect(lastMetrics(e.logs)).toMatchObject({ IdleTicks: 1, WindowsClosed: 2 });
    // The next tick finds nothing to close and queries nothing.
    const queries = db.calls.Query;
    e.clock.ms += 60_000;
    expect(await e.close()).toEqual({ idleTicks: 1, windowsClosed: 0 });
    expect(db.calls.Query).toBe(queries);
  });
  test('a late event after the tick is late (the tick moved the watermark)', async () => {
    const db = new MemoryDynamo();
    const e = engine(spec, db);
    await e.score([rec('a', 'c1', T0 + 1000)]);
    e.clock.ms = T0 + 200_000;
    await e.close();
    await e.score([kinesisRecord(paymentJson({ id: 'z', customer: 'c1', ts: T0 + 2000, amount: 1 }), T0 + 200_000)]);
    expect(lastMetrics(e.logs)).toMatchObject({ LateEvents: 1, Applied: 0 });
  });
});
