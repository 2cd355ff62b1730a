import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/**
 * API.md is the API reference users read: jsii-docgen's rendering of the jsii assembly (.jsii, built by
 * `npm run build`). A public prop, default or doc comment changed without `npm run docgen` fails here.
 */
const ROOT = path.join(__dirname, '..');

test('API.md is what `npm run docgen` renders from the current jsii assembly', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'csp-docgen-'));
  try {
    const cli = path.join(ROOT, 'node_modules', 'jsii-docgen', 'bin', 'jsii-docgen');
    const r = spawnSync(process.execPath, [cli, '-o', path.join(dir, 'API.md')], { cwd: ROOT, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const fresh = fs.readFileSync(path.join(dir, 'API.md'), 'utf8');
    const committed = fs.readFileSync(path.join(ROOT, 'API.md'), 'utf8');
    if (fresh !== committed) {
      const lines = [fresh.split('\n'), committed.split('\n')];
      const at = lines[0].findIndex((l, i) => l !== lines[1][i]);
      throw new Error(`API.md is stale: run \`npm run docgen\` and commit it. First difference at line ${at + 1}:\n  generated: ${lines[0][at]}\n  API.md:    ${lines[1][at]}`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('API.md documents every type of the assembly', () => {
  const assembly = JSON.parse(fs.readFileSync(path.join(ROOT, '.jsii'), 'utf8'));
  const api = fs.readFileSync(path.join(ROOT, 'API.md'), 'utf8');
  const missing = Object.keys(assembly.types).filter((fqn) => !api.includes(`id="${fqn}"`));
  expect(missing).toEqual([]);
  expect(Object.keys(assembly.types).length).toBeGreaterThan(0);
});
