/**
 * The benchmark's naive fraud engine (bench/fraud-naive.ts) follows the contract on a hand-worked batch:
 * the `fraud-vs-naive` figures compare the scorer with it, and the bench checks both decide the same,
 * so it must be right on its own first.
 */
import { createHash } from 'node:crypto';
import type { KinesisStreamEvent } from 'aws-lambda';
import type { FraudSpec } from '../lambda/shared/fraud/spec';
import { createStateTable, readOutcome } from '../bench/fraud';
import { toKinesisEvents, type StreamRecord } from '../bench/fraud-events';
import { NaiveFraudScorer } from '../bench/fraud-naive';
import { windowsOf } from '../bench/fraud-naive-core';
import { dynamoClient, localAwsEndpoints } from './integration/local-aws';
import { loadFraudCorpus } from './support/fraud-corpus';

const T0 = Date.UTC(2026, 11, 3, 12, 0, 0);
const SPEC: FraudSpec = {
  version: 1,
  schema: { customerId: 'c', eventId: 'id', eventTime: { field: 'ts', format: 'iso8601' }, amount: 'amt', attributes: ['country'] },
  window: { sizeMs: 30_000, slideMs: 30_000 },
  allowedLatenessMs: 60_000,
  futureToleranceMs: 60_000,
  distinctCap: 10,
  evidenceEventIds: 2,
  maxEventsPerWindow: 3,
  rules: [
    { id: 'count_above_2', feature: 'count', threshold: 2, weight: 1 },
    { id: 'max_above_100', feature: 'max', threshold: 100, weight: 1 },
    { id: 'distinct_country_above_1', feature: 'distinct', attribute: 'country', threshold: 1, weight: 1 },
  ],
  alert: { kind: 'anyRule' },
  stateRetentionMs: 3_600_000,
  idleTimeoutMs: 60_000,
};

const ev = (c: string, id: string, sec: number, amt: unknown, country?: string): StreamRecord => ({
  arrivalMs: T0 + 300_000,
  partitionKey: c,
  data: JSON.stringify({ c, id, ts: new Date(T0 + sec * 1000).toISOString(), amt, country }),
});
const sha32 = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 32);
const iso = (sec: number): string => new Date(T0 + sec * 1000).toISOString();

describe('bench naive fraud engine', () => {
  test('windowsOf: tumbling is one half-open window; hopping lists size/slide windows ascending', () => {
    expect(windowsOf(T0 + 30_000, SPEC)).toEqual([{ startMs: T0 + 30_000, endMs: T0 + 60_000 }]);
    const hopping = { ...SPEC, window: { sizeMs: 90_000, slideMs: 30_000 } };
    expect(windowsOf(T0 + 45_000, hopping).map((w) => (w.startMs - T0) / 1000)).toEqual([-30, 0, 30]);
  });

  test('one batch then an idle tick: alerts, duplicates, window_full, invalid, late and closed results follow the contract', async () => {
    const ddb = dynamoClient(localAwsEndpoints().dynamodb);
    try {
      const tableName = await createStateTable(ddb, 'naive-test');
      const naive = new NaiveFraudScorer({ client: ddb, tableName, spec: SPEC, now: () => T0 + 300_000 });
      const records: StreamRecord[] = [
        ev('c1', 'e1', 5, 10, 'GB'),
        ev('c1', 'e2', 10, 200, 'GB'), // max_above_100 fires
        ev('c1', 'e2', 10, 200, 'GB'), // duplicate
        ev('c1', 'e3', 20, '5.5', 'FR'), // count_above_2 and distinct_country_above_1 fire, in rule order
        ev('c1', 'e4', 25, 1, 'GB'), // window_full (3 events already)
        { arrivalMs: T0 + 300_000, partitionKey: 'c1', data: '{"c":' }, // invalid_json
        ev('c2', 'e5', 120, 1, 'GB'), // W := 60 s: c1's [0, 30) is closed
        ev('c1', 'e6', 15, 1, 'GB'), // late
        ev('c1', 'e3', 20, '5.5', 'FR'), // a duplicate even though its window is closed (dup before late)
        ev('c1', 'e7', 30, 'abc', 'GB'), // invalid_amount
      ];
      const [event] = toKinesisEvents(records) as [KinesisStreamEvent];
      await naive.handle(event);
      expect(naive.stats).toEqual({
        events: 8, applied: 4, duplicates: 2, late: 1, windowFull: 1, invalid: { invalid_json: 1, invalid_amount: 1, window_full: 1 }, alerts: 3, windowsClosed: 1,
      });
      let outcome = await readOutcome(ddb, tableName);
      const w0 = { s: iso(0), e: iso(30) };
      expect(outcome.results).toEqual([{
        result_id: sha32(`result|c1|${T0}|${T0 + 30_000}`),
        customer_id: 'c1', window_start: w0.s, window_end: w0.e,
        event_count: 3, amount_sum: 215.5, amount_min: 5.5, amount_max: 200, amount_avg: 215.5 / 3,
        distinct: { country: 2 }, distinct_saturated: [], score: 3,
        rules_hit: ['count_above_2', 'max_above_100', 'distinct_country_above_1'],
        alerted: ['max_above_100', 'count_above_2', 'distinct_country_above_1'],
      }]);
      const byKey = Object.fromEntries(outcome.alerts.map((a) => [a.alert_key, a]));
      expect(byKey.max_above_100).toMatchObject({
        alert_id: sha32(`alert|c1|${T0}|${T0 + 30_000}|max_above_100`), rules_hit: ['max_above_100'], score: 1,
        triggering_event_id: 'e2', evidence_event_ids: ['e1', 'e2'],
        features: { count: 2, sum: 210, min: 10, max: 200, avg: 105, distinct: { country: 1 } },
      });
      expect(byKey.count_above_2).toMatchObject({ triggering_event_id: 'e3', evidence_event_ids: ['e2', 'e3'], score: 3 });
      expect(byKey.distinct_country_above_1.rules_hit).toEqual(['count_above_2', 'max_above_100', 'distinct_country_above_1']);

      // The idle tick at 12:05:00 moves W to 12:04:00 and closes c2's [120 s, 150 s).
      await naive.tick(`${event.Records[0].eventSourceARN}|shardId-000000000000`, T0 + 300_000);
      outcome = await readOutcome(ddb, tableName);
      expect(outcome.results.map((r) => [r.customer_id, r.window_start, r.event_count, r.alerted])).toEqual([
        ['c1', w0.s, 3, ['max_above_100', 'count_above_2', 'distinct_country_above_1']],
        ['c2', iso(120), 1, []],
      ]);
    } finally {
      ddb.destroy();
    }
  });
});

describe('bench naive fraud engine on the corpus', () => {
  const ARN = 'arn:aws:kinesis:us-east-1:123456789012:stream/corpus';
  const files = loadFraudCorpus().filter((c) => c.engines.includes('lambda'));

  test('the corpus has lambda scenarios', () => {
    expect(files.length).toBeGreaterThan(10);
  });

  test.each(files.map((c) => [c.name, c] as const))('%s: alerts, results, duplicates, late and invalid counts as expected', async (_name, c) => {
    const ddb = dynamoClient(localAwsEndpoints().dynamodb);
    try {
      const tableName = await createStateTable(ddb, 'naive-corpus');
      let clock = 0;
      const naive = new NaiveFraudScorer({ client: ddb, tableName, spec: c.spec, now: () => clock });
      let seq = 0;
      // One record per batch, each shard's records in the global arrival order: closing after every event.
      for (const item of c.input) {
        if ('tick' in item) {
          clock = item.tick.nowMs;
          await naive.tick(`${ARN}|${item.shard}`, item.tick.nowMs);
          continue;
        }
        clock = item.arrivalMs;
        const data = 'raw' in item ? item.raw : JSON.stringify(item.data);
        const [event] = toKinesisEvents([{ arrivalMs: item.arrivalMs, partitionKey: 'k', data }], item.shard, ARN);
        const sequenceNumber = String(++seq).padStart(20, '0');
        event.Records[0].kinesis.sequenceNumber = sequenceNumber;
        event.Records[0].eventID = `${item.shard}:${sequenceNumber}`;
        await naive.handle(event);
      }
      const outcome = await readOutcome(ddb, tableName);
      expect(outcome.results).toEqual(c.expected.results);
      expect(outcome.alerts).toEqual([...c.expected.alerts].sort((a, b) => a.alert_id.localeCompare(b.alert_id)));
      expect(naive.stats.duplicates).toBe(c.expected.duplicates);
      expect(naive.stats.late).toBe(c.expected.late.length);
      expect(Object.values(naive.stats.invalid).reduce((a, b) => a + (b ?? 0), 0)).toBe(c.expected.invalid.length);
    } finally {
      ddb.destroy();
    }
  });
});
