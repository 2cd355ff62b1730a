/**
 * Sizes of a Firehose transformation response, computed exactly without
 * serializing it, so a handler can keep `JSON.stringify({ records })` under
 * Lambda's synchronous response limit. Shared by every Firehose processor.
 */

/**
 * Lambda's synchronous response limit is 6 MB (6,291,456 bytes); keep a
 * margin below it for the runtime's own framing.
 */
export const RESPONSE_BUDGET_BYTES = 6_000_000;

/** `{"records":[` + `]}` plus the commas between `count` records. */
export function envelopeBytes(count: number): number {
  return '{"records":[]}'.length + Math.max(0, count - 1);
}

/** Strings that JSON writes verbatim: base64 and typical record ids. */
const JSON_PLAIN = /^[A-Za-z0-9+/=_.:-]*$/;

/** UTF-8 bytes of `JSON.stringify(s)`. */
export function jsonStringBytes(s: string): number {
  return JSON_PLAIN.test(s) ? s.length + 2 : Buffer.byteLength(JSON.stringify(s), 'utf8');
}

/**
 * `{"recordId":…,"result":"ProcessingFailed","<field>":<payload>}` (JSON.stringify keeps insertion order).
 * `plainBase64`: the payload passed strict base64 validation, so it has no escapes and one byte per character.
 */
export function failedRecordBytes(recordId: string, field: string, payload: string, plainBase64: boolean): number {
  return '{"recordId":,"result":"ProcessingFailed","":}'.length + jsonStringBytes(recordId) + field.length
    + (plainBase64 ? payload.length + 2 : jsonStringBytes(payload));
}

/**
 * `{"recordId":…,"result":"Ok","<field>":"<base64>","metadata":{"partitionKeys":{…}}}`. Partition keys
 * and values must be ASCII without escapes (the handlers only emit such), so their length is their bytes.
 */
export function okRecordBytes(recordId: string, field: string, base64: string, partitionKeys: object): number {
  return '{"recordId":,"result":"Ok","":"","metadata":{"partitionKeys":}}'.length + jsonStringBytes(recordId)
    + field.length + base64.length + JSON.stringify(partitionKeys).length;
}
