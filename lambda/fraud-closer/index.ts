/**
 * fraud-closer: the scheduled idle tick (EventBridge, every minute). Reads the shard registry and the
 * shard items, and for each shard quiet for more than idleTimeoutMs: advances its watermark to
 * now − allowedLateness with a write conditional on its version (a scorer that wrote meanwhile wins,
 * and the shard is left for the next tick), then closes the windows it owns that the watermark passed.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { emfDocument } from '../shared/batch/emf';
import { queryDue } from '../shared/fraud/closures';
import { decodeShard, decodeWindow, type ShardState } from '../shared/fraud/item-codec';
import { StateStore, type DynamoSender } from '../shared/fraud/state-store';
import { packTransactions, shardPut } from '../shared/fraud/transactions';
import { specFromEnv, type CompiledSpec } from '../shared/fraud/validate-spec';
import type { WindowState } from '../shared/fraud/window-state';
import { REGISTRY_PK, shardPk } from '../shared/fraud/windows';
import { closeAtTick, isIdle, tickShard } from './core';

export interface CloserConfig {
  readonly spec: CompiledSpec;
  readonly table: string;
  readonly namespace: string;
  readonly pipeline: string;
}

export interface CloserDeps {
  readonly dynamo: DynamoSender;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
  readonly log?: (line: string) => void;
}

export interface CloserSummary {
  readonly idleTicks: number;
  readonly windowsClosed: number;
}

export function configFromEnv(env: NodeJS.ProcessEnv): CloserConfig {
  if (!env.STATE_TABLE) throw new Error('STATE_TABLE is not set');
  return { spec: specFromEnv(env.FRAUD_SPEC), table: env.STATE_TABLE, namespace: env.METRICS_NAMESPACE || 'StreamingPipelines/Fraud', pipeline: env.PIPELINE_NAME ?? '' };
}

/** Ticks one quiet shard; returns the windows it closed, or undefined when a scorer wrote the shard meanwhile. */
async function tickOne(config: CloserConfig, store: StateStore, shard: ShardState, nowMs: number): Promise<number | undefined> {
  const spec = config.spec.spec;
  const ticked = tickShard(spec, shard, nowMs);
  if (!(await store.transact([shardPut(config.table, ticked)])).ok) return undefined;
  const current: ShardState = { ...ticked, v: shard.v + 1 };
  if (!queryDue(current, current.wm, nowMs)) return 0;
  const pks = await store.openWindows(shard.key, current.wm as number);
  const candidates: WindowState[] = [];
  for (const item of (await store.getItems(pks)).values()) {
    const w = decodeWindow(spec, item);
    if (w && w.status === 'open' && w.owner === shard.key) candidates.push(w);
  }
  const closing = closeAtTick(spec, current, candidates, nowMs);
  let closed = 0;
  for (const tx of packTransactions(spec, config.table, closing.writes, nowMs)) {
    // A conflict means a scorer wrote the window: it is left for the next tick, and its end is kept.
    if (!(await store.transact(tx.actions)).ok) return closed;
    closed += tx.writes.length;
  }
  await store.transact([shardPut(config.table, { ...current, ends: closing.ends })]);
  return closed;
}

/**
 * The tick on one shard at `nowMs`, without the idleness check: what the closer does once it has found
 * the shard quiet (the corpus's explicit `tick` input). Returns the windows closed, or undefined when a
 * scorer wrote the shard meanwhile.
 */
export async function tickShardAt(config: CloserConfig, deps: CloserDeps, shardKey: string, nowMs: number): Promise<number | undefined> {
  const now = deps.now ?? Date.now;
  const store = new StateStore({ client: deps.dynamo, table: config.table, deadlineMs: nowMs + 60_000, now, sleep: deps.sleep, random: deps.random });
  const shard = decodeShard(shardKey, (await store.getItems([shardPk(shardKey)])).get(shardPk(shardKey)));
  return tickOne(config, store, shard, nowMs);
}

export function makeHandler(config: CloserConfig, deps: CloserDeps) {
  const now = deps.now ?? Date.now;
  const log = deps.log ?? ((line: string) => console.log(line));
  return async (_event?: unknown, context?: { getRemainingTimeInMillis(): number }): Promise<CloserSummary> => {
    const nowMs = now();
    const store = new StateStore({ client: deps.dynamo, table: config.table, deadlineMs: nowMs + (context?.getRemainingTimeInMillis() ?? 60_000) - 3_000, now, sleep: deps.sleep, random: deps.random });
    const registry = (await store.getItems([REGISTRY_PK])).get(REGISTRY_PK);
    const keys = [...(registry?.keys?.SS ?? [])].sort();
    const items = await store.getItems(keys.map(shardPk));
    let idleTicks = 0;
    let windowsClosed = 0;
    for (const key of keys) {
      const shard = decodeShard(key, items.get(shardPk(key)));
      if (!isIdle(shard, nowMs, config.spec.spec.idleTimeoutMs)) continue;
      const closed = await tickOne(config, store, shard, nowMs);
      if (closed === undefined) continue;
      idleTicks++;
      windowsClosed += closed;
    }
    log(JSON.stringify(emfDocument([['IdleTicks', idleTicks, 'Count'], ['WindowsClosed', windowsClosed, 'Count']],
      { namespace: config.namespace, dimensions: { Pipeline: config.pipeline }, timestamp: nowMs })));
    return { idleTicks, windowsClosed };
  };
}

function fromEnv(): ReturnType<typeof makeHandler> {
  return makeHandler(configFromEnv(process.env), { dynamo: new DynamoDBClient({ maxAttempts: 1 }) });
}

let instance = process.env.AWS_LAMBDA_FUNCTION_NAME ? fromEnv() : undefined;

export const handler = (event: unknown, context?: { getRemainingTimeInMillis(): number }) => (instance ??= fromEnv())(event, context);
