/**
 * A token bucket over two dimensions at once, records/s and bytes/s, for
 * writers that must stay under a share of a stream's write capacity (a shard
 * takes 1,000 records/s and 1 MiB/s; DOMAIN.md "Shard limits").
 *
 * - Each dimension refills continuously at its rate, up to a capacity of
 *   `burstSeconds` × rate. The bucket starts full.
 * - `acquire(records, bytes)` waits until BOTH dimensions hold the request,
 *   then takes it. Callers are served one at a time, first come first served,
 *   so a large request is never starved by small ones.
 * - A request larger than a dimension's capacity is let through once that
 *   dimension is full, and drives it negative: the debt is waited out by the
 *   next request, so the long-run rate still holds.
 *
 * Over any interval of T seconds the amount let through is at most
 * rate × (T + burstSeconds) (plus the overshoot of one oversized request), so
 * a sustained run converges on the rate from above as T grows; the tests
 * check it against a fake clock.
 *
 * Clock and sleep are injectable, so tests run in virtual time.
 */
import { realSleep } from './retry';

export interface RateLimiterOptions {
  /** Records per second; `Infinity` for no limit on records. */
  readonly recordsPerSecond: number;
  /** Bytes per second; `Infinity` for no limit on bytes. */
  readonly bytesPerSecond: number;
  /** Capacity of each bucket, in seconds of its rate. @default 1 */
  readonly burstSeconds?: number;
  /** Start with full buckets (a burst of `burstSeconds` at once) or empty ones. @default true */
  readonly startFull?: boolean;
  /** Milliseconds, monotonic enough for intervals. @default Date.now */
  readonly now?: () => number;
  /** @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** Tolerance for float drift in the refill arithmetic. */
const EPSILON = 1e-9;

class Dimension {
  readonly capacity: number;
  tokens: number;

  constructor(readonly rate: number, burstSeconds: number, startFull: boolean, what: string) {
    if (typeof rate !== 'number' || !(rate > 0)) throw new RangeError(`rate-limiter: ${what} must be a positive number or Infinity, got ${rate}`);
    this.capacity = rate * burstSeconds;
    this.tokens = startFull ? this.capacity : 0;
  }

  refill(elapsedMs: number): void {
    if (this.rate === Infinity) {
      this.tokens = Infinity;
      return;
    }
    this.tokens = Math.min(this.capacity, this.tokens + (this.rate * elapsedMs) / 1000);
  }

  /** What must be present before `amount` may be taken: all of it, or a full bucket when it is larger. */
  need(amount: number): number {
    return Math.min(amount, this.capacity);
  }

  /** Milliseconds until `amount` may be taken; 0 when it may be taken now. */
  waitMs(amount: number): number {
    const missing = this.need(amount) - this.tokens;
    return missing <= EPSILON * Math.max(1, this.capacity) ? 0 : (missing * 1000) / this.rate;
  }
}

export class TokenBucketRateLimiter {
  private readonly records: Dimension;
  private readonly bytes: Dimension;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private last: number;
  private tail: Promise<unknown> = Promise.resolve();
  private waited = 0;

  constructor(options: RateLimiterOptions) {
    const burstSeconds = options.burstSeconds ?? 1;
    if (typeof burstSeconds !== 'number' || !(burstSeconds > 0) || burstSeconds === Infinity) {
      throw new RangeError(`rate-limiter: burstSeconds must be a positive finite number, got ${burstSeconds}`);
    }
    const startFull = options.startFull ?? true;
    this.records = new Dimension(options.recordsPerSecond, burstSeconds, startFull, 'recordsPerSecond');
    this.bytes = new Dimension(options.bytesPerSecond, burstSeconds, startFull, 'bytesPerSecond');
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? realSleep;
    this.last = this.now();
  }

  /** Total milliseconds callers have waited so far. */
  get waitedMs(): number {
    return this.waited;
  }

  /**
   * Resolves when `records` records and `bytes` bytes may be sent, with the
   * milliseconds this request waited (its queue time included).
   */
  acquire(records: number, bytes: number): Promise<number> {
    if (!Number.isFinite(records) || records < 0 || !Number.isFinite(bytes) || bytes < 0) {
      return Promise.reject(new RangeError(`rate-limiter: records and bytes must be non-negative finite numbers, got ${records}, ${bytes}`));
    }
    const started = this.now();
    const turn = this.tail.then(() => this.take(records, bytes)).then(() => this.now() - started);
    this.tail = turn.catch(() => undefined);
    return turn;
  }

  private refill(): void {
    const t = this.now();
    const elapsed = Math.max(0, t - this.last);
    this.last = t;
    this.records.refill(elapsed);
    this.bytes.refill(elapsed);
  }

  private async take(records: number, bytes: number): Promise<void> {
    for (;;) {
      this.refill();
      const wait = Math.max(this.records.waitMs(records), this.bytes.waitMs(bytes));
      if (wait === 0) {
        this.records.tokens -= records;
        this.bytes.tokens -= bytes;
        return;
      }
      const ms = Math.max(1, Math.ceil(wait));
      this.waited += ms;
      await this.sleep(ms);
    }
  }
}
