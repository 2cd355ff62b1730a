/**
 * KPL de-aggregation for Lambda handlers, without protobufjs or the AWS SDK.
 *
 * Lambda's Kinesis event source hands KPL aggregates to the function untouched
 * (Firehose de-aggregates by itself), so a handler must unpack them. Layout:
 *
 *   F3 89 9A C2 | protobuf AggregatedRecord | MD5(protobuf bytes), 16 bytes
 *
 *   message AggregatedRecord { repeated string partition_key_table = 1;
 *                              repeated string explicit_hash_key_table = 2;
 *                              repeated Record records = 3; }
 *   message Record { required uint64 partition_key_index = 1; optional uint64 explicit_hash_key_index = 2;
 *                    required bytes data = 3; repeated Tag tags = 4; }
 *
 * Like KCL, a bad magic, a record too short to hold a message and a checksum,
 * or an MD5 mismatch make the bytes an ordinary record. Once magic and MD5 both
 * match, the bytes are an aggregate by any reasonable odds (a 4-byte magic and a
 * 128-bit checksum), so a protobuf that does not parse against the schema is a
 * corrupt aggregate: it throws `KplDecodeError` and the caller fails that one
 * outer record. KCL differs here (it passes unparseable bytes on as one plain
 * record and logs and drops the rest of an aggregate with a bad table index);
 * neither delivers what the producer sent, so we refuse instead of guessing.
 */
import * as crypto from 'node:crypto';

export interface UserRecord {
  /** A view into the input buffer (no copy): don't mutate it, and keep the input alive while you use it. */
  data: Buffer;
  partitionKey: string;
  explicitHashKey?: string;
  /** Position within the aggregate, 0..n-1; 0 for a plain record. Together with the outer sequence number it identifies the user record. */
  subSequenceNumber: number;
  /** The record's KPL tags (`Tag { key = 1; value = 2 }`), when it has any; e.g. `replay_id` on replayed records. */
  tags?: { key: string; value?: string }[];
}

export type DeaggregateResult =
  | { aggregated: false; records: [UserRecord] }
  | { aggregated: true; records: UserRecord[] };

export type KplDecodeFailure =
  | 'truncated_varint'
  | 'varint_too_long'
  | 'length_out_of_bounds'
  | 'truncated_fixed'
  | 'invalid_field_number'
  | 'invalid_wire_type'
  | 'unexpected_wire_type'
  | 'missing_partition_key_index'
  | 'missing_data'
  | 'partition_key_index_out_of_range'
  | 'explicit_hash_key_index_out_of_range'
  | 'missing_tag_key';

/** A record whose magic and MD5 say "KPL aggregate" but whose protobuf is malformed. */
export class KplDecodeError extends Error {
  public override readonly name = 'KplDecodeError';
  /**
   * @param reason what is wrong, stable for metrics and DLQ attributes
   * @param offset byte offset into the outer record (magic included) where decoding stopped
   */
  constructor(public readonly reason: KplDecodeFailure, public readonly offset: number) {
    super(`malformed KPL aggregate: ${reason} at byte ${offset}`);
  }
}

const MAGIC_0 = 0xf3;
const MAGIC_1 = 0x89;
const MAGIC_2 = 0x9a;
const MAGIC_3 = 0xc2;
const MAGIC_BYTES = 4;
const DIGEST_BYTES = 16;
const MAX_FIELD_NUMBER = 0x1fffffff;

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LENGTH_DELIMITED = 2;
const WIRE_FIXED32 = 5;

// crypto.hash (Node ≥ 20.12) skips the Hash object; aggregates are small, so that setup is a visible share.
const md5: (data: Buffer) => Buffer = typeof crypto.hash === 'function'
  ? (data) => crypto.hash('md5', data, 'buffer')
  : (data) => crypto.createHash('md5').update(data).digest();

/**
 * True when `bytes` is a KPL aggregate as KCL decides it: the magic, at least one
 * byte of message (KCL treats magic + checksum alone as an ordinary record), and
 * an MD5 of the message that matches the trailing 16 bytes.
 */
export function isAggregated(bytes: Buffer): boolean {
  const length = bytes.length;
  if (length <= MAGIC_BYTES + DIGEST_BYTES
    || bytes[0] !== MAGIC_0 || bytes[1] !== MAGIC_1 || bytes[2] !== MAGIC_2 || bytes[3] !== MAGIC_3) {
    return false;
  }
  const messageEnd = length - DIGEST_BYTES;
  return md5(bytes.subarray(MAGIC_BYTES, messageEnd)).compare(bytes, messageEnd, length) === 0;
}

/**
 * Splits an outer Kinesis record into its user records. An ordinary record comes
 * back whole as sub-record 0 under the outer partition key.
 *
 * @throws KplDecodeError when magic and MD5 match but the protobuf is malformed
 */
export function deaggregate(bytes: Buffer, outerPartitionKey: string): DeaggregateResult {
  if (!isAggregated(bytes)) {
    return { aggregated: false, records: [{ data: bytes, partitionKey: outerPartitionKey, explicitHashKey: undefined, subSequenceNumber: 0 }] };
  }
  return { aggregated: true, records: decodeAggregatedRecord(bytes, MAGIC_BYTES, bytes.length - DIGEST_BYTES) };
}

/** Per record: partition key index, explicit hash key index (-1: absent), data start, data end, record offset. */
const SLOTS = 5;

/** Tags of record `record` (0-based), as [record, start, end] triples of Tag messages. */
type TagRanges = number[];

/**
 * Protobuf allows fields in any order and repeated fields interleaved, so the
 * tables may follow the records: indexes are resolved after the whole message.
 */
function decodeAggregatedRecord(buf: Buffer, start: number, end: number): UserRecord[] {
  const cursor = new Cursor(buf, start);
  const partitionKeys: string[] = [];
  const explicitHashKeys: string[] = [];
  const slots: number[] = [];
  const tagRanges: TagRanges = [];
  while (cursor.pos < end) {
    const tagOffset = cursor.pos;
    const tag = cursor.varint(end);
    const wireType = tag % 8;
    const field = (tag - wireType) / 8;
    if (field === 0 || field > MAX_FIELD_NUMBER) throw new KplDecodeError('invalid_field_number', tagOffset);
    if (field >= 1 && field <= 3) {
      if (wireType !== WIRE_LENGTH_DELIMITED) throw new KplDecodeError('unexpected_wire_type', tagOffset);
      const fieldEnd = cursor.lengthDelimitedEnd(end);
      // Invalid UTF-8 in a key becomes U+FFFD, as in Java's proto2 strings (KCL) and protobufjs.
      if (field === 1) partitionKeys.push(buf.toString('utf8', cursor.pos, fieldEnd));
      else if (field === 2) explicitHashKeys.push(buf.toString('utf8', cursor.pos, fieldEnd));
      else decodeRecord(cursor, fieldEnd, slots, tagRanges);
      cursor.pos = fieldEnd;
    } else {
      cursor.skip(wireType, end, tagOffset);
    }
  }

  const count = slots.length / SLOTS;
  const records = new Array<UserRecord>(count);
  for (let i = 0, s = 0; i < count; i++, s += SLOTS) {
    const pk = slots[s];
    if (pk >= partitionKeys.length) throw new KplDecodeError('partition_key_index_out_of_range', slots[s + 4]);
    const ehk = slots[s + 1];
    if (ehk >= explicitHashKeys.length) throw new KplDecodeError('explicit_hash_key_index_out_of_range', slots[s + 4]);
    records[i] = {
      data: buf.subarray(slots[s + 2], slots[s + 3]),
      partitionKey: partitionKeys[pk],
      explicitHashKey: ehk < 0 ? undefined : explicitHashKeys[ehk],
      subSequenceNumber: i,
    };
  }
  for (let t = 0; t < tagRanges.length; t += 3) {
    const record = records[tagRanges[t]];
    (record.tags ??= []).push(decodeTag(buf, tagRanges[t + 1], tagRanges[t + 2]));
  }
  return records;
}

/** `message Tag { required string key = 1; optional string value = 2; }` */
function decodeTag(buf: Buffer, start: number, end: number): { key: string; value?: string } {
  const cursor = new Cursor(buf, start);
  let key: string | undefined;
  let value: string | undefined;
  while (cursor.pos < end) {
    const tagOffset = cursor.pos;
    const tag = cursor.varint(end);
    const wireType = tag % 8;
    const field = (tag - wireType) / 8;
    if (field === 0 || field > MAX_FIELD_NUMBER) throw new KplDecodeError('invalid_field_number', tagOffset);
    if (field === 1 || field === 2) {
      if (wireType !== WIRE_LENGTH_DELIMITED) throw new KplDecodeError('unexpected_wire_type', tagOffset);
      const fieldEnd = cursor.lengthDelimitedEnd(end);
      if (field === 1) key = buf.toString('utf8', cursor.pos, fieldEnd);
      else value = buf.toString('utf8', cursor.pos, fieldEnd);
      cursor.pos = fieldEnd;
    } else {
      cursor.skip(wireType, end, tagOffset);
    }
  }
  if (key === undefined) throw new KplDecodeError('missing_tag_key', start);
  return value === undefined ? { key } : { key, value };
}

function decodeRecord(cursor: Cursor, end: number, slots: number[], tagRanges: TagRanges): void {
  const offset = cursor.pos;
  let partitionKeyIndex = -1;
  let explicitHashKeyIndex = -1;
  let dataStart = -1;
  let dataEnd = -1;
  // A repeated scalar field takes its last value, as in any protobuf parser.
  while (cursor.pos < end) {
    const tagOffset = cursor.pos;
    const tag = cursor.varint(end);
    const wireType = tag % 8;
    const field = (tag - wireType) / 8;
    if (field === 0 || field > MAX_FIELD_NUMBER) throw new KplDecodeError('invalid_field_number', tagOffset);
    if (field === 1 || field === 2) {
      if (wireType !== WIRE_VARINT) throw new KplDecodeError('unexpected_wire_type', tagOffset);
      if (field === 1) partitionKeyIndex = cursor.varint(end);
      else explicitHashKeyIndex = cursor.varint(end);
    } else if (field === 3 || field === 4) {
      if (wireType !== WIRE_LENGTH_DELIMITED) throw new KplDecodeError('unexpected_wire_type', tagOffset);
      const fieldEnd = cursor.lengthDelimitedEnd(end);
      if (field === 3) {
        dataStart = cursor.pos;
        dataEnd = fieldEnd;
      } else {
        // Tags are decoded once the record is known to be valid (most records have none).
        tagRanges.push(slots.length / SLOTS, cursor.pos, fieldEnd);
      }
      cursor.pos = fieldEnd;
    } else {
      cursor.skip(wireType, end, tagOffset);
    }
  }
  if (partitionKeyIndex < 0) throw new KplDecodeError('missing_partition_key_index', offset);
  if (dataStart < 0) throw new KplDecodeError('missing_data', offset);
  slots.push(partitionKeyIndex, explicitHashKeyIndex, dataStart, dataEnd, offset);
}

/** A read position over `buf`; every read is bounded by the end of the enclosing message. */
class Cursor {
  constructor(private readonly buf: Buffer, public pos: number) {}

  /**
   * An unsigned varint of up to 10 bytes, as a double: exact below 2^53, and
   * larger values stay ≥ 2^53, which is out of range for any index or length
   * here. No BigInt, no allocation.
   */
  varint(end: number): number {
    const buf = this.buf;
    let pos = this.pos;
    if (pos >= end) throw new KplDecodeError('truncated_varint', this.pos);
    let byte = buf[pos++];
    if (byte < 0x80) {
      this.pos = pos;
      return byte;
    }
    let value = byte & 0x7f;
    let scale = 0x80;
    for (let i = 1; i < 10; i++) {
      if (pos >= end) throw new KplDecodeError('truncated_varint', this.pos);
      byte = buf[pos++];
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        this.pos = pos;
        return value;
      }
      scale *= 0x80;
    }
    throw new KplDecodeError('varint_too_long', this.pos);
  }

  /** Reads a length prefix and returns where the field's bytes end; they start at `pos`. */
  lengthDelimitedEnd(end: number): number {
    const lengthOffset = this.pos;
    const length = this.varint(end);
    if (length > end - this.pos) throw new KplDecodeError('length_out_of_bounds', lengthOffset);
    return this.pos + length;
  }

  /**
   * Skips a field this decoder does not know, so a newer producer's extra fields
   * still decode. Groups (wire types 3 and 4) are deprecated, never written by
   * the KPL and not skippable without parsing them, so they are rejected, as are
   * the undefined wire types 6 and 7.
   */
  skip(wireType: number, end: number, tagOffset: number): void {
    switch (wireType) {
      case WIRE_VARINT:
        this.varint(end);
        return;
      case WIRE_FIXED64:
      case WIRE_FIXED32: {
        const size = wireType === WIRE_FIXED64 ? 8 : 4;
        if (size > end - this.pos) throw new KplDecodeError('truncated_fixed', this.pos);
        this.pos += size;
        return;
      }
      case WIRE_LENGTH_DELIMITED:
        this.pos = this.lengthDelimitedEnd(end);
        return;
      default:
        throw new KplDecodeError('invalid_wire_type', tagOffset);
    }
  }
}
