import { CustomResource, Duration, RemovalPolicy, Token } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import type { IRedshiftWarehouse } from './redshift-refs';
import { propError } from './errors';
import { MAX_INTEGRATION_WAIT, RedshiftSqlProvider, RUNNER_TIMEOUT } from '../handlers/redshift-sql-provider';

/** One SQL statement for {@link RedshiftSql}. */
export interface SqlStatement {
  /** The statement text. It runs alone (its own Data API `ExecuteStatement`), outside any transaction. */
  readonly sql: string;
  /**
   * A regular expression (JavaScript syntax): when the statement fails with an error text it
   * matches, the statement counts as done. For idempotent steps Redshift has no `IF NOT EXISTS`
   * for (e.g. `already exists`).
   * @default - every error fails the resource
   */
  readonly ignoreErrorMatching?: string;
}

/** Waiting for an integration before the statements run. */
export interface IntegrationWait {
  /** The integration ARN (`AWS::RDS::Integration` or `AWS::Redshift::Integration`). */
  readonly integrationArn: string;
  /**
   * How long to wait for the integration to be active, then fail the resource. At most 40 minutes:
   * CloudFormation fails a custom resource after one hour, and the statements need up to 14 minutes
   * of it once the integration is active.
   * @default Duration.minutes(40)
   */
  readonly timeout?: Duration;
}

/** Properties of a {@link RedshiftSql}. */
export interface RedshiftSqlProps {
  /** The warehouse the statements run in. */
  readonly warehouse: IRedshiftWarehouse;
  /** The database to connect to. @default - the warehouse's `databaseName` */
  readonly database?: string;
  /** Statements run in order when the resource is created. */
  readonly create: SqlStatement[];
  /**
   * Statements that undo `create`. They run, in order:
   * - on an update without `update` statements, the old resource's `drop` before the new `create`;
   * - on delete, when `removalPolicy` is DESTROY.
   * @default - none
   */
  readonly drop?: SqlStatement[];
  /**
   * Statements run on an update instead of the old `drop` and the new `create`.
   * @default - an update runs the old `drop`, then the new `create`
   */
  readonly update?: SqlStatement[];
  /**
   * What a delete does. RETAIN runs nothing (user data stays); DESTROY runs `drop`.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Wait until this integration is active before running `create` (zero-ETL:
   * `CREATE DATABASE … FROM INTEGRATION`). The wait can outlast a Lambda invocation, so it polls
   * through the Provider framework's `isComplete`.
   * @default - no wait
   */
  readonly waitForIntegration?: IntegrationWait;
}

/**
 * SQL run in a Redshift warehouse by the library's SQL runner (a custom resource on the Redshift
 * Data API): the one place generated SQL is executed. Statements run one at a time, outside any
 * transaction; a failing statement fails the deployment with the statement's error text.
 */
export class RedshiftSql extends Construct {
  /** The custom resource. */
  public readonly resource: CustomResource;

  constructor(scope: Construct, id: string, props: RedshiftSqlProps) {
    super(scope, id);
    const provider = RedshiftSqlProvider.of(this, props.warehouse);
    const statements = (list: SqlStatement[] | undefined) => (list ?? []).map((s) => ({ Sql: s.sql, IgnoreErrorMatching: s.ignoreErrorMatching }));
    for (const [list, items] of [['create', props.create], ['drop', props.drop], ['update', props.update]] as const) {
      (items ?? []).forEach((s, i) => checkStatement(this, `${list}[${i}]`, s));
    }
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const waitTimeout = props.waitForIntegration?.timeout ?? MAX_INTEGRATION_WAIT;
    if (props.waitForIntegration && (waitTimeout.toSeconds() < 60 || waitTimeout.toSeconds() > MAX_INTEGRATION_WAIT.toSeconds())) {
      throw propError(this, 'waitForIntegration.timeout', `(${waitTimeout.toSeconds()} s) must be between 60 s and ${MAX_INTEGRATION_WAIT.toSeconds()} s: CloudFormation fails a custom resource after one hour, and the statements need up to ${RUNNER_TIMEOUT.toSeconds()} s of it`);
    }
    this.resource = new CustomResource(this, 'Resource', {
      resourceType: 'Custom::RedshiftSql',
      serviceToken: provider.serviceToken,
      properties: {
        WorkgroupName: props.warehouse.workgroupName,
        Database: props.database ?? props.warehouse.databaseName,
        SecretArn: props.warehouse.adminSecretArn,
        Create: statements(props.create),
        Drop: statements(props.drop),
        Update: props.update ? statements(props.update) : undefined,
        RemovalPolicy: removalPolicy === RemovalPolicy.DESTROY ? 'destroy' : 'retain',
        WaitForIntegration: props.waitForIntegration ? {
          IntegrationArn: props.waitForIntegration.integrationArn,
          TimeoutSeconds: waitTimeout.toSeconds(),
        } : undefined,
      },
    });
    if (props.waitForIntegration) provider.allowIntegration(props.waitForIntegration.integrationArn);
  }
}

/** What the runner would refuse at deploy time, refused at synth instead. */
function checkStatement(scope: Construct, prop: string, statement: SqlStatement): void {
  if (!Token.isUnresolved(statement.sql) && statement.sql.trim() === '') throw propError(scope, `${prop}.sql`, 'is empty: give one SQL statement');
  const pattern = statement.ignoreErrorMatching;
  if (pattern === undefined || Token.isUnresolved(pattern)) return;
  try {
    if (pattern === '') throw new Error('empty');
    new RegExp(pattern);
  } catch (e) {
    throw propError(scope, `${prop}.ignoreErrorMatching`, `('${pattern}') is not a JavaScript regular expression (${(e as Error).message})`);
  }
}
