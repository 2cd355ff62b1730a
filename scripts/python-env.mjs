#!/usr/bin/env node
// A project-local Python virtual environment, built from pinned requirements files.
//
//   node scripts/python-env.mjs [--venv .venv] [--requirements requirements-dev.txt]...
//   import { ensurePythonEnv } from './python-env.mjs';  ensurePythonEnv({ venv, requirements }) → python path
//
// The venv is (re)built when missing or stale: its stamp holds the sha256 of the
// Python version and every requirements file, so editing a pin rebuilds it on the next
// run and nothing installed by hand is ever relied on. Parallel callers (jest workers,
// the lint step) take a lock folder so only one builds it.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withLock } from './dir-lock.mjs';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const MIN_PYTHON = [3, 10]; // cfn-lint 1.x requires Python >= 3.10
const INSTALL_HELP = 'Install Python 3.10 or later with its venv module: on Debian/Ubuntu `apt-get install -y python3 python3-venv`, '
  + 'on macOS `brew install python@3.12`, on Windows the python.org installer; or point $PYTHON at such an interpreter.';

/** The interpreter that builds venvs: $PYTHON, else python3 on PATH. Throws how to install it when missing or too old. */
export function basePython() {
  const python = process.env.PYTHON || 'python3';
  const r = spawnSync(python, ['-c', 'import sys, venv, ensurepip; print("%d.%d.%d" % sys.version_info[:3])'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    const why = r.error ? `${python} was not found` : `${python} has no working venv/ensurepip module (${(r.stderr || '').trim().split('\n').pop()})`;
    throw new Error(`python-env: ${why}. ${INSTALL_HELP}`);
  }
  const version = r.stdout.trim();
  const [major, minor] = version.split('.').map(Number);
  if (major < MIN_PYTHON[0] || (major === MIN_PYTHON[0] && minor < MIN_PYTHON[1])) {
    throw new Error(`python-env: ${python} is Python ${version}; ${MIN_PYTHON.join('.')} or later is needed. ${INSTALL_HELP}`);
  }
  return { python, version };
}

function stampOf(version, requirements) {
  const h = createHash('sha256').update(`python ${version}\n`);
  for (const file of requirements) h.update(`${file}\n`).update(readFileSync(file));
  return h.digest('hex');
}

function run(cmd, args, what) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: '1', PIP_NO_INPUT: '1' } });
  if (r.error || r.status !== 0) {
    throw new Error(`python-env: ${what} failed (${cmd} ${args.join(' ')}):\n${r.error ?? ''}${r.stdout}${r.stderr}`);
  }
}

/**
 * Makes `venv` hold exactly the pinned `requirements` (paths relative to the repo root)
 * and returns the venv's python. Rebuilds it from scratch when the stamp differs.
 */
export function ensurePythonEnv({ venv = '.venv', requirements = ['requirements-dev.txt'], log = (m) => process.stderr.write(`${m}\n`) } = {}) {
  const dir = resolve(ROOT, venv);
  const files = requirements.map((f) => resolve(ROOT, f));
  const python = join(dir, process.platform === 'win32' ? 'Scripts/python.exe' : 'bin/python');
  const stampFile = join(dir, '.requirements.sha256');
  const { python: base, version } = basePython();
  const stamp = stampOf(version, files);
  const fresh = () => existsSync(python) && existsSync(stampFile) && readFileSync(stampFile, 'utf8').trim() === stamp;
  if (fresh()) return python;
  return withLock(`${dir}.lock`, () => {
    if (fresh()) return python; // another process built it while we waited
    const t0 = Date.now();
    log(`python-env: building ${venv} from ${requirements.join(', ')} with Python ${version}`);
    rmSync(dir, { recursive: true, force: true }); // from scratch: nothing left from older pins
    run(base, ['-m', 'venv', dir], 'creating the venv');
    run(python, ['-m', 'pip', 'install', '--quiet', ...files.flatMap((f) => ['-r', f])], 'installing the requirements');
    writeFileSync(`${stampFile}.tmp`, `${stamp}\n`);
    renameSync(`${stampFile}.tmp`, stampFile);
    log(`python-env: ${venv} ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return python;
  });
}

function parseArgs(argv) {
  const opts = { venv: '.venv', requirements: [] };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--venv') opts.venv = argv[++i];
    else if (argv[i] === '--requirements' || argv[i] === '-r') opts.requirements.push(argv[++i]);
    else throw new Error(`python-env: unknown argument ${argv[i]}`);
  }
  if (opts.requirements.length === 0) opts.requirements.push('requirements-dev.txt');
  return opts;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    process.stdout.write(`${ensurePythonEnv(parseArgs(process.argv.slice(2)))}\n`);
  } catch (e) {
    process.stderr.write(`${e.message}\n`);
    process.exit(1);
  }
}
