import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/**
 * Users import the runtime as `cdk-streaming-pipelines/runtime` in their own functions.
 * Checked the way a consumer sees it: Node's package `exports`, the built bundle and its types.
 */
const ROOT = path.join(__dirname, '..');

beforeAll(() => {
  if (!fs.existsSync(path.join(ROOT, 'assets', 'runtime', 'index.js'))) execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build-runtime.mjs')]);
});

test('the subpath export loads and its batchHandler returns a partial batch response with EMF metrics', () => {
  const script = `
    const { batchHandler } = require('cdk-streaming-pipelines/runtime');
    const seen = [];
    const handler = batchHandler((r) => { if (r.fail) throw new Error('x'); seen.push(r.id); });
    const rec = (seq, body) => ({ eventSource: 'aws:kinesis', eventID: 'shardId-0:' + seq, kinesis: { sequenceNumber: seq, partitionKey: 'k', data: Buffer.from(JSON.stringify(body)).toString('base64') } });
    handler({ Records: [rec('1', { id: 'a' }), rec('2', { id: 'b', fail: true }), rec('3', { id: 'c' })] },
      { awsRequestId: 'r', functionName: 'fn', getRemainingTimeInMillis: () => 60000 })
      .then((res) => process.stdout.write('RESULT ' + JSON.stringify({ res, seen }) + '\\n'));
  `;
  const r = spawnSync(process.execPath, ['-e', script], { cwd: ROOT, encoding: 'utf8' });
  // The one failed record is named on stderr (the function's log), by sequence number and reason.
  expect(r.stderr.trim().split('\n').map((l) => JSON.parse(l))).toEqual([
    expect.objectContaining({ level: 'ERROR', message: 'records failed', records: [{ id: '2', subSequence: 0, outcome: 'failed', reason: 'handler_error', message: 'x' }] }),
  ]);
  const lines = r.stdout.trim().split('\n');
  const emf = JSON.parse(lines.find((l) => l.includes('"_aws"'))!);
  expect(emf._aws.CloudWatchMetrics[0]).toMatchObject({ Namespace: 'StreamingPipelines', Dimensions: [['FunctionName', 'Source']] });
  expect(emf).toMatchObject({ FunctionName: 'fn', Source: 'kinesis', Records: 3, Processed: 1, Failures: 1, Redelivered: 1 });
  const result = JSON.parse(lines.find((l) => l.startsWith('RESULT '))!.slice(7));
  expect(result).toEqual({ res: { batchItemFailures: [{ itemIdentifier: '2' }] }, seen: ['a'] });
});

test('the subpath export ships types a consumer can compile against', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'csp-runtime-'));
  const file = path.join(ROOT, `runtime-consumer-${path.basename(dir)}.ts`);
  fs.writeFileSync(file, `
    import { batchHandler, PoisonRecordError, type BatchHandlerOptions } from 'cdk-streaming-pipelines/runtime';
    const options: BatchHandlerOptions = { concurrency: 4, idempotency: { tableName: 't', keyField: 'event_id' } };
    export const handler = batchHandler((record) => { if (!record) throw new PoisonRecordError('empty'); }, options);
  `);
  try {
    const tsc = require.resolve('typescript/bin/tsc');
    const r = spawnSync(process.execPath, [tsc, '--ignoreConfig', '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--skipLibCheck', '--types', 'node', file], { cwd: ROOT, encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
  } finally {
    fs.rmSync(file, { force: true });
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
