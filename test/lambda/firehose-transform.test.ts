import * as path from 'path';
import {
  parseConfig,
  RESPONSE_BUDGET_BYTES,
  transformBatch,
  transformRecord,
  type RecordDecision,
  type SourceRecord,
  type TransformConfig,
} from '../../lambda/firehose-transform/core';
import type { FirehoseTransformEvent, FirehoseTransformResponse } from '../../lambda/firehose-transform/index';
import { coldRequire, onlyEnv } from '../support/cold-start';

const LAMBDA_RESPONSE_LIMIT = 6_291_456;

const b64 = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64');
const unb64 = (data: string | undefined): unknown => JSON.parse(Buffer.from(data ?? '', 'base64').toString('utf8'));

function config(env: Record<string, string | undefined> = {}): TransformConfig {
  return parseConfig({
    EVENT_TIME_FIELD: 'ts',
    EVENT_TIME_FORMAT: 'iso8601',
    EVENT_TIME_GRANULARITY: 'hour',
    EVENT_TIME_PROJECTION_START: '2020-01-01',
    EVENT_TIME_MAX_FUTURE_SECONDS: '3600',
    PARTITION_FIELDS: '{}',
    FLATTEN_FIELDS: '{}',
    ...env,
  });
}

function ok(decision: RecordDecision): { data: unknown; partitionKeys: Record<string, string>; raw: string } {
  if (decision.result !== 'Ok') throw new Error(`expected Ok, got ${decision.reason}`);
  return { data: unb64(decision.data), partitionKeys: decision.partitionKeys, raw: Buffer.from(decision.data, 'base64').toString('utf8') };
}

function reason(decision: RecordDecision): string {
  return decision.result === 'Ok' ? 'Ok' : decision.reason;
}

describe('parseConfig', () => {
  test('reads the full contract', () => {
    const c = config({
      EVENT_TIME_FIELD: 'meta.time.at',
      EVENT_TIME_FORMAT: 'epoch_millis',
      EVENT_TIME_GRANULARITY: 'day',
      PARTITION_FIELDS: '{"region":"meta.region","tenant":"tenant"}',
      FLATTEN_FIELDS: '{"device_id":"device.id"}',
      EVENT_TIME_OUTPUT_FIELD: 'event_time',
    });
    expect(c.eventTimeField.segments).toEqual(['meta', 'time', 'at']);
    expect(c.eventTimeFormat).toBe('epoch_millis');
    expect(c.granularity).toBe('day');
    expect(c.partitionFields.map((p) => [p.key, p.path.text])).toEqual([['region', 'meta.region'], ['tenant', 'tenant']]);
    expect(c.flattenFields.map((f) => [f.column, f.path.text])).toEqual([['device_id', 'device.id']]);
    expect(c.eventTimeOutputField).toBe('event_time');
    expect(c.projectionRange).toEqual({ startMs: Date.UTC(2020, 0, 1), maxFutureSeconds: 3600 });
  });

  test('treats an empty EVENT_TIME_OUTPUT_FIELD as unset', () => {
    expect(config({ EVENT_TIME_OUTPUT_FIELD: '' }).eventTimeOutputField).toBeUndefined();
  });

  test.each([
    [{ EVENT_TIME_FIELD: undefined }, /EVENT_TIME_FIELD is required/],
    [{ EVENT_TIME_FIELD: 'a..b' }, /EVENT_TIME_FIELD \('a..b'\) has an empty segment/],
    [{ EVENT_TIME_FORMAT: undefined }, /EVENT_TIME_FORMAT is required/],
    [{ EVENT_TIME_FORMAT: 'iso' }, /EVENT_TIME_FORMAT must be one of epoch_seconds, epoch_millis, iso8601; got 'iso'/],
    [{ EVENT_TIME_GRANULARITY: 'minute' }, /EVENT_TIME_GRANULARITY must be one of day, hour; got 'minute'/],
    [{ PARTITION_FIELDS: undefined }, /PARTITION_FIELDS is required \(use \{\} for none\)/],
    [{ PARTITION_FIELDS: '{region:1}' }, /PARTITION_FIELDS is not valid JSON/],
    [{ PARTITION_FIELDS: '["region"]' }, /PARTITION_FIELDS must be a JSON object/],
    [{ PARTITION_FIELDS: '{"region":3}' }, /PARTITION_FIELDS\['region'\] must be a string/],
    [{ PARTITION_FIELDS: '{"Region":"region"}' }, /PARTITION_FIELDS\['Region'\]: partition key name must match/],
    [{ PARTITION_FIELDS: '{"a/b":"region"}' }, /PARTITION_FIELDS\['a\/b'\]: partition key name must match/],
    [{ PARTITION_FIELDS: '{"dt":"day"}' }, /'dt' is the event-time partition key/],
    [{ PARTITION_FIELDS: '{"hour":"h"}' }, /'hour' is the event-time partition key/],
    [{ PARTITION_FIELDS: '{"region":""}' }, /PARTITION_FIELDS\['region'\] must be a non-empty dotted path/],
    [{ FLATTEN_FIELDS: 'null' }, /FLATTEN_FIELDS must be a JSON object/],
    [{ FLATTEN_FIELDS: '{"bad-name":"a.b"}' }, /FLATTEN_FIELDS\['bad-name'\]: column name must match/],
    [{ FLATTEN_FIELDS: '{"__proto__":"a.b"}' }, /FLATTEN_FIELDS\['__proto__'\]: column name must match/],
    [{ FLATTEN_FIELDS: '{"ts":"a.b"}' }, /would overwrite the event-time field/],
    [{ FLATTEN_FIELDS: '{"x":"a.b"}', EVENT_TIME_OUTPUT_FIELD: 'x' }, /is also EVENT_TIME_OUTPUT_FIELD/],
    [{ EVENT_TIME_OUTPUT_FIELD: 'event.time' }, /EVENT_TIME_OUTPUT_FIELD \('event.time'\) must be a top-level field name/],
    [{ EVENT_TIME_PROJECTION_START: undefined }, /EVENT_TIME_PROJECTION_START is required/],
    [{ EVENT_TIME_PROJECTION_START: '2024-02-30' }, /EVENT_TIME_PROJECTION_START must be a date in yyyy-MM-dd format on or after 1970-01-01; got '2024-02-30'/],
    [{ EVENT_TIME_PROJECTION_START: '1969-12-31' }, /EVENT_TIME_PROJECTION_START must be a date/],
    [{ EVENT_TIME_MAX_FUTURE_SECONDS: undefined }, /EVENT_TIME_MAX_FUTURE_SECONDS is required/],
    [{ EVENT_TIME_MAX_FUTURE_SECONDS: '-1' }, /EVENT_TIME_MAX_FUTURE_SECONDS must be a whole number of seconds \(0 or more\); got '-1'/],
    [{ EVENT_TIME_MAX_FUTURE_SECONDS: '1.5' }, /EVENT_TIME_MAX_FUTURE_SECONDS must be a whole number/],
  ])('rejects %j', (env, message) => {
    expect(() => config(env)).toThrow(message);
    expect(() => config(env)).toThrow(/^firehose-transform: invalid configuration/);
  });

  test('allows a partition key named hour when partitions are daily', () => {
    expect(config({ EVENT_TIME_GRANULARITY: 'day', PARTITION_FIELDS: '{"hour":"h"}' }).partitionFields[0].key).toBe('hour');
  });

  test('lists every problem in one error', () => {
    expect(() => parseConfig({})).toThrow(
      /EVENT_TIME_FIELD is required[\s\S]*EVENT_TIME_FORMAT is required[\s\S]*EVENT_TIME_GRANULARITY is required[\s\S]*PARTITION_FIELDS is required[\s\S]*FLATTEN_FIELDS is required/,
    );
  });
});

describe('transformRecord: decoding failures', () => {
  const c = config();
  test.each([
    ['malformed base64', 'not base64!', 'invalid_base64'],
    ['an empty payload', '', 'invalid_json'],
    ['non-JSON', b64('hello world'), 'invalid_json'],
    ['truncated JSON', b64('{"ts":"2024-01-01T00:00:00Z"'), 'invalid_json'],
    ['invalid UTF-8', Buffer.from([0x7b, 0xc3, 0x28, 0x7d]).toString('base64'), 'invalid_utf8'],
    ['a JSON array', b64([{ ts: '2024-01-01T00:00:00Z' }]), 'not_an_object'],
    ['a JSON string', b64('"2024-01-01T00:00:00Z"'), 'not_an_object'],
    ['a JSON number', b64('42'), 'not_an_object'],
    ['JSON null', b64('null'), 'not_an_object'],
    ['a non-string payload', undefined, 'invalid_base64'],
  ])('fails %s as %s', (_name, payload, expected) => {
    expect(transformRecord(payload, c)).toEqual({ result: 'ProcessingFailed', reason: expected });
  });
});

describe('transformRecord: event time', () => {
  test('fails a record without the event-time field', () => {
    expect(reason(transformRecord(b64({ other: 1 }), config()))).toBe('missing_event_time');
    expect(reason(transformRecord(b64({ ts: null }), config()))).toBe('missing_event_time');
  });

  test('fails unparseable and zone-less timestamps', () => {
    expect(reason(transformRecord(b64({ ts: 'yesterday' }), config()))).toBe('invalid_event_time');
    expect(reason(transformRecord(b64({ ts: '2024-06-01T12:00:00' }), config()))).toBe('invalid_event_time');
    expect(reason(transformRecord(b64({ ts: '2023-02-29T12:00:00Z' }), config()))).toBe('invalid_event_time');
  });

  test('fails out-of-range timestamps', () => {
    expect(reason(transformRecord(b64({ ts: 1700000000123 }), config({ EVENT_TIME_FORMAT: 'epoch_seconds' })))).toBe('event_time_out_of_range');
    expect(reason(transformRecord(b64({ ts: -5 }), config({ EVENT_TIME_FORMAT: 'epoch_millis' })))).toBe('event_time_out_of_range');
  });

  describe('the dt projection range: a dt Athena can never see fails to the error prefix', () => {
    const now = Date.UTC(2026, 11, 3, 12, 0, 0);
    const at = (ts: unknown, env: Record<string, string> = {}) => reason(transformRecord(b64({ ts }), config({ EVENT_TIME_FORMAT: 'epoch_millis', EVENT_TIME_GRANULARITY: 'day', ...env }), now));

    test('an event before the projection start fails; the start itself is accepted', () => {
      expect(at(Date.UTC(2019, 11, 31, 23, 59, 59, 999))).toBe('event_time_before_projection');
      expect(at(Date.UTC(2020, 0, 1))).toBe('Ok');
      expect(at(0)).toBe('event_time_before_projection');
      expect(at(Date.UTC(2024, 0, 1), { EVENT_TIME_PROJECTION_START: '2024-01-02' })).toBe('event_time_before_projection');
    });

    test('an event more than the allowance ahead of now fails; one within it is accepted', () => {
      expect(at(now + 3600_000)).toBe('Ok');
      expect(at(now + 3600_999)).toBe('Ok'); // whole seconds, as the jq query compares
      expect(at(now + 3601_000)).toBe('event_time_too_far_ahead');
      expect(at(now + 366 * 86_400_000)).toBe('event_time_too_far_ahead');
      expect(at(now + 60_000, { EVENT_TIME_MAX_FUTURE_SECONDS: '0' })).toBe('event_time_too_far_ahead');
      expect(at(now + 86_400_000, { EVENT_TIME_MAX_FUTURE_SECONDS: '86400' })).toBe('Ok');
    });

    test('epoch seconds read as millis (1970) and millis read as seconds (far future) both fail', () => {
      expect(at(Math.floor(now / 1000))).toBe('event_time_before_projection');
      expect(reason(transformRecord(b64({ ts: 17_000_000_000 }), config({ EVENT_TIME_FORMAT: 'epoch_seconds' }), now))).toBe('event_time_too_far_ahead');
    });

    test('the batch measures the allowance against the now it is given', () => {
      const records = [{ recordId: 'a', payload: b64({ ts: '2026-12-03T12:30:00Z' }), payloadField: 'data' as const }];
      expect(transformBatch(records, config(), RESPONSE_BUDGET_BYTES, now).records[0].result).toBe('Ok');
      expect(transformBatch(records, config(), RESPONSE_BUDGET_BYTES, now - 7200_000).failedByReason).toEqual({ event_time_too_far_ahead: 1 });
    });
  });

  test('reads a nested dotted path', () => {
    const c = config({ EVENT_TIME_FIELD: 'meta.time.at' });
    const r = ok(transformRecord(b64({ meta: { time: { at: '2024-06-01T12:00:00+02:00' } } }), c));
    expect(r.partitionKeys).toEqual({ dt: '2024-06-01', hour: '10' });
    expect(r.data).toEqual({ meta: { time: { at: '2024-06-01T10:00:00.000Z' } } });
    expect(reason(transformRecord(b64({ meta: { time: '2024-06-01T12:00:00Z' } }), c))).toBe('missing_event_time');
  });

  test('partitions an offset timestamp on its UTC day and hour, across a year boundary', () => {
    const r = ok(transformRecord(b64({ ts: '2024-12-31T23:30:00-01:00' }), config()));
    expect(r.partitionKeys).toEqual({ dt: '2025-01-01', hour: '00' });
    expect(r.data).toEqual({ ts: '2025-01-01T00:30:00.000Z' });
  });

  test.each([
    ['2024-12-31T23:59:59.999Z', '2024-12-31', '23'],
    ['2025-01-01T00:00:00Z', '2025-01-01', '00'],
    ['2025-01-01T00:30:00+01:00', '2024-12-31', '23'],
    ['2024-06-01T00:00:00Z', '2024-06-01', '00'],
    ['2024-06-01T00:00:00+00:01', '2024-05-31', '23'],
    ['2024-02-29T23:59:59Z', '2024-02-29', '23'],
    ['2024-03-01T00:59:00+01:00', '2024-02-29', '23'],
  ])('puts %s in dt=%s hour=%s (midnight, year and leap-day boundaries)', (ts, dt, hour) => {
    expect(ok(transformRecord(b64({ ts }), config())).partitionKeys).toEqual({ dt, hour });
  });

  describe('DST transitions are explicit offsets, so partitions follow UTC', () => {
    test.each([
      // US Eastern spring forward, 2024-03-10: 01:59:59 EST is followed by 03:00:00 EDT.
      ['2024-03-10T01:59:59-05:00', '2024-03-10T06:59:59.000Z', '06'],
      ['2024-03-10T03:00:00-04:00', '2024-03-10T07:00:00.000Z', '07'],
      // US Eastern fall back, 2024-11-03: 01:30 happens twice, an hour apart.
      ['2024-11-03T01:30:00-04:00', '2024-11-03T05:30:00.000Z', '05'],
      ['2024-11-03T01:30:00-05:00', '2024-11-03T06:30:00.000Z', '06'],
      // Central Europe spring forward, 2024-03-31: 01:59:59 CET is followed by 03:00:00 CEST.
      ['2024-03-31T01:59:59+01:00', '2024-03-31T00:59:59.000Z', '00'],
      ['2024-03-31T03:00:00+02:00', '2024-03-31T01:00:00.000Z', '01'],
      // Central Europe fall back, 2024-10-27: 02:30 happens twice.
      ['2024-10-27T02:30:00+02:00', '2024-10-27T00:30:00.000Z', '00'],
      ['2024-10-27T02:30:00+01:00', '2024-10-27T01:30:00.000Z', '01'],
    ])('%s is %s', (ts, iso, hour) => {
      const r = ok(transformRecord(b64({ ts }), config()));
      expect(r.data).toEqual({ ts: iso });
      expect(r.partitionKeys.hour).toBe(hour);
    });

    test('the same instant written with different offsets lands in the same partition', () => {
      const writings = ['2024-03-10T07:00:00Z', '2024-03-10T03:00:00-04:00', '2024-03-10T02:00:00-0500', '2024-03-10T08:00:00+01', '2024-03-10T12:30:00+05:30'];
      const results = writings.map((ts) => ok(transformRecord(b64({ ts }), config())));
      for (const r of results) {
        expect(r.partitionKeys).toEqual({ dt: '2024-03-10', hour: '07' });
        expect(r.data).toEqual({ ts: '2024-03-10T07:00:00.000Z' });
      }
    });

    test('an offset crossing midnight moves the record to the previous UTC day', () => {
      expect(ok(transformRecord(b64({ ts: '2024-03-31T00:30:00+02:00' }), config())).partitionKeys).toEqual({ dt: '2024-03-30', hour: '22' });
    });
  });

  test.each([
    ['epoch_seconds', 1704067199, '2023-12-31', '23'],
    ['epoch_seconds', '1704067200', '2024-01-01', '00'],
    ['epoch_seconds', 1704067199.999, '2023-12-31', '23'],
    ['epoch_seconds', '1709251199.5', '2024-02-29', '23'],
    ['epoch_millis', 1704067199999, '2023-12-31', '23'],
    ['epoch_millis', '1704067200000', '2024-01-01', '00'],
    ['epoch_millis', 1704067200000.5, '2024-01-01', '00'],
  ] as const)('%s %j partitions to dt=%s hour=%s and stays untouched in the payload', (format, ts, dt, hour) => {
    const r = ok(transformRecord(b64({ ts }), config({ EVENT_TIME_FORMAT: format })));
    expect(r.partitionKeys).toEqual({ dt, hour });
    expect(r.data).toEqual({ ts });
  });

  test('daily granularity emits dt only', () => {
    expect(ok(transformRecord(b64({ ts: '2024-06-01T23:00:00Z' }), config({ EVENT_TIME_GRANULARITY: 'day' }))).partitionKeys)
      .toEqual({ dt: '2024-06-01' });
  });

  test('EVENT_TIME_OUTPUT_FIELD receives the normalized time and leaves the source field as written', () => {
    const iso = ok(transformRecord(b64({ ts: '2024-06-01T12:00:00+02:00' }), config({ EVENT_TIME_OUTPUT_FIELD: 'event_time' })));
    expect(iso.data).toEqual({ ts: '2024-06-01T12:00:00+02:00', event_time: '2024-06-01T10:00:00.000Z' });
    const epoch = ok(transformRecord(b64({ ts: 1717236000 }), config({ EVENT_TIME_FORMAT: 'epoch_seconds', EVENT_TIME_OUTPUT_FIELD: 'event_time' })));
    expect(epoch.data).toEqual({ ts: 1717236000, event_time: '2024-06-01T10:00:00.000Z' });
  });
});

describe('transformRecord: partition fields', () => {
  const c = config({ PARTITION_FIELDS: '{"region":"meta.region","tenant":"tenant","shard":"n","flag":"b"}' });
  const base = { ts: '2024-06-01T12:00:00Z', meta: { region: 'eu-west-1' }, tenant: 'acme', n: 7, b: true };

  test('adds each configured key after dt and hour, stringifying numbers and booleans', () => {
    expect(ok(transformRecord(b64(base), c)).partitionKeys).toEqual({ dt: '2024-06-01', hour: '12', region: 'eu-west-1', tenant: 'acme', shard: '7', flag: 'true' });
  });

  test.each([
    ['missing', { meta: {} }, 'missing_partition_field'],
    ['null', { tenant: null }, 'missing_partition_field'],
    ['behind a scalar', { meta: 'eu' }, 'missing_partition_field'],
    ['an object', { tenant: { id: 1 } }, 'invalid_partition_value'],
    ['an array', { tenant: ['a'] }, 'invalid_partition_value'],
    ['empty', { tenant: '' }, 'invalid_partition_value'],
    ['containing a slash', { tenant: 'acme/../x' }, 'invalid_partition_value'],
    ['containing a space', { tenant: 'acme corp' }, 'invalid_partition_value'],
    ['non-ASCII', { tenant: 'zürich' }, 'invalid_partition_value'],
    ['over 512 characters', { tenant: 'a'.repeat(513) }, 'invalid_partition_value'],
  ])('fails a partition value that is %s', (_name, patch, expected) => {
    expect(reason(transformRecord(b64({ ...base, ...patch }), c))).toBe(expected);
  });

  test('accepts the edge of the safe set', () => {
    const r = ok(transformRecord(b64({ ...base, tenant: `A-z_0.9:=+${'x'.repeat(502)}` }), c));
    expect(r.partitionKeys.tenant).toHaveLength(512);
  });
});

describe('transformRecord: enum-projected partition values', () => {
  const c = config({ PARTITION_FIELDS: '{"p_region":"region","p_tenant":"tenant"}', PARTITION_VALUES: '{"p_region":["us","eu"]}' });
  const base = { ts: '2024-06-01T12:00:00Z', region: 'eu', tenant: 'acme' };

  test('accepts a projected value and leaves injected keys open', () => {
    expect(ok(transformRecord(b64(base), c)).partitionKeys).toEqual({ dt: '2024-06-01', hour: '12', p_region: 'eu', p_tenant: 'acme' });
    expect(ok(transformRecord(b64({ ...base, tenant: 'anyone' }), c)).partitionKeys.p_tenant).toBe('anyone');
  });

  test('fails a value outside the projection, which Athena could never read', () => {
    expect(reason(transformRecord(b64({ ...base, region: 'apac' }), c))).toBe('partition_value_not_projected');
  });

  test('rejects value lists for keys that are not partition fields, and malformed lists', () => {
    expect(() => config({ PARTITION_FIELDS: '{"p_region":"region"}', PARTITION_VALUES: '{"p_other":["a"]}' })).toThrow(/PARTITION_VALUES\['p_other'\]: not a key of PARTITION_FIELDS/);
    expect(() => config({ PARTITION_FIELDS: '{"p_region":"region"}', PARTITION_VALUES: '{"p_region":[]}' })).toThrow(/must be a non-empty list of strings/);
    expect(() => config({ PARTITION_FIELDS: '{"p_region":"region"}', PARTITION_VALUES: '["us"]' })).toThrow(/must be a JSON object/);
  });
});

describe('transformRecord: flattening and output', () => {
  test('copies nested values to top-level columns, after normalizing event time', () => {
    const c = config({ EVENT_TIME_FIELD: 'meta.ts', FLATTEN_FIELDS: '{"device_id":"device.id","event_ts":"meta.ts","tags":"device.tags","gone":"no.such"}' });
    const r = ok(transformRecord(b64({ meta: { ts: '2024-06-01T12:00:00-05:00' }, device: { id: 'd-1', tags: ['a', 'b'] } }), c));
    expect(r.data).toEqual({
      meta: { ts: '2024-06-01T17:00:00.000Z' },
      device: { id: 'd-1', tags: ['a', 'b'] },
      device_id: 'd-1',
      event_ts: '2024-06-01T17:00:00.000Z',
      tags: ['a', 'b'],
    });
  });

  test('reads every flatten source before writing, so one flatten cannot feed another', () => {
    const c = config({ FLATTEN_FIELDS: '{"a":"x.a","b":"a.inner"}' });
    const r = ok(transformRecord(b64({ ts: '2024-06-01T12:00:00Z', x: { a: 'from-x' }, a: { inner: 'from-a' } }), c));
    expect(r.data).toMatchObject({ a: 'from-x', b: 'from-a' });
  });

  test('writes one compact JSON line ending in a newline and keeps unicode', () => {
    const r = ok(transformRecord(b64('{ "ts" : "2024-06-01T12:00:00Z",\n "city": "Zürich" }'), config()));
    expect(r.raw).toBe('{"ts":"2024-06-01T12:00:00.000Z","city":"Zürich"}\n');
  });
});

// ------------------------------------------------------------------ batch

function source(recordId: string, payload: string, payloadField: SourceRecord['payloadField'] = 'data'): SourceRecord {
  return { recordId, payload, payloadField };
}

describe('transformBatch', () => {
  const c = config({ PARTITION_FIELDS: '{"region":"region"}' });

  test('returns one answer per record, in order, with the same recordIds and original data on failure', () => {
    const inputs = [
      source('r-0', b64({ ts: '2024-06-01T12:00:00Z', region: 'eu' })),
      source('r-1', 'garbage!'),
      source('r-2', b64({ ts: '2024-06-01T13:00:00+01:00', region: 'us' })),
      source('r-3', b64([1, 2])),
      source('r-4', b64({ ts: '2024-06-01T12:00:00Z' })),
    ];
    const out = transformBatch(inputs, c);
    expect(out.records.map((r) => r.recordId)).toEqual(['r-0', 'r-1', 'r-2', 'r-3', 'r-4']);
    expect(out.records.map((r) => r.result)).toEqual(['Ok', 'ProcessingFailed', 'Ok', 'ProcessingFailed', 'ProcessingFailed']);
    expect(out.reasons).toEqual([undefined, 'invalid_base64', undefined, 'not_an_object', 'missing_partition_field']);
    expect(out.records[0]).toEqual({
      recordId: 'r-0',
      result: 'Ok',
      data: b64('{"ts":"2024-06-01T12:00:00.000Z","region":"eu"}\n'),
      metadata: { partitionKeys: { dt: '2024-06-01', hour: '12', region: 'eu' } },
    });
    for (const i of [1, 3, 4]) {
      expect(out.records[i]).toEqual({ recordId: inputs[i].recordId, result: 'ProcessingFailed', data: inputs[i].payload });
    }
    expect(out).toMatchObject({ ok: 2, failed: 3, failedByReason: { invalid_base64: 1, not_an_object: 1, missing_partition_field: 1 } });
    expect(out.responseBytes).toBe(Buffer.byteLength(JSON.stringify({ records: out.records })));
  });

  test('answers MSK records in kafkaRecordValue, as the Firehose MSK contract requires', () => {
    const out = transformBatch([
      source('k-0', b64({ ts: '2024-06-01T12:00:00Z', region: 'eu' }), 'kafkaRecordValue'),
      source('k-1', b64('{nope'), 'kafkaRecordValue'),
    ], c);
    expect(out.records[0]).toEqual({
      recordId: 'k-0',
      result: 'Ok',
      kafkaRecordValue: b64('{"ts":"2024-06-01T12:00:00.000Z","region":"eu"}\n'),
      metadata: { partitionKeys: { dt: '2024-06-01', hour: '12', region: 'eu' } },
    });
    expect(out.records[1]).toEqual({ recordId: 'k-1', result: 'ProcessingFailed', kafkaRecordValue: b64('{nope') });
    expect(out.responseBytes).toBe(Buffer.byteLength(JSON.stringify({ records: out.records })));
  });

  test('never emits Dropped', () => {
    const out = transformBatch(['x', b64('1'), b64({}), b64({ ts: 'x' })].map((p, i) => source(`r${i}`, p)), c);
    expect(out.records.every((r) => r.result === 'ProcessingFailed')).toBe(true);
  });

  test('an empty batch is an empty response', () => {
    const out = transformBatch([], c);
    expect(out.records).toEqual([]);
    expect(out.responseBytes).toBe(JSON.stringify({ records: [] }).length);
  });

  test('counts response bytes exactly, including escaped ids and non-base64 payloads', () => {
    const out = transformBatch([
      source('id "quoted" ü', b64({ ts: '2024-06-01T12:00:00Z', region: 'eu' })),
      source('id\n2', 'not base64 "é" \u0001'),
      source('plain', b64({ ts: '2024-06-01T12:00:00Z', region: 'eu', note: 'ünïcödé ✓' })),
    ], c);
    expect(out.responseBytes).toBe(Buffer.byteLength(JSON.stringify({ records: out.records }), 'utf8'));
  });

  describe('response size budget', () => {
    // Flattening a large nested blob roughly doubles each record: the request fits, the transformed response would not.
    const fc = config({ FLATTEN_FIELDS: '{"blob_copy":"nested.blob"}', PARTITION_FIELDS: '{"region":"region"}' });
    const record = (i: number): SourceRecord => source(
      `49546986683135544286507457936321625675700192471156785154${String(i).padStart(6, '0')}`,
      b64({ ts: '2024-06-01T12:00:00+02:00', region: 'eu-west-1', nested: { blob: 'x'.repeat(1400) } }),
    );
    const inputs = Array.from({ length: 2500 }, (_, i) => record(i));
    const requestBytes = Buffer.byteLength(JSON.stringify({
      invocationId: 'inv', deliveryStreamArn: 'arn:aws:firehose:eu-west-1:123456789012:deliverystream/s', region: 'eu-west-1',
      records: inputs.map((r) => ({ recordId: r.recordId, approximateArrivalTimestamp: 1717236000000, data: r.payload })),
    }));

    test('the synthetic batch is a legal request whose full transformation would exceed 6 MB', () => {
      expect(requestBytes).toBeLessThan(LAMBDA_RESPONSE_LIMIT);
      const unbounded = transformBatch(inputs, fc, Number.MAX_SAFE_INTEGER);
      expect(unbounded.failed).toBe(0);
      expect(unbounded.responseBytes).toBeGreaterThan(LAMBDA_RESPONSE_LIMIT);
    });

    test('returns the records that do not fit as ProcessingFailed with their original data, within the budget', () => {
      const out = transformBatch(inputs, fc);
      const serialized = JSON.stringify({ records: out.records });
      expect(Buffer.byteLength(serialized)).toBe(out.responseBytes);
      expect(out.responseBytes).toBeLessThanOrEqual(RESPONSE_BUDGET_BYTES);
      expect(out.responseBytes).toBeLessThan(LAMBDA_RESPONSE_LIMIT);
      expect(out.ok).toBeGreaterThan(0);
      expect(out.failed).toBeGreaterThan(0);
      expect(out.failedByReason).toEqual({ response_size_budget: out.failed });
      expect(out.records.map((r) => r.recordId)).toEqual(inputs.map((r) => r.recordId));
      // Equal-sized records: the first ones fit, the rest fall back.
      expect(out.records.slice(0, out.ok).every((r) => r.result === 'Ok')).toBe(true);
      out.records.slice(out.ok).forEach((r, j) => {
        expect(r).toEqual({ recordId: inputs[out.ok + j].recordId, result: 'ProcessingFailed', data: inputs[out.ok + j].payload });
      });
      // Filling the budget: one more Ok record would not have fitted.
      const okSize = Buffer.byteLength(JSON.stringify(out.records[0]));
      const failedSize = Buffer.byteLength(JSON.stringify(out.records[out.ok]));
      expect(out.responseBytes + okSize - failedSize).toBeGreaterThan(RESPONSE_BUDGET_BYTES);
    });

    test('still accepts a later record that shrinks or fits after a large one did not', () => {
      const big = source('big', b64({ ts: '2024-06-01T12:00:00Z', region: 'eu', nested: { blob: 'y'.repeat(5000) } }));
      const small = source('small', b64({ ts: '2024-06-01T12:00:00Z', region: 'eu', nested: { blob: 'z' } }));
      const failedOnly = transformBatch([big, small], fc, 0).responseBytes; // nothing fits: all fall back
      const out = transformBatch([big, small], fc, failedOnly + 200);
      expect(out.records.map((r) => r.result)).toEqual(['ProcessingFailed', 'Ok']);
      expect(out.reasons).toEqual(['response_size_budget', undefined]);
      expect(out.responseBytes).toBeLessThanOrEqual(failedOnly + 200);
    });

    test('with no room at all, every record falls back to its original data', () => {
      const out = transformBatch(inputs.slice(0, 10), fc, 0);
      expect(out.ok).toBe(0);
      expect(out.records.map((r) => r.data)).toEqual(inputs.slice(0, 10).map((r) => r.payload));
    });
  });
});

// ------------------------------------------------------------------ adapter

const ENV_KEYS = ['EVENT_TIME_FIELD', 'EVENT_TIME_FORMAT', 'EVENT_TIME_GRANULARITY', 'EVENT_TIME_PROJECTION_START', 'EVENT_TIME_MAX_FUTURE_SECONDS', 'PARTITION_FIELDS', 'FLATTEN_FIELDS', 'EVENT_TIME_OUTPUT_FIELD'];

type Handler = (event: FirehoseTransformEvent) => Promise<FirehoseTransformResponse>;

function loadHandler(env: Record<string, string>): Handler {
  return coldRequire<{ handler: Handler }>(path.join(__dirname, '..', '..', 'lambda', 'firehose-transform', 'index'), onlyEnv(ENV_KEYS, env)).handler;
}

const ENV = {
  EVENT_TIME_FIELD: 'meta.ts',
  EVENT_TIME_FORMAT: 'iso8601',
  EVENT_TIME_GRANULARITY: 'day',
  EVENT_TIME_PROJECTION_START: '2020-01-01',
  EVENT_TIME_MAX_FUTURE_SECONDS: '3600',
  PARTITION_FIELDS: '{"p_region":"region"}',
  FLATTEN_FIELDS: '{"user_id":"user.id"}',
};

function event(records: FirehoseTransformEvent['records']): FirehoseTransformEvent {
  return { invocationId: 'inv-1', deliveryStreamArn: 'arn:aws:firehose:eu-west-1:123456789012:deliverystream/curated', region: 'eu-west-1', records };
}

describe('handler (index.ts)', () => {
  let log: jest.SpyInstance;
  beforeEach(() => {
    log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
  });
  afterEach(() => log.mockRestore());

  test('fails at module init on a bad configuration, naming the variable', () => {
    expect(() => loadHandler({ ...ENV, EVENT_TIME_FORMAT: 'rfc2822' })).toThrow(/EVENT_TIME_FORMAT must be one of/);
    expect(() => loadHandler({ ...ENV, PARTITION_FIELDS: '' })).toThrow(/PARTITION_FIELDS is required/);
  });

  test('transforms a Kinesis-sourced Firehose event and logs one line of counts without payloads', async () => {
    const handler = loadHandler(ENV);
    const secret = 'user-secret-value';
    const response = await handler(event([
      { recordId: 'a', approximateArrivalTimestamp: 1717236000000, data: b64({ meta: { ts: '2024-06-01T00:30:00+02:00' }, region: 'eu', user: { id: secret } }), kinesisRecordMetadata: { shardId: 'shardId-000000000000' } },
      { recordId: 'b', approximateArrivalTimestamp: 1717236000000, data: b64(`{"meta":{"ts":"${secret}"}}`) },
      { recordId: 'c', approximateArrivalTimestamp: 1717236000000, data: '!!' },
    ]));
    expect(response).toEqual({
      records: [
        {
          recordId: 'a',
          result: 'Ok',
          data: b64(`{"meta":{"ts":"2024-05-31T22:30:00.000Z"},"region":"eu","user":{"id":"${secret}"},"user_id":"${secret}"}\n`),
          metadata: { partitionKeys: { dt: '2024-05-31', p_region: 'eu' } },
        },
        { recordId: 'b', result: 'ProcessingFailed', data: b64(`{"meta":{"ts":"${secret}"}}`) },
        { recordId: 'c', result: 'ProcessingFailed', data: '!!' },
      ],
    });
    expect(log).toHaveBeenCalledTimes(1);
    const line = log.mock.calls[0][0] as string;
    expect(JSON.parse(line)).toEqual({
      level: 'WARN',
      message: 'firehose-transform batch',
      invocationId: 'inv-1',
      deliveryStreamArn: 'arn:aws:firehose:eu-west-1:123456789012:deliverystream/curated',
      records: 3,
      ok: 1,
      failed: 2,
      failedByReason: { invalid_event_time: 1, invalid_base64: 1 },
      responseBytes: Buffer.byteLength(JSON.stringify(response)),
    });
    expect(line).not.toContain(secret);
  });

  test('answers MSK records (kafkaRecordValue) in the same field', async () => {
    const handler = loadHandler(ENV);
    const value = b64({ meta: { ts: '2024-06-01T12:00:00Z' }, region: 'us' });
    const response = await handler(event([{ recordId: 'm', approximateArrivalTimestamp: 1717236000000, kafkaRecordValue: value }]));
    expect(response.records).toEqual([{
      recordId: 'm',
      result: 'Ok',
      kafkaRecordValue: b64('{"meta":{"ts":"2024-06-01T12:00:00.000Z"},"region":"us"}\n'),
      metadata: { partitionKeys: { dt: '2024-06-01', p_region: 'us' } },
    }]);
    expect(JSON.parse(log.mock.calls[0][0] as string)).toMatchObject({ level: 'INFO', ok: 1, failed: 0, failedByReason: {} });
  });

  test('fails a record that carries no payload instead of the whole batch', async () => {
    const handler = loadHandler(ENV);
    const response = await handler(event([{ recordId: 'empty', approximateArrivalTimestamp: 1 }]));
    expect(response.records).toEqual([{ recordId: 'empty', result: 'ProcessingFailed', data: '' }]);
  });

  test('throws on an event that is not a Firehose transformation request', async () => {
    const handler = loadHandler(ENV);
    await expect(handler({} as FirehoseTransformEvent)).rejects.toThrow(/no records array/);
  });
});
