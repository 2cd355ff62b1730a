/**
 * Replay worker: re-puts one LANE of the raw archive's time window into a
 * Kinesis stream. Pure: every read and write is an injected function
 * (index.ts binds them to the SDK), so the whole protocol is unit-tested.
 *
 * WHAT IT READS. The archive (lambda/shared/archive-format.ts) is laid out by
 * ARRIVAL time, `<archivePrefix>dt=YYYY-MM-DD/hour=HH/bucket=NN/<object>`, and
 * `bucket` is a hash of the partition key, so every record of a key is in one
 * lane. A Step Functions Distributed Map runs one iteration per lane; each
 * iteration invokes this worker until it answers `done: true`. One worker per
 * lane at a time, reading in time order, keeps per-key order while lanes run
 * in parallel.
 *
 * ORDER. Objects are taken hour by hour (hourPrefixes), then in creation
 * order within an hour: Firehose object names embed their creation time and
 * the delivery stream's version (`…-<version>-YYYY-MM-DD-HH-MM-SS-<uuid>`),
 * compared by archiveObjectOrder (time, then version as a number: plain key
 * order puts version 10 before 9). Objects of one lane created in the same
 * SECOND by the same version cannot be ordered by name (the rest is a random
 * uuid): those are ordered by their first record's arrival, then sequence
 * number, at the cost of one extra read each.
 * Within an object, records go out in file order. Calls go through
 * putAllRecords with `ordered: true`, so a resend never lets a later record of
 * its key overtake it.
 *
 * WHAT IS SELECTED. A record is replayed when its approximate_arrival_timestamp
 * is in [fromMs, toMs) and it matches the filter: its partition key is one of
 * `filter.partitionKeys` (when given) AND its payload, parsed as a UTF-8 JSON
 * object, holds at `filter.payload.field` (dotted path) a value strictly equal
 * to one of `filter.payload.values` (1 ≠ "1"; a payload that is not a JSON
 * object never matches). The original partition key is kept; the archive has
 * no ExplicitHashKey, so records are routed by their key.
 *
 * RESUMABLE AND IDEMPOTENT (state in `stateBucket`):
 * - `${statePrefix}${replayId}/done/${objectKey}`: written once every selected
 *   record of the object is in the stream (JSON with the object's counts).
 *   Objects with a done marker are skipped, so rerunning a finished replay id
 *   puts nothing. Done markers are found by LISTING the done prefix of each
 *   hour, not one GET per object.
 * - `${statePrefix}${replayId}/progress/${objectKey}`: `written`, the number of
 *   leading SELECTED records of the object already in the stream, rewritten
 *   after every completed segment. A resumed object skips that many.
 * - Both carry a fingerprint of what selects records (archive, window,
 *   filter, target, tagging). Reusing a replay id with other parameters is
 *   refused (`ReplayIdReused`) instead of skipping a count of records that
 *   meant something else.
 * - A SEGMENT is the unit sent and committed: the lane's next selected
 *   records in lane order, across object boundaries (an object's last records
 *   share calls with the next object's first, so only the lane's last call is
 *   part full). It is at most `segment.maxRecords` records / `maxBytes` bytes /
 *   `maxPerKey` records of one key (defaults 10,000 / 50 MiB / 250: twenty
 *   full PutRecords calls), and never more than `maxSeconds` (default half the stop
 *   margin) of this lane's rate, so a segment started before the margin ends
 *   before Lambda's timeout. Once sent, it is committed in lane order: a done
 *   marker for every object read to its end whose records are all written, a
 *   checkpoint for the object still being read. A segment ends where a call ends: when its budget
 *   has no room left for one more FULL call (estimated from its mean entry), it
 *   is cut there rather than sending a part-full call for the remainder. Within
 *   a segment the sender starts the longest per-key chains first and narrows
 *   its concurrency when a chain would outlast the full calls, so a segment's
 *   hot keys do not trickle out one entry per part-full call at its tail
 *   (put-records-packer.ts, `ordered`).
 * - `cursor` (returned, and passed back in the next input) is the last object
 *   key such that it and every object before it (in that order) is done. It only saves listing
 *   and work; the markers alone are enough for correctness.
 *
 * DUPLICATES, honestly:
 * - Graceful stop (remaining time below `stopMarginMs` before a segment is
 *   sent or an object is opened): nothing is in flight, the unsent segment is
 *   dropped uncommitted, the checkpoints are exact, the resume writes every
 *   selected record exactly once.
 * - Hard kill (timeout, crash, OOM) while a segment is in flight: the records
 *   of that segment already written are written again on resume: at most one
 *   segment per kill per lane. Same if the checkpoint write itself fails or
 *   the process dies between the last PutRecords and the checkpoint.
 * - Exhausted retries: the checkpoint advances to the first failed record;
 *   records after it that did succeed (other keys in the same segment, maybe
 *   of the next object) are written again on rerun (≤ one segment).
 * - And as for any PutRecords, a call that failed as a whole may have been
 *   written anyway before the resend (put-records-packer.ts).
 * So sinks must deduplicate on a payload key (event_id), as DOMAIN.md requires
 * of every replay. A replayed record gets a NEW sequence number.
 *
 * FAILURES ARE NEVER SILENT. Entries that exhaust their attempts (or are
 * rejected, e.g. too large) leave the object without a done marker, stop the
 * lane (a later object would put later records of the same keys ahead of
 * them), and come back in `error`; the handler then throws so the execution
 * fails, and a rerun with the same replay id redoes the object from its
 * checkpoint. An unreadable archive line fails the same way (key and line),
 * after the records before it are sent and committed.
 *
 * TAGGING. `kpl-tag` sends each record as a one-record KPL aggregate with a
 * `replay_id` tag (lambda/shared/kpl-encode.ts), same partition key: consumers
 * that de-aggregate (KCL, Firehose, aws-kinesis-agg, our runtime) get the
 * exact original bytes. Consumers that do NOT de-aggregate would see the
 * wrapper: use `none` for those. The wrapper adds ~30 bytes + key + replay id;
 * a record that no longer fits `maxRecordBytes` (1 MiB incl. key) once wrapped
 * is sent UNTAGGED, exactly as archived (it fitted the stream before), and
 * counted in `untaggedOversize`: losing the tag beats failing the record.
 * `none` sends the exact bytes as they are.
 *
 * RATE. A token bucket (lambda/shared/rate-limiter.ts) over this lane's
 * records/s and bytes/s is acquired before EVERY PutRecords call, resends
 * included (they load the shard the same), with the call's records and bytes
 * (data + partition key, what the shard counts; the KPL wrapper included).
 * Calls are capped to one second of the rate (`burstSeconds`), so a call
 * normally fits the bucket; the byte cap never goes below the 1 MiB record
 * limit (the packer needs a call to hold its largest record), and a call over
 * the bucket is let through when the bucket is full and its debt waited out
 * by the next call, so the long-run rate holds either way.
 *
 * COUNTS are per invocation and exact across graceful stops (lines before a
 * checkpoint are counted by the invocation that wrote it), so the state
 * machine can add them up; pass `cursor` back, or `objectsSkipped` re-counts
 * objects finished by earlier invocations of the same run.
 */
import { createHash } from 'node:crypto';
import { emfDocument, type EmfMetric } from '../shared/batch/emf';
import { ArchiveLineError, archiveCreationGroup, archiveObjectOrder, decodeArchiveLine, hourPrefixes } from '../shared/archive-format';
import { mapWithConcurrency } from '../shared/concurrency';
import { parseJsonObject } from '../shared/decode-record';
import { getAtPath, parseDottedPath, type DottedPath } from '../shared/dotted-path';
import { encodeTaggedRecord, taggedRecordSize, type KplTag } from '../shared/kpl-encode';
import {
  DEFAULT_PUT_RECORDS_LIMITS,
  entryBytes,
  putAllRecords,
  type PutAllRecordsOptions,
  type PutRecordsEntry,
  type PutRecordsLimits,
  type PutRecordsSend,
} from '../shared/put-records-packer';
import { TokenBucketRateLimiter } from '../shared/rate-limiter';
import { realSleep } from '../shared/retry';
import { errorMessage, errorName, isObject } from '../shared/unknown';

// ---------------------------------------------------------------- input

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
  /** Stream ARN (or name). */
  readonly targetStream: string;
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

/** The state says something this run must not override (a replay id reused with other parameters, a checkpoint past the object's end). */
export class ReplayStateError extends Error {
  public override readonly name = 'ReplayStateError';
}

interface Compiled {
  readonly partitionKeys?: ReadonlySet<string>;
  readonly payloadPath?: DottedPath;
  readonly payloadValues?: ReadonlySet<FilterValue>;
  readonly fingerprint: string;
}

const PREFIX = /^$|^([^/]+\/)+$/;
// S3-key safe and one path segment: no '/', no whitespace or control characters.
const REPLAY_ID = /^[^\s/\\\u0000-\u001f\u007f]{1,128}$/u;

function compile(raw: ReplayInput): Compiled {
  const problems: string[] = [];
  const input = raw as unknown as Record<string, unknown>;
  if (!isObject(input)) throw new ReplayInputError('replay-worker: the input must be an object');
  const str = (k: string, ok: (s: string) => boolean, what: string): void => {
    if (typeof input[k] !== 'string' || !ok(input[k] as string)) problems.push(`${k} ${what}, got ${JSON.stringify(input[k])}`);
  };
  str('replayId', (s) => REPLAY_ID.test(s), 'must be 1..128 characters without /, \\, whitespace or control characters');
  str('archiveBucket', (s) => s !== '', 'must be a bucket name');
  str('stateBucket', (s) => s !== '', 'must be a bucket name');
  str('archivePrefix', (s) => PREFIX.test(s), "must be '' or path segments ending with '/'");
  str('statePrefix', (s) => PREFIX.test(s), "must be '' or path segments ending with '/'");
  str('lane', (s) => /^[0-9]{2}$/.test(s), "must be two digits '00'..'99'");
  str('targetStream', (s) => s !== '', 'must be a stream ARN');
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
  // A cursor skips everything up to it: one from another lane or archive would skip records unreplayed.
  if (input.cursor !== undefined) {
    const c = input.cursor;
    const laneKey = /^dt=[0-9]{4}-[0-9]{2}-[0-9]{2}\/hour=[0-9]{2}\/bucket=([0-9]{2})\/[^/]+$/;
    const m = typeof c === 'string' && typeof input.archivePrefix === 'string' && c.startsWith(input.archivePrefix)
      ? laneKey.exec(c.slice(input.archivePrefix.length)) : null;
    if (!m || m[1] !== input.lane) problems.push(`cursor must be an object key of this lane's archive (as returned by the previous invocation), got ${JSON.stringify(c)}`);
  }

  let partitionKeys: Set<string> | undefined;
  let payloadPath: DottedPath | undefined;
  let payloadValues: Set<FilterValue> | undefined;
  const filter = input.filter;
  if (filter !== undefined && filter !== null) {
    if (!isObject(filter)) {
      problems.push('filter must be an object');
    } else {
      const unknown = Object.keys(filter).filter((k) => k !== 'partitionKeys' && k !== 'payload');
      if (unknown.length > 0) problems.push(`filter has unknown field(s) ${unknown.join(', ')}`);
      if (filter.partitionKeys !== undefined) {
        const keys = filter.partitionKeys;
        if (!Array.isArray(keys) || keys.length === 0 || !keys.every((k) => typeof k === 'string' && k !== '')) {
          problems.push('filter.partitionKeys must be a non-empty array of non-empty strings');
        } else {
          partitionKeys = new Set(keys as string[]);
        }
      }
      if (filter.payload !== undefined) {
        const p = filter.payload;
        if (!isObject(p)) {
          problems.push('filter.payload must be { field, values }');
        } else {
          try {
            payloadPath = parseDottedPath(p.field, 'filter.payload.field');
          } catch (e) {
            problems.push((e as Error).message);
          }
          const values = p.values;
          if (!Array.isArray(values) || values.length === 0
            || !values.every((v) => typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v)))) {
            problems.push('filter.payload.values must be a non-empty array of strings, finite numbers or booleans');
          } else {
            payloadValues = new Set(values as FilterValue[]);
          }
        }
      }
    }
  }
  if (problems.length > 0) throw new ReplayInputError(`replay-worker: invalid input:\n  - ${problems.join('\n  - ')}`);

  const typed = (v: FilterValue): string => `${typeof v}:${String(v)}`;
  const fingerprint = createHash('sha256').update(JSON.stringify([
    1, // version of what the fingerprint covers
    raw.archiveBucket,
    raw.archivePrefix,
    raw.fromMs,
    raw.toMs,
    raw.targetStream,
    raw.tagging,
    partitionKeys ? [...partitionKeys].sort() : null,
    payloadPath ? payloadPath.text : null,
    payloadValues ? [...payloadValues].map(typed).sort() : null,
  ])).digest('hex').slice(0, 32);
  return { partitionKeys, payloadPath, payloadValues, fingerprint };
}

// ---------------------------------------------------------------- I/O and options

export interface ReplayIo {
  /** Every key under the prefix (all pages). */
  listKeys(bucket: string, prefix: string): Promise<string[]>;
  /**
   * The object's decompressed text, split at '\n' (the terminator dropped; no
   * empty line after a final '\n'). Closed early when the iteration stops.
   */
  readLines(bucket: string, key: string): AsyncIterable<string>;
  /** A state object's body; undefined when it does not exist. */
  getState(bucket: string, key: string): Promise<string | undefined>;
  putState(bucket: string, key: string, body: string): Promise<void>;
  readonly putRecords: PutRecordsSend;
}

export interface SegmentOptions {
  /** @default 10000 */
  readonly maxRecords?: number;
  /** Data + partition keys. @default 50 MiB */
  readonly maxBytes?: number;
  /** Records of one partition key per segment: ordered sends cost one round trip per record of a key. @default 250 */
  readonly maxPerKey?: number;
  /** A segment holds at most this many seconds of the lane's rate. @default stopMarginMs / 2 */
  readonly maxSeconds?: number;
}

export interface ReplayOptions {
  /** The invocation's remaining time (context.getRemainingTimeInMillis). */
  readonly remainingTimeMs: () => number;
  /** Stop before a segment when less than this is left. @default 60000 */
  readonly stopMarginMs?: number;
  readonly segment?: SegmentOptions;
  /** Forwarded to putAllRecords (which always runs `ordered`). */
  readonly put?: Pick<PutAllRecordsOptions, 'concurrency' | 'maxAttempts' | 'baseDelayMs' | 'maxDelayMs' | 'limits' | 'random'>;
  /** Rate limiter bucket size, in seconds of the rate. @default 1 */
  readonly burstSeconds?: number;
  /** LIST calls in flight while listing the window's hours. @default 8 */
  readonly listConcurrency?: number;
  /** Failed records detailed in `error.failedRecords`. @default 10 */
  readonly maxReportedFailures?: number;
  /** Injectable clock (ms) and sleep, for the rate limiter and the sender's backoff. */
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

// ---------------------------------------------------------------- output

export interface ReplayProgress {
  /** Archive objects of the lane in the window (after the cursor). */
  readonly objectsListed: number;
  /** Objects completed (done marker written) by this invocation. */
  readonly objectsDone: number;
  /** Objects found already done. */
  readonly objectsSkipped: number;
  /** Objects not yet done when this invocation returned (the one in progress included). */
  readonly objectsRemaining: number;
  /** Records written by this invocation. */
  readonly recordsReplayed: number;
  /** Their original payload bytes (without keys or KPL wrapper). */
  readonly bytesReplayed: number;
  /** Records in the window that the filter did not select. */
  readonly recordsFiltered: number;
  /** Records of the listed objects outside [fromMs, toMs). */
  readonly recordsOutsideWindow: number;
  /** `kpl-tag` records sent untagged because the wrapper would push them over the record limit. */
  readonly untaggedOversize: number;
  /** Entries that came back ProvisionedThroughputExceededException (a whole call throttled counts all its entries). */
  readonly throttles: number;
  /** Entries not written after every attempt (or rejected, or held back behind such an entry). */
  readonly failed: number;
  /** PutRecords calls, resends included. */
  readonly putCalls: number;
  /** Time spent waiting for the rate limiter. */
  readonly rateLimitedMs: number;
}

export interface FailedRecordReport {
  /** The archive object the record came from. */
  readonly objectKey: string;
  readonly partitionKey: string;
  readonly sequenceNumber: string;
  readonly subSequenceNumber: number;
  readonly errorCode: string;
  readonly errorMessage: string;
}

export interface ReplayError {
  /** `RecordsFailed` for PutRecords failures, otherwise the error's name (ReplayStateError, ArchiveLineError, NoSuchBucket, …). */
  readonly code: string;
  readonly message: string;
  readonly objectKey?: string;
  readonly failedRecords?: FailedRecordReport[];
}

export interface ReplayResult {
  readonly replayId: string;
  readonly lane: string;
  /** True when every object of the lane is done; false: invoke again (or, with `error`, the run failed). */
  readonly done: boolean;
  /** Pass back as `cursor` in the next invocation's input. */
  readonly cursor?: string;
  readonly progress: ReplayProgress;
  readonly error?: ReplayError;
}

// ---------------------------------------------------------------- state objects

export const doneMarkerKey = (statePrefix: string, replayId: string, objectKey: string): string => `${statePrefix}${replayId}/done/${objectKey}`;
export const progressKey = (statePrefix: string, replayId: string, objectKey: string): string => `${statePrefix}${replayId}/progress/${objectKey}`;

/** Per-object counts; cumulative over the invocations that worked on the object. */
export interface ObjectCounts {
  /** Leading selected records in the stream. */
  written: number;
  bytes: number;
  filtered: number;
  outsideWindow: number;
  untaggedOversize: number;
}

export interface ProgressCheckpoint extends ObjectCounts {
  readonly replayId: string;
  readonly objectKey: string;
  readonly fingerprint: string;
  readonly updatedAt: string;
}

export interface DoneMarker extends ObjectCounts {
  readonly replayId: string;
  readonly objectKey: string;
  readonly fingerprint: string;
  readonly lane: string;
  readonly completedAt: string;
}

function parseState(body: string, what: string, key: string, fingerprint: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    throw new ReplayStateError(`${what} ${key} is not JSON`);
  }
  if (!isObject(doc)) throw new ReplayStateError(`${what} ${key} is not a JSON object`);
  if (doc.fingerprint !== fingerprint) {
    throw new ReplayStateError(`ReplayIdReused: ${what} ${key} was written by a replay with other parameters `
      + `(fingerprint ${String(doc.fingerprint)}, this run ${fingerprint}); use a new replay id`);
  }
  return doc;
}

// ---------------------------------------------------------------- helpers

/**
 * Splits a byte or text stream into lines at '\n' (UTF-8, multi-byte
 * characters may straddle chunks). No empty line is yielded after a final
 * '\n'; an empty line elsewhere is yielded (and is not an archive record).
 */
export async function* splitLines(chunks: AsyncIterable<Uint8Array | string>): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let rest = '';
  for await (const chunk of chunks) {
    rest += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    let start = 0;
    for (let nl = rest.indexOf('\n'); nl >= 0; nl = rest.indexOf('\n', start)) {
      yield rest.slice(start, nl);
      start = nl + 1;
    }
    rest = rest.slice(start);
  }
  rest += decoder.decode();
  if (rest !== '') yield rest;
}

const MiB = 1024 * 1024;
const THROTTLED = 'ProvisionedThroughputExceededException';

/** Our own error classes by class name (ArchiveLineError sets no name), anything else by its name. */
const errorCode = (e: unknown): string => (e instanceof ArchiveLineError ? 'ArchiveLineError' : errorName(e));

/** An object being replayed: read, or with records in the segment, and not yet committed done. */
interface OpenObject {
  readonly key: string;
  readonly stateKey: string;
  /** Committed counts: the checkpoint's, plus what this invocation has written. */
  readonly counts: ObjectCounts;
  /** Its records written by the segment being committed. */
  wroteInSegment: number;
  /** Every line has been read. */
  readAll: boolean;
  /** Non-selected lines after its last selected record: committed with the done marker. */
  trailingFiltered: number;
  trailingOutside: number;
}

interface Pending {
  readonly object: OpenObject;
  readonly entry: PutRecordsEntry;
  readonly payloadBytes: number;
  readonly sequenceNumber: string;
  readonly subSequenceNumber: number;
  readonly untagged: boolean;
  /** Non-selected lines between the previous selected record and this one: committed with this record. */
  readonly filteredBefore: number;
  readonly outsideBefore: number;
}

/** Why the lane stops early: out of time (nothing lost, resume), or an error. */
type Stop = { readonly stopped: true; readonly error?: undefined } | { readonly stopped?: undefined; readonly error: ReplayError };

// ---------------------------------------------------------------- the worker

/** Replays one lane of [fromMs, toMs) until done, out of time, or failed. */
export async function replayLane(input: ReplayInput, io: ReplayIo, options: ReplayOptions): Promise<ReplayResult> {
  const compiled = compile(input);
  const { fingerprint } = compiled;
  const { replayId, lane, archiveBucket, archivePrefix, stateBucket, statePrefix, fromMs, toMs } = input;
  const stopMarginMs = options.stopMarginMs ?? 60_000;
  const outOfTime = (): boolean => options.remainingTimeMs() < stopMarginMs;
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? realSleep;
  const burstSeconds = options.burstSeconds ?? 1;
  const maxReported = options.maxReportedFailures ?? 10;

  // Calls hold at most one bucket (burstSeconds of the rate), never less than one record.
  const base: PutRecordsLimits = { ...DEFAULT_PUT_RECORDS_LIMITS, ...options.put?.limits };
  const limits: PutRecordsLimits = {
    maxRecordBytes: base.maxRecordBytes,
    maxRecordsPerCall: Math.min(base.maxRecordsPerCall, Math.max(1, Math.floor(input.rate.recordsPerSecond * burstSeconds))),
    maxBytesPerCall: Math.min(base.maxBytesPerCall, Math.max(base.maxRecordBytes, Math.floor(input.rate.bytesPerSecond * burstSeconds))),
  };
  const segmentSeconds = options.segment?.maxSeconds ?? stopMarginMs / 2000;
  const segMaxRecords = Math.max(1, Math.min(options.segment?.maxRecords ?? 10000, Math.floor(input.rate.recordsPerSecond * segmentSeconds)));
  const segMaxBytes = Math.max(1, Math.min(options.segment?.maxBytes ?? 50 * MiB, Math.floor(input.rate.bytesPerSecond * segmentSeconds)));
  const segMaxPerKey = Math.max(1, options.segment?.maxPerKey ?? 250);
  /**
   * Whether a segment of `records` entries and `bytes` still has room for one more FULL call, estimated from its
   * mean entry: if not, the segment ends at the call boundary instead of sending a part-full call for the rest of
   * its budget (100 KiB records: 510 records = 10 full calls, not 511 = 10 calls + 1 of one record).
   */
  const roomForFullCall = (records: number, bytes: number): boolean => {
    if (records === 0) return true;
    const mean = bytes / records;
    const perCall = Math.min(limits.maxRecordsPerCall, Math.max(1, Math.floor(limits.maxBytesPerCall / mean)));
    return segMaxRecords - records >= perCall && segMaxBytes - bytes >= perCall * mean;
  };
  const tags: KplTag[] = [{ key: 'replay_id', value: replayId }];

  const limiter = new TokenBucketRateLimiter({ ...input.rate, burstSeconds, now, sleep });
  const p = {
    objectsListed: 0, objectsDone: 0, objectsSkipped: 0, objectsRemaining: 0,
    recordsReplayed: 0, bytesReplayed: 0, recordsFiltered: 0, recordsOutsideWindow: 0, untaggedOversize: 0,
    throttles: 0, failed: 0, putCalls: 0, rateLimitedMs: 0,
  };
  let cursor = input.cursor;
  const result = (done: boolean, error?: ReplayError): ReplayResult => ({
    replayId,
    lane,
    done,
    ...(cursor !== undefined ? { cursor } : {}),
    progress: { ...p, rateLimitedMs: limiter.waitedMs },
    ...(error ? { error } : {}),
  });

  const send: PutRecordsSend = async (request) => {
    const bytes = request.Records.reduce((sum, r) => sum + entryBytes({ data: r.Data, partitionKey: r.PartitionKey }), 0);
    await limiter.acquire(request.Records.length, bytes);
    p.putCalls++;
    try {
      const out = await io.putRecords(request);
      for (const r of out?.Records ?? []) if (r?.ErrorCode === THROTTLED) p.throttles++;
      return out;
    } catch (e) {
      if (errorName(e) === THROTTLED) p.throttles += request.Records.length;
      throw e;
    }
  };

  const selects = (partitionKey: string): boolean => compiled.partitionKeys === undefined || compiled.partitionKeys.has(partitionKey);
  const payloadSelects = (data: Buffer): boolean => {
    if (compiled.payloadPath === undefined || compiled.payloadValues === undefined) return true;
    const parsed = parseJsonObject(data);
    if (!parsed.ok) return false;
    const value = getAtPath(parsed.value, compiled.payloadPath);
    return (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') && compiled.payloadValues.has(value);
  };
  const toEntry = (data: Buffer, partitionKey: string): { entry: PutRecordsEntry; untagged: boolean } => {
    if (input.tagging === 'none') return { entry: { data, partitionKey }, untagged: false };
    const wrapped = taggedRecordSize(data.byteLength, partitionKey, tags) + Buffer.byteLength(partitionKey, 'utf8');
    if (wrapped > limits.maxRecordBytes) return { entry: { data, partitionKey }, untagged: true };
    return { entry: { data: encodeTaggedRecord(data, partitionKey, tags), partitionKey }, untagged: false };
  };

  const writeCheckpoint = (o: OpenObject): Promise<void> => {
    const doc: ProgressCheckpoint = { replayId, objectKey: o.key, fingerprint, ...o.counts, updatedAt: new Date(now()).toISOString() };
    return io.putState(stateBucket, o.stateKey, JSON.stringify(doc));
  };
  const markDone = async (o: OpenObject): Promise<void> => {
    // Lines after the object's last selected record.
    o.counts.filtered += o.trailingFiltered;
    o.counts.outsideWindow += o.trailingOutside;
    p.recordsFiltered += o.trailingFiltered;
    p.recordsOutsideWindow += o.trailingOutside;
    const marker: DoneMarker = { replayId, objectKey: o.key, fingerprint, lane, ...o.counts, completedAt: new Date(now()).toISOString() };
    await io.putState(stateBucket, doneMarkerKey(statePrefix, replayId, o.key), JSON.stringify(marker));
    completed.add(o.key);
    p.objectsDone++;
  };

  // The segment: selected records not yet sent, in lane order, possibly from several objects (an object's last
  // records share calls with the next object's first, so only the lane's last call is part full).
  let segment: Pending[] = [];
  let segmentBytes = 0;
  // The call the segment's entries would fill last, packed in order: a segment ends where a call ends.
  let callRecords = 0;
  let callBytes = 0;
  const perKey = new Map<string, number>();
  /** Objects with records in the segment or read since the last commit, in lane order; only the last may be unread. */
  let open: OpenObject[] = [];

  /**
   * Sends the segment, then commits in lane order: a done marker for each object read to its end whose records are
   * all written, a checkpoint for the object still being read. On failure, the objects before the first failed
   * entry's object are done, that object checkpoints its written prefix, and the lane stops.
   */
  const flush = async (): Promise<Stop | undefined> => {
    if (segment.length > 0) {
      if (outOfTime()) return { stopped: true };
      const sent = segment;
      segment = [];
      segmentBytes = 0;
      callRecords = 0;
      callBytes = 0;
      perKey.clear();
      const out = await putAllRecords(send, input.targetStream, sent.map((s) => s.entry), {
        ...options.put,
        limits,
        ordered: true,
        sleep,
      });
      // Ordered: every entry before the first failed one is written.
      const firstFailed = out.failed.length > 0 ? out.failed[0].index : sent.length;
      const failedAt = new Set(out.failed.map((f) => f.index));
      sent.forEach((s, i) => {
        if (failedAt.has(i)) return;
        p.recordsReplayed++;
        p.bytesReplayed += s.payloadBytes;
        if (s.untagged) p.untaggedOversize++;
      });
      p.failed += out.failed.length;
      for (const s of sent.slice(0, firstFailed)) {
        const c = s.object.counts;
        c.written++;
        c.bytes += s.payloadBytes;
        c.filtered += s.filteredBefore;
        c.outsideWindow += s.outsideBefore;
        if (s.untagged) c.untaggedOversize++;
        s.object.wroteInSegment++;
        p.recordsFiltered += s.filteredBefore;
        p.recordsOutsideWindow += s.outsideBefore;
      }
      if (out.failed.length > 0) {
        const failedObject = sent[firstFailed].object;
        for (const o of open) {
          if (o === failedObject) break;
          await markDone(o);
        }
        if (failedObject.wroteInSegment > 0) await writeCheckpoint(failedObject);
        open = [];
        const first = out.failed[0];
        return {
          error: {
            code: 'RecordsFailed',
            message: `${out.failed.length} record(s) not written (first: ${first.errorCode}: ${first.errorMessage}); `
              + `${failedObject.key} is not marked done and resumes at selected record ${failedObject.counts.written}`,
            objectKey: failedObject.key,
            failedRecords: out.failed.slice(0, maxReported).map((f) => ({
              objectKey: sent[f.index].object.key,
              partitionKey: sent[f.index].entry.partitionKey,
              sequenceNumber: sent[f.index].sequenceNumber,
              subSequenceNumber: sent[f.index].subSequenceNumber,
              errorCode: f.errorCode,
              errorMessage: f.errorMessage,
            })),
          },
        };
      }
    }
    const reading: OpenObject[] = [];
    for (const o of open) {
      if (o.readAll) {
        await markDone(o);
      } else {
        if (o.wroteInSegment > 0) await writeCheckpoint(o);
        o.wroteInSegment = 0;
        reading.push(o);
      }
    }
    open = reading;
    return undefined;
  };

  /** Reads one object into the segment, sending the segment whenever it is full. */
  const readObject = async (key: string): Promise<Stop | undefined> => {
    const o: OpenObject = {
      key,
      stateKey: progressKey(statePrefix, replayId, key),
      counts: { written: 0, bytes: 0, filtered: 0, outsideWindow: 0, untaggedOversize: 0 },
      wroteInSegment: 0,
      readAll: false,
      trailingFiltered: 0,
      trailingOutside: 0,
    };
    const saved = await io.getState(stateBucket, o.stateKey);
    if (saved !== undefined) {
      const doc = parseState(saved, 'checkpoint', o.stateKey, fingerprint);
      for (const k of Object.keys(o.counts) as (keyof ObjectCounts)[]) {
        const v = doc[k];
        if (!Number.isSafeInteger(v) || (v as number) < 0) throw new ReplayStateError(`checkpoint ${o.stateKey}: ${k} must be a non-negative integer`);
        o.counts[k] = v as number;
      }
    }
    const skip = o.counts.written;
    open.push(o);

    let line = 0;
    let selected = 0;
    let filteredBefore = 0;
    let outsideBefore = 0;
    for await (const text of io.readLines(archiveBucket, key)) {
      line++;
      let record;
      try {
        record = decodeArchiveLine(text);
      } catch (e) {
        // What precedes the bad line goes out and is committed, so the lane stops exactly at it.
        const stop = await flush();
        if (stop) return stop;
        throw new ArchiveLineError(`${key} line ${line}: ${errorMessage(e)}`);
      }
      // Lines before the checkpoint's last record were counted by the run that wrote it.
      const counting = selected >= skip;
      const t = record.approximate_arrival_timestamp;
      if (t < fromMs || t >= toMs) {
        if (counting) outsideBefore++;
        continue;
      }
      if (!selects(record.partition_key)) {
        if (counting) filteredBefore++;
        continue;
      }
      const data = Buffer.from(record.data, 'base64');
      if (!payloadSelects(data)) {
        if (counting) filteredBefore++;
        continue;
      }
      selected++;
      if (selected <= skip) continue;

      const { entry, untagged } = toEntry(data, record.partition_key);
      const bytes = entryBytes(entry);
      const ofKey = perKey.get(entry.partitionKey) ?? 0;
      const newCall = callRecords === limits.maxRecordsPerCall || (callRecords > 0 && callBytes + bytes > limits.maxBytesPerCall);
      if (segment.length >= segMaxRecords || (segment.length > 0 && segmentBytes + bytes > segMaxBytes) || ofKey >= segMaxPerKey
        || (newCall && !roomForFullCall(segment.length, segmentBytes))) {
        const stop = await flush();
        if (stop) return stop;
      }
      // A flush has already reset the call; otherwise the entry opens the next one.
      if (newCall) {
        callRecords = 0;
        callBytes = 0;
      }
      callRecords++;
      callBytes += bytes;
      segment.push({
        object: o,
        entry,
        payloadBytes: data.byteLength,
        sequenceNumber: record.sequence_number,
        subSequenceNumber: record.sub_sequence_number,
        untagged,
        filteredBefore,
        outsideBefore,
      });
      segmentBytes += bytes;
      perKey.set(entry.partitionKey, ofKey + 1);
      filteredBefore = 0;
      outsideBefore = 0;
    }
    if (selected < skip) {
      throw new ReplayStateError(`checkpoint ${o.stateKey} says ${skip} records were written, but ${key} has only ${selected} selected records`);
    }
    o.trailingFiltered = filteredBefore;
    o.trailingOutside = outsideBefore;
    o.readAll = true;
    return undefined;
  };

  // Objects sort in time order across hours and days too (zero-padded dt/hour, archiveObjectOrder), so one cursor covers the lane.
  const lanePrefixes = hourPrefixes(fromMs, toMs)
    .map((h) => `${archivePrefix}${h}bucket=${lane}/`)
    .filter((prefix) => cursor === undefined || !(prefix < cursor && !cursor.startsWith(prefix)));

  const after = cursor === undefined ? undefined : archiveObjectOrder(cursor);
  let objects: string[] = [];
  let doneMarkers = new Set<string>();
  const completed = new Set<string>();
  let current: string | undefined;
  const isDone = (key: string): boolean => completed.has(key) || doneMarkers.has(doneMarkerKey(statePrefix, replayId, key));
  // Per object: the index of the last object of its creation group, and the group's greatest key by name order.
  let groupEnd: number[] = [];
  let groupCursor: string[] = [];
  // The cursor: past whole creation groups only, each done with every object before it. A group is ordered by
  // content, not by name, so a cursor inside one could skip a member that sorts before it by name.
  let settled = 0;
  const advanceCursor = (): void => {
    while (settled < objects.length) {
      const end = groupEnd[settled];
      for (let j = settled; j <= end; j++) if (!isDone(objects[j])) return;
      cursor = groupCursor[settled];
      settled = end + 1;
    }
  };
  /** The first record's arrival and sequence number; undefined when the object is empty or its first line unreadable (it fails when replayed). */
  const firstRecord = async (key: string): Promise<{ readonly t: number; readonly seq: bigint } | undefined> => {
    for await (const text of io.readLines(archiveBucket, key)) {
      try {
        const r = decodeArchiveLine(text);
        return { t: r.approximate_arrival_timestamp, seq: BigInt(r.sequence_number) };
      } catch {
        return undefined;
      }
    }
    return undefined;
  };
  /**
   * A prefix's objects in replay order: archiveObjectOrder, and within a creation group (same second, same
   * version) by their first record's arrival, then sequence number: one extra read per such object not yet done, which only
   * a lane flushing more than once a second has.
   */
  const inReplayOrder = async (keys: string[]): Promise<{ keys: string[]; groups: { size: number; cursor: string }[] }> => {
    const sorted = keys
      .map((k) => ({ k, order: archiveObjectOrder(k), group: archiveCreationGroup(k) }))
      .filter(({ order }) => after === undefined || order > after)
      .sort((a, b) => (a.order < b.order ? -1 : a.order > b.order ? 1 : 0));
    const out: string[] = [];
    const groups: { size: number; cursor: string }[] = [];
    for (let i = 0; i < sorted.length;) {
      let j = i + 1;
      while (j < sorted.length && sorted[j].group === sorted[i].group) j++;
      const members = sorted.slice(i, j);
      // Only the members still to replay need ordering; done ones go first and are skipped.
      const pending = members.filter((m) => !isDone(m.k));
      if (pending.length > 1) {
        const ranked: { k: string; first: { readonly t: number; readonly seq: bigint } | undefined }[] = [];
        for (const m of pending) ranked.push({ k: m.k, first: await firstRecord(m.k) });
        ranked.sort((a, b) => {
          if (a.first === undefined || b.first === undefined) return a.first === b.first ? 0 : a.first === undefined ? 1 : -1;
          return a.first.t - b.first.t || (a.first.seq < b.first.seq ? -1 : a.first.seq > b.first.seq ? 1 : 0);
        });
        out.push(...members.filter((m) => isDone(m.k)).map((m) => m.k), ...ranked.map((m) => m.k));
      } else {
        out.push(...members.map((m) => m.k));
      }
      groups.push({ size: members.length, cursor: members[members.length - 1].k });
      i = j;
    }
    return { keys: out, groups };
  };
  const stopped = (stop?: Stop): ReplayResult => {
    advanceCursor();
    p.objectsRemaining = objects.filter((k) => !isDone(k)).length;
    return result(false, stop?.error);
  };
  try {
    const listed = await mapWithConcurrency(lanePrefixes, options.listConcurrency ?? 8, async (prefix) => {
      const [keys, done] = await Promise.all([
        io.listKeys(archiveBucket, prefix),
        io.listKeys(stateBucket, doneMarkerKey(statePrefix, replayId, prefix)),
      ]);
      return { keys: keys.filter((k) => k.startsWith(prefix) && !k.endsWith('/')), done };
    });
    doneMarkers = new Set(listed.flatMap((l) => l.done));
    // One prefix at a time: a creation group's first-record reads hold an object each in memory.
    const ordered: { keys: string[]; groups: { size: number; cursor: string }[] }[] = [];
    for (const l of listed) ordered.push(await inReplayOrder(l.keys));
    objects = ordered.flatMap((l) => l.keys);
    groupEnd = [];
    groupCursor = [];
    for (const { size, cursor: last } of ordered.flatMap((l) => l.groups)) {
      const end = groupEnd.length + size - 1;
      for (let n = 0; n < size; n++) {
        groupEnd.push(end);
        groupCursor.push(last);
      }
    }
    p.objectsListed = objects.length;

    let fingerprintChecked = false;
    for (const key of objects) {
      current = key;
      if (isDone(key)) {
        if (!fingerprintChecked) {
          // One marker per invocation tells whether these markers belong to this replay's parameters.
          const markerKey = doneMarkerKey(statePrefix, replayId, key);
          const body = await io.getState(stateBucket, markerKey);
          if (body !== undefined) parseState(body, 'done marker', markerKey, fingerprint);
          fingerprintChecked = true;
        }
        p.objectsSkipped++;
        advanceCursor();
        continue;
      }
      // Out of time: what the segment holds was never sent, so dropping it keeps the committed state exact.
      if (outOfTime()) return stopped();
      const stop = await readObject(key);
      if (stop) return stopped(stop);
      advanceCursor();
    }
    const stop = await flush();
    if (stop) return stopped(stop);
    advanceCursor();
    return result(true);
  } catch (e) {
    // Everything committed so far stays committed (checkpoints, markers); a rerun resumes from there.
    return stopped({ error: { code: errorCode(e), message: errorMessage(e), ...(current !== undefined ? { objectKey: current } : {}) } });
  }
}

// ---------------------------------------------------------------- metrics

export const EMF_NAMESPACE = 'StreamingPipelines/Replay';

/**
 * The invocation's one EMF line: metrics under the ReplayStateMachine
 * dimension only (a replay id per execution would create a metric per
 * replay); replay id, lane and the rest of the progress go in as plain
 * properties, searchable in Logs Insights.
 */
export function replayEmf(result: ReplayResult, options: { readonly stateMachineName: string; readonly timestamp?: number }): Record<string, unknown> {
  const pr = result.progress;
  const metrics: EmfMetric[] = [
    ['RecordsReplayed', pr.recordsReplayed, 'Count'],
    ['BytesReplayed', pr.bytesReplayed, 'Bytes'],
    ['ObjectsDone', pr.objectsDone, 'Count'],
    ['ObjectsRemaining', pr.objectsRemaining, 'Count'],
    ['Throttles', pr.throttles, 'Count'],
  ];
  const names = new Set(metrics.map(([name]) => name));
  return {
    ...emfDocument(metrics, { namespace: EMF_NAMESPACE, dimensions: { ReplayStateMachine: options.stateMachineName }, timestamp: options.timestamp }),
    ReplayId: result.replayId,
    Lane: result.lane,
    Done: result.done,
    ...Object.fromEntries(Object.entries(pr).filter(([k]) => !names.has(k.charAt(0).toUpperCase() + k.slice(1)))),
    ...(result.error ? { ErrorCode: result.error.code, ErrorMessage: result.error.message, ErrorObjectKey: result.error.objectKey } : {}),
  };
}

// ---------------------------------------------------------------- the handler's configuration and event

export interface ReplayWorkerConfig {
  readonly stateBucket: string;
  readonly statePrefix: string;
  readonly stateMachineName: string;
}

export function parseWorkerConfig(env: Readonly<Record<string, string | undefined>>): ReplayWorkerConfig {
  const problems: string[] = [];
  const stateBucket = env.STATE_BUCKET ?? '';
  if (stateBucket === '') problems.push('STATE_BUCKET is required');
  const statePrefix = env.STATE_PREFIX ?? '';
  if (!PREFIX.test(statePrefix)) problems.push(`STATE_PREFIX must be '' or path segments ending with '/', got '${statePrefix}'`);
  const stateMachineName = env.REPLAY_STATE_MACHINE_NAME ?? '';
  if (stateMachineName === '') problems.push('REPLAY_STATE_MACHINE_NAME is required (the EMF dimension)');
  if (problems.length > 0) throw new Error(`replay-worker: invalid configuration: ${problems.join('; ')}`);
  return { stateBucket, statePrefix, stateMachineName };
}

const EVENT_FIELDS = ['replayId', 'archiveBucket', 'archivePrefix', 'lane', 'fromMs', 'toMs', 'targetStream', 'filter', 'rate', 'tagging', 'cursor'] as const;

/**
 * The worker's input from a Step Functions event: the fields above (state
 * location from the environment, never from the event). A lane may come as a
 * number (3 → '03'), a time as an ISO-8601 string; the rest is validated by
 * replayLane.
 */
export function toReplayInput(event: unknown, config: ReplayWorkerConfig): ReplayInput {
  if (!isObject(event)) throw new ReplayInputError('replay-worker: the event must be an object');
  const picked: Record<string, unknown> = {};
  for (const k of EVENT_FIELDS) if (event[k] !== undefined && event[k] !== null) picked[k] = event[k];
  if (typeof picked.lane === 'number' && Number.isInteger(picked.lane) && picked.lane >= 0 && picked.lane <= 99) {
    picked.lane = String(picked.lane).padStart(2, '0');
  }
  for (const k of ['fromMs', 'toMs']) {
    if (typeof picked[k] === 'string') {
      const ms = Date.parse(picked[k] as string);
      if (!Number.isNaN(ms)) picked[k] = ms;
    }
  }
  picked.archivePrefix ??= '';
  return { ...(picked as unknown as ReplayInput), stateBucket: config.stateBucket, statePrefix: config.statePrefix };
}
