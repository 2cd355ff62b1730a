/**
 * Local AWS API servers for the integration tests: kinesalite (Kinesis),
 * dynalite (DynamoDB) and s3rver (S3), in-process, on 127.0.0.1 only.
 *
 * Ports are ephemeral (0) so parallel runs never collide, and every endpoint
 * and client is checked to be loopback: these tests must never reach AWS or
 * any other host.
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import type * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateStreamCommand, DescribeStreamSummaryCommand, GetRecordsCommand, GetShardIteratorCommand, KinesisClient, ListShardsCommand } from '@aws-sdk/client-kinesis';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';

/** The only address the servers bind to and the clients may call. */
export const LOOPBACK = '127.0.0.1';
export const REGION = 'us-east-1';
/** s3rver checks SigV4 signatures against this fixed key pair; the other servers accept any. */
const CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export interface LocalAwsEndpoints {
  readonly kinesis: string;
  readonly dynamodb: string;
  readonly s3: string;
}

export interface LocalAws {
  readonly endpoints: LocalAwsEndpoints;
  stop(): Promise<void>;
}

declare global {
  /** Set by global-setup.ts in jest's parent process, cleared by global-teardown.ts. */
  var __LOCAL_AWS__: LocalAws | undefined;
}

/** The servers ship no type declarations; these are the parts we use. */
type ServerFactory = (options: Record<string, unknown>) => http.Server;
interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  httpServer?: http.Server;
}
type S3rverClass = new (options: Record<string, unknown>) => S3rverInstance;

/** Throws unless `endpoint` is an http URL whose host is 127.0.0.1. */
export function assertLoopback(endpoint: string): string {
  const url = new URL(endpoint);
  if (url.protocol !== 'http:' || url.hostname !== LOOPBACK) {
    throw new Error(`local-aws: refusing non-loopback endpoint ${endpoint}; only http://${LOOPBACK}:<port> is allowed`);
  }
  return endpoint;
}

function endpointOf(address: AddressInfo | string | null, what: string): string {
  if (address === null || typeof address === 'string' || address.address !== LOOPBACK) {
    throw new Error(`local-aws: ${what} is not bound to ${LOOPBACK}: ${JSON.stringify(address)}`);
  }
  return assertLoopback(`http://${LOOPBACK}:${address.port}`);
}

function listen(server: http.Server): Promise<AddressInfo | string | null> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => {
      server.off('error', reject);
      resolve(server.address());
    });
  });
}

function close(server: http.Server): Promise<void> {
  // Idle keep-alive sockets of SDK clients would otherwise hold close() open.
  server.closeAllConnections();
  return new Promise((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
}

/** Starts kinesalite, dynalite (both in-memory) and s3rver (in a fresh temp dir) on 127.0.0.1. */
export async function startLocalAws(): Promise<LocalAws> {
  const kinesalite = require('kinesalite') as ServerFactory;
  const dynalite = require('dynalite') as ServerFactory;
  const S3rver = require('s3rver') as S3rverClass;

  // No `path` option: both keep their LevelDB in memory. Zero lifecycle delays
  // (the defaults are 500 ms), so a stream or table is ACTIVE on the next tick.
  const kinesis = kinesalite({ createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0 });
  const dynamodb = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const s3Dir = fs.mkdtempSync(path.join(os.tmpdir(), 'local-aws-s3-'));
  const s3 = new S3rver({ address: LOOPBACK, port: 0, directory: s3Dir, silent: true });

  const stops: (() => Promise<void>)[] = [];
  const stop = async (): Promise<void> => {
    const results = await Promise.allSettled(stops.splice(0).reverse().map((f) => f()));
    fs.rmSync(s3Dir, { recursive: true, force: true });
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  };

  try {
    const kinesisAddress = await listen(kinesis);
    stops.push(() => close(kinesis));
    const dynamodbAddress = await listen(dynamodb);
    stops.push(() => close(dynamodb));
    const s3Address = await s3.run();
    stops.push(async () => {
      s3.httpServer?.closeAllConnections();
      await s3.close();
    });
    const kinesisEndpoint = endpointOf(kinesisAddress, 'kinesalite');
    const dynamodbEndpoint = endpointOf(dynamodbAddress, 'dynalite');
    const s3Endpoint = endpointOf(s3Address, 's3rver');
    return { endpoints: { kinesis: kinesisEndpoint, dynamodb: dynamodbEndpoint, s3: s3Endpoint }, stop };
  } catch (e) {
    await stop().catch(() => undefined);
    throw e;
  }
}

/** Endpoints published by the jest global setup. */
export function localAwsEndpoints(): LocalAwsEndpoints {
  const read = (name: string): string => {
    const value = process.env[name];
    if (!value) throw new Error(`${name} is not set; run the integration tests through jest (test/integration/global-setup.ts)`);
    return assertLoopback(value);
  };
  return { kinesis: read('LOCAL_AWS_KINESIS'), dynamodb: read('LOCAL_AWS_DYNAMODB'), s3: read('LOCAL_AWS_S3') };
}

export function kinesisClient(endpoint: string): KinesisClient {
  return new KinesisClient({
    endpoint: assertLoopback(endpoint),
    region: REGION,
    credentials: CREDENTIALS,
    // The SDK's Kinesis client defaults to HTTP/2 (for SubscribeToShard), which kinesalite does not speak.
    requestHandler: new NodeHttpHandler(),
  });
}

export function dynamoClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({ endpoint: assertLoopback(endpoint), region: REGION, credentials: CREDENTIALS });
}

export function s3Client(endpoint: string): S3Client {
  return new S3Client({
    endpoint: assertLoopback(endpoint),
    region: REGION,
    credentials: CREDENTIALS,
    // s3rver serves buckets by path; virtual-host style would need DNS for <bucket>.127.0.0.1.
    forcePathStyle: true,
    // s3rver predates the SDK's default CRC32 checksums.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** Every key under `prefix` in `bucket` (all pages), sorted. */
export async function listS3Keys(s3: S3Client, bucket: string, prefix = ''): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    keys.push(...(page.Contents ?? []).map((o) => o.Key as string));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys.sort();
}

/** The bytes of one object. */
export async function getS3Object(s3: S3Client, bucket: string, key: string): Promise<Buffer> {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await out.Body!.transformToByteArray());
}

/**
 * Creates an on-demand table with one string hash key and waits until it is ACTIVE
 * (dynalite flips CREATING → ACTIVE on a timer, even with createTableMs: 0).
 */
export async function createHashKeyTable(ddb: DynamoDBClient, TableName: string, keyName = 'pk'): Promise<string> {
  await ddb.send(new CreateTableCommand({
    TableName,
    AttributeDefinitions: [{ AttributeName: keyName, AttributeType: 'S' }],
    KeySchema: [{ AttributeName: keyName, KeyType: 'HASH' }],
    BillingMode: 'PAY_PER_REQUEST',
  }));
  for (let i = 0; (await ddb.send(new DescribeTableCommand({ TableName }))).Table?.TableStatus !== 'ACTIVE'; i++) {
    if (i > 100) throw new Error(`table ${TableName} never became ACTIVE`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return TableName;
}

/**
 * Creates a kinesalite stream named `<prefix>-<random>` and waits until it is ACTIVE. kinesalite allows
 * 10 shards per account and the whole jest run shares it, so a LimitExceededException is waited out
 * (other files delete their streams when done); `created` collects the name for the caller's cleanup.
 */
export async function createKinesaliteStream(kinesis: KinesisClient, prefix: string, shards: number, created: string[]): Promise<{ name: string; arn: string }> {
  const name = `${prefix}-${randomUUID().slice(0, 8)}`;
  for (let attempt = 0; ; attempt++) {
    try {
      await kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
      break;
    } catch (e) {
      if ((e as Error).name !== 'LimitExceededException' || attempt >= 100) throw e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  created.push(name);
  for (let i = 0; ; i++) {
    const summary = (await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: name }))).StreamDescriptionSummary;
    if (summary?.StreamStatus === 'ACTIVE') return { name, arn: summary.StreamARN as string };
    if (i > 100) throw new Error(`stream ${name} never became ACTIVE`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A record read back from kinesalite. */
export interface StreamRecord {
  readonly shardId: string;
  readonly sequenceNumber: string;
  readonly partitionKey: string;
  readonly data: Buffer;
  /** ApproximateArrivalTimestamp, epoch ms. */
  readonly arrival: number;
}

/** Every record of every shard of a kinesalite stream, each shard in sequence order. */
export async function readKinesaliteStream(kinesis: KinesisClient, name: string): Promise<StreamRecord[]> {
  const shards = (await kinesis.send(new ListShardsCommand({ StreamName: name }))).Shards ?? [];
  const out: StreamRecord[] = [];
  for (const shard of shards) {
    let iterator = (await kinesis.send(new GetShardIteratorCommand({ StreamName: name, ShardId: shard.ShardId, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
    while (iterator) {
      const page = await kinesis.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
      const records = page.Records ?? [];
      for (const r of records) {
        out.push({
          shardId: shard.ShardId as string,
          sequenceNumber: r.SequenceNumber as string,
          partitionKey: r.PartitionKey as string,
          data: Buffer.from(r.Data as Uint8Array),
          arrival: (r.ApproximateArrivalTimestamp as Date).getTime(),
        });
      }
      if (records.length === 0) break; // caught up: an open shard always returns a next iterator
      iterator = page.NextShardIterator;
    }
  }
  return out;
}
