import * as glue from 'aws-cdk-lib/aws-glue';
import * as firehose from 'aws-cdk-lib/aws-kinesisfirehose';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { PartitionSpec } from './partition-spec';

/** Properties of a {@link LakeTable}. */
export interface LakeTableProps {
  /** Data columns. */
  readonly columns: glue.Column[];
  /** The lake's partition layout. */
  readonly partitions: PartitionSpec;
  /** Bucket holding the curated Parquet data. Import a KMS-encrypted bucket with its key so the table's grants include decrypt. */
  readonly bucket: s3.IBucket;
  /** Database to create the table in. @default - a new database */
  readonly database?: glue.IDatabase;
  /** Table description. @default - none */
  readonly description?: string;
  /** Parquet codec the delivery writes, recorded as the table's `parquet.compression`. @default ParquetCompression.SNAPPY */
  readonly compression?: firehose.ParquetCompression;
}

/**
 * A Parquet Glue table queryable at once: Athena partition projection, no
 * crawler. Its `storage.location.template` comes from the same PartitionSpec as
 * the Firehose prefix.
 */
export class LakeTable extends Construct {
  /** The database. */
  public readonly database: glue.IDatabase;
  /** The table. */
  public readonly table: glue.S3Table;

  constructor(scope: Construct, id: string, props: LakeTableProps) {
    super(scope, id);
    // A generated name keeps several lakes in one stack apart; Glue names are lowercase.
    this.database = props.database ?? new glue.Database(this, 'Database', {
      description: 'cdk-streaming-pipelines lake database',
    });
    this.table = new glue.S3Table(this, 'Table', {
      database: this.database,
      description: props.description,
      columns: props.columns,
      partitionKeys: props.partitions.partitionColumns,
      dataFormat: glue.DataFormat.PARQUET,
      storage: glue.S3TableStorage.fromBucket(props.bucket),
      s3Prefix: props.partitions.dataPrefix,
      partitionProjection: props.partitions.projection,
      // `has_encrypted_data: true` marks client-side (CSE-KMS) data; the lake's objects are SSE-KMS,
      // which S3 decrypts for Athena transparently, and the flag would make Athena treat the table
      // as CSE-KMS data (INSERT INTO would then use the workgroup's client-side settings).
      hasEncryptedData: false,
      parameters: {
        'storage.location.template': props.partitions.locationTemplate(props.bucket.bucketName),
        // What Athena writes on INSERT INTO / CTAS into this table: the codec Firehose writes.
        'parquet.compression': (props.compression ?? firehose.ParquetCompression.SNAPPY).value,
        classification: 'parquet',
      },
    });
  }
}
