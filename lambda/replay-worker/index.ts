/**
 * Replay worker Lambda: binds the pure core to the AWS SDK v3 that the
 * Node.js 22 runtime ships (kept external by the bundler). State location and
 * the metric dimension come from the environment (STATE_BUCKET, STATE_PREFIX,
 * REPLAY_STATE_MACHINE_NAME), everything else from the Step Functions event.
 *
 * IAM: s3:ListBucket + s3:GetObject on the archive; s3:ListBucket,
 * s3:GetObject and s3:PutObject on the state prefix (without ListBucket a
 * missing marker is a 403, not NoSuchKey, and the worker fails); kinesis:PutRecords
 * on the target stream (+ kms:GenerateDataKey when it is encrypted). For a topic
 * target: kafka:GetBootstrapBrokers on the cluster, kafka-cluster:Connect and
 * WriteDataIdempotently on it, DescribeTopic and WriteData on the topic; the
 * function runs in the cluster's VPC with access to the brokers on 9098.
 */
import { KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { mskKafka } from '../shared/kafka/msk-iam';
import { listAllKeys } from '../shared/s3-list';
import { kafkaTopicIo } from './topic-producer';
import {
  parseWorkerConfig,
  replayEmf,
  replayLane,
  splitLines,
  toReplayInput,
  type ReplayError,
  type ReplayIo,
  type ReplayOptions,
  type ReplayResult,
  type ReplayWorkerConfig,
} from './core';

/** The S3 calls the core needs. */
export function s3Io(s3: Pick<S3Client, 'send'>): Omit<ReplayIo, 'putRecords'> {
  return {
    listKeys: (bucket, prefix) => listAllKeys(s3, bucket, prefix),
    async *readLines(bucket, key) {
      const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      if (!out.Body) throw new Error(`s3://${bucket}/${key} has no body`);
      // The compressed object is held in memory (not streamed from S3) so a rate-limited replay
      // never leaves the S3 connection idle; it is decompressed as it is consumed.
      const gzipped = await out.Body.transformToByteArray();
      const gunzip = Readable.from([Buffer.from(gzipped.buffer, gzipped.byteOffset, gzipped.byteLength)]).pipe(createGunzip());
      try {
        yield* splitLines(gunzip);
      } finally {
        gunzip.destroy();
      }
    },
    async getState(bucket, key) {
      try {
        const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        return out.Body ? await out.Body.transformToString('utf-8') : '';
      } catch (e) {
        const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
        if (err?.name === 'NoSuchKey' || err?.$metadata?.httpStatusCode === 404) return undefined;
        throw e;
      }
    },
    async putState(bucket, key, body) {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'application/json' }));
    },
  };
}

/** PutRecords for the core. */
export function kinesisIo(kinesis: Pick<KinesisClient, 'send'>): Pick<ReplayIo, 'putRecords'> {
  return { putRecords: (input) => kinesis.send(new PutRecordsCommand(input)) };
}

/** Thrown when an invocation ends with an error, so the Map iteration (and the execution) fails. */
export class ReplayWorkerError extends Error {
  public override readonly name = 'ReplayWorkerError';
  constructor(public readonly error: ReplayError, public readonly result: ReplayResult) {
    super(`${error.code}: ${error.message}${error.objectKey ? ` [${error.objectKey}]` : ''}`);
  }
}

export interface LambdaContextLike {
  getRemainingTimeInMillis(): number;
}

export type ReplayWorkerHandler = (event: unknown, context: LambdaContextLike) => Promise<Record<string, unknown>>;

/**
 * What the state machine carries from one invocation of a lane to the next: the lane's work item
 * as received, the cursor, `done`, and `totals` (this invocation's progress added to the running
 * totals), which the summary step adds up across lanes.
 */
export function nextLaneState(event: unknown, result: ReplayResult): Record<string, unknown> {
  const previous = (event as { totals?: Record<string, unknown> } | null)?.totals ?? {};
  const totals: Record<string, number> = { invocations: (typeof previous.invocations === 'number' ? previous.invocations : 0) + 1 };
  for (const [k, v] of Object.entries(result.progress)) {
    if (k === 'objectsRemaining' || k === 'objectsListed') {
      totals[k] = v; // a snapshot, not a count to add up
    } else {
      totals[k] = (typeof previous[k] === 'number' ? (previous[k] as number) : 0) + v;
    }
  }
  const { cursor: _old, ...rest } = (event ?? {}) as Record<string, unknown>;
  return { ...rest, ...(result.cursor !== undefined ? { cursor: result.cursor } : {}), done: result.done, totals };
}

/**
 * The handler over any I/O: one EMF line per invocation (progress included),
 * the result returned for the state machine's `done` loop, or a
 * ReplayWorkerError thrown when something failed.
 */
export function createHandler(
  io: ReplayIo,
  config: ReplayWorkerConfig,
  options: Omit<ReplayOptions, 'remainingTimeMs'> = {},
): ReplayWorkerHandler {
  return async (event, context) => {
    const input = toReplayInput(event, config);
    const result = await replayLane(input, io, { ...options, remainingTimeMs: () => context.getRemainingTimeInMillis() });
    console.log(JSON.stringify(replayEmf(result, { stateMachineName: config.stateMachineName })));
    if (result.error) throw new ReplayWorkerError(result.error, result);
    return nextLaneState(event, result);
  };
}

const config = parseWorkerConfig(process.env);
const s3 = new S3Client({});
const kinesis = new KinesisClient({});

// Only a replay into a topic connects (on its first send); the producer is kept while the container lives.
const topics = kafkaTopicIo((clusterArn) => mskKafka(clusterArn, 'cdk-streaming-pipelines-replay'));

export const handler: ReplayWorkerHandler = createHandler({ ...s3Io(s3), ...kinesisIo(kinesis), openTopic: topics.openTopic }, config);
