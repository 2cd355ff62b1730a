/**
 * Idempotency store for stream-processing handlers: the contract, the claim
 * rules both implementations share, and an in-memory implementation with
 * fault injection for tests.
 *
 * Keys are payload keys (e.g. `event_id`), never Kinesis sequence numbers:
 * replays and producer retries re-put the same event with a new sequence
 * number, so only a payload key recognises them. The caller extracts keys.
 *
 * Lifecycle of a key:
 *
 *   (absent) --claim--> IN_PROGRESS --complete--> COMPLETED --TTL--> (absent)
 *                           |  \--release (same owner)--> (absent)
 *                           \--inProgressExpiry passes--> claimable again
 *
 * Handler protocol:
 *   1. `claim` every record's key (with its payload hash, optionally).
 *   2. Apply the effect of `claimed` records only. `duplicate` and
 *      `duplicate_in_batch` records count as success without an effect,
 *      except that a `duplicate_in_batch` record fails whenever the first
 *      record with its key fails.
 *      `in_progress`, `hash_mismatch` and `error` records are failures
 *      (Lambda redelivers them; hash mismatches end up in the DLQ).
 *   3. `complete` the keys whose effect was applied; `release` claimed keys
 *      whose effect failed, so a redelivery can claim them at once rather
 *      than after `inProgressExpiry`.
 */

/** Per-request result of {@link IdempotencyStore.claim}. */
export type ClaimOutcome =
  /** This invocation now owns the key: apply the effect, then complete (or release) it. */
  | 'claimed'
  /** The key is COMPLETED: the effect was applied before. Skip the record and count it as success. */
  | 'duplicate'
  /**
   * An earlier request in the same call has the same key: skip the record and
   * treat it exactly as that first occurrence, i.e. succeed only if the first
   * occurrence succeeds and fail it whenever the first fails.
   */
  | 'duplicate_in_batch'
  /** Another live invocation holds the key: fail the record so Lambda retries it later. */
  | 'in_progress'
  /**
   * The key was claimed or completed with a different payload hash (or an
   * earlier request in this call has the key with a different hash): the key
   * was reused with different content. Fail the record with this reason.
   */
  | 'hash_mismatch'
  /**
   * The store could not decide (throttled beyond the retry budget, invalid
   * key, service error). Fail the record. The key may still hold a claim of
   * this owner (e.g. the write committed but its response was lost): it lapses
   * at `inProgressExpiry`, or `release` it.
   */
  | 'error';

export interface ClaimRequest {
  /** The payload key, e.g. the record's `event_id`. 1–2048 UTF-8 bytes (DynamoDB's partition-key limit). */
  readonly key: string;
  /** Optional fingerprint of the payload (see payload-hash.ts) to detect a key reused with different content. */
  readonly payloadHash?: string;
}

export interface ClaimOptions {
  /**
   * How long the claims stay exclusive, in ms from now: normally the
   * invocation's remaining time (`context.getRemainingTimeInMillis()`), so a
   * crashed or timed-out invocation's claims become claimable once it can no
   * longer be running. A duration, not an epoch timestamp.
   */
  readonly inProgressExpiryMs: number;
}

export interface IdempotencyStore {
  /**
   * Claims every key, in one batch. Resolves with one outcome per request, in
   * request order; it does not reject for throttling or service errors (the
   * affected keys come back as `error`).
   */
  claim(requests: readonly ClaimRequest[], opts: ClaimOptions): Promise<ClaimOutcome[]>;
  /**
   * Marks keys COMPLETED (kept for the store's TTL). Unconditional: an effect
   * that was applied is recorded even if this owner's claim has lapsed, so the
   * key is never applied again once complete succeeds.
   * `failed` lists the keys that could not be recorded; their effect was
   * applied but a redelivery after `inProgressExpiry` could apply it again.
   */
  complete(keys: readonly string[]): Promise<{ failed: string[] }>;
  /**
   * Deletes the claims this owner still holds (IN_PROGRESS with this owner)
   * so a redelivery can claim them at once. Keys held by others, completed or
   * absent are left alone and are not failures. `failed` lists the keys whose
   * release could not be attempted or confirmed; they lapse at `inProgressExpiry`.
   */
  release(keys: readonly string[]): Promise<{ failed: string[] }>;
}

export type IdempotencyStatus = 'IN_PROGRESS' | 'COMPLETED';

/** One item of the store, as both implementations hold it. */
export interface IdempotencyRecord {
  readonly key: string;
  readonly status: IdempotencyStatus;
  /** Epoch seconds; the DynamoDB TTL attribute. Past it, the item is logically absent (TTL deletes lazily). */
  readonly expiresAt: number;
  /** Epoch ms; IN_PROGRESS only. Past it, the claim is treated as abandoned. */
  readonly inProgressExpiry?: number;
  readonly payloadHash?: string;
  /** The claim token of the invocation that last wrote the item. */
  readonly owner: string;
}

/** DynamoDB's limit on a partition-key value. */
export const MAX_KEY_BYTES = 2048;

/** Whether `key` can be stored: a non-empty string of at most 2048 UTF-8 bytes. Other keys get `error`, alone. */
export function isValidKey(key: unknown): key is string {
  return typeof key === 'string' && key.length > 0 && Buffer.byteLength(key, 'utf8') <= MAX_KEY_BYTES;
}

export function epochSeconds(ms: number): number {
  return Math.floor(ms / 1000);
}

/** What a claim of `request` by `owner` at `nowMs` finds in `existing`. */
export type ClaimCheck = 'claimable' | 'duplicate' | 'in_progress' | 'hash_mismatch';

/**
 * The claim rule. The DynamoDB store's condition expression encodes exactly
 * this (tests hold the two together); it also classifies the items DynamoDB
 * returns when a condition fails.
 *
 * - An item whose TTL (`expiresAt`) has passed is absent: DynamoDB's TTL
 *   deletes lazily, up to days late.
 * - A payload hash that differs from the stored one is `hash_mismatch`,
 *   whatever the status (when either side has no hash, nothing is compared).
 * - COMPLETED is `duplicate`.
 * - IN_PROGRESS is claimable once `inProgressExpiry` has passed (the holder
 *   crashed or timed out), or when it is this owner's own claim: a retried
 *   request whose first attempt committed but whose response was lost must
 *   not lock the owner out of its own claim.
 */
export function checkClaim(existing: IdempotencyRecord | undefined, request: ClaimRequest, owner: string, nowMs: number): ClaimCheck {
  if (existing === undefined || existing.expiresAt < epochSeconds(nowMs)) return 'claimable';
  if (request.payloadHash !== undefined && existing.payloadHash !== undefined && existing.payloadHash !== request.payloadHash) {
    return 'hash_mismatch';
  }
  if (existing.status === 'COMPLETED') return 'duplicate';
  const lapsed = existing.inProgressExpiry !== undefined && existing.inProgressExpiry < nowMs;
  return lapsed || existing.owner === owner ? 'claimable' : 'in_progress';
}

/** TTL of an IN_PROGRESS item, so abandoned claims are eventually deleted too. */
export function inProgressExpiresAt(inProgressExpiry: number, ttlSeconds: number): number {
  return Math.ceil(inProgressExpiry / 1000) + ttlSeconds;
}

export interface PlannedClaims {
  /** Outcomes decided without the store: invalid keys and repeats within the call; `undefined` elsewhere. */
  readonly outcomes: (ClaimOutcome | undefined)[];
  /** First occurrences of valid keys, to be claimed; `index` is the position in the request list. */
  readonly unique: { readonly index: number; readonly request: ClaimRequest }[];
}

/**
 * Splits a claim call into the requests that reach the store (first
 * occurrence of each valid key) and the ones decided locally. A repeated key
 * is `duplicate_in_batch`, or `hash_mismatch` when both occurrences carry a
 * hash and they differ. One transaction cannot touch an item twice, so the
 * store needs this anyway.
 */
export function planClaims(requests: readonly ClaimRequest[]): PlannedClaims {
  const outcomes: (ClaimOutcome | undefined)[] = new Array(requests.length).fill(undefined);
  const unique: { index: number; request: ClaimRequest }[] = [];
  const first = new Map<string, ClaimRequest>();
  requests.forEach((request, index) => {
    if (!isValidKey(request?.key)) {
      outcomes[index] = 'error';
      return;
    }
    const seen = first.get(request.key);
    if (seen === undefined) {
      first.set(request.key, request);
      unique.push({ index, request });
    } else {
      const differs = seen.payloadHash !== undefined && request.payloadHash !== undefined && seen.payloadHash !== request.payloadHash;
      outcomes[index] = differs ? 'hash_mismatch' : 'duplicate_in_batch';
    }
  });
  return { outcomes, unique };
}

/** Valid keys of a complete/release call, once each, and the invalid ones (which fail alone). */
export function planKeys(keys: readonly string[]): { readonly unique: string[]; readonly invalid: string[] } {
  const unique = new Set<string>();
  const invalid: string[] = [];
  for (const key of keys) {
    if (isValidKey(key)) unique.add(key);
    else invalid.push(key);
  }
  return { unique: [...unique], invalid };
}

export function checkClaimOptions(opts: ClaimOptions): void {
  if (!(Number.isFinite(opts?.inProgressExpiryMs) && opts.inProgressExpiryMs > 0)) {
    throw new RangeError(`claim: inProgressExpiryMs must be a positive duration in ms, got ${opts?.inProgressExpiryMs}`);
  }
}

// ---------------------------------------------------------------------------
// In-memory implementation
// ---------------------------------------------------------------------------

export type StoreOperation = 'claim' | 'complete' | 'release';

export interface FaultSpec {
  /**
   * `error`: the affected keys come back as `error` outcomes / `failed`, as a
   * throttled chunk does once its retries are exhausted. `throw`: the call
   * rejects with an {@link InjectedStoreFault}. @default 'error'
   */
  readonly mode?: 'error' | 'throw';
  /** Operations the fault applies to. @default all */
  readonly operations?: readonly StoreOperation[];
  /** Keys the fault applies to (`error` mode). @default every key of the call */
  readonly keys?: readonly string[] | ((key: string) => boolean);
  /**
   * Whether the write takes effect although the call reports a failure: an
   * ambiguous failure such as a timeout after DynamoDB committed. @default false
   */
  readonly applied?: boolean;
}

export class InjectedStoreFault extends Error {
  constructor(public readonly operation: StoreOperation) {
    super(`injected idempotency store fault in ${operation}`);
    this.name = 'InjectedStoreFault';
  }
}

interface ActiveFault {
  remaining: number;
  readonly spec: FaultSpec;
}

/**
 * The shared state of in-memory stores: one "table" that several stores (one
 * per simulated invocation/owner) use, with its faults and call counters.
 */
export class InMemoryIdempotencyTable {
  private readonly items = new Map<string, IdempotencyRecord>();
  private readonly faults: ActiveFault[] = [];
  /** Store calls made so far, per operation. */
  public readonly calls: Record<StoreOperation, number> = { claim: 0, complete: 0, release: 0 };

  /** The stored item, ignoring TTL (as a DynamoDB read before the TTL sweep would). */
  get(key: string): IdempotencyRecord | undefined {
    return this.items.get(key);
  }

  /** All stored items, in insertion order. */
  records(): IdempotencyRecord[] {
    return [...this.items.values()];
  }

  /** Writes an item directly, e.g. to seed another owner's claim. */
  put(record: IdempotencyRecord): void {
    this.items.set(record.key, record);
  }

  delete(key: string): void {
    this.items.delete(key);
  }

  /** Makes the next `calls` matching store calls fail as `spec` says (`Infinity` for a lasting fault). */
  failNext(calls = 1, spec: FaultSpec = {}): void {
    if (!(calls > 0)) throw new RangeError(`failNext: calls must be positive, got ${calls}`);
    this.faults.push({ remaining: calls, spec });
  }

  /** Makes every call of the given operations fail for `keys` until {@link clearFaults}. */
  failKeys(keys: readonly string[] | ((key: string) => boolean), spec: Omit<FaultSpec, 'keys'> = {}): void {
    this.failNext(Infinity, { ...spec, keys });
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  /** @internal Counts the call and consumes the first fault that applies to it. */
  takeFault(operation: StoreOperation): FaultSpec | undefined {
    this.calls[operation]++;
    const fault = this.faults.find((f) => f.remaining > 0 && (f.spec.operations ?? [operation]).includes(operation));
    if (fault === undefined) return undefined;
    fault.remaining--;
    if (fault.remaining <= 0) this.faults.splice(this.faults.indexOf(fault), 1);
    return fault.spec;
  }
}

function faultHits(spec: FaultSpec | undefined, key: string): boolean {
  if (spec === undefined) return false;
  const keys = spec.keys;
  if (keys === undefined) return true;
  return typeof keys === 'function' ? keys(key) : keys.includes(key);
}

export interface InMemoryIdempotencyStoreOptions {
  /** The claim token of this invocation, e.g. `context.awsRequestId`. */
  readonly owner: string;
  /** How long COMPLETED keys are remembered, in seconds. */
  readonly ttlSeconds: number;
  /** Shared table, to simulate several invocations. @default a new table */
  readonly table?: InMemoryIdempotencyTable;
  /** Epoch ms. @default Date.now */
  readonly now?: () => number;
}

/**
 * {@link IdempotencyStore} over a Map, with the same semantics as the
 * DynamoDB store (it uses the same {@link checkClaim} rule), for unit tests
 * and fault-injection tests of handlers.
 */
export class InMemoryIdempotencyStore implements IdempotencyStore {
  public readonly table: InMemoryIdempotencyTable;
  public readonly owner: string;
  private readonly ttlSeconds: number;
  private readonly now: () => number;

  constructor(options: InMemoryIdempotencyStoreOptions) {
    if (!options.owner) throw new Error('InMemoryIdempotencyStore: owner is required');
    if (!(Number.isInteger(options.ttlSeconds) && options.ttlSeconds > 0)) {
      throw new RangeError(`InMemoryIdempotencyStore: ttlSeconds must be a positive integer, got ${options.ttlSeconds}`);
    }
    this.owner = options.owner;
    this.ttlSeconds = options.ttlSeconds;
    this.table = options.table ?? new InMemoryIdempotencyTable();
    this.now = options.now ?? Date.now;
  }

  /** Another invocation's store over the same table. */
  withOwner(owner: string): InMemoryIdempotencyStore {
    return new InMemoryIdempotencyStore({ owner, ttlSeconds: this.ttlSeconds, table: this.table, now: this.now });
  }

  failNext(calls = 1, spec: FaultSpec = {}): void {
    this.table.failNext(calls, spec);
  }

  failKeys(keys: readonly string[] | ((key: string) => boolean), spec: Omit<FaultSpec, 'keys'> = {}): void {
    this.table.failKeys(keys, spec);
  }

  clearFaults(): void {
    this.table.clearFaults();
  }

  async claim(requests: readonly ClaimRequest[], opts: ClaimOptions): Promise<ClaimOutcome[]> {
    checkClaimOptions(opts);
    const fault = this.table.takeFault('claim');
    if (fault?.mode === 'throw' && !fault.applied) throw new InjectedStoreFault('claim');
    const nowMs = this.now();
    const { outcomes, unique } = planClaims(requests);
    for (const { index, request } of unique) {
      const hit = faultHits(fault, request.key);
      if (hit && !fault?.applied) {
        outcomes[index] = 'error';
        continue;
      }
      const check = checkClaim(this.table.get(request.key), request, this.owner, nowMs);
      if (check === 'claimable') {
        const inProgressExpiry = nowMs + opts.inProgressExpiryMs;
        this.table.put({
          key: request.key,
          status: 'IN_PROGRESS',
          inProgressExpiry,
          expiresAt: inProgressExpiresAt(inProgressExpiry, this.ttlSeconds),
          owner: this.owner,
          ...(request.payloadHash !== undefined ? { payloadHash: request.payloadHash } : {}),
        });
      }
      outcomes[index] = hit ? 'error' : check === 'claimable' ? 'claimed' : check;
    }
    if (fault?.mode === 'throw') throw new InjectedStoreFault('claim');
    return outcomes as ClaimOutcome[];
  }

  async complete(keys: readonly string[]): Promise<{ failed: string[] }> {
    return this.write('complete', keys, (key) => {
      const existing = this.table.get(key);
      this.table.put({
        key,
        status: 'COMPLETED',
        expiresAt: epochSeconds(this.now()) + this.ttlSeconds,
        owner: this.owner,
        ...(existing?.payloadHash !== undefined ? { payloadHash: existing.payloadHash } : {}),
      });
    });
  }

  async release(keys: readonly string[]): Promise<{ failed: string[] }> {
    return this.write('release', keys, (key) => {
      const existing = this.table.get(key);
      if (existing?.status === 'IN_PROGRESS' && existing.owner === this.owner) this.table.delete(key);
    });
  }

  private write(operation: StoreOperation, keys: readonly string[], apply: (key: string) => void): { failed: string[] } {
    const fault = this.table.takeFault(operation);
    if (fault?.mode === 'throw' && !fault.applied) throw new InjectedStoreFault(operation);
    const { unique, invalid } = planKeys(keys);
    const failed = [...invalid];
    for (const key of unique) {
      const hit = faultHits(fault, key);
      if (!hit || fault?.applied) apply(key);
      if (hit) failed.push(key);
    }
    if (fault?.mode === 'throw') throw new InjectedStoreFault(operation);
    return { failed };
  }
}
