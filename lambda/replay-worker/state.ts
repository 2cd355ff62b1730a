/**
 * The state objects a replay keeps in the state bucket (done markers and
 * progress checkpoints), and an object's state while it is replayed.
 */
import { isObject } from '../shared/unknown';
import type { ReplayIo } from './options';

/** The state says something this run must not override (a replay id reused with other parameters, a checkpoint past the object's end). */
export class ReplayStateError extends Error {
  public override readonly name = 'ReplayStateError';
}

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

/** A state object's JSON, refused when it was written under another fingerprint. */
export function parseState(body: string, what: string, key: string, fingerprint: string): Record<string, unknown> {
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

/** An object being replayed: read, or with records in the segment, and not yet committed done. */
export interface OpenObject {
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

/** Where a state object lives and whose parameters it must carry. */
export interface StateLocation {
  readonly stateBucket: string;
  readonly statePrefix: string;
  readonly replayId: string;
  readonly fingerprint: string;
}

/** Opens an object for replay, at its checkpoint when it has one. */
export async function openObject(io: ReplayIo, at: StateLocation, key: string): Promise<OpenObject> {
  const o: OpenObject = {
    key,
    stateKey: progressKey(at.statePrefix, at.replayId, key),
    counts: { written: 0, bytes: 0, filtered: 0, outsideWindow: 0, untaggedOversize: 0 },
    wroteInSegment: 0,
    readAll: false,
    trailingFiltered: 0,
    trailingOutside: 0,
  };
  const saved = await io.getState(at.stateBucket, o.stateKey);
  if (saved !== undefined) {
    const doc = parseState(saved, 'checkpoint', o.stateKey, at.fingerprint);
    for (const k of Object.keys(o.counts) as (keyof ObjectCounts)[]) {
      const v = doc[k];
      if (!Number.isSafeInteger(v) || (v as number) < 0) throw new ReplayStateError(`checkpoint ${o.stateKey}: ${k} must be a non-negative integer`);
      o.counts[k] = v as number;
    }
  }
  return o;
}

/** Whether the done markers found belong to this replay's parameters: one marker per invocation tells. */
export async function checkDoneMarker(io: ReplayIo, at: StateLocation, key: string): Promise<void> {
  const markerKey = doneMarkerKey(at.statePrefix, at.replayId, key);
  const body = await io.getState(at.stateBucket, markerKey);
  if (body !== undefined) parseState(body, 'done marker', markerKey, at.fingerprint);
}
