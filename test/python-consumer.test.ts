import { spawnSync, SpawnSyncReturns } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Template } from 'aws-cdk-lib/assertions';
import { pythonAppTwin } from './python/twin';
import { collectTemplates } from './support/lint-collect';

/*
 * Python users: scripts/python-consumer.sh builds the wheel with jsii-pacmak, installs it
 * with aws-cdk-lib and constructs pinned from PyPI (test/python/requirements.txt) into
 * .venv-python, and runs test/python/test_app.py on a user's app (test/python/app.py).
 * A fresh machine builds the wheel and the venv (minutes); later runs reuse both.
 */
const ROOT = path.join(__dirname, '..');
const SCRIPT = path.join(ROOT, 'scripts', 'python-consumer.sh');
const COLD_BUILD_MS = 25 * 60 * 1000;

describe('Python consumer (jsii-pacmak wheel, aws-cdk-lib from PyPI)', () => {
  let outdir: string;
  let run: SpawnSyncReturns<string>;

  beforeAll(() => {
    outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'python-consumer-'));
    run = spawnSync('bash', [SCRIPT, outdir], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: COLD_BUILD_MS });
  }, COLD_BUILD_MS + 60_000);

  afterAll(() => {
    // The Python app's template is linted with the tests' (npm test's cfn-lint step).
    collectTemplates(outdir, 'Python app');
    fs.rmSync(outdir, { recursive: true, force: true });
  });

  test('a Python app with a StreamingLake, a ReplayArchive and a StreamConsumer synthesizes, and its template assertions pass', () => {
    if (run.status !== 0) {
      throw new Error(`scripts/python-consumer.sh exited ${run.status ?? run.signal}:\n${run.stdout}\n${run.stderr.slice(-20_000)}`);
    }
    // unittest's summary: all five template tests of test/python/test_app.py ran and passed.
    expect(run.stderr).toMatch(/^Ran 5 tests in /m);
    expect(run.stderr).toMatch(/^OK$/m);
    // pip check: our wheel's Requires-Dist accepts the pinned aws-cdk-lib and constructs.
    expect(run.stderr).toMatch(/^No broken requirements found\.$/m);
  });

  test('the Python user gets the TypeScript user\'s template, byte for byte in content', () => {
    const file = path.join(outdir, 'PythonClickstream.template.json');
    expect(fs.existsSync(file)).toBe(true);
    const python = JSON.parse(fs.readFileSync(file, 'utf8'));
    expect(python).toEqual(Template.fromStack(pythonAppTwin()).toJSON());
  });
});

test('without python3 the script fails and says how to install it', () => {
  const run = spawnSync('bash', [SCRIPT], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, PYTHON: 'python3-not-installed' } });
  expect(run.status).toBe(1);
  expect(run.stderr).toContain("'python3-not-installed' not found");
  expect(run.stderr).toContain('apt-get install -y python3 python3-venv python3-pip');
});

test('the Python test pins aws-cdk-lib and constructs at the floor of the peer ranges, which are the devDependencies', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const pins = Object.fromEntries(fs.readFileSync(path.join(ROOT, 'test', 'python', 'requirements.txt'), 'utf8')
    .split('\n').map((l) => /^([\w.-]+)==(\S+)/.exec(l)).filter((m): m is RegExpExecArray => m !== null).map((m) => [m[1], m[2]]));
  for (const name of ['aws-cdk-lib', 'constructs']) {
    expect({ name, pin: pins[name], dev: pkg.devDependencies[name] }).toEqual({ name, pin: pkg.peerDependencies[name].replace(/^\^/, ''), dev: pins[name] });
  }
});
