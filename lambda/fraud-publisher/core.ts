/**
 * The fraud publisher's pure core: from a DynamoDB Streams batch of the state table to what must be
 * sent (alerts to SNS and/or EventBridge, results to the results table and the lake stream), which
 * stream record each send belongs to, the checkpoint to report, and the EMF metrics line.
 * No SDK, no I/O: publish.ts drives the sends, index.ts adapts Lambda and the SDK.
 */
import type { FraudWindowResult } from '../shared/fraud/spec';
import { emfDocument } from '../shared/batch/emf';
import type { PutRecordsEntry } from '../shared/put-records-packer';
import { classify, type StreamRecord } from './decode';
import { alertMessage, type AlertMessage } from './messages';
import { lakeEntry, lakeRow, resultItem, type AttributeValue } from './results';

export * from './decode';
export * from './messages';
export * from './results';

/** Where alerts and results go; read from the environment by index.ts (contract section 7). */
export interface PublisherConfig {
  /** ALERT_TOPIC_ARN. @default no SNS */
  readonly alertTopicArn?: string;
  /** ALERT_EVENT_BUS_NAME. @default no EventBridge */
  readonly alertEventBusName?: string;
  /** RESULTS_TABLE. */
  readonly resultsTable: string;
  /** LAKE_STREAM_NAME (a name or an ARN). @default no lake stream */
  readonly lakeStream?: string;
  /** STATE_TABLE: where alert outbox items get `deliveredAt`. */
  readonly stateTable: string;
  /** METRICS_NAMESPACE. @default StreamingPipelines/Fraud */
  readonly metricsNamespace: string;
  /** PIPELINE_NAME, the `Pipeline` dimension. */
  readonly pipelineName: string;
}

export const DEFAULT_METRICS_NAMESPACE = 'StreamingPipelines/Fraud';

/**
 * The event-source mapping's filter patterns (contract section 6; any one matching passes a record):
 * alert outbox INSERTs, and closed windows on INSERT or MODIFY. Filtering drops the scorer's other
 * writes (open windows, shard items) and TTL deletions before they cost an invocation. The construct
 * in lib/ sets the same JSON (it cannot import handler code); `classify` applies the same rules, so a
 * mapping without the filter behaves the same.
 */
export const ESM_FILTER_PATTERNS: readonly Record<string, unknown>[] = [
  { eventName: ['INSERT'], dynamodb: { NewImage: { kind: { S: ['alert'] } } } },
  { eventName: ['INSERT', 'MODIFY'], dynamodb: { NewImage: { status: { S: ['closed'] } } } },
];

/** Reads the configuration from environment variables; throws naming what is missing. */
export function configFromEnv(env: Record<string, string | undefined>): PublisherConfig {
  const required = (name: string): string => {
    const v = env[name];
    if (!v) throw new Error(`fraud-publisher: environment variable ${name} is required`);
    return v;
  };
  const optional = (name: string): string | undefined => (env[name] ? env[name] : undefined);
  return {
    alertTopicArn: optional('ALERT_TOPIC_ARN'),
    alertEventBusName: optional('ALERT_EVENT_BUS_NAME'),
    resultsTable: required('RESULTS_TABLE'),
    lakeStream: optional('LAKE_STREAM_NAME'),
    stateTable: required('STATE_TABLE'),
    metricsNamespace: optional('METRICS_NAMESPACE') ?? DEFAULT_METRICS_NAMESPACE,
    pipelineName: optional('PIPELINE_NAME') ?? 'unknown',
  };
}

export interface PlannedAlert {
  /** Position of its stream record in the batch. */
  readonly index: number;
  /** The outbox item's key, for the `deliveredAt` mark. */
  readonly pk: string;
  readonly message: AlertMessage;
}

export interface PlannedResult {
  readonly index: number;
  readonly result: FraudWindowResult;
  readonly item: Record<string, AttributeValue>;
  /** Undefined when there is no lake stream. */
  readonly lake?: PutRecordsEntry;
}

export interface Unpublishable {
  readonly index: number;
  readonly pk: string;
  readonly sequenceNumber?: string;
  readonly why: string;
}

export interface Plan {
  /** The batch's records' sequence numbers (the ESM's item identifiers), by position. */
  readonly sequenceNumbers: readonly (string | undefined)[];
  readonly alerts: readonly PlannedAlert[];
  readonly results: readonly PlannedResult[];
  /** Records that are not the publisher's business (TTL REMOVEs, open windows, ...). */
  readonly ignored: number;
  /** Alerts skipped because no destination is configured. */
  readonly alertsWithoutDestination: number;
  /** The publisher's records that can never be published (see `classify`); logged and skipped. */
  readonly unpublishable: readonly Unpublishable[];
}

export interface PlanOptions {
  /** Whether any alert destination (topic or bus) is configured. */
  readonly alertDestination: boolean;
  /** Whether a lake stream is configured. */
  readonly lake: boolean;
}

/**
 * What the batch asks for, record by record. A record that can never be published (malformed JSON,
 * an alert that cannot fit 256 KB even with one evidence id) is skipped, not failed: retrying it
 * cannot succeed, and failing it would hold back every record behind it on the shard until the
 * mapping's retries ran out and then discard them with it. It is logged with its key (the item stays
 * in the state table until its TTL) and counted in the `Unpublishable` metric.
 */
export function planBatch(records: readonly StreamRecord[], options: PlanOptions): Plan {
  const alerts: PlannedAlert[] = [];
  const results: PlannedResult[] = [];
  const unpublishable: Unpublishable[] = [];
  let ignored = 0;
  let alertsWithoutDestination = 0;
  const sequenceNumbers = records.map((r) => r?.dynamodb?.SequenceNumber);
  records.forEach((record, index) => {
    const c = classify(record ?? {});
    const sequenceNumber = sequenceNumbers[index];
    switch (c.kind) {
      case 'ignored':
        ignored++;
        return;
      case 'malformed':
        unpublishable.push({ index, pk: c.pk, sequenceNumber, why: c.why });
        return;
      case 'alert': {
        if (!options.alertDestination) {
          alertsWithoutDestination++;
          return;
        }
        const message = alertMessage(c.alert);
        if (!message) unpublishable.push({ index, pk: c.pk, sequenceNumber, why: 'alert does not fit 256 KB even with one evidence id' });
        else alerts.push({ index, pk: c.pk, message });
        return;
      }
      case 'result': {
        const row = lakeRow(c.result);
        if (typeof row === 'string') {
          unpublishable.push({ index, pk: c.pk, sequenceNumber, why: row });
          return;
        }
        results.push({ index, result: c.result, item: resultItem(c.result), ...(options.lake ? { lake: lakeEntry(row, c.result.customer_id) } : {}) });
        return;
      }
    }
  });
  return { sequenceNumbers, alerts, results, ignored, alertsWithoutDestination, unpublishable };
}

/**
 * The checkpoint rule: the ESM resumes at the lowest reported sequence number, so report the first
 * record (in batch order) that is not fully published, and nothing when all are. Every record after
 * it is delivered again, published or not: consumers dedupe on alert_id / result_id.
 */
export function checkpoint(plan: Plan, failedIndexes: Iterable<number>): { itemIdentifier: string }[] {
  let first = Infinity;
  for (const i of failedIndexes) first = Math.min(first, i);
  if (first === Infinity) return [];
  // An empty identifier makes Lambda retry the whole batch: the safe side for a record without one.
  return [{ itemIdentifier: plan.sequenceNumbers[first] ?? '' }];
}

/** What one invocation did, for the metrics line. */
export interface PublisherCounts {
  readonly records: number;
  /** Alerts sent to every configured destination in this invocation (redeliveries included). */
  readonly alertsPublished: number;
  /** Published alerts whose outbox item already had `deliveredAt`: a previous attempt had published them. */
  readonly alertRedeliveries: number;
  /** Results written to the table (or found there) and to the lake stream, if any. */
  readonly resultsPublished: number;
  /** Results whose table row already existed. */
  readonly resultRedeliveries: number;
  readonly unpublishable: number;
  readonly ignored: number;
  /** Records of the batch not fully published (from the checkpoint on, all are redelivered). */
  readonly failedRecords: number;
}

/** The EMF line: contract section 8's four metrics, plus `Unpublishable` so skipped records can page. */
export function publisherMetrics(counts: PublisherCounts, config: Pick<PublisherConfig, 'metricsNamespace' | 'pipelineName'>, timestamp?: number): Record<string, unknown> {
  return {
    ...emfDocument([
      ['AlertsPublished', counts.alertsPublished, 'Count'],
      ['AlertRedeliveries', counts.alertRedeliveries, 'Count'],
      ['ResultsPublished', counts.resultsPublished, 'Count'],
      ['ResultRedeliveries', counts.resultRedeliveries, 'Count'],
      ['Unpublishable', counts.unpublishable, 'Count'],
    ], { namespace: config.metricsNamespace, dimensions: { Pipeline: config.pipelineName }, timestamp }),
    records: counts.records,
    ignored: counts.ignored,
    failedRecords: counts.failedRecords,
  };
}
