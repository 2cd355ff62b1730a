import { CfnOutput } from 'aws-cdk-lib';
import * as glue from 'aws-cdk-lib/aws-glue';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { ReplayArchiveProps } from './replay-archive-props';
import { AccessLogBucket } from '../core/access-log-bucket';
import { ArchiveDelivery } from '../core/archive-delivery';
import { ArchiveTable } from '../core/archive-table';
import { namePropsAs } from '../core/errors';
import { PipelineKey } from '../core/pipeline-key';
import { PipelineMonitor } from '../core/pipeline-monitor';
import { REPLAY_METRICS_NAMESPACE, ReplayMachine } from '../core/replay-machine';
import { SecureBucket } from '../core/secure-bucket';

/**
 * Archives every record of a stream exactly (payload bytes, partition key,
 * sequence number, arrival time) as gzip JSON Lines by arrival hour and
 * partition-key lane, with an Athena table over it; and replays any window
 * `[from, to)` of it back into a stream through a resumable, rate-limited
 * Step Functions state machine.
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
    namePropsAs(this, 'Replay', { targets: 'replayTargets' });
    this.replay = new ReplayMachine(this, 'Replay', {
      archiveBucket: this.bucket,
      archivePrefix: this.delivery.prefix,
      lanes: this.delivery.lanes,
      targets: props.replayTargets ?? [props.stream],
      encryptionKey: this.encryptionKey,
      accessLogs: logs,
      writeShare: props.writeShare,
      onDemandWriteCapacity: props.onDemandWriteCapacity,
      tagging: props.tagging,
    });
    this.stateMachine = this.replay.stateMachine;
    this.monitor = props.monitor ?? new PipelineMonitor(this, 'Monitor', { alarmAction: props.alarmAction, encryptionKey: this.encryptionKey });
    this.monitor.addDelivery('Archive', { deliveryStream: this.delivery.deliveryStream, bufferingInterval: this.delivery.bufferingInterval });
    this.monitor.addReplay('Replay', { stateMachine: this.stateMachine, metricsNamespace: REPLAY_METRICS_NAMESPACE, dimension: this.replay.metricsDimension });
    new CfnOutput(this, 'ReplayStateMachineArn', {
      value: this.stateMachine.stateMachineArn,
      description: 'Start a replay: aws stepfunctions start-execution --state-machine-arn <this> --input \'{"from":"…Z","to":"…Z"}\'',
    });
  }
}
