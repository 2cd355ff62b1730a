/**
 * Replay worker: re-puts one LANE of the raw archive's time window into a
 * Kinesis stream, or produces it into an MSK topic (topic-sink.ts). Pure: every read and write is an injected function
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
 * THE STEPS, one file each: input.ts validates the input and compiles the
 * filter and fingerprint; list-lane.ts lists the lane's objects in replay
 * order and keeps the cursor; read-object.ts reads an object's lines,
 * select.ts picks the records and makes their entries, segment.ts gathers
 * them into segments; send-segment.ts sends a segment, rate limited (or
 * topic-sink.ts, one partition per send, for a topic target);
 * commit.ts writes done markers and checkpoints (state.ts: their format).
 * This file wires the steps together, in the order they run.
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
import { realSleep } from '../shared/retry';
import { TokenBucketRateLimiter } from '../shared/rate-limiter';
import { errorMessage } from '../shared/unknown';
import { Committer } from './commit';
import { compile, type Compiled, type ReplayInput } from './input';
import { LaneObjects, listLane } from './list-lane';
import type { ReplayIo, ReplayOptions } from './options';
import { readObject, type ObjectReader } from './read-object';
import { errorCode, newProgress, type ProgressCounts, type ReplayError, type ReplayResult, type Stop } from './result';
import { callLimits, Segment, segmentBudget, type Pending } from './segment';
import { entryMaker, recordSelector } from './select';
import { rateLimitedSend, sendSegment, type Sender } from './send-segment';
import { checkDoneMarker, openObject, type StateLocation } from './state';
import { sendSegmentToTopic, TOPIC_SEND_BYTES, type TopicSender, type TopicSink } from './topic-sink';
import type { FailedEntry, PutRecordsLimits } from '../shared/put-records-packer';

// The worker's public surface, one import for index.ts, the planner and the tests.
export { ReplayInputError, type FilterValue, type ReplayFilter, type ReplayInput, type ReplayRate, type ReplayTagging } from './input';
export type { ReplayIo, ReplayOptions, SegmentOptions } from './options';
export type { FailedRecordReport, ReplayError, ReplayProgress, ReplayResult } from './result';
export {
  doneMarkerKey,
  progressKey,
  ReplayStateError,
  type DoneMarker,
  type ObjectCounts,
  type ProgressCheckpoint,
} from './state';
export { splitLines } from './split-lines';
export { EMF_NAMESPACE, replayEmf } from './metrics';
export { parseWorkerConfig, toReplayInput, type ReplayWorkerConfig } from './event';
export { parseTopicArn, TOPIC_ARN } from './input';
export { classifyTopicError, mskSourcePartition, topicPartitionOf, TOPIC_SEND_BYTES, type TopicMessage, type TopicSink } from './topic-sink';

/** One invocation on a lane: its steps wired together, and what they count. */
interface Lane {
  /** Empty until listed (and if listing fails). */
  objects: LaneObjects;
  readonly progress: ProgressCounts;
  readonly limiter: TokenBucketRateLimiter;
  readonly state: StateLocation;
  readonly outOfTime: () => boolean;
  readonly committer: Committer;
  readonly reader: ObjectReader;
}

function prepareLane(input: ReplayInput, compiled: Compiled, io: ReplayIo, options: ReplayOptions): Lane {
  const stopMarginMs = options.stopMarginMs ?? 60_000;
  const outOfTime = (): boolean => options.remainingTimeMs() < stopMarginMs;
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? realSleep;
  const burstSeconds = options.burstSeconds ?? 1;
  const limits = callLimits(input.rate, options, burstSeconds);
  const limiter = new TokenBucketRateLimiter({ ...input.rate, burstSeconds, now, sleep });
  const progress = newProgress();
  const state: StateLocation = { stateBucket: input.stateBucket, statePrefix: input.statePrefix, replayId: input.replayId, fingerprint: compiled.fingerprint };
  const send = segmentSender(input, io, options, { limiter, progress, limits, sleep });
  const segment = new Segment(segmentBudget(input.rate, options, stopMarginMs, limits));
  const lane: Lane = {
    objects: new LaneObjects(input.cursor),
    progress,
    limiter,
    state,
    outOfTime,
    committer: new Committer({
      ...state, io, lane: input.lane, now, progress,
      completed: (key) => lane.objects.markCompleted(key),
      maxReportedFailures: options.maxReportedFailures ?? 10,
    }),
    reader: {
      io,
      archiveBucket: input.archiveBucket,
      select: recordSelector(compiled, input.fromMs, input.toMs),
      // A topic carries the tag as a record header (topic-sink.ts), never a KPL wrapper.
      toEntry: entryMaker(input.targetTopic !== undefined ? 'none' : input.tagging, input.replayId, limits),
      segment,
      // Sends the segment, then commits in lane order; a failure commits what precedes it and stops the lane.
      flush: async () => {
        if (segment.length > 0) {
          if (outOfTime()) return { stopped: true };
          const sent = segment.take();
          const failed = await send(sent);
          if (failed.length > 0) return lane.committer.segmentFailed(sent, failed);
        }
        await lane.committer.segmentWritten();
        return undefined;
      },
    },
  };
  return lane;
}

/** The sink of the lane's target: PutRecords into a stream, or an idempotent producer on an MSK topic. */
function segmentSender(input: ReplayInput, io: ReplayIo, options: ReplayOptions,
  lane: { limiter: TokenBucketRateLimiter; progress: ProgressCounts; limits: PutRecordsLimits; sleep: (ms: number) => Promise<void> }): (sent: readonly Pending[]) => Promise<FailedEntry[]> {
  const { limiter, progress, limits, sleep } = lane;
  const topicArn = input.targetTopic;
  if (topicArn === undefined) {
    const sender: Sender = { send: rateLimitedSend(io, limiter, progress), targetStream: input.targetStream!, put: options.put, limits, sleep };
    return (sent) => sendSegment(sent, sender, progress);
  }
  const openTopic = io.openTopic;
  if (!openTopic) throw new Error('replay-worker: targetTopic needs an I/O with openTopic');
  // Opened on the first send, so an invocation with nothing to send never connects.
  let sink: Promise<TopicSink> | undefined;
  const sender: TopicSender = {
    open: () => (sink ??= openTopic(topicArn)),
    limiter,
    limits: { maxRecords: limits.maxRecordsPerCall, maxBytes: Math.min(TOPIC_SEND_BYTES, limits.maxBytesPerCall) },
    headers: input.tagging === 'kpl-tag' ? { replay_id: input.replayId } : undefined,
    maxAttempts: options.put?.maxAttempts,
    baseDelayMs: options.put?.baseDelayMs,
    maxDelayMs: options.put?.maxDelayMs,
    random: options.put?.random,
    sleep,
  };
  return (sent) => sendSegmentToTopic(sent, sender, progress);
}

/** Replays one lane of [fromMs, toMs) until done, out of time, or failed. */
export async function replayLane(input: ReplayInput, io: ReplayIo, options: ReplayOptions): Promise<ReplayResult> {
  const lane = prepareLane(input, compile(input), io, options);
  const { progress, state } = lane;
  const result = (done: boolean, error?: ReplayError): ReplayResult => ({
    replayId: input.replayId,
    lane: input.lane,
    done,
    ...(lane.objects.cursor !== undefined ? { cursor: lane.objects.cursor } : {}),
    progress: { ...progress, rateLimitedMs: lane.limiter.waitedMs },
    ...(error ? { error } : {}),
  });
  const stopped = (stop?: Stop): ReplayResult => {
    lane.objects.advanceCursor();
    progress.objectsRemaining = lane.objects.remaining();
    return result(false, stop?.error);
  };
  let current: string | undefined;
  try {
    const objects = lane.objects = await listLane(input, io, options.listConcurrency ?? 8);
    progress.objectsListed = objects.keys.length;
    let fingerprintChecked = false;
    for (const key of objects.keys) {
      current = key;
      if (objects.isDone(key)) {
        // One marker per invocation tells whether these markers belong to this replay's parameters.
        if (!fingerprintChecked) {
          await checkDoneMarker(io, state, key);
          fingerprintChecked = true;
        }
        progress.objectsSkipped++;
        objects.advanceCursor();
        continue;
      }
      // Out of time: what the segment holds was never sent, so dropping it keeps the committed state exact.
      if (lane.outOfTime()) return stopped();
      const o = await openObject(io, state, key);
      lane.committer.opened(o);
      const stop = await readObject(o, lane.reader);
      if (stop) return stopped(stop);
      objects.advanceCursor();
    }
    const stop = await lane.reader.flush();
    if (stop) return stopped(stop);
    objects.advanceCursor();
    return result(true);
  } catch (e) {
    // Everything committed so far stays committed (checkpoints, markers); a rerun resumes from there.
    return stopped({ error: { code: errorCode(e), message: errorMessage(e), ...(current !== undefined ? { objectKey: current } : {}) } });
  }
}
