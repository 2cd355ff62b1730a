/**
 * Reading: one archive object's lines, in file order, into the segment. A
 * resumed object skips the selected records its checkpoint counts as written;
 * the segment is sent (and committed) whenever the next record does not fit.
 */
import { ArchiveLineError, decodeArchiveLine, type ArchivedRecord } from '../shared/archive-format';
import { errorMessage } from '../shared/unknown';
import type { ReplayIo } from './options';
import type { Stop } from './result';
import type { Segment } from './segment';
import type { ReplayEntry, Selection } from './select';
import { mskSourcePartition } from './topic-sink';
import { ReplayStateError, type OpenObject } from './state';

export interface ObjectReader {
  readonly io: ReplayIo;
  readonly archiveBucket: string;
  readonly select: (record: ArchivedRecord) => Selection;
  readonly toEntry: (data: Buffer, partitionKey: string) => ReplayEntry;
  readonly segment: Segment;
  /** Sends and commits the segment; a Stop ends the lane. */
  readonly flush: () => Promise<Stop | undefined>;
}

/** Non-selected lines since the last selected record: committed with the next one, or with the done marker. */
interface Gap {
  filtered: number;
  outside: number;
}

/** Reads the object into the segment, sending the segment whenever it is full. */
export async function readObject(o: OpenObject, r: ObjectReader): Promise<Stop | undefined> {
  const skip = o.counts.written;
  let line = 0;
  let selected = 0;
  const gap: Gap = { filtered: 0, outside: 0 };
  for await (const text of r.io.readLines(r.archiveBucket, o.key)) {
    line++;
    let record;
    try {
      record = decodeArchiveLine(text);
    } catch (e) {
      // What precedes the bad line goes out and is committed, so the lane stops exactly at it.
      const stop = await r.flush();
      if (stop) return stop;
      throw new ArchiveLineError(`${o.key} line ${line}: ${errorMessage(e)}`);
    }
    // Lines before the checkpoint's last record were counted by the run that wrote it.
    const counting = selected >= skip;
    const selection = r.select(record);
    if (selection.skipped !== undefined) {
      if (counting) gap[selection.skipped]++;
      continue;
    }
    selected++;
    if (selected <= skip) continue;
    const stop = await addToSegment(o, record, selection.data, gap, r);
    if (stop) return stop;
  }
  if (selected < skip) {
    throw new ReplayStateError(`checkpoint ${o.stateKey} says ${skip} records were written, but ${o.key} has only ${selected} selected records`);
  }
  o.trailingFiltered = gap.filtered;
  o.trailingOutside = gap.outside;
  o.readAll = true;
  return undefined;
}

const mskSource = (record: ArchivedRecord): { sourcePartition?: number } => {
  const p = mskSourcePartition(record);
  return p === undefined ? {} : { sourcePartition: p };
};

/** Adds a selected record to the segment, sending the segment first when the record does not fit. */
async function addToSegment(o: OpenObject, record: ArchivedRecord, data: Buffer, gap: Gap, r: ObjectReader): Promise<Stop | undefined> {
  const { entry, untagged } = r.toEntry(data, record.partition_key);
  const slot = r.segment.slotFor(entry);
  if (slot.full) {
    const stop = await r.flush();
    if (stop) return stop;
  }
  r.segment.add(slot, {
    object: o,
    entry,
    payloadBytes: data.byteLength,
    sequenceNumber: record.sequence_number,
    subSequenceNumber: record.sub_sequence_number,
    untagged,
    ...mskSource(record),
    filteredBefore: gap.filtered,
    outsideBefore: gap.outside,
  });
  gap.filtered = 0;
  gap.outside = 0;
  return undefined;
}
