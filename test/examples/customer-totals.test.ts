import { Template } from 'aws-cdk-lib/assertions';
import { PoisonRecordError } from 'cdk-streaming-pipelines/runtime';
import { ConsumerOrdering } from '../../lib';
import { addCustomerTotals, addDefaultLake, addFailureQueue, addFullLake, addLakeOnExistingResources } from '../../bin/examples';
import { totalUpdateOf } from '../../examples/customer-totals/core';
import { expectNagClean } from '../support/nag';
import { synth } from '../support/template';

describe('example consumer core', () => {
  test('reads the customer and the amount in integer cents', () => {
    expect(totalUpdateOf({ event_id: 'e1', customer_id: 42, amount: 19.99 })).toEqual({ customerId: '42', amountCents: 1999 });
    expect(totalUpdateOf({ customer_id: 7, amount: -0.1 })).toEqual({ customerId: '7', amountCents: -10 });
    expect(totalUpdateOf({ customer_id: 7, amount: 1e9 })).toEqual({ customerId: '7', amountCents: 1e11 });
  });

  test.each([
    [null, /must be a JSON object/],
    [[1, 2], /must be a JSON object/],
    [{ customer_id: '42', amount: 1 }, /customer_id must be an integer, got "42"/],
    [{ customer_id: 4.2, amount: 1 }, /customer_id must be an integer/],
    [{ customer_id: 42 }, /amount must be a number, got undefined/],
    [{ customer_id: 42, amount: 1.005 }, /at most 2 decimals, got 1.005/],
  ])('%p is a poison record', (record, message) => {
    // Thrown as the shipped runtime's PoisonRecordError, imported as a user's handler imports it.
    let thrown: unknown;
    try {
      totalUpdateOf(record);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(PoisonRecordError);
    expect((thrown as Error).message).toMatch(message);
  });
});

describe('example app wiring (bin/examples.ts#addCustomerTotals)', () => {
  const consumerOf = (t: Template): { esm: any; fn: any } => {
    const esm = Object.values(t.findResources('AWS::Lambda::EventSourceMapping'))[0] as any;
    const fn = t.toJSON().Resources[esm.Properties.FunctionName.Ref];
    return { esm: esm.Properties, fn: fn.Properties };
  };

  test('defaults: the lake stream feeds the runtime-built function through enhanced fan-out, failures to S3, with redrive and alarms', () => {
    const t = synth((s) => addCustomerTotals(s, addDefaultLake(s)));
    const { esm, fn } = consumerOf(t);
    expect(esm).toMatchObject({
      EventSourceArn: { 'Fn::GetAtt': [expect.stringMatching(/^CustomerTotalsConsumer/), 'ConsumerARN'] },
      FunctionResponseTypes: ['ReportBatchItemFailures'], BisectBatchOnFunctionError: true, MaximumRetryAttempts: 5,
      // Every record the 7-day stream retains is processed, never discarded for age.
      MaximumRecordAgeInSeconds: 604800,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [expect.stringMatching(/^CustomerTotalsFailures/), 'Arn'] } } },
    });
    expect(fn).toMatchObject({ Runtime: 'nodejs22.x', Handler: 'index.handler', Architectures: ['arm64'] });
    expect(Object.keys(fn.Environment.Variables)).toEqual(['TOTALS_TABLE', 'IDEMPOTENCY_TABLE']);
    expect(Object.keys(t.findResources('AWS::Lambda::Function')).some((id) => id.startsWith('CustomerTotalsRedrive'))).toBe(true);
    const alarms = Object.keys(t.findResources('AWS::CloudWatch::Alarm')).filter((id) => id.includes('CustomerTotals'));
    expect(alarms.map((id) => id.replace(/[0-9A-F]{8}$/, '')).sort()).toEqual([
      'LakeMonitorCustomerTotalsErrors', 'LakeMonitorCustomerTotalsFailedBatches', 'LakeMonitorCustomerTotalsIteratorAge',
      'LakeMonitorCustomerTotalsMillisBehindLatest', 'LakeMonitorCustomerTotalsReplaysFailedBatches', 'LakeMonitorCustomerTotalsThrottles',
    ]);
  });

  test('defaults: each mapping\'s failed batches page, the replay stream\'s too (its failure bucket is its own)', () => {
    const t = synth((s) => addCustomerTotals(s, addDefaultLake(s)));
    const mappings = Object.entries(t.findResources('AWS::Lambda::EventSourceMapping')).map(([id]) => id);
    expect(mappings).toHaveLength(2);
    const failed = Object.values(t.findResources('AWS::CloudWatch::Alarm'))
      .map((a: any) => a.Properties)
      .filter((p: any) => p.MetricName === 'OnFailureDestinationDeliveredEventCount');
    expect(failed.map((p: any) => p.Dimensions[0].Value.Ref).sort()).toEqual(mappings.sort());
    for (const p of failed) expect(p.AlarmActions).toHaveLength(1);
  });

  test('defaults: the on-demand lake stream has two polling readers (its deliveries), within the twice-write read share', () => {
    const t = synth((s) => addCustomerTotals(s, addDefaultLake(s)));
    const onStream = (arn: any) => JSON.stringify(arn ?? null).includes('"LakeStream');
    const deliveries = Object.values(t.findResources('AWS::KinesisFirehose::DeliveryStream')).filter((d: any) => onStream(d.Properties.KinesisStreamSourceConfiguration?.KinesisStreamARN));
    const mappings = Object.values(t.findResources('AWS::Lambda::EventSourceMapping')).filter((m: any) => onStream(m.Properties.EventSourceArn));
    expect([deliveries.length, mappings.length]).toEqual([2, 0]);
  });

  test('full: per-key ordering through an enhanced fan-out consumer, watched for EFO lag', () => {
    const t = synth((s) => addCustomerTotals(s, addFullLake(s), { ordering: ConsumerOrdering.PER_KEY, enhancedFanOut: true }));
    const { esm } = consumerOf(t);
    expect(esm.ParallelizationFactor).toBe(10);
    expect(esm.EventSourceArn['Fn::GetAtt'][1]).toBe('ConsumerARN');
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'SubscribeToShardEvent.MillisBehindLatest' });
  });

  test('existing resources: failures to an encrypted SQS queue, no redrive (the queue holds no records)', () => {
    const t = synth((s) => {
      const lake = addLakeOnExistingResources(s);
      addCustomerTotals(s, lake, { failureQueue: addFailureQueue(s, lake.encryptionKey) });
    });
    const { esm } = consumerOf(t);
    expect(esm.DestinationConfig.OnFailure.Destination['Fn::GetAtt'][0]).toMatch(/^ConsumerFailures/);
    expect(Object.keys(t.findResources('AWS::Lambda::Function')).some((id) => id.startsWith('CustomerTotalsRedrive'))).toBe(false);
  });

  test.each([
    ['defaults', (s: any) => addCustomerTotals(s, addDefaultLake(s))],
    ['full', (s: any) => addCustomerTotals(s, addFullLake(s), { ordering: ConsumerOrdering.PER_KEY, enhancedFanOut: true })],
    ['existing resources', (s: any) => {
      const lake = addLakeOnExistingResources(s);
      addCustomerTotals(s, lake, { failureQueue: addFailureQueue(s, lake.encryptionKey) });
    }],
  ])('%s stays nag-clean under all five packs', (_name, build) => {
    expectNagClean(build);
  });

  test('snapshot of the consumer resources', () => {
    const t = synth((s) => addCustomerTotals(s, addDefaultLake(s))).toJSON();
    const consumer = Object.fromEntries(Object.entries(t.Resources).filter(([id]) => id.startsWith('CustomerTotals')));
    expect(consumer).toMatchSnapshot();
  });
});
