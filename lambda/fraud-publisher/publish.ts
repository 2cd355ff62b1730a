/**
 * Publishing one batch: alerts to SNS and/or EventBridge then their `deliveredAt` mark, results to
 * the results table then the lake stream, with the I/O behind injectable senders (index.ts gives the
 * SDK's, tests give fakes).
 */
import { packPutRecords, streamTarget, type PutRecordsEntry, type PutRecordsInput, type PutRecordsOutput } from '../shared/put-records-packer';
import { errorName } from '../shared/unknown';
import type { PlannedAlert, PlannedResult, Plan, PublisherConfig } from './core';
import { deliverAll, type CallOutcome, type DeliveryBudget } from './deliver';
import {
  eventEntry, eventEntryBytes, EVENTS_MAX_BYTES, EVENTS_MAX_ENTRIES, isFifoTopic, packBySize, SNS_MAX_BYTES, SNS_MAX_ENTRIES,
  snsEntry, snsEntryBytes, type EventEntry, type SnsEntry,
} from './messages';
import type { AttributeValue } from './results';

/** The calls the publisher makes, shaped like the SDK v3 commands' inputs and outputs. */
export interface PublisherSenders {
  publishBatch(input: { TopicArn: string; PublishBatchRequestEntries: SnsEntry[] }): Promise<{
    Successful?: { Id?: string }[];
    Failed?: { Id?: string; Code?: string; Message?: string; SenderFault?: boolean }[];
  }>;
  putEvents(input: { Entries: EventEntry[] }): Promise<{ FailedEntryCount?: number; Entries?: { EventId?: string; ErrorCode?: string }[] }>;
  /** Rejects with an error named ConditionalCheckFailedException when the condition fails. */
  putItem(input: { TableName: string; Item: Record<string, AttributeValue>; ConditionExpression: string }): Promise<unknown>;
  /** Rejects with an error named ConditionalCheckFailedException when the condition fails. */
  updateItem(input: {
    TableName: string; Key: Record<string, AttributeValue>; UpdateExpression: string; ConditionExpression: string;
    ExpressionAttributeValues: Record<string, AttributeValue>;
  }): Promise<unknown>;
  putRecords(input: PutRecordsInput): Promise<PutRecordsOutput>;
}

/** PutEvents per-entry codes a resend cannot fix. */
const EVENTS_PERMANENT = new Set(['MalformedDetail', 'InvalidArgument', 'AccessDeniedException', 'NotAuthorizedForSourceException', 'NotAuthorizedForDetailTypeException', 'ValidationException']);
const CONDITIONAL = 'ConditionalCheckFailedException';

/** A failure of one destination for one stream record, for the log. */
export interface DeliveryFailure {
  readonly index: number;
  readonly id: string;
  readonly destination: 'sns' | 'events' | 'results-table' | 'lake-stream';
  readonly code: string;
}

export interface BatchOutcome {
  readonly failures: DeliveryFailure[];
  readonly alertsPublished: number;
  readonly alertRedeliveries: number;
  /** Alerts published whose `deliveredAt` could not be written (they stay published; logged only). */
  readonly markFailures: number;
  readonly resultsPublished: number;
  readonly resultRedeliveries: number;
}

interface Tagged<T> { readonly n: number; readonly value: T }

async function sendSns(alerts: readonly PlannedAlert[], topicArn: string, senders: PublisherSenders, budget: DeliveryBudget): Promise<Map<PlannedAlert, string>> {
  const fifo = isFifoTopic(topicArn);
  // Entry Ids are unique within the batch, so within every call; the response names entries by Id.
  const entries: Tagged<SnsEntry>[] = alerts.map((a, n) => ({ n, value: snsEntry(a.message, `a${n}`, fifo) }));
  const { failed } = await deliverAll(
    entries,
    (pending) => packBySize(pending, (e) => snsEntryBytes(e.value), SNS_MAX_ENTRIES, SNS_MAX_BYTES),
    async (call): Promise<CallOutcome<Tagged<SnsEntry>>> => {
      const out = await senders.publishBatch({ TopicArn: topicArn, PublishBatchRequestEntries: call.map((e) => e.value) });
      const ok = new Set((out.Successful ?? []).map((s) => s.Id));
      const bad = new Map((out.Failed ?? []).map((f) => [f.Id, f]));
      const retry: { entry: Tagged<SnsEntry>; code: string }[] = [];
      const permanent: { entry: Tagged<SnsEntry>; code: string }[] = [];
      for (const entry of call) {
        if (ok.has(entry.value.Id)) continue;
        const f = bad.get(entry.value.Id);
        // SenderFault: the request itself is wrong for this entry; resending it fails the same way.
        if (f?.SenderFault) permanent.push({ entry, code: f.Code ?? 'SenderFault' });
        else retry.push({ entry, code: f?.Code ?? 'NoResult' });
      }
      return { retry, failed: permanent };
    },
    budget,
  );
  return new Map([...failed].map(([e, code]) => [alerts[e.n], code]));
}

async function sendEvents(alerts: readonly PlannedAlert[], busName: string, senders: PublisherSenders, budget: DeliveryBudget): Promise<Map<PlannedAlert, string>> {
  const entries: Tagged<EventEntry>[] = alerts.map((a, n) => ({ n, value: eventEntry(a.message, busName) }));
  const { failed } = await deliverAll(
    entries,
    (pending) => packBySize(pending, (e) => eventEntryBytes(e.value), EVENTS_MAX_ENTRIES, EVENTS_MAX_BYTES),
    async (call): Promise<CallOutcome<Tagged<EventEntry>>> => {
      const out = await senders.putEvents({ Entries: call.map((e) => e.value) });
      const results = out.Entries ?? [];
      // Results match the request by position; a short answer leaves the rest unknown, so resend them.
      if (results.length !== call.length) return { retry: call.map((entry) => ({ entry, code: 'MalformedResponse' })), failed: [] };
      const retry: { entry: Tagged<EventEntry>; code: string }[] = [];
      const permanent: { entry: Tagged<EventEntry>; code: string }[] = [];
      call.forEach((entry, i) => {
        const code = results[i].ErrorCode;
        if (!code && results[i].EventId !== undefined) return;
        (code && EVENTS_PERMANENT.has(code) ? permanent : retry).push({ entry, code: code ?? 'NoEventId' });
      });
      return { retry, failed: permanent };
    },
    budget,
  );
  return new Map([...failed].map(([e, code]) => [alerts[e.n], code]));
}

/**
 * A conditional write per entry (DynamoDB cannot batch conditions except in transactions, where one
 * redelivered item would cancel all the others). A failed condition counts as written, and is
 * reported through `onConditionFailed`.
 */
async function conditionalWrites<T>(items: readonly T[], write: (item: T) => Promise<unknown>, onConditionFailed: (item: T) => void, budget: DeliveryBudget): Promise<Map<T, string>> {
  const { failed } = await deliverAll(
    items,
    (pending) => pending.map((item) => [item]),
    async ([item]): Promise<CallOutcome<T>> => {
      try {
        await write(item);
      } catch (error) {
        if (errorName(error) !== CONDITIONAL) throw error;
        onConditionFailed(item);
      }
      return { retry: [], failed: [] };
    },
    budget,
  );
  return failed;
}

async function sendLake(results: readonly PlannedResult[], stream: string, senders: PublisherSenders, budget: DeliveryBudget): Promise<Map<PlannedResult, string>> {
  const failures = new Map<PlannedResult, string>();
  const entries = new Map<PutRecordsEntry, PlannedResult>();
  for (const r of results) if (r.lake) entries.set(r.lake, r);
  const { batches, rejected } = packPutRecords([...entries.keys()]);
  for (const r of rejected) failures.set(entries.get(r.entry)!, r.reason);
  const sendable = batches.flat();
  const { failed } = await deliverAll(
    sendable,
    (pending) => packPutRecords(pending).batches,
    async (call): Promise<CallOutcome<PutRecordsEntry>> => {
      const out = await senders.putRecords({ ...streamTarget(stream), Records: call.map((e) => ({ Data: e.data, PartitionKey: e.partitionKey })) });
      const records = out.Records ?? [];
      if (records.length !== call.length) return { retry: call.map((entry) => ({ entry, code: 'MalformedResponse' })), failed: [] };
      // Results match the request by position; every per-record code (throughput, InternalFailure) is worth a resend.
      return { retry: call.flatMap((entry, i) => (records[i].ErrorCode ? [{ entry, code: records[i].ErrorCode! }] : [])), failed: [] };
    },
    budget,
  );
  for (const [entry, code] of failed) failures.set(entries.get(entry)!, code);
  return failures;
}

export interface PublishContext {
  readonly config: PublisherConfig;
  readonly senders: PublisherSenders;
  readonly budget: DeliveryBudget;
}

async function publishAlerts(plan: Plan, { config, senders, budget }: PublishContext) {
  const failures: DeliveryFailure[] = [];
  const [snsFailed, eventsFailed] = await Promise.all([
    config.alertTopicArn ? sendSns(plan.alerts, config.alertTopicArn, senders, budget) : new Map<PlannedAlert, string>(),
    config.alertEventBusName ? sendEvents(plan.alerts, config.alertEventBusName, senders, budget) : new Map<PlannedAlert, string>(),
  ]);
  for (const [a, code] of snsFailed) failures.push({ index: a.index, id: a.message.alertId, destination: 'sns', code });
  for (const [a, code] of eventsFailed) failures.push({ index: a.index, id: a.message.alertId, destination: 'events', code });
  const published = plan.alerts.filter((a) => !snsFailed.has(a) && !eventsFailed.has(a));
  // Marked only once every destination has it: the mark means "published", and its failed condition
  // is how a redelivery is told apart from a first delivery.
  let redeliveries = 0;
  const markFailed = await conditionalWrites(published, (a) => senders.updateItem({
    TableName: config.stateTable,
    Key: { pk: { S: a.pk } },
    UpdateExpression: 'SET deliveredAt = :now',
    ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(deliveredAt)',
    ExpressionAttributeValues: { ':now': { N: String(Date.now()) } },
  }), () => redeliveries++, budget);
  return { failures, alertsPublished: published.length, alertRedeliveries: redeliveries, markFailures: markFailed.size };
}

/**
 * Results: the table first, then the lake, for each result the table holds. Why this order: the
 * table write is idempotent (its condition turns a second write into a counted no-op) and the lake
 * is not (PutRecords appends), so writing the lake only once the table has the row keeps lake
 * duplicates to the cases where the lake write itself is repeated; and a row is never in the lake
 * without being in the table. A row the table already had (ConditionalCheckFailed, a redelivery)
 * still goes to the lake: the earlier attempt may have stopped between the two writes. Lake
 * consumers dedupe on result_id.
 */
async function publishResults(plan: Plan, { config, senders, budget }: PublishContext) {
  const failures: DeliveryFailure[] = [];
  let redeliveries = 0;
  const tableFailed = await conditionalWrites(plan.results, (r) => senders.putItem({
    TableName: config.resultsTable, Item: r.item, ConditionExpression: 'attribute_not_exists(customer_id)',
  }), () => redeliveries++, budget);
  for (const [r, code] of tableFailed) failures.push({ index: r.index, id: r.result.result_id, destination: 'results-table', code });
  const inTable = plan.results.filter((r) => !tableFailed.has(r));
  const lakeFailed = config.lakeStream ? await sendLake(inTable, config.lakeStream, senders, budget) : new Map<PlannedResult, string>();
  for (const [r, code] of lakeFailed) failures.push({ index: r.index, id: r.result.result_id, destination: 'lake-stream', code });
  return { failures, resultsPublished: inTable.length - lakeFailed.size, resultRedeliveries: redeliveries };
}

/** Publishes a planned batch; alerts and results go out side by side. */
export async function publishPlan(plan: Plan, context: PublishContext): Promise<BatchOutcome> {
  const [alerts, results] = await Promise.all([publishAlerts(plan, context), publishResults(plan, context)]);
  return {
    failures: [...alerts.failures, ...results.failures].sort((a, b) => a.index - b.index),
    alertsPublished: alerts.alertsPublished,
    alertRedeliveries: alerts.alertRedeliveries,
    markFailures: alerts.markFailures,
    resultsPublished: results.resultsPublished,
    resultRedeliveries: results.resultRedeliveries,
  };
}
