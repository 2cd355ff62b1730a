/**
 * The replay worker (lambda/replay-worker) against an in-memory archive,
 * state bucket and stream. KPL-wrapped records are unwrapped with the
 * independent aws-kinesis-agg (checksums verified) and protobufjs, never with
 * the encoder under test.
 */
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { arrivalPartition, bucketOf, encodeArchiveLine } from '../../lambda/shared/archive-format';
import type { PutRecordsInput, PutRecordsOutput } from '../../lambda/shared/put-records-packer';
import {
  doneMarkerKey,
  EMF_NAMESPACE,
  parseWorkerConfig,
  progressKey,
  replayEmf,
  replayLane,
  ReplayInputError,
  splitLines,
  toReplayInput,
  type ReplayInput,
  type ReplayIo,
  type ReplayOptions,
  type ReplayResult,
} from '../../lambda/replay-worker/core';
import { prng } from '../../bench/prng';
import { coldRequire, onlyEnv } from '../support/cold-start';
import { AggregatedRecord, deaggregateWithAwsKinesisAgg } from '../support/kpl-reference';

// ---------------------------------------------------------------- fixtures

const ARCHIVE = 'raw-archive';
const STATE = 'replay-state';
const STATE_PREFIX = 'replays/';
const PREFIX = 'archive/';
const LANE = '03';
const STREAM = 'arn:aws:kinesis:us-east-1:123456789012:stream/target';
const HOUR = 3_600_000;
const T0 = Date.UTC(2024, 5, 1, 10); // 2024-06-01T10:00Z
const MiB = 1024 * 1024;

/** Partition keys that really hash into lane 03 of 16. */
const LANE_KEYS: string[] = [];
for (let i = 0; LANE_KEYS.length < 40; i++) if (bucketOf(`user-${i}`, 16) === 3) LANE_KEYS.push(`user-${i}`);

interface Src {
  readonly pk: string;
  readonly arrival: number;
  readonly data: Buffer;
}

interface StreamRecord {
  readonly partitionKey: string;
  readonly data: Buffer;
  readonly call: number;
}

interface World {
  /** Archive object key → its lines (no '\n'). */
  readonly archive: Map<string, string[]>;
  readonly state: Map<string, string>;
  readonly stream: StreamRecord[];
  /** Every record put into the archive, in the order written. */
  readonly sources: Src[];
  readonly listCalls: string[];
  calls: number;
  objectSerial: number;
}

const world = (): World => ({ archive: new Map(), state: new Map(), stream: [], sources: [], listCalls: [], calls: 0, objectSerial: 0 });

let seqCounter = 0n;
const line = (s: Src): string => encodeArchiveLine({
  partition_key: s.pk,
  sequence_number: (49590338271490256608559692538361571095921575989136588898n + (seqCounter += 1000n)).toString(),
  sub_sequence_number: 0,
  approximate_arrival_timestamp: s.arrival,
  shard_id: 'shardId-000000000001',
  data: s.data.toString('base64'),
}).slice(0, -1);

/** Firehose's object name: `<stream>-<version>-YYYY-MM-DD-HH-MM-SS-<uuid>`, in the hour partition of its first record. */
function addObject(w: World, records: Src[], lane = LANE, at = records[0].arrival, version = 1): string {
  const { dt, hour } = arrivalPartition(at);
  const stamp = new Date(at).toISOString().slice(0, 19).replace(/[T:]/g, '-');
  const key = `${PREFIX}dt=${dt}/hour=${hour}/bucket=${lane}/raw-archive-${version}-${stamp}-${(w.objectSerial++).toString(16).padStart(8, '0')}-aaaa-bbbb.jsonl.gz`;
  w.archive.set(key, records.map(line));
  if (lane === LANE) w.sources.push(...records);
  return key;
}

const payload = (n: number, extra: Record<string, unknown> = {}): Buffer => Buffer.from(JSON.stringify({ event_id: `e-${n}`, ...extra }));
const idOf = (data: Buffer): string => data.toString('latin1');

/**
 * `hours` hours of `perHour` records from `keys` keys, each hour split into
 * `objectsPerHour` objects of consecutive arrivals (one object per second at most).
 */
function generate(w: World, options: { seed: number; hours: number; perHour: number; objectsPerHour: number; keys: number; start?: number; payloadBytes?: number }): void {
  const rand = prng(options.seed);
  const start = options.start ?? T0;
  let n = w.sources.length;
  for (let h = 0; h < options.hours; h++) {
    const arrivals = Array.from({ length: options.perHour }, () => start + h * HOUR + Math.floor(rand() * HOUR)).sort((a, b) => a - b);
    const per = Math.ceil(arrivals.length / options.objectsPerHour);
    for (let o = 0; o < options.objectsPerHour; o++) {
      const chunk = arrivals.slice(o * per, (o + 1) * per);
      if (chunk.length === 0) continue;
      addObject(w, chunk.map((arrival) => {
        const i = n++;
        const types = ['click', 'view', 'buy'];
        return {
          pk: LANE_KEYS[Math.floor(rand() * options.keys)],
          arrival,
          data: payload(i, {
            type: types[i % 3],
            amount: i % 7,
            meta: { region: i % 2 === 0 ? 'eu' : 'us' },
            ...(options.payloadBytes ? { pad: 'x'.repeat(options.payloadBytes) } : {}),
          }),
        };
      }), LANE, o === 0 ? start + h * HOUR : chunk[0]);
    }
  }
}

interface Behavior {
  /** Per entry: an ErrorCode to answer instead of writing it. */
  failEntry?: (entry: { partitionKey: string; data: Buffer }) => string | undefined;
  /** Calls after the N-th throw `Killed`, and so does every other I/O call from then on. */
  killAfterCalls?: number;
  /** The N-th call is written, then it and every later I/O call never settles (the process froze and died). */
  freezeAtCall?: number;
  /** The N-th progress checkpoint write (and everything after it) never settles. */
  freezeAtCheckpoint?: number;
}

interface FakeIo extends ReplayIo {
  readonly dead: () => boolean;
  /** Resolves when a freeze happened. */
  readonly frozen: Promise<void>;
}

function makeIo(w: World, b: Behavior = {}): FakeIo {
  let calls = 0;
  let checkpoints = 0;
  let killed = false;
  let freeze = false;
  let onFreeze: () => void = () => undefined;
  const frozen = new Promise<void>((resolve) => {
    onFreeze = resolve;
  });
  const never = <T>(): Promise<T> => new Promise<T>(() => undefined);
  const gate = async (): Promise<void> => {
    if (freeze) await never();
    if (killed) throw Object.assign(new Error('process killed'), { name: 'Killed' });
  };
  return {
    dead: () => killed || freeze,
    frozen,
    async listKeys(bucket, prefix) {
      await gate();
      w.listCalls.push(`${bucket}:${prefix}`);
      const source = bucket === ARCHIVE ? [...w.archive.keys()] : bucket === STATE ? [...w.state.keys()] : [];
      return source.filter((k) => k.startsWith(prefix)).reverse(); // no order promised
    },
    async* readLines(bucket, key) {
      await gate();
      const lines = bucket === ARCHIVE ? w.archive.get(key) : undefined;
      if (!lines) throw Object.assign(new Error(`no such key ${key}`), { name: 'NoSuchKey' });
      for (const l of lines) yield l;
    },
    async getState(bucket, key) {
      await gate();
      return bucket === STATE ? w.state.get(key) : undefined;
    },
    async putState(bucket, key, body) {
      if (key.includes('/progress/') && ++checkpoints === b.freezeAtCheckpoint) {
        freeze = true;
        onFreeze();
      }
      await gate();
      expect(bucket).toBe(STATE);
      w.state.set(key, body);
    },
    async putRecords(input: PutRecordsInput): Promise<PutRecordsOutput> {
      await gate();
      calls++;
      w.calls++;
      if (b.killAfterCalls !== undefined && calls > b.killAfterCalls) {
        killed = true;
        throw Object.assign(new Error('process killed'), { name: 'Killed' });
      }
      expect(input.StreamARN).toBe(STREAM);
      const out: PutRecordsOutput['Records'] = [];
      let failed = 0;
      for (const r of input.Records) {
        const code = b.failEntry?.({ partitionKey: r.PartitionKey, data: Buffer.from(r.Data) });
        if (code) {
          failed++;
          out.push({ ErrorCode: code, ErrorMessage: 'injected' });
        } else {
          w.stream.push({ partitionKey: r.PartitionKey, data: Buffer.from(r.Data), call: w.calls });
          out.push({ SequenceNumber: String(w.stream.length), ShardId: 'shardId-000000000000' });
        }
      }
      if (b.freezeAtCall === calls) {
        freeze = true;
        onFreeze();
        await never();
      }
      return { FailedRecordCount: failed, Records: out };
    },
  };
}

const input = (overrides: Partial<ReplayInput> = {}): ReplayInput => ({
  replayId: 'replay-1',
  archiveBucket: ARCHIVE,
  archivePrefix: PREFIX,
  lane: LANE,
  fromMs: T0,
  toMs: T0 + 3 * HOUR,
  targetStream: STREAM,
  rate: { recordsPerSecond: 1e9, bytesPerSecond: 1e12 },
  tagging: 'none',
  stateBucket: STATE,
  statePrefix: STATE_PREFIX,
  ...overrides,
});

const noWait = async (): Promise<void> => undefined;
const fast: Omit<ReplayOptions, 'remainingTimeMs'> = { sleep: noWait, put: { random: () => 0.5, maxAttempts: 30 } };
const plenty = (): ReplayOptions => ({ ...fast, remainingTimeMs: () => 900_000 });

/** What the window and filter select, in archive (= time) order. */
const expectedOf = (w: World, i: ReplayInput, keep: (s: Src) => boolean = () => true): Src[] =>
  w.sources.filter((s) => s.arrival >= i.fromMs && s.arrival < i.toMs && keep(s));

/** What a de-aggregating consumer sees, KPL wrappers opened with aws-kinesis-agg (checksums verified). */
function delivered(w: World, tagging: 'none' | 'kpl-tag'): { partitionKey: string; data: Buffer }[] {
  if (tagging === 'none') return w.stream.map(({ partitionKey, data }) => ({ partitionKey, data }));
  return w.stream.flatMap(({ partitionKey, data }) => {
    const result = deaggregateWithAwsKinesisAgg(data, partitionKey, '1', 1);
    expect(result!.error).toBeUndefined();
    return result!.records.map((r) => ({ partitionKey: r.partitionKey ?? '', data: Buffer.from(r.data, 'base64') }));
  });
}

const byKey = (records: readonly { partitionKey?: string; pk?: string; data: Buffer }[]): Map<string, string[]> => {
  const out = new Map<string, string[]>();
  for (const r of records) {
    const k = (r.partitionKey ?? r.pk)!;
    out.set(k, [...(out.get(k) ?? []), idOf(r.data)]);
  }
  return out;
};

/** Exactly once and in per-key order, exact bytes under the original key. */
function expectExactlyOnce(w: World, expected: readonly Src[], tagging: 'none' | 'kpl-tag' = 'none'): void {
  const got = delivered(w, tagging);
  expect(got.length).toBe(expected.length);
  expect(byKey(got)).toEqual(byKey(expected));
  // Exact bytes: every delivered payload is byte-equal to a source payload of the same key.
  const sources = new Map(expected.map((s) => [idOf(s.data), s]));
  for (const r of got) {
    const s = sources.get(idOf(r.data))!;
    expect(s).toBeDefined();
    expect(r.partitionKey).toBe(s.pk);
    expect(Buffer.compare(r.data, s.data)).toBe(0);
  }
}

/** No loss, per-key order of first occurrences, and how many duplicates. */
function expectNoLoss(w: World, expected: readonly Src[]): { duplicates: number } {
  const got = delivered(w, 'none');
  const seen = new Set<string>();
  const firsts: { partitionKey: string; data: Buffer }[] = [];
  for (const r of got) {
    if (seen.has(idOf(r.data))) continue;
    seen.add(idOf(r.data));
    firsts.push(r);
  }
  expect(byKey(firsts)).toEqual(byKey(expected));
  return { duplicates: got.length - firsts.length };
}

/** Invokes like the state machine does: again with the cursor until done (or an error). */
async function untilDone(i: ReplayInput, io: () => ReplayIo, options: () => ReplayOptions, max = 500): Promise<ReplayResult[]> {
  const results: ReplayResult[] = [];
  let cursor = i.cursor;
  for (let n = 0; n < max; n++) {
    const r = await replayLane({ ...i, ...(cursor !== undefined ? { cursor } : {}) }, io(), options());
    results.push(r);
    if (r.done || r.error) return results;
    cursor = r.cursor;
  }
  throw new Error(`not done after ${max} invocations`);
}

const sum = (results: readonly ReplayResult[], k: keyof ReplayResult['progress']): number => results.reduce((s, r) => s + r.progress[k], 0);

/** Remaining time that is plenty for `checks` checks, then below the margin; records when it went low. */
function budget(checks: number): { options: () => ReplayOptions; low: () => boolean } {
  let low = false;
  return {
    low: () => low,
    options: () => {
      let left = checks;
      low = false;
      return {
        ...fast,
        segment: { maxRecords: 40 },
        remainingTimeMs: () => {
          if (left-- > 0) return 900_000;
          low = true;
          return 59_999;
        },
      };
    },
  };
}

// ---------------------------------------------------------------- selection

describe('selection', () => {
  test('the window is [fromMs, toMs) by arrival: from inclusive, to exclusive, and out-of-window records of the same objects stay out', async () => {
    const w = world();
    const from = T0 + 15 * 60_000; // 10:15
    const to = T0 + HOUR + 30 * 60_000; // 11:30
    const at = (t: number, n: number, pk = LANE_KEYS[n % 3]): Src => ({ pk, arrival: t, data: payload(n) });
    const k1 = addObject(w, [at(T0, 1), at(from - 1, 2), at(from, 3), at(from + 1, 4)]);
    const k2 = addObject(w, [at(T0 + HOUR, 5), at(to - 1, 6), at(to, 7), at(to + 1, 8)]);
    addObject(w, [at(T0 - HOUR, 9)], LANE, T0 - HOUR); // hour 09: not listed
    addObject(w, [at(T0 + 2 * HOUR, 10)]); // hour 12: not listed
    addObject(w, [at(from + 5, 11)], '04'); // another lane
    const i = input({ fromMs: from, toMs: to });

    const r = await replayLane(i, makeIo(w), plenty());
    expect(r.done).toBe(true);
    expect(delivered(w, 'none').map((x) => JSON.parse(x.data.toString()).event_id)).toEqual(['e-3', 'e-4', 'e-5', 'e-6']);
    expect(r.progress).toEqual(expect.objectContaining({
      objectsListed: 2, objectsDone: 2, objectsSkipped: 0, objectsRemaining: 0,
      recordsReplayed: 4, recordsOutsideWindow: 4, recordsFiltered: 0, failed: 0,
    }));
    // Exactly the hour prefixes of the window in this lane, and the done markers under them.
    expect(w.listCalls.filter((c) => c.startsWith(ARCHIVE)).sort()).toEqual([
      `${ARCHIVE}:${PREFIX}dt=2024-06-01/hour=10/bucket=03/`,
      `${ARCHIVE}:${PREFIX}dt=2024-06-01/hour=11/bucket=03/`,
    ]);
    expect(w.state.has(doneMarkerKey(STATE_PREFIX, 'replay-1', k1))).toBe(true);
    expect(JSON.parse(w.state.get(doneMarkerKey(STATE_PREFIX, 'replay-1', k2))!)).toEqual(expect.objectContaining({
      replayId: 'replay-1', objectKey: k2, lane: LANE, written: 2, outsideWindow: 2, filtered: 0,
    }));
  });

  test('a window across midnight lists both days in time order', async () => {
    const w = world();
    const midnight = Date.UTC(2024, 5, 2);
    const a = addObject(w, [{ pk: 'k', arrival: midnight - 1, data: payload(1) }]);
    const b = addObject(w, [{ pk: 'k', arrival: midnight, data: payload(2) }]);
    expect(a < b).toBe(true);
    await replayLane(input({ fromMs: midnight - 10, toMs: midnight + 10 }), makeIo(w), plenty());
    expect(delivered(w, 'none').map((x) => idOf(x.data))).toEqual([idOf(payload(1)), idOf(payload(2))]);
  });

  test('partition key filter', async () => {
    const w = world();
    generate(w, { seed: 11, hours: 2, perHour: 200, objectsPerHour: 3, keys: 8 });
    const keys = [LANE_KEYS[1], LANE_KEYS[5]];
    const i = input({ filter: { partitionKeys: keys } });
    const r = await replayLane(i, makeIo(w), plenty());
    const expected = expectedOf(w, i, (s) => keys.includes(s.pk));
    expect(expected.length).toBeGreaterThan(20);
    expectExactlyOnce(w, expected);
    expect(r.progress.recordsFiltered).toBe(400 - expected.length);
  });

  test('payload filter: top-level field, dotted path, strict typed equality; a non-JSON payload never matches', async () => {
    const w = world();
    const at = (n: number, data: Buffer, pk = 'k'): Src => ({ pk, arrival: T0 + n * 1000, data });
    addObject(w, [
      at(1, payload(1, { type: 'buy', amount: 1, vip: true, meta: { region: 'eu' } })),
      at(2, payload(2, { type: 'view', amount: '1', vip: 'true', meta: { region: 'us' } })),
      at(3, Buffer.from([0xff, 0xfe, 0x00, 0x01])), // binary
      at(4, Buffer.from('type=buy')), // text, not JSON
      at(5, Buffer.from('["buy"]')), // JSON, not an object
      at(6, payload(6, { type: 'buy', meta: 'eu' })), // path crosses a non-object
      at(7, payload(7, { type: 'click', amount: 1, meta: { region: 'eu', deep: { x: false } } }), 'other'),
    ]);
    const ids = async (filter: ReplayInput['filter']): Promise<string[]> => {
      w.stream.length = 0;
      w.state.clear();
      await replayLane(input({ filter }), makeIo(w), plenty());
      return w.stream.map((r) => { try { return JSON.parse(r.data.toString()).event_id; } catch { return r.data.toString('hex'); } });
    };
    expect(await ids({ payload: { field: 'type', values: ['buy'] } })).toEqual(['e-1', 'e-6']);
    expect(await ids({ payload: { field: 'meta.region', values: ['eu'] } })).toEqual(['e-1', 'e-7']);
    expect(await ids({ payload: { field: 'amount', values: [1] } })).toEqual(['e-1', 'e-7']); // not the string '1'
    expect(await ids({ payload: { field: 'amount', values: ['1'] } })).toEqual(['e-2']);
    expect(await ids({ payload: { field: 'vip', values: [true] } })).toEqual(['e-1']);
    expect(await ids({ payload: { field: 'meta.deep.x', values: [false] } })).toEqual(['e-7']);
    // Both filters: AND.
    expect(await ids({ partitionKeys: ['other'], payload: { field: 'amount', values: [1] } })).toEqual(['e-7']);
    const r = await replayLane(input({ replayId: 'counts', filter: { payload: { field: 'type', values: ['buy'] } } }), makeIo(w), plenty());
    expect(r.progress.recordsFiltered).toBe(5);
  });
});

// ---------------------------------------------------------------- order and bytes

/**
 * Re-invokes the lane with segments of one record and no time left after its first PutRecords call, so each
 * invocation commits about one object, passing each result's cursor to the next; the cursors, in order.
 */
async function cursorsOneRecordAtATime(w: World, maxInvocations: number): Promise<(string | undefined)[]> {
  let cursor: string | undefined;
  const cursors: (string | undefined)[] = [];
  for (let n = 0; n < maxInvocations; n++) {
    let calls = 0;
    const io = makeIo(w);
    const r = await replayLane(input({ cursor }), {
      ...io,
      putRecords: (req) => {
        calls++;
        return io.putRecords(req);
      },
    }, { ...fast, segment: { maxRecords: 1 }, remainingTimeMs: () => (calls >= 1 ? 0 : 10 * 60_000) });
    expect(r.error).toBeUndefined();
    cursor = r.cursor;
    cursors.push(cursor);
    if (r.done) return cursors;
  }
  throw new Error(`the lane was not done after ${maxInvocations} invocations`);
}

describe('order and exact bytes', () => {
  test("tagging 'none': exact bytes under the original key, per-key order across objects and hours", async () => {
    const w = world();
    generate(w, { seed: 21, hours: 3, perHour: 400, objectsPerHour: 4, keys: 12 });
    // A binary payload with newlines and a KPL-looking prefix too.
    addObject(w, [{ pk: LANE_KEYS[0], arrival: T0 + 3 * HOUR - 1, data: Buffer.from([0xf3, 0x89, 0x9a, 0xc2, 10, 13, 0, 255]) }], LANE, T0 + 2 * HOUR + 3599_000);
    const i = input();
    const r = await replayLane(i, makeIo(w), { ...plenty(), put: { ...fast.put, concurrency: 4 } });
    expect(r.done).toBe(true);
    expect(r.error).toBeUndefined();
    expect(r.progress.objectsDone).toBe(13);
    expect(r.progress.recordsReplayed).toBe(1201);
    expect(r.progress.bytesReplayed).toBe(w.sources.reduce((s, x) => s + x.data.length, 0));
    expectExactlyOnce(w, expectedOf(w, i));
  });

  test('a delivery stream updated from version 9 to 10 within an hour: objects go in creation order (not key order), and a cursor on a version-9 object keeps the version-10 ones', async () => {
    const w = world();
    const k = LANE_KEYS[0];
    // Key order would be: version 10's objects ('…-10-…') before version 9's ('…-9-…').
    const v9 = [0, 1].map((n) => addObject(w, [{ pk: k, arrival: T0 + n * 60_000, data: payload(n) }], LANE, T0 + n * 60_000, 9));
    const v10 = [2, 3].map((n) => addObject(w, [{ pk: k, arrival: T0 + n * 60_000, data: payload(n) }], LANE, T0 + n * 60_000, 10));
    expect([...v9, ...v10].sort()).toEqual([...v10, ...v9]);
    expect(await cursorsOneRecordAtATime(w, 4)).toEqual([...v9, ...v10]);
    expect(w.stream.map((x) => idOf(x.data))).toEqual([0, 1, 2, 3].map((n) => idOf(payload(n))));
  });

  test('objects created in the same second by the same version go in the order of their first record, not of their random names; the cursor never stops inside such a group', async () => {
    const w = world();
    const k = LANE_KEYS[1];
    const { dt, hour } = arrivalPartition(T0);
    const named = (stamp: string, uuid: string, records: Src[]): string => {
      const key = `${PREFIX}dt=${dt}/hour=${hour}/bucket=${LANE}/raw-archive-3-2024-06-01-10-${stamp}-${uuid}.jsonl.gz`;
      w.archive.set(key, records.map(line));
      w.sources.push(...records);
      return key;
    };
    const rec = (n: number): Src => ({ pk: k, arrival: T0 + n * 100, data: payload(n) });
    // Same second, names in the opposite order of their content.
    const early = named('00-05', 'ffffffff-9c0b-4ef8-bb6d-6bb9bd380a11', [rec(1), rec(2)]);
    const late = named('00-05', '00000000-9c0b-4ef8-bb6d-6bb9bd380a11', [rec(3), rec(4)]);
    const next = named('00-06', '11111111-9c0b-4ef8-bb6d-6bb9bd380a11', [rec(5)]);
    expect([early, late, next].sort()).toEqual([late, early, next]);

    const cursors = await cursorsOneRecordAtATime(w, 5);
    expect(w.stream.map((x) => idOf(x.data))).toEqual([1, 2, 3, 4, 5].map((n) => idOf(payload(n))));
    expectExactlyOnce(w, expectedOf(w, input()));
    // Not on `early` alone (that would skip `late`, which sorts before it by name); the group's greatest name once both are done.
    expect(cursors).not.toContain(late);
    expect(cursors[cursors.length - 1]).toBe(next);
    expect(cursors).toContain(early);
    expect(cursors.indexOf(early)).toBeGreaterThan(cursors.lastIndexOf(undefined));
  });

  test("tagging 'kpl-tag': one-record aggregates that aws-kinesis-agg opens to the exact bytes and key, tagged with the replay id", async () => {
    const w = world();
    generate(w, { seed: 22, hours: 2, perHour: 150, objectsPerHour: 2, keys: 6 });
    const i = input({ tagging: 'kpl-tag', replayId: 'replay-ü-7' });
    const r = await replayLane(i, makeIo(w), plenty());
    expect(r.done).toBe(true);
    expectExactlyOnce(w, expectedOf(w, i), 'kpl-tag');

    // protobufjs with the published schema: one record, index 0, the replay_id tag.
    for (const s of w.stream) {
      const m = AggregatedRecord.toObject(AggregatedRecord.decode(s.data.subarray(4, s.data.length - 16)), { longs: Number, arrays: true }) as {
        partition_key_table: string[]; records: { partition_key_index: number; tags: { key: string; value: string }[] }[];
      };
      expect(m.partition_key_table).toEqual([s.partitionKey]);
      expect(m.records).toHaveLength(1);
      expect(m.records[0].tags).toEqual([{ key: 'replay_id', value: 'replay-ü-7' }]);
    }
    expect(r.progress.bytesReplayed).toBe(w.sources.reduce((s, x) => s + x.data.length, 0)); // payload bytes, not wrapper bytes
  });

  test("'kpl-tag': a record too large once wrapped is sent untagged, exactly as archived, and counted; one that still fits is wrapped", async () => {
    const w = world();
    const pk = 'big-key';
    // Raw: data + key = 1 MiB exactly (fits); wrapped it would not.
    const tooBig = Buffer.alloc(MiB - pk.length, 0x41);
    // The largest payload whose wrapper still fits: 1 MiB minus the overhead for this key and replay id.
    const overhead = 20 + (1 + 1 + pk.length) + (1 + 3) + 2 + (1 + 3) + (1 + 1 + (1 + 1 + 9) + (1 + 1 + 'replay-1'.length));
    const fits = Buffer.alloc(MiB - pk.length - overhead, 0x42);
    addObject(w, [
      { pk, arrival: T0 + 1, data: tooBig },
      { pk, arrival: T0 + 2, data: fits },
      { pk, arrival: T0 + 3, data: payload(3) },
    ]);
    const r = await replayLane(input({ tagging: 'kpl-tag' }), makeIo(w), plenty());
    expect(r.done).toBe(true);
    expect(r.progress.untaggedOversize).toBe(1);
    expect(w.stream[0].data.equals(tooBig)).toBe(true); // sent raw
    expect(w.stream[1].data.length + pk.length).toBe(MiB); // wrapped, exactly at the limit
    expect(w.stream.every((s) => s.partitionKey === pk)).toBe(true);
    // A de-aggregating consumer sees all three payloads exactly (the raw one is an ordinary record).
    expect(delivered(w, 'kpl-tag').map((x) => x.data.equals(x.data.length === tooBig.length ? tooBig : x.data.length === fits.length ? fits : payload(3)))).toEqual([true, true, true]);
    expect(JSON.parse(w.state.get(doneMarkerKey(STATE_PREFIX, 'replay-1', [...w.archive.keys()][0]))!).untaggedOversize).toBe(1);
  });
});

// ---------------------------------------------------------------- failures

describe('failures', () => {
  test('30% of entries fail (seeded): every selected record arrives exactly once, in per-key order; throttles are counted', async () => {
    const w = world();
    generate(w, { seed: 31, hours: 3, perHour: 300, objectsPerHour: 3, keys: 10 });
    const rand = prng(0x30);
    let throttled = 0;
    const io = makeIo(w, {
      failEntry: () => {
        const x = rand();
        if (x < 0.2) {
          throttled++;
          return 'ProvisionedThroughputExceededException';
        }
        return x < 0.3 ? 'InternalFailure' : undefined;
      },
    });
    const i = input();
    const r = await replayLane(i, io, { ...plenty(), segment: { maxRecords: 100 } });
    expect(r.done).toBe(true);
    expect(r.progress.failed).toBe(0);
    expect(throttled).toBeGreaterThan(100);
    expect(r.progress.throttles).toBe(throttled);
    expect(r.progress.putCalls).toBe(w.calls);
    expectExactlyOnce(w, expectedOf(w, i));
  });

  test('a whole call throttled counts every entry in it', async () => {
    const w = world();
    addObject(w, [1, 2, 3].map((n) => ({ pk: `k${n}`, arrival: T0 + n, data: payload(n) })));
    const io = makeIo(w);
    let first = true;
    const put = io.putRecords;
    const r = await replayLane(input(), {
      ...io,
      putRecords: async (req) => {
        if (first) {
          first = false;
          throw Object.assign(new Error('Rate exceeded'), { name: 'ProvisionedThroughputExceededException' });
        }
        return put(req);
      },
    }, plenty());
    expect(r.progress.throttles).toBe(3);
    expect(w.stream).toHaveLength(3);
  });

  test('records that exhaust their retries are not lost: error returned, object not marked done, lane stops; a rerun finishes it', async () => {
    const w = world();
    generate(w, { seed: 41, hours: 1, perHour: 300, objectsPerHour: 3, keys: 6 });
    const keys = [...w.archive.keys()].sort();
    const poison = w.sources[150]; // in the second object
    const i = input();
    const first = await replayLane(i, makeIo(w, { failEntry: (e) => (e.data.equals(poison.data) ? 'InternalFailure' : undefined) }), {
      ...plenty(), segment: { maxRecords: 50 }, put: { ...fast.put, maxAttempts: 3 },
    });
    expect(first.done).toBe(false);
    expect(first.error).toEqual(expect.objectContaining({ code: 'RecordsFailed', objectKey: keys[1] }));
    expect(first.error!.failedRecords![0]).toEqual(expect.objectContaining({ partitionKey: poison.pk, errorCode: 'InternalFailure' }));
    // Later records of the poison's key in that segment were held back, not sent ahead of it.
    expect(first.error!.failedRecords!.slice(1).every((f) => f.partitionKey === poison.pk && f.errorCode === 'PrecededByFailure')).toBe(true);
    expect(first.progress.failed).toBe(first.error!.failedRecords!.length);
    expect(first.progress).toEqual(expect.objectContaining({ objectsDone: 1, objectsRemaining: 2 }));
    expect(w.state.has(doneMarkerKey(STATE_PREFIX, 'replay-1', keys[0]))).toBe(true);
    expect(w.state.has(doneMarkerKey(STATE_PREFIX, 'replay-1', keys[1]))).toBe(false);
    // The checkpoint stops right before the poison record: 150 - 100 in the first object.
    expect(JSON.parse(w.state.get(progressKey(STATE_PREFIX, 'replay-1', keys[1]))!).written).toBe(50);
    // Nothing of the third object went out.
    const third = new Set(w.sources.slice(200).map((s) => idOf(s.data)));
    expect(w.stream.some((s) => third.has(idOf(s.data)))).toBe(false);
    const beforePoison = new Set(w.sources.slice(0, 150).map((s) => idOf(s.data)));

    const second = await replayLane(i, makeIo(w), { ...plenty(), segment: { maxRecords: 50 } });
    expect(second.done).toBe(true);
    expect(second.progress).toEqual(expect.objectContaining({ objectsSkipped: 1, objectsDone: 2 }));
    const { duplicates } = expectNoLoss(w, expectedOf(w, i));
    expect(duplicates).toBeLessThanOrEqual(50); // at most the rest of one segment
    // Everything before the poison record: exactly once.
    const counts = new Map<string, number>();
    for (const s of w.stream) counts.set(idOf(s.data), (counts.get(idOf(s.data)) ?? 0) + 1);
    for (const id of beforePoison) expect(counts.get(id)).toBe(1);
  });

  test('an unreadable archive line fails its object with key and line number: what precedes it is written and checkpointed, nothing after it', async () => {
    const w = world();
    const good = addObject(w, [{ pk: 'k', arrival: T0 + 1, data: payload(1) }]);
    const bad = addObject(w, [{ pk: 'k', arrival: T0 + 2000, data: payload(2) }, { pk: 'k', arrival: T0 + 2001, data: payload(3) }]);
    w.archive.get(bad)![1] = '{"partition_key":"k","data":"not base64!"}';
    addObject(w, [{ pk: 'k', arrival: T0 + 5000, data: payload(4) }]);
    const r = await replayLane(input(), makeIo(w), plenty());
    expect(r.done).toBe(false);
    expect(r.error).toEqual(expect.objectContaining({ code: 'ArchiveLineError', objectKey: bad }));
    expect(r.error!.message).toContain(`${bad} line 2`);
    expect(w.state.has(doneMarkerKey(STATE_PREFIX, 'replay-1', good))).toBe(true);
    expect(w.state.has(doneMarkerKey(STATE_PREFIX, 'replay-1', bad))).toBe(false);
    // The records before the bad line are written and checkpointed; nothing after it.
    expect(JSON.parse(w.state.get(progressKey(STATE_PREFIX, 'replay-1', bad))!).written).toBe(1);
    expect(w.stream.map((s) => idOf(s.data))).toEqual([idOf(payload(1)), idOf(payload(2))]);
  });

  test('input validation lists every problem at once', async () => {
    const w = world();
    const bad = input({
      replayId: 'a/b', lane: '3', fromMs: T0, toMs: T0, archivePrefix: 'archive', tagging: 'gzip' as 'none',
      rate: { recordsPerSecond: 0, bytesPerSecond: 1 },
      filter: { partitionKeys: [], payload: { field: 'a..b', values: [] } },
    });
    const error = await replayLane(bad, makeIo(w), plenty()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReplayInputError);
    for (const what of ['replayId', 'lane', 'toMs', 'archivePrefix', 'tagging', 'rate.recordsPerSecond', 'filter.partitionKeys', 'filter.payload.field', 'filter.payload.values']) {
      expect((error as Error).message).toContain(what);
    }
  });
});

// ---------------------------------------------------------------- resume

describe('resume', () => {
  test('graceful stops before segments and objects: re-invoking until done delivers every record exactly once, counts exact', async () => {
    const w = world();
    generate(w, { seed: 51, hours: 3, perHour: 250, objectsPerHour: 3, keys: 9 });
    const i = input({ fromMs: T0 + 20 * 60_000, toMs: T0 + 2 * HOUR + 40 * 60_000, filter: { payload: { field: 'type', values: ['click', 'buy'] } } });
    const b = budget(3);
    let callsWhenLow = -1;
    const results = await untilDone(i, () => {
      const io = makeIo(w);
      return {
        ...io,
        putRecords: async (req) => {
          if (b.low() && callsWhenLow < 0) callsWhenLow = w.calls;
          return io.putRecords(req);
        },
      };
    }, b.options);
    expect(callsWhenLow).toBe(-1); // no PutRecords once the time ran low
    expect(results.length).toBeGreaterThan(5);
    expect(results.slice(0, -1).every((r) => !r.done && !r.error)).toBe(true);
    expect(results[results.length - 1].done).toBe(true);
    const inWindow = expectedOf(w, i);
    const expected = inWindow.filter((s) => ['click', 'buy'].includes(JSON.parse(s.data.toString()).type));
    expectExactlyOnce(w, expected);
    expect(sum(results, 'recordsReplayed')).toBe(expected.length);
    expect(sum(results, 'objectsDone')).toBe(9);
    expect(sum(results, 'recordsFiltered')).toBe(inWindow.length - expected.length);
    expect(sum(results, 'recordsOutsideWindow')).toBe(750 - inWindow.length);
    // objectsRemaining never grows.
    const remaining = results.map((r) => r.progress.objectsRemaining);
    expect([...remaining].sort((a, b2) => b2 - a)).toEqual(remaining);
    // The done markers' per-object counts add up too.
    const markers = [...w.state.entries()].filter(([k]) => k.includes('/done/')).map(([, v]) => JSON.parse(v));
    expect(markers).toHaveLength(9);
    expect(markers.reduce((s, m) => s + m.written, 0)).toBe(expected.length);
    expect(markers.reduce((s, m) => s + m.filtered + m.outsideWindow, 0)).toBe(750 - expected.length);
  });

  test('stopping with no time left at all returns done: false and puts nothing', async () => {
    const w = world();
    generate(w, { seed: 52, hours: 1, perHour: 50, objectsPerHour: 2, keys: 3 });
    const r = await replayLane(input(), makeIo(w), { ...fast, remainingTimeMs: () => 30_000 });
    expect(r.done).toBe(false);
    expect(r.error).toBeUndefined();
    expect(r.progress).toEqual(expect.objectContaining({ objectsListed: 2, objectsRemaining: 2, recordsReplayed: 0 }));
    expect(w.calls).toBe(0);
  });

  test.each([1, 3, 7, 12, 25])('hard kill mid-object: PutRecords throws after %i calls and so does all I/O; the resume loses nothing, duplicates ≤ one segment', async (n) => {
    const w = world();
    generate(w, { seed: 60 + n, hours: 2, perHour: 200, objectsPerHour: 2, keys: 8 });
    const i = input();
    const segment = { maxRecords: 30 };
    const killed = await replayLane(i, makeIo(w, { killAfterCalls: n }), { ...plenty(), segment, put: { ...fast.put, maxAttempts: 3 } });
    expect(killed.done).toBe(false);
    expect(killed.error).toBeDefined();
    expect(w.stream.length).toBeGreaterThan(0);
    const resumed = await untilDone(i, () => makeIo(w), () => ({ ...plenty(), segment }));
    expect(resumed[resumed.length - 1].done).toBe(true);
    const { duplicates } = expectNoLoss(w, expectedOf(w, i));
    expect(duplicates).toBeLessThanOrEqual(30);
  });

  test.each([
    ['mid-segment (the 4th call is written, then the process is gone)', { freezeAtCall: 4 }],
    ['mid-segment, later', { freezeAtCall: 40 }],
    ['after a segment is written, before its checkpoint is', { freezeAtCheckpoint: 3 }],
  ])('hard kill %s: the resume loses nothing, duplicates ≤ one segment', async (_, behavior: Behavior) => {
    const w = world();
    generate(w, { seed: 70, hours: 2, perHour: 200, objectsPerHour: 2, keys: 8 });
    const i = input();
    const segment = { maxRecords: 30 };
    const io = makeIo(w, behavior);
    void replayLane(i, io, { ...plenty(), segment });
    await io.frozen;
    for (let k = 0; k < 20; k++) await new Promise((resolve) => setImmediate(resolve));
    const before = w.stream.length;
    expect(before).toBeGreaterThan(0);
    const resumed = await untilDone(i, () => makeIo(w), () => ({ ...plenty(), segment }));
    expect(resumed[resumed.length - 1].done).toBe(true);
    const { duplicates } = expectNoLoss(w, expectedOf(w, i));
    expect(duplicates).toBeLessThanOrEqual(30);
    expect(duplicates).toBeGreaterThan(0); // the window is real: the written part of the killed segment went again
  });

  test('a rerun of a completed replay id puts nothing', async () => {
    const w = world();
    generate(w, { seed: 81, hours: 3, perHour: 100, objectsPerHour: 2, keys: 5 });
    const i = input();
    expect((await replayLane(i, makeIo(w), plenty())).done).toBe(true);
    const calls = w.calls;
    const again = await replayLane(i, makeIo(w), plenty());
    expect(again.done).toBe(true);
    expect(w.calls).toBe(calls);
    expect(again.progress).toEqual(expect.objectContaining({ objectsSkipped: 6, objectsDone: 0, recordsReplayed: 0, objectsRemaining: 0 }));
    // A new replay id replays again.
    const other = await replayLane(input({ replayId: 'replay-2' }), makeIo(w), plenty());
    expect(other.progress.recordsReplayed).toBe(300);
  });

  test('a replay id reused with other parameters is refused, for checkpoints and done markers alike', async () => {
    const w = world();
    generate(w, { seed: 82, hours: 2, perHour: 100, objectsPerHour: 2, keys: 5 });
    const i = input();
    const b = budget(3);
    const partial = await replayLane(i, makeIo(w), b.options());
    expect(partial.done).toBe(false);
    const narrower = await replayLane({ ...i, toMs: i.toMs - 1 }, makeIo(w), plenty());
    expect(narrower.error).toEqual(expect.objectContaining({ code: 'ReplayStateError' }));
    expect(narrower.error!.message).toContain('ReplayIdReused');

    await untilDone(i, () => makeIo(w), plenty);
    const filtered = await replayLane({ ...i, filter: { partitionKeys: [LANE_KEYS[0]] } }, makeIo(w), plenty());
    expect(filtered.error!.message).toContain('ReplayIdReused');
    // The rate is not part of the identity: changing it resumes fine.
    const faster = await replayLane({ ...i, rate: { recordsPerSecond: 5, bytesPerSecond: 1e6 } }, makeIo(w), plenty());
    expect(faster.done).toBe(true);
  });

  test('the cursor skips listing the hours behind it and the keys up to it', async () => {
    const w = world();
    generate(w, { seed: 83, hours: 3, perHour: 120, objectsPerHour: 2, keys: 5 });
    const i = input();
    const b = budget(9);
    const first = await replayLane(i, makeIo(w), b.options());
    expect(first.done).toBe(false);
    expect(first.cursor).toMatch(/hour=1[12]/);
    w.listCalls.length = 0;
    const second = await replayLane({ ...i, cursor: first.cursor }, makeIo(w), plenty());
    expect(second.done).toBe(true);
    expect(w.listCalls.some((c) => c.includes('hour=10'))).toBe(false);
    expect(second.progress.objectsSkipped).toBe(0);
    expect(first.progress.objectsDone + second.progress.objectsDone).toBe(6);
    expectExactlyOnce(w, expectedOf(w, i));
    // A cursor of another lane or archive would skip records: refused.
    for (const cursor of [first.cursor!.replace('bucket=03', 'bucket=04'), 'zzz', `other/${first.cursor}`]) {
      await expect(replayLane({ ...i, cursor }, makeIo(w), plenty())).rejects.toThrow(/cursor must be an object key of this lane/);
    }
  });
});

// ---------------------------------------------------------------- rate

describe('packing', () => {
  test('a segment ends where a call ends: no part-full call for the rest of a segment byte budget', async () => {
    const w = world();
    // 90 records of the same size B under distinct keys: calls of 3 (3.5 B), segments of at most 10 B.
    addObject(w, Array.from({ length: 90 }, (_, i) => ({ pk: `p-${String(i).padStart(3, '0')}`, arrival: T0 + i, data: payload(1000 + i, { pad: 'x'.repeat(200) }) })));
    const B = w.sources[0].data.byteLength + 5;
    expect(w.sources.every((s) => s.data.byteLength + Buffer.byteLength(s.pk) === B)).toBe(true);
    const calls: number[] = [];
    const io = makeIo(w);
    const i = input();
    const r = await replayLane(i, {
      ...io,
      putRecords: async (req) => {
        calls.push(req.Records.length);
        return io.putRecords(req);
      },
    }, { ...plenty(), segment: { maxBytes: 10 * B }, put: { ...fast.put, limits: { maxBytesPerCall: Math.floor(3.5 * B), maxRecordBytes: 2 * B } } });
    expect(r.done).toBe(true);
    expectExactlyOnce(w, expectedOf(w, i));
    // Segments of 9 (three full calls), not 10 (three full calls and one of a single record).
    expect(calls).toEqual(Array.from({ length: 30 }, () => 3));
  });

  test("calls span object boundaries: an object's last records share a call with the next object's first, only the lane's last call is part full", async () => {
    const w = world();
    // Three objects of 7, 8 and 9 records (distinct keys, 24 in all) and calls of 5: 5 calls, not 2 + 2 + 2 = 6.
    const objectKeys = [7, 8, 9].map((n, o) => addObject(w, Array.from({ length: n }, (_, i) => ({
      pk: `k-${o}-${i}`, arrival: T0 + o * 60_000 + i, data: payload(o * 100 + i),
    }))));
    const calls: string[][] = [];
    const io = makeIo(w);
    const i = input();
    const r = await replayLane(i, {
      ...io,
      putRecords: async (req) => {
        calls.push(req.Records.map((rec) => rec.PartitionKey));
        return io.putRecords(req);
      },
    }, { ...plenty(), put: { ...fast.put, limits: { maxRecordsPerCall: 5 } } });
    expect(r.done).toBe(true);
    expectExactlyOnce(w, expectedOf(w, i));
    expect(calls.map((c) => c.length)).toEqual([5, 5, 5, 5, 4]);
    expect(calls[1]).toEqual(expect.arrayContaining(['k-0-6', 'k-1-0'])); // objects 1 and 2 share the second call
    expect(r.progress).toEqual(expect.objectContaining({ objectsDone: 3, objectsRemaining: 0, recordsReplayed: 24 }));
    expect(r.cursor).toBe(objectKeys[2]);
    // Each object's done marker counts its own records.
    expect(objectKeys.map((k) => JSON.parse(w.state.get(doneMarkerKey(STATE_PREFIX, 'replay-1', k))!).written)).toEqual([7, 8, 9]);
  });

  test('a segment across objects that fails in its second object: the first is done, the second checkpoints its written prefix', async () => {
    const w = world();
    const a = addObject(w, Array.from({ length: 4 }, (_, n) => ({ pk: `a-${n}`, arrival: T0 + n, data: payload(n) })));
    const b = addObject(w, Array.from({ length: 4 }, (_, n) => ({ pk: 'b', arrival: T0 + 60_000 + n, data: payload(10 + n) })));
    const poison = payload(12); // b's third record
    const r = await replayLane(input(), makeIo(w, { failEntry: (e) => (e.data.equals(poison) ? 'InternalFailure' : undefined) }), {
      ...plenty(), put: { ...fast.put, maxAttempts: 2 },
    });
    expect(r.error).toEqual(expect.objectContaining({ code: 'RecordsFailed', objectKey: b }));
    expect(r.error!.failedRecords!.map((f) => [f.objectKey, f.errorCode])).toEqual([[b, 'InternalFailure'], [b, 'PrecededByFailure']]);
    expect(w.state.has(doneMarkerKey(STATE_PREFIX, 'replay-1', a))).toBe(true);
    expect(w.state.has(doneMarkerKey(STATE_PREFIX, 'replay-1', b))).toBe(false);
    expect(JSON.parse(w.state.get(progressKey(STATE_PREFIX, 'replay-1', b))!).written).toBe(2);
    expect(r.cursor).toBe(a);
    const second = await replayLane(input({ cursor: r.cursor }), makeIo(w), plenty());
    expect(second.done).toBe(true);
    expectExactlyOnce(w, expectedOf(w, input()));
  });
});

describe('rate', () => {
  test.each([
    ['records/s', { recordsPerSecond: 200, bytesPerSecond: 1e12 }, 'records'],
    ['bytes/s', { recordsPerSecond: 1e6, bytesPerSecond: 64 * 1024 }, 'bytes'],
  ] as const)('the lane achieves its %s share within ±10% in virtual time; no call exceeds one second of it', async (_, rate, dimension) => {
    const w = world();
    generate(w, { seed: 91, hours: 2, perHour: 3000, objectsPerHour: 4, keys: 30, payloadBytes: 300 });
    let t = T0;
    const startedAt = t;
    const callSizes: { records: number; bytes: number }[] = [];
    const io = makeIo(w);
    const r = await replayLane(input({ rate }), {
      ...io,
      putRecords: async (req) => {
        callSizes.push({ records: req.Records.length, bytes: req.Records.reduce((s, x) => s + x.Data.length + x.PartitionKey.length, 0) });
        return io.putRecords(req);
      },
    }, {
      remainingTimeMs: () => 900_000 - (t - startedAt),
      now: () => t,
      sleep: async (ms) => {
        t += ms;
      },
    });
    expect(r.done).toBe(true);
    const seconds = (t - startedAt) / 1000;
    expect(seconds).toBeGreaterThan(20);
    const total = dimension === 'records' ? r.progress.recordsReplayed : callSizes.reduce((s, c) => s + c.bytes, 0);
    const target = dimension === 'records' ? rate.recordsPerSecond : rate.bytesPerSecond;
    expect(total / seconds / target).toBeGreaterThan(0.9);
    expect(total / seconds / target).toBeLessThan(1.1);
    expect(r.progress.rateLimitedMs).toBeGreaterThan(0);
    if (dimension === 'records') expect(Math.max(...callSizes.map((c) => c.records))).toBeLessThanOrEqual(200);
  });
});

// ---------------------------------------------------------------- helpers, EMF, handler

describe('splitLines', () => {
  test('splits at \\n across chunks, multi-byte characters straddling chunks, no empty last line', async () => {
    const text = 'ä€😀\nsecond\r\n\nlast';
    const bytes = Buffer.from(`${text}\n`);
    const chunks = async function* (): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < bytes.length; i += 3) yield bytes.subarray(i, i + 3);
    };
    const out: string[] = [];
    for await (const l of splitLines(chunks())) out.push(l);
    expect(out).toEqual(['ä€😀', 'second\r', '', 'last']);
  });
});

describe('EMF', () => {
  test('one document: ReplayStateMachine dimension, the five metrics, replay id and lane as plain properties', () => {
    const result: ReplayResult = {
      replayId: 'r-1', lane: '07', done: false, cursor: 'k',
      progress: {
        objectsListed: 5, objectsDone: 2, objectsSkipped: 1, objectsRemaining: 2, recordsReplayed: 900, bytesReplayed: 12345,
        recordsFiltered: 3, recordsOutsideWindow: 4, untaggedOversize: 0, throttles: 6, failed: 0, putCalls: 9, rateLimitedMs: 10,
      },
    };
    const doc = replayEmf(result, { stateMachineName: 'orders-replay', timestamp: 1 }) as Record<string, any>;
    expect(doc._aws).toEqual({
      Timestamp: 1,
      CloudWatchMetrics: [{
        Namespace: EMF_NAMESPACE,
        Dimensions: [['ReplayStateMachine']],
        Metrics: [
          { Name: 'RecordsReplayed', Unit: 'Count' },
          { Name: 'BytesReplayed', Unit: 'Bytes' },
          { Name: 'ObjectsDone', Unit: 'Count' },
          { Name: 'ObjectsRemaining', Unit: 'Count' },
          { Name: 'Throttles', Unit: 'Count' },
        ],
      }],
    });
    expect(EMF_NAMESPACE).toBe('StreamingPipelines/Replay');
    expect(doc).toEqual(expect.objectContaining({
      ReplayStateMachine: 'orders-replay', RecordsReplayed: 900, BytesReplayed: 12345, ObjectsDone: 2, ObjectsRemaining: 2, Throttles: 6,
      ReplayId: 'r-1', Lane: '07', Done: false, recordsFiltered: 3,
    }));
  });
});

describe('handler (index.ts)', () => {
  type IndexModule = typeof import('../../lambda/replay-worker/index');
  const ENV = { STATE_BUCKET: STATE, STATE_PREFIX, REPLAY_STATE_MACHINE_NAME: 'orders-replay', AWS_REGION: 'us-east-1' };
  const load = (env: Record<string, string | undefined>): IndexModule =>
    coldRequire<IndexModule>(path.join(__dirname, '..', '..', 'lambda', 'replay-worker', 'index'), onlyEnv(Object.keys(ENV), env));
  const context = { getRemainingTimeInMillis: () => 900_000 };
  const event = { replayId: 'replay-1', archiveBucket: ARCHIVE, archivePrefix: PREFIX, lane: 3, fromMs: new Date(T0).toISOString(), toMs: T0 + HOUR, targetStream: STREAM, rate: { recordsPerSecond: 1e9, bytesPerSecond: 1e12 }, tagging: 'none', stateBucket: 'ignored', statePrefix: 'ignored/' };

  beforeEach(() => jest.spyOn(console, 'log').mockImplementation(() => undefined));
  afterEach(() => jest.restoreAllMocks());

  test('fails at init without STATE_BUCKET or REPLAY_STATE_MACHINE_NAME', () => {
    expect(() => load({ AWS_REGION: 'us-east-1' })).toThrow(/STATE_BUCKET is required.*REPLAY_STATE_MACHINE_NAME is required/);
    expect(() => parseWorkerConfig({ STATE_BUCKET: 'b', STATE_PREFIX: 'no-slash', REPLAY_STATE_MACHINE_NAME: 'x' })).toThrow(/STATE_PREFIX/);
  });

  test('event → input: lane number and ISO time accepted, the state location only from the environment', () => {
    const config = parseWorkerConfig(ENV);
    expect(toReplayInput(event, config)).toEqual(expect.objectContaining({ lane: '03', fromMs: T0, stateBucket: STATE, statePrefix: STATE_PREFIX }));
  });

  test('one EMF line per invocation; the next lane state is returned; a failure throws ReplayWorkerError after logging', async () => {
    const { createHandler, ReplayWorkerError } = load(ENV);
    const w = world();
    generate(w, { seed: 101, hours: 1, perHour: 20, objectsPerHour: 2, keys: 3 });
    const handler = createHandler(makeIo(w), parseWorkerConfig(ENV), fast);
    const result = await handler(event, context);
    // The state machine's loop state: the work item as received, done, cursor, and running totals.
    expect(result).toEqual(expect.objectContaining({ ...event, done: true, replayId: 'replay-1', totals: expect.objectContaining({ recordsReplayed: 20, invocations: 1 }) }));
    const again = await handler(result, context);
    expect(again).toEqual(expect.objectContaining({ done: true, totals: expect.objectContaining({ recordsReplayed: 20, objectsSkipped: 0, invocations: 2 }) }));
    expect(w.state.has(doneMarkerKey(STATE_PREFIX, 'replay-1', [...w.archive.keys()][0]))).toBe(true);

    const poisoned = createHandler(makeIo(w, { failEntry: () => 'InternalFailure' }), parseWorkerConfig(ENV), { ...fast, put: { maxAttempts: 2 } });
    const error = await poisoned({ ...event, replayId: 'replay-2' }, context).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReplayWorkerError);
    expect((error as Error).name).toBe('ReplayWorkerError');
    expect((error as Error).message).toMatch(/^RecordsFailed: /);

    const lines = (console.log as jest.Mock).mock.calls.map(([l]) => JSON.parse(l as string));
    expect(lines).toHaveLength(3);
    expect(lines[0]).toEqual(expect.objectContaining({ ReplayStateMachine: 'orders-replay', ReplayId: 'replay-1', RecordsReplayed: 20, Done: true }));
    expect(lines[2]).toEqual(expect.objectContaining({ ReplayId: 'replay-2', ErrorCode: 'RecordsFailed', RecordsReplayed: 0 }));
    expect(JSON.stringify(lines)).not.toContain('event_id'); // no record data in logs
  });

  test('the S3 adapter: paginated listing, gunzip (multi-member) split into lines, NoSuchKey as absent, JSON puts', async () => {
    const { s3Io } = load(ENV);
    const objects = new Map<string, Buffer>();
    const gz = Buffer.concat([gzipSync('{"a":1}\n{"b":'), gzipSync('2}\nlast-without-newline')]);
    objects.set('archive/x.jsonl.gz', gz);
    for (let n = 0; n < 5; n++) objects.set(`list/k${n}`, Buffer.from(''));
    const sent: { name: string; input: Record<string, unknown> }[] = [];
    const body = (b: Buffer) => ({ transformToByteArray: async () => new Uint8Array(b), transformToString: async () => b.toString('utf8') });
    const fakeS3 = {
      send: async (command: { constructor: { name: string }; input: Record<string, any> }) => {
        const name = command.constructor.name;
        const { input: i } = command;
        sent.push({ name, input: i });
        if (name === 'ListObjectsV2Command') {
          const keys = [...objects.keys()].filter((k) => k.startsWith(i.Prefix)).sort();
          const start = i.ContinuationToken ? Number(i.ContinuationToken) : 0;
          const page = keys.slice(start, start + 2);
          const more = start + 2 < keys.length;
          return { Contents: page.map((Key) => ({ Key })), IsTruncated: more, ...(more ? { NextContinuationToken: String(start + 2) } : {}) };
        }
        if (name === 'GetObjectCommand') {
          const b = objects.get(i.Key);
          if (!b) throw Object.assign(new Error('The specified key does not exist.'), { name: 'NoSuchKey', $metadata: { httpStatusCode: 404 } });
          return { Body: body(b) };
        }
        if (name === 'PutObjectCommand') {
          objects.set(i.Key, Buffer.from(i.Body));
          return {};
        }
        throw new Error(`unexpected ${name}`);
      },
    };
    const s3 = s3Io(fakeS3 as never);
    expect(await s3.listKeys('b', 'list/')).toEqual(['list/k0', 'list/k1', 'list/k2', 'list/k3', 'list/k4']);
    expect(sent.filter((c) => c.name === 'ListObjectsV2Command')).toHaveLength(3);
    const lines: string[] = [];
    for await (const l of s3.readLines('b', 'archive/x.jsonl.gz')) lines.push(l);
    expect(lines).toEqual(['{"a":1}', '{"b":2}', 'last-without-newline']);
    expect(await s3.getState('b', 'missing')).toBeUndefined();
    await s3.putState('b', 'state/x', '{"ok":true}');
    expect(await s3.getState('b', 'state/x')).toBe('{"ok":true}');
    expect(sent.find((c) => c.name === 'PutObjectCommand')!.input).toEqual(expect.objectContaining({ ContentType: 'application/json' }));
    // Other errors are not "absent".
    const denied = s3Io({ send: async () => { throw Object.assign(new Error('Access Denied'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } }); } } as never);
    await expect(denied.getState('b', 'k')).rejects.toThrow(/Access Denied/);
  });
});
