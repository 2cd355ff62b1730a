import { DEFAULT_PUT_RECORDS_LIMITS } from '../../lambda/shared/put-records-packer';
import { Segment, type Pending } from '../../lambda/replay-worker/segment';

/** A segment holds at most `maxPerKey` records of one key; after it is sent, the key starts again from zero. */
const budget = { maxRecords: 1000, maxBytes: 50 * 1024 * 1024, maxPerKey: 5, limits: DEFAULT_PUT_RECORDS_LIMITS };
const pending = (partitionKey: string): Pending => ({
  object: {} as Pending['object'], entry: { partitionKey, data: Buffer.from('x') }, payloadBytes: 1,
  sequenceNumber: '1', subSequenceNumber: 0, untagged: false, filteredBefore: 0, outsideBefore: 0,
});

/** The read loop's protocol (read-object.ts addToSegment): measure, send when full, then add. */
function segmentSizes(keys: string[]): number[] {
  const segment = new Segment(budget);
  const sent: number[] = [];
  for (const key of keys) {
    const slot = segment.slotFor(pending(key).entry);
    if (slot.full) sent.push(segment.take().length);
    segment.add(slot, pending(key));
  }
  sent.push(segment.take().length);
  return sent;
}

test('a hot key fills whole segments of maxPerKey records, not one-record segments after the first', () => {
  expect(segmentSizes(Array.from({ length: 20 }, () => 'hot'))).toEqual([5, 5, 5, 5]);
});

test('other keys still share the segment with a key at its cap', () => {
  expect(segmentSizes(['a', 'a', 'a', 'a', 'a', 'b', 'a', 'b'])).toEqual([6, 2]);
});
