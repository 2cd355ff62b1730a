import * as fs from 'fs';
import * as path from 'path';

/**
 * npm test lints every template the tests synthesize, which it finds through newApp()
 * (test/support/nag.ts). An App built any other way would synthesize unseen.
 */
const BARE_APP = /new\s+(?:\w+\.)?App\s*\(/;
/** A Stack with no scope makes its own App, and Template.fromStack would synthesize that unseen. */
const SCOPELESS_STACK = /new\s+(?:\w+\.)?Stack\s*\(\s*\)/;
// nag.ts is newApp() itself; this file spells the patterns out to test them. The README snippet runner
// gives each snippet's App its own folder and hands the templates to the lint collection itself; the
// package test's App is in source text it type-checks, never runs.
const ALLOWED = new Set([
  path.join('test', 'support', 'nag.ts'), path.join('test', 'no-bare-app.test.ts'),
  path.join('test', 'support', 'readme-run.ts'), path.join('test', 'readme-harness', 'lake.ts'), path.join('test', 'package.test.ts'),
]);

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === '__snapshots__' ? [] : sources(p);
    return /\.[cm]?[jt]s$/.test(e.name) ? [p] : [];
  });
}

test('the guard patterns catch the ways a test could build an App of its own', () => {
  for (const code of ['new App()', 'new cdk.App({ outdir })', 'new App (', 'new Stack()', 'new cdk.Stack( )']) {
    expect(BARE_APP.test(code) || SCOPELESS_STACK.test(code)).toBe(true);
  }
  for (const code of ['newApp()', 'new Stack(app, "S")', 'new Stack(newApp(), "S")', 'new AppSync(']) {
    expect(BARE_APP.test(code) || SCOPELESS_STACK.test(code)).toBe(false);
  }
});

test('no test builds an App except through newApp()', () => {
  const root = path.join(__dirname, '..');
  const offenders = sources(__dirname)
    .map((file) => path.relative(root, file))
    .filter((rel) => !ALLOWED.has(rel))
    .flatMap((rel) => fs.readFileSync(path.join(root, rel), 'utf8').split('\n')
      .map((line, i) => ({ where: `${rel}:${i + 1}`, line: line.trim() }))
      .filter(({ line }) => BARE_APP.test(line) || SCOPELESS_STACK.test(line))
      .map(({ where, line }) => `${where}  ${line}`));
  expect(offenders).toEqual([]);
});
