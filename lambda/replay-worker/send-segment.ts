/**
 * Sending: a segment goes out through putAllRecords, `ordered` (a resend never
 * lets a later record of its key overtake it), every call paced by the lane's
 * token bucket; what was written is credited to the invocation's progress and
 * to each record's object.
 */
import { entryBytes, putAllRecords, type FailedEntry, type PutRecordsLimits, type PutRecordsSend } from '../shared/put-records-packer';
import type { TokenBucketRateLimiter } from '../shared/rate-limiter';
import { errorName } from '../shared/unknown';
import type { ReplayIo, ReplayOptions } from './options';
import type { ProgressCounts } from './result';
import type { Pending } from './segment';

const THROTTLED = 'ProvisionedThroughputExceededException';

/**
 * PutRecords after acquiring the call's records and bytes (data + partition key, what the shard counts) from the
 * rate limiter, resends included: they load the shard the same. Counts calls and throttled entries.
 */
export function rateLimitedSend(io: ReplayIo, limiter: TokenBucketRateLimiter, progress: ProgressCounts): PutRecordsSend {
  return async (request) => {
    const bytes = request.Records.reduce((sum, r) => sum + entryBytes({ data: r.Data, partitionKey: r.PartitionKey }), 0);
    await limiter.acquire(request.Records.length, bytes);
    progress.putCalls++;
    try {
      const out = await io.putRecords(request);
      for (const r of out?.Records ?? []) if (r?.ErrorCode === THROTTLED) progress.throttles++;
      return out;
    } catch (e) {
      if (errorName(e) === THROTTLED) progress.throttles += request.Records.length;
      throw e;
    }
  };
}

export interface Sender {
  readonly send: PutRecordsSend;
  readonly targetStream: string;
  readonly put: ReplayOptions['put'];
  readonly limits: PutRecordsLimits;
  readonly sleep: (ms: number) => Promise<void>;
}

/** Sends the segment's records in order and credits those written; returns the entries not written, in order. */
export async function sendSegment(sent: readonly Pending[], sender: Sender, progress: ProgressCounts): Promise<FailedEntry[]> {
  const out = await putAllRecords(sender.send, sender.targetStream, sent.map((s) => s.entry), {
    ...sender.put,
    limits: sender.limits,
    ordered: true,
    sleep: sender.sleep,
  });
  creditWritten(sent, out.failed, progress);
  return out.failed;
}

/**
 * Every written record counts in the progress. Its object's committed counts take only the records before the
 * first failed one (`failed` in input order): every entry before it is written (the Kinesis sink is ordered, the
 * topic sink credits only what it wrote), and the checkpoint is a count of leading records. `untaggedAt`: entries
 * the topic sink wrote without their replay header (too large with it).
 */
export function creditWritten(sent: readonly Pending[], failed: readonly FailedEntry[], progress: ProgressCounts, untaggedAt: ReadonlySet<number> = new Set()): void {
  const firstFailed = failed.length > 0 ? failed[0].index : sent.length;
  const failedAt = new Set(failed.map((f) => f.index));
  const untagged = (s: Pending, i: number): boolean => s.untagged || untaggedAt.has(i);
  sent.forEach((s, i) => {
    if (failedAt.has(i)) return;
    progress.recordsReplayed++;
    progress.bytesReplayed += s.payloadBytes;
    if (untagged(s, i)) progress.untaggedOversize++;
  });
  progress.failed += failed.length;
  sent.slice(0, firstFailed).forEach((s, i) => {
    const c = s.object.counts;
    c.written++;
    c.bytes += s.payloadBytes;
    c.filtered += s.filteredBefore;
    c.outsideWindow += s.outsideBefore;
    if (untagged(s, i)) c.untaggedOversize++;
    s.object.wroteInSegment++;
    progress.recordsFiltered += s.filteredBefore;
    progress.recordsOutsideWindow += s.outsideBefore;
  });
}
