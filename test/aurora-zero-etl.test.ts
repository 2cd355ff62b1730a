import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { Duration, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as rds from 'aws-cdk-lib/aws-rds';
import { AuroraZeroEtl, AuroraZeroEtlEngine, type AuroraZeroEtlProps } from '../lib';
import { addAuroraSource } from '../bin/examples-warehouse';
import { newApp } from './support/nag';
import { StubRedshiftWarehouse } from './support/redshift-warehouse-stub';
import { only } from './support/template';

interface Built {
  stack: Stack;
  warehouse: StubRedshiftWarehouse;
  cluster: rds.DatabaseCluster;
  zeroEtl: AuroraZeroEtl;
  template: Template;
}

function build(engine = AuroraZeroEtlEngine.AURORA_MYSQL, props: Partial<AuroraZeroEtlProps> = {}): Built {
  const stack = new Stack(newApp(), 'TestStack');
  const warehouse = new StubRedshiftWarehouse(stack, 'Warehouse');
  const { cluster } = addAuroraSource(stack, warehouse.vpc, warehouse.encryptionKey, engine);
  const pg = engine === AuroraZeroEtlEngine.AURORA_POSTGRESQL;
  const zeroEtl = new AuroraZeroEtl(stack, 'ZeroEtl', {
    warehouse, cluster, database: 'orders_replica', sourceDatabase: pg ? 'orders' : undefined, ...props,
  });
  return { stack, warehouse, cluster, zeroEtl, template: Template.fromStack(stack) };
}

/** The Custom::RedshiftSql resource that creates the replicated database. */
function databaseSql(template: Template): any {
  return only(template, 'Custom::RedshiftSql');
}

/** The integration id expression: the sixth `:`-segment of the integration's ARN. */
function integrationId(logicalId: string): unknown {
  return { 'Fn::Select': [6, { 'Fn::Split': [':', { 'Fn::GetAtt': [logicalId, 'IntegrationArn'] }] }] };
}

describe('AuroraZeroEtl (Aurora MySQL)', () => {
  const { stack, warehouse, cluster, zeroEtl, template } = build();
  const integrationLogicalId = stack.getLogicalId(zeroEtl.integration);

  test('creates one AWS::RDS::Integration from the cluster into the namespace, encrypted with the warehouse key', () => {
    const integration = only(template, 'AWS::RDS::Integration');
    expect(integration.Properties).toEqual({
      SourceArn: stack.resolve(cluster.clusterArn),
      TargetArn: stack.resolve(warehouse.namespaceArn),
      KMSKeyId: stack.resolve(warehouse.encryptionKey.keyArn),
      Description: 'Aurora zero-ETL into orders_replica',
    });
  });

  test('the integration is created after the cluster and its instances (the cluster references its parameter group) and the warehouse', () => {
    const integration = only(template, 'AWS::RDS::Integration');
    const writer = stack.getLogicalId(cluster.node.findChild('Writer').node.defaultChild as rds.CfnDBInstance);
    const cfnCluster = cluster.node.defaultChild as rds.CfnDBCluster;
    const reader = stack.getLogicalId(cluster.node.findChild('Reader').node.defaultChild as rds.CfnDBInstance);
    expect(integration.DependsOn).toEqual(expect.arrayContaining([writer, reader, stack.getLogicalId(warehouse.encryptionKey.node.defaultChild as kms.CfnKey)]));
    expect(integration.Properties.SourceArn['Fn::Join'][1]).toContainEqual({ Ref: stack.getLogicalId(cfnCluster) });
    expect(stack.resolve(cfnCluster.dbClusterParameterGroupName)).toEqual({
      Ref: stack.getLogicalId(cluster.node.scope!.node.findChild('AuroraSourceParameters').node.defaultChild as rds.CfnDBClusterParameterGroup),
    });
  });

  test('golden SQL: CREATE DATABASE … FROM INTEGRATION with the id taken from the integration ARN, no source database', () => {
    expect(databaseSql(template).Properties.Create).toEqual([{
      Sql: { 'Fn::Join': ['', ['CREATE DATABASE "orders_replica" FROM INTEGRATION \'', integrationId(integrationLogicalId), '\'']] },
    }]);
  });

  test('the SQL waits for the integration, two hours by default, and keeps the database on delete', () => {
    const props = databaseSql(template).Properties;
    expect(props.WaitForIntegration).toEqual({ IntegrationArn: { 'Fn::GetAtt': [integrationLogicalId, 'IntegrationArn'] }, TimeoutSeconds: 2400 });
    expect(props.RemovalPolicy).toBe('retain');
    expect(props.Drop).toEqual([]);
    expect(props.Update).toBeUndefined();
    expect(props.Database).toBe('dev'); // connects to the warehouse's own database to create the new one
  });

  test('exposes the integration ARN and id', () => {
    expect(stack.resolve(zeroEtl.integrationArn)).toEqual({ 'Fn::GetAtt': [integrationLogicalId, 'IntegrationArn'] });
    expect(stack.resolve(zeroEtl.integrationId)).toEqual(integrationId(integrationLogicalId));
    expect(zeroEtl.sourceEngine).toBe(AuroraZeroEtlEngine.AURORA_MYSQL);
    expect(zeroEtl.databaseName).toBe('orders_replica');
  });

  test('the namespace policy authorizes the account to create the integration and Redshift to accept it from this cluster only', () => {
    expect(warehouse.policyStatements.map((s) => stack.resolve(s.toStatementJson()))).toEqual([
      {
        Effect: 'Allow',
        Principal: { AWS: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::', { Ref: 'AWS::AccountId' }, ':root']] } },
        Action: 'redshift:CreateInboundIntegration',
        Resource: stack.resolve(warehouse.namespaceArn),
      },
      {
        Effect: 'Allow',
        Principal: { Service: 'redshift.amazonaws.com' },
        Action: 'redshift:AuthorizeInboundIntegration',
        Resource: stack.resolve(warehouse.namespaceArn),
        Condition: { StringEquals: { 'aws:SourceArn': stack.resolve(cluster.clusterArn) } },
      },
    ]);
  });

  test('the waiter may describe this integration only, through RDS (its service)', () => {
    const statements = Object.values(template.findResources('AWS::IAM::Policy')).flatMap((p: any) => p.Properties.PolicyDocument.Statement);
    const describe = statements.filter((s: any) => JSON.stringify(s.Action).includes('DescribeIntegrations'));
    expect(describe).toEqual([expect.objectContaining({
      Action: 'rds:DescribeIntegrations',
      Resource: { 'Fn::GetAtt': [integrationLogicalId, 'IntegrationArn'] },
    })]);
  });

  test('a visible, correct parameter group draws no warning', () => {
    Annotations.fromStack(stack).hasNoWarning('*', Match.stringLikeRegexp('zero-ETL'));
  });
});

describe('AuroraZeroEtl (Aurora PostgreSQL)', () => {
  const { stack, zeroEtl, template } = build(AuroraZeroEtlEngine.AURORA_POSTGRESQL);

  test('infers the engine from the cluster', () => {
    expect(zeroEtl.sourceEngine).toBe(AuroraZeroEtlEngine.AURORA_POSTGRESQL);
  });

  test('golden SQL: names the source database', () => {
    expect(databaseSql(template).Properties.Create).toEqual([{
      Sql: {
        'Fn::Join': ['', [
          'CREATE DATABASE "orders_replica" FROM INTEGRATION \'', integrationId(stack.getLogicalId(zeroEtl.integration)), '\' DATABASE "orders"',
        ]],
      },
    }]);
  });
});

describe('AuroraZeroEtl options', () => {
  test('integration name, data filter, key, encryption context and activation timeout reach the template', () => {
    const stack = new Stack(newApp(), 'TestStack');
    const warehouse = new StubRedshiftWarehouse(stack, 'Warehouse');
    const { cluster } = addAuroraSource(stack, warehouse.vpc, warehouse.encryptionKey);
    const key = new kms.Key(stack, 'IntegrationKey', { enableKeyRotation: true });
    new AuroraZeroEtl(stack, 'ZeroEtl', {
      warehouse, cluster, database: 'replica', integrationName: 'orders-to-redshift',
      dataFilter: 'include: orders.*, exclude: orders.audit_*', encryptionKey: key, activationTimeout: Duration.minutes(30),
      additionalEncryptionContext: { pipeline: 'orders' },
    });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::RDS::Integration', {
      IntegrationName: 'orders-to-redshift',
      DataFilter: 'include: orders.*, exclude: orders.audit_*',
      KMSKeyId: stack.resolve(key.keyArn),
      AdditionalEncryptionContext: { pipeline: 'orders' },
    });
    expect(databaseSql(template).Properties.WaitForIntegration.TimeoutSeconds).toBe(1800);
  });

  test('a quote in a name is escaped by the quoting helper', () => {
    // identifierProblem allows only lowercase standard names; the source database is any literal.
    const { template } = build(AuroraZeroEtlEngine.AURORA_POSTGRESQL, { sourceDatabase: 'Sales "EU"' });
    expect(JSON.stringify(databaseSql(template).Properties.Create)).toContain('DATABASE \\"Sales \\"\\"EU\\"\\"\\"');
  });

  test('two integrations into one warehouse share the SQL runner and add their own policy statements', () => {
    const stack = new Stack(newApp(), 'TestStack');
    const warehouse = new StubRedshiftWarehouse(stack, 'Warehouse');
    const mysql = addAuroraSource(stack, warehouse.vpc, warehouse.encryptionKey);
    const other = new rds.DatabaseCluster(stack, 'Other', {
      engine: mysql.cluster.engine!, parameterGroup: mysql.parameterGroup, vpc: warehouse.vpc,
      writer: rds.ClusterInstance.serverlessV2('Writer'),
    });
    new AuroraZeroEtl(stack, 'First', { warehouse, cluster: mysql.cluster, database: 'first' });
    new AuroraZeroEtl(stack, 'Second', { warehouse, cluster: other, database: 'second' });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::RDS::Integration', 2);
    template.resourceCountIs('Custom::RedshiftSql', 2);
    template.resourceCountIs('AWS::StepFunctions::StateMachine', 1);
    expect(warehouse.policyStatements).toHaveLength(4);
  });
});

describe('AuroraZeroEtl with a cluster it cannot see into', () => {
  test('an imported cluster with an imported group: a warning says the parameter check could not run', () => {
    const stack = new Stack(newApp(), 'TestStack');
    const warehouse = new StubRedshiftWarehouse(stack, 'Warehouse');
    const cluster = rds.DatabaseCluster.fromDatabaseClusterAttributes(stack, 'Imported', { clusterIdentifier: 'orders-db' });
    new AuroraZeroEtl(stack, 'ZeroEtl', {
      warehouse, cluster, database: 'replica', sourceEngine: AuroraZeroEtlEngine.AURORA_MYSQL,
      parameterGroup: rds.ParameterGroup.fromParameterGroupName(stack, 'Group', 'orders-zero-etl'),
    });
    Annotations.fromStack(stack).hasWarning('/TestStack/ZeroEtl', Match.stringLikeRegexp('could not be checked at synth'));
    Template.fromStack(stack).hasResourceProperties('AWS::RDS::Integration', {
      SourceArn: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':rds:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':cluster:orders-db']] },
    });
  });

  test('an imported cluster with a parameter group of this app: the group is checked', () => {
    const stack = new Stack(newApp(), 'TestStack');
    const warehouse = new StubRedshiftWarehouse(stack, 'Warehouse');
    const { parameterGroup } = addAuroraSource(stack, warehouse.vpc, warehouse.encryptionKey);
    const cluster = rds.DatabaseCluster.fromDatabaseClusterAttributes(stack, 'Imported', { clusterIdentifier: 'orders-db' });
    new AuroraZeroEtl(stack, 'ZeroEtl', { warehouse, cluster, database: 'replica', sourceEngine: AuroraZeroEtlEngine.AURORA_MYSQL, parameterGroup });
    Annotations.fromStack(stack).hasNoWarning('*', Match.stringLikeRegexp('zero-ETL'));
  });

  test('a parameter value CloudFormation resolves: a warning names it', () => {
    const stack = new Stack(newApp(), 'TestStack');
    const warehouse = new StubRedshiftWarehouse(stack, 'Warehouse');
    const { parameterGroup, cluster } = addAuroraSource(stack, warehouse.vpc, warehouse.encryptionKey);
    parameterGroup.addParameter('binlog_row_value_options', new ec2.Vpc(stack, 'V', { maxAzs: 1, natGateways: 0 }).vpcId);
    new AuroraZeroEtl(stack, 'ZeroEtl', { warehouse, cluster, database: 'replica' });
    Annotations.fromStack(stack).hasWarning('/TestStack/ZeroEtl', Match.stringLikeRegexp('binlog_row_value_options are not literal'));
  });
});
