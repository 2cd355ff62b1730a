/**
 * lambda/shared/kpl-encode.ts against INDEPENDENT decoders: protobufjs with
 * the KPL's published messages.proto (also as a reference encoder, byte for
 * byte), aws-kinesis-agg (the npm de-aggregator, checksums verified), and our
 * own decoder lambda/shared/kpl.ts.
 */
import { createHash } from 'node:crypto';
import { deaggregate, isAggregated } from '../../lambda/shared/kpl';
import {
  encodeKplAggregate,
  encodeTaggedRecord,
  KPL_FRAMING_BYTES,
  kplAggregateSize,
  taggedRecordSize,
  type KplUserRecordInput,
} from '../../lambda/shared/kpl-encode';
import { prng } from '../../bench/prng';
import { AggregatedRecord, deaggregateWithAwsKinesisAgg, MAGIC, type PbAggregate } from '../support/kpl-reference';

/** An aggregate as protobufjs reads ours back (defaults: false, arrays: true), or as the model gives it. */
type Aggregate = Required<PbAggregate>;

/** Splits an aggregate into magic / message / digest, checking the framing. */
function unframe(bytes: Buffer): Buffer {
  expect(bytes.subarray(0, 4)).toEqual(MAGIC);
  const message = bytes.subarray(4, bytes.length - 16);
  expect(bytes.subarray(bytes.length - 16)).toEqual(createHash('md5').update(message).digest());
  return message;
}

/** protobufjs's view of an aggregate we encoded. */
function decodeWithProtobufjs(bytes: Buffer): Aggregate {
  const decoded = AggregatedRecord.toObject(AggregatedRecord.decode(unframe(bytes)), { longs: Number, bytes: Buffer, arrays: true, defaults: false });
  return decoded as Aggregate;
}

/** The model the KPL format gives for our input: tables in first-appearance order. */
function model(records: readonly KplUserRecordInput[]): Aggregate {
  const pks: string[] = [];
  const ehks: string[] = [];
  const at = (table: string[], v: string): number => (table.includes(v) ? table.indexOf(v) : table.push(v) - 1);
  const out = records.map((r) => ({
    partition_key_index: at(pks, r.partitionKey),
    ...(r.explicitHashKey !== undefined ? { explicit_hash_key_index: at(ehks, r.explicitHashKey) } : {}),
    data: Buffer.from(r.data),
    tags: (r.tags ?? []).map((t) => ({ key: t.key, ...(t.value !== undefined ? { value: t.value } : {}) })),
  }));
  return { partition_key_table: pks, explicit_hash_key_table: ehks, records: out };
}

const randomRecords = (rand: () => number, n: number, withEhk: boolean): KplUserRecordInput[] => {
  const keys = Array.from({ length: 1 + Math.floor(rand() * 4) }, (_, i) => `tenant-${i}-ü€😀`);
  return Array.from({ length: n }, (_, i) => ({
    partitionKey: keys[Math.floor(rand() * keys.length)],
    ...(withEhk ? { explicitHashKey: String(Math.floor(rand() * 3) * 1_000_003) } : {}),
    data: Buffer.from(Array.from({ length: Math.floor(rand() * 300) }, () => Math.floor(rand() * 256))),
    ...(rand() < 0.5 ? { tags: [{ key: 'replay_id', value: `r-${i}` }, ...(rand() < 0.5 ? [{ key: 'flag' }] : [])] } : {}),
  }));
};

describe('encodeTaggedRecord (the replay wrapper)', () => {
  const payload = Buffer.from('{"event_id":"evt-1","amount":12.5,"note":"line\\nbreak ü"}');

  test('protobufjs reads one record under the same key, the exact bytes, and the replay_id tag', () => {
    const bytes = encodeTaggedRecord(payload, 'user-42', [{ key: 'replay_id', value: 'replay-2024-06-01' }]);
    expect(isAggregated(bytes)).toBe(true);
    expect(decodeWithProtobufjs(bytes)).toEqual({
      partition_key_table: ['user-42'],
      explicit_hash_key_table: [],
      records: [{ partition_key_index: 0, data: payload, tags: [{ key: 'replay_id', value: 'replay-2024-06-01' }] }],
    });
  });

  test('aws-kinesis-agg (checksum verified) de-aggregates it to the exact payload and partition key', () => {
    const bytes = encodeTaggedRecord(payload, 'user-42', [{ key: 'replay_id', value: 'r1' }]);
    const theirs = deaggregateWithAwsKinesisAgg(bytes, 'user-42');
    expect(theirs.error).toBeUndefined();
    expect(theirs.records).toHaveLength(1);
    expect(theirs.records[0].partitionKey).toBe('user-42');
    expect(Buffer.from(theirs.records[0].data, 'base64')).toEqual(payload);
  });

  test('our decoder (lambda/shared/kpl.ts) de-aggregates it to the exact payload and partition key', () => {
    const bytes = encodeTaggedRecord(payload, 'user-42', [{ key: 'replay_id', value: 'r1' }]);
    const ours = deaggregate(bytes, 'user-42');
    expect(ours.aggregated).toBe(true);
    expect(ours.records.map((r) => [r.partitionKey, r.explicitHashKey, Buffer.from(r.data).toString('hex'), r.subSequenceNumber]))
      .toEqual([['user-42', undefined, payload.toString('hex'), 0]]);
  });

  test('binary, empty and KPL-looking payloads come back byte for byte from all three decoders', () => {
    const inner = encodeTaggedRecord(Buffer.from('nested'), 'k', []); // a payload that is itself an aggregate
    for (const data of [Buffer.alloc(0), Buffer.from([0, 255, 0xf3, 0x89, 0x9a, 0xc2, 10, 13]), inner, Buffer.alloc(70_000, 0xab)]) {
      const bytes = encodeTaggedRecord(data, 'κλειδί', [{ key: 'replay_id', value: 'ρ' }]);
      expect(decodeWithProtobufjs(bytes).records[0].data).toEqual(data);
      expect(Buffer.from(deaggregateWithAwsKinesisAgg(bytes, 'κλειδί').records[0].data, 'base64')).toEqual(data);
      expect(Buffer.from(deaggregate(bytes, 'κλειδί').records[0].data)).toEqual(data);
    }
  });

  test('taggedRecordSize is the exact encoded size, across varint length boundaries', () => {
    const tags = [{ key: 'replay_id', value: 'replay-ü-2024' }];
    for (const n of [0, 1, 100, 127, 128, 129, 16_300, 16_383, 16_384, 16_400, 2_097_151, 2_097_152]) {
      for (const pk of ['k', 'p'.repeat(256), '😀'.repeat(64)]) {
        const bytes = encodeTaggedRecord(Buffer.alloc(n, 1), pk, tags);
        expect(taggedRecordSize(n, pk, tags)).toBe(bytes.length);
        expect(kplAggregateSize([{ data: Buffer.alloc(n), partitionKey: pk, tags }])).toBe(bytes.length);
      }
    }
  });

  test('the wrapper overhead for a 1 MiB budget: 20 bytes of framing + key + tag + a few length bytes', () => {
    const overhead = taggedRecordSize(1_000_000, 'user-42', [{ key: 'replay_id', value: 'r-0001' }]) - 1_000_000;
    // framing 20; key table 1+1+7; record 1+3; index 2; data 1+3; tag 1+1 + (1+1+9) + (1+1+6)
    expect(overhead).toBe(KPL_FRAMING_BYTES + 9 + 4 + 2 + 4 + 2 + 11 + 8);
  });
});

describe('encodeKplAggregate', () => {
  test('byte-identical to protobufjs encoding the same AggregatedRecord (random aggregates, with and without EHKs and tags)', () => {
    const rand = prng(0x6b706c);
    for (let n = 0; n < 200; n++) {
      const records = randomRecords(rand, 1 + Math.floor(rand() * 40), n % 2 === 0);
      const ours = encodeKplAggregate(records);
      const reference = Buffer.from(AggregatedRecord.encode(model(records)).finish());
      expect(unframe(ours).toString('hex')).toBe(reference.toString('hex'));
      expect(ours.length).toBe(kplAggregateSize(records));
    }
  });

  test('all three decoders return the input records, in order, with de-duplicated key tables', () => {
    const rand = prng(7);
    const records = randomRecords(rand, 60, true);
    const bytes = encodeKplAggregate(records);
    const pb = decodeWithProtobufjs(bytes);
    expect(pb.partition_key_table.length).toBe(new Set(records.map((r) => r.partitionKey)).size);
    expect(pb).toEqual(model(records));

    const ours = deaggregate(bytes, 'outer').records;
    expect(ours.map((r) => [r.partitionKey, r.explicitHashKey, Buffer.from(r.data).toString('hex')]))
      .toEqual(records.map((r) => [r.partitionKey, r.explicitHashKey, Buffer.from(r.data).toString('hex')]));

    const theirs = deaggregateWithAwsKinesisAgg(bytes, 'outer');
    expect(theirs.error).toBeUndefined();
    expect(theirs.records.map((r) => [r.partitionKey, Buffer.from(r.data, 'base64').toString('hex')]))
      .toEqual(records.map((r) => [r.partitionKey, Buffer.from(r.data).toString('hex')]));
  });

  test('refuses an empty aggregate (it would de-aggregate to nothing) and malformed records', () => {
    expect(() => encodeKplAggregate([])).toThrow(/at least one record/);
    expect(() => encodeKplAggregate([{ data: 'x' as unknown as Uint8Array, partitionKey: 'k' }])).toThrow(/Uint8Array/);
    expect(() => encodeKplAggregate([{ data: Buffer.from('x'), partitionKey: undefined as unknown as string }])).toThrow(/partition key/);
  });
});
