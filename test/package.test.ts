import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/**
 * The package as a user installs it: the files `npm pack` ships, unpacked into a bare project whose
 * node_modules holds only what a Lambda author has (the package, its peers, TypeScript's node types),
 * not this repo's dev dependencies such as the AWS SDK.
 */
const ROOT = path.join(__dirname, '..');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
let project: string;
let packed: { path: string; size: number }[];

beforeAll(() => {
  project = fs.mkdtempSync(path.join(os.tmpdir(), 'csp-package-'));
  // --ignore-scripts: `npm test` has just built; the build's own output is checked by scripts/pack-check.mjs.
  const out = execFileSync(NPM, ['pack', '--json', '--ignore-scripts', '--pack-destination', project], { cwd: ROOT, encoding: 'utf8' });
  const [info] = JSON.parse(out);
  packed = info.files;
  const modules = path.join(project, 'node_modules');
  fs.mkdirSync(path.join(modules, '@types'), { recursive: true });
  execFileSync('tar', ['-xzf', path.join(project, info.filename), '-C', project]);
  fs.renameSync(path.join(project, 'package'), path.join(modules, 'cdk-streaming-pipelines'));
  for (const dep of ['aws-cdk-lib', 'constructs', '@types/node', 'undici-types']) {
    fs.symlinkSync(path.join(ROOT, 'node_modules', dep), path.join(modules, dep), 'dir');
  }
}, 120_000);

afterAll(() => fs.rmSync(project, { recursive: true, force: true }));

/** Compiles `source` in the bare project with the given resolution; returns the compiler's output. */
function compile(source: string, resolution: 'node10' | 'nodenext', skipLibCheck: boolean): string {
  const file = path.join(project, `consumer-${resolution}-${skipLibCheck}.ts`);
  fs.writeFileSync(file, source);
  const module = resolution === 'node10' ? 'commonjs' : 'nodenext';
  const args = ['--ignoreConfig', '--noEmit', '--strict', '--target', 'es2022', '--module', module, '--moduleResolution', resolution, '--types', 'node', '--ignoreDeprecations', '6.0'];
  if (skipLibCheck) args.push('--skipLibCheck');
  const r = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), ...args, file], { cwd: project, encoding: 'utf8' });
  return r.stdout + r.stderr;
}

const RUNTIME_CONSUMER = `
  import { batchHandler, PoisonRecordError, type BatchHandlerOptions } from 'cdk-streaming-pipelines/runtime';
  const options: BatchHandlerOptions = { idempotency: { keyField: 'event_id' } };
  export const handler = batchHandler((record) => { if (!record) throw new PoisonRecordError('empty'); }, options);
`;

test.each(['node10', 'nodenext'] as const)('the runtime subpath resolves and type-checks (with lib check, without the AWS SDK installed) under moduleResolution %s', (resolution) => {
  expect(fs.existsSync(path.join(project, 'node_modules', '@aws-sdk'))).toBe(false);
  expect(compile(RUNTIME_CONSUMER, resolution, false)).toBe('');
});

test.each(['node10', 'nodenext'] as const)('the construct library resolves under moduleResolution %s', (resolution) => {
  expect(compile(`
    import { App, Stack } from 'aws-cdk-lib';
    import { IdempotencyTable, PipelineKey } from 'cdk-streaming-pipelines';
    const stack = new Stack(new App(), 'S');
    new IdempotencyTable(stack, 'T', { encryptionKey: new PipelineKey(stack, 'K').key });
  `, resolution, true)).toBe('');
});

test('the shipped JavaScript carries no source maps (inline or files)', () => {
  const js = packed.filter((f) => f.path.endsWith('.js'));
  expect(js.length).toBeGreaterThan(20);
  expect(packed.filter((f) => f.path.endsWith('.map'))).toEqual([]);
  const withMaps = js.filter((f) => fs.readFileSync(path.join(project, 'node_modules', 'cdk-streaming-pipelines', f.path), 'utf8').includes('sourceMappingURL'));
  expect(withMaps.map((f) => f.path)).toEqual([]);
});

test('the shipped runtime types import nothing the package does not declare', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const declared = new Set([...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {})]);
  const undeclared = new Set<string>();
  for (const f of packed.filter((p) => p.path.startsWith('assets/runtime/') && p.path.endsWith('.d.ts'))) {
    const text = fs.readFileSync(path.join(project, 'node_modules', 'cdk-streaming-pipelines', f.path), 'utf8');
    for (const m of text.matchAll(/(?:from\s+|import\()\s*['"]([^'"]+)['"]/g)) {
      const spec = m[1];
      if (spec.startsWith('.')) continue;
      const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
      if (!declared.has(name) && !name.startsWith('node:')) undeclared.add(`${f.path}: ${spec}`);
    }
  }
  expect([...undeclared]).toEqual([]);
});
