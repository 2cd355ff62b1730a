import { ArnFormat, Aws, FeatureFlags, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as redshift from 'aws-cdk-lib/aws-redshift';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as cxapi from 'aws-cdk-lib/cx-api';
import { Construct, type IDependable } from 'constructs';
import { acknowledge, INLINE_GRANT_POLICY, inCompliancePacks, wildcardUnder } from './acknowledge';
import { propError, userPropName } from './errors';
import type { IRedshiftWarehouse } from './redshift-refs';
import { RedshiftSql } from './redshift-sql';
import { identifierProblem, MAX_IDENTIFIER_BYTES } from './redshift-sql-text';
import { redshiftTypeOf } from './redshift-types';
import { addColumnSql, type CopyColumn, copyJobCreateSql, copyJobDropSql, createSchemaSql, createTableSql, dropTableSql } from './sql/copy-job-sql';
import type { StreamingLake } from '../streaming-lake/streaming-lake';

/** Where and how a lake's curated data loads (what a warehouse's `autoCopy(lake, options)` takes). */
export interface AutoCopyOptions {
  /** The target table (a lowercase Redshift identifier), created if it does not exist. */
  readonly table: string;
  /** The target table's schema, created if missing (and never dropped). @default 'public' */
  readonly schema?: string;
  /**
   * The COPY JOB's name: a lowercase identifier without hyphens, unique in the warehouse.
   * @default `<table>_autocopy`, or `<schema>_<table>_autocopy` outside `public`
   */
  readonly jobName?: string;
  /**
   * What deleting this construct does to the table (user data). The COPY JOB is always dropped.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/** Properties of a {@link RedshiftAutoCopy}. */
export interface RedshiftAutoCopyProps extends AutoCopyOptions {
  /** The warehouse the lake's curated data loads into. */
  readonly warehouse: IRedshiftWarehouse;
  /**
   * The lake whose curated Parquet files load. Its Glue schema gives the table's columns, in order;
   * its curated bucket is the integration's source.
   */
  readonly lake: StreamingLake;
}

/** Redshift's limit of S3 event integrations per target warehouse. */
export const MAX_INTEGRATIONS_PER_TARGET = 50;

/** Per warehouse: what the auto-copies in this app already use (one integration per bucket, unique job names). */
const USED = new WeakMap<IRedshiftWarehouse, { buckets: Map<string, string>; jobs: Map<string, string> }>();

/**
 * Auto-copy from a StreamingLake into a Redshift warehouse: the S3 event integration (curated
 * bucket → namespace), the bucket and namespace resource policies it needs, a role on the
 * namespace reading the data prefix, the target table derived from the lake's Glue schema, and a
 * `COPY … FORMAT PARQUET JOB CREATE … AUTO ON` loading each new file once.
 *
 * A COPY JOB loads only files created after it exists; see the README for backfilling.
 */
export class RedshiftAutoCopy extends Construct {
  /** The S3 event integration (`AWS::Redshift::Integration`). */
  public readonly integration: redshift.CfnIntegration;
  /** The role COPY reads the curated data as (associated with the namespace). */
  public readonly role: iam.Role;
  /** The target table's schema. */
  public readonly schemaName: string;
  /** The target table. */
  public readonly tableName: string;
  /** The COPY JOB's name. */
  public readonly jobName: string;
  /** The SQL creating the target table. */
  public readonly tableSql: RedshiftSql;
  /** The SQL creating (and, on delete, dropping) the COPY JOB. */
  public readonly jobSql: RedshiftSql;

  constructor(scope: Construct, id: string, props: RedshiftAutoCopyProps) {
    super(scope, id);
    const { warehouse, lake } = props;
    const bucket = lake.bucket;
    this.schemaName = props.schema ?? 'public';
    this.tableName = props.table;
    this.jobName = props.jobName ?? defaultJobName(this.schemaName, this.tableName);
    this.validateNames(props);
    const columns = this.columnsOf(lake);
    this.validateBucket(bucket, warehouse);
    this.register(warehouse, bucket, props.jobName !== undefined);
    this.node.addValidation({ validate: () => this.notificationProblems(bucket) });

    const policyAdded = this.allowRedshiftOnBucket(bucket);
    this.authorizeOnNamespace(warehouse, bucket);
    this.role = this.readRole(lake, bucket);
    warehouse.addRole(this.role);

    // Source = the bucket, target = the namespace. The name is left to CloudFormation: it must be
    // unique per account and Region.
    this.integration = new redshift.CfnIntegration(this, 'Integration', { sourceArn: bucket.bucketArn, targetArn: warehouse.namespaceArn });
    // Redshift checks both resource policies when the integration is created. The namespace's (and
    // its roles) come with the namespace, which TargetArn references; the bucket's is a resource of its own.
    this.integration.node.addDependency(policyAdded);

    const table = { schema: this.schemaName, table: this.tableName };
    // `public` always exists; another schema is created if missing and never dropped (it may hold other objects).
    const create = [...(table.schema === 'public' ? [] : [{ sql: createSchemaSql(table.schema) }]), { sql: createTableSql(table.schema, table.table, columns) }];
    this.tableSql = new RedshiftSql(this, 'Table', {
      warehouse,
      create,
      // An update never drops the table (user data): it creates it if missing (renamed) and appends
      // columns appended to the lake's schema; existing ones fail with "already exists", which counts as done.
      update: [...create, ...columns.map((c) => ({ sql: addColumnSql(table.schema, table.table, c), ignoreErrorMatching: 'already exists' }))],
      drop: [{ sql: dropTableSql(table.schema, table.table) }],
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    // After the namespace (through the integration) even when the warehouse's names are literals.
    this.tableSql.node.addDependency(this.integration);

    this.jobSql = new RedshiftSql(this, 'Job', {
      warehouse,
      create: [{
        sql: copyJobCreateSql({
          ...table,
          bucketName: bucket.bucketName,
          prefix: lake.partitions.dataPrefix,
          roleArn: this.role.roleArn,
          serializeToJson: columns.some((c) => c.nested),
          jobName: this.jobName,
        }),
      }],
      // COPY JOB ALTER changes only AUTO ON|OFF, so a changed job is dropped and re-created (the
      // default update). A job already gone (dropped by hand) counts as dropped.
      drop: [{ sql: copyJobDropSql(this.jobName), ignoreErrorMatching: 'does not exist' }],
      // The job is ours, not user data: it always goes with the construct.
      removalPolicy: RemovalPolicy.DESTROY,
      // A job matches its FROM bucket to an integration: create it once the integration is active.
      waitForIntegration: { integrationArn: this.integration.attrIntegrationArn },
    });
    // The job reads as the role (with its policy), into the table, through the integration (both
    // referenced): all exist first, and on delete the job is dropped before any of them goes.
    this.jobSql.node.addDependency(this.tableSql, this.role.node.findChild('DefaultPolicy'));
  }

  private validateNames(props: RedshiftAutoCopyProps): void {
    for (const [prop, value] of [['schema', this.schemaName], ['table', this.tableName]] as const) {
      const problem = identifierProblem(value);
      if (problem) throw propError(this, prop, `('${value}') ${problem}`);
    }
    if (props.jobName !== undefined) {
      const problem = identifierProblem(props.jobName);
      if (problem) {
        const hyphen = props.jobName.includes('-') ? 'COPY JOB names allow no hyphens; ' : '';
        throw propError(this, 'jobName', `('${props.jobName}') ${hyphen}${problem}`);
      }
    }
  }

  /**
   * The lake's data columns, in the files' order. Firehose's Parquet files hold exactly the Glue
   * table's data columns (the partition columns live only in the object keys), and a Parquet COPY
   * maps columns by position, so the table holds these and nothing else.
   */
  private columnsOf(lake: StreamingLake): (CopyColumn & { nested: boolean })[] {
    return lake.table.columns.map((c, i) => {
      const type = redshiftTypeOf(c.type);
      if ('problem' in type) {
        throw propError(this, `lake.schema[${i}].type`, `(column '${c.name}', Glue type '${c.type.inputString}') ${type.problem.replace(/^\('[^']*'\) /, '')}`);
      }
      // Glue and Athena lowercase column names; so does the table, which keeps queries unquoted.
      return { name: c.name.toLowerCase(), sql: type.sql, nested: type.nested };
    });
  }

  /** Rules of S3 event integrations the construct can see: no dots in the name, same account and Region. */
  private validateBucket(bucket: s3.IBucket, warehouse: IRedshiftWarehouse): void {
    const name = bucket.bucketName;
    if (!Token.isUnresolved(name) && name.includes('.')) {
      throw propError(this, 'lake.bucket', `('${name}') has a dot in its name; S3 event integrations refuse such buckets`);
    }
    const here = Stack.of(this);
    const there = Stack.of(warehouse);
    const differs = (a: string, b: string) => !Token.isUnresolved(a) && !Token.isUnresolved(b) && a !== b;
    for (const [what, mine, theirs, target] of [
      ['Region', bucket.env.region, here.region, 'lake.bucket'],
      ['account', bucket.env.account, here.account, 'lake.bucket'],
      ['Region', there.region, here.region, 'warehouse'],
    ] as const) {
      if (differs(mine, theirs)) {
        throw propError(this, target, `is in ${what} ${mine}, this auto-copy's stack in ${theirs}; an S3 event integration needs the bucket, the integration and the warehouse in one ${what}`);
      }
    }
  }

  /** One integration per bucket and target, at most 50 per target; job names unique per warehouse. */
  private register(warehouse: IRedshiftWarehouse, bucket: s3.IBucket, jobNameGiven: boolean): void {
    let used = USED.get(warehouse);
    if (!used) USED.set(warehouse, used = { buckets: new Map(), jobs: new Map() });
    const key = Token.isUnresolved(bucket.bucketName) ? `node:${bucket.node.path}` : `name:${bucket.bucketName}`;
    const other = used.buckets.get(key);
    if (other) {
      throw propError(this, 'lake', `('${bucket.node.path}') already loads into this warehouse through ${other}: an S3 event integration is one per bucket and target, and a lake has one schema and one data prefix, so a second table would only hold the same rows again`);
    }
    if (used.buckets.size >= MAX_INTEGRATIONS_PER_TARGET) {
      throw propError(this, 'warehouse', `already has ${used.buckets.size} auto-copies; Redshift allows at most ${MAX_INTEGRATIONS_PER_TARGET} S3 event integrations per target`);
    }
    const job = used.jobs.get(this.jobName);
    if (job) {
      throw propError(this, jobNameGiven ? 'jobName' : 'table', `gives the COPY JOB name '${this.jobName}', which ${job} already uses in this warehouse${jobNameGiven ? '' : '; set `jobName`'}`);
    }
    used.buckets.set(key, this.node.path);
    used.jobs.set(this.jobName, this.node.path);
  }

  /**
   * CDK's bucket-notification resource (`Custom::S3BucketNotifications`) puts the bucket's whole
   * notification configuration when CDK manages it (a bucket created in the app), on every update
   * and on delete (then empty), removing the notification Redshift added; and the integration
   * needs the bucket to have no other ObjectCreated notification. So the lake's bucket must have none.
   */
  private notificationProblems(bucket: s3.IBucket): string[] {
    const resource = bucket.node.tryFindChild('Notifications');
    if (!resource) return [];
    const managed = bucket instanceof s3.Bucket && !FeatureFlags.of(bucket).isEnabled(cxapi.S3_KEEP_NOTIFICATION_IN_IMPORTED_BUCKET);
    const why = managed
      ? 'CDK manages that bucket\'s notifications and puts its whole notification configuration on every update and on delete, removing the one Redshift\'s S3 event integration adds'
      : 'an S3 event integration needs the bucket to have no other ObjectCreated notification';
    return [`\`${userPropName(this, 'lake')}\` has CDK bucket notifications (addEventNotification or EventBridge, ${resource.node.path}): ${why}. Subscribe other consumers to the lake's stream instead`];
  }

  /**
   * Lets Redshift read and set the bucket's notifications, for integrations of this account and
   * Region only (AWS's documented statement). The integration's own ARN cannot be named: Redshift
   * checks this policy while the integration is being created.
   */
  private allowRedshiftOnBucket(bucket: s3.IBucket): IDependable {
    const stack = Stack.of(this);
    const { statementAdded, policyDependable } = bucket.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'RedshiftS3EventIntegration',
      principals: [new iam.ServicePrincipal('redshift.amazonaws.com')],
      actions: ['s3:GetBucketNotification', 's3:PutBucketNotification', 's3:GetBucketLocation'],
      resources: [bucket.bucketArn],
      conditions: {
        ArnLike: { 'aws:SourceArn': stack.formatArn({ service: 'redshift', resource: 'integration', resourceName: '*', arnFormat: ArnFormat.COLON_RESOURCE_NAME }) },
        StringEquals: { 'aws:SourceAccount': stack.account },
      },
    }));
    if (!statementAdded || !policyDependable) {
      throw propError(this, 'lake.bucket', `('${bucket.bucketName}') is an imported bucket whose policy this app cannot change; Redshift's S3 event integration needs the bucket policy to allow redshift.amazonaws.com s3:GetBucketNotification, s3:PutBucketNotification and s3:GetBucketLocation. Import it with s3.Bucket.fromBucketAttributes and let the lake create the curated bucket, or own the policy in the app that created the bucket`);
    }
    return policyDependable;
  }

  /** The namespace's resource policy authorizes an inbound integration from this bucket only. */
  private authorizeOnNamespace(warehouse: IRedshiftWarehouse, bucket: s3.IBucket): void {
    const fromBucket = { 'aws:SourceArn': bucket.bucketArn, 'aws:SourceAccount': bucket.env.account };
    warehouse.addToResourcePolicy(new iam.PolicyStatement({
      principals: [new iam.ServicePrincipal('redshift.amazonaws.com')],
      actions: ['redshift:AuthorizeInboundIntegration'],
      resources: [warehouse.namespaceArn],
      conditions: { StringEquals: fromBucket },
    }));
    // CloudFormation creates the integration as the deploying principal of this account.
    warehouse.addToResourcePolicy(new iam.PolicyStatement({
      principals: [new iam.AccountRootPrincipal()],
      actions: ['redshift:CreateInboundIntegration'],
      resources: [warehouse.namespaceArn],
      conditions: { StringEquals: fromBucket },
    }));
  }

  /**
   * The role COPY reads as: objects under the data prefix, listing only that prefix, and decrypt
   * through S3 with the lake's key. Redshift (provisioned) and Redshift Serverless both assume
   * namespace roles.
   */
  private readRole(lake: StreamingLake, bucket: s3.IBucket): iam.Role {
    const prefix = lake.partitions.dataPrefix;
    const key: kms.IKey = bucket.encryptionKey ?? lake.encryptionKey;
    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.CompositePrincipal(new iam.ServicePrincipal('redshift.amazonaws.com'), new iam.ServicePrincipal('redshift-serverless.amazonaws.com')),
      description: 'Auto-copy: reads the lake\'s curated data prefix for a Redshift COPY JOB',
    });
    role.addToPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [bucket.arnForObjects(`${prefix}*`)] }));
    role.addToPolicy(new iam.PolicyStatement({
      actions: ['s3:ListBucket'],
      resources: [bucket.bucketArn],
      conditions: { StringLike: { 's3:prefix': [prefix, `${prefix}*`] } },
    }));
    role.addToPolicy(new iam.PolicyStatement({
      actions: ['kms:Decrypt'],
      resources: [key.keyArn],
      conditions: { StringEquals: { 'kms:ViaService': `s3.${Aws.REGION}.amazonaws.com` } },
    }));
    const objects = wildcardUnder(this, bucket.bucketArn, `/${prefix}*`);
    acknowledge(role, {
      ...inCompliancePacks('IAMNoInlinePolicy', INLINE_GRANT_POLICY),
      ...(objects ? { [objects]: 'COPY reads every object Firehose writes under the lake\'s curated data prefix; their keys (partitions and file names) are generated per delivery and cannot be listed in advance.' } : {}),
    });
    return role;
  }
}

/** `<table>_autocopy` (`<schema>_<table>_autocopy` outside public), cut to Redshift's identifier limit. */
function defaultJobName(schema: string, table: string): string {
  const base = schema === 'public' ? table : `${schema}_${table}`;
  return `${base.slice(0, MAX_IDENTIFIER_BYTES - '_autocopy'.length)}_autocopy`;
}
