import type * as rds from 'aws-cdk-lib/aws-rds';
import { Construct } from 'constructs';
import { propError } from '../core/errors';
import type { ZeroEtlWarehouseProps } from './zero-etl-warehouse-props';
import { AuroraZeroEtl, type ZeroEtlOptions } from '../core/aurora-zero-etl';
import { RedshiftAutoCopy, type AutoCopyOptions } from '../core/redshift-auto-copy';
import { RedshiftStreamingIngestion, type StreamingIngestionOptions } from '../core/redshift-streaming-ingestion';
import { RedshiftWarehouse } from '../core/redshift-warehouse';
import type { WarehouseMonitor } from '../core/warehouse-monitor';
import type { StreamingLake } from '../streaming-lake/streaming-lake';

/**
 * A Redshift Serverless warehouse that loads itself: auto-copy from a StreamingLake's curated zone
 * (an S3 event integration and a `COPY … JOB CREATE … AUTO ON`), streaming ingestion from a Kinesis
 * stream or an MSK topic (an external schema and an auto-refreshed materialized view), and Aurora
 * zero-ETL (`AWS::RDS::Integration`, then `CREATE DATABASE … FROM INTEGRATION` once it is active).
 * Every statement runs through one SQL runner (`RedshiftSql`, on the Redshift Data API) during the
 * deployment, after the resources it names exist.
 */
export class ZeroEtlWarehouse extends Construct {
  /** The namespace, workgroup, admin secret and their policies. */
  public readonly warehouse: RedshiftWarehouse;
  /** Alarms and dashboard of the workgroup and of each zero-ETL integration. */
  public readonly monitor: WarehouseMonitor;

  constructor(scope: Construct, id: string, props: ZeroEtlWarehouseProps) {
    super(scope, id);
    this.warehouse = new RedshiftWarehouse(this, 'Warehouse', props);
    this.monitor = this.warehouse.monitor;
  }

  /**
   * Loads `lake`'s curated Parquet into `options.table` as files land: the table (its columns are the
   * lake's data columns, in order), the S3 event integration from the lake's bucket, the policies and
   * role it needs, and the COPY JOB.
   */
  public autoCopy(lake: StreamingLake, options: AutoCopyOptions): RedshiftAutoCopy {
    const id = this.uniqueId('AutoCopy', 'table', `${options.schema ?? 'public'}.${options.table}`, 'is already loaded by an auto-copy of this warehouse');
    return new RedshiftAutoCopy(this, id, { ...options, warehouse: this.warehouse, lake });
  }

  /** Ingests a Kinesis stream or an MSK topic into an auto-refreshed materialized view (`options.view`). */
  public streamingIngestion(options: StreamingIngestionOptions): RedshiftStreamingIngestion {
    const id = this.uniqueId('Streaming', 'view', `${options.viewSchema ?? 'public'}.${options.view}`, 'is already a streaming view of this warehouse');
    return new RedshiftStreamingIngestion(this, id, { ...options, warehouse: this.warehouse });
  }

  /**
   * Replicates Aurora `cluster` into database `options.database`: the zero-ETL integration, its
   * authorization on the namespace, the parameter check, `CREATE DATABASE … FROM INTEGRATION` once the
   * integration is active, and the integration's alarms on the monitor.
   */
  public zeroEtl(cluster: rds.IDatabaseCluster, options: ZeroEtlOptions): AuroraZeroEtl {
    const id = this.uniqueId('ZeroEtl', 'database', options.database, 'already receives a zero-ETL integration of this warehouse');
    const zeroEtl = new AuroraZeroEtl(this, id, { ...options, warehouse: this.warehouse, cluster });
    // Alarm names allow letters, digits and hyphens: the database name with its underscores as hyphens.
    this.monitor.addIntegration(zeroEtl.integrationId, `ZeroEtl-${options.database.replace(/_/g, '-')}`);
    return zeroEtl;
  }

  /** The child id for `name` (`<kind>-<name>`), refusing a name this warehouse already loads. */
  private uniqueId(kind: string, prop: string, name: string, rule: string): string {
    const id = `${kind}-${name}`;
    if (this.node.tryFindChild(id)) throw propError(this, prop, `('${name}') ${rule}`);
    return id;
  }
}
