/**
 * `cdk-streaming-pipelines/runtime`: the batch-processing runtime the library's handlers
 * use, for your own Lambda functions behind an event-source mapping.
 *
 *   import { batchHandler } from 'cdk-streaming-pipelines/runtime';
 *   export const handler = batchHandler(async (event) => { await apply(event); }, {
 *     idempotency: { keyField: 'event_id' }, // the table is IDEMPOTENCY_TABLE, set by IdempotencyTable.grantStore(fn)
 *   });
 */
import { batchMetrics } from './batch/emf';
import { processBatch, type BatchResult, type DeadLetterEntry, type ProcessOptions, type RecordHandler } from './batch/process-batch';
import { dynamoDb } from './idempotency/dynamodb-sdk';
import { DynamoDbIdempotencyStore, type DynamoDbSender } from './idempotency/dynamodb-store';
import { payloadHash } from './idempotency/payload-hash';

export { processBatch, PoisonRecordError } from './batch/process-batch';
export { FAILED_RECORDS_LOGGED } from './batch/process-batch';
export type { BatchResult, BatchStats, DeadLetterEntry, FailedRecord, IdempotencyOptions, Outcome, ProcessOptions, RecordContext, RecordHandler } from './batch/process-batch';
export { normalizeEvent, UnsupportedEventError } from './batch/event-sources';
export type { BatchItemFailure, KafkaHeader, KafkaRecordMetadata, SourceKind } from './batch/event-sources';
export { batchMetrics } from './batch/emf';
export { deaggregate, isAggregated, KplDecodeError } from './kpl';
export { DynamoDbIdempotencyStore } from './idempotency/dynamodb-store';
export type { DynamoDbCommand, DynamoDbSender, StoredAttribute } from './idempotency/dynamodb-store';
export { InMemoryIdempotencyStore, InMemoryIdempotencyTable } from './idempotency/store';
export type { ClaimOutcome, ClaimRequest, IdempotencyStore } from './idempotency/store';
export { payloadHash } from './idempotency/payload-hash';
export { packPutRecords, putAllRecords } from './put-records-packer';

/** The part of the Lambda context the wrapper reads. */
export interface LambdaContextLike {
  readonly awsRequestId: string;
  readonly functionName?: string;
  getRemainingTimeInMillis(): number;
}

export interface BatchHandlerOptions {
  /** DynamoDB idempotency on a payload field (a top-level key of the JSON record). @default off */
  readonly idempotency?: {
    /**
     * The idempotency table's name.
     * @default the `IDEMPOTENCY_TABLE` environment variable, which `IdempotencyTable.grantStore(fn)` sets
     */
    readonly tableName?: string;
    readonly keyField: string;
    /** How long completed keys are remembered. @default 7 days */
    readonly ttlSeconds?: number;
    /** Reject a key reused with different content. @default true */
    readonly checkPayloadHash?: boolean;
    /** The DynamoDB client (built with maxAttempts: 1: the store retries itself). @default a new DynamoDBClient */
    readonly client?: DynamoDbSender;
  };
  /** Sink for permanent failures, so poison records never block a shard. @default none (reported) */
  readonly deadLetter?: (entries: DeadLetterEntry[]) => Promise<void>;
  /** Most order keys in flight. @default 16 */
  readonly concurrency?: number;
  /** `json` or raw `bytes`. @default 'json' */
  readonly parse?: 'json' | 'bytes';
  /** EMF namespace of the batch metrics. @default 'StreamingPipelines' */
  readonly metricsNamespace?: string;
}

/** The environment variable `IdempotencyTable.grantStore(fn)` sets to the table's name. */
export const IDEMPOTENCY_TABLE_ENV = 'IDEMPOTENCY_TABLE';

/**
 * Wraps a per-record handler into a Lambda handler returning the partial batch response, with EMF
 * metrics and, when records fail, one log line naming each failed record (bounded per batch).
 */
export function batchHandler(recordHandler: RecordHandler, options: BatchHandlerOptions = {}): (event: unknown, context: LambdaContextLike) => Promise<{ batchItemFailures: BatchResult['batchItemFailures'] }> {
  const idem = options.idempotency;
  // Built here, at module init (where Lambda's init phase and provisioned concurrency pay for it), and
  // only when idempotency is on: a function without it never loads the SDK.
  const tableName = idem ? idem.tableName ?? process.env[IDEMPOTENCY_TABLE_ENV] : undefined;
  if (idem && !tableName) {
    // At init, so a misconfigured function fails its first invocation loudly instead of every record.
    throw new Error(`batchHandler: idempotency needs a table: set idempotency.tableName, or the ${IDEMPOTENCY_TABLE_ENV} environment variable (IdempotencyTable.grantStore(fn) sets it)`);
  }
  const client: DynamoDbSender | undefined = idem ? idem.client ?? new (dynamoDb().DynamoDBClient)({ maxAttempts: 1 }) : undefined;
  return async (event, context) => {
    let idempotency: ProcessOptions['idempotency'];
    if (idem && client) {
      const store = new DynamoDbIdempotencyStore({ client, tableName: tableName!, ttlSeconds: idem.ttlSeconds ?? 7 * 24 * 3600, owner: context.awsRequestId });
      idempotency = {
        store,
        keyOf: (r) => {
          const v = (r as Record<string, unknown> | null)?.[idem.keyField];
          return typeof v === 'string' || typeof v === 'number' ? String(v) : undefined;
        },
        hashOf: idem.checkPayloadHash === false ? undefined : payloadHash,
      };
    }
    const result = await processBatch(event, recordHandler, {
      idempotency, deadLetter: options.deadLetter, concurrency: options.concurrency, parse: options.parse,
      remainingTimeMs: () => context.getRemainingTimeInMillis(),
    });
    console.log(JSON.stringify(batchMetrics(result.stats, {
      namespace: options.metricsNamespace ?? 'StreamingPipelines',
      dimensions: { FunctionName: context.functionName ?? 'unknown', Source: result.stats.kind },
    })));
    const failureLog = failedRecordsLog(result, context.awsRequestId);
    if (failureLog) console.error(JSON.stringify(failureLog));
    return { batchItemFailures: result.batchItemFailures };
  };
}

/**
 * The batch's failure log line: each failed or dead-lettered record by its item identifier (sequence
 * number, message id or partition and offset) and reason, at most `FAILED_RECORDS_LOGGED` of them.
 * `undefined` when nothing failed.
 */
export function failedRecordsLog(result: BatchResult, requestId: string): object | undefined {
  if (result.failedRecords.length === 0) return undefined;
  return {
    level: 'ERROR', message: 'records failed', requestId, source: result.stats.kind,
    failuresByReason: result.stats.failuresByReason, deadLettered: result.stats.deadLettered,
    records: result.failedRecords, omitted: result.failedRecordsOmitted,
  };
}
