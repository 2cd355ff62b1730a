/**
 * Redrive Lambda: adapts S3 notifications or direct invocations to the pure
 * core, with the AWS SDK v3 that the Node.js 22 runtime ships (kept external
 * by the bundler). Configuration is read and clients are created once, at init.
 */
import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  PutRecordsCommand,
  type GetShardIteratorCommandInput,
} from '@aws-sdk/client-kinesis';
import { GetObjectCommand, GetObjectTaggingCommand, PutObjectTaggingCommand, S3Client } from '@aws-sdk/client-s3';
import { listAllKeys } from '../shared/s3-list';
import {
  parseConfig,
  parseRedriveEvent,
  redrive,
  REDRIVE_DONE,
  REDRIVE_TAG,
  type RedriveConfig,
  type RedriveIo,
  type RedriveSummary,
  type ShardReader,
} from './core';

/** S3 reads, listing and tagging for the core. */
export function s3Io(s3: S3Client): Pick<RedriveIo, 'listKeys' | 'getObjectText' | 'isRedriven' | 'tagObject'> {
  return {
    listKeys: (bucket, prefix) => listAllKeys(s3, bucket, prefix),
    async getObjectText(bucket, key) {
      const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      if (!out.Body) throw new Error(`s3://${bucket}/${key} has no body`);
      return out.Body.transformToString('utf-8');
    },
    async isRedriven(bucket, key) {
      const out = await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: key }));
      return (out.TagSet ?? []).some((t) => t.Key === REDRIVE_TAG && t.Value === REDRIVE_DONE);
    },
    async tagObject(bucket, key, tags) {
      // PutObjectTagging replaces the whole set: merge, so tags others rely on (lifecycle, ownership) survive.
      const current = (await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: key }))).TagSet ?? [];
      const merged = new Map(current.filter((t) => t.Key !== undefined).map((t) => [t.Key as string, t.Value ?? '']));
      for (const [k, v] of Object.entries(tags)) merged.set(k, v);
      await s3.send(new PutObjectTaggingCommand({
        Bucket: bucket,
        Key: key,
        Tagging: { TagSet: [...merged].map(([Key, Value]) => ({ Key, Value })) },
      }));
    },
  };
}

export interface KinesisIoOptions {
  /**
   * How the stream is named in GetShardIterator: by `StreamARN` (AWS, works
   * across accounts) or by the name at the end of the ARN (kinesalite, which
   * predates StreamARN parameters).
   * @default 'arn'
   */
  readonly addressing?: 'arn' | 'name';
}

/** PutRecords and the read-back calls for the core. */
export function kinesisIo(kinesis: KinesisClient, options: KinesisIoOptions = {}): Pick<RedriveIo, 'putRecords' | 'shardReader'> {
  const streamOf = (streamArn: string): Pick<GetShardIteratorCommandInput, 'StreamARN' | 'StreamName'> =>
    options.addressing === 'name' ? { StreamName: streamArn.slice(streamArn.lastIndexOf('/') + 1) } : { StreamARN: streamArn };
  const shardReader: ShardReader = {
    async getShardIterator({ streamArn, shardId, sequenceNumber }) {
      const out = await kinesis.send(new GetShardIteratorCommand({
        ...streamOf(streamArn),
        ShardId: shardId,
        ShardIteratorType: 'AT_SEQUENCE_NUMBER',
        StartingSequenceNumber: sequenceNumber,
      }));
      return out.ShardIterator;
    },
    async getRecords(shardIterator) {
      const out = await kinesis.send(new GetRecordsCommand({ ShardIterator: shardIterator }));
      return {
        records: (out.Records ?? []).map((r) => ({
          sequenceNumber: r.SequenceNumber ?? '',
          partitionKey: r.PartitionKey ?? '',
          data: r.Data ?? new Uint8Array(),
        })),
        ...(out.NextShardIterator !== undefined ? { nextShardIterator: out.NextShardIterator } : {}),
        ...(out.MillisBehindLatest !== undefined ? { millisBehindLatest: out.MillisBehindLatest } : {}),
      };
    },
  };
  return { putRecords: (input) => kinesis.send(new PutRecordsCommand(input)), shardReader };
}

export type RedriveHandler = (event: unknown) => Promise<RedriveSummary>;

/**
 * The handler over any I/O. A direct invocation gets the summary back. An S3
 * notification (an asynchronous invocation) fails when anything failed, so
 * Lambda's retries, Errors metric and the function's own on-failure
 * destination see it; the object stays untagged either way.
 */
export function createHandler(io: RedriveIo, config: RedriveConfig): RedriveHandler {
  return async (event) => {
    const { requests, fromS3Notification } = parseRedriveEvent(event);
    const summary = await redrive(requests, io, { config });
    // Counts and keys only: record data may hold personal data.
    console.log(JSON.stringify({
      level: summary.failedTotal > 0 ? 'ERROR' : summary.warnings.length > 0 ? 'WARN' : 'INFO',
      message: 'redrive summary',
      stream: config.stream,
      ...summary,
      failed: summary.failed.slice(0, 50),
    }));
    if (fromS3Notification && summary.failedTotal > 0) {
      throw new Error(`redrive: ${summary.failedTotal} failure(s); first: ${JSON.stringify(summary.failed[0])}`);
    }
    return summary;
  };
}

const config = parseConfig(process.env);
const s3 = new S3Client({});
const kinesis = new KinesisClient({});

export const handler: RedriveHandler = createHandler({ ...s3Io(s3), ...kinesisIo(kinesis) }, config);
