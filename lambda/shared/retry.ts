/**
 * Exponential backoff with full jitter, for AWS calls that throttle or fail
 * transiently (DynamoDB, Kinesis PutRecords, ...).
 *
 * Full jitter (delay = random(0, min(max, base * 2^n))) spreads the retries of
 * many concurrent callers instead of synchronising them into the next burst;
 * see the AWS Architecture Blog, "Exponential Backoff And Jitter".
 *
 * Everything time- or randomness-dependent is injectable so tests run without
 * real sleeps and with deterministic delays.
 */

export interface BackoffOptions {
  /** Cap of the first retry's delay, in ms; it doubles per retry. */
  readonly baseMs: number;
  /** Upper bound of any single delay, in ms. */
  readonly maxMs: number;
  /** Uniform random in [0, 1). @default Math.random */
  readonly random?: () => number;
}

export interface RetryOptions extends BackoffOptions {
  /** Total tries, the first one included (so `attempts: 1` never retries). */
  readonly attempts: number;
  /** Whether a thrown error is worth another try. Non-retryable errors end the loop at once. */
  readonly isRetryable: (error: unknown) => boolean;
  /** @default a setTimeout-based sleep */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Called before each backoff sleep, e.g. to log or count retries. */
  readonly onRetry?: (info: { readonly attempt: number; readonly delayMs: number; readonly error?: unknown }) => void;
}

export const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Delay before the `retry`-th retry (1-based): uniform in
 * [0, min(maxMs, baseMs * 2^(retry-1))), floored to whole milliseconds.
 */
export function backoffDelayMs(retry: number, options: BackoffOptions): number {
  const random = options.random ?? Math.random;
  const cap = Math.min(options.maxMs, options.baseMs * 2 ** Math.max(0, retry - 1));
  return Math.floor(random() * cap);
}

function checkAttempts(attempts: number): void {
  if (!Number.isInteger(attempts) || attempts < 1) {
    throw new RangeError(`retry: attempts must be a positive integer, got ${attempts}`);
  }
}

/**
 * Calls `fn` until it resolves, it throws a non-retryable error, or `attempts`
 * tries are used up; rejects with the last error in the latter two cases.
 * `fn` receives the 1-based attempt number.
 */
export async function retryWithBackoff<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  checkAttempts(options.attempts);
  const sleep = options.sleep ?? realSleep;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (error) {
      if (attempt >= options.attempts || !options.isRetryable(error)) throw error;
      const delayMs = backoffDelayMs(attempt, options);
      options.onRetry?.({ attempt, delayMs, error });
      await sleep(delayMs);
    }
  }
}

/** What one try of a partially-failing batch call reports. */
export interface PartialAttempt<T> {
  /** The items that must be sent again (e.g. the failed entries of a PutRecords response). */
  readonly retry: readonly T[];
  /**
   * Whether to back off before resending them. `false` when the call made
   * progress for a reason other than load (e.g. a DynamoDB transaction was
   * cancelled only because other items' conditions failed) and the rest can
   * go again at once. @default true
   */
  readonly backoff?: boolean;
}

export interface RetryRemainingResult<T> {
  /** Items still unprocessed when the loop ended: empty on full success. */
  readonly remaining: readonly T[];
  /** Calls made to `send`. */
  readonly calls: number;
  /** The last error `send` threw, if any. */
  readonly lastError?: unknown;
}

/**
 * Drives a batch call that can fail for a subset of its items (Kinesis
 * PutRecords, DynamoDB BatchGet/BatchWrite/TransactWrite): sends `items`,
 * then resends only what `send` reports back, with backoff, for at most
 * `attempts` calls in total.
 *
 * It never throws for a failed item: a retryable error thrown by `send`
 * retries the whole remaining set; a non-retryable one, or running out of
 * attempts, ends the loop and the unprocessed items come back in `remaining`
 * for the caller to fail individually.
 */
export async function retryRemaining<T>(
  items: readonly T[],
  send: (batch: readonly T[], attempt: number) => Promise<PartialAttempt<T>>,
  options: RetryOptions,
): Promise<RetryRemainingResult<T>> {
  checkAttempts(options.attempts);
  const sleep = options.sleep ?? realSleep;
  let remaining: readonly T[] = items;
  let lastError: unknown;
  let calls = 0;
  let backoffs = 0;
  while (remaining.length > 0 && calls < options.attempts) {
    calls++;
    let backoff: boolean;
    try {
      const result = await send(remaining, calls);
      remaining = result.retry;
      backoff = result.backoff ?? true;
    } catch (error) {
      lastError = error;
      if (!options.isRetryable(error)) return { remaining, calls, lastError };
      backoff = true;
    }
    if (remaining.length > 0 && calls < options.attempts && backoff) {
      backoffs++;
      const delayMs = backoffDelayMs(backoffs, options);
      options.onRetry?.({ attempt: calls, delayMs, error: lastError });
      await sleep(delayMs);
    }
  }
  return { remaining, calls, lastError };
}
