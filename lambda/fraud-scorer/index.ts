/**
 * fraud-scorer: the Kinesis (standard or enhanced fan-out) event-source mapping's handler, with
 * ReportBatchItemFailures. A thin adapter: the spec and the AWS SDK clients are built at init (a bad
 * FRAUD_SPEC fails the init loudly), each shard's records go through run.ts, and the response reports
 * each shard's first record whose state did not commit.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { emfDocument } from '../shared/batch/emf';
import type { ShardState } from '../shared/fraud/item-codec';
import { fraudUnits, type FraudUnit, type KinesisEventRecord } from '../shared/fraud/parse-event';
import { StateStore, type DynamoSender } from '../shared/fraud/state-store';
import { specFromEnv, type CompiledSpec } from '../shared/fraud/validate-spec';
import { REGISTRY_PK } from '../shared/fraud/windows';
import { addRun, emptyCounts, scorerMetrics } from './metrics';
import { runShard, type ShardRun } from './run';

export interface ScorerConfig {
  readonly spec: CompiledSpec;
  readonly table: string;
  readonly lateBucket: string;
  readonly failureBucket: string;
  readonly namespace: string;
  readonly pipeline: string;
}

export interface ScorerDeps {
  readonly dynamo: DynamoSender;
  readonly s3: { send(command: PutObjectCommand): Promise<unknown> };
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
  readonly log?: (line: string) => void;
  /** Called with each shard's settled outcome (tests compare engines record by record). */
  readonly onRun?: (shardId: string, records: readonly KinesisEventRecord[], units: readonly FraudUnit[], run: ShardRun) => void;
}

export interface KinesisBatchEvent {
  readonly Records: readonly KinesisEventRecord[];
}

export interface LambdaContextLike {
  getRemainingTimeInMillis(): number;
}

/** Time kept back from the invocation's budget for the checkpoint write and the response. */
export const RESERVE_MS = 3_000;

function required(env: NodeJS.ProcessEnv, name: string): string {
  const v = env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

export function configFromEnv(env: NodeJS.ProcessEnv): ScorerConfig {
  return {
    spec: specFromEnv(env.FRAUD_SPEC), table: required(env, 'STATE_TABLE'), lateBucket: required(env, 'LATE_BUCKET'),
    failureBucket: required(env, 'FAILURE_BUCKET'), namespace: env.METRICS_NAMESPACE || 'StreamingPipelines/Fraud', pipeline: env.PIPELINE_NAME ?? '',
  };
}

/** Records by shard (eventID is `shardId-…:<sequence number>`), in delivery order. */
function byShard(records: readonly KinesisEventRecord[]): Map<string, KinesisEventRecord[]> {
  const out = new Map<string, KinesisEventRecord[]>();
  for (const r of records) {
    const id = r.eventID.split(':')[0];
    const list = out.get(id) ?? [];
    list.push(r);
    out.set(id, list);
  }
  return out;
}

/** A handler over injected clients (tests pass counting or faulty ones). */
export function makeHandler(config: ScorerConfig, deps: ScorerDeps) {
  const now = deps.now ?? Date.now;
  const registered = new Set<string>();
  /** The shard state each shard's last batch wrote, to run its GSI Query before its read (checked by version). */
  const shards = new Map<string, ShardState>();
  const log = deps.log ?? ((line: string) => console.log(line));
  return async (event: KinesisBatchEvent, context: LambdaContextLike): Promise<{ batchItemFailures: { itemIdentifier: string }[] }> => {
    const deadlineMs = now() + context.getRemainingTimeInMillis() - RESERVE_MS;
    const counts = emptyCounts();
    const store = new StateStore({ client: deps.dynamo, table: config.table, deadlineMs, now, sleep: deps.sleep, random: deps.random, onThrottle: () => counts.throttles++ });
    const failures: { itemIdentifier: string }[] = [];
    for (const [shardId, records] of byShard(event.Records ?? [])) {
      const shardKey = `${records[0].eventSourceARN}|${shardId}`;
      // Once per container and shard: the closer finds quiet shards in the registry.
      if (!registered.has(shardKey)) {
        await store.register(shardKey, REGISTRY_PK);
        registered.add(shardKey);
      }
      const units = fraudUnits(records, config.spec);
      const run = await runShard(config.spec, {
        store, table: config.table, lateBucket: config.lateBucket, failureBucket: config.failureBucket, now, deadlineMs, sleep: deps.sleep, random: deps.random,
        putObject: async (Bucket, Key, Body) => void (await deps.s3.send(new PutObjectCommand({ Bucket, Key, Body, ContentType: 'application/x-ndjson' }))),
      }, shardKey, shardId, units, shards);
      deps.onRun?.(shardId, records, units, run);
      addRun(counts, run);
      if (run.failedRecord !== undefined) failures.push({ itemIdentifier: records[run.failedRecord].kinesis.sequenceNumber });
    }
    log(JSON.stringify(emfDocument(scorerMetrics(counts), { namespace: config.namespace, dimensions: { Pipeline: config.pipeline }, timestamp: now() })));
    return { batchItemFailures: failures };
  };
}

function fromEnv(): ReturnType<typeof makeHandler> {
  return makeHandler(configFromEnv(process.env), {
    // The store retries throttling itself, within the invocation's time budget.
    dynamo: new DynamoDBClient({ maxAttempts: 1 }),
    s3: new S3Client({}),
  });
}

/** Built at init inside Lambda, so a bad FRAUD_SPEC fails the init loudly; lazily elsewhere (tests import this module). */
let instance = process.env.AWS_LAMBDA_FUNCTION_NAME ? fromEnv() : undefined;

export const handler = (event: KinesisBatchEvent, context: LambdaContextLike) => (instance ??= fromEnv())(event, context);
