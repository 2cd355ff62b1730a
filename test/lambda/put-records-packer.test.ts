import {
  DEFAULT_PUT_RECORDS_LIMITS,
  entryBytes,
  packPutRecords,
  putAllRecords,
  streamTarget,
  type PutAllRecordsOptions,
  type PutRecordsEntry,
  type PutRecordsInput,
  type PutRecordsOutput,
} from '../../lambda/shared/put-records-packer';

const MiB = 1024 * 1024;
const KiB = 1024;

const entry = (partitionKey: string, bytes = 10, fill = 0x61): PutRecordsEntry => ({ data: new Uint8Array(bytes).fill(fill), partitionKey });
/** An entry whose data names its position, so a fake stream can tell entries apart. */
const tagged = (partitionKey: string, n: number): PutRecordsEntry => ({ data: Buffer.from(`${partitionKey}:${n}`), partitionKey });
const idOf = (data: Uint8Array): string => Buffer.from(data).toString();

const callBytes = (records: PutRecordsInput['Records']): number =>
  records.reduce((sum, r) => sum + r.Data.byteLength + Buffer.byteLength(r.PartitionKey, 'utf8'), 0);

// ---------------------------------------------------------------- packing

describe('packPutRecords', () => {
  test('a call holds at most 500 records: 500 → 1 call, 501 → 500 + 1, 1001 → 500 + 500 + 1', () => {
    const sizes = (n: number): number[] => packPutRecords(Array.from({ length: n }, (_, i) => entry(`k${i}`))).batches.map((b) => b.length);
    expect(sizes(500)).toEqual([500]);
    expect(sizes(501)).toEqual([500, 1]);
    expect(sizes(1001)).toEqual([500, 500, 1]);
    expect(sizes(0)).toEqual([]);
  });

  test('a call fills to exactly 5 MiB (data + partition key) and the next byte starts a new call', () => {
    // Five records of exactly 1 MiB each (1 MiB - 1 of data + a 1-byte key) fill one call to the byte.
    const exact = Array.from({ length: 6 }, () => entry('a', MiB - 1));
    expect(packPutRecords(exact).batches.map((b) => b.length)).toEqual([5, 1]);

    // 10 records of 512 KiB fit exactly; one byte more in the last one and it moves to a second call.
    const halves = Array.from({ length: 10 }, () => entry('k', 512 * KiB - 1));
    expect(packPutRecords(halves).batches.map((b) => b.length)).toEqual([10]);
    const overByOne = [...halves.slice(0, 9), entry('k', 512 * KiB)];
    expect(packPutRecords(overByOne).batches.map((b) => b.length)).toEqual([9, 1]);
  });

  test('partition keys count as UTF-8 bytes, not characters: multi-byte keys push a call over 5 MiB', () => {
    // '€' is 1 character and 3 bytes. Counted as bytes each record is 512 KiB + 1, so ten exceed 5 MiB by 10 bytes;
    // counted as characters they would be 512 KiB - 1 and fit in one call.
    const euro = Array.from({ length: 10 }, () => entry('€', 512 * KiB - 2));
    expect(entryBytes(euro[0])).toBe(512 * KiB + 1);
    expect(packPutRecords(euro).batches.map((b) => b.length)).toEqual([9, 1]);

    // '😀' is 2 UTF-16 units and 4 bytes.
    const emoji = Array.from({ length: 10 }, () => entry('😀', 512 * KiB - 4));
    expect(entryBytes(emoji[0])).toBe(512 * KiB);
    expect(packPutRecords(emoji).batches.map((b) => b.length)).toEqual([10]);
    expect(packPutRecords([...emoji.slice(0, 9), entry('😀😀', 512 * KiB - 4)]).batches.map((b) => b.length)).toEqual([9, 1]);
  });

  test('every call is within 500 records and 5 MiB for a random mix, and input order is kept', () => {
    let seed = 42;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const keys = ['a', 'é', '€uro', '😀', 'x'.repeat(256)];
    const input = Array.from({ length: 3000 }, (_, i) => ({
      data: Buffer.from(`${i}:`.padEnd(rand(10) === 0 ? 200 * KiB + rand(800 * KiB) : rand(4 * KiB) + 8, '.')),
      partitionKey: keys[rand(keys.length)],
    }));
    const { batches, rejected } = packPutRecords(input);
    expect(rejected).toEqual([]);
    for (const b of batches) {
      expect(b.length).toBeLessThanOrEqual(500);
      expect(b.reduce((s, e) => s + entryBytes(e), 0)).toBeLessThanOrEqual(5 * MiB);
    }
    const flat = batches.flat();
    expect(flat.length).toBe(input.length);
    expect(flat.every((e, i) => e === input[i])).toBe(true);
    // Greedy: no call could have taken the next call's first record.
    for (let i = 0; i + 1 < batches.length; i++) {
      const bytes = batches[i].reduce((s, e) => s + entryBytes(e), 0);
      expect(batches[i].length === 500 || bytes + entryBytes(batches[i + 1][0]) > 5 * MiB).toBe(true);
    }
  });

  test('a record of exactly 1 MiB (data + key) is packed; one byte more is rejected with a reason, never packed', () => {
    const ok = entry('kk', MiB - 2);
    const tooBig = entry('€', MiB - 2); // 1 MiB + 1 with the 3-byte key
    const { batches, rejected } = packPutRecords([entry('a'), ok, tooBig, entry('b')]);
    expect(batches.flat()).toEqual([entry('a'), ok, entry('b')]);
    expect(rejected).toEqual([{ entry: tooBig, index: 2, reason: 'RecordTooLarge', message: expect.stringContaining(`${MiB + 1} bytes`) }]);
  });

  test.each([
    ['an empty partition key', { data: new Uint8Array(1), partitionKey: '' }, 'InvalidPartitionKey'],
    ['a 257-character partition key', { data: new Uint8Array(1), partitionKey: 'k'.repeat(257) }, 'InvalidPartitionKey'],
    ['a partition key that is not a string', { data: new Uint8Array(1), partitionKey: 7 as unknown as string }, 'InvalidPartitionKey'],
    ['data that is not bytes', { data: 'text' as unknown as Uint8Array, partitionKey: 'k' }, 'InvalidData'],
    ['an explicit hash key of 2^128', { data: new Uint8Array(1), partitionKey: 'k', explicitHashKey: (1n << 128n).toString() }, 'InvalidExplicitHashKey'],
    ['an explicit hash key with a leading zero', { data: new Uint8Array(1), partitionKey: 'k', explicitHashKey: '01' }, 'InvalidExplicitHashKey'],
    ['a negative explicit hash key', { data: new Uint8Array(1), partitionKey: 'k', explicitHashKey: '-1' }, 'InvalidExplicitHashKey'],
  ])('rejects %s', (_name, bad, reason) => {
    const { batches, rejected } = packPutRecords([entry('a'), bad as PutRecordsEntry]);
    expect(batches).toEqual([[entry('a')]]);
    expect(rejected).toEqual([expect.objectContaining({ index: 1, reason })]);
  });

  test('accepts a 256-character key, an empty data blob and explicit hash keys 0 and 2^128 - 1', () => {
    const good: PutRecordsEntry[] = [
      entry('k'.repeat(256)),
      { data: new Uint8Array(0), partitionKey: 'k' },
      { data: new Uint8Array(1), partitionKey: 'k', explicitHashKey: '0' },
      { data: new Uint8Array(1), partitionKey: 'k', explicitHashKey: ((1n << 128n) - 1n).toString() },
    ];
    expect(packPutRecords(good)).toEqual({ batches: [good], rejected: [] });
  });

  test('limits can be lowered (or raised for a stream whose MaxRecordSizeInKiB was raised) but not past the API', () => {
    expect(packPutRecords(Array.from({ length: 5 }, () => entry('k')), { maxRecordsPerCall: 2 }).batches.map((b) => b.length)).toEqual([2, 2, 1]);
    expect(packPutRecords([entry('k', 2 * MiB)], { maxRecordBytes: 4 * MiB, maxBytesPerCall: 10 * MiB }).rejected).toEqual([]);
    expect(() => packPutRecords([], { maxRecordsPerCall: 501 })).toThrow(/maxRecordsPerCall/);
    expect(() => packPutRecords([], { maxBytesPerCall: 10 * MiB + 1 })).toThrow(/maxBytesPerCall/);
    expect(() => packPutRecords([], { maxRecordBytes: 6 * MiB })).toThrow(/maxRecordBytes/);
    expect(DEFAULT_PUT_RECORDS_LIMITS).toEqual({ maxRecordsPerCall: 500, maxBytesPerCall: 5 * MiB, maxRecordBytes: MiB });
  });
});

// ---------------------------------------------------------------- a fake stream

interface FakeCall {
  readonly input: PutRecordsInput;
  readonly ids: string[];
}

interface FakeStreamOptions {
  /** Per-record ErrorCode for this record on its n-th send (1-based), or undefined to write it. */
  readonly failRecord?: (id: string, send: number) => string | undefined;
  /** Throw for the n-th call (1-based) instead of answering. */
  readonly throwCall?: (call: number) => unknown;
  /** Answer with the wrong number of results. */
  readonly malformed?: (call: number) => boolean;
}

/**
 * A PutRecords stand-in. Each call yields a pseudo-random number of
 * microtasks before it "writes", so concurrent calls interleave. It records
 * the calls, every write in order, and the most calls ever in flight.
 */
function fakeStream(options: FakeStreamOptions = {}) {
  const calls: FakeCall[] = [];
  const written: string[] = [];
  const sends = new Map<string, number>();
  let inFlight = 0;
  let maxInFlight = 0;
  let seed = 1;
  const send = async (input: PutRecordsInput): Promise<PutRecordsOutput> => {
    const n = calls.length + 1;
    const ids = input.Records.map((r) => idOf(r.Data));
    calls.push({ input, ids });
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    try {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      for (let i = seed % 7; i > 0; i--) await Promise.resolve();
      const thrown = options.throwCall?.(n);
      if (thrown !== undefined) throw thrown;
      const Records = ids.map((id) => {
        const attempt = (sends.get(id) ?? 0) + 1;
        sends.set(id, attempt);
        const code = options.failRecord?.(id, attempt);
        if (code) return { ErrorCode: code, ErrorMessage: `${code} for ${id}` };
        written.push(id);
        return { SequenceNumber: String(written.length), ShardId: 'shardId-000000000000' };
      });
      if (options.malformed?.(n)) return { FailedRecordCount: 0, Records: Records.slice(1) };
      return { FailedRecordCount: Records.filter((r) => r.ErrorCode).length, Records };
    } finally {
      inFlight--;
    }
  };
  return { send, calls, written, get maxInFlight() { return maxInFlight; } };
}

const noSleep = (log: number[] = []): Pick<PutAllRecordsOptions, 'sleep' | 'random'> => ({
  sleep: async (ms: number) => {
    log.push(ms);
  },
  random: () => 0.5,
});

const throttled = Object.assign(new Error('Rate exceeded for shard shardId-000000000000'), { name: 'ProvisionedThroughputExceededException' });

// ---------------------------------------------------------------- sending

describe('putAllRecords', () => {
  test('writes everything in as few calls as the limits allow (1,200 records → 500 + 500 + 200)', async () => {
    const stream = fakeStream();
    const input = Array.from({ length: 1200 }, (_, i) => tagged(`k${i}`, i));
    const result = await putAllRecords(stream.send, 'arn:aws:kinesis:us-east-1:000000000000:stream/s', input, noSleep());
    expect(result).toEqual({ succeeded: 1200, failed: [], calls: 3 });
    expect(stream.calls.map((c) => c.ids.length)).toEqual([500, 500, 200]);
    expect(stream.calls[0].input.StreamARN).toBe('arn:aws:kinesis:us-east-1:000000000000:stream/s');
    expect(stream.calls[0].input.StreamName).toBeUndefined();
    expect([...stream.written].sort()).toEqual(input.map((e) => idOf(e.data)).sort());
  });

  test('names the stream by StreamName when given a name, and forwards explicit hash keys', async () => {
    const stream = fakeStream();
    await putAllRecords(stream.send, 'my-stream', [{ data: Buffer.from('x'), partitionKey: 'k', explicitHashKey: '42' }, tagged('k2', 1)], noSleep());
    expect(stream.calls[0].input).toEqual({
      StreamName: 'my-stream',
      Records: [{ Data: Buffer.from('x'), PartitionKey: 'k', ExplicitHashKey: '42' }, { Data: Buffer.from('k2:1'), PartitionKey: 'k2' }],
    });
    expect(streamTarget('arn:aws:kinesis:eu-west-1:1:stream/x')).toEqual({ StreamARN: 'arn:aws:kinesis:eu-west-1:1:stream/x' });
  });

  test('calls the sender with at most 500 records and 5 MiB each, partition-key bytes included', async () => {
    const stream = fakeStream();
    const input = Array.from({ length: 40 }, (_, i) => ({ data: Buffer.alloc(300 * KiB - 3, i), partitionKey: `€${i}` }));
    await putAllRecords(stream.send, 's', input, noSleep());
    for (const c of stream.calls) {
      expect(c.input.Records.length).toBeLessThanOrEqual(500);
      expect(callBytes(c.input.Records)).toBeLessThanOrEqual(5 * MiB);
    }
    expect(stream.calls.length).toBe(3); // 17 + 17 + 6 records of ~300 KiB
  });

  test('a partially failed call resends ONLY the failed entries, matched by position, in input order', async () => {
    const stream = fakeStream({ failRecord: (id, n) => (n === 1 && ['b:1', 'd:3'].includes(id) ? 'ProvisionedThroughputExceededException' : undefined) });
    const input = ['a', 'b', 'c', 'd', 'e'].map((k, i) => tagged(k, i));
    const result = await putAllRecords(stream.send, 's', input, noSleep());
    expect(result).toEqual({ succeeded: 5, failed: [], calls: 2 });
    expect(stream.calls.map((c) => c.ids)).toEqual([['a:0', 'b:1', 'c:2', 'd:3', 'e:4'], ['b:1', 'd:3']]);
  });

  test('backs off with full jitter, exponentially and capped, and stops after maxAttempts', async () => {
    const stream = fakeStream({ failRecord: (id) => (id === 'b:1' ? 'InternalFailure' : undefined) });
    const sleeps: number[] = [];
    const result = await putAllRecords(stream.send, 's', [tagged('a', 0), tagged('b', 1)], {
      ...noSleep(sleeps),
      maxAttempts: 6,
      baseDelayMs: 100,
      maxDelayMs: 1000,
    });
    // random() = 0.5 of min(1000, 100 · 2^(n-1)) before resend n = 1..5
    expect(sleeps).toEqual([50, 100, 200, 400, 500]);
    expect(result.calls).toBe(6);
    expect(result.succeeded).toBe(1);
    expect(result.failed).toEqual([{ entry: tagged('b', 1), index: 1, errorCode: 'InternalFailure', errorMessage: 'InternalFailure for b:1', attempts: 6 }]);
  });

  test('each backoff is uniform in [0, ceiling), whole ms (lambda/shared/retry.ts): random() = 0 waits 0, random() → 1 stays under the cap', async () => {
    for (const [r, expected] of [[0, [0, 0, 0]], [0.999999, [99, 199, 299]]] as const) {
      const sleeps: number[] = [];
      await putAllRecords(fakeStream({ failRecord: () => 'InternalFailure' }).send, 's', [tagged('a', 0)], {
        sleep: async (ms) => {
          sleeps.push(ms);
        },
        random: () => r,
        maxAttempts: 4,
        baseDelayMs: 100,
        maxDelayMs: 300,
      });
      expect(sleeps).toHaveLength(3);
      expect(sleeps).toEqual(expected);
    }
  });

  test('after exhaustion the failures carry their LAST error code', async () => {
    const codes = ['ProvisionedThroughputExceededException', 'ProvisionedThroughputExceededException', 'InternalFailure'];
    const stream = fakeStream({ failRecord: (id, n) => (id === 'a:0' ? codes[n - 1] : undefined) });
    const result = await putAllRecords(stream.send, 's', [tagged('a', 0)], { ...noSleep(), maxAttempts: 3 });
    expect(result.failed).toEqual([expect.objectContaining({ index: 0, errorCode: 'InternalFailure', attempts: 3 })]);
  });

  test('a call that throws (throttling, network) is resent whole, then succeeds', async () => {
    const network = Object.assign(new Error('socket hang up'), { name: 'Error', code: 'ECONNRESET' });
    const stream = fakeStream({ throwCall: (n) => (n === 1 ? throttled : n === 2 ? network : undefined) });
    const sleeps: number[] = [];
    const input = [tagged('a', 0), tagged('b', 1)];
    const result = await putAllRecords(stream.send, 's', input, { ...noSleep(sleeps), baseDelayMs: 10 });
    expect(result).toEqual({ succeeded: 2, failed: [], calls: 3 });
    expect(stream.calls.map((c) => c.ids)).toEqual([['a:0', 'b:1'], ['a:0', 'b:1'], ['a:0', 'b:1']]);
    expect(sleeps).toEqual([5, 10]);
  });

  test('a call that keeps throwing fails its entries with the error name after maxAttempts', async () => {
    const stream = fakeStream({ throwCall: () => throttled });
    const result = await putAllRecords(stream.send, 's', [tagged('a', 0)], { ...noSleep(), maxAttempts: 4 });
    expect(result.calls).toBe(4);
    expect(result.failed).toEqual([expect.objectContaining({ errorCode: 'ProvisionedThroughputExceededException', errorMessage: throttled.message, attempts: 4 })]);
  });

  test('a response with the wrong number of results is treated as a failed call and resent', async () => {
    const stream = fakeStream({ malformed: (n) => n === 1 });
    const result = await putAllRecords(stream.send, 's', [tagged('a', 0), tagged('b', 1)], noSleep());
    expect(result.succeeded).toBe(2);
    expect(result.calls).toBe(2);
  });

  test('a non-retryable call error (missing stream) stops sending: every unwritten entry fails with it', async () => {
    const missing = Object.assign(new Error('Stream s not found'), { name: 'ResourceNotFoundException' });
    const stream = fakeStream({ throwCall: () => missing });
    const input = Array.from({ length: 2600 }, (_, i) => tagged(`k${i}`, i));
    const result = await putAllRecords(stream.send, 's', input, { ...noSleep(), concurrency: 2 });
    expect(result.succeeded).toBe(0);
    expect(result.calls).toBe(2); // the two calls already in flight, nothing after
    expect(result.failed).toHaveLength(2600);
    expect(new Set(result.failed.map((f) => f.errorCode))).toEqual(new Set(['ResourceNotFoundException']));
    expect(result.failed.map((f) => f.index)).toEqual(input.map((_, i) => i));
  });

  test('never has more than `concurrency` calls in flight', async () => {
    for (const concurrency of [1, 3]) {
      const stream = fakeStream();
      const input = Array.from({ length: 5000 }, (_, i) => tagged(`k${i}`, i));
      const result = await putAllRecords(stream.send, 's', input, { ...noSleep(), concurrency });
      expect(result.calls).toBe(10);
      expect(stream.maxInFlight).toBe(concurrency);
    }
  });

  test('invalid entries are reported with a reason and never sent; later entries of their key still go', async () => {
    const stream = fakeStream();
    const tooBig = entry('a', MiB);
    const result = await putAllRecords(stream.send, 's', [tagged('a', 0), tooBig, tagged('a', 2), { data: Buffer.from('x'), partitionKey: '' }], noSleep());
    expect(result.succeeded).toBe(2);
    expect(result.failed).toEqual([
      expect.objectContaining({ index: 1, errorCode: 'RecordTooLarge', attempts: 0 }),
      expect.objectContaining({ index: 3, errorCode: 'InvalidPartitionKey', attempts: 0 }),
    ]);
    expect(stream.written).toEqual(['a:0', 'a:2']);
  });

  test('an empty input makes no call', async () => {
    const stream = fakeStream();
    expect(await putAllRecords(stream.send, 's', [], noSleep())).toEqual({ succeeded: 0, failed: [], calls: 0 });
  });
});

// ---------------------------------------------------------------- per-key order

describe('putAllRecords per-partition-key order', () => {
  const KEYS = ['alpha', 'beta', 'gamma', 'δέλτα', '😀'];
  /** 200 entries over 5 keys, interleaved irregularly. */
  const input = Array.from({ length: 200 }, (_, i) => tagged(KEYS[(i * 7 + (i >> 3)) % KEYS.length], i));
  /** Fails some entries on their first 1–3 sends, others never. */
  const flaky = (id: string, send: number): string | undefined => {
    const i = Number(id.split(':')[1]);
    const failures = i % 11 === 0 ? 3 : i % 5 === 0 ? 1 : i % 13 === 0 ? 2 : 0;
    return send <= failures ? (i % 2 ? 'ProvisionedThroughputExceededException' : 'InternalFailure') : undefined;
  };
  const perKey = (ids: string[]): Map<string, number[]> => {
    const out = new Map<string, number[]>();
    for (const id of ids) {
      const [key, n] = id.split(':');
      out.set(key, [...(out.get(key) ?? []), Number(n)]);
    }
    return out;
  };

  test('ordered (default): every key is written in input order despite retries and concurrency', async () => {
    const stream = fakeStream({ failRecord: flaky });
    const result = await putAllRecords(stream.send, 's', input, { ...noSleep(), concurrency: 4 });
    expect(result.failed).toEqual([]);
    expect(result.succeeded).toBe(200);
    expect(stream.written).toHaveLength(200); // each written exactly once
    for (const [key, ns] of perKey(stream.written)) {
      expect([key, ns]).toEqual([key, [...ns].sort((a, b) => a - b)]);
    }
  });

  test('ordered: an entry is only sent once every earlier entry of its key is written (one per key in flight)', async () => {
    const stream = fakeStream({ failRecord: flaky });
    const acked = new Set<string>();
    const send = async (req: PutRecordsInput): Promise<PutRecordsOutput> => {
      const ids = req.Records.map((r) => idOf(r.Data));
      expect(new Set(req.Records.map((r) => r.PartitionKey)).size).toBe(ids.length);
      for (const id of ids) {
        const [key, n] = id.split(':');
        const earlier = input.slice(0, Number(n)).filter((e) => e.partitionKey === key).map((e) => idOf(e.data));
        expect(earlier.filter((e) => !acked.has(e))).toEqual([]);
      }
      const out = await stream.send(req);
      out.Records?.forEach((r, i) => !r.ErrorCode && acked.add(ids[i]));
      return out;
    };
    const result = await putAllRecords(send, 's', input, { ...noSleep(), concurrency: 4 });
    expect(result.succeeded).toBe(200);
  });

  test('ordered: when an entry exhausts its attempts, later entries of its key are held back (PrecededByFailure), other keys go on', async () => {
    const poisoned = input.find((e) => e.partitionKey === 'gamma' && Number(idOf(e.data).split(':')[1]) > 50) as PutRecordsEntry;
    const poisonedIndex = input.indexOf(poisoned);
    const stream = fakeStream({ failRecord: (id) => (id === idOf(poisoned.data) ? 'InternalFailure' : undefined) });
    const result = await putAllRecords(stream.send, 's', input, { ...noSleep(), maxAttempts: 3 });

    const laterGamma = input.map((e, i) => [e, i] as const).filter(([e, i]) => e.partitionKey === 'gamma' && i > poisonedIndex);
    expect(result.failed).toEqual([
      expect.objectContaining({ index: poisonedIndex, errorCode: 'InternalFailure', attempts: 3 }),
      ...laterGamma.map(([, i]) => expect.objectContaining({ index: i, errorCode: 'PrecededByFailure', attempts: 0 })),
    ]);
    expect(result.succeeded).toBe(200 - 1 - laterGamma.length);
    expect(stream.written.filter((id) => laterGamma.some(([e]) => idOf(e.data) === id))).toEqual([]);
  });

  test('ordered: while a failed entry waits out its backoff, entries its call released go out in another slot', async () => {
    const stream = fakeStream({ failRecord: (id, n) => (id === 'b:1' && n === 1 ? 'InternalFailure' : undefined) });
    const events: string[] = [];
    const send = async (input: PutRecordsInput): Promise<PutRecordsOutput> => {
      events.push(`send ${input.Records.map((r) => idOf(r.Data)).join(',')}`);
      return stream.send(input);
    };
    const sleep = async (ms: number): Promise<void> => {
      events.push('backoff starts');
      await new Promise((r) => setTimeout(r, ms));
      events.push('backoff ends');
    };
    const result = await putAllRecords(send, 's', [tagged('a', 0), tagged('b', 1), tagged('a', 2), tagged('b', 3)], { sleep, random: () => 0.5, baseDelayMs: 40, concurrency: 2 });
    expect(result.succeeded).toBe(4);
    expect(events).toEqual(['send a:0,b:1', 'backoff starts', 'send a:2', 'backoff ends', 'send b:1', 'send b:3']);
  });

  test('ordered: a single hot key costs one call per record (the price of the guarantee)', async () => {
    const stream = fakeStream();
    const result = await putAllRecords(stream.send, 's', Array.from({ length: 5 }, (_, i) => tagged('hot', i)), noSleep());
    expect(result.calls).toBe(5);
    expect(stream.written).toEqual(['hot:0', 'hot:1', 'hot:2', 'hot:3', 'hot:4']);
  });

  test('ordered: repeated keys still go out in full calls only: longest chains first, and fewer calls at once when a chain would outlast the full calls', async () => {
    // 10,000 entries over 4,000 keys (seeded): some keys hold 8+ entries, i.e. 8+ round trips in 20 calls.
    let x = 0x2545F491;
    const rand = (): number => {
      x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
      return (x >>> 0) / 2 ** 32;
    };
    const many = Array.from({ length: 10_000 }, (_, i) => tagged(`k${Math.floor(rand() * 4000)}`, i));
    const counts = new Map<string, number>();
    for (const e of many) counts.set(e.partitionKey, (counts.get(e.partitionKey) ?? 0) + 1);
    expect(Math.max(...counts.values())).toBeGreaterThanOrEqual(8);
    const stream = fakeStream();
    const result = await putAllRecords(stream.send, 's', many, { ...noSleep(), concurrency: 4 });
    expect(result.succeeded).toBe(10_000);
    expect(stream.calls.map((c) => c.ids.length)).toEqual(Array.from({ length: 20 }, () => 500));
    const order = new Map<string, number[]>();
    for (const id of stream.written) {
      const [key, n] = id.split(':');
      order.set(key, [...(order.get(key) ?? []), Number(n)]);
    }
    for (const [key, ns] of order) expect([key, ns]).toEqual([key, [...ns].sort((a, b) => a - b)]);
  });

  test('unordered: full calls, and a retried entry can land after later entries of its key (why ordered exists)', async () => {
    const stream = fakeStream({ failRecord: flaky });
    const result = await putAllRecords(stream.send, 's', input, { ...noSleep(), ordered: false });
    expect(result.succeeded).toBe(200);
    expect(stream.calls[0].ids).toHaveLength(200);
    const outOfOrder = [...perKey(stream.written).values()].some((ns) => ns.some((n, i) => i > 0 && n < ns[i - 1]));
    expect(outOfOrder).toBe(true);
  });
});
