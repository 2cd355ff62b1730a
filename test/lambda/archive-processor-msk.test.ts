/**
 * The archive processor on an MSK-sourced delivery stream. Firehose hands an MSK record to the
 * transformation Lambda as `kafkaRecordValue` with `mskRecordMetadata` {offset, partitionId,
 * approximateArrivalTimestamp} (AWS's own event model: aws/aws-lambda-java-libs
 * `MSKFirehoseEvent`), and wants the answer in `kafkaRecordValue` too. The record key, the
 * headers and the topic are not in the event.
 */
import { parseConfig, processBatch, type ArchiveSourceRecord } from '../../lambda/archive-processor/core';
import { bucketLabel, bucketOf, decodeArchiveObject, DEFAULT_ARCHIVE_BUCKETS } from '../../lambda/shared/archive-format';

const ARRIVAL = Date.UTC(2024, 5, 1, 10, 15, 30, 123);
const CONFIG = parseConfig({ ARCHIVE_BUCKETS: '16', KAFKA_TOPIC: 'orders' });

/** One record exactly as an MSK-sourced Firehose stream invokes its processor. */
function mskRecord(i: number, payload: string, meta: Record<string, unknown> = {}): ArchiveSourceRecord {
  return {
    recordId: `0000000000000000000000000000000000000000000000000000000000000${i}`,
    approximateArrivalTimestamp: ARRIVAL + 5000,
    mskRecordMetadata: { offset: String(100 + i), partitionId: '3', approximateArrivalTimestamp: ARRIVAL, ...meta },
    kafkaRecordValue: Buffer.from(payload).toString('base64'),
  };
}

describe('archive processor, MSK input', () => {
  test('archives an MSK record: answer in kafkaRecordValue, offset as sequence number, topic-partition as shard', () => {
    const out = processBatch([mskRecord(1, '{"event_id":"e1"}')], CONFIG);
    expect(out.failed).toBe(0);
    const r = out.records[0];
    expect(r.result).toBe('Ok');
    expect(r.data).toBeUndefined();
    const [line] = decodeArchiveObject(Buffer.from(r.kafkaRecordValue!, 'base64').toString('utf8'));
    expect(line).toEqual({
      partition_key: '3',
      sequence_number: '101',
      sub_sequence_number: 0,
      approximate_arrival_timestamp: ARRIVAL,
      shard_id: 'orders-3',
      data: Buffer.from('{"event_id":"e1"}').toString('base64'),
    });
    // One lane per Kafka partition: records of a partition (and so of a key) replay in order.
    expect(r.metadata?.partitionKeys).toEqual({ dt: '2024-06-01', hour: '10', bucket: bucketLabel(bucketOf('3', DEFAULT_ARCHIVE_BUCKETS)) });
  });

  test('falls back to the record-level arrival time when the metadata has none', () => {
    const out = processBatch([mskRecord(1, 'x', { approximateArrivalTimestamp: undefined })], CONFIG);
    const [line] = decodeArchiveObject(Buffer.from(out.records[0].kafkaRecordValue!, 'base64').toString('utf8'));
    expect(line.approximate_arrival_timestamp).toBe(ARRIVAL + 5000);
  });

  test.each([
    ['no metadata', { mskRecordMetadata: undefined }, 'missing_msk_metadata'],
    ['a non-numeric offset', { mskRecordMetadata: { offset: 'x', partitionId: '3', approximateArrivalTimestamp: ARRIVAL } }, 'invalid_kafka_offset'],
    ['a missing partition', { mskRecordMetadata: { offset: '1', approximateArrivalTimestamp: ARRIVAL } }, 'invalid_kafka_partition'],
    ['a negative partition', { mskRecordMetadata: { offset: '1', partitionId: '-1', approximateArrivalTimestamp: ARRIVAL } }, 'invalid_kafka_partition'],
    ['bad base64', { kafkaRecordValue: 'no*base64' }, 'invalid_base64'],
  ])('fails a record with %s, answering its original value in kafkaRecordValue', (_what, change, reason) => {
    const record = { ...mskRecord(1, 'x'), ...change } as ArchiveSourceRecord;
    const out = processBatch([record], CONFIG);
    expect(out.reasons[0]).toBe(reason);
    expect(out.records[0]).toEqual({ recordId: record.recordId, result: 'ProcessingFailed', kafkaRecordValue: record.kafkaRecordValue });
  });

  test('fails MSK records when the function was not told the topic (the archive line would not name it)', () => {
    const out = processBatch([mskRecord(1, 'x')], parseConfig({}));
    expect(out.reasons[0]).toBe('missing_kafka_topic');
  });

  test('refuses a topic name Kafka would not accept, at init', () => {
    expect(() => parseConfig({ KAFKA_TOPIC: 'a b' })).toThrow(/KAFKA_TOPIC/);
  });

  test('Kinesis records in the same configuration still archive as before', () => {
    const out = processBatch([{
      recordId: 'k', data: Buffer.from('y').toString('base64'),
      kinesisRecordMetadata: { shardId: 'shardId-000000000001', partitionKey: 'u', approximateArrivalTimestamp: ARRIVAL, sequenceNumber: '1', subsequenceNumber: '' },
    }], CONFIG);
    expect(out.records[0].result).toBe('Ok');
    expect(out.records[0].data).toBeDefined();
    expect(out.records[0].kafkaRecordValue).toBeUndefined();
  });
});
