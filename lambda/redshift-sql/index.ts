/**
 * Custom resource handler (CDK Provider framework) running `Custom::RedshiftSql` statements through
 * the Redshift Data API. `MODE` says which framework role this function plays: `onEvent` or
 * `isComplete`. Needs redshift-data:ExecuteStatement on the workgroup, Describe/CancelStatement on
 * its own statements, the admin secret (and its key), and DescribeIntegrations on awaited integrations.
 */
import type { Context } from 'aws-lambda';
import { isComplete, onEvent, type RunnerContext, type SqlEvent } from './core';
import { sdkDataApi, sdkIntegrationApi } from './sdk';

const mode = process.env.MODE;
if (mode !== 'onEvent' && mode !== 'isComplete') throw new Error(`redshift-sql: MODE must be onEvent or isComplete; got '${mode}'`);

/** Kept back from the invocation's remaining time: cancelling a statement and answering the framework. */
const MARGIN_MS = 20_000;
const dataApi = sdkDataApi();
const integrations = sdkIntegrationApi();
const log = (entry: Record<string, unknown>): void => console.log(JSON.stringify(entry));

export async function handler(event: SqlEvent, context: Context): Promise<unknown> {
  const ctx: RunnerContext = {
    dataApi,
    integrations,
    clock: { now: Date.now, sleep: (ms) => new Promise((r) => setTimeout(r, ms)), random: Math.random },
    deadline: Date.now() + context.getRemainingTimeInMillis() - MARGIN_MS,
    log,
  };
  return mode === 'onEvent' ? onEvent(ctx, event) : isComplete(ctx, event);
}
