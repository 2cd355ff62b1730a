import { Duration } from 'aws-cdk-lib';
import * as cw from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import type * as firehose from 'aws-cdk-lib/aws-kinesisfirehose';
import type * as kinesis from 'aws-cdk-lib/aws-kinesis';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { propError } from './errors';

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
  /** S3 on-failure destination with an `OnFailure` request-metrics filter. @default - none */
  readonly failureBucket?: s3.IBucket;
  /** SQS on-failure destination. @default - none */
  readonly failureQueue?: sqs.IQueue;
  /** Enhanced fan-out consumer name and its stream, for `SubscribeToShardEvent.MillisBehindLatest`. @default - none */
  readonly consumerName?: string;
  /** The stream the EFO consumer reads. @default - none */
  readonly stream?: kinesis.IStream;
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
   * Action of every alarm and of the composite alarm (e.g. `new SnsAction(topic)`).
   * @default - an encrypted SNS topic is created (`alarmTopic`); subscribe your pager to it
   */
  readonly alarmAction?: cw.IAlarmAction;
  /** Key encrypting the created alarm topic; CloudWatch is granted use of it. Required when `alarmAction` is not given. @default - none */
  readonly encryptionKey?: kms.IKey;
  /** Iterator age alarm threshold as a fraction of retention. @default 0.25 */
  readonly iteratorAgeFractionOfRetention?: number;
  /** Freshness alarm threshold as a multiple of the buffer interval. @default 2 */
  readonly freshnessBufferMultiple?: number;
  /** Utilization that counts as a sustained cause, as a fraction of write capacity. @default 0.8 */
  readonly utilizationThreshold?: number;
}

/**
 * Alarms that mean something: each carries its resource dimension and the
 * action, uses M-of-N datapoints, and a composite pages when a sustained cause
 * (throttling, utilization) coincides with a symptom (iterator age, freshness,
 * failed deliveries). Plus a dashboard of the data path.
 */
export class PipelineMonitor extends Construct {
  /** Every alarm, by name: `iteratorAge`, `writeThrottled`, `utilization`, `freshness`, `deliverySuccess`, `failedConversion`, `partitionCountExceeded`. */
  public readonly alarms: { [name: string]: cw.Alarm } = {};
  /** Fires when a cause coincides with a symptom; undefined when there is no cause or no symptom to combine. */
  public readonly composite?: cw.CompositeAlarm;
  /** The dashboard. */
  public readonly dashboard: cw.Dashboard;
  /** The topic alarms publish to, when no `alarmAction` was given. */
  public readonly alarmTopic?: sns.Topic;
  private readonly action: cw.IAlarmAction;
  private readonly freshnessMultiple: number;
  private readonly ageFraction: number;
  private readonly statusAlarms: cw.IAlarm[] = [];
  private statusWidgetAdded = false;

  constructor(scope: Construct, id: string, props: PipelineMonitorProps) {
    super(scope, id);
    const fraction = props.iteratorAgeFractionOfRetention ?? 0.25;
    if (!(fraction > 0 && fraction <= 1)) throw propError(this, 'iteratorAgeFractionOfRetention', `(${fraction}) must be in (0, 1]`);
    const multiple = props.freshnessBufferMultiple ?? 2;
    if (!(multiple >= 1)) throw propError(this, 'freshnessBufferMultiple', `(${multiple}) must be at least 1`);
    this.freshnessMultiple = multiple;
    this.ageFraction = fraction;
    const utilization = props.utilizationThreshold ?? 0.8;
    if (!(utilization > 0 && utilization <= 1)) throw propError(this, 'utilizationThreshold', `(${utilization}) must be in (0, 1]`);

    // Every alarm gets an action: an alarm nobody hears is not monitoring.
    let action = props.alarmAction;
    if (!action) {
      if (!props.encryptionKey) throw propError(this, 'encryptionKey', 'is required when `alarmAction` is not given, to encrypt the created alarm topic');
      props.encryptionKey.grant(new iam.ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey*');
      this.alarmTopic = new sns.Topic(this, 'AlarmTopic', { masterKey: props.encryptionKey, enforceSSL: true });
      action = new cwActions.SnsAction(this.alarmTopic);
    }

    this.dashboard = new cw.Dashboard(this, 'Dashboard', { defaultInterval: Duration.hours(6) });
    const causes: cw.IAlarm[] = [];
    const symptoms: cw.IAlarm[] = [];

    const s = props.stream;
    if (s) {
      const ageThreshold = s.retention.toMilliseconds() * fraction;
      const age = s.stream.metricGetRecordsIteratorAgeMilliseconds({ statistic: cw.Stats.MAXIMUM, period: Duration.minutes(5) });
      symptoms.push(this.alarm('iteratorAge', age, {
        threshold: ageThreshold, evaluationPeriods: 3, datapointsToAlarm: 3,
        comparisonOperator: cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cw.TreatMissingData.NOT_BREACHING,
        alarmDescription: `Oldest unread record is older than ${fraction * 100}% of the stream's retention (${s.retention.toHumanString()}); records expire unread at 100%.`,
      }));
      const throttled = s.stream.metricWriteProvisionedThroughputExceeded({ statistic: cw.Stats.SUM, period: Duration.minutes(1) });
      causes.push(this.alarm('writeThrottled', throttled, {
        threshold: 0, evaluationPeriods: 5, datapointsToAlarm: 3,
        comparisonOperator: cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cw.TreatMissingData.NOT_BREACHING,
        alarmDescription: 'Writes were throttled in 3 of the last 5 minutes: the stream lacks shards or a partition key is hot.',
      }));
      const bytes = s.stream.metricIncomingBytes({ statistic: cw.Stats.SUM, period: Duration.minutes(1) });
      const capacityPerMinute = s.writeCapacityBytesPerSecond ? s.writeCapacityBytesPerSecond * 60 : undefined;
      if (capacityPerMinute) {
        causes.push(this.alarm('utilization', bytes, {
          threshold: capacityPerMinute * utilization, evaluationPeriods: 5, datapointsToAlarm: 4,
          comparisonOperator: cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
          treatMissingData: cw.TreatMissingData.NOT_BREACHING,
          alarmDescription: `Incoming bytes above ${utilization * 100}% of the planned write capacity in 4 of 5 minutes.`,
        }));
      }
      this.dashboard.addWidgets(
        new cw.GraphWidget({
          title: 'Incoming bytes per minute vs write capacity', width: 12, left: [bytes],
          leftAnnotations: capacityPerMinute ? [{ value: capacityPerMinute, label: 'capacity', color: cw.Color.RED }] : [],
        }),
        new cw.GraphWidget({
          title: 'Iterator age (ms)', width: 12, left: [age],
          leftAnnotations: [{ value: ageThreshold, label: `${fraction * 100}% of retention`, color: cw.Color.RED }],
        }),
        new cw.GraphWidget({ title: 'Write throttling', width: 12, left: [throttled, s.stream.metricIncomingRecords({ period: Duration.minutes(1) })] }),
      );
    }

    const d = props.delivery;
    if (d) {
      const ds = d.deliveryStream;
      const { freshness, freshnessThreshold, success, alarms } = this.deliveryAlarms(d);
      symptoms.push(...alarms);
      const failed = ds.metric('FailedConversion.Records', { statistic: cw.Stats.SUM, period: Duration.minutes(5) });
      this.alarm('failedConversion', failed, {
        threshold: 0, evaluationPeriods: 1, datapointsToAlarm: 1,
        comparisonOperator: cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cw.TreatMissingData.NOT_BREACHING,
        alarmDescription: 'Records failed Parquet conversion (schema mismatch) and went to the error prefix.',
      });
      const exceeded = ds.metric('PartitionCountExceeded', { statistic: cw.Stats.MAXIMUM, period: Duration.minutes(5) });
      this.alarm('partitionCountExceeded', exceeded, {
        threshold: 0, evaluationPeriods: 1, datapointsToAlarm: 1,
        comparisonOperator: cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cw.TreatMissingData.NOT_BREACHING,
        alarmDescription: 'Active partitions exceeded the quota; records went to the error prefix as activePartitionExceeded.',
      });
      const succeeded = ds.metric('SucceedConversion.Records', { statistic: cw.Stats.SUM, period: Duration.minutes(5) });
      this.dashboard.addWidgets(
        new cw.GraphWidget({
          title: 'Delivery freshness (s)', width: 12, left: [freshness],
          leftAnnotations: [{ value: freshnessThreshold, label: `${multiple}x buffer interval`, color: cw.Color.RED }],
        }),
        new cw.GraphWidget({ title: 'Parquet conversion', width: 12, left: [succeeded], right: [failed] }),
        new cw.GraphWidget({
          title: 'Active partitions', width: 12,
          left: [ds.metric('PartitionCount', { statistic: cw.Stats.MAXIMUM, period: Duration.minutes(5) })],
          right: [exceeded],
          leftAnnotations: [{ value: d.activePartitionQuota ?? 500, label: 'quota', color: cw.Color.RED }],
        }),
        new cw.GraphWidget({ title: 'S3 delivery success', width: 12, left: [success] }),
      );
    }

    if (causes.length > 0 && symptoms.length > 0) {
      // Page only when a sustained cause meets a symptom: throttling alone can be a burst the stream absorbs.
      this.composite = new cw.CompositeAlarm(this, 'CauseAndSymptom', {
        alarmRule: cw.AlarmRule.allOf(cw.AlarmRule.anyOf(...causes), cw.AlarmRule.anyOf(...symptoms)),
        alarmDescription: 'A capacity cause (throttling or utilization) coincides with a symptom (iterator age, freshness or failed deliveries).',
      });
      this.composite.addAlarmAction(action);
    }
    if (this.composite) this.statusAlarms.push(this.composite);
    this.ensureStatusWidget();
    for (const a of Object.values(this.alarms)) a.addAlarmAction(action);
    this.action = action;
  }

  /**
   * Watches a consumer: function iterator age (half the max record age), errors and throttles
   * (3 of 5 minutes), batches sent to the failure destination, and EFO lag. Alarms are named
   * `<name>IteratorAge`, `<name>Errors`, `<name>Throttles`, `<name>FailedBatches`, `<name>MillisBehindLatest`.
   */
  public addConsumer(name: string, consumer: MonitoredConsumer): void {
    const fn = consumer.function;
    const period = Duration.minutes(1);
    const ageThreshold = consumer.maxRecordAge.toMilliseconds() / 2;
    const age = fn.metric('IteratorAge', { statistic: cw.Stats.MAXIMUM, period });
    const errors = fn.metricErrors({ statistic: cw.Stats.SUM, period });
    const throttles = fn.metricThrottles({ statistic: cw.Stats.SUM, period });
    const added = [
      this.alarm(`${name}IteratorAge`, age, {
        threshold: ageThreshold, evaluationPeriods: 5, datapointsToAlarm: 3, comparisonOperator: cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cw.TreatMissingData.NOT_BREACHING,
        alarmDescription: `The consumer is more than half its max record age (${consumer.maxRecordAge.toHumanString()}) behind; older records go to the failure destination.`,
      }),
      this.alarm(`${name}Errors`, errors, {
        threshold: 0, evaluationPeriods: 5, datapointsToAlarm: 3, comparisonOperator: cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cw.TreatMissingData.NOT_BREACHING, alarmDescription: 'The consumer failed whole batches in 3 of 5 minutes.',
      }),
      this.alarm(`${name}Throttles`, throttles, {
        threshold: 0, evaluationPeriods: 5, datapointsToAlarm: 3, comparisonOperator: cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cw.TreatMissingData.NOT_BREACHING, alarmDescription: 'The consumer was throttled in 3 of 5 minutes.',
      }),
    ];
    const widgets: cw.IWidget[] = [
      new cw.GraphWidget({ title: `${name}: iterator age (ms)`, width: 12, left: [age], leftAnnotations: [{ value: ageThreshold, label: 'half max record age', color: cw.Color.RED }] }),
      new cw.GraphWidget({ title: `${name}: errors and throttles`, width: 12, left: [errors, throttles] }),
    ];
    let failed: cw.IMetric | undefined;
    if (consumer.failureBucket) {
      failed = new cw.Metric({
        namespace: 'AWS/S3', metricName: 'PutRequests', statistic: cw.Stats.SUM, period: Duration.minutes(5),
        dimensionsMap: { BucketName: consumer.failureBucket.bucketName, FilterId: 'OnFailure' },
      });
    } else if (consumer.failureQueue) {
      failed = consumer.failureQueue.metricApproximateNumberOfMessagesVisible({ statistic: cw.Stats.MAXIMUM, period: Duration.minutes(5) });
    }
    if (failed) {
      added.push(this.alarm(`${name}FailedBatches`, failed, {
        threshold: 0, evaluationPeriods: 1, datapointsToAlarm: 1, comparisonOperator: cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cw.TreatMissingData.NOT_BREACHING, alarmDescription: 'Batches exhausted their retries or max record age and went to the failure destination; redrive them.',
      }));
      widgets.push(new cw.GraphWidget({ title: `${name}: batches sent to the failure destination`, width: 12, left: [failed] }));
    }
    if (consumer.consumerName && consumer.stream) {
      const behind = new cw.Metric({
        namespace: 'AWS/Kinesis', metricName: 'SubscribeToShardEvent.MillisBehindLatest', statistic: cw.Stats.MAXIMUM, period,
        dimensionsMap: { StreamName: consumer.stream.streamName, ConsumerName: consumer.consumerName },
      });
      added.push(this.alarm(`${name}MillisBehindLatest`, behind, {
        threshold: ageThreshold, evaluationPeriods: 5, datapointsToAlarm: 3, comparisonOperator: cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cw.TreatMissingData.NOT_BREACHING, alarmDescription: 'The enhanced fan-out consumer is more than half its max record age behind.',
      }));
      widgets.push(new cw.GraphWidget({ title: `${name}: EFO millis behind latest`, width: 12, left: [behind] }));
    }
    for (const a of added) a.addAlarmAction(this.action);
    this.dashboard.addWidgets(...widgets);
    this.ensureStatusWidget();
  }

  /**
   * Watches another delivery stream (e.g. the raw archive): `<name>Freshness` above the multiple
   * of its buffer interval in 3 of 5 periods, and `<name>DeliverySuccess` below 1 in 2 of 3.
   */
  public addDelivery(name: string, delivery: MonitoredDelivery): void {
    const { freshness, freshnessThreshold, success, alarms } = this.deliveryAlarms(delivery, name);
    for (const a of alarms) a.addAlarmAction(this.action);
    this.dashboard.addWidgets(
      new cw.GraphWidget({ title: `${name}: delivery freshness (s)`, width: 12, left: [freshness], leftAnnotations: [{ value: freshnessThreshold, label: `${this.freshnessMultiple}x buffer interval`, color: cw.Color.RED }] }),
      new cw.GraphWidget({ title: `${name}: S3 delivery success`, width: 12, left: [success] }),
    );
    this.ensureStatusWidget();
  }

  /**
   * Watches a replay state machine: its progress metrics (records and bytes replayed, objects
   * remaining, throttled PutRecords entries, emitted by the workers in `metricsNamespace` with the
   * `ReplayStateMachine` dimension) on the dashboard, and an alarm `<name>ExecutionsFailed`.
   */
  public addReplay(name: string, replay: MonitoredReplay): void {
    const period = Duration.minutes(1);
    const progress = (metricName: string, statistic: string): cw.Metric => new cw.Metric({
      namespace: replay.metricsNamespace, metricName, statistic, period, dimensionsMap: { ReplayStateMachine: replay.dimension },
    });
    const failed = replay.stateMachine.metricFailed({ statistic: cw.Stats.SUM, period: Duration.minutes(5) });
    const alarm = this.alarm(`${name}ExecutionsFailed`, failed, {
      threshold: 0, evaluationPeriods: 1, datapointsToAlarm: 1, comparisonOperator: cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cw.TreatMissingData.NOT_BREACHING,
      alarmDescription: 'A replay execution failed; start it again with the same replayId to resume (finished objects are skipped).',
    });
    alarm.addAlarmAction(this.action);
    this.dashboard.addWidgets(
      new cw.GraphWidget({ title: `${name}: records and bytes replayed per minute`, width: 12, left: [progress('RecordsReplayed', cw.Stats.SUM)], right: [progress('BytesReplayed', cw.Stats.SUM)] }),
      new cw.GraphWidget({ title: `${name}: objects done, remaining, throttles`, width: 12, left: [progress('ObjectsDone', cw.Stats.SUM), progress('ObjectsRemaining', cw.Stats.MAXIMUM)], right: [progress('Throttles', cw.Stats.SUM)] }),
      new cw.GraphWidget({ title: `${name}: executions`, width: 12, left: [replay.stateMachine.metricStarted({ period }), replay.stateMachine.metricSucceeded({ period }), failed] }),
    );
    if (replay.stream) this.replayStreamAlarm(name, replay.stream);
    this.ensureStatusWidget();
  }

  /**
   * `<name>StreamIteratorAge`: a consumer of the replay stream is behind by more than the iterator-age
   * fraction of its retention (replayed records expire unread at 100%); plus its writes and reads.
   */
  private replayStreamAlarm(name: string, s: MonitoredStream): void {
    const threshold = s.retention.toMilliseconds() * this.ageFraction;
    const age = s.stream.metricGetRecordsIteratorAgeMilliseconds({ statistic: cw.Stats.MAXIMUM, period: Duration.minutes(5) });
    this.alarm(`${name}StreamIteratorAge`, age, {
      threshold, evaluationPeriods: 3, datapointsToAlarm: 3, comparisonOperator: cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cw.TreatMissingData.NOT_BREACHING,
      alarmDescription: `A consumer of the replay stream is behind by over ${this.ageFraction * 100}% of its retention (${s.retention.toHumanString()}); replayed records expire unread at 100% (replay again).`,
    }).addAlarmAction(this.action);
    this.dashboard.addWidgets(
      new cw.GraphWidget({ title: `${name}: replay stream records in, write throttles`, width: 12, left: [s.stream.metricIncomingRecords({ statistic: cw.Stats.SUM, period: Duration.minutes(1) })], right: [s.stream.metricWriteProvisionedThroughputExceeded({ statistic: cw.Stats.SUM, period: Duration.minutes(1) })] }),
      new cw.GraphWidget({ title: `${name}: replay stream iterator age (ms)`, width: 12, left: [age], leftAnnotations: [{ value: threshold, label: `${this.ageFraction * 100}% of retention`, color: cw.Color.RED }] }),
    );
  }

  /**
   * A delivery's `freshness` (oldest record above `freshnessBufferMultiple` × its buffer interval in
   * 3 of 5 periods) and `deliverySuccess` (below 1 in 2 of 3) alarms; prefixed with `name` for an
   * added delivery, in the alarm names and descriptions.
   */
  private deliveryAlarms(d: MonitoredDelivery, name?: string) {
    const id = (alarm: string): string => (name ? `${name}${alarm.charAt(0).toUpperCase()}${alarm.slice(1)}` : alarm);
    const describe = (text: string): string => (name ? `${name}: ${text.charAt(0).toLowerCase()}${text.slice(1)}` : text);
    const freshnessThreshold = d.bufferingInterval.toSeconds() * this.freshnessMultiple;
    const freshness = d.deliveryStream.metric('DeliveryToS3.DataFreshness', { statistic: cw.Stats.MAXIMUM, period: Duration.minutes(5) });
    const success = d.deliveryStream.metric('DeliveryToS3.Success', { statistic: cw.Stats.AVERAGE, period: Duration.minutes(5) });
    const alarms = [
      this.alarm(id('freshness'), freshness, {
        threshold: freshnessThreshold, evaluationPeriods: 5, datapointsToAlarm: 3,
        comparisonOperator: cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cw.TreatMissingData.NOT_BREACHING,
        alarmDescription: describe(`Oldest undelivered record is older than ${this.freshnessMultiple}x the ${d.bufferingInterval.toSeconds()} s buffer interval.`),
      }),
      this.alarm(id('deliverySuccess'), success, {
        threshold: 1, evaluationPeriods: 3, datapointsToAlarm: 2,
        comparisonOperator: cw.ComparisonOperator.LESS_THAN_THRESHOLD,
        treatMissingData: cw.TreatMissingData.NOT_BREACHING,
        alarmDescription: describe('Some S3 puts failed in 2 of the last 3 periods; Firehose retries, then writes to the error prefix.'),
      }),
    ];
    return { freshness, freshnessThreshold, success, alarms };
  }

  private alarm(name: string, metric: cw.IMetric, props: Omit<cw.CreateAlarmOptions, 'alarmName'>): cw.Alarm {
    const alarm = new cw.Alarm(this, name.charAt(0).toUpperCase() + name.slice(1), { metric, ...props });
    this.alarms[name] = alarm;
    this.statusAlarms.push(alarm);
    return alarm;
  }

  /**
   * One alarm-status widget listing every alarm, including those added later (the widget reads the
   * list when the dashboard renders). CloudWatch rejects the widget without alarms, so it is created
   * with the first one.
   */
  private ensureStatusWidget(): void {
    if (this.statusWidgetAdded || this.statusAlarms.length === 0) return;
    this.dashboard.addWidgets(new cw.AlarmStatusWidget({ title: 'Alarms', width: 24, alarms: this.statusAlarms }));
    this.statusWidgetAdded = true;
  }
}
