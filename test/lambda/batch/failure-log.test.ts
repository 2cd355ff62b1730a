import { FAILED_RECORDS_LOGGED, PoisonRecordError, processBatch } from '../../../lambda/shared/batch/process-batch';
import { batchHandler, failedRecordsLog } from '../../../lambda/shared/runtime';
import { b64, kinesisEvent, sqsEvent } from './fixtures';

/** The README promises the logs name failing records: each by its item identifier and reason, bounded per batch. */
const fail = (r: unknown) => {
  const d = r as { id: string; poison?: boolean; fail?: string };
  if (d.poison) throw new PoisonRecordError(`amount of ${d.id} must be a number`);
  if (d.fail) throw new Error(d.fail);
};

test('a failed Kinesis record is logged by its sequence number, reason and the handler\'s message', async () => {
  const event = kinesisEvent([{ data: b64({ id: 'a' }), seq: '101' }, { data: b64({ id: 'b', fail: 'db down' }), seq: '102' }, { data: b64({ id: 'c' }), seq: '103' }]);
  const result = await processBatch(event, fail);
  expect(failedRecordsLog(result, 'req-1')).toEqual({
    level: 'ERROR', message: 'records failed', requestId: 'req-1', source: 'kinesis',
    failuresByReason: { handler_error: 1 }, deadLettered: 0,
    records: [{ id: '102', subSequence: 0, outcome: 'failed', reason: 'handler_error', message: 'db down' }], omitted: 0,
  });
});

test('dead-lettered poison records are named too; undecodable ones by their decode reason', async () => {
  const event = sqsEvent([{ body: JSON.stringify({ id: 'a', poison: true }), id: 'm-a' }, { body: '{not json', id: 'm-b' }, { body: JSON.stringify({ id: 'c' }), id: 'm-c' }]);
  const result = await processBatch(event, fail, { deadLetter: async () => undefined });
  expect(result.failedRecords).toEqual([
    { id: 'm-a', subSequence: 0, outcome: 'dead_lettered', reason: 'poison', message: 'amount of a must be a number' },
    { id: 'm-b', subSequence: 0, outcome: 'dead_lettered', reason: 'invalid_json' },
  ]);
});

test(`the log names at most ${FAILED_RECORDS_LOGGED} records per batch and counts the rest; long messages are cut`, async () => {
  const bodies = Array.from({ length: 100 }, (_, i) => ({ body: JSON.stringify({ id: `e${i}`, fail: 'x'.repeat(1000) }), id: `m${i}` }));
  const result = await processBatch(sqsEvent(bodies), fail);
  expect(result.failedRecords).toHaveLength(FAILED_RECORDS_LOGGED);
  expect(result.failedRecordsOmitted).toBe(100 - FAILED_RECORDS_LOGGED);
  expect(result.failedRecords[0].message!.length).toBeLessThanOrEqual(201);
  expect(JSON.stringify(failedRecordsLog(result, 'r')).length).toBeLessThan(8_000);
});

test('batchHandler writes the failure line to the log and nothing when the batch succeeds', async () => {
  const lines: string[] = [];
  const spy = jest.spyOn(console, 'error').mockImplementation((line: string) => void lines.push(line));
  const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
  try {
    const handler = batchHandler(fail);
    const context = { awsRequestId: 'req-9', functionName: 'fn', getRemainingTimeInMillis: () => 60_000 };
    await handler(kinesisEvent([{ data: b64({ id: 'a' }), seq: '1' }]), context);
    expect(lines).toEqual([]);
    await handler(kinesisEvent([{ data: b64({ id: 'a', fail: 'boom' }), seq: '7' }]), context);
    expect(lines.map((l) => JSON.parse(l))).toEqual([expect.objectContaining({ requestId: 'req-9', records: [expect.objectContaining({ id: '7', reason: 'handler_error' })] })]);
  } finally {
    spy.mockRestore();
    log.mockRestore();
  }
});

test('idempotency reads the table name from IDEMPOTENCY_TABLE, and fails at init when there is none', () => {
  const before = process.env.IDEMPOTENCY_TABLE;
  delete process.env.IDEMPOTENCY_TABLE;
  try {
    const client = { send: async () => ({}) };
    expect(() => batchHandler(fail, { idempotency: { keyField: 'event_id', client } })).toThrow(/idempotency needs a table: set idempotency.tableName, or the IDEMPOTENCY_TABLE environment variable/);
    process.env.IDEMPOTENCY_TABLE = 'from-env';
    expect(() => batchHandler(fail, { idempotency: { keyField: 'event_id', client } })).not.toThrow();
  } finally {
    if (before === undefined) delete process.env.IDEMPOTENCY_TABLE;
    else process.env.IDEMPOTENCY_TABLE = before;
  }
});
