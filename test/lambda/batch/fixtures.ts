import { createHash } from 'crypto';
import * as protobuf from 'protobufjs';

/** Test fixtures shaped exactly as Lambda's event-source mappings deliver batches. */

export const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64');

export interface KinesisInput { data: string; partitionKey?: string; seq?: string; shard?: string }

export function kinesisEvent(records: KinesisInput[]): unknown {
  return {
    Records: records.map((r, i) => {
      const seq = r.seq ?? String(49590338271490256608559692538361571095921575989136588898n + BigInt(i));
      const shard = r.shard ?? 'shardId-000000000000';
      return {
        eventSource: 'aws:kinesis', eventVersion: '1.0', eventID: `${shard}:${seq}`, eventName: 'aws:kinesis:record',
        eventSourceARN: 'arn:aws:kinesis:us-east-1:111122223333:stream/s', awsRegion: 'us-east-1',
        kinesis: { kinesisSchemaVersion: '1.0', partitionKey: r.partitionKey ?? 'k', sequenceNumber: seq, data: r.data, approximateArrivalTimestamp: 1700000000 },
      };
    }),
  };
}

export function sqsEvent(bodies: { body: string; id?: string; group?: string }[], fifo = false): unknown {
  return {
    Records: bodies.map((m, i) => ({
      messageId: m.id ?? `m${i}`, receiptHandle: 'r', body: m.body, md5OfBody: '', eventSource: 'aws:sqs', awsRegion: 'us-east-1',
      eventSourceARN: `arn:aws:sqs:us-east-1:111122223333:q${fifo ? '.fifo' : ''}`,
      attributes: fifo ? { MessageGroupId: m.group ?? 'g', SequenceNumber: String(i), MessageDeduplicationId: String(i) } : { ApproximateReceiveCount: '1' },
      messageAttributes: {},
    })),
  };
}

export function kafkaEvent(byPartition: Record<string, { offset: number; value: string; key?: string }[]>): unknown {
  const records: Record<string, unknown[]> = {};
  for (const [tp, list] of Object.entries(byPartition)) {
    const idx = tp.lastIndexOf('-');
    records[tp] = list.map((r) => ({ topic: tp.slice(0, idx), partition: Number(tp.slice(idx + 1)), offset: r.offset, timestamp: 1700000000000, timestampType: 'CREATE_TIME', key: r.key, value: r.value, headers: [] }));
  }
  return { eventSource: 'aws:kafka', eventSourceArn: 'arn:aws:kafka:us-east-1:111122223333:cluster/c/x', bootstrapServers: 'b-1:9098', records };
}

const KPL_PROTO = `
syntax = "proto2";
message AggregatedRecord { repeated string partition_key_table = 1; repeated string explicit_hash_key_table = 2; repeated Record records = 3; }
message Tag { required string key = 1; optional string value = 2; }
message Record { required uint64 partition_key_index = 1; optional uint64 explicit_hash_key_index = 2; required bytes data = 3; repeated Tag tags = 4; }
`;
const AggregatedRecord = protobuf.parse(KPL_PROTO).root.lookupType('AggregatedRecord');

/** A KPL aggregate built with protobufjs from the published schema (independent of our decoder). */
export function kplAggregate(records: { partitionKey: string; data: Buffer | string }[]): Buffer {
  const keys = [...new Set(records.map((r) => r.partitionKey))];
  const message = AggregatedRecord.create({
    partitionKeyTable: keys,
    records: records.map((r) => ({ partitionKeyIndex: keys.indexOf(r.partitionKey), data: Buffer.isBuffer(r.data) ? r.data : Buffer.from(r.data) })),
  });
  const body = Buffer.from(AggregatedRecord.encode(message).finish());
  return Buffer.concat([Buffer.from([0xf3, 0x89, 0x9a, 0xc2]), body, createHash('md5').update(body).digest()]);
}
