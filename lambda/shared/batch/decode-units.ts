/**
 * Delivered record → user records: base64 → bytes → (KPL de-aggregation when the magic and
 * checksum match) → JSON, or raw bytes. A record that cannot be decoded becomes ONE failed
 * unit with a reason; it never throws and is never dropped.
 */
import { isUtf8 } from 'node:buffer';
import type { SourceItem } from './event-sources';
import { deaggregate, KplDecodeError } from '../kpl';

export interface DecodedUnit extends SourceItem {
  readonly subSequence: number;
  readonly bytes: Buffer;
  /** Parsed JSON (parse 'json') or the bytes (parse 'bytes'); undefined when `error` is set. */
  readonly value?: unknown;
  readonly error?: string;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const EMPTY = Buffer.alloc(0);

export function decodeUnits(item: SourceItem, parse: 'json' | 'bytes', mayBeAggregated: boolean): DecodedUnit[] {
  let bytes: Buffer;
  if (item.encoding === 'utf8') {
    bytes = Buffer.from(item.payload, 'utf8');
  } else {
    const text = item.payload;
    // Node's decoder skips foreign characters silently; a length check catches them without a regex scan.
    bytes = Buffer.from(text, 'base64');
    if (text.length % 4 !== 0 || bytes.length !== Buffer.byteLength(text, 'base64') || (text.includes('-') || text.includes('_')) || !BASE64.test(text.slice(-4))) {
      return [{ ...item, subSequence: 0, bytes: EMPTY, error: 'invalid_base64' }];
    }
  }
  if (mayBeAggregated && bytes.length >= 20 && bytes[0] === 0xf3 && bytes[1] === 0x89 && bytes[2] === 0x9a && bytes[3] === 0xc2) {
    try {
      const result = deaggregate(bytes, item.partitionKey ?? '');
      if (result.aggregated) {
        // Sub-records keep their own partition keys, so per-key order holds inside an aggregate too.
        return result.records.map((r) => decodeOne({ ...item, partitionKey: r.partitionKey, orderKey: r.partitionKey }, r.subSequenceNumber, r.data, parse));
      }
    } catch (e) {
      if (!(e instanceof KplDecodeError)) throw e;
      return [{ ...item, subSequence: 0, bytes, error: 'kpl_corrupt' }];
    }
  }
  return [decodeOne(item, 0, bytes, parse)];
}

function decodeOne(item: SourceItem, subSequence: number, bytes: Buffer, parse: 'json' | 'bytes'): DecodedUnit {
  // Object literals, not spreads: a spread per record costs more than the JSON.parse it wraps.
  const unit = (value?: unknown, error?: string): DecodedUnit => ({
    failureId: item.failureId, payload: item.payload, encoding: item.encoding, orderKey: item.orderKey,
    partitionKey: item.partitionKey, index: item.index, subSequence, bytes, value, error,
  });
  if (parse === 'bytes') return unit(bytes);
  if (!isUtf8(bytes)) return unit(undefined, 'invalid_utf8');
  try {
    return unit(JSON.parse(bytes.toString('utf8')));
  } catch {
    return unit(undefined, 'invalid_json');
  }
}
