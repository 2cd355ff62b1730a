/**
 * Replay planner: validates a replay request and splits it into one work item
 * per archive lane; later sums the lanes' progress. Pure: the archive listing
 * and the stream description are injected (index.ts binds them to the SDK).
 *
 * A request (the execution input):
 *   { "from": "2026-11-01T00:00:00Z", "to": "2026-11-02T00:00:00Z",
 *     "replayId"?: "…",              // default: the execution name; reuse it to resume
 *     "targetStream"?: "arn:…",      // default: the first configured target (the archive's replay stream unless replayTargets says otherwise)
 *     "targetTopic"?: "orders",      // instead: a configured MSK topic, by name or ARN
 *     "partitionKeys"?: ["user-1"], // only these keys
 *     "payloadFilter"?: { "field": "type", "values": ["order"] } }
 */
import type { ReplayFilter, ReplayInput } from '../replay-worker/core';
import { TOPIC_ARN } from '../replay-worker/input';
import { hourPrefixes, hourPrefixStartMs } from '../shared/archive-format';
import { isObject } from '../shared/unknown';

export interface PlannerConfig {
  readonly archiveBucket: string;
  readonly archivePrefix: string;
  readonly lanes: number;
  /** Streams a replay may write to; the first is the default. */
  readonly targetStreams: string[];
  /** MSK topic ARNs a replay may write to; the first is the default when there is no stream. @default [] */
  readonly targetTopics?: string[];
  /** Write capacity assumed for a topic (a cluster has no per-topic capacity to read). @default 5,000 records/s and 5 MiB/s */
  readonly topicCapacity?: Capacity;
  /** Share of the target's write capacity the whole replay may use, (0, 1]. */
  readonly writeShare: number;
  /** Write capacity assumed for an on-demand target. */
  readonly onDemandCapacity: Capacity;
  readonly stateBucket: string;
  readonly statePrefix: string;
  readonly tagging: 'kpl-tag' | 'none';
}

export interface Capacity {
  readonly recordsPerSecond: number;
  readonly bytesPerSecond: number;
}

export interface StreamDescription {
  readonly mode: 'PROVISIONED' | 'ON_DEMAND';
  readonly openShards: number;
  readonly status: string;
}

export interface PlannerIo {
  /** The `dt=…/hour=…/` prefixes present under the archive prefix, any order. */
  listArchiveHours(bucket: string, prefix: string): Promise<string[]>;
  /** Undefined when the stream does not exist. */
  describeStream(streamArn: string): Promise<StreamDescription | undefined>;
}

/** A lane's work item: exactly the replay worker's input (without a cursor yet). */
export type LaneWork = Omit<ReplayInput, 'cursor'>;

export interface Plan {
  readonly replayId: string;
  readonly from: string;
  readonly to: string;
  /** The stream written to, or null for a topic. */
  readonly targetStream: string | null;
  /** The MSK topic ARN written to, or null for a stream. */
  readonly targetTopic: string | null;
  readonly targetCapacity: Capacity;
  readonly replayRate: Capacity;
  readonly hours: number;
  readonly lanes: LaneWork[];
}

/** A request that cannot run; the message names the field and the rule. */
export class ReplayRequestError extends Error {
  public readonly name = 'ReplayRequestError';
}

const SHARD_CAPACITY: Capacity = { recordsPerSecond: 1000, bytesPerSecond: 1024 * 1024 };

function positiveNumber(env: Record<string, string | undefined>, name: string, fallback: number, errors: string[]): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v) || v <= 0) errors.push(`${name} must be a positive number, got '${raw}'`);
  return v;
}

export function parseConfig(env: Record<string, string | undefined>): PlannerConfig {
  const errors: string[] = [];
  const need = (name: string): string => {
    const v = env[name];
    if (!v) errors.push(`${name} is required`);
    return v ?? '';
  };
  const archiveBucket = need('ARCHIVE_BUCKET');
  const archivePrefix = need('ARCHIVE_PREFIX');
  const stateBucket = need('STATE_BUCKET');
  const statePrefix = env.STATE_PREFIX ?? 'replays/';
  const lanes = positiveNumber(env, 'LANES', 16, errors);
  if (!Number.isInteger(lanes) || lanes > 100) errors.push(`LANES must be an integer 1-100, got '${env.LANES}'`);
  const targetStreams = arnList(env, 'TARGET_STREAMS', errors);
  const targetTopics = arnList(env, 'TARGET_TOPICS', errors);
  if (targetStreams.length + targetTopics.length === 0) errors.push('TARGET_STREAMS must list at least one stream ARN, or TARGET_TOPICS one topic ARN');
  if (targetTopics.some((t) => !TOPIC_ARN.test(t))) errors.push(`TARGET_TOPICS must list MSK topic ARNs, got ${JSON.stringify(targetTopics)}`);
  const topicCapacity = {
    recordsPerSecond: positiveNumber(env, 'TOPIC_RECORDS_PER_SECOND', 5000, errors),
    bytesPerSecond: positiveNumber(env, 'TOPIC_BYTES_PER_SECOND', 5 * 1024 * 1024, errors),
  };
  const writeShare = positiveNumber(env, 'WRITE_SHARE', 0.5, errors);
  if (writeShare > 1) errors.push(`WRITE_SHARE must be in (0, 1], got '${env.WRITE_SHARE}'`);
  const onDemandCapacity = {
    recordsPerSecond: positiveNumber(env, 'ON_DEMAND_RECORDS_PER_SECOND', 4000, errors),
    bytesPerSecond: positiveNumber(env, 'ON_DEMAND_BYTES_PER_SECOND', 4 * 1024 * 1024, errors),
  };
  const tagging = (env.TAGGING ?? 'kpl-tag') as PlannerConfig['tagging'];
  if (tagging !== 'kpl-tag' && tagging !== 'none') errors.push(`TAGGING must be 'kpl-tag' or 'none', got '${env.TAGGING}'`);
  if (errors.length > 0) throw new Error(`replay-planner: invalid configuration: ${errors.join('; ')}`);
  return { archiveBucket, archivePrefix, lanes, targetStreams, targetTopics, topicCapacity, writeShare, onDemandCapacity, stateBucket, statePrefix, tagging };
}

/** A JSON array of ARNs from the environment (absent: none). */
function arnList(env: Record<string, string | undefined>, name: string, errors: string[]): string[] {
  const raw = env[name];
  if (raw === undefined || raw === '') return [];
  try {
    const list: unknown = JSON.parse(raw);
    if (Array.isArray(list) && list.every((s) => typeof s === 'string')) return list as string[];
  } catch { /* reported below */ }
  errors.push(`${name} must be a JSON array of ARNs, got '${raw}'`);
  return [];
}

function parseInstant(value: unknown, field: string): number {
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/.test(value)) {
    throw new ReplayRequestError(`${field} must be an ISO-8601 instant with a zone, e.g. 2026-11-01T00:00:00Z; got ${JSON.stringify(value)}`);
  }
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new ReplayRequestError(`${field} is not a valid instant: ${value}`);
  return ms;
}

const REPLAY_ID = /^[A-Za-z0-9_.-]{1,80}$/;

/**
 * Validates the request against the archive and the target stream, then
 * gives each lane its share of the replay rate.
 */
export async function plan(request: unknown, executionName: string, io: PlannerIo, config: PlannerConfig, nowMs: number): Promise<Plan> {
  if (!isObject(request)) throw new ReplayRequestError('the input must be a JSON object with from and to');
  const r = request;
  const fromMs = parseInstant(r.from, 'from');
  const toMs = parseInstant(r.to, 'to');
  if (fromMs >= toMs) throw new ReplayRequestError(`from (${r.from}) must be before to (${r.to}); the window is [from, to)`);
  if (toMs > nowMs) throw new ReplayRequestError(`to (${r.to}) is in the future; the archive ends now (${new Date(nowMs).toISOString()})`);
  const replayId = r.replayId ?? executionName;
  if (typeof replayId !== 'string' || !REPLAY_ID.test(replayId)) throw new ReplayRequestError(`replayId must be 1-80 characters of A-Z a-z 0-9 _ . -; got ${JSON.stringify(replayId)}`);
  const target = chooseTarget(r, config);
  let filter: ReplayFilter | undefined;
  if (r.partitionKeys !== undefined) {
    if (!Array.isArray(r.partitionKeys) || r.partitionKeys.length === 0 || r.partitionKeys.some((k) => typeof k !== 'string' || k === '')) {
      throw new ReplayRequestError('partitionKeys must be a non-empty array of non-empty strings');
    }
    filter = { partitionKeys: r.partitionKeys as string[] };
  }
  if (r.payloadFilter !== undefined) {
    const pf = r.payloadFilter as Record<string, unknown>;
    const valid = typeof pf === 'object' && pf !== null && typeof pf.field === 'string' && pf.field !== ''
      && Array.isArray(pf.values) && pf.values.length > 0 && pf.values.every((v) => ['string', 'number', 'boolean'].includes(typeof v));
    if (!valid) throw new ReplayRequestError('payloadFilter must be { field: "<dotted.path>", values: [string | number | boolean, ...] }');
    filter = { ...filter, payload: { field: pf.field as string, values: pf.values as (string | number | boolean)[] } };
  }

  const present = (await io.listArchiveHours(config.archiveBucket, config.archivePrefix))
    .map(hourPrefixStartMs).filter((t): t is number => t !== undefined).sort((a, b) => a - b);
  if (present.length === 0) throw new ReplayRequestError(`the archive s3://${config.archiveBucket}/${config.archivePrefix} holds no data yet`);
  const earliest = present[0];
  if (fromMs < earliest) {
    throw new ReplayRequestError(`from (${r.from}) is before the archive's first hour (${new Date(earliest).toISOString()}); records older than that were never archived`);
  }

  const targetCapacity = target.topic !== undefined ? topicCapacityOf(config) : await streamCapacity(target.stream, io, config);
  const replayRate = {
    recordsPerSecond: targetCapacity.recordsPerSecond * config.writeShare,
    bytesPerSecond: targetCapacity.bytesPerSecond * config.writeShare,
  };
  // Every lane runs at once, so each gets an equal share of the replay rate.
  const laneRate = { recordsPerSecond: replayRate.recordsPerSecond / config.lanes, bytesPerSecond: replayRate.bytesPerSecond / config.lanes };
  const lanes: LaneWork[] = Array.from({ length: config.lanes }, (_, i) => ({
    replayId,
    archiveBucket: config.archiveBucket,
    archivePrefix: config.archivePrefix,
    lane: String(i).padStart(2, '0'),
    fromMs,
    toMs,
    ...(target.topic !== undefined ? { targetTopic: target.topic } : { targetStream: target.stream }),
    ...(filter ? { filter } : {}),
    rate: laneRate,
    tagging: config.tagging,
    stateBucket: config.stateBucket,
    statePrefix: config.statePrefix,
  }));
  return {
    replayId,
    from: new Date(fromMs).toISOString(),
    to: new Date(toMs).toISOString(),
    targetStream: target.stream ?? null,
    targetTopic: target.topic ?? null,
    targetCapacity,
    replayRate,
    hours: hourPrefixes(fromMs, toMs).length,
    lanes,
  };
}

type Target = { readonly stream: string; readonly topic?: undefined } | { readonly stream?: undefined; readonly topic: string };

/**
 * The request's target: `targetStream` (a configured stream ARN) or `targetTopic` (a configured topic, by ARN or
 * by name when one configured topic has it); by default the first stream, or the first topic when there is none.
 */
function chooseTarget(r: Record<string, unknown>, config: PlannerConfig): Target {
  const topics = config.targetTopics ?? [];
  if (r.targetStream !== undefined && r.targetTopic !== undefined) throw new ReplayRequestError('give targetStream or targetTopic, not both');
  if (r.targetTopic !== undefined) {
    const t = r.targetTopic;
    const matches = typeof t !== 'string' ? [] : topics.filter((arn) => arn === t || arn.slice(arn.lastIndexOf('/') + 1) === t);
    if (matches.length !== 1) {
      const why = matches.length > 1 ? 'names several configured topics: give its ARN' : 'is not a configured replay topic';
      throw new ReplayRequestError(`targetTopic ${JSON.stringify(t)} ${why}; allowed: ${topics.join(', ') || '(none)'}`);
    }
    return { topic: matches[0] };
  }
  if (r.targetStream === undefined && config.targetStreams.length === 0) return { topic: topics[0] };
  const stream = r.targetStream ?? config.targetStreams[0];
  if (typeof stream !== 'string' || !config.targetStreams.includes(stream)) {
    throw new ReplayRequestError(`targetStream ${JSON.stringify(stream)} is not a configured replay target; allowed: ${config.targetStreams.join(', ') || '(none)'}`);
  }
  return { stream };
}

/** A stream's write capacity: 1,000 records/s and 1 MiB/s per open shard, or the on-demand capacity. */
async function streamCapacity(stream: string, io: PlannerIo, config: PlannerConfig): Promise<Capacity> {
  const d = await io.describeStream(stream);
  if (!d) throw new ReplayRequestError(`targetStream ${stream} does not exist`);
  if (d.status !== 'ACTIVE' && d.status !== 'UPDATING') throw new ReplayRequestError(`targetStream ${stream} is ${d.status}, not ACTIVE`);
  return d.mode === 'PROVISIONED'
    ? { recordsPerSecond: d.openShards * SHARD_CAPACITY.recordsPerSecond, bytesPerSecond: d.openShards * SHARD_CAPACITY.bytesPerSecond }
    : config.onDemandCapacity;
}

/** A topic's capacity is configured: the planner runs outside the cluster's VPC, and a topic has no capacity of its own to read. */
function topicCapacityOf(config: PlannerConfig): Capacity {
  return config.topicCapacity ?? { recordsPerSecond: 5000, bytesPerSecond: 5 * 1024 * 1024 };
}

/** Progress counters each lane reports; the summary adds them up. */
export const PROGRESS_FIELDS = ['recordsReplayed', 'bytesReplayed', 'recordsFiltered', 'objectsDone', 'objectsSkipped', 'throttles', 'invocations'] as const;

/** Sums the lanes' totals for the execution output. */
export function summarize(lanes: unknown): Record<string, number> & { lanes: number } {
  const list = Array.isArray(lanes) ? lanes : [];
  const sum: Record<string, number> = Object.fromEntries(PROGRESS_FIELDS.map((f) => [f, 0]));
  for (const lane of list) {
    const totals = (lane as { totals?: Record<string, unknown> } | null)?.totals ?? {};
    for (const f of PROGRESS_FIELDS) {
      const v = totals[f];
      if (typeof v === 'number' && Number.isFinite(v)) sum[f] += v;
    }
  }
  return { ...sum, lanes: list.length };
}
