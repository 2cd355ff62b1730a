/**
 * Runs a corpus-style input (fraud-model-types.ts) through the Lambda engine: each shard's records go
 * through the ESM simulator (esm-simulator.ts: checkpoint rule, retries, bisect, redelivery) into the
 * scorer handler, and each `tick` through the closer's tick, over the in-memory DynamoDB with optional
 * faults (fault-dynamo.ts). Shards are independent (a customer stays on its shard), so they run one
 * after the other. The clock is each batch's first arrival (a tick's nowMs), plus the backoff slept in
 * the invocation. Returns what the engine wrote, in the model's output shapes, for exact comparison.
 */
import { RESERVE_MS } from '../../lambda/fraud-scorer/index';
import type { UnitOutcome } from '../../lambda/fraud-scorer/core';
import { tickShardAt } from '../../lambda/fraud-closer/index';
import { decodeShard } from '../../lambda/shared/fraud/item-codec';
import type { KinesisEventRecord } from '../../lambda/shared/fraud/parse-event';
import type { FraudAlert, FraudInvalidReason, FraudSpec, FraudWindowResult } from '../../lambda/shared/fraud/spec';
import { BudgetExhaustedError } from '../../lambda/shared/fraud/state-store';
import { compileFraudSpec } from '../../lambda/shared/fraud/validate-spec';
import { parseWindowPk } from '../../lambda/shared/fraud/windows';
import { makeHandler } from '../../lambda/fraud-scorer/index';
import { drainShard, type Attempt, type EsmResult } from './esm-simulator';
import { FaultyDynamo } from './fault-dynamo';
import { kinesisRecord, MemoryS3, STREAM_ARN } from './fraud-engine';
import type { FraudInputItem } from './fraud-model-types';
import { MemoryDynamo } from './memory-dynamo';

export interface EngineFaults {
  readonly throttle: number;
  readonly conflict: number;
  /** Probability that an invocation dies after 0-2 committed transactions. */
  readonly die: number;
  /** Probability that a successful batch is delivered again. */
  readonly redeliver: number;
  readonly batchSize: number;
  /** Time budget per invocation past the reserve, ms (throttling beyond it fails the rest of the batch). */
  readonly budgetMs: number;
}

export const NO_FAULTS: EngineFaults = { throttle: 0, conflict: 0, die: 0, redeliver: 0, batchSize: 100, budgetMs: 60_000 };

export interface EngineOutput {
  readonly alerts: FraudAlert[];
  readonly results: FraudWindowResult[];
  readonly open: { customer_id: string; window_start: string; window_end: string; owner: string }[];
  readonly watermarks: Record<string, string | null>;
  /** Late-sink lines, one per record (deduplicated on shard and sequence number), by input index. */
  readonly late: { index: number; event_id: string; late_windows: { window_start: string; window_end: string }[] }[];
  readonly invalid: { index: number; reason: FraudInvalidReason }[];
  /** Per input record: its outcome in its first settled delivery, and whether an earlier delivery failed. */
  readonly outcomes: Map<number, { outcome: UnitOutcome; failedBefore: boolean }>;
  readonly esm: EsmResult[];
  readonly calls: number;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** Runs `input` through the engine; `random` decides the faults. */
export async function runEngine(spec: FraudSpec, input: readonly FraudInputItem[], faults: EngineFaults, random: () => number): Promise<EngineOutput> {
  const compiled = compileFraudSpec(spec);
  const db = new MemoryDynamo();
  const dynamo = new FaultyDynamo(db, { throttle: faults.throttle, conflict: faults.conflict, store: db, random });
  const clock = { base: 0, slept: 0 };
  const now = () => clock.base + clock.slept;
  const sleep = async (ms: number) => void (clock.slept += ms);
  const s3 = new MemoryS3();
  const indexOf = new Map<string, number>();
  const outcomes = new Map<number, { outcome: UnitOutcome; failedBefore: boolean }>();
  const failedOnce = new Set<number>();
  const handler = makeHandler({ spec: compiled, table: 'state', lateBucket: 'late', failureBucket: 'failures', namespace: 'NS', pipeline: 'P' }, {
    dynamo, s3, now, sleep, random, log: () => undefined,
    onRun: (_shard, records, units, run) => {
      units.slice(0, run.settledUnits).forEach((u, i) => {
        const index = indexOf.get(u.sequenceNumber) as number;
        // The first settled delivery decides; a redelivered successful batch reads as duplicates.
        if (!outcomes.has(index)) outcomes.set(index, { outcome: run.outcomes[i], failedBefore: failedOnce.has(index) });
      });
      if (run.failedRecord !== undefined) records.slice(run.failedRecord).forEach((r) => failedOnce.add(indexOf.get(r.kinesis.sequenceNumber) as number));
    },
  });
  const esm: EsmResult[] = [];

  const drain = async (records: KinesisEventRecord[]) => {
    const seqs = records.map((r) => r.kinesis.sequenceNumber);
    esm.push(await drainShard(seqs, { batchSize: faults.batchSize, retryAttempts: 100_000, bisect: true, redeliver: () => random() < faults.redeliver }, async (start, end): Promise<Attempt> => {
      const batch = records.slice(start, end);
      clock.base = Math.round(batch[0].kinesis.approximateArrivalTimestamp * 1000);
      clock.slept = 0;
      dynamo.dieAfterCommits = random() < faults.die ? Math.floor(random() * 3) : undefined;
      try {
        return { kind: 'response', response: await handler({ Records: batch }, { getRemainingTimeInMillis: () => RESERVE_MS + faults.budgetMs }) };
      } catch (e) {
        batch.forEach((r) => failedOnce.add(indexOf.get(r.kinesis.sequenceNumber) as number));
        return { kind: 'error', why: (e as Error).name };
      } finally {
        dynamo.dieAfterCommits = undefined;
      }
    }));
  };

  const tick = async (shard: string, nowMs: number) => {
    clock.base = nowMs;
    clock.slept = 0;
    const deps = { dynamo: new FaultyDynamo(db, { throttle: faults.throttle, random }), now, sleep, random };
    for (;;) {
      try {
        if ((await tickShardAt({ spec: compiled, table: 'state', namespace: 'NS', pipeline: 'P' }, deps, `${STREAM_ARN}|${shard}`, nowMs)) !== undefined) return;
      } catch (e) {
        if (!(e instanceof BudgetExhaustedError)) throw e;
      }
    }
  };

  const shards = [...new Set(input.map((i) => i.shard))];
  for (const shard of shards) {
    let pending: KinesisEventRecord[] = [];
    for (const [index, item] of input.entries()) {
      if (item.shard !== shard) continue;
      if ('tick' in item) {
        if (pending.length > 0) await drain(pending);
        pending = [];
        await tick(shard, item.tick.nowMs);
        continue;
      }
      const data = 'raw' in item ? item.raw : JSON.stringify(item.data);
      const record = kinesisRecord(data, item.arrivalMs, shard);
      indexOf.set(record.kinesis.sequenceNumber, index);
      // A batch spans at most 500 ms of arrivals: its clock is its first arrival, and TTL decisions
      // the stream places 1.5 s from any boundary come out as the model's.
      if (pending.length > 0 && item.arrivalMs - pending[0].kinesis.approximateArrivalTimestamp * 1000 > 500) {
        await drain(pending);
        pending = [];
      }
      pending.push(record);
    }
    if (pending.length > 0) await drain(pending);
  }
  return collect(db, s3, spec, shards, indexOf, outcomes, esm);
}

function collect(db: MemoryDynamo, s3: MemoryS3, spec: FraudSpec, shards: string[], indexOf: Map<string, number>,
  outcomes: EngineOutput['outcomes'], esm: EsmResult[]): EngineOutput {
  const items = [...db.items.values()];
  const results = items.filter((i) => i.kind?.S === 'window' && i.status?.S === 'closed').map((i) => JSON.parse(i.result.S as string) as FraudWindowResult)
    .sort((a, b) => a.customer_id.localeCompare(b.customer_id) || a.window_start.localeCompare(b.window_start));
  const open = items.filter((i) => i.kind?.S === 'window' && i.status?.S === 'open').map((i) => {
    const k = parseWindowPk(i.pk.S as string)!;
    return { customer_id: k.customerId, window_start: iso(k.bounds.startMs), window_end: iso(k.bounds.endMs), owner: (i.shard.S as string).split('|')[1] };
  });
  const watermarks: Record<string, string | null> = {};
  for (const shard of shards) {
    const s = decodeShard('k', db.items.get(`s#${STREAM_ARN}|${shard}`));
    watermarks[shard] = s.wm === undefined ? null : iso(s.wm);
  }
  const seen = new Set<string>();
  const late = s3.lines('late/').filter((l) => !seen.has(`${l.shard_id}|${l.sequence_number}`) && seen.add(`${l.shard_id}|${l.sequence_number}`))
    .map((l) => ({ index: indexOf.get(l.sequence_number as string) as number, event_id: l.event_id as string, late_windows: l.late_windows as EngineOutput['late'][number]['late_windows'] }))
    .sort((a, b) => a.index - b.index);
  const seenInvalid = new Set<string>();
  const invalid = s3.lines('failures/').filter((l) => !seenInvalid.has(`${l.shard_id}|${l.sequence_number}`) && seenInvalid.add(`${l.shard_id}|${l.sequence_number}`))
    .map((l) => ({ index: indexOf.get(l.sequence_number as string) as number, reason: l.reason as FraudInvalidReason }))
    .sort((a, b) => a.index - b.index);
  void spec;
  return {
    alerts: items.filter((i) => i.kind?.S === 'alert').map((i) => JSON.parse(i.alert.S as string) as FraudAlert),
    results, open, watermarks, late, invalid, outcomes, esm, calls: db.totalCalls,
  };
}
