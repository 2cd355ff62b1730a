/**
 * Delivered record → user records: base64 → bytes → (KPL de-aggregation when the magic and
 * checksum match) → JSON, or raw bytes. A record that cannot be decoded becomes ONE failed
 * unit with a reason; it never throws and is never dropped.
 *
 * processBatch's hot path uses the steps one by one (payloadBytes, mayBeAggregate, parseBytes) so that
 * a plain record costs no allocation beyond its bytes and its value; decodeUnits composes the same steps.
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
  /** The `replay_id` KPL tag a ReplayArchive replay puts on the records it re-puts. */
  readonly replayId?: string;
}

/** What parseBytes returns for bytes it cannot parse (never a JSON value). */
export class DecodeFailure {
  constructor(readonly reason: 'invalid_utf8' | 'invalid_json') {}
}
const INVALID_UTF8 = new DecodeFailure('invalid_utf8');
const INVALID_JSON = new DecodeFailure('invalid_json');

/** The bytes of a record without any (an undecodable record, a Kafka tombstone). */
export const EMPTY = Buffer.alloc(0);

/** What the handler receives for a Kafka tombstone (a null value). */
export function tombstoneValue(parse: 'json' | 'bytes'): unknown {
  return parse === 'json' ? null : EMPTY;
}

/** [A-Za-z0-9+/] */
function isBase64Char(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 43 || c === 47;
}

/**
 * The bytes of a payload; undefined when a base64 payload is not standard, padded base64.
 * A UTF-8 payload (SQS) is its own bytes.
 */
export function payloadBytes(payload: string, encoding: SourceItem['encoding']): Buffer | undefined {
  if (encoding === 'utf8') return Buffer.from(payload, 'utf8');
  // Node's decoder skips foreign characters silently; the length the text promises catches them without a
  // regex scan ('=' carries no data). Only the URL-safe '-' and '_', which Node also decodes, need a search.
  const bytes = Buffer.from(payload, 'base64');
  const n = payload.length;
  if (n % 4 !== 0) return undefined;
  // The last 4 characters match /^[A-Za-z0-9+/]*={0,2}$/.
  const from = n > 4 ? n - 4 : 0;
  let end = n;
  while (end > from && payload.charCodeAt(end - 1) === 61 /* '=' */) end--;
  const padding = n - end;
  if (padding > 2) return undefined;
  for (let i = from; i < end; i++) if (!isBase64Char(payload.charCodeAt(i))) return undefined;
  // Buffer.byteLength(payload, 'base64'), which drops up to two trailing '='.
  if (bytes.length !== ((n - padding) * 3) >>> 2 || payload.includes('-') || payload.includes('_')) return undefined;
  return bytes;
}

/** Whether the bytes start with the KPL magic (and may be an aggregate, which decodeUnits settles). */
export function mayBeAggregate(bytes: Buffer): boolean {
  return bytes.length >= 20 && bytes[0] === 0xf3 && bytes[1] === 0x89 && bytes[2] === 0x9a && bytes[3] === 0xc2;
}

/** The parsed JSON (parse 'json') or the bytes themselves (parse 'bytes'); a DecodeFailure when they do not parse. */
export function parseBytes(bytes: Buffer, parse: 'json' | 'bytes'): unknown {
  if (parse === 'bytes') return bytes;
  const text = bytes.toString('utf8');
  // The decoder turns every malformed sequence into U+FFFD: only text holding one needs the validation pass.
  if (text.includes('\uFFFD') && !isUtf8(bytes)) return INVALID_UTF8;
  try {
    return JSON.parse(text);
  } catch {
    return INVALID_JSON;
  }
}

export function decodeUnits(item: SourceItem, parse: 'json' | 'bytes', mayBeAggregated: boolean): DecodedUnit[] {
  if (item.kafka?.tombstone) return [{ ...item, subSequence: 0, bytes: EMPTY, value: tombstoneValue(parse) }];
  const bytes = payloadBytes(item.payload, item.encoding);
  if (bytes === undefined) return [{ ...item, subSequence: 0, bytes: EMPTY, error: 'invalid_base64' }];
  if (mayBeAggregated && mayBeAggregate(bytes)) {
    try {
      const result = deaggregate(bytes, item.partitionKey ?? '');
      if (result.aggregated) {
        // Sub-records keep their own partition keys, so per-key order holds inside an aggregate too.
        return result.records.map((r) => decodeOne({ ...item, partitionKey: r.partitionKey, orderKey: r.partitionKey }, r.subSequenceNumber, r.data, parse,
          r.tags?.find((t) => t.key === 'replay_id')?.value));
      }
    } catch (e) {
      if (!(e instanceof KplDecodeError)) throw e;
      return [{ ...item, subSequence: 0, bytes, error: 'kpl_corrupt' }];
    }
  }
  return [decodeOne(item, 0, bytes, parse)];
}

function decodeOne(item: SourceItem, subSequence: number, bytes: Buffer, parse: 'json' | 'bytes', replayId?: string): DecodedUnit {
  const parsed = parseBytes(bytes, parse);
  const failed = parsed instanceof DecodeFailure;
  // An object literal, not a spread: a spread per record costs more than the JSON.parse it wraps.
  return {
    failureId: item.failureId, payload: item.payload, encoding: item.encoding, orderKey: item.orderKey,
    partitionKey: item.partitionKey, index: item.index, subSequence, bytes,
    value: failed ? undefined : parsed, error: failed ? parsed.reason : undefined, replayId, kafka: item.kafka,
  };
}
