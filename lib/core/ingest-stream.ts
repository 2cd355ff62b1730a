import { Annotations, Aspects, Duration, Lazy } from 'aws-cdk-lib';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import { CfnDeliveryStream } from 'aws-cdk-lib/aws-kinesisfirehose';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { CfnEventSourceMapping } from 'aws-cdk-lib/aws-lambda';
import { Construct, type IConstruct } from 'constructs';
import { acknowledge } from './acknowledge';
import { propError } from './errors';

/** Expected load of a stream, used to plan its capacity. */
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
  /**
   * Standard (polling) readers outside this app (KCL applications, Flink, Glue jobs without
   * enhanced fan-out). Readers the app wires itself (Firehose deliveries, polling Lambda
   * event-source mappings) are counted from the template.
   * @default 0
   */
  readonly otherPollingReaders?: number;
}

/** The capacity an intent plans. */
export interface CapacityPlan {
  /** On-demand or provisioned. */
  readonly mode: kinesis.StreamMode;
  /** Provisioned shard count; undefined when on-demand. */
  readonly shards?: number;
  /** Write capacity in bytes per second the plan provides (on-demand: its starting 4 MiB/s). */
  readonly writeBytesPerSecond: number;
  /** Read capacity in bytes per second, shared by every polling reader (on-demand: twice its starting write capacity). */
  readonly readBytesPerSecond: number;
  /** Polling readers the plan serves, each reading every byte written. */
  readonly pollingReaders: number;
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
/** Per-shard read limit, shared by every polling (standard) reader. */
export const SHARD_READ_BYTES_PER_SECOND = 2 * MIB;
/** GetRecords calls per shard per second; each polling reader makes about one a second. */
export const SHARD_GET_RECORDS_PER_SECOND = 5;
/** On-demand streams start at 4 MiB/s of write capacity and scale from there. */
export const ON_DEMAND_START_BYTES_PER_SECOND = 4 * MIB;
/** Provisioned headroom over the planned peak. */
export const SHARD_HEADROOM = 1.25;
export const DEFAULT_RETENTION = Duration.days(7);

/** A KMS-encrypted Kinesis data stream sized from a throughput intent and the readers it serves. */
export class IngestStream extends Construct {
  /**
   * Plans capacity: provisioned shards = ceil(max(MiB/s, rec/s ÷ 1000, polling readers × MiB/s ÷ 2) × 1.25),
   * or on-demand when no intent is given or it says spiky. Every polling reader reads every byte
   * written, and they share a shard's 2 MiB/s, so above two readers reads need more shards than writes.
   */
  public static planCapacity(throughput?: ThroughputIntent, pollingReaders?: number): CapacityPlan {
    const readers = Math.max(1, pollingReaders ?? 1);
    if (!throughput || throughput.spiky) {
      return { mode: kinesis.StreamMode.ON_DEMAND, writeBytesPerSecond: ON_DEMAND_START_BYTES_PER_SECOND, readBytesPerSecond: 2 * ON_DEMAND_START_BYTES_PER_SECOND, pollingReaders: readers };
    }
    const mibPerSecond = (throughput.recordsPerSecond * throughput.averageRecordBytes) / MIB;
    const byRecords = throughput.recordsPerSecond / SHARD_WRITE_RECORDS_PER_SECOND;
    const byReads = (readers * mibPerSecond * MIB) / SHARD_READ_BYTES_PER_SECOND;
    const shards = Math.max(1, Math.ceil(Math.max(mibPerSecond, byRecords, byReads) * SHARD_HEADROOM));
    return {
      mode: kinesis.StreamMode.PROVISIONED, shards, pollingReaders: readers,
      writeBytesPerSecond: shards * SHARD_WRITE_BYTES_PER_SECOND, readBytesPerSecond: shards * SHARD_READ_BYTES_PER_SECOND,
    };
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

  /** The IngestStream that created `stream`, or undefined for any other stream. */
  public static of(stream: kinesis.IStream): IngestStream | undefined {
    const owner = stream.node.scope;
    return owner instanceof IngestStream && owner.stream === stream ? owner : undefined;
  }

  /** The stream. */
  public readonly stream: kinesis.Stream;
  /** Retention. */
  public readonly retention: Duration;
  /** The planned load. */
  private readonly throughput?: ThroughputIntent;

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
    const others = t?.otherPollingReaders ?? 0;
    if (!Number.isInteger(others) || others < 0) {
      throw propError(this, 'throughput.otherPollingReaders', `(${others}) must be a whole number of readers, 0 or more`);
    }
    this.throughput = t;
    this.retention = props.retention ?? DEFAULT_RETENTION;
    IngestStream.validateRetention(this, this.retention);
    const mode = IngestStream.planCapacity(t).mode;
    this.stream = new kinesis.Stream(this, 'Resource', {
      streamMode: mode,
      // Readers are wired after the stream (deliveries, consumers, even in other stacks): the
      // shard count is rendered at synth, once every reader exists.
      shardCount: mode === kinesis.StreamMode.PROVISIONED ? Lazy.number({ produce: () => this.capacity.shards }) : undefined,
      retentionPeriod: this.retention,
      encryption: kinesis.StreamEncryption.KMS,
      encryptionKey: props.encryptionKey,
    });
    acknowledge(this.stream, {
      'AwsSolutions-KDS3': 'The stream is encrypted with the pipeline\'s customer-managed key (rotation on), which gives key-policy control and CloudTrail auditing of every decrypt; the aws/kinesis key offers neither.',
    });
    // Warned once every reader exists; an aspect runs before the template and its metadata are written.
    Aspects.of(this).add({ visit: (node: IConstruct) => { if (node === this) this.warnOnReads(); } });
  }

  /**
   * The capacity planned for the load and for the polling readers wired so far (read it after
   * every reader is added: the shard count the template gets counts them all).
   */
  public get capacity(): CapacityPlan {
    return IngestStream.planCapacity(this.throughput, this.pollingReaders.length + (this.throughput?.otherPollingReaders ?? 0));
  }

  /** Write capacity planned for writes alone: the load the intent declares, with headroom (on-demand: its starting 4 MiB/s). */
  public get writeCapacityBytesPerSecond(): number {
    return IngestStream.planCapacity(this.throughput).writeBytesPerSecond;
  }

  /**
   * The standard (polling) readers of the stream wired in this app: Firehose deliveries reading it
   * (Firehose cannot use enhanced fan-out) and Lambda event-source mappings on the stream itself
   * (an enhanced fan-out mapping reads through its consumer's ARN instead).
   */
  public get pollingReaders(): string[] {
    const arn = this.stream.streamArn;
    const readers: string[] = [];
    for (const c of this.node.root.node.findAll()) {
      const source = c instanceof CfnDeliveryStream ? c.kinesisStreamSourceConfiguration as CfnDeliveryStream.KinesisStreamSourceConfigurationProperty | undefined : undefined;
      if (source?.kinesisStreamArn === arn || (c instanceof CfnEventSourceMapping && c.eventSourceArn === arn)) readers.push(c.node.path);
    }
    return readers;
  }

  /** Makes read limits no shard count can fix visible at synth. */
  private warnOnReads(): void {
    const readers = this.pollingReaders;
    const count = readers.length + (this.throughput?.otherPollingReaders ?? 0);
    const list = readers.join(', ');
    if (count > SHARD_GET_RECORDS_PER_SECOND) {
      Annotations.of(this).addWarningV2('cdk-streaming-pipelines:tooManyPollingReaders',
        `${count} polling readers (${list}) share each shard's 5 GetRecords calls per second, and each polls about once a second: they throttle one another whatever the shard count. Read Lambda consumers through enhanced fan-out (StreamConsumer enhancedFanOut: true).`);
    }
    if (this.capacity.mode === kinesis.StreamMode.ON_DEMAND && count > 2) {
      Annotations.of(this).addWarningV2('cdk-streaming-pipelines:onDemandPollingReaders',
        `${count} polling readers (${list}) each read every byte written, but an on-demand stream reads only twice its write capacity, shared: they fall behind once writes pass 2/${count} of that capacity (a new peak, before the stream scales). Read Lambda consumers through enhanced fan-out (StreamConsumer enhancedFanOut: true), or plan a provisioned throughput, whose shards count readers.`);
    }
  }
}
