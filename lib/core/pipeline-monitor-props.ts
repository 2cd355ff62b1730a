import type { Duration } from 'aws-cdk-lib';
import type * as cw from 'aws-cdk-lib/aws-cloudwatch';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as firehose from 'aws-cdk-lib/aws-kinesisfirehose';
import type * as kinesis from 'aws-cdk-lib/aws-kinesis';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';

/** The stream side of a pipeline to watch. */
export interface MonitoredStream {
  /** The stream (alarms carry its `StreamName` dimension). */
  readonly stream: kinesis.IStream;
  /** Its retention; the iterator-age threshold is a fraction of it. */
  readonly retention: Duration;
  /**
   * Write capacity in bytes per second, for the utilization cause alarm and the dashboard.
   * @default - unknown (an existing or on-demand stream): throttling is the only cause alarm
   */
  readonly writeCapacityBytesPerSecond?: number;
}

/** The delivery side of a pipeline to watch. */
export interface MonitoredDelivery {
  /** The delivery stream (alarms carry its `DeliveryStreamName` dimension). */
  readonly deliveryStream: firehose.IDeliveryStream;
  /** Its buffer interval; the freshness threshold is a multiple of it. */
  readonly bufferingInterval: Duration;
  /** Firehose's active partition quota, drawn on the partition widget. @default 500 */
  readonly activePartitionQuota?: number;
}

/** A stream consumer (Lambda event-source mapping) to watch. */
export interface MonitoredConsumer {
  /** The consuming function (alarms carry its `FunctionName`). */
  readonly function: lambda.IFunction;
  /** The mapping's maximum record age; the function iterator-age threshold is half of it. */
  readonly maxRecordAge: Duration;
  /**
   * S3 on-failure destination. Its failed-batches alarm counts the events Lambda delivers to it
   * (`OnFailureDestinationDeliveredEventCount` of `eventSourceMappingId`), not S3 PUT requests,
   * which also count the redrive's tagging. Needs `eventSourceMappingId`.
   * @default - none
   */
  readonly failureBucket?: s3.IBucket;
  /**
   * UUID of the consumer's event-source mapping (`eventSource.eventSourceMappingId`), for the
   * failed-batches alarm of an S3 destination. The mapping must publish `EventCount` metrics
   * (`metricsConfig`); StreamConsumer's S3 destination turns them on.
   * @default - none
   */
  readonly eventSourceMappingId?: string;
  /** SQS on-failure destination. @default - none */
  readonly failureQueue?: sqs.IQueue;
  /** Enhanced fan-out consumer name and its stream, for `SubscribeToShardEvent.MillisBehindLatest`. @default - none */
  readonly consumerName?: string;
  /** The stream the EFO consumer reads. @default - none */
  readonly stream?: kinesis.IStream;
  /**
   * Alarm the function itself (`IteratorAge`, `Errors`, `Throttles`). Turn it off for a second mapping of a
   * function already watched (the same function on a replay stream): its function metrics are the same
   * ones, and only its failure destination and lag need alarms of their own.
   * @default true
   */
  readonly functionAlarms?: boolean;
}

/** A replay state machine to watch. */
export interface MonitoredReplay {
  /** The state machine (its execution metrics). */
  readonly stateMachine: sfn.IStateMachine;
  /** EMF namespace of the workers' progress metrics. */
  readonly metricsNamespace: string;
  /** Value of their `ReplayStateMachine` dimension. */
  readonly dimension: string;
  /** The dedicated stream replays write to: its iterator age (against its retention) and writes. @default - none */
  readonly stream?: MonitoredStream;
}

/** Properties of a {@link PipelineMonitor}. */
export interface PipelineMonitorProps {
  /** Stream to watch. @default - none */
  readonly stream?: MonitoredStream;
  /** Delivery stream to watch. @default - none */
  readonly delivery?: MonitoredDelivery;
  /**
   * Action of the alarms that page (see the README's paging table) and of the composite alarm.
   * For `new SnsAction(topic)` with a topic of this app, CloudWatch is allowed to publish to it
   * (and to use its key); for an imported topic, synth warns with the statement its owner must add.
   * @default - an encrypted SNS topic is created (`alarmTopic`); subscribe your pager to it
   */
  readonly alarmAction?: cw.IAlarmAction;
  /** Key encrypting the created alarm topic; this account's alarms may use it. Required when `alarmAction` is not given. @default - none */
  readonly encryptionKey?: kms.IKey;
  /** Iterator age alarm threshold as a fraction of retention. @default 0.25 */
  readonly iteratorAgeFractionOfRetention?: number;
  /** Freshness alarm threshold as a multiple of the buffer interval. @default 2 */
  readonly freshnessBufferMultiple?: number;
  /** Utilization that counts as a sustained cause, as a fraction of write capacity. @default 0.8 */
  readonly utilizationThreshold?: number;
}

/** How an alarm added with `addMetricAlarm` reaches a person (see the README's paging table). */
export enum AlarmPaging {
  /** It pages on its own: lost, refused or undelivered data. */
  PAGES = 'pages',
  /** It feeds the composite alarm as a cause (capacity, throttling, errors). */
  CAUSE = 'cause',
  /** It feeds the composite alarm as a symptom (lag). */
  SYMPTOM = 'symptom',
}

/** An alarm on any metric, added to a monitor with `addMetricAlarm`. */
export interface MonitoredMetric {
  /** The metric (or math expression) the alarm watches; give it its resource dimension. */
  readonly metric: cw.IMetric;
  /** How the alarm reaches a person. */
  readonly paging: AlarmPaging;
  /** The alarm fires when the metric is above this. */
  readonly threshold: number;
  /** Periods evaluated. @default 1 */
  readonly evaluationPeriods?: number;
  /** Of those, how many must breach (M of N). @default - all of `evaluationPeriods` */
  readonly datapointsToAlarm?: number;
  /** What the alarm means and what to do. */
  readonly description: string;
}
