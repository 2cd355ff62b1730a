import * as glue from 'aws-cdk-lib/aws-glue';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { PartitionSpec } from './partition-spec';

/** Properties of an {@link ArchiveTable}. */
export interface ArchiveTableProps {
  /** The archive bucket. */
  readonly bucket: s3.IBucket;
  /** The archive prefix, as written by the ArchiveDelivery. */
  readonly prefix: string;
  /** Number of lanes (`bucket=00..NN`). */
  readonly lanes: number;
  /** Database to create the table in. */
  readonly database: glue.IDatabase;
  /** First day of the `dt` projection (`yyyy-MM-dd`); the range ends at NOW. @default '2020-01-01' */
  readonly projectionStart?: string;
}

/** Columns of an archived record (lambda/shared/archive-format.ts). */
export const ARCHIVE_COLUMNS: glue.Column[] = [
  { name: 'partition_key', type: glue.Schema.STRING },
  { name: 'sequence_number', type: glue.Schema.STRING, comment: 'Sequence number in the source stream (compare within one shard only)' },
  { name: 'sub_sequence_number', type: glue.Schema.INTEGER, comment: 'Index in the producer\'s KPL aggregate; 0 for a plain record' },
  { name: 'approximate_arrival_timestamp', type: glue.Schema.BIG_INT, comment: 'Arrival in the source stream, epoch milliseconds' },
  { name: 'shard_id', type: glue.Schema.STRING },
  { name: 'data', type: glue.Schema.STRING, comment: 'The exact payload, base64: from_utf8(from_base64(data)) for text' },
];

/**
 * The archive as an Athena table: JSON Lines (gzip) with partition projection
 * on arrival `dt`, `hour` and lane `bucket`, so auditors query the raw zone at
 * once, with no crawler.
 */
export class ArchiveTable extends Construct {
  /** The table. */
  public readonly table: glue.S3Table;

  constructor(scope: Construct, id: string, props: ArchiveTableProps) {
    super(scope, id);
    const start = props.projectionStart ?? '2020-01-01';
    PartitionSpec.validateProjectionStart(this, 'projectionStart', start);
    this.table = new glue.S3Table(this, 'Table', {
      database: props.database,
      description: 'Raw archive: every record of the stream, exact payload bytes (base64), by arrival hour and partition-key lane',
      columns: ARCHIVE_COLUMNS,
      partitionKeys: [
        { name: 'dt', type: glue.Schema.STRING },
        { name: 'hour', type: glue.Schema.STRING },
        { name: 'bucket', type: glue.Schema.STRING },
      ],
      dataFormat: glue.DataFormat.JSON,
      storage: glue.S3TableStorage.fromBucket(props.bucket),
      s3Prefix: props.prefix,
      // SSE-KMS objects: `has_encrypted_data` is the client-side (CSE-KMS) flag (see LakeTable).
      hasEncryptedData: false,
      partitionProjection: {
        dt: glue.PartitionProjectionConfiguration.date({ min: start, max: 'NOW', format: 'yyyy-MM-dd', step: { interval: 1, intervalUnit: glue.DateIntervalUnit.DAYS } }),
        hour: glue.PartitionProjectionConfiguration.integer({ min: 0, max: 23, digits: 2 }),
        bucket: glue.PartitionProjectionConfiguration.integer({ min: 0, max: props.lanes - 1, digits: 2 }),
      },
      parameters: {
        'storage.location.template': `s3://${props.bucket.bucketName}/${props.prefix}dt=\${dt}/hour=\${hour}/bucket=\${bucket}/`,
        classification: 'json',
        compressionType: 'gzip',
      },
    });
  }
}
