import { Duration, RemovalPolicy, type Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as glue from 'aws-cdk-lib/aws-glue';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as rds from 'aws-cdk-lib/aws-rds';
import { acknowledge, inCompliancePacks } from '../lib/core/acknowledge';
import { AuroraZeroEtlEngine, zeroEtlClusterParameters } from '../lib/core/zero-etl-parameters';
import { addDefaultLake } from './examples';
import { addKafkaVpc } from './examples-kafka';
import { PipelineKey, ZeroEtlWarehouse, type AuroraZeroEtl, type RedshiftAutoCopy, type RedshiftStreamingIngestion, type StreamingLake } from '../lib';

/** What {@link addAuroraSource} builds. */
export interface AuroraSource {
  readonly cluster: rds.DatabaseCluster;
  readonly parameterGroup: rds.ParameterGroup;
  readonly engine: AuroraZeroEtlEngine;
}

/** The engine versions the example runs: zero-ETL needs Aurora MySQL 3.05.2+ or Aurora PostgreSQL 16.4+. */
function clusterEngine(engine: AuroraZeroEtlEngine): rds.IClusterEngine {
  return engine === AuroraZeroEtlEngine.AURORA_MYSQL
    ? rds.DatabaseClusterEngine.auroraMysql({ version: rds.AuroraMysqlEngineVersion.VER_3_08_0 })
    : rds.DatabaseClusterEngine.auroraPostgres({ version: rds.AuroraPostgresEngineVersion.VER_16_9 });
}

/**
 * A zero-ETL source for the warehouse examples: an Aurora cluster (MySQL 3.08 by default, or
 * PostgreSQL 16.9) on Serverless v2, in the VPC's private subnets, encrypted with `key`, IAM
 * authentication on, deletion protection and 35 days of backups, its logs exported to CloudWatch,
 * and a DB cluster parameter group holding exactly the values zero-ETL requires.
 */
export function addAuroraSource(stack: Stack, vpc: ec2.IVpc, key: kms.IKey, engine: AuroraZeroEtlEngine = AuroraZeroEtlEngine.AURORA_MYSQL): AuroraSource {
  const mysql = engine === AuroraZeroEtlEngine.AURORA_MYSQL;
  const version = clusterEngine(engine);
  const parameterGroup = new rds.ParameterGroup(stack, 'AuroraSourceParameters', {
    engine: version,
    description: `${engine.displayName} parameters for zero-ETL into Redshift`,
    parameters: zeroEtlClusterParameters(engine),
  });
  // Said on each instance too: aws-cdk-lib warns when the cluster's setting silently overrides an instance's.
  const insights = { enablePerformanceInsights: true, performanceInsightEncryptionKey: key };
  const cluster = new rds.DatabaseCluster(stack, 'AuroraSource', {
    engine: version,
    parameterGroup,
    writer: rds.ClusterInstance.serverlessV2('Writer', { autoMinorVersionUpgrade: true, ...insights }),
    // A reader in another AZ: the writer fails over to it.
    readers: [rds.ClusterInstance.serverlessV2('Reader', { scaleWithWriter: true, autoMinorVersionUpgrade: true, ...insights })],
    serverlessV2MinCapacity: 0.5,
    serverlessV2MaxCapacity: 4,
    vpc,
    vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
    storageEncrypted: true,
    storageEncryptionKey: key,
    // RDS keeps the admin password in Secrets Manager, encrypted with `key`, and rotates it (every 7 days).
    manageMasterUserPassword: true,
    credentials: rds.Credentials.fromUsername('dbadmin', { encryptionKey: key }),
    iamAuthentication: true,
    deletionProtection: true,
    removalPolicy: RemovalPolicy.SNAPSHOT,
    backup: { retention: Duration.days(35) },
    // Not the engine's well-known port.
    port: mysql ? 3307 : 5433,
    // RDS creates the log groups; cloudwatchLogsRetention would add aws-cdk-lib's LogRetention function.
    cloudwatchLogsExports: mysql ? ['audit', 'error', 'general', 'slowquery'] : ['postgresql'],
    monitoringInterval: Duration.minutes(1),
    enablePerformanceInsights: true,
    performanceInsightEncryptionKey: key,
    copyTagsToSnapshot: true,
  });
  acknowledgeSource(cluster, mysql);
  return { cluster, parameterGroup, engine };
}

function acknowledgeSource(cluster: rds.DatabaseCluster, mysql: boolean): void {
  const monitoringRole = cluster.node.tryFindChild('MonitoringRole')?.node.defaultChild;
  if (monitoringRole) {
    acknowledge(monitoringRole, {
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole]':
        'The AWS managed policy RDS documents for enhanced monitoring: it lets the RDS monitoring agent write only to the RDSOSMetrics log group.',
    });
  }
  for (const id of ['Writer', 'Reader']) {
    acknowledge(cluster.node.findChild(id).node.defaultChild!, inCompliancePacks('RDSInBackupPlan',
      'Aurora backs up at the cluster level, continuously: 35 days of automated backups with point-in-time restore (BackupRetentionPeriod). An AWS Backup plan would duplicate them for this example source.',
      ['HIPAA.Security', 'NIST.800.53.R5']));
  }
  if (mysql) {
    acknowledge(cluster.node.defaultChild!, {
      'AwsSolutions-RDS14': 'Backtrack rewinds the cluster in place; recovery here is point-in-time restore from the 35 days of backups, and zero-ETL replays the restored cluster through a new integration.',
    });
  }
}

/** What {@link addWarehousePipeline} builds. */
export interface WarehousePipeline {
  readonly lake: StreamingLake;
  readonly warehouse: ZeroEtlWarehouse;
  readonly autoCopy: RedshiftAutoCopy;
  readonly streaming: RedshiftStreamingIngestion;
  readonly source: AuroraSource;
  readonly zeroEtl: AuroraZeroEtl;
}

/**
 * The warehouse example: a StreamingLake (its own stream), and a ZeroEtlWarehouse loading it three
 * ways: auto-copy of the lake's curated Parquet into `public.events`, streaming ingestion of the
 * lake's stream into `public.events_live` (with typed columns), and zero-ETL from an Aurora MySQL
 * cluster created here with the parameter group zero-ETL needs, into database `orders`.
 */
export function addWarehousePipeline(stack: Stack): WarehousePipeline {
  const key = new PipelineKey(stack, 'Key', { description: 'cdk-streaming-pipelines warehouse example' }).key;
  const vpc = addKafkaVpc(stack, key);
  const lake = addDefaultLake(stack);
  const warehouse = new ZeroEtlWarehouse(stack, 'Warehouse', { vpc, encryptionKey: key, baseCapacity: 8, maxCapacity: 64 });
  const autoCopy = warehouse.autoCopy(lake, { table: 'events' });
  const streaming = warehouse.streamingIngestion({
    stream: lake.stream,
    view: 'events_live',
    fields: [
      { name: 'event_id', path: 'event_id', type: glue.Schema.STRING },
      { name: 'customer_id', path: 'customer_id', type: glue.Schema.BIG_INT },
      { name: 'amount', path: 'amount', type: glue.Schema.decimal(12, 2) },
    ],
  });
  const source = addAuroraSource(stack, vpc, key);
  const zeroEtl = warehouse.zeroEtl(source.cluster, { database: 'orders', parameterGroup: source.parameterGroup });
  return { lake, warehouse, autoCopy, streaming, source, zeroEtl };
}
