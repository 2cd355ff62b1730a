import {
  checkClaim,
  InjectedStoreFault,
  InMemoryIdempotencyStore,
  type IdempotencyRecord,
  isValidKey,
  planClaims,
} from '../../lambda/shared/idempotency/store';

const T0 = Date.UTC(2026, 10, 1, 12, 0, 0);
const TTL = 7 * 24 * 3600;
const HOLD = 60_000;

function setup(): { clock: { now: number }; a: InMemoryIdempotencyStore; b: InMemoryIdempotencyStore } {
  const clock = { now: T0 };
  const a = new InMemoryIdempotencyStore({ owner: 'invocation-a', ttlSeconds: TTL, now: () => clock.now });
  return { clock, a, b: a.withOwner('invocation-b') };
}

describe('checkClaim (the rule both stores share)', () => {
  const now = T0;
  const base = { key: 'k', owner: 'other', expiresAt: Math.floor(now / 1000) + 100 };
  const inProgress: IdempotencyRecord = { ...base, status: 'IN_PROGRESS', inProgressExpiry: now + 1000, payloadHash: 'h1' };
  const completed: IdempotencyRecord = { ...base, status: 'COMPLETED', payloadHash: 'h1' };
  test.each<[string, IdempotencyRecord | undefined, { payloadHash?: string }, string, string]>([
    ['absent', undefined, {}, 'me', 'claimable'],
    ['COMPLETED', completed, {}, 'me', 'duplicate'],
    ['COMPLETED, same hash', completed, { payloadHash: 'h1' }, 'me', 'duplicate'],
    ['COMPLETED, other hash', completed, { payloadHash: 'h2' }, 'me', 'hash_mismatch'],
    ['COMPLETED past its TTL', { ...completed, expiresAt: Math.floor(now / 1000) - 1 }, { payloadHash: 'h2' }, 'me', 'claimable'],
    ['COMPLETED at its TTL second', { ...completed, expiresAt: Math.floor(now / 1000) }, {}, 'me', 'duplicate'],
    ['IN_PROGRESS, live, other owner', inProgress, {}, 'me', 'in_progress'],
    ['IN_PROGRESS, live, other hash', inProgress, { payloadHash: 'h2' }, 'me', 'hash_mismatch'],
    ['IN_PROGRESS, lapsed', { ...inProgress, inProgressExpiry: now - 1 }, { payloadHash: 'h1' }, 'me', 'claimable'],
    ['IN_PROGRESS, lapsed, other hash', { ...inProgress, inProgressExpiry: now - 1 }, { payloadHash: 'h2' }, 'me', 'hash_mismatch'],
    ['IN_PROGRESS, expiring this ms', { ...inProgress, inProgressExpiry: now }, {}, 'me', 'in_progress'],
    ['IN_PROGRESS, own claim', inProgress, {}, 'other', 'claimable'],
    ['IN_PROGRESS without stored hash', { ...inProgress, payloadHash: undefined }, { payloadHash: 'h2' }, 'me', 'in_progress'],
  ])('%s', (_name, existing, hash, owner, expected) => {
    expect(checkClaim(existing, { key: 'k', ...hash }, owner, now)).toBe(expected);
  });
});

describe('planClaims / isValidKey', () => {
  test('keys must be 1..2048 UTF-8 bytes', () => {
    expect(isValidKey('e')).toBe(true);
    expect(isValidKey('é'.repeat(1024))).toBe(true);
    expect(isValidKey('é'.repeat(1025))).toBe(false);
    expect(isValidKey('')).toBe(false);
    expect(isValidKey(undefined)).toBe(false);
  });

  test('first occurrence goes to the store; repeats are duplicate_in_batch, or hash_mismatch when the hashes differ', () => {
    const plan = planClaims([
      { key: 'a', payloadHash: 'h1' }, { key: 'b' }, { key: 'a', payloadHash: 'h1' }, { key: 'a' },
      { key: 'a', payloadHash: 'h2' }, { key: '' }, { key: '' }, { key: 'b', payloadHash: 'x' },
    ]);
    expect(plan.unique.map((u) => u.index)).toEqual([0, 1]);
    expect(plan.outcomes).toEqual([undefined, undefined, 'duplicate_in_batch', 'duplicate_in_batch', 'hash_mismatch', 'error', 'error', 'duplicate_in_batch']);
  });
});

describe('InMemoryIdempotencyStore', () => {
  test('new keys are claimed as IN_PROGRESS with the hold and TTL', async () => {
    const { a } = setup();
    expect(await a.claim([{ key: 'e1', payloadHash: 'h' }, { key: 'e2' }], { inProgressExpiryMs: HOLD })).toEqual(['claimed', 'claimed']);
    expect(a.table.get('e1')).toEqual({
      key: 'e1', status: 'IN_PROGRESS', inProgressExpiry: T0 + HOLD, expiresAt: Math.ceil((T0 + HOLD) / 1000) + TTL, owner: 'invocation-a', payloadHash: 'h',
    });
  });

  test('a live claim of another owner is in_progress until inProgressExpiry passes, then claimable', async () => {
    const { clock, a, b } = setup();
    await a.claim([{ key: 'e1' }], { inProgressExpiryMs: HOLD });
    expect(await b.claim([{ key: 'e1' }], { inProgressExpiryMs: HOLD })).toEqual(['in_progress']);
    clock.now = T0 + HOLD;
    expect(await b.claim([{ key: 'e1' }], { inProgressExpiryMs: HOLD })).toEqual(['in_progress']);
    clock.now = T0 + HOLD + 1;
    expect(await b.claim([{ key: 'e1' }], { inProgressExpiryMs: HOLD })).toEqual(['claimed']);
    expect(a.table.get('e1')?.owner).toBe('invocation-b');
  });

  test('an owner re-claiming its own live claim gets it again (a lost response must not lock it out)', async () => {
    const { a } = setup();
    await a.claim([{ key: 'e1' }], { inProgressExpiryMs: HOLD });
    expect(await a.claim([{ key: 'e1' }], { inProgressExpiryMs: HOLD })).toEqual(['claimed']);
  });

  test('completed keys are duplicates for every owner until their TTL passes', async () => {
    const { clock, a, b } = setup();
    await a.claim([{ key: 'e1', payloadHash: 'h' }], { inProgressExpiryMs: HOLD });
    expect(await a.complete(['e1'])).toEqual({ failed: [] });
    expect(a.table.get('e1')).toEqual({ key: 'e1', status: 'COMPLETED', expiresAt: Math.floor(T0 / 1000) + TTL, owner: 'invocation-a', payloadHash: 'h' });
    expect(await b.claim([{ key: 'e1', payloadHash: 'h' }], { inProgressExpiryMs: HOLD })).toEqual(['duplicate']);
    expect(await a.claim([{ key: 'e1' }], { inProgressExpiryMs: HOLD })).toEqual(['duplicate']);
    clock.now = T0 + (TTL + 1) * 1000;
    // TTL deletion is lazy: the item is still there, but logically gone.
    expect(a.table.get('e1')?.status).toBe('COMPLETED');
    expect(await b.claim([{ key: 'e1' }], { inProgressExpiryMs: HOLD })).toEqual(['claimed']);
  });

  test('a key reused with a different payload hash is hash_mismatch, whether claimed or completed', async () => {
    const { a, b } = setup();
    await a.claim([{ key: 'c', payloadHash: 'h1' }, { key: 'p', payloadHash: 'h1' }], { inProgressExpiryMs: HOLD });
    await a.complete(['c']);
    expect(await b.claim([{ key: 'c', payloadHash: 'h2' }, { key: 'p', payloadHash: 'h2' }], { inProgressExpiryMs: HOLD }))
      .toEqual(['hash_mismatch', 'hash_mismatch']);
    // Without a hash on the request nothing is compared.
    expect(await b.claim([{ key: 'c' }, { key: 'p' }], { inProgressExpiryMs: HOLD })).toEqual(['duplicate', 'in_progress']);
  });

  test('keys repeated within a call: the first claims, the rest are duplicate_in_batch (in request order)', async () => {
    const { a } = setup();
    expect(await a.claim([{ key: 'x' }, { key: 'y' }, { key: 'x' }, { key: 'x', payloadHash: 'other' }], { inProgressExpiryMs: HOLD }))
      .toEqual(['claimed', 'claimed', 'duplicate_in_batch', 'duplicate_in_batch']);
    expect(await a.claim([{ key: 'z', payloadHash: 'h1' }, { key: 'z', payloadHash: 'h2' }], { inProgressExpiryMs: HOLD }))
      .toEqual(['claimed', 'hash_mismatch']);
  });

  test('release deletes only this owner’s IN_PROGRESS claims, so a retry can claim at once', async () => {
    const { a, b } = setup();
    await a.claim([{ key: 'mine' }, { key: 'done' }], { inProgressExpiryMs: HOLD });
    await a.complete(['done']);
    await b.claim([{ key: 'theirs' }], { inProgressExpiryMs: HOLD });
    expect(await a.release(['mine', 'done', 'theirs', 'absent'])).toEqual({ failed: [] });
    expect(a.table.get('mine')).toBeUndefined();
    expect(a.table.get('done')?.status).toBe('COMPLETED');
    expect(a.table.get('theirs')?.owner).toBe('invocation-b');
    expect(await b.claim([{ key: 'mine' }], { inProgressExpiryMs: HOLD })).toEqual(['claimed']);
  });

  test('invalid keys fail alone', async () => {
    const { a } = setup();
    expect(await a.claim([{ key: '' }, { key: 'ok' }], { inProgressExpiryMs: HOLD })).toEqual(['error', 'claimed']);
    expect(await a.complete(['', 'ok'])).toEqual({ failed: [''] });
    expect(await a.release(['x'.repeat(2049)])).toEqual({ failed: ['x'.repeat(2049)] });
  });

  test('inProgressExpiryMs must be a positive duration', async () => {
    const { a } = setup();
    await expect(a.claim([{ key: 'k' }], { inProgressExpiryMs: 0 })).rejects.toThrow(RangeError);
    await expect(a.claim([{ key: 'k' }], { inProgressExpiryMs: Number.NaN })).rejects.toThrow(RangeError);
  });

  describe('fault injection', () => {
    test('failNext(n) makes the next n calls return error for every key, writing nothing', async () => {
      const { a } = setup();
      a.failNext(1);
      expect(await a.claim([{ key: 'k1' }, { key: 'k1' }, { key: 'k2' }], { inProgressExpiryMs: HOLD })).toEqual(['error', 'duplicate_in_batch', 'error']);
      expect(a.table.records()).toEqual([]);
      expect(await a.claim([{ key: 'k1' }], { inProgressExpiryMs: HOLD })).toEqual(['claimed']);
      expect(a.table.calls).toEqual({ claim: 2, complete: 0, release: 0 });
    });

    test('faults can target operations and keys', async () => {
      const { a } = setup();
      a.failNext(1, { operations: ['complete'], keys: ['k2'] });
      expect(await a.claim([{ key: 'k1' }, { key: 'k2' }], { inProgressExpiryMs: HOLD })).toEqual(['claimed', 'claimed']);
      expect(await a.complete(['k1', 'k2'])).toEqual({ failed: ['k2'] });
      expect(a.table.get('k1')?.status).toBe('COMPLETED');
      expect(a.table.get('k2')?.status).toBe('IN_PROGRESS');
    });

    test('throw mode rejects the call', async () => {
      const { a } = setup();
      a.failNext(2, { mode: 'throw' });
      await expect(a.claim([{ key: 'k' }], { inProgressExpiryMs: HOLD })).rejects.toBeInstanceOf(InjectedStoreFault);
      await expect(a.release(['k'])).rejects.toThrow(/fault in release/);
      expect(a.table.get('k')).toBeUndefined();
      expect(await a.complete(['k'])).toEqual({ failed: [] });
    });

    test('applied: the write lands although the call reports a failure (a lost response)', async () => {
      const { a, b } = setup();
      a.failNext(1, { applied: true });
      expect(await a.claim([{ key: 'k' }], { inProgressExpiryMs: HOLD })).toEqual(['error']);
      expect(await b.claim([{ key: 'k' }], { inProgressExpiryMs: HOLD })).toEqual(['in_progress']);
      // The owner can still release what it may hold.
      expect(await a.release(['k'])).toEqual({ failed: [] });
      expect(await b.claim([{ key: 'k' }], { inProgressExpiryMs: HOLD })).toEqual(['claimed']);
      b.failNext(1, { applied: true, mode: 'throw' });
      await expect(b.complete(['k'])).rejects.toBeInstanceOf(InjectedStoreFault);
      expect(b.table.get('k')?.status).toBe('COMPLETED');
    });

    test('failKeys lasts until clearFaults, across owners sharing the table', async () => {
      const { a, b } = setup();
      a.failKeys((k) => k.startsWith('bad'));
      expect(await b.claim([{ key: 'bad-1' }, { key: 'good' }], { inProgressExpiryMs: HOLD })).toEqual(['error', 'claimed']);
      expect(await a.claim([{ key: 'bad-2' }], { inProgressExpiryMs: HOLD })).toEqual(['error']);
      a.clearFaults();
      expect(await a.claim([{ key: 'bad-2' }], { inProgressExpiryMs: HOLD })).toEqual(['claimed']);
    });
  });
});
