/**
 * Independent readers and writers of the KPL aggregation format, for checking
 * lambda/shared/kpl.ts and kpl-encode.ts without their own code: protobufjs
 * with the KPL's published schema, and aws-kinesis-agg (the npm
 * de-aggregator, checksums verified).
 */
import { createHash } from 'node:crypto';
import * as kinesisAgg from 'aws-kinesis-agg';
import * as protobuf from 'protobufjs';

/** The KPL's aggregation schema, as published in amazon-kinesis-producer (aggregation-format.md, messages.proto). */
export const KPL_PROTO = `
syntax = "proto2";
package aws.kinesis.protobuf;

message Tag {
  required string key   = 1;
  optional string value = 2;
}

message Record {
  required uint64 partition_key_index     = 1;
  optional uint64 explicit_hash_key_index = 2;
  required bytes  data                    = 3;
  repeated Tag    tags                    = 4;
}

message AggregatedRecord {
  repeated string partition_key_table     = 1;
  repeated string explicit_hash_key_table = 2;
  repeated Record records                 = 3;
}
`;

/** protobufjs's AggregatedRecord type from KPL_PROTO (snake_case field names kept). */
export const AggregatedRecord = protobuf.parse(KPL_PROTO, { keepCase: true }).root.lookupType('aws.kinesis.protobuf.AggregatedRecord');

/** The four magic bytes that open a KPL aggregate. */
export const MAGIC = Buffer.from([0xf3, 0x89, 0x9a, 0xc2]);

export interface PbTag { key: string; value?: string }
export interface PbRecord { partition_key_index: number; explicit_hash_key_index?: number; data: Buffer; tags?: PbTag[] }
/** An AggregatedRecord as protobufjs reads or writes it (every repeated field may be absent). */
export interface PbAggregate { partition_key_table?: string[]; explicit_hash_key_table?: string[]; records?: PbRecord[] }

/** The KPL's framing around any protobuf bytes: magic, message, MD5 of the message. */
export function frame(message: Uint8Array): Buffer {
  return Buffer.concat([MAGIC, message, createHash('md5').update(message).digest()]);
}

/** A user record as aws-kinesis-agg returns it (data base64). */
export interface AggOutput { partitionKey?: string; explicitPartitionKey?: string; subSequenceNumber?: number; data: string }

/**
 * aws-kinesis-agg's synchronous de-aggregation of a Lambda Kinesis payload, checksums verified.
 * `sequenceNumber` and `arrivalSeconds` are only copied to its output records.
 */
export function deaggregateWithAwsKinesisAgg(
  bytes: Buffer,
  partitionKey: string,
  sequenceNumber = '49590338271490256608559692538361571095921575989136588898',
  arrivalSeconds = 1717236000,
): { error?: string; records: AggOutput[] } {
  let result: { error?: string; records: AggOutput[] } | undefined;
  kinesisAgg.deaggregateSync(
    { data: bytes.toString('base64'), partitionKey, sequenceNumber, approximateArrivalTimestamp: arrivalSeconds, kinesisSchemaVersion: '1.0' },
    true,
    (err, userRecords) => { result = { error: err?.message, records: (userRecords ?? []) as AggOutput[] }; },
  );
  return result!;
}
