import { Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as kms from 'aws-cdk-lib/aws-kms';
import { IngestStream, StreamConsumer, ThroughputIntent } from '../lib';
import { userFunction } from './support/template';
import { newApp } from './support/nag';

describe('capacity planning: shards = ceil(max(MiB/s, rec/s / 1000, polling readers x MiB/s / 2) x 1.25)', () => {
  test.each([
    // recordsPerSecond, averageRecordBytes, shards
    [1, 100, 1], // floor of one shard
    [1000, 1024, 2], // 1 by records, 0.98 by bytes -> ceil(1.25)
    [800, 1024, 1], // 0.8 x 1.25 = 1.0
    [5000, 1024, 7], // 5 by records
    [100, 1024 * 1024, 125], // 100 MiB/s by bytes
    [20000, 100, 25], // record-bound: 20 x 1.25
  ])('%d rec/s of %d bytes -> %d provisioned shards', (recordsPerSecond, averageRecordBytes, shards) => {
    const plan = IngestStream.planCapacity({ recordsPerSecond, averageRecordBytes });
    expect(plan.mode).toBe(kinesis.StreamMode.PROVISIONED);
    expect(plan.shards).toBe(shards);
    expect(plan.writeBytesPerSecond).toBe(shards * 1024 * 1024);
    expect(plan.readBytesPerSecond).toBe(shards * 2 * 1024 * 1024);
  });

  test.each([
    // readers, shards for 1,000 rec/s of 4 KiB (3.9 MiB/s)
    [1, 5], // writes: 3.9 x 1.25
    [2, 5], // two readers read 7.8 MiB/s: exactly what 3.9 shards serve
    [3, 8], // 3 x 3.9 / 2 = 5.9 -> x 1.25 = 7.3
    [4, 10], // 7.8 x 1.25 = 9.8
  ])('%d polling readers of 1,000 rec/s of 4 KiB -> %d shards', (readers, shards) => {
    const plan = IngestStream.planCapacity({ recordsPerSecond: 1000, averageRecordBytes: 4096 }, readers);
    expect(plan.shards).toBe(shards);
    expect(plan.pollingReaders).toBe(readers);
  });

  test('no intent plans on-demand', () => {
    expect(IngestStream.planCapacity()).toEqual({ mode: kinesis.StreamMode.ON_DEMAND, writeBytesPerSecond: 4 * 1024 * 1024, readBytesPerSecond: 8 * 1024 * 1024, pollingReaders: 1 });
  });

  test('a spiky intent plans on-demand whatever its size', () => {
    expect(IngestStream.planCapacity({ recordsPerSecond: 50000, averageRecordBytes: 500, spiky: true }).mode).toBe(kinesis.StreamMode.ON_DEMAND);
  });
});

describe('IngestStream counts its polling readers', () => {
  function stackWith(throughput: ThroughputIntent | undefined, consumers: boolean[]): { stack: Stack; ingest: IngestStream } {
    const stack = new Stack(newApp(), 'S');
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    const ingest = new IngestStream(stack, 'Ingest', { encryptionKey: key, throughput });
    consumers.forEach((efo, i) => {
      const fn = userFunction(stack, `Fn${i}`);
      new StreamConsumer(stack, `Consumer${i}`, { function: fn, stream: ingest.stream, encryptionKey: key, enhancedFanOut: efo, redrive: false });
    });
    return { stack, ingest };
  }
  const intent = { recordsPerSecond: 1000, averageRecordBytes: 4096 };

  test('polling consumers added after the stream raise its shard count; enhanced fan-out ones do not', () => {
    const { stack, ingest } = stackWith(intent, [false, false, false, true]);
    expect(ingest.pollingReaders).toEqual([0, 1, 2].map((i) => expect.stringMatching(new RegExp(`^S/Fn${i}/KinesisEventSource`))));
    expect(ingest.capacity.shards).toBe(8);
    expect(ingest.writeCapacityBytesPerSecond).toBe(5 * 1024 * 1024);
    Template.fromStack(stack).hasResourceProperties('AWS::Kinesis::Stream', { ShardCount: 8 });
  });

  test('otherPollingReaders counts readers outside the app', () => {
    const { stack } = stackWith({ ...intent, otherPollingReaders: 3 }, []);
    Template.fromStack(stack).hasResourceProperties('AWS::Kinesis::Stream', { ShardCount: 8 });
    expect(() => stackWith({ ...intent, otherPollingReaders: -1 }, [])).toThrow(/`throughput.otherPollingReaders` \(-1\) must be a whole number of readers/);
  });

  test('an on-demand stream warns above two polling readers, naming them', () => {
    const two = stackWith(undefined, [false, false, true]).stack;
    Annotations.fromStack(two).hasNoWarning('*', Match.stringLikeRegexp('on-demand'));
    const three = stackWith(undefined, [false, false, false]).stack;
    Annotations.fromStack(three).hasWarning('/S/Ingest', Match.stringLikeRegexp('^3 polling readers \\(S/Fn0/.*\\) each read every byte written, but an on-demand stream reads only twice its write capacity'));
  });

  test('more than five polling readers warn whatever the mode: GetRecords is 5 calls per shard per second', () => {
    const { stack } = stackWith(intent, [false, false, false, false, false, false]);
    Annotations.fromStack(stack).hasWarning('/S/Ingest', Match.stringLikeRegexp('^6 polling readers .* share each shard\'s 5 GetRecords calls per second'));
    Template.fromStack(stack).hasResourceProperties('AWS::Kinesis::Stream', { ShardCount: 15 });
  });

  test('of() finds the IngestStream of its stream only', () => {
    const { stack, ingest } = stackWith(undefined, []);
    expect(IngestStream.of(ingest.stream)).toBe(ingest);
    expect(IngestStream.of(new kinesis.Stream(stack, 'Plain', { retentionPeriod: Duration.days(1) }))).toBeUndefined();
  });
});
