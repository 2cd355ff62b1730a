import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as cdk from 'aws-cdk-lib';
import { applyAllPacks, formatFindings, PACKS, synthFindings } from '../../bin/compliance';
import { collectTemplates } from './lint-collect';
import type { SnippetSource } from './readme-snippets';

/** Where the README tells users to put their own bundled handler (see the consumer section). */
export const USER_BUNDLE = path.join('build', 'order-totals');

/**
 * A scratch user project that snippets run in (their working directory): it holds the bundle
 * `lambda.Code.fromAsset('build/order-totals')` points at, as a user's `esbuild` step would leave it.
 */
export function userProject(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'csp-readme-'));
  fs.mkdirSync(path.join(dir, USER_BUNDLE), { recursive: true });
  fs.writeFileSync(path.join(dir, USER_BUNDLE, 'index.js'), 'exports.handler = async () => ({ batchItemFailures: [] });\n');
  return dir;
}

/**
 * Runs a snippet (transpiled to CommonJS) as a user's CDK app would run, with 'cdk-streaming-pipelines'
 * mapped to this repository's lib/; turns on the five cdk-nag packs on every App it creates (unless the
 * snippet does so itself) and synthesizes each. Returns the problems: a throw, a synth error, a missing
 * pack, or the unacknowledged findings, each prefixed with the snippet's file and line; and the apps.
 */
export function runSnippet(source: SnippetSource, js: string, project: string): { problems: string[]; apps: cdk.App[] } {
  const where = `${source.snippet.file}:${source.snippet.line}`;
  const apps: cdk.App[] = [];
  class ReadmeApp extends cdk.App {
    constructor(props: cdk.AppProps = {}) {
      super({ ...props, outdir: props.outdir ?? fs.mkdtempSync(path.join(project, 'cdk.out-')) });
      apps.push(this);
    }
  }
  // The snippet's `new App()` is a ReadmeApp, so the test finds its apps and writes them to the scratch project.
  const cdkForSnippet = Object.create(cdk, { App: { value: ReadmeApp } });
  const load = (id: string): unknown => {
    if (id === 'aws-cdk-lib') return cdkForSnippet;
    if (id === 'cdk-streaming-pipelines') return require('../../lib');
    if (id === 'cdk-streaming-pipelines/runtime') return require('../../lambda/shared/runtime');
    if (id.startsWith('.')) throw new Error(`imports ${id}, a file the README does not show`);
    return require(id);
  };
  const cwd = process.cwd();
  process.chdir(project);
  try {
    const module = { exports: {} };
    try {
      new Function('exports', 'require', 'module', '__filename', '__dirname', js)(module.exports, load, module, path.join(project, 'bin', 'app.js'), path.join(project, 'bin'));
    } catch (e) {
      return { problems: [`${where}: throws: ${(e as Error).message}`], apps };
    }
    if (apps.length === 0) return { problems: [`${where}: creates no App, so nothing is synthesized`], apps };
    const problems = apps.flatMap((app) => synthWithPacks(app, where));
    // The snippets' templates are linted with the tests' (npm test's cfn-lint step).
    for (const app of apps) collectTemplates(app.outdir, `README ${where}`);
    return { problems, apps };
  } finally {
    process.chdir(cwd);
  }
}

function synthWithPacks(app: cdk.App, where: string): string[] {
  const present = new Set(app.policyValidationBeta1.map((p) => p.name));
  if (present.size === 0) applyAllPacks(app);
  else {
    const missing = PACKS.filter((p) => !present.has(p));
    if (missing.length > 0) return [`${where}: turns on cdk-nag packs without ${missing.join(', ')}`];
  }
  let findings;
  try {
    findings = synthFindings(app);
  } catch (e) {
    return [`${where}: synth fails: ${(e as Error).message}`];
  }
  return findings.length === 0 ? [] : [`${where}: ${findings.length} unacknowledged cdk-nag finding(s):\n${formatFindings(findings)}`];
}
