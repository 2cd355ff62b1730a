import { Duration } from 'aws-cdk-lib';
import * as cw from 'aws-cdk-lib/aws-cloudwatch';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { AlarmRouter, type Paging } from './alarm-router';
import { propError } from './errors';
import type { MonitoredConsumer, MonitoredDelivery, MonitoredMetric, MonitoredReplay, MonitoredStream, PipelineMonitorProps } from './pipeline-monitor-props';


/** M-of-N datapoints above `threshold`; a missing datapoint (no traffic) is not a breach. */
const above = (threshold: number, evaluationPeriods: number, datapointsToAlarm: number, alarmDescription: string) => ({
  threshold, evaluationPeriods, datapointsToAlarm, alarmDescription,
  comparisonOperator: cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
  treatMissingData: cw.TreatMissingData.NOT_BREACHING,
});

/**
 * Alarms that mean something: each carries its resource dimension and uses M-of-N datapoints.
 * Alarms meaning lost or undelivered data page on their own; causes (throttling, utilization,
 * consumer errors) and symptoms (lag) carry no action and page only through one composite alarm,
 * when a cause coincides with a symptom. Plus a dashboard of the data path.
 */
export class PipelineMonitor extends Construct {
  /**
   * Every alarm, by name: `iteratorAge`, `writeThrottled`, `readThrottled`, `utilization`, `freshness`,
   * `deliverySuccess`, `failedConversion`, `partitionCountExceeded`, and those the `add*` methods add.
   */
  public readonly alarms: { [name: string]: cw.Alarm } = {};
  /** The dashboard. */
  public readonly dashboard: cw.Dashboard;
  /** The topic alarms publish to, when no `alarmAction` was given. */
  public readonly alarmTopic?: sns.Topic;
  private readonly router: AlarmRouter;
  private readonly freshnessMultiple: number;
  private readonly ageFraction: number;

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

    this.router = new AlarmRouter(this, {
      alarmAction: props.alarmAction,
      encryptionKey: props.encryptionKey,
      compositeDescription: 'A cause (stream read or write throttling, write utilization, consumer errors or throttles) coincides with a lag symptom '
        + '(delivery freshness, consumer iterator age or EFO lag). Lost or undelivered data pages through its own alarm.',
    });
    this.alarmTopic = this.router.alarmTopic;

    this.dashboard = new cw.Dashboard(this, 'Dashboard', { defaultInterval: Duration.hours(6) });
    if (props.stream) this.watchStream(props.stream, fraction, utilization);
    if (props.delivery) this.watchDelivery(props.delivery);
    this.ensureStatusWidget();
  }

  /** Fires when a cause coincides with a symptom (or either, when only one kind is watched); undefined until an alarm feeds it. */
  public get composite(): cw.CompositeAlarm | undefined {
    return this.router.composite;
  }

  /**
   * Watches a consumer: function iterator age (half the max record age), errors and throttles
   * (3 of 5 minutes), events sent to the failure destination, and EFO lag. Alarms are named
   * `<name>IteratorAge`, `<name>Errors`, `<name>Throttles`, `<name>FailedBatches`, `<name>MillisBehindLatest`.
   */
  public addConsumer(name: string, consumer: MonitoredConsumer): void {
    const fn = consumer.function;
    const period = Duration.minutes(1);
    const ageThreshold = consumer.maxRecordAge.toMilliseconds() / 2;
    const age = fn.metric('IteratorAge', { statistic: cw.Stats.MAXIMUM, period });
    const errors = fn.metricErrors({ statistic: cw.Stats.SUM, period });
    const throttles = fn.metricThrottles({ statistic: cw.Stats.SUM, period });
    const widgets: cw.IWidget[] = [];
    if (consumer.functionAlarms ?? true) {
      this.alarm(`${name}IteratorAge`, age, 'symptom', above(ageThreshold, 5, 3,
        `The consumer is more than half its max record age (${consumer.maxRecordAge.toHumanString()}) behind; older records go to the failure destination.`));
      this.alarm(`${name}Errors`, errors, 'cause', above(0, 5, 3, 'The consumer failed whole batches in 3 of 5 minutes.'));
      this.alarm(`${name}Throttles`, throttles, 'cause', above(0, 5, 3, 'The consumer was throttled in 3 of 5 minutes.'));
      widgets.push(
        new cw.GraphWidget({ title: `${name}: iterator age (ms)`, width: 12, left: [age], leftAnnotations: [{ value: ageThreshold, label: 'half max record age', color: cw.Color.RED }] }),
        new cw.GraphWidget({ title: `${name}: errors and throttles`, width: 12, left: [errors, throttles] }),
      );
    }
    const failed = this.failedBatchesMetric(name, consumer);
    if (failed) {
      this.alarm(`${name}FailedBatches`, failed, 'pages', above(0, 1, 1, 'Batches exhausted their retries or max record age and went to the failure destination; redrive them.'));
      widgets.push(new cw.GraphWidget({ title: `${name}: events sent to the failure destination`, width: 12, left: [failed] }));
    }
    if (consumer.consumerName && consumer.stream) {
      const behind = new cw.Metric({
        namespace: 'AWS/Kinesis', metricName: 'SubscribeToShardEvent.MillisBehindLatest', statistic: cw.Stats.MAXIMUM, period,
        dimensionsMap: { StreamName: consumer.stream.streamName, ConsumerName: consumer.consumerName },
      });
      this.alarm(`${name}MillisBehindLatest`, behind, 'symptom', above(ageThreshold, 5, 3, 'The enhanced fan-out consumer is more than half its max record age behind.'));
      widgets.push(new cw.GraphWidget({ title: `${name}: EFO millis behind latest`, width: 12, left: [behind] }));
    }
    this.dashboard.addWidgets(...widgets);
    this.ensureStatusWidget();
  }

  /**
   * Adds an alarm `name` on any metric (M-of-N above its threshold, missing data not breaching), paging
   * on its own or feeding the composite as a cause or a symptom, and a graph of the metric with its
   * threshold on the dashboard.
   */
  public addMetricAlarm(name: string, m: MonitoredMetric): cw.Alarm {
    const periods = m.evaluationPeriods ?? 1;
    const datapoints = m.datapointsToAlarm ?? periods;
    if (!(Number.isInteger(periods) && periods >= 1 && Number.isInteger(datapoints) && datapoints >= 1 && datapoints <= periods)) {
      throw propError(this, 'datapointsToAlarm', `(${datapoints} of ${periods}) must be whole numbers with 1 <= datapointsToAlarm <= evaluationPeriods`);
    }
    const alarm = this.alarm(name, m.metric, m.paging as Paging, above(m.threshold, periods, datapoints, m.description));
    this.dashboard.addWidgets(new cw.GraphWidget({ title: name, width: 12, left: [m.metric], leftAnnotations: [{ value: m.threshold, label: 'alarm', color: cw.Color.RED }] }));
    this.ensureStatusWidget();
    return alarm;
  }

  /**
   * Watches another delivery stream (e.g. the raw archive): `<name>Freshness` above the multiple
   * of its buffer interval in 3 of 5 periods, and `<name>DeliverySuccess` below 1 in 2 of 3.
   */
  public addDelivery(name: string, delivery: MonitoredDelivery): void {
    const { freshness, freshnessThreshold, success } = this.deliveryAlarms(delivery, name);
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
    this.alarm(`${name}ExecutionsFailed`, failed, 'pages', above(0, 1, 1,
      'A replay execution failed; start it again with the same replayId to resume (finished objects are skipped).'));
    this.dashboard.addWidgets(
      new cw.GraphWidget({ title: `${name}: records and bytes replayed per minute`, width: 12, left: [progress('RecordsReplayed', cw.Stats.SUM)], right: [progress('BytesReplayed', cw.Stats.SUM)] }),
      new cw.GraphWidget({ title: `${name}: objects done, remaining, throttles`, width: 12, left: [progress('ObjectsDone', cw.Stats.SUM), progress('ObjectsRemaining', cw.Stats.MAXIMUM)], right: [progress('Throttles', cw.Stats.SUM)] }),
      new cw.GraphWidget({ title: `${name}: executions`, width: 12, left: [replay.stateMachine.metricStarted({ period }), replay.stateMachine.metricSucceeded({ period }), failed] }),
    );
    if (replay.stream) this.replayStreamAlarm(name, replay.stream);
    this.ensureStatusWidget();
  }

  /** The stream's alarms (iterator age pages; read and write throttling and utilization are causes) and widgets. */
  private watchStream(s: MonitoredStream, fraction: number, utilization: number): void {
    const ageThreshold = s.retention.toMilliseconds() * fraction;
    const age = s.stream.metricGetRecordsIteratorAgeMilliseconds({ statistic: cw.Stats.MAXIMUM, period: Duration.minutes(5) });
    this.alarm('iteratorAge', age, 'pages', above(ageThreshold, 3, 3,
      `Oldest unread record is older than ${fraction * 100}% of the stream's retention (${s.retention.toHumanString()}); records expire unread at 100%.`));
    const writeThrottled = s.stream.metricWriteProvisionedThroughputExceeded({ statistic: cw.Stats.SUM, period: Duration.minutes(1) });
    this.alarm('writeThrottled', writeThrottled, 'cause', above(0, 5, 3,
      'Writes were throttled in 3 of the last 5 minutes: the stream lacks shards or a partition key is hot.'));
    // Standard consumers share a shard's 2 MiB/s and 5 GetRecords/s: throttled reads mean they fall behind.
    const readThrottled = s.stream.metricReadProvisionedThroughputExceeded({ statistic: cw.Stats.SUM, period: Duration.minutes(1) });
    this.alarm('readThrottled', readThrottled, 'cause', above(0, 5, 3,
      'Reads were throttled in 3 of the last 5 minutes: the standard consumers share each shard\'s 2 MiB/s; add shards or enhanced fan-out.'));
    const bytes = s.stream.metricIncomingBytes({ statistic: cw.Stats.SUM, period: Duration.minutes(1) });
    const capacityPerMinute = s.writeCapacityBytesPerSecond ? s.writeCapacityBytesPerSecond * 60 : undefined;
    if (capacityPerMinute) {
      this.alarm('utilization', bytes, 'cause', above(capacityPerMinute * utilization, 5, 4,
        `Incoming bytes above ${utilization * 100}% of the planned write capacity in 4 of 5 minutes.`));
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
      new cw.GraphWidget({ title: 'Read and write throttling', width: 12, left: [writeThrottled, readThrottled], right: [s.stream.metricIncomingRecords({ period: Duration.minutes(1) })] }),
    );
  }

  /** The curated delivery's alarms (freshness is a symptom; failed puts, conversions and partitions page) and widgets. */
  private watchDelivery(d: MonitoredDelivery): void {
    const ds = d.deliveryStream;
    const { freshness, freshnessThreshold, success } = this.deliveryAlarms(d);
    const failed = ds.metric('FailedConversion.Records', { statistic: cw.Stats.SUM, period: Duration.minutes(5) });
    this.alarm('failedConversion', failed, 'pages', above(0, 1, 1, 'Records failed Parquet conversion (schema mismatch) and went to the error prefix.'));
    const exceeded = ds.metric('PartitionCountExceeded', { statistic: cw.Stats.MAXIMUM, period: Duration.minutes(5) });
    this.alarm('partitionCountExceeded', exceeded, 'pages', above(0, 1, 1,
      'Active partitions exceeded the quota; records went to the error prefix as activePartitionExceeded.'));
    const succeeded = ds.metric('SucceedConversion.Records', { statistic: cw.Stats.SUM, period: Duration.minutes(5) });
    this.dashboard.addWidgets(
      new cw.GraphWidget({
        title: 'Delivery freshness (s)', width: 12, left: [freshness],
        leftAnnotations: [{ value: freshnessThreshold, label: `${this.freshnessMultiple}x buffer interval`, color: cw.Color.RED }],
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

  /**
   * What the failed-batches alarm counts. For S3, the events the mapping delivered to it: S3's
   * `PutRequests` counts every HTTP PUT on the bucket's objects, the redrive's PutObjectTagging
   * included, so redriving would set off the alarm it clears. For SQS, the messages waiting.
   */
  private failedBatchesMetric(name: string, consumer: MonitoredConsumer): cw.IMetric | undefined {
    if (consumer.failureBucket) {
      if (!consumer.eventSourceMappingId) {
        throw propError(this, 'failureBucket', `(consumer '${name}') needs \`eventSourceMappingId\`: the failed-batches alarm counts the mapping's OnFailureDestinationDeliveredEventCount`);
      }
      return new cw.Metric({
        namespace: 'AWS/Lambda', metricName: 'OnFailureDestinationDeliveredEventCount', statistic: cw.Stats.SUM, period: Duration.minutes(5),
        dimensionsMap: { EventSourceMappingUUID: consumer.eventSourceMappingId },
      });
    }
    return consumer.failureQueue?.metricApproximateNumberOfMessagesVisible({ statistic: cw.Stats.MAXIMUM, period: Duration.minutes(5) });
  }

  /**
   * `<name>StreamIteratorAge`: a consumer of the replay stream is behind by more than the iterator-age
   * fraction of its retention (replayed records expire unread at 100%); plus its writes and reads.
   */
  private replayStreamAlarm(name: string, s: MonitoredStream): void {
    const threshold = s.retention.toMilliseconds() * this.ageFraction;
    const age = s.stream.metricGetRecordsIteratorAgeMilliseconds({ statistic: cw.Stats.MAXIMUM, period: Duration.minutes(5) });
    // Pages: a replay stream consumer that falls this far behind loses replayed records.
    this.alarm(`${name}StreamIteratorAge`, age, 'pages', {
      threshold, evaluationPeriods: 3, datapointsToAlarm: 3, comparisonOperator: cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cw.TreatMissingData.NOT_BREACHING,
      alarmDescription: `A consumer of the replay stream is behind by over ${this.ageFraction * 100}% of its retention (${s.retention.toHumanString()}); replayed records expire unread at 100% (replay again).`,
    });
    this.dashboard.addWidgets(
      new cw.GraphWidget({ title: `${name}: replay stream records in, write throttles`, width: 12, left: [s.stream.metricIncomingRecords({ statistic: cw.Stats.SUM, period: Duration.minutes(1) })], right: [s.stream.metricWriteProvisionedThroughputExceeded({ statistic: cw.Stats.SUM, period: Duration.minutes(1) })] }),
      new cw.GraphWidget({ title: `${name}: replay stream iterator age (ms)`, width: 12, left: [age], leftAnnotations: [{ value: threshold, label: `${this.ageFraction * 100}% of retention`, color: cw.Color.RED }] }),
    );
  }

  /**
   * A delivery's `freshness` (oldest record above `freshnessBufferMultiple` × its buffer interval in
   * 3 of 5 periods, a symptom) and `deliverySuccess` (below 1 in 2 of 3, pages) alarms; prefixed with
   * `name` for an added delivery, in the alarm names and descriptions.
   */
  private deliveryAlarms(d: MonitoredDelivery, name?: string) {
    const id = (alarm: string): string => (name ? `${name}${alarm.charAt(0).toUpperCase()}${alarm.slice(1)}` : alarm);
    const describe = (text: string): string => (name ? `${name}: ${text.charAt(0).toLowerCase()}${text.slice(1)}` : text);
    const freshnessThreshold = d.bufferingInterval.toSeconds() * this.freshnessMultiple;
    const freshness = d.deliveryStream.metric('DeliveryToS3.DataFreshness', { statistic: cw.Stats.MAXIMUM, period: Duration.minutes(5) });
    const success = d.deliveryStream.metric('DeliveryToS3.Success', { statistic: cw.Stats.AVERAGE, period: Duration.minutes(5) });
    this.alarm(id('freshness'), freshness, 'symptom', above(freshnessThreshold, 5, 3,
      describe(`Oldest undelivered record is older than ${this.freshnessMultiple}x the ${d.bufferingInterval.toSeconds()} s buffer interval.`)));
    this.alarm(id('deliverySuccess'), success, 'pages', {
      threshold: 1, evaluationPeriods: 3, datapointsToAlarm: 2,
      comparisonOperator: cw.ComparisonOperator.LESS_THAN_THRESHOLD,
      treatMissingData: cw.TreatMissingData.NOT_BREACHING,
      alarmDescription: describe('Some S3 puts failed in 2 of the last 3 periods; Firehose retries, then writes to the error prefix.'),
    });
    return { freshness, freshnessThreshold, success };
  }

  private alarm(name: string, metric: cw.IMetric, paging: Paging, props: Omit<cw.CreateAlarmOptions, 'alarmName'>): cw.Alarm {
    const alarm = new cw.Alarm(this, name.charAt(0).toUpperCase() + name.slice(1), { metric, ...props });
    this.alarms[name] = alarm;
    this.router.route(alarm, paging);
    return alarm;
  }

  /** The alarm-status widget, with the first alarm (see AlarmRouter.ensureStatusWidget). */
  private ensureStatusWidget(): void {
    this.router.ensureStatusWidget(this.dashboard);
  }
}
