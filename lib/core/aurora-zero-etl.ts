import { Annotations, Fn, RemovalPolicy, Stack, Token, type Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as rds from 'aws-cdk-lib/aws-rds';
import { Construct, type IConstruct } from 'constructs';
import { ignoreCfnLint } from './cfn-lint';
import { propError } from './errors';
import type { IRedshiftWarehouse } from './redshift-refs';
import { RedshiftSql } from './redshift-sql';
import { MAX_INTEGRATION_WAIT } from '../handlers/redshift-sql-provider';
import { identifierProblem } from './redshift-sql-text';
import { createDatabaseFromIntegration } from './sql/zero-etl-sql';
import { AuroraZeroEtlEngine, engineVersionProblem, parameterProblems, unresolvedParameters } from './zero-etl-parameters';

/** How to replicate an Aurora cluster (`ZeroEtlWarehouse.zeroEtl`). */
export interface ZeroEtlOptions {
  /**
   * The source's engine.
   * @default - read from the cluster's `engine`; required when the cluster does not expose one (an imported cluster)
   */
  readonly sourceEngine?: AuroraZeroEtlEngine;
  /**
   * The cluster's DB cluster parameter group, checked at synth against zero-ETL's required values
   * when it is a `ParameterGroup` of this app.
   * @default - the group the cluster was created with, when the cluster is a `DatabaseCluster` of this app
   */
  readonly parameterGroup?: rds.IParameterGroup;
  /** The Redshift database to create from the integration (a lowercase Redshift identifier). */
  readonly database: string;
  /**
   * The database in the source cluster to replicate. Required for Aurora PostgreSQL (one
   * integration replicates one named database); not allowed for Aurora MySQL (all of them replicate).
   * @default - none (Aurora MySQL)
   */
  readonly sourceDatabase?: string;
  /**
   * The integration's name: 1–63 letters, digits and single hyphens, starting with a letter,
   * unique in the account and Region.
   * @default - CloudFormation generates one
   */
  readonly integrationName?: string;
  /**
   * Which tables replicate (`include:` / `exclude:` patterns, see "Data filtering for Aurora
   * zero-ETL integrations"). Changing it makes Aurora resynchronize the affected tables.
   * @default - every table
   */
  readonly dataFilter?: string;
  /**
   * The key encrypting the integration. RDS creates grants on it with the credentials of whoever
   * creates the integration (CloudFormation's role: it needs `kms:CreateGrant` and `kms:DescribeKey`).
   * @default - the warehouse's `encryptionKey`
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Extra KMS encryption context for the integration's data (non-secret key-value pairs; changing
   * it replaces the integration).
   * @default - none
   */
  readonly additionalEncryptionContext?: { [key: string]: string };
  /**
   * How long `CREATE DATABASE … FROM INTEGRATION` waits for the integration to be active, 1 to 40
   * minutes. CloudFormation has already waited for it (its `AWS::RDS::Integration` handler returns
   * once the integration is active), so this wait only covers a later change of state. It cannot be
   * longer: CloudFormation fails a custom resource after one hour, and the statement needs up to 14
   * minutes of it.
   * @default Duration.minutes(40)
   */
  readonly activationTimeout?: Duration;
}

/** DataFilter's characters and length (AWS::RDS::Integration schema). */
const DATA_FILTER = /^[a-zA-Z0-9_ "\\\-$,*.:?+/]{1,25600}$/;
/** IntegrationName: a letter, then letters/digits, single hyphens between (RDS CreateIntegration). */
const INTEGRATION_NAME = /^[a-zA-Z](?:-?[a-zA-Z0-9]+)*$/;

/** Properties of an {@link AuroraZeroEtl}. */
export interface AuroraZeroEtlProps extends ZeroEtlOptions {
  /** The warehouse the integration replicates into (its namespace is the integration's target). */
  readonly warehouse: IRedshiftWarehouse;
  /**
   * The source Aurora cluster (Aurora MySQL 3.05.2+ or Aurora PostgreSQL 16.4+), with at least
   * one instance and a DB cluster parameter group holding the values zero-ETL requires.
   */
  readonly cluster: rds.IDatabaseCluster;
}

/**
 * Aurora zero-ETL into a Redshift warehouse: the `AWS::RDS::Integration`, the namespace resource
 * policy that authorizes it, a synth-time check of the source's engine version and parameter
 * group, and `CREATE DATABASE … FROM INTEGRATION` run by the SQL runner once the integration is
 * active.
 */
export class AuroraZeroEtl extends Construct {
  /** The integration. */
  public readonly integration: rds.CfnIntegration;
  /** The integration's ARN. */
  public readonly integrationArn: string;
  /** The integration's id (the ARN's last segment): what `SVV_INTEGRATION.integration_id` shows. */
  public readonly integrationId: string;
  /** The replicated database's name in the warehouse. */
  public readonly databaseName: string;
  /** The source engine. */
  public readonly sourceEngine: AuroraZeroEtlEngine;
  /** The SQL that creates the replicated database. */
  public readonly createDatabase: RedshiftSql;

  constructor(scope: Construct, id: string, props: AuroraZeroEtlProps) {
    super(scope, id);
    this.sourceEngine = this.validate(props);
    this.databaseName = props.database;
    const { warehouse, cluster } = props;

    // The namespace must authorize both the creator (the account) and the source before CreateIntegration.
    warehouse.addToResourcePolicy(new iam.PolicyStatement({
      principals: [new iam.AccountRootPrincipal()],
      actions: ['redshift:CreateInboundIntegration'],
      resources: [warehouse.namespaceArn],
    }));
    warehouse.addToResourcePolicy(new iam.PolicyStatement({
      principals: [new iam.ServicePrincipal('redshift.amazonaws.com')],
      actions: ['redshift:AuthorizeInboundIntegration'],
      resources: [warehouse.namespaceArn],
      conditions: { StringEquals: { 'aws:SourceArn': cluster.clusterArn } },
    }));

    const key = props.encryptionKey ?? warehouse.encryptionKey;
    this.integration = new rds.CfnIntegration(this, 'Resource', {
      sourceArn: cluster.clusterArn,
      targetArn: warehouse.namespaceArn,
      integrationName: props.integrationName,
      dataFilter: props.dataFilter,
      kmsKeyId: key.keyArn,
      additionalEncryptionContext: props.additionalEncryptionContext,
      description: `Aurora zero-ETL into ${props.database}`,
    });
    // CreateIntegration needs the source's instances (the cluster and its parameter group come with
    // the SourceArn's Ref), the namespace's resource policy and the workgroup's case sensitivity.
    for (const instance of cluster.node.findAll().filter((c) => c instanceof rds.CfnDBInstance)) this.integration.node.addDependency(instance);
    for (const part of warehouseParts(warehouse)) this.integration.node.addDependency(part);
    ignoreCfnLint(this.integration, 'W3005', 'The integration depends on the whole warehouse construct (its namespace policy and workgroup settings must come first); '
      + 'some of its resources are also referenced by TargetArn or KMSKeyId. The redundant entries are harmless.');
    this.integrationArn = this.integration.attrIntegrationArn;
    // arn:<partition>:rds:<region>:<account>:integration:<id>
    this.integrationId = Fn.select(6, Fn.split(':', this.integrationArn));

    this.createDatabase = new RedshiftSql(this, 'Database', {
      warehouse,
      create: [{ sql: createDatabaseFromIntegration(props.database, this.integrationId, props.sourceDatabase) }],
      waitForIntegration: { integrationArn: this.integrationArn, timeout: props.activationTimeout },
      // No drop: the replicated database is kept on delete. Redshift refuses to drop a database
      // whose integration still exists, and CloudFormation deletes this resource before the
      // integration it references; a resource deleted after the integration would have to use the
      // same SQL runner, whose waiter policy names the integration: a dependency cycle.
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }

  /** Synth-time checks of the props, the source's engine version and its parameter group. */
  private validate(props: AuroraZeroEtlProps): AuroraZeroEtlEngine {
    const dbProblem = identifierProblem(props.database);
    if (dbProblem) throw propError(this, 'database', `('${props.database}') ${dbProblem}`);
    if (!Token.isUnresolved(props.warehouse.databaseName) && props.database === props.warehouse.databaseName) {
      throw propError(this, 'database', `('${props.database}') must not be the warehouse's own database: the replicated database is created, read-only, next to it`);
    }
    if (props.integrationName !== undefined && !Token.isUnresolved(props.integrationName)
      && (props.integrationName.length > 63 || !INTEGRATION_NAME.test(props.integrationName))) {
      throw propError(this, 'integrationName', `('${props.integrationName}') must be 1–63 letters, digits and single hyphens, starting with a letter`);
    }
    if (props.dataFilter !== undefined && !Token.isUnresolved(props.dataFilter) && !DATA_FILTER.test(props.dataFilter)) {
      throw propError(this, 'dataFilter', `('${props.dataFilter}') must be 1–25,600 characters of letters, digits, spaces and _ " \\ - $ , * . : ? + / `
        + '(e.g. "include: orders.*, exclude: orders.audit_*")');
    }
    const timeout = props.activationTimeout;
    if (timeout !== undefined && !timeout.isUnresolved() && (timeout.toSeconds() < 60 || timeout.toSeconds() > MAX_INTEGRATION_WAIT.toSeconds())) {
      throw propError(this, 'activationTimeout', `(${timeout.toHumanString()}) must be between 1 minute and ${MAX_INTEGRATION_WAIT.toMinutes()} minutes: `
        + 'CloudFormation fails a custom resource after one hour, and the SQL runner needs up to 14 minutes of it once the integration is active');
    }
    const engine = props.sourceEngine ?? this.engineOf(props.cluster);
    const clusterEngineType = props.cluster.engine?.engineType;
    if (clusterEngineType !== undefined && clusterEngineType !== engine.engineType) {
      throw propError(this, 'sourceEngine', `(${engine.displayName}) does not match the cluster's engine ('${clusterEngineType}')`);
    }
    if (engine === AuroraZeroEtlEngine.AURORA_POSTGRESQL && props.sourceDatabase === undefined) {
      throw propError(this, 'sourceDatabase', 'is required for an Aurora PostgreSQL source: an integration replicates one named database of the cluster');
    }
    if (engine === AuroraZeroEtlEngine.AURORA_MYSQL && props.sourceDatabase !== undefined) {
      throw propError(this, 'sourceDatabase', `('${props.sourceDatabase}') is only for Aurora PostgreSQL sources: an Aurora MySQL integration replicates every database`);
    }
    if (props.sourceDatabase !== undefined && (Token.isUnresolved(props.sourceDatabase) || props.sourceDatabase.length === 0)) {
      throw propError(this, 'sourceDatabase', `('${props.sourceDatabase}') must be a literal, non-empty database name`);
    }
    const fullVersion = props.cluster.engine?.engineVersion?.fullVersion;
    const versionProblem = fullVersion === undefined ? undefined : engineVersionProblem(engine, fullVersion);
    if (versionProblem) throw propError(this, 'cluster.engine', `('${fullVersion}') ${versionProblem}`);
    this.checkParameters(props, engine);
    return engine;
  }

  private engineOf(cluster: rds.IDatabaseCluster): AuroraZeroEtlEngine {
    const engineType = cluster.engine?.engineType;
    if (engineType === undefined) {
      throw propError(this, 'sourceEngine', 'is required: the cluster does not say its engine (an imported cluster); set AuroraZeroEtlEngine.AURORA_MYSQL or AURORA_POSTGRESQL');
    }
    const engine = AuroraZeroEtlEngine.fromEngineType(engineType);
    if (!engine) throw propError(this, 'cluster.engine', `('${engineType}') is not a zero-ETL source: use Aurora MySQL or Aurora PostgreSQL`);
    return engine;
  }

  private checkParameters(props: AuroraZeroEtlProps, engine: AuroraZeroEtlEngine): void {
    const found = findClusterParameters(props.cluster, props.parameterGroup);
    const prop = props.parameterGroup ? 'parameterGroup' : 'cluster';
    if (found === 'default') {
      throw propError(this, 'cluster', `uses the engine's default DB cluster parameter group; zero-ETL needs a custom one holding ${engine.displayName}'s required values (see zeroEtlClusterParameters)`);
    }
    if (found === undefined) {
      Annotations.of(this).addWarningV2('cdk-streaming-pipelines:zeroEtlParametersNotChecked',
        `The source's DB cluster parameter group is not visible to this app, so its zero-ETL values could not be checked at synth; CreateIntegration fails at deploy if they are wrong. Pass the group as \`parameterGroup\` if the app creates it.`);
      return;
    }
    const problems = parameterProblems(engine, found);
    if (problems.length > 0) {
      const list = problems.map((p) => `${p.parameter} (${p.value === undefined ? 'missing' : `'${p.value}'`}) ${p.rule}`).join('; ');
      throw propError(this, prop, `does not hold the DB cluster parameters ${engine.displayName} zero-ETL requires: ${list}`);
    }
    const tokens = unresolvedParameters(engine, found);
    if (tokens.length > 0) {
      Annotations.of(this).addWarningV2('cdk-streaming-pipelines:zeroEtlParametersUnresolved',
        `The zero-ETL parameters ${tokens.join(', ')} are not literal values, so they could not be checked at synth.`);
    }
  }
}

/**
 * The parameters of the cluster's DB cluster parameter group, when this app defines it: from
 * `group` when given, else from the group a `DatabaseCluster` of this app references. 'default'
 * when the cluster names no group (the engine's default group); undefined when it is not visible.
 */
function findClusterParameters(cluster: rds.IDatabaseCluster, group?: rds.IParameterGroup): { [name: string]: unknown } | 'default' | undefined {
  let cfnGroup: rds.CfnDBClusterParameterGroup | undefined;
  if (group) {
    cfnGroup = group.node.children.find((c): c is rds.CfnDBClusterParameterGroup => c instanceof rds.CfnDBClusterParameterGroup);
  } else {
    const cfnCluster = cluster.node.defaultChild;
    if (!(cfnCluster instanceof rds.CfnDBCluster)) return undefined;
    const stack = Stack.of(cfnCluster);
    const name = stack.resolve(cfnCluster.dbClusterParameterGroupName);
    // aws-cdk-lib names the engine's default group (`default.aurora-mysql8.0`) when given none.
    if (name === undefined || (typeof name === 'string' && name.startsWith('default.'))) return 'default';
    const ref = name?.Ref;
    if (typeof ref !== 'string') return undefined;
    cfnGroup = stack.node.findAll().find((c): c is rds.CfnDBClusterParameterGroup =>
      c instanceof rds.CfnDBClusterParameterGroup && stack.getLogicalId(c) === ref);
  }
  if (!cfnGroup) return undefined;
  const parameters = Stack.of(cfnGroup).resolve(cfnGroup.parameters);
  return typeof parameters === 'object' && parameters !== null ? parameters : undefined;
}

/**
 * The warehouse's namespace and workgroup when it exposes them (`RedshiftWarehouse` does): the
 * namespace holds the resource policy and the workgroup the case-sensitivity setting the
 * integration needs first. Else the warehouse construct itself.
 */
function warehouseParts(warehouse: IRedshiftWarehouse): IConstruct[] {
  const w = warehouse as unknown as { cfnNamespace?: unknown; cfnWorkgroup?: unknown };
  const parts = [w.cfnNamespace, w.cfnWorkgroup].filter((p): p is IConstruct => p instanceof Construct);
  return parts.length > 0 ? parts : [warehouse];
}
