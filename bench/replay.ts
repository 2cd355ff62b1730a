/**
 * Replay worker (lambda/replay-worker/core.ts) over an in-memory archive and
 * an in-memory PutRecords that accepts everything, so the figures are the
 * worker's own packing and pacing, not a network's.
 *
 *   replay-packing  records and bytes per PutRecords call against the call limits (500 records, 5 MiB):
 *                   `envelope_fill` is the fill of whichever limit binds, for small records (count-bound)
 *                   and large ones (size-bound)
 *   replay-rate     a lane paced at a target records/s for several seconds of real time: achieved vs target
 */
import { replayLane, type ReplayInput, type ReplayIo } from '../lambda/replay-worker/core';
import { arrivalPartition, bucketLabel, bucketOf, encodeArchiveLine } from '../lambda/shared/archive-format';
import type { PutRecordsInput, PutRecordsOutput } from '../lambda/shared/put-records-packer';
import { prng } from './prng';

type Bench = (name: string, figures: Record<string, unknown>) => void;
const T0 = Date.UTC(2026, 10, 1, 10, 0, 0);
const LANE = '03';
const MAX_CALL_RECORDS = 500;
const MAX_CALL_BYTES = 5 * 1024 * 1024;

interface World {
  /** Object key → its lines, generated on each read. */
  archive: Map<string, () => Iterable<string>>;
  state: Map<string, string>;
  calls: { records: number; bytes: number; at: number }[];
}

/**
 * `count` records of `recordBytes` payload over `keys` partition keys of one lane, in `objects` objects within
 * one hour. Lines are generated when read (deterministically), so large workloads need no memory for them.
 */
function archive(count: number, recordBytes: number, keys: number, objects: number, seed: number): World {
  const laneKeys: string[] = [];
  for (let i = 0; laneKeys.length < keys; i++) {
    const k = `customer-${i}`;
    if (bucketLabel(bucketOf(k)) === LANE) laneKeys.push(k);
  }
  const w: World = { archive: new Map(), state: new Map(), calls: [] };
  const { dt, hour } = arrivalPartition(T0);
  const perObject = Math.ceil(count / objects);
  for (let o = 0; o < objects; o++) {
    const from = o * perObject;
    const to = Math.min(count, (o + 1) * perObject);
    w.archive.set(`archive/dt=${dt}/hour=${hour}/bucket=${LANE}/orders-1-2026-11-01-10-${String(o).padStart(2, '0')}-00-x.jsonl.gz`, function* lines() {
      const rand = prng(seed + o);
      for (let i = from; i < to; i++) {
        const data = Buffer.alloc(recordBytes, 0x61 + (i % 26));
        data.write(`{"event_id":"e${i}","r":${rand()}`);
        yield encodeArchiveLine({
          partition_key: laneKeys[Math.floor(rand() * laneKeys.length)], sequence_number: String(1e20 + i), sub_sequence_number: 0,
          approximate_arrival_timestamp: T0 + i, shard_id: 'shardId-000000000000', data: data.toString('base64'),
        }).slice(0, -1);
      }
    });
  }
  return w;
}

function io(w: World): ReplayIo {
  return {
    listKeys: async (_bucket, prefix) => [...w.archive.keys(), ...w.state.keys()].filter((k) => k.startsWith(prefix)),
    async* readLines(_bucket, key) {
      const lines = w.archive.get(key);
      if (lines) yield* lines();
    },
    getState: async (_bucket, key) => w.state.get(key),
    putState: async (_bucket, key, body) => {
      w.state.set(key, body);
    },
    putRecords: async (input: PutRecordsInput): Promise<PutRecordsOutput> => {
      const bytes = input.Records.reduce((n, r) => n + r.Data.length + Buffer.byteLength(r.PartitionKey), 0);
      w.calls.push({ records: input.Records.length, bytes, at: performance.now() });
      return { FailedRecordCount: 0, Records: input.Records.map((_, i) => ({ SequenceNumber: String(i), ShardId: 'shardId-000000000000' })) };
    },
  };
}

const input = (rate: { recordsPerSecond: number; bytesPerSecond: number }, replayId: string): ReplayInput => ({
  replayId, archiveBucket: 'archive', archivePrefix: 'archive/', lane: LANE, fromMs: T0, toMs: T0 + 3_600_000,
  targetStream: 'arn:aws:kinesis:us-east-1:111122223333:stream/target', rate, tagging: 'kpl-tag', stateBucket: 'state', statePrefix: 'replays/',
});

async function packing(bench: Bench): Promise<void> {
  const unlimited = { recordsPerSecond: 1e9, bytesPerSecond: 1e15 };
  // Object sizes as a lane's Firehose buffer writes them: ~20 MiB of 1 KiB records (300 s of a 1 MiB/s stream's
  // 1/16th), and 128 MiB of 100 KiB records. A replay's very last call is part full by nature; these
  // workloads are long enough (80 and ~120 calls) for it to weigh as it would in a real replay.
  for (const [shape, count, recordBytes, keys, objects] of [['small-records', 40_000, 1024, 4_000, 2], ['large-records', 6_000, 100 * 1024, 2_000, 5]] as const) {
    const w = archive(count, recordBytes, keys, objects, 0xBEEF);
    const result = await replayLane(input(unlimited, `pack-${shape}`), io(w), { remainingTimeMs: () => 900_000 });
    if (result.progress.recordsReplayed !== count) throw new Error(`bench replay-packing: replayed ${result.progress.recordsReplayed}/${count}`);
    const calls = w.calls.length;
    const records = w.calls.reduce((n, c) => n + c.records, 0) / calls;
    const bytes = w.calls.reduce((n, c) => n + c.bytes, 0) / calls;
    const recordFill = records / MAX_CALL_RECORDS;
    const byteFill = bytes / MAX_CALL_BYTES;
    bench('replay-packing', {
      shape, records: count, record_bytes: recordBytes, keys, calls,
      records_per_call: Math.round(records * 10) / 10, bytes_per_call: Math.round(bytes),
      binding_limit: recordFill >= byteFill ? 'records' : 'bytes', envelope_fill: Math.round(Math.max(recordFill, byteFill) * 1000) / 1000,
    });
  }
}

async function rate(bench: Bench): Promise<void> {
  const target = 4000;
  const w = archive(48_000, 512, 1_000, 4, 0xCAFE);
  const t0 = performance.now();
  // Bytes far from binding: the record rate paces the lane. The limiter starts with a one-second burst; the
  // figure is the sustained rate after it (calls from 2 s on), which is what a long replay sees.
  const result = await replayLane(input({ recordsPerSecond: target, bytesPerSecond: 1e12 }, 'rate'), io(w), { remainingTimeMs: () => 900_000 });
  const seconds = (performance.now() - t0) / 1000;
  const steady = w.calls.filter((c) => c.at - t0 >= 2000);
  const steadyRecords = steady.slice(1).reduce((n, c) => n + c.records, 0);
  const achieved = steadyRecords / ((steady[steady.length - 1].at - steady[0].at) / 1000);
  bench('replay-rate', {
    target_rps: target, achieved_rps: Math.round(achieved), ratio: Math.round((achieved / target) * 1000) / 1000,
    records: result.progress.recordsReplayed, seconds: Math.round(seconds * 100) / 100, overall_rps: Math.round(result.progress.recordsReplayed / seconds),
  });
}

export async function benchReplay(bench: Bench): Promise<void> {
  await packing(bench);
  await rate(bench);
}
