/**
 * The SQL runner's SDK side against a local Redshift Data API: moto's server from PyPI
 * (requirements-moto.txt, built into .venv-moto by scripts/python-env.mjs), on 127.0.0.1 only,
 * started and stopped here. The bundled handler (assets/lambda/redshift-sql/index.js) and the SDK
 * adapter make the real @aws-sdk/client-redshift-data calls: serialization, error parsing, polling.
 *
 * No Redshift executes the SQL here. Stock moto records the statement and keeps it STARTED;
 * test/integration/redshift-data-moto-server.py adds FINISHED/FAILED after some polls for statements
 * marked in their SQL, and logs the request bodies the SDK sent.
 */
import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { runStatements, StatementError, type PlannedStatement } from '../../lambda/redshift-sql/core';
import { isRetryable } from '../../lambda/redshift-sql/execute';
import { sdkDataApi, type SdkConfig } from '../../lambda/redshift-sql/sdk';

const ROOT = path.join(__dirname, '..', '..');
const SERVER = path.join(__dirname, 'redshift-data-moto-server.py');
const BUNDLE = path.join(ROOT, 'assets', 'lambda', 'redshift-sql', 'index.js');
const VENV_BUILD_MS = 10 * 60 * 1000;
const SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:redshift!ns-admin-AbCdEf';

let server: ChildProcess | undefined;
let endpoint: string;
let requestLog: string;
let config: SdkConfig;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    }).on('error', reject);
  });
}

async function waitForServer(url: string, deadline: number): Promise<void> {
  for (;;) {
    try {
      if ((await fetch(`${url}/moto-api/`)).ok) return;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) throw new Error(`moto server did not answer on ${url}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The Data API requests moto received, in order. */
function requests(action?: string): { action: string; body: any }[] {
  const lines = fs.readFileSync(requestLog, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  return action ? lines.filter((l) => l.action === action) : lines;
}

beforeAll(async () => {
  const env = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'python-env.mjs'), '--venv', '.venv-moto', '--requirements', 'requirements-moto.txt'], { cwd: ROOT, encoding: 'utf8', timeout: VENV_BUILD_MS });
  if (env.status !== 0) throw new Error(`scripts/python-env.mjs failed:\n${env.stderr}`);
  const python = env.stdout.trim();
  const port = await freePort();
  endpoint = `http://127.0.0.1:${port}`;
  requestLog = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'moto-redshift-data-')), 'requests.jsonl');
  fs.writeFileSync(requestLog, '');
  const t0 = Date.now();
  server = spawn(python, [SERVER, '-H', '127.0.0.1', '-p', String(port)], { env: { ...process.env, MOTO_REQUEST_LOG: requestLog }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  server.stderr!.on('data', (d) => { stderr = (stderr + d).slice(-5000); });
  await waitForServer(endpoint, Date.now() + 30_000).catch((e) => { throw new Error(`${e.message}\n${stderr}`); });
  console.info(`moto server (redshift-data) answered after ${((Date.now() - t0) / 1000).toFixed(2)} s`);
  config = { endpoint, region: 'eu-west-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
}, VENV_BUILD_MS + 60_000);

afterAll(() => {
  if (server?.pid) process.kill(server.pid, 'SIGTERM');
  if (requestLog) fs.rmSync(path.dirname(requestLog), { recursive: true, force: true });
});

const clock = { now: Date.now, sleep: (ms: number) => new Promise<void>((r) => setTimeout(r, ms)), random: Math.random };
const statement = (sql: string): PlannedStatement => ({ list: 'Create', position: 1, of: 1, sql, target: { workgroupName: 'wg', database: 'dev', secretArn: SECRET } });
const options = (budgetMs: number) => ({ deadline: Date.now() + budgetMs, clock, namePrefix: 'cdk-Moto', clientToken: () => '0b5e7d9c-1111-4222-8333-444455556666' });

test('the bundled handler runs a Create through ExecuteStatement and polls DescribeStatement until FINISHED', async () => {
  fs.writeFileSync(requestLog, '');
  // The handler builds its clients from the environment, as in Lambda; the service-specific endpoint
  // variable points only the Data API client at moto.
  const env: { [k: string]: string } = {
    MODE: 'onEvent', AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_ENDPOINT_URL_REDSHIFT_DATA: endpoint,
  };
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  const logs = jest.spyOn(console, 'log').mockImplementation(() => undefined);
  try {
    let handler: (event: unknown, context: unknown) => Promise<any> = undefined as never;
    jest.isolateModules(() => { handler = require(BUNDLE).handler; });
    const result = await handler({
      RequestType: 'Create', RequestId: 'req-1', LogicalResourceId: 'Schema',
      StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/S/0b7f6a40-1111-2222-3333-444455556666',
      ResourceProperties: {
        ServiceToken: 'x', WorkgroupName: 'wg', Database: 'dev', SecretArn: SECRET, RemovalPolicy: 'retain',
        Create: [{ Sql: 'CREATE SCHEMA IF NOT EXISTS "lake" /* moto: finish after 3 */' }, { Sql: 'CREATE TABLE IF NOT EXISTS "lake"."t" (c INT) /* moto: finish after 1 */' }],
      },
    }, { getRemainingTimeInMillis: () => 60_000 });
    expect(result.PhysicalResourceId).toMatch(/^redshift-sql-Schema-[0-9a-f]{12}$/);
    // The handler logs one JSON line per step (the function's log group is JSON-formatted).
    expect(logs.mock.calls.map(([line]) => JSON.parse(line).message)).toEqual(['redshift-sql: running', 'redshift-sql: statement started', 'redshift-sql: statement finished', 'redshift-sql: statement started', 'redshift-sql: statement finished']);
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    logs.mockRestore();
  }
  const executes = requests('execute_statement').map((r) => r.body);
  expect(executes).toEqual([
    { WorkgroupName: 'wg', Database: 'dev', SecretArn: SECRET, Sql: 'CREATE SCHEMA IF NOT EXISTS "lake" /* moto: finish after 3 */', StatementName: 'cdk-Schema-create-1', ClientToken: expect.any(String), WithEvent: false },
    { WorkgroupName: 'wg', Database: 'dev', SecretArn: SECRET, Sql: 'CREATE TABLE IF NOT EXISTS "lake"."t" (c INT) /* moto: finish after 1 */', StatementName: 'cdk-Schema-create-2', ClientToken: expect.any(String), WithEvent: false },
  ]);
  // Three describes of the first statement (STARTED, STARTED, FINISHED), then one of the second, each by its Id.
  expect(requests().map((r) => r.action)).toEqual(['execute_statement', 'describe_statement', 'describe_statement', 'describe_statement', 'execute_statement', 'describe_statement']);
  expect(Object.keys(requests('describe_statement')[0].body)).toEqual(['Id']);
});

test('a FAILED statement\'s Error text, as the SDK parses it, is in the runner\'s failure', async () => {
  const run = runStatements(sdkDataApi(config), [statement('COPY "t" FROM \'s3://b/p\' /* moto: fail after 2: ERROR: Cannot COPY into nonexistent table t */')], options(30_000));
  await expect(run).rejects.toThrow(StatementError);
  await expect(run).rejects.toThrow(/^Create statement 1 of 1 failed in Redshift: ERROR: Cannot COPY into nonexistent table t\. SQL: COPY "t"/);
});

test('a statement stock moto keeps STARTED is cancelled when the budget runs out, and moto reports it ABORTED', async () => {
  fs.writeFileSync(requestLog, '');
  const api = sdkDataApi(config);
  const t0 = Date.now();
  await expect(runStatements(api, [statement('SELECT 1')], options(2_000))).rejects.toThrow(/did not finish within the custom resource's time budget; it was cancelled \(Data API statement [0-9a-f-]{36}\)/);
  // The deadline bounds the waits; a Describe or Cancel call in flight may end after it (the handler
  // keeps 20 s back for that), so allow a loaded machine's round trips on top.
  expect(Date.now() - t0).toBeLessThan(8_000);
  const [cancel] = requests('cancel_statement');
  expect(await api.describeStatement(cancel.body.Id)).toMatchObject({ Status: 'ABORTED' });
});

test('the SDK surfaces the Data API\'s ResourceNotFoundException by name, and the runner does not retry it', async () => {
  const error = await sdkDataApi(config).describeStatement('9f0e5c6a-0000-4000-8000-000000000000').then(() => undefined, (e) => e);
  expect(error?.name).toBe('ResourceNotFoundException');
  expect(isRetryable(error)).toBe(false);
});
