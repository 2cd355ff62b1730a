/**
 * KPL de-aggregation: lambda/shared/kpl.ts against aws-kinesis-agg, the npm
 * package most Node consumers use.
 *
 *   kpl-deaggregate   decode time of the same aggregates, Lambda Kinesis payload (base64) → user records
 *   kpl-bundle        esbuild bundle size of a handler entry importing each decoder
 *
 * Both decoders verify the MD5 and start from the base64 string Lambda delivers,
 * and each returns records in its own shape (ours: Buffer views; aws-kinesis-agg:
 * base64 strings), as a handler would receive them.
 */
import { buildSync } from 'esbuild';
import { resolve } from 'node:path';
import * as kinesisAgg from 'aws-kinesis-agg';
import { deaggregate } from '../lambda/shared/kpl';
import { prng } from './prng';

const ROOT = resolve(__dirname, '..');
const AGGREGATES = 200;
const RECORDS_PER_AGGREGATE = 50;
const TARGET_RECORD_BYTES = 200;
const WARMUP_ROUNDS = 5;
const ROUNDS = 21;

/** A Lambda Kinesis event record's `kinesis` payload. */
type Payload = Parameters<typeof kinesisAgg.deaggregateSync>[0];


function userRecord(rand: () => number, i: number): { partitionKey: string; data: Buffer } {
  const doc = {
    event_id: `evt-${i.toString(16).padStart(8, '0')}`,
    ts: `2024-06-01T${String(Math.floor(rand() * 24)).padStart(2, '0')}:${String(Math.floor(rand() * 60)).padStart(2, '0')}:00Z`,
    region: ['eu-west-1', 'us-east-1', 'ap-south-1'][Math.floor(rand() * 3)],
    tenant: `tenant-${Math.floor(rand() * 20)}`,
    amount: Math.round(rand() * 100000) / 100,
    note: '',
  };
  doc.note = 'n'.repeat(Math.max(0, TARGET_RECORD_BYTES - JSON.stringify(doc).length));
  return { partitionKey: `device-${Math.floor(rand() * 1e6)}`, data: Buffer.from(JSON.stringify(doc)) };
}

/** Aggregates built by aws-kinesis-agg's own encoder (not ours), shaped as Lambda delivers them. */
async function makePayloads(): Promise<{ payloads: Payload[]; userBytes: number }> {
  const rand = prng(2024);
  const payloads: Payload[] = [];
  let userBytes = 0;
  for (let a = 0; a < AGGREGATES; a++) {
    const records = Array.from({ length: RECORDS_PER_AGGREGATE }, (_, i) => userRecord(rand, a * RECORDS_PER_AGGREGATE + i));
    for (const r of records) userBytes += r.data.length;
    const encoded = await new Promise<{ partitionKey: string; data: Buffer }[]>((done, fail) => {
      const out: { partitionKey: string; data: Buffer }[] = [];
      kinesisAgg.aggregate(records, (e, next) => { out.push(e); next(); }, () => done(out), (err) => fail(err));
    });
    if (encoded.length !== 1) throw new Error(`expected one aggregate per ${RECORDS_PER_AGGREGATE} records, got ${encoded.length}`);
    payloads.push({
      kinesisSchemaVersion: '1.0',
      partitionKey: encoded[0].partitionKey,
      sequenceNumber: `4959033827149025660855969253836157109592157598913658${String(a).padStart(4, '0')}`,
      data: encoded[0].data.toString('base64'),
      approximateArrivalTimestamp: 1717236000,
    });
  }
  return { payloads, userBytes };
}

function ours(payloads: readonly Payload[]): number {
  let n = 0;
  for (const p of payloads) n += deaggregate(Buffer.from(p.data, 'base64'), p.partitionKey).records.length;
  return n;
}

function theirs(payloads: readonly Payload[]): number {
  let n = 0;
  for (const p of payloads) {
    kinesisAgg.deaggregateSync(p, true, (err, records) => {
      if (err) throw err;
      n += records!.length;
    });
  }
  return n;
}

function timeMs(fn: () => number, expected: number): number {
  const t = process.hrtime.bigint();
  const n = fn();
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (n !== expected) throw new Error(`decoded ${n} user records, expected ${expected}`);
  return ms;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const round = (x: number, digits = 3): number => Number(x.toFixed(digits));

function bundleBytes(contents: string): number {
  const result = buildSync({
    stdin: { contents, resolveDir: ROOT, sourcefile: 'entry.ts', loader: 'ts' },
    absWorkingDir: ROOT,
    bundle: true,
    minify: true,
    platform: 'node',
    target: 'node22',
    format: 'cjs',
    write: false,
    logLevel: 'silent',
  });
  return result.outputFiles[0].contents.length;
}

export async function benchKpl(bench: (name: string, figures: Record<string, unknown>) => void): Promise<void> {
  const { payloads, userBytes } = await makePayloads();
  const records = AGGREGATES * RECORDS_PER_AGGREGATE;
  for (let w = 0; w < WARMUP_ROUNDS; w++) {
    timeMs(() => ours(payloads), records);
    timeMs(() => theirs(payloads), records);
  }
  // Interleaved so both see the same machine load.
  const oursMs: number[] = [];
  const theirsMs: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    oursMs.push(timeMs(() => ours(payloads), records));
    theirsMs.push(timeMs(() => theirs(payloads), records));
  }
  const oursMedian = median(oursMs);
  const theirsMedian = median(theirsMs);
  bench('kpl-deaggregate', {
    records,
    aggregates: AGGREGATES,
    ours_ms: round(oursMedian),
    aws_kinesis_agg_ms: round(theirsMedian),
    ratio: round(theirsMedian / oursMedian, 2), // > 1: ours is that many times faster
    avg_user_record_bytes: Math.round(userBytes / records),
    avg_aggregate_bytes: Math.round(payloads.reduce((n, p) => n + Buffer.byteLength(p.data, 'base64'), 0) / payloads.length),
    rounds: ROUNDS,
  });

  bench('kpl-bundle', {
    ours_bytes: bundleBytes("export { deaggregate } from './lambda/shared/kpl';"),
    aws_kinesis_agg_bytes: bundleBytes("export { deaggregateSync } from 'aws-kinesis-agg';"),
  });
}
