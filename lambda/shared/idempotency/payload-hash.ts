/**
 * A short, stable fingerprint of a record's payload, stored with its
 * idempotency claim so a key reused with different content is detected
 * (`hash_mismatch`) instead of being silently skipped as a duplicate.
 *
 * It hashes the raw bytes as delivered, not re-serialised JSON: producer
 * retries and replays from the raw zone re-put the exact same bytes, and a
 * byte-level hash needs no canonical JSON form.
 */
import { createHash } from 'node:crypto';

/** 22 base64url characters = 132 bits: collisions are negligible and the item stays small. */
export const PAYLOAD_HASH_LENGTH = 22;

/** sha256 of `payload` (strings as UTF-8), base64url, truncated to {@link PAYLOAD_HASH_LENGTH} characters. */
export function payloadHash(payload: Uint8Array | string): string {
  return createHash('sha256').update(payload).digest('base64url').slice(0, PAYLOAD_HASH_LENGTH);
}
