import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';

/**
 * Where the tests leave every template they synthesize, for `npm test`'s cfn-lint step
 * (scripts/cfn-lint.mjs). One file per distinct content, named by its sha256, so the
 * many tests that synthesize the same configuration are linted once.
 */
export const LINT_DIR = path.join(__dirname, '..', '..', 'cdk.out.lint');
const ORIGINS = 'origins.tsv';

function templatesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return templatesUnder(p); // nested assemblies (Stages)
    return e.name.endsWith('.template.json') ? [p] : [];
  });
}

/**
 * Copies each `*.template.json` of a cloud assembly into LINT_DIR, and notes which test
 * file and stack it came from (origins.tsv) so a finding can be traced back.
 */
export function collectTemplates(outdir: string, origin: string, into: string = LINT_DIR): number {
  const files = templatesUnder(outdir);
  if (files.length === 0) return 0;
  fs.mkdirSync(into, { recursive: true });
  const lines: string[] = [];
  for (const file of files) {
    const body = fs.readFileSync(file);
    const sha = createHash('sha256').update(body).digest('hex');
    const target = path.join(into, `${sha}.template.json`);
    if (!fs.existsSync(target)) {
      // Parallel jest workers may write the same template: write aside, then rename atomically.
      const tmp = `${target}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, body);
      fs.renameSync(tmp, target);
    }
    lines.push(`${sha}\t${origin}\t${path.relative(outdir, file)}\n`);
  }
  fs.appendFileSync(path.join(into, ORIGINS), lines.join(''));
  return files.length;
}

/** The running test file, relative to the repo root (for origins.tsv). */
export function currentTestFile(): string {
  const testPath = expect.getState().testPath;
  return testPath ? path.relative(path.join(__dirname, '..', '..'), testPath) : 'unknown';
}
