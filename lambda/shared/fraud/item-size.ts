/**
 * The DynamoDB item-size bound of a window item (400 KB per item), derived from the spec.
 *
 * DynamoDB sizes an item as the UTF-8 bytes of its attribute names plus its values (a number takes
 * at most 21 bytes, a list 3 bytes plus 1 per element). A window item holds (item-codec.ts):
 *   ids       8 bytes per accepted event (sha256 prefix)        ≤ 8 × maxEventsPerWindow
 *   d<i>      8 bytes per distinct value, one per attribute       ≤ 8 × distinctCap × attributes
 *   r         the last evidenceEventIds ids (≤ 256 UTF-16 units = ≤ 768 UTF-8 bytes each)
 *   k         the fired alert keys (rule ids ≤ 128 chars = ≤ 384 bytes, and `*score`)
 *   result    the closed window's result JSON (customer id escaped, attribute and rule names)
 *   pk, shard, openShard and the scalars: bounded by MAX_CUSTOMER_ID_BYTES and MAX_SHARD_KEY_BYTES.
 * A spec whose bound exceeds DynamoDB's limit is refused at init (validate-spec.ts), so a window can
 * never grow into an item DynamoDB refuses (which would block its shard).
 */
import { MAX_EVENT_ID_LENGTH, type FraudSpec } from './spec';

/** DynamoDB's item size limit. */
export const MAX_ITEM_BYTES = 400 * 1024;
/** Longest customer id accepted, in UTF-8 bytes (keeps the pk under DynamoDB's 2,048-byte key limit). */
export const MAX_CUSTOMER_ID_BYTES = 1024;
/** Longest `${eventSourceARN}|${shardId}` the engine stores (a stream ARN is ~150 bytes at most). */
export const MAX_SHARD_KEY_BYTES = 512;
/** Longest rule id accepted by the spec check. */
export const MAX_RULE_ID_LENGTH = 128;
/** Scalar attributes, their names and the result's fixed JSON (field names, ISO times, numbers). */
const FIXED_BYTES = 2048;
/** JSON.stringify writes a control character as \u00XX: six bytes for one. */
const JSON_ESCAPE = 6;

export function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/** The largest window item the spec allows, in bytes. */
export function windowItemSizeBound(spec: FraudSpec): number {
  const attrs = spec.schema.attributes;
  const ids = 3 + 8 * spec.maxEventsPerWindow;
  const distinct = attrs.reduce((n, _a, i) => n + `d${i}`.length + 8 * spec.distinctCap, 0);
  const recent = 1 + 3 + spec.evidenceEventIds * (1 + 3 * MAX_EVENT_ID_LENGTH);
  const ruleIds = spec.rules.reduce((n, r) => n + utf8Bytes(r.id), 0);
  const fired = 1 + 3 + spec.rules.length + 1 + ruleIds + '*score'.length;
  const names = attrs.reduce((n, a) => n + JSON_ESCAPE * a.length + 24, 0);
  const result = 6 + JSON_ESCAPE * MAX_CUSTOMER_ID_BYTES + 2 * names + 2 * (JSON_ESCAPE * 3 * ruleIds + 3 * spec.rules.length) + 16;
  const keys = 2 + 34 + MAX_CUSTOMER_ID_BYTES + 3 * (10 + MAX_SHARD_KEY_BYTES);
  return FIXED_BYTES + keys + ids + distinct + recent + fired + result;
}
