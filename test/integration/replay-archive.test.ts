/**
 * Archive → replay, end to end against kinesalite and s3rver (127.0.0.1 only):
 *
 *   source stream (kinesalite, 2 shards) → Firehose (simulated: de-aggregation,
 *   processor batches, buffer flushes) → the BUNDLED archive processor
 *   (assets/lambda/archive-processor/index.js) → gzip objects in s3rver under
 *   archive/dt=…/hour=…/bucket=…/ → replay planner core plan() → replay worker
 *   createHandler(), every lane looped until `done` as the state machine does →
 *   a second stream (kinesalite, 2 shards), read back in full.
 *
 * Simulated time. kinesalite stamps real arrival times (all within a second or
 * two of the test run). We keep what it assigns (sequence numbers, shard ids,
 * bytes, keys, read back with GetRecords) and give every Kinesis record a
 * simulated ApproximateArrivalTimestamp on a 3 h 50 min timeline across a UTC
 * midnight (replay-fixtures.ts arrivalTimeline): non-decreasing in put order,
 * so each shard's arrival times follow its sequence numbers, as in Kinesis.
 * Records sit exactly on `from`, on midnight and on `to`, with neighbours 1 ms
 * before. Firehose's own arrival time (the top-level field) lags by 1-5 s.
 *
 * kinesalite 3.3.3 predates StreamARN request parameters: DescribeStreamSummary
 * and PutRecords with StreamARN fail ValidationException ("Value null at
 * 'streamName'"). The planner is configured with the target's ARN, as the
 * construct does, and the worker sends `StreamARN` (put-records-packer
 * streamTarget). The worker's kinesisIo has no `addressing: 'name'` option
 * (unlike lambda/redrive/index.ts), so the test wraps its putRecords: it checks
 * the call carries the target's ARN and no name, and re-addresses it by name
 * for kinesalite. The planner io here is index.ts's, rebuilt over the local
 * clients, with DescribeStreamSummary by name; kinesalite answers without
 * StreamModeDetails, which index.ts already reads as PROVISIONED.
 *
 * s3rver 3.7.1 drops common prefixes from `Delimiter` listings (see plannerIo).
 *
 * The worker is lambda/replay-worker/index.ts's createHandler(io, config) over
 * `{ ...s3Io(s3rver), ...kinesisIo(kinesalite) }` (its module-level clients are
 * built at import and never used), with production options except where a
 * test says otherwise: the kill and graceful-stop tests pass
 * `segment: { maxRecords: 4 }` so objects take several segments and the
 * "one segment" duplicate bound is tight. Faults are injected by wrapping the
 * io per lane (replay-fixtures.ts throttling; throw, freeze and clock
 * wrappers in the tests), never by touching the handlers.
 *
 * kinesalite allows 10 shards per account, shared by the whole jest run: the
 * source stream is deleted once archived and each test deletes its target.
 *
 * Seeded (bench/prng.ts mulberry32): REPLAY_ARCHIVE_SEED=<n> repeats a run.
 */
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import {
  DeleteStreamCommand,
  DescribeStreamSummaryCommand,
  PutRecordsCommand,
  type KinesisClient,
} from '@aws-sdk/client-kinesis';
import { CreateBucketCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { prng } from '../../bench/prng';
import {
  arrivalPartition,
  bucketLabel,
  bucketOf,
  decodeArchiveObject,
  encodeArchiveLine,
  hourPrefixes,
  type ArchivedRecord,
} from '../../lambda/shared/archive-format';
import { deaggregate } from '../../lambda/shared/kpl';
import { parseConfig as parsePlannerConfig, plan, ReplayRequestError, summarize, type Plan, type PlannerConfig, type PlannerIo } from '../../lambda/replay-planner/core';
import { doneMarkerKey, parseWorkerConfig, progressKey, type ReplayIo, type ReplayOptions } from '../../lambda/replay-worker/core';
import type { PutRecordsInput, PutRecordsOutput, PutRecordsSend } from '../../lambda/shared/put-records-packer';
import { coldRequire, ensureBundled } from '../support/cold-start';
import { AggregatedRecord, deaggregateWithAwsKinesisAgg } from '../support/kpl-reference';
import { createKinesaliteStream, getS3Object, kinesisClient, listS3Keys, localAwsEndpoints, readKinesaliteStream, s3Client, type StreamRecord } from './local-aws';
import {
  arrivalTimeline,
  firehoseFlushes,
  generateSource,
  objectName,
  throttling,
  type FirehoseSourceRecord,
  type KinesisPut,
  type PayloadKind,
  type SourceRecord,
  type ThrottleStats,
  type UserRecord,
} from './replay-fixtures';

type WorkerIndex = typeof import('../../lambda/replay-worker/index');
type LambdaContextLike = import('../../lambda/replay-worker/index').LambdaContextLike;

// ---------------------------------------------------------------- the scenario

const SEED = Number(process.env.REPLAY_ARCHIVE_SEED ?? 20260601);
const RECORDS = 2000;
const START = Date.parse('2026-06-01T22:20:00.000Z');
const END = Date.parse('2026-06-02T02:10:00.000Z');
const FROM_ISO = '2026-06-01T23:36:07.250Z';
const TO_ISO = '2026-06-02T00:38:12.500Z';
const FROM = Date.parse(FROM_ISO);
const TO = Date.parse(TO_ISO);
const MIDNIGHT = Date.parse('2026-06-02T00:00:00.000Z');
/** The planner's clock: an hour after the last archived record. */
const NOW = END + 3_600_000;
/**
 * Lanes (ArchiveDelivery and ReplayMachine `lanes`, default 16): 8 gives each lane ~5 of the 40 keys,
 * so an ordered PutRecords call carries several keys; kinesalite serializes PutRecords per stream, and
 * the call count is what the run time is made of.
 */
const LANES = 8;
const DELIVERY_STREAM = 'archive-delivery';
const ARCHIVE_PREFIX = 'archive/';
const STATE_PREFIX = 'replays/';
const UNIQUE = `${process.pid}-${Date.now().toString(36)}`;
const ARCHIVE_BUCKET = `replay-archive-${UNIQUE}`;
const STATE_BUCKET = `replay-state-${UNIQUE}`;
const WORKER_ENV = { STATE_BUCKET, STATE_PREFIX, REPLAY_STATE_MACHINE_NAME: 'replay-archive-it', AWS_REGION: 'us-east-1' };
/** ArchiveDelivery's buffer interval may be 60-900 s; the longest keeps the object count (and the run) small. */
const FLUSH_MS = 900_000;
const PROCESSOR_ASSET = path.resolve(__dirname, '..', '..', 'assets', 'lambda', 'archive-processor', 'index.js');
const FAR_FROM_TIMEOUT: LambdaContextLike = { getRemainingTimeInMillis: () => 900_000 };
/** Segments of 4 records, so objects take several segments and a checkpoint lands inside them. */
const SMALL_SEGMENTS: Omit<ReplayOptions, 'remainingTimeMs'> = { segment: { maxRecords: 4 } };

// ---------------------------------------------------------------- what the archive holds

interface Archived extends ArchivedRecord {
  readonly user: UserRecord;
}

interface Fixture {
  readonly users: UserRecord[];
  readonly puts: KinesisPut[];
  /** Per user id: the archive record it must become. */
  readonly archived: Map<number, Archived>;
  /** Archive object key → user ids in file order. */
  readonly objects: Map<string, number[]>;
  /** Ids of the users in [FROM, TO), in producer order. */
  readonly window: number[];
  /** Objects under the window's hours: what every lane lists. */
  readonly listed: string[];
  /** `${partitionKey}\0${base64}` → user id. */
  readonly identity: Map<string, number>;
  readonly processorInvocations: number;
  readonly realArrivals: { min: number; max: number };
  /** Anything the archive path got wrong; asserted empty by the first test. */
  readonly problems: string[];
}

const identityOf = (partitionKey: string, data: Uint8Array): string => `${partitionKey}\u0000${Buffer.from(data).toString('base64')}`;
const inWindow = (arrival: number): boolean => arrival >= FROM && arrival < TO;

// ---------------------------------------------------------------- local AWS

let kinesis: KinesisClient;
let s3: S3Client;
let worker: WorkerIndex;
let fixture: Fixture;
const streams: string[] = [];

interface Stream {
  readonly name: string;
  readonly arn: string;
}

const createStream = (prefix: string, shards: number): Promise<Stream> => createKinesaliteStream(kinesis, prefix, shards, streams);

async function deleteStreams(): Promise<void> {
  for (const name of streams.splice(0)) await kinesis.send(new DeleteStreamCommand({ StreamName: name }));
}

const readStream = (name: string): Promise<StreamRecord[]> => readKinesaliteStream(kinesis, name);

const listKeys = (bucket: string, prefix: string): Promise<string[]> => listS3Keys(s3, bucket, prefix);
const getObject = (bucket: string, key: string): Promise<Buffer> => getS3Object(s3, bucket, key);

async function inBatches<T>(items: readonly T[], size: number, f: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(f));
}

// ---------------------------------------------------------------- building the archive

type ProcessorHandler = (event: unknown) => Promise<{ records: { recordId: string; result: string; data: string; metadata?: { partitionKeys: Record<string, string> } }[] }>;

/** A cold start of the bundled archive processor with the construct's environment (ArchiveDelivery: ARCHIVE_BUCKETS = lanes). */
function loadProcessor(): ProcessorHandler {
  ensureBundled(PROCESSOR_ASSET);
  return coldRequire<{ handler: ProcessorHandler }>(PROCESSOR_ASSET, { ARCHIVE_BUCKETS: String(LANES) }).handler;
}

function loadWorker(): WorkerIndex {
  return coldRequire<WorkerIndex>(path.join(__dirname, '..', '..', 'lambda', 'replay-worker', 'index'), WORKER_ENV);
}

async function buildArchive(): Promise<Fixture> {
  const problems: string[] = [];
  // Arrival times are uniform in put order, so the empty payload lands near the middle of the window.
  const { puts, users } = generateSource(SEED, RECORDS, ((FROM + TO) / 2 - START) / (END - START));

  // 1. The source stream, by name (kinesalite), in put order: ≤500 records per call, one call at a time.
  const source = await createStream('replay-source', 2);
  const written: { shardId: string; sequenceNumber: string }[] = [];
  for (let i = 0; i < puts.length; i += 500) {
    const chunk = puts.slice(i, i + 500);
    const out = await kinesis.send(new PutRecordsCommand({ StreamName: source.name, Records: chunk.map((p) => ({ Data: p.data, PartitionKey: p.partitionKey })) }));
    if ((out.FailedRecordCount ?? 0) !== 0) throw new Error(`source PutRecords failed ${out.FailedRecordCount} records`);
    for (const r of out.Records ?? []) written.push({ shardId: r.ShardId as string, sequenceNumber: r.SequenceNumber as string });
  }

  // 2. Read it all back: what Firehose would read.
  const readBack = await readStream(source.name);
  await kinesis.send(new DeleteStreamCommand({ StreamName: source.name }));
  streams.splice(streams.indexOf(source.name), 1);
  const putIndex = new Map(written.map((w, i) => [`${w.shardId}/${w.sequenceNumber}`, i]));
  if (readBack.length !== puts.length) problems.push(`source stream holds ${readBack.length} records, ${puts.length} were put`);
  const lastOfShard = new Map<string, number>();
  for (const r of readBack) {
    const i = putIndex.get(`${r.shardId}/${r.sequenceNumber}`);
    if (i === undefined) {
      problems.push(`source record ${r.shardId}/${r.sequenceNumber} was never put`);
      continue;
    }
    if (!r.data.equals(puts[i].data) || r.partitionKey !== puts[i].partitionKey) problems.push(`source record ${i} came back changed`);
    // Put order is sequence order within a shard, so the simulated arrival times below follow sequence numbers.
    if ((lastOfShard.get(r.shardId) ?? -1) > i) problems.push(`shard ${r.shardId}: record ${i} has a later sequence number than record ${lastOfShard.get(r.shardId)}`);
    lastOfShard.set(r.shardId, i);
  }
  const realArrivals = { min: Math.min(...readBack.map((r) => r.arrival)), max: Math.max(...readBack.map((r) => r.arrival)) };

  // 3. The simulated timeline (see the header).
  const arrivals = arrivalTimeline(SEED, puts.length, START, END, [FROM, MIDNIGHT, TO]);
  const sourceRecords: SourceRecord[] = puts.map((put, i) => ({ put, shardId: written[i].shardId, sequenceNumber: written[i].sequenceNumber, arrival: arrivals[i] }));
  const archived = new Map<number, Archived>();
  for (const r of sourceRecords) {
    r.put.users.forEach((user, sub) => archived.set(user.id, {
      partition_key: user.partitionKey,
      sequence_number: r.sequenceNumber,
      sub_sequence_number: r.put.aggregated ? sub : 0,
      approximate_arrival_timestamp: r.arrival,
      shard_id: r.shardId,
      data: user.data.toString('base64'),
      user,
    }));
  }

  // 4. Firehose: de-aggregate (with our decoder, as Firehose does with its own), batch, invoke the processor, flush.
  const flushes = firehoseFlushes(SEED, sourceRecords, (put) => {
    const d = deaggregate(put.data, put.partitionKey);
    if (d.aggregated !== put.aggregated || d.records.length !== put.users.length || d.records.some((u, j) => !u.data.equals(put.users[j].data) || u.partitionKey !== put.users[j].partitionKey)) {
      problems.push(`KPL record of ${put.partitionKey} does not de-aggregate to what was aggregated`);
    }
    return [...put.users];
  }, { flushMs: FLUSH_MS, invocationMs: 60_000, invocationBytes: 1024 * 1024 });

  const processor = loadProcessor();
  const names = prng(SEED ^ 0x0b1ec7);
  const objects = new Map<string, number[]>();
  const bodies = new Map<string, Buffer>();
  let processorInvocations = 0;
  for (const flush of flushes) {
    const partitions = new Map<string, { lines: Buffer[]; ids: number[] }>();
    for (const invocation of flush.invocations) {
      const event = {
        invocationId: randomUUID(),
        deliveryStreamArn: `arn:aws:firehose:us-east-1:000000000000:deliverystream/${DELIVERY_STREAM}`,
        sourceKinesisStreamArn: source.arn,
        region: 'us-east-1',
        records: invocation.records,
      };
      const response = await processor(event);
      processorInvocations++;
      if (response.records.length !== invocation.records.length) problems.push(`processor answered ${response.records.length} records for ${invocation.records.length}`);
      response.records.forEach((out, j) => {
        const input: FirehoseSourceRecord = invocation.records[j];
        const expected = archived.get(invocation.users[j].id) as Archived;
        if (out.recordId !== input.recordId || out.result !== 'Ok') {
          problems.push(`processor: ${input.recordId} came back ${out.recordId} ${out.result}`);
          return;
        }
        // Independent of the processor's code: arrival partition of the KINESIS arrival, lane of the key.
        const { dt, hour } = arrivalPartition(expected.approximate_arrival_timestamp);
        const keys = { dt, hour, bucket: bucketLabel(bucketOf(expected.partition_key, LANES)) };
        if (JSON.stringify(out.metadata?.partitionKeys) !== JSON.stringify(keys)) problems.push(`processor: ${input.recordId} partition keys ${JSON.stringify(out.metadata?.partitionKeys)}, expected ${JSON.stringify(keys)}`);
        const line = Buffer.from(out.data, 'base64');
        if (line.toString('utf8') !== encodeArchiveLine(expected)) problems.push(`processor: ${input.recordId} line differs from encodeArchiveLine`);
        // Firehose: Ok records, grouped by their rendered prefix, concatenated.
        const prefix = `${ARCHIVE_PREFIX}dt=${out.metadata?.partitionKeys.dt}/hour=${out.metadata?.partitionKeys.hour}/bucket=${out.metadata?.partitionKeys.bucket}/`;
        const p = partitions.get(prefix) ?? { lines: [], ids: [] };
        p.lines.push(line);
        p.ids.push(expected.user.id);
        partitions.set(prefix, p);
      });
    }
    for (const [prefix, { lines, ids }] of [...partitions].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const key = `${prefix}${objectName(DELIVERY_STREAM, flush.createdAt, names)}.jsonl.gz`;
      objects.set(key, ids);
      bodies.set(key, gzipSync(Buffer.concat(lines)));
    }
  }
  await inBatches([...bodies.keys()], 16, async (key) => {
    await s3.send(new PutObjectCommand({ Bucket: ARCHIVE_BUCKET, Key: key, Body: bodies.get(key), ContentType: 'application/jsonl' }));
  });

  const window = users.filter((u) => inWindow((archived.get(u.id) as Archived).approximate_arrival_timestamp)).map((u) => u.id);
  const hours = hourPrefixes(FROM, TO).map((h) => `${ARCHIVE_PREFIX}${h}`);
  const listed = [...objects.keys()].filter((k) => hours.some((h) => k.startsWith(h))).sort();
  const identity = new Map(users.map((u) => [identityOf(u.partitionKey, u.data), u.id]));
  if (identity.size !== users.length) problems.push('two user records share key and bytes: the replay could not be matched to the archive');
  return { users, puts, archived, objects, window, listed, identity, processorInvocations, realArrivals, problems };
}

// ---------------------------------------------------------------- the replay: planner and state machine

function plannerConfig(target: Stream): PlannerConfig {
  // As ReplayMachine configures the planner (WRITE_SHARE and TAGGING at their defaults: 0.5, kpl-tag).
  return parsePlannerConfig({
    ARCHIVE_BUCKET,
    ARCHIVE_PREFIX,
    LANES: String(LANES),
    TARGET_STREAMS: JSON.stringify([target.arn]),
    STATE_BUCKET,
    STATE_PREFIX,
  });
}

const nameOfArn = (arn: string): string => arn.slice(arn.lastIndexOf('/') + 1);

/**
 * lambda/replay-planner/index.ts's io over the local clients: the oldest day's
 * hours, from `Delimiter: '/'` listings. s3rver 3.7.1 answers those without
 * the common prefixes whose objects sit two or more levels further down (its
 * filesystem walk prunes the directories beneath a would-be common prefix
 * before it sees their objects), which is every archive prefix. So the common
 * prefixes are taken from a flat listing here, exactly as S3 computes them.
 * kinesalite is addressed by name (see the header).
 */
const plannerIo: PlannerIo = {
  async listArchiveHours(bucket, prefix) {
    const commonPrefixes = async (p: string): Promise<string[]> => {
      const keys = await listKeys(bucket, p);
      return [...new Set(keys.filter((k) => k.indexOf('/', p.length) >= 0).map((k) => k.slice(p.length, k.indexOf('/', p.length) + 1)))];
    };
    const days = (await commonPrefixes(prefix)).filter((d) => /^dt=\d{4}-\d{2}-\d{2}\/$/.test(d)).sort();
    if (days.length === 0) return [];
    return (await commonPrefixes(`${prefix}${days[0]}`)).map((h) => `${days[0]}${h}`);
  },
  async describeStream(streamArn) {
    try {
      const d = (await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: nameOfArn(streamArn) }))).StreamDescriptionSummary;
      return { mode: d?.StreamModeDetails?.StreamMode === 'ON_DEMAND' ? 'ON_DEMAND' : 'PROVISIONED', openShards: d?.OpenShardCount ?? 0, status: d?.StreamStatus ?? 'UNKNOWN' };
    } catch (e) {
      if ((e as Error).name === 'ResourceNotFoundException') return undefined;
      throw e;
    }
  },
};

interface Call {
  readonly lane: string;
  readonly input: PutRecordsInput;
  readonly output: PutRecordsOutput;
}

/**
 * The worker's own kinesisIo, re-addressed by name for kinesalite. Checks
 * every call: the target's ARN and no name, ≤ 500 records, ≤ 5 MiB, ≤ 1 MiB
 * per record (kinesalite enforces only the first), and logs what reached kinesalite.
 */
function kinesaliteByName(lane: string, target: Stream, calls: Call[]): PutRecordsSend {
  const put = worker.kinesisIo(kinesis).putRecords;
  return async (input) => {
    if (input.StreamARN !== target.arn || input.StreamName !== undefined) throw new Error(`worker addressed ${JSON.stringify({ StreamARN: input.StreamARN, StreamName: input.StreamName })}, expected the target's ARN`);
    const sizes = input.Records.map((r) => r.Data.byteLength + Buffer.byteLength(r.PartitionKey, 'utf8'));
    if (input.Records.length > 500 || sizes.reduce((a, b) => a + b, 0) > 5 * 1024 * 1024 || sizes.some((s) => s > 1024 * 1024)) throw new Error('call over the PutRecords limits');
    const { StreamARN, ...rest } = input;
    const output = await put({ ...rest, StreamName: nameOfArn(StreamARN) });
    calls.push({ lane, input, output });
    return output;
  };
}

interface LaneOutcome {
  readonly lane: string;
  readonly invocations: number;
  /** The last loop state (`done: true` when the lane finished). */
  readonly state: Record<string, unknown>;
  readonly error?: unknown;
  readonly killed?: boolean;
}

interface Execution {
  readonly plan: Plan;
  readonly lanes: LaneOutcome[];
  /** Every PutRecords call that reached kinesalite, with its answer. */
  readonly calls: Call[];
  readonly emfLines: number;
}

interface ExecutionOptions {
  readonly replayId: string;
  readonly target: Stream;
  /** Wraps a lane's io (fault injection). `kill` ends the lane's current invocation as a hard kill would. */
  readonly ioFor?: (lane: string, io: ReplayIo, kill: () => void) => ReplayIo;
  readonly contextFor?: (lane: string, invocation: number) => LambdaContextLike;
  readonly options?: Omit<ReplayOptions, 'remainingTimeMs'>;
}

/**
 * One execution of the replay state machine: Plan, then the Distributed Map
 * (every lane at once, maxConcurrency = lanes), each iteration invoking the
 * worker until `done`, the returned state passed back in; a worker error ends
 * that lane (and, with toleratedFailurePercentage 0, the execution).
 */
async function execute(o: ExecutionOptions): Promise<Execution> {
  const planned = await plan({ from: FROM_ISO, to: TO_ISO, replayId: o.replayId, targetStream: o.target.arn }, `exec-${o.replayId}`, plannerIo, plannerConfig(o.target), NOW);
  const calls: Call[] = [];
  const config = parseWorkerConfig(WORKER_ENV);
  const log = console.log as jest.Mock;
  const logsBefore = log.mock.calls.length;
  const lanes = await Promise.all(planned.lanes.map(async (work): Promise<LaneOutcome> => {
    let killSwitch: () => void = () => undefined;
    const killed = new Promise<'killed'>((resolve) => {
      killSwitch = () => resolve('killed');
    });
    const base: ReplayIo = { ...worker.s3Io(s3), ...worker.kinesisIo(kinesis) };
    const local: ReplayIo = { ...base, putRecords: kinesaliteByName(work.lane, o.target, calls) };
    const handler = worker.createHandler(o.ioFor ? o.ioFor(work.lane, local, killSwitch) : local, config, o.options);
    let state = work as unknown as Record<string, unknown>;
    for (let invocation = 1; ; invocation++) {
      if (invocation > 2000) throw new Error(`lane ${work.lane} did not finish in 2000 invocations`);
      const context = o.contextFor ? o.contextFor(work.lane, invocation) : FAR_FROM_TIMEOUT;
      try {
        const next = await Promise.race([handler(state, context), killed]);
        if (next === 'killed') return { lane: work.lane, invocations: invocation, state, killed: true };
        state = next;
      } catch (error) {
        return { lane: work.lane, invocations: invocation, state, error };
      }
      if (state.done === true) return { lane: work.lane, invocations: invocation, state };
    }
  }));
  const emfLines = log.mock.calls.slice(logsBefore).filter(([line]) => typeof line === 'string' && line.includes('"_aws"')).length;
  return { plan: planned, lanes, calls, emfLines };
}

// ---------------------------------------------------------------- what reached the target

/** The user record inside a replayed (KPL-wrapped) record, by our decoder. */
function unwrap(data: Uint8Array, partitionKey: string): number | undefined {
  const d = deaggregate(Buffer.from(data), partitionKey);
  if (!d.aggregated || d.records.length !== 1 || d.records[0].partitionKey !== partitionKey) return undefined;
  return fixture.identity.get(identityOf(partitionKey, d.records[0].data));
}

/** Ids of the user records a run wrote (entries kinesalite accepted), in call order. */
const writtenIds = (calls: readonly Call[]): number[] => calls.flatMap((c) => c.input.Records.flatMap((r, i) => (c.output.Records?.[i]?.ErrorCode ? [] : [unwrap(r.Data, r.PartitionKey) ?? -1])));

interface Delivered {
  readonly id: number;
  readonly shardId: string;
  readonly partitionKey: string;
}

/**
 * Reads the target and unwraps every record three ways: our decoder
 * (lambda/shared/kpl.ts), aws-kinesis-agg (checksums verified) and protobufjs
 * (for the replay_id tag). Each must find ONE user record under the outer
 * partition key whose bytes are an archived record's.
 */
async function delivered(target: Stream, replayId: string): Promise<{ records: Delivered[]; problems: string[] }> {
  const problems: string[] = [];
  const records: Delivered[] = [];
  for (const r of await readStream(target.name)) {
    const where = `${r.shardId}/${r.sequenceNumber} (${r.partitionKey})`;
    const id = unwrap(r.data, r.partitionKey);
    if (id === undefined) {
      problems.push(`${where}: not a one-record KPL wrapper of an archived record under its own key`);
      continue;
    }
    const original = fixture.users[id].data;
    const theirs = deaggregateWithAwsKinesisAgg(r.data, r.partitionKey, r.sequenceNumber, r.arrival / 1000);
    if (theirs?.error || theirs?.records.length !== 1 || theirs.records[0].partitionKey !== r.partitionKey || theirs.records[0].data !== original.toString('base64')) {
      problems.push(`${where}: aws-kinesis-agg reads ${JSON.stringify(theirs).slice(0, 200)}`);
    }
    const pb = AggregatedRecord.toObject(AggregatedRecord.decode(r.data.subarray(4, r.data.length - 16)), { longs: Number, bytes: Buffer, arrays: true }) as {
      partition_key_table: string[];
      records: { partition_key_index: number; data: Buffer; tags: { key: string; value?: string }[] }[];
    };
    const tags = JSON.stringify(pb.records.map((x) => x.tags));
    if (JSON.stringify(pb.partition_key_table) !== JSON.stringify([r.partitionKey]) || tags !== JSON.stringify([[{ key: 'replay_id', value: replayId }]])) {
      problems.push(`${where}: protobufjs reads keys ${JSON.stringify(pb.partition_key_table)} tags ${tags}`);
    }
    records.push({ id, shardId: r.shardId, partitionKey: r.partitionKey });
  }
  return { records, problems };
}

/**
 * Every window record `1 + (duplicates.has(id) ? 1 : 0)` times, nothing else;
 * per key, in source order, both by first and by last occurrence (a sink that
 * deduplicates either way sees the source order); one shard per key.
 */
function checkDelivery(records: readonly Delivered[], duplicates: ReadonlySet<number> = new Set()): string[] {
  const problems: string[] = [];
  const count = new Map<number, number>();
  for (const r of records) count.set(r.id, (count.get(r.id) ?? 0) + 1);
  const window = new Set(fixture.window);
  const missing = fixture.window.filter((id) => !count.has(id));
  if (missing.length > 0) problems.push(`${missing.length} window record(s) never arrived, e.g. ${missing.slice(0, 5).map(describeRecord).join('; ')}`);
  const outside = [...count.keys()].filter((id) => !window.has(id));
  if (outside.length > 0) problems.push(`${outside.length} record(s) from outside [from, to) arrived, e.g. ${outside.slice(0, 5).map(describeRecord).join('; ')}`);
  const wrong = [...count].filter(([id, n]) => window.has(id) && n !== 1 + (duplicates.has(id) ? 1 : 0));
  if (wrong.length > 0) problems.push(`${wrong.length} record(s) arrived the wrong number of times, e.g. ${wrong.slice(0, 5).map(([id, n]) => `${describeRecord(id)} ×${n}`).join('; ')}`);

  const byKey = new Map<string, Delivered[]>();
  for (const r of records) byKey.set(r.partitionKey, [...(byKey.get(r.partitionKey) ?? []), r]);
  for (const [key, list] of byKey) {
    if (new Set(list.map((r) => r.shardId)).size !== 1) problems.push(`key ${key} landed on several shards`);
    const expected = fixture.window.filter((id) => fixture.users[id].partitionKey === key);
    const ids = list.map((r) => r.id);
    const first = ids.filter((id, i) => ids.indexOf(id) === i);
    const last = ids.filter((id, i) => ids.lastIndexOf(id) === i);
    if (JSON.stringify(first) !== JSON.stringify(expected)) problems.push(`key ${key}: first occurrences ${JSON.stringify(first)} ≠ source order ${JSON.stringify(expected)}`);
    if (JSON.stringify(last) !== JSON.stringify(expected)) problems.push(`key ${key}: last occurrences ${JSON.stringify(last)} ≠ source order ${JSON.stringify(expected)}`);
  }
  return problems;
}

function describeRecord(id: number): string {
  const a = fixture.archived.get(id) as Archived;
  return `#${id} ${a.partition_key.slice(0, 20)} ${a.user.kind} @${new Date(a.approximate_arrival_timestamp).toISOString()}`;
}

/** The summary's expected counts for one complete, exactly-once pass over the window. */
function expectedTotals(): { recordsReplayed: number; bytesReplayed: number; objects: number; outsideWindow: number } {
  const windowIds = fixture.window;
  let outsideWindow = 0;
  for (const key of fixture.listed) for (const id of fixture.objects.get(key) as number[]) if (!inWindow((fixture.archived.get(id) as Archived).approximate_arrival_timestamp)) outsideWindow++;
  return {
    recordsReplayed: windowIds.length,
    bytesReplayed: windowIds.reduce((s, id) => s + fixture.users[id].data.length, 0),
    objects: fixture.listed.length,
    outsideWindow,
  };
}

const sumTotals = (lanes: readonly LaneOutcome[], field: string): number => lanes.reduce((s, l) => s + Number((l.state.totals as Record<string, number> | undefined)?.[field] ?? 0), 0);

/** Which user records the state in S3 says are in the stream: all of a done object, the first `written` selected of a checkpointed one. */
async function committed(replayId: string): Promise<{ ids: Set<number>; doneObjects: number }> {
  const ids = new Set<number>();
  let doneObjects = 0;
  const state = new Set(await listKeys(STATE_BUCKET, `${STATE_PREFIX}${replayId}/`));
  for (const key of fixture.listed) {
    const selected = (fixture.objects.get(key) as number[]).filter((id) => fixture.window.includes(id));
    if (state.has(doneMarkerKey(STATE_PREFIX, replayId, key))) {
      doneObjects++;
      for (const id of selected) ids.add(id);
    } else if (state.has(progressKey(STATE_PREFIX, replayId, key))) {
      const { written } = JSON.parse((await getObject(STATE_BUCKET, progressKey(STATE_PREFIX, replayId, key))).toString('utf8')) as { written: number };
      for (const id of selected.slice(0, written)) ids.add(id);
    }
  }
  return { ids, doneObjects };
}

const objectOf = (id: number): string => [...fixture.objects].find(([, ids]) => ids.includes(id))?.[0] as string;

/** Lanes and their window records, busiest first: faults injected there hit mid-lane. */
function busiestLanes(): [string, number][] {
  const perLane = new Map<string, number>();
  for (const id of fixture.window) {
    const lane = bucketLabel(bucketOf(fixture.users[id].partitionKey, LANES));
    perLane.set(lane, (perLane.get(lane) ?? 0) + 1);
  }
  return [...perLane].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
}

// ---------------------------------------------------------------- setup

beforeAll(async () => {
  jest.spyOn(console, 'log').mockImplementation(() => undefined);
  const endpoints = localAwsEndpoints();
  kinesis = kinesisClient(endpoints.kinesis);
  s3 = s3Client(endpoints.s3);
  worker = loadWorker();
  await s3.send(new CreateBucketCommand({ Bucket: ARCHIVE_BUCKET }));
  await s3.send(new CreateBucketCommand({ Bucket: STATE_BUCKET }));
  fixture = await buildArchive();
});

afterEach(async () => {
  await deleteStreams();
});

afterAll(async () => {
  await deleteStreams().catch(() => undefined);
  jest.restoreAllMocks();
  kinesis?.destroy();
  s3?.destroy();
});

// ---------------------------------------------------------------- the tests

describe(`archive → replay against kinesalite + s3rver (seed ${SEED})`, () => {
  test(`the archive: ${RECORDS} records of 40 keys from a 2-shard stream, through the bundled processor, in time-ordered gzip objects (seed ${SEED})`, async () => {
    expect(fixture.problems).toEqual([]);
    expect(fixture.users).toHaveLength(RECORDS);
    expect(new Set(fixture.users.map((u) => u.partitionKey)).size).toBe(40);
    expect(fixture.puts.filter((p) => p.aggregated).length).toBeGreaterThan(10);
    // kinesalite's own arrival times were all "now"; the archive holds the simulated ones.
    expect(fixture.realArrivals.min).toBeGreaterThan(END);

    const keys = await listKeys(ARCHIVE_BUCKET, ARCHIVE_PREFIX);
    expect(keys).toEqual([...fixture.objects.keys()].sort());
    const layout = /^archive\/dt=(\d{4}-\d{2}-\d{2})\/hour=(\d{2})\/bucket=(\d{2})\/archive-delivery-1-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.jsonl\.gz$/;
    const seen = new Map<number, number>();
    const problems: string[] = [];
    await inBatches(keys, 16, async (key) => {
      const m = layout.exec(key);
      if (!m) {
        problems.push(`${key}: not the archive layout`);
        return;
      }
      const lines = decodeArchiveObject(gunzipSync(await getObject(ARCHIVE_BUCKET, key)).toString('utf8'));
      const ids = fixture.objects.get(key) as number[];
      if (lines.length !== ids.length) problems.push(`${key}: ${lines.length} lines, ${ids.length} expected`);
      lines.forEach((line, i) => {
        const expected = fixture.archived.get(ids[i]) as Archived;
        const { user: _user, ...record } = expected;
        if (JSON.stringify(line) !== JSON.stringify(record)) problems.push(`${key} line ${i + 1}: ${JSON.stringify(line).slice(0, 120)}`);
        const { dt, hour } = arrivalPartition(line.approximate_arrival_timestamp);
        if (dt !== m[1] || hour !== m[2] || bucketLabel(bucketOf(line.partition_key, LANES)) !== m[3]) problems.push(`${key} line ${i + 1}: in the wrong partition`);
        seen.set(ids[i], (seen.get(ids[i]) ?? 0) + 1);
      });
    });
    expect(problems).toEqual([]);
    expect(seen.size).toBe(RECORDS);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);

    // Several objects per partition, named in time order; per key, file order is producer order.
    const perPartition = new Map<string, string[]>();
    for (const key of keys) perPartition.set(key.slice(0, key.lastIndexOf('/') + 1), [...(perPartition.get(key.slice(0, key.lastIndexOf('/') + 1)) ?? []), key]);
    expect([...perPartition.values()].filter((k) => k.length >= 2).length).toBeGreaterThan(perPartition.size / 2);
    for (const key of new Set(fixture.users.map((u) => u.partitionKey))) {
      const lane = [...perPartition.entries()].filter(([p]) => p.endsWith(`bucket=${bucketLabel(bucketOf(key, LANES))}/`)).flatMap(([, k]) => k).sort();
      const order = lane.flatMap((k) => (fixture.objects.get(k) as number[]).filter((id) => fixture.users[id].partitionKey === key));
      expect([key, order]).toEqual([key, fixture.users.filter((u) => u.partitionKey === key).map((u) => u.id)]);
    }

    // The window cuts through the span, with records exactly on its edges, and holds every payload kind.
    const arrivals = fixture.users.map((u) => (fixture.archived.get(u.id) as Archived).approximate_arrival_timestamp);
    for (const t of [FROM - 1, FROM, MIDNIGHT - 1, MIDNIGHT, TO - 1, TO]) expect([new Date(t).toISOString(), arrivals.includes(t)]).toEqual([new Date(t).toISOString(), true]);
    expect(fixture.window.length).toBeGreaterThan(RECORDS * 0.15);
    expect(fixture.window.length).toBeLessThan(RECORDS * 0.4);
    const kinds = new Set(fixture.window.map((id) => fixture.users[id].kind));
    const all: PayloadKind[] = ['json', 'json-pretty', 'text-lines', 'binary', 'large', 'kpl-magic', 'archive-line', 'empty'];
    expect(all.filter((k) => !kinds.has(k))).toEqual([]);
    expect(fixture.window.some((id) => (fixture.archived.get(id) as Archived).sub_sequence_number > 0)).toBe(true);
  });

  test(`the planner over s3rver and kinesalite: 8 lanes at half of 2 shards; refuses a window before the archive and a missing target (seed ${SEED})`, async () => {
    const target = await createStream('replay-plan', 2);
    const planned = await plan({ from: FROM_ISO, to: TO_ISO, replayId: 'plan-only', targetStream: target.arn }, 'exec', plannerIo, plannerConfig(target), NOW);
    expect(planned).toEqual(expect.objectContaining({
      replayId: 'plan-only', from: FROM_ISO, to: TO_ISO, targetStream: target.arn, hours: 2,
      targetCapacity: { recordsPerSecond: 2000, bytesPerSecond: 2 * 1024 * 1024 },
      replayRate: { recordsPerSecond: 1000, bytesPerSecond: 1024 * 1024 },
    }));
    expect(planned.lanes.map((l) => l.lane)).toEqual(Array.from({ length: LANES }, (_, i) => String(i).padStart(2, '0')));
    expect(planned.lanes[0]).toEqual(expect.objectContaining({ fromMs: FROM, toMs: TO, tagging: 'kpl-tag', rate: { recordsPerSecond: 1000 / LANES, bytesPerSecond: (1024 * 1024) / LANES } }));

    await expect(plan({ from: '2026-06-01T21:59:59Z', to: TO_ISO, targetStream: target.arn }, 'exec', plannerIo, plannerConfig(target), NOW))
      .rejects.toThrow(/before the archive's first hour \(2026-06-01T22:00:00.000Z\)/);
    await expect(plan({ from: FROM_ISO, to: TO_ISO, targetStream: `${target.arn}-gone` }, 'exec', plannerIo, { ...plannerConfig(target), targetStreams: [`${target.arn}-gone`] }, NOW))
      .rejects.toThrow(ReplayRequestError);

    // Why the worker's PutRecords is re-addressed in these tests: kinesalite refuses StreamARN.
    await expect(worker.kinesisIo(kinesis).putRecords({ StreamARN: target.arn, Records: [{ Data: Buffer.from('x'), PartitionKey: 'k' }] }))
      .rejects.toThrow(/streamName/);
  });

  test(`replay [from, to) into a second stream: every window record once, same bytes and key, per-key order, replay_id tag, totals; a rerun of the finished replayId puts nothing (seed ${SEED})`, async () => {
    const target = await createStream('replay-target', 2);
    const replayId = `replay-${SEED}-plain`;
    const run = await execute({ replayId, target });
    expect(run.lanes.filter((l) => l.error || l.killed || l.state.done !== true)).toEqual([]);

    const { records, problems } = await delivered(target, replayId);
    expect(problems).toEqual([]);
    expect(checkDelivery(records)).toEqual([]);
    expect(records).toHaveLength(fixture.window.length);

    // Calls within the lane's share: at most one second of its records/s each.
    const laneRate = run.plan.lanes[0].rate.recordsPerSecond;
    expect(Math.max(...run.calls.map((c) => c.input.Records.length))).toBeLessThanOrEqual(Math.floor(laneRate));
    expect(run.calls.every((c) => (c.output.FailedRecordCount ?? 0) === 0)).toBe(true);

    const expected = expectedTotals();
    const invocations = run.lanes.reduce((s, l) => s + l.invocations, 0);
    expect(summarize(run.lanes.map((l) => l.state))).toEqual({
      recordsReplayed: expected.recordsReplayed,
      bytesReplayed: expected.bytesReplayed,
      recordsFiltered: 0,
      objectsDone: expected.objects,
      objectsSkipped: 0,
      throttles: 0,
      invocations,
      lanes: LANES,
    });
    expect(invocations).toBe(LANES);
    expect(run.emfLines).toBe(invocations);
    expect(sumTotals(run.lanes, 'recordsOutsideWindow')).toBe(expected.outsideWindow);
    expect(sumTotals(run.lanes, 'putCalls')).toBe(run.calls.length);

    // Every listed object has its done marker, with its own counts.
    const markers: string[] = [];
    await inBatches(fixture.listed, 16, async (key) => {
      const marker = JSON.parse((await getObject(STATE_BUCKET, doneMarkerKey(STATE_PREFIX, replayId, key))).toString('utf8')) as Record<string, unknown>;
      const ids = fixture.objects.get(key) as number[];
      const selected = ids.filter((id) => fixture.window.includes(id));
      const want = { written: selected.length, bytes: selected.reduce((s, id) => s + fixture.users[id].data.length, 0), outsideWindow: ids.length - selected.length, filtered: 0, objectKey: key };
      if (JSON.stringify({ written: marker.written, bytes: marker.bytes, outsideWindow: marker.outsideWindow, filtered: marker.filtered, objectKey: marker.objectKey }) !== JSON.stringify(want)) markers.push(`${key}: ${JSON.stringify(marker)}`);
    });
    expect(markers).toEqual([]);

    // The same replayId again: a new execution finds every object done and puts nothing.
    const again = await execute({ replayId, target });
    expect(again.lanes.every((l) => l.state.done === true && !l.error)).toBe(true);
    expect(again.calls).toEqual([]);
    expect(summarize(again.lanes.map((l) => l.state))).toEqual(expect.objectContaining({ recordsReplayed: 0, objectsDone: 0, objectsSkipped: expected.objects, invocations: LANES }));
    expect(await readStream(target.name)).toHaveLength(fixture.window.length);
  });

  test(`30% of PutRecords entries throttled (seeded by entry and attempt): still every window record once, in per-key order; throttles counted (seed ${SEED})`, async () => {
    const target = await createStream('replay-throttled', 2);
    const replayId = `replay-${SEED}-throttled`;
    const stats: ThrottleStats = { throttled: 0, capped: 0, calls: 0 };
    const run = await execute({
      replayId,
      target,
      ioFor: (_lane, io) => ({ ...io, putRecords: throttling(io.putRecords, SEED, 0.3, 5, stats) }),
    });
    expect(run.lanes.filter((l) => l.error || l.state.done !== true)).toEqual([]);

    const { records, problems } = await delivered(target, replayId);
    expect(problems).toEqual([]);
    expect(checkDelivery(records)).toEqual([]);

    const entries = stats.throttled + fixture.window.length;
    expect(stats.throttled / entries).toBeGreaterThan(0.24);
    expect(stats.throttled / entries).toBeLessThan(0.36);
    const expected = expectedTotals();
    expect(summarize(run.lanes.map((l) => l.state))).toEqual(expect.objectContaining({
      recordsReplayed: expected.recordsReplayed,
      bytesReplayed: expected.bytesReplayed,
      objectsDone: expected.objects,
      objectsSkipped: 0,
      throttles: stats.throttled,
      invocations: LANES,
    }));
    expect(sumTotals(run.lanes, 'putCalls')).toBe(stats.calls);
    console.info(`seed ${SEED}: ${stats.throttled} of ${entries} entries throttled over ${stats.calls} calls; ${stats.capped} let through by the 5-in-a-row cap`);
  });

  test(`exhausted retries: 50% of entries throttled, uncapped, against the sender's default 6 attempts fails lanes RecordsFailed; rerunning the replayId loses nothing and duplicates only records past each failed lane's checkpoint (seed ${SEED})`, async () => {
    const target = await createStream('replay-exhausted', 2);
    const replayId = `replay-${SEED}-exhausted`;
    const stats: ThrottleStats = { throttled: 0, capped: 0, calls: 0 };
    const first = await execute({
      replayId,
      target,
      ioFor: (_lane, io) => ({ ...io, putRecords: throttling(io.putRecords, SEED ^ 0x50, 0.5, Infinity, stats) }),
    });
    const failed = first.lanes.filter((l) => l.error);
    expect(failed.length).toBeGreaterThanOrEqual(1);
    expect(first.lanes.filter((l) => !l.error && l.state.done !== true)).toEqual([]);
    const failedObjects = new Map<string, string>();
    for (const l of failed) {
      const e = l.error as InstanceType<WorkerIndex['ReplayWorkerError']>;
      expect(e).toBeInstanceOf(worker.ReplayWorkerError);
      expect(e.error.code).toBe('RecordsFailed');
      expect(e.error.failedRecords?.[0]?.errorCode).toBe('ProvisionedThroughputExceededException');
      failedObjects.set(l.lane, e.error.objectKey as string);
    }

    const state = await committed(replayId);
    const duplicates = new Set(writtenIds(first.calls).filter((id) => !state.ids.has(id)));
    const rerun = await execute({ replayId, target });
    expect(rerun.lanes.filter((l) => l.error || l.state.done !== true)).toEqual([]);
    const { records, problems } = await delivered(target, replayId);
    expect(problems).toEqual([]);
    expect(checkDelivery(records, duplicates)).toEqual([]);
    expect(records.length).toBe(fixture.window.length + duplicates.size);
    // Only in the failed lanes, only of the object each failed on or later ones (the failed segment runs across objects).
    const strays = [...duplicates].filter((id) => {
      const failedObject = failedObjects.get(bucketLabel(bucketOf(fixture.users[id].partitionKey, LANES)));
      return failedObject === undefined || objectOf(id) < failedObject;
    });
    expect(strays.map(describeRecord)).toEqual([]);
    expect(summarize(rerun.lanes.map((l) => l.state))).toEqual(expect.objectContaining({ recordsReplayed: fixture.window.length - state.ids.size, throttles: 0 }));
    console.info(`seed ${SEED}: 50% throttling failed lane(s) ${failed.map((l) => l.lane).join(', ')}; ${state.ids.size} committed before the rerun, ${duplicates.size} duplicated`);
  });

  test(`kill/resume: one lane's putRecords throws from call N on (the lane fails RecordsFailed), another lane's process freezes once call M reached Kinesis (hard kill); rerunning the replayId loses nothing and duplicates at most one segment per faulty lane, exactly the records past its checkpoint (seed ${SEED})`, async () => {
    const target = await createStream('replay-killed', 2);
    const replayId = `replay-${SEED}-killed`;
    const [[throwing, throwingRecords], [freezing, freezingRecords]] = busiestLanes();
    // A lane makes at least one call per segment (≤ 4 records): faults land in the first half of those.
    const rand = prng(SEED ^ 0xdead);
    const throwAfter = 2 + Math.floor(rand() * (Math.ceil(throwingRecords / 4) / 2 - 2));
    const freezeAt = 2 + Math.floor(rand() * (Math.ceil(freezingRecords / 4) / 2 - 2));
    let thrown = 0;
    let inFlight: PutRecordsInput | undefined;
    const never = new Promise<never>(() => undefined);
    const first = await execute({
      replayId,
      target,
      options: SMALL_SEGMENTS,
      ioFor: (lane, io, kill) => {
        let calls = 0;
        if (lane === throwing) {
          // A dead endpoint: every call from N + 1 on throws. putAllRecords resends as for any failed call, then gives up.
          return {
            ...io,
            putRecords: async (input) => {
              if (++calls > throwAfter) {
                thrown++;
                throw Object.assign(new Error('simulated crash: socket hang up'), { name: 'SimulatedCrash' });
              }
              return io.putRecords(input);
            },
          };
        }
        if (lane !== freezing) return io;
        // A frozen process: call M is written, its answer never heard; from then on nothing of this lane's io returns.
        let frozen = false;
        const guard = <T>(f: () => Promise<T>): Promise<T> => (frozen ? never : f());
        return {
          listKeys: (b, p) => guard(() => io.listKeys(b, p)),
          getState: (b, k) => guard(() => io.getState(b, k)),
          putState: (b, k, body) => guard(() => io.putState(b, k, body)),
          readLines: (b, k) => (async function* frozenAware() {
            for await (const line of io.readLines(b, k)) {
              if (frozen) await never;
              yield line;
            }
          })(),
          putRecords: async (input) => {
            if (frozen) return never;
            const out = await io.putRecords(input);
            if (++calls >= freezeAt && !frozen) {
              frozen = true;
              inFlight = input;
              kill();
              return never;
            }
            return out;
          },
        };
      },
    });
    const failed = first.lanes.filter((l) => l.error);
    expect(failed.map((l) => l.lane)).toEqual([throwing]);
    const error = failed[0].error as InstanceType<WorkerIndex['ReplayWorkerError']>;
    expect(error).toBeInstanceOf(worker.ReplayWorkerError);
    expect(error.error.code).toBe('RecordsFailed');
    expect(error.message).toMatch(/SimulatedCrash/);
    expect(thrown).toBeGreaterThanOrEqual(6); // each failed entry was sent 6 times (the sender's default attempts)
    expect(first.lanes.filter((l) => l.killed).map((l) => l.lane)).toEqual([freezing]);
    expect(first.lanes.filter((l) => l.lane !== throwing && l.lane !== freezing).every((l) => l.state.done === true)).toBe(true);
    expect(inFlight).toBeDefined();
    const inFlightObject = objectOf(unwrap(inFlight!.Records[0].Data, inFlight!.Records[0].PartitionKey) as number);

    // What the state in S3 says is in the stream, against what the first execution actually wrote.
    const writtenBefore = new Set(writtenIds(first.calls));
    const state = await committed(replayId);
    const duplicates = new Set([...writtenBefore].filter((id) => !state.ids.has(id)));
    const laneOf = (id: number): string => bucketLabel(bucketOf(fixture.users[id].partitionKey, LANES));
    const thrownDuplicates = [...duplicates].filter((id) => laneOf(id) === throwing);
    const frozenDuplicates = [...duplicates].filter((id) => laneOf(id) === freezing);
    expect(thrownDuplicates.length + frozenDuplicates.length).toBe(duplicates.size);

    const rerun = await execute({ replayId, target, options: SMALL_SEGMENTS });
    expect(rerun.lanes.filter((l) => l.error || l.state.done !== true)).toEqual([]);
    const { records, problems } = await delivered(target, replayId);
    expect(problems).toEqual([]);
    expect(checkDelivery(records, duplicates)).toEqual([]);
    expect(records.length).toBe(fixture.window.length + duplicates.size);
    // core.ts: at most one segment (here 4 records) per kill per lane, of the object in flight.
    expect(thrownDuplicates.length).toBeLessThanOrEqual(4);
    expect(thrownDuplicates.map(objectOf).filter((k) => k !== error.error.objectKey)).toEqual([]);
    expect(frozenDuplicates.length).toBeGreaterThanOrEqual(1); // at least the call that was in flight
    expect(frozenDuplicates.length).toBeLessThanOrEqual(4);
    expect(frozenDuplicates.map(objectOf).filter((k) => k !== inFlightObject)).toEqual([]);

    const expected = expectedTotals();
    expect(summarize(rerun.lanes.map((l) => l.state))).toEqual(expect.objectContaining({
      recordsReplayed: expected.recordsReplayed - state.ids.size,
      objectsSkipped: state.doneObjects,
      objectsDone: expected.objects - state.doneObjects,
    }));
    console.info(`seed ${SEED}: lane ${throwing} threw from call ${throwAfter + 1} (${thrownDuplicates.length} duplicated), lane ${freezing} froze at call ${freezeAt} `
      + `(${frozenDuplicates.length} duplicated); ${writtenBefore.size} written, ${state.ids.size} committed before the rerun`);
  });

  test(`graceful stops (remaining time under the margin on some invocations): every window record exactly once over many invocations, totals exact (seed ${SEED})`, async () => {
    const target = await createStream('replay-graceful', 2);
    const replayId = `replay-${SEED}-graceful`;
    let resumedCheckpoints = 0;
    const run = await execute({
      replayId,
      target,
      options: SMALL_SEGMENTS,
      ioFor: (_lane, io) => ({
        ...io,
        getState: async (b, k) => {
          const body = await io.getState(b, k);
          if (body !== undefined && k.includes('/progress/')) resumedCheckpoints++;
          return body;
        },
      }),
      contextFor: (lane, invocation) => {
        // Each invocation gets 1-12 looks at a comfortable clock, then sees 30 s left (the margin is 60 s).
        const budget = 1 + Math.floor(prng(SEED ^ (Number(lane) * 7919 + invocation))() * 12);
        let looks = 0;
        return { getRemainingTimeInMillis: () => (++looks <= budget ? 900_000 : 30_000) };
      },
    });
    expect(run.lanes.filter((l) => l.error || l.state.done !== true)).toEqual([]);
    const { records, problems } = await delivered(target, replayId);
    expect(problems).toEqual([]);
    expect(checkDelivery(records)).toEqual([]);
    expect(records).toHaveLength(fixture.window.length);

    const invocations = run.lanes.reduce((s, l) => s + l.invocations, 0);
    expect(invocations).toBeGreaterThan(3 * LANES);
    expect(resumedCheckpoints).toBeGreaterThan(0); // some stops fell between two segments of one object
    const expected = expectedTotals();
    expect(summarize(run.lanes.map((l) => l.state))).toEqual({
      recordsReplayed: expected.recordsReplayed,
      bytesReplayed: expected.bytesReplayed,
      recordsFiltered: 0,
      objectsDone: expected.objects,
      objectsSkipped: 0,
      throttles: 0,
      invocations,
      lanes: LANES,
    });
    expect(sumTotals(run.lanes, 'recordsOutsideWindow')).toBe(expected.outsideWindow);
    expect(run.emfLines).toBe(invocations);
  });
});
