/**
 * Deterministic ids (contract section 5): a retried or redelivered batch decides the same alert and the
 * same result under the same id, so consumers and conditional writes dedupe on them.
 */
import { createHash } from 'node:crypto';
import type { WindowBounds } from './spec';

/** `new Date(ms).toISOString()`, e.g. `2026-12-03T12:00:30.000Z`. */
export function windowIso(ms: number): string {
  return new Date(ms).toISOString();
}

function sha256Hex32(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 32);
}

/** sha256 hex of `alert|c|start|end|key`, first 32 hex chars. */
export function alertId(customerId: string, w: WindowBounds, key: string): string {
  return sha256Hex32(`alert|${customerId}|${w.startMs}|${w.endMs}|${key}`);
}

/** sha256 hex of `result|c|start|end`, first 32 hex chars. */
export function resultId(customerId: string, w: WindowBounds): string {
  return sha256Hex32(`result|${customerId}|${w.startMs}|${w.endMs}`);
}

/** Bytes of a value hash kept in window state (event ids, distinct attribute values). */
export const HASH_BYTES = 8;

/**
 * The first 8 bytes of sha256(text), as an 8-character latin1 string (a cheap Set key that converts
 * back to the same bytes). Two different ids share one with probability ~n²/2⁶⁵: about 3e-12 for a
 * window of 10,000 events.
 */
export function valueHash(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest().toString('latin1', 0, HASH_BYTES);
}
