/**
 * Selecting: which archived records a replay writes, and the entry each one
 * becomes (tagged or not).
 *
 * A record is selected when its arrival is in [fromMs, toMs), its partition
 * key is one of the filter's (when given) and its payload, parsed as a JSON
 * object, holds at the filter's path one of its values (strictly equal).
 */
import type { ArchivedRecord } from '../shared/archive-format';
import { parseJsonObject } from '../shared/decode-record';
import { getAtPath } from '../shared/dotted-path';
import { encodeTaggedRecord, taggedRecordSize, type KplTag } from '../shared/kpl-encode';
import type { PutRecordsEntry, PutRecordsLimits } from '../shared/put-records-packer';
import type { CompiledFilter, ReplayTagging } from './input';

/** Why a record is not replayed, or its payload when it is. */
export type Selection = { readonly skipped: 'outside' | 'filtered' } | { readonly skipped?: undefined; readonly data: Buffer };

/** The window and filter as one test; the payload is decoded only for records the cheaper tests keep. */
export function recordSelector(filter: CompiledFilter, fromMs: number, toMs: number): (record: ArchivedRecord) => Selection {
  const { partitionKeys, payloadPath, payloadValues } = filter;
  const payloadSelects = (data: Buffer): boolean => {
    if (payloadPath === undefined || payloadValues === undefined) return true;
    const parsed = parseJsonObject(data);
    if (!parsed.ok) return false;
    const value = getAtPath(parsed.value, payloadPath);
    return (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') && payloadValues.has(value);
  };
  return (record) => {
    const t = record.approximate_arrival_timestamp;
    if (t < fromMs || t >= toMs) return { skipped: 'outside' };
    if (partitionKeys !== undefined && !partitionKeys.has(record.partition_key)) return { skipped: 'filtered' };
    const data = Buffer.from(record.data, 'base64');
    return payloadSelects(data) ? { data } : { skipped: 'filtered' };
  };
}

export interface ReplayEntry {
  readonly entry: PutRecordsEntry;
  /** A `kpl-tag` record sent as archived: the wrapper would push it over the record limit. */
  readonly untagged: boolean;
}

/** The PutRecords entry of a selected record: wrapped with a `replay_id` tag for `kpl-tag`, when it still fits. */
export function entryMaker(tagging: ReplayTagging, replayId: string, limits: PutRecordsLimits): (data: Buffer, partitionKey: string) => ReplayEntry {
  const tags: KplTag[] = [{ key: 'replay_id', value: replayId }];
  return (data, partitionKey) => {
    if (tagging === 'none') return { entry: { data, partitionKey }, untagged: false };
    const wrapped = taggedRecordSize(data.byteLength, partitionKey, tags) + Buffer.byteLength(partitionKey, 'utf8');
    if (wrapped > limits.maxRecordBytes) return { entry: { data, partitionKey }, untagged: true };
    return { entry: { data: encodeTaggedRecord(data, partitionKey, tags), partitionKey }, untagged: false };
  };
}
