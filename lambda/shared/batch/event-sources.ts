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
 * - MSK / self-managed Kafka: itemIdentifier = { partition: "<topic>-<partition>", offset };
 *   Lambda resumes each partition from the lowest reported offset, so a partition lane stops at
 *   its first failure (like a shard).
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

/** Recognizes the event and groups its records into lanes. */
export function normalizeEvent(event: unknown): NormalizedBatch {
  const e = event as { Records?: unknown[]; records?: Record<string, unknown[]>; eventSource?: string };
  if (Array.isArray(e?.Records) && e.Records.length > 0) {
    const first = e.Records[0] as { eventSource?: string; eventSourceARN?: string };
    if (first.eventSource === 'aws:kinesis') return kinesisLanes(e.Records as KinesisRecord[]);
    if (first.eventSource === 'aws:sqs') return sqsLanes(e.Records as SqsRecord[]);
  }
  if (Array.isArray(e?.Records) && e.Records.length === 0) return { kind: 'kinesis', lanes: [], size: 0 };
  if (e?.records && typeof e.records === 'object' && (e.eventSource === 'aws:kafka' || e.eventSource === 'SelfManagedKafka')) {
    return kafkaLanes(e.records as Record<string, KafkaRecord[]>);
  }
  throw new UnsupportedEventError('unsupported event: expected a Kinesis, SQS or Kafka event-source-mapping batch');
}

interface KinesisRecord {
  eventID: string;
  kinesis: { sequenceNumber: string; partitionKey: string; data: string };
}

function kinesisLanes(records: KinesisRecord[]): NormalizedBatch {
  const lanes = new Map<string, Lane>();
  records.forEach((r, index) => {
    // eventID is "shardId-000000000000:<sequenceNumber>"; one ESM batch normally holds one shard.
    const shard = r.eventID?.split(':')[0] ?? 'shard';
    let lane = lanes.get(shard);
    if (!lane) lanes.set(shard, (lane = { id: shard, stopsAtFirstFailure: true, reportsSkipped: false, items: [] }));
    lane.items.push({
      failureId: r.kinesis.sequenceNumber, payload: r.kinesis.data, encoding: 'base64',
      orderKey: r.kinesis.partitionKey, partitionKey: r.kinesis.partitionKey, index,
    });
  });
  return { kind: 'kinesis', lanes: [...lanes.values()], size: records.length };
}

interface SqsRecord {
  messageId: string;
  body: string;
  eventSourceARN?: string;
  attributes?: { MessageGroupId?: string };
}

function sqsLanes(records: SqsRecord[]): NormalizedBatch {
  const fifo = records[0].eventSourceARN?.endsWith('.fifo') === true || records[0].attributes?.MessageGroupId !== undefined;
  if (!fifo) {
    const items = records.map((r, index) => ({ failureId: r.messageId, payload: r.body, encoding: 'utf8' as const, orderKey: r.messageId, index }));
    return { kind: 'sqs', lanes: [{ id: 'sqs', stopsAtFirstFailure: false, reportsSkipped: false, items }], size: records.length };
  }
  const lanes = new Map<string, Lane>();
  records.forEach((r, index) => {
    const group = r.attributes?.MessageGroupId ?? '';
    let lane = lanes.get(group);
    if (!lane) lanes.set(group, (lane = { id: group, stopsAtFirstFailure: true, reportsSkipped: true, items: [] }));
    lane.items.push({ failureId: r.messageId, payload: r.body, encoding: 'utf8', orderKey: group, index });
  });
  return { kind: 'sqs-fifo', lanes: [...lanes.values()], size: records.length };
}

interface KafkaRecord {
  topic: string;
  partition: number;
  offset: number;
  key?: string | null;
  value: string;
}

function kafkaLanes(byPartition: Record<string, KafkaRecord[]>): NormalizedBatch {
  let index = 0;
  const lanes: Lane[] = Object.entries(byPartition).map(([tp, records]) => ({
    id: tp,
    stopsAtFirstFailure: true,
    reportsSkipped: false,
    items: [...records].sort((a, b) => a.offset - b.offset).map((r) => ({
      failureId: { partition: tp, offset: r.offset }, payload: r.value ?? '', encoding: 'base64' as const,
      // Kafka orders per partition, and per record key within it: keyed records may interleave.
      orderKey: r.key ? `k:${r.key}` : tp, index: index++,
    })),
  }));
  return { kind: 'kafka', lanes, size: index };
}
