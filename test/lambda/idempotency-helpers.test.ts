import { mapWithConcurrency } from '../../lambda/shared/concurrency';
import { PAYLOAD_HASH_LENGTH, payloadHash } from '../../lambda/shared/idempotency/payload-hash';
import { backoffDelayMs, retryRemaining, retryWithBackoff } from '../../lambda/shared/retry';

const transient = Object.assign(new Error('slow down'), { name: 'ThrottlingException' });
const fatal = Object.assign(new Error('bad'), { name: 'ValidationException' });
const isRetryable = (e: unknown): boolean => (e as Error).name === 'ThrottlingException';

function recorder(): { sleeps: number[]; sleep: (ms: number) => Promise<void> } {
  const sleeps: number[] = [];
  return { sleeps, sleep: async (ms) => { sleeps.push(ms); } };
}

describe('backoffDelayMs (full jitter)', () => {
  test('caps double per retry up to maxMs, and the delay is random() times the cap', () => {
    const opts = { baseMs: 50, maxMs: 1000 };
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => backoffDelayMs(n, { ...opts, random: () => 0.999999 })))
      .toEqual([49, 99, 199, 399, 799, 999, 999]);
    expect(backoffDelayMs(3, { ...opts, random: () => 0.5 })).toBe(100);
    expect(backoffDelayMs(3, { ...opts, random: () => 0 })).toBe(0);
  });
});

describe('retryWithBackoff', () => {
  test('retries retryable errors with growing jittered delays, then resolves', async () => {
    const { sleeps, sleep } = recorder();
    let calls = 0;
    const value = await retryWithBackoff(async (attempt) => {
      calls++;
      if (attempt < 4) throw transient;
      return 'ok';
    }, { attempts: 8, baseMs: 10, maxMs: 1000, isRetryable, sleep, random: () => 0.5 });
    expect(value).toBe('ok');
    expect(calls).toBe(4);
    expect(sleeps).toEqual([5, 10, 20]);
  });

  test('rethrows the last error after `attempts` tries', async () => {
    const { sleeps, sleep } = recorder();
    let calls = 0;
    await expect(retryWithBackoff(async () => { calls++; throw transient; }, { attempts: 3, baseMs: 10, maxMs: 1000, isRetryable, sleep, random: () => 0 }))
      .rejects.toBe(transient);
    expect(calls).toBe(3);
    expect(sleeps).toHaveLength(2);
  });

  test('does not retry a non-retryable error', async () => {
    const { sleeps, sleep } = recorder();
    let calls = 0;
    await expect(retryWithBackoff(async () => { calls++; throw fatal; }, { attempts: 5, baseMs: 10, maxMs: 1000, isRetryable, sleep }))
      .rejects.toBe(fatal);
    expect([calls, sleeps.length]).toEqual([1, 0]);
  });

  test('rejects a non-positive attempt count', async () => {
    await expect(retryWithBackoff(async () => 1, { attempts: 0, baseMs: 1, maxMs: 1, isRetryable })).rejects.toThrow(RangeError);
  });
});

describe('retryRemaining (partial failures, e.g. PutRecords)', () => {
  test('resends only the failed items, with backoff, until none remain', async () => {
    const { sleeps, sleep } = recorder();
    const sent: string[][] = [];
    const result = await retryRemaining(['a', 'b', 'c', 'd'], async (batch) => {
      sent.push([...batch]);
      return { retry: batch.slice(0, batch.length - 2) };
    }, { attempts: 8, baseMs: 10, maxMs: 1000, isRetryable, sleep, random: () => 0.5 });
    expect(sent).toEqual([['a', 'b', 'c', 'd'], ['a', 'b']]);
    expect(result).toEqual({ remaining: [], calls: 2, lastError: undefined });
    expect(sleeps).toEqual([5]);
  });

  test('resends at once when the attempt says no backoff is needed', async () => {
    const { sleeps, sleep } = recorder();
    const result = await retryRemaining([1, 2, 3], async (batch) => ({ retry: batch.slice(1), backoff: false }),
      { attempts: 8, baseMs: 10, maxMs: 1000, isRetryable, sleep });
    expect(result.calls).toBe(3);
    expect(sleeps).toEqual([]);
  });

  test('a retryable throw retries the whole remaining set; exhaustion returns what is left', async () => {
    const { sleeps, sleep } = recorder();
    const sent: number[][] = [];
    const result = await retryRemaining([1, 2, 3], async (batch, attempt) => {
      sent.push([...batch]);
      if (attempt === 1) return { retry: [2, 3] };
      throw transient;
    }, { attempts: 4, baseMs: 10, maxMs: 1000, isRetryable, sleep, random: () => 0.5 });
    expect(sent).toEqual([[1, 2, 3], [2, 3], [2, 3], [2, 3]]);
    expect(result).toEqual({ remaining: [2, 3], calls: 4, lastError: transient });
    // Backoff exponent counts sleeps: 5, 10, 20; no sleep after the last try.
    expect(sleeps).toEqual([5, 10, 20]);
  });

  test('a non-retryable throw ends the loop at once and returns the remaining items', async () => {
    const { sleeps, sleep } = recorder();
    const result = await retryRemaining([1, 2], async () => { throw fatal; }, { attempts: 8, baseMs: 10, maxMs: 1000, isRetryable, sleep });
    expect(result).toEqual({ remaining: [1, 2], calls: 1, lastError: fatal });
    expect(sleeps).toEqual([]);
  });

  test('an empty input makes no call', async () => {
    const send = jest.fn();
    expect(await retryRemaining([], send, { attempts: 3, baseMs: 1, maxMs: 1, isRetryable })).toEqual({ remaining: [], calls: 0, lastError: undefined });
    expect(send).not.toHaveBeenCalled();
  });
});

describe('mapWithConcurrency', () => {
  test('keeps at most `limit` calls in flight and returns results in input order', async () => {
    let inFlight = 0;
    let peak = 0;
    const results = await mapWithConcurrency([5, 1, 4, 2, 3, 0, 6, 2], 3, async (ms, i) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, ms));
      inFlight--;
      return i * 10;
    });
    expect(results).toEqual([0, 10, 20, 30, 40, 50, 60, 70]);
    expect(peak).toBe(3);
  });

  test('stops starting calls after a failure and rejects once the in-flight ones settle', async () => {
    const started: number[] = [];
    let settled = 0;
    await expect(mapWithConcurrency([0, 1, 2, 3, 4, 5], 2, async (i) => {
      started.push(i);
      await new Promise((r) => setTimeout(r, i === 1 ? 20 : 1));
      settled++;
      if (i === 0) throw new Error('boom');
      return i;
    })).rejects.toThrow('boom');
    expect(started).toEqual([0, 1]);
    expect(settled).toBe(2);
  });

  test('rejects a limit below 1', async () => {
    await expect(mapWithConcurrency([1], 0, async (x) => x)).rejects.toThrow(RangeError);
  });
});

describe('payloadHash', () => {
  test('is the base64url sha256 of the raw bytes, truncated to 22 characters', () => {
    // sha256("") = 47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU
    expect(payloadHash('')).toBe('47DEQpj8HBSa-_TImW-5JC');
    expect(payloadHash('{"event_id":"e1"}')).toHaveLength(PAYLOAD_HASH_LENGTH);
    expect(payloadHash('{"event_id":"e1"}')).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  test('strings hash as their UTF-8 bytes; different bytes hash differently', () => {
    expect(payloadHash('é')).toBe(payloadHash(Buffer.from('é', 'utf8')));
    expect(payloadHash('{"a":1,"b":2}')).not.toBe(payloadHash('{"b":2,"a":1}'));
  });
});
