/**
 * bundle: minified bundle bytes and require() time of every handler asset, and of the runtime
 * (listed with the hot-path figures in bench/hot-path.ts, which runs it).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildSync } from 'esbuild';
import type { Bench } from './local-ddb';
import { median, round } from './stats';

const ROOT = resolve(__dirname, '..');
const INIT_RUNS = 10;
const SDK_INIT_RUNS = 5;
/** A valid configuration for every handler that reads one at init (firehose-transform, redrive). */
const HANDLER_ENV: Record<string, string> = {
  EVENT_TIME_FIELD: 'ts',
  EVENT_TIME_FORMAT: 'iso8601',
  EVENT_TIME_GRANULARITY: 'hour',
  EVENT_TIME_PROJECTION_START: '2020-01-01',
  EVENT_TIME_MAX_FUTURE_SECONDS: '3600',
  PARTITION_FIELDS: JSON.stringify({ p_region: 'region', p_tenant: 'tenant' }),
  FLATTEN_FIELDS: JSON.stringify({ user_id: 'user.id' }),
  STREAM_ARN: 'arn:aws:kinesis:eu-west-1:123456789012:stream/bench-events',
  // replay-planner and replay-worker
  ARCHIVE_BUCKET: 'bench-archive',
  ARCHIVE_PREFIX: 'archive/',
  STATE_BUCKET: 'bench-state',
  STATE_PREFIX: 'replays/',
  TARGET_STREAMS: JSON.stringify(['arn:aws:kinesis:eu-west-1:123456789012:stream/bench-events']),
  REPLAY_STATE_MACHINE_NAME: 'bench-replay',
};

const log = (line: string): void => {
  process.stderr.write(`bench hot-path: ${line}\n`);
};

export function benchBundles(bench: Bench): void {
  const assets = join(ROOT, 'assets', 'lambda');
  const handlers = (): string[] => (existsSync(assets)
    ? readdirSync(assets, { withFileTypes: true }).filter((d) => d.isDirectory() && existsSync(join(assets, d.name, 'index.js'))).map((d) => d.name).sort()
    : []);
  const sources = readdirSync(join(ROOT, 'lambda'), { withFileTypes: true })
    .filter((d) => d.isDirectory() && d.name !== 'shared' && existsSync(join(ROOT, 'lambda', d.name, 'index.ts'))).map((d) => d.name);
  if (sources.some((name) => !handlers().includes(name))) {
    log('handler assets missing: running scripts/bundle-handlers.mjs');
    const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'bundle-handlers.mjs')], { cwd: ROOT, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`bench hot-path: bundle-handlers failed: ${r.stderr}`);
  }

  const dir = mkdtempSync(join(tmpdir(), 'bench-runtime-'));
  try {
    // The runtime alone, built as the handler assets are (scripts/bundle-handlers.mjs). It requires the DynamoDB
    // client only when idempotency is configured (in batchHandler(), at init): sdk_init_ms is that extra init.
    const runtime = join(dir, 'runtime.js');
    buildSync({
      stdin: {
        // The public entry (`cdk-streaming-pipelines/runtime`), minified as a user's bundler would.
        contents: "export * from './lambda/shared/runtime';\n",
        resolveDir: ROOT,
        sourcefile: 'runtime-entry.ts',
        loader: 'ts',
      },
      outfile: runtime,
      bundle: true,
      platform: 'node',
      target: 'node22',
      format: 'cjs',
      minify: true,
      legalComments: 'none',
      external: ['@aws-sdk/*'],
      logLevel: 'silent',
      tsconfigRaw: { compilerOptions: { strict: true } },
    });
    const entries: [string, string][] = [...handlers().map((h): [string, string] => [h, join(assets, h, 'index.js')]), ['runtime', runtime]];
    // Measured inside the child, around require() only. NODE_PATH lets the runtime bundle (in a temp dir) find
    // the AWS SDK as the handler assets do; on Lambda the Node.js 22 runtime provides it. Handlers read their
    // configuration at init, so the child gets a valid one for each.
    const childEnv = { PATH: process.env.PATH ?? '', NODE_PATH: join(ROOT, 'node_modules'), ...HANDLER_ENV };
    const child = (file: string): string =>
      `const t=process.hrtime.bigint();require(${JSON.stringify(file)});process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6));`;
    const measure = (file: string): number => {
      const r = spawnSync(process.execPath, ['-e', child(file)], { env: childEnv, encoding: 'utf8', timeout: 10_000 });
      if (r.status !== 0) throw new Error(`require() failed (status ${r.status}): ${(r.stderr.split('\n').find((l) => /^\w*Error\b/.test(l)) ?? r.stderr).slice(0, 300)}`);
      return Number(r.stdout);
    };
    for (const [handler, file] of entries) {
      const code = readFileSync(file, 'utf8');
      const bytes = Buffer.byteLength(code);
      // The AWS SDK packages the bundle leaves external: on Lambda they load from the runtime, but at init all the same.
      const sdk = [...new Set([...code.matchAll(/require\("(@aws-sdk\/[^"]+)"\)/g)].map((m) => m[1]))].sort();
      try {
        measure(file); // warms the file cache
        const samples = Array.from({ length: INIT_RUNS }, () => measure(file));
        let sdkFigures = {};
        if (sdk.length > 0) {
          const sdkEntry = join(dir, `${handler}-sdk.js`);
          writeFileSync(sdkEntry, sdk.map((m) => `require(${JSON.stringify(m)});`).join('\n'));
          measure(sdkEntry);
          sdkFigures = { sdk_modules: sdk, sdk_init_ms: round(median(Array.from({ length: SDK_INIT_RUNS }, () => measure(sdkEntry))), 2) };
        }
        bench('bundle', { handler, bytes, init_ms: round(median(samples), 2), runs: INIT_RUNS, ...sdkFigures });
      } catch (e) {
        // A handler this file does not know the configuration of still gets its size reported.
        bench('bundle', { handler, bytes, init_ms: null, error: (e as Error).message });
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

