import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as glue from 'aws-cdk-lib/aws-glue';
import { exampleSchema } from '../bin/examples';
import { RedshiftAutoCopy } from '../lib/core/redshift-auto-copy';
import { StreamingLake } from '../lib/streaming-lake/streaming-lake';
import { fixtureVpc } from './support/kafka-fixture-vpc';
import { expectNagClean, newApp } from './support/nag';
import { StubRedshiftWarehouse } from './support/redshift-warehouse-stub';
import { only, onlyWhere } from './support/template';

const EXAMPLE_COLUMNS = '"event_id" VARCHAR(65535), "event_time" VARCHAR(65535), "customer_id" BIGINT, "region" VARCHAR(65535), '
  + '"tenant" VARCHAR(65535), "amount" DECIMAL(12,2), "quantity" INTEGER, "score" DOUBLE PRECISION, "is_test" BOOLEAN, '
  + '"ingested_at" TIMESTAMP, "business_date" DATE, "device" SUPER, "tags" SUPER, "attributes" SUPER, "device_country" VARCHAR(65535)';

interface Built { stack: Stack; template: Template; warehouse: StubRedshiftWarehouse; copy: RedshiftAutoCopy; lake: StreamingLake }

function build(schema: glue.Column[] = exampleSchema, props: { table?: string; schema?: string; jobName?: string; removalPolicy?: RemovalPolicy } = {}): Built {
  const stack = new Stack(newApp(), 'AutoCopy');
  const lake = new StreamingLake(stack, 'Lake', { schema, eventTime: { field: 'event_time' }, rawArchive: false });
  const warehouse = new StubRedshiftWarehouse(stack, 'Warehouse');
  const copy = new RedshiftAutoCopy(stack, 'Copy', { warehouse, lake, table: props.table ?? 'events', schema: props.schema, jobName: props.jobName, removalPolicy: props.removalPolicy });
  return { stack, template: Template.fromStack(stack), warehouse, copy, lake };
}

/** `[logicalId, resource]` of the RedshiftSql resource whose logical id starts with `prefix`. */
function sqlEntry(t: Template, prefix: string): [string, any] {
  return onlyWhere(t, 'Custom::RedshiftSql', prefix, (r) => Object.entries(t.findResources('Custom::RedshiftSql')).some(([id, x]) => x === r && id.startsWith(prefix)));
}
const sqlResource = (t: Template, prefix: string): any => sqlEntry(t, prefix)[1];

describe('RedshiftAutoCopy from the example lake', () => {
  let b: Built;
  beforeAll(() => { b = build(); });

  test('golden SQL: the table holds exactly the lake\'s data columns, in schema order, typed by redshiftTypeOf', () => {
    const table = sqlResource(b.template, 'CopyTable');
    const create = `CREATE TABLE IF NOT EXISTS "public"."events" (${EXAMPLE_COLUMNS})`;
    expect(table.Properties.Create).toEqual([{ Sql: create }]);
    expect(table.Properties.Drop).toEqual([{ Sql: 'DROP TABLE IF EXISTS "public"."events"' }]);
    // No dt/hour/partition columns: Firehose's Parquet files do not hold them.
    expect(create).not.toMatch(/"dt"|"hour"/);
  });

  test('golden SQL: an update never drops the table; it creates it if missing and appends new columns', () => {
    const table = sqlResource(b.template, 'CopyTable');
    expect(table.Properties.Update[0]).toEqual({ Sql: `CREATE TABLE IF NOT EXISTS "public"."events" (${EXAMPLE_COLUMNS})` });
    expect(table.Properties.Update.slice(1)).toEqual(exampleSchema.map((c, i) => ({
      Sql: `ALTER TABLE "public"."events" ADD COLUMN "${c.name}" ${EXAMPLE_COLUMNS.split(', ')[i].replace(/^"[^"]+" /, '')}`,
      IgnoreErrorMatching: 'already exists',
    })));
    expect(table.Properties.Update.slice(1)[5]).toEqual({ Sql: 'ALTER TABLE "public"."events" ADD COLUMN "amount" DECIMAL(12,2)', IgnoreErrorMatching: 'already exists' });
  });

  test('the table is kept on delete by default (user data)', () => {
    const table = sqlResource(b.template, 'CopyTable');
    expect(table.Properties.RemovalPolicy).toBe('retain');
  });

  test('golden SQL: COPY … FORMAT PARQUET SERIALIZETOJSON JOB CREATE … AUTO ON, with the bucket and role as tokens', () => {
    const job = sqlResource(b.template, 'CopyJob');
    const bucket = b.stack.getLogicalId(b.lake.bucket.node.defaultChild as any);
    const role = b.stack.getLogicalId(b.copy.role.node.defaultChild as any);
    expect(job.Properties.Create).toEqual([{
      Sql: {
        'Fn::Join': ['', [
          'COPY "public"."events" FROM \'s3://', { Ref: bucket },
          '/data/\' IAM_ROLE \'', { 'Fn::GetAtt': [role, 'Arn'] },
          '\' FORMAT PARQUET SERIALIZETOJSON JOB CREATE events_autocopy AUTO ON',
        ]],
      },
    }]);
    expect(job.Properties.Drop).toEqual([{ Sql: 'COPY JOB DROP events_autocopy', IgnoreErrorMatching: 'does not exist' }]);
  });

  test('the COPY JOB is always dropped on delete, and re-created (old drop, new create) on update', () => {
    const job = sqlResource(b.template, 'CopyJob');
    expect(job.Properties.RemovalPolicy).toBe('destroy');
    expect(job.Properties.Update).toBeUndefined();
  });

  test('the job waits for the integration to be active and runs after the table and the role\'s policy; the table after the integration', () => {
    const job = sqlResource(b.template, 'CopyJob');
    const integration = b.stack.getLogicalId(b.copy.integration);
    expect(job.Properties.WaitForIntegration).toEqual({ IntegrationArn: { 'Fn::GetAtt': [integration, 'IntegrationArn'] }, TimeoutSeconds: 2400 });
    const tableId = sqlEntry(b.template, 'CopyTable')[0];
    const policyId = Object.keys(b.template.findResources('AWS::IAM::Policy')).find((id) => id.startsWith('CopyRole'))!;
    // The integration and the role are referenced (GetAtt); the table and the role's policy are not.
    expect(job.DependsOn.sort()).toEqual([policyId, tableId].sort());
    expect(sqlResource(b.template, 'CopyTable').DependsOn).toEqual([integration]);
  });

  test('the integration: source = the curated bucket ARN, target = the namespace ARN, after the bucket policy', () => {
    const integration = only(b.template, 'AWS::Redshift::Integration');
    const bucket = b.stack.getLogicalId(b.lake.bucket.node.defaultChild as any);
    expect(integration.Properties).toEqual({
      SourceArn: { 'Fn::GetAtt': [bucket, 'Arn'] },
      TargetArn: b.stack.resolve(b.warehouse.namespaceArn),
    });
    const policy = Object.keys(b.template.findResources('AWS::S3::BucketPolicy')).find((id) => id.startsWith('LakeCurated'))!;
    expect(integration.DependsOn).toEqual([policy]);
  });

  test('the bucket policy lets redshift.amazonaws.com get/put notifications and get the location, for this account\'s integrations only', () => {
    const [, policy] = Object.entries(b.template.findResources('AWS::S3::BucketPolicy')).find(([id]) => id.startsWith('LakeCurated'))!;
    const bucket = b.stack.getLogicalId(b.lake.bucket.node.defaultChild as any);
    const statement = policy.Properties.PolicyDocument.Statement.find((s: any) => s.Sid === 'RedshiftS3EventIntegration');
    expect(statement).toEqual({
      Sid: 'RedshiftS3EventIntegration',
      Effect: 'Allow',
      Principal: { Service: 'redshift.amazonaws.com' },
      Action: ['s3:GetBucketNotification', 's3:PutBucketNotification', 's3:GetBucketLocation'],
      Resource: { 'Fn::GetAtt': [bucket, 'Arn'] },
      Condition: {
        ArnLike: { 'aws:SourceArn': { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':redshift:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':integration:*']] } },
        StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
      },
    });
    // Only that statement names redshift.amazonaws.com.
    expect(policy.Properties.PolicyDocument.Statement.filter((s: any) => JSON.stringify(s.Principal ?? '').includes('redshift'))).toHaveLength(1);
  });

  test('the namespace policy authorizes the inbound integration from this bucket only', () => {
    const bucket = b.stack.getLogicalId(b.lake.bucket.node.defaultChild as any);
    const namespace = b.stack.resolve(b.warehouse.namespaceArn);
    const fromBucket = { StringEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [bucket, 'Arn'] }, 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } };
    expect(b.stack.resolve(b.warehouse.policyStatements.map((s) => s.toStatementJson()))).toEqual([
      { Effect: 'Allow', Principal: { Service: 'redshift.amazonaws.com' }, Action: 'redshift:AuthorizeInboundIntegration', Resource: namespace, Condition: fromBucket },
      {
        Effect: 'Allow',
        Principal: { AWS: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::', { Ref: 'AWS::AccountId' }, ':root']] } },
        Action: 'redshift:CreateInboundIntegration',
        Resource: namespace,
        Condition: fromBucket,
      },
    ]);
  });

  test('the role: assumed by Redshift, associated with the namespace, reading the data prefix only and decrypting through S3', () => {
    expect(b.warehouse.roles).toEqual([b.copy.role]);
    const role = b.template.findResources('AWS::IAM::Role');
    const [, copyRole] = Object.entries(role).find(([id]) => id.startsWith('CopyRole'))!;
    expect(copyRole.Properties.AssumeRolePolicyDocument.Statement).toEqual(['redshift.amazonaws.com', 'redshift-serverless.amazonaws.com'].map((service) => ({
      Action: 'sts:AssumeRole',
      Effect: 'Allow',
      Principal: { Service: service },
    })));
    expect(copyRole.Properties.ManagedPolicyArns).toBeUndefined();
    expect(copyRole.Properties.Policies).toBeUndefined();
    const bucket = b.stack.getLogicalId(b.lake.bucket.node.defaultChild as any);
    const key = b.stack.getLogicalId(b.lake.encryptionKey.node.defaultChild as any);
    const policies = Object.entries(b.template.findResources('AWS::IAM::Policy')).filter(([, p]) => JSON.stringify(p.Properties.Roles).includes('CopyRole'));
    expect(policies).toHaveLength(1);
    expect(policies[0][1].Properties.PolicyDocument.Statement).toEqual([
      { Action: 's3:GetObject', Effect: 'Allow', Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket, 'Arn'] }, '/data/*']] } },
      { Action: 's3:ListBucket', Effect: 'Allow', Resource: { 'Fn::GetAtt': [bucket, 'Arn'] }, Condition: { StringLike: { 's3:prefix': ['data/', 'data/*'] } } },
      {
        Action: 'kms:Decrypt',
        Effect: 'Allow',
        Resource: { 'Fn::GetAtt': [key, 'Arn'] },
        Condition: { StringEquals: { 'kms:ViaService': { 'Fn::Join': ['', ['s3.', { Ref: 'AWS::Region' }, '.amazonaws.com']] } } },
      },
    ]);
  });

  test('snapshot of what the auto-copy adds (its own resources and the bucket policy)', () => {
    const resources = b.template.toJSON().Resources as { [id: string]: any };
    const mine = Object.fromEntries(Object.entries(resources).filter(([id]) => id.startsWith('Copy') || id.startsWith('LakeCuratedPolicy')));
    expect(Object.keys(mine).sort()).toEqual([
      expect.stringMatching(/^CopyIntegration/), expect.stringMatching(/^CopyJob/), expect.stringMatching(/^CopyRoleDefaultPolicy/),
      expect.stringMatching(/^CopyRole[0-9A-F]{8}$/), expect.stringMatching(/^CopyTable/), expect.stringMatching(/^LakeCuratedPolicy/),
    ]);
    expect(mine).toMatchSnapshot();
  });

  test('the public API names what it made', () => {
    expect(b.copy.schemaName).toBe('public');
    expect(b.copy.tableName).toBe('events');
    expect(b.copy.jobName).toBe('events_autocopy');
  });
});

describe('RedshiftAutoCopy options', () => {
  test('golden SQL: no nested column, no SERIALIZETOJSON; a schema (created if missing) and job name of one\'s own; DESTROY drops the table', () => {
    const schema = [
      { name: 'event_id', type: glue.Schema.STRING },
      { name: 'event_time', type: glue.Schema.TIMESTAMP },
      { name: 'Amount', type: glue.Schema.decimal(18, 4) },
      { name: 'code', type: glue.Schema.char(3) },
    ];
    const { template: t, stack, lake, copy } = build(schema, { schema: 'sales', table: 'orders', jobName: 'orders_load', removalPolicy: RemovalPolicy.DESTROY });
    const table = sqlResource(t, 'CopyTable');
    // Column names are lowercased, as Glue and Athena do, so queries need no quotes.
    expect(table.Properties.Create).toEqual([
      { Sql: 'CREATE SCHEMA IF NOT EXISTS "sales"' },
      { Sql: 'CREATE TABLE IF NOT EXISTS "sales"."orders" ("event_id" VARCHAR(65535), "event_time" TIMESTAMP, "amount" DECIMAL(18,4), "code" VARCHAR(12))' },
    ]);
    expect(table.Properties.Update.slice(0, 2)).toEqual(table.Properties.Create);
    expect(table.Properties.Update[2]).toEqual({ Sql: 'ALTER TABLE "sales"."orders" ADD COLUMN "event_id" VARCHAR(65535)', IgnoreErrorMatching: 'already exists' });
    expect(table.Properties.Drop).toEqual([{ Sql: 'DROP TABLE IF EXISTS "sales"."orders"' }]);
    expect(table.Properties.RemovalPolicy).toBe('destroy');
    const job = sqlResource(t, 'CopyJob');
    expect(job.Properties.Create).toEqual([{
      Sql: {
        'Fn::Join': ['', [
          'COPY "sales"."orders" FROM \'s3://', { Ref: stack.getLogicalId(lake.bucket.node.defaultChild as any) },
          '/data/\' IAM_ROLE \'', { 'Fn::GetAtt': [stack.getLogicalId(copy.role.node.defaultChild as any), 'Arn'] },
          '\' FORMAT PARQUET JOB CREATE orders_load AUTO ON',
        ]],
      },
    }]);
    expect(job.Properties.Drop).toEqual([{ Sql: 'COPY JOB DROP orders_load', IgnoreErrorMatching: 'does not exist' }]);
  });

  test('the default job name outside public carries the schema', () => {
    expect(build(exampleSchema, { schema: 'raw', table: 'events' }).copy.jobName).toBe('raw_events_autocopy');
  });

  test('the default job name is cut to Redshift\'s 127-byte identifier limit', () => {
    const table = 't'.repeat(127);
    const { copy } = build(exampleSchema, { table });
    expect(copy.jobName).toBe(`${'t'.repeat(118)}_autocopy`);
    expect(copy.jobName.length).toBe(127);
  });

  test('golden SQL: hostile column names are delimited and escaped, not executed', () => {
    const schema = [
      { name: 'event_time', type: glue.Schema.STRING },
      { name: 'x"; DROP TABLE users; --', type: glue.Schema.STRING },
      { name: 'a\\b/*c*/', type: glue.Schema.INTEGER },
      { name: 'café', type: glue.Schema.BOOLEAN },
    ];
    const t = build(schema).template;
    const table = sqlResource(t, 'CopyTable');
    expect(table.Properties.Create).toEqual([{ Sql: 'CREATE TABLE IF NOT EXISTS "public"."events" ("event_time" VARCHAR(65535), "x""; drop table users; --" VARCHAR(65535), "a\\b/*c*/" INTEGER, "café" BOOLEAN)' }]);
  });
});

test('nag clean (five packs) with a real StreamingLake and a stub warehouse', () => {
  expectNagClean((stack) => {
    const lake = new StreamingLake(stack, 'Lake', { schema: exampleSchema, eventTime: { field: 'event_time' } });
    // The fixture VPC's findings are acknowledged as the user's network: only what the auto-copy adds is judged.
    const warehouse = new StubRedshiftWarehouse(stack, 'Warehouse', { vpc: fixtureVpc(stack) });
    new RedshiftAutoCopy(stack, 'Copy', { warehouse, lake, table: 'events' });
  });
});
