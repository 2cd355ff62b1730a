/**
 * Kinesis PutRecords without surprises: packing into calls that fit the
 * service limits, and a sender that resends only what failed.
 *
 * Pure and SDK-agnostic. The sender takes a `send` function, so the SDK
 * adapter is one line (`(input) => kinesis.send(new PutRecordsCommand(input))`)
 * and the tests need no SDK.
 *
 * Duplicates and sequence numbers: PutRecords is not idempotent. A resent
 * record gets a NEW sequence number, and an entry whose call failed as a whole
 * (timeout, connection reset) may have been written before the error, so a
 * resend can write it twice. Consumers must deduplicate on a payload key
 * (event_id), never on the sequence number.
 */
import { backoffDelayMs, realSleep } from './retry';
import { errorMessage, errorName } from './unknown';

// ---------------------------------------------------------------- limits

/** Kinesis PutRecords limits (DOMAIN.md "Size limits"; PutRecords API reference). */
export interface PutRecordsLimits {
  /** Records per call. @default 500 (the API maximum) */
  readonly maxRecordsPerCall: number;
  /** Bytes per call: data + partition key (UTF-8) of every record. @default 5 MiB */
  readonly maxBytesPerCall: number;
  /** Bytes per record: data + partition key (UTF-8). @default 1 MiB */
  readonly maxRecordBytes: number;
}

const MiB = 1024 * 1024;

/**
 * The limits every stream accepts. Streams whose `MaxRecordSizeInKiB` was
 * raised (UpdateMaxRecordSize, up to 10 MiB) accept larger records and calls;
 * pass higher limits for those, never for a stream left at the default.
 */
export const DEFAULT_PUT_RECORDS_LIMITS: PutRecordsLimits = {
  maxRecordsPerCall: 500,
  maxBytesPerCall: 5 * MiB,
  maxRecordBytes: 1 * MiB,
};

/** Hard API ceilings, whatever the stream's configuration. */
const API_MAX_RECORDS_PER_CALL = 500;
const API_MAX_BYTES = 10 * MiB;
/** Kinesis counts characters; JS length counts UTF-16 units, which is never fewer, so this is the safe side. */
const MAX_PARTITION_KEY_LENGTH = 256;
const EXPLICIT_HASH_KEY = /^(0|[1-9][0-9]{0,38})$/;
const HASH_KEY_SPACE = 1n << 128n;

function resolveLimits(overrides?: Partial<PutRecordsLimits>): PutRecordsLimits {
  const limits = { ...DEFAULT_PUT_RECORDS_LIMITS, ...overrides };
  const { maxRecordsPerCall, maxBytesPerCall, maxRecordBytes } = limits;
  if (!Number.isInteger(maxRecordsPerCall) || maxRecordsPerCall < 1 || maxRecordsPerCall > API_MAX_RECORDS_PER_CALL) {
    throw new RangeError(`put-records: maxRecordsPerCall must be an integer in 1..${API_MAX_RECORDS_PER_CALL}, got ${maxRecordsPerCall}`);
  }
  if (!Number.isInteger(maxBytesPerCall) || maxBytesPerCall < 1 || maxBytesPerCall > API_MAX_BYTES) {
    throw new RangeError(`put-records: maxBytesPerCall must be an integer in 1..${API_MAX_BYTES}, got ${maxBytesPerCall}`);
  }
  if (!Number.isInteger(maxRecordBytes) || maxRecordBytes < 1 || maxRecordBytes > maxBytesPerCall) {
    throw new RangeError(`put-records: maxRecordBytes must be an integer in 1..maxBytesPerCall (${maxBytesPerCall}), got ${maxRecordBytes}`);
  }
  return limits;
}

// ---------------------------------------------------------------- packing

export interface PutRecordsEntry {
  readonly data: Uint8Array;
  readonly partitionKey: string;
  /** Overrides the partition key's hash for shard routing; a decimal in [0, 2^128). */
  readonly explicitHashKey?: string;
}

export type RejectReason = 'InvalidPartitionKey' | 'InvalidExplicitHashKey' | 'InvalidData' | 'RecordTooLarge';

export interface RejectedEntry {
  readonly entry: PutRecordsEntry;
  /** Position in the input. */
  readonly index: number;
  readonly reason: RejectReason;
  readonly message: string;
}

export interface PackResult {
  /** The calls to make, in input order; each within the per-call record and byte limits. */
  readonly batches: PutRecordsEntry[][];
  /** Entries no call may carry. They are reported, never sent and never dropped silently. */
  readonly rejected: RejectedEntry[];
}

/** The bytes an entry counts against the record and call limits: data + partition key as UTF-8. */
export function entryBytes(entry: PutRecordsEntry): number {
  return entry.data.byteLength + Buffer.byteLength(entry.partitionKey, 'utf8');
}

function validate(entry: PutRecordsEntry, limits: PutRecordsLimits): { reason: RejectReason; message: string } | undefined {
  const key: unknown = entry?.partitionKey;
  if (typeof key !== 'string' || key.length < 1 || key.length > MAX_PARTITION_KEY_LENGTH) {
    const length = typeof key === 'string' ? key.length : typeof key;
    return { reason: 'InvalidPartitionKey', message: `partition key must be 1..${MAX_PARTITION_KEY_LENGTH} characters, got ${length}` };
  }
  if (!(entry.data instanceof Uint8Array)) {
    return { reason: 'InvalidData', message: 'data must be a Uint8Array' };
  }
  const hashKey: unknown = entry.explicitHashKey;
  if (hashKey !== undefined && (typeof hashKey !== 'string' || !EXPLICIT_HASH_KEY.test(hashKey) || BigInt(hashKey) >= HASH_KEY_SPACE)) {
    return { reason: 'InvalidExplicitHashKey', message: 'explicit hash key must be a decimal integer in [0, 2^128)' };
  }
  const bytes = entryBytes(entry);
  if (bytes > limits.maxRecordBytes) {
    return { reason: 'RecordTooLarge', message: `record is ${bytes} bytes (data + partition key), over the ${limits.maxRecordBytes}-byte limit` };
  }
  return undefined;
}

/**
 * Splits entries into PutRecords calls of at most 500 records and 5 MiB
 * (data + partition keys as UTF-8), greedily and in input order, so entries
 * sharing a partition key keep their relative order across and within calls.
 * Invalid entries (partition key not 1..256 characters, record over 1 MiB, bad
 * explicit hash key) come back in `rejected` with a reason.
 */
export function packPutRecords(entries: readonly PutRecordsEntry[], limits?: Partial<PutRecordsLimits>): PackResult {
  const resolved = resolveLimits(limits);
  const batches: PutRecordsEntry[][] = [];
  const rejected: RejectedEntry[] = [];
  let batch: PutRecordsEntry[] = [];
  let batchBytes = 0;
  entries.forEach((entry, index) => {
    const problem = validate(entry, resolved);
    if (problem) {
      rejected.push({ entry, index, ...problem });
      return;
    }
    const bytes = entryBytes(entry);
    if (batch.length === resolved.maxRecordsPerCall || (batch.length > 0 && batchBytes + bytes > resolved.maxBytesPerCall)) {
      batches.push(batch);
      batch = [];
      batchBytes = 0;
    }
    batch.push(entry);
    batchBytes += bytes;
  });
  if (batch.length > 0) batches.push(batch);
  return { batches, rejected };
}

// ---------------------------------------------------------------- the send function

/** The PutRecords request, shaped like the SDK's `PutRecordsCommandInput`. */
export interface PutRecordsInput {
  StreamARN?: string;
  StreamName?: string;
  Records: { Data: Uint8Array; PartitionKey: string; ExplicitHashKey?: string }[];
}

/** The PutRecords response, shaped like the SDK's `PutRecordsCommandOutput`. */
export interface PutRecordsOutput {
  FailedRecordCount?: number;
  Records?: { SequenceNumber?: string; ShardId?: string; ErrorCode?: string; ErrorMessage?: string }[];
}

export type PutRecordsSend = (input: PutRecordsInput) => Promise<PutRecordsOutput>;

/** `StreamARN` for an ARN, `StreamName` otherwise (kinesalite, and same-account callers, use names). */
export function streamTarget(streamArnOrName: string): { StreamARN: string } | { StreamName: string } {
  return streamArnOrName.startsWith('arn:') ? { StreamARN: streamArnOrName } : { StreamName: streamArnOrName };
}

// ---------------------------------------------------------------- the sender

export interface PutAllRecordsOptions {
  /**
   * Keep the order of entries that share a partition key. An entry is sent
   * only after every earlier entry with its partition key has been written, so
   * at most one entry per key is ever in flight, and a key whose entry
   * exhausts its attempts sends none of its later entries (they fail with
   * `PrecededByFailure`). Calls for different keys still run concurrently;
   * the cost is one round trip per record for a single hot key. To keep the
   * calls full, the entries of the keys with the most entries still to send go
   * first (longest chain first, then input order), and fewer calls go out at
   * once when the longest chain would otherwise outlast the full calls left.
   *
   * With `false`, calls are packed as full as the limits allow and a retried
   * entry may land after later entries of its key.
   * @default true
   */
  readonly ordered?: boolean;
  /** PutRecords calls in flight at once (a call waiting out its backoff holds its slot). @default 4 */
  readonly concurrency?: number;
  /** Sends per entry, the first included. @default 6 */
  readonly maxAttempts?: number;
  /** Backoff before the n-th resend is uniform in [0, min(maxDelayMs, baseDelayMs · 2^(n-1))) ("full jitter"). @default 100 */
  readonly baseDelayMs?: number;
  /** @default 5000 */
  readonly maxDelayMs?: number;
  /** @default the service limits */
  readonly limits?: Partial<PutRecordsLimits>;
  /** Injectable for tests. @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Injectable for tests; must return a number in [0, 1). @default Math.random */
  readonly random?: () => number;
  /**
   * Whether an error thrown by `send` (the whole call failed) is worth a resend.
   * @default everything except the errors listed in NON_RETRYABLE_ERRORS
   */
  readonly isRetryable?: (error: unknown) => boolean;
}

export interface FailedEntry {
  readonly entry: PutRecordsEntry;
  /** Position in the input. */
  readonly index: number;
  /**
   * The last per-record `ErrorCode` (ProvisionedThroughputExceededException,
   * InternalFailure), the name of the error a whole call threw, a
   * `RejectReason` for an entry never sent, or `PrecededByFailure` for an
   * entry held back because an earlier entry of its key failed (ordered mode).
   */
  readonly errorCode: string;
  readonly errorMessage: string;
  /** How many times it was sent. */
  readonly attempts: number;
}

export interface PutAllRecordsResult {
  readonly succeeded: number;
  /** Every entry not written, in input order. */
  readonly failed: FailedEntry[];
  /** PutRecords calls made, resends included. */
  readonly calls: number;
}

/**
 * A whole-call error with one of these names will fail the same way on every
 * call (wrong stream, no permission, broken key), so the sender stops: every
 * entry not yet written fails with it and nothing more is sent.
 */
export const NON_RETRYABLE_ERRORS: ReadonlySet<string> = new Set([
  'AccessDeniedException',
  'InvalidArgumentException',
  'KMSAccessDeniedException',
  'KMSDisabledException',
  'KMSInvalidStateException',
  'KMSNotFoundException',
  'KMSOptInRequired',
  'ResourceInUseException',
  'ResourceNotFoundException',
  'UnrecognizedClientException',
  'ValidationException',
]);

function defaultIsRetryable(error: unknown): boolean {
  return !NON_RETRYABLE_ERRORS.has(errorName(error));
}

function positiveInteger(value: number | undefined, fallback: number, name: string): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`put-records: ${name} must be a positive integer, got ${value}`);
  return v;
}

function nonNegative(value: number | undefined, fallback: number, name: string): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v < 0) throw new RangeError(`put-records: ${name} must be a non-negative number, got ${value}`);
  return v;
}

type ItemState = 'blocked' | 'ready' | 'sending' | 'done';

interface Item {
  readonly index: number;
  readonly entry: PutRecordsEntry;
  readonly bytes: number;
  /**
   * Scheduling priority, larger first (ties: oldest first). Ordered mode: the entries of its key from it on
   * (its chain), so the longest chains start first and the last calls are not left with one key's tail
   * trickling out one entry per call (longest-chain-first list scheduling). Unordered: 0.
   */
  readonly rank: number;
  /** The next entry with the same partition key (ordered mode only). */
  next?: Item;
  state: ItemState;
  attempts: number;
  lastCode: string;
  lastMessage: string;
}

/** Heap on (rank desc, input position asc): the longest chain's oldest ready entry goes out first. */
const before = (a: Item, b: Item): boolean => a.rank > b.rank || (a.rank === b.rank && a.index < b.index);

class ReadyQueue {
  private readonly heap: Item[] = [];
  /** Sum of the ready entries' bytes. */
  public bytes = 0;

  get size(): number {
    return this.heap.length;
  }

  peek(): Item | undefined {
    return this.heap[0];
  }

  push(item: Item): void {
    const h = this.heap;
    this.bytes += item.bytes;
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(h[i], h[parent])) break;
      [h[parent], h[i]] = [h[i], h[parent]];
      i = parent;
    }
  }

  pop(): Item | undefined {
    const h = this.heap;
    const top = h[0];
    if (top) this.bytes -= top.bytes;
    const last = h.pop();
    if (h.length > 0 && last !== undefined) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l], h[m])) m = l;
        if (r < h.length && before(h[r], h[m])) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i], h[m]];
        i = m;
      }
    }
    return top;
  }

  clear(): void {
    this.heap.length = 0;
    this.bytes = 0;
  }
}

/** Wakes the dispatcher; a notify with nobody waiting is remembered, so no wake-up is lost. */
class Signal {
  private pending = false;
  private resolve?: () => void;

  notify(): void {
    if (this.resolve) {
      const resolve = this.resolve;
      this.resolve = undefined;
      resolve();
    } else {
      this.pending = true;
    }
  }

  wait(): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.resolve = resolve;
    });
  }
}

/**
 * Writes every entry with PutRecords and reports what could not be written.
 *
 * - Calls hold at most 500 records and 5 MiB (data + partition keys).
 * - A partially failed call resends ONLY its failed entries (matched to the
 *   response by position, which PutRecords guarantees), after a full-jitter
 *   exponential backoff, up to `maxAttempts` sends per entry. A call that
 *   throws (throttling, timeout, network) is resent the same way.
 * - Entries still failing after their last attempt come back in `failed` with
 *   their last error code; so do invalid entries, which are never sent.
 * - Order per partition key: see `ordered`.
 *
 * A resent record gets a new sequence number, and a call that threw may have
 * been written anyway; consumers deduplicate on a payload key.
 */
export async function putAllRecords(
  send: PutRecordsSend,
  streamArnOrName: string,
  entries: readonly PutRecordsEntry[],
  options: PutAllRecordsOptions = {},
): Promise<PutAllRecordsResult> {
  const limits = resolveLimits(options.limits);
  const ordered = options.ordered ?? true;
  const concurrency = positiveInteger(options.concurrency, 4, 'concurrency');
  const maxAttempts = positiveInteger(options.maxAttempts, 6, 'maxAttempts');
  const baseDelayMs = nonNegative(options.baseDelayMs, 100, 'baseDelayMs');
  const maxDelayMs = nonNegative(options.maxDelayMs, 5000, 'maxDelayMs');
  const sleep = options.sleep ?? realSleep;
  const random = options.random ?? Math.random;
  const isRetryable = options.isRetryable ?? defaultIsRetryable;
  const target = streamTarget(streamArnOrName);

  const failed: FailedEntry[] = [];
  const items: Item[] = [];
  // Entries not sent yet (ready or blocked): how many, their bytes, and (ordered) per key, with a histogram of the
  // per-key counts for the longest chain still to send.
  let pendingCount = 0;
  let pendingBytes = 0;
  const pendingOfKey = new Map<string, number>();
  const keysWithPending: number[] = [0];
  let longestChain = 0;
  const pend = (item: Item, delta: 1 | -1): void => {
    pendingCount += delta;
    pendingBytes += delta * item.bytes;
    if (!ordered) return;
    const key = item.entry.partitionKey;
    const before = pendingOfKey.get(key) ?? 0;
    const after = before + delta;
    if (after === 0) pendingOfKey.delete(key);
    else pendingOfKey.set(key, after);
    if (before > 0) keysWithPending[before]--;
    if (after > 0) keysWithPending[after] = (keysWithPending[after] ?? 0) + 1;
    if (after > longestChain) longestChain = after;
    while (longestChain > 0 && !keysWithPending[longestChain]) longestChain--;
  };
  const ready = new ReadyQueue();
  const lastOfKey = new Map<string, Item>();

  // Ordered: how many valid entries of its key are at or after each entry (its chain from it on).
  const ranks = new Array<number>(entries.length).fill(0);
  if (ordered) {
    const ofKey = new Map<string, number>();
    for (let index = entries.length - 1; index >= 0; index--) {
      const entry = entries[index];
      if (validate(entry, limits)) continue;
      const n = (ofKey.get(entry.partitionKey) ?? 0) + 1;
      ofKey.set(entry.partitionKey, n);
      ranks[index] = n;
    }
  }

  entries.forEach((entry, index) => {
    const problem = validate(entry, limits);
    if (problem) {
      // Never written, so nothing written after it can overtake it: it holds no key back.
      failed.push({ entry, index, errorCode: problem.reason, errorMessage: problem.message, attempts: 0 });
      return;
    }
    const item: Item = { index, entry, bytes: entryBytes(entry), rank: ranks[index], state: 'ready', attempts: 0, lastCode: '', lastMessage: '' };
    items.push(item);
    pend(item, 1);
    const previous = ordered ? lastOfKey.get(entry.partitionKey) : undefined;
    if (previous) {
      previous.next = item;
      item.state = 'blocked';
    } else {
      ready.push(item);
    }
    if (ordered) lastOfKey.set(entry.partitionKey, item);
  });

  let succeeded = 0;
  let calls = 0;
  /** Calls awaiting their response (not those waiting out a backoff). */
  let inFlight = 0;
  let aborted: { code: string; message: string } | undefined;

  const finish = (item: Item, code: string, message: string): void => {
    item.state = 'done';
    failed.push({ entry: item.entry, index: item.index, errorCode: code, errorMessage: message, attempts: item.attempts });
    // Writing a later entry of this key now would put it ahead of this one whenever it is redriven.
    for (let held = item.next; held && held.state === 'blocked'; held = held.next) {
      held.state = 'done';
      pend(held, -1);
      failed.push({
        entry: held.entry,
        index: held.index,
        errorCode: 'PrecededByFailure',
        errorMessage: `not sent: entry ${item.index} with the same partition key failed (${code}), and per-key order is kept`,
        attempts: held.attempts,
      });
    }
  };

  const succeed = (item: Item): void => {
    item.state = 'done';
    succeeded++;
    if (item.next && item.next.state === 'blocked' && !aborted) {
      item.next.state = 'ready';
      ready.push(item.next);
    }
  };

  const abort = (code: string, message: string): void => {
    aborted = { code, message };
    ready.clear();
    for (const item of items) {
      if (item.state === 'ready' || item.state === 'blocked') {
        item.state = 'done';
        pend(item, -1);
        failed.push({ entry: item.entry, index: item.index, errorCode: code, errorMessage: message, attempts: item.attempts });
      }
    }
  };

  const signal = new Signal();

  const take = (): Item[] | undefined => {
    if (aborted || ready.size === 0) return undefined;
    const batch: Item[] = [];
    let bytes = 0;
    for (let next = ready.peek(); next && batch.length < limits.maxRecordsPerCall; next = ready.peek()) {
      if (batch.length > 0 && bytes + next.bytes > limits.maxBytesPerCall) break;
      ready.pop();
      next.state = 'sending';
      pend(next, -1);
      batch.push(next);
      bytes += next.bytes;
    }
    return batch;
  };

  const run = async (batch: Item[]): Promise<void> => {
    calls++;
    inFlight++;
    for (const item of batch) item.attempts++;
    let response: PutRecordsOutput | undefined;
    let callError: unknown;
    try {
      response = await send({
        ...target,
        Records: batch.map(({ entry }) => ({
          Data: entry.data,
          PartitionKey: entry.partitionKey,
          ...(entry.explicitHashKey !== undefined ? { ExplicitHashKey: entry.explicitHashKey } : {}),
        })),
      });
      if (!Array.isArray(response?.Records) || response.Records.length !== batch.length) {
        callError = Object.assign(new Error(`PutRecords answered ${response?.Records?.length ?? 'no'} results for ${batch.length} records`), {
          name: 'MalformedResponse',
        });
      }
    } catch (e) {
      callError = e;
    } finally {
      inFlight--;
    }

    if (callError !== undefined && !isRetryable(callError)) {
      const code = errorName(callError);
      const message = errorMessage(callError);
      for (const item of batch) finish(item, code, message);
      if (!aborted) abort(code, `not sent: an earlier call failed with ${code}: ${message}`);
      return;
    }

    const retry: Item[] = [];
    batch.forEach((item, i) => {
      // Results match the request by position ("natural ordering" in the PutRecords API reference).
      const result = callError === undefined ? response?.Records?.[i] : undefined;
      if (callError === undefined && !result?.ErrorCode) {
        succeed(item);
        return;
      }
      item.lastCode = callError !== undefined ? errorName(callError) : String(result?.ErrorCode);
      item.lastMessage = callError !== undefined ? errorMessage(callError) : String(result?.ErrorMessage ?? '');
      if (item.attempts >= maxAttempts || aborted) finish(item, item.lastCode, item.lastMessage);
      else retry.push(item);
    });
    if (retry.length === 0) return;
    // Entries this call released may go out in other slots while the failed ones wait.
    signal.notify();

    // The failed entries keep their keys held while they wait, so nothing of theirs overtakes them.
    const attempt = Math.max(...retry.map((item) => item.attempts));
    await sleep(backoffDelayMs(attempt, { baseMs: baseDelayMs, maxMs: maxDelayMs, random }));
    for (const item of retry) {
      if (aborted) {
        finish(item, item.lastCode, item.lastMessage);
      } else {
        item.state = 'ready';
        pend(item, 1);
        ready.push(item);
      }
    }
  };

  /**
   * Ordered: calls in flight at once, at most. A key's next entry goes out only once its previous call is back, so
   * with d calls in flight a chain of L entries takes about d·L calls; when the calls left (what is pending, full)
   * are fewer than d times the longest chain, fewer calls go out at once, so the chain does not outlast the full
   * calls and trickle out one entry per part-full call.
   */
  const depth = (): number => {
    if (!ordered || longestChain <= 1) return concurrency;
    const callsLeft = Math.ceil(Math.max(pendingCount / limits.maxRecordsPerCall, pendingBytes / limits.maxBytesPerCall));
    return Math.max(1, Math.min(concurrency, Math.floor(callsLeft / longestChain)));
  };

  let active = 0;
  let fatal: { error: unknown } | undefined;
  for (;;) {
    while (active < concurrency && !fatal) {
      // Fill before sending: while calls await their response, a call goes out only when it can be full; those
      // calls release the next entries of their keys, so waiting packs the following calls fuller (in ordered
      // mode a key has one entry in flight, and half-empty calls would multiply the call count). A call that
      // waits out a backoff does not hold the others back.
      if (inFlight > 0 && ready.size < limits.maxRecordsPerCall && ready.bytes < limits.maxBytesPerCall) break;
      if (inFlight > 0 && inFlight >= depth()) break;
      const batch = take();
      if (!batch) break;
      active++;
      run(batch)
        .catch((error: unknown) => {
          // Only a throwing sleep or isRetryable gets here; surface it once everything in flight has settled.
          fatal ??= { error };
        })
        .finally(() => {
          active--;
          signal.notify();
        });
    }
    if (active === 0) break;
    await signal.wait();
  }
  if (fatal) throw fatal.error;

  failed.sort((a, b) => a.index - b.index);
  return { succeeded, failed, calls };
}
