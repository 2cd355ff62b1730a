import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { listAcknowledgements } from '../bin/compliance';
import { addKafkaVpc } from '../bin/examples-kafka';
import { addAuroraSource } from '../bin/examples-warehouse';
import { AuroraZeroEtl, AuroraZeroEtlEngine, PipelineKey } from '../lib';
import { expectNagClean, newApp } from './support/nag';
import { StubRedshiftWarehouse } from './support/redshift-warehouse-stub';
import { only } from './support/template';

/** The stub warehouse in the example app's hardened VPC (flow logs, no default security group). */
function warehouseIn(stack: Stack): StubRedshiftWarehouse {
  const vpc = addKafkaVpc(stack, new PipelineKey(stack, 'NetworkKey').key);
  return new StubRedshiftWarehouse(stack, 'Warehouse', { vpc });
}

describe('AuroraZeroEtl compliance', () => {
  test.each([
    ['Aurora MySQL', AuroraZeroEtlEngine.AURORA_MYSQL, undefined],
    ['Aurora PostgreSQL', AuroraZeroEtlEngine.AURORA_POSTGRESQL, 'app'],
  ])('is nag-clean under the five packs with a real %s cluster', (_name, engine, sourceDatabase) => {
    expectNagClean((stack) => {
      const warehouse = warehouseIn(stack);
      const { cluster } = addAuroraSource(stack, warehouse.vpc, warehouse.encryptionKey, engine);
      new AuroraZeroEtl(stack, 'ZeroEtl', { warehouse, cluster, database: 'replica', sourceDatabase });
    });
  });
});

describe('addAuroraSource (example app)', () => {
  test('is nag-clean under the five packs on its own', () => {
    expectNagClean((stack) => {
      const warehouse = warehouseIn(stack);
      addAuroraSource(stack, warehouse.vpc, warehouse.encryptionKey);
    });
  });

  test('acknowledges only the enhanced-monitoring managed policy, the instances\' AWS Backup plan and (MySQL) backtrack, each on its resource', () => {
    const stack = new Stack(newApp(), 'Acks');
    addAuroraSource(stack, warehouseIn(stack).vpc, new PipelineKey(stack, 'Key').key);
    const acks = listAcknowledgements(stack).filter((a) => a.path.startsWith('Acks/AuroraSource'));
    expect(acks.map((a) => `${a.path} ${a.id}`).sort()).toEqual([
      'Acks/AuroraSource/MonitoringRole/Resource AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole]',
      'Acks/AuroraSource/Reader/Resource HIPAA.Security-RDSInBackupPlan',
      'Acks/AuroraSource/Reader/Resource NIST.800.53.R5-RDSInBackupPlan',
      'Acks/AuroraSource/Resource AwsSolutions-RDS14',
      'Acks/AuroraSource/Writer/Resource HIPAA.Security-RDSInBackupPlan',
      'Acks/AuroraSource/Writer/Resource NIST.800.53.R5-RDSInBackupPlan',
    ]);
    for (const a of acks) expect(a.reason.length).toBeGreaterThan(60);
  });

  test('its parameter group holds exactly the Aurora MySQL zero-ETL values', () => {
    const stack = new Stack(newApp(), 'TestStack');
    const warehouse = warehouseIn(stack);
    addAuroraSource(stack, warehouse.vpc, warehouse.encryptionKey);
    const group = only(Template.fromStack(stack), 'AWS::RDS::DBClusterParameterGroup');
    expect(group.Properties.Family).toBe('aurora-mysql8.0');
    expect(group.Properties.Parameters).toEqual({
      aurora_enhanced_binlog: '1', binlog_backup: '0', binlog_format: 'ROW', binlog_replication_globaldb: '0', binlog_row_image: 'full', binlog_row_metadata: 'full',
    });
  });

  test('its PostgreSQL variant holds exactly the Aurora PostgreSQL zero-ETL values', () => {
    const stack = new Stack(newApp(), 'TestStack');
    const warehouse = warehouseIn(stack);
    addAuroraSource(stack, warehouse.vpc, warehouse.encryptionKey, AuroraZeroEtlEngine.AURORA_POSTGRESQL);
    const group = only(Template.fromStack(stack), 'AWS::RDS::DBClusterParameterGroup');
    expect(group.Properties.Family).toBe('aurora-postgresql16');
    expect(group.Properties.Parameters).toEqual({
      'rds.logical_replication': '1', 'aurora.enhanced_logical_replication': '1', 'aurora.logical_replication_backup': '0', 'aurora.logical_replication_globaldb': '0',
    });
  });

  test('the cluster is a supported version, encrypted with the key, in private subnets, with IAM auth, deletion protection and backups', () => {
    const stack = new Stack(newApp(), 'TestStack');
    const warehouse = warehouseIn(stack);
    const { cluster } = addAuroraSource(stack, warehouse.vpc, warehouse.encryptionKey);
    const template = Template.fromStack(stack);
    const props = only(template, 'AWS::RDS::DBCluster').Properties;
    expect(props).toEqual(expect.objectContaining({
      Engine: 'aurora-mysql',
      EngineVersion: '8.0.mysql_aurora.3.08.0',
      StorageEncrypted: true,
      KmsKeyId: stack.resolve(warehouse.encryptionKey.keyArn),
      EnableIAMDatabaseAuthentication: true,
      DeletionProtection: true,
      BackupRetentionPeriod: 35,
      ServerlessV2ScalingConfiguration: { MinCapacity: 0.5, MaxCapacity: 4 },
    }));
    const subnets = only(template, 'AWS::RDS::DBSubnetGroup').Properties.SubnetIds;
    expect(subnets).toEqual(warehouse.vpc.privateSubnets.map((s) => stack.resolve(s.subnetId)));
    for (const instance of Object.values(template.findResources('AWS::RDS::DBInstance')) as any[]) {
      expect(instance.Properties.PubliclyAccessible).toBe(false);
      expect(instance.Properties.DBInstanceClass).toBe('db.serverless');
    }
    expect(cluster.engine?.engineVersion?.fullVersion).toBe('8.0.mysql_aurora.3.08.0');
  });
});
