import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as rds from 'aws-cdk-lib/aws-rds';
import { addWarehousePipeline } from '../bin/examples-warehouse';
import { StreamingLake, ZeroEtlWarehouse } from '../lib';
import { AuroraZeroEtlEngine, zeroEtlClusterParameters } from '../lib/core/zero-etl-parameters';
import { warehouseVpc } from './redshift-warehouse-support';
import { expectNagClean, newApp } from './support/nag';

/** The SQL each runner resource sends, in order, joined to one text per resource (tokens as `{…}`). */
function statements(t: Template): string[] {
  return Object.values(t.findResources('Custom::RedshiftSql')).map((r: any) => (r.Properties.Create as any[])
    .map((s) => typeof s.Sql === 'string' ? s.Sql : JSON.stringify(s.Sql)).join('\n'));
}

describe('ZeroEtlWarehouse: the example pipeline (auto-copy, streaming ingestion, zero-ETL)', () => {
  const app = newApp();
  const stack = new Stack(app, 'Example');
  const pipeline = addWarehousePipeline(stack);
  const t = Template.fromStack(stack);

  test('one namespace and one workgroup; the loaders run through one SQL runner', () => {
    t.resourceCountIs('AWS::RedshiftServerless::Namespace', 1);
    t.resourceCountIs('AWS::RedshiftServerless::Workgroup', 1);
    const tokens = new Set(Object.values(t.findResources('Custom::RedshiftSql')).map((r: any) => JSON.stringify(r.Properties.ServiceToken)));
    expect(tokens.size).toBe(1);
  });

  test('each way in gets its resources: the S3 event integration, the RDS integration, the COPY JOB, the materialized view, the database', () => {
    t.resourceCountIs('AWS::Redshift::Integration', 1);
    t.resourceCountIs('AWS::RDS::Integration', 1);
    const sql = statements(t).join('\n');
    expect(sql).toMatch(/JOB CREATE/);
    expect(sql).toMatch(/CREATE MATERIALIZED VIEW/);
    expect(sql).toMatch(/FROM KINESIS/);
    expect(sql).toMatch(/CREATE DATABASE \\"orders\\" FROM INTEGRATION/);
  });

  test('the zero-ETL integration gets its alarms on the warehouse monitor, by integration id', () => {
    const alarms = Object.values(t.findResources('AWS::CloudWatch::Alarm')).map((r: any) => r.Properties);
    const integration = alarms.filter((a) => a.Dimensions?.some((d: any) => d.Name === 'IntegrationId'));
    expect(integration.map((a) => a.MetricName).sort()).toEqual(['IntegrationLag', 'IntegrationNumTablesFailedReplication']);
    expect(pipeline.warehouse.monitor.alarmsByName['ZeroEtl-orders/TablesFailed']).toBeDefined();
  });

  test('the zero-ETL integration is created after the workgroup (case sensitivity on) and the namespace (its policy)', () => {
    const [, integration] = Object.entries(t.findResources('AWS::RDS::Integration'))[0] as [string, any];
    const ns = stack.getLogicalId(pipeline.warehouse.warehouse.cfnNamespace);
    const wg = stack.getLogicalId(pipeline.warehouse.warehouse.cfnWorkgroup);
    expect(integration.DependsOn).toEqual(expect.arrayContaining([ns, wg]));
  });

  test('the namespace policy authorizes both inbound integrations, each from its own source', () => {
    const ns = Object.values(t.findResources('AWS::RedshiftServerless::Namespace'))[0] as any;
    const text = JSON.stringify(ns.Properties.NamespaceResourcePolicy);
    expect(text).toContain('redshift:AuthorizeInboundIntegration');
    expect(text).toContain('redshift:CreateInboundIntegration');
    const conditions = (ns.Properties.NamespaceResourcePolicy.Statement as any[]).filter((s) => s.Action === 'redshift:AuthorizeInboundIntegration');
    expect(conditions.length).toBe(2);
  });
});

describe('ZeroEtlWarehouse: names', () => {
  const build = () => {
    const app = newApp();
    const stack = new Stack(app, 'Names');
    // Imported with three named AZs: a created VPC in an env-agnostic stack gets two (and cfn-lint W3010 for named ones).
    const vpc = warehouseVpc(stack);
    const lake = new StreamingLake(stack, 'Lake', { schema: [{ name: 'event_id', type: glue.Schema.STRING }, { name: 'event_time', type: glue.Schema.STRING }], eventTime: { field: 'event_time' } });
    const warehouse = new ZeroEtlWarehouse(stack, 'Warehouse', { vpc });
    return { stack, vpc, lake, warehouse };
  };

  test('a table loaded twice is refused, naming the table', () => {
    const { lake, warehouse } = build();
    warehouse.autoCopy(lake, { table: 'events' });
    expect(() => warehouse.autoCopy(lake, { table: 'events' })).toThrow(/`table` \('public.events'\) is already loaded by an auto-copy of this warehouse/);
  });

  test('a streaming view declared twice is refused, naming the view', () => {
    const { lake, warehouse } = build();
    warehouse.streamingIngestion({ stream: lake.stream, view: 'live' });
    expect(() => warehouse.streamingIngestion({ stream: lake.stream, view: 'live' })).toThrow(/`view` \('public.live'\) is already a streaming view of this warehouse/);
  });

  test('a database replicated into twice is refused, naming the database', () => {
    const { stack, vpc, warehouse } = build();
    const engine = rds.DatabaseClusterEngine.auroraMysql({ version: rds.AuroraMysqlEngineVersion.VER_3_08_0 });
    const parameterGroup = new rds.ParameterGroup(stack, 'Params', { engine, parameters: zeroEtlClusterParameters(AuroraZeroEtlEngine.AURORA_MYSQL) });
    const cluster = new rds.DatabaseCluster(stack, 'Db', { engine, parameterGroup, vpc, writer: rds.ClusterInstance.serverlessV2('Writer') });
    warehouse.zeroEtl(cluster, { database: 'orders', parameterGroup });
    expect(() => warehouse.zeroEtl(cluster, { database: 'orders', parameterGroup })).toThrow(/`database` \('orders'\) already receives a zero-ETL integration of this warehouse/);
  });

  test('two warehouses fit in one stack', () => {
    const { stack, vpc } = build();
    new ZeroEtlWarehouse(stack, 'Second', { vpc });
    const t = Template.fromStack(stack);
    const names = Object.values(t.findResources('AWS::RedshiftServerless::Namespace')).map((r: any) => r.Properties.NamespaceName);
    expect(new Set(names).size).toBe(2);
  });
});

test('the example warehouse pipeline is nag-clean under the five packs', () => {
  expectNagClean((stack) => { addWarehousePipeline(stack); });
});
