/**
 * Segmenting: the unit the lane sends and commits. A segment holds the lane's
 * next selected records in lane order, across object boundaries (an object's
 * last records share calls with the next object's first, so only the lane's
 * last call is part full), within a budget of records, bytes, records of one
 * key and seconds of the lane's rate, and it ends where a call ends.
 */
import { DEFAULT_PUT_RECORDS_LIMITS, entryBytes, type PutRecordsEntry, type PutRecordsLimits } from '../shared/put-records-packer';
import type { ReplayRate } from './input';
import type { ReplayOptions } from './options';
import type { OpenObject } from './state';

const MiB = 1024 * 1024;

/** What one segment may hold, and the calls it is sent in. */
export interface SegmentBudget {
  readonly maxRecords: number;
  readonly maxBytes: number;
  readonly maxPerKey: number;
  readonly limits: PutRecordsLimits;
}

/** PutRecords call limits: at most one bucket (burstSeconds of the rate), never less than one record. */
export function callLimits(rate: ReplayRate, options: ReplayOptions, burstSeconds: number): PutRecordsLimits {
  const base: PutRecordsLimits = { ...DEFAULT_PUT_RECORDS_LIMITS, ...options.put?.limits };
  return {
    maxRecordBytes: base.maxRecordBytes,
    maxRecordsPerCall: Math.min(base.maxRecordsPerCall, Math.max(1, Math.floor(rate.recordsPerSecond * burstSeconds))),
    maxBytesPerCall: Math.min(base.maxBytesPerCall, Math.max(base.maxRecordBytes, Math.floor(rate.bytesPerSecond * burstSeconds))),
  };
}

/** The segment budget: the options' caps, and no more than `maxSeconds` of the rate, so a segment ends before the timeout. */
export function segmentBudget(rate: ReplayRate, options: ReplayOptions, stopMarginMs: number, limits: PutRecordsLimits): SegmentBudget {
  const segmentSeconds = options.segment?.maxSeconds ?? stopMarginMs / 2000;
  return {
    maxRecords: Math.max(1, Math.min(options.segment?.maxRecords ?? 10000, Math.floor(rate.recordsPerSecond * segmentSeconds))),
    maxBytes: Math.max(1, Math.min(options.segment?.maxBytes ?? 50 * MiB, Math.floor(rate.bytesPerSecond * segmentSeconds))),
    maxPerKey: Math.max(1, options.segment?.maxPerKey ?? 250),
    limits,
  };
}

/** A selected record waiting in the segment. */
export interface Pending {
  readonly object: OpenObject;
  readonly entry: PutRecordsEntry;
  readonly payloadBytes: number;
  readonly sequenceNumber: string;
  readonly subSequenceNumber: number;
  readonly untagged: boolean;
  /** The source partition of a record archived from an MSK topic (which archives no record key), for a topic target. */
  readonly sourcePartition?: number;
  /** Non-selected lines between the previous selected record and this one: committed with this record. */
  readonly filteredBefore: number;
  readonly outsideBefore: number;
}

/** Where the next entry goes, measured before the segment is (maybe) sent. */
export interface Slot {
  readonly bytes: number;
  /** The entry opens a new call. */
  readonly newCall: boolean;
  /** The segment must be sent before the entry goes in. */
  readonly full: boolean;
}

/** Selected records not yet sent, in lane order, possibly from several objects. */
export class Segment {
  private entries: Pending[] = [];
  private bytes = 0;
  // The call the segment's entries would fill last, packed in order: a segment ends where a call ends.
  private callRecords = 0;
  private callBytes = 0;
  private readonly perKey = new Map<string, number>();

  constructor(private readonly budget: SegmentBudget) {}

  public get length(): number {
    return this.entries.length;
  }

  public slotFor(entry: PutRecordsEntry): Slot {
    const { maxRecords, maxBytes, maxPerKey, limits } = this.budget;
    const bytes = entryBytes(entry);
    const ofKey = this.perKey.get(entry.partitionKey) ?? 0;
    const n = this.entries.length;
    const newCall = this.callRecords === limits.maxRecordsPerCall || (this.callRecords > 0 && this.callBytes + bytes > limits.maxBytesPerCall);
    const full = n >= maxRecords || (n > 0 && this.bytes + bytes > maxBytes) || ofKey >= maxPerKey
      || (newCall && !this.roomForFullCall(n, this.bytes));
    return { bytes, newCall, full };
  }

  /** Adds the record at the slot measured for it (a send in between has already reset the call). */
  public add(slot: Slot, record: Pending): void {
    if (slot.newCall) {
      this.callRecords = 0;
      this.callBytes = 0;
    }
    this.callRecords++;
    this.callBytes += slot.bytes;
    this.entries.push(record);
    this.bytes += slot.bytes;
    // Counted now, not from the slot: a send between measuring and adding emptied the segment.
    const key = record.entry.partitionKey;
    this.perKey.set(key, (this.perKey.get(key) ?? 0) + 1);
  }

  /** Empties the segment, returning what it held. */
  public take(): Pending[] {
    const taken = this.entries;
    this.entries = [];
    this.bytes = 0;
    this.callRecords = 0;
    this.callBytes = 0;
    this.perKey.clear();
    return taken;
  }

  /**
   * Whether a segment of `records` entries and `bytes` still has room for one more FULL call, estimated from its
   * mean entry: if not, the segment ends at the call boundary instead of sending a part-full call for the rest of
   * its budget (100 KiB records: 510 records = 10 full calls, not 511 = 10 calls + 1 of one record).
   */
  private roomForFullCall(records: number, bytes: number): boolean {
    if (records === 0) return true;
    const { maxRecords, maxBytes, limits } = this.budget;
    const mean = bytes / records;
    const perCall = Math.min(limits.maxRecordsPerCall, Math.max(1, Math.floor(limits.maxBytesPerCall / mean)));
    return maxRecords - records >= perCall && maxBytes - bytes >= perCall * mean;
  }
}
