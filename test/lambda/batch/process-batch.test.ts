import { processBatch, PoisonRecordError, type DeadLetterEntry } from '../../../lambda/shared/batch/process-batch';
import { batchMetrics } from '../../../lambda/shared/batch/emf';
import { UnsupportedEventError } from '../../../lambda/shared/batch/event-sources';
import { InMemoryIdempotencyStore } from '../../../lambda/shared/idempotency/store';
import { encodeTaggedRecord } from '../../../lambda/shared/kpl-encode';
import { b64, kafkaEvent, kinesisEvent, kplAggregate, sqsEvent } from './fixtures';

type Doc = { id: string; fail?: boolean; poison?: boolean };
const doc = (id: string, extra: Partial<Doc> = {}) => b64({ id, ...extra });

/** A handler that records what it applied and fails on request. */
function sink() {
  const applied: string[] = [];
  const handler = async (r: unknown) => {
    const d = r as Doc;
    if (d.poison) throw new PoisonRecordError('bad record');
    if (d.fail) throw new Error('boom');
    applied.push(d.id);
  };
  return { applied, handler };
}

describe('Kinesis', () => {
  test('a clean batch reports no failures', async () => {
    const { applied, handler } = sink();
    const res = await processBatch(kinesisEvent([0, 1, 2].map((i) => ({ data: doc(`e${i}`) }))), handler);
    expect(res.batchItemFailures).toEqual([]);
    expect(applied).toEqual(['e0', 'e1', 'e2']);
  });

  test('stops the shard at the first failure and reports only its sequence number', async () => {
    const { applied, handler } = sink();
    const event = kinesisEvent(['a', 'b', 'c', 'd'].map((id) => ({ data: doc(id, { fail: id === 'b' }), seq: `100${id.charCodeAt(0)}` })));
    const res = await processBatch(event, handler);
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: '10098' }]);
    expect(applied).toEqual(['a']);
    expect(res.stats).toMatchObject({ processed: 1, failed: 1, skipped: 2 });
  });

  test('keeps per-key order while distinct keys run concurrently, and reports the lowest failure', async () => {
    const order: string[] = [];
    const handler = async (r: unknown) => {
      const d = r as Doc;
      await new Promise((res) => setTimeout(res, d.id.startsWith('a') ? 5 : 1));
      if (d.fail) throw new Error('x');
      order.push(d.id);
    };
    const recs = [
      { data: doc('a1'), partitionKey: 'A', seq: '1' }, { data: doc('b1'), partitionKey: 'B', seq: '2' },
      { data: doc('a2', { fail: true }), partitionKey: 'A', seq: '3' }, { data: doc('b2'), partitionKey: 'B', seq: '4' },
      { data: doc('a3'), partitionKey: 'A', seq: '5' },
    ];
    const res = await processBatch(kinesisEvent(recs), handler, { concurrency: 4 });
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: '3' }]);
    expect(order.filter((id) => id.startsWith('a'))).toEqual(['a1']);
    expect(order).not.toContain('a3');
  });

  test('reports a failed KPL sub-record by the outer sequence number', async () => {
    const { applied, handler } = sink();
    const agg = kplAggregate([
      { partitionKey: 'p', data: JSON.stringify({ id: 's0' }) },
      { partitionKey: 'p', data: JSON.stringify({ id: 's1', fail: true }) },
      { partitionKey: 'p', data: JSON.stringify({ id: 's2' }) },
    ]);
    const res = await processBatch(kinesisEvent([{ data: doc('plain'), seq: '7', partitionKey: 'p' }, { data: agg.toString('base64'), seq: '8', partitionKey: 'p' }, { data: doc('after'), seq: '9', partitionKey: 'p' }]), handler);
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: '8' }]);
    expect(applied).toEqual(['plain', 's0']);
    expect(res.stats.userRecords).toBe(5);
  });

  test('de-aggregates KPL records with their own partition keys', async () => {
    const seen: [string, string | undefined, number][] = [];
    const agg = kplAggregate([{ partitionKey: 'x', data: '{"id":"1"}' }, { partitionKey: 'y', data: '{"id":"2"}' }]);
    await processBatch(kinesisEvent([{ data: agg.toString('base64') }]), (r, ctx) => {
      seen.push([(r as Doc).id, ctx.partitionKey, ctx.subSequence]);
    });
    expect(seen.sort()).toEqual([['1', 'x', 0], ['2', 'y', 1]]);
  });

  test.each([
    ['bad base64', '!!!notbase64', 'invalid_base64'],
    ['non-JSON', b64('not json'), 'invalid_json'],
    ['invalid UTF-8', Buffer.from([0xff, 0xfe, 0x7b]).toString('base64'), 'invalid_utf8'],
  ])('a record with %s fails with a reason instead of crashing the batch', async (_n, data, reason) => {
    const { applied, handler } = sink();
    const res = await processBatch(kinesisEvent([{ data: doc('ok'), seq: '1' }, { data, seq: '2' }, { data: doc('later'), seq: '3' }]), handler);
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: '2' }]);
    expect(res.stats.failuresByReason).toEqual({ [reason]: 1 });
    expect(applied).toEqual(['ok']);
  });

  test('a corrupt KPL aggregate (valid checksum, broken protobuf) fails as kpl_corrupt', async () => {
    const body = Buffer.from([0x1a, 0x05, 0x08]); // records field claiming 5 bytes, only 1 present
    const md5 = require('crypto').createHash('md5').update(body).digest();
    const corrupt = Buffer.concat([Buffer.from([0xf3, 0x89, 0x9a, 0xc2]), body, md5]);
    const res = await processBatch(kinesisEvent([{ data: corrupt.toString('base64'), seq: '5' }]), sink().handler);
    expect(res.stats.failuresByReason).toEqual({ kpl_corrupt: 1 });
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: '5' }]);
  });

  test('with a dead-letter sink, permanent failures are diverted and the shard moves on', async () => {
    const { applied, handler } = sink();
    const dlq: DeadLetterEntry[] = [];
    const res = await processBatch(kinesisEvent([
      { data: doc('a'), seq: '1' }, { data: b64('garbage'), seq: '2' }, { data: doc('p', { poison: true }), seq: '3' }, { data: doc('b'), seq: '4' },
    ]), handler, { deadLetter: async (e) => { dlq.push(...e); } });
    expect(res.batchItemFailures).toEqual([]);
    expect(applied).toEqual(['a', 'b']);
    expect(dlq.map((e) => [e.failureId, e.reason])).toEqual([['2', 'invalid_json'], ['3', 'poison']]);
    expect(res.stats.deadLettered).toBe(2);
  });

  test('when the dead-letter sink fails, the records are reported instead (nothing lost)', async () => {
    const res = await processBatch(kinesisEvent([{ data: doc('a'), seq: '1' }, { data: b64('garbage'), seq: '2' }, { data: doc('b'), seq: '3' }]), sink().handler, {
      deadLetter: async () => { throw new Error('sqs down'); },
    });
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: '2' }]);
  });

  test('does not start records within the safety margin of the deadline, and reports the first one', async () => {
    let remaining = 10_000;
    const handler = (r: unknown) => {
      remaining -= 4_000;
      void r;
    };
    const res = await processBatch(kinesisEvent(['a', 'b', 'c', 'd'].map((id, i) => ({ data: doc(id), seq: String(i + 1) }))), handler, {
      remainingTimeMs: () => remaining, safetyMarginMs: 3_000, concurrency: 1,
    });
    // a (10s left) and b (6s left) run; c starts with 2s left < 3s margin.
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: '3' }]);
    expect(res.stats.failuresByReason).toEqual({ deadline: 1 });
  });
});

describe('SQS', () => {
  test('standard queues report every failed messageId and process the rest', async () => {
    const { applied, handler } = sink();
    const res = await processBatch(sqsEvent([{ body: '{"id":"a"}' }, { body: '{"id":"b","fail":true}' }, { body: '{"id":"c"}' }, { body: 'nope' }]), handler);
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: 'm1' }, { itemIdentifier: 'm3' }]);
    expect(applied.sort()).toEqual(['a', 'c']);
  });

  test('FIFO stops a message group at its first failure and reports the rest of that group', async () => {
    const { applied, handler } = sink();
    const res = await processBatch(sqsEvent([
      { body: '{"id":"g1a"}', group: 'g1' }, { body: '{"id":"g2a"}', group: 'g2' }, { body: '{"id":"g1b","fail":true}', group: 'g1' },
      { body: '{"id":"g2b"}', group: 'g2' }, { body: '{"id":"g1c"}', group: 'g1' },
    ], true), handler);
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: 'm2' }, { itemIdentifier: 'm4' }]);
    expect(applied.sort()).toEqual(['g1a', 'g2a', 'g2b']);
  });
});

describe('Kafka', () => {
  test('stops each partition at its first failure and reports {partition, offset}', async () => {
    const { applied, handler } = sink();
    const res = await processBatch(kafkaEvent({
      'orders-0': [{ offset: 10, value: doc('a') }, { offset: 11, value: doc('b', { fail: true }) }, { offset: 12, value: doc('c') }],
      'orders-1': [{ offset: 5, value: doc('d') }],
    }), handler);
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: { partition: 'orders-0', offset: 11 } }]);
    expect(applied.sort()).toEqual(['a', 'd']);
  });
});

describe('idempotency', () => {
  const keyOf = (r: unknown) => (r as Doc).id;

  test('a redelivered batch applies nothing twice', async () => {
    const store = new InMemoryIdempotencyStore({ owner: 'inv-1', ttlSeconds: 3600 });
    const { applied, handler } = sink();
    const event = kinesisEvent(['a', 'b', 'c'].map((id) => ({ data: doc(id) })));
    await processBatch(event, handler, { idempotency: { store, keyOf } });
    const again = await processBatch(event, handler, { idempotency: { store: store.withOwner('inv-2'), keyOf } });
    expect(applied).toEqual(['a', 'b', 'c']);
    expect(again.stats).toMatchObject({ duplicates: 3, processed: 0 });
    expect(again.batchItemFailures).toEqual([]);
  });

  test('after a failure, the redelivery applies only what was not applied', async () => {
    const store = new InMemoryIdempotencyStore({ owner: 'inv-1', ttlSeconds: 3600 });
    const applied: string[] = [];
    let failB = true;
    const handler = (r: unknown) => {
      const id = (r as Doc).id;
      if (id === 'b' && failB) throw new Error('transient');
      applied.push(id);
    };
    const event = kinesisEvent(['a', 'b', 'c'].map((id, i) => ({ data: doc(id), seq: String(i + 1), partitionKey: id })));
    const first = await processBatch(event, handler, { idempotency: { store, keyOf }, concurrency: 3 });
    expect(first.batchItemFailures).toEqual([{ itemIdentifier: '2' }]);
    failB = false;
    // Lambda redelivers from the checkpoint: b and c.
    const redelivery = { Records: (event as any).Records.slice(1) };
    await processBatch(redelivery, handler, { idempotency: { store: store.withOwner('inv-2'), keyOf } });
    expect(applied.sort()).toEqual(['a', 'b', 'c']);
  });

  test('claims that cannot be completed or released are counted and logged, never silent', async () => {
    const store = new InMemoryIdempotencyStore({ owner: 'inv-1', ttlSeconds: 3600 });
    const failing = Object.assign(Object.create(store), {
      complete: async (keys: readonly string[]) => ({ failed: keys.slice(0, 1) }),
      release: async () => {
        throw new Error('throttled');
      },
    });
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    const handler = (r: unknown) => {
      if ((r as Doc).id === 'c') throw new Error('boom');
    };
    const res = await processBatch(kinesisEvent(['a', 'b', 'c'].map((id) => ({ data: doc(id), partitionKey: id }))), handler, { idempotency: { store: failing, keyOf } });
    // a and b applied (one completion fails), c failed (its release throws).
    expect(res.stats).toMatchObject({ processed: 2, failed: 1, unsettledClaims: 2 });
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('"notCompleted":1,"notReleased":1'));
    warn.mockRestore();
    expect(batchMetrics(res.stats, { namespace: 'N', dimensions: { FunctionName: 'f' } })).toMatchObject({ UnsettledClaims: 2 });
  });

  test('a key held by a live invocation fails the record so it is retried later', async () => {
    const store = new InMemoryIdempotencyStore({ owner: 'inv-1', ttlSeconds: 3600 });
    await store.claim([{ key: 'a' }], { inProgressExpiryMs: 60_000 });
    const res = await processBatch(kinesisEvent([{ data: doc('a'), seq: '1' }]), sink().handler, { idempotency: { store: store.withOwner('inv-2'), keyOf } });
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: '1' }]);
    expect(res.stats.failuresByReason).toEqual({ in_progress: 1 });
  });

  test('a record without a key fails as missing_idempotency_key', async () => {
    const store = new InMemoryIdempotencyStore({ owner: 'inv-1', ttlSeconds: 3600 });
    const res = await processBatch(sqsEvent([{ body: '{"other":1}' }]), sink().handler, { idempotency: { store, keyOf } });
    expect(res.stats.failuresByReason).toEqual({ missing_idempotency_key: 1 });
  });

  test('a key repeated in one batch is applied once and shares the first occurrence\'s fate', async () => {
    const store = new InMemoryIdempotencyStore({ owner: 'inv-1', ttlSeconds: 3600 });
    const { applied, handler } = sink();
    const res = await processBatch(sqsEvent([{ body: '{"id":"x"}' }, { body: '{"id":"x"}' }, { body: '{"id":"y","fail":true}' }, { body: '{"id":"y"}' }]), handler, { idempotency: { store, keyOf } });
    expect(applied).toEqual(['x']);
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: 'm2' }, { itemIdentifier: 'm3' }]);
  });

  test('claims of unprocessed records are released so the redelivery can claim them at once', async () => {
    const store = new InMemoryIdempotencyStore({ owner: 'inv-1', ttlSeconds: 3600 });
    const event = kinesisEvent([{ data: doc('a', { fail: true }), seq: '1' }, { data: doc('b'), seq: '2' }]);
    await processBatch(event, sink().handler, { idempotency: { store, keyOf } });
    const { applied, handler } = sink();
    const again = await processBatch(kinesisEvent([{ data: doc('a'), seq: '1' }, { data: doc('b'), seq: '2' }]), handler, { idempotency: { store: store.withOwner('inv-2'), keyOf } });
    expect(again.batchItemFailures).toEqual([]);
    expect(applied).toEqual(['a', 'b']);
  });
});

test('an unrecognized event fails the whole batch so bisect and retry apply', async () => {
  await expect(processBatch({ foo: 1 }, () => undefined)).rejects.toBeInstanceOf(UnsupportedEventError);
});

describe('replayed records', () => {
  test('a record a ReplayArchive replay re-put (KPL-wrapped with a replay_id tag) reaches the handler as its exact payload, with ctx.replayId', async () => {
    const payload = Buffer.from(JSON.stringify({ id: 'r1' }));
    const wrapped = encodeTaggedRecord(payload, 'user-1', [{ key: 'replay_id', value: 'fix-2026-11-20' }]);
    const seen: { value: unknown; replayId?: string; bytes: Buffer }[] = [];
    for (const options of [{}, { idempotency: { store: new InMemoryIdempotencyStore({ owner: 'inv', ttlSeconds: 60 }), keyOf: (r: unknown) => (r as Doc).id } }]) {
      seen.length = 0;
      const res = await processBatch(kinesisEvent([{ data: doc('plain') }, { data: wrapped.toString('base64'), partitionKey: 'user-1' }]), (value, ctx) => {
        seen.push({ value, replayId: ctx.replayId, bytes: ctx.bytes });
      }, options);
      expect(res.batchItemFailures).toEqual([]);
      expect(seen.map((s) => s.replayId)).toEqual([undefined, 'fix-2026-11-20']);
      expect(seen[1].value).toEqual({ id: 'r1' });
      expect(seen[1].bytes.equals(payload)).toBe(true);
    }
  });
});
