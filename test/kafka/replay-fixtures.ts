/**
 * Fixtures for test/kafka/replay*.test.ts: an archive lane built with the archive format's own
 * helpers (lines, arrival partitions, lanes, Firehose object names) held in memory with the replay's
 * state objects, the partitions Apache Kafka's Java producer gives keys, and a full read-back of a topic.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import type { Kafka } from 'kafkajs';
import { arrivalPartition, bucketOf, encodeArchiveLine } from '../../lambda/shared/archive-format';
import type { ReplayIo } from '../../lambda/replay-worker/core';
import { kafkaJars } from './cluster';

export const ARCHIVE = 'raw-archive';
export const STATE = 'replay-state';
export const PREFIX = 'archive/';
export const LANE = '03';
export const HOUR = 3_600_000;
export const T0 = Date.UTC(2026, 10, 20, 6); // 2026-11-20T06:00Z

/** One archived record of the lane, in lane order: `n` counts the records of its key before it. */
export interface Archived {
  readonly key: string;
  readonly n: number;
  readonly arrival: number;
  readonly data: Buffer;
  readonly objectKey: string;
}

/** `count` partition keys that hash into lane 03 of 16: ASCII, accented, CJK and emoji. */
export function laneKeys(count: number): string[] {
  const out: string[] = [];
  const stems = ['user', 'région-é', '租户', '😀-k'];
  for (let i = 0; out.length < count; i++) {
    const key = `${stems[i % stems.length]}-${i}`;
    if (bucketOf(key, 16) === Number(LANE)) out.push(key);
  }
  return out;
}

/** The lane's archive objects (key → lines) and the records they hold, in lane order. */
export interface ArchiveLane {
  readonly objects: Map<string, string[]>;
  readonly records: Archived[];
}

/**
 * `hours` hours × `objectsPerHour` objects × `perObject` records over `keys`, arrivals increasing, every
 * payload a JSON event naming its key and `n`; `big` (record index → payload bytes) pads some payloads.
 */
export function buildLane(options: { hours: number; objectsPerHour: number; perObject: number; keys: string[]; big?: Map<number, number> }): ArchiveLane {
  const objects = new Map<string, string[]>();
  const records: Archived[] = [];
  const perKey = new Map<string, number>();
  let serial = 0;
  const total = options.hours * options.objectsPerHour * options.perObject;
  const step = Math.floor((options.hours * HOUR) / (total + 1));
  for (let o = 0; o < options.hours * options.objectsPerHour; o++) {
    const first = T0 + (o * options.perObject + 1) * step;
    const { dt, hour } = arrivalPartition(first);
    const stamp = new Date(first).toISOString().slice(0, 19).replace(/[T:]/g, '-');
    const objectKey = `${PREFIX}dt=${dt}/hour=${hour}/bucket=${LANE}/raw-archive-1-${stamp}-${(serial++).toString(16).padStart(8, '0')}-aaaa-bbbb.jsonl.gz`;
    const lines: string[] = [];
    for (let r = 0; r < options.perObject; r++) {
      const index = records.length;
      const key = options.keys[(index * 7 + (index >> 3)) % options.keys.length];
      const n = perKey.get(key) ?? 0;
      perKey.set(key, n + 1);
      const arrival = first + r * step;
      const pad = options.big?.get(index);
      const data = Buffer.from(JSON.stringify({ event_id: `e-${index}`, key, n, ...(pad ? { pad: 'x'.repeat(pad) } : {}) }), 'utf8');
      lines.push(encodeArchiveLine({
        partition_key: key,
        sequence_number: (49590338271490256608559692538361571095921575989136588898n + BigInt(index) * 1000n).toString(),
        sub_sequence_number: 0,
        approximate_arrival_timestamp: arrival,
        shard_id: 'shardId-000000000001',
        data: data.toString('base64'),
      }).slice(0, -1));
      records.push({ key, n, arrival, data, objectKey });
    }
    objects.set(objectKey, lines);
  }
  return { objects, records };
}

/** The replay's S3 side in memory: the archive lane and the state bucket (markers, checkpoints). */
export function memoryIo(lane: ArchiveLane, state: Map<string, string>, hooks: { onCheckpoint?: (key: string) => Promise<void> } = {}): Omit<ReplayIo, 'openTopic'> {
  return {
    listKeys: async (bucket, prefix) => [...(bucket === ARCHIVE ? lane.objects.keys() : state.keys())].filter((k) => k.startsWith(prefix)),
    async* readLines(bucket, key) {
      const lines = bucket === ARCHIVE ? lane.objects.get(key) : undefined;
      if (!lines) throw Object.assign(new Error(`no such key ${key}`), { name: 'NoSuchKey' });
      yield* lines;
    },
    getState: async (_bucket, key) => state.get(key),
    async putState(_bucket, key, body) {
      if (key.includes('/progress/')) await hooks.onCheckpoint?.(key);
      state.set(key, body);
    },
    putRecords: async () => {
      throw new Error('a topic replay never calls PutRecords');
    },
  };
}

/** The partition Apache Kafka's Java producer (kafka-clients' BuiltInPartitioner) gives each key. */
export function javaPartitions(keys: readonly string[], partitions: number): Map<string, number> {
  const input = [String(partitions), ...keys.map((k) => Buffer.from(k, 'utf8').toString('hex'))].join('\n');
  const r = spawnSync('java', ['-cp', `${kafkaJars()}${path.sep}*`, path.join(__dirname, 'replay-java-partitioner.java')], { input, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`java partitioner failed: ${r.stderr}`);
  const out = r.stdout.trim().split('\n').map(Number);
  return new Map(keys.map((k, i) => [k, out[i]]));
}

/** One record read back. */
export interface ReadRecord {
  readonly partition: number;
  readonly offset: number;
  readonly key: string;
  readonly value: Buffer;
  readonly headers: Record<string, string>;
}

/** Every record of `topic` up to its high watermarks (duplicates included), in (partition, offset) order. */
export async function readTopic(kafka: Kafka, topic: string, timeoutMs = 60_000): Promise<ReadRecord[]> {
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const high = new Map(offsets.map((o) => [o.partition, Number(o.high)]));
  const seen: ReadRecord[] = [];
  const reached = (): boolean => [...high].every(([p, h]) => h === 0 || seen.some((r) => r.partition === p && r.offset === h - 1));
  const consumer = kafka.consumer({ groupId: `replay-read-${topic}-${Date.now()}`, sessionTimeout: 10_000, heartbeatInterval: 1000 });
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    if (!reached()) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`read ${seen.length} records of ${topic} in ${timeoutMs} ms without reaching the high watermarks`)), timeoutMs);
        void consumer.run({
          eachBatch: async ({ batch }) => {
            for (const m of batch.messages) {
              const headers = Object.fromEntries(Object.entries(m.headers ?? {}).map(([k, v]) => [k, String(v)]));
              seen.push({ partition: batch.partition, offset: Number(m.offset), key: m.key?.toString('utf8') ?? '', value: m.value ?? Buffer.alloc(0), headers });
            }
            if (reached()) {
              clearTimeout(timer);
              resolve();
            }
          },
        }).catch(reject);
      });
    }
  } finally {
    await consumer.disconnect();
  }
  return seen.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
}

export { reportKafka as report } from './shared-cluster';
