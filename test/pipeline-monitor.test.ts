import * as fs from 'fs';
import * as path from 'path';
import { type CfnElement, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as cw from 'aws-cdk-lib/aws-cloudwatch';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { addCustomerTotals, addDefaultLake, addFullFraudPipeline, addFullLake, addLakeOnExistingResources } from '../bin/examples';
import { AlarmPaging, KafkaClusterType, KafkaMonitor, PipelineMonitor } from '../lib';
import { WarehouseMonitor } from '../lib/core/warehouse-monitor';
import { newApp } from './support/nag';
import { expectAlarmTopicsAllowCloudWatch } from './support/alarm-topics';
import { archiveDestination, s3Destination, synth, userFunction } from './support/template';

const defaults = synth((s) => addDefaultLake(s));
const full = synth((s) => addFullLake(s));

/**
 * The one alarm on `metricName` (of the resource whose logical id matches `dimensionRef`, when given):
 * the lake watches two delivery streams with the same Firehose metrics.
 */
function alarm(t: Template, metricName: string, dimensionRef?: RegExp): any {
  const found = Object.values(t.findResources('AWS::CloudWatch::Alarm'))
    .filter((a: any) => a.Properties.MetricName === metricName)
    .filter((a: any) => !dimensionRef || (a.Properties.Dimensions ?? []).some((d: any) => dimensionRef.test(d.Value?.Ref ?? '')));
  if (found.length !== 1) throw new Error(`expected one ${metricName} alarm${dimensionRef ? ` on ${dimensionRef}` : ''}, found ${found.length}`);
  return found[0].Properties;
}

/** Logical id of an alarm, without its hash. */
const alarmIds = (t: Template): string[] => Object.keys(t.findResources('AWS::CloudWatch::Alarm')).map((id) => id.replace(/[0-9A-F]{8}$/, ''));

/** Logical ids of the alarms the composite alarm's rule names. */
function compositeMembers(t: Template): Set<string> {
  const composite = Object.values(t.findResources('AWS::CloudWatch::CompositeAlarm'))[0] as any;
  return new Set(composite.Properties.AlarmRule['Fn::Join'][1].filter((p: any) => typeof p !== 'string').map((p: any) => p['Fn::GetAtt'][0]));
}

const CURATED = /^LakeDelivery[0-9A-F]{8}$/;
const ARCHIVE = /^LakeRawDelivery[0-9A-F]{8}$/;
const streamDim = [{ Name: 'StreamName', Value: { Ref: expect.stringMatching(/^LakeStream/) } }];
const deliveryDim = [{ Name: 'DeliveryStreamName', Value: { Ref: expect.stringMatching(CURATED) } }];
const archiveDim = [{ Name: 'DeliveryStreamName', Value: { Ref: expect.stringMatching(ARCHIVE) } }];

describe('alarms carry their dimension, M-of-N datapoints and an action', () => {
  test('iterator age: threshold is 25% of the retention', () => {
    const a = alarm(defaults, 'GetRecords.IteratorAgeMilliseconds', /^LakeStream[0-9A-F]{8}$/);
    expect(a.Namespace).toBe('AWS/Kinesis');
    expect(a.Dimensions).toEqual(streamDim);
    expect(a.Threshold).toBe(7 * 24 * 3600 * 1000 * 0.25);
    expect(alarm(full, 'GetRecords.IteratorAgeMilliseconds', /^LakeStream[0-9A-F]{8}$/).Threshold).toBe(14 * 24 * 3600 * 1000 * 0.25);
    // The replay stream's, against its own 24 h retention.
    expect(alarm(defaults, 'GetRecords.IteratorAgeMilliseconds', /^LakeRawReplayStream[0-9A-F]{8}$/).Threshold).toBe(24 * 3600 * 1000 * 0.25);
  });

  test('write throttling: > 0 in 3 of 5 minutes', () => {
    const a = alarm(defaults, 'WriteProvisionedThroughputExceeded');
    expect(a.Dimensions).toEqual(streamDim);
    expect(a).toMatchObject({ Threshold: 0, EvaluationPeriods: 5, DatapointsToAlarm: 3, Period: 60, ComparisonOperator: 'GreaterThanThreshold' });
  });

  test('read throttling: > 0 in 3 of 5 minutes, on the stream (standard consumers share a shard\'s 2 MiB/s)', () => {
    const a = alarm(defaults, 'ReadProvisionedThroughputExceeded');
    expect(a.Dimensions).toEqual(streamDim);
    expect(a).toMatchObject({ Namespace: 'AWS/Kinesis', Statistic: 'Sum', Threshold: 0, EvaluationPeriods: 5, DatapointsToAlarm: 3, Period: 60, ComparisonOperator: 'GreaterThanThreshold' });
  });

  test('freshness: threshold is twice the buffer interval', () => {
    const a = alarm(defaults, 'DeliveryToS3.DataFreshness', CURATED);
    expect(a.Namespace).toBe('AWS/Firehose');
    expect(a.Dimensions).toEqual(deliveryDim);
    expect(a.Threshold).toBe(600);
    expect(alarm(full, 'DeliveryToS3.DataFreshness', CURATED).Threshold).toBe(1200);
    expect(a.DatapointsToAlarm).toBeLessThan(a.EvaluationPeriods);
  });

  test('delivery success below 1', () => {
    const a = alarm(defaults, 'DeliveryToS3.Success', CURATED);
    expect(a).toMatchObject({ Threshold: 1, ComparisonOperator: 'LessThanThreshold', Statistic: 'Average' });
    expect(a.Dimensions).toEqual(deliveryDim);
  });

  test('failed conversions above 0', () => {
    expect(alarm(defaults, 'FailedConversion.Records')).toMatchObject({ Threshold: 0, ComparisonOperator: 'GreaterThanThreshold', Statistic: 'Sum', Dimensions: deliveryDim });
  });

  test('partition count exceeded above 0', () => {
    expect(alarm(defaults, 'PartitionCountExceeded')).toMatchObject({ Threshold: 0, ComparisonOperator: 'GreaterThanThreshold', Dimensions: deliveryDim });
  });

  test('the Firehose alarms of the curated and the archive delivery are one per stream, on their own dimension', () => {
    for (const metric of ['DeliveryToS3.DataFreshness', 'DeliveryToS3.Success']) {
      const all = Object.values(defaults.findResources('AWS::CloudWatch::Alarm')).filter((a: any) => a.Properties.MetricName === metric);
      expect(all).toHaveLength(2);
      expect(alarm(defaults, metric, CURATED).Dimensions).toEqual(deliveryDim);
      expect(alarm(defaults, metric, ARCHIVE).Dimensions).toEqual(archiveDim);
    }
  });

  test('archive freshness: threshold is twice the archive delivery\'s own buffer interval', () => {
    expect(alarmIds(defaults)).toContain('LakeMonitorArchiveFreshness');
    for (const t of [defaults, full]) {
      const a = alarm(t, 'DeliveryToS3.DataFreshness', ARCHIVE);
      expect(a).toMatchObject({ Namespace: 'AWS/Firehose', Statistic: 'Maximum', ComparisonOperator: 'GreaterThanThreshold', EvaluationPeriods: 5, DatapointsToAlarm: 3 });
      expect(a.Dimensions).toEqual(archiveDim);
      expect(a.Threshold).toBe(2 * archiveDestination(t).BufferingHints.IntervalInSeconds);
    }
    // The curated freshness stays relative to the curated interval.
    expect(alarm(full, 'DeliveryToS3.DataFreshness', CURATED).Threshold).toBe(2 * s3Destination(full).BufferingHints.IntervalInSeconds);
  });

  test('archive delivery success below 1 in 2 of 3 periods', () => {
    expect(alarmIds(defaults)).toContain('LakeMonitorArchiveDeliverySuccess');
    const a = alarm(defaults, 'DeliveryToS3.Success', ARCHIVE);
    expect(a).toMatchObject({ Threshold: 1, ComparisonOperator: 'LessThanThreshold', Statistic: 'Average', EvaluationPeriods: 3, DatapointsToAlarm: 2 });
    expect(a.Dimensions).toEqual(archiveDim);
  });

  test('Parquet conversion and partition-quota alarms watch only the curated delivery', () => {
    for (const metric of ['FailedConversion.Records', 'PartitionCountExceeded']) {
      expect(() => alarm(defaults, metric, ARCHIVE)).toThrow(/found 0/);
    }
  });

  test('failed replay executions above 0, on the replay state machine', () => {
    expect(alarmIds(defaults)).toContain('LakeMonitorReplayExecutionsFailed');
    const a = alarm(defaults, 'ExecutionsFailed');
    expect(a).toMatchObject({ Namespace: 'AWS/States', Statistic: 'Sum', Threshold: 0, ComparisonOperator: 'GreaterThanThreshold', EvaluationPeriods: 1, DatapointsToAlarm: 1 });
    const [smId] = Object.keys(defaults.findResources('AWS::StepFunctions::StateMachine'));
    expect(smId).toMatch(/^LakeRawReplay/);
    expect(a.Dimensions).toEqual([{ Name: 'StateMachineArn', Value: { Ref: smId } }]);
  });

  test('a lake without a raw zone has no archive or replay alarms', () => {
    const t = synth((s) => addLakeOnExistingResources(s));
    expect(alarmIds(t).filter((id) => /Archive|Replay/.test(id))).toEqual([]);
    expect(() => alarm(t, 'ExecutionsFailed')).toThrow(/found 0/);
    expect(Object.values(t.findResources('AWS::CloudWatch::Alarm')).filter((a: any) => a.Properties.MetricName === 'DeliveryToS3.DataFreshness')).toHaveLength(1);
  });

  test('a provisioned stream also alarms on sustained utilization above 80% of its shards', () => {
    const a = alarm(full, 'IncomingBytes');
    // 7 shards x 1 MiB/s x 60 s x 0.8
    expect(a.Threshold).toBe(7 * 1024 * 1024 * 60 * 0.8);
    expect(a).toMatchObject({ EvaluationPeriods: 5, DatapointsToAlarm: 4 });
    expect(() => alarm(defaults, 'IncomingBytes')).toThrow(/found 0/);
  });

  test('every alarm that pages, and the composite, notify the given action; the alarms feeding the composite notify nothing', () => {
    const topic = Object.keys(full.findResources('AWS::SNS::Topic'))[0];
    const fed = compositeMembers(full);
    for (const [id, a] of Object.entries(full.findResources('AWS::CloudWatch::Alarm')) as [string, any][]) {
      expect([id, a.Properties.AlarmActions]).toEqual([id, fed.has(id) ? undefined : [{ Ref: topic }]]);
    }
    expect((Object.values(full.findResources('AWS::CloudWatch::CompositeAlarm'))[0] as any).Properties.AlarmActions).toEqual([{ Ref: topic }]);
  });

  test('without an action, alarms publish to a created KMS-encrypted topic that lets CloudWatch publish', () => {
    const topics = defaults.findResources('AWS::SNS::Topic');
    const [id, topic] = Object.entries(topics)[0] as [string, any];
    expect(id).toMatch(/^LakeMonitorAlarmTopic/);
    expect(topic.Properties.KmsMasterKeyId).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^LakeKey/), 'Arn'] });
    const fed = compositeMembers(defaults);
    for (const [alarmId, a] of Object.entries(defaults.findResources('AWS::CloudWatch::Alarm')) as [string, any][]) {
      if (!fed.has(alarmId)) expect((a as any).Properties.AlarmActions).toEqual([{ Ref: id }]);
    }
    expect(expectAlarmTopicsAllowCloudWatch(defaults)).toEqual([id]);
  });

  test('the pipeline key\'s CloudWatch grant is limited to this account\'s alarms', () => {
    const [, key] = Object.entries(defaults.findResources('AWS::KMS::Key')).find(([k]) => k.startsWith('LakeKey')) as [string, any];
    const grants = key.Properties.KeyPolicy.Statement.filter((st: any) => st.Principal?.Service === 'cloudwatch.amazonaws.com');
    expect(grants).toEqual([{
      Sid: 'AllowCloudWatchAlarmsToUseKey', Effect: 'Allow', Principal: { Service: 'cloudwatch.amazonaws.com' },
      Action: ['kms:Decrypt', 'kms:GenerateDataKey*'], Resource: '*',
      Condition: {
        StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
        ArnLike: { 'aws:SourceArn': { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':cloudwatch:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':alarm:*']] } },
      },
    }]);
  });
});

describe('composite alarm', () => {
  test('fires only when a cause (read or write throttling, utilization) coincides with a lag symptom (curated or archive freshness)', () => {
    const composite = Object.values(full.findResources('AWS::CloudWatch::CompositeAlarm'))[0] as any;
    const rule: any[] = composite.Properties.AlarmRule['Fn::Join'][1];
    const text = rule.map((p) => (typeof p === 'string' ? p : `<${p['Fn::GetAtt'][0].replace(/[0-9A-F]{8}$/, '')}>`)).join('');
    expect(text).toBe('((ALARM("<LakeMonitorWriteThrottled>") OR ALARM("<LakeMonitorReadThrottled>") OR ALARM("<LakeMonitorUtilization>")) AND (ALARM("<LakeMonitorFreshness>") OR ALARM("<LakeMonitorArchiveFreshness>")))');
  });
});

describe('dashboard', () => {
  test('shows incoming bytes against capacity, iterator age, freshness, conversion and partitions', () => {
    const dash = Object.values(full.findResources('AWS::CloudWatch::Dashboard'))[0] as any;
    const body = JSON.stringify(dash.Properties.DashboardBody);
    for (const needle of ['IncomingBytes', 'capacity', 'GetRecords.IteratorAgeMilliseconds', 'DeliveryToS3.DataFreshness', 'SucceedConversion.Records', 'FailedConversion.Records', 'PartitionCount', 'PartitionCountExceeded', String(7 * 1024 * 1024 * 60)]) {
      expect([needle, body.includes(needle)]).toEqual([needle, true]);
    }
  });

  test('also shows the archive delivery and the replay progress and executions', () => {
    const dash = Object.values(full.findResources('AWS::CloudWatch::Dashboard'))[0] as any;
    const body = JSON.stringify(dash.Properties.DashboardBody);
    for (const needle of ['Archive: delivery freshness', 'Archive: S3 delivery success', 'StreamingPipelines/Replay', 'RecordsReplayed', 'BytesReplayed', 'ObjectsRemaining', 'ExecutionsFailed']) {
      expect([needle, body.includes(needle)]).toEqual([needle, true]);
    }
    // The archive widgets plot the archive delivery stream, the replay widgets the replay state machine.
    const refs = JSON.stringify(dash.Properties.DashboardBody['Fn::Join'][1].filter((p: any) => typeof p !== 'string'));
    expect(refs).toMatch(/"Ref":"LakeRawDelivery[0-9A-F]{8}"/);
    expect(refs).toMatch(/"Ref":"LakeRawReplay[0-9A-F]{8}"/);
  });

  test('has an alarm-status widget of the lake\'s alarms', () => {
    const dash = Object.values(defaults.findResources('AWS::CloudWatch::Dashboard'))[0] as any;
    const parts: any[] = dash.Properties.DashboardBody['Fn::Join'][1];
    const text = parts.map((p) => (typeof p === 'string' ? p : `<${p['Fn::GetAtt']?.[0] ?? p.Ref}>`)).join('');
    expect(text).toContain('"type":"alarm"');
    expect(text).toMatch(/"alarms":\["<LakeMonitorIteratorAge[0-9A-F]{8}>"/);
  });
});

describe('PipelineMonitor on its own', () => {
  test('rejects an iterator-age fraction outside (0, 1]', () => {
    const stack = new Stack(newApp(), 'M');
    expect(() => new PipelineMonitor(stack, 'M', { alarmAction: { bind: () => ({ alarmActionArn: 'arn:aws:sns:us-east-1:1:t' }) } as cw.IAlarmAction, iteratorAgeFractionOfRetention: 1.5 }))
      .toThrow(/`iteratorAgeFractionOfRetention` \(1.5\) must be in \(0, 1\]/);
  });

  test('requires a key to create its alarm topic', () => {
    const stack = new Stack(newApp(), 'M');
    expect(() => new PipelineMonitor(stack, 'M', {})).toThrow(/`encryptionKey` is required when `alarmAction` is not given/);
  });

  test('composite is omitted when there is no cause to combine', () => {
    const stack = new Stack(newApp(), 'M');
    const m = new PipelineMonitor(stack, 'M', { alarmAction: { bind: () => ({ alarmActionArn: 'arn:aws:sns:us-east-1:1:t' }) } as cw.IAlarmAction });
    expect(m.composite).toBeUndefined();
  });

  test('a monitor without alarms has no alarm-status widget, which CloudWatch would reject', () => {
    const stack = new Stack(newApp(), 'M');
    new PipelineMonitor(stack, 'M', { alarmAction: { bind: () => ({ alarmActionArn: 'arn:aws:sns:us-east-1:1:t' }) } as cw.IAlarmAction });
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::CloudWatch::Alarm', 0);
    const dash = Object.values(t.findResources('AWS::CloudWatch::Dashboard'))[0] as any;
    expect(JSON.stringify(dash.Properties.DashboardBody)).not.toContain('\\"type\\":\\"alarm\\"');
  });
});

describe('paging', () => {
  /** The README's paging table: alarm → "on its own" or "feeds the composite (cause|symptom)". */
  function documentedPaging(): { [alarm: string]: string } {
    const readme = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');
    const table = readme.split('### Paging')[1].split('\n\n')[1];
    const rows = table.split('\n').slice(2).map((row) => row.split('|').map((c) => c.trim()));
    return Object.fromEntries(rows.map((cells) => [cells[1].replace(/`/g, ''), cells[2]]));
  }

  /** The same table derived from a template: an alarm with actions pages; one the composite's rule names feeds it, on its side of the AND. */
  function synthesizedPaging(): { [alarm: string]: string } {
    const stack = new Stack(newApp(), 'P');
    const lake = addFullLake(stack);
    addCustomerTotals(stack, lake, { enhancedFanOut: true });
    const fraud = addFullFraudPipeline(stack);
    // An MSK monitor of Standard and of Express brokers, with one consumer group's lag: together they have every Kafka alarm
    // (a Serverless monitor has only the lag alarms, under its own time-lag name: test/kafka-monitor.test.ts).
    const kafka = [KafkaClusterType.PROVISIONED, KafkaClusterType.EXPRESS].map((clusterType) => {
      const m = new KafkaMonitor(stack, `Kafka${clusterType}`, { clusterName: clusterType, clusterType, brokerCount: 3, encryptionKey: lake.encryptionKey });
      m.addConsumerLag('group', 'topic');
      return m;
    });
    // A warehouse monitor with every alarm: a maximum capacity, a zero-ETL integration and a usage limit that deactivates.
    const warehouse = new WarehouseMonitor(stack, 'Warehouse', { workgroupName: 'wg', maxCapacity: 64, encryptionKey: lake.encryptionKey });
    warehouse.addIntegration('11111111-2222-3333-4444-555555555555', 'integration');
    warehouse.addUsageLimit('limit', 100, true);
    const t = Template.fromStack(stack);
    const resources = t.toJSON().Resources;
    // The lake's monitor and the fraud pipeline's (the results lake shares the pipeline's alarm action), the 2 Kafka monitors and the warehouse's.
    expect(Object.values(t.findResources('AWS::CloudWatch::CompositeAlarm'))).toHaveLength(6);
    const paging: { [alarm: string]: string } = {};
    const monitors: [{ composite?: cw.CompositeAlarm }, { [name: string]: cw.Alarm }][] = [
      [lake.monitor, lake.monitor.alarms], [fraud.monitor, fraud.monitor.alarms], ...kafka.map((m): [KafkaMonitor, { [name: string]: cw.Alarm }] => [m, m.alarmsByName]),
      [warehouse, warehouse.alarmsByName],
    ];
    for (const [monitor, alarms] of monitors) {
      const composite = resources[stack.getLogicalId(monitor.composite!.node.defaultChild as CfnElement)];
      paging.CauseAndSymptom = composite.Properties.AlarmActions?.length === 1 ? 'on its own' : 'silent';
      const rule: any[] = composite.Properties.AlarmRule['Fn::Join'][1];
      const text = rule.map((p) => (typeof p === 'string' ? p : `<${p['Fn::GetAtt'][0]}>`)).join('');
      const [causes, symptoms] = text.split(' AND ');
      for (const [name, alarm] of Object.entries(alarms)) {
        const id = stack.getLogicalId(alarm.node.defaultChild as CfnElement);
        const pages = (resources[id].Properties.AlarmActions ?? []).length > 0;
        const feeds = causes.includes(`<${id}>`) ? 'cause' : symptoms.includes(`<${id}>`) ? 'symptom' : undefined;
        // An alarm that both pages and feeds pages twice; one that does neither is never heard.
        // Consumers (the example's two mappings, the fraud scorer and publisher) have the same kinds of alarm.
        const documented = name.replace(/^(CustomerTotals(Replays)?|Scorer|Publisher)/, '<consumer>').replace(/^group\/topic\//, '<group>/<topic>/').replace(/^integration\//, '<integration>/');
        paging[documented] = pages && !feeds ? 'on its own' : feeds && !pages ? `feeds the composite (${feeds})` : `pages: ${pages}, feeds: ${feeds}`;
      }
    }
    return paging;
  }

  test('the README\'s paging table is what the template does', () => {
    expect(synthesizedPaging()).toEqual(documentedPaging());
  });
});

test('a second mapping of a watched function adds only its own alarms (functionAlarms: false)', () => {
  const t = synth((s) => {
    const monitor = new PipelineMonitor(s, 'Monitor', { encryptionKey: new kms.Key(s, 'Key', { enableKeyRotation: true }) });
    const fn = userFunction(s, 'Fn');
    monitor.addConsumer('Main', { function: fn, maxRecordAge: Duration.days(1), eventSourceMappingId: 'uuid-main', failureBucket: new s3.Bucket(s, 'MainFailures') });
    monitor.addConsumer('Replays', { function: fn, functionAlarms: false, maxRecordAge: Duration.days(1), eventSourceMappingId: 'uuid-replays', failureBucket: new s3.Bucket(s, 'ReplayFailures') });
  });
  expect(alarmIds(t).sort()).toEqual(['MonitorMainErrors', 'MonitorMainFailedBatches', 'MonitorMainIteratorAge', 'MonitorMainThrottles', 'MonitorReplaysFailedBatches']);
});

describe('addMetricAlarm', () => {
  const metric = new cw.Metric({ namespace: 'App', metricName: 'Refused', dimensionsMap: { Pipeline: 'p' }, statistic: cw.Stats.SUM });

  test('a PAGES alarm carries the action; a CAUSE alarm feeds the composite only; both are graphed with their threshold', () => {
    const stack = new Stack(newApp(), 'M');
    const monitor = new PipelineMonitor(stack, 'M', { encryptionKey: new kms.Key(stack, 'Key', { enableKeyRotation: true }) });
    const pages = monitor.addMetricAlarm('Refused', { metric, paging: AlarmPaging.PAGES, threshold: 0, description: 'refused' });
    const cause = monitor.addMetricAlarm('Throttled', { metric, paging: AlarmPaging.CAUSE, threshold: 5, evaluationPeriods: 5, datapointsToAlarm: 3, description: 'throttled' });
    const t = Template.fromStack(stack).toJSON().Resources;
    const props = (a: cw.Alarm) => t[stack.getLogicalId(a.node.defaultChild as CfnElement)].Properties;
    expect(props(pages)).toMatchObject({ Threshold: 0, EvaluationPeriods: 1, DatapointsToAlarm: 1, AlarmActions: [expect.anything()], Dimensions: [{ Name: 'Pipeline', Value: 'p' }], TreatMissingData: 'notBreaching' });
    expect(props(cause)).toMatchObject({ Threshold: 5, EvaluationPeriods: 5, DatapointsToAlarm: 3 });
    expect(props(cause).AlarmActions).toBeUndefined();
    expect(JSON.stringify(t[stack.getLogicalId(monitor.composite!.node.defaultChild as CfnElement)].Properties.AlarmRule)).toContain(stack.getLogicalId(cause.node.defaultChild as CfnElement));
    const dash = JSON.stringify(Object.values(Template.fromStack(stack).findResources('AWS::CloudWatch::Dashboard'))[0]);
    expect(dash).toContain('Refused');
    expect(dash).toContain('Throttled');
  });

  test('datapointsToAlarm above evaluationPeriods fails, naming it', () => {
    const stack = new Stack(newApp(), 'M');
    const monitor = new PipelineMonitor(stack, 'M', { encryptionKey: new kms.Key(stack, 'Key', { enableKeyRotation: true }) });
    expect(() => monitor.addMetricAlarm('X', { metric, paging: AlarmPaging.SYMPTOM, threshold: 1, evaluationPeriods: 2, datapointsToAlarm: 3, description: 'x' }))
      .toThrow(/`datapointsToAlarm` \(3 of 2\) must be whole numbers/);
  });
});
