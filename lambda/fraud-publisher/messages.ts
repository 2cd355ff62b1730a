/**
 * The alert messages: one JSON body per alert, fitted to the 256 KB both SNS and EventBridge allow,
 * then shaped into PublishBatch and PutEvents entries and packed into calls within their limits.
 */
import { createHash } from 'node:crypto';
import type { FraudAlert } from '../shared/fraud/spec';

/** SNS: a message, and a whole PublishBatch call, are at most 256 KiB; a call holds at most 10 messages. */
export const SNS_MAX_BYTES = 262_144;
export const SNS_MAX_ENTRIES = 10;
/** EventBridge: the entries of one PutEvents call total at most 256 KiB (sized as its docs say); at most 10 entries. */
export const EVENTS_MAX_BYTES = 262_144;
export const EVENTS_MAX_ENTRIES = 10;

export const ALERT_SOURCE = 'cdk-streaming-pipelines.fraud';
export const ALERT_DETAIL_TYPE = 'FraudAlert';

const utf8 = (s: string): number => Buffer.byteLength(s, 'utf8');

/** SNS message attributes the publisher sets, by name. */
const SNS_ATTRIBUTES = ['alert_id', 'alert_key', 'customer_id'] as const;

/**
 * The most bytes an alert's body may have so that it fits both destinations: SNS counts the body
 * plus its message attributes (names, the `String` type and values: alert_id, alert_key and
 * customer_id), EventBridge the body plus Source and DetailType.
 */
export function alertBodyLimit(alert: Pick<FraudAlert, 'alert_id' | 'alert_key' | 'customer_id'>): number {
  const values = { alert_id: alert.alert_id, alert_key: alert.alert_key, customer_id: alert.customer_id };
  const snsAttributes = SNS_ATTRIBUTES.reduce((n, name) => n + utf8(name) + utf8('String') + utf8(values[name]), 0);
  return Math.min(SNS_MAX_BYTES - snsAttributes, EVENTS_MAX_BYTES - utf8(ALERT_SOURCE) - utf8(ALERT_DETAIL_TYPE));
}

/** An alert ready to send: its body (what SNS Message and EventBridge Detail carry) and keys. */
export interface AlertMessage {
  readonly alertId: string;
  readonly customerId: string;
  readonly alertKey: string;
  readonly body: string;
  /** Evidence ids dropped to fit the size limit (0 almost always). */
  readonly evidenceOmitted: number;
}

/**
 * The alert's JSON body, at most `maxBytes` (UTF-8; by default what fits SNS and EventBridge). An alert normally is a few KB; only a spec with
 * very many, very long evidence ids can outgrow the limit. Then the OLDEST evidence ids are dropped
 * (the triggering one is always kept, it ends the list), and the body says how many with
 * `evidence_event_ids_omitted`, so a consumer knows the list is partial. The cut depends only on
 * the alert, so every redelivery sends the same bytes. Returns undefined when even one evidence id
 * does not fit (not reachable within the contract's bounds: ids are at most 256 characters).
 */
export function alertMessage(alert: FraudAlert, maxBytes = alertBodyLimit(alert)): AlertMessage | undefined {
  const base = { alertId: alert.alert_id, customerId: alert.customer_id, alertKey: alert.alert_key };
  const full = JSON.stringify(alert);
  if (utf8(full) <= maxBytes) return { ...base, body: full, evidenceOmitted: 0 };
  const ids = alert.evidence_event_ids;
  const bodyKeeping = (kept: number): string => JSON.stringify({
    ...alert,
    evidence_event_ids: ids.slice(ids.length - kept),
    evidence_event_ids_omitted: ids.length - kept,
  });
  // Binary search for the most ids (newest first) that fit: size grows with the number kept.
  let lo = 1;
  let hi = ids.length - 1;
  if (ids.length === 0 || utf8(bodyKeeping(1)) > maxBytes) return undefined;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (utf8(bodyKeeping(mid)) <= maxBytes) lo = mid;
    else hi = mid - 1;
  }
  return { ...base, body: bodyKeeping(lo), evidenceOmitted: ids.length - lo };
}

// ---------------------------------------------------------------- SNS

export interface SnsAttribute { DataType: 'String'; StringValue: string }

/** One PublishBatch entry, shaped like the SDK's `PublishBatchRequestEntry`. */
export interface SnsEntry {
  Id: string;
  Message: string;
  MessageAttributes: Record<string, SnsAttribute>;
  MessageGroupId?: string;
  MessageDeduplicationId?: string;
}

/** A FIFO topic's name ends in `.fifo`. */
export const isFifoTopic = (topicArn: string): boolean => topicArn.endsWith('.fifo');

/** SNS MessageGroupId: 1..128 characters, alphanumeric or punctuation (printable ASCII without space). */
const GROUP_ID = /^[\x21-\x7e]{1,128}$/;

/**
 * The FIFO message group: the customer id (contract section 7). It gives no cross-window order
 * guarantee: outbox items have distinct keys, so DynamoDB Streams orders none of them against each
 * other, and the publisher sends calls side by side. A customer id
 * SNS cannot take as a group id (longer than 128, spaces, non-ASCII) is replaced by `sha256:` and
 * its hex digest: still one group per customer, deterministic.
 */
export function messageGroupId(customerId: string): string {
  return GROUP_ID.test(customerId) ? customerId : `sha256:${createHash('sha256').update(customerId, 'utf8').digest('hex')}`;
}

/**
 * The PublishBatch entry of an alert. `id` is the entry's Id in its call (unique per call).
 * Message attributes alert_id, alert_key and customer_id let subscriptions filter (standard and FIFO
 * topics both support filter policies). A FIFO topic gets MessageGroupId = customer id and
 * MessageDeduplicationId = alert_id, so SNS drops a redelivered alert within its 5-minute window.
 */
export function snsEntry(message: AlertMessage, id: string, fifo: boolean): SnsEntry {
  const entry: SnsEntry = {
    Id: id,
    Message: message.body,
    MessageAttributes: {
      alert_id: { DataType: 'String', StringValue: message.alertId },
      alert_key: { DataType: 'String', StringValue: message.alertKey },
      customer_id: { DataType: 'String', StringValue: message.customerId },
    },
  };
  if (fifo) {
    entry.MessageGroupId = messageGroupId(message.customerId);
    entry.MessageDeduplicationId = message.alertId;
  }
  return entry;
}

/** What an SNS entry counts against the 256 KiB: the body plus every attribute's name, type and value. */
export function snsEntryBytes(entry: SnsEntry): number {
  let bytes = utf8(entry.Message);
  for (const [name, a] of Object.entries(entry.MessageAttributes)) bytes += utf8(name) + utf8(a.DataType) + utf8(a.StringValue);
  return bytes;
}

// ---------------------------------------------------------------- EventBridge

/** One PutEvents entry, shaped like the SDK's `PutEventsRequestEntry`. */
export interface EventEntry {
  Source: string;
  DetailType: string;
  Detail: string;
  EventBusName: string;
}

export function eventEntry(message: AlertMessage, eventBusName: string): EventEntry {
  return { Source: ALERT_SOURCE, DetailType: ALERT_DETAIL_TYPE, Detail: message.body, EventBusName: eventBusName };
}

/**
 * An entry's size as EventBridge counts it ("Calculating PutEvents event entry size"): Source,
 * DetailType and Detail as UTF-8 (no Time, no Resources are set; the bus name does not count).
 */
export function eventEntryBytes(entry: EventEntry): number {
  return utf8(entry.Source) + utf8(entry.DetailType) + utf8(entry.Detail);
}

// ---------------------------------------------------------------- packing

/**
 * Greedy, in input order: a new call starts when the next entry would pass `maxEntries` or
 * `maxBytes`. An entry larger than `maxBytes` on its own goes alone (the caller made sure none is).
 */
export function packBySize<T>(entries: readonly T[], sizeOf: (entry: T) => number, maxEntries: number, maxBytes: number): T[][] {
  const calls: T[][] = [];
  let call: T[] = [];
  let bytes = 0;
  for (const entry of entries) {
    const size = sizeOf(entry);
    if (call.length === maxEntries || (call.length > 0 && bytes + size > maxBytes)) {
      calls.push(call);
      call = [];
      bytes = 0;
    }
    call.push(entry);
    bytes += size;
  }
  if (call.length > 0) calls.push(call);
  return calls;
}
