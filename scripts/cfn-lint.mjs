#!/usr/bin/env node
// npm test's last step: the AWS CloudFormation Linter over every template the tests synthesized.
//
//   node scripts/cfn-lint.mjs --reset          builds .venv if needed, empties cdk.out.lint/ (before jest)
//   node scripts/cfn-lint.mjs [--dir DIR] [--jobs N]
//                                              lints DIR/*.template.json (default cdk.out.lint/, filled by
//                                              test/support/nag.ts's newApp) and fails on any error or warning
//
// cfn-lint reads .cfnlintrc from the repo root (none today: nothing is turned off globally), never ~/.cfnlintrc. A canary template with an unused Mapping runs
// alongside, and must draw W7001: a lint step that silently reports nothing fails.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { ensurePythonEnv, ROOT } from './python-env.mjs';

const FAILING_LEVELS = new Set(['Error', 'Warning']);

function parseArgs(argv) {
  const opts = { dir: join(ROOT, 'cdk.out.lint'), jobs: Math.max(1, Math.min(2, cpus().length)), reset: false };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--dir') opts.dir = resolve(argv[++i]);
    else if (argv[i] === '--jobs') opts.jobs = Math.max(1, Number(argv[++i]));
    else if (argv[i] === '--reset') opts.reset = true;
    else throw new Error(`cfn-lint: unknown argument ${argv[i]}`);
  }
  return opts;
}

/** cfn-lint's console script inside the venv. */
function cfnLintBin(python) {
  return process.platform === 'win32' ? join(dirname(python), 'cfn-lint.exe') : join(dirname(python), 'cfn-lint');
}

/** Splits files into `n` groups of about equal total size (largest first, onto the lightest group). */
function balance(files, n) {
  const groups = Array.from({ length: n }, () => ({ bytes: 0, files: [] }));
  const sized = files.map((f) => [f, statSync(f).size]).sort((a, b) => b[1] - a[1]);
  for (const [f, size] of sized) {
    const g = groups.reduce((a, b) => (b.bytes < a.bytes ? b : a));
    g.files.push(f);
    g.bytes += size;
  }
  return groups.filter((g) => g.files.length > 0).map((g) => g.files);
}

/**
 * Runs cfn-lint on `files` with JSON output; resolves to its matches, rejects if it crashed.
 * HOME points at an empty folder so a developer's ~/.cfnlintrc cannot turn rules off here.
 */
function lint(bin, files, home) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(bin, ['--format', 'json', '--', ...files], { cwd: ROOT, env: { ...process.env, HOME: home, USERPROFILE: home } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('error', reject);
    child.on('close', (code) => {
      try {
        resolvePromise(JSON.parse(out || '[]'));
      } catch {
        reject(new Error(`cfn-lint exited ${code} without JSON output:\n${out}${err}`));
      }
    });
  });
}

/** sha → "test/file.test.ts (Stack.template.json)" from the collector's origins.tsv, first seen. */
function readOrigins(dir) {
  const origins = new Map();
  const file = join(dir, 'origins.tsv');
  if (!existsSync(file)) return origins;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const [sha, test, stackFile] = line.split('\t');
    if (sha && !origins.has(sha)) origins.set(sha, `${test} ${stackFile}`);
  }
  return origins;
}

const CANARY = {
  Mappings: { Unused: { Key: { Value: 'x' } } },
  Resources: { Topic: { Type: 'AWS::SNS::Topic' } },
};

/** One line per finding: file (origin), rule, level, resource (and its CDK path), message. */
function describe(match, origins, templates) {
  const file = match.Filename;
  const sha = basename(file).replace(/\.template\.json$/, '');
  const where = match.Location?.Path ?? [];
  let resource = where.slice(0, 2).join('/');
  if (where[0] === 'Resources') {
    templates.has(file) || templates.set(file, JSON.parse(readFileSync(file, 'utf8')));
    const cdkPath = templates.get(file).Resources?.[where[1]]?.Metadata?.['aws:cdk:path'];
    if (cdkPath) resource += ` (${cdkPath})`;
  }
  return `  ${relative(ROOT, file)}${origins.has(sha) ? ` [${origins.get(sha)}]` : ''}\n`
    + `    ${match.Rule.Id} ${match.Level}  ${resource}  at ${where.join('/')}\n    ${match.Message}`;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const python = ensurePythonEnv();
  if (opts.reset) {
    rmSync(opts.dir, { recursive: true, force: true });
    mkdirSync(opts.dir, { recursive: true });
    return;
  }
  const files = existsSync(opts.dir) ? readdirSync(opts.dir).filter((f) => f.endsWith('.template.json')).map((f) => join(opts.dir, f)) : [];
  if (files.length === 0) throw new Error(`cfn-lint: no templates in ${relative(ROOT, opts.dir) || opts.dir}; run the tests first (npm test does)`);

  const canaryDir = mkdtempSync(join(tmpdir(), 'cfn-lint-canary-'));
  const canary = join(canaryDir, 'canary.template.json');
  writeFileSync(canary, JSON.stringify(CANARY));
  const t0 = Date.now();
  try {
    const groups = balance(files, opts.jobs);
    groups[groups.length - 1].push(canary);
    const matches = (await Promise.all(groups.map((g) => lint(cfnLintBin(python), g, canaryDir)))).flat();
    const seconds = ((Date.now() - t0) / 1000).toFixed(1);

    const canaryHits = matches.filter((m) => m.Filename === canary);
    if (!canaryHits.some((m) => m.Rule.Id === 'W7001')) {
      throw new Error(`cfn-lint: the canary template's unused Mapping drew no W7001 (got: ${canaryHits.map((m) => m.Rule.Id).join(', ') || 'nothing'}); the lint step is not working`);
    }
    const failing = matches.filter((m) => m.Filename !== canary && FAILING_LEVELS.has(m.Level));
    const byRule = new Map();
    for (const m of failing) byRule.set(`${m.Rule.Id} ${m.Level}`, (byRule.get(`${m.Rule.Id} ${m.Level}`) ?? 0) + 1);
    const badFiles = new Set(failing.map((m) => m.Filename));

    if (failing.length > 0) {
      const origins = readOrigins(opts.dir);
      const templates = new Map();
      process.stderr.write(`cfn-lint found ${failing.length} error(s)/warning(s):\n${failing.map((m) => describe(m, origins, templates)).join('\n')}\n\nBy rule:\n`);
      for (const [rule, n] of [...byRule].sort()) process.stderr.write(`  ${rule}: ${n}\n`);
    }
    process.stdout.write(`cfn-lint ${files.length} unique template(s) in ${seconds} s (${groups.length} process(es)), `
      + `${failing.length} error(s)/warning(s)\n`);
    process.stdout.write(`cfn-lint: ${files.length - badFiles.size} passed, ${badFiles.size} failed\n`);
    if (failing.length > 0) process.exitCode = 1;
  } finally {
    rmSync(canaryDir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`${e.message}\n`);
  process.exit(1);
});
