#!/usr/bin/env node
// Bundles every lambda/<name>/index.ts (except lambda/shared) into
// assets/lambda/<name>/index.js. The constructs point Lambda at these folders,
// so their bytes decide the CDK asset hash: the output must not depend on the
// machine, the checkout path or the time of the build.
//
//   node scripts/bundle-handlers.mjs [<source dir> <out dir>]
//
// With arguments it bundles another tree the same way: the example app's own
// handlers (examples/ -> assets/examples/), which import the package's
// `cdk-streaming-pipelines/runtime` as a user's function would, so they are
// bundled after scripts/build-runtime.mjs has built it.
import { build } from 'esbuild';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const [sourceArg = 'lambda', outArg = join('assets', 'lambda')] = process.argv.slice(2);
const sourceDir = join(root, sourceArg);
const outRoot = join(root, outArg);

const handlers = readdirSync(sourceDir, { withFileTypes: true })
  .filter((d) => d.isDirectory() && d.name !== 'shared' && existsSync(join(sourceDir, d.name, 'index.ts')))
  .map((d) => d.name)
  .sort();

if (handlers.length === 0) {
  console.error(`bundle-handlers: no <name>/index.ts found under ${sourceDir}`);
  process.exit(1);
}

let failed = false;
for (const name of handlers) {
  const outdir = join(outRoot, name);
  // Stale files would change the asset hash and ship dead code.
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  try {
    const result = await build({
      // Paths esbuild records (e.g. in errors) are relative to the repo, never absolute.
      absWorkingDir: root,
      entryPoints: [relative(root, join(sourceDir, name, 'index.ts'))],
      outfile: relative(root, join(outdir, 'index.js')),
      bundle: true,
      platform: 'node',
      target: 'node22',
      format: 'cjs',
      minify: true,
      sourcemap: false,
      metafile: false,
      legalComments: 'none',
      charset: 'utf8',
      // The Node.js 22 runtime ships AWS SDK v3; bundling it would only add init time.
      external: ['@aws-sdk/*'],
      logLevel: 'silent',
      // Pinned rather than read from ./tsconfig.json, so editing the library's
      // compiler settings cannot silently change the handler asset hashes.
      tsconfigRaw: { compilerOptions: { strict: true } },
    });
    for (const w of result.warnings) console.warn(`bundle-handlers: ${name}: warning: ${w.text}`);
    const bytes = statSync(join(outdir, 'index.js')).size;
    console.error(`bundled ${name} ${bytes} bytes -> ${relative(root, join(outdir, 'index.js'))}`);
  } catch (e) {
    failed = true;
    const errors = e && Array.isArray(e.errors) ? e.errors : [{ text: String(e) }];
    for (const err of errors) {
      const where = err.location ? `${err.location.file}:${err.location.line}:${err.location.column}: ` : '';
      console.error(`bundle-handlers: ${name}: error: ${where}${err.text}`);
    }
  }
}

process.exit(failed ? 1 : 0);
