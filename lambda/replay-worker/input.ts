/**
 * The worker's input: what a lane invocation is asked to replay, its
 * validation, and the compiled filter with the fingerprint that ties the
 * state objects to these parameters.
 */
import { createHash } from 'node:crypto';
import { parseDottedPath, type DottedPath } from '../shared/dotted-path';
import { isObject } from '../shared/unknown';

export type ReplayTagging = 'kpl-tag' | 'none';
export type FilterValue = string | number | boolean;

export interface ReplayFilter {
  /** Only these partition keys. */
  readonly partitionKeys?: readonly string[];
  /** Only payloads whose `field` (top-level or dotted path) equals one of `values` (strict, typed). */
  readonly payload?: { readonly field: string; readonly values: readonly FilterValue[] };
}

export interface ReplayRate {
  /** This lane's share, records per second. */
  readonly recordsPerSecond: number;
  /** This lane's share, bytes per second (data + partition key). */
  readonly bytesPerSecond: number;
}

export interface ReplayInput {
  readonly replayId: string;
  readonly archiveBucket: string;
  /** '' or path segments ending with '/', e.g. 'archive/'. */
  readonly archivePrefix: string;
  /** Two digits, '00'..'99'. */
  readonly lane: string;
  /** Inclusive, epoch ms, by approximate arrival. */
  readonly fromMs: number;
  /** Exclusive, epoch ms. */
  readonly toMs: number;
  /** Stream ARN (or name). Exactly one of `targetStream` and `targetTopic`. */
  readonly targetStream?: string;
  /** MSK topic ARN (`arn:…:kafka:<region>:<account>:topic/<cluster>/<uuid>/<topic>`). */
  readonly targetTopic?: string;
  readonly filter?: ReplayFilter;
  readonly rate: ReplayRate;
  readonly tagging: ReplayTagging;
  readonly stateBucket: string;
  /** '' or ending with '/'. */
  readonly statePrefix: string;
  /** The `cursor` of the previous invocation's result, if any. */
  readonly cursor?: string;
}

/** The input is unusable: retrying cannot help. */
export class ReplayInputError extends Error {
  public override readonly name = 'ReplayInputError';
}

/** The filter, ready to test records with. */
export interface CompiledFilter {
  readonly partitionKeys?: ReadonlySet<string>;
  readonly payloadPath?: DottedPath;
  readonly payloadValues?: ReadonlySet<FilterValue>;
}

export interface Compiled extends CompiledFilter {
  readonly fingerprint: string;
}

export const PREFIX = /^$|^([^/]+\/)+$/;
// S3-key safe and one path segment: no '/', no whitespace or control characters.
const REPLAY_ID = /^[^\s/\\\u0000-\u001f\u007f]{1,128}$/u;

/** Validates the input (every problem at once) and compiles its filter and fingerprint. */
export function compile(raw: ReplayInput): Compiled {
  const problems: string[] = [];
  const input = raw as unknown as Record<string, unknown>;
  if (!isObject(input)) throw new ReplayInputError('replay-worker: the input must be an object');
  checkFields(input, problems);
  checkCursor(input, problems);
  const filter = compileFilter(input.filter, problems);
  if (problems.length > 0) throw new ReplayInputError(`replay-worker: invalid input:\n  - ${problems.join('\n  - ')}`);
  return { ...filter, fingerprint: fingerprintOf(raw, filter) };
}

function checkFields(input: Record<string, unknown>, problems: string[]): void {
  const str = (k: string, ok: (s: string) => boolean, what: string): void => {
    if (typeof input[k] !== 'string' || !ok(input[k] as string)) problems.push(`${k} ${what}, got ${JSON.stringify(input[k])}`);
  };
  str('replayId', (s) => REPLAY_ID.test(s), 'must be 1..128 characters without /, \\, whitespace or control characters');
  str('archiveBucket', (s) => s !== '', 'must be a bucket name');
  str('stateBucket', (s) => s !== '', 'must be a bucket name');
  str('archivePrefix', (s) => PREFIX.test(s), "must be '' or path segments ending with '/'");
  str('statePrefix', (s) => PREFIX.test(s), "must be '' or path segments ending with '/'");
  str('lane', (s) => /^[0-9]{2}$/.test(s), "must be two digits '00'..'99'");
  checkTarget(input, problems);
  if (input.tagging !== 'kpl-tag' && input.tagging !== 'none') problems.push(`tagging must be 'kpl-tag' or 'none', got ${JSON.stringify(input.tagging)}`);
  const { fromMs, toMs } = input;
  if (!Number.isSafeInteger(fromMs) || (fromMs as number) < 0) problems.push(`fromMs must be epoch milliseconds, got ${JSON.stringify(fromMs)}`);
  if (!Number.isSafeInteger(toMs) || (toMs as number) < 0) problems.push(`toMs must be epoch milliseconds, got ${JSON.stringify(toMs)}`);
  else if (Number.isSafeInteger(fromMs) && (toMs as number) <= (fromMs as number)) problems.push(`toMs (${toMs}) must be after fromMs (${fromMs})`);
  const rate = input.rate;
  if (!isObject(rate)) {
    problems.push('rate must be { recordsPerSecond, bytesPerSecond }');
  } else {
    for (const k of ['recordsPerSecond', 'bytesPerSecond']) {
      if (typeof rate[k] !== 'number' || !((rate[k] as number) > 0)) problems.push(`rate.${k} must be a positive number, got ${JSON.stringify(rate[k])}`);
    }
  }
}

/** Exactly one target: a stream, or an MSK topic named by its ARN (the cluster ARN is derived from it). */
function checkTarget(input: Record<string, unknown>, problems: string[]): void {
  const { targetStream, targetTopic } = input;
  if ((targetStream === undefined) === (targetTopic === undefined)) {
    problems.push(`exactly one of targetStream and targetTopic must be given, got ${JSON.stringify({ targetStream, targetTopic })}`);
  } else if (targetStream !== undefined && (typeof targetStream !== 'string' || targetStream === '')) {
    problems.push(`targetStream must be a stream ARN, got ${JSON.stringify(targetStream)}`);
  } else if (targetTopic !== undefined && (typeof targetTopic !== 'string' || !TOPIC_ARN.test(targetTopic))) {
    problems.push(`targetTopic must be an MSK topic ARN (arn:<partition>:kafka:<region>:<account>:topic/<cluster>/<uuid>/<topic>), got ${JSON.stringify(targetTopic)}`);
  }
}

/** `arn:<partition>:kafka:<region>:<account>:topic/<cluster name>/<cluster uuid>/<topic name>`. */
export const TOPIC_ARN = /^arn:[^:]+:kafka:[^:]+:[0-9]*:topic\/[^/]+\/[^/]+\/[^/]+$/;

/** The cluster ARN and topic name of an MSK topic ARN. */
export function parseTopicArn(topicArn: string): { readonly clusterArn: string; readonly topic: string } {
  if (!TOPIC_ARN.test(topicArn)) throw new ReplayInputError(`not an MSK topic ARN: '${topicArn}'`);
  const [head, cluster, uuid, topic] = topicArn.split('/');
  return { clusterArn: `${head.replace(/:topic$/, ':cluster')}/${cluster}/${uuid}`, topic };
}

// A cursor skips everything up to it: one from another lane or archive would skip records unreplayed.
function checkCursor(input: Record<string, unknown>, problems: string[]): void {
  if (input.cursor === undefined) return;
  const c = input.cursor;
  const laneKey = /^dt=[0-9]{4}-[0-9]{2}-[0-9]{2}\/hour=[0-9]{2}\/bucket=([0-9]{2})\/[^/]+$/;
  const m = typeof c === 'string' && typeof input.archivePrefix === 'string' && c.startsWith(input.archivePrefix)
    ? laneKey.exec(c.slice(input.archivePrefix.length)) : null;
  if (!m || m[1] !== input.lane) problems.push(`cursor must be an object key of this lane's archive (as returned by the previous invocation), got ${JSON.stringify(c)}`);
}

function compileFilter(filter: unknown, problems: string[]): CompiledFilter {
  if (filter === undefined || filter === null) return {};
  if (!isObject(filter)) {
    problems.push('filter must be an object');
    return {};
  }
  const unknown = Object.keys(filter).filter((k) => k !== 'partitionKeys' && k !== 'payload');
  if (unknown.length > 0) problems.push(`filter has unknown field(s) ${unknown.join(', ')}`);
  let partitionKeys: Set<string> | undefined;
  if (filter.partitionKeys !== undefined) {
    const keys = filter.partitionKeys;
    if (!Array.isArray(keys) || keys.length === 0 || !keys.every((k) => typeof k === 'string' && k !== '')) {
      problems.push('filter.partitionKeys must be a non-empty array of non-empty strings');
    } else {
      partitionKeys = new Set(keys as string[]);
    }
  }
  return { partitionKeys, ...(filter.payload !== undefined ? compilePayloadFilter(filter.payload, problems) : {}) };
}

function compilePayloadFilter(p: unknown, problems: string[]): Pick<CompiledFilter, 'payloadPath' | 'payloadValues'> {
  if (!isObject(p)) {
    problems.push('filter.payload must be { field, values }');
    return {};
  }
  let payloadPath: DottedPath | undefined;
  try {
    payloadPath = parseDottedPath(p.field, 'filter.payload.field');
  } catch (e) {
    problems.push((e as Error).message);
  }
  const values = p.values;
  if (!Array.isArray(values) || values.length === 0
    || !values.every((v) => typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v)))) {
    problems.push('filter.payload.values must be a non-empty array of strings, finite numbers or booleans');
    return { payloadPath };
  }
  return { payloadPath, payloadValues: new Set(values as FilterValue[]) };
}

/** What selects records, hashed: state written under other parameters is refused, not misread. */
function fingerprintOf(raw: ReplayInput, filter: CompiledFilter): string {
  const { partitionKeys, payloadPath, payloadValues } = filter;
  const typed = (v: FilterValue): string => `${typeof v}:${String(v)}`;
  return createHash('sha256').update(JSON.stringify([
    1, // version of what the fingerprint covers
    raw.archiveBucket,
    raw.archivePrefix,
    raw.fromMs,
    raw.toMs,
    raw.targetTopic !== undefined ? `topic:${raw.targetTopic}` : raw.targetStream,
    raw.tagging,
    partitionKeys ? [...partitionKeys].sort() : null,
    payloadPath ? payloadPath.text : null,
    payloadValues ? [...payloadValues].map(typed).sort() : null,
  ])).digest('hex').slice(0, 32);
}
