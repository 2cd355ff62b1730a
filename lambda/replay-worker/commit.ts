/**
 * Committing: after a segment is sent, the lane's state advances in lane
 * order: a done marker for every object read to its end whose records are all
 * written, a checkpoint (count of leading selected records written) for the
 * object still being read. After a failure, the objects before the failed
 * record's object are done, that object checkpoints its written prefix, and
 * the lane stops.
 */
import type { FailedEntry } from '../shared/put-records-packer';
import type { ReplayIo } from './options';
import type { ProgressCounts, ReplayError, Stop } from './result';
import type { Pending } from './segment';
import { doneMarkerKey, type DoneMarker, type OpenObject, type ProgressCheckpoint, type StateLocation } from './state';

export interface CommitContext extends StateLocation {
  readonly io: ReplayIo;
  readonly lane: string;
  readonly now: () => number;
  readonly progress: ProgressCounts;
  /** Told of each object whose done marker is written. */
  readonly completed: (objectKey: string) => void;
  /** Failed records detailed in the error. */
  readonly maxReportedFailures: number;
}

/** The open objects, in lane order (only the last may be unread), and their commits. */
export class Committer {
  private open: OpenObject[] = [];

  constructor(private readonly ctx: CommitContext) {}

  /** An object the lane starts reading. */
  public opened(o: OpenObject): void {
    this.open.push(o);
  }

  /** After a segment written whole: objects read to their end are done, the one being read checkpoints. */
  public async segmentWritten(): Promise<void> {
    const reading: OpenObject[] = [];
    for (const o of this.open) {
      if (o.readAll) {
        await this.markDone(o);
      } else {
        if (o.wroteInSegment > 0) await this.writeCheckpoint(o);
        o.wroteInSegment = 0;
        reading.push(o);
      }
    }
    this.open = reading;
  }

  /** After a segment with failed records: commits what precedes the first and stops the lane with the failures. */
  public async segmentFailed(sent: readonly Pending[], failed: readonly FailedEntry[]): Promise<Stop> {
    const failedObject = sent[failed[0].index].object;
    for (const o of this.open) {
      if (o === failedObject) break;
      await this.markDone(o);
    }
    if (failedObject.wroteInSegment > 0) await this.writeCheckpoint(failedObject);
    this.open = [];
    return { error: recordsFailed(sent, failed, failedObject, this.ctx.maxReportedFailures) };
  }

  private writeCheckpoint(o: OpenObject): Promise<void> {
    const { replayId, fingerprint, now, io, stateBucket } = this.ctx;
    const doc: ProgressCheckpoint = { replayId, objectKey: o.key, fingerprint, ...o.counts, updatedAt: new Date(now()).toISOString() };
    return io.putState(stateBucket, o.stateKey, JSON.stringify(doc));
  }

  private async markDone(o: OpenObject): Promise<void> {
    const { replayId, fingerprint, lane, now, io, stateBucket, statePrefix, progress } = this.ctx;
    // Lines after the object's last selected record.
    o.counts.filtered += o.trailingFiltered;
    o.counts.outsideWindow += o.trailingOutside;
    progress.recordsFiltered += o.trailingFiltered;
    progress.recordsOutsideWindow += o.trailingOutside;
    const marker: DoneMarker = { replayId, objectKey: o.key, fingerprint, lane, ...o.counts, completedAt: new Date(now()).toISOString() };
    await io.putState(stateBucket, doneMarkerKey(statePrefix, replayId, o.key), JSON.stringify(marker));
    this.ctx.completed(o.key);
    progress.objectsDone++;
  }
}

/** The `RecordsFailed` error: how many, the first failure, where the object resumes, and the first few records. */
function recordsFailed(sent: readonly Pending[], failed: readonly FailedEntry[], failedObject: OpenObject, maxReported: number): ReplayError {
  const first = failed[0];
  return {
    code: 'RecordsFailed',
    message: `${failed.length} record(s) not written (first: ${first.errorCode}: ${first.errorMessage}); `
      + `${failedObject.key} is not marked done and resumes at selected record ${failedObject.counts.written}`,
    objectKey: failedObject.key,
    failedRecords: failed.slice(0, maxReported).map((f) => ({
      objectKey: sent[f.index].object.key,
      partitionKey: sent[f.index].entry.partitionKey,
      sequenceNumber: sent[f.index].sequenceNumber,
      subSequenceNumber: sent[f.index].subSequenceNumber,
      errorCode: f.errorCode,
      errorMessage: f.errorMessage,
    })),
  };
}
