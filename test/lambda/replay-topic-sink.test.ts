/**
 * The replay worker's topic sink (lambda/replay-worker/topic-sink.ts) against a scripted producer:
 * one partition per send, Java-compatible placement, send limits, retries of retriable errors,
 * isolation of a record too large for the topic, the header fallback, and errors no send survives.
 * The errors are kafkajs's own classes, shaped as kafkajs 2.2.4 throws them.
 */
import { KafkaJSConnectionError, KafkaJSNonRetriableError, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError } from 'kafkajs';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { createErrorFromCode } = require('kafkajs/src/protocol/error') as { createErrorFromCode: (code: number) => KafkaJSProtocolError };
import {
  classifyTopicError,
  mskSourcePartition,
  parseTopicArn,
  replayLane,
  ReplayInputError,
  topicPartitionOf,
  TOPIC_SEND_BYTES,
  type ReplayInput,
  type ReplayResult,
  type TopicMessage,
  type TopicSink,
} from '../../lambda/replay-worker/core';
import { encodeArchiveLine } from '../../lambda/shared/archive-format';
import { ARCHIVE, buildLane, HOUR, LANE, laneKeys, memoryIo, PREFIX, STATE, T0, type ArchiveLane } from '../kafka/replay-fixtures';

const TOPIC = 'arn:aws:kafka:eu-west-1:123456789012:topic/orders-cluster/0b7c3f5e-1111-2222-3333-444455556666-2/orders.replayed';
const PARTITIONS = 6;
const NOT_ENOUGH_REPLICAS = 19;
const MESSAGE_TOO_LARGE = 10;
const TOPIC_AUTHORIZATION_FAILED = 29;

/** What kafkajs throws when its own retries give up on a retriable broker error. */
const retriedOut = (code: number): Error => new KafkaJSNumberOfRetriesExceeded(createErrorFromCode(code), { retryCount: 5, retryTime: 1000 } as never);
/** What kafkajs throws for a non-retriable broker error. */
const NonRetriable = KafkaJSNonRetriableError as unknown as new (e: Error, options: { cause: Error }) => Error;
const refused = (code: number): Error => new NonRetriable(createErrorFromCode(code), { cause: createErrorFromCode(code) });

interface Send {
  readonly partition: number;
  readonly messages: readonly TopicMessage[];
}

/** A producer that records each send and answers with `fail(send, n)` (an error to throw) or writes it. */
function scripted(fail: (send: Send, n: number) => Error | undefined = () => undefined): { sink: TopicSink; sends: Send[]; written: Send[] } {
  const sends: Send[] = [];
  const written: Send[] = [];
  return {
    sends,
    written,
    sink: {
      partitions: PARTITIONS,
      async produce(partition, messages) {
        const send = { partition, messages };
        sends.push(send);
        const error = fail(send, sends.length);
        if (error) throw error;
        written.push(send);
      },
    },
  };
}

function input(extra: Partial<ReplayInput> = {}): ReplayInput {
  return {
    replayId: 'r-1', archiveBucket: ARCHIVE, archivePrefix: PREFIX, lane: LANE, fromMs: T0, toMs: T0 + 4 * HOUR,
    targetTopic: TOPIC, rate: { recordsPerSecond: 1e6, bytesPerSecond: 1e9 }, tagging: 'kpl-tag', stateBucket: STATE, statePrefix: 'replays/',
    ...extra,
  };
}

async function run(lane: ArchiveLane, sink: TopicSink, extra: Partial<ReplayInput> = {}, sleeps: number[] = []): Promise<ReplayResult> {
  return replayLane(input(extra), { ...memoryIo(lane, new Map()), openTopic: async (arn) => {
    expect(arn).toBe(TOPIC);
    return sink;
  } }, { remainingTimeMs: () => 600_000, segment: { maxRecords: 400 }, sleep: async (ms) => {
    sleeps.push(ms);
  } });
}

const keyOf = (m: TopicMessage): string => m.key?.toString('utf8') ?? '';
const eventOf = (m: TopicMessage): string => m.value.toString('utf8');
const lane = (big?: Map<number, number>): ArchiveLane => buildLane({ hours: 1, objectsPerHour: 2, perObject: 300, keys: laneKeys(30), big });

describe('topic sink', () => {
  test('every send carries one partition, the one the Java-compatible partitioner gives its keys, in lane order per partition', async () => {
    const l = lane();
    const { sink, sends, written } = scripted();
    const result = await run(l, sink);
    expect(result).toMatchObject({ done: true, progress: { recordsReplayed: 600, failed: 0 } });
    for (const s of sends) expect(s.messages.filter((m) => topicPartitionOf(keyOf(m), PARTITIONS) !== s.partition)).toEqual([]);
    // Known values of Java's murmur2 partitioner (checked against kafka-clients in test/kafka/replay-topic.test.ts).
    expect(['a', 'user-1', 'région-é', '😀'].map((k) => topicPartitionOf(k, 6))).toEqual([4, 2, 0, 3]);
    for (let p = 0; p < PARTITIONS; p++) {
      const inTopic = written.filter((s) => s.partition === p).flatMap((s) => s.messages.map(eventOf));
      const archived = l.records.filter((r) => topicPartitionOf(r.key, PARTITIONS) === p).map((r) => r.data.toString('utf8'));
      expect(inTopic).toEqual(archived);
    }
    expect(written.flatMap((s) => s.messages).every((m) => m.headers?.replay_id === 'r-1')).toBe(true);
  });

  test('a record archived from an MSK topic (no key in the archive) goes keyless to its source partition, in order', async () => {
    // What the archive processor writes for an MSK record: the partition number as partition_key, `<topic>-<partition>` as shard_id.
    const objectKey = `${PREFIX}dt=2026-11-20/hour=06/bucket=${LANE}/raw-archive-1-2026-11-20-06-00-01-00000000-aaaa-bbbb.jsonl.gz`;
    const sources = [{ p: '4', n: 0 }, { p: '9', n: 0 }, { p: '4', n: 1 }, { p: '9', n: 1 }, { p: '4', n: 2 }];
    const lines = sources.map((r, i) => encodeArchiveLine({
      partition_key: r.p, sequence_number: String(100 + i), sub_sequence_number: 0, approximate_arrival_timestamp: T0 + 1000 + i,
      shard_id: `orders-${r.p}`, data: Buffer.from(JSON.stringify(r)).toString('base64'),
    }).slice(0, -1));
    const l: ArchiveLane = { objects: new Map([[objectKey, lines]]), records: [] };
    const { sink, written } = scripted();
    expect((await run(l, sink)).progress.recordsReplayed).toBe(5);
    expect(written.map((s) => [s.partition, s.messages.map((m) => [m.key, eventOf(m)])])).toEqual([
      [4, [[null, '{"p":"4","n":0}'], [null, '{"p":"4","n":1}'], [null, '{"p":"4","n":2}']]],
      [3, [[null, '{"p":"9","n":0}'], [null, '{"p":"9","n":1}']]], // 9 mod 6
    ]);
    expect(mskSourcePartition({ partition_key: '1', shard_id: 'shardId-000000000001' })).toBeUndefined();
    expect(mskSourcePartition({ partition_key: '007', shard_id: 'orders-007' })).toBeUndefined();
    expect(mskSourcePartition({ partition_key: '12', shard_id: 'orders.v2-12' })).toBe(12);
  });

  test('tagging none sends no header', async () => {
    const { sink, written } = scripted();
    await run(lane(), sink, { tagging: 'none' });
    expect(written.flatMap((s) => s.messages).filter((m) => m.headers !== undefined)).toEqual([]);
  });

  test('a send holds at most one second of the lane rate and TOPIC_SEND_BYTES', async () => {
    const l = buildLane({ hours: 1, objectsPerHour: 1, perObject: 400, keys: laneKeys(2), big: new Map(Array.from({ length: 400 }, (_, i) => [i, 3000])) });
    const { sink, sends } = scripted();
    await run(l, sink, { rate: { recordsPerSecond: 120, bytesPerSecond: 1e9 } });
    const bytes = (s: Send): number => s.messages.reduce((n, m) => n + keyOf(m).length + m.value.byteLength + 'replay_idr-1'.length, 0);
    expect(Math.max(...sends.map((s) => s.messages.length))).toBeLessThanOrEqual(120);
    expect(Math.max(...sends.map(bytes))).toBeLessThanOrEqual(TOPIC_SEND_BYTES);
  });

  test('a retriable error is sent again after a backoff: every record written once', async () => {
    const l = lane();
    const sleeps: number[] = [];
    const { sink, written, sends } = scripted((_, n) => (n === 2 || n === 3 ? retriedOut(NOT_ENOUGH_REPLICAS) : n === 5 ? new KafkaJSConnectionError('Connection error: ECONNREFUSED') : undefined));
    const result = await run(l, sink, {}, sleeps);
    expect(result.error).toBeUndefined();
    expect(written.flatMap((s) => s.messages.map(eventOf)).sort()).toEqual(l.records.map((r) => r.data.toString('utf8')).sort());
    expect(sends[1]).toEqual(sends[2]); // the same records, same partition
    expect(sleeps).toHaveLength(3);
    expect(result.progress.putCalls).toBe(sends.length);
  });

  test('retries exhausted: the record fails with the broker error, its partition\'s later records are held back, other partitions are written', async () => {
    const l = lane();
    const badKey = l.records[100].key;
    const bad = topicPartitionOf(badKey, PARTITIONS);
    const { sink, written } = scripted((s) => (s.messages.some((m) => eventOf(m) === l.records[100].data.toString('utf8')) ? retriedOut(NOT_ENOUGH_REPLICAS) : undefined));
    const result = await run(l, sink);
    expect(result.done).toBe(false);
    const failed = result.error!.failedRecords!;
    expect(failed[0].errorCode).toBe('NOT_ENOUGH_REPLICAS');
    expect(failed.slice(1).every((f) => f.errorCode === 'NOT_ENOUGH_REPLICAS' || f.errorCode === 'PrecededByFailure')).toBe(true);
    // The segment's other partitions went out (its partition's send held record 100, so none of that partition did).
    expect([...new Set(written.map((s) => s.partition))].sort()).toEqual([0, 1, 2, 3, 4, 5].filter((p) => p !== bad));
    // Nothing is lost silently: every record of the segments sent is written or counted failed.
    const writtenCount = written.reduce((n, s) => n + s.messages.length, 0);
    expect(writtenCount + result.progress.failed).toBe(400);
    expect(written.filter((s) => s.partition === bad).flatMap((s) => s.messages.map(eventOf))).not.toContain(l.records[100].data.toString('utf8'));
  });

  test('a record too large for the topic is isolated by halving its send; it goes out without its header when only that fits', async () => {
    const l = lane(new Map([[120, 5000]]));
    const big = l.records[120].data.toString('utf8');
    const { sink, written } = scripted((s) => (s.messages.some((m) => eventOf(m) === big && m.headers) ? refused(MESSAGE_TOO_LARGE) : undefined));
    const result = await run(l, sink);
    expect(result.error).toBeUndefined();
    expect(result.progress).toMatchObject({ recordsReplayed: 600, untaggedOversize: 1 });
    const alone = written.find((s) => s.messages.some((m) => eventOf(m) === big))!;
    expect(alone.messages).toHaveLength(1);
    expect(alone.messages[0].headers).toBeUndefined();
    expect(written.flatMap((s) => s.messages.map(eventOf)).sort()).toEqual(l.records.map((r) => r.data.toString('utf8')).sort());
  });

  test('a record too large even without its header fails with MESSAGE_TOO_LARGE, reported with its key', async () => {
    const l = lane(new Map([[120, 5000]]));
    const big = l.records[120];
    const { sink } = scripted((s) => (s.messages.some((m) => eventOf(m) === big.data.toString('utf8')) ? refused(MESSAGE_TOO_LARGE) : undefined));
    const result = await run(l, sink);
    expect(result.error).toMatchObject({ code: 'RecordsFailed', objectKey: big.objectKey });
    expect(result.error!.failedRecords![0]).toMatchObject({ partitionKey: big.key, errorCode: 'MESSAGE_TOO_LARGE' });
  });

  test('an error no send survives (not authorized) fails every record not yet written and sends nothing more', async () => {
    const l = lane();
    const { sink, sends } = scripted((_, n) => (n === 3 ? refused(TOPIC_AUTHORIZATION_FAILED) : undefined));
    const result = await run(l, sink);
    expect(sends).toHaveLength(3);
    expect(result.error!.code).toBe('RecordsFailed');
    const codes = new Set(result.error!.failedRecords!.map((f) => f.errorCode));
    expect(codes).toEqual(new Set(['TOPIC_AUTHORIZATION_FAILED']));
    expect(result.progress.recordsReplayed + result.progress.failed).toBe(400);
  });
});

describe('topic errors and targets', () => {
  test.each([
    ['retries exceeded on NOT_ENOUGH_REPLICAS', retriedOut(NOT_ENOUGH_REPLICAS), 'NOT_ENOUGH_REPLICAS', 'retry'],
    ['a connection error', new KafkaJSConnectionError('Connection error'), 'KafkaJSConnectionError', 'retry'],
    ['MESSAGE_TOO_LARGE', refused(MESSAGE_TOO_LARGE), 'MESSAGE_TOO_LARGE', 'too-large'],
    ['RECORD_LIST_TOO_LARGE', createErrorFromCode(18), 'RECORD_LIST_TOO_LARGE', 'too-large'],
    ['TOPIC_AUTHORIZATION_FAILED', refused(TOPIC_AUTHORIZATION_FAILED), 'TOPIC_AUTHORIZATION_FAILED', 'stop'],
    ['a plain error', new Error('boom'), 'Error', 'stop'],
  ])('%s is classified by its root cause', (_, error, code, action) => {
    expect(classifyTopicError(error)).toMatchObject({ code, action });
  });

  test('a topic ARN names its cluster', () => {
    expect(parseTopicArn(TOPIC)).toEqual({
      clusterArn: 'arn:aws:kafka:eu-west-1:123456789012:cluster/orders-cluster/0b7c3f5e-1111-2222-3333-444455556666-2',
      topic: 'orders.replayed',
    });
    expect(() => parseTopicArn('arn:aws:kafka:eu-west-1:123456789012:cluster/a/b')).toThrow(ReplayInputError);
  });

  test.each([
    [{ targetTopic: undefined }, /exactly one of targetStream and targetTopic/],
    [{ targetStream: 'arn:aws:kinesis:us-east-1:1:stream/s' }, /exactly one of targetStream and targetTopic/],
    [{ targetTopic: 'orders' }, /targetTopic must be an MSK topic ARN/],
  ])('input %j is refused', async (extra, message) => {
    await expect(run(lane(), scripted().sink, extra as Partial<ReplayInput>)).rejects.toThrow(message);
  });
});
