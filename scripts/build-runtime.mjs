// Builds `cdk-streaming-pipelines/runtime`: one CommonJS bundle (AWS SDK external, as in the
// Lambda runtime) plus its type declarations, shipped under assets/runtime.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'assets', 'runtime');
rmSync(out, { recursive: true, force: true });
buildSync({
  entryPoints: [join(root, 'lambda', 'shared', 'runtime.ts')],
  outfile: join(out, 'index.js'),
  bundle: true, platform: 'node', target: 'node22', format: 'cjs',
  external: ['@aws-sdk/*'], legalComments: 'none', logLevel: 'error',
  tsconfigRaw: { compilerOptions: { strict: true } },
});
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.runtime.json')], { stdio: 'inherit' });
console.log('built runtime -> assets/runtime (index.js, types/runtime.d.ts)');
