/**
 * Strict decoding of a stream record's base64 payload into a JSON object.
 *
 * Node's `Buffer.from(s, 'base64')` silently skips characters outside the
 * alphabet and `toString('utf8')` silently substitutes U+FFFD for bad bytes;
 * either would turn a corrupt record into a "valid" but different one. Here
 * every such case is a typed failure the caller can route to an error prefix.
 */
import { isUtf8 } from 'node:buffer';

export type DecodeFailure = 'invalid_base64' | 'invalid_utf8' | 'invalid_json' | 'not_an_object';

export type JsonObject = { [key: string]: unknown };

export type DecodeResult =
  | { readonly ok: true; readonly value: JsonObject }
  | { readonly ok: false; readonly reason: DecodeFailure };

/**
 * Decodes standard (RFC 4648 §4) padded base64, the only alphabet Firehose and
 * Kinesis emit; `undefined` when `text` is anything else.
 *
 * Equivalent to matching `^[A-Za-z0-9+/]*={0,2}$` with a length divisible by 4
 * (the tests check this against that regex) without a second scan of the
 * text: Node's decoder skips characters outside the alphabet and '=' carries
 * no data, so any such character leaves the output shorter than the length
 * the text promises. Only the URL-safe '-' and '_', which Node also decodes,
 * need their own check.
 */
export function decodeBase64Strict(text: unknown): Buffer | undefined {
  if (typeof text !== 'string' || text.length % 4 !== 0) return undefined;
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length !== Buffer.byteLength(text, 'base64') || text.includes('-') || text.includes('_')) return undefined;
  return bytes;
}

/** Decodes UTF-8 bytes as one JSON value that must be an object (not an array, scalar or null). */
export function parseJsonObject(bytes: Buffer): DecodeResult {
  if (!isUtf8(bytes)) return { ok: false, reason: 'invalid_utf8' };
  let text = bytes.toString('utf8');
  // A UTF-8 BOM is legal at the start of a text stream but JSON.parse rejects it.
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'invalid_json' };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { ok: false, reason: 'not_an_object' };
  }
  return { ok: true, value: value as JsonObject };
}

/** base64 → UTF-8 → JSON object, failing with the first step that rejects the payload. */
export function decodeJsonRecord(base64: unknown): DecodeResult {
  const bytes = decodeBase64Strict(base64);
  if (bytes === undefined) return { ok: false, reason: 'invalid_base64' };
  return parseJsonObject(bytes);
}
