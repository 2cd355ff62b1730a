/**
 * The SQL runner's core against a fake Data API that behaves like the real one: a statement is
 * SUBMITTED/STARTED for some polls, then FINISHED or FAILED with Redshift's error text; calls can be
 * throttled; CancelStatement aborts a running statement. Time is simulated (sleeps advance a clock).
 */
import {
  isComplete, onEvent, pollDelayMs, shortSql, SqlPropertyError, StatementError,
  type DataApi, type ExecuteRequest, type IntegrationApi, type IntegrationView, type RunnerContext, type SqlEvent, type StatementView,
} from '../../lambda/redshift-sql/core';

/** How the fake runs a statement, chosen by a marker in its SQL. */
interface Behaviour { polls?: number; fail?: string; abort?: boolean; never?: boolean }

const named = (name: string, message = name, status?: number): Error => Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status } });

class FakeDataApi implements DataApi {
  executed: ExecuteRequest[] = [];
  describes = 0;
  cancelled: string[] = [];
  /** Errors thrown by the next ExecuteStatement / DescribeStatement calls, in order. */
  executeErrors: Error[] = [];
  describeErrors: Error[] = [];
  private readonly statements = new Map<string, { behaviour: Behaviour; polls: number; status: string }>();
  private readonly byToken = new Map<string, string>();
  constructor(private readonly behaviours: { [marker: string]: Behaviour } = {}) {}

  async executeStatement(request: ExecuteRequest): Promise<{ Id: string }> {
    this.executed.push(request);
    const error = this.executeErrors.shift();
    if (error) throw error;
    // The Data API answers a repeated ClientToken with the statement it already started.
    const existing = this.byToken.get(request.ClientToken);
    if (existing) return { Id: existing };
    const marker = Object.keys(this.behaviours).find((m) => request.Sql.includes(m));
    const id = `stmt-${this.statements.size + 1}`;
    this.statements.set(id, { behaviour: marker ? this.behaviours[marker] : {}, polls: 0, status: 'SUBMITTED' });
    this.byToken.set(request.ClientToken, id);
    return { Id: id };
  }

  async describeStatement(id: string): Promise<StatementView> {
    this.describes++;
    const error = this.describeErrors.shift();
    if (error) throw error;
    const s = this.statements.get(id);
    if (!s) throw named('ResourceNotFoundException', `Query does not exist: ${id}`);
    if (s.status === 'ABORTED' || s.status === 'FINISHED' || s.status === 'FAILED') return { Status: s.status };
    s.polls++;
    const b = s.behaviour;
    if (b.never || s.polls <= (b.polls ?? 0)) return { Status: s.polls === 1 ? 'SUBMITTED' : 'STARTED' };
    if (b.abort) s.status = 'ABORTED';
    else if (b.fail) return { Status: (s.status = 'FAILED'), Error: b.fail };
    else s.status = 'FINISHED';
    return { Status: s.status, Duration: 1_000_000 };
  }

  async cancelStatement(id: string): Promise<void> {
    this.cancelled.push(id);
    const s = this.statements.get(id)!;
    if (s.status !== 'STARTED' && s.status !== 'SUBMITTED') throw named('ValidationException', `Could not cancel a query that is already in ${s.status} state`);
    s.status = 'ABORTED';
  }

  sqls(): string[] { return this.executed.map((r) => r.Sql); }
}

class FakeIntegrations implements IntegrationApi {
  calls: { arn: string; service: string }[] = [];
  constructor(public view: IntegrationView | undefined = { Status: 'creating' }) {}
  async describeIntegration(arn: string, service: 'rds' | 'redshift'): Promise<IntegrationView | undefined> {
    this.calls.push({ arn, service });
    return this.view;
  }
}

const START = 1_800_000_000_000;
function context(api: DataApi, options: { budgetMs?: number; integrations?: IntegrationApi } = {}): RunnerContext & { sleeps: number[]; clock: { t: number } & RunnerContext['clock'] } {
  const sleeps: number[] = [];
  const clock = { t: START, now() { return this.t; }, async sleep(ms: number) { sleeps.push(ms); this.t += ms; }, random: () => 0.5 };
  return { dataApi: api, integrations: options.integrations ?? new FakeIntegrations(), clock, deadline: START + (options.budgetMs ?? 840_000), sleeps };
}

const STACK = 'arn:aws:cloudformation:eu-west-1:123456789012:stack/Warehouse/0b7f6a40-1111-2222-3333-444455556666';
const SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:redshift!ns-admin-AbCdEf';
const INTEGRATION = 'arn:aws:rds:eu-west-1:123456789012:integration:5b9f3d79-7392-4a3e-896c-58eaa1b53231';
const list = (...sqls: string[]) => sqls.map((Sql) => ({ Sql }));
function props(extra: { [k: string]: unknown } = {}): { [k: string]: unknown } {
  return { ServiceToken: 'arn:aws:lambda:…', WorkgroupName: 'wg', Database: 'dev', SecretArn: SECRET, Create: list('CREATE A'), Drop: list('DROP A'), RemovalPolicy: 'retain', ...extra };
}
function event(RequestType: SqlEvent['RequestType'], resource: { [k: string]: unknown }, extra: Partial<SqlEvent> = {}): SqlEvent {
  return {
    RequestType, RequestId: `req-${RequestType}`, StackId: STACK, LogicalResourceId: 'OrdersCopyJob',
    PhysicalResourceId: RequestType === 'Create' ? undefined : 'redshift-sql-OrdersCopyJob-abc', ResourceProperties: resource, ...extra,
  };
}

describe('the executor', () => {
  test('runs each statement alone, in order, with the workgroup, database, secret, a statement name and no event', async () => {
    const api = new FakeDataApi({ 'CREATE B': { polls: 2 } });
    const result = await onEvent(context(api), event('Create', props({ Create: list('CREATE A', 'CREATE B', 'CREATE C') })));
    expect(api.sqls()).toEqual(['CREATE A', 'CREATE B', 'CREATE C']);
    expect(api.executed[1]).toEqual({
      WorkgroupName: 'wg', Database: 'dev', SecretArn: SECRET, Sql: 'CREATE B',
      StatementName: 'cdk-OrdersCopyJob-create-2', ClientToken: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/), WithEvent: false,
    });
    expect(new Set(api.executed.map((r) => r.ClientToken)).size).toBe(3);
    expect(result.PhysicalResourceId).toMatch(/^redshift-sql-OrdersCopyJob-[0-9a-f]{12}$/);
  });

  test('a statement that finishes while being polled is polled with doubling, jittered delays', async () => {
    const api = new FakeDataApi({ SLOW: { polls: 8 } });
    const ctx = context(api);
    await onEvent(ctx, event('Create', props({ Create: list('SLOW COPY') })));
    // random() = 0.5: each delay is 3/4 of its cap; caps 200, 400, … 5000.
    expect(ctx.sleeps).toEqual([150, 300, 600, 1200, 2400, 3750, 3750, 3750, 3750]);
    expect(api.describes).toBe(9);
  });

  test('a FAILED statement fails the run with Redshift\'s error text, its position and its SQL; later statements do not run', async () => {
    const api = new FakeDataApi({ 'CREATE B': { polls: 1, fail: 'ERROR: relation "public.orders" does not exist' } });
    const run = onEvent(context(api), event('Create', props({ Create: list('CREATE A', 'CREATE B  -- copy\n  job', 'CREATE C') })));
    await expect(run).rejects.toThrow(new StatementError('Create statement 2 of 3 failed in Redshift: ERROR: relation "public.orders" does not exist. SQL: CREATE B -- copy job'));
    expect(api.sqls()).toEqual(['CREATE A', 'CREATE B  -- copy\n  job']);
  });

  test('a very long Redshift error is cut to 1,500 characters, so the reason fits CloudFormation\'s response', async () => {
    const api = new FakeDataApi({ 'CREATE A': { fail: `ERROR: ${'x'.repeat(5000)}` } });
    const error = await onEvent(context(api), event('Create', props())).catch((e: Error) => e);
    expect((error as Error).message).toMatch(/^Create statement 1 of 1 failed in Redshift: ERROR: x+…\. SQL: CREATE A$/);
    expect((error as Error).message.length).toBeLessThan(1_600);
  });

  test('a failure whose text matches IgnoreErrorMatching counts as done', async () => {
    const api = new FakeDataApi({ 'COPY JOB': { fail: 'ERROR: Job orders_job already exists' } });
    await onEvent(context(api), event('Create', props({ Create: [{ Sql: 'COPY JOB', IgnoreErrorMatching: 'already exists' }, { Sql: 'NEXT' }] })));
    expect(api.sqls()).toEqual(['COPY JOB', 'NEXT']);
  });

  test('a failure IgnoreErrorMatching does not match still fails', async () => {
    const api = new FakeDataApi({ 'COPY JOB': { fail: 'ERROR: permission denied for schema public' } });
    await expect(onEvent(context(api), event('Create', props({ Create: [{ Sql: 'COPY JOB', IgnoreErrorMatching: 'already exists' }] }))))
      .rejects.toThrow(/Create statement 1 of 1 failed in Redshift: ERROR: permission denied for schema public/);
  });

  test('a statement still running when the budget runs out is cancelled, and the run fails saying so', async () => {
    const api = new FakeDataApi({ HANG: { never: true } });
    const ctx = context(api, { budgetMs: 60_000 });
    await expect(onEvent(ctx, event('Create', props({ Create: list('HANG', 'AFTER') }))))
      .rejects.toThrow('Create statement 1 of 2 did not finish within the custom resource\'s time budget; it was cancelled (Data API statement stmt-1). SQL: HANG');
    expect(api.cancelled).toEqual(['stmt-1']);
    expect(api.sqls()).toEqual(['HANG']);
    expect(ctx.clock.now()).toBeLessThanOrEqual(ctx.deadline);
  });

  test('a cancel that fails (the statement just ended) is reported, not hidden', async () => {
    const api = new FakeDataApi({ HANG: { never: true } });
    api.cancelStatement = async () => { throw named('ValidationException', 'Could not cancel a query that is already in FINISHED state'); };
    await expect(onEvent(context(api, { budgetMs: 10_000 }), event('Create', props({ Create: list('HANG') }))))
      .rejects.toThrow(/cancelling it failed \(ValidationException: Could not cancel a query that is already in FINISHED state\)/);
  });

  test('throttled ExecuteStatement calls are retried with the same ClientToken, so the statement starts once', async () => {
    const api = new FakeDataApi();
    api.executeErrors = [named('ThrottlingException', 'Rate exceeded', 400), named('ActiveStatementsExceededException', 'Active statements exceeded the allowed quota (500).', 400)];
    const ctx = context(api);
    await onEvent(ctx, event('Create', props()));
    expect(api.executed).toHaveLength(3);
    expect(new Set(api.executed.map((r) => r.ClientToken)).size).toBe(1);
    expect(ctx.sleeps.slice(0, 2)).toEqual([150, 300]);
  });

  test('throttled and 5xx DescribeStatement calls are retried', async () => {
    const api = new FakeDataApi({ 'CREATE A': { polls: 1 } });
    api.describeErrors = [named('ThrottlingException', 'Rate exceeded', 400), named('InternalServerException', 'internal', 500), named('Unknown', 'bad gateway', 502)];
    await onEvent(context(api), event('Create', props()));
    expect(api.describes).toBe(5);
  });

  test('throttling that outlasts the budget fails the run naming it', async () => {
    const api = new FakeDataApi();
    api.executeErrors = Array.from({ length: 100 }, () => named('ThrottlingException', 'Rate exceeded', 400));
    await expect(onEvent(context(api, { budgetMs: 20_000 }), event('Create', props())))
      .rejects.toThrow('Create statement 1 of 1 could not start within the custom resource\'s time budget (the Data API kept throttling). SQL: CREATE A');
  });

  test('a non-retryable ExecuteStatement error fails at once with its name and message', async () => {
    const api = new FakeDataApi();
    api.executeErrors = [named('ValidationException', 'Workgroup wg not found', 400)];
    await expect(onEvent(context(api), event('Create', props()))).rejects.toThrow('Create statement 1 of 1 could not start: ValidationException: Workgroup wg not found. SQL: CREATE A');
    expect(api.executed).toHaveLength(1);
  });

  test('a statement aborted outside the runner fails the run', async () => {
    const api = new FakeDataApi({ 'CREATE A': { abort: true } });
    await expect(onEvent(context(api), event('Create', props()))).rejects.toThrow(/Create statement 1 of 1 was aborted/);
  });

  test('poll delays double from 200 ms to a 5 s cap, jittered over their upper half', () => {
    expect([0, 1, 2, 5, 6, 40].map((n) => pollDelayMs(n, () => 0))).toEqual([100, 200, 400, 2500, 2500, 2500]);
    expect([0, 1, 5].map((n) => pollDelayMs(n, () => 0.999999))).toEqual([199, 399, 4999]);
  });

  test('error messages quote at most 160 characters of the statement, on one line', () => {
    const long = `CREATE TABLE t (\n${'c int,\n'.repeat(60)})`;
    expect(shortSql(long)).toHaveLength(160);
    expect(shortSql(long)).not.toContain('\n');
    expect(shortSql(long).endsWith('…')).toBe(true);
  });
});

describe('the plan', () => {
  test('an update with Update statements runs them only', async () => {
    const api = new FakeDataApi();
    const result = await onEvent(context(api), event('Update', props({ Update: list('ALTER JOB') }), { OldResourceProperties: props() }));
    expect(api.sqls()).toEqual(['ALTER JOB']);
    expect(result.PhysicalResourceId).toBe('redshift-sql-OrdersCopyJob-abc');
  });

  test('an update without Update statements runs the OLD Drop, where the old resource ran, then the new Create', async () => {
    const api = new FakeDataApi();
    const old = props({ Database: 'old_db', Drop: list('DROP OLD JOB') });
    await onEvent(context(api), event('Update', props({ Create: list('CREATE NEW JOB'), Drop: list('DROP NEW JOB') }), { OldResourceProperties: old }));
    expect(api.executed.map((r) => [r.Sql, r.Database, r.StatementName])).toEqual([
      ['DROP OLD JOB', 'old_db', 'cdk-OrdersCopyJob-old-drop-1'],
      ['CREATE NEW JOB', 'dev', 'cdk-OrdersCopyJob-create-1'],
    ]);
  });

  test('a delete with RemovalPolicy retain runs nothing; with destroy it runs Drop', async () => {
    const retain = new FakeDataApi();
    const kept = await onEvent(context(retain), event('Delete', props()));
    expect(retain.executed).toEqual([]);
    expect(kept.PhysicalResourceId).toBe('redshift-sql-OrdersCopyJob-abc');
    const destroy = new FakeDataApi();
    await onEvent(context(destroy), event('Delete', props({ RemovalPolicy: 'destroy', Drop: list('DROP A', 'DROP B') })));
    expect(destroy.sqls()).toEqual(['DROP A', 'DROP B']);
  });

  test('the physical id depends on the stack and logical id only, so a re-create of the same resource gets the same id', async () => {
    const a = await onEvent(context(new FakeDataApi()), event('Create', props()));
    const b = await onEvent(context(new FakeDataApi()), event('Create', props({ Create: list('OTHER') }), { RequestId: 'another' }));
    const c = await onEvent(context(new FakeDataApi()), event('Create', props(), { StackId: `${STACK}x` }));
    expect(a.PhysicalResourceId).toBe(b.PhysicalResourceId);
    expect(c.PhysicalResourceId).not.toBe(a.PhysicalResourceId);
  });

  test('an invalid IgnoreErrorMatching fails before anything runs, naming the statement', async () => {
    const api = new FakeDataApi();
    await expect(onEvent(context(api), event('Create', props({ Create: [{ Sql: 'A' }, { Sql: 'B', IgnoreErrorMatching: '(unclosed' }] }))))
      .rejects.toThrow(SqlPropertyError);
    await expect(onEvent(context(api), event('Create', props({ Create: [{ Sql: 'A' }, { Sql: 'B', IgnoreErrorMatching: '(unclosed' }] }))))
      .rejects.toThrow(/Create\[1\]\.IgnoreErrorMatching is not a valid regular expression/);
    expect(api.executed).toEqual([]);
  });

  test('missing connection properties fail the resource naming the property', async () => {
    await expect(onEvent(context(new FakeDataApi()), event('Create', props({ WorkgroupName: '' })))).rejects.toThrow('redshift-sql: property WorkgroupName must be a non-empty string; got ""');
  });
});

describe('waiting for an integration', () => {
  const waiting = (extra: { [k: string]: unknown } = {}) => props({ Create: list('CREATE DATABASE orders FROM INTEGRATION x'), WaitForIntegration: { IntegrationArn: INTEGRATION, TimeoutSeconds: '2700' }, ...extra });

  test('onEvent of a Create runs nothing and records when the wait began', async () => {
    const api = new FakeDataApi();
    const ctx = context(api);
    const result = await onEvent(ctx, event('Create', waiting()));
    expect(api.executed).toEqual([]);
    expect(result).toEqual({ PhysicalResourceId: expect.stringMatching(/^redshift-sql-/), WaitStartedAt: String(START) });
  });

  test('isComplete answers not-complete while the integration is creating, asking the RDS API for an RDS ARN', async () => {
    const api = new FakeDataApi();
    const integrations = new FakeIntegrations({ Status: 'creating' });
    const ctx = context(api, { integrations });
    ctx.clock.t = START + 600_000;
    expect(await isComplete(ctx, event('Create', waiting(), { WaitStartedAt: String(START) }))).toEqual({ IsComplete: false });
    expect(integrations.calls).toEqual([{ arn: INTEGRATION, service: 'rds' }]);
    expect(api.executed).toEqual([]);
  });

  test('once the integration is active, isComplete runs the statements and answers complete', async () => {
    const api = new FakeDataApi({ 'CREATE DATABASE': { polls: 3 } });
    const done = await isComplete(context(api, { integrations: new FakeIntegrations({ Status: 'active' }) }), event('Create', waiting(), { WaitStartedAt: String(START) }));
    expect(done).toEqual({ IsComplete: true });
    expect(api.sqls()).toEqual(['CREATE DATABASE orders FROM INTEGRATION x']);
  });

  test('a failed or needs_attention integration fails the resource with the integration\'s errors', async () => {
    const failed = new FakeIntegrations({ Status: 'failed', Errors: [{ ErrorCode: 'InvalidParameterCombination', ErrorMessage: 'binlog_format must be ROW' }] });
    await expect(isComplete(context(new FakeDataApi(), { integrations: failed }), event('Create', waiting(), { WaitStartedAt: String(START) })))
      .rejects.toThrow(`redshift-sql: integration ${INTEGRATION} is failed (InvalidParameterCombination: binlog_format must be ROW); the statements that need it were not run`);
    const attention = new FakeIntegrations({ Status: 'needs_attention' });
    await expect(isComplete(context(new FakeDataApi(), { integrations: attention }), event('Create', waiting(), { WaitStartedAt: String(START) })))
      .rejects.toThrow(/is needs_attention; the statements/);
    const gone = new FakeIntegrations();
    gone.view = undefined;
    await expect(isComplete(context(new FakeDataApi(), { integrations: gone }), event('Create', waiting())))
      .rejects.toThrow(/was not found/);
  });

  test('a wait past TimeoutSeconds fails the resource with the integration\'s status', async () => {
    const ctx = context(new FakeDataApi(), { integrations: new FakeIntegrations({ Status: 'creating' }) });
    ctx.clock.t = START + 2_700_000;
    await expect(isComplete(ctx, event('Create', waiting(), { WaitStartedAt: String(START) })))
      .rejects.toThrow(`redshift-sql: integration ${INTEGRATION} is still creating after 2700 s (WaitForIntegration timeout: 2700 s); the statements that need it were not run`);
  });

  test('a Redshift integration ARN is read through the Redshift API', async () => {
    const arn = 'arn:aws:redshift:eu-west-1:123456789012:integration:a1b2c3d4-5678-90ab-cdef-EXAMPLE11111';
    const integrations = new FakeIntegrations({ Status: 'active' });
    await isComplete(context(new FakeDataApi(), { integrations }), event('Create', waiting({ WaitForIntegration: { IntegrationArn: arn, TimeoutSeconds: '60' } })));
    expect(integrations.calls).toEqual([{ arn, service: 'redshift' }]);
  });

  test('a Delete runs its Drop in onEvent without waiting, and isComplete answers complete', async () => {
    const api = new FakeDataApi();
    const integrations = new FakeIntegrations({ Status: 'creating' });
    await onEvent(context(api, { integrations }), event('Delete', waiting({ RemovalPolicy: 'destroy', Drop: list('DROP DATABASE orders') })));
    expect(api.sqls()).toEqual(['DROP DATABASE orders']);
    expect(await isComplete(context(api, { integrations }), event('Delete', waiting()))).toEqual({ IsComplete: true });
    expect(integrations.calls).toEqual([]);
  });

  test('without WaitForIntegration isComplete answers complete at once, calling nothing', async () => {
    const api = new FakeDataApi();
    const integrations = new FakeIntegrations();
    expect(await isComplete(context(api, { integrations }), event('Create', props()))).toEqual({ IsComplete: true });
    expect(api.executed).toEqual([]);
    expect(integrations.calls).toEqual([]);
  });

  test('an IntegrationArn that is not an integration ARN fails the resource', async () => {
    await expect(onEvent(context(new FakeDataApi()), event('Create', waiting({ WaitForIntegration: { IntegrationArn: 'arn:aws:rds:eu-west-1:123456789012:cluster:db', TimeoutSeconds: '60' } }))))
      .rejects.toThrow(/WaitForIntegration.IntegrationArn must be an RDS or Redshift integration ARN/);
  });
});
