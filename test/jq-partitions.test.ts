import { execFileSync, spawnSync } from 'child_process';
import { Duration } from 'aws-cdk-lib';
import * as glue from 'aws-cdk-lib/aws-glue';
import { addDefaultLake, addLakeOnExistingResources } from '../bin/examples';
import { EventTimeFormat, StreamingLake, TimeGranularity, type EventTimeOptions } from '../lib';
import { parseConfig, transformRecord } from '../lambda/firehose-transform/core';
import { curatedTable, s3Destination, synth } from './support/template';

/**
 * Runs the MetadataExtractionQuery exactly as synthesized into the template
 * through Debian's jq 1.6, the engine Firehose runs (`JQ-1.6`).
 */

const JQ = process.env.JQ_BIN ?? 'jq';

function templateQuery(build: Parameters<typeof synth>[0]): { query: string; dateFormat: string } {
  const t = synth(build);
  const processor = s3Destination(t).ProcessingConfiguration.Processors.find((p: any) => p.Type === 'MetadataExtraction');
  const query = processor.Parameters.find((p: any) => p.ParameterName === 'MetadataExtractionQuery').ParameterValue;
  const dateFormat = curatedTable(t).Properties.TableInput.Parameters['projection.dt.format'];
  return { query, dateFormat };
}

/** Partition keys jq extracts from one record, or null when jq fails (Firehose sends the record to the error prefix). */
function jq(query: string, record: unknown): Record<string, string> | null {
  const r = spawnSync(JQ, ['-c', query], { input: JSON.stringify(record), encoding: 'utf8' });
  if (r.status !== 0) return null;
  return JSON.parse(r.stdout);
}

/** Partition keys of each record, run through one jq process (jq goes on to the next input after an error, which prints no line). */
function jqEach(query: string, records: unknown[]): { status: number | null; outputs: Record<string, string>[] } {
  const r = spawnSync(JQ, ['-c', query], { input: records.map((x) => JSON.stringify(x)).join('\n'), encoding: 'utf8' });
  return { status: r.status, outputs: r.stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l)) };
}

/** Formats a UTC instant with the Java date pattern of the projection (the subset Athena date projection uses here). */
function javaFormat(pattern: string, d: Date): string {
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return pattern.replace('yyyy', String(d.getUTCFullYear())).replace('MM', pad(d.getUTCMonth() + 1)).replace('dd', pad(d.getUTCDate())).replace('HH', pad(d.getUTCHours()));
}

function lakeWith(format: EventTimeFormat, granularity: TimeGranularity, type: glue.Type) {
  return templateQuery((s) => new StreamingLake(s, 'Lake', {
    schema: [{ name: 'ts', type }, { name: 'region', type: glue.Schema.STRING }],
    eventTime: { field: 'ts', format, granularity },
    partitionKeys: [{ field: 'region', values: ['us', 'eu'] }],
  }));
}

/** Instants around midnight, year boundaries and a leap day, all inside the default projection range (2020-01-01 to now). */
const INSTANTS = [
  '2024-01-01T00:00:00.000Z',
  '2024-02-29T23:59:59.999Z',
  '2024-03-01T00:00:00.000Z',
  '2024-06-15T12:34:56.789Z',
  '2024-12-31T23:59:59.000Z',
  '2024-12-31T23:59:59.999Z',
  '2025-01-01T00:00:00.000Z',
  '2025-01-01T00:00:00.001Z',
  '2020-01-01T00:00:00.500Z',
  '2026-01-19T03:14:08.000Z',
].map((s) => new Date(s));

beforeAll(() => {
  const version = execFileSync(JQ, ['--version'], { encoding: 'utf8' }).trim();
  // Firehose's engine is jq 1.6; another version could accept what Firehose rejects.
  expect(version).toBe('jq-1.6');
});

describe('the synthesized jq 1.6 query', () => {
  test('derives dt from ISO-8601 UTC strings, with and without fractions, in the projection format (defaults)', () => {
    const { query, dateFormat } = templateQuery((s) => addDefaultLake(s));
    for (const d of INSTANTS) {
      const expected = { dt: javaFormat(dateFormat, d) };
      expect([d.toISOString(), jq(query, { event_time: d.toISOString() })]).toEqual([d.toISOString(), expected]);
      const whole = d.toISOString().replace(/\.\d{3}Z$/, 'Z');
      expect([whole, jq(query, { event_time: whole })]).toEqual([whole, expected]);
    }
  });

  test('derives dt and the key from epoch milliseconds, as number and string', () => {
    const { query, dateFormat } = templateQuery((s) => addLakeOnExistingResources(s));
    for (const d of INSTANTS) {
      const expected = { dt: javaFormat(dateFormat, d), tenant_id: 'acme' };
      expect(jq(query, { ts: d.getTime(), tenant: 'acme' })).toEqual(expected);
      expect(jq(query, { ts: String(d.getTime()), tenant: 'acme' })).toEqual(expected);
    }
  });

  test('derives dt and hour from epoch seconds, including fractional seconds', () => {
    const { query, dateFormat } = lakeWith(EventTimeFormat.EPOCH_SECONDS, TimeGranularity.HOUR, glue.Schema.BIG_INT);
    for (const d of INSTANTS) {
      const expected = { dt: javaFormat(dateFormat, d), hour: javaFormat('HH', d), p_region: 'eu' };
      expect(jq(query, { ts: Math.floor(d.getTime() / 1000), region: 'eu' })).toEqual(expected);
      expect(jq(query, { ts: d.getTime() / 1000, region: 'eu' })).toEqual(expected);
    }
  });

  test('derives dt and hour from epoch millis at hour granularity', () => {
    const { query } = lakeWith(EventTimeFormat.EPOCH_MILLIS, TimeGranularity.HOUR, glue.Schema.TIMESTAMP);
    expect(jq(query, { ts: Date.UTC(2024, 11, 31, 23, 59, 59, 999), region: 'us' })).toEqual({ dt: '2024-12-31', hour: '23', p_region: 'us' });
    expect(jq(query, { ts: Date.UTC(2025, 0, 1, 0, 0, 0, 0), region: 'us' })).toEqual({ dt: '2025-01-01', hour: '00', p_region: 'us' });
  });

  test('writes exactly the projection date format', () => {
    for (const { query, dateFormat } of [templateQuery((s) => addDefaultLake(s)), lakeWith(EventTimeFormat.EPOCH_SECONDS, TimeGranularity.DAY, glue.Schema.DOUBLE)]) {
      expect(dateFormat).toBe('yyyy-MM-dd');
      const out = jq(query, { event_time: '2024-07-04T05:06:07Z', ts: 1720069567, region: 'us' })!;
      const pattern = new RegExp(`^${dateFormat.replace('yyyy', '\\d{4}').replace(/MM|dd/g, '\\d{2}')}$`);
      expect(out.dt).toMatch(pattern);
      expect(out.dt).toBe('2024-07-04');
    }
  });

  test('fails (error prefix) rather than guessing on missing, malformed or offset timestamps', () => {
    const { query } = templateQuery((s) => addDefaultLake(s));
    for (const bad of [{}, { event_time: null }, { event_time: 'yesterday' }, { event_time: '2024-06-01T12:00:00+02:00' }, { event_time: '2024-06-01 12:00:00' }]) {
      expect([bad, jq(query, bad)]).toEqual([bad, null]);
    }
    const millis = templateQuery((s) => addLakeOnExistingResources(s)).query;
    expect(jq(millis, { tenant: 'acme' })).toBeNull();
    expect(jq(millis, { ts: 'abc', tenant: 'acme' })).toBeNull();
  });
});

describe('partition key values in the jq query', () => {
  const { query } = lakeWith(EventTimeFormat.EPOCH_MILLIS, TimeGranularity.DAY, glue.Schema.BIG_INT);
  const ts = Date.UTC(2024, 5, 1);

  test('an enum key accepts its projected values', () => {
    expect(jq(query, { ts, region: 'us' })).toEqual({ dt: '2024-06-01', p_region: 'us' });
    expect(jq(query, { ts, region: 'eu' })).toEqual({ dt: '2024-06-01', p_region: 'eu' });
  });

  test('a value outside the enum fails to the error prefix instead of landing where Athena cannot see it', () => {
    expect(jq(query, { ts, region: 'apac' })).toBeNull();
  });

  test('a missing, null, nested or path-breaking key value fails to the error prefix', () => {
    for (const region of [undefined, null, { a: 1 }, ['us'], 'us/east', '']) {
      expect([region, jq(query, { ts, region })]).toEqual([region, null]);
    }
  });

  test('an injected key takes any safe scalar, numbers and booleans as text', () => {
    const open = templateQuery((s) => new StreamingLake(s, 'Lake', {
      schema: [{ name: 'ts', type: glue.Schema.BIG_INT }, { name: 'tenant', type: glue.Schema.STRING }],
      eventTime: { field: 'ts', format: EventTimeFormat.EPOCH_MILLIS },
      partitionKeys: [{ field: 'tenant' }],
    })).query;
    expect(jq(open, { ts, tenant: 'acme-01' })).toEqual({ dt: '2024-06-01', p_tenant: 'acme-01' });
    expect(jq(open, { ts, tenant: 42 })).toEqual({ dt: '2024-06-01', p_tenant: '42' });
    expect(jq(open, { ts, tenant: true })).toEqual({ dt: '2024-06-01', p_tenant: 'true' });
    expect(jq(open, { ts, tenant: 'a b' })).toBeNull();
  });
});

describe('a long enum stays under Firehose\'s 5,120-character parameter limit', () => {
  // One key with 200 values of 20 characters: 400 active partitions, within the default quota of 500.
  const values = Array.from({ length: 200 }, (_, i) => `sku-${String(i).padStart(16, '0')}`);
  const { query } = templateQuery((s) => new StreamingLake(s, 'Lake', {
    schema: [{ name: 'event_time', type: glue.Schema.STRING }, { name: 'sku', type: glue.Schema.STRING }],
    eventTime: { field: 'event_time' },
    partitionKeys: [{ field: 'sku', values }],
  }));
  const event_time = '2024-06-01T00:00:00Z';

  test('the rendered MetadataExtractionQuery fits', () => {
    expect(values.every((v) => v.length === 20)).toBe(true);
    expect(query.length).toBeLessThanOrEqual(5120);
  });

  test('jq 1.6 accepts every listed value', () => {
    expect(jqEach(query, values.map((sku) => ({ event_time, sku })))).toEqual({ status: 0, outputs: values.map((sku) => ({ dt: '2024-06-01', p_sku: sku })) });
  });

  test('jq 1.6 refuses parts, joins and extensions of listed values', () => {
    for (const sku of ['sku-000000000000000', 'ku-0000000000000000', `${values[0]},${values[1]}`, `${values[0]}0`, 'sku', '0', ',']) {
      expect([sku, jq(query, { event_time, sku })]).toEqual([sku, null]);
    }
  });
});

describe('event times outside the dt projection range fail to the error prefix', () => {
  const HOUR = 3600_000;
  const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

  test('before projectionStart: stored, Athena would never see it', () => {
    const { query } = templateQuery((s) => addDefaultLake(s));
    expect(jq(query, { event_time: '2019-12-31T23:59:59Z' })).toBeNull();
    expect(jq(query, { event_time: '1999-12-31T23:59:59.500Z' })).toBeNull();
    expect(jq(query, { event_time: '2020-01-01T00:00:00Z' })).toEqual({ dt: '2020-01-01' });
  });

  test('more than the allowance (default 1 h) ahead of now: clock skew', () => {
    const { query } = templateQuery((s) => addDefaultLake(s));
    expect(jq(query, { event_time: iso(Date.now() + 2 * HOUR) })).toBeNull();
    expect(jq(query, { event_time: '2038-01-19T03:14:08Z' })).toBeNull();
    const soon = Date.now() + HOUR / 2;
    expect(jq(query, { event_time: iso(soon) })).toEqual({ dt: iso(soon).slice(0, 10) });
  });

  test('epoch millis written into an epoch-seconds field land far in the future and fail', () => {
    const { query } = lakeWith(EventTimeFormat.EPOCH_SECONDS, TimeGranularity.HOUR, glue.Schema.BIG_INT);
    expect(jq(query, { ts: Date.UTC(2024, 5, 1), region: 'us' })).toBeNull();
    expect(jq(query, { ts: Date.UTC(2024, 5, 1) / 1000, region: 'us' })).toEqual({ dt: '2024-06-01', hour: '00', p_region: 'us' });
  });

  test('epoch seconds written into an epoch-millis field land in 1970 and fail', () => {
    const { query } = lakeWith(EventTimeFormat.EPOCH_MILLIS, TimeGranularity.DAY, glue.Schema.BIG_INT);
    expect(jq(query, { ts: Date.UTC(2024, 5, 1) / 1000, region: 'us' })).toBeNull();
  });

  test('projectionStart and maxFutureSkew set the range', () => {
    const { query } = templateQuery((s) => new StreamingLake(s, 'Lake', {
      schema: [{ name: 'event_time', type: glue.Schema.STRING }],
      eventTime: { field: 'event_time', projectionStart: '2024-03-01', maxFutureSkew: Duration.days(2) },
    }));
    expect(jq(query, { event_time: '2024-02-29T23:59:59Z' })).toBeNull();
    expect(jq(query, { event_time: '2024-03-01T00:00:00Z' })).toEqual({ dt: '2024-03-01' });
    const tomorrow = Date.now() + 24 * HOUR;
    expect(jq(query, { event_time: iso(tomorrow) })).toEqual({ dt: iso(tomorrow).slice(0, 10) });
    expect(jq(query, { event_time: iso(Date.now() + 49 * HOUR) })).toBeNull();
  });
});

describe('the jq query and the bundled handler accept the same event times', () => {
  const eventTime: EventTimeOptions = { field: 'ts', format: EventTimeFormat.EPOCH_MILLIS, granularity: TimeGranularity.HOUR, projectionStart: '2024-01-01', maxFutureSkew: Duration.hours(6) };
  const schema = [{ name: 'ts', type: glue.Schema.BIG_INT }];
  const { query } = templateQuery((s) => new StreamingLake(s, 'Lake', { schema, eventTime }));
  const t = synth((s) => new StreamingLake(s, 'Lake', { schema, eventTime, transform: {} }));
  const fn = Object.values(t.findResources('AWS::Lambda::Function')).find((f: any) => f.Properties.Environment?.Variables?.EVENT_TIME_FIELD) as any;
  const handlerConfig = parseConfig(fn.Properties.Environment.Variables);

  test('on both sides of the projection start and of the future allowance', () => {
    const now = Date.now();
    const start = Date.UTC(2024, 0, 1);
    // A minute of margin either side of the moving edge: jq reads its own clock.
    const instants = [0, start - 1000, start - 1, start, start + 999, Date.UTC(2025, 5, 1, 13), now - 86_400_000, now, now + 6 * 3600_000 - 60_000, now + 6 * 3600_000 + 60_000, now + 365 * 86_400_000];
    for (const ts of instants) {
      const fromJq = jq(query, { ts });
      const decision = transformRecord(Buffer.from(JSON.stringify({ ts })).toString('base64'), handlerConfig, Date.now());
      const fromHandler = decision.result === 'Ok' ? decision.partitionKeys : null;
      expect([ts, fromJq]).toEqual([ts, fromHandler]);
    }
  });
});
