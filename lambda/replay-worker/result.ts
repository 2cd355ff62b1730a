/**
 * What an invocation answers: its progress counts, and the error that
 * stopped it, if any.
 */
import { ArchiveLineError } from '../shared/archive-format';
import { errorName } from '../shared/unknown';

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

/** The counts as the steps add to them. */
export type ProgressCounts = { -readonly [K in keyof ReplayProgress]: number };

export const newProgress = (): ProgressCounts => ({
  objectsListed: 0, objectsDone: 0, objectsSkipped: 0, objectsRemaining: 0,
  recordsReplayed: 0, bytesReplayed: 0, recordsFiltered: 0, recordsOutsideWindow: 0, untaggedOversize: 0,
  throttles: 0, failed: 0, putCalls: 0, rateLimitedMs: 0,
});

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

/** Why the lane stops early: out of time (nothing lost, resume), or an error. */
export type Stop = { readonly stopped: true; readonly error?: undefined } | { readonly stopped?: undefined; readonly error: ReplayError };

/** Our own error classes by class name (ArchiveLineError sets no name), anything else by its name. */
export const errorCode = (e: unknown): string => (e instanceof ArchiveLineError ? 'ArchiveLineError' : errorName(e));
