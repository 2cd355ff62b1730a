/**
 * DynamoDB-backed {@link IdempotencyStore}: O(batch ÷ 100) requests per call.
 *
 * Table: partition key `pk` (S), TTL on `expiresAt`. Item:
 *   { pk, status: IN_PROGRESS|COMPLETED, expiresAt (epoch s), inProgressExpiry (epoch ms, IN_PROGRESS only),
 *     payloadHash?, owner }
 *
 * claim: TransactWriteItems of up to 100 conditional Puts (the only batched
 *   write that takes conditions; BatchWriteItem cannot claim). When a
 *   condition fails DynamoDB cancels the whole transaction, but with
 *   `ReturnValuesOnConditionCheckFailure: ALL_OLD` its `CancellationReasons`
 *   (one per item, in order) carry each blocking item, so the outcome of every
 *   failed key is decided from that response and only the rest are resent, at
 *   once. Requests per 100 unique keys:
 *     all claimable: 1;  all COMPLETED/held: 1;  mixed: 2;
 *     worst case: `attempts` (default 8), reached only under throttling,
 *     transaction conflicts or concurrent writers, after which the remaining
 *     keys are `error`.
 *   With `precheck: true` a BatchGetItem (100 keys, strongly consistent)
 *   first settles the keys already COMPLETED or held, so replay-heavy batches
 *   cost reads instead of cancelled transactional writes (2 WCU per item);
 *   it costs one extra request per 100 keys when keys are new.
 * complete: TransactWriteItems of up to 100 unconditional Updates (1 request
 *   per 100 keys; BatchWriteItem would take 4 with its 25-item limit).
 * release: TransactWriteItems of up to 100 Deletes conditioned on
 *   `status = IN_PROGRESS AND owner = <this owner>`: BatchWriteItem deletes
 *   cannot be conditioned and could delete another invocation's claim or a
 *   COMPLETED marker (which would let the effect be applied twice).
 *
 * Chunks run with bounded concurrency. Throttling and transient errors are
 * retried with exponential backoff and full jitter, for a bounded number of
 * attempts; keys still undecided then come back as `error` / `failed`, so a
 * throttled chunk fails its own records, never the whole batch.
 *
 * The SDK client retries throttling on its own too (3 attempts by default);
 * build it with `maxAttempts: 1` to leave the retry budget to this store.
 */
import { dynamoDb, type AttributeValue, type BatchGetItemCommandOutput, type CancellationReason, type TransactWriteItem } from './dynamodb-sdk';
import { mapWithConcurrency } from '../concurrency';
import { realSleep, retryRemaining, type PartialAttempt, type RetryOptions } from '../retry';
import {
  type ClaimCheck,
  type ClaimOptions,
  type ClaimOutcome,
  type ClaimRequest,
  checkClaim,
  checkClaimOptions,
  epochSeconds,
  type IdempotencyRecord,
  type IdempotencyStore,
  inProgressExpiresAt,
  planClaims,
  planKeys,
} from './store';

/** TransactWriteItems and BatchGetItem both take at most 100 items. */
export const MAX_ITEMS_PER_REQUEST = 100;

/** The DynamoDB operations this store calls, as reported to `onRequest`. */
export type DynamoDbOperation = 'TransactWriteItems' | 'BatchGetItem';

/**
 * The part of `DynamoDBClient` the store uses: `send` of a `TransactWriteItemsCommand` or a
 * `BatchGetItemCommand`. Typed structurally so the runtime's types need no AWS SDK installed.
 */
export interface DynamoDbSender {
  send(command: DynamoDbCommand): Promise<unknown>;
}

/** An SDK v3 command, as far as the store's client needs to know. */
export interface DynamoDbCommand {
  readonly input: object;
}

/** A stored attribute, as far as the store reads it (a DynamoDB `AttributeValue`). */
export interface StoredAttribute {
  readonly S?: string;
  readonly N?: string;
}

export interface IdempotencyStoreError {
  readonly operation: 'claim' | 'complete' | 'release' | 'precheck';
  /** Keys the failure left undecided (they are reported as `error` / `failed`). */
  readonly keys: number;
  readonly error?: unknown;
}

export interface DynamoDbIdempotencyStoreOptions {
  /** A `DynamoDBClient` (or anything with its `send`). */
  readonly client: DynamoDbSender;
  readonly tableName: string;
  /** How long COMPLETED keys are remembered (and abandoned claims kept), in seconds; should exceed the stream retention plus the replay horizon. */
  readonly ttlSeconds: number;
  /** This invocation's claim token, e.g. `context.awsRequestId`. Must be unique per invocation. */
  readonly owner: string;
  /** Store requests in flight at once, per call. @default 4 */
  readonly maxConcurrency?: number;
  /** Requests per chunk, the first included. @default 8 */
  readonly attempts?: number;
  /** Backoff cap of the first retry, in ms. @default 50 */
  readonly baseDelayMs?: number;
  /** Upper bound of a single backoff delay, in ms. @default 2000 */
  readonly maxDelayMs?: number;
  /** Read keys with BatchGetItem before claiming them (see the file comment). @default false */
  readonly precheck?: boolean;
  /** Epoch ms. @default Date.now */
  readonly now?: () => number;
  /** @default a setTimeout-based sleep */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Uniform in [0, 1), for the backoff jitter. @default Math.random */
  readonly random?: () => number;
  /** Called once per DynamoDB request sent, retries included (to count requests in tests and benchmarks). */
  readonly onRequest?: (operation: DynamoDbOperation) => void;
  /** Called when keys are left undecided by errors. @default a console.warn of one JSON line */
  readonly onError?: (info: IdempotencyStoreError) => void;
}

/** Error names worth retrying: throttling, transaction conflicts, and DynamoDB-side failures. */
const RETRYABLE_ERRORS = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'TransactionConflictException',
  'TransactionInProgressException',
  'InternalServerError',
  'ServiceUnavailable',
  // Network-level failures of the SDK's HTTP handler.
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
]);

/** CancellationReason codes that mean "try again later" rather than "this item cannot be written". */
const RETRYABLE_REASONS = new Set(['ThrottlingError', 'TransactionConflict', 'ProvisionedThroughputExceeded']);

const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN']);

interface ErrorLike {
  name?: unknown;
  code?: unknown;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: unknown };
  CancellationReasons?: unknown;
}

function cancellationReasons(error: unknown): CancellationReason[] | undefined {
  const e = error as ErrorLike | undefined;
  if (e?.name !== 'TransactionCanceledException' || !Array.isArray(e.CancellationReasons)) return undefined;
  return e.CancellationReasons as CancellationReason[];
}

/** Whether a DynamoDB error is transient (throttling, conflicts, 5xx, network). */
export function isRetryableDynamoDbError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as ErrorLike;
  if (typeof e.name === 'string' && RETRYABLE_ERRORS.has(e.name)) return true;
  if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) return true;
  const reasons = cancellationReasons(error);
  if (reasons !== undefined) return reasons.some((r) => RETRYABLE_REASONS.has(r?.Code ?? ''));
  if (e.$retryable) return true;
  const status = e.$metadata?.httpStatusCode;
  return typeof status === 'number' && status >= 500;
}

// Every name and value is referenced by each request's expressions: DynamoDB
// rejects requests carrying unused ones.
const NAMES = { '#pk': 'pk', '#st': 'status', '#exp': 'expiresAt', '#ipx': 'inProgressExpiry', '#ow': 'owner', '#h': 'payloadHash' };
type AttrName = keyof typeof NAMES;

function names(...used: AttrName[]): Record<string, string> {
  return Object.fromEntries(used.map((n) => [n, NAMES[n]]));
}

const S = (value: string): AttributeValue => ({ S: value });
const N = (value: number): AttributeValue => ({ N: String(value) });

/**
 * The claim condition: exactly {@link checkClaim} as a DynamoDB condition
 * expression. Exported for tests.
 */
export function claimCondition(hasHash: boolean): string {
  const hash = hasHash ? ' AND (attribute_not_exists(#h) OR #h = :hash)' : '';
  return `attribute_not_exists(#pk) OR #exp < :nowS OR (#st = :inProgress AND (#ipx < :nowMs OR #ow = :owner)${hash})`;
}

function str(item: Record<string, StoredAttribute>, name: string): string | undefined {
  const v = item[name];
  return v !== undefined && 'S' in v && typeof v.S === 'string' ? v.S : undefined;
}

function num(item: Record<string, StoredAttribute>, name: string): number | undefined {
  const v = item[name];
  if (v === undefined || !('N' in v) || typeof v.N !== 'string') return undefined;
  const n = Number(v.N);
  return Number.isFinite(n) ? n : undefined;
}

/** Reads a stored item; `undefined` when it is not one this store wrote. */
export function parseItem(item: Record<string, StoredAttribute> | undefined): IdempotencyRecord | undefined {
  if (item === undefined) return undefined;
  const key = str(item, 'pk');
  const status = str(item, 'status');
  const expiresAt = num(item, 'expiresAt');
  const owner = str(item, 'owner') ?? '';
  if (key === undefined || (status !== 'IN_PROGRESS' && status !== 'COMPLETED') || expiresAt === undefined) return undefined;
  const inProgressExpiry = num(item, 'inProgressExpiry');
  const payloadHash = str(item, 'payloadHash');
  return {
    key,
    status,
    expiresAt,
    owner,
    ...(inProgressExpiry !== undefined ? { inProgressExpiry } : {}),
    ...(payloadHash !== undefined ? { payloadHash } : {}),
  };
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}

function defaultOnError(info: IdempotencyStoreError): void {
  const e = info.error as { name?: string; message?: string } | undefined;
  console.warn(JSON.stringify({
    level: 'WARN',
    message: 'idempotency store left keys undecided',
    operation: info.operation,
    keys: info.keys,
    errorName: e?.name,
    errorMessage: e?.message,
  }));
}

interface Pending {
  /** Position in the caller's request list. */
  readonly index: number;
  readonly request: ClaimRequest;
}

export class DynamoDbIdempotencyStore implements IdempotencyStore {
  public readonly owner: string;
  private readonly client: DynamoDbSender;
  private readonly tableName: string;
  private readonly ttlSeconds: number;
  private readonly maxConcurrency: number;
  private readonly precheck: boolean;
  private readonly now: () => number;
  private readonly retry: RetryOptions;
  private readonly onRequest: (operation: DynamoDbOperation) => void;
  private readonly onError: (info: IdempotencyStoreError) => void;

  constructor(options: DynamoDbIdempotencyStoreOptions) {
    if (!options.tableName) throw new Error('DynamoDbIdempotencyStore: tableName is required');
    if (!options.owner) throw new Error('DynamoDbIdempotencyStore: owner is required');
    if (!(Number.isInteger(options.ttlSeconds) && options.ttlSeconds > 0)) {
      throw new RangeError(`DynamoDbIdempotencyStore: ttlSeconds must be a positive integer, got ${options.ttlSeconds}`);
    }
    const maxConcurrency = options.maxConcurrency ?? 4;
    if (!(Number.isInteger(maxConcurrency) && maxConcurrency >= 1)) {
      throw new RangeError(`DynamoDbIdempotencyStore: maxConcurrency must be a positive integer, got ${maxConcurrency}`);
    }
    this.client = options.client;
    this.tableName = options.tableName;
    this.ttlSeconds = options.ttlSeconds;
    this.owner = options.owner;
    this.maxConcurrency = maxConcurrency;
    this.precheck = options.precheck ?? false;
    this.now = options.now ?? Date.now;
    this.retry = {
      attempts: options.attempts ?? 8,
      baseMs: options.baseDelayMs ?? 50,
      maxMs: options.maxDelayMs ?? 2000,
      isRetryable: isRetryableDynamoDbError,
      sleep: options.sleep ?? realSleep,
      random: options.random ?? Math.random,
    };
    this.onRequest = options.onRequest ?? (() => undefined);
    this.onError = options.onError ?? defaultOnError;
  }

  async claim(requests: readonly ClaimRequest[], opts: ClaimOptions): Promise<ClaimOutcome[]> {
    checkClaimOptions(opts);
    const { outcomes, unique } = planClaims(requests);
    await mapWithConcurrency(chunk(unique, MAX_ITEMS_PER_REQUEST), this.maxConcurrency, async (pending) => {
      const toClaim = this.precheck ? await this.precheckChunk(pending, outcomes) : pending;
      await this.claimChunk(toClaim, opts.inProgressExpiryMs, outcomes);
    });
    return outcomes.map((o) => o ?? 'error');
  }

  async complete(keys: readonly string[]): Promise<{ failed: string[] }> {
    return this.writeKeys('complete', keys, (key, nowMs) => ({
      Update: {
        TableName: this.tableName,
        Key: { pk: S(key) },
        // Unconditional: see IdempotencyStore.complete. Keeps payloadHash from the claim.
        UpdateExpression: 'SET #st = :completed, #exp = :exp, #ow = :owner REMOVE #ipx',
        ExpressionAttributeNames: names('#st', '#exp', '#ow', '#ipx'),
        ExpressionAttributeValues: {
          ':completed': S('COMPLETED'),
          ':exp': N(epochSeconds(nowMs) + this.ttlSeconds),
          ':owner': S(this.owner),
        },
      },
    }), () => 'retry-or-fail');
  }

  async release(keys: readonly string[]): Promise<{ failed: string[] }> {
    return this.writeKeys('release', keys, (key) => ({
      Delete: {
        TableName: this.tableName,
        Key: { pk: S(key) },
        ConditionExpression: '#st = :inProgress AND #ow = :owner',
        ExpressionAttributeNames: names('#st', '#ow'),
        ExpressionAttributeValues: { ':inProgress': S('IN_PROGRESS'), ':owner': S(this.owner) },
      },
    }), (reason) => (reason.Code === 'ConditionalCheckFailed' ? 'done' : 'retry-or-fail'));
  }

  /** Settles keys that are already COMPLETED, held or mismatched with one read; returns the rest. */
  private async precheckChunk(pending: Pending[], outcomes: (ClaimOutcome | undefined)[]): Promise<Pending[]> {
    const found = new Map<string, IdempotencyRecord>();
    const result = await retryRemaining(pending.map((p) => p.request.key), async (keys): Promise<PartialAttempt<string>> => {
      this.onRequest('BatchGetItem');
      const response = (await this.client.send(new (dynamoDb().BatchGetItemCommand)({
        RequestItems: { [this.tableName]: { Keys: keys.map((k) => ({ pk: S(k) })), ConsistentRead: true } },
      }))) as BatchGetItemCommandOutput;
      for (const item of response.Responses?.[this.tableName] ?? []) {
        const record = parseItem(item);
        if (record !== undefined) found.set(record.key, record);
      }
      const unprocessed = response.UnprocessedKeys?.[this.tableName]?.Keys ?? [];
      return { retry: unprocessed.map((k) => k.pk?.S).filter((k): k is string => k !== undefined) };
    }, this.retry);
    // The precheck only saves writes: keys it could not read go on to the claim, which decides them.
    if (result.remaining.length > 0) this.onError({ operation: 'precheck', keys: result.remaining.length, error: result.lastError });
    const nowMs = this.now();
    return pending.filter(({ index, request }) => {
      const check = checkClaim(found.get(request.key), request, this.owner, nowMs);
      if (check === 'claimable') return true;
      outcomes[index] = check;
      return false;
    });
  }

  private async claimChunk(pending: Pending[], inProgressExpiryMs: number, outcomes: (ClaimOutcome | undefined)[]): Promise<void> {
    if (pending.length === 0) return;
    const result = await retryRemaining(pending, async (batch): Promise<PartialAttempt<Pending>> => {
      const nowMs = this.now();
      const inProgressExpiry = nowMs + inProgressExpiryMs;
      const expiresAt = inProgressExpiresAt(inProgressExpiry, this.ttlSeconds);
      const items = batch.map(({ request }): TransactWriteItem => {
        const hasHash = request.payloadHash !== undefined;
        return {
          Put: {
            TableName: this.tableName,
            Item: {
              pk: S(request.key),
              status: S('IN_PROGRESS'),
              inProgressExpiry: N(inProgressExpiry),
              expiresAt: N(expiresAt),
              owner: S(this.owner),
              ...(hasHash ? { payloadHash: S(request.payloadHash as string) } : {}),
            },
            ConditionExpression: claimCondition(hasHash),
            ExpressionAttributeNames: names('#pk', '#exp', '#st', '#ipx', '#ow', ...(hasHash ? (['#h'] as const) : [])),
            ExpressionAttributeValues: {
              ':nowS': N(epochSeconds(nowMs)),
              ':inProgress': S('IN_PROGRESS'),
              ':nowMs': N(nowMs),
              ':owner': S(this.owner),
              ...(hasHash ? { ':hash': S(request.payloadHash as string) } : {}),
            },
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          },
        };
      });
      try {
        this.onRequest('TransactWriteItems');
        await this.client.send(new (dynamoDb().TransactWriteItemsCommand)({ TransactItems: items }));
      } catch (error) {
        const reasons = cancellationReasons(error);
        if (reasons === undefined || reasons.length !== batch.length) throw error;
        return this.settleCancelledClaims(batch, reasons, nowMs, outcomes);
      }
      for (const { index } of batch) outcomes[index] = 'claimed';
      return { retry: [] };
    }, this.retry);
    this.failRest('claim', result.remaining.length, result.lastError);
    for (const { index } of result.remaining) outcomes[index] = 'error';
  }

  /**
   * Decides the keys whose condition failed from the items DynamoDB returned
   * (as they were when checked, so the decision is the one DynamoDB made) and
   * returns the keys to resend: items that were merely cancelled along with
   * them go again at once; throttled or conflicting ones after a backoff.
   */
  private settleCancelledClaims(batch: readonly Pending[], reasons: CancellationReason[], nowMs: number, outcomes: (ClaimOutcome | undefined)[]): PartialAttempt<Pending> {
    const retry: Pending[] = [];
    let backoff = false;
    batch.forEach((pending, i) => {
      const code = reasons[i]?.Code ?? 'None';
      if (code === 'None') {
        retry.push(pending);
      } else if (code === 'ConditionalCheckFailed') {
        const existing = parseItem(reasons[i].Item);
        const check: ClaimCheck | 'unknown' = existing === undefined ? 'unknown' : checkClaim(existing, pending.request, this.owner, nowMs);
        if (check === 'claimable' || (check === 'unknown' && reasons[i].Item === undefined)) {
          // Not explained by the returned item (no item returned, or a rule
          // mismatch): look again, after a pause.
          retry.push(pending);
          backoff = true;
        } else {
          // An item this store did not write blocks the key: that needs a human, not a retry.
          outcomes[pending.index] = check === 'unknown' ? 'error' : check;
        }
      } else if (RETRYABLE_REASONS.has(code)) {
        retry.push(pending);
        backoff = true;
      } else {
        // ValidationError, ItemCollectionSizeLimitExceeded, ...: this key cannot be claimed as is.
        outcomes[pending.index] = 'error';
      }
    });
    // A cancellation that settled nothing must not spin without a pause.
    return { retry, backoff: backoff || retry.length === batch.length };
  }

  /**
   * complete/release: TransactWriteItems of up to 100 items per chunk. A
   * cancelled transaction wrote nothing; `onReason` says whether a cancelled
   * item is settled anyway (`done`: e.g. a release whose claim is no longer
   * ours) or must be resent / failed.
   */
  private async writeKeys(
    operation: 'complete' | 'release',
    keys: readonly string[],
    build: (key: string, nowMs: number) => TransactWriteItem,
    onReason: (reason: CancellationReason) => 'done' | 'retry-or-fail',
  ): Promise<{ failed: string[] }> {
    const { unique, invalid } = planKeys(keys);
    const failed = await mapWithConcurrency(chunk(unique, MAX_ITEMS_PER_REQUEST), this.maxConcurrency, async (keysOfChunk) => {
      const rejected: string[] = [];
      const result = await retryRemaining(keysOfChunk, async (batch): Promise<PartialAttempt<string>> => {
        const nowMs = this.now();
        try {
          this.onRequest('TransactWriteItems');
          await this.client.send(new (dynamoDb().TransactWriteItemsCommand)({ TransactItems: batch.map((k) => build(k, nowMs)) }));
          return { retry: [] };
        } catch (error) {
          const reasons = cancellationReasons(error);
          if (reasons === undefined || reasons.length !== batch.length) throw error;
          const retry: string[] = [];
          let backoff = false;
          batch.forEach((key, i) => {
            const reason = reasons[i] ?? {};
            const code = reason.Code ?? 'None';
            if (onReason(reason) === 'done') return;
            if (code === 'None') {
              retry.push(key);
            } else if (RETRYABLE_REASONS.has(code)) {
              retry.push(key);
              backoff = true;
            } else {
              rejected.push(key);
            }
          });
          return { retry, backoff: backoff || retry.length === batch.length };
        }
      }, this.retry);
      this.failRest(operation, result.remaining.length + rejected.length, result.lastError);
      return [...rejected, ...result.remaining];
    });
    return { failed: [...invalid, ...failed.flat()] };
  }

  private failRest(operation: IdempotencyStoreError['operation'], keys: number, error: unknown): void {
    if (keys > 0) this.onError({ operation, keys, error });
  }
}
