import { type CfnElement, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { WarehouseMonitor, type WarehouseMonitorProps } from '../lib/core/warehouse-monitor';
import { expectAlarmTopicsAllowCloudWatch } from './support/alarm-topics';
import { expectNagClean, newApp } from './support/nag';

interface Built { t: Template; stack: Stack; monitor: WarehouseMonitor }

/** A monitor of workgroup 'wg-1' with integration 'orders' (and `extra`). */
function build(extra: Partial<WarehouseMonitorProps> = {}, integration = true): Built {
  const stack = new Stack(newApp(), 'WarehouseMonitorStack');
  const monitor = new WarehouseMonitor(stack, 'Monitor', {
    workgroupName: 'wg-1', encryptionKey: new kms.Key(stack, 'Key', { enableKeyRotation: true }), ...extra,
  });
  if (integration) monitor.addIntegration('11111111-2222-3333-4444-555555555555', 'orders');
  return { t: Template.fromStack(stack), stack, monitor };
}

function props(b: Built, name: string): any {
  const alarm = b.monitor.alarmsByName[name];
  if (!alarm) throw new Error(`no alarm ${name}; have ${Object.keys(b.monitor.alarmsByName).join(', ')}`);
  return b.t.toJSON().Resources[b.stack.getLogicalId(alarm.node.defaultChild as CfnElement)].Properties;
}

const TOPIC = { Ref: expect.stringMatching(/^MonitorAlarmTopic/) };
const QUERY_TYPES = ['INSERT', 'DELETE', 'UPDATE', 'UNLOAD', 'LOAD', 'SELECT', 'CTAS', 'OTHER'];

/** A math alarm's expression and its MetricStats (each not returned). */
function math(p: any): { expression: string; stats: any[] } {
  const expr = p.Metrics.filter((m: any) => m.Expression);
  expect(expr).toHaveLength(1);
  const stats = p.Metrics.filter((m: any) => m.MetricStat);
  for (const m of stats) expect(m.ReturnData).toBe(false);
  return { expression: expr[0].Expression, stats: stats.map((m: any) => m.MetricStat) };
}

describe('WarehouseMonitor', () => {
  const b = build({ maxCapacity: 64 });

  test('LoadsFailed pages on any failed COPY (QueryType LOAD, Workgroup), 1 of 3 five-minute periods', () => {
    expect(props(b, 'LoadsFailed')).toMatchObject({
      Namespace: 'AWS/Redshift-Serverless', MetricName: 'QueriesFailed', Statistic: 'Maximum', Period: 300,
      Dimensions: [{ Name: 'QueryType', Value: 'LOAD' }, { Name: 'Workgroup', Value: 'wg-1' }],
      Threshold: 0, ComparisonOperator: 'GreaterThanThreshold', EvaluationPeriods: 3, DatapointsToAlarm: 1,
      TreatMissingData: 'notBreaching', AlarmActions: [TOPIC],
    });
  });

  test.each([['QueriesFailed', 5, 2], ['QueriesQueued', 10, 3]])('%s adds up the eight query types (no series carries the Workgroup alone), threshold %d, %d of 3', (name, threshold, m) => {
    const p = props(b, name as string);
    const { expression, stats } = math(p);
    expect(expression).toBe('SUM(FILL([insert, delete, update, unload, load, select, ctas, other], 0))');
    expect(stats.map((s) => s.Metric.Dimensions.find((d: any) => d.Name === 'QueryType').Value)).toEqual(QUERY_TYPES);
    for (const s of stats) {
      expect(s).toMatchObject({ Metric: { Namespace: 'AWS/Redshift-Serverless', MetricName: name }, Stat: 'Maximum', Period: 300 });
      expect(s.Metric.Dimensions).toContainEqual({ Name: 'Workgroup', Value: 'wg-1' });
    }
    expect(p).toMatchObject({ Threshold: threshold, EvaluationPeriods: 3, DatapointsToAlarm: m });
    expect(p.AlarmActions).toBeUndefined();
  });

  test('ComputeAtMaxCapacity is a cause: 30-minute ComputeCapacity at maxCapacity for an hour', () => {
    const p = props(b, 'ComputeAtMaxCapacity');
    expect(p).toMatchObject({
      Namespace: 'AWS/Redshift-Serverless', MetricName: 'ComputeCapacity', Dimensions: [{ Name: 'Workgroup', Value: 'wg-1' }],
      Period: 1800, Threshold: 64, ComparisonOperator: 'GreaterThanOrEqualToThreshold', EvaluationPeriods: 2, DatapointsToAlarm: 2,
    });
    expect(p.AlarmActions).toBeUndefined();
  });

  test('without maxCapacity there is no capacity alarm', () => {
    expect(build({}, false).monitor.alarmsByName.ComputeAtMaxCapacity).toBeUndefined();
  });

  test('an integration gets TablesFailed (pages) and IntegrationLag (symptom) on AWS/Redshift, IntegrationId', () => {
    const dims = [{ Name: 'IntegrationId', Value: '11111111-2222-3333-4444-555555555555' }];
    expect(props(b, 'orders/TablesFailed')).toMatchObject({
      Namespace: 'AWS/Redshift', MetricName: 'IntegrationNumTablesFailedReplication', Dimensions: dims, Statistic: 'Maximum',
      Threshold: 0, EvaluationPeriods: 3, DatapointsToAlarm: 2, AlarmActions: [TOPIC],
    });
    const lag = props(b, 'orders/IntegrationLag');
    expect(lag).toMatchObject({ Namespace: 'AWS/Redshift', MetricName: 'IntegrationLag', Dimensions: dims, Threshold: 900, EvaluationPeriods: 3, DatapointsToAlarm: 3 });
    expect(lag.AlarmActions).toBeUndefined();
  });

  test('the composite pages when a cause coincides with a symptom', () => {
    const composite = Object.values<any>(b.t.findResources('AWS::CloudWatch::CompositeAlarm'));
    expect(composite).toHaveLength(1);
    const rule = JSON.stringify(composite[0].Properties.AlarmRule);
    const arnOf = (name: string) => b.stack.getLogicalId(b.monitor.alarmsByName[name].node.defaultChild as CfnElement);
    expect(rule).toMatch(/^.*\(\(ALARM.*\) AND \(ALARM.*\)\).*$/);
    for (const n of ['QueriesFailed', 'ComputeAtMaxCapacity', 'QueriesQueued', 'orders/IntegrationLag']) expect(rule).toContain(arnOf(n));
    for (const n of ['LoadsFailed', 'orders/TablesFailed']) expect(rule).not.toContain(arnOf(n));
    expect(composite[0].Properties.AlarmActions).toEqual([TOPIC]);
  });

  test('the created alarm topic lets CloudWatch publish', () => {
    expect(expectAlarmTopicsAllowCloudWatch(b.t)).toEqual([b.stack.getLogicalId(b.monitor.alarmTopic!.node.defaultChild as CfnElement)]);
  });

  test('the dashboard\'s alarm widget lists every alarm', () => {
    const body = JSON.stringify(Object.values<any>(b.t.findResources('AWS::CloudWatch::Dashboard'))[0].Properties.DashboardBody);
    expect(body).toMatch(/type[^a-z]+alarm[^a-z]+width[^a-z]+24[^a-z]+height[^a-z]+3[^a-z]+x[^a-z]+0[^a-z]+y[^a-z]+\d+[^a-z]+properties[^a-z]+title[^a-z]+Alarms/);
    for (const a of b.monitor.alarms) expect(body).toContain(b.stack.getLogicalId(a.node.defaultChild as CfnElement));
  });

  test('a usage limit that only informs (LOG, EMIT_METRIC) is graphed, not alarmed', () => {
    const m = build({}, false).monitor;
    m.addUsageLimit('limit-1', 200, false);
    expect(m.alarmsByName.UsageLimitNearlyUsed).toBeUndefined();
  });

  test('a usage limit that deactivates pages when under 10% remains', () => {
    const s = new Stack(newApp(), 'Usage');
    const m = new WarehouseMonitor(s, 'Monitor', { workgroupName: 'wg-1', alarmAction: new cwActions.SnsAction(new sns.Topic(s, 'T')) });
    m.addUsageLimit('limit-1', 200, true);
    const t = Template.fromStack(s);
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'UsageLimitAvailable', Statistic: 'Minimum', Threshold: 20, ComparisonOperator: 'LessThanThreshold',
      Dimensions: [{ Name: 'UsageLimitId', Value: 'limit-1' }, { Name: 'UsageType', Value: 'SERVERLESS_COMPUTE' }, { Name: 'Workgroup', Value: 'wg-1' }],
      AlarmActions: [{ Ref: s.getLogicalId(s.node.findChild('T').node.defaultChild as CfnElement) }],
    });
  });

  test('an integration name that cannot name an alarm is refused', () => {
    expect(() => build().monitor.addIntegration('id-2', 'bad/name')).toThrow(/`name` \('bad\/name'\) must be letters, digits and hyphens/);
  });

  test('the same integration name twice is refused', () => {
    expect(() => build().monitor.addIntegration('id-2', 'orders')).toThrow(/`name` \('orders'\) already names an integration of this monitor/);
  });

  test.each([['maxQueuedQueries', { maxQueuedQueries: 0 }], ['maxFailedQueries', { maxFailedQueries: -1 }]])('%s must be above 0', (prop, extra) => {
    expect(() => build(extra as any, false)).toThrow(new RegExp(`\`${prop}\` \\(-?\\d+\\) must be above 0`));
  });

  test('maxLagSeconds must be above 0', () => {
    const m = build({}, false).monitor;
    expect(() => m.addIntegration('id', 'x', { maxLagSeconds: 0 })).toThrow(/`maxLagSeconds` \(0\) must be above 0/);
  });

  test('is nag-clean', () => {
    expectNagClean((stack) => {
      const m = new WarehouseMonitor(stack, 'Monitor', { workgroupName: 'wg-1', maxCapacity: 64, encryptionKey: new kms.Key(stack, 'Key', { enableKeyRotation: true }) });
      m.addIntegration('11111111-2222-3333-4444-555555555555', 'orders');
      m.addUsageLimit('limit-1', 100, false);
    });
  });
});
