/**
 * The fraud scorer (issue 10) against dynalite, and against the naive per-event read-modify-write engine.
 *
 *   fraud-vs-naive         the same 1,000-event batches (bench/fraud-events.ts: 100 customers, tumbling 30 s,
 *                          the issue's five rules) through the naive engine (bench/fraud-naive.ts) and the scorer:
 *                          ms per 1,000 events (median batch) and DynamoDB API calls per 1,000 events, side by
 *                          side, at zero delay and with every request held BENCH_RTT_MS (default 4) by the
 *                          loopback latency proxy; the final results and alerts of the scorer, the naive engine and
 *                          the reference model (test/support/fraud-model.ts) must be equal, or the bench fails
 *   (fraud-scorer: see bench/fraud-scorer.ts)
 *
 * Each engine gets a fresh state table (the contract's layout: pk, sparse GSI `open` on openShard/end).
 * Batches run one after another, as Lambda runs one shard's batches.
 */
import {
  CreateTableCommand, DescribeTableCommand, type DynamoDBClient, ScanCommand, type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import type { KinesisStreamEvent } from 'aws-lambda';
import type { FraudAlert, FraudSpec, FraudWindowResult } from '../lambda/shared/fraud/spec';
import { dynamoClient } from '../test/integration/local-aws';
import { runFraudModel } from '../test/support/fraud-model';
import { startLatencyProxy } from '../test/support/latency-proxy';
import { BATCH_EVENTS, benchSpec, generateRecords, SHARD_ID, type StreamRecord, toKinesisEvents } from './fraud-events';
import { NaiveFraudScorer } from './fraud-naive';
import { type Bench, benchRttMs, diff, type ServerCounter, startCountedLocalAws, total } from './local-ddb';
import { round } from './stats';

/** Batches at zero delay: 12 × 30 s of event time, so the first ~8 windows of every customer close. */
export const FRAUD_BATCHES = 12;
/**
 * With the delay the naive engine pays ~2 round trips per event, one after another: fewer batches, but enough for
 * windows to start closing (W = max event time − 2 min passes the first window ends from the 5th batch on).
 */
export const FRAUD_RTT_BATCHES = 6;

export const log = (line: string): void => {
  process.stderr.write(`bench fraud: ${line}\n`);
};

export function percentile(xs: readonly number[], p: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

let tables = 0;
/** A state table as the contract lays it out (section 6). */
export async function createStateTable(ddb: DynamoDBClient, label: string): Promise<string> {
  const TableName = `fraud-${label}-${process.pid}-${tables++}`;
  await ddb.send(new CreateTableCommand({
    TableName,
    AttributeDefinitions: [
      { AttributeName: 'pk', AttributeType: 'S' },
      { AttributeName: 'openShard', AttributeType: 'S' },
      { AttributeName: 'end', AttributeType: 'N' },
    ],
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    GlobalSecondaryIndexes: [{
      IndexName: 'open',
      KeySchema: [{ AttributeName: 'openShard', KeyType: 'HASH' }, { AttributeName: 'end', KeyType: 'RANGE' }],
      Projection: { ProjectionType: 'ALL' },
    }],
    BillingMode: 'PAY_PER_REQUEST',
  }));
  for (let i = 0; ; i++) {
    const t = (await ddb.send(new DescribeTableCommand({ TableName }))).Table;
    if (t?.TableStatus === 'ACTIVE' && (t.GlobalSecondaryIndexes ?? []).every((g) => g.IndexStatus === 'ACTIVE')) return TableName;
    if (i > 200) throw new Error(`bench fraud: table ${TableName} never became ACTIVE`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** What a run decided, read back from its state table: closed windows' results and the alert outbox. */
export interface Outcome {
  readonly results: FraudWindowResult[];
  readonly alerts: FraudAlert[];
}

export async function readOutcome(ddb: DynamoDBClient, TableName: string): Promise<Outcome> {
  const results: FraudWindowResult[] = [];
  const alerts: FraudAlert[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await ddb.send(new ScanCommand({ TableName, ExclusiveStartKey: start, ConsistentRead: true }));
    for (const item of page.Items ?? []) {
      if (item.kind?.S === 'window' && item.status?.S === 'closed') results.push(JSON.parse(item.result.S as string) as FraudWindowResult);
      if (item.kind?.S === 'alert') alerts.push(JSON.parse(item.alert.S as string) as FraudAlert);
    }
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  results.sort((a, b) => a.customer_id.localeCompare(b.customer_id) || a.window_start.localeCompare(b.window_start));
  alerts.sort((a, b) => a.alert_id.localeCompare(b.alert_id));
  return { results, alerts };
}

/** Throws naming the first difference unless both outcomes are equal (results and alerts, every field). */
export function assertSameOutcome(a: Outcome, b: Outcome, what: string): void {
  const first = <T>(xs: readonly T[], ys: readonly T[]): string | undefined => {
    for (let i = 0; i < Math.max(xs.length, ys.length); i++) {
      if (JSON.stringify(xs[i]) !== JSON.stringify(ys[i])) return `#${i}: ${JSON.stringify(xs[i])} vs ${JSON.stringify(ys[i])}`;
    }
    return undefined;
  };
  const r = first(a.results, b.results);
  const al = first(a.alerts, b.alerts);
  if (r !== undefined || al !== undefined) {
    throw new Error(`bench fraud: ${what} differ (${a.results.length}/${b.results.length} results, ${a.alerts.length}/${b.alerts.length} alerts): `
      + `${r === undefined ? '' : `result ${r}`}${al === undefined ? '' : ` alert ${al}`}`.slice(0, 2000));
  }
}

/** What the reference model (test/support/fraud-model.ts) decides on the same records, in the same shape. */
export function modelOutcome(spec: FraudSpec, records: readonly StreamRecord[]): Outcome {
  const out = runFraudModel(spec, records.map((r) => ({ shard: SHARD_ID, arrivalMs: r.arrivalMs, raw: r.data })));
  return { results: out.results, alerts: [...out.alerts].sort((a, b) => a.alert_id.localeCompare(b.alert_id)) };
}

/** One engine's pass over the batches. */
export interface EngineRun {
  readonly batchMs: number[];
  readonly events: number;
  /** Requests the engine sent (what DynamoDB would receive). */
  readonly apiCalls: number;
  /** HTTP requests dynalite received, by operation (emulation included). */
  readonly http: Record<string, number>;
  readonly outcome: Outcome;
}

/** A batch handler: processes one Lambda Kinesis event; `apiCalls()` is its running request count. */
export interface EngineUnderTest {
  handle(event: KinesisStreamEvent): Promise<void>;
  apiCalls(): number;
}

/**
 * The engines' wall clock (TTL reads, lastSeenAt, the closer's idleness): the stream's own time, the last
 * arrival of the batch in hand, so items never look expired whatever day the bench runs.
 */
export const streamClock = { ms: 0, now: (): number => streamClock.ms };

export async function runEngine(
  engine: EngineUnderTest, events: readonly KinesisStreamEvent[], counter: ServerCounter, read: () => Promise<Outcome>,
): Promise<EngineRun> {
  const before = counter.snapshot();
  const batchMs: number[] = [];
  for (const event of events) {
    streamClock.ms = Math.round(event.Records[event.Records.length - 1].kinesis.approximateArrivalTimestamp * 1000);
    const t = performance.now();
    await engine.handle(event);
    batchMs.push(performance.now() - t);
  }
  const http = diff(counter.snapshot(), before);
  return { batchMs, events: events.reduce((n, e) => n + e.Records.length, 0), apiCalls: engine.apiCalls(), http, outcome: await read() };
}

export async function runNaive(ddb: DynamoDBClient, reader: DynamoDBClient, spec: FraudSpec, events: readonly KinesisStreamEvent[], counter: ServerCounter): Promise<EngineRun> {
  const tableName = await createStateTable(reader, 'naive');
  const naive = new NaiveFraudScorer({ client: ddb, tableName, spec, now: streamClock.now });
  const run = await runEngine({ handle: (e) => naive.handle(e), apiCalls: () => naive.apiCalls }, events, counter, () => readOutcome(reader, tableName));
  if (total(run.http) !== run.apiCalls) throw new Error(`bench fraud: naive counted ${run.apiCalls} requests, dynalite received ${total(run.http)}`);
  log(`naive: ${JSON.stringify(naive.stats)}`);
  return run;
}

export function runFigures(run: EngineRun): Record<string, number> {
  const per1000 = (n: number): number => round((n / run.events) * 1000, 1);
  return {
    ms_per_1000: round(percentile(run.batchMs, 0.5) * (1000 / (run.events / run.batchMs.length))),
    p99_batch_ms: round(percentile(run.batchMs, 0.99)),
    api_calls_per_1000: per1000(run.apiCalls),
    server_requests_per_1000: per1000(total(run.http)),
  };
}

/** The scorer's side (bench/fraud-scorer.ts runScorer); undefined runs the naive engine alone. */
export type ScorerRunner = (ddb: DynamoDBClient, reader: DynamoDBClient, spec: FraudSpec, events: readonly KinesisStreamEvent[], counter: ServerCounter) => Promise<EngineRun>;

export async function benchFraudVsNaive(bench: Bench, scorer: ScorerRunner | undefined): Promise<void> {
  const spec = benchSpec();
  const records = generateRecords(FRAUD_BATCHES);
  const events = toKinesisEvents(records);
  const delayMs = benchRttMs();
  const { aws, counter } = await startCountedLocalAws('fraud');
  const proxy = await startLatencyProxy({ target: aws.endpoints.dynamodb, delayMs });
  const direct = dynamoClient(aws.endpoints.dynamodb);
  const delayed = dynamoClient(proxy.endpoint);
  try {
    log(`${events.length} batches of ${events[0].Records.length} events, zero delay`);
    const naive0 = await runNaive(direct, direct, spec, events, counter);
    log(`naive, zero delay: ${JSON.stringify(runFigures(naive0))}; ${naive0.outcome.results.length} results, ${naive0.outcome.alerts.length} alerts`);
    assertSameOutcome(naive0.outcome, modelOutcome(spec, records), 'naive and reference model outcomes (zero delay)');
    const s0 = scorer === undefined ? undefined : await scorer(direct, direct, spec, events, counter);
    if (s0 !== undefined) assertSameOutcome(s0.outcome, naive0.outcome, 'scorer and naive outcomes (zero delay)');
    const few = events.slice(0, FRAUD_RTT_BATCHES);
    log(`${few.length} batches through the latency proxy (${delayMs} ms per request)`);
    const naiveD = await runNaive(delayed, direct, spec, few, counter);
    assertSameOutcome(naiveD.outcome, modelOutcome(spec, records.slice(0, few.length * BATCH_EVENTS)), `naive and reference model outcomes (${delayMs} ms)`);
    const sD = scorer === undefined ? undefined : await scorer(delayed, direct, spec, few, counter);
    if (sD !== undefined) assertSameOutcome(sD.outcome, naiveD.outcome, `scorer and naive outcomes (${delayMs} ms)`);
    const side = (run: EngineRun | undefined): Record<string, number> | null => (run === undefined ? null : runFigures(run));
    const ratio = (n: EngineRun, s: EngineRun | undefined): number | null =>
      (s === undefined ? null : round(runFigures(n).ms_per_1000 / runFigures(s).ms_per_1000, 2));
    bench('fraud-vs-naive', {
      batches: events.length,
      events_per_batch: events[0].Records.length,
      customers: 100,
      window: 'tumbling 30 s',
      results: naive0.outcome.results.length,
      alerts: naive0.outcome.alerts.length,
      // Checked above (the bench throws otherwise): naive = reference model, and scorer = naive, on every run.
      naive_equals_model: true,
      scorer_equals_naive: s0 === undefined ? null : true,
      naive: side(naive0),
      scorer: side(s0),
      ratio_ms: ratio(naive0, s0),
      [`rtt${delayMs}ms_batches`]: few.length,
      [`naive_rtt${delayMs}ms`]: side(naiveD),
      [`scorer_rtt${delayMs}ms`]: side(sD),
      [`ratio_ms_rtt${delayMs}ms`]: ratio(naiveD, sD),
    });
  } finally {
    direct.destroy();
    delayed.destroy();
    await proxy.close();
    await aws.stop();
  }
}
