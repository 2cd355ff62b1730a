import { Annotations, Aspects, Duration, Names, Token } from 'aws-cdk-lib';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import { CfnDeliveryStream } from 'aws-cdk-lib/aws-kinesisfirehose';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sources from 'aws-cdk-lib/aws-lambda-event-sources';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct, type IConstruct } from 'constructs';
import { AccessLogBucket } from './access-log-bucket';
import { propError } from './errors';
import { IngestStream } from './ingest-stream';
import { S3FailureDestination, SqsFailureDestination } from './failure-destination';
import {
  addDestinationEndpoint, allowPollers, DEFAULT_KAFKA_MAX_RECORD_AGE, defaultConsumerGroupId, KAFKA_MAX_RETRY_ATTEMPTS,
  KafkaTopicEventSource, pollerBounds, refuseStreamProps, refuseTopicProps, validateConsumerGroupId,
} from './kafka-consumer';
import type { ConsumerLagOptions, IKafkaTopic } from './kafka-refs';
import { SecureBucket } from './secure-bucket';
import { RedriveFunction } from '../handlers/redrive-function';

/** How records of a shard may be spread over concurrent invocations. */
export enum ConsumerOrdering {
  /** One invocation per shard at a time: total order within the shard. */
  PER_SHARD = 'per-shard',
  /** Up to `parallelizationFactor` invocations per shard; order holds per partition key. */
  PER_KEY = 'per-key',
}

/** Where batches that exhaust their retries go. */
export enum FailureDestination {
  /** An S3 object per failed batch, holding the records themselves: they outlive the stream's retention. */
  S3 = 's3',
  /**
   * An SQS message per failed batch, holding only its metadata (shard, sequence-number range,
   * arrival times), not the records: once the stream's retention passes, the records are gone.
   */
  SQS = 'sqs',
}

/** Properties of a {@link StreamConsumer}. */
export interface StreamConsumerProps {
  /** The function processing the batches (use the runtime's `processBatch` for partial batch responses). */
  readonly function: lambda.IFunction;
  /** The Kinesis stream to consume; give exactly one of `stream` and `topic`. @default - `topic` */
  readonly stream?: kinesis.IStream;
  /**
   * The MSK topic to consume, instead of `stream`. The mapping runs in provisioned-poller mode (Lambda
   * applies retries, record age, bisect and partial batch responses only there), and the construct
   * adds what its pollers need: the cluster security groups' rules, the on-failure destination's VPC
   * endpoint in the cluster's VPC, the IAM actions, and consumer-lag alarms on the cluster.
   * @default - `stream`
   */
  readonly topic?: IKafkaTopic;
  /**
   * Consumer group of a `topic` mapping: ASCII letters, digits and `. _ : + = @ -` (MSK drops the lag
   * metrics of non-ASCII group names). Changing it, or the construct's path while it is unset, starts
   * a new group at `startingPosition`, which reads the topic again from there.
   * @default - a stable name derived from the construct's path
   */
  readonly consumerGroupId?: string;
  /** Provisioned event pollers a `topic` mapping keeps running, 1-200 (billed while idle). @default 1 */
  readonly minimumPollers?: number;
  /**
   * Most provisioned event pollers of a `topic` mapping, 1-2,000. A partition is read by one poller at
   * a time, so pollers beyond the partition count stay idle.
   * @default - the topic's partition count (at least `minimumPollers`)
   */
  readonly maximumPollers?: number;
  /**
   * Create the VPC endpoint Lambda needs in the cluster's VPC to deliver a `topic` mapping's failed
   * batches: an S3 gateway endpoint on the cluster's subnets (FailureDestination.S3) or an SQS
   * interface endpoint with private DNS (FailureDestination.SQS). Set false when the VPC already has
   * one (a second S3 gateway endpoint on the same route tables, or a second SQS endpoint with private
   * DNS, fails the deploy); without any, failed batches never reach the destination.
   * @default true
   */
  readonly failureDestinationEndpoint?: boolean;
  /** Consumer-lag alarm thresholds of a `topic` mapping's group (`cluster.addConsumerLagAlarms`). @default - the cluster's defaults */
  readonly consumerLag?: ConsumerLagOptions;
  /** Key for the on-failure bucket. */
  readonly encryptionKey: kms.IKey;
  /** Ordering intent. @default ConsumerOrdering.PER_SHARD */
  readonly ordering?: ConsumerOrdering;
  /** Invocations per shard for PER_KEY ordering, 1-10. @default 10 */
  readonly parallelizationFactor?: number;
  /** How long records may wait to fill a batch, 0-300 s. @default Duration.seconds(1) */
  readonly latencyTarget?: Duration;
  /** Records per batch, 1-10,000 (payload ≤ 6 MB). @default 500 */
  readonly batchSize?: number;
  /**
   * Retries of a failing batch (bisected on each error), 0-10,000; never infinite. For a `topic`,
   * 0-10: Lambda caps a Kafka mapping that has an on-failure destination at 10 retries.
   * @default 5
   */
  readonly retryAttempts?: number;
  /**
   * Records older than this go to the failure destination unprocessed (Lambda discards them before
   * invoking the function): 60 s-7 days, Lambda's range, and at most the stream's retention.
   * @default - for a `topic`, 7 days (Lambda's longest); for a stream, the stream's retention when it is known and at most 7 days (no retained record is
   * discarded for age); no age limit when the retention is longer than 7 days, or for a `startingAt`
   * consumer on a stream of unknown retention; otherwise 24 h. Retries stay finite either way.
   */
  readonly maxRecordAge?: Duration;
  /**
   * Retention of `stream` when it was not created in this app (an IngestStream's or a
   * kinesis.Stream's retention is read from it). The record-age default and checks follow it.
   * @default - read from the stream; unknown for an imported stream
   */
  readonly streamRetention?: Duration;
  /** Where exhausted batches go. @default FailureDestination.S3 */
  readonly failureDestination?: FailureDestination;
  /**
   * The queue for FailureDestination.SQS; it must be encrypted. It receives only each failed
   * batch's metadata (shard and sequence numbers), not the records, which are lost once the
   * stream's retention passes; FailureDestination.S3 keeps the records themselves.
   */
  readonly failureQueue?: sqs.IQueue;
  /** Bucket for the S3 failure destination's access logs. @default - one is created */
  readonly accessLogs?: s3.IBucket;
  /**
   * Read through an enhanced fan-out consumer: ~70 ms push latency and a dedicated 2 MiB/s per shard,
   * billed per consumer-shard-hour and per GB read. A polling consumer instead shares each shard's
   * 2 MiB/s and 5 GetRecords/s with the stream's other polling readers (Firehose deliveries among
   * them); an IngestStream plans its shards for them, an on-demand one warns above two.
   * @default false
   */
  readonly enhancedFanOut?: boolean;
  /** Where a new mapping (or consumer group) starts reading. @default lambda.StartingPosition.TRIM_HORIZON (nothing retained is skipped) */
  readonly startingPosition?: lambda.StartingPosition;
  /**
   * Start reading at this arrival time (AT_TIMESTAMP): a temporary consumer that replays a window
   * still inside the stream's retention (see the README's replay runbook). Not with `startingPosition`.
   * @default - `startingPosition`
   */
  readonly startingAt?: Date;
  /**
   * Deploy the redrive function next to an S3 failure destination; operators invoke it to put failed
   * batches back into the stream once the cause is fixed. Ignored for FailureDestination.SQS, whose
   * messages hold no records.
   * @default true
   */
  readonly redrive?: boolean;

  /**
   * The stream the redrive puts failed batches back into. A stream that Firehose deliveries also read (a
   * lake's `stream`) would store the redriven records there a second time: give a stream only consumers
   * read, such as `lake.replayStream`, and read it with this function too. Synth warns when the
   * redrive's stream is read by a Firehose delivery of the app.
   * @default `stream`
   */
  readonly redriveInto?: kinesis.IStream;
}

/** Retry default: finite, so a poison record can never block a shard. */
export const DEFAULT_RETRY_ATTEMPTS = 5;
/** Record age when the stream's retention is unknown: Kinesis's shortest retention, so it never exceeds it. */
export const DEFAULT_MAX_RECORD_AGE = Duration.hours(24);
/** Lambda's longest maximum record age (7 days). */
export const MAX_RECORD_AGE_LIMIT = Duration.days(7);

/** The retention of a stream this app created (an IngestStream's, or a kinesis.Stream's literal one); undefined for an imported stream. */
export function knownRetention(stream: kinesis.IStream): Duration | undefined {
  const ingest = IngestStream.of(stream);
  if (ingest) return ingest.retention;
  if (stream instanceof kinesis.Stream) {
    const hours = (stream.node.defaultChild as kinesis.CfnStream).retentionPeriodHours;
    if (typeof hours === 'number' && !Token.isUnresolved(hours)) return Duration.hours(hours);
  }
  return undefined;
}

/** The retention of `stream`: given, or read from a stream this app created. */
function retentionOf(scope: Construct, stream: kinesis.IStream, given?: Duration): Duration | undefined {
  const own = knownRetention(stream);
  if (given && own && given.toSeconds() !== own.toSeconds()) {
    throw propError(scope, 'streamRetention', `(${given.toHours({ integral: false })} h) differs from the stream's own retention (${own.toHours({ integral: false })} h); leave it unset`);
  }
  if (given) IngestStream.validateRetention(scope, given);
  return given ?? own;
}

/** The mapping's record age: a limit (Duration) or none (undefined), and the age at which this consumer loses a record. */
function recordAge(scope: Construct, props: StreamConsumerProps, stream: kinesis.IStream): { limit?: Duration; horizon: Duration } {
  const retention = retentionOf(scope, stream, props.streamRetention);
  const given = props.maxRecordAge;
  if (given) {
    const age = given.toSeconds();
    if (age < 60 || age > MAX_RECORD_AGE_LIMIT.toSeconds()) {
      throw propError(scope, 'maxRecordAge', `(${age} s) must be 60 s-7 days, Lambda's range; leave it unset to keep every retained record (the default follows the stream's retention, with no age limit beyond 7 days)`);
    }
    if (retention && age > retention.toSeconds()) {
      throw propError(scope, 'maxRecordAge', `(${age} s) exceeds the stream's retention (${retention.toHours({ integral: false })} h): no record lives that long; set at most the retention, or leave it unset`);
    }
    if (props.startingAt && Date.now() - props.startingAt.getTime() > given.toMilliseconds()) {
      Annotations.of(scope).addWarningV2('cdk-streaming-pipelines:backfillRecordAge',
        `startingAt (${props.startingAt.toISOString()}) is older than maxRecordAge (${given.toHumanString()}): the start of the window goes to the failure destination unprocessed. Leave maxRecordAge unset.`);
    }
    return { limit: given, horizon: given };
  }
  if (retention) {
    // Up to 7 days the retention itself is the limit: no retained record is discarded for age, and a
    // consumer a whole retention behind has its batches reported to the failure destination, not skipped silently.
    if (retention.toSeconds() <= MAX_RECORD_AGE_LIMIT.toSeconds()) return { limit: retention, horizon: retention };
    return { horizon: retention };
  }
  // Unknown retention: a backfill must reach its window's start, whatever its age.
  return props.startingAt ? { horizon: DEFAULT_MAX_RECORD_AGE } : { limit: DEFAULT_MAX_RECORD_AGE, horizon: DEFAULT_MAX_RECORD_AGE };
}

/**
 * Wires a Lambda function to a Kinesis stream or an MSK topic with an event-source mapping tuned
 * from intent, and always safe: partial batch responses, bisect on error, finite retries and
 * record age, and an encrypted on-failure destination.
 */
export class StreamConsumer extends Construct {
  /** The event source (its mapping carries the settings). */
  public readonly eventSource: sources.KinesisEventSource | sources.KinesisConsumerEventSource | KafkaTopicEventSource;
  /** The failure bucket, for FailureDestination.S3. */
  public readonly failureBucket?: s3.IBucket;
  /** The failure queue, for FailureDestination.SQS. */
  public readonly failureQueue?: sqs.IQueue;
  /** The enhanced fan-out consumer, when requested. */
  public readonly consumer?: kinesis.StreamConsumer;
  /**
   * The age at which a record is lost to this consumer: the mapping's maximum record age, or with
   * no age limit the stream's retention (24 h when unknown). The consumer's iterator-age alarm is relative to it.
   */
  public readonly maxRecordAge: Duration;
  /** Whether the mapping has no maximum record age (-1): records wait as long as the stream retains them. */
  public readonly recordAgeUnlimited: boolean;
  /** The redrive function, for an S3 failure destination unless `redrive` is false. */
  public readonly redriveFunction?: lambda.IFunction;
  /** The consumer group of a `topic` mapping. */
  public readonly consumerGroupId?: string;
  /** The VPC endpoint created for a `topic` mapping's on-failure destination. */
  public readonly failureDestinationEndpoint?: ec2.IVpcEndpoint;

  constructor(scope: Construct, id: string, props: StreamConsumerProps) {
    super(scope, id);
    if ((props.stream === undefined) === (props.topic === undefined)) {
      throw propError(this, props.topic ? 'topic' : 'stream', 'and `topic` are alternatives: give exactly one (a Kinesis stream or an MSK topic)');
    }
    const batchSize = props.batchSize ?? 500;
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10000) throw propError(this, 'batchSize', `(${batchSize}) must be an integer 1-10,000`);
    const window = props.latencyTarget ?? Duration.seconds(1);
    if (window.toSeconds() > 300) throw propError(this, 'latencyTarget', `(${window.toSeconds()} s) must be at most 300 s, the longest batching window`);
    const retries = props.retryAttempts ?? DEFAULT_RETRY_ATTEMPTS;
    if (!Number.isInteger(retries) || retries < 0 || retries > 10000) throw propError(this, 'retryAttempts', `(${retries}) must be an integer 0-10,000; infinite retries block the shard`);
    const common = { batchSize, window, retries };
    if (props.topic) {
      const kafka = this.consumeTopic(props, props.topic, common);
      this.eventSource = kafka.source;
      this.consumerGroupId = kafka.groupId;
      this.maxRecordAge = kafka.maxRecordAge;
      this.recordAgeUnlimited = false;
      this.failureBucket = kafka.failure.bucket;
      this.failureQueue = kafka.failure.queue;
      this.failureDestinationEndpoint = kafka.endpoint;
      return;
    }
    const stream = props.stream!;
    refuseTopicProps(this, props);
    const ordering = props.ordering ?? ConsumerOrdering.PER_SHARD;
    const factor = ordering === ConsumerOrdering.PER_KEY ? props.parallelizationFactor ?? 10 : 1;
    if (ordering === ConsumerOrdering.PER_SHARD && props.parallelizationFactor !== undefined && props.parallelizationFactor !== 1) {
      throw propError(this, 'parallelizationFactor', `(${props.parallelizationFactor}) needs ordering PER_KEY; PER_SHARD keeps one invocation per shard`);
    }
    if (!Number.isInteger(factor) || factor < 1 || factor > 10) throw propError(this, 'parallelizationFactor', `(${factor}) must be an integer 1-10`);
    if (props.startingAt !== undefined) {
      if (props.startingPosition !== undefined) throw propError(this, 'startingAt', 'cannot be combined with `startingPosition` (it means AT_TIMESTAMP)');
      if (Number.isNaN(props.startingAt.getTime())) throw propError(this, 'startingAt', 'is not a valid date');
      if (props.startingAt.getTime() > Date.now()) throw propError(this, 'startingAt', `(${props.startingAt.toISOString()}) is in the future; a replay starts at a past arrival time`);
    }
    const age = recordAge(this, props, stream);
    this.maxRecordAge = age.horizon;
    this.recordAgeUnlimited = age.limit === undefined;
    const failure = this.failureTarget(props);
    this.failureBucket = failure.bucket;
    this.failureQueue = failure.queue;
    if (failure.bucket && (props.redrive ?? true)) {
      const into = props.redriveInto ?? stream;
      this.redriveFunction = new RedriveFunction(this, 'Redrive', { stream: into, sourceStream: stream, failureBucket: failure.bucket, encryptionKey: props.encryptionKey }).function;
      Aspects.of(this).add({ visit: (node: IConstruct) => { if (node === this) this.warnOnRedriveIntoDelivery(into); } });
    }

    const options = {
      batchSize,
      maxBatchingWindow: window.toSeconds() > 0 ? window : undefined,
      startingPosition: props.startingAt ? lambda.StartingPosition.AT_TIMESTAMP : props.startingPosition ?? lambda.StartingPosition.TRIM_HORIZON,
      startingPositionTimestamp: props.startingAt ? Math.floor(props.startingAt.getTime() / 1000) : undefined,
      parallelizationFactor: factor,
      reportBatchItemFailures: true,
      bisectBatchOnError: true,
      retryAttempts: retries,
      maxRecordAge: age.limit,
      onFailure: failure.destination,
      // provisionedPollerConfig is not offered: CDK silently drops it for Kinesis.
    };
    if (props.enhancedFanOut) {
      this.consumer = new kinesis.StreamConsumer(this, 'Consumer', {
        stream,
        streamConsumerName: Names.uniqueResourceName(this, { maxLength: 128 }),
      });
      this.eventSource = new sources.KinesisConsumerEventSource(this.consumer, options);
      Aspects.of(this).add({ visit: (node: IConstruct) => { if (node === this) this.warnOnFanOutLimit(stream); } });
    } else {
      this.eventSource = new sources.KinesisEventSource(stream, options);
    }
    const before = new Set(props.function.node.children);
    props.function.addEventSource(this.eventSource);
    if (this.recordAgeUnlimited) {
      // CDK accepts only 60 s-7 days; -1 says "no limit" in the template rather than by omission.
      const mapping = props.function.node.children.find((c) => !before.has(c) && c instanceof lambda.EventSourceMapping);
      (mapping!.node.defaultChild as lambda.CfnEventSourceMapping).maximumRecordAgeInSeconds = -1;
    }
  }

  /** The on-failure destination: the given encrypted queue (SQS) or a bucket made here (S3). */
  private failureTarget(props: StreamConsumerProps): { destination: lambda.IEventSourceDlq; bucket?: s3.IBucket; queue?: sqs.IQueue } {
    if ((props.failureDestination ?? FailureDestination.S3) === FailureDestination.SQS) {
      if (!props.failureQueue) throw propError(this, 'failureQueue', 'is required with FailureDestination.SQS');
      // A created queue states its encryption; an imported one is the owner's responsibility.
      if (props.failureQueue instanceof sqs.Queue && props.failureQueue.encryptionType === sqs.QueueEncryption.UNENCRYPTED) {
        throw propError(this, 'failureQueue', 'must be encrypted (failed-batch metadata points at data)');
      }
      return { destination: new SqsFailureDestination(props.failureQueue), queue: props.failureQueue };
    }
    const logs = props.accessLogs ?? new AccessLogBucket(this, 'AccessLogs').bucket;
    const bucket = new SecureBucket(this, 'Failures', { encryptionKey: props.encryptionKey, accessLogs: logs, accessLogsPrefix: 'failures/' }).bucket;
    return { destination: new S3FailureDestination(bucket), bucket };
  }

  /** The MSK topic's mapping, its network (security-group rules, destination endpoint) and its lag alarms. */
  private consumeTopic(props: StreamConsumerProps, topic: IKafkaTopic, common: { batchSize: number; window: Duration; retries: number }) {
    refuseStreamProps(this, props);
    if (props.ordering === ConsumerOrdering.PER_KEY) throw propError(this, 'ordering', '(PER_KEY) applies to a `stream` only: Lambda reads a Kafka partition with one invocation at a time');
    const start = props.startingPosition ?? lambda.StartingPosition.TRIM_HORIZON;
    if (start !== lambda.StartingPosition.TRIM_HORIZON && start !== lambda.StartingPosition.LATEST) {
      throw propError(this, 'startingPosition', `(${start}) must be TRIM_HORIZON or LATEST for a \`topic\``);
    }
    if (common.retries > KAFKA_MAX_RETRY_ATTEMPTS) {
      throw propError(this, 'retryAttempts', `(${common.retries}) must be at most ${KAFKA_MAX_RETRY_ATTEMPTS} for a \`topic\`: Lambda caps a Kafka mapping with an on-failure destination at ${KAFKA_MAX_RETRY_ATTEMPTS} retries`);
    }
    const maxRecordAge = props.maxRecordAge ?? DEFAULT_KAFKA_MAX_RECORD_AGE;
    const age = maxRecordAge.toSeconds();
    if (age < 60 || age > MAX_RECORD_AGE_LIMIT.toSeconds()) throw propError(this, 'maxRecordAge', `(${age} s) must be 60 s-7 days, Lambda's range`);
    if (props.consumerGroupId !== undefined) validateConsumerGroupId(this, props.consumerGroupId);
    const groupId = props.consumerGroupId ?? defaultConsumerGroupId(this);
    const [minimumPollers, maximumPollers] = pollerBounds(this, props.minimumPollers, props.maximumPollers, topic.partitions);
    const failure = this.failureTarget(props);
    const source = new KafkaTopicEventSource(topic, {
      consumerGroupId: groupId, startingPosition: start, batchSize: common.batchSize,
      maxBatchingWindow: common.window.toSeconds() > 0 ? common.window : undefined,
      retryAttempts: common.retries, maxRecordAge, onFailure: failure.destination, minimumPollers, maximumPollers,
    });
    props.function.addEventSource(source);
    allowPollers(topic);
    const endpoint = (props.failureDestinationEndpoint ?? true) ? addDestinationEndpoint(this, topic, failure.queue ? 'sqs' : 's3') : undefined;
    topic.cluster.addConsumerLagAlarms(groupId, topic, props.consumerLag);
    return { source, groupId, maxRecordAge, failure, endpoint };
  }

  /** A redrive into a stream a Firehose delivery reads stores the redriven records there again. */
  private warnOnRedriveIntoDelivery(into: kinesis.IStream): void {
    const deliveries = this.node.root.node.findAll().filter((c) => c instanceof CfnDeliveryStream
      && (c.kinesisStreamSourceConfiguration as CfnDeliveryStream.KinesisStreamSourceConfigurationProperty | undefined)?.kinesisStreamArn === into.streamArn);
    if (deliveries.length === 0) return;
    Annotations.of(this).addWarningV2('cdk-streaming-pipelines:redriveIntoDelivery',
      `the redrive puts failed batches back into a stream that ${deliveries.map((d) => d.node.path).join(', ')} also read(s): their sinks would store the redriven records a second time. Set \`redriveInto\` to a stream only consumers read (a lake's \`replayStream\`) and read it with this function too.`);
  }

  /** Kinesis registers at most 20 enhanced fan-out consumers per stream (50 on On-demand Advantage). */
  private warnOnFanOutLimit(stream: kinesis.IStream): void {
    const consumers = this.node.root.node.findAll().filter((c) => c instanceof kinesis.CfnStreamConsumer && c.streamArn === stream.streamArn);
    if (consumers.length <= MAX_FAN_OUT_CONSUMERS || consumers[0] !== this.consumer?.node.defaultChild) return;
    Annotations.of(this).addWarningV2('cdk-streaming-pipelines:fanOutConsumerLimit',
      `${consumers.length} enhanced fan-out consumers are registered on one stream (${consumers.map((c) => c.node.path).join(', ')}); Kinesis registers at most ${MAX_FAN_OUT_CONSUMERS} per provisioned or On-demand Standard stream (RegisterStreamConsumer), so the deploy fails past it. Read some with \`enhancedFanOut: false\`.`);
  }
}

/** RegisterStreamConsumer's limit per provisioned or On-demand Standard stream. */
export const MAX_FAN_OUT_CONSUMERS = 20;
