import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { collectTemplates } from './support/lint-collect';

const ROOT = path.join(__dirname, '..');

/**
 * bin/app.ts, exactly as `npx cdk synth` runs it (cdk.json's ts-node command, minus the CLI),
 * so the example app's templates go through npm test's cfn-lint step whatever stacks it holds.
 */
test('the example app synthesizes nag-clean and its templates are kept for cfn-lint', () => {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'csp-example-app-'));
  try {
    const r = spawnSync(process.execPath, ['--require', 'ts-node/register/transpile-only', path.join(ROOT, 'bin', 'app.ts')], {
      cwd: ROOT, env: { ...process.env, CDK_OUTDIR: outdir, TS_NODE_PREFER_TS_EXTS: 'true' }, encoding: 'utf8',
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(collectTemplates(outdir, 'bin/app.ts')).toBeGreaterThanOrEqual(3);
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
});
