import { Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import { CfnDeliveryStream } from 'aws-cdk-lib/aws-kinesisfirehose';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AccessLogBucket, ConsumerOrdering, FailureDestination, IngestStream, PipelineMonitor, S3FailureDestination, StreamConsumer, StreamConsumerProps } from '../lib';
import { newApp } from './support/nag';
import { userFunction } from './support/template';

function build(props: Partial<StreamConsumerProps> = {}, monitor = false, retentionPeriod?: Duration): Template {
  const stack = new Stack(newApp(), 'C');
  const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
  const stream = new kinesis.Stream(stack, 'Stream', { encryptionKey: key, encryption: kinesis.StreamEncryption.KMS, retentionPeriod });
  const fn = userFunction(stack, 'Fn', 'exports.handler=async()=>({batchItemFailures:[]})', 'index.handler');
  const consumer = new StreamConsumer(stack, 'Consumer', { function: fn, stream, encryptionKey: key, ...props });
  if (monitor) {
    const m = new PipelineMonitor(stack, 'Monitor', { encryptionKey: key });
    m.addConsumer('Processor', { function: fn, maxRecordAge: consumer.maxRecordAge, failureBucket: consumer.failureBucket, eventSourceMappingId: consumer.eventSource.eventSourceMappingId, consumerName: consumer.consumer?.streamConsumerName, stream: consumer.consumer ? stream : undefined });
  }
  return Template.fromStack(stack);
}

describe('StreamConsumer', () => {
  test('always reports partial failures, bisects, and has finite retries and record age', () => {
    build().hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 5,
      MaximumRecordAgeInSeconds: 86400,
      StartingPosition: 'TRIM_HORIZON',
      BatchSize: 500,
      MaximumBatchingWindowInSeconds: 1,
      ParallelizationFactor: 1,
    });
  });

  test('defaults to an encrypted S3 on-failure destination, without paid S3 request metrics (the alarm counts the mapping\'s deliveries)', () => {
    const t = build();
    const esm = Object.values(t.findResources('AWS::Lambda::EventSourceMapping'))[0] as any;
    const dest = esm.Properties.DestinationConfig.OnFailure.Destination;
    expect(dest['Fn::GetAtt'][0]).toMatch(/^ConsumerFailures/);
    const bucket = t.toJSON().Resources[dest['Fn::GetAtt'][0]];
    expect(bucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm).toBe('aws:kms');
    expect(bucket.Properties.MetricsConfigurations).toBeUndefined();
  });

  test('PER_KEY ordering spreads a shard over up to 10 invocations', () => {
    build({ ordering: ConsumerOrdering.PER_KEY }).hasResourceProperties('AWS::Lambda::EventSourceMapping', { ParallelizationFactor: 10 });
  });

  test('an SQS failure destination is used when asked, and must be encrypted', () => {
    const stack = new Stack(newApp(), 'Q');
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    const stream = new kinesis.Stream(stack, 'Stream');
    const fn = userFunction(stack, 'Fn');
    const plain = new sqs.Queue(stack, 'Plain', { encryption: sqs.QueueEncryption.UNENCRYPTED });
    expect(() => new StreamConsumer(stack, 'Bad', { function: fn, stream, encryptionKey: key, failureDestination: FailureDestination.SQS, failureQueue: plain }))
      .toThrow(/`failureQueue` must be encrypted/);
    const queue = new sqs.Queue(stack, 'Dlq', { encryptionMasterKey: key });
    new StreamConsumer(stack, 'Good', { function: fn, stream, encryptionKey: key, failureDestination: FailureDestination.SQS, failureQueue: queue });
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Dlq'), 'Arn'] } } },
    });
  });

  test('enhanced fan-out reads through a registered consumer', () => {
    const t = build({ enhancedFanOut: true });
    t.resourceCountIs('AWS::Kinesis::StreamConsumer', 1);
    const esm = Object.values(t.findResources('AWS::Lambda::EventSourceMapping'))[0] as any;
    const consumerId = Object.keys(t.findResources('AWS::Kinesis::StreamConsumer'))[0];
    expect(esm.Properties.EventSourceArn['Fn::GetAtt'][0]).toBe(consumerId);
  });

  test.each([
    [{ retryAttempts: -1 }, /`retryAttempts` \(-1\) must be an integer 0-10,000; infinite retries block the shard/],
    [{ maxRecordAge: Duration.days(8) }, /`maxRecordAge` \(691200 s\) must be 60 s-7 days/],
    [{ batchSize: 20000 }, /`batchSize` \(20000\) must be an integer 1-10,000/],
    [{ latencyTarget: Duration.minutes(6) }, /`latencyTarget` \(360 s\) must be at most 300 s/],
    [{ ordering: ConsumerOrdering.PER_KEY, parallelizationFactor: 11 }, /`parallelizationFactor` \(11\) must be an integer 1-10/],
    [{ parallelizationFactor: 4 }, /`parallelizationFactor` \(4\) needs ordering PER_KEY/],
  ])('rejects %p', (props, error) => {
    expect(() => build(props as Partial<StreamConsumerProps>)).toThrow(error);
  });

  test('the monitor watches the consumer: iterator age, errors, throttles, failed batches, EFO lag', () => {
    const t = build({ enhancedFanOut: true }, true);
    const alarms = Object.values(t.findResources('AWS::CloudWatch::Alarm')).map((a: any) => a.Properties);
    const byMetric = Object.fromEntries(alarms.map((a) => [a.MetricName, a]));
    expect(byMetric.IteratorAge).toMatchObject({ Namespace: 'AWS/Lambda', Threshold: 43_200_000 });
    expect(byMetric.Errors.Dimensions).toEqual([{ Name: 'FunctionName', Value: { Ref: expect.stringMatching(/^Fn/) } }]);
    expect(byMetric.Throttles).toBeDefined();
    expect(byMetric.OnFailureDestinationDeliveredEventCount).toBeDefined();
    expect(byMetric['SubscribeToShardEvent.MillisBehindLatest'].Dimensions).toEqual(expect.arrayContaining([expect.objectContaining({ Name: 'ConsumerName' })]));
    // Failed batches page; lag and the consumer's errors and throttles feed the composite.
    const paging = Object.fromEntries(alarms.map((a) => [a.MetricName, a.AlarmActions?.length ?? 0]));
    expect(paging).toEqual({ IteratorAge: 0, Errors: 0, Throttles: 0, OnFailureDestinationDeliveredEventCount: 1, 'SubscribeToShardEvent.MillisBehindLatest': 0 });
  });

  test('the failed-batches alarm counts the events the mapping sent to the S3 destination, which the redrive\'s tagging cannot raise', () => {
    const t = build({}, true);
    const esm = Object.entries(t.findResources('AWS::Lambda::EventSourceMapping'))[0] as [string, any];
    // The mapping publishes the EventCount metrics the alarm reads.
    expect(esm[1].Properties.MetricsConfig).toEqual({ Metrics: ['EventCount'] });
    const alarms = Object.values(t.findResources('AWS::CloudWatch::Alarm')).map((a: any) => a.Properties);
    // S3's PutRequests counts every HTTP PUT on an object, PutObjectTagging (the redrive's reput tag) included.
    expect(alarms.filter((a) => a.Namespace === 'AWS/S3')).toEqual([]);
    expect(alarms.find((a) => a.MetricName === 'OnFailureDestinationDeliveredEventCount')).toMatchObject({
      Namespace: 'AWS/Lambda', Statistic: 'Sum', Threshold: 0, ComparisonOperator: 'GreaterThanThreshold',
      Dimensions: [{ Name: 'EventSourceMappingUUID', Value: { Ref: esm[0] } }],
    });
  });

  test('an S3 failure bucket without its mapping id is rejected: the alarm would have nothing to count', () => {
    const stack = new Stack(newApp(), 'C');
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    const stream = new kinesis.Stream(stack, 'Stream', { encryptionKey: key, encryption: kinesis.StreamEncryption.KMS });
    const fn = userFunction(stack, 'Fn', 'exports.handler=async()=>({})', 'index.handler');
    const consumer = new StreamConsumer(stack, 'Consumer', { function: fn, stream, encryptionKey: key });
    const m = new PipelineMonitor(stack, 'Monitor', { encryptionKey: key });
    expect(() => m.addConsumer('Processor', { function: fn, maxRecordAge: consumer.maxRecordAge, failureBucket: consumer.failureBucket }))
      .toThrow(/`failureBucket` \(consumer 'Processor'\) needs `eventSourceMappingId`/);
  });

  test('the mapping keeps the metrics it already publishes and adds EventCount', () => {
    const stack = new Stack(newApp(), 'C');
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    const bucket = new s3.Bucket(stack, 'B', { encryptionKey: key });
    const fn = userFunction(stack, 'Fn', 'exports.handler=async()=>({})', 'index.handler');
    fn.addEventSourceMapping('M', {
      eventSourceArn: 'arn:aws:kinesis:eu-west-1:111122223333:stream/s', startingPosition: lambda.StartingPosition.LATEST,
      onFailure: new S3FailureDestination(bucket), metricsConfig: { metrics: [lambda.MetricType.ERROR_COUNT] },
    });
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::EventSourceMapping', { MetricsConfig: { Metrics: ['ErrorCount', 'EventCount'] } });
  });

  /** The statements of the policy attached to the role of the function whose logical id starts with `prefix`. */
  function statementsOf(t: Template, prefix: string): any[] {
    const policies = Object.entries(t.findResources('AWS::IAM::Policy')).filter(([id]) => id.startsWith(prefix));
    expect(policies).toHaveLength(1);
    return (policies[0][1] as any).Properties.PolicyDocument.Statement;
  }

  test('the S3 destination grants the consumer only PutObject, ListBucket and GenerateDataKey on it', () => {
    const t = build();
    const onBucket = statementsOf(t, 'FnServiceRole').filter((s) => JSON.stringify(s.Resource).includes('ConsumerFailures'));
    expect(onBucket.map((s) => s.Action)).toEqual(['s3:PutObject', 's3:ListBucket']);
    expect(onBucket[0].Resource['Fn::Join'][1][1]).toBe('/*');
    const kmsActions = statementsOf(t, 'FnServiceRole').filter((s) => JSON.stringify(s.Action).includes('kms:')).map((s) => s.Action);
    // GenerateDataKey for the failure objects; Decrypt comes from reading the KMS stream.
    expect(kmsActions.flat().sort()).toEqual(['kms:Decrypt', 'kms:GenerateDataKey']);
    expect(JSON.stringify(statementsOf(t, 'FnServiceRole'))).not.toMatch(/s3:(GetObject|DeleteObject|Abort)|ReEncrypt/);
  });

  test('the SQS destination grants only SendMessage and the queue key\'s Decrypt and GenerateDataKey', () => {
    const stack = new Stack(newApp(), 'Q');
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    const stream = new kinesis.Stream(stack, 'Stream');
    const fn = userFunction(stack, 'Fn');
    const queue = new sqs.Queue(stack, 'Dlq', { encryptionMasterKey: key });
    const consumer = new StreamConsumer(stack, 'C', { function: fn, stream, encryptionKey: key, failureDestination: FailureDestination.SQS, failureQueue: queue });
    expect(consumer.redriveFunction).toBeUndefined();
    const statements = statementsOf(Template.fromStack(stack), 'FnServiceRole');
    expect(statements.filter((s) => JSON.stringify(s.Resource).includes('Dlq')).map((s) => s.Action)).toEqual(['sqs:SendMessage']);
    expect(statements.filter((s) => JSON.stringify(s.Resource).includes('Key')).map((s) => s.Action)).toEqual([['kms:Decrypt', 'kms:GenerateDataKey']]);
  });

  test('a redrive function sits next to the S3 destination, with exactly the calls it makes', () => {
    const t = build();
    const fns = Object.entries(t.findResources('AWS::Lambda::Function')).filter(([id]) => id.startsWith('ConsumerRedrive'));
    expect(fns).toHaveLength(1);
    const fn = fns[0][1] as any;
    expect(fn.Properties.Environment.Variables).toEqual({ STREAM_ARN: { 'Fn::GetAtt': [expect.stringMatching(/^Stream/), 'Arn'] }, PUT_CONCURRENCY: '4' });
    expect(fn.Properties.Timeout).toBe(900);
    const statements = statementsOf(t, 'ConsumerRedriveFunctionRole');
    const actions = statements.map((s) => s.Action);
    expect(actions).toEqual(expect.arrayContaining([
      's3:ListBucket',
      ['s3:GetObject', 's3:GetObjectTagging', 's3:PutObjectTagging'],
      ['kinesis:PutRecords', 'kinesis:GetShardIterator', 'kinesis:GetRecords'],
    ]));
    expect(JSON.stringify(actions)).not.toMatch(/DeleteObject|s3:PutObject"|ReEncrypt|\*"/);
    // No notification wiring: a record failing again would land in a new object and loop.
    t.resourceCountIs('Custom::S3BucketNotifications', 0);
    t.resourcePropertiesCountIs('AWS::Lambda::Permission', { Principal: 's3.amazonaws.com' }, 0);
  });

  test('redrive: false leaves the redrive function out', () => {
    const t = build({ redrive: false });
    expect(Object.keys(t.findResources('AWS::Lambda::Function')).filter((id) => id.startsWith('ConsumerRedrive'))).toEqual([]);
  });

  describe('record age follows the stream\'s retention', () => {
    const hoursAgo = (h: number) => new Date(Date.now() - h * 3_600_000);
    const ageOf = (t: Template) => (Object.values(t.findResources('AWS::Lambda::EventSourceMapping'))[0] as any).Properties.MaximumRecordAgeInSeconds;

    test('a backfill consumer (startingAt) on a 14-day stream has no age limit (-1), and finite retries', () => {
      build({ startingAt: hoursAgo(10 * 24) }, false, Duration.days(14)).hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        StartingPosition: 'AT_TIMESTAMP', MaximumRecordAgeInSeconds: -1, MaximumRetryAttempts: 5, BisectBatchOnFunctionError: true,
        DestinationConfig: { OnFailure: Match.anyValue() },
      });
    });

    test('a backfill consumer on a 7-day stream keeps records up to the retention (604800 s), not 24 h', () => {
      expect(ageOf(build({ startingAt: hoursAgo(72) }, false, Duration.days(7)))).toBe(604800);
    });

    test('an ordinary consumer keeps every retained record: 3-day stream -> 259200 s; 30-day stream -> no limit', () => {
      expect(ageOf(build({}, false, Duration.days(3)))).toBe(259200);
      expect(ageOf(build({}, false, Duration.days(30)))).toBe(-1);
    });

    test('the age is read from an IngestStream, and given for an imported stream (streamRetention)', () => {
      const stack = new Stack(newApp(), 'I');
      const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
      const fn = (id: string) => userFunction(stack, id);
      const ingest = new IngestStream(stack, 'Ingest', { encryptionKey: key, retention: Duration.days(5) });
      const own = new StreamConsumer(stack, 'Own', { function: fn('F1'), stream: ingest.stream, encryptionKey: key });
      const imported = kinesis.Stream.fromStreamArn(stack, 'Imported', 'arn:aws:kinesis:eu-west-1:111111111111:stream/s');
      const given = new StreamConsumer(stack, 'Given', { function: fn('F2'), stream: imported, encryptionKey: key, streamRetention: Duration.days(2) });
      const unknown = new StreamConsumer(stack, 'Unknown', { function: fn('F3'), stream: imported, encryptionKey: key });
      const backfill = new StreamConsumer(stack, 'Backfill', { function: fn('F4'), stream: imported, encryptionKey: key, startingAt: hoursAgo(30) });
      expect([own, given, unknown, backfill].map((c) => [c.maxRecordAge.toSeconds(), c.recordAgeUnlimited])).toEqual([
        [432000, false], [172800, false], [86400, false], [86400, true],
      ]);
      const ages = Object.values(Template.fromStack(stack).findResources('AWS::Lambda::EventSourceMapping')).map((m: any) => m.Properties.MaximumRecordAgeInSeconds);
      expect(ages).toEqual([432000, 172800, 86400, -1]);
    });

    test('with no age limit, the iterator-age alarm is relative to the retention', () => {
      const t = build({ startingAt: hoursAgo(1) }, true, Duration.days(10));
      const alarm = Object.values(t.findResources('AWS::CloudWatch::Alarm')).map((a: any) => a.Properties).find((a) => a.MetricName === 'IteratorAge');
      expect(alarm.Threshold).toBe(Duration.days(5).toMilliseconds());
    });

    test.each([
      [{ maxRecordAge: Duration.days(2) }, undefined, /`maxRecordAge` \(172800 s\) exceeds the stream's retention \(24 h\)/],
      [{ maxRecordAge: Duration.days(6) }, Duration.days(3), /`maxRecordAge` \(518400 s\) exceeds the stream's retention \(72 h\)/],
      [{ maxRecordAge: Duration.days(10) }, Duration.days(14), /`maxRecordAge` \(864000 s\) must be 60 s-7 days, Lambda's range; leave it unset/],
    ])('rejects %p on a stream retaining %p', (props, retention, error) => {
      expect(() => build(props as Partial<StreamConsumerProps>, false, retention)).toThrow(error);
    });

    test('rejects a streamRetention that differs from the stream\'s own', () => {
      expect(() => build({ streamRetention: Duration.days(7) }, false, Duration.days(3))).toThrow(/`streamRetention` \(168 h\) differs from the stream's own retention \(72 h\)/);
    });

    test('warns when a backfill starts further back than the maxRecordAge it sets', () => {
      const stack = new Stack(newApp(), 'W');
      const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
      const stream = new kinesis.Stream(stack, 'Stream', { retentionPeriod: Duration.days(7) });
      const fn = userFunction(stack, 'Fn');
      new StreamConsumer(stack, 'Backfill', { function: fn, stream, encryptionKey: key, startingAt: hoursAgo(30), maxRecordAge: Duration.hours(24) });
      Annotations.fromStack(stack).hasWarning('/W/Backfill', Match.stringLikeRegexp('older than maxRecordAge \\(1 day\\): the start of the window goes to the failure destination'));
    });
  });

  test('startingAt makes a temporary consumer that reads from an arrival time inside retention', () => {
    const start = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3_600_000);
    build({ startingAt: start }).hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      StartingPosition: 'AT_TIMESTAMP', StartingPositionTimestamp: start.getTime() / 1000,
    });
    expect(() => build({ startingAt: new Date(Date.now() + 3_600_000) })).toThrow(/`startingAt` \(.*\) is in the future/);
    expect(() => build({ startingAt: new Date('2026-11-01T06:00:00Z'), startingPosition: lambda.StartingPosition.LATEST })).toThrow(/`startingAt` cannot be combined with `startingPosition`/);
  });
});

describe('redrive target', () => {
  function lakeLike(redriveInto?: 'replays') {
    const stack = new Stack(newApp(), 'R');
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    const stream = new kinesis.Stream(stack, 'Stream', { encryptionKey: key, encryption: kinesis.StreamEncryption.KMS });
    const replays = new kinesis.Stream(stack, 'Replays', { encryptionKey: key, encryption: kinesis.StreamEncryption.KMS });
    // A Firehose delivery reading the stream, as a lake's curated and archive deliveries do.
    new CfnDeliveryStream(stack, 'Delivery', {
      deliveryStreamType: 'KinesisStreamAsSource',
      kinesisStreamSourceConfiguration: { kinesisStreamArn: stream.streamArn, roleArn: 'arn:aws:iam::111122223333:role/r' },
      extendedS3DestinationConfiguration: { bucketArn: 'arn:aws:s3:::b', roleArn: 'arn:aws:iam::111122223333:role/r' },
    });
    const consumer = new StreamConsumer(stack, 'Consumer', {
      function: userFunction(stack, 'Fn'), stream, encryptionKey: key, redriveInto: redriveInto ? replays : undefined,
    });
    return { stack, consumer, stream, replays };
  }
  const stackIds = (s: Stack, target: kinesis.Stream) => s.resolve(target.streamArn);

  test('by default the redrive puts back into the consumed stream, and synth warns when a Firehose delivery reads it (the redriven records would be stored twice)', () => {
    const { stack, stream } = lakeLike();
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: { STREAM_ARN: stackIds(stack, stream) } } });
    Annotations.fromStack(stack).hasWarning('/R/Consumer', Match.stringLikeRegexp('redrive puts failed batches back into a stream that R/Delivery also read'));
  });

  test('redriveInto sends failed batches to a stream no delivery reads: put there, read back only from the source, no warning', () => {
    const { stack, stream, replays } = lakeLike('replays');
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: { STREAM_ARN: stackIds(stack, replays) } } });
    const [, redriveRole] = Object.entries(t.findResources('AWS::IAM::Policy')).find(([id]) => id.startsWith('ConsumerRedrive'))!;
    const statements = (redriveRole as any).Properties.PolicyDocument.Statement;
    const on = (resource: unknown) => statements.filter((s: any) => JSON.stringify(s.Resource) === JSON.stringify(resource)).flatMap((s: any) => [s.Action].flat());
    expect(on(stack.resolve(replays.streamArn))).toEqual(['kinesis:PutRecords']);
    expect(on(stack.resolve(stream.streamArn)).sort()).toEqual(['kinesis:GetRecords', 'kinesis:GetShardIterator']);
    expect(Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('redrive puts failed batches'))).toEqual([]);
  });
});

test('more than 20 enhanced fan-out consumers on one stream warn once (RegisterStreamConsumer\'s limit); 20 do not', () => {
  const warnings = (n: number) => {
    const stack = new Stack(newApp(), 'F');
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    const stream = new kinesis.Stream(stack, 'Stream', { encryptionKey: key, encryption: kinesis.StreamEncryption.KMS });
    const accessLogs = new AccessLogBucket(stack, 'Logs').bucket;
    for (let i = 0; i < n; i++) new StreamConsumer(stack, `C${i}`, { function: userFunction(stack, `Fn${i}`), stream, encryptionKey: key, enhancedFanOut: true, accessLogs, redrive: false });
    return Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('enhanced fan-out consumers are registered on one stream'));
  };
  expect(warnings(20)).toHaveLength(0);
  const over = warnings(21);
  expect(over).toHaveLength(1);
  expect(over[0].entry.data).toMatch(/^21 enhanced fan-out consumers .* at most 20 per provisioned or On-demand Standard stream/);
});
