import { Duration } from 'aws-cdk-lib';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { acknowledge } from './acknowledge';
import { propError } from './errors';

/** Expected write load of a stream, used to plan its capacity. */
export interface ThroughputIntent {
  /** Peak records written per second. */
  readonly recordsPerSecond: number;
  /** Average record size in bytes (data plus partition key). */
  readonly averageRecordBytes: number;
  /**
   * Whether the load is spiky or unpredictable; spiky load goes on-demand.
   * @default false
   */
  readonly spiky?: boolean;
}

/** The capacity an intent plans. */
export interface CapacityPlan {
  /** On-demand or provisioned. */
  readonly mode: kinesis.StreamMode;
  /** Provisioned shard count; undefined when on-demand. */
  readonly shards?: number;
  /** Write capacity in bytes per second the plan provides (on-demand: its starting 4 MiB/s). */
  readonly writeBytesPerSecond: number;
}

/** Properties of an {@link IngestStream}. */
export interface IngestStreamProps {
  /** Expected load. @default - on-demand */
  readonly throughput?: ThroughputIntent;
  /** Retention, 24 h to 8,760 h. @default Duration.days(7) */
  readonly retention?: Duration;
  /** KMS key for server-side encryption. */
  readonly encryptionKey: kms.IKey;
}

const MIB = 1024 * 1024;
/** Per-shard write limits. */
export const SHARD_WRITE_BYTES_PER_SECOND = MIB;
export const SHARD_WRITE_RECORDS_PER_SECOND = 1000;
/** On-demand streams start at 4 MiB/s of write capacity and scale from there. */
export const ON_DEMAND_START_BYTES_PER_SECOND = 4 * MIB;
/** Provisioned headroom over the planned peak. */
export const SHARD_HEADROOM = 1.25;
export const DEFAULT_RETENTION = Duration.days(7);

/** A KMS-encrypted Kinesis data stream sized from a throughput intent. */
export class IngestStream extends Construct {
  /**
   * Plans capacity: provisioned shards = ceil(max(MiB/s, rec/s ÷ 1000) × 1.25),
   * or on-demand when no intent is given or it says spiky.
   */
  public static planCapacity(throughput?: ThroughputIntent): CapacityPlan {
    if (!throughput || throughput.spiky) {
      return { mode: kinesis.StreamMode.ON_DEMAND, writeBytesPerSecond: ON_DEMAND_START_BYTES_PER_SECOND };
    }
    const mibPerSecond = (throughput.recordsPerSecond * throughput.averageRecordBytes) / MIB;
    const byRecords = throughput.recordsPerSecond / SHARD_WRITE_RECORDS_PER_SECOND;
    const shards = Math.max(1, Math.ceil(Math.max(mibPerSecond, byRecords) * SHARD_HEADROOM));
    return { mode: kinesis.StreamMode.PROVISIONED, shards, writeBytesPerSecond: shards * SHARD_WRITE_BYTES_PER_SECOND };
  }

  /** Checks a retention period against Kinesis's 24 h–8,760 h range. */
  public static validateRetention(scope: Construct, retention: Duration): void {
    const hours = retention.toHours({ integral: false });
    if (!Number.isInteger(hours)) {
      throw propError(scope, 'retention', `(${Number(hours.toFixed(4))} h) must be a whole number of hours: Kinesis sets retention in hours`);
    }
    if (hours < 24 || hours > 8760) {
      throw propError(scope, 'retention', `(${hours} h) must be between 24 h and 8,760 h, the range Kinesis allows`);
    }
  }

  /** The stream. */
  public readonly stream: kinesis.Stream;
  /** The planned capacity. */
  public readonly capacity: CapacityPlan;
  /** Retention. */
  public readonly retention: Duration;

  constructor(scope: Construct, id: string, props: IngestStreamProps) {
    super(scope, id);
    const t = props.throughput;
    for (const field of ['recordsPerSecond', 'averageRecordBytes'] as const) {
      const value = t?.[field];
      if (t && !(Number.isFinite(value) && value! > 0)) throw propError(this, `throughput.${field}`, `(${value}) must be a number greater than 0`);
    }
    if (t && t.averageRecordBytes > MIB) {
      throw propError(this, 'throughput.averageRecordBytes', `(${t.averageRecordBytes}) exceeds the 1 MiB Kinesis record limit`);
    }
    this.retention = props.retention ?? DEFAULT_RETENTION;
    IngestStream.validateRetention(this, this.retention);
    this.capacity = IngestStream.planCapacity(t);
    this.stream = new kinesis.Stream(this, 'Resource', {
      streamMode: this.capacity.mode,
      shardCount: this.capacity.shards,
      retentionPeriod: this.retention,
      encryption: kinesis.StreamEncryption.KMS,
      encryptionKey: props.encryptionKey,
    });
    acknowledge(this.stream, {
      'AwsSolutions-KDS3': 'The stream is encrypted with the pipeline\'s customer-managed key (rotation on), which gives key-policy control and CloudTrail auditing of every decrypt; the aws/kinesis key offers neither.',
    });
  }
}
