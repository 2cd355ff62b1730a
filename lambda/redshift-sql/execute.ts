/**
 * The executor: runs planned statements one at a time through the Redshift Data API, each its own
 * `ExecuteStatement` (never a batch, never a transaction: `COPY JOB CREATE` may not run inside one),
 * polled with `DescribeStatement` until it ends, within a time budget. Pure: the Data API and the
 * clock come in as interfaces; the Lambda adapter (index.ts) wires the SDK and the real clock.
 *
 * Guarantees:
 * - statements run in order; the next starts only after the previous one FINISHED (or FAILED with an
 *   error its `IgnoreErrorMatching` matches);
 * - a FAILED statement stops the run with an error naming the list, the position, Redshift's error
 *   text and the start of the statement;
 * - throttling and 5xx answers are retried with backoff while the budget lasts; an `ExecuteStatement`
 *   retry carries the same ClientToken, so it cannot start the statement twice;
 * - when the budget runs out, the running statement is cancelled (`CancelStatement`) and the run
 *   fails saying so. Statements before it stay done: there is no rollback across statements.
 */
import type { PlannedStatement, SqlTarget } from './plan';

/** `ExecuteStatement`'s request, as the runner sends it. */
export interface ExecuteRequest {
  readonly WorkgroupName: string;
  readonly Database: string;
  readonly SecretArn: string;
  readonly Sql: string;
  readonly StatementName: string;
  readonly ClientToken: string;
  readonly WithEvent: false;
}

/** The parts of `DescribeStatement`'s answer the runner reads (same field names as the API). */
export interface StatementView {
  readonly Status?: string;
  readonly Error?: string;
  readonly Duration?: number;
}

/** What the executor needs of the Data API. */
export interface DataApi {
  executeStatement(request: ExecuteRequest): Promise<{ Id: string }>;
  describeStatement(id: string): Promise<StatementView>;
  cancelStatement(id: string): Promise<void>;
}

/** Time and randomness, injectable so tests run without real sleeps. */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
  random(): number;
}

/** Options of {@link runStatements}. */
export interface RunOptions {
  /** Epoch ms by which the run must have ended (the Lambda's deadline minus a margin). */
  readonly deadline: number;
  readonly clock: Clock;
  /** Names the statements in the Data API's history (`StatementName`). */
  readonly namePrefix: string;
  /** ClientToken of a statement: stable across retries of one request. */
  readonly clientToken: (statement: PlannedStatement) => string;
  readonly log?: (entry: Record<string, unknown>) => void;
}

/** First poll delay and its cap: statements usually end in well under a second, COPY JOBs take longer. */
export const POLL_BASE_MS = 200;
export const POLL_CAP_MS = 5_000;
/** How long of a statement's text an error message quotes. */
const SQL_IN_ERROR = 160;
/** How long of Redshift's error text an error message quotes. */
const ERROR_IN_REASON = 1_500;

/** A statement that failed or could not finish: the message is what CloudFormation shows. */
export class StatementError extends Error {}

/** Errors of the Data API that mean "not now": too many requests or statements, or a 5xx. */
export function isRetryable(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number }; $retryable?: unknown };
  if (['ThrottlingException', 'TooManyRequestsException', 'ActiveStatementsExceededException', 'ActiveSessionsExceededException',
    'InternalServerException', 'ServiceUnavailableException'].includes(e?.name ?? '')) return true;
  if (e?.$retryable) return true;
  const status = e?.$metadata?.httpStatusCode;
  return status !== undefined && status >= 500;
}

/** The n-th (0-based) wait: doubling from {@link POLL_BASE_MS} up to {@link POLL_CAP_MS}, half of it jittered. */
export function pollDelayMs(n: number, random: () => number): number {
  const cap = Math.min(POLL_CAP_MS, POLL_BASE_MS * 2 ** Math.min(n, 30));
  return Math.floor(cap / 2 + random() * cap / 2);
}

/** The statement, flattened and cut for a one-line error message. */
export function shortSql(sql: string): string {
  const flat = sql.replace(/\s+/g, ' ').trim();
  return flat.length <= SQL_IN_ERROR ? flat : `${flat.slice(0, SQL_IN_ERROR - 1)}…`;
}

const label = (s: PlannedStatement): string => `${s.list} statement ${s.position} of ${s.of}`;

class Budget {
  constructor(private readonly options: RunOptions) {}
  /** Whether a wait of `ms` still ends before the deadline. */
  public allows(ms: number): boolean { return this.options.clock.now() + ms < this.options.deadline; }
  public get seconds(): number { return Math.max(0, Math.round((this.options.deadline - this.options.clock.now()) / 1000)); }
}

/** Calls `fn`, retrying retryable errors with backoff while the budget allows; undefined when it ran out. */
async function withRetries<T>(fn: () => Promise<T>, budget: Budget, options: RunOptions, what: string): Promise<T | undefined> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (!isRetryable(error)) throw error;
      const delay = pollDelayMs(attempt, options.clock.random);
      options.log?.({ level: 'WARN', message: `redshift-sql: ${what} throttled, retrying`, error: (error as Error).name, delayMs: delay });
      if (!budget.allows(delay)) return undefined;
      await options.clock.sleep(delay);
    }
  }
}

function targetOf(t: SqlTarget): Pick<ExecuteRequest, 'WorkgroupName' | 'Database' | 'SecretArn'> {
  return { WorkgroupName: t.workgroupName, Database: t.database, SecretArn: t.secretArn };
}

async function cancel(api: DataApi, id: string, options: RunOptions): Promise<string> {
  try {
    await api.cancelStatement(id);
    return 'it was cancelled';
  } catch (e) {
    // It may have ended between the last poll and the cancel; the resource fails either way.
    options.log?.({ level: 'WARN', message: 'redshift-sql: CancelStatement failed', id, error: `${(e as Error).name}: ${(e as Error).message}` });
    return `cancelling it failed (${(e as Error).name}: ${(e as Error).message})`;
  }
}

/** Polls statement `id` until it ends; throws on FAILED (unless ignored), ABORTED or the budget. */
async function awaitStatement(api: DataApi, id: string, statement: PlannedStatement, budget: Budget, options: RunOptions): Promise<void> {
  const outOfTime = async (): Promise<never> => {
    const how = await cancel(api, id, options);
    throw new StatementError(`${label(statement)} did not finish within the custom resource's time budget; ${how} (Data API statement ${id}). SQL: ${shortSql(statement.sql)}`);
  };
  for (let poll = 0; ; poll++) {
    const delay = pollDelayMs(poll, options.clock.random);
    if (!budget.allows(delay)) return outOfTime();
    await options.clock.sleep(delay);
    let view: StatementView | undefined;
    try {
      view = await withRetries(() => api.describeStatement(id), budget, options, 'DescribeStatement');
    } catch (e) {
      throw new StatementError(`${label(statement)}: DescribeStatement ${id} failed: ${(e as Error).name}: ${(e as Error).message}. SQL: ${shortSql(statement.sql)}`);
    }
    if (view === undefined) return outOfTime();
    switch (view.Status) {
      case 'FINISHED':
        options.log?.({ level: 'INFO', message: 'redshift-sql: statement finished', statement: label(statement), id, durationNs: view.Duration });
        return;
      case 'FAILED': {
        const error = view.Error ?? '(no error text)';
        if (statement.ignoreErrorMatching?.test(error)) {
          options.log?.({ level: 'INFO', message: 'redshift-sql: statement failed with an ignored error', statement: label(statement), id, error });
          return;
        }
        // CloudFormation keeps about 4 KB of a response: Redshift's text, cut long, comes first.
        const text = error.length > ERROR_IN_REASON ? `${error.slice(0, ERROR_IN_REASON - 1)}…` : error;
        throw new StatementError(`${label(statement)} failed in Redshift: ${text}. SQL: ${shortSql(statement.sql)}`);
      }
      case 'ABORTED':
        throw new StatementError(`${label(statement)} was aborted (cancelled outside the runner) (Data API statement ${id}). SQL: ${shortSql(statement.sql)}`);
      default: // SUBMITTED, PICKED, STARTED: still running
    }
  }
}

/** Runs `statements` in order, each to its end, within `options.deadline`. */
export async function runStatements(api: DataApi, statements: readonly PlannedStatement[], options: RunOptions): Promise<void> {
  const budget = new Budget(options);
  for (const statement of statements) {
    const request: ExecuteRequest = {
      ...targetOf(statement.target),
      Sql: statement.sql,
      StatementName: `${options.namePrefix}-${statement.list.replace(/\s+/g, '-').toLowerCase()}-${statement.position}`.slice(0, 500),
      ClientToken: options.clientToken(statement),
      WithEvent: false,
    };
    let started: { Id: string } | undefined;
    try {
      started = await withRetries(() => api.executeStatement(request), budget, options, 'ExecuteStatement');
    } catch (e) {
      const err = e as Error;
      throw new StatementError(`${label(statement)} could not start: ${err.name}: ${err.message}. SQL: ${shortSql(statement.sql)}`);
    }
    if (started === undefined) {
      throw new StatementError(`${label(statement)} could not start within the custom resource's time budget (the Data API kept throttling). SQL: ${shortSql(statement.sql)}`);
    }
    options.log?.({ level: 'INFO', message: 'redshift-sql: statement started', statement: label(statement), id: started.Id, budgetSeconds: budget.seconds });
    await awaitStatement(api, started.Id, statement, budget, options);
  }
}
