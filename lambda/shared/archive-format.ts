/**
 * The archive's record format and layout, shared by the archive processor
 * (which writes it), the replay workers (which read it) and the Glue table
 * (lib/core/archive-table.ts, whose columns are these field names).
 *
 * One archived record is one JSON line, terminated by '\n':
 *
 *   {"partition_key":"user-42","sequence_number":"4959…","sub_sequence_number":0,
 *    "approximate_arrival_timestamp":1732233600123,"shard_id":"shardId-000000000001",
 *    "data":"eyJldmVudF9pZCI6…"}
 *
 * `data` is the exact payload, base64: bytes come back byte for byte whatever
 * they are (not JSON, binary, containing newlines). Firehose de-aggregates KPL
 * records before the processor sees them, so a line is one user record and
 * `sub_sequence_number` is its index in the producer's aggregate (0 otherwise).
 *
 * Layout, all by ARRIVAL time (UTC), which is what a replay window selects on:
 *
 *   <prefix>dt=YYYY-MM-DD/hour=HH/bucket=NN/<Firehose object name>.gz
 *
 * `bucket` is a hash of the partition key into `buckets` lanes. Every record
 * of a partition key lands in the same lane, so a replay can run one worker
 * per lane, in time order, and per-key order holds while lanes run in parallel.
 *
 * A record from an MSK topic (an MSK-sourced delivery stream) fills the same
 * fields with what Firehose gives its processor, which is the value, the
 * partition and the offset, never the record key or headers:
 *
 *   {"partition_key":"3","sequence_number":"1042","sub_sequence_number":0,
 *    "approximate_arrival_timestamp":1732233600123,"shard_id":"orders-3","data":"…"}
 *
 * `partition_key` is the Kafka partition number (so a lane holds whole
 * partitions and per-partition order holds), `sequence_number` the offset and
 * `shard_id` `<topic>-<partition>`, the Lambda MSK event's record-map key.
 */
import { createHash } from 'node:crypto';

/** One archived record. */
export interface ArchivedRecord {
  readonly partition_key: string;
  readonly sequence_number: string;
  readonly sub_sequence_number: number;
  /** Approximate arrival in the source stream, epoch milliseconds. */
  readonly approximate_arrival_timestamp: number;
  readonly shard_id: string;
  /** The payload, base64. */
  readonly data: string;
}

/** Lanes per hour by default: 16 keeps hour × bucket partitions far below Firehose's 500 active partitions. */
export const DEFAULT_ARCHIVE_BUCKETS = 16;
/** Most lanes: 100 buckets, two digits. */
export const MAX_ARCHIVE_BUCKETS = 100;

/**
 * The lane of a partition key: the first 4 bytes of MD5(key) (the hash Kinesis
 * routes on), big-endian, modulo `buckets`.
 */
export function bucketOf(partitionKey: string, buckets: number = DEFAULT_ARCHIVE_BUCKETS): number {
  const md5 = createHash('md5').update(partitionKey, 'utf8').digest();
  return md5.readUInt32BE(0) % buckets;
}

/** Two-digit lane label, e.g. `07`. */
export function bucketLabel(bucket: number): string {
  return bucket.toString().padStart(2, '0');
}

/** The arrival partition of an epoch-millisecond timestamp: `{ dt: 'YYYY-MM-DD', hour: 'HH' }` in UTC. */
export function arrivalPartition(epochMs: number): { dt: string; hour: string } {
  const iso = new Date(epochMs).toISOString();
  return { dt: iso.slice(0, 10), hour: iso.slice(11, 13) };
}

/** The line for one record, newline included. Field order is fixed, so equal records give equal bytes. */
export function encodeArchiveLine(record: ArchivedRecord): string {
  return `${JSON.stringify({
    partition_key: record.partition_key,
    sequence_number: record.sequence_number,
    sub_sequence_number: record.sub_sequence_number,
    approximate_arrival_timestamp: record.approximate_arrival_timestamp,
    shard_id: record.shard_id,
    data: record.data,
  })}\n`;
}

/** Why a line is not an archived record. */
export class ArchiveLineError extends Error {}

/** Parses one line (without its newline). Throws ArchiveLineError naming what is wrong. */
export function decodeArchiveLine(line: string): ArchivedRecord {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new ArchiveLineError('not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ArchiveLineError('not a JSON object');
  const r = value as Record<string, unknown>;
  const str = (k: string): string => {
    if (typeof r[k] !== 'string' || r[k] === '') throw new ArchiveLineError(`${k} must be a non-empty string`);
    return r[k] as string;
  };
  const num = (k: string): number => {
    if (typeof r[k] !== 'number' || !Number.isSafeInteger(r[k]) || (r[k] as number) < 0) throw new ArchiveLineError(`${k} must be a non-negative integer`);
    return r[k] as number;
  };
  const data = r.data;
  if (typeof data !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(data) || data.length % 4 !== 0) throw new ArchiveLineError('data must be base64');
  return {
    partition_key: str('partition_key'),
    sequence_number: str('sequence_number'),
    sub_sequence_number: num('sub_sequence_number'),
    approximate_arrival_timestamp: num('approximate_arrival_timestamp'),
    shard_id: str('shard_id'),
    data,
  };
}

/**
 * Splits an object's text into records, in file order. An empty trailing line
 * is the last record's terminator; any other bad line throws with its 1-based number.
 */
export function decodeArchiveObject(text: string): ArchivedRecord[] {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.map((line, i) => {
    try {
      return decodeArchiveLine(line);
    } catch (e) {
      throw new ArchiveLineError(`line ${i + 1}: ${(e as Error).message}`);
    }
  });
}

/** Firehose's object name: `<stream>-<version>-YYYY-MM-DD-HH-MM-SS-<uuid><extension>` (greedy: the last such stamp). */
const FIREHOSE_OBJECT_NAME = /^(.*)-([0-9]+)-([0-9]{4}-[0-9]{2}-[0-9]{2}-[0-9]{2}-[0-9]{2}-[0-9]{2})-([^/]*)$/;

/**
 * The order a lane's objects are replayed in, as a string to compare: by folder (`dt=/hour=/bucket=`, zero-padded,
 * so time order), then by the creation time and the delivery-stream version in Firehose's object name, the version
 * NUMERICALLY. Plain key order would put `…-10-<time>` before `…-9-<time>`: the version grows with every
 * configuration change, so an update from 9 to 10 within an hour would replay that hour's newer objects first (and
 * a cursor on a version-9 key would skip the version-10 ones). Objects created in the same second by the same
 * version (equal archiveCreationGroup) fall back to the random uuid: their names cannot order them. Names not in
 * Firehose's form sort after those that are, by name.
 */
export function archiveObjectOrder(key: string): string {
  const slash = key.lastIndexOf('/');
  const folder = key.slice(0, slash + 1);
  const name = key.slice(slash + 1);
  const m = FIREHOSE_OBJECT_NAME.exec(name);
  if (!m) return `${folder}\u0001${name}`;
  const [, stream, version, stamp, rest] = m;
  return `${folder}\u0000${stamp}\u0000${version.padStart(20, '0')}\u0000${stream}\u0000${rest}`;
}

/**
 * Objects with the same creation group were written by one delivery stream version in the same second, in the same
 * folder: their names do not tell which came first. A name not in Firehose's form is a group of its own.
 */
export function archiveCreationGroup(key: string): string {
  const order = archiveObjectOrder(key);
  const folderEnd = key.lastIndexOf('/') + 1;
  return order.charAt(folderEnd) === '\u0000' ? order.slice(0, order.lastIndexOf('\u0000')) : order;
}

/** The hour prefixes `dt=…/hour=…/` covering [fromMs, toMs), oldest first. */
export function hourPrefixes(fromMs: number, toMs: number): string[] {
  const out: string[] = [];
  const hour = 3_600_000;
  for (let t = Math.floor(fromMs / hour) * hour; t < toMs; t += hour) {
    const { dt, hour: hh } = arrivalPartition(t);
    out.push(`dt=${dt}/hour=${hh}/`);
  }
  return out;
}

/** The start (epoch ms) of an hour prefix `dt=YYYY-MM-DD/hour=HH/`, as hourPrefixes writes it; undefined for anything else. */
export function hourPrefixStartMs(hourPrefix: string): number | undefined {
  const m = /^dt=(\d{4}-\d{2}-\d{2})\/hour=(\d{2})\/$/.exec(hourPrefix);
  return m ? Date.parse(`${m[1]}T${m[2]}:00:00Z`) : undefined;
}
