/**
 * Alerts, results and the DynamoDB Streams records the scorer's writes produce (contract sections 5
 * and 6), for the fraud publisher's tests.
 */
import { createHash } from 'node:crypto';
import type { FraudAlert, FraudWindowResult } from '../../lambda/shared/fraud/spec';

const sha32 = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex').slice(0, 32);
const iso = (ms: number): string => new Date(ms).toISOString();

export const T0 = Date.parse('2026-12-03T12:00:00.000Z');
export const STATE_STREAM_ARN = 'arn:aws:dynamodb:us-east-1:123456789012:table/state/stream/2026-12-03T00:00:00.000';

export function makeAlert(customerId: string, startMs = T0, key = 'count_above_2', overrides: Partial<FraudAlert> = {}): FraudAlert {
  const endMs = startMs + 60_000;
  return {
    alert_id: sha32(`alert|${customerId}|${startMs}|${endMs}|${key}`),
    customer_id: customerId,
    window_start: iso(startMs),
    window_end: iso(endMs),
    alert_key: key,
    rules_hit: [key],
    score: 1,
    features: { count: 3, sum: 30.5, min: 5, max: 15.25, avg: 30.5 / 3, distinct: { merchant_id: 2, country: 1 } },
    triggering_event_id: 'e3',
    evidence_event_ids: ['e1', 'e2', 'e3'],
    ...overrides,
  };
}

export function makeResult(customerId: string, startMs = T0, overrides: Partial<FraudWindowResult> = {}): FraudWindowResult {
  const endMs = startMs + 60_000;
  return {
    result_id: sha32(`result|${customerId}|${startMs}|${endMs}`),
    customer_id: customerId,
    window_start: iso(startMs),
    window_end: iso(endMs),
    event_count: 3,
    amount_sum: 30.5,
    amount_min: 5,
    amount_max: 15.25,
    amount_avg: 30.5 / 3,
    distinct: { merchant_id: 2, country: 1 },
    distinct_saturated: [],
    score: 1,
    rules_hit: ['count_above_2'],
    alerted: ['count_above_2'],
    ...overrides,
  };
}

let sequence = 100_000_000_000_000_000_000n;
/** DynamoDB Streams sequence numbers: increasing decimal strings. */
export const nextSequenceNumber = (): string => (sequence += 100n).toString();

type Image = Record<string, unknown>;

export function streamRecord(eventName: 'INSERT' | 'MODIFY' | 'REMOVE', keys: Image, newImage?: Image) {
  return {
    eventID: `ev-${sequence}`,
    eventName,
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: 'us-east-1',
    dynamodb: {
      ApproximateCreationDateTime: T0 / 1000,
      Keys: keys,
      ...(newImage ? { NewImage: newImage } : {}),
      SequenceNumber: nextSequenceNumber(),
      SizeBytes: 512,
      StreamViewType: 'NEW_IMAGE',
    },
    eventSourceARN: STATE_STREAM_ARN,
  };
}

/** The outbox item's image, as the scorer Puts it. */
export function alertImage(alert: FraudAlert, extra: Image = {}): Image {
  return {
    pk: { S: `a#${alert.alert_id}` },
    kind: { S: 'alert' },
    alert: { S: JSON.stringify(alert) },
    expiresAt: { N: String(Math.ceil(T0 / 1000) + 7 * 86_400) },
    ...extra,
  };
}

export const alertInsert = (alert: FraudAlert) => streamRecord('INSERT', { pk: { S: `a#${alert.alert_id}` } }, alertImage(alert));

/** A window item's image; `closed` carries the result. */
export function windowImage(result: FraudWindowResult, status: 'open' | 'closed'): Image {
  const start = Date.parse(result.window_start);
  const end = Date.parse(result.window_end);
  return {
    pk: { S: `w#${start}#${end}#${result.customer_id}` },
    kind: { S: 'window' },
    status: { S: status },
    v: { N: '4' },
    shard: { S: 'arn:aws:kinesis:us-east-1:123456789012:stream/in|shardId-000000000000' },
    ids: { B: Buffer.from('0123456789abcdef').toString('base64') },
    expiresAt: { N: String(Math.ceil((end + 60_000 + 86_400_000) / 1000)) },
    ...(status === 'closed' ? { result: { S: JSON.stringify(result) } } : { openShard: { S: 'x|shardId-000000000000' }, end: { N: String(end) } }),
  };
}

export const windowClosed = (result: FraudWindowResult, eventName: 'INSERT' | 'MODIFY' = 'MODIFY') => {
  const image = windowImage(result, 'closed');
  return streamRecord(eventName, { pk: image.pk }, image);
};
