/**
 * Pure fixtures for test/integration/replay-archive.test.ts: the source
 * records (seeded), the simulated arrival timeline, Firehose's invocation
 * batches and buffer flushes for the archive delivery, and the fault-injecting
 * PutRecords wrappers. No I/O here; the test binds it to kinesalite and s3rver.
 */
import { createHash } from 'node:crypto';
import { prng } from '../../bench/prng';
import { encodeKplAggregate, KPL_MAGIC } from '../../lambda/shared/kpl-encode';
import type { PutRecordsInput, PutRecordsOutput, PutRecordsSend } from '../../lambda/shared/put-records-packer';

// ---------------------------------------------------------------- source records

export type PayloadKind = 'json' | 'json-pretty' | 'text-lines' | 'binary' | 'large' | 'kpl-magic' | 'archive-line' | 'empty';

/** One user record: what a producer wrote, byte for byte. `id` is its position in the producer's order. */
export interface UserRecord {
  readonly id: number;
  readonly partitionKey: string;
  readonly data: Buffer;
  readonly kind: PayloadKind;
}

/** One Kinesis record: a plain user record, or a KPL aggregate of several user records of ONE key. */
export interface KinesisPut {
  readonly partitionKey: string;
  readonly data: Buffer;
  readonly aggregated: boolean;
  readonly users: readonly UserRecord[];
}

/** 40 partition keys: ASCII, multi-byte UTF-8, emoji, a slash, spaces, and a 256-character key (the Kinesis maximum). */
export function partitionKeys(): string[] {
  const special = ['région-é', '租户-c', '😀-d', 'key with spaces', 'tenant/with/slash', `long-${'x'.repeat(251)}`];
  return [...special, ...Array.from({ length: 34 }, (_, i) => `user-${String(i).padStart(2, '0')}`)];
}

function idBytes(id: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(id);
  return b;
}

function randomBytes(rand: () => number, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rand() * 256);
  return b;
}

/**
 * ~`count` user records over `keys` partition keys with Zipf-like weights, so
 * a few keys are hot. Payload mix: JSON; pretty-printed JSON (raw '\n');
 * text with LF, CRLF and blank lines; random binary (0x00, 0x0a, 0xff…, not
 * UTF-8); 20-60 KiB JSON (every 97th); bytes that start with the KPL magic but are no
 * aggregate; a payload that is itself an archive line; and one empty payload
 * (near `emptyAtFraction` of the producer's order).
 * Every payload but the empty one embeds its id, so (key, bytes) identifies a record.
 * About 3% of Kinesis records are KPL aggregates of 2-5 records of one key.
 */
export function generateSource(seed: number, count: number, emptyAtFraction: number): { keys: string[]; puts: KinesisPut[]; users: UserRecord[] } {
  const rand = prng(seed);
  const keys = partitionKeys();
  const weights = keys.map((_, i) => 1 / (i + 1) ** 0.5);
  // Shuffle the weights so the hot keys are not always the special ones.
  for (let i = weights.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [weights[i], weights[j]] = [weights[j], weights[i]];
  }
  const total = weights.reduce((s, w) => s + w, 0);
  const pickKey = (): string => {
    let r = rand() * total;
    for (let i = 0; i < keys.length; i++) {
      r -= weights[i];
      if (r < 0) return keys[i];
    }
    return keys[keys.length - 1];
  };
  const perKey = new Map<string, number>();
  const users: UserRecord[] = [];
  const emptyAt = Math.floor(count * emptyAtFraction) + Math.floor(rand() * 10);

  const makeUser = (partitionKey: string, inAggregate: boolean): UserRecord => {
    const id = users.length;
    const n = perKey.get(partitionKey) ?? 0;
    perKey.set(partitionKey, n + 1);
    const eventId = `e-${String(id).padStart(6, '0')}`;
    const base = { event_id: eventId, key: partitionKey, n, amount: Math.round(rand() * 100_000) / 100, note: 'quote " backslash \\ tab \t ü€😀' };
    const r = rand();
    let kind: PayloadKind;
    let data: Buffer;
    if (id === emptyAt && !inAggregate) {
      kind = 'empty';
      data = Buffer.alloc(0);
    } else if (id % 97 === 13) {
      kind = 'large';
      data = Buffer.from(JSON.stringify({ ...base, pad: 'y'.repeat(20_000 + Math.floor(rand() * 40_000)) }), 'utf8');
    } else if (r < 0.5) {
      kind = 'json';
      data = Buffer.from(JSON.stringify(base), 'utf8');
    } else if (r < 0.63) {
      kind = 'json-pretty';
      data = Buffer.from(`${JSON.stringify({ ...base, nested: { lines: ['a', 'b'] } }, null, 2)}\n`, 'utf8');
    } else if (r < 0.73) {
      kind = 'text-lines';
      data = Buffer.from(`event ${eventId}\nsecond line\r\nthird ü€😀\n\n${'z'.repeat(Math.floor(rand() * 300))}\n`, 'utf8');
    } else if (r < 0.9) {
      kind = 'binary';
      const body = randomBytes(rand, 1 + Math.floor(rand() * 1200));
      // Make sure the bytes hold newlines, NULs and bytes that are never UTF-8.
      data = Buffer.concat([Buffer.from([0xff, 0x0a, 0x00, 0xfe, 0x0d, 0x0a]), idBytes(id), body]);
    } else if (r < 0.95) {
      kind = 'kpl-magic';
      data = Buffer.concat([Buffer.from(KPL_MAGIC), idBytes(id), randomBytes(rand, 40)]);
    } else {
      kind = 'archive-line';
      data = Buffer.from(`${JSON.stringify({ partition_key: 'fake', sequence_number: '1', sub_sequence_number: 0, approximate_arrival_timestamp: 0, shard_id: 'x', data: Buffer.from(eventId).toString('base64') })}\n`, 'utf8');
    }
    const user: UserRecord = { id, partitionKey, data, kind };
    users.push(user);
    return user;
  };

  const puts: KinesisPut[] = [];
  while (users.length < count) {
    const partitionKey = pickKey();
    if (rand() < 0.03 && users.length + 5 < count && users.length !== emptyAt) {
      const n = 2 + Math.floor(rand() * 4);
      const members = Array.from({ length: n }, () => makeUser(partitionKey, true));
      const data = encodeKplAggregate(members.map((u) => ({ data: u.data, partitionKey })));
      puts.push({ partitionKey, data, aggregated: true, users: members });
    } else {
      const u = makeUser(partitionKey, false);
      puts.push({ partitionKey, data: u.data, aggregated: false, users: [u] });
    }
  }
  return { keys, puts, users };
}

/**
 * Simulated arrival times for `n` Kinesis records in put order: sorted uniform
 * times in [startMs, endMs), then each of `boundaries` B made sharp: the first
 * record at or after B arrives exactly at B and the one before it at B - 1 ms.
 * Non-decreasing, so every shard's arrival times follow its sequence numbers.
 */
export function arrivalTimeline(seed: number, n: number, startMs: number, endMs: number, boundaries: readonly number[]): number[] {
  const rand = prng(seed ^ 0x5eed);
  const t = Array.from({ length: n }, () => startMs + Math.floor(rand() * (endMs - startMs))).sort((a, b) => a - b);
  for (const b of boundaries) {
    const k = t.findIndex((x) => x >= b);
    if (k <= 0) throw new Error(`boundary ${new Date(b).toISOString()} is not inside the timeline`);
    t[k] = b;
    if (k >= 2 && t[k - 2] > b - 1) throw new Error('boundaries too close together');
    t[k - 1] = b - 1;
  }
  return t;
}

// ---------------------------------------------------------------- Firehose

/** A Kinesis record as read back from the source stream, with its simulated arrival. */
export interface SourceRecord {
  readonly put: KinesisPut;
  readonly shardId: string;
  readonly sequenceNumber: string;
  /** Simulated ApproximateArrivalTimestamp, epoch ms. */
  readonly arrival: number;
}

export interface FirehoseSourceRecord {
  recordId: string;
  approximateArrivalTimestamp: number;
  data: string;
  kinesisRecordMetadata: { shardId: string; partitionKey: string; approximateArrivalTimestamp: number; sequenceNumber: string; subsequenceNumber: number | '' };
}

/** One transformation invocation, with the user record behind each of its records. */
export interface Invocation {
  readonly records: FirehoseSourceRecord[];
  readonly users: UserRecord[];
}

/** One buffer flush of the delivery stream: its invocations, and when its objects are written. */
export interface Flush {
  readonly invocations: Invocation[];
  /** When Firehose names the objects, epoch ms (`…-YYYY-MM-DD-HH-MM-SS-<uuid>`). */
  readonly createdAt: number;
}

export interface FirehoseOptions {
  /** Buffer interval of the delivery (ArchiveDelivery's bufferingInterval). */
  readonly flushMs: number;
  /** The processor's buffer: 1 MiB or 60 s per invocation (ArchiveDelivery's LambdaFunctionProcessor). */
  readonly invocationMs: number;
  readonly invocationBytes: number;
}

/**
 * What Firehose does with a Kinesis source before the processor: reads the
 * shards (merged by arrival; each shard stays in sequence order),
 * DE-AGGREGATES KPL records (one Firehose record per user record, with its
 * subsequence number; '' for a plain record), buffers per flush interval, and
 * invokes the processor with batches of at most `invocationMs` of arrivals and
 * `invocationBytes`. Firehose's own arrival time (top-level
 * approximateArrivalTimestamp) lags the Kinesis arrival by 1-5 s, so a
 * processor that picked the wrong one would misplace records around the window edges.
 */
export function firehoseFlushes(seed: number, records: readonly SourceRecord[], deaggregate: (put: KinesisPut) => UserRecord[], options: FirehoseOptions): Flush[] {
  const rand = prng(seed ^ 0xf12e);
  // Stable: ties keep put order, which is sequence order within a shard.
  const ordered = records.map((r, i) => ({ r, i })).sort((a, b) => a.r.arrival - b.r.arrival || a.i - b.i).map(({ r }) => r);
  const flushes: Flush[] = [];
  let boundary = Math.floor(ordered[0].arrival / options.flushMs) * options.flushMs + options.flushMs + Math.floor(rand() * 30_000);
  let pending: SourceRecord[] = [];
  const close = (): void => {
    if (pending.length > 0) flushes.push({ invocations: invocations(pending), createdAt: boundary + 5_000 + Math.floor(rand() * 40_000) });
    pending = [];
  };
  const invocations = (batch: SourceRecord[]): Invocation[] => {
    const out: Invocation[] = [];
    let current: Invocation = { records: [], users: [] };
    let firstArrival = batch[0].arrival;
    let bytes = 0;
    for (const r of batch) {
      const users = deaggregate(r.put);
      const size = users.reduce((s, u) => s + u.data.length, 0);
      if (current.records.length > 0 && (r.arrival - firstArrival >= options.invocationMs || bytes + size > options.invocationBytes)) {
        out.push(current);
        current = { records: [], users: [] };
        firstArrival = r.arrival;
        bytes = 0;
      }
      const lag = 1_000 + Math.floor(rand() * 4_000);
      users.forEach((u, sub) => {
        current.records.push({
          recordId: `${r.sequenceNumber}${String(sub).padStart(6, '0')}`,
          approximateArrivalTimestamp: r.arrival + lag,
          data: u.data.toString('base64'),
          kinesisRecordMetadata: {
            shardId: r.shardId,
            partitionKey: u.partitionKey,
            approximateArrivalTimestamp: r.arrival,
            sequenceNumber: r.sequenceNumber,
            subsequenceNumber: r.put.aggregated ? sub : '',
          },
        });
        current.users.push(u);
      });
      bytes += size;
    }
    if (current.records.length > 0) out.push(current);
    return out;
  };
  for (const r of ordered) {
    while (r.arrival >= boundary) {
      close();
      boundary += options.flushMs;
    }
    pending.push(r);
  }
  close();
  return flushes;
}

/** Firehose's object name: `<deliveryStream>-1-YYYY-MM-DD-HH-MM-SS-<uuid>` (the uuid seeded, so runs repeat). */
export function objectName(deliveryStream: string, createdAt: number, rand: () => number): string {
  const t = new Date(createdAt).toISOString();
  const stamp = `${t.slice(0, 10)}-${t.slice(11, 13)}-${t.slice(14, 16)}-${t.slice(17, 19)}`;
  const hex = Array.from({ length: 32 }, () => Math.floor(rand() * 16).toString(16)).join('');
  return `${deliveryStream}-1-${stamp}-${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

// ---------------------------------------------------------------- PutRecords wrappers

/** A 32-bit seed from a string (for per-entry, per-attempt decisions independent of call interleaving). */
export function hash32(text: string): number {
  return createHash('sha256').update(text).digest().readUInt32BE(0);
}

export interface ThrottleStats {
  /** Entries answered ProvisionedThroughputExceededException (never sent). */
  throttled: number;
  /** Entries that passed only because they had already been throttled `maxConsecutive` times in a row. */
  capped: number;
  calls: number;
}

/**
 * Marks a seeded-random `share` of the entries of every call
 * ProvisionedThroughputExceededException WITHOUT sending them, and sends the
 * rest, answering in request order as PutRecords does. The decision for an
 * entry's n-th send is a hash of (seed, partition key, bytes, n), so it does
 * not depend on how the lanes' calls interleave. An entry is never throttled
 * more than `maxConsecutive` times in a row: with the sender's 6 attempts, a
 * longer run would exhaust them, and exhaustion is its own scenario.
 */
export function throttling(send: PutRecordsSend, seed: number, share: number, maxConsecutive: number, stats: ThrottleStats): PutRecordsSend {
  const attempts = new Map<string, number>();
  return async (input: PutRecordsInput): Promise<PutRecordsOutput> => {
    stats.calls++;
    const verdicts = input.Records.map((r) => {
      const id = createHash('sha256').update(r.PartitionKey).update('\u0000').update(r.Data).digest('hex');
      const n = attempts.get(id) ?? 0;
      let throttle = prng(hash32(`${seed}:${id}:${n}`))() < share;
      if (throttle && n >= maxConsecutive) {
        throttle = false;
        stats.capped++;
      }
      attempts.set(id, throttle ? n + 1 : 0);
      return throttle;
    });
    const toSend = input.Records.filter((_, i) => !verdicts[i]);
    const sent = toSend.length > 0 ? await send({ ...input, Records: toSend }) : { FailedRecordCount: 0, Records: [] };
    const results = sent.Records ?? [];
    if (results.length !== toSend.length) throw new Error(`PutRecords answered ${results.length} results for ${toSend.length} records`);
    let next = 0;
    const Records = input.Records.map((_, i) => {
      if (!verdicts[i]) return results[next++];
      stats.throttled++;
      return { ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: 'Rate exceeded for shard shardId-000000000000 in stream replay-target under account 000000000000.' };
    });
    return { FailedRecordCount: (sent.FailedRecordCount ?? 0) + verdicts.filter(Boolean).length, Records };
  };
}
