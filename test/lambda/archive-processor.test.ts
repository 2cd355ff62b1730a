import * as path from 'path';
import {
  archiveRecord,
  parseConfig,
  processBatch,
  RESPONSE_BUDGET_BYTES,
  toEpochMillis,
  type ArchiveConfig,
  type ArchiveSourceRecord,
  type BatchOutcome,
  type FailureReason,
} from '../../lambda/archive-processor/core';
import type { ArchiveProcessorEvent, ArchiveProcessorResponse } from '../../lambda/archive-processor/index';
import {
  ArchiveLineError,
  archiveCreationGroup,
  archiveObjectOrder,
  arrivalPartition,
  bucketLabel,
  bucketOf,
  decodeArchiveLine,
  decodeArchiveObject,
  DEFAULT_ARCHIVE_BUCKETS,
  MAX_ARCHIVE_BUCKETS,
  type ArchivedRecord,
} from '../../lambda/shared/archive-format';
import { prng } from '../../bench/prng';
import { coldRequire, ensureBundled, onlyEnv } from '../support/cold-start';

const CONFIG: ArchiveConfig = { buckets: DEFAULT_ARCHIVE_BUCKETS };
const ARRIVAL = Date.UTC(2024, 5, 1, 10, 15, 30, 123); // 2024-06-01T10:15:30.123Z

/** A Firehose record id as Firehose writes them: long, plain ASCII. */
const recordId = (i: number): string => `49546986683135544286507457936321625675700192471156785154${String(i).padStart(6, '0')}`;
const seq = (i: number): string => `4959033827149025660855969253836157109592157598913658${String(i).padStart(4, '0')}`;

function rec(i: number, payload: Buffer | string, meta: Record<string, unknown> = {}, top: Partial<ArchiveSourceRecord> = {}): ArchiveSourceRecord {
  return {
    recordId: recordId(i),
    approximateArrivalTimestamp: ARRIVAL + 5000,
    data: Buffer.from(payload).toString('base64'),
    kinesisRecordMetadata: {
      shardId: 'shardId-000000000001',
      partitionKey: `user-${i}`,
      approximateArrivalTimestamp: ARRIVAL,
      sequenceNumber: seq(i),
      subsequenceNumber: '',
      ...meta,
    },
    ...top,
  };
}

/** The archive line an Ok output record carries, decoded with the reader's own parser. */
function lineOf(data: string | undefined): ArchivedRecord {
  const text = Buffer.from(data!, 'base64').toString('utf8');
  expect(text.endsWith('\n')).toBe(true);
  expect(text.indexOf('\n')).toBe(text.length - 1); // exactly one line, whatever the payload holds
  const [one, ...rest] = decodeArchiveObject(text);
  expect(rest).toEqual([]);
  expect(decodeArchiveLine(text.slice(0, -1))).toEqual(one);
  return one;
}

const responseBytes = (o: BatchOutcome): number => Buffer.byteLength(JSON.stringify({ records: o.records }), 'utf8');

// ------------------------------------------------------------------ configuration

describe('parseConfig', () => {
  test('defaults ARCHIVE_BUCKETS when unset or empty', () => {
    expect(parseConfig({})).toEqual({ buckets: DEFAULT_ARCHIVE_BUCKETS });
    expect(parseConfig({ ARCHIVE_BUCKETS: '' })).toEqual({ buckets: DEFAULT_ARCHIVE_BUCKETS });
  });

  test.each([['1', 1], ['16', 16], ['64', 64], [String(MAX_ARCHIVE_BUCKETS), MAX_ARCHIVE_BUCKETS]])('accepts ARCHIVE_BUCKETS=%s', (raw, n) => {
    expect(parseConfig({ ARCHIVE_BUCKETS: raw })).toEqual({ buckets: n });
  });

  test.each(['0', '101', '1000', '-1', '1.5', '16.0', '1e1', '0x10', ' 16', '16 ', '+16', 'sixteen', 'NaN', 'Infinity'])('rejects ARCHIVE_BUCKETS=%j, naming the variable and the range', (raw) => {
    expect(() => parseConfig({ ARCHIVE_BUCKETS: raw })).toThrow(
      `archive-processor: invalid configuration:\n  - ARCHIVE_BUCKETS must be an integer from 1 to ${MAX_ARCHIVE_BUCKETS} (default ${DEFAULT_ARCHIVE_BUCKETS}); got '${raw}'`,
    );
  });
});

// ------------------------------------------------------------------ one record

describe('archive lines', () => {
  const payloads: [string, Buffer][] = [
    ['a JSON object', Buffer.from(JSON.stringify({ event_id: 'e-1', amount: 12.5, note: 'ünïcødé ✓' }))],
    ['text that is not JSON', Buffer.from('hello, not json {')],
    ['a payload with \\n', Buffer.from('line one\nline two\n')],
    ['a payload with \\r\\n', Buffer.from('a,b\r\nc,d\r\n')],
    ['an empty payload', Buffer.alloc(0)],
    ['binary, invalid UTF-8', Buffer.from([0x00, 0xff, 0xfe, 0x0a, 0x0d, 0xc3, 0x28, 0x80, 0x22, 0x5c])],
    ['every byte value', Buffer.from(Array.from({ length: 512 }, (_, i) => i % 256))],
    ['a KPL magic prefix', Buffer.from([0xf3, 0x89, 0x9a, 0xc2, 1, 2, 3])],
    ['1,000 KiB of random bytes', Buffer.from(Array.from({ length: 1_024_000 }, (_, i) => (i * 2654435761) >>> 24))],
  ];

  test.each(payloads)('round-trips %s byte for byte', (_, payload) => {
    const input = rec(7, payload, { partitionKey: 'tenant-a/user "42"\\ é', subsequenceNumber: '3' });
    const out = processBatch([input], CONFIG);
    expect(out.records[0].result).toBe('Ok');
    const line = lineOf(out.records[0].data);
    expect(line).toEqual({
      partition_key: 'tenant-a/user "42"\\ é',
      sequence_number: seq(7),
      sub_sequence_number: 3,
      approximate_arrival_timestamp: ARRIVAL,
      shard_id: 'shardId-000000000001',
      data: input.data,
    });
    expect(Buffer.from(line.data, 'base64').equals(payload)).toBe(true);
  });

  test('writes the line with the fixed field order of archive-format', () => {
    const out = archiveRecord(rec(1, '{"a":1}', { partitionKey: 'k' }), CONFIG);
    expect(out.result).toBe('Ok');
    const text = Buffer.from(out.result === 'Ok' ? out.data : '', 'base64').toString('utf8');
    expect(text).toBe(`{"partition_key":"k","sequence_number":"${seq(1)}","sub_sequence_number":0,"approximate_arrival_timestamp":${ARRIVAL},"shard_id":"shardId-000000000001","data":"eyJhIjoxfQ=="}\n`);
  });

  test.each([
    ['absent', undefined, 0],
    ['empty (plain record)', '', 0],
    ['null', null, 0],
    ['a decimal string', '12', 12],
    ['a number', 4, 4],
  ])('sub_sequence_number is 0 or the KPL index: %s', (_, value, expected) => {
    const input = rec(1, 'x');
    const meta = { ...(input.kinesisRecordMetadata as object), subsequenceNumber: value };
    if (value === undefined) delete (meta as Record<string, unknown>).subsequenceNumber;
    const out = processBatch([{ ...input, kinesisRecordMetadata: meta }], CONFIG);
    expect(lineOf(out.records[0].data).sub_sequence_number).toBe(expected);
  });

  describe('arrival partition (UTC)', () => {
    const at = (iso: string) => {
      const out = processBatch([rec(1, 'x', { approximateArrivalTimestamp: Date.parse(iso) })], CONFIG);
      return { ...out.records[0].metadata!.partitionKeys, arrival: lineOf(out.records[0].data).approximate_arrival_timestamp };
    };

    test.each([
      ['2024-12-31T23:59:59.999Z', '2024-12-31', '23'],
      ['2025-01-01T00:00:00.000Z', '2025-01-01', '00'],
      ['2025-01-01T00:59:59.999Z', '2025-01-01', '00'],
      ['2025-01-01T01:00:00.000Z', '2025-01-01', '01'],
      ['2024-02-29T23:59:59.999Z', '2024-02-29', '23'],
      ['2024-03-01T00:00:00.000Z', '2024-03-01', '00'],
      ['2024-06-01T09:59:59.999Z', '2024-06-01', '09'],
      ['2024-06-01T10:00:00.000Z', '2024-06-01', '10'],
      ['1970-01-01T00:00:00.000Z', '1970-01-01', '00'],
    ])('%s → dt=%s/hour=%s', (iso, dt, hour) => {
      expect(at(iso)).toMatchObject({ dt, hour, arrival: Date.parse(iso) });
    });

    test('within one batch, every record gets its own hour and its own key\'s lane (no memo leaks across hours or keys)', () => {
      const rand = prng(19);
      const edges = ['2024-12-31T23:59:59.999Z', '2025-01-01T00:00:00.000Z', '2025-01-01T00:59:59.999Z', '2025-01-01T01:00:00.000Z'].map(Date.parse);
      const inputs = Array.from({ length: 400 }, (_, i) => rec(i, 'x', {
        partitionKey: `key-${Math.floor(rand() * 30)}`,
        approximateArrivalTimestamp: edges[Math.floor(rand() * edges.length)] + Math.floor(rand() * 3) - 1,
      }));
      const out = processBatch(inputs, { buckets: 7 });
      out.records.forEach((r, i) => {
        const m = inputs[i].kinesisRecordMetadata as { partitionKey: string; approximateArrivalTimestamp: number };
        expect(r.metadata!.partitionKeys).toEqual({ ...arrivalPartition(m.approximateArrivalTimestamp), bucket: bucketLabel(bucketOf(m.partitionKey, 7)) });
      });
    });

    test('prefers the stream arrival (kinesisRecordMetadata) over the Firehose arrival', () => {
      const input = rec(1, 'x', { approximateArrivalTimestamp: Date.parse('2024-06-01T09:59:59.999Z') }, { approximateArrivalTimestamp: Date.parse('2024-06-01T10:00:00.500Z') });
      const out = processBatch([input], CONFIG);
      expect(out.records[0].metadata!.partitionKeys).toMatchObject({ dt: '2024-06-01', hour: '09' });
      expect(lineOf(out.records[0].data).approximate_arrival_timestamp).toBe(Date.parse('2024-06-01T09:59:59.999Z'));
    });

    test.each([undefined, null, '', 'soon', -1, 1.5])('falls back to the record arrival when the metadata one is %j', (value) => {
      const input = rec(1, 'x', { approximateArrivalTimestamp: value }, { approximateArrivalTimestamp: Date.parse('2023-07-04T18:00:00Z') });
      const out = processBatch([input], CONFIG);
      expect(out.records[0].metadata!.partitionKeys).toMatchObject({ dt: '2023-07-04', hour: '18' });
      expect(lineOf(out.records[0].data).approximate_arrival_timestamp).toBe(Date.parse('2023-07-04T18:00:00Z'));
    });

    test('reads the ISO-8601 and decimal-string arrivals some Firehose samples show', () => {
      for (const value of ['2012-04-23T18:25:43.511Z', '2012-04-23T20:25:43.511+02:00', String(Date.parse('2012-04-23T18:25:43.511Z'))]) {
        const out = processBatch([rec(1, 'x', { approximateArrivalTimestamp: value })], CONFIG);
        expect(out.records[0].metadata!.partitionKeys).toMatchObject({ dt: '2012-04-23', hour: '18' });
        expect(lineOf(out.records[0].data).approximate_arrival_timestamp).toBe(Date.parse('2012-04-23T18:25:43.511Z'));
      }
    });

    test('toEpochMillis rejects zone-less ISO times (local time) and years past 9999', () => {
      expect(toEpochMillis('2012-04-23T18:25:43.511')).toBeUndefined();
      expect(toEpochMillis(Date.UTC(10000, 0, 1))).toBeUndefined();
      expect(toEpochMillis(Date.UTC(9999, 11, 31, 23, 59, 59, 999))).toBe(253_402_300_799_999);
      expect(toEpochMillis(Number.NaN)).toBeUndefined();
    });
  });

  describe('bucket', () => {
    const keys = Array.from({ length: 2000 }, (_, i) => (i % 3 === 0 ? `user-${i}` : i % 3 === 1 ? `${(i * 7919).toString(36)}-é-✓` : `${i}`));

    test.each([1, 2, 7, 16, 64, 100])('is bucketLabel(bucketOf(partitionKey, %i)), two digits and in range, for 2,000 keys', (buckets) => {
      const config = { buckets };
      const out = processBatch(keys.map((k, i) => rec(i, 'x', { partitionKey: k })), config);
      const seen = new Set<string>();
      out.records.forEach((r, i) => {
        const bucket = r.metadata!.partitionKeys.bucket;
        expect(bucket).toBe(bucketLabel(bucketOf(keys[i], buckets)));
        expect(bucket).toMatch(/^\d\d$/);
        expect(Number(bucket)).toBeLessThan(buckets);
        seen.add(bucket);
      });
      expect(seen.size).toBe(buckets); // 2,000 keys reach every lane
    });

    test('the same key lands in the same bucket in every record, batch and arrival hour', () => {
      const rand = prng(7);
      const batches = Array.from({ length: 5 }, (_, b) => Array.from({ length: 200 }, (_, i) => {
        const key = `device-${Math.floor(rand() * 40)}`;
        return rec(b * 200 + i, `p${i}`, { partitionKey: key, approximateArrivalTimestamp: ARRIVAL + Math.floor(rand() * 86_400_000) });
      }));
      const laneOf = new Map<string, string>();
      for (const batch of batches) {
        const out = processBatch(batch, CONFIG);
        out.records.forEach((r, i) => {
          const key = (batch[i].kinesisRecordMetadata as { partitionKey: string }).partitionKey;
          const bucket = r.metadata!.partitionKeys.bucket;
          expect(laneOf.get(key) ?? bucket).toBe(bucket);
          laneOf.set(key, bucket);
        });
      }
      expect(laneOf.size).toBe(40);
    });

    test('the default is DEFAULT_ARCHIVE_BUCKETS lanes', () => {
      const out = processBatch([rec(1, 'x', { partitionKey: 'user-42' })], parseConfig({}));
      expect(out.records[0].metadata!.partitionKeys.bucket).toBe(bucketLabel(bucketOf('user-42', DEFAULT_ARCHIVE_BUCKETS)));
    });
  });
});

// ------------------------------------------------------------------ the batch

describe('processBatch', () => {
  test('keeps record ids and order, Ok and failed records interleaved', () => {
    const rand = prng(3);
    const inputs = Array.from({ length: 300 }, (_, i) => {
      const r = rec(Math.floor(rand() * 1e6), `payload-${i}`);
      return i % 10 === 3 ? { ...r, data: 'not base64!' } : i % 10 === 7 ? { ...r, kinesisRecordMetadata: undefined } : r;
    });
    const out = processBatch(inputs, CONFIG);
    expect(out.records.map((r) => r.recordId)).toEqual(inputs.map((r) => r.recordId));
    out.records.forEach((r, i) => {
      if (i % 10 === 3 || i % 10 === 7) {
        expect(r).toEqual({ recordId: inputs[i].recordId, result: 'ProcessingFailed', data: inputs[i].data });
      } else {
        expect(r.result).toBe('Ok');
        expect(Buffer.from(lineOf(r.data).data, 'base64').toString()).toBe(`payload-${i}`);
      }
    });
    expect(out).toMatchObject({ ok: 240, failed: 60, failedByReason: { invalid_base64: 30, missing_kinesis_metadata: 30 } });
    expect(out.responseBytes).toBe(responseBytes(out));
  });

  test('an empty batch is an empty answer', () => {
    const out = processBatch([], CONFIG);
    expect(out).toMatchObject({ records: [], ok: 0, failed: 0, responseBytes: responseBytes(out) });
  });

  const good = rec(1, 'payload');
  const meta = good.kinesisRecordMetadata as Record<string, unknown>;
  const malformed: [string, ArchiveSourceRecord, FailureReason][] = [
    ['no data', { ...good, data: undefined }, 'missing_data'],
    ['data that is not a string', { ...good, data: 42 }, 'missing_data'],
    ['data outside the base64 alphabet', { ...good, data: 'not base64!' }, 'invalid_base64'],
    ['base64 with a bad length', { ...good, data: 'abc' }, 'invalid_base64'],
    ['base64 with a newline', { ...good, data: 'cGF5\nbG9hZA==' }, 'invalid_base64'],
    ['URL-safe base64', { ...good, data: 'a-_b' }, 'invalid_base64'],
    ['padding in the middle', { ...good, data: 'AA==AAAA' }, 'invalid_base64'],
    ['non-ASCII data', { ...good, data: 'ü✓"\\\u0001é=' }, 'invalid_base64'],
    ['no kinesisRecordMetadata (a Direct PUT stream)', { ...good, kinesisRecordMetadata: undefined }, 'missing_kinesis_metadata'],
    ['kinesisRecordMetadata null', { ...good, kinesisRecordMetadata: null }, 'missing_kinesis_metadata'],
    ['kinesisRecordMetadata a string', { ...good, kinesisRecordMetadata: 'shardId-1' }, 'missing_kinesis_metadata'],
    ['no partitionKey', { ...good, kinesisRecordMetadata: { ...meta, partitionKey: undefined } }, 'missing_partition_key'],
    ['empty partitionKey', { ...good, kinesisRecordMetadata: { ...meta, partitionKey: '' } }, 'missing_partition_key'],
    ['numeric partitionKey', { ...good, kinesisRecordMetadata: { ...meta, partitionKey: 42 } }, 'missing_partition_key'],
    ['no sequenceNumber', { ...good, kinesisRecordMetadata: { ...meta, sequenceNumber: undefined } }, 'missing_sequence_number'],
    ['empty sequenceNumber', { ...good, kinesisRecordMetadata: { ...meta, sequenceNumber: '' } }, 'missing_sequence_number'],
    ['no shardId', { ...good, kinesisRecordMetadata: { ...meta, shardId: undefined } }, 'missing_shard_id'],
    ['a negative subsequenceNumber', { ...good, kinesisRecordMetadata: { ...meta, subsequenceNumber: -1 } }, 'invalid_sub_sequence_number'],
    ['a non-numeric subsequenceNumber', { ...good, kinesisRecordMetadata: { ...meta, subsequenceNumber: 'x' } }, 'invalid_sub_sequence_number'],
    ['no arrival anywhere', { ...good, approximateArrivalTimestamp: undefined, kinesisRecordMetadata: { ...meta, approximateArrivalTimestamp: undefined } }, 'invalid_arrival_timestamp'],
    ['arrivals that are not times', { ...good, approximateArrivalTimestamp: 'later', kinesisRecordMetadata: { ...meta, approximateArrivalTimestamp: 1e20 } }, 'invalid_arrival_timestamp'],
  ];

  test.each(malformed)('%s → ProcessingFailed with the original data, never Dropped or thrown', (_, input, reason) => {
    const out = processBatch([good, input, good], CONFIG);
    expect(out.records.map((r) => r.result)).toEqual(['Ok', 'ProcessingFailed', 'Ok']);
    expect(out.records[1]).toEqual({ recordId: input.recordId, result: 'ProcessingFailed', data: typeof input.data === 'string' ? input.data : '' });
    expect(out.reasons).toEqual([undefined, reason, undefined]);
    expect(out.failedByReason).toEqual({ [reason]: 1 });
    expect(out.responseBytes).toBe(responseBytes(out));
    expect(archiveRecord(input, CONFIG)).toEqual({ result: 'ProcessingFailed', reason });
  });

  describe('response size budget', () => {
    test(`many tiny records: the response stays ≤ ${RESPONSE_BUDGET_BYTES} bytes, nothing is Dropped, every recordId once`, () => {
      const rand = prng(11);
      const inputs = Array.from({ length: 16_000 }, (_, i) => rec(i, Buffer.from(Array.from({ length: Math.floor(rand() * 12) }, () => Math.floor(rand() * 256))), {
        partitionKey: `k-${Math.floor(rand() * 500)}`,
        approximateArrivalTimestamp: ARRIVAL + i,
      }));
      // A few malformed records, some inside the budget-failed tail.
      for (const i of [5, 9_000, 15_990]) inputs[i] = { ...inputs[i], data: '@@@@' };
      const request = Buffer.byteLength(JSON.stringify({ invocationId: 'i', deliveryStreamArn: 'arn', records: inputs }));
      expect(request).toBeLessThan(6 * 1024 * 1024); // a request Firehose could send

      const out = processBatch(inputs, CONFIG);
      const serialized = JSON.stringify({ records: out.records });
      expect(Buffer.byteLength(serialized, 'utf8')).toBeLessThanOrEqual(RESPONSE_BUDGET_BYTES);
      expect(out.responseBytes).toBe(Buffer.byteLength(serialized, 'utf8'));

      expect(out.records.map((r) => r.recordId)).toEqual(inputs.map((r) => r.recordId));
      expect(new Set(out.records.map((r) => r.recordId)).size).toBe(inputs.length);
      expect(out.records.every((r) => r.result === 'Ok' || r.result === 'ProcessingFailed')).toBe(true);

      // The records that fit are a prefix; from the first miss on, everything fails with its original data.
      const firstMiss = out.reasons.indexOf('response_size_budget');
      expect(firstMiss).toBeGreaterThan(9_000);
      expect(firstMiss).toBeLessThan(15_990);
      out.records.forEach((r, i) => {
        if ([5, 9_000, 15_990].includes(i)) {
          expect(out.reasons[i]).toBe('invalid_base64');
        } else if (i < firstMiss) {
          expect(r.result).toBe('Ok');
        } else {
          expect(r).toEqual({ recordId: inputs[i].recordId, result: 'ProcessingFailed', data: inputs[i].data });
          expect(out.reasons[i]).toBe('response_size_budget');
        }
      });
      expect(out.failedByReason).toEqual({ invalid_base64: 3, response_size_budget: out.failed - 3 });

      // The budget is filled: the first miss, as Ok, would not have fitted.
      const asOk = archiveRecord(inputs[firstMiss], CONFIG);
      expect(asOk.result).toBe('Ok');
      const okSize = Buffer.byteLength(JSON.stringify({ recordId: inputs[firstMiss].recordId, result: 'Ok', data: asOk.result === 'Ok' ? asOk.data : '', metadata: { partitionKeys: asOk.result === 'Ok' ? asOk.partitionKeys : {} } }));
      const failedSize = Buffer.byteLength(JSON.stringify(out.records[firstMiss]));
      expect(out.responseBytes - failedSize + okSize).toBeGreaterThan(RESPONSE_BUDGET_BYTES);
    });

    test('1 KiB payloads: an Ok record is > 2× its payload, so a 5.2 MB request of 3,000 records overflows', () => {
      const inputs = Array.from({ length: 3000 }, (_, i) => rec(i, 'x'.repeat(1024)));
      const request = Buffer.byteLength(JSON.stringify({ records: inputs }));
      const out = processBatch(inputs, CONFIG);
      expect(out.responseBytes).toBe(responseBytes(out));
      expect(out.responseBytes).toBeLessThanOrEqual(RESPONSE_BUDGET_BYTES);
      expect(out.failed).toBeGreaterThan(0);
      expect(request).toBeLessThan(6 * 1024 * 1024);
      const perOk = Buffer.byteLength(JSON.stringify(out.records[0]));
      expect(perOk / 1024).toBeGreaterThan(2);
      expect(out.records.slice(out.ok).every((r, i) => r.data === inputs[out.ok + i].data)).toBe(true);
    });

    test('exact at the boundary, and a smaller later record is not let in after a miss', () => {
      const inputs = [rec(1, 'a'.repeat(300)), rec(2, 'b'.repeat(300)), rec(3, '')];
      const all = processBatch(inputs, CONFIG, Number.MAX_SAFE_INTEGER);
      const exact = all.responseBytes;
      expect(exact).toBe(responseBytes(all));
      expect(processBatch(inputs, CONFIG, exact).ok).toBe(3);

      const okSizes = all.records.map((r) => Buffer.byteLength(JSON.stringify(r)));
      const failedSizes = inputs.map((r) => Buffer.byteLength(JSON.stringify({ recordId: r.recordId, result: 'ProcessingFailed', data: r.data })));
      // Room for record 1 Ok and record 3 Ok, but not record 2: record 3 still fails, behind record 2.
      const budget = exact - okSizes[1] + failedSizes[1];
      const out = processBatch(inputs, CONFIG, budget);
      expect(out.records.map((r) => r.result)).toEqual(['Ok', 'ProcessingFailed', 'ProcessingFailed']);
      expect(out.reasons).toEqual([undefined, 'response_size_budget', 'response_size_budget']);
      expect(out.records.slice(1).map((r) => r.data)).toEqual([inputs[1].data, inputs[2].data]);
      expect(out.responseBytes).toBe(responseBytes(out));
      expect(out.responseBytes).toBeLessThanOrEqual(budget);
    });

    test('counts escaped characters of a failed record exactly', () => {
      const inputs = [{ ...rec(1, 'x'), data: 'é"\\\n\u2028✓' }, { ...rec(2, 'y'), recordId: 'id "with" ünïcode' }];
      const out = processBatch(inputs, CONFIG);
      expect(out.records.map((r) => r.result)).toEqual(['ProcessingFailed', 'Ok']);
      expect(out.responseBytes).toBe(responseBytes(out));
    });
  });
});

// ------------------------------------------------------------------ adapter and bundled asset

const ENV_KEYS = ['ARCHIVE_BUCKETS'];
type Handler = (event: ArchiveProcessorEvent) => Promise<ArchiveProcessorResponse>;

function loadHandler(modulePath: string, env: Record<string, string>): Handler {
  return coldRequire<{ handler: Handler }>(modulePath, onlyEnv(ENV_KEYS, env)).handler;
}

function event(records: ArchiveSourceRecord[]): ArchiveProcessorEvent {
  return {
    invocationId: 'inv-1',
    deliveryStreamArn: 'arn:aws:firehose:eu-west-1:123456789012:deliverystream/archive',
    sourceKinesisStreamArn: 'arn:aws:kinesis:eu-west-1:123456789012:stream/ingest',
    region: 'eu-west-1',
    records,
  };
}

const SOURCE = path.join(__dirname, '..', '..', 'lambda', 'archive-processor', 'index');
const ASSET = path.join(__dirname, '..', '..', 'assets', 'lambda', 'archive-processor', 'index.js');

describe.each([
  ['index.ts', SOURCE],
  ['bundled asset', ASSET],
])('handler (%s)', (_, modulePath) => {
  let log: jest.SpyInstance;
  beforeAll(() => {
    if (modulePath === ASSET) ensureBundled(ASSET);
  });
  beforeEach(() => {
    log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
  });
  afterEach(() => log.mockRestore());

  test('fails at module init on a bad ARCHIVE_BUCKETS, naming the variable', () => {
    expect(() => loadHandler(modulePath, { ARCHIVE_BUCKETS: '0' })).toThrow(/ARCHIVE_BUCKETS must be an integer from 1 to 100/);
    expect(() => loadHandler(modulePath, { ARCHIVE_BUCKETS: 'lots' })).toThrow(/ARCHIVE_BUCKETS must be an integer/);
  });

  test('archives a Kinesis-sourced Firehose event and logs one line of counts without payloads or keys', async () => {
    const handler = loadHandler(modulePath, { ARCHIVE_BUCKETS: '8' });
    const secret = 'user-secret-value';
    const records = [
      rec(1, JSON.stringify({ event_id: 'e1', email: secret }), { partitionKey: `pk-${secret}` }),
      rec(2, 'plain text\r\n'),
      { ...rec(3, 'x'), data: `${secret}!!` },
      { ...rec(4, 'y'), kinesisRecordMetadata: undefined },
    ];
    const response = await handler(event(records));
    expect(response).toEqual({ records: processBatch(records, { buckets: 8 }).records });
    expect(response.records.map((r) => [r.recordId, r.result])).toEqual([
      [recordId(1), 'Ok'], [recordId(2), 'Ok'], [recordId(3), 'ProcessingFailed'], [recordId(4), 'ProcessingFailed'],
    ]);
    expect(response.records[0].metadata).toEqual({ partitionKeys: { dt: '2024-06-01', hour: '10', bucket: bucketLabel(bucketOf(`pk-${secret}`, 8)) } });
    expect(Buffer.from(lineOf(response.records[1].data).data, 'base64').toString()).toBe('plain text\r\n');
    expect(response.records[2].data).toBe(`${secret}!!`);

    expect(log).toHaveBeenCalledTimes(1);
    const line = log.mock.calls[0][0] as string;
    expect(JSON.parse(line)).toEqual({
      level: 'WARN',
      message: 'archive-processor batch',
      invocationId: 'inv-1',
      deliveryStreamArn: 'arn:aws:firehose:eu-west-1:123456789012:deliverystream/archive',
      sourceKinesisStreamArn: 'arn:aws:kinesis:eu-west-1:123456789012:stream/ingest',
      buckets: 8,
      records: 4,
      ok: 2,
      failed: 2,
      failedByReason: { invalid_base64: 1, missing_kinesis_metadata: 1 },
      responseBytes: Buffer.byteLength(JSON.stringify(response)),
    });
    expect(line).not.toContain(secret);
    expect(line).not.toContain('pk-');
  });

  test('logs INFO with the default bucket count when everything is archived', async () => {
    const handler = loadHandler(modulePath, {});
    const response = await handler(event([rec(1, '')]));
    expect(response.records[0].result).toBe('Ok');
    expect(JSON.parse(log.mock.calls[0][0] as string)).toMatchObject({ level: 'INFO', buckets: DEFAULT_ARCHIVE_BUCKETS, ok: 1, failed: 0, failedByReason: {} });
  });

  test('throws on an event that is not a Firehose transformation request', async () => {
    const handler = loadHandler(modulePath, {});
    await expect(handler({} as ArchiveProcessorEvent)).rejects.toThrow(/no records array/);
  });
});

// ------------------------------------------------------------------ the reader's line parser

describe('decodeArchiveLine', () => {
  const good = {
    partition_key: 'user-1', sequence_number: '49590338271490256608559692538361571095921575989136588898', sub_sequence_number: 0,
    approximate_arrival_timestamp: 1_700_000_000_000, shard_id: 'shardId-000000000000', data: 'aGk=',
  };
  test('a good line round-trips', () => {
    expect(decodeArchiveLine(JSON.stringify(good))).toEqual(good);
  });
  test.each([
    ['not JSON', '{"partition_key":', /not JSON/],
    ['an array', '[1]', /not a JSON object/],
    ['an empty partition key', JSON.stringify({ ...good, partition_key: '' }), /partition_key must be a non-empty string/],
    ['a negative sub-sequence number', JSON.stringify({ ...good, sub_sequence_number: -1 }), /sub_sequence_number must be a non-negative integer/],
    ['a fractional timestamp', JSON.stringify({ ...good, approximate_arrival_timestamp: 1.5 }), /approximate_arrival_timestamp must be a non-negative integer/],
    ['a negative timestamp', JSON.stringify({ ...good, approximate_arrival_timestamp: -5 }), /approximate_arrival_timestamp must be a non-negative integer/],
    ['data that is not base64', JSON.stringify({ ...good, data: 'a*b=' }), /data must be base64/],
  ])('%s is refused, naming the field', (_, line, message) => {
    expect(() => decodeArchiveLine(line)).toThrow(ArchiveLineError);
    expect(() => decodeArchiveLine(line)).toThrow(message);
  });
});

describe('archiveObjectOrder', () => {
  const folder = 'archive/dt=2026-11-01/hour=10/bucket=03/';
  const name = (version: number, stamp: string, uuid = '0f8fad5b-d9cb-469f-a165-70867728950e'): string =>
    `${folder}raw-archive-${version}-2026-11-01-${stamp}-${uuid}.jsonl.gz`;
  const ordered = (keys: string[]): string[] => [...keys].sort((a, b) => (archiveObjectOrder(a) < archiveObjectOrder(b) ? -1 : 1));

  test('creation time first, then the delivery stream version as a number, then the rest of the name', () => {
    const keys = [
      name(10, '10-05-00'),
      name(9, '10-04-59'),
      name(9, '10-05-00', 'ffffffff-0000-0000-0000-000000000000'),
      name(100, '10-05-00'),
      name(9, '10-05-00', '00000000-0000-0000-0000-000000000000'),
    ];
    expect(ordered(keys)).toEqual([keys[1], keys[4], keys[2], keys[0], keys[3]]);
  });

  test('folders first (time order across hours and days); a stream name with digits and dashes still parses', () => {
    const a = 'archive/dt=2026-11-01/hour=23/bucket=03/orders-2024-v2-9-2026-11-01-23-59-59-0f8fad5b-d9cb-469f-a165-70867728950e.jsonl.gz';
    const b = 'archive/dt=2026-11-02/hour=00/bucket=03/orders-2024-v2-10-2026-11-02-00-00-01-0f8fad5b-d9cb-469f-a165-70867728950e.jsonl.gz';
    const c = 'archive/dt=2026-11-02/hour=00/bucket=03/orders-2024-v2-9-2026-11-02-00-00-02-0f8fad5b-d9cb-469f-a165-70867728950e.jsonl.gz';
    expect(ordered([c, b, a])).toEqual([a, b, c]);
  });

  test('a creation group is one folder, second and version: only its members tie on their names', () => {
    const a = name(9, '10-05-00', '00000000-0000-0000-0000-000000000000');
    const b = name(9, '10-05-00', 'ffffffff-0000-0000-0000-000000000000');
    expect(archiveCreationGroup(a)).toBe(archiveCreationGroup(b));
    expect(archiveCreationGroup(a)).not.toBe(archiveCreationGroup(name(10, '10-05-00')));
    expect(archiveCreationGroup(a)).not.toBe(archiveCreationGroup(name(9, '10-05-01')));
    expect(archiveCreationGroup(a)).not.toBe(archiveCreationGroup(a.replace('bucket=03', 'bucket=04')));
    expect(archiveCreationGroup(`${folder}x.gz`)).not.toBe(archiveCreationGroup(`${folder}y.gz`));
  });

  test('names not written by Firehose sort after those that are, by name', () => {
    const odd = `${folder}copied-by-hand.jsonl.gz`;
    const firehose = name(12, '10-00-00');
    expect(ordered([odd, firehose])).toEqual([firehose, odd]);
  });
});
