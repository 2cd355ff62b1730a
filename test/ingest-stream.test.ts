import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import { IngestStream } from '../lib';

describe('capacity planning: shards = ceil(max(MiB/s, rec/s / 1000) x 1.25)', () => {
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
  });

  test('no intent plans on-demand', () => {
    expect(IngestStream.planCapacity()).toEqual({ mode: kinesis.StreamMode.ON_DEMAND, writeBytesPerSecond: 4 * 1024 * 1024 });
  });

  test('a spiky intent plans on-demand whatever its size', () => {
    expect(IngestStream.planCapacity({ recordsPerSecond: 50000, averageRecordBytes: 500, spiky: true }).mode).toBe(kinesis.StreamMode.ON_DEMAND);
  });
});
