#!/usr/bin/env node
// Builds the package the way `npm pack` / `npm publish` do (the `prepare` script) and checks what a
// user would get: `npm pack --json` must print only JSON (build logs go to stderr, so tools reading
// it can parse it), and the tarball's files must be the ones we mean to ship.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const r = spawnSync(npm, ['pack', '--dry-run', '--json'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 * 1024 * 1024 });
if (r.status !== 0) {
  console.error(`pack-check: npm pack failed (exit ${r.status})`);
  process.exit(1);
}
let info;
try {
  [info] = JSON.parse(r.stdout);
} catch (e) {
  console.error(`pack-check: \`npm pack --json\` printed more than JSON (a build step writes to stdout):\n${r.stdout.slice(0, 2000)}`);
  process.exit(1);
}
const files = info.files.map((f) => f.path);
const problems = [];
for (const f of files) {
  if (f.endsWith('.map')) problems.push(`${f}: source map file`);
  if (/^(lambda|test|bench|bin|scripts|examples)\//.test(f) || (f.startsWith('lib/') && f.endsWith('.ts') && !f.endsWith('.d.ts'))) problems.push(`${f}: source, not meant to ship`);
}
for (const required of ['lib/index.js', 'lib/index.d.ts', '.jsii', 'README.md', 'assets/runtime/index.js', 'assets/runtime/types/runtime.d.ts']) {
  if (!files.includes(required)) problems.push(`${required}: missing`);
}
if (problems.length > 0) {
  console.error(`pack-check: ${problems.length} problem(s) in the tarball:\n${problems.join('\n')}`);
  process.exit(1);
}
console.error(`pack-check: ${files.length} files, ${info.size} bytes packed, ${info.unpackedSize} unpacked`);
