import { Duration, Size, Stack } from 'aws-cdk-lib';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as firehose from 'aws-cdk-lib/aws-kinesisfirehose';
import { exampleSchema } from '../bin/examples';
import { EventTimeFormat, ObjectLockMode, StreamingLake, StreamingLakeProps } from '../lib';
import { newApp } from './support/nag';

/** Builds a lake from the minimal valid props plus `overrides` and returns the error message, if any. */
function lake(overrides: Partial<StreamingLakeProps>): () => void {
  return () => {
    const stack = new Stack(newApp(), 'V');
    new StreamingLake(stack, 'Lake', { schema: exampleSchema, eventTime: { field: 'event_time' }, ...overrides });
  };
}

describe('synth-time validation names the prop and the rule', () => {
  test('event-time field not in the schema', () => {
    expect(lake({ eventTime: { field: 'occurred_at' } })).toThrow(/`eventTime.field` \('occurred_at'\) is not a column of `schema`/);
  });

  test('partition field not in the schema', () => {
    expect(lake({ partitionKeys: [{ field: 'tenant' }, { field: 'country' }] })).toThrow(/`partitionKeys\[1\].field` \('country'\) is not a column of `schema`/);
  });

  test('partition key that duplicates a column name', () => {
    expect(lake({ partitionKeys: [{ field: 'region', name: 'region' }] })).toThrow(/`partitionKeys\[0\].name` \('region'\) duplicates a column of `schema`/);
  });

  test('schema column named like an event-time partition column', () => {
    expect(lake({ schema: [...exampleSchema, { name: 'dt', type: glue.Schema.STRING }] })).toThrow(/`schema` has a column named 'dt'/);
  });

  test('buffer size below 64 MiB', () => {
    expect(lake({ bufferingSize: Size.mebibytes(32) })).toThrow(/`bufferingSize` \(32 MiB\) must be 64-128 MiB/);
  });

  test('buffer interval below 60 s', () => {
    expect(lake({ bufferingInterval: Duration.seconds(30) })).toThrow(/`bufferingInterval` \(30 s\) must be 60-900 s/);
  });

  test('retention under 24 h', () => {
    expect(lake({ retention: Duration.hours(12) })).toThrow(/`retention` \(12 h\) must be between 24 h and 8,760 h/);
  });

  test('retention over 8,760 h', () => {
    expect(lake({ retention: Duration.days(366) })).toThrow(/`retention` \(8784 h\) must be between 24 h and 8,760 h/);
  });

  test('throughput intent together with an existing stream', () => {
    expect(() => {
      const stack = new Stack(newApp(), 'V');
      const stream = kinesis.Stream.fromStreamArn(stack, 'S', 'arn:aws:kinesis:us-east-1:111122223333:stream/s');
      new StreamingLake(stack, 'Lake', { schema: exampleSchema, eventTime: { field: 'event_time' }, stream, throughput: { recordsPerSecond: 10, averageRecordBytes: 100 } });
    }).toThrow(/`throughput` cannot be combined with `stream`/);
  });

  test('enum projections whose worst case exceeds 500 active partitions, with the numbers', () => {
    const values = (n: number, p: string) => Array.from({ length: n }, (_, i) => `${p}${i}`);
    expect(lake({ partitionKeys: [{ field: 'region', values: values(16, 'r') }, { field: 'tenant', values: values(16, 't') }] }))
      .toThrow(/enum values allow 256 combinations x 2 event-time slots per buffer = 512 active partitions, over Firehose's quota of 500/);
  });

  test('a raised partition quota admits the same enums', () => {
    const values = (n: number, p: string) => Array.from({ length: n }, (_, i) => `${p}${i}`);
    expect(lake({ maxActivePartitions: 5000, partitionKeys: [{ field: 'region', values: values(16, 'r') }, { field: 'tenant', values: values(16, 't') }] })).not.toThrow();
  });

  test('ZSTD Parquet compression', () => {
    expect(lake({ compression: firehose.ParquetCompression.of('ZSTD') })).toThrow(/`compression` \('ZSTD'\) is not a Parquet codec Firehose can write; use one of SNAPPY, GZIP, UNCOMPRESSED \(there is no ZSTD\)/);
  });

  test('LZO Parquet compression', () => {
    expect(lake({ compression: firehose.ParquetCompression.of('LZO') })).toThrow(/`compression` \('LZO'\)/);
  });

  test('more than 3 partition keys', () => {
    expect(lake({ partitionKeys: ['region', 'tenant', 'event_id', 'device_country'].map((field) => ({ field })) })).toThrow(/`partitionKeys` has 4 keys; at most 3/);
  });

  test('enum values that are not safe S3 path segments', () => {
    expect(lake({ partitionKeys: [{ field: 'region', values: ['us/east'] }] })).toThrow(/`partitionKeys\[0\].values` \('us\/east'\)/);
  });

  test('epoch seconds in a timestamp column, which Firehose would read as millis', () => {
    expect(lake({ schema: [{ name: 'ts', type: glue.Schema.TIMESTAMP }], eventTime: { field: 'ts', format: EventTimeFormat.EPOCH_SECONDS } }))
      .toThrow(/`eventTime.field` has Glue type 'timestamp', which cannot hold epoch_seconds values/);
  });

  test('ISO event time in a numeric column', () => {
    expect(lake({ schema: [{ name: 'ts', type: glue.Schema.BIG_INT }], eventTime: { field: 'ts' } })).toThrow(/`eventTime.field` has Glue type 'bigint'/);
  });

  test('a malformed projection start date', () => {
    expect(lake({ eventTime: { field: 'event_time', projectionStart: '01/01/2024' } })).toThrow(/`eventTime.projectionStart` \('01\/01\/2024'\)/);
  });

  test('a flattened column that is not in the schema', () => {
    expect(lake({ transform: { flatten: { os_name: 'device.os' } } })).toThrow(/`transform.flatten.os_name` \('os_name'\) is not a column of `schema`/);
  });

  test('lifecycle tiers out of order', () => {
    expect(lake({ lifecycle: { infrequentAccessAfter: Duration.days(90), archiveAfter: Duration.days(60) } })).toThrow(/`lifecycle.archiveAfter` \(60 days\) must come after infrequentAccessAfter \(90 days\)/);
  });

  test('raw-zone lifecycle tiers too early, or outlived by the Object Lock retention, are rejected by the archive bucket', () => {
    expect(lake({ rawLifecycle: { infrequentAccessAfter: Duration.days(10) } })).toThrow(/infrequentAccessAfter` \(10 days\) must be at least 30 days/);
    expect(lake({ rawObjectLockRetention: Duration.days(400), rawLifecycle: { expireAfter: Duration.days(200) } })).toThrow(/expireAfter` \(200 days\) is shorter than the Object Lock retention \(400 days\)/);
  });

  // Known lib gap: the lake's raw zone is now a ReplayArchive, whose SecureBucket reports the ReplayArchive's own
  // prop name (`lifecycle.*`) instead of the lake's (`rawLifecycle.*`). These assert the right prop name and are
  // marked failing until the lib passes it through; turn them back into plain tests then.
  test('raw-zone lifecycle errors name `rawLifecycle`, the prop the user set', () => {
    expect(lake({ rawLifecycle: { infrequentAccessAfter: Duration.days(10) } })).toThrow(/`rawLifecycle.infrequentAccessAfter` \(10 days\) must be at least 30 days/);
  });

  test('raw-zone expiry shorter than the Object Lock retention names `rawLifecycle.expireAfter`', () => {
    expect(lake({ rawObjectLockRetention: Duration.days(400), rawLifecycle: { expireAfter: Duration.days(200) } })).toThrow(/`rawLifecycle.expireAfter` \(200 days\) is shorter than the Object Lock retention \(400 days\)/);
  });

  test.each([
    ['rawObjectLockRetention', { rawObjectLockRetention: Duration.days(30) }],
    ['rawObjectLockMode', { rawObjectLockMode: ObjectLockMode.COMPLIANCE }],
    ['rawLifecycle', { rawLifecycle: { expireAfter: Duration.days(400) } }],
    ['rawArchiveOptions', { rawArchiveOptions: { lanes: 8 } }],
  ] as [string, Partial<StreamingLakeProps>][])('`%s` with `rawArchive: false`', (prop, props) => {
    const message = new RegExp(`\`${prop}\` needs the raw zone; it cannot be set with \`rawArchive: false\``);
    expect(lake({ rawArchive: false, ...props })).toThrow(message);
  });

  test('raw-zone props are accepted with the raw zone on', () => {
    expect(lake({
      rawObjectLockRetention: Duration.days(30), rawObjectLockMode: ObjectLockMode.COMPLIANCE,
      rawLifecycle: { expireAfter: Duration.days(400) }, rawArchiveOptions: { lanes: 8, writeShare: 0.25 },
    })).not.toThrow();
  });

  // Known lib gap: the lake only passes an Object Lock to its archive when `rawObjectLockRetention` is set, so a mode
  // alone is silently dropped (SecureBucket on its own rejects `objectLockMode` without a retention).
  test('`rawObjectLockMode` without `rawObjectLockRetention`', () => {
    expect(lake({ rawObjectLockMode: ObjectLockMode.COMPLIANCE })).toThrow(/`rawObjectLockMode` needs rawObjectLockRetention/);
  });

  test('raw archive options out of range', () => {
    expect(lake({ rawArchiveOptions: { lanes: 0 } })).toThrow(/`rawArchiveOptions.lanes` \(0\) must be an integer 1-100/);
    expect(lake({ rawArchiveOptions: { lanes: 101 } })).toThrow(/`rawArchiveOptions.lanes` \(101\) must be an integer 1-100/);
    expect(lake({ rawArchiveOptions: { writeShare: 1.5 } })).toThrow(/`rawArchiveOptions.writeShare` \(1.5\) must be in \(0, 1\]/);
    expect(lake({ rawArchiveOptions: { replayTargets: [] } })).toThrow(/`rawArchiveOptions.replayTargets` must list at least one stream/);
  });

  test('a throughput intent with a record over 1 MiB', () => {
    expect(lake({ throughput: { recordsPerSecond: 1, averageRecordBytes: 2 * 1024 * 1024 } })).toThrow(/`throughput.averageRecordBytes` \(2097152\) exceeds the 1 MiB Kinesis record limit/);
  });
});
