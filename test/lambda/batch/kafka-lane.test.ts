/**
 * The runtime's Kafka lane against the MSK event-source mapping's event and partial batch response as
 * AWS documents them: records keyed `<topic>-<partition>`, base64 key and value (a null key absent or
 * null, a tombstone's value absent or null), headers as single-key objects of byte arrays (Java bytes:
 * negative from 0x80), and `itemIdentifier: { partition: "<topic>-<partition>", offset }` naming the
 * lowest failed offset per partition.
 */
import { processBatch, type RecordContext } from '../../../lambda/shared/batch/process-batch';
import { InMemoryIdempotencyStore } from '../../../lambda/shared/idempotency/store';
import { drainTopic } from '../../support/kafka-esm';

interface In { offset: number; value?: unknown; key?: string | null; headers?: { [k: string]: number[] }[]; timestamp?: number }

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64');
/** Java's signed bytes, as Lambda serializes header values. */
const javaBytes = (buf: Buffer) => [...buf].map((b) => (b > 127 ? b - 256 : b));

function mskEvent(byPartition: Record<string, In[]>): unknown {
  const records: Record<string, unknown[]> = {};
  for (const [tp, list] of Object.entries(byPartition)) {
    const dash = tp.lastIndexOf('-');
    records[tp] = list.map((r) => {
      const rec: Record<string, unknown> = {
        topic: tp.slice(0, dash), partition: Number(tp.slice(dash + 1)), offset: r.offset,
        timestamp: r.timestamp ?? 1764770000000, timestampType: 'CREATE_TIME', headers: r.headers ?? [],
      };
      if (r.key !== undefined) rec.key = r.key;
      if (r.value !== undefined) rec.value = r.value;
      return rec;
    });
  }
  return { eventSource: 'aws:kafka', eventSourceArn: 'arn:aws:kafka:us-east-1:111122223333:cluster/c/abc-1', bootstrapServers: 'b-1.c:9098,b-2.c:9098', records };
}

describe('Kafka lane: partial batch response', () => {
  test('reports the lowest failed offset of each partition under the records-map key, topics with dots and dashes included', async () => {
    const seen: string[] = [];
    const event = mskEvent({
      'orders.v1-eu-0': [{ offset: 7, value: b64({ id: 'a' }) }, { offset: 8, value: b64({ id: 'b', fail: true }) }, { offset: 9, value: b64({ id: 'c', fail: true }) }],
      'orders.v1-eu-11': [{ offset: 40, value: b64({ id: 'd' }) }],
      'orders.v1-eu-2': [{ offset: 3, value: b64({ id: 'e', fail: true }) }, { offset: 4, value: b64({ id: 'f' }) }],
    });
    const res = await processBatch(event, (r) => {
      const d = r as { id: string; fail?: boolean };
      if (d.fail) throw new Error('boom');
      seen.push(d.id);
    });
    expect(res.batchItemFailures).toEqual([
      { itemIdentifier: { partition: 'orders.v1-eu-0', offset: 8 } },
      { itemIdentifier: { partition: 'orders.v1-eu-2', offset: 3 } },
    ]);
    // Nothing after a partition's first failure runs: Lambda redelivers from it.
    expect(seen.sort()).toEqual(['a', 'd']);
  });

  test('records listed out of offset order are processed and reported in offset order', async () => {
    const seen: number[] = [];
    const event = mskEvent({ 't-0': [{ offset: 12, value: b64(12) }, { offset: 10, value: b64(10) }, { offset: 11, value: b64({ s: 'x' }) }] });
    const res = await processBatch(event, (r, ctx) => {
      seen.push(ctx.kafka!.offset);
      if (typeof r !== 'number') throw new Error('not a number');
    });
    expect(seen).toEqual([10, 11]);
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: { partition: 't-0', offset: 11 } }]);
  });
});

describe('Kafka lane: record metadata', () => {
  test('the handler sees topic, partition, offset, timestamp, key and headers decoded from signed byte arrays', async () => {
    const raw = Buffer.from([0x00, 0x7f, 0x80, 0xff, 0xc3]); // not UTF-8
    const event = mskEvent({
      'pay.ments-v2-3': [
        { offset: 100, key: b64('customer-42'), value: b64({ n: 1 }), timestamp: 1764770000123,
          headers: [{ trace: javaBytes(Buffer.from('abc')) }, { bin: javaBytes(raw) }, { trace: javaBytes(Buffer.from('déf')) }] },
        { offset: 101, key: null, value: b64({ n: 2 }) },
        { offset: 102, value: b64({ n: 3 }) },
      ],
    });
    const ctxs: RecordContext[] = [];
    const res = await processBatch(event, (_r, ctx) => { ctxs.push(ctx); });
    expect(res.batchItemFailures).toEqual([]);
    const [first, nullKey, absentKey] = ctxs.map((c) => c.kafka!);
    expect(first).toMatchObject({ topic: 'pay.ments-v2', partition: 3, offset: 100, timestamp: 1764770000123, timestampType: 'CREATE_TIME', tombstone: false });
    expect(first.key).toEqual(Buffer.from('customer-42'));
    // Repeated keys stay separate entries, in order; values are the exact bytes.
    expect(first.headers.map((h) => h.key)).toEqual(['trace', 'bin', 'trace']);
    expect(first.headers[0].value).toEqual(Buffer.from('abc'));
    expect(first.headers[1].value).toEqual(raw);
    expect(first.headers[2].value.toString('utf8')).toBe('déf');
    expect(nullKey.key).toBeNull();
    expect(absentKey.key).toBeNull();
    expect(ctxs[0].lane).toBe('pay.ments-v2-3');
  });

  test('a tombstone (value null or absent) reaches the handler as null and is not a failure', async () => {
    const event = mskEvent({ 'users-0': [{ offset: 5, key: b64('u1'), value: null }, { offset: 6, key: b64('u2') }, { offset: 7, key: b64('u3'), value: b64({ name: 'x' }) }] });
    const got: [unknown, boolean][] = [];
    const res = await processBatch(event, (r, ctx) => { got.push([r, ctx.kafka!.tombstone]); });
    expect(res.batchItemFailures).toEqual([]);
    expect(got).toEqual([[null, true], [null, true], [{ name: 'x' }, false]]);
  });

  test('with parse bytes a tombstone is an empty buffer, flagged', async () => {
    const event = mskEvent({ 'users-0': [{ offset: 5, key: b64('u1'), value: null }] });
    const got: [unknown, boolean][] = [];
    await processBatch(event, (r, ctx) => { got.push([r, ctx.kafka!.tombstone]); }, { parse: 'bytes' });
    expect(got).toEqual([[Buffer.alloc(0), true]]);
  });

  test('with idempotency, a tombstone (no payload, so no key) is processed without a claim instead of failing', async () => {
    const store = new InMemoryIdempotencyStore({ owner: 'inv-1', ttlSeconds: 3600 });
    const event = mskEvent({ 'users-0': [{ offset: 5, value: b64({ id: 'a' }) }, { offset: 6, key: b64('u1'), value: null }] });
    const got: unknown[] = [];
    const res = await processBatch(event, (r) => { got.push(r); }, { idempotency: { store, keyOf: (r) => (r as { id?: string } | null)?.id } });
    expect(res.batchItemFailures).toEqual([]);
    expect(got).toEqual([{ id: 'a' }, null]);
  });
});

describe('Kafka poller model (test/support/kafka-esm.ts): what Lambda does with the response', () => {
  const records = new Map([[0, Array.from({ length: 4 }, (_, i) => ({ offset: 10 + i, timestamp: Date.now(), value: b64({ i }), headers: [] }))]]);
  const memory = () => {
    const at = new Map<number, number>([[0, 10]]);
    return { read: async () => new Map(at), commit: async (p: number, o: number) => { at.set(p, o); }, at };
  };

  test.each([
    ['a Kinesis-style string identifier', { batchItemFailures: [{ itemIdentifier: '11' }] }],
    ['an offset not in the batch', { batchItemFailures: [{ itemIdentifier: { partition: 't-0', offset: 99 } }] }],
    ['a partition not in the batch', { batchItemFailures: [{ itemIdentifier: { partition: 't-1', offset: 11 } }] }],
  ])('%s fails the whole batch', async (_name, response) => {
    const offsets = memory();
    const result = await drainTopic(records, offsets, { topic: 't', clusterArn: 'arn', batchSize: 10, retryAttempts: 1, bisect: false }, async () => ({ kind: 'response', response }));
    expect(result.stats.invalidResponses).toBe(2);
    expect(result.destination).toEqual([{ condition: 'RetryAttemptsExhausted', partition: 't-0', offsets: [10, 11, 12, 13], approximateInvokeCount: 2 }]);
    expect(offsets.at.get(0)).toBe(14);
  });

  test('a reported offset is redelivered with everything after it; the group commits up to it', async () => {
    const offsets = memory();
    const seen: number[][] = [];
    let first = true;
    const result = await drainTopic(records, offsets, { topic: 't', clusterArn: 'arn', batchSize: 10, retryAttempts: 1, bisect: false }, async (event) => {
      seen.push(((event as { records: Record<string, { offset: number }[]> }).records['t-0']).map((r) => r.offset));
      const response = first ? { batchItemFailures: [{ itemIdentifier: { partition: 't-0', offset: 12 } }, { itemIdentifier: { partition: 't-0', offset: 11 } }] } : { batchItemFailures: [] };
      first = false;
      return { kind: 'response', response };
    });
    expect(seen).toEqual([[10, 11, 12, 13], [11, 12, 13]]);
    expect(result.violations).toEqual([]);
    expect(offsets.at.get(0)).toBe(14);
  });
});
