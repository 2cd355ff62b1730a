import { Duration, Stack } from 'aws-cdk-lib';
import * as rds from 'aws-cdk-lib/aws-rds';
import { AuroraZeroEtl, AuroraZeroEtlEngine, type AuroraZeroEtlProps, zeroEtlClusterParameters } from '../lib';
import { engineVersionProblem, parameterProblems } from '../lib/core/zero-etl-parameters';
import { newApp } from './support/nag';
import { StubRedshiftWarehouse } from './support/redshift-warehouse-stub';

const MYSQL = rds.DatabaseClusterEngine.auroraMysql({ version: rds.AuroraMysqlEngineVersion.VER_3_08_0 });
const POSTGRES = rds.DatabaseClusterEngine.auroraPostgres({ version: rds.AuroraPostgresEngineVersion.VER_16_9 });

interface Source {
  engine?: rds.IClusterEngine;
  /** Parameters of the cluster's group; undefined: the engine's default group. */
  parameters?: { [name: string]: string };
}

/** Builds an AuroraZeroEtl on a real DatabaseCluster whose group holds `source.parameters`. */
function zeroEtl(source: Source, props: Partial<AuroraZeroEtlProps> = {}): AuroraZeroEtl {
  const stack = new Stack(newApp(), 'TestStack');
  const warehouse = new StubRedshiftWarehouse(stack, 'Warehouse');
  const engine = source.engine ?? MYSQL;
  const parameterGroup = source.parameters ? new rds.ParameterGroup(stack, 'Group', { engine, parameters: source.parameters }) : undefined;
  const cluster = new rds.DatabaseCluster(stack, 'Cluster', { engine, parameterGroup, vpc: warehouse.vpc, writer: rds.ClusterInstance.serverlessV2('Writer') });
  const pg = engine.engineType === 'aurora-postgresql';
  return new AuroraZeroEtl(stack, 'ZeroEtl', { warehouse, cluster, database: 'replica', sourceDatabase: pg ? 'app' : undefined, ...props });
}

const mysqlWith = (changes: { [name: string]: string | undefined }): { [name: string]: string } => {
  const parameters: { [name: string]: string | undefined } = { ...zeroEtlClusterParameters(AuroraZeroEtlEngine.AURORA_MYSQL), ...changes };
  return Object.fromEntries(Object.entries(parameters).filter((e): e is [string, string] => e[1] !== undefined));
};
const postgresWith = (changes: { [name: string]: string | undefined }): { [name: string]: string } => {
  const parameters: { [name: string]: string | undefined } = { ...zeroEtlClusterParameters(AuroraZeroEtlEngine.AURORA_POSTGRESQL), ...changes };
  return Object.fromEntries(Object.entries(parameters).filter((e): e is [string, string] => e[1] !== undefined));
};

describe('zero-ETL parameter rules (AWS: Getting started with Aurora zero-ETL integrations, step 1)', () => {
  test('the required values are exactly those the docs list', () => {
    expect(zeroEtlClusterParameters(AuroraZeroEtlEngine.AURORA_MYSQL)).toEqual({
      aurora_enhanced_binlog: '1', binlog_backup: '0', binlog_format: 'ROW', binlog_replication_globaldb: '0', binlog_row_image: 'full', binlog_row_metadata: 'full',
    });
    expect(zeroEtlClusterParameters(AuroraZeroEtlEngine.AURORA_POSTGRESQL)).toEqual({
      'rds.logical_replication': '1', 'aurora.enhanced_logical_replication': '1', 'aurora.logical_replication_backup': '0', 'aurora.logical_replication_globaldb': '0',
    });
  });

  test('values compare case-insensitively', () => {
    expect(parameterProblems(AuroraZeroEtlEngine.AURORA_MYSQL, mysqlWith({ binlog_format: 'row', binlog_row_image: 'FULL', binlog_row_metadata: 'Full' }))).toEqual([]);
    expect(parameterProblems(AuroraZeroEtlEngine.AURORA_MYSQL, mysqlWith({ binlog_transaction_compression: 'on' }))).toHaveLength(1);
  });

  test.each([
    ['8.0.mysql_aurora.3.05.2', undefined],
    ['8.0.mysql_aurora.3.12.0', undefined],
    ['8.0.mysql_aurora.3.05.1', /3\.05\.2 or later/],
    ['8.0.mysql_aurora.3.04.3', /3\.05\.2 or later/],
    ['5.7.mysql_aurora.2.12.1', /3\.05\.2 or later/],
  ])('Aurora MySQL %s: %s', (version, problem) => {
    const found = engineVersionProblem(AuroraZeroEtlEngine.AURORA_MYSQL, version);
    if (problem) expect(found).toMatch(problem); else expect(found).toBeUndefined();
  });

  test.each([
    ['16.4', undefined], ['16.9', undefined], ['17.4', undefined], ['16.3', /16\.4 or later/], ['15.10', /16\.4 or later/],
  ])('Aurora PostgreSQL %s: %s', (version, problem) => {
    const found = engineVersionProblem(AuroraZeroEtlEngine.AURORA_POSTGRESQL, version);
    if (problem) expect(found).toMatch(problem); else expect(found).toBeUndefined();
  });
});

describe('AuroraZeroEtl synth-time errors', () => {
  test.each([
    ['aurora_enhanced_binlog', '0', /aurora_enhanced_binlog \('0'\) must be 1/],
    ['aurora_enhanced_binlog', undefined, /aurora_enhanced_binlog \(missing\) must be 1/],
    ['binlog_backup', '1', /binlog_backup \('1'\) must be 0/],
    ['binlog_backup', undefined, /binlog_backup \(missing\) must be 0/],
    ['binlog_format', 'MIXED', /binlog_format \('MIXED'\) must be ROW/],
    ['binlog_format', undefined, /binlog_format \(missing\) must be ROW/],
    ['binlog_replication_globaldb', '1', /binlog_replication_globaldb \('1'\) must be 0/],
    ['binlog_replication_globaldb', undefined, /binlog_replication_globaldb \(missing\) must be 0/],
    ['binlog_row_image', 'minimal', /binlog_row_image \('minimal'\) must be full/],
    ['binlog_row_image', undefined, /binlog_row_image \(missing\) must be full/],
    ['binlog_row_metadata', 'minimal', /binlog_row_metadata \('minimal'\) must be full/],
    ['binlog_row_metadata', undefined, /binlog_row_metadata \(missing\) must be full/],
    ['binlog_transaction_compression', 'ON', /binlog_transaction_compression \('ON'\) must not be ON/],
    ['binlog_row_value_options', 'PARTIAL_JSON', /binlog_row_value_options \('PARTIAL_JSON'\) must not be PARTIAL_JSON/],
  ])('Aurora MySQL: %s = %s is an error naming the parameter, its value and the rule', (parameter, value, message) => {
    expect(() => zeroEtl({ parameters: mysqlWith({ [parameter]: value }) })).toThrow(message);
    expect(() => zeroEtl({ parameters: mysqlWith({ [parameter]: value }) })).toThrow(/`cluster` does not hold the DB cluster parameters Aurora MySQL zero-ETL requires/);
  });

  test.each([
    ['rds.logical_replication', '0', /rds\.logical_replication \('0'\) must be 1/],
    ['rds.logical_replication', undefined, /rds\.logical_replication \(missing\) must be 1/],
    ['aurora.enhanced_logical_replication', '0', /aurora\.enhanced_logical_replication \('0'\) must be 1/],
    ['aurora.enhanced_logical_replication', undefined, /aurora\.enhanced_logical_replication \(missing\) must be 1/],
    ['aurora.logical_replication_backup', '1', /aurora\.logical_replication_backup \('1'\) must be 0/],
    ['aurora.logical_replication_backup', undefined, /aurora\.logical_replication_backup \(missing\) must be 0/],
    ['aurora.logical_replication_globaldb', '1', /aurora\.logical_replication_globaldb \('1'\) must be 0/],
    ['aurora.logical_replication_globaldb', undefined, /aurora\.logical_replication_globaldb \(missing\) must be 0/],
  ])('Aurora PostgreSQL: %s = %s is an error naming the parameter, its value and the rule', (parameter, value, message) => {
    expect(() => zeroEtl({ engine: POSTGRES, parameters: postgresWith({ [parameter]: value }) })).toThrow(message);
  });

  test('every broken rule is listed in one error', () => {
    expect(() => zeroEtl({ parameters: mysqlWith({ binlog_format: 'MIXED', binlog_backup: '1' }) })).toThrow(/binlog_backup \('1'\) must be 0; binlog_format \('MIXED'\) must be ROW/);
  });

  test('the engine\'s default parameter group is an error', () => {
    expect(() => zeroEtl({})).toThrow(/`cluster` uses the engine's default DB cluster parameter group/);
  });

  test('a given parameterGroup is the one checked, and the error names it', () => {
    const stack = new Stack(newApp(), 'TestStack');
    const warehouse = new StubRedshiftWarehouse(stack, 'Warehouse');
    const parameterGroup = new rds.ParameterGroup(stack, 'Group', { engine: MYSQL, parameters: mysqlWith({ binlog_row_image: 'noblob' }) });
    const cluster = rds.DatabaseCluster.fromDatabaseClusterAttributes(stack, 'Imported', { clusterIdentifier: 'orders-db', engine: MYSQL });
    parameterGroup.bindToCluster({});
    expect(() => new AuroraZeroEtl(stack, 'ZeroEtl', { warehouse, cluster, parameterGroup, database: 'replica' }))
      .toThrow(/`parameterGroup` does not hold .* binlog_row_image \('noblob'\) must be full/);
  });

  test('Aurora PostgreSQL without sourceDatabase', () => {
    expect(() => zeroEtl({ engine: POSTGRES, parameters: postgresWith({}) }, { sourceDatabase: undefined }))
      .toThrow(/`sourceDatabase` is required for an Aurora PostgreSQL source/);
  });

  test('Aurora MySQL with a sourceDatabase', () => {
    expect(() => zeroEtl({ parameters: mysqlWith({}) }, { sourceDatabase: 'app' })).toThrow(/`sourceDatabase` \('app'\) is only for Aurora PostgreSQL sources/);
  });

  test.each([
    ['Replica', /lowercase/], ['1replica', /start with a lowercase letter/], ['orders-replica', /lowercase letters, digits, underscores/], ['', /must not be empty/],
    ['x'.repeat(128), /at most 127 bytes/],
  ])('database %j is not a valid identifier', (database, message) => {
    expect(() => zeroEtl({ parameters: mysqlWith({}) }, { database })).toThrow(/`database`/);
    expect(() => zeroEtl({ parameters: mysqlWith({}) }, { database })).toThrow(message);
  });

  test('database must not be the warehouse\'s own database', () => {
    expect(() => zeroEtl({ parameters: mysqlWith({}) }, { database: 'dev' })).toThrow(/`database` \('dev'\) must not be the warehouse's own database/);
  });

  test.each(['-orders', 'orders--redshift', 'orders_redshift', 'x'.repeat(64)])('integrationName %j', (integrationName) => {
    expect(() => zeroEtl({ parameters: mysqlWith({}) }, { integrationName })).toThrow(/`integrationName` .* must be 1–63 letters, digits and single hyphens/);
  });

  test.each(['', 'include: orders.*; drop table x', "include: orders.'x'"])('dataFilter %j', (dataFilter) => {
    expect(() => zeroEtl({ parameters: mysqlWith({}) }, { dataFilter })).toThrow(/`dataFilter` .* must be 1–25,600 characters/);
  });

  test('a dataFilter of the documented form is accepted', () => {
    expect(() => zeroEtl({ parameters: mysqlWith({}) }, { dataFilter: 'include: orders.*, exclude: orders.audit_*, include: "Sales"."EU\\-1"' })).not.toThrow();
  });

  test.each([['1 hour', Duration.hours(1)], ['30 seconds', Duration.seconds(30)]])('activationTimeout of %s', (_label, activationTimeout) => {
    expect(() => zeroEtl({ parameters: mysqlWith({}) }, { activationTimeout })).toThrow(/`activationTimeout` .* must be between 1 minute and 40 minutes: CloudFormation fails a custom resource after one hour/);
  });

  test('an unsupported Aurora MySQL version', () => {
    const engine = rds.DatabaseClusterEngine.auroraMysql({ version: rds.AuroraMysqlEngineVersion.VER_3_04_3 });
    expect(() => zeroEtl({ engine, parameters: mysqlWith({}) })).toThrow(/`cluster.engine` \('8.0.mysql_aurora.3.04.3'\) is not supported by zero-ETL \(Aurora MySQL 3.05.2 or later is\)/);
  });

  test('an unsupported Aurora PostgreSQL version', () => {
    const engine = rds.DatabaseClusterEngine.auroraPostgres({ version: rds.AuroraPostgresEngineVersion.VER_15_10 });
    expect(() => zeroEtl({ engine, parameters: postgresWith({}) })).toThrow(/`cluster.engine` \('15.10'\) is not supported by zero-ETL \(Aurora PostgreSQL 16.4 or later is\)/);
  });

  test('a cluster that is not Aurora MySQL or PostgreSQL', () => {
    const stack = new Stack(newApp(), 'TestStack');
    const warehouse = new StubRedshiftWarehouse(stack, 'Warehouse');
    const cluster = rds.DatabaseCluster.fromDatabaseClusterAttributes(stack, 'Imported', {
      clusterIdentifier: 'x', engine: rds.DatabaseClusterEngine.AURORA_MYSQL,
    });
    const other = { ...cluster, engine: { ...cluster.engine!, engineType: 'docdb' }, node: cluster.node, clusterArn: cluster.clusterArn } as unknown as rds.IDatabaseCluster;
    expect(() => new AuroraZeroEtl(stack, 'ZeroEtl', { warehouse, cluster: other, database: 'replica' })).toThrow(/`cluster.engine` \('docdb'\) is not a zero-ETL source/);
  });

  test('sourceEngine must match the cluster\'s engine', () => {
    expect(() => zeroEtl({ parameters: mysqlWith({}) }, { sourceEngine: AuroraZeroEtlEngine.AURORA_POSTGRESQL, sourceDatabase: 'app' }))
      .toThrow(/`sourceEngine` \(Aurora PostgreSQL\) does not match the cluster's engine \('aurora-mysql'\)/);
  });

  test('an imported cluster without an engine needs sourceEngine', () => {
    const stack = new Stack(newApp(), 'TestStack');
    const warehouse = new StubRedshiftWarehouse(stack, 'Warehouse');
    const cluster = rds.DatabaseCluster.fromDatabaseClusterAttributes(stack, 'Imported', { clusterIdentifier: 'orders-db' });
    expect(() => new AuroraZeroEtl(stack, 'ZeroEtl', { warehouse, cluster, database: 'replica' })).toThrow(/`sourceEngine` is required/);
  });
});
