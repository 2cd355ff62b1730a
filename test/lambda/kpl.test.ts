/**
 * lambda/shared/kpl.ts against aggregates built by independent encoders:
 * protobufjs with the KPL's published messages.proto, and aws-kinesis-agg
 * (the npm package most Node users de-aggregate with). Nothing here is
 * encoded by the code under test.
 */
import * as kinesisAgg from 'aws-kinesis-agg';
import * as protobuf from 'protobufjs';
import { deaggregate, isAggregated, KplDecodeError, type UserRecord } from '../../lambda/shared/kpl';
import { prng } from '../../bench/prng';
import { AggregatedRecord, deaggregateWithAwsKinesisAgg, frame, MAGIC, type PbAggregate, type PbRecord } from '../support/kpl-reference';

// A hypothetical newer producer: extra fields of every skippable wire type at both levels.
const FUTURE_PROTO = `
syntax = "proto2";
message Tag { required string key = 1; optional string value = 2; }
message Nested { optional string a = 1; repeated uint64 b = 2; }
message FutureRecord {
  required uint64 partition_key_index     = 1;
  optional uint64 explicit_hash_key_index = 2;
  required bytes  data                    = 3;
  repeated Tag    tags                    = 4;
  optional fixed64 f64     = 5;
  optional fixed32 f32     = 6;
  optional sint64  big     = 7;
  optional string  note    = 8;
  optional Nested  nested  = 1000;
  optional uint32  far     = 536870911;
}
message FutureAggregatedRecord {
  optional uint64  producer_version       = 15;
  repeated string  partition_key_table     = 1;
  repeated string  explicit_hash_key_table = 2;
  repeated FutureRecord records            = 3;
  optional double  ratio                   = 4;
  optional bytes   trailer                 = 99;
  optional sfixed32 crc                    = 5;
}
`;

// Every field optional: lets protobufjs write messages that omit a required field.
const LOOSE_PROTO = `
syntax = "proto2";
message LooseRecord { optional uint64 partition_key_index = 1; optional uint64 explicit_hash_key_index = 2; optional bytes data = 3; }
message LooseAggregatedRecord { repeated string partition_key_table = 1; repeated string explicit_hash_key_table = 2; repeated LooseRecord records = 3; }
`;

const parse = (text: string): protobuf.Root => protobuf.parse(text, { keepCase: true }).root;
const FutureAggregatedRecord = parse(FUTURE_PROTO).lookupType('FutureAggregatedRecord');
const LooseAggregatedRecord = parse(LOOSE_PROTO).lookupType('LooseAggregatedRecord');

function encode(aggregate: PbAggregate): Buffer {
  return Buffer.from(AggregatedRecord.encode(aggregate).finish());
}

/** What a decoder must return for `aggregate`, derived from the model, not from any decoder. */
function expected(aggregate: PbAggregate): UserRecord[] {
  return (aggregate.records ?? []).map((r, i) => ({
    data: Buffer.from(r.data),
    partitionKey: aggregate.partition_key_table![r.partition_key_index],
    explicitHashKey: r.explicit_hash_key_index === undefined ? undefined : aggregate.explicit_hash_key_table![r.explicit_hash_key_index],
    subSequenceNumber: i,
  }));
}

/** A comparable form: Buffers become hex so a mismatch prints readably. */
const view = (records: readonly UserRecord[]) => records.map((r) => ({
  data: r.data.toString('hex'),
  partitionKey: r.partitionKey,
  explicitHashKey: r.explicitHashKey,
  subSequenceNumber: r.subSequenceNumber,
}));

function decodeError(bytes: Buffer): KplDecodeError {
  try {
    deaggregate(bytes, 'outer');
  } catch (e) {
    if (e instanceof KplDecodeError) return e;
    throw e;
  }
  throw new Error('expected a KplDecodeError, got a result');
}


const sampleAggregate = (): PbAggregate => ({
  partition_key_table: ['user-1', 'user-2'],
  explicit_hash_key_table: ['0', '340282366920938463463374607431768211455'],
  records: [
    { partition_key_index: 0, data: Buffer.from('{"event_id":"a"}') },
    { partition_key_index: 1, explicit_hash_key_index: 1, data: Buffer.from('{"event_id":"b"}') },
    { partition_key_index: 0, explicit_hash_key_index: 0, data: Buffer.from('{"event_id":"c"}') },
  ],
});

describe('ordinary records', () => {
  test('a plain JSON record comes back whole as sub-record 0 under the outer partition key', () => {
    const bytes = Buffer.from('{"event_id":"e1","amount":3}');
    const result = deaggregate(bytes, 'outer-key');
    expect(result.aggregated).toBe(false);
    expect(result.records).toHaveLength(1);
    expect(result.records[0].data).toBe(bytes);
    expect(result.records[0]).toEqual({ data: bytes, partitionKey: 'outer-key', subSequenceNumber: 0 });
    expect(result.records[0].explicitHashKey).toBeUndefined();
    expect(isAggregated(bytes)).toBe(false);
  });

  test('magic and message with a wrong MD5 is an ordinary record (as KCL treats it)', () => {
    const bytes = frame(encode(sampleAggregate()));
    bytes[bytes.length - 1] ^= 0x01;
    expect(isAggregated(bytes)).toBe(false);
    expect(deaggregate(bytes, 'outer')).toEqual({ aggregated: false, records: [{ data: bytes, partitionKey: 'outer', subSequenceNumber: 0 }] });
  });

  test('a flipped bit in the message (not the checksum) also makes it an ordinary record', () => {
    const bytes = frame(encode(sampleAggregate()));
    bytes[10] ^= 0x40;
    expect(deaggregate(bytes, 'outer').aggregated).toBe(false);
  });

  test('a valid aggregate with one wrong magic byte is an ordinary record', () => {
    for (let i = 0; i < 4; i++) {
      const bytes = frame(encode(sampleAggregate()));
      bytes[i] ^= 0x01;
      expect([i, deaggregate(bytes, 'outer').aggregated]).toEqual([i, false]);
    }
  });

  test.each([0, 1, 3, 4, 5, 19])('input of %i bytes starting with the magic is an ordinary record (too short for message + MD5)', (length) => {
    const bytes = Buffer.concat([MAGIC, Buffer.alloc(16, 0xab)]).subarray(0, length);
    expect(isAggregated(bytes)).toBe(false);
    expect(deaggregate(bytes, 'pk')).toEqual({ aggregated: false, records: [{ data: bytes, partitionKey: 'pk', subSequenceNumber: 0 }] });
  });

  test('magic + MD5 of an empty message (20 bytes) is an ordinary record, as KCL requires at least one message byte', () => {
    const bytes = frame(new Uint8Array(0));
    expect(bytes.length).toBe(20);
    expect(isAggregated(bytes)).toBe(false);
    expect(deaggregate(bytes, 'pk').aggregated).toBe(false);
  });

  test('an empty record is an ordinary record', () => {
    expect(deaggregate(Buffer.alloc(0), 'pk')).toEqual({ aggregated: false, records: [{ data: Buffer.alloc(0), partitionKey: 'pk', subSequenceNumber: 0 }] });
  });
});

describe('aggregates encoded by protobufjs with the KPL schema', () => {
  test('partition keys and explicit hash keys resolve through their table indexes', () => {
    const aggregate = sampleAggregate();
    const bytes = frame(encode(aggregate));
    expect(isAggregated(bytes)).toBe(true);
    const result = deaggregate(bytes, 'ignored-outer-key');
    expect(result.aggregated).toBe(true);
    expect(view(result.records)).toEqual(view(expected(aggregate)));
    expect(result.records.map((r) => [r.partitionKey, r.explicitHashKey])).toEqual([
      ['user-1', undefined],
      ['user-2', '340282366920938463463374607431768211455'],
      ['user-1', '0'],
    ]);
  });

  test('sub-sequence numbers are 0..n-1 in message order', () => {
    const records = Array.from({ length: 37 }, (_, i) => ({ partition_key_index: i % 3, data: Buffer.from(`r${i}`) }));
    const result = deaggregate(frame(encode({ partition_key_table: ['a', 'b', 'c'], records })), 'outer');
    expect(result.records.map((r) => r.subSequenceNumber)).toEqual(records.map((_, i) => i));
    expect(result.records.map((r) => r.data.toString())).toEqual(records.map((r) => r.data.toString()));
  });

  test('empty user-record data decodes to an empty buffer', () => {
    const aggregate = { partition_key_table: ['k'], records: [{ partition_key_index: 0, data: Buffer.alloc(0) }, { partition_key_index: 0, data: Buffer.from('x') }] };
    const result = deaggregate(frame(encode(aggregate)), 'outer');
    expect(result.records[0].data.length).toBe(0);
    expect(view(result.records)).toEqual(view(expected(aggregate)));
  });

  test('unicode partition keys and explicit hash keys round-trip', () => {
    const aggregate = {
      partition_key_table: ['Zürich', '東京-テナント', '🦄🚀', 'ﬁ\u0301', ''],
      explicit_hash_key_table: ['１２３'],
      records: [0, 1, 2, 3, 4].map((i) => ({ partition_key_index: i, explicit_hash_key_index: i === 1 ? 0 : undefined, data: Buffer.from(`{"i":${i},"s":"ü€😀"}`) })),
    };
    const result = deaggregate(frame(encode(aggregate)), 'outer');
    expect(view(result.records)).toEqual(view(expected(aggregate)));
  });

  test('user-record data is a view into the input, not a copy', () => {
    const bytes = frame(encode(sampleAggregate()));
    const { records } = deaggregate(bytes, 'outer');
    for (const r of records) {
      expect(r.data.buffer).toBe(bytes.buffer);
      expect(r.data.byteOffset).toBeGreaterThanOrEqual(bytes.byteOffset + 4);
      expect(r.data.byteOffset + r.data.length).toBeLessThanOrEqual(bytes.byteOffset + bytes.length - 16);
    }
  });

  test('an aggregate inside a larger buffer (non-zero byteOffset) decodes the same', () => {
    const inner = frame(encode(sampleAggregate()));
    const pool = Buffer.concat([Buffer.from('garbage-before'), inner, Buffer.from('after')]);
    const sliced = pool.subarray(14, 14 + inner.length);
    expect(view(deaggregate(sliced, 'o').records)).toEqual(view(expected(sampleAggregate())));
  });

  test('a large aggregate (1,000 sub-records, ~1 MB) decodes completely', () => {
    const rand = prng(1000);
    const keys = Array.from({ length: 250 }, (_, i) => `device-${i}-${Math.floor(rand() * 1e9)}`);
    const records = Array.from({ length: 1000 }, (_, i) => ({
      partition_key_index: i % keys.length,
      data: Buffer.from(JSON.stringify({ event_id: `evt-${i}`, pad: 'x'.repeat(950 + Math.floor(rand() * 100)) })),
    }));
    const aggregate = { partition_key_table: keys, records };
    const bytes = frame(encode(aggregate));
    expect(bytes.length).toBeGreaterThan(1_000_000);
    const result = deaggregate(bytes, 'outer');
    expect(result.records).toHaveLength(1000);
    expect(view(result.records)).toEqual(view(expected(aggregate)));
  });

  test('tags are skipped', () => {
    const aggregate: PbAggregate = {
      partition_key_table: ['k'],
      records: [{ partition_key_index: 0, data: Buffer.from('tagged'), tags: [{ key: 'a', value: 'b' }, { key: 'c' }] }],
    };
    expect(view(deaggregate(frame(encode(aggregate)), 'outer').records)).toEqual([{ data: Buffer.from('tagged').toString('hex'), partitionKey: 'k', explicitHashKey: undefined, subSequenceNumber: 0 }]);
  });

  test('unknown fields of every skippable wire type, at both levels, are skipped', () => {
    const future = FutureAggregatedRecord.encode({
      producer_version: 2 ** 40,
      partition_key_table: ['p0', 'p1'],
      explicit_hash_key_table: ['42'],
      ratio: 0.25,
      trailer: Buffer.from('extension'),
      crc: -7,
      records: [
        { partition_key_index: 1, data: Buffer.from('one'), f64: 12345, f32: 7, big: -3, note: 'later', nested: { a: 'x', b: [1, 300, 70000] }, far: 4294967295 },
        { partition_key_index: 0, explicit_hash_key_index: 0, data: Buffer.from('two') },
      ],
    }).finish();
    const result = deaggregate(frame(future), 'outer');
    expect(view(result.records)).toEqual([
      { data: Buffer.from('one').toString('hex'), partitionKey: 'p1', explicitHashKey: undefined, subSequenceNumber: 0 },
      { data: Buffer.from('two').toString('hex'), partitionKey: 'p0', explicitHashKey: '42', subSequenceNumber: 1 },
    ]);
  });

  test('tables written after the records (fields out of order, messages concatenated) still resolve', () => {
    // Concatenated protobuf messages merge, repeated fields appending: a valid encoding protobufjs itself decodes.
    const records = encode({ records: [{ partition_key_index: 1, data: Buffer.from('a') }, { partition_key_index: 0, explicit_hash_key_index: 0, data: Buffer.from('b') }] });
    const tables = encode({ partition_key_table: ['first', 'second'], explicit_hash_key_table: ['99'] });
    const message = Buffer.concat([records, tables]);
    const reference = AggregatedRecord.toObject(AggregatedRecord.decode(message), { longs: Number }) as PbAggregate;
    expect(view(deaggregate(frame(message), 'outer').records)).toEqual(view(expected(reference)));
    expect(deaggregate(frame(message), 'outer').records.map((r) => r.partitionKey)).toEqual(['second', 'first']);
  });

  test('an aggregate with tables but no records decodes to zero user records', () => {
    const result = deaggregate(frame(encode({ partition_key_table: ['k'] })), 'outer');
    expect(result).toEqual({ aggregated: true, records: [] });
  });

  test('a repeated scalar field takes its last value (protobuf merge semantics)', () => {
    // Record: partition_key_index=0, partition_key_index=1, data="z"
    const record = Buffer.from([0x08, 0x00, 0x08, 0x01, 0x1a, 0x01, 0x7a]);
    const message = Buffer.concat([encode({ partition_key_table: ['a', 'b'] }), Buffer.from([0x1a, record.length]), record]);
    const reference = AggregatedRecord.toObject(AggregatedRecord.decode(message), { longs: Number }) as PbAggregate;
    expect(view(deaggregate(frame(message), 'o').records)).toEqual(view(expected(reference)));
    expect(deaggregate(frame(message), 'o').records[0].partitionKey).toBe('b');
  });

  test('500 random aggregates (mulberry32 seed 0x4b504c) decode to exactly their input', () => {
    const rand = prng(0x4b504c);
    const int = (n: number): number => Math.floor(rand() * n);
    const alphabet = ['a', 'Z', '0', '-', '_', '.', 'é', 'ß', '中', '日', '🦄', '😀', 'Ω', ' ', '\u0000'];
    const randomString = (max: number): string => Array.from({ length: int(max + 1) }, () => alphabet[int(alphabet.length)]).join('');
    const randomDecimal = (): string => {
      let s = String(1 + int(9));
      for (let d = int(39); d > 0; d--) s += String(int(10));
      return s;
    };
    // Data bytes are seeded slices of one seeded pool: filling every buffer byte by byte is slow under jest.
    const pool = new Uint8Array(1 << 16);
    for (let i = 0; i < pool.length; i++) pool[i] = int(256);
    let userRecords = 0;
    for (let n = 0; n < 500; n++) {
      const pkTable = Array.from({ length: 1 + int(12) }, () => randomString(24));
      const ehkTable = Array.from({ length: int(4) }, randomDecimal);
      const records: PbRecord[] = Array.from({ length: 1 + int(80) }, () => {
        const size = rand() < 0.05 ? int(20_000) : int(400);
        const offset = int(pool.length - size);
        const data = Buffer.from(pool.subarray(offset, offset + size));
        const record: PbRecord = { partition_key_index: int(pkTable.length), data };
        if (ehkTable.length > 0 && rand() < 0.5) record.explicit_hash_key_index = int(ehkTable.length);
        if (rand() < 0.1) record.tags = [{ key: randomString(5), value: randomString(5) }];
        return record;
      });
      const aggregate: PbAggregate = { partition_key_table: pkTable, explicit_hash_key_table: ehkTable, records };
      // A third of the time, split the message and write the tables last.
      const message = rand() < 0.33
        ? Buffer.concat([encode({ records: records.slice(0, records.length >> 1) }), encode({ explicit_hash_key_table: ehkTable }), encode({ records: records.slice(records.length >> 1) }), encode({ partition_key_table: pkTable })])
        : encode(aggregate);
      const result = deaggregate(frame(message), 'outer');
      expect([n, result.aggregated]).toEqual([n, true]);
      const got = view(result.records);
      const want = view(expected(aggregate));
      if (JSON.stringify(got) !== JSON.stringify(want)) expect([n, got]).toEqual([n, want]);
      userRecords += got.length;
    }
    expect(userRecords).toBeGreaterThan(10_000);
  });
});

describe('corrupt aggregates (magic and MD5 valid, protobuf malformed) throw KplDecodeError', () => {
  const valid = (): Buffer => encode(sampleAggregate());

  test.each<[string, () => Uint8Array, string]>([
    ['a truncated varint (length prefix cut off)', () => Buffer.from([0x0a, 0x80]), 'truncated_varint'],
    ['a truncated varint inside a record', () => Buffer.concat([encode({ partition_key_table: ['k'] }), Buffer.from([0x1a, 0x02, 0x08, 0x80])]), 'truncated_varint'],
    ['a varint longer than 10 bytes', () => Buffer.from([0x20, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), 'varint_too_long'],
    ['a message cut short (last record\'s length runs past the end)', () => valid().subarray(0, valid().length - 1), 'length_out_of_bounds'],
    ['a partition key whose length runs past the end', () => Buffer.from([0x0a, 0x05, 0x61, 0x62]), 'length_out_of_bounds'],
    ['data longer than its enclosing record (though within the message)', () => Buffer.from([0x0a, 0x01, 0x61, 0x1a, 0x04, 0x08, 0x00, 0x1a, 0x05, 0x68, 0x65, 0x6c, 0x6c, 0x6f]), 'length_out_of_bounds'],
    ['a huge length (≥ 2^53)', () => Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), 'length_out_of_bounds'],
    ['a truncated fixed64 unknown field', () => Buffer.concat([valid(), Buffer.from([0x21, 1, 2, 3])]), 'truncated_fixed'],
    ['a truncated fixed32 unknown field', () => Buffer.concat([valid(), Buffer.from([0x25, 1, 2])]), 'truncated_fixed'],
    ['wire type 6 (undefined)', () => Buffer.concat([valid(), Buffer.from([0x26, 0x00])]), 'invalid_wire_type'],
    ['wire type 7 (undefined)', () => Buffer.concat([valid(), Buffer.from([0x27, 0x00])]), 'invalid_wire_type'],
    ['wire type 3 (deprecated group, never written by the KPL)', () => Buffer.concat([valid(), Buffer.from([0x23, 0x24])]), 'invalid_wire_type'],
    ['field number 0', () => Buffer.concat([valid(), Buffer.from([0x02, 0x00])]), 'invalid_field_number'],
    ['a partition key table entry written as a varint', () => Buffer.concat([Buffer.from([0x08, 0x01]), valid()]), 'unexpected_wire_type'],
    ['record data written as a varint', () => Buffer.concat([encode({ partition_key_table: ['k'] }), Buffer.from([0x1a, 0x04, 0x08, 0x00, 0x18, 0x01])]), 'unexpected_wire_type'],
  ])('%s', (_name, message, reason) => {
    const bytes = frame(message());
    expect(isAggregated(bytes)).toBe(true);
    const error = decodeError(bytes);
    expect(error.reason).toBe(reason);
    expect(error.name).toBe('KplDecodeError');
    expect(error).toBeInstanceOf(Error);
    expect(error.offset).toBeGreaterThanOrEqual(4);
    expect(error.offset).toBeLessThan(bytes.length - 16);
    expect(error.message).toContain(reason);
  });

  test('a partition key index out of the table throws, even when earlier records are fine', () => {
    const bytes = frame(encode({ partition_key_table: ['a'], records: [{ partition_key_index: 0, data: Buffer.from('ok') }, { partition_key_index: 1, data: Buffer.from('bad') }] }));
    expect(decodeError(bytes).reason).toBe('partition_key_index_out_of_range');
  });

  test('a partition key index ≥ 2^53 throws (no precision games)', () => {
    const bytes = frame(Buffer.concat([encode({ partition_key_table: ['a'] }), Buffer.from([0x1a, 0x0e, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x1a, 0x01, 0x78])]));
    expect(decodeError(bytes).reason).toBe('partition_key_index_out_of_range');
  });

  test('an explicit hash key index with an empty table throws', () => {
    const bytes = frame(encode({ partition_key_table: ['a'], records: [{ partition_key_index: 0, explicit_hash_key_index: 0, data: Buffer.from('x') }] }));
    expect(decodeError(bytes).reason).toBe('explicit_hash_key_index_out_of_range');
  });

  test('a record without partition_key_index (required) throws', () => {
    const bytes = frame(LooseAggregatedRecord.encode({ partition_key_table: ['a'], records: [{ data: Buffer.from('x') }] }).finish());
    expect(decodeError(bytes).reason).toBe('missing_partition_key_index');
  });

  test('a record without data (required) throws', () => {
    const bytes = frame(LooseAggregatedRecord.encode({ partition_key_table: ['a'], records: [{ partition_key_index: 0 }] }).finish());
    expect(decodeError(bytes).reason).toBe('missing_data');
  });

  test('3,000 random corruptions (mulberry32 seed 0xbad) either throw KplDecodeError or decode as protobufjs does', () => {
    const rand = prng(0xbad);
    const int = (n: number): number => Math.floor(rand() * n);
    const base = encode({
      partition_key_table: ['alpha', 'beta', 'gamma'],
      explicit_hash_key_table: ['1', '170141183460469231731687303715884105728'],
      records: Array.from({ length: 12 }, (_, i) => ({ partition_key_index: i % 3, explicit_hash_key_index: i % 4 === 0 ? i % 2 : undefined, data: Buffer.from(`{"i":${i}}`) })),
    });
    const outcomes = { decoded: 0, rejected: 0 };
    for (let n = 0; n < 3000; n++) {
      const message = Buffer.from(base);
      const kind = int(3);
      if (kind === 0) for (let k = 1 + int(3); k > 0; k--) message[int(message.length)] = int(256);
      else if (kind === 1) message[int(message.length)] ^= 1 << int(8);
      const mutated = kind === 2 ? message.subarray(0, 1 + int(message.length - 1)) : message;
      let ours: UserRecord[] | undefined;
      try {
        ours = deaggregate(frame(mutated), 'outer').records;
      } catch (e) {
        if (!(e instanceof KplDecodeError)) throw new Error(`mutation ${n} threw something other than KplDecodeError: ${String(e)}`);
        outcomes.rejected++;
        continue;
      }
      outcomes.decoded++;
      // Whatever we accept, the reference decoder accepts with the same meaning.
      const reference = AggregatedRecord.toObject(AggregatedRecord.decode(mutated), { longs: Number }) as PbAggregate;
      const want = view(expected(reference));
      if (JSON.stringify(view(ours)) !== JSON.stringify(want)) expect([n, view(ours)]).toEqual([n, want]);
    }
    expect(outcomes.decoded).toBeGreaterThan(100);
    expect(outcomes.rejected).toBeGreaterThan(100);
  });

  test('protobufjs rejects the same corrupt messages (the cases are corrupt, not just unfamiliar to us)', () => {
    expect(() => AggregatedRecord.decode(Buffer.from([0x0a, 0x80]))).toThrow();
    expect(() => AggregatedRecord.decode(valid().subarray(0, valid().length - 1))).toThrow();
    expect(() => AggregatedRecord.decode(LooseAggregatedRecord.encode({ partition_key_table: ['a'], records: [{ partition_key_index: 0 }] }).finish())).toThrow(/missing required/);
  });
});

// ---- aws-kinesis-agg interop --------------------------------------------------------------

interface AggInput { partitionKey: string; explicitHashKey?: string; data: Buffer }

/** aws-kinesis-agg's `aggregate`: splits the input into ≤1 MiB aggregates. */
function aggregateWithAwsKinesisAgg(records: AggInput[]): Promise<{ partitionKey: string; data: Buffer }[]> {
  return new Promise((resolve, reject) => {
    const out: { partitionKey: string; data: Buffer }[] = [];
    kinesisAgg.aggregate(
      records,
      (encoded, done) => {
        out.push({ partitionKey: encoded.partitionKey, data: encoded.data });
        done();
      },
      () => resolve(out),
      (error) => reject(error),
    );
  });
}

describe('interop with aws-kinesis-agg', () => {
  const inputs = (count: number, seed: number): AggInput[] => {
    const rand = prng(seed);
    return Array.from({ length: count }, (_, i) => ({
      partitionKey: `tenant-${Math.floor(rand() * 40)}-ü`,
      data: Buffer.from(JSON.stringify({ event_id: `evt-${seed}-${i}`, pad: 'p'.repeat(Math.floor(rand() * 2000)) })),
    }));
  };

  test('records aggregated by aws-kinesis-agg decode back to the input, in order', async () => {
    const input = inputs(1500, 7); // ~1.5 MB: more than one aggregate
    const aggregates = await aggregateWithAwsKinesisAgg(input);
    expect(aggregates.length).toBeGreaterThan(1);
    const decoded = aggregates.flatMap((a) => {
      const result = deaggregate(a.data, a.partitionKey);
      expect(result.aggregated).toBe(true);
      return result.records;
    });
    expect(decoded.map((r) => [r.partitionKey, r.explicitHashKey, r.data.toString()])).toEqual(input.map((r) => [r.partitionKey, undefined, r.data.toString()]));
    // Sub-sequence numbers restart at 0 in each aggregate.
    expect(decoded[0].subSequenceNumber).toBe(0);
  });

  test('records aggregated by aws-kinesis-agg with explicit hash keys keep them', async () => {
    const input = inputs(50, 8).map((r, i) => ({ ...r, explicitHashKey: String(BigInt(i) * 6805647338418769269267492148635364229n) }));
    const [aggregate] = await aggregateWithAwsKinesisAgg(input);
    expect(view(deaggregate(aggregate.data, aggregate.partitionKey).records)).toEqual(input.map((r, i) => ({
      data: r.data.toString('hex'), partitionKey: r.partitionKey, explicitHashKey: r.explicitHashKey, subSequenceNumber: i,
    })));
  });

  test('ours and aws-kinesis-agg agree on protobufjs-encoded aggregates (every record with an EHK, or none)', () => {
    const rand = prng(0xa99);
    for (let n = 0; n < 100; n++) {
      const withEhk = n % 2 === 0;
      const pkTable = Array.from({ length: 1 + Math.floor(rand() * 5) }, (_, i) => `pk-${n}-${i}-Ω`);
      const aggregate: PbAggregate = {
        partition_key_table: pkTable,
        explicit_hash_key_table: withEhk ? ['1', '2', '3'] : [],
        records: Array.from({ length: 1 + Math.floor(rand() * 30) }, (_, i) => ({
          partition_key_index: Math.floor(rand() * pkTable.length),
          explicit_hash_key_index: withEhk ? i % 3 : undefined,
          data: Buffer.from(`{"n":${n},"i":${i}}`),
        })),
      };
      const bytes = frame(encode(aggregate));
      const theirs = deaggregateWithAwsKinesisAgg(bytes, 'outer');
      expect(theirs.error).toBeUndefined();
      const ours = deaggregate(bytes, 'outer').records;
      expect(ours.map((r) => ({ partitionKey: r.partitionKey, explicitPartitionKey: r.explicitHashKey, subSequenceNumber: r.subSequenceNumber, data: r.data.toString('base64') })))
        .toEqual(theirs.records.map((r) => ({ partitionKey: r.partitionKey, explicitPartitionKey: r.explicitPartitionKey, subSequenceNumber: r.subSequenceNumber, data: r.data })));
    }
  });

  test('both treat a record without the magic as one ordinary record', () => {
    const bytes = Buffer.from('{"event_id":"plain"}');
    expect(deaggregateWithAwsKinesisAgg(bytes, 'outer').records.map((r) => [r.partitionKey, r.data])).toEqual([['outer', bytes.toString('base64')]]);
    expect(deaggregate(bytes, 'outer').records.map((r) => [r.partitionKey, r.data.toString('base64')])).toEqual([['outer', bytes.toString('base64')]]);
  });

  // Where aws-kinesis-agg 4.2.8 differs, and why lambda/shared/kpl.ts does not delegate to it.
  describe('where aws-kinesis-agg differs (reasons we decode ourselves)', () => {
    test('MD5 mismatch: ours delivers an ordinary record as KCL does; aws-kinesis-agg fails the record', () => {
      const bytes = frame(encode(sampleAggregate()));
      bytes[bytes.length - 1] ^= 0x01;
      expect(deaggregate(bytes, 'outer').aggregated).toBe(false);
      expect(deaggregateWithAwsKinesisAgg(bytes, 'outer').error).toBe('Invalid record checksum');
    });

    test('a record without explicit_hash_key_index: ours reports none; aws-kinesis-agg reports the table\'s first entry', () => {
      const bytes = frame(encode(sampleAggregate()));
      expect(deaggregate(bytes, 'outer').records[0].explicitHashKey).toBeUndefined();
      expect(deaggregateWithAwsKinesisAgg(bytes, 'outer').records[0].explicitPartitionKey).toBe('0');
    });

    test('partition key index out of range: ours throws; aws-kinesis-agg yields a record with no partition key', () => {
      const bytes = frame(encode({ partition_key_table: ['a'], records: [{ partition_key_index: 3, data: Buffer.from('x') }] }));
      expect(decodeError(bytes).reason).toBe('partition_key_index_out_of_range');
      const theirs = deaggregateWithAwsKinesisAgg(bytes, 'outer');
      expect(theirs.error).toBeUndefined();
      expect(theirs.records[0].partitionKey).toBeUndefined();
    });
  });
});
