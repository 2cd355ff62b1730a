/**
 * KPL aggregate ENCODING, the counterpart of lambda/shared/kpl.ts (which
 * decodes). No protobufjs, no SDK. Layout, as the KPL writes it
 * (amazon-kinesis-producer, aggregation-format.md):
 *
 *   F3 89 9A C2 | protobuf AggregatedRecord | MD5(protobuf bytes), 16 bytes
 *
 *   message AggregatedRecord { repeated string partition_key_table = 1;
 *                              repeated string explicit_hash_key_table = 2;
 *                              repeated Record records = 3; }
 *   message Record { required uint64 partition_key_index = 1; optional uint64 explicit_hash_key_index = 2;
 *                    required bytes data = 3; repeated Tag tags = 4; }
 *   message Tag    { required string key = 1; optional string value = 2; }
 *
 * Fields are written in field-number order with the tables first, as the KPL
 * does; every required field is always written (an index of 0 and empty data
 * included), so strict proto2 parsers (KCL, protobufjs, aws-kinesis-agg)
 * accept the output.
 *
 * The replay worker uses it to send each replayed record as a ONE-record
 * aggregate carrying a `replay_id` tag: any consumer that de-aggregates (KCL,
 * Firehose, our runtime, aws-kinesis-agg) gets the exact original bytes under
 * the original partition key, and the tag marks the record as replayed for
 * whoever inspects the aggregate.
 */
import { createHash } from 'node:crypto';

export const KPL_MAGIC: Readonly<Uint8Array> = Uint8Array.of(0xf3, 0x89, 0x9a, 0xc2);
const MAGIC_BYTES = 4;
const DIGEST_BYTES = 16;
/** Bytes the framing adds around the protobuf message: magic + MD5. */
export const KPL_FRAMING_BYTES = MAGIC_BYTES + DIGEST_BYTES;

export interface KplTag {
  readonly key: string;
  readonly value?: string;
}

export interface KplUserRecordInput {
  readonly data: Uint8Array;
  readonly partitionKey: string;
  readonly explicitHashKey?: string;
  readonly tags?: readonly KplTag[];
}

// Field keys: (field number << 3) | wire type. Wire type 0 = varint, 2 = length-delimited.
const AGG_PARTITION_KEY_TABLE = 0x0a; // 1, LEN
const AGG_EXPLICIT_HASH_KEY_TABLE = 0x12; // 2, LEN
const AGG_RECORDS = 0x1a; // 3, LEN
const REC_PARTITION_KEY_INDEX = 0x08; // 1, VARINT
const REC_EXPLICIT_HASH_KEY_INDEX = 0x10; // 2, VARINT
const REC_DATA = 0x1a; // 3, LEN
const REC_TAGS = 0x22; // 4, LEN
const TAG_KEY = 0x0a; // 1, LEN
const TAG_VALUE = 0x12; // 2, LEN

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    size++;
  }
  return size;
}

/** Size of a length-delimited field (one-byte key) holding `length` bytes. */
const fieldSize = (length: number): number => 1 + varintSize(length) + length;

/** The message layout computed once, so sizing and writing cannot disagree. */
interface Plan {
  readonly partitionKeys: string[];
  readonly explicitHashKeys: string[];
  readonly records: {
    readonly pkIndex: number;
    readonly ehkIndex: number; // -1: none
    readonly data: Uint8Array;
    readonly tags: { key: string; value?: string; size: number }[];
    readonly size: number; // body size of the Record message
  }[];
  readonly messageSize: number;
}

function plan(records: readonly KplUserRecordInput[]): Plan {
  if (records.length === 0) throw new RangeError('kpl-encode: an aggregate needs at least one record');
  const partitionKeys: string[] = [];
  const explicitHashKeys: string[] = [];
  const pkIndex = new Map<string, number>();
  const ehkIndex = new Map<string, number>();
  const indexOf = (table: string[], index: Map<string, number>, value: string): number => {
    let i = index.get(value);
    if (i === undefined) {
      i = table.length;
      table.push(value);
      index.set(value, i);
    }
    return i;
  };
  let messageSize = 0;
  const planned = records.map((r, n) => {
    if (typeof r.partitionKey !== 'string') throw new TypeError(`kpl-encode: record ${n} has no partition key`);
    if (!(r.data instanceof Uint8Array)) throw new TypeError(`kpl-encode: record ${n} data must be a Uint8Array`);
    const pk = indexOf(partitionKeys, pkIndex, r.partitionKey);
    const ehk = r.explicitHashKey === undefined ? -1 : indexOf(explicitHashKeys, ehkIndex, r.explicitHashKey);
    const tags = (r.tags ?? []).map((t) => {
      if (typeof t.key !== 'string') throw new TypeError(`kpl-encode: record ${n} has a tag without a key`);
      const size = fieldSize(Buffer.byteLength(t.key, 'utf8')) + (t.value === undefined ? 0 : fieldSize(Buffer.byteLength(t.value, 'utf8')));
      return { key: t.key, value: t.value, size };
    });
    const size = 1 + varintSize(pk)
      + (ehk < 0 ? 0 : 1 + varintSize(ehk))
      + fieldSize(r.data.byteLength)
      + tags.reduce((sum, t) => sum + fieldSize(t.size), 0);
    messageSize += fieldSize(size);
    return { pkIndex: pk, ehkIndex: ehk, data: r.data, tags, size };
  });
  for (const k of partitionKeys) messageSize += fieldSize(Buffer.byteLength(k, 'utf8'));
  for (const k of explicitHashKeys) messageSize += fieldSize(Buffer.byteLength(k, 'utf8'));
  return { partitionKeys, explicitHashKeys, records: planned, messageSize };
}

/** The exact size in bytes of `encodeKplAggregate(records)`, without encoding. */
export function kplAggregateSize(records: readonly KplUserRecordInput[]): number {
  return KPL_FRAMING_BYTES + plan(records).messageSize;
}

class Writer {
  pos: number;
  constructor(readonly buf: Buffer, start: number) {
    this.pos = start;
  }

  byte(b: number): void {
    this.buf[this.pos++] = b;
  }

  varint(n: number): void {
    while (n >= 0x80) {
      this.buf[this.pos++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.buf[this.pos++] = n;
  }

  bytes(key: number, data: Uint8Array): void {
    this.byte(key);
    this.varint(data.byteLength);
    this.buf.set(data, this.pos);
    this.pos += data.byteLength;
  }

  string(key: number, text: string): void {
    const length = Buffer.byteLength(text, 'utf8');
    this.byte(key);
    this.varint(length);
    this.pos += this.buf.write(text, this.pos, length, 'utf8');
  }
}

/**
 * Encodes user records as one KPL aggregate (magic + protobuf + MD5).
 * Partition keys and explicit hash keys are de-duplicated into the tables;
 * record order is kept. Throws on an empty list (an aggregate of nothing
 * would de-aggregate to no record at all).
 */
export function encodeKplAggregate(records: readonly KplUserRecordInput[]): Buffer {
  const p = plan(records);
  const out = Buffer.allocUnsafe(KPL_FRAMING_BYTES + p.messageSize);
  out.set(KPL_MAGIC, 0);
  const w = new Writer(out, MAGIC_BYTES);
  for (const k of p.partitionKeys) w.string(AGG_PARTITION_KEY_TABLE, k);
  for (const k of p.explicitHashKeys) w.string(AGG_EXPLICIT_HASH_KEY_TABLE, k);
  for (const r of p.records) {
    w.byte(AGG_RECORDS);
    w.varint(r.size);
    w.byte(REC_PARTITION_KEY_INDEX);
    w.varint(r.pkIndex);
    if (r.ehkIndex >= 0) {
      w.byte(REC_EXPLICIT_HASH_KEY_INDEX);
      w.varint(r.ehkIndex);
    }
    w.bytes(REC_DATA, r.data);
    for (const t of r.tags) {
      w.byte(REC_TAGS);
      w.varint(t.size);
      w.string(TAG_KEY, t.key);
      if (t.value !== undefined) w.string(TAG_VALUE, t.value);
    }
  }
  const messageEnd = MAGIC_BYTES + p.messageSize;
  if (w.pos !== messageEnd) throw new Error(`kpl-encode: wrote ${w.pos - MAGIC_BYTES} bytes for a planned ${p.messageSize}`);
  createHash('md5').update(out.subarray(MAGIC_BYTES, messageEnd)).digest().copy(out, messageEnd);
  return out;
}

/** One user record wrapped as a one-record aggregate under the same partition key, with the given tags. */
export function encodeTaggedRecord(data: Uint8Array, partitionKey: string, tags: readonly KplTag[]): Buffer {
  return encodeKplAggregate([{ data, partitionKey, tags }]);
}

/**
 * Size of `encodeTaggedRecord(data, partitionKey, tags)` for data of
 * `dataLength` bytes, without encoding or allocating (equals
 * `kplAggregateSize` of that record; the tests check both against the output).
 */
export function taggedRecordSize(dataLength: number, partitionKey: string, tags: readonly KplTag[]): number {
  // Record body: partition_key_index 0 (key byte + 1-byte varint), data, tags.
  const body = 2 + fieldSize(dataLength) + tags.reduce((sum, t) => {
    const size = fieldSize(Buffer.byteLength(t.key, 'utf8')) + (t.value === undefined ? 0 : fieldSize(Buffer.byteLength(t.value, 'utf8')));
    return sum + fieldSize(size);
  }, 0);
  return KPL_FRAMING_BYTES + fieldSize(Buffer.byteLength(partitionKey, 'utf8')) + fieldSize(body);
}
