/**
 * The late sink and the failure (invalid) objects of a batch (contract section 7): one JSON-lines
 * object per batch each, keyed by the batch's first and last sequence numbers, so a retried batch
 * overwrites its own object. Pure: the adapter puts what this returns.
 */
import { windowIso } from '../shared/fraud/ids';
import type { FraudUnit } from '../shared/fraud/parse-event';
import type { UnitOutcome } from './core';

export interface SinkObject {
  readonly key: string;
  readonly body: string;
  readonly lines: number;
}

function datePath(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10).replace(/-/g, '/');
}

/** `${prefix}/yyyy/MM/dd/${shardId}/${firstSeq}-${lastSeq}.jsonl`, dated by the first record's arrival (deterministic). */
export function sinkKey(prefix: 'late' | 'invalid', units: readonly FraudUnit[], shardId: string): string {
  const first = units[0];
  const last = units[units.length - 1];
  return `${prefix}/${datePath(first.arrivalMs)}/${shardId}/${first.sequenceNumber}-${last.sequenceNumber}.jsonl`;
}

function payloadOf(u: FraudUnit): unknown {
  try {
    return JSON.parse(u.bytes.toString('utf8'));
  } catch {
    return u.bytes.toString('base64');
  }
}

/** Late-sink lines of `units[0..count)`. */
export function lateObject(units: readonly FraudUnit[], outcomes: readonly UnitOutcome[], wmBefore: readonly (number | undefined)[], shardId: string, count: number): SinkObject | undefined {
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const o = outcomes[i];
    const u = units[i];
    if ((o.kind !== 'applied' && o.kind !== 'late') || o.late.length === 0 || !u.parsed.ok) continue;
    const e = u.parsed.event;
    lines.push(JSON.stringify({
      event_id: e.eventId, customer_id: e.customerId, event_time: windowIso(e.timeMs),
      late_windows: o.late.map((w) => ({ window_start: windowIso(w.startMs), window_end: windowIso(w.endMs) })),
      watermark: windowIso(wmBefore[i] as number), shard_id: shardId, sequence_number: u.sequenceNumber, payload: payloadOf(u),
    }));
  }
  return lines.length === 0 ? undefined : { key: sinkKey('late', units, shardId), body: lines.join('\n') + '\n', lines: lines.length };
}

/** Failure-destination lines (invalid events and window_full) of `units[0..count)`. */
export function invalidObject(units: readonly FraudUnit[], outcomes: readonly UnitOutcome[], shardId: string, count: number): SinkObject | undefined {
  const perRecord = new Map<number, number>();
  for (const u of units) perRecord.set(u.record, (perRecord.get(u.record) ?? 0) + 1);
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const o = outcomes[i];
    if (o.kind !== 'invalid' && o.kind !== 'window_full') continue;
    const u = units[i];
    const aggregated = (perRecord.get(u.record) ?? 1) > 1 || u.subSequence > 0;
    lines.push(JSON.stringify({
      reason: o.kind === 'invalid' ? o.reason : 'window_full', shard_id: shardId, sequence_number: u.sequenceNumber,
      ...(aggregated ? { sub_sequence: u.subSequence } : {}), arrival: windowIso(u.arrivalMs), payload_base64: u.bytes.toString('base64'),
    }));
  }
  return lines.length === 0 ? undefined : { key: sinkKey('invalid', units, shardId), body: lines.join('\n') + '\n', lines: lines.length };
}
