import { execFileSync, spawnSync } from 'child_process';
import * as glue from 'aws-cdk-lib/aws-glue';
import { addDefaultLake, addLakeOnExistingResources } from '../bin/examples';
import { EventTimeFormat, StreamingLake, TimeGranularity } from '../lib';
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

/** Instants around midnight, year boundaries and a leap day. */
const INSTANTS = [
  '2024-01-01T00:00:00.000Z',
  '2024-02-29T23:59:59.999Z',
  '2024-03-01T00:00:00.000Z',
  '2024-06-15T12:34:56.789Z',
  '2024-12-31T23:59:59.000Z',
  '2024-12-31T23:59:59.999Z',
  '2025-01-01T00:00:00.000Z',
  '2025-01-01T00:00:00.001Z',
  '1999-12-31T23:59:59.500Z',
  '2038-01-19T03:14:08.000Z',
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
