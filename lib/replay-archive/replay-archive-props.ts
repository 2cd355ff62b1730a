import type { Duration, RemovalPolicy, Size } from 'aws-cdk-lib';
import type * as cw from 'aws-cdk-lib/aws-cloudwatch';
import type * as glue from 'aws-cdk-lib/aws-glue';
import type * as kinesis from 'aws-cdk-lib/aws-kinesis';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type { PipelineMonitor } from '../core/pipeline-monitor';
import type { ReplayTagging, WriteCapacity } from '../core/replay-machine';
import type { LifecycleOptions, ObjectLockMode } from '../core/secure-bucket';

/** Write-once retention of the archive. */
export interface ArchiveObjectLock {
  /** How long each archived object version is locked. */
  readonly retention: Duration;
  /** GOVERNANCE (bypass permission can lift it) or COMPLIANCE (nobody can). @default ObjectLockMode.GOVERNANCE */
  readonly mode?: ObjectLockMode;
}

/** Properties of a {@link ReplayArchive}. */
export interface ReplayArchiveProps {
  /** The stream to archive (and, by default, to replay into). */
  readonly stream: kinesis.IStream;
  /** Key for the buckets, log groups and environments. It must allow CloudWatch Logs to use it. @default - a customer-managed key with rotation */
  readonly encryptionKey?: kms.IKey;
  /** Prefix of the archive in its bucket. @default 'archive/' */
  readonly prefix?: string;
  /** Partition-key lanes per hour (`bucket=00..NN`), 1-100: one replay worker per lane. @default 16 */
  readonly lanes?: number;
  /** S3 Object Lock on the archive bucket. @default - none */
  readonly objectLock?: ArchiveObjectLock;
  /** Tiering (Standard-IA, then Glacier Instant Retrieval) and expiry. @default - Standard-IA at 30 days, Glacier IR at 90, never expires */
  readonly lifecycle?: LifecycleOptions;
  /** Glue database of the archive table. @default - a database is created */
  readonly database?: glue.IDatabase;
  /** First day of the table's `dt` projection (`yyyy-MM-dd`). @default '2020-01-01' */
  readonly projectionStart?: string;
  /** Streams a replay may write to; the first is the default target. @default - [stream] */
  readonly replayTargets?: kinesis.IStream[];
  /** Share of the target's write capacity a replay may use, (0, 1]. @default 0.5 */
  readonly writeShare?: number;
  /** Write capacity of an on-demand target. @default 4,000 records/s and 4 MiB/s */
  readonly onDemandWriteCapacity?: WriteCapacity;
  /** How replayed records are marked. @default ReplayTagging.KPL_TAG */
  readonly tagging?: ReplayTagging;
  /** Firehose buffer size, 64-128 MiB. @default Size.mebibytes(128) */
  readonly bufferingSize?: Size;
  /** Firehose buffer interval, 60-900 s. @default Duration.seconds(300) */
  readonly bufferingInterval?: Duration;
  /** A monitor to add the archive's and the replay's alarms and widgets to. @default - one is created */
  readonly monitor?: PipelineMonitor;
  /** Action of the created monitor's paging alarms (e.g. `new SnsAction(topic)`; CloudWatch is allowed to publish to a topic of this app). @default - an encrypted SNS topic */
  readonly alarmAction?: cw.IAlarmAction;
  /** Bucket for the buckets' access logs. @default - one is created */
  readonly accessLogs?: s3.IBucket;
  /** Removal policy of the archive bucket. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}
