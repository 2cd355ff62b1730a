import { isDeepStrictEqual } from 'node:util';
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as rds from 'aws-cdk-lib/aws-rds';
import { listAcknowledgements } from '../bin/compliance';
import { RedshiftSql } from '../lib/core/redshift-sql';
import { RedshiftSqlProvider } from '../lib/handlers/redshift-sql-provider';
import { fixtureVpc } from './support/kafka-fixture-vpc';
import { expectNagClean, newApp } from './support/nag';
import { StubRedshiftWarehouse } from './support/redshift-warehouse-stub';

const RDS_INTEGRATION = 'arn:aws:rds:eu-west-1:123456789012:integration:5b9f3d79-7392-4a3e-896c-58eaa1b53231';

function build(stack: Stack): { warehouse: StubRedshiftWarehouse; plain: RedshiftSql; waiting: RedshiftSql } {
  // The stub's VPC is the test's fixture (the user's network), its findings acknowledged there.
  const warehouse = new StubRedshiftWarehouse(stack, 'Warehouse', { vpc: fixtureVpc(stack) });
  const plain = new RedshiftSql(stack, 'Schema', {
    warehouse,
    create: [{ sql: 'CREATE SCHEMA IF NOT EXISTS "lake"' }, { sql: 'CREATE TABLE "lake"."t" (c INT)', ignoreErrorMatching: 'already exists' }],
    drop: [{ sql: 'DROP SCHEMA IF EXISTS "lake" CASCADE' }],
  });
  const waiting = new RedshiftSql(stack, 'Replica', {
    warehouse,
    database: 'dev',
    create: [{ sql: 'CREATE DATABASE "orders" FROM INTEGRATION \'5b9f3d79\'' }],
    drop: [{ sql: 'DROP DATABASE "orders"' }],
    update: [],
    removalPolicy: RemovalPolicy.DESTROY,
    waitForIntegration: { integrationArn: RDS_INTEGRATION },
  });
  return { warehouse, plain, waiting };
}

/** Every statement of the role policies of the function whose MODE is `mode`. */
function statementsOf(template: Template, mode: string): any[] {
  const fns = template.findResources('AWS::Lambda::Function', { Properties: { Environment: { Variables: { MODE: mode } } } });
  expect(Object.keys(fns)).toHaveLength(1);
  const role = Object.values(fns)[0].Properties.Role['Fn::GetAtt'][0];
  const policies = Object.values(template.findResources('AWS::IAM::Policy')).filter((p: any) => p.Properties.Roles.some((r: any) => r.Ref === role));
  return policies.flatMap((p: any) => p.Properties.PolicyDocument.Statement);
}

describe('RedshiftSql', () => {
  const stack = new Stack(newApp(), 'TestStack');
  const { warehouse } = build(stack);
  const template = Template.fromStack(stack);

  test('writes the connection, the statement lists and the removal policy into a Custom::RedshiftSql', () => {
    template.hasResourceProperties('Custom::RedshiftSql', {
      WorkgroupName: 'stub-workgroup',
      Database: 'dev',
      SecretArn: stack.resolve(warehouse.adminSecretArn),
      Create: [{ Sql: 'CREATE SCHEMA IF NOT EXISTS "lake"' }, { Sql: 'CREATE TABLE "lake"."t" (c INT)', IgnoreErrorMatching: 'already exists' }],
      Drop: [{ Sql: 'DROP SCHEMA IF EXISTS "lake" CASCADE' }],
      Update: Match.absent(),
      RemovalPolicy: 'retain',
      WaitForIntegration: Match.absent(),
    });
  });

  test('an integration wait defaults to 40 minutes; an empty update list is kept (an update then runs nothing)', () => {
    template.hasResourceProperties('Custom::RedshiftSql', {
      Update: [],
      RemovalPolicy: 'destroy',
      WaitForIntegration: { IntegrationArn: RDS_INTEGRATION, TimeoutSeconds: 2400 },
    });
  });

  test('one provider per warehouse and stack serves every RedshiftSql, polling every 30 s for at most CloudFormation\'s hour', () => {
    const tokens = Object.values(template.findResources('Custom::RedshiftSql')).map((r: any) => JSON.stringify(r.Properties.ServiceToken));
    expect(tokens).toHaveLength(2);
    expect(new Set(tokens).size).toBe(1);
    const definition = JSON.stringify(Object.values(template.findResources('AWS::StepFunctions::StateMachine'))[0].Properties.DefinitionString);
    expect(definition).toContain('\\"IntervalSeconds\\":30');
    expect(definition).toContain('\\"MaxAttempts\\":120');
  });

  test('the runner functions run the redshift-sql handler for 14 minutes, under the framework\'s 15', () => {
    for (const mode of ['onEvent', 'isComplete']) {
      template.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: { MODE: mode } }, Timeout: 840, Runtime: 'nodejs22.x' });
    }
  });

  test('the runner may run statements on the workgroup only, see and cancel only its own statements, and read the admin secret', () => {
    const expected = [
      { Effect: 'Allow', Action: 'redshift-data:ExecuteStatement', Resource: stack.resolve(warehouse.workgroupArn) },
      {
        Effect: 'Allow', Action: ['redshift-data:DescribeStatement', 'redshift-data:CancelStatement'], Resource: '*',
        Condition: { StringEquals: { 'redshift-data:statement-owner-iam-userid': '${aws:userid}' } },
      },
      { Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: stack.resolve(warehouse.adminSecretArn) },
      { Effect: 'Allow', Action: 'kms:Decrypt', Resource: stack.resolve(warehouse.adminSecretKey.keyArn) },
    ];
    const onEvent = statementsOf(template, 'onEvent');
    const isComplete = statementsOf(template, 'isComplete');
    for (const statement of expected) {
      expect(onEvent).toContainEqual(statement);
      expect(isComplete).toContainEqual(statement);
    }
    // Nothing else but the function's own logs and X-Ray (BundledFunction's).
    const others = onEvent.filter((s) => !expected.some((e) => isDeepStrictEqual(e, s)));
    expect(others.flatMap((s) => [s.Action].flat()).sort()).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents', 'xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
    expect(JSON.stringify(onEvent)).not.toContain('DescribeIntegrations');
    expect(JSON.stringify([...onEvent, ...isComplete])).not.toContain('redshift-serverless:GetCredentials');
  });

  test('the runner functions are created after the policy letting them see their statements', () => {
    const [policyId] = Object.entries(template.findResources('AWS::IAM::Policy'))
      .find(([, p]: [string, any]) => JSON.stringify(p.Properties.PolicyDocument).includes('redshift-data:DescribeStatement'))!;
    const fns = template.findResources('AWS::Lambda::Function', { Properties: { Environment: { Variables: { MODE: Match.anyValue() } } } });
    expect(Object.keys(fns)).toHaveLength(2);
    for (const fn of Object.values(fns)) expect(fn.DependsOn).toContain(policyId);
  });

  test('only the waiter may read the awaited integration, with the action of the integration\'s service', () => {
    expect(statementsOf(template, 'isComplete')).toContainEqual({ Effect: 'Allow', Action: 'rds:DescribeIntegrations', Resource: RDS_INTEGRATION });
  });

  test('the statement policy\'s wildcard is acknowledged on that policy, once, with the Data API\'s reason', () => {
    const acks = listAcknowledgements(stack).filter((a) => a.path.includes('/RedshiftSql'));
    const keys = acks.map((a) => `${a.path} ${a.id}`);
    expect(new Set(keys).size).toBe(keys.length);
    const wildcard = acks.filter((a) => a.id === 'AwsSolutions-IAM5[Resource::*]' && a.path.endsWith('/OwnStatements'));
    expect(wildcard).toHaveLength(1);
    expect(wildcard[0].reason).toMatch(/DescribeStatement and CancelStatement support no resource-level permissions/);
  });

  test('is nag-clean under the five packs', () => {
    expectNagClean((s) => { build(s); });
  });
});

describe('RedshiftSql integration grants', () => {
  test('an AWS::RDS::Integration\'s ARN gets rds:DescribeIntegrations; a Redshift one redshift:DescribeIntegrations', () => {
    const stack = new Stack(newApp(), 'Grants');
    const warehouse = new StubRedshiftWarehouse(stack, 'Warehouse');
    const integration = new rds.CfnIntegration(stack, 'Integration', { sourceArn: 'arn:aws:rds:eu-west-1:123456789012:cluster:orders', targetArn: warehouse.namespaceArn });
    new RedshiftSql(stack, 'Replica', { warehouse, create: [{ sql: 'CREATE DATABASE x FROM INTEGRATION y' }], waitForIntegration: { integrationArn: integration.attrIntegrationArn, timeout: Duration.minutes(30) } });
    new RedshiftSql(stack, 'Again', { warehouse, create: [{ sql: 'SELECT 1' }], waitForIntegration: { integrationArn: integration.attrIntegrationArn } });
    const s3 = `arn:${stack.partition}:redshift:${stack.region}:${stack.account}:integration:a1b2c3d4-5678-90ab-cdef-EXAMPLE11111`;
    new RedshiftSql(stack, 'AutoCopy', { warehouse, create: [{ sql: 'SELECT 1' }], waitForIntegration: { integrationArn: s3 } });
    const template = Template.fromStack(stack);
    const integrationGrants = statementsOf(template, 'isComplete').filter((s) => JSON.stringify(s.Action).includes('DescribeIntegrations'));
    expect(integrationGrants).toEqual([
      { Effect: 'Allow', Action: 'rds:DescribeIntegrations', Resource: { 'Fn::GetAtt': ['Integration', 'IntegrationArn'] } },
      { Effect: 'Allow', Action: 'redshift:DescribeIntegrations', Resource: stack.resolve(s3) },
    ]);
    template.hasResourceProperties('Custom::RedshiftSql', { WaitForIntegration: { TimeoutSeconds: 1800 } });
  });

  test('RedshiftSqlProvider.of gives one provider per warehouse', () => {
    const stack = new Stack(newApp(), 'Providers');
    const a = new StubRedshiftWarehouse(stack, 'A');
    const b = new StubRedshiftWarehouse(stack, 'B', { vpc: a.vpc });
    expect(RedshiftSqlProvider.of(stack, a)).toBe(RedshiftSqlProvider.of(stack, a));
    expect(RedshiftSqlProvider.of(stack, a)).not.toBe(RedshiftSqlProvider.of(stack, b));
  });
});

describe('RedshiftSql validation', () => {
  test.each([[Duration.minutes(41), 2460], [Duration.hours(2), 7200], [Duration.seconds(30), 30]])('refuses an integration wait of %s', (timeout, seconds) => {
    const stack = new Stack(newApp(), 'Invalid');
    const warehouse = new StubRedshiftWarehouse(stack, 'Warehouse');
    expect(() => new RedshiftSql(stack, 'Sql', { warehouse, create: [{ sql: 'SELECT 1' }], waitForIntegration: { integrationArn: RDS_INTEGRATION, timeout } }))
      .toThrow(`\`waitForIntegration.timeout\` (${seconds} s) must be between 60 s and 2400 s: CloudFormation fails a custom resource after one hour, and the statements need up to 840 s of it`);
  });

  test('refuses an ignoreErrorMatching that is not a regular expression, naming the statement', () => {
    const stack = new Stack(newApp(), 'BadRegex');
    const warehouse = new StubRedshiftWarehouse(stack, 'Warehouse');
    expect(() => new RedshiftSql(stack, 'Sql', { warehouse, create: [{ sql: 'SELECT 1' }], drop: [{ sql: 'SELECT 2', ignoreErrorMatching: 'does not exist (' }] }))
      .toThrow(/`drop\[0\]\.ignoreErrorMatching` \('does not exist \('\) is not a JavaScript regular expression \(Invalid regular expression/);
  });

  test('refuses an empty statement, naming it', () => {
    const stack = new Stack(newApp(), 'Empty');
    const warehouse = new StubRedshiftWarehouse(stack, 'Warehouse');
    expect(() => new RedshiftSql(stack, 'Sql', { warehouse, create: [{ sql: 'SELECT 1' }, { sql: '  ' }] })).toThrow('`create[1].sql` is empty: give one SQL statement');
  });
});
