/**
 * Builders for the fraud engine's tests: a spec, Kinesis records as the event-source mapping
 * delivers them, and the scorer and closer handlers over an in-memory (or any) DynamoDB, an
 * in-memory S3 and a virtual clock whose sleeps advance it.
 */
import type { PutObjectCommand } from '@aws-sdk/client-s3';
import { makeHandler as makeCloser } from '../../lambda/fraud-closer/index';
import { makeHandler as makeScorer, type KinesisBatchEvent } from '../../lambda/fraud-scorer/index';
import type { KinesisEventRecord } from '../../lambda/shared/fraud/parse-event';
import type { FraudSpec } from '../../lambda/shared/fraud/spec';
import type { DynamoSender } from '../../lambda/shared/fraud/state-store';
import { compileFraudSpec } from '../../lambda/shared/fraud/validate-spec';

export const STREAM_ARN = 'arn:aws:kinesis:us-east-1:111122223333:stream/payments';
export const T0 = Date.UTC(2026, 11, 3, 12, 0, 0);

export function fraudSpec(overrides: Partial<FraudSpec> = {}): FraudSpec {
  return {
    version: 1,
    schema: { customerId: 'customer.id', eventId: 'id', eventTime: { field: 'ts', format: 'epoch_millis' }, amount: 'amount', attributes: ['merchant', 'country'] },
    window: { sizeMs: 60_000, slideMs: 60_000 },
    allowedLatenessMs: 10_000,
    futureToleranceMs: 60_000,
    distinctCap: 3,
    evidenceEventIds: 3,
    maxEventsPerWindow: 1000,
    rules: [
      { id: 'count_above_2', feature: 'count', threshold: 2, weight: 1 },
      { id: 'sum_above_100', feature: 'sum', threshold: 100, weight: 2 },
      { id: 'distinct_merchant_above_1', feature: 'distinct', attribute: 'merchant', threshold: 1, weight: 1 },
    ],
    alert: { kind: 'anyRule' },
    stateRetentionMs: 3_600_000,
    idleTimeoutMs: 120_000,
    ...overrides,
  };
}

export interface Payment {
  id: string;
  customer: string;
  ts: number;
  amount: number;
  merchant?: string;
  country?: string;
}

export function paymentJson(p: Payment): Record<string, unknown> {
  return { id: p.id, customer: { id: p.customer }, ts: p.ts, amount: p.amount, merchant: p.merchant, country: p.country };
}

let nextSeq = 49590338271490256608559692538361571095921575989136588898n;

/** A Kinesis record of `data` (an object is JSON; a Buffer is sent as is). */
export function kinesisRecord(data: unknown, arrivalMs: number, shardId = 'shardId-000000000000', seq?: string): KinesisEventRecord {
  const sequenceNumber = seq ?? String(nextSeq++);
  const bytes = Buffer.isBuffer(data) ? data : Buffer.from(typeof data === 'string' ? data : JSON.stringify(data));
  return {
    eventID: `${shardId}:${sequenceNumber}`, eventSourceARN: STREAM_ARN,
    kinesis: { sequenceNumber, partitionKey: 'k', data: bytes.toString('base64'), approximateArrivalTimestamp: arrivalMs / 1000 },
  };
}

export class VirtualClock {
  constructor(public ms: number) {}
  now = (): number => this.ms;
  sleep = async (ms: number): Promise<void> => {
    this.ms += ms;
  };
}

export class MemoryS3 {
  readonly objects = new Map<string, string>();
  puts = 0;
  async send(command: PutObjectCommand): Promise<unknown> {
    this.puts++;
    this.objects.set(`${command.input.Bucket}/${command.input.Key}`, String(command.input.Body));
    return {};
  }
  lines(prefix: string): Record<string, unknown>[] {
    return [...this.objects].filter(([k]) => k.startsWith(prefix)).flatMap(([, body]) => body.trim().split('\n').map((l) => JSON.parse(l)));
  }
}

export interface EngineHarness {
  readonly clock: VirtualClock;
  readonly s3: MemoryS3;
  readonly logs: string[];
  score(records: KinesisEventRecord[], remainingMs?: number): Promise<{ batchItemFailures: { itemIdentifier: string }[] }>;
  close(): ReturnType<ReturnType<typeof makeCloser>>;
}

export function engine(spec: FraudSpec, dynamo: DynamoSender, clock = new VirtualClock(T0), random: () => number = () => 0.5): EngineHarness {
  const compiled = compileFraudSpec(spec);
  const s3 = new MemoryS3();
  const logs: string[] = [];
  const common = { now: clock.now, sleep: clock.sleep, random, log: (l: string) => void logs.push(l) };
  const scorer = makeScorer({ spec: compiled, table: 'state', lateBucket: 'late', failureBucket: 'failures', namespace: 'NS', pipeline: 'P' }, { dynamo, s3, ...common });
  const closer = makeCloser({ spec: compiled, table: 'state', namespace: 'NS', pipeline: 'P' }, { dynamo, ...common });
  return {
    clock, s3, logs,
    score: (records, remainingMs = 60_000) => scorer({ Records: records } as KinesisBatchEvent, { getRemainingTimeInMillis: () => remainingMs }),
    close: () => closer(undefined, { getRemainingTimeInMillis: () => 60_000 }),
  };
}

/** The metrics of the last EMF line. */
export function lastMetrics(logs: string[]): Record<string, number> {
  return JSON.parse(logs[logs.length - 1]) as Record<string, number>;
}
