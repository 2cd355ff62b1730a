import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as cw from 'aws-cdk-lib/aws-cloudwatch';
import { addDefaultLake, addFullLake } from '../bin/examples';
import { PipelineMonitor } from '../lib';
import { newApp } from './support/nag';
import { synth } from './support/template';

const defaults = synth((s) => addDefaultLake(s));
const full = synth((s) => addFullLake(s));

function alarm(t: Template, metricName: string): any {
  const found = Object.values(t.findResources('AWS::CloudWatch::Alarm')).filter((a: any) => a.Properties.MetricName === metricName);
  if (found.length !== 1) throw new Error(`expected one ${metricName} alarm, found ${found.length}`);
  return found[0].Properties;
}

const streamDim = [{ Name: 'StreamName', Value: { Ref: expect.stringMatching(/^LakeStream/) } }];
const deliveryDim = [{ Name: 'DeliveryStreamName', Value: { Ref: expect.stringMatching(/^LakeDelivery/) } }];

describe('alarms carry their dimension, M-of-N datapoints and an action', () => {
  test('iterator age: threshold is 25% of the retention', () => {
    const a = alarm(defaults, 'GetRecords.IteratorAgeMilliseconds');
    expect(a.Namespace).toBe('AWS/Kinesis');
    expect(a.Dimensions).toEqual(streamDim);
    expect(a.Threshold).toBe(7 * 24 * 3600 * 1000 * 0.25);
    expect(alarm(full, 'GetRecords.IteratorAgeMilliseconds').Threshold).toBe(14 * 24 * 3600 * 1000 * 0.25);
  });

  test('write throttling: > 0 in 3 of 5 minutes', () => {
    const a = alarm(defaults, 'WriteProvisionedThroughputExceeded');
    expect(a.Dimensions).toEqual(streamDim);
    expect(a).toMatchObject({ Threshold: 0, EvaluationPeriods: 5, DatapointsToAlarm: 3, Period: 60, ComparisonOperator: 'GreaterThanThreshold' });
  });

  test('freshness: threshold is twice the buffer interval', () => {
    const a = alarm(defaults, 'DeliveryToS3.DataFreshness');
    expect(a.Namespace).toBe('AWS/Firehose');
    expect(a.Dimensions).toEqual(deliveryDim);
    expect(a.Threshold).toBe(600);
    expect(alarm(full, 'DeliveryToS3.DataFreshness').Threshold).toBe(1200);
    expect(a.DatapointsToAlarm).toBeLessThan(a.EvaluationPeriods);
  });

  test('delivery success below 1', () => {
    const a = alarm(defaults, 'DeliveryToS3.Success');
    expect(a).toMatchObject({ Threshold: 1, ComparisonOperator: 'LessThanThreshold', Statistic: 'Average' });
    expect(a.Dimensions).toEqual(deliveryDim);
  });

  test('failed conversions above 0', () => {
    expect(alarm(defaults, 'FailedConversion.Records')).toMatchObject({ Threshold: 0, ComparisonOperator: 'GreaterThanThreshold', Statistic: 'Sum', Dimensions: deliveryDim });
  });

  test('partition count exceeded above 0', () => {
    expect(alarm(defaults, 'PartitionCountExceeded')).toMatchObject({ Threshold: 0, ComparisonOperator: 'GreaterThanThreshold', Dimensions: deliveryDim });
  });

  test('a provisioned stream also alarms on sustained utilization above 80% of its shards', () => {
    const a = alarm(full, 'IncomingBytes');
    // 7 shards x 1 MiB/s x 60 s x 0.8
    expect(a.Threshold).toBe(7 * 1024 * 1024 * 60 * 0.8);
    expect(a).toMatchObject({ EvaluationPeriods: 5, DatapointsToAlarm: 4 });
    expect(() => alarm(defaults, 'IncomingBytes')).toThrow(/found 0/);
  });

  test('every alarm and the composite notify the given action', () => {
    const topic = Object.keys(full.findResources('AWS::SNS::Topic'))[0];
    for (const a of [...Object.values(full.findResources('AWS::CloudWatch::Alarm')), ...Object.values(full.findResources('AWS::CloudWatch::CompositeAlarm'))]) {
      expect((a as any).Properties.AlarmActions).toEqual([{ Ref: topic }]);
    }
  });

  test('without an action, alarms publish to a created KMS-encrypted topic', () => {
    const topics = defaults.findResources('AWS::SNS::Topic');
    const [id, topic] = Object.entries(topics)[0] as [string, any];
    expect(id).toMatch(/^LakeMonitorAlarmTopic/);
    expect(topic.Properties.KmsMasterKeyId).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^LakeKey/), 'Arn'] });
    for (const a of Object.values(defaults.findResources('AWS::CloudWatch::Alarm'))) {
      expect((a as any).Properties.AlarmActions).toEqual([{ Ref: id }]);
    }
    defaults.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: { Statement: Match.arrayWith([Match.objectLike({ Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: ['kms:Decrypt', 'kms:GenerateDataKey*'] })]) },
    });
  });
});

describe('composite alarm', () => {
  test('fires only when a cause (throttling or utilization) coincides with a symptom (iterator age, freshness, delivery)', () => {
    const composite = Object.values(full.findResources('AWS::CloudWatch::CompositeAlarm'))[0] as any;
    const rule: any[] = composite.Properties.AlarmRule['Fn::Join'][1];
    const text = rule.map((p) => (typeof p === 'string' ? p : `<${p['Fn::GetAtt'][0].replace(/[0-9A-F]{8}$/, '')}>`)).join('');
    expect(text).toBe('((ALARM("<LakeMonitorWriteThrottled>") OR ALARM("<LakeMonitorUtilization>")) AND (ALARM("<LakeMonitorIteratorAge>") OR ALARM("<LakeMonitorFreshness>") OR ALARM("<LakeMonitorDeliverySuccess>")))');
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
});
