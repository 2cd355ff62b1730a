/**
 * The Lambda handler over injectable senders: plan the batch, publish it, report the checkpoint,
 * write the metrics line. index.ts gives it the SDK's senders.
 */
import { isObject } from '../shared/unknown';
import { checkpoint, planBatch, publisherMetrics, type PublisherConfig } from './core';
import type { StreamRecord } from './decode';
import type { DeliveryBudget } from './deliver';
import { publishPlan, type PublisherSenders } from './publish';

export interface LambdaContextLike {
  getRemainingTimeInMillis(): number;
}

export interface DynamoDbStreamResponse {
  batchItemFailures: { itemIdentifier: string }[];
}

export type PublisherHandler = (event: unknown, context: LambdaContextLike) => Promise<DynamoDbStreamResponse>;

/** Retry tuning; everything but the senders has a default. */
export type HandlerOptions = Partial<Omit<DeliveryBudget, 'remainingMs'>> & {
  /** Where log lines go. @default console */
  readonly log?: { log(line: string): void; error(line: string): void };
  /** Clock for the metrics timestamp. @default Date.now */
  readonly now?: () => number;
};

/** Most records a log line lists. */
const LOGGED = 50;

export function createHandler(config: PublisherConfig, senders: PublisherSenders, options: HandlerOptions = {}): PublisherHandler {
  const log = options.log ?? console;
  return async (event, context) => {
    const records: StreamRecord[] = isObject(event) && Array.isArray(event.Records) ? (event.Records as StreamRecord[]) : [];
    const plan = planBatch(records, { alertDestination: Boolean(config.alertTopicArn || config.alertEventBusName), lake: Boolean(config.lakeStream) });
    const budget: DeliveryBudget = {
      maxAttempts: options.maxAttempts ?? 6,
      baseDelayMs: options.baseDelayMs ?? 100,
      maxDelayMs: options.maxDelayMs ?? 2_000,
      concurrency: options.concurrency ?? 8,
      reserveMs: options.reserveMs ?? 6_000,
      remainingMs: () => context.getRemainingTimeInMillis(),
      sleep: options.sleep,
      random: options.random,
    };
    const outcome = await publishPlan(plan, { config, senders, budget });
    const batchItemFailures = checkpoint(plan, outcome.failures.map((f) => f.index));
    const firstFailed = outcome.failures[0]?.index;

    if (plan.unpublishable.length > 0) {
      // Keys and reasons only: the items hold customer data. They stay in the state table until their TTL.
      log.error(JSON.stringify({ level: 'ERROR', message: 'unpublishable records skipped', records: plan.unpublishable.slice(0, LOGGED), omitted: Math.max(0, plan.unpublishable.length - LOGGED) }));
    }
    if (outcome.failures.length > 0) {
      log.error(JSON.stringify({
        level: 'ERROR', message: 'records not published; checkpoint reported', checkpoint: batchItemFailures[0]?.itemIdentifier,
        failures: outcome.failures.slice(0, LOGGED), omitted: Math.max(0, outcome.failures.length - LOGGED),
      }));
    }
    if (outcome.markFailures > 0) {
      log.error(JSON.stringify({ level: 'WARN', message: 'alerts published but deliveredAt not written', count: outcome.markFailures }));
    }
    if (plan.alertsWithoutDestination > 0) {
      log.error(JSON.stringify({ level: 'WARN', message: 'alerts skipped: neither ALERT_TOPIC_ARN nor ALERT_EVENT_BUS_NAME is set', count: plan.alertsWithoutDestination }));
    }
    log.log(JSON.stringify(publisherMetrics({
      records: records.length,
      alertsPublished: outcome.alertsPublished,
      alertRedeliveries: outcome.alertRedeliveries,
      resultsPublished: outcome.resultsPublished,
      resultRedeliveries: outcome.resultRedeliveries,
      unpublishable: plan.unpublishable.length,
      ignored: plan.ignored + plan.alertsWithoutDestination,
      failedRecords: firstFailed === undefined ? 0 : records.length - firstFailed,
    }, config, (options.now ?? Date.now)())));
    return { batchItemFailures };
  };
}
