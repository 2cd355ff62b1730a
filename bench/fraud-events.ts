/**
 * The fraud benchmarks' input: one shard's stream of card payments, cut into 1,000-event Lambda Kinesis batches.
 *
 * 100 customers, each with a home country, a few usual merchants and devices, and an activity weight
 * (a few customers are busy). The stream carries ~1,000 events per 30 s of event time, so a customer sees
 * ~10 events per tumbling window on average and busy ones pass `count_above_10`. Mixed in, as a real stream has:
 * - bursts: a customer's card used at many merchants, abroad, for large amounts (fires the other rules);
 * - out-of-order arrival: event time = arrival − a small delay; ~0.5% arrive 60..200 s late
 *   (past the 2-minute lateness some of them land in closed windows: the late sink);
 * - producer retries: ~0.5% of events are sent again a few seconds later (same event_id: duplicates);
 * - ~0.1% broken records (no amount, or not JSON: the failure destination).
 * Deterministic (seeded), so every run and every engine sees the same bytes.
 */
import type { KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import type { FraudRuleSpec, FraudSpec } from '../lambda/shared/fraud/spec';
import { prng } from './prng';

export const BATCH_EVENTS = 1_000;
export const CUSTOMERS = 100;
/** 2026-12-03T12:00:00Z: event times start here. */
const START_MS = Date.UTC(2026, 11, 3, 12, 0, 0);
const EVENTS_PER_SECOND = 1_000 / 30;
export const STREAM_ARN = 'arn:aws:kinesis:eu-west-1:123456789012:stream/payments';
export const SHARD_ID = 'shardId-000000000000';

const rule = (id: string, feature: FraudRuleSpec['feature'], threshold: number, attribute?: string): FraudRuleSpec =>
  ({ id, feature, threshold, weight: 1, ...(attribute === undefined ? {} : { attribute }) });

/** The example: countAbove(10), sumAbove(5000), distinctAbove('merchant_id', 4), distinctAbove('country', 1), maxAbove(2500). */
export function benchSpec(window: { sizeMs: number; slideMs: number } = { sizeMs: 30_000, slideMs: 30_000 }): FraudSpec {
  return {
    version: 1,
    schema: {
      customerId: 'customer_id',
      eventId: 'event_id',
      eventTime: { field: 'ts', format: 'iso8601' },
      amount: 'amount',
      attributes: ['merchant_id', 'country'],
    },
    window,
    allowedLatenessMs: 120_000,
    futureToleranceMs: 300_000,
    distinctCap: 100,
    evidenceEventIds: 10,
    maxEventsPerWindow: 1_000,
    rules: [
      rule('count_above_10', 'count', 10),
      rule('sum_above_5000', 'sum', 5000),
      rule('distinct_merchant_id_above_4', 'distinct', 4, 'merchant_id'),
      rule('distinct_country_above_1', 'distinct', 1, 'country'),
      rule('max_above_2500', 'max', 2500),
    ],
    alert: { kind: 'anyRule' },
    stateRetentionMs: 24 * 3600_000,
    idleTimeoutMs: 60_000,
  };
}

interface Customer {
  id: string;
  country: string;
  merchants: string[];
  devices: string[];
  weight: number;
}

const COUNTRIES = ['GB', 'DE', 'FR', 'NL', 'ES', 'IT', 'IE', 'SE', 'PL', 'US'];

function customers(rand: () => number): Customer[] {
  return Array.from({ length: CUSTOMERS }, (_, i) => ({
    id: `cust-${String(i).padStart(5, '0')}`,
    country: COUNTRIES[Math.floor(rand() * COUNTRIES.length)],
    merchants: Array.from({ length: 3 }, () => `m-${Math.floor(rand() * 5000)}`),
    devices: Array.from({ length: 1 + Math.floor(rand() * 2) }, () => `dev-${Math.floor(rand() * 1e9).toString(36)}`),
    // A heavy tail: most customers pay now and then, a few very often.
    weight: 0.3 + (rand() < 0.1 ? 3 + rand() * 3 : rand()),
  }));
}

/** Log-normal amounts (median ~35), in cents precision. */
function amount(rand: () => number, scale = 1): number {
  const normal = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  return Math.round(Math.exp(3.55 + 1.1 * normal) * scale * 100) / 100;
}

export interface StreamRecord {
  readonly arrivalMs: number;
  readonly data: string;
  readonly partitionKey: string;
}

/** `batches` × 1,000 records in arrival order. */
export function generateRecords(batches: number, seed = 2026): StreamRecord[] {
  const rand = prng(seed);
  const people = customers(rand);
  const totalWeight = people.reduce((n, c) => n + c.weight, 0);
  const pickCustomer = (): Customer => {
    let x = rand() * totalWeight;
    for (const c of people) if ((x -= c.weight) < 0) return c;
    return people[people.length - 1];
  };
  const out: StreamRecord[] = [];
  const retries: StreamRecord[] = [];
  const burst = new Map<string, number>(); // customer → remaining burst events
  let n = 0;
  for (let i = 0; out.length < batches * BATCH_EVENTS; i++) {
    const arrivalMs = START_MS + Math.round(i * (1000 / EVENTS_PER_SECOND));
    // Retries due by now go first.
    while (retries.length > 0 && retries[0].arrivalMs <= arrivalMs && out.length < batches * BATCH_EVENTS) out.push(retries.shift()!);
    if (out.length >= batches * BATCH_EVENTS) break;
    const c = pickCustomer();
    if (!burst.has(c.id) && rand() < 0.004) burst.set(c.id, 6 + Math.floor(rand() * 10));
    const inBurst = (burst.get(c.id) ?? 0) > 0;
    if (inBurst) burst.set(c.id, burst.get(c.id)! - 1);
    const late = rand() < 0.005;
    const delayMs = late ? 60_000 + Math.floor(rand() * 140_000) : Math.floor(-Math.log(1 - rand()) * 400);
    const doc: Record<string, unknown> = {
      customer_id: c.id,
      event_id: `evt-${(n++).toString(16).padStart(8, '0')}-${Math.floor(rand() * 1e12).toString(36)}`,
      ts: new Date(arrivalMs - delayMs).toISOString(),
      amount: amount(rand, inBurst ? 8 : 1),
      currency: 'EUR',
      merchant_id: inBurst && rand() < 0.8 ? `m-${Math.floor(rand() * 5000)}` : c.merchants[Math.floor(rand() * c.merchants.length)],
      country: inBurst && rand() < 0.5 ? COUNTRIES[Math.floor(rand() * COUNTRIES.length)] : c.country,
      device_id: inBurst && rand() < 0.5 ? `dev-${Math.floor(rand() * 1e9).toString(36)}` : c.devices[Math.floor(rand() * c.devices.length)],
      channel: rand() < 0.6 ? 'card_present' : 'ecommerce',
    };
    let data = JSON.stringify(doc);
    const broken = rand();
    if (broken < 0.0005) data = data.slice(0, data.length - 7); // truncated: not JSON
    else if (broken < 0.001) data = JSON.stringify({ ...doc, amount: undefined });
    const record = { arrivalMs, data, partitionKey: c.id };
    out.push(record);
    if (rand() < 0.005) retries.push({ ...record, arrivalMs: arrivalMs + 1_000 + Math.floor(rand() * 5_000) });
  }
  return out;
}

/** Cuts records into Lambda Kinesis events of BATCH_EVENTS, with increasing sequence numbers. */
export function toKinesisEvents(records: readonly StreamRecord[], shardId = SHARD_ID, streamArn = STREAM_ARN): KinesisStreamEvent[] {
  const events: KinesisStreamEvent[] = [];
  for (let b = 0; b * BATCH_EVENTS < records.length; b++) {
    const Records: KinesisStreamRecord[] = records.slice(b * BATCH_EVENTS, (b + 1) * BATCH_EVENTS).map((r, k) => {
      const sequenceNumber = `4965458633123456789012345678${String(1_000_000_000_000 + (b * BATCH_EVENTS + k) * 3).padStart(28, '0')}`;
      return {
        kinesis: {
          kinesisSchemaVersion: '1.0',
          partitionKey: r.partitionKey,
          sequenceNumber,
          data: Buffer.from(r.data).toString('base64'),
          approximateArrivalTimestamp: r.arrivalMs / 1000,
        },
        eventSource: 'aws:kinesis',
        eventVersion: '1.0',
        eventID: `${shardId}:${sequenceNumber}`,
        eventName: 'aws:kinesis:record',
        invokeIdentityArn: 'arn:aws:iam::123456789012:role/fraud-scorer',
        awsRegion: 'eu-west-1',
        eventSourceARN: streamArn,
      };
    });
    events.push({ Records });
  }
  return events;
}
