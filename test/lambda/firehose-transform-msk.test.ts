/**
 * The curated zone's transform on an MSK-sourced delivery stream, fed the event exactly as AWS
 * models it (aws/aws-lambda-java-libs `MSKFirehoseEvent`): `sourceMSKArn` on the event, and per
 * record `kafkaRecordValue` with `mskRecordMetadata` {offset, partitionId, approximateArrivalTimestamp}.
 */
import * as path from 'path';
import type { FirehoseTransformEvent, FirehoseTransformResponse } from '../../lambda/firehose-transform/index';
import { coldRequire, onlyEnv } from '../support/cold-start';

type Handler = (event: FirehoseTransformEvent) => Promise<FirehoseTransformResponse>;
const ENV = {
  EVENT_TIME_FIELD: 'ts', EVENT_TIME_FORMAT: 'iso8601', EVENT_TIME_GRANULARITY: 'day',
  EVENT_TIME_PROJECTION_START: '2020-01-01', EVENT_TIME_MAX_FUTURE_SECONDS: '3600', PARTITION_FIELDS: '{}', FLATTEN_FIELDS: '{}',
};
const b64 = (s: string): string => Buffer.from(s).toString('base64');
const CLUSTER = 'arn:aws:kafka:eu-west-1:123456789012:cluster/orders/de8982fa-8222-4e87-8b20-9bf3cdfa1521-2';

describe('firehose-transform, MSK input', () => {
  let log: jest.SpyInstance;
  beforeEach(() => { log = jest.spyOn(console, 'log').mockImplementation(() => undefined); });
  afterEach(() => log.mockRestore());

  test('transforms the documented MSK record shape and answers in kafkaRecordValue, logging the cluster', async () => {
    const handler = coldRequire<{ handler: Handler }>(path.join(__dirname, '..', '..', 'lambda', 'firehose-transform', 'index'), onlyEnv(Object.keys(ENV), ENV)).handler;
    const response = await handler({
      invocationId: 'inv', deliveryStreamArn: 'arn:aws:firehose:eu-west-1:123456789012:deliverystream/curated', sourceMSKArn: CLUSTER, region: 'eu-west-1',
      records: [
        { recordId: 'r0', approximateArrivalTimestamp: 1716369573887, mskRecordMetadata: { offset: '0', partitionId: '1', approximateArrivalTimestamp: 1716369573887 }, kafkaRecordValue: b64('{"ts":"2024-05-22T09:19:33Z"}') },
        { recordId: 'r1', approximateArrivalTimestamp: 1716369573887, mskRecordMetadata: { offset: '1', partitionId: '1', approximateArrivalTimestamp: 1716369573887 }, kafkaRecordValue: b64('not json') },
      ],
    });
    expect(response.records).toEqual([
      { recordId: 'r0', result: 'Ok', kafkaRecordValue: b64('{"ts":"2024-05-22T09:19:33.000Z"}\n'), metadata: { partitionKeys: { dt: '2024-05-22' } } },
      { recordId: 'r1', result: 'ProcessingFailed', kafkaRecordValue: b64('not json') },
    ]);
    expect(response.records.every((r) => r.data === undefined)).toBe(true);
    expect(JSON.parse(log.mock.calls[0][0] as string)).toMatchObject({ sourceMSKArn: CLUSTER, records: 2, ok: 1, failed: 1 });
  });
});
