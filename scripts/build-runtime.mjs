// Builds `cdk-streaming-pipelines/runtime`: one CommonJS bundle (AWS SDK external, as in the
// Lambda runtime) plus its type declarations, shipped under assets/runtime.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
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
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.runtime.json')], { stdio: ['ignore', 2, 2] });

// Ship only the declarations runtime.d.ts reaches: tsc also declares internal modules (the AWS SDK
// loader among them) whose imports a user's compiler would otherwise try, and fail, to resolve.
const types = join(out, 'types');
const reached = new Set();
const visit = (file) => {
  if (reached.has(file)) return;
  reached.add(file);
  for (const m of readFileSync(file, 'utf8').matchAll(/(?:from\s+|import\()\s*['"](\.[^'"]*)['"]/g)) {
    visit(resolve(dirname(file), m[1].replace(/\.js$/, '') + '.d.ts'));
  }
};
visit(join(types, 'runtime.d.ts'));
for (const entry of readdirSync(types, { recursive: true, withFileTypes: true })) {
  const file = join(entry.parentPath, entry.name);
  if (entry.isFile() && !reached.has(file)) rmSync(file);
}
console.error('built runtime -> assets/runtime (index.js, types/runtime.d.ts)');
