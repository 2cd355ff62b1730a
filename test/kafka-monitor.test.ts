import { type CfnElement, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { KafkaClusterType, KafkaMonitor, type KafkaMonitorProps } from '../lib';
import { expectAlarmTopicsAllowCloudWatch } from './support/alarm-topics';
import { expectNagClean, newApp } from './support/nag';

const key = (s: Stack): kms.Key => new kms.Key(s, 'Key', { enableKeyRotation: true });

/** A monitor of cluster 'orders' (3 brokers unless Serverless), with lag alarms of group 'orders-app' on 'orders' and 'refunds'. */
function build(s: Stack, clusterType: KafkaClusterType, extra: Partial<KafkaMonitorProps> = {}): KafkaMonitor {
  const monitor = new KafkaMonitor(s, 'Monitor', {
    clusterName: 'orders', clusterType, brokerCount: clusterType === KafkaClusterType.SERVERLESS ? undefined : 3,
    encryptionKey: key(s), ...extra,
  });
  monitor.addConsumerLag('orders-app', 'orders');
  monitor.addConsumerLag('orders-app', 'refunds', { maxOffsetLag: 5000, maxTimeLagSeconds: 60 });
  return monitor;
}

interface Built { t: Template; stack: Stack; monitor: KafkaMonitor }
function synthMonitor(clusterType: KafkaClusterType, extra: Partial<KafkaMonitorProps> = {}): Built {
  const stack = new Stack(newApp(), 'KafkaMonitorStack');
  const monitor = build(stack, clusterType, extra);
  return { t: Template.fromStack(stack), stack, monitor };
}

/** The synthesized properties of the alarm named `name`. */
function props(b: Built, name: string): any {
  const alarm = b.monitor.alarmsByName[name];
  if (!alarm) throw new Error(`no alarm ${name}; have ${Object.keys(b.monitor.alarmsByName).join(', ')}`);
  return b.t.toJSON().Resources[b.stack.getLogicalId(alarm.node.defaultChild as CfnElement)].Properties;
}

const TOPIC = { Ref: expect.stringMatching(/^MonitorAlarmTopic/) };
const CLUSTER_DIM = [{ Name: 'Cluster Name', Value: 'orders' }];
const pages = { AlarmActions: [TOPIC] };

/** The MetricStat entries of a math alarm, and its expression. */
function math(p: any): { expression: string; stats: any[] } {
  const expr = p.Metrics.filter((m: any) => m.Expression);
  expect(expr).toHaveLength(1);
  expect(expr[0].ReturnData).not.toBe(false);
  const stats = p.Metrics.filter((m: any) => m.MetricStat);
  for (const m of stats) expect(m.ReturnData).toBe(false);
  return { expression: expr[0].Expression, stats: stats.map((m: any) => m.MetricStat) };
}

/** One MetricStat per broker 1..n, of `metricName`, Maximum over `period`. */
const brokerStats = (metricName: string, n: number, period: number, from = 1): any[] => Array.from({ length: n }, (_, i) => ({
  Metric: { Namespace: 'AWS/Kafka', MetricName: metricName, Dimensions: [{ Name: 'Broker ID', Value: String(from + i) }, ...CLUSTER_DIM] },
  Period: period, Stat: 'Maximum',
}));

const sortDims = (stats: any[]): any[] => stats.map((s) => ({
  ...s, Metric: { ...s.Metric, Dimensions: [...s.Metric.Dimensions].sort((a: any, b: any) => a.Name.localeCompare(b.Name)) },
}));

describe('Provisioned (Standard brokers)', () => {
  const b = synthMonitor(KafkaClusterType.PROVISIONED);

  test('has exactly these alarms', () => {
    expect(Object.keys(b.monitor.alarmsByName).sort()).toEqual([
      'DiskUsed', 'NoActiveController', 'OfflinePartitions', 'UnderMinIsr', 'UnderReplicated',
      'orders-app/orders/EstimatedMaxTimeLag', 'orders-app/orders/MaxOffsetLag',
      'orders-app/refunds/EstimatedMaxTimeLag', 'orders-app/refunds/MaxOffsetLag',
    ]);
    expect(b.monitor.alarms).toHaveLength(9);
  });

  test('no active controller: Maximum of ActiveControllerCount < 1 for 5 of 5 minutes, missing data breaching; pages', () => {
    expect(props(b, 'NoActiveController')).toMatchObject({
      Namespace: 'AWS/Kafka', MetricName: 'ActiveControllerCount', Dimensions: CLUSTER_DIM, Statistic: 'Maximum', Period: 60,
      ComparisonOperator: 'LessThanThreshold', Threshold: 1, EvaluationPeriods: 5, DatapointsToAlarm: 5, TreatMissingData: 'breaching', ...pages,
    });
  });

  test('offline partitions: Maximum of OfflinePartitionsCount > 0 in 2 of 3 minutes (cluster dimension only); pages', () => {
    expect(props(b, 'OfflinePartitions')).toMatchObject({
      Namespace: 'AWS/Kafka', MetricName: 'OfflinePartitionsCount', Dimensions: CLUSTER_DIM, Statistic: 'Maximum', Period: 60,
      ComparisonOperator: 'GreaterThanThreshold', Threshold: 0, EvaluationPeriods: 3, DatapointsToAlarm: 2, TreatMissingData: 'notBreaching', ...pages,
    });
  });

  test('under min ISR: SUM over Broker IDs 1..3 of UnderMinIsrPartitionCount > 0 in 2 of 3 minutes; pages', () => {
    const p = props(b, 'UnderMinIsr');
    expect(p).toMatchObject({ ComparisonOperator: 'GreaterThanThreshold', Threshold: 0, EvaluationPeriods: 3, DatapointsToAlarm: 2, TreatMissingData: 'notBreaching', ...pages });
    const { expression, stats } = math(p);
    expect(expression).toBe('SUM(FILL([b1, b2, b3], 0))');
    expect(sortDims(stats)).toEqual(sortDims(brokerStats('UnderMinIsrPartitionCount', 3, 60)));
  });

  test('under-replicated: SUM over brokers of UnderReplicatedPartitions > 0 for 3 of 3 five-minute periods (15 min); a cause, no action', () => {
    const p = props(b, 'UnderReplicated');
    expect(p).toMatchObject({ ComparisonOperator: 'GreaterThanThreshold', Threshold: 0, EvaluationPeriods: 3, DatapointsToAlarm: 3, TreatMissingData: 'notBreaching' });
    expect(p.AlarmActions).toBeUndefined();
    const { expression, stats } = math(p);
    expect(expression).toBe('SUM(FILL([b1, b2, b3], 0))');
    expect(sortDims(stats)).toEqual(sortDims(brokerStats('UnderReplicatedPartitions', 3, 300)));
  });

  test('disk used: MAX over brokers of KafkaDataLogsDiskUsed > 85 in 2 of 3 five-minute periods; pages', () => {
    const p = props(b, 'DiskUsed');
    expect(p).toMatchObject({ ComparisonOperator: 'GreaterThanThreshold', Threshold: 85, EvaluationPeriods: 3, DatapointsToAlarm: 2, ...pages });
    const { expression, stats } = math(p);
    expect(expression).toBe('MAX(FILL([b1, b2, b3], 0))');
    expect(sortDims(stats)).toEqual(sortDims(brokerStats('KafkaDataLogsDiskUsed', 3, 300)));
  });

  test('consumer lag: MaxOffsetLag and EstimatedMaxTimeLag per Cluster Name + Consumer Group + Topic, 3 of 5 minutes; symptoms, no action', () => {
    const dims = (topic: string): any[] => expect.arrayContaining([...CLUSTER_DIM, { Name: 'Consumer Group', Value: 'orders-app' }, { Name: 'Topic', Value: topic }]);
    const cases: [string, string, number][] = [
      ['orders-app/orders/MaxOffsetLag', 'MaxOffsetLag', 100_000], ['orders-app/orders/EstimatedMaxTimeLag', 'EstimatedMaxTimeLag', 900],
      ['orders-app/refunds/MaxOffsetLag', 'MaxOffsetLag', 5000], ['orders-app/refunds/EstimatedMaxTimeLag', 'EstimatedMaxTimeLag', 60],
    ];
    for (const [name, metricName, threshold] of cases) {
      const p = props(b, name);
      expect(p).toMatchObject({
        Namespace: 'AWS/Kafka', MetricName: metricName, Statistic: 'Maximum', Period: 60, Threshold: threshold,
        ComparisonOperator: 'GreaterThanThreshold', EvaluationPeriods: 5, DatapointsToAlarm: 3, TreatMissingData: 'notBreaching',
      });
      expect(p.Dimensions).toHaveLength(3);
      expect(p.Dimensions).toEqual(dims(name.split('/')[1]));
      expect(p.AlarmActions).toBeUndefined();
    }
  });

  test('the composite pages when under-replication coincides with consumer lag', () => {
    const composite = b.t.toJSON().Resources[b.stack.getLogicalId(b.monitor.composite!.node.defaultChild as CfnElement)].Properties;
    expect(composite.AlarmActions).toEqual([TOPIC]);
    const rule = (composite.AlarmRule['Fn::Join'][1] as any[]).map((p) => (typeof p === 'string' ? p : `<${p['Fn::GetAtt'][0]}>`)).join('');
    const id = (name: string): string => `<${b.stack.getLogicalId(b.monitor.alarmsByName[name].node.defaultChild as CfnElement)}>`;
    const [causes, symptoms] = rule.split(' AND ');
    expect(causes).toContain(id('UnderReplicated'));
    for (const n of ['orders-app/orders/MaxOffsetLag', 'orders-app/orders/EstimatedMaxTimeLag', 'orders-app/refunds/MaxOffsetLag']) expect(symptoms).toContain(id(n));
    for (const n of ['NoActiveController', 'OfflinePartitions', 'UnderMinIsr', 'DiskUsed']) expect(rule).not.toContain(id(n));
  });

  test('the dashboard graphs every alarmed metric per broker and lists the alarms', () => {
    const body = JSON.stringify(b.t.toJSON().Resources[b.stack.getLogicalId(b.monitor.dashboard.node.defaultChild as CfnElement)].Properties.DashboardBody);
    for (const m of ['ActiveControllerCount', 'OfflinePartitionsCount', 'UnderMinIsrPartitionCount', 'UnderReplicatedPartitions', 'KafkaDataLogsDiskUsed', 'MaxOffsetLag', 'EstimatedMaxTimeLag']) {
      expect(body).toContain(`\\"${m}\\"`);
    }
    for (const id of ['1', '2', '3']) expect(body).toContain(`\\"Broker ID\\",\\"${id}\\"`);
    expect(body).toContain('\\"type\\":\\"alarm\\"');
    expect(body).toContain('\\"value\\":85');
  });

  test('the created alarm topic lets CloudWatch publish (and use its key)', () => {
    expect(expectAlarmTopicsAllowCloudWatch(b.t)).toHaveLength(1);
  });
});

/** The Provisioned monitor's template, to compare the alarms every type shares. */
const provisioned = synthMonitor(KafkaClusterType.PROVISIONED);
const LAG_ALARMS = ['orders-app/orders/MaxOffsetLag', 'orders-app/orders/EstimatedMaxTimeLag', 'orders-app/refunds/MaxOffsetLag', 'orders-app/refunds/EstimatedMaxTimeLag'];

describe('Express brokers', () => {
  const b = synthMonitor(KafkaClusterType.EXPRESS);

  test('the controller, under-min-ISR and lag alarms are exactly the Standard brokers\' ones', () => {
    for (const name of ['NoActiveController', 'UnderMinIsr', ...LAG_ALARMS]) expect(props(b, name)).toEqual(props(provisioned, name));
  });

  test('no alarm or graph on UnderReplicatedPartitions, OfflinePartitionsCount or KafkaDataLogsDiskUsed, which Express never publishes', () => {
    expect(Object.keys(b.monitor.alarmsByName).filter((n) => !n.startsWith('orders-app/')).sort()).toEqual(['NoActiveController', 'ProduceThrottled', 'UnderMinIsr']);
    const text = JSON.stringify(b.t.toJSON());
    for (const m of ['UnderReplicatedPartitions', 'OfflinePartitionsCount', 'KafkaDataLogsDiskUsed']) expect(text).not.toContain(m);
  });

  test('controller and under-min-ISR alarms as for Standard brokers; produce throttling is a cause', () => {
    expect(props(b, 'NoActiveController')).toMatchObject({ MetricName: 'ActiveControllerCount', ComparisonOperator: 'LessThanThreshold', Threshold: 1, ...pages });
    expect(math(props(b, 'UnderMinIsr')).expression).toBe('SUM(FILL([b1, b2, b3], 0))');
    const p = props(b, 'ProduceThrottled');
    expect(p).toMatchObject({ Threshold: 0, EvaluationPeriods: 5, DatapointsToAlarm: 3 });
    expect(p.AlarmActions).toBeUndefined();
    expect(sortDims(math(p).stats)).toEqual(sortDims(brokerStats('ProduceThrottleTime', 3, 60)));
  });
});

describe('Serverless', () => {
  const b = synthMonitor(KafkaClusterType.SERVERLESS);

  test('only consumer lag, with MaxEstimatedTimeLag (the Serverless name), and no broker metric at all', () => {
    expect(Object.keys(b.monitor.alarmsByName).sort()).toEqual([
      'orders-app/orders/MaxEstimatedTimeLag', 'orders-app/orders/MaxOffsetLag', 'orders-app/refunds/MaxEstimatedTimeLag', 'orders-app/refunds/MaxOffsetLag',
    ]);
    expect(props(b, 'orders-app/orders/MaxEstimatedTimeLag')).toMatchObject({ MetricName: 'MaxEstimatedTimeLag', Threshold: 900 });
    const text = JSON.stringify(b.t.toJSON());
    expect(text).not.toContain('Broker ID');
    expect(text).not.toContain('ActiveControllerCount');
  });

  test('the lag alarms are the Provisioned ones, but for the time-lag metric\'s name', () => {
    for (const name of LAG_ALARMS) {
      const serverlessName = name.replace('EstimatedMaxTimeLag', 'MaxEstimatedTimeLag');
      const expected = props(provisioned, name);
      expect(props(b, serverlessName)).toEqual({ ...expected, MetricName: expected.MetricName.replace('EstimatedMaxTimeLag', 'MaxEstimatedTimeLag') });
    }
  });

  test('the composite pages on any lag (no causes are watched)', () => {
    const composite = b.t.toJSON().Resources[b.stack.getLogicalId(b.monitor.composite!.node.defaultChild as CfnElement)].Properties;
    expect(composite.AlarmActions).toEqual([TOPIC]);
    expect(JSON.stringify(composite.AlarmRule)).not.toContain(' AND ');
  });
});

test('beyond 10 brokers, one math alarm per 10 brokers (CloudWatch reads at most 10 metrics per alarm)', () => {
  const stack = new Stack(newApp(), 'Big');
  const monitor = new KafkaMonitor(stack, 'Monitor', { clusterName: 'orders', clusterType: KafkaClusterType.PROVISIONED, brokerCount: 12, encryptionKey: key(stack) });
  const b = { t: Template.fromStack(stack), stack, monitor };
  expect(Object.keys(monitor.alarmsByName).filter((n) => n.startsWith('UnderMinIsr')).sort()).toEqual(['UnderMinIsrBrokers11To12', 'UnderMinIsrBrokers1To10']);
  const first = math(props(b, 'UnderMinIsrBrokers1To10'));
  expect(first.stats).toHaveLength(10);
  const second = math(props(b, 'UnderMinIsrBrokers11To12'));
  expect(second.expression).toBe('SUM(FILL([b11, b12], 0))');
  expect(sortDims(second.stats)).toEqual(sortDims(brokerStats('UnderMinIsrPartitionCount', 2, 60, 11)));
});

test('a user topic passed as the action gets the CloudWatch publish statement; no topic is created', () => {
  const stack = new Stack(newApp(), 'UserTopic');
  const topic = new sns.Topic(stack, 'Pager', { enforceSSL: true, masterKey: new kms.Key(stack, 'PagerKey', { enableKeyRotation: true }) });
  const monitor = build(stack, KafkaClusterType.PROVISIONED, { alarmAction: new cwActions.SnsAction(topic), encryptionKey: undefined });
  expect(monitor.alarmTopic).toBeUndefined();
  expect(expectAlarmTopicsAllowCloudWatch(Template.fromStack(stack))).toEqual([stack.getLogicalId(topic.node.defaultChild as CfnElement)]);
});

describe('validation names the prop', () => {
  const monitor = (extra: Partial<KafkaMonitorProps>): KafkaMonitor => {
    const s = new Stack(newApp(), 'V');
    return new KafkaMonitor(s, 'Monitor', { clusterName: 'c', clusterType: KafkaClusterType.PROVISIONED, brokerCount: 3, encryptionKey: key(s), ...extra });
  };
  test.each([undefined, 0, 2.5])('brokerCount %p for Provisioned', (n) => {
    expect(() => monitor({ brokerCount: n })).toThrow(/`brokerCount` \(.*\) must be a whole number of at least 1 for a provisioned cluster/);
  });
  test('brokerCount missing for Express', () => {
    expect(() => monitor({ clusterType: KafkaClusterType.EXPRESS, brokerCount: undefined })).toThrow(/`brokerCount` \(undefined\).*express cluster/);
  });
  test('no action and no key', () => {
    expect(() => monitor({ encryptionKey: undefined })).toThrow(/`encryptionKey` is required when `alarmAction` is not given/);
  });
  test.each(['a:b', 'gruppé', ''])('consumer group %p: MSK publishes no lag for it', (g) => {
    expect(() => monitor({}).addConsumerLag(g, 't')).toThrow(/`groupId` \(.*\) must be non-empty printable ASCII without ':'/);
  });
  test('the same group and topic twice', () => {
    const m = monitor({});
    m.addConsumerLag('g', 't');
    expect(() => m.addConsumerLag('g', 't')).toThrow(/`groupId` \('g'\) already has lag alarms on topic 't'/);
  });
  test.each([['maxOffsetLag', { maxOffsetLag: 0 }], ['maxTimeLagSeconds', { maxTimeLagSeconds: -1 }]])('%s not above 0', (prop, options) => {
    expect(() => monitor({}).addConsumerLag('g', 't', options)).toThrow(new RegExp(`\`${prop}\` \\(-?\\d+\\) must be above 0`));
  });
});

describe('nag-clean under the five packs', () => {
  test.each([KafkaClusterType.PROVISIONED, KafkaClusterType.EXPRESS, KafkaClusterType.SERVERLESS])('%s', (type) => {
    expectNagClean((s) => build(s, type));
  });
});
