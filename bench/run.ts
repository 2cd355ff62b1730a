/**
 * `npm run bench`: one `BENCH {json}` line per figure on stdout (progress goes to stderr).
 * Loopback only: every server and proxy binds 127.0.0.1 on an ephemeral port, and every client points there.
 *
 *   firehose-transform.bundle        size of the shipped asset (bytes, gzip bytes)
 *   firehose-transform.module_init   require() of the bundled asset in fresh node processes
 *   firehose-transform.core          transformBatch throughput on 500-record batches of ~1 KB JSON
 *   firehose-transform.handler       the bundled handler end to end (decode, transform, budget, log line)
 *   json-rewrite.floor               base64 → JSON.parse → JSON.stringify → base64 on the same batches: the floor core is compared with
 *   app.synth                        bin/app.ts synthesized with all five cdk-nag packs
 *   (bench/kpl.ts, bench/hot-path.ts, bench/archive.ts and bench/replay.ts describe their own figures:
 *    kpl-deaggregate, hot-path-vs-powertools, hot-path-vs-powertools.rtt4ms, ddb-requests-per-1000,
 *    raw-floor-overhead, bundle, archive-processor, replay-packing, replay-rate)
 *   fraud-vs-naive                   bench/fraud.ts: the fraud scorer against a naive per-event read-modify-write engine
 *                                    (bench/fraud-naive.ts) on the same 1,000-event batches, ms and DynamoDB API calls
 *                                    per 1,000 events, zero delay and 4 ms per request; their results and alerts compared
 *   fraud-scorer                     bench/fraud-scorer.ts: the scorer's Lambda adapter against dynalite: events/s,
 *                                    p50/p99 ms per 1,000-event batch, API calls per 1,000 events, tumbling and hopping,
 *                                    zero delay and 4 ms per request
 *
 * `.rtt4ms` figures put a loopback latency proxy (test/support/latency-proxy.ts) between the SDK client and dynalite,
 * holding every request BENCH_RTT_MS (default 4, like DynamoDB's in-region round trip; the name follows the value).
 * BENCH_ONLY=<part>[,<part>...] runs only those parts: firehose, kpl, hot-path (hot-path.idempotent, hot-path.rtt,
 * hot-path.floor, hot-path.bundles), archive, replay, fraud (fraud.naive, fraud.scorer), synth.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { parseConfig, transformBatch, type SourceRecord } from '../lambda/firehose-transform/core';
import { benchArchiveProcessor } from './archive';
import { benchFraud } from './fraud-bench';
import { benchHotPath } from './hot-path';
import { benchKpl } from './kpl';
import { wanted } from './local-ddb';
import { prng } from './prng';
import { benchReplay } from './replay';

const ROOT = resolve(__dirname, '..');
const ASSET = join(ROOT, 'assets', 'lambda', 'firehose-transform', 'index.js');

const INIT_RUNS = 30;
const BATCH_SIZE = 500;
const DISTINCT_BATCHES = 8;
const WARMUP_ROUNDS = 5;
const MEASURE_MS = 3000;

const HANDLER_ENV: Record<string, string> = {
  EVENT_TIME_FIELD: 'event.ts',
  EVENT_TIME_FORMAT: 'iso8601',
  EVENT_TIME_GRANULARITY: 'hour',
  EVENT_TIME_PROJECTION_START: '2020-01-01',
  EVENT_TIME_MAX_FUTURE_SECONDS: '3600',
  PARTITION_FIELDS: JSON.stringify({ p_region: 'region', p_tenant: 'tenant' }),
  FLATTEN_FIELDS: JSON.stringify({ user_id: 'user.id', device_os: 'device.os' }),
};

function bench(name: string, figures: Record<string, unknown>): void {
  process.stdout.write(`BENCH ${JSON.stringify({ name, ...figures })}\n`);
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

const round = (x: number, digits = 3): number => Number(x.toFixed(digits));


const OFFSETS = ['Z', '+00:00', '-05:00', '-04:00', '+01:00', '+02:00', '+05:30', '-0800', '+09', '-03:30'];
const REGIONS = ['eu-west-1', 'eu-central-1', 'us-east-1', 'us-west-2', 'ap-south-1'];
const TARGET_RECORD_BYTES = 1024;

function makeRecord(rand: () => number, i: number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const two = (n: number): string => String(n).padStart(2, '0');
  const ts = `2024-${two(1 + Math.floor(rand() * 12))}-${two(1 + Math.floor(rand() * 28))}T${two(Math.floor(rand() * 24))}:${two(Math.floor(rand() * 60))}:${two(Math.floor(rand() * 60))}.${String(Math.floor(rand() * 1000)).padStart(3, '0')}${pick(OFFSETS)}`;
  const doc = {
    event_id: `evt-${i.toString(16).padStart(8, '0')}-${Math.floor(rand() * 1e12).toString(36)}`,
    event: { ts, type: pick(['page_view', 'click', 'purchase', 'signup']), source: 'web' },
    region: pick(REGIONS),
    tenant: `tenant-${Math.floor(rand() * 20)}`,
    user: { id: `u-${Math.floor(rand() * 1e9)}`, segment: pick(['free', 'pro', 'enterprise']), locale: pick(['en-GB', 'de-DE', 'fr-FR', 'ja-JP']) },
    device: { os: pick(['ios', 'android', 'windows', 'macos']), version: `${Math.floor(rand() * 20)}.${Math.floor(rand() * 10)}`, id: `d-${Math.floor(rand() * 1e9)}` },
    amount: Math.round(rand() * 100000) / 100,
    items: Array.from({ length: 3 }, (_, k) => ({ sku: `sku-${Math.floor(rand() * 1e6)}`, qty: 1 + k, price: Math.round(rand() * 10000) / 100 })),
    note: '',
  };
  const without = JSON.stringify(doc).length;
  doc.note = 'n'.repeat(Math.max(0, TARGET_RECORD_BYTES - without));
  return JSON.stringify(doc);
}

function makeBatches(): SourceRecord[][] {
  const rand = prng(42);
  return Array.from({ length: DISTINCT_BATCHES }, (_, b) => Array.from({ length: BATCH_SIZE }, (_, i) => ({
    recordId: `4954698668313554428650745793632162567570019247115678${String(b * BATCH_SIZE + i).padStart(4, '0')}`,
    payload: Buffer.from(makeRecord(rand, b * BATCH_SIZE + i)).toString('base64'),
    payloadField: 'data' as const,
  })));
}

function benchBundle(): void {
  const bytes = readFileSync(ASSET);
  bench('firehose-transform.bundle', { bytes: bytes.length, gzip_bytes: gzipSync(bytes, { level: 9 }).length });
}

function benchModuleInit(): void {
  // Measured inside the child, around require() only: excludes node's own start-up.
  const child = (file: string): string =>
    `const t=process.hrtime.bigint();require(${JSON.stringify(file)});process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6));`;
  // An empty module, required the same way, separates the loader's fixed cost from the handler's.
  const dir = mkdtempSync(join(tmpdir(), 'bench-init-'));
  const empty = join(dir, 'empty.js');
  writeFileSync(empty, '');
  const env = { PATH: process.env.PATH ?? '', ...HANDLER_ENV };
  const measure = (file: string): number => {
    const r = spawnSync(process.execPath, ['-e', child(file)], { env, encoding: 'utf8', timeout: 10_000 });
    if (r.status !== 0) throw new Error(`module-init child failed (status ${r.status}): ${r.stderr}`);
    return Number(r.stdout);
  };
  const samples: number[] = [];
  const baseline: number[] = [];
  try {
    for (let i = 0; i < INIT_RUNS + 2; i++) {
      // Interleaved so both series see the same machine load; the first two runs warm the file cache.
      const a = measure(ASSET);
      const b = measure(empty);
      if (i >= 2) {
        samples.push(a);
        baseline.push(b);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  samples.sort((a, b) => a - b);
  baseline.sort((a, b) => a - b);
  bench('firehose-transform.module_init', {
    runs: samples.length,
    median_ms: round(percentile(samples, 0.5)),
    p95_ms: round(percentile(samples, 0.95)),
    min_ms: round(samples[0]),
    max_ms: round(samples[samples.length - 1]),
    empty_module_median_ms: round(percentile(baseline, 0.5)),
    node: process.version,
  });
}

/** Runs `fn` over the batches for WARMUP_ROUNDS, then for about MEASURE_MS; returns records/s figures. */
function throughput(batches: readonly SourceRecord[][], fn: (batch: readonly SourceRecord[]) => number): Record<string, number> {
  let sink = 0;
  for (let w = 0; w < WARMUP_ROUNDS; w++) for (const b of batches) sink += fn(b);
  const batchMs: number[] = [];
  let records = 0;
  const start = process.hrtime.bigint();
  let elapsedNs = 0;
  while (elapsedNs < MEASURE_MS * 1e6) {
    for (const b of batches) {
      const t = process.hrtime.bigint();
      sink += fn(b);
      batchMs.push(Number(process.hrtime.bigint() - t) / 1e6);
      records += b.length;
    }
    elapsedNs = Number(process.hrtime.bigint() - start);
  }
  if (sink === 0) throw new Error('benchmark produced no Ok records; the fixture does not match the config');
  batchMs.sort((a, b) => a - b);
  return {
    records,
    records_per_s: Math.round(records / (elapsedNs / 1e9)),
    ns_per_record: Math.round(elapsedNs / records),
    batch_median_ms: round(percentile(batchMs, 0.5)),
    batch_p95_ms: round(percentile(batchMs, 0.95)),
  };
}

function benchCore(batches: readonly SourceRecord[][], recordBytes: number): void {
  const config = parseConfig(HANDLER_ENV);
  const figures = throughput(batches, (b) => transformBatch(b, config).ok);
  bench('firehose-transform.core', { batch_size: BATCH_SIZE, avg_record_bytes: recordBytes, warmup_rounds: WARMUP_ROUNDS, ...figures });
}

/**
 * The floor any JSON-rewriting transform pays on the same batches: base64 decode,
 * JSON.parse, JSON.stringify, base64 encode, with no validation or partitioning.
 * `core` is measured against it.
 */
function benchFloor(batches: readonly SourceRecord[][], recordBytes: number): void {
  const figures = throughput(batches, (b) => {
    let n = 0;
    for (const r of b) n += Buffer.from(JSON.stringify(JSON.parse(Buffer.from(r.payload, 'base64').toString('utf8'))) + '\n').toString('base64').length > 0 ? 1 : 0;
    return n;
  });
  bench('json-rewrite.floor', { batch_size: BATCH_SIZE, avg_record_bytes: recordBytes, records_per_s: figures.records_per_s, ns_per_record: figures.ns_per_record });
}

async function benchHandler(batches: readonly SourceRecord[][], recordBytes: number): Promise<void> {
  Object.assign(process.env, HANDLER_ENV);
  const { handler } = require(ASSET) as { handler: (e: unknown) => Promise<{ records: { result: string }[] }> };
  const events = batches.map((b) => ({
    invocationId: 'bench',
    deliveryStreamArn: 'arn:aws:firehose:eu-west-1:123456789012:deliverystream/bench',
    region: 'eu-west-1',
    records: b.map((r) => ({ recordId: r.recordId, approximateArrivalTimestamp: 1717236000000, data: r.payload })),
  }));
  // The handler logs one line per invocation; keep stdout for BENCH lines, but still pay for the stringify.
  const log = console.log;
  let logged = 0;
  console.log = (line: string) => { logged += line.length; };
  // Handler is async but does no I/O: await each call to measure it as Lambda would run it.
  let sink = 0;
  const run = async (e: (typeof events)[number]): Promise<number> => (await handler(e)).records.length;
  for (let w = 0; w < WARMUP_ROUNDS; w++) for (const e of events) sink += await run(e);
  const start = process.hrtime.bigint();
  let records = 0;
  let elapsedNs = 0;
  while (elapsedNs < MEASURE_MS * 1e6) {
    for (const e of events) {
      sink += await run(e);
      records += e.records.length;
    }
    elapsedNs = Number(process.hrtime.bigint() - start);
  }
  console.log = log;
  if (sink === 0 || logged === 0) throw new Error('handler benchmark did not run');
  bench('firehose-transform.handler', {
    batch_size: BATCH_SIZE,
    avg_record_bytes: recordBytes,
    records,
    records_per_s: Math.round(records / (elapsedNs / 1e9)),
    ns_per_record: Math.round(elapsedNs / records),
  });
}

/** Wall time of synthesizing bin/app.ts with all five cdk-nag packs, as `npx cdk synth` runs it (minus the CLI). */
function benchAppSynth(): void {
  const RUNS = 3;
  const ms: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const outdir = mkdtempSync(join(tmpdir(), 'bench-synth-'));
    const t = process.hrtime.bigint();
    const r = spawnSync(process.execPath, ['--require', 'ts-node/register/transpile-only', join(ROOT, 'bin', 'app.ts')], {
      cwd: ROOT, env: { ...process.env, CDK_OUTDIR: outdir, TS_NODE_PREFER_TS_EXTS: 'true' }, encoding: 'utf8',
    });
    ms.push(Number(process.hrtime.bigint() - t) / 1e6);
    rmSync(outdir, { recursive: true, force: true });
    if (r.status !== 0) throw new Error(`bin/app.ts synth failed: ${r.stderr}`);
  }
  const sorted = [...ms].sort((a, b) => a - b);
  bench('app.synth', { runs: RUNS, median_ms: Math.round(percentile(sorted, 0.5)), min_ms: Math.round(sorted[0]), stacks: 3, nag_packs: 5 });
}

async function main(): Promise<void> {
  if (!existsSync(ASSET)) {
    process.stderr.write(`bench: ${ASSET} is missing; run \`node scripts/bundle-handlers.mjs\` first\n`);
    process.exit(1);
  }
  const t0 = Date.now();
  if (wanted('firehose')) {
    const batches = makeBatches();
    const recordBytes = Math.round(batches.flat().reduce((n, r) => n + Buffer.from(r.payload, 'base64').length, 0) / (BATCH_SIZE * DISTINCT_BATCHES));
    benchBundle();
    benchModuleInit();
    benchCore(batches, recordBytes);
    benchFloor(batches, recordBytes);
    await benchHandler(batches, recordBytes);
  }
  if (wanted('kpl')) await benchKpl(bench);
  if (wanted('hot-path')) await benchHotPath(bench);
  if (wanted('archive')) await benchArchiveProcessor(bench);
  if (wanted('replay')) await benchReplay(bench);
  if (wanted('fraud')) await benchFraud(bench);
  if (wanted('synth')) benchAppSynth();
  process.stderr.write(`bench: done in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
