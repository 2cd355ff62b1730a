import { Duration, Token } from 'aws-cdk-lib';
import * as cw from 'aws-cdk-lib/aws-cloudwatch';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { AlarmRouter, type Paging } from './alarm-router';
import { propError } from './errors';
import { type ConsumerLagOptions, KafkaClusterType } from './kafka-refs';

/** Properties of a {@link KafkaMonitor}. */
export interface KafkaMonitorProps {
  /**
   * The cluster name: the `Cluster Name` dimension of every `AWS/Kafka` metric (the name, not the ARN).
   * A monitor created with its cluster must depend on it (`monitor.node.addDependency(cluster)`): MSK
   * publishes `ActiveControllerCount` once the cluster is ACTIVE, and `NoActiveController` counts missing
   * data as breaching, so alarms created beside a cluster still being created (20 minutes or more) would page.
   */
  readonly clusterName: string;
  /** Provisioned (Standard brokers), Express or Serverless: each publishes a different set of metrics. */
  readonly clusterType: KafkaClusterType;
  /**
   * Number of brokers (their `Broker ID`s are 1..brokerCount). The per-broker alarms add up (or take
   * the largest of) each broker's metric. Required for Provisioned and Express clusters.
   * @default - none (Serverless publishes no broker metrics)
   */
  readonly brokerCount?: number;
  /**
   * Action of the alarms that page (see the README's paging table) and of the composite alarm.
   * For `new SnsAction(topic)` with a topic of this app, CloudWatch is allowed to publish to it
   * (and to use its key); for an imported topic, synth warns with the statement its owner must add.
   * @default - an encrypted SNS topic is created (`alarmTopic`); subscribe your pager to it
   */
  readonly alarmAction?: cw.IAlarmAction;
  /** Key encrypting the created alarm topic; this account's alarms may use it. Required when `alarmAction` is not given. @default - none */
  readonly encryptionKey?: kms.IKey;
}

const NAMESPACE = 'AWS/Kafka';
const CLUSTER = 'Cluster Name';
const BROKER = 'Broker ID';
/** CloudWatch refuses an alarm whose math expression reads more than 10 metrics (a hard limit). */
const METRICS_PER_ALARM = 10;
const ONE_MINUTE = Duration.minutes(1);
const FIVE_MINUTES = Duration.minutes(5);

interface Rule {
  readonly threshold: number;
  readonly evaluationPeriods: number;
  readonly datapointsToAlarm: number;
  readonly comparisonOperator: cw.ComparisonOperator;
  readonly treatMissingData: cw.TreatMissingData;
  readonly alarmDescription: string;
}

/** M of N above `threshold`; a missing datapoint is no breach (see each caller for why). */
const above = (threshold: number, evaluationPeriods: number, datapointsToAlarm: number, alarmDescription: string): Rule => ({
  threshold, evaluationPeriods, datapointsToAlarm, alarmDescription,
  comparisonOperator: cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
  treatMissingData: cw.TreatMissingData.NOT_BREACHING,
});

/**
 * Alarms and a dashboard for an MSK cluster, from the `AWS/Kafka` metrics its type publishes (all at
 * the free DEFAULT level). Data unavailable, writes refused or a disk about to fill page on their own;
 * sustained under-replication and Express produce throttling are causes, consumer lag is a symptom,
 * and those page only through one composite alarm, as PipelineMonitor's do (README, "Alarms and paging").
 */
export class KafkaMonitor extends Construct {
  /** Every alarm (not the composite), in the order created; `addConsumerLag` adds to it. */
  public readonly alarms: cw.IAlarm[] = [];
  /**
   * Every alarm by name: `NoActiveController`, `UnderMinIsr`, and for Provisioned `OfflinePartitions`,
   * `UnderReplicated`, `DiskUsed`, for Express `ProduceThrottled` (per-broker names get a `Brokers<a>To<b>`
   * suffix beyond 10 brokers), plus `<group>/<topic>/MaxOffsetLag` and `<group>/<topic>/<time lag metric>`.
   */
  public readonly alarmsByName: { [name: string]: cw.Alarm } = {};
  /** The dashboard. */
  public readonly dashboard: cw.Dashboard;
  /** The topic alarms publish to, when no `alarmAction` was given. */
  public readonly alarmTopic?: sns.Topic;
  private readonly router: AlarmRouter;
  private readonly clusterName: string;
  private readonly clusterType: KafkaClusterType;
  private readonly brokerIds: number[];
  private readonly lagPairs = new Set<string>();

  constructor(scope: Construct, id: string, props: KafkaMonitorProps) {
    super(scope, id);
    this.clusterName = props.clusterName;
    this.clusterType = props.clusterType;
    this.brokerIds = this.validateBrokers(props);
    this.router = new AlarmRouter(this, {
      alarmAction: props.alarmAction,
      encryptionKey: props.encryptionKey,
      compositeDescription: `MSK cluster ${props.clusterName}: a cause (sustained under-replicated partitions, produce throttling) coincides with `
        + 'a consumer-lag symptom. Offline partitions, no active controller, partitions under min ISR and full disks page through their own alarms.',
    });
    this.alarmTopic = this.router.alarmTopic;
    this.dashboard = new cw.Dashboard(this, 'Dashboard', { defaultInterval: Duration.hours(6) });
    if (props.clusterType !== KafkaClusterType.SERVERLESS) this.watchBrokers();
    this.router.ensureStatusWidget(this.dashboard);
  }

  /** Fires when a cause coincides with a symptom (or either, when only one kind is watched); undefined until an alarm feeds it. */
  public get composite(): cw.CompositeAlarm | undefined {
    return this.router.composite;
  }

  /**
   * Alarms on consumer group `groupId`'s lag on `topicName` (symptoms, 3 of 5 minutes): `MaxOffsetLag`
   * (the largest partition lag, in records) and the estimated time lag in seconds (`EstimatedMaxTimeLag`;
   * `MaxEstimatedTimeLag` on Serverless), with dimensions `Cluster Name`, `Consumer Group` and `Topic`.
   * MSK publishes them only while the group is STABLE or EMPTY.
   */
  public addConsumerLag(groupId: string, topicName: string, options: ConsumerLagOptions = {}): void {
    // MSK drops the lag metrics of a group whose name has a colon or non-ASCII characters: the alarms would never fire.
    if (!Token.isUnresolved(groupId) && (groupId.length === 0 || /[:]|[^\x20-\x7e]/.test(groupId))) {
      throw propError(this, 'groupId', `('${groupId}') must be non-empty printable ASCII without ':'; MSK publishes no lag metrics for such a consumer group`);
    }
    const pair = `${groupId}/${topicName}`;
    if (this.lagPairs.has(pair)) throw propError(this, 'groupId', `('${groupId}') already has lag alarms on topic '${topicName}'`);
    this.lagPairs.add(pair);
    const maxOffsetLag = options.maxOffsetLag ?? 100_000;
    const maxTimeLag = options.maxTimeLagSeconds ?? 900;
    if (!(maxOffsetLag > 0)) throw propError(this, 'maxOffsetLag', `(${maxOffsetLag}) must be above 0`);
    if (!(maxTimeLag > 0)) throw propError(this, 'maxTimeLagSeconds', `(${maxTimeLag}) must be above 0`);
    const dims = { [CLUSTER]: this.clusterName, 'Consumer Group': groupId, 'Topic': topicName };
    // AWS's Serverless metrics table names the time lag MaxEstimatedTimeLag; Provisioned and Express publish EstimatedMaxTimeLag.
    const timeMetric = this.clusterType === KafkaClusterType.SERVERLESS ? 'MaxEstimatedTimeLag' : 'EstimatedMaxTimeLag';
    const offsets = this.metric('MaxOffsetLag', dims, cw.Stats.MAXIMUM, ONE_MINUTE);
    const seconds = this.metric(timeMetric, dims, cw.Stats.MAXIMUM, ONE_MINUTE);
    // Missing data is no breach: MSK publishes lag only while the group is STABLE or EMPTY (not while it rebalances).
    // Ids from the names keep each pair's alarms in place when pairs are added or removed (a token gets a counter).
    const id = Token.isUnresolved(pair) ? `Lag${this.lagPairs.size}` : `Lag.${pair.replace(/\//g, '.')}`;
    this.alarm(`${pair}/MaxOffsetLag`, `${id}.MaxOffsetLag`, offsets, 'symptom', above(maxOffsetLag, 5, 3,
      `Consumer group '${groupId}' is more than ${maxOffsetLag} records behind on a partition of '${topicName}' in 3 of 5 minutes.`));
    this.alarm(`${pair}/${timeMetric}`, `${id}.${timeMetric}`, seconds, 'symptom', above(maxTimeLag, 5, 3,
      `Consumer group '${groupId}' is an estimated ${maxTimeLag} s or more behind on '${topicName}' in 3 of 5 minutes.`));
    this.dashboard.addWidgets(new cw.GraphWidget({
      title: `${groupId} on ${topicName}: max offset lag (records) and estimated time lag (s)`, width: 24,
      left: [offsets], right: [seconds],
      leftAnnotations: [{ value: maxOffsetLag, label: 'offset lag alarm', color: cw.Color.RED }],
      rightAnnotations: [{ value: maxTimeLag, label: 'time lag alarm', color: cw.Color.ORANGE }],
    }));
    this.router.ensureStatusWidget(this.dashboard);
  }

  /** Broker ids 1..brokerCount for Provisioned and Express (required there, whole, at least 1); none for Serverless. */
  private validateBrokers(props: KafkaMonitorProps): number[] {
    if (props.clusterType === KafkaClusterType.SERVERLESS) return [];
    const n = props.brokerCount;
    if (n === undefined || !Number.isInteger(n) || n < 1) {
      throw propError(this, 'brokerCount', `(${n}) must be a whole number of at least 1 for a ${props.clusterType} cluster: `
        + 'the per-broker alarms read the metrics of Broker IDs 1..brokerCount');
    }
    return Array.from({ length: n }, (_, i) => i + 1);
  }

  /** The cluster-level and per-broker alarms and graphs of Provisioned and Express clusters. */
  private watchBrokers(): void {
    const standard = this.clusterType === KafkaClusterType.PROVISIONED;
    const cluster = { [CLUSTER]: this.clusterName };
    // Every controller publishes ActiveControllerCount under the one `Cluster Name` dimension: 1 on the active one,
    // 0 on standbys, so Maximum is 1 exactly when some controller leads (AWS's recommended alarm: Maximum < 1).
    const active = this.metric('ActiveControllerCount', cluster, cw.Stats.MAXIMUM, ONE_MINUTE);
    this.alarm('NoActiveController', 'NoActiveController', active, 'pages', {
      threshold: 1, evaluationPeriods: 5, datapointsToAlarm: 5,
      comparisonOperator: cw.ComparisonOperator.LESS_THAN_THRESHOLD,
      // Published from ACTIVE on: 5 minutes without it means no controller reports at all, which is the same outage.
      treatMissingData: cw.TreatMissingData.BREACHING,
      alarmDescription: 'No KRaft controller has been active for 5 minutes: no leader elections or metadata changes; partitions that lose their leader stay offline.',
    });
    const widgets: cw.IWidget[] = [new cw.GraphWidget({
      title: 'Active controller (Maximum; Sum counts every controller reporting active)', width: 12,
      left: [active, this.metric('ActiveControllerCount', cluster, cw.Stats.SUM, ONE_MINUTE)],
      leftAnnotations: [{ value: 1, label: 'one active controller', color: cw.Color.GREEN }],
    })];
    if (standard) {
      // A controller metric: Maximum over the controllers is the active one's count. Missing data: no controller, paged above.
      const offline = this.metric('OfflinePartitionsCount', cluster, cw.Stats.MAXIMUM, ONE_MINUTE);
      this.alarm('OfflinePartitions', 'OfflinePartitions', offline, 'pages', above(0, 3, 2,
        'Partitions have no leader in 2 of 3 minutes: they can be neither written nor read until a replica of their ISR returns.'));
      widgets.push(new cw.GraphWidget({ title: 'Offline partitions', width: 12, left: [offline] }));
    }
    // Each broker counts the partitions it leads, so the cluster's count is the sum over brokers; a stopped broker
    // publishes nothing and its partitions' new leaders count them.
    widgets.push(this.perBrokerAlarm('UnderMinIsr', 'UnderMinIsrPartitionCount', 'SUM', ONE_MINUTE, 'pages', above(0, 3, 2,
      'Partitions are under min.insync.replicas in 2 of 3 minutes: producers with acks=all get NotEnoughReplicas; their writes are refused.')));
    if (standard) {
      widgets.push(this.perBrokerAlarm('UnderReplicated', 'UnderReplicatedPartitions', 'SUM', FIVE_MINUTES, 'cause', above(0, 3, 3,
        'Partitions have been under-replicated for 15 minutes (longer than a rolling patch): one more broker loss puts them under min ISR.')));
      widgets.push(this.perBrokerAlarm('DiskUsed', 'KafkaDataLogsDiskUsed', 'MAX', FIVE_MINUTES, 'pages', above(85, 3, 2,
        'A broker\'s data-log disk is over 85% full in 2 of 3 periods; a broker whose disk fills stops. Storage autoscaling acts at most every 6 hours, up to its maximum.')));
    } else {
      // Express: AWS manages replication and storage (no URP, offline-partition or disk metrics); its capacity limit shows as throttling.
      widgets.push(this.perBrokerAlarm('ProduceThrottled', 'ProduceThrottleTime', 'SUM', ONE_MINUTE, 'cause', above(0, 5, 3,
        'Express brokers throttled producers in 3 of 5 minutes: the cluster is at its per-broker throughput limit.')));
    }
    this.dashboard.addWidgets(...widgets);
  }

  /**
   * An alarm on `metricName` of every broker, combined by `fn` (SUM or MAX) in one math expression per 10 brokers
   * (CloudWatch's limit per alarm), and a graph of each broker's metric with the threshold.
   */
  private perBrokerAlarm(name: string, metricName: string, fn: 'SUM' | 'MAX', period: Duration, paging: Paging, rule: Rule): cw.IWidget {
    const perBroker = this.brokerIds.map((id) => this.metric(metricName, { [CLUSTER]: this.clusterName, [BROKER]: String(id) }, cw.Stats.MAXIMUM, period, `broker ${id}`));
    for (let start = 0; start < perBroker.length; start += METRICS_PER_ALARM) {
      const chunk = perBroker.slice(start, start + METRICS_PER_ALARM);
      const usingMetrics = Object.fromEntries(chunk.map((m, i) => [`b${start + i + 1}`, m]));
      // FILL: a stopped broker publishes nothing, and its gap must not blank the others' values.
      const expression = new cw.MathExpression({
        expression: `${fn}(FILL([${Object.keys(usingMetrics).join(', ')}], 0))`, usingMetrics, period,
        label: `${metricName} (${fn} over brokers)`,
      });
      const suffix = perBroker.length > METRICS_PER_ALARM ? `Brokers${start + 1}To${start + chunk.length}` : '';
      this.alarm(`${name}${suffix}`, `${name}${suffix}`, expression, paging, rule);
    }
    return new cw.GraphWidget({
      title: `${metricName}, per broker`, width: 12, left: perBroker,
      leftAnnotations: [{ value: rule.threshold, label: 'alarm', color: cw.Color.RED }],
    });
  }

  private metric(metricName: string, dimensionsMap: { [name: string]: string }, statistic: string, period: Duration, label?: string): cw.Metric {
    return new cw.Metric({ namespace: NAMESPACE, metricName, dimensionsMap, statistic, period, label });
  }

  private alarm(name: string, id: string, metric: cw.IMetric, paging: Paging, rule: Rule): cw.Alarm {
    const alarm = new cw.Alarm(this, id, { metric, ...rule });
    this.alarms.push(alarm);
    this.alarmsByName[name] = alarm;
    this.router.route(alarm, paging);
    return alarm;
  }
}
