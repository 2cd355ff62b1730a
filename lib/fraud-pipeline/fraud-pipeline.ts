import { Duration } from 'aws-cdk-lib';
import * as cw from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kinesis from 'aws-cdk-lib/aws-kinesis';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sources from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import type { FraudLakeOptions, FraudPipelineProps } from './fraud-pipeline-props';
import { compileFraudSpec, fraudResultColumns, type CompiledFraudSpec } from './fraud-spec';
import { AccessLogBucket } from '../core/access-log-bucket';
import { acknowledge, wildcardUnder } from '../core/acknowledge';
import { namePropsAs, propError } from '../core/errors';
import { S3FailureDestination } from '../core/failure-destination';
import { FraudResultsTable, FraudStateTable } from '../core/fraud-tables';
import { DEFAULT_RETENTION, IngestStream } from '../core/ingest-stream';
import { PipelineKey } from '../core/pipeline-key';
import { PipelineMonitor } from '../core/pipeline-monitor';
import { AlarmPaging } from '../core/pipeline-monitor-props';
import { SecureBucket } from '../core/secure-bucket';
import { knownRetention, StreamConsumer } from '../core/stream-consumer';
import { EventTimeFormat } from '../core/event-time';
import { BundledFunction } from '../handlers/bundled-function';
import { StreamingLake } from '../streaming-lake/streaming-lake';

/** The EMF namespace of the scorer's, closer's and publisher's metrics. */
export const FRAUD_METRICS_NAMESPACE = 'StreamingPipelines/Fraud';
/** Records per scorer batch: state calls scale with customer-windows per batch, so big batches amortize them. */
export const FRAUD_SCORER_BATCH_SIZE = 1000;
/** DynamoDB Streams keep records 24 hours: the publisher's record age. */
const DYNAMODB_STREAM_RETENTION = Duration.hours(24);
const CLOSER_NEEDS_NO_DLQ = 'EventBridge invokes the closer every minute and a failed run is not retried: the next run reads the same state from the table and does the same work, so a dead-letter queue or failure destination would only collect timer events.';
/** Makes one of the pipeline's BundledFunctions with the common environment. */
type FunctionFactory = (name: string, handler: string, environment: { [k: string]: string }, extra?: { memorySize?: number; asynchronousInvoker?: string }) => lambda.Function;
const SYNCHRONOUS = 'A Lambda event-source mapping invokes this function synchronously; its on-failure destination keeps failed batches.';

/**
 * Per-customer event-time windows over a Kinesis stream of transactions, typed rules, alerts seconds
 * after a rule holds, and one final result per customer and window, exactly once in effect:
 * stream → scorer (EFO) → DynamoDB state (+ alert outbox) → stream → publisher → SNS / EventBridge,
 * results table, optional StreamingLake; a closer ticks quiet shards every minute.
 */
export class FraudPipeline extends Construct {
  /** The FraudSpec JSON the scorer and closer read (`FRAUD_SPEC`). */
  public readonly specJson: string;
  /** The stream of transactions (created or given). */
  public readonly stream: kinesis.IStream;
  /** The encryption key (created or given). */
  public readonly encryptionKey: kms.IKey;
  /** The scorer function. */
  public readonly scorer: lambda.IFunction;
  /** The scorer's enhanced fan-out consumer and event-source mapping (its failure bucket also holds `invalid/` events). */
  public readonly scorerConsumer: StreamConsumer;
  /** The closer function (every minute: ticks quiet shards). */
  public readonly closer: lambda.IFunction;
  /** The publisher function (drains the state table's stream). */
  public readonly publisher: lambda.IFunction;
  /** Window state, alert outbox, watermarks. */
  public readonly stateTable: FraudStateTable;
  /** One final row per customer and window. */
  public readonly resultsTable: FraudResultsTable;
  /** Events later than the allowed lateness (`late/` objects). */
  public readonly lateBucket: s3.IBucket;
  /** Where the publisher's exhausted batches go. */
  public readonly publisherFailureBucket: s3.IBucket;
  /** The alert topic (created or given), unless only an event bus was given. */
  public readonly alertTopic?: sns.ITopic;
  /** The alert event bus, when given. */
  public readonly alertEventBus?: events.IEventBus;
  /** The lake of window results, when `lake` is given. */
  public readonly lake?: StreamingLake;
  /** Alarms and dashboard. */
  public readonly monitor: PipelineMonitor;

  constructor(scope: Construct, id: string, props: FraudPipelineProps) {
    super(scope, id);
    if (props.throughput && props.stream) throw propError(this, 'throughput', 'cannot be combined with `stream`: capacity is planned only for a stream the pipeline creates');
    const lateRate = props.lateEventAlarmRate ?? 0.01;
    if (!(lateRate > 0 && lateRate <= 1)) throw propError(this, 'lateEventAlarmRate', `(${lateRate}) must be in (0, 1]`);
    // A given stream's retention: stated, or read from a stream of this app (StreamConsumer checks they agree).
    const retention = props.stream ? props.retention ?? knownRetention(props.stream) : props.retention ?? DEFAULT_RETENTION;
    if (retention) IngestStream.validateRetention(this, retention);
    const spec = compileFraudSpec(this, props, retention);
    if (props.lake) checkLakeColumns(this, spec);
    this.specJson = JSON.stringify(spec);
    this.encryptionKey = new PipelineKey(this, 'Key', { key: props.encryptionKey, description: 'cdk-streaming-pipelines fraud pipeline key' }).key;
    const key = this.encryptionKey;

    // 1. Stream and state.
    const ingest = props.stream ? undefined : new IngestStream(this, 'Stream', { throughput: props.throughput, retention, encryptionKey: key });
    this.stream = props.stream ?? ingest!.stream;
    this.stateTable = new FraudStateTable(this, 'State', { encryptionKey: key, removalPolicy: props.removalPolicy });
    this.resultsTable = new FraudResultsTable(this, 'Results', { encryptionKey: key, removalPolicy: props.removalPolicy });
    const logs = new AccessLogBucket(this, 'AccessLogs').bucket;
    const bucket = (name: string) => new SecureBucket(this, name, { encryptionKey: key, accessLogs: logs, accessLogsPrefix: `${name.toLowerCase()}/`, removalPolicy: props.removalPolicy }).bucket;
    this.lateBucket = bucket('Late');
    const common = { METRICS_NAMESPACE: FRAUD_METRICS_NAMESPACE, PIPELINE_NAME: this.node.path, STATE_TABLE: this.stateTable.table.tableName };
    const fn: FunctionFactory = (name, handler, environment, extra = {}) =>
      new BundledFunction(this, name, { handler, environment: { ...common, ...environment }, encryptionKey: key, synchronousInvoker: SYNCHRONOUS, ...extra }).function;

    // 2. Scorer: enhanced fan-out, one invocation per shard (the watermark is per shard), partial batch responses.
    const scoring = this.addScorer(fn, key, logs, props);
    this.scorer = scoring.scorer;
    this.scorerConsumer = scoring.consumer;

    // 3. Closer: every minute, ticks quiet shards (a shard without records cannot close its own windows).
    this.closer = this.addCloser(fn);

    // 4. Alerts and the publisher, draining the state table's stream (alert outbox items and closed windows).
    this.monitor = new PipelineMonitor(this, 'Monitor', {
      // An imported stream of unknown retention is watched as if it kept the shortest, 24 h: alarms come early, not late.
      stream: { stream: this.stream, retention: retention ?? Duration.hours(24), writeCapacityBytesPerSecond: ingest?.capacity.shards ? ingest.writeCapacityBytesPerSecond : undefined },
      alarmAction: props.alarmAction,
      encryptionKey: key,
    });
    this.alertEventBus = props.alerts?.eventBus;
    this.alertTopic = props.alerts?.topic ?? (this.alertEventBus ? undefined : new sns.Topic(this, 'Alerts', { masterKey: key, enforceSSL: true }));
    // The results lake's alarms page where the pipeline's do.
    this.lake = props.lake ? this.addLake(props, props.lake, spec, key) : undefined;
    this.publisherFailureBucket = bucket('PublisherFailures');
    this.publisher = this.addPublisher(fn, key);

    // 5. Monitoring beyond the consumers: late rate, refused events, state throttling, the closer.
    this.watch(lateRate);
  }

  /** The scorer, its enhanced fan-out mapping, and its grants: state, late/*, and invalid/ in the failure bucket. */
  private addScorer(fn: FunctionFactory, key: kms.IKey, logs: s3.IBucket, props: FraudPipelineProps): { scorer: lambda.Function; consumer: StreamConsumer } {
    const scorer = fn('Scorer', 'fraud-scorer', { FRAUD_SPEC: this.specJson, LATE_BUCKET: this.lateBucket.bucketName }, { memorySize: 1024 });
    namePropsAs(this, 'ScorerConsumer', { streamRetention: 'retention' });
    const consumer = new StreamConsumer(this, 'ScorerConsumer', {
      function: scorer, stream: this.stream, encryptionKey: key, accessLogs: logs, enhancedFanOut: true,
      batchSize: FRAUD_SCORER_BATCH_SIZE, streamRetention: props.stream ? props.retention : undefined,
    });
    // Invalid events go to `invalid/` of the failure bucket: PutObject on its objects is already granted for Lambda's destination.
    scorer.addEnvironment('FAILURE_BUCKET', consumer.failureBucket!.bucketName);
    this.stateTable.grantScorer(scorer);
    scorer.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [this.lateBucket.arnForObjects('late/*')] }));
    key.grant(scorer, 'kms:GenerateDataKey');
    const late = wildcardUnder(this, this.lateBucket.bucketArn, '/late/*');
    if (late) acknowledge(scorer.role!, { [late]: 'The scorer writes one late-events object per batch under late/<date>/<shard>/<sequence range>.jsonl; PutObject on late/* is the narrowest grant that allows it.' });
    return { scorer, consumer };
  }

  /** The closer and its one-minute schedule. A failed run is not retried: the next one does the same work from the same state. */
  private addCloser(fn: FunctionFactory): lambda.Function {
    const closer = fn('Closer', 'fraud-closer', { FRAUD_SPEC: this.specJson }, { asynchronousInvoker: CLOSER_NEEDS_NO_DLQ });
    this.stateTable.grantCloser(closer);
    const invokeConfig = new lambda.EventInvokeConfig(this, 'CloserInvokeConfig', { function: closer, retryAttempts: 0, maxEventAge: Duration.minutes(1) });
    const schedule = new events.Rule(this, 'CloserSchedule', {
      schedule: events.Schedule.rate(Duration.minutes(1)),
      targets: [new targets.LambdaFunction(closer, { retryAttempts: 2, maxEventAge: Duration.minutes(2) })],
    });
    acknowledge(invokeConfig, { 'Serverless-LambdaAsyncFailureDestination': CLOSER_NEEDS_NO_DLQ });
    acknowledge(schedule, { 'Serverless-EventBusDLQ': CLOSER_NEEDS_NO_DLQ });
    return closer;
  }

  /** The StreamingLake of window results: its schema from the spec, event time = window_start. */
  private addLake(props: FraudPipelineProps, o: FraudLakeOptions, spec: CompiledFraudSpec, key: kms.IKey): StreamingLake {
    // The lake's own checks name the props as the user wrote them, under `lake`.
    namePropsAs(this, 'Lake', { ...Object.fromEntries(['throughput', 'retention', 'bufferingSize', 'bufferingInterval', 'lifecycle', 'bucket', 'database'].map((k) => [k, `lake.${k}`])), eventTime: 'lake' });
    return new StreamingLake(this, 'Lake', {
      schema: fraudResultColumns(spec),
      eventTime: { field: 'window_start', format: EventTimeFormat.ISO_8601_UTC, projectionStart: o.projectionStart },
      throughput: o.throughput, retention: o.retention, bufferingSize: o.bufferingSize, bufferingInterval: o.bufferingInterval,
      lifecycle: o.lifecycle, rawArchive: o.rawArchive ?? false, database: o.database, bucket: o.bucket,
      encryptionKey: key, removalPolicy: props.removalPolicy,
      alarmAction: props.alarmAction ?? new cwActions.SnsAction(this.monitor.alarmTopic!),
    });
  }

  /** The publisher, its stream mapping (alerts and closed windows only) and its grants. */
  private addPublisher(fn: FunctionFactory, key: kms.IKey): lambda.IFunction {
    const env: { [k: string]: string } = { RESULTS_TABLE: this.resultsTable.table.tableName };
    if (this.alertTopic) env.ALERT_TOPIC_ARN = this.alertTopic.topicArn;
    if (this.alertEventBus) env.ALERT_EVENT_BUS_NAME = this.alertEventBus.eventBusName;
    if (this.lake) env.LAKE_STREAM_NAME = this.lake.stream!.streamName;
    const publisher = fn('Publisher', 'fraud-publisher', env);
    const source = new sources.DynamoEventSource(this.stateTable.table, {
      startingPosition: lambda.StartingPosition.TRIM_HORIZON,
      batchSize: 100,
      reportBatchItemFailures: true,
      bisectBatchOnError: true,
      retryAttempts: 10,
      maxRecordAge: DYNAMODB_STREAM_RETENTION,
      onFailure: new S3FailureDestination(this.publisherFailureBucket),
      // Only alert outbox items and closed windows: every other write (open windows, watermarks) is skipped by Lambda, unbilled.
      filters: [
        lambda.FilterCriteria.filter({ eventName: ['INSERT'], dynamodb: { NewImage: { kind: { S: ['alert'] } } } }),
        lambda.FilterCriteria.filter({ eventName: ['INSERT', 'MODIFY'], dynamodb: { NewImage: { status: { S: ['closed'] } } } }),
      ],
    });
    publisher.addEventSource(source);
    this.stateTable.grantPublisher(publisher);
    this.resultsTable.grantPublisher(publisher);
    // PublishBatch is authorized by sns:Publish; an encrypted topic also needs its key's data keys.
    if (this.alertTopic) {
      publisher.addToRolePolicy(new iam.PolicyStatement({ actions: ['sns:Publish'], resources: [this.alertTopic.topicArn] }));
      this.alertTopic.masterKey?.grant(publisher, 'kms:GenerateDataKey', 'kms:Decrypt');
    }
    this.alertEventBus?.grantPutEventsTo(publisher);
    if (this.lake) {
      publisher.addToRolePolicy(new iam.PolicyStatement({ actions: ['kinesis:PutRecords'], resources: [this.lake.stream!.streamArn] }));
      key.grant(publisher, 'kms:GenerateDataKey');
    }
    this.monitor.addConsumer('Publisher', {
      function: publisher, maxRecordAge: DYNAMODB_STREAM_RETENTION,
      failureBucket: this.publisherFailureBucket, eventSourceMappingId: source.eventSourceMappingId,
    });
    return publisher;
  }

  private watch(lateRate: number): void {
    const consumer = this.scorerConsumer;
    this.monitor.addConsumer('Scorer', {
      function: this.scorer, maxRecordAge: consumer.maxRecordAge, failureBucket: consumer.failureBucket,
      eventSourceMappingId: consumer.eventSource.eventSourceMappingId, consumerName: consumer.consumer!.streamConsumerName, stream: this.stream,
    });
    const m = (metricName: string, period = Duration.minutes(1)) => new cw.Metric({
      namespace: FRAUD_METRICS_NAMESPACE, metricName, statistic: cw.Stats.SUM, period, dimensionsMap: { Pipeline: this.node.path },
    });
    this.monitor.addMetricAlarm('LateEvents', {
      metric: new cw.MathExpression({ expression: 'IF(events > 0, late / events, 0)', usingMetrics: { late: m('LateEvents'), events: m('Events') }, period: Duration.minutes(1), label: 'late share of events' }),
      paging: AlarmPaging.PAGES, threshold: lateRate, evaluationPeriods: 5, datapointsToAlarm: 3,
      description: `More than ${lateRate * 100}% of events arrived after their windows closed (in 3 of 5 minutes): they are in the late bucket, not in any result. Check producers' clocks and allowedLateness.`,
    });
    this.monitor.addMetricAlarm('RefusedEvents', {
      metric: new cw.MathExpression({ expression: 'invalid + full', usingMetrics: { invalid: m('InvalidEvents', Duration.minutes(5)), full: m('WindowFull', Duration.minutes(5)) }, period: Duration.minutes(5), label: 'refused events' }),
      paging: AlarmPaging.PAGES, threshold: 0,
      description: 'Events were refused (unparseable, missing fields, future time, or a full window) and written to invalid/ in the scorer\'s failure bucket with their reason.',
    });
    this.monitor.addMetricAlarm('StateThrottles', {
      metric: this.stateTable.table.metricThrottledRequestsForOperations({
        period: Duration.minutes(1),
        operations: [dynamodb.Operation.TRANSACT_WRITE_ITEMS, dynamodb.Operation.BATCH_GET_ITEM, dynamodb.Operation.GET_ITEM, dynamodb.Operation.QUERY, dynamodb.Operation.UPDATE_ITEM, dynamodb.Operation.PUT_ITEM],
      }),
      paging: AlarmPaging.CAUSE, threshold: 0, evaluationPeriods: 5, datapointsToAlarm: 3,
      description: 'The state table throttled requests in 3 of 5 minutes; the scorer retries, and it matters when the scorer falls behind.',
    });
    this.monitor.addMetricAlarm('CloserErrors', {
      metric: this.closer.metricErrors({ statistic: cw.Stats.SUM, period: Duration.minutes(1) }),
      paging: AlarmPaging.PAGES, threshold: 0, evaluationPeriods: 5, datapointsToAlarm: 5,
      description: 'The closer failed every run for 5 minutes: windows of quiet shards are not closing, so their results are not delivered.',
    });
    this.monitor.dashboard.addWidgets(
      new cw.GraphWidget({ title: 'Events: applied, duplicates, late, refused', width: 12, left: ['Events', 'Applied', 'Duplicates', 'LateEvents', 'InvalidEvents', 'WindowFull'].map((n) => m(n)) }),
      new cw.GraphWidget({ title: 'Alerts per minute: decided, published, redelivered', width: 12, left: ['AlertsDecided', 'AlertsPublished', 'AlertRedeliveries'].map((n) => m(n)) }),
      new cw.GraphWidget({ title: 'Windows closed, results published', width: 12, left: ['WindowsClosed', 'IdleTicks', 'ResultsPublished', 'ResultRedeliveries'].map((n) => m(n)) }),
      new cw.GraphWidget({ title: 'State store: conflicts and throttles', width: 12, left: [m('StateConflicts'), m('Throttles')] }),
    );
  }
}

/** `distinct_<attribute>` must be a Glue column name: letters, digits and underscores. */
function checkLakeColumns(scope: Construct, spec: CompiledFraudSpec): void {
  spec.schema.attributes.forEach((a, i) => {
    if (!/^[A-Za-z0-9_]+$/.test(a)) throw propError(scope, `schema.attributes[${i}]`, `('${a}') becomes the lake column distinct_${a}; with \`lake\`, attributes must be letters, digits and underscores`);
    // Glue column names are case-insensitive: `Saturated` would collide too.
    if (a.toLowerCase() === 'saturated') throw propError(scope, `schema.attributes[${i}]`, `('${a}') becomes the lake column distinct_${a}, which is already the result's distinct_saturated column; rename the attribute's path or drop \`lake\``);
  });
}
