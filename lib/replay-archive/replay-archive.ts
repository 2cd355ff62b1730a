import { CfnOutput, Duration, Stack } from 'aws-cdk-lib';
import * as glue from 'aws-cdk-lib/aws-glue';
import type * as kinesis from 'aws-cdk-lib/aws-kinesis';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { ReplayArchiveProps } from './replay-archive-props';
import { AccessLogBucket } from '../core/access-log-bucket';
import { ArchiveDelivery } from '../core/archive-delivery';
import { ArchiveTable } from '../core/archive-table';
import { namePropsAs, propError, userPropName } from '../core/errors';
import { IngestStream, type ThroughputIntent } from '../core/ingest-stream';
import { PipelineKey } from '../core/pipeline-key';
import { PipelineMonitor } from '../core/pipeline-monitor';
import { REPLAY_METRICS_NAMESPACE, ReplayMachine } from '../core/replay-machine';
import { SecureBucket } from '../core/secure-bucket';

/** The replay stream's default plan: one provisioned shard (500 records/s of 1 KiB, with the 25% headroom, is one shard). */
const ONE_SHARD: ThroughputIntent = { recordsPerSecond: 500, averageRecordBytes: 1024 };
/** Replayed records wait here only until consumers read them; the archive can replay them again. */
const REPLAY_STREAM_RETENTION = Duration.days(1);

/**
 * Archives every record of a stream exactly (payload bytes, partition key,
 * sequence number, arrival time) as gzip JSON Lines by arrival hour and
 * partition-key lane, with an Athena table over it; and replays any window
 * `[from, to)` of it back into a stream through a resumable, rate-limited
 * Step Functions state machine. By default that stream is a dedicated replay
 * stream that consumers read besides the archived one: nothing that reads the
 * archived stream (this archive, a lake's curated delivery) sees a replay.
 */
export class ReplayArchive extends Construct {
  /** The archive bucket. */
  public readonly bucket: s3.IBucket;
  /** The key (created or given). */
  public readonly encryptionKey: kms.IKey;
  /** The archive delivery. */
  public readonly delivery: ArchiveDelivery;
  /** The Athena table over the archive. */
  public readonly table: glue.S3Table;
  /** The Glue database (created or given). */
  public readonly database: glue.IDatabase;
  /** The dedicated replay stream, when neither `replayTargets` nor `replayTopics` is given: subscribe consumers to it as well as to the archived stream. */
  public readonly replayStream?: kinesis.IStream;
  /** The replay stream block (its capacity plan and retention), when the archive created one. */
  public readonly replayIngest?: IngestStream;
  /** The replay machinery. */
  public readonly replay: ReplayMachine;
  /** The replay state machine (start an execution with `{"from", "to"}`). */
  public readonly stateMachine: sfn.StateMachine;
  /** Alarms and dashboard (created or given). */
  public readonly monitor: PipelineMonitor;

  constructor(scope: Construct, id: string, props: ReplayArchiveProps) {
    super(scope, id);
    this.encryptionKey = new PipelineKey(this, 'Key', { key: props.encryptionKey }).key;
    const logs = props.accessLogs ?? new AccessLogBucket(this, 'AccessLogs').bucket;
    this.bucket = new SecureBucket(this, 'Bucket', {
      encryptionKey: this.encryptionKey,
      accessLogs: logs,
      accessLogsPrefix: 'archive/',
      lifecycle: props.lifecycle,
      objectLockRetention: props.objectLock?.retention,
      objectLockMode: props.objectLock?.mode,
      removalPolicy: props.removalPolicy,
    }).bucket;
    this.delivery = new ArchiveDelivery(this, 'Delivery', {
      stream: props.stream,
      topic: props.topic,
      bucket: this.bucket,
      encryptionKey: this.encryptionKey,
      prefix: props.prefix,
      lanes: props.lanes,
      bufferingSize: props.bufferingSize,
      bufferingInterval: props.bufferingInterval,
    });
    this.database = props.database ?? new glue.Database(this, 'Database', { description: 'cdk-streaming-pipelines raw archive' });
    this.table = new ArchiveTable(this, 'Table', {
      bucket: this.bucket,
      prefix: this.delivery.prefix,
      lanes: this.delivery.lanes,
      database: this.database,
      projectionStart: props.projectionStart,
    }).table;
    this.replayIngest = this.replayStreamFor(props);
    this.replayStream = this.replayIngest?.stream;
    namePropsAs(this, 'Replay', { targets: 'replayTargets', topics: 'replayTopics' });
    this.replay = new ReplayMachine(this, 'Replay', {
      archiveBucket: this.bucket,
      archivePrefix: this.delivery.prefix,
      lanes: this.delivery.lanes,
      targets: props.replayTargets ?? (this.replayIngest ? [this.replayIngest.stream] : []),
      topics: props.replayTopics,
      topicWriteCapacity: props.topicWriteCapacity,
      encryptionKey: this.encryptionKey,
      accessLogs: logs,
      writeShare: props.writeShare,
      onDemandWriteCapacity: props.onDemandWriteCapacity,
      tagging: props.tagging,
    });
    this.stateMachine = this.replay.stateMachine;
    this.monitor = props.monitor ?? new PipelineMonitor(this, 'Monitor', { alarmAction: props.alarmAction, encryptionKey: this.encryptionKey });
    this.monitor.addDelivery('Archive', { deliveryStream: this.delivery.deliveryStream, bufferingInterval: this.delivery.bufferingInterval });
    this.monitor.addReplay('Replay', {
      stateMachine: this.stateMachine,
      metricsNamespace: REPLAY_METRICS_NAMESPACE,
      dimension: this.replay.metricsDimension,
      stream: this.replayIngest ? { stream: this.replayIngest.stream, retention: this.replayIngest.retention } : undefined,
    });
    new CfnOutput(this, 'ReplayStateMachineArn', {
      value: this.stateMachine.stateMachineArn,
      description: 'Start a replay: aws stepfunctions start-execution --state-machine-arn <this> --input \'{"from":"…Z","to":"…Z"}\'',
    });
    if (this.replayStream) {
      new CfnOutput(this, 'ReplayStreamArn', {
        value: this.replayStream.streamArn,
        description: 'Replays are written here, not into the archived stream: consumers read both (idempotently on the event id)',
      });
    }
  }

  /**
   * The dedicated replay stream, unless `replayTargets` or `replayTopics` name the targets. A replay into the archived
   * stream would reach every sink reading it (this archive under a new arrival hour, a lake's curated
   * delivery as duplicate rows), so that target needs the explicit `allowReplayIntoArchivedStream`.
   */
  /** A replay into the archived topic is archived again (and read again by a lake's curated delivery), as for a stream. */
  private refuseReplayIntoArchivedTopic(props: ReplayArchiveProps): void {
    if (!props.topic || !props.replayTopics || props.allowReplayIntoArchivedStream === true) return;
    const archived = JSON.stringify(Stack.of(this).resolve(props.topic.topicArn));
    const self = props.replayTopics.findIndex((t) => t === props.topic || JSON.stringify(Stack.of(this).resolve(t.topicArn)) === archived);
    if (self >= 0) {
      throw propError(this, 'replayTopics', `[${self}] is the archived topic: a replay into it is archived again and read again by every delivery of that topic (a lake's curated zone gets duplicate rows). `
        + `Name another topic, or set \`${userPropName(this, 'allowReplayIntoArchivedStream')}: true\` to accept the duplicates`);
    }
  }

  private replayStreamFor(props: ReplayArchiveProps): IngestStream | undefined {
    if (props.replayTargets || props.replayTopics) {
      const given = props.replayTargets ? 'replayTargets' : 'replayTopics';
      for (const prop of ['replayStreamThroughput', 'replayStreamRetention'] as const) {
        if (props[prop] !== undefined) throw propError(this, prop, `applies to the replay stream the archive creates; it cannot be set with \`${userPropName(this, given)}\``);
      }
      this.refuseReplayIntoArchivedTopic(props);
      if (!props.replayTargets) return undefined;
      // A topic source has no archived stream among the Kinesis targets.
      const archived = props.stream ? JSON.stringify(Stack.of(this).resolve(props.stream.streamArn)) : undefined;
      const self = props.replayTargets.findIndex((t) => t === props.stream || JSON.stringify(Stack.of(this).resolve(t.streamArn)) === archived);
      if (self >= 0 && props.allowReplayIntoArchivedStream !== true) {
        throw propError(this, 'replayTargets', `[${self}] is the archived stream: a replay into it is archived again and read again by every delivery of that stream (a lake's curated zone gets duplicate rows). `
          + `Leave it unset for a dedicated replay stream, or set \`${userPropName(this, 'allowReplayIntoArchivedStream')}: true\` to accept the duplicates`);
      }
      return undefined;
    }
    namePropsAs(this, 'ReplayStream', { throughput: 'replayStreamThroughput', retention: 'replayStreamRetention' });
    return new IngestStream(this, 'ReplayStream', {
      throughput: props.replayStreamThroughput ?? ONE_SHARD,
      retention: props.replayStreamRetention ?? REPLAY_STREAM_RETENTION,
      encryptionKey: this.encryptionKey,
    });
  }
}
