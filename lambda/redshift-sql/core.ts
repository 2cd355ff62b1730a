/**
 * The SQL runner behind `Custom::RedshiftSql` (CDK Provider framework): onEvent and isComplete.
 * Pure: the Data API, the integration API and the clock come in through {@link RunnerContext}; the
 * Lambda adapter (index.ts) wires the SDK.
 *
 * - Without `WaitForIntegration`, onEvent runs the planned statements (plan.ts) and isComplete
 *   answers complete at once.
 * - With it, a Create or Update's onEvent runs nothing and records when the wait began; isComplete
 *   (polled by the framework) answers not-complete while the integration is creating, fails the
 *   resource when it failed or the wait passed `TimeoutSeconds`, and once it is active runs the
 *   statements and answers complete. A Delete runs its statements in onEvent without waiting.
 */
import { runStatements, type Clock, type DataApi } from './execute';
import { integrationState, type IntegrationApi, IntegrationError } from './integration';
import { clientTokenOf, parseProperties, physicalIdOf, planFor, type SqlEvent } from './plan';

export { isRetryable, pollDelayMs, runStatements, shortSql, StatementError, type Clock, type DataApi, type ExecuteRequest, type StatementView } from './execute';
export { IntegrationError, integrationServiceOf, integrationState, type IntegrationApi, type IntegrationView } from './integration';
export { clientTokenOf, parseProperties, physicalIdOf, planFor, SqlPropertyError, type PlannedStatement, type SqlEvent } from './plan';

/** What the handlers need from the outside world for one invocation. */
export interface RunnerContext {
  readonly dataApi: DataApi;
  readonly integrations: IntegrationApi;
  readonly clock: Clock;
  /** Epoch ms by which statements must have ended (the invocation's deadline minus a margin). */
  readonly deadline: number;
  readonly log?: (entry: Record<string, unknown>) => void;
}

/** onEvent's answer; extra fields reach isComplete's event (the framework merges them in). */
export interface OnEventResult {
  readonly PhysicalResourceId: string;
  readonly WaitStartedAt?: string;
}

async function run(ctx: RunnerContext, event: SqlEvent): Promise<void> {
  const statements = planFor(event);
  ctx.log?.({ level: 'INFO', message: 'redshift-sql: running', requestType: event.RequestType, statements: statements.length });
  await runStatements(ctx.dataApi, statements, {
    deadline: ctx.deadline,
    clock: ctx.clock,
    namePrefix: `cdk-${event.LogicalResourceId}`,
    clientToken: (s) => clientTokenOf(event.RequestId, s),
    log: ctx.log,
  });
}

/** onEvent: runs the statements now, or defers them to isComplete when they wait for an integration. */
export async function onEvent(ctx: RunnerContext, event: SqlEvent): Promise<OnEventResult> {
  const PhysicalResourceId = physicalIdOf(event);
  const props = parseProperties(event.ResourceProperties);
  if (event.RequestType !== 'Delete' && props.waitForIntegration) {
    return { PhysicalResourceId, WaitStartedAt: String(ctx.clock.now()) };
  }
  await run(ctx, event);
  return { PhysicalResourceId };
}

/** isComplete: waits for the integration, then runs the deferred statements. */
export async function isComplete(ctx: RunnerContext, event: SqlEvent): Promise<{ IsComplete: boolean }> {
  if (event.RequestType === 'Delete') return { IsComplete: true };
  const wait = parseProperties(event.ResourceProperties).waitForIntegration;
  if (!wait) return { IsComplete: true };
  const state = await integrationState(ctx.integrations, wait.integrationArn);
  if (!state.ready) {
    const startedAt = Number(event.WaitStartedAt);
    const waited = Number.isFinite(startedAt) ? (ctx.clock.now() - startedAt) / 1000 : 0;
    if (waited >= wait.timeoutSeconds) {
      throw new IntegrationError(`redshift-sql: integration ${wait.integrationArn} is still ${state.status} after ${Math.round(waited)} s `
        + `(WaitForIntegration timeout: ${wait.timeoutSeconds} s); the statements that need it were not run`);
    }
    ctx.log?.({ level: 'INFO', message: 'redshift-sql: waiting for the integration', status: state.status, waitedSeconds: Math.round(waited) });
    return { IsComplete: false };
  }
  await run(ctx, event);
  return { IsComplete: true };
}
