/**
 * What a `Custom::RedshiftSql` event asks the runner to execute, and where. Pure: properties in
 * (as CloudFormation passes them, every scalar a string), an ordered statement list out.
 *
 * - Create runs `Create`.
 * - Update runs the new `Update` when the resource has one; otherwise the OLD `Drop` (against the
 *   old workgroup, database and secret) and then the new `Create`.
 * - Delete runs `Drop` only when `RemovalPolicy` is `destroy`: by default user data stays.
 */
import { createHash } from 'node:crypto';

/** A statement as the construct writes it into the template. */
export interface StatementProperty {
  readonly Sql: string;
  readonly IgnoreErrorMatching?: string;
}

/** Where statements run: the Data API's connection parameters. */
export interface SqlTarget {
  readonly workgroupName: string;
  readonly database: string;
  readonly secretArn: string;
}

/** The resource's properties, checked and typed. */
export interface SqlProperties {
  readonly target: SqlTarget;
  readonly create: readonly StatementProperty[];
  readonly drop: readonly StatementProperty[];
  readonly update?: readonly StatementProperty[];
  readonly removalPolicy: 'retain' | 'destroy';
  readonly waitForIntegration?: { readonly integrationArn: string; readonly timeoutSeconds: number };
}

/** One statement the runner executes. */
export interface PlannedStatement {
  /** Which list it comes from (`Create`, `Drop`, `Update`, or `old Drop` on an update). */
  readonly list: string;
  /** 1-based position in that list, and the list's length, for error messages. */
  readonly position: number;
  readonly of: number;
  readonly sql: string;
  readonly ignoreErrorMatching?: RegExp;
  readonly target: SqlTarget;
}

/** The custom resource event fields the runner reads (the Provider framework passes CloudFormation's). */
export interface SqlEvent {
  readonly RequestType: 'Create' | 'Update' | 'Delete';
  readonly RequestId: string;
  readonly StackId: string;
  readonly LogicalResourceId: string;
  readonly PhysicalResourceId?: string;
  readonly ResourceProperties: { readonly [key: string]: unknown };
  readonly OldResourceProperties?: { readonly [key: string]: unknown };
  /** Set by onEvent when it defers the statements to isComplete: when the wait began (epoch ms, as a string). */
  readonly WaitStartedAt?: string;
}

/** A resource whose properties the runner cannot use: fails it with the reason. */
export class SqlPropertyError extends Error {}

function text(props: { readonly [key: string]: unknown }, key: string): string {
  const value = props[key];
  if (typeof value !== 'string' || value === '') throw new SqlPropertyError(`redshift-sql: property ${key} must be a non-empty string; got ${JSON.stringify(value)}`);
  return value;
}

function statements(props: { readonly [key: string]: unknown }, key: string, required: boolean): StatementProperty[] | undefined {
  const value = props[key];
  if (value === undefined && !required) return undefined;
  if (!Array.isArray(value)) throw new SqlPropertyError(`redshift-sql: property ${key} must be a list of statements; got ${JSON.stringify(value)}`);
  return value.map((s: unknown, i) => {
    const st = s as { Sql?: unknown; IgnoreErrorMatching?: unknown };
    if (typeof st?.Sql !== 'string' || st.Sql.trim() === '') throw new SqlPropertyError(`redshift-sql: ${key}[${i}].Sql must be a non-empty string`);
    if (st.IgnoreErrorMatching !== undefined) compileIgnore(st.IgnoreErrorMatching, `${key}[${i}].IgnoreErrorMatching`);
    return { Sql: st.Sql, IgnoreErrorMatching: st.IgnoreErrorMatching as string | undefined };
  });
}

function compileIgnore(pattern: unknown, where: string): RegExp {
  if (typeof pattern !== 'string' || pattern === '') throw new SqlPropertyError(`redshift-sql: ${where} must be a non-empty regular expression`);
  try {
    return new RegExp(pattern);
  } catch (e) {
    throw new SqlPropertyError(`redshift-sql: ${where} is not a valid regular expression (${(e as Error).message})`);
  }
}

function waitOf(props: { readonly [key: string]: unknown }): SqlProperties['waitForIntegration'] {
  const wait = props.WaitForIntegration as { IntegrationArn?: unknown; TimeoutSeconds?: unknown } | undefined;
  if (wait === undefined) return undefined;
  const arn = wait.IntegrationArn;
  if (typeof arn !== 'string' || !/^arn:[a-z-]+:(rds|redshift):[a-z0-9-]+:\d{12}:integration:.+$/.test(arn)) {
    throw new SqlPropertyError(`redshift-sql: WaitForIntegration.IntegrationArn must be an RDS or Redshift integration ARN; got ${JSON.stringify(arn)}`);
  }
  // CloudFormation passes numbers as strings.
  const timeoutSeconds = Number(wait.TimeoutSeconds);
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) {
    throw new SqlPropertyError(`redshift-sql: WaitForIntegration.TimeoutSeconds must be a positive number; got ${JSON.stringify(wait.TimeoutSeconds)}`);
  }
  return { integrationArn: arn, timeoutSeconds };
}

/** The properties of a `Custom::RedshiftSql`, checked. */
export function parseProperties(props: { readonly [key: string]: unknown }): SqlProperties {
  const removalPolicy = props.RemovalPolicy ?? 'retain';
  if (removalPolicy !== 'retain' && removalPolicy !== 'destroy') {
    throw new SqlPropertyError(`redshift-sql: property RemovalPolicy must be 'retain' or 'destroy'; got ${JSON.stringify(removalPolicy)}`);
  }
  return {
    target: { workgroupName: text(props, 'WorkgroupName'), database: text(props, 'Database'), secretArn: text(props, 'SecretArn') },
    create: statements(props, 'Create', true)!,
    drop: statements(props, 'Drop', false) ?? [],
    update: statements(props, 'Update', false),
    removalPolicy,
    waitForIntegration: waitOf(props),
  };
}

function planned(list: string, items: readonly StatementProperty[], target: SqlTarget): PlannedStatement[] {
  return items.map((s, i) => ({
    list, position: i + 1, of: items.length, sql: s.Sql, target,
    ignoreErrorMatching: s.IgnoreErrorMatching === undefined ? undefined : compileIgnore(s.IgnoreErrorMatching, `${list}[${i}].IgnoreErrorMatching`),
  }));
}

/** The statements an event runs, in order. */
export function planFor(event: SqlEvent): PlannedStatement[] {
  const props = parseProperties(event.ResourceProperties);
  switch (event.RequestType) {
    case 'Create':
      return planned('Create', props.create, props.target);
    case 'Update': {
      if (props.update) return planned('Update', props.update, props.target);
      // The old resource's Drop undoes what the old Create made, where it made it.
      const old = parseProperties(event.OldResourceProperties ?? {});
      return [...planned('old Drop', old.drop, old.target), ...planned('Create', props.create, props.target)];
    }
    case 'Delete':
      return props.removalPolicy === 'destroy' ? planned('Drop', props.drop, props.target) : [];
    default:
      throw new SqlPropertyError(`redshift-sql: unknown RequestType ${JSON.stringify((event as { RequestType?: unknown }).RequestType)}`);
  }
}

/**
 * The physical id: the same for the resource's whole life (updates run in place, never replace it),
 * distinct per stack and logical id. CloudFormation ids are at most 1 KB; this is about 80 chars.
 */
export function physicalIdOf(event: SqlEvent): string {
  if (event.RequestType !== 'Create' && event.PhysicalResourceId) return event.PhysicalResourceId;
  const stack = createHash('sha256').update(event.StackId).digest('hex').slice(0, 12);
  return `redshift-sql-${event.LogicalResourceId.slice(0, 60)}-${stack}`;
}

/**
 * The Data API ClientToken of a statement: the same on a retry of the same request (so a throttled or
 * lost ExecuteStatement does not run twice), different per request, list and position.
 */
export function clientTokenOf(requestId: string, statement: PlannedStatement): string {
  const h = createHash('sha256').update(`${requestId}\n${statement.list}\n${statement.position}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}
