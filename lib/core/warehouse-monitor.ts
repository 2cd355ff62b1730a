import { Duration, Token } from 'aws-cdk-lib';
import * as cw from 'aws-cdk-lib/aws-cloudwatch';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { AlarmRouter, type Paging } from './alarm-router';
import { propError } from './errors';

/** Properties of a {@link WarehouseMonitor}. */
export interface WarehouseMonitorProps {
  /** The workgroup name: the `Workgroup` dimension of the `AWS/Redshift-Serverless` compute metrics. */
  readonly workgroupName: string;
  /**
   * The workgroup's maximum capacity in RPUs: with it, `ComputeAtMaxCapacity` alarms when the workgroup
   * runs at it (queries then wait instead of scaling).
   * @default - no capacity alarm (the workgroup scales without a configured maximum)
   */
  readonly maxCapacity?: number;
  /** Queued queries (summed over query types) above which `QueriesQueued` alarms, in 3 of 3 five-minute periods. @default 10 */
  readonly maxQueuedQueries?: number;
  /** Failed queries of any type per five minutes above which `QueriesFailed` alarms, in 2 of 3 periods. @default 5 */
  readonly maxFailedQueries?: number;
  /** Action of the alarms that page and of the composite alarm (see the README's paging table). @default - an encrypted SNS topic is created (`alarmTopic`) */
  readonly alarmAction?: cw.IAlarmAction;
  /** Key encrypting the created alarm topic; required when `alarmAction` is not given. @default - none */
  readonly encryptionKey?: kms.IKey;
}

/** Options of {@link WarehouseMonitor.addIntegration}. */
export interface IntegrationAlarmOptions {
  /** Seconds of `IntegrationLag` above which the lag alarm fires, in 3 of 3 five-minute periods. @default 900 */
  readonly maxLagSeconds?: number;
}

const SERVERLESS = 'AWS/Redshift-Serverless';
/** Zero-ETL integration metrics are Amazon Redshift's (Management Guide, "Metrics for zero-ETL integrations"), under `IntegrationId`. */
const REDSHIFT = 'AWS/Redshift';
/**
 * `QueriesFailed`, `QueriesQueued` and their kin are published only per `QueryType` (dimension sets
 * {QueryType, Workgroup} and {Database, QueryType, Workgroup}): no series carries the Workgroup alone, so
 * a workgroup-wide alarm adds up the eight types (Management Guide, "Audit logging for Amazon Redshift
 * Serverless", CloudWatch metrics).
 */
const QUERY_TYPES = ['INSERT', 'DELETE', 'UPDATE', 'UNLOAD', 'LOAD', 'SELECT', 'CTAS', 'OTHER'];
const FIVE_MINUTES = Duration.minutes(5);
/** ComputeCapacity is the average over the past 30 minutes (a finer period only repeats it). */
const HALF_HOUR = Duration.minutes(30);

interface Rule {
  readonly threshold: number;
  readonly evaluationPeriods: number;
  readonly datapointsToAlarm: number;
  readonly comparisonOperator: cw.ComparisonOperator;
  readonly alarmDescription: string;
}

const above = (threshold: number, evaluationPeriods: number, datapointsToAlarm: number, alarmDescription: string): Rule => ({
  threshold, evaluationPeriods, datapointsToAlarm, alarmDescription, comparisonOperator: cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
});

/**
 * Alarms and a dashboard for a Redshift Serverless workgroup (`AWS/Redshift-Serverless`) and the zero-ETL
 * integrations into it (`AWS/Redshift`, `IntegrationId`). Failed loads and tables that stopped replicating
 * page on their own (data is missing); failed queries and capacity at its maximum are causes, queued queries
 * and integration lag are symptoms, paging through one composite alarm (README, "Alarms and paging").
 * Failures only SQL sees (a COPY JOB's rejected file, a streaming record that failed to parse) are in system
 * views, listed in the README.
 */
export class WarehouseMonitor extends Construct {
  /** Every alarm (not the composite), in the order created. */
  public readonly alarms: cw.IAlarm[] = [];
  /**
   * Every alarm by name: `LoadsFailed`, `QueriesFailed`, `QueriesQueued`, `ComputeAtMaxCapacity` (with
   * `maxCapacity`), `<name>/IntegrationLag` and `<name>/TablesFailed` per integration, `UsageLimitNearlyUsed`.
   */
  public readonly alarmsByName: { [name: string]: cw.Alarm } = {};
  /** The dashboard. */
  public readonly dashboard: cw.Dashboard;
  /** The topic alarms publish to, when no `alarmAction` was given. */
  public readonly alarmTopic?: sns.Topic;
  private readonly router: AlarmRouter;
  private readonly workgroupName: string;
  private readonly integrationNames = new Set<string>();

  constructor(scope: Construct, id: string, props: WarehouseMonitorProps) {
    super(scope, id);
    this.workgroupName = props.workgroupName;
    const maxQueued = positive(this, 'maxQueuedQueries', props.maxQueuedQueries ?? 10);
    const maxFailed = positive(this, 'maxFailedQueries', props.maxFailedQueries ?? 5);
    this.router = new AlarmRouter(this, {
      alarmAction: props.alarmAction,
      encryptionKey: props.encryptionKey,
      compositeDescription: `Redshift Serverless workgroup ${props.workgroupName}: a cause (failed queries, compute at its maximum) coincides with a symptom `
        + '(queued queries, zero-ETL lag). Failed loads and tables failing replication page through their own alarms.',
    });
    this.alarmTopic = this.router.alarmTopic;
    this.dashboard = new cw.Dashboard(this, 'Dashboard', { defaultInterval: Duration.hours(6) });
    this.watchQueries(maxQueued, maxFailed);
    this.watchCapacity(props.maxCapacity);
    this.router.ensureStatusWidget(this.dashboard);
  }

  /** Fires when a cause coincides with a symptom (or either, when only one kind is watched); undefined until an alarm feeds it. */
  public get composite(): cw.CompositeAlarm | undefined {
    return this.router.composite;
  }

  /**
   * Alarms on zero-ETL integration `integrationId` (the `IntegrationId` dimension: the integration's id,
   * e.g. the last part of `AWS::RDS::Integration`'s ARN), named `name` in alarm names:
   * `<name>/TablesFailed` (`IntegrationNumTablesFailedReplication` above 0 in 2 of 3 five-minute periods;
   * pages: those tables' data stops arriving) and `<name>/IntegrationLag` (a symptom).
   */
  public addIntegration(integrationId: string, name: string, options: IntegrationAlarmOptions = {}): void {
    if (!/^[A-Za-z0-9][A-Za-z0-9-]*$/.test(name)) {
      throw propError(this, 'name', `('${name}') must be letters, digits and hyphens, starting with a letter or digit: it names the integration's alarms`);
    }
    if (this.integrationNames.has(name)) throw propError(this, 'name', `('${name}') already names an integration of this monitor`);
    this.integrationNames.add(name);
    const maxLag = positive(this, 'maxLagSeconds', options.maxLagSeconds ?? 900);
    const dims = { IntegrationId: integrationId };
    const lag = new cw.Metric({ namespace: REDSHIFT, metricName: 'IntegrationLag', dimensionsMap: dims, statistic: cw.Stats.MAXIMUM, period: FIVE_MINUTES });
    const failed = new cw.Metric({ namespace: REDSHIFT, metricName: 'IntegrationNumTablesFailedReplication', dimensionsMap: dims, statistic: cw.Stats.MAXIMUM, period: FIVE_MINUTES });
    this.alarm(`${name}/TablesFailed`, `${name}.TablesFailed`, failed, 'pages', above(0, 3, 2,
      `Zero-ETL integration ${name}: tables failed replication in 2 of 3 five-minute periods; their data no longer arrives. `
      + 'SVV_INTEGRATION_TABLE_STATE says which; fix the cause and refresh them (ALTER DATABASE ... INTEGRATION REFRESH).'));
    this.alarm(`${name}/IntegrationLag`, `${name}.IntegrationLag`, lag, 'symptom', above(maxLag, 3, 3,
      `Zero-ETL integration ${name}: data committed at the source has taken over ${maxLag} s to become queryable for 15 minutes.`));
    this.dashboard.addWidgets(new cw.GraphWidget({
      title: `Zero-ETL ${name}: lag (s) and tables failing replication`, width: 24, left: [lag], right: [failed],
      leftAnnotations: [{ value: maxLag, label: 'lag alarm', color: cw.Color.ORANGE }],
    }));
    this.router.ensureStatusWidget(this.dashboard);
  }

  /**
   * Graphs usage limit `usageLimitId`'s remaining RPU-hours (`UsageLimitAvailable`) and, when it
   * `deactivates` (breach action DEACTIVATE: user queries, loads included, stop at the limit), pages with
   * `UsageLimitNearlyUsed` once less than 10% of `rpuHours` remain. A LOG or EMIT_METRIC limit informs
   * through its own breach action and stops nothing, so it gets no alarm.
   */
  public addUsageLimit(usageLimitId: string, rpuHours: number, deactivates: boolean): void {
    const available = new cw.Metric({
      namespace: SERVERLESS, metricName: 'UsageLimitAvailable', statistic: cw.Stats.MINIMUM, period: HALF_HOUR,
      dimensionsMap: { UsageLimitId: usageLimitId, UsageType: 'SERVERLESS_COMPUTE', Workgroup: this.workgroupName },
    });
    const threshold = rpuHours / 10;
    if (deactivates) {
      this.alarm('UsageLimitNearlyUsed', 'UsageLimitNearlyUsed', available, 'pages', {
        threshold, evaluationPeriods: 2, datapointsToAlarm: 1, comparisonOperator: cw.ComparisonOperator.LESS_THAN_THRESHOLD,
        alarmDescription: `Under ${threshold} of the usage limit's ${rpuHours} RPU-hours remain this period; at the limit user queries, `
          + 'loads included, are turned off until the period ends.',
      });
    }
    this.dashboard.addWidgets(new cw.GraphWidget({
      title: 'Usage limit: RPU-hours left this period', width: 12, left: [available],
      leftAnnotations: deactivates ? [{ value: threshold, label: 'alarm', color: cw.Color.RED }] : undefined,
    }));
    this.router.ensureStatusWidget(this.dashboard);
  }

  /** Failed loads (COPY, QueryType LOAD: pages), failed queries of any type (cause) and queued queries (symptom). */
  private watchQueries(maxQueued: number, maxFailed: number): void {
    const loads = this.metric('QueriesFailed', { QueryType: 'LOAD' }, cw.Stats.MAXIMUM, FIVE_MINUTES);
    this.alarm('LoadsFailed', 'LoadsFailed', loads, 'pages', above(0, 3, 1,
      'COPY statements failed in the last 15 minutes: the files they were loading are not in the table. '
      + 'SYS_LOAD_ERROR_DETAIL says why and SYS_COPY_JOB_DETAIL which files; fix the cause and load those files again.'));
    const failed = this.sumOverQueryTypes('QueriesFailed', 'failed queries, all types');
    this.alarm('QueriesFailed', 'QueriesFailed', failed, 'cause', above(maxFailed, 3, 2,
      `More than ${maxFailed} queries failed per five minutes in 2 of 3 periods (streaming-ingestion refreshes and the SQL runner's statements count too).`));
    const queued = this.sumOverQueryTypes('QueriesQueued', 'queued queries, all types');
    this.alarm('QueriesQueued', 'QueriesQueued', queued, 'symptom', above(maxQueued, 3, 3,
      `More than ${maxQueued} queries have waited in the queue for 15 minutes.`));
    this.dashboard.addWidgets(
      new cw.GraphWidget({ title: 'Failed queries (all types) and failed loads', width: 12, left: [failed, loads] }),
      new cw.GraphWidget({ title: 'Queued queries (all types)', width: 12, left: [queued], leftAnnotations: [{ value: maxQueued, label: 'alarm', color: cw.Color.ORANGE }] }),
    );
  }

  /** Compute capacity (RPUs) and, with a maximum, the alarm at it. */
  private watchCapacity(maxCapacity: number | undefined): void {
    const capacity = this.metric('ComputeCapacity', {}, cw.Stats.MAXIMUM, HALF_HOUR);
    const seconds = this.metric('ComputeSeconds', {}, cw.Stats.SUM, HALF_HOUR);
    if (maxCapacity !== undefined && !Token.isUnresolved(maxCapacity)) {
      this.alarm('ComputeAtMaxCapacity', 'ComputeAtMaxCapacity', capacity, 'cause', {
        threshold: maxCapacity, evaluationPeriods: 2, datapointsToAlarm: 2, comparisonOperator: cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        alarmDescription: `The workgroup has averaged its maximum capacity (${maxCapacity} RPUs) for an hour: queries wait instead of scaling.`,
      });
    }
    this.dashboard.addWidgets(new cw.GraphWidget({
      title: 'Compute capacity (RPUs, 30-minute average) and RPU-seconds', width: 24, left: [capacity], right: [seconds],
      leftAnnotations: maxCapacity !== undefined ? [{ value: maxCapacity, label: 'max capacity', color: cw.Color.RED }] : undefined,
    }));
  }

  /** `metricName`'s Maximum per query type, added up: FILL keeps a type with no queries from blanking the sum. */
  private sumOverQueryTypes(metricName: string, label: string): cw.MathExpression {
    const usingMetrics = Object.fromEntries(QUERY_TYPES.map((t) => [t.toLowerCase(), this.metric(metricName, { QueryType: t }, cw.Stats.MAXIMUM, FIVE_MINUTES)]));
    return new cw.MathExpression({ expression: `SUM(FILL([${Object.keys(usingMetrics).join(', ')}], 0))`, usingMetrics, period: FIVE_MINUTES, label });
  }

  private metric(metricName: string, dims: { [name: string]: string }, statistic: string, period: Duration): cw.Metric {
    return new cw.Metric({ namespace: SERVERLESS, metricName, dimensionsMap: { ...dims, Workgroup: this.workgroupName }, statistic, period });
  }

  /** An alarm; missing data is no breach (Serverless publishes query metrics only while queries run). */
  private alarm(name: string, id: string, metric: cw.IMetric, paging: Paging, rule: Rule): cw.Alarm {
    const alarm = new cw.Alarm(this, id, { metric, ...rule, treatMissingData: cw.TreatMissingData.NOT_BREACHING });
    this.alarms.push(alarm);
    this.alarmsByName[name] = alarm;
    this.router.route(alarm, paging);
    return alarm;
  }
}

function positive(scope: Construct, prop: string, value: number): number {
  if (!(value > 0)) throw propError(scope, prop, `(${value}) must be above 0`);
  return value;
}
