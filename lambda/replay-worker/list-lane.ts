/**
 * Listing: the lane's archive objects in the window, in replay order, with
 * what is already done, and the cursor over them.
 *
 * Objects sort in time order across hours and days too (zero-padded dt/hour,
 * archiveObjectOrder), so one cursor covers the lane. Objects of one creation
 * group (same second, same version) cannot be ordered by name: they are
 * ordered by their first record's arrival, then sequence number.
 */
import { archiveCreationGroup, archiveObjectOrder, decodeArchiveLine, hourPrefixes } from '../shared/archive-format';
import { mapWithConcurrency } from '../shared/concurrency';
import type { ReplayInput } from './input';
import type { ReplayIo } from './options';
import { doneMarkerKey } from './state';

/** A run of objects of one creation group, and the group's greatest key by name order. */
interface Group {
  readonly size: number;
  readonly cursor: string;
}

interface Listing {
  readonly keys: readonly string[];
  readonly groups: readonly Group[];
  /** Whether the object's done marker was listed. */
  readonly marked: (objectKey: string) => boolean;
}

type FirstRecord = { readonly t: number; readonly seq: bigint } | undefined;

/** The lane's objects in replay order, which of them are done, and the cursor over them. */
export class LaneObjects {
  public readonly keys: readonly string[];
  private readonly marked: (objectKey: string) => boolean;
  private readonly completed = new Set<string>();
  // Per object: the index of the last object of its creation group, and the group's greatest key by name order.
  private readonly groupEnd: number[] = [];
  private readonly groupCursor: string[] = [];
  private settled = 0;

  /** Without a listing: none yet, or listing failed. */
  constructor(private cursorKey: string | undefined, listing: Listing = { keys: [], groups: [], marked: () => false }) {
    this.keys = listing.keys;
    this.marked = listing.marked;
    for (const { size, cursor } of listing.groups) {
      const end = this.groupEnd.length + size - 1;
      for (let n = 0; n < size; n++) {
        this.groupEnd.push(end);
        this.groupCursor.push(cursor);
      }
    }
  }

  /** The last object key such that it and every object before it is done. */
  public get cursor(): string | undefined {
    return this.cursorKey;
  }

  public isDone(key: string): boolean {
    return this.completed.has(key) || this.marked(key);
  }

  /** Its done marker is written. */
  public markCompleted(key: string): void {
    this.completed.add(key);
  }

  /** Objects not yet done. */
  public remaining(): number {
    return this.keys.filter((k) => !this.isDone(k)).length;
  }

  /**
   * Moves the cursor past whole creation groups only, each done with every object before it. A group is ordered by
   * content, not by name, so a cursor inside one could skip a member that sorts before it by name.
   */
  public advanceCursor(): void {
    while (this.settled < this.keys.length) {
      const end = this.groupEnd[this.settled];
      for (let j = this.settled; j <= end; j++) if (!this.isDone(this.keys[j])) return;
      this.cursorKey = this.groupCursor[this.settled];
      this.settled = end + 1;
    }
  }
}

/** The lane's hour prefixes in the window, from the cursor's hour on. */
function lanePrefixes(input: Pick<ReplayInput, 'archivePrefix' | 'lane' | 'fromMs' | 'toMs' | 'cursor'>): string[] {
  const { cursor } = input;
  return hourPrefixes(input.fromMs, input.toMs)
    .map((h) => `${input.archivePrefix}${h}bucket=${input.lane}/`)
    .filter((prefix) => cursor === undefined || !(prefix < cursor && !cursor.startsWith(prefix)));
}

/** Lists the lane's objects after the cursor and their done markers, and puts them in replay order. */
export async function listLane(input: ReplayInput, io: ReplayIo, listConcurrency: number): Promise<LaneObjects> {
  const { archiveBucket, stateBucket, statePrefix, replayId } = input;
  const doneKey = (key: string): string => doneMarkerKey(statePrefix, replayId, key);
  const listed = await mapWithConcurrency(lanePrefixes(input), listConcurrency, async (prefix) => {
    const [keys, done] = await Promise.all([
      io.listKeys(archiveBucket, prefix),
      io.listKeys(stateBucket, doneKey(prefix)),
    ]);
    return { keys: keys.filter((k) => k.startsWith(prefix) && !k.endsWith('/')), done };
  });
  const doneMarkers = new Set(listed.flatMap((l) => l.done));
  const after = input.cursor === undefined ? undefined : archiveObjectOrder(input.cursor);
  const marked = (key: string): boolean => doneMarkers.has(doneKey(key));
  const ordering = { after, isDone: marked, firstRecord: (key: string) => firstRecord(io, archiveBucket, key) };
  // One prefix at a time: a creation group's first-record reads hold an object each in memory.
  const ordered: { keys: string[]; groups: Group[] }[] = [];
  for (const l of listed) ordered.push(await inReplayOrder(l.keys, ordering));
  return new LaneObjects(input.cursor, { keys: ordered.flatMap((l) => l.keys), groups: ordered.flatMap((l) => l.groups), marked });
}

interface Ordering {
  /** archiveObjectOrder of the cursor: objects up to it are left out. */
  readonly after: string | undefined;
  readonly isDone: (key: string) => boolean;
  readonly firstRecord: (key: string) => Promise<FirstRecord>;
}

/**
 * A prefix's objects in replay order: archiveObjectOrder, and within a creation group (same second, same
 * version) by their first record's arrival, then sequence number: one extra read per such object not yet done, which only
 * a lane flushing more than once a second has.
 */
async function inReplayOrder(keys: string[], ordering: Ordering): Promise<{ keys: string[]; groups: Group[] }> {
  const { after, isDone } = ordering;
  const sorted = keys
    .map((k) => ({ k, order: archiveObjectOrder(k), group: archiveCreationGroup(k) }))
    .filter(({ order }) => after === undefined || order > after)
    .sort((a, b) => (a.order < b.order ? -1 : a.order > b.order ? 1 : 0));
  const out: string[] = [];
  const groups: Group[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i + 1;
    while (j < sorted.length && sorted[j].group === sorted[i].group) j++;
    const members = sorted.slice(i, j).map((m) => m.k);
    // Only the members still to replay need ordering; done ones go first and are skipped.
    const pending = members.filter((k) => !isDone(k));
    if (pending.length > 1) {
      out.push(...members.filter((k) => isDone(k)), ...await byFirstRecord(pending, ordering.firstRecord));
    } else {
      out.push(...members);
    }
    groups.push({ size: members.length, cursor: members[members.length - 1] });
    i = j;
  }
  return { keys: out, groups };
}

/** Keys by their first record's arrival, then sequence number; empty or unreadable ones last. */
async function byFirstRecord(keys: readonly string[], read: (key: string) => Promise<FirstRecord>): Promise<string[]> {
  const ranked: { k: string; first: FirstRecord }[] = [];
  for (const k of keys) ranked.push({ k, first: await read(k) });
  ranked.sort((a, b) => {
    if (a.first === undefined || b.first === undefined) return a.first === b.first ? 0 : a.first === undefined ? 1 : -1;
    return a.first.t - b.first.t || (a.first.seq < b.first.seq ? -1 : a.first.seq > b.first.seq ? 1 : 0);
  });
  return ranked.map((m) => m.k);
}

/** The first record's arrival and sequence number; undefined when the object is empty or its first line unreadable (it fails when replayed). */
async function firstRecord(io: ReplayIo, bucket: string, key: string): Promise<FirstRecord> {
  for await (const text of io.readLines(bucket, key)) {
    try {
      const r = decodeArchiveLine(text);
      return { t: r.approximate_arrival_timestamp, seq: BigInt(r.sequence_number) };
    } catch {
      return undefined;
    }
  }
  return undefined;
}
