/**
 * Event-source-mapping batches, normalized into ordered lanes.
 *
 * Partial batch responses AWS supports (ReportBatchItemFailures), and how each
 * source checkpoints, which decides how a lane stops:
 * - Kinesis (standard and EFO): itemIdentifier = sequence number. Lambda checkpoints at the
 *   LOWEST reported one and redelivers everything after it, so a shard lane stops at its first
 *   failure and reports only that record. An aggregate's failure is its outer sequence number.
 * - SQS standard: itemIdentifier = messageId; unreported messages are deleted, so every failed
 *   message is reported and messages are independent.
 * - SQS FIFO: same identifier; a message group stops at its first failure and that message plus
 *   every later one of the group are reported, or they would be deleted out of order.
 * - MSK / self-managed Kafka: itemIdentifier = { partition: "<topic>-<partition>", offset }, the
 *   records-map key as delivered (topic names may hold '-' and '.') and the offset as a number.
 *   Lambda resumes each partition from the lowest reported offset, so a partition lane stops at
 *   its first failure (like a shard); an identifier not in the batch fails the whole batch, so only
 *   delivered ones are reported. A null key is absent or null; a tombstone's value too (it reaches
 *   the handler as null); headers are single-key objects of Java (signed) byte arrays.
 * Any other event shape is refused by throwing, which fails the whole batch so that the
 * mapping's bisect-on-error and retry policy apply.
 */

export type SourceKind = 'kinesis' | 'sqs' | 'sqs-fifo' | 'kafka';

/** One delivered record, before decoding. */
export interface SourceItem {
  /** What the partial batch response reports for this record. */
  readonly failureId: string | { partition: string; offset: number };
  /** Base64 payload as delivered (SQS bodies are text and are kept as UTF-8 strings). */
  readonly payload: string;
  readonly encoding: 'base64' | 'utf8';
  /** Records with the same key keep their order; distinct keys in a lane may run concurrently. */
  readonly orderKey: string;
  /** Partition key of the outer record (Kinesis), for KPL sub-records. */
  readonly partitionKey?: string;
  /** Position in the event, for stable reporting. */
  readonly index: number;
  /** The Kafka record's metadata (Kafka lanes only). */
  readonly kafka?: KafkaRecordMetadata;
}

/** One Kafka record header. Repeated keys are separate headers, in record order. */
export interface KafkaHeader {
  readonly key: string;
  /** The header's bytes (Lambda delivers them as Java's signed bytes; these are the bytes themselves). */
  readonly value: Buffer;
}

/** What a Kafka record carries besides its value, as the MSK / self-managed Kafka mapping delivers it. */
export interface KafkaRecordMetadata {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  /** Milliseconds since the epoch. */
  readonly timestamp: number;
  /** `CREATE_TIME` (the producer's clock) or `LOG_APPEND_TIME` (the broker's). */
  readonly timestampType: string;
  /** The record key's bytes; null for a null key. */
  readonly key: Buffer | null;
  readonly headers: KafkaHeader[];
  /** A null value: a delete marker on a compacted topic. The handler receives null (or an empty buffer with parse 'bytes'). */
  readonly tombstone: boolean;
}

/** A unit that checkpoints as one: a shard, a Kafka partition, an SQS FIFO group, or all SQS standard messages. */
export interface Lane {
  readonly id: string;
  /** Whether the lane stops at its first failure (streams and FIFO groups). */
  readonly stopsAtFirstFailure: boolean;
  /** Whether items after a failure must be reported too (SQS FIFO), rather than implied by the checkpoint. */
  readonly reportsSkipped: boolean;
  readonly items: SourceItem[];
}

export interface NormalizedBatch {
  readonly kind: SourceKind;
  readonly lanes: Lane[];
  readonly size: number;
}

export interface BatchItemFailure {
  itemIdentifier: string | { partition: string; offset: number };
}

export class UnsupportedEventError extends Error {}

/**
 * A lane as processBatch reads it: the same records, in the same order, as `Lane.items`, but read
 * from the event on demand, so the hot path allocates nothing per record before it processes it.
 */
export interface SourceLane {
  readonly id: string;
  readonly stopsAtFirstFailure: boolean;
  readonly reportsSkipped: boolean;
  /** Number of delivered records. */
  readonly length: number;
  /** Encoding of every payload of the lane. */
  readonly encoding: SourceItem['encoding'];
  /** `item(k).payload`, without building the item. */
  payload(k: number): string;
  /** `item(k).partitionKey`, without building the item. */
  partitionKey(k: number): string | undefined;
  /** `item(k).index`, without building the item. */
  index(k: number): number;
  /** `item(k).kafka`, without building the item. */
  kafka(k: number): KafkaRecordMetadata | undefined;
  /** The k-th delivered record of the lane (not to be mutated). */
  item(k: number): SourceItem;
}

export interface SourceBatch {
  readonly kind: SourceKind;
  readonly lanes: SourceLane[];
  readonly size: number;
}

/** Recognizes the event and groups its records into lanes. */
export function normalizeEvent(event: unknown): NormalizedBatch {
  const batch = sourceLanes(event, false);
  return {
    kind: batch.kind,
    lanes: batch.lanes.map((lane): Lane => ({
      id: lane.id,
      stopsAtFirstFailure: lane.stopsAtFirstFailure,
      reportsSkipped: lane.reportsSkipped,
      items: lane instanceof ItemsLane ? lane.items : Array.from({ length: lane.length }, (_, k) => lane.item(k)),
    })),
    size: batch.size,
  };
}

/**
 * `normalizeEvent` for processBatch: the same lanes, with records read from the event on demand.
 * With `checkPayloads` (the default) a payload that is not a string throws here, before any record is
 * processed, as decoding every record up front would.
 */
export function sourceLanes(event: unknown, checkPayloads = true): SourceBatch {
  const e = event as { Records?: unknown[]; records?: Record<string, unknown[]>; eventSource?: string };
  if (Array.isArray(e?.Records) && e.Records.length > 0) {
    const first = e.Records[0] as { eventSource?: string; eventSourceARN?: string };
    if (first.eventSource === 'aws:kinesis') return kinesisLanes(e.Records as KinesisRecord[], checkPayloads);
    if (first.eventSource === 'aws:sqs') return checked(sqsLanes(e.Records as SqsRecord[]), checkPayloads);
  }
  if (Array.isArray(e?.Records) && e.Records.length === 0) return { kind: 'kinesis', lanes: [], size: 0 };
  if (e?.records && typeof e.records === 'object' && (e.eventSource === 'aws:kafka' || e.eventSource === 'SelfManagedKafka')) {
    return checked(kafkaLanes(e.records as Record<string, KafkaRecord[]>), checkPayloads);
  }
  throw new UnsupportedEventError('unsupported event: expected a Kinesis, SQS or Kafka event-source-mapping batch');
}

function checked(batch: SourceBatch, checkPayloads: boolean): SourceBatch {
  if (checkPayloads) {
    for (const lane of batch.lanes) {
      for (let k = 0; k < lane.length; k++) if (typeof lane.payload(k) !== 'string') throw new TypeError(`record ${lane.index(k)}: the payload is not a string`);
    }
  }
  return batch;
}

/** A lane over items built up front (SQS, Kafka). */
class ItemsLane implements SourceLane {
  constructor(
    readonly id: string,
    readonly stopsAtFirstFailure: boolean,
    readonly reportsSkipped: boolean,
    readonly encoding: SourceItem['encoding'],
    readonly items: SourceItem[],
  ) {}
  get length(): number {
    return this.items.length;
  }
  payload(k: number): string {
    return this.items[k].payload;
  }
  partitionKey(k: number): string | undefined {
    return this.items[k].partitionKey;
  }
  index(k: number): number {
    return this.items[k].index;
  }
  kafka(k: number): KafkaRecordMetadata | undefined {
    return this.items[k].kafka;
  }
  item(k: number): SourceItem {
    return this.items[k];
  }
}

interface KinesisRecord {
  eventID: string;
  kinesis: { sequenceNumber: string; partitionKey: string; data: string };
}

/** A shard's records, read from the event itself: no per-record object until one is needed. */
class KinesisLane implements SourceLane {
  readonly stopsAtFirstFailure = true;
  readonly reportsSkipped = false;
  readonly encoding = 'base64';
  /**
   * @param records the shard's records in event order
   * @param indexes their positions in the event; undefined when `records` is the event's own array
   */
  readonly length: number;
  constructor(readonly id: string, private readonly records: KinesisRecord[], private readonly indexes?: number[]) {
    this.length = records.length;
  }
  payload(k: number): string {
    return this.records[k].kinesis.data;
  }
  partitionKey(k: number): string {
    return this.records[k].kinesis.partitionKey;
  }
  index(k: number): number {
    return this.indexes === undefined ? k : this.indexes[k];
  }
  kafka(): undefined {
    return undefined;
  }
  item(k: number): SourceItem {
    const r = this.records[k].kinesis;
    return { failureId: r.sequenceNumber, payload: r.data, encoding: 'base64', orderKey: r.partitionKey, partitionKey: r.partitionKey, index: this.index(k) };
  }
}

/** Whether `eventID` belongs to `shard` (an id without ':'): `eventID.split(':')[0] === shard`. */
function inShard(eventID: string, shard: string): boolean {
  // lastIndexOf from 0 is a startsWith that costs a fraction of one.
  return (eventID.length === shard.length || eventID.charCodeAt(shard.length) === 58 /* ':' */) && eventID.lastIndexOf(shard, 0) === 0;
}

/** Shards compared against a record's eventID before it is split (a batch normally holds one). */
const COMPARED_SHARDS = 8;

function kinesisLanes(records: KinesisRecord[], checkPayloads: boolean): SourceBatch {
  // eventID is "shardId-000000000000:<sequenceNumber>". One ESM batch normally holds one shard, so the
  // lane is the event's own array until a second shard shows up, and a record's shard is found by
  // comparing its eventID with the shards seen so far rather than by splitting every eventID.
  const shards: string[] = [];
  let last = -1;
  let byShard: Map<string, number> | undefined;
  /** Per shard after the first one appears: its records and their positions in the event. */
  let groups: { records: KinesisRecord[]; indexes: number[] }[] | undefined;
  for (let i = 0; i < records.length; i++) {
    const r = records[i];
    const id = r.eventID;
    let lane = -1;
    if (typeof id === 'string') {
      if (last >= 0 && inShard(id, shards[last])) {
        lane = last;
      } else {
        for (let j = 0; j < shards.length && j < COMPARED_SHARDS; j++) {
          if (j !== last && inShard(id, shards[j])) {
            lane = j;
            break;
          }
        }
      }
    }
    if (lane < 0) {
      const colon = typeof id === 'string' ? id.indexOf(':') : -1;
      const shard: string = typeof id !== 'string' ? (id as string | undefined)?.split(':')[0] ?? 'shard' : colon < 0 ? id : id.slice(0, colon);
      if (byShard === undefined) byShard = new Map();
      lane = byShard.get(shard) ?? -1;
      if (lane < 0) {
        lane = shards.length;
        shards.push(shard);
        byShard.set(shard, lane);
        if (lane === 1) groups = [{ records: records.slice(0, i), indexes: Array.from({ length: i }, (_, k) => k) }];
        if (lane >= 1) groups!.push({ records: [], indexes: [] });
      }
    }
    last = lane;
    const kinesis = r.kinesis;
    if (kinesis === undefined || kinesis === null) throw new TypeError(`record ${i}: no kinesis field`);
    if (checkPayloads && typeof kinesis.data !== 'string') throw new TypeError(`record ${i}: the payload is not a string`);
    if (groups !== undefined) {
      groups[lane].records.push(r);
      groups[lane].indexes.push(i);
    }
  }
  const lanes = groups === undefined
    ? [new KinesisLane(shards[0], records)]
    : groups.map((g, j) => new KinesisLane(shards[j], g.records, g.indexes));
  return { kind: 'kinesis', lanes, size: records.length };
}

interface SqsRecord {
  messageId: string;
  body: string;
  eventSourceARN?: string;
  attributes?: { MessageGroupId?: string };
}

function sqsLanes(records: SqsRecord[]): SourceBatch {
  const fifo = records[0].eventSourceARN?.endsWith('.fifo') === true || records[0].attributes?.MessageGroupId !== undefined;
  if (!fifo) {
    const items = records.map((r, index) => ({ failureId: r.messageId, payload: r.body, encoding: 'utf8' as const, orderKey: r.messageId, index }));
    return { kind: 'sqs', lanes: [new ItemsLane('sqs', false, false, 'utf8', items)], size: records.length };
  }
  const lanes = new Map<string, SourceItem[]>();
  records.forEach((r, index) => {
    const group = r.attributes?.MessageGroupId ?? '';
    let items = lanes.get(group);
    if (!items) lanes.set(group, (items = []));
    items.push({ failureId: r.messageId, payload: r.body, encoding: 'utf8', orderKey: group, index });
  });
  return { kind: 'sqs-fifo', lanes: [...lanes].map(([group, items]) => new ItemsLane(group, true, true, 'utf8', items)), size: records.length };
}

interface KafkaRecord {
  topic: string;
  partition: number;
  offset: number;
  timestamp?: number;
  timestampType?: string;
  key?: string | null;
  value?: string | null;
  headers?: { [key: string]: number[] }[];
}

function kafkaLanes(byPartition: Record<string, KafkaRecord[]>): SourceBatch {
  let index = 0;
  const lanes = Object.entries(byPartition).map(([tp, records]) => new ItemsLane(tp, true, false, 'base64',
    [...records].sort((a, b) => a.offset - b.offset).map((r) => {
      const tombstone = r.value === null || r.value === undefined;
      return {
        failureId: { partition: tp, offset: r.offset }, payload: tombstone ? '' : r.value as string, encoding: 'base64' as const,
        // Kafka orders per partition, and per record key within it: keyed records may interleave.
        orderKey: r.key ? `k:${r.key}` : tp, index: index++, kafka: kafkaMetadata(r, tombstone),
      };
    })));
  return { kind: 'kafka', lanes, size: index };
}

function kafkaMetadata(r: KafkaRecord, tombstone: boolean): KafkaRecordMetadata {
  const headers: KafkaHeader[] = [];
  for (const h of r.headers ?? []) {
    for (const [key, bytes] of Object.entries(h)) {
      if (!Array.isArray(bytes)) throw new TypeError(`record ${r.topic}-${r.partition}@${r.offset}: header '${key}' is not a byte array`);
      // Java's signed bytes: -128..-1 are 0x80..0xff.
      headers.push({ key, value: Buffer.from(bytes.map((b) => b & 0xff)) });
    }
  }
  return {
    topic: r.topic, partition: r.partition, offset: r.offset, timestamp: r.timestamp ?? 0, timestampType: r.timestampType ?? 'CREATE_TIME',
    key: typeof r.key === 'string' ? Buffer.from(r.key, 'base64') : null, headers, tombstone,
  };
}
