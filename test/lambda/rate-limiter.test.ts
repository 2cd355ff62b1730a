/**
 * lambda/shared/rate-limiter.ts in virtual time: a fake clock that only moves
 * when the limiter sleeps, so every measured rate is exact and deterministic.
 */
import { TokenBucketRateLimiter, type RateLimiterOptions } from '../../lambda/shared/rate-limiter';
import { prng } from '../../bench/prng';

interface Clock { now: () => number; sleep: (ms: number) => Promise<void>; advance: (ms: number) => void; sleeps: number[] }

function fakeClock(): Clock {
  let t = 1_700_000_000_000;
  const sleeps: number[] = [];
  return {
    now: () => t,
    sleep: async (ms) => {
      sleeps.push(ms);
      t += ms;
    },
    advance: (ms) => {
      t += ms;
    },
    sleeps,
  };
}

const limiter = (clock: Clock, options: Omit<RateLimiterOptions, 'now' | 'sleep'>): TokenBucketRateLimiter =>
  new TokenBucketRateLimiter({ ...options, now: clock.now, sleep: clock.sleep });

/** Acquires every request in turn and records when each was let through. */
async function run(l: TokenBucketRateLimiter, clock: Clock, requests: [number, number][]): Promise<{ at: number; records: number; bytes: number }[]> {
  const grants: { at: number; records: number; bytes: number }[] = [];
  for (const [records, bytes] of requests) {
    await l.acquire(records, bytes);
    grants.push({ at: clock.now(), records, bytes });
  }
  return grants;
}

describe('TokenBucketRateLimiter', () => {
  test('records-bound sustained run: achieved rate within ±10% of the target (in fact within 2%) over 10 minutes', async () => {
    const clock = fakeClock();
    const start = clock.now();
    const l = limiter(clock, { recordsPerSecond: 500, bytesPerSecond: Infinity });
    const rand = prng(1);
    const requests = Array.from({ length: 3000 }, () => [1 + Math.floor(rand() * 200), 100] as [number, number]);
    const grants = await run(l, clock, requests);
    const total = grants.reduce((s, g) => s + g.records, 0);
    const seconds = (clock.now() - start) / 1000;
    expect(seconds).toBeGreaterThan(550);
    const achieved = total / seconds;
    expect(achieved).toBeGreaterThan(500 * 0.9);
    expect(achieved).toBeLessThan(500 * 1.1);
    expect(Math.abs(achieved / 500 - 1)).toBeLessThan(0.02);
  });

  test('bytes-bound sustained run: the byte rate is what limits, within ±10%', async () => {
    const clock = fakeClock();
    const start = clock.now();
    const rate = 1024 * 1024; // 1 MiB/s
    const l = limiter(clock, { recordsPerSecond: 1000, bytesPerSecond: rate });
    const rand = prng(2);
    // 50 records of ~4–40 KiB per call: ≤ 1,000 records/s would allow ~20 calls/s, bytes allow far fewer.
    const requests = Array.from({ length: 2000 }, () => [50, 50 * (4096 + Math.floor(rand() * 36 * 1024))] as [number, number]);
    const grants = await run(l, clock, requests);
    const seconds = (clock.now() - start) / 1000;
    const bytes = grants.reduce((s, g) => s + g.bytes, 0);
    const records = grants.reduce((s, g) => s + g.records, 0);
    expect(bytes / seconds / rate).toBeGreaterThan(0.9);
    expect(bytes / seconds / rate).toBeLessThan(1.1);
    expect(records / seconds).toBeLessThan(1000);
  });

  test('no 1-second window lets through more than rate × (1 + burstSeconds)', async () => {
    const clock = fakeClock();
    const l = limiter(clock, { recordsPerSecond: 200, bytesPerSecond: Infinity, burstSeconds: 1 });
    const rand = prng(3);
    const grants = await run(l, clock, Array.from({ length: 1500 }, () => [1 + Math.floor(rand() * 50), 0] as [number, number]));
    for (let i = 0; i < grants.length; i++) {
      let inWindow = 0;
      for (let j = i; j < grants.length && grants[j].at < grants[i].at + 1000; j++) inWindow += grants[j].records;
      expect(inWindow).toBeLessThanOrEqual(200 * 2);
    }
  });

  test('starts full: the first burstSeconds of the rate goes at once, the next request waits for its tokens', async () => {
    const clock = fakeClock();
    const l = limiter(clock, { recordsPerSecond: 100, bytesPerSecond: 10_000, burstSeconds: 2 });
    expect(await l.acquire(200, 0)).toBe(0);
    expect(clock.sleeps).toEqual([]);
    // 50 records need 500 ms; 5,000 bytes need 500 ms too (the bucket's 20,000 bytes are untouched, so 0).
    await l.acquire(50, 5_000);
    expect(clock.sleeps).toEqual([500]);
    expect(l.waitedMs).toBe(500);
  });

  test('startFull: false makes the first request wait too', async () => {
    const clock = fakeClock();
    const l = limiter(clock, { recordsPerSecond: 100, bytesPerSecond: Infinity, startFull: false });
    await l.acquire(50, 0);
    expect(clock.sleeps).toEqual([500]);
  });

  test('a request larger than the bucket goes once the bucket is full, and the debt delays the next one', async () => {
    const clock = fakeClock();
    const start = clock.now();
    const l = limiter(clock, { recordsPerSecond: 100, bytesPerSecond: Infinity, burstSeconds: 1 });
    await l.acquire(500, 0); // bucket holds 100: it goes at once, leaving -400
    expect(clock.now() - start).toBe(0);
    await l.acquire(100, 0); // must wait for -400 → 100: 5 s
    expect(clock.now() - start).toBe(5000);
  });

  test('time that passes while nobody asks refills the bucket, up to its capacity only', async () => {
    const clock = fakeClock();
    const l = limiter(clock, { recordsPerSecond: 10, bytesPerSecond: Infinity, burstSeconds: 1 });
    await l.acquire(10, 0);
    clock.advance(60_000); // a minute idle: still only 10 tokens
    await l.acquire(10, 0);
    expect(clock.sleeps).toEqual([]);
    await l.acquire(5, 0);
    expect(clock.sleeps).toEqual([500]);
  });

  test('concurrent callers are served first come, first served', async () => {
    const clock = fakeClock();
    const l = limiter(clock, { recordsPerSecond: 10, bytesPerSecond: Infinity, burstSeconds: 1 });
    await l.acquire(10, 0);
    const order: string[] = [];
    await Promise.all([
      l.acquire(10, 0).then(() => order.push('big')),
      l.acquire(1, 0).then(() => order.push('small-1')),
      l.acquire(1, 0).then(() => order.push('small-2')),
    ]);
    expect(order).toEqual(['big', 'small-1', 'small-2']);
  });

  test('a dimension at Infinity never limits; both at Infinity never sleep', async () => {
    const clock = fakeClock();
    const l = limiter(clock, { recordsPerSecond: Infinity, bytesPerSecond: Infinity });
    for (let i = 0; i < 100; i++) await l.acquire(500, 5 * 1024 * 1024);
    expect(clock.sleeps).toEqual([]);
  });

  test('rejects nonsense rates, burst and requests', async () => {
    const clock = fakeClock();
    expect(() => limiter(clock, { recordsPerSecond: 0, bytesPerSecond: 1 })).toThrow(/recordsPerSecond/);
    expect(() => limiter(clock, { recordsPerSecond: 1, bytesPerSecond: -1 })).toThrow(/bytesPerSecond/);
    expect(() => limiter(clock, { recordsPerSecond: NaN, bytesPerSecond: 1 })).toThrow(/recordsPerSecond/);
    expect(() => limiter(clock, { recordsPerSecond: 1, bytesPerSecond: 1, burstSeconds: 0 })).toThrow(/burstSeconds/);
    const l = limiter(clock, { recordsPerSecond: 1, bytesPerSecond: 1 });
    await expect(l.acquire(-1, 0)).rejects.toThrow(/non-negative/);
    await expect(l.acquire(1, NaN)).rejects.toThrow(/non-negative/);
    // A rejected request does not wedge the queue.
    await expect(l.acquire(1, 1)).resolves.toBe(0);
  });
});
