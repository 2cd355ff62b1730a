import {
  type AttributeValue,
  BatchGetItemCommand,
  type BatchGetItemCommandInput,
  type DynamoDBClient,
  TransactionCanceledException,
  type TransactWriteItem,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import {
  claimCondition,
  DynamoDbIdempotencyStore,
  type DynamoDbIdempotencyStoreOptions,
  type DynamoDbOperation,
  type DynamoDbSender,
  isRetryableDynamoDbError,
  parseItem,
} from '../../lambda/shared/idempotency/dynamodb-store';
import { checkClaim, type ClaimRequest, type IdempotencyRecord } from '../../lambda/shared/idempotency/store';

type Item = Record<string, AttributeValue>;

// ---------------------------------------------------------------------------
// A fake DynamoDB: TransactWriteItems (Put/Update/Delete with conditions,
// all-or-nothing, CancellationReasons with ALL_OLD items) and BatchGetItem,
// with its own small evaluator of condition and update expressions, and
// DynamoDB's checks on unused/undefined expression names and values.
// ---------------------------------------------------------------------------

function serviceError(name: string, message = name): Error {
  return Object.assign(new Error(message), { name, $metadata: {} });
}

function compare(a: AttributeValue | undefined, b: AttributeValue | undefined): number | undefined {
  if (a === undefined || b === undefined) return undefined;
  if (a.N !== undefined && b.N !== undefined) return Number(a.N) - Number(b.N);
  if (a.S !== undefined && b.S !== undefined) return a.S < b.S ? -1 : a.S > b.S ? 1 : 0;
  return undefined;
}

/** Evaluates the subset of DynamoDB condition syntax the store uses. */
export function evaluateCondition(expr: string, item: Item | undefined, names: Record<string, string>, values: Item): boolean {
  const tokens = expr.match(/attribute_not_exists|attribute_exists|AND|OR|NOT|<>|<=|>=|[()=<>]|#\w+|:\w+/g) ?? [];
  let pos = 0;
  const peek = (): string | undefined => tokens[pos];
  const take = (expected?: string): string => {
    const t = tokens[pos++];
    if (t === undefined || (expected !== undefined && t !== expected)) throw new Error(`fake: bad expression ${expr} at ${pos}`);
    return t;
  };
  const operand = (): AttributeValue | undefined => {
    const t = take();
    if (t.startsWith('#')) return item?.[names[t]];
    if (t.startsWith(':')) return values[t];
    throw new Error(`fake: bad operand ${t}`);
  };
  const unary = (): boolean => {
    const t = peek();
    if (t === 'NOT') { take(); return !unary(); }
    if (t === '(') { take('('); const v = or(); take(')'); return v; }
    if (t === 'attribute_not_exists' || t === 'attribute_exists') {
      take(); take('('); const name = take(); take(')');
      const exists = item?.[names[name]] !== undefined;
      return t === 'attribute_exists' ? exists : !exists;
    }
    const left = operand();
    const op = take();
    const c = compare(left, operand());
    if (c === undefined) return false;
    return { '=': c === 0, '<>': c !== 0, '<': c < 0, '<=': c <= 0, '>': c > 0, '>=': c >= 0 }[op] ?? false;
  };
  const and = (): boolean => { let v = unary(); while (peek() === 'AND') { take(); v = unary() && v; } return v; };
  const or = (): boolean => { let v = and(); while (peek() === 'OR') { take(); v = and() || v; } return v; };
  const result = or();
  if (pos !== tokens.length) throw new Error(`fake: trailing tokens in ${expr}`);
  return result;
}

function applyUpdate(expr: string, item: Item, names: Record<string, string>, values: Item): Item {
  const next = { ...item };
  for (const [, clause, body] of expr.matchAll(/(SET|REMOVE)\s+(.*?)(?=\s+(?:SET|REMOVE)\s|$)/g)) {
    for (const part of body.split(',').map((p) => p.trim())) {
      if (clause === 'SET') {
        const [name, value] = part.split('=').map((s) => s.trim());
        next[names[name]] = values[value];
      } else {
        delete next[names[part]];
      }
    }
  }
  return next;
}

/** DynamoDB rejects undefined and unused expression names/values. */
function checkExpressionTokens(expressions: (string | undefined)[], names: Record<string, string> = {}, values: Item = {}): void {
  const text = expressions.filter(Boolean).join(' ');
  const usedNames = new Set(text.match(/#\w+/g) ?? []);
  const usedValues = new Set(text.match(/:\w+/g) ?? []);
  for (const n of usedNames) if (!(n in names)) throw serviceError('ValidationException', `undefined name ${n}`);
  for (const v of usedValues) if (!(v in values)) throw serviceError('ValidationException', `undefined value ${v}`);
  for (const n of Object.keys(names)) if (!usedNames.has(n)) throw serviceError('ValidationException', `unused name ${n}`);
  for (const v of Object.keys(values)) if (!usedValues.has(v)) throw serviceError('ValidationException', `unused value ${v}`);
}

interface Sent { readonly op: DynamoDbOperation; readonly keys: string[] }

class FakeDynamo {
  readonly items = new Map<string, Item>();
  readonly sent: Sent[] = [];
  inFlight = 0;
  peakInFlight = 0;
  /** Called before a request is applied; a thrown error fails it. */
  before?: (op: DynamoDbOperation, keys: string[], call: number) => void;
  /** Called after a request committed; a thrown error loses the response. */
  after?: (op: DynamoDbOperation, keys: string[], call: number) => void;
  /** Simulated latency, to observe concurrency. */
  latencyMs = 0;

  async send(command: unknown): Promise<unknown> {
    this.inFlight++;
    this.peakInFlight = Math.max(this.peakInFlight, this.inFlight);
    try {
      if (this.latencyMs > 0) await new Promise((r) => setTimeout(r, this.latencyMs));
      if (command instanceof TransactWriteItemsCommand) return this.transact(command.input.TransactItems ?? []);
      if (command instanceof BatchGetItemCommand) return this.batchGet(command.input);
      throw new Error(`fake: unexpected command ${String(command)}`);
    } finally {
      this.inFlight--;
    }
  }

  private transact(actions: TransactWriteItem[]): unknown {
    const keys = actions.map((a) => (a.Put?.Item?.pk ?? a.Update?.Key?.pk ?? a.Delete?.Key?.pk)?.S as string);
    this.sent.push({ op: 'TransactWriteItems', keys });
    this.before?.('TransactWriteItems', keys, this.sent.length);
    if (actions.length > 100) throw serviceError('ValidationException', 'too many items');
    if (new Set(keys).size !== keys.length) throw serviceError('ValidationException', 'Transaction request cannot include multiple operations on one item');
    const reasons = actions.map((a, i) => {
      const op = a.Put ?? a.Update ?? a.Delete;
      if (op === undefined) throw new Error('fake: unsupported action');
      checkExpressionTokens([op.ConditionExpression, a.Update?.UpdateExpression], op.ExpressionAttributeNames, op.ExpressionAttributeValues);
      const existing = this.items.get(keys[i]);
      if (op.ConditionExpression === undefined || evaluateCondition(op.ConditionExpression, existing, op.ExpressionAttributeNames ?? {}, op.ExpressionAttributeValues ?? {})) {
        return { Code: 'None' };
      }
      return { Code: 'ConditionalCheckFailed', Message: 'The conditional request failed', ...(op.ReturnValuesOnConditionCheckFailure === 'ALL_OLD' && existing ? { Item: existing } : {}) };
    });
    if (reasons.some((r) => r.Code !== 'None')) {
      throw new TransactionCanceledException({ message: `Transaction cancelled [${reasons.map((r) => r.Code).join(', ')}]`, $metadata: {}, CancellationReasons: reasons });
    }
    actions.forEach((a, i) => {
      if (a.Put) this.items.set(keys[i], a.Put.Item as Item);
      else if (a.Delete) this.items.delete(keys[i]);
      else if (a.Update) {
        const u = a.Update;
        this.items.set(keys[i], applyUpdate(u.UpdateExpression as string, this.items.get(keys[i]) ?? { pk: { S: keys[i] } }, u.ExpressionAttributeNames ?? {}, u.ExpressionAttributeValues ?? {}));
      }
    });
    this.after?.('TransactWriteItems', keys, this.sent.length);
    return {};
  }

  private batchGet(input: BatchGetItemCommandInput): unknown {
    const [table, request] = Object.entries(input.RequestItems ?? {})[0];
    const keys = (request.Keys ?? []).map((k) => k.pk.S as string);
    this.sent.push({ op: 'BatchGetItem', keys });
    this.before?.('BatchGetItem', keys, this.sent.length);
    if (keys.length > 100) throw serviceError('ValidationException', 'Too many items requested for the BatchGetItem call');
    if (request.ConsistentRead !== true) throw new Error('fake: the precheck must read consistently');
    const found = keys.map((k) => this.items.get(k)).filter((i): i is Item => i !== undefined);
    return { Responses: { [table]: found }, UnprocessedKeys: {} };
  }

  count(op?: DynamoDbOperation): number {
    return this.sent.filter((s) => op === undefined || s.op === op).length;
  }

  putRecord(record: IdempotencyRecord): void {
    this.items.set(record.key, {
      pk: { S: record.key },
      status: { S: record.status },
      expiresAt: { N: String(record.expiresAt) },
      owner: { S: record.owner },
      ...(record.inProgressExpiry !== undefined ? { inProgressExpiry: { N: String(record.inProgressExpiry) } } : {}),
      ...(record.payloadHash !== undefined ? { payloadHash: { S: record.payloadHash } } : {}),
    });
  }
}

// ---------------------------------------------------------------------------

const T0 = Date.UTC(2026, 10, 1, 12, 0, 0);
const TTL = 7 * 24 * 3600;
const HOLD = 60_000;

interface Harness {
  fake: FakeDynamo;
  clock: { now: number };
  sleeps: number[];
  requests: DynamoDbOperation[];
  errors: unknown[];
  store: (owner?: string, extra?: Partial<DynamoDbIdempotencyStoreOptions>) => DynamoDbIdempotencyStore;
}

function harness(): Harness {
  const fake = new FakeDynamo();
  const clock = { now: T0 };
  const sleeps: number[] = [];
  const requests: DynamoDbOperation[] = [];
  const errors: unknown[] = [];
  return {
    fake, clock, sleeps, requests, errors,
    store: (owner = 'owner-a', extra = {}) => new DynamoDbIdempotencyStore({
      client: fake,
      tableName: 'idempotency',
      ttlSeconds: TTL,
      owner,
      now: () => clock.now,
      sleep: async (ms) => { sleeps.push(ms); },
      random: () => 0.5,
      onRequest: (op) => requests.push(op),
      onError: (info) => errors.push(info),
      ...extra,
    }),
  };
}

const keys = (n: number, prefix = 'evt'): ClaimRequest[] => Array.from({ length: n }, (_, i) => ({ key: `${prefix}-${String(i).padStart(5, '0')}` }));
const tally = (outcomes: string[]): Record<string, number> => outcomes.reduce<Record<string, number>>((t, o) => ({ ...t, [o]: (t[o] ?? 0) + 1 }), {});

// Compile-time: the handler passes its DynamoDBClient as the store's client.
const clientIsSender: DynamoDBClient extends DynamoDbSender ? true : false = true;

test('a DynamoDBClient is accepted as the store’s client (checked by the compiler)', () => {
  expect(clientIsSender).toBe(true);
});

describe('claimCondition is exactly checkClaim', () => {
  test('for every combination of stored item and request (evaluated by an independent expression evaluator)', () => {
    const now = T0;
    const nowS = Math.floor(now / 1000);
    const owners = ['me', 'other'];
    const stored: (IdempotencyRecord | undefined)[] = [undefined];
    for (const status of ['IN_PROGRESS', 'COMPLETED'] as const) {
      for (const expiresAt of [nowS - 1, nowS, nowS + 1]) {
        for (const inProgressExpiry of [undefined, now - 1, now, now + 1]) {
          for (const payloadHash of [undefined, 'h1', 'h2']) {
            for (const owner of owners) {
              stored.push({ key: 'k', status, expiresAt, owner, ...(inProgressExpiry !== undefined ? { inProgressExpiry } : {}), ...(payloadHash ? { payloadHash } : {}) });
            }
          }
        }
      }
    }
    let cases = 0;
    for (const existing of stored) {
      for (const payloadHash of [undefined, 'h1']) {
        const fake = new FakeDynamo();
        if (existing) fake.putRecord(existing);
        const item = fake.items.get('k');
        const names: Record<string, string> = { '#pk': 'pk', '#exp': 'expiresAt', '#st': 'status', '#ipx': 'inProgressExpiry', '#ow': 'owner', '#h': 'payloadHash' };
        const values: Item = { ':nowS': { N: String(nowS) }, ':nowMs': { N: String(now) }, ':inProgress': { S: 'IN_PROGRESS' }, ':owner': { S: 'me' }, ':hash': { S: payloadHash ?? '' } };
        const passes = evaluateCondition(claimCondition(payloadHash !== undefined), item, names, values);
        const check = checkClaim(parseItem(item), { key: 'k', payloadHash }, 'me', now);
        expect([existing, payloadHash, passes]).toEqual([existing, payloadHash, check === 'claimable']);
        cases++;
      }
    }
    expect(cases).toBe(2 * (1 + 2 * 3 * 4 * 3 * 2));
  });
});

describe('DynamoDbIdempotencyStore request counts (per 1,000 records)', () => {
  test('all new: 10 TransactWriteItems to claim, 10 to complete', async () => {
    const h = harness();
    const store = h.store();
    const outcomes = await store.claim(keys(1000), { inProgressExpiryMs: HOLD });
    expect(tally(outcomes)).toEqual({ claimed: 1000 });
    expect(h.fake.count()).toBe(10);
    expect(h.fake.sent.every((s) => s.op === 'TransactWriteItems' && s.keys.length === 100)).toBe(true);
    expect(await store.complete(keys(1000).map((k) => k.key))).toEqual({ failed: [] });
    expect(h.fake.count()).toBe(20);
    expect(h.requests).toHaveLength(20);
    expect(h.sleeps).toEqual([]);
  });

  test('all replays: 10 cancelled transactions settle every key as duplicate', async () => {
    const h = harness();
    await h.store().claim(keys(1000), { inProgressExpiryMs: HOLD });
    await h.store().complete(keys(1000).map((k) => k.key));
    h.fake.sent.length = 0;
    const outcomes = await h.store('owner-b').claim(keys(1000), { inProgressExpiryMs: HOLD });
    expect(tally(outcomes)).toEqual({ duplicate: 1000 });
    expect(h.fake.count()).toBe(10);
    expect(h.sleeps).toEqual([]);
  });

  test('10% held by a live invocation: 20 transactions (each chunk retried once without the held keys)', async () => {
    const h = harness();
    const held = keys(1000).filter((_, i) => i % 10 === 3);
    await h.store('owner-b').claim(held, { inProgressExpiryMs: HOLD });
    h.fake.sent.length = 0;
    const outcomes = await h.store().claim(keys(1000), { inProgressExpiryMs: HOLD });
    expect(tally(outcomes)).toEqual({ claimed: 900, in_progress: 100 });
    expect(outcomes[3]).toBe('in_progress');
    expect(h.fake.count('TransactWriteItems')).toBe(20);
    // The retry of each chunk carries only the 90 keys that were not held, and goes without a pause.
    expect(h.fake.sent.filter((s) => s.keys.length === 90)).toHaveLength(10);
    expect(h.sleeps).toEqual([]);
  });

  test('precheck: all new 10 BatchGet + 10 TransactWrite; all replays 10 BatchGet only; 10% held 10 + 10', async () => {
    const h = harness();
    const store = h.store('owner-a', { precheck: true });
    expect(tally(await store.claim(keys(1000), { inProgressExpiryMs: HOLD }))).toEqual({ claimed: 1000 });
    expect([h.fake.count('BatchGetItem'), h.fake.count('TransactWriteItems')]).toEqual([10, 10]);
    await store.complete(keys(1000).map((k) => k.key));

    h.fake.sent.length = 0;
    expect(tally(await h.store('owner-b', { precheck: true }).claim(keys(1000), { inProgressExpiryMs: HOLD }))).toEqual({ duplicate: 1000 });
    expect([h.fake.count('BatchGetItem'), h.fake.count('TransactWriteItems')]).toEqual([10, 0]);

    h.fake.sent.length = 0;
    await h.store('owner-b').claim(keys(1000, 'new').filter((_, i) => i % 10 === 3), { inProgressExpiryMs: HOLD });
    h.fake.sent.length = 0;
    expect(tally(await store.claim(keys(1000, 'new'), { inProgressExpiryMs: HOLD }))).toEqual({ claimed: 900, in_progress: 100 });
    expect([h.fake.count('BatchGetItem'), h.fake.count('TransactWriteItems')]).toEqual([10, 10]);
  });

  test.each([1, 99, 100, 101, 250, 1000, 1001])('%i new keys take ceil(n/100) transactions', async (n) => {
    const h = harness();
    await h.store().claim(keys(n), { inProgressExpiryMs: HOLD });
    expect(h.fake.count()).toBe(Math.ceil(n / 100));
  });
});

describe('DynamoDbIdempotencyStore claim semantics', () => {
  test('writes IN_PROGRESS items with the hold, TTL, owner and hash, conditioned and asking for ALL_OLD', async () => {
    const h = harness();
    let request: TransactWriteItem[] = [];
    const send = h.fake.send.bind(h.fake);
    h.fake.send = async (command: unknown) => {
      if (command instanceof TransactWriteItemsCommand) request = command.input.TransactItems ?? [];
      return send(command);
    };
    await h.store().claim([{ key: 'e1', payloadHash: 'hash-1' }], { inProgressExpiryMs: HOLD });
    expect(h.fake.items.get('e1')).toEqual({
      pk: { S: 'e1' },
      status: { S: 'IN_PROGRESS' },
      inProgressExpiry: { N: String(T0 + HOLD) },
      expiresAt: { N: String(Math.ceil((T0 + HOLD) / 1000) + TTL) },
      owner: { S: 'owner-a' },
      payloadHash: { S: 'hash-1' },
    });
    expect(request[0].Put).toMatchObject({ TableName: 'idempotency', ConditionExpression: claimCondition(true), ReturnValuesOnConditionCheckFailure: 'ALL_OLD' });
  });

  test('cancellation reasons settle each key: duplicate, in_progress, hash_mismatch; the rest are resent and claimed', async () => {
    const h = harness();
    const nowS = Math.floor(T0 / 1000);
    h.fake.putRecord({ key: 'done', status: 'COMPLETED', expiresAt: nowS + 100, owner: 'x', payloadHash: 'h1' });
    h.fake.putRecord({ key: 'held', status: 'IN_PROGRESS', expiresAt: nowS + 100, inProgressExpiry: T0 + 1, owner: 'x' });
    h.fake.putRecord({ key: 'reused', status: 'COMPLETED', expiresAt: nowS + 100, owner: 'x', payloadHash: 'h1' });
    h.fake.putRecord({ key: 'lapsed', status: 'IN_PROGRESS', expiresAt: nowS + 100, inProgressExpiry: T0 - 1, owner: 'x' });
    h.fake.putRecord({ key: 'expired', status: 'COMPLETED', expiresAt: nowS - 1, owner: 'x', payloadHash: 'h1' });
    const outcomes = await h.store().claim([
      { key: 'new' }, { key: 'done', payloadHash: 'h1' }, { key: 'held' }, { key: 'reused', payloadHash: 'h2' },
      { key: 'lapsed' }, { key: 'expired', payloadHash: 'h2' }, { key: 'new' },
    ], { inProgressExpiryMs: HOLD });
    expect(outcomes).toEqual(['claimed', 'duplicate', 'in_progress', 'hash_mismatch', 'claimed', 'claimed', 'duplicate_in_batch']);
    expect(h.fake.sent.map((s) => s.keys)).toEqual([
      ['new', 'done', 'held', 'reused', 'lapsed', 'expired'],
      ['new', 'lapsed', 'expired'],
    ]);
    expect(h.fake.items.get('held')?.owner).toEqual({ S: 'x' });
  });

  test('in_progress until inProgressExpiry passes (injected clock), then claimable by another owner', async () => {
    const h = harness();
    await h.store('owner-a').claim([{ key: 'k' }], { inProgressExpiryMs: HOLD });
    expect(await h.store('owner-b').claim([{ key: 'k' }], { inProgressExpiryMs: HOLD })).toEqual(['in_progress']);
    h.clock.now = T0 + HOLD + 1;
    expect(await h.store('owner-b').claim([{ key: 'k' }], { inProgressExpiryMs: HOLD })).toEqual(['claimed']);
  });

  test('a claim whose response was lost after commit is re-claimed by the same owner on retry', async () => {
    const h = harness();
    h.fake.after = (_op, _keys, call) => { if (call === 1) throw serviceError('InternalServerError'); };
    expect(await h.store().claim(keys(3), { inProgressExpiryMs: HOLD })).toEqual(['claimed', 'claimed', 'claimed']);
    expect(h.fake.count()).toBe(2);
    expect(h.sleeps).toEqual([25]);
  });

  test('an item this store did not write is an error for its key only', async () => {
    const h = harness();
    h.fake.items.set('alien', { pk: { S: 'alien' }, status: { S: 'SOMETHING' } });
    expect(await h.store().claim([{ key: 'alien' }, { key: 'ok' }], { inProgressExpiryMs: HOLD })).toEqual(['error', 'claimed']);
  });

  test('invalid keys are errors and are never sent', async () => {
    const h = harness();
    expect(await h.store().claim([{ key: '' }, { key: 'x'.repeat(2049) }, { key: 'ok' }], { inProgressExpiryMs: HOLD })).toEqual(['error', 'error', 'claimed']);
    expect(h.fake.sent.map((s) => s.keys)).toEqual([['ok']]);
  });

  test('an empty batch makes no request', async () => {
    const h = harness();
    expect(await h.store().claim([], { inProgressExpiryMs: HOLD })).toEqual([]);
    expect(await h.store().complete([])).toEqual({ failed: [] });
    expect(h.fake.count()).toBe(0);
  });
});

describe('DynamoDbIdempotencyStore throttling and errors', () => {
  test.each([
    'ProvisionedThroughputExceededException', 'ThrottlingException', 'RequestLimitExceeded', 'TransactionConflictException', 'InternalServerError',
  ])('%s is retried with exponential backoff and full jitter', async (name) => {
    const h = harness();
    h.fake.before = (_op, _keys, call) => { if (call <= 3) throw serviceError(name); };
    expect(await h.store().claim(keys(5), { inProgressExpiryMs: HOLD })).toEqual(Array(5).fill('claimed'));
    expect(h.fake.count()).toBe(4);
    // random() = 0.5 → half of 50, 100, 200 ms.
    expect(h.sleeps).toEqual([25, 50, 100]);
  });

  test('cancellation reasons ThrottlingError / TransactionConflict resend those keys and the cancelled ones after a backoff', async () => {
    const h = harness();
    h.fake.before = (_op, batch, call) => {
      if (call !== 1) return;
      throw new TransactionCanceledException({
        message: 'cancelled', $metadata: {},
        CancellationReasons: batch.map((_, i) => ({ Code: i === 1 ? 'ThrottlingError' : i === 2 ? 'TransactionConflict' : 'None' })),
      });
    };
    expect(await h.store().claim(keys(4), { inProgressExpiryMs: HOLD })).toEqual(Array(4).fill('claimed'));
    expect(h.fake.sent.map((s) => s.keys.length)).toEqual([4, 4]);
    expect(h.sleeps).toEqual([25]);
  });

  test('a ValidationError reason fails that key alone', async () => {
    const h = harness();
    h.fake.before = (_op, batch, call) => {
      if (call === 1) throw new TransactionCanceledException({ message: 'c', $metadata: {}, CancellationReasons: batch.map((_, i) => ({ Code: i === 0 ? 'ValidationError' : 'None' })) });
    };
    expect(await h.store().claim(keys(3), { inProgressExpiryMs: HOLD })).toEqual(['error', 'claimed', 'claimed']);
    expect(h.sleeps).toEqual([]);
  });

  test('after 8 attempts a throttled chunk comes back as error; other chunks are unaffected and nothing throws', async () => {
    const h = harness();
    h.fake.before = (_op, batch) => { if (batch.includes('evt-00150')) throw serviceError('ProvisionedThroughputExceededException'); };
    const outcomes = await h.store().claim(keys(300), { inProgressExpiryMs: HOLD });
    expect(outcomes.slice(100, 200)).toEqual(Array(100).fill('error'));
    expect(tally(outcomes)).toEqual({ claimed: 200, error: 100 });
    expect(h.fake.sent.filter((s) => s.keys.includes('evt-00150'))).toHaveLength(8);
    // Caps 50·2^n up to maxDelayMs 2000, times random() = 0.5.
    expect(h.sleeps).toEqual([25, 50, 100, 200, 400, 800, 1000]);
    expect(h.errors).toEqual([{ operation: 'claim', keys: 100, error: expect.objectContaining({ name: 'ProvisionedThroughputExceededException' }) }]);
  });

  test('a non-retryable error fails its chunk at once', async () => {
    const h = harness();
    h.fake.before = () => { throw serviceError('ResourceNotFoundException'); };
    expect(await h.store().claim(keys(2), { inProgressExpiryMs: HOLD })).toEqual(['error', 'error']);
    expect(h.fake.count()).toBe(1);
    expect(h.sleeps).toEqual([]);
  });

  test('attempts and delays are configurable', async () => {
    const h = harness();
    h.fake.before = () => { throw serviceError('ThrottlingException'); };
    await h.store('o', { attempts: 3, baseDelayMs: 10, maxDelayMs: 15 }).claim(keys(1), { inProgressExpiryMs: HOLD });
    expect(h.fake.count()).toBe(3);
    expect(h.sleeps).toEqual([5, 7]);
  });

  test('at most maxConcurrency requests are in flight', async () => {
    const h = harness();
    h.fake.latencyMs = 5;
    await h.store().claim(keys(1000), { inProgressExpiryMs: HOLD });
    expect(h.fake.peakInFlight).toBe(4);
    h.fake.peakInFlight = 0;
    await h.store('o', { maxConcurrency: 2 }).complete(keys(1000).map((k) => k.key));
    expect(h.fake.peakInFlight).toBe(2);
  });

  test('isRetryableDynamoDbError', () => {
    const cancelled = (code: string): unknown => new TransactionCanceledException({ message: 'c', $metadata: {}, CancellationReasons: [{ Code: 'None' }, { Code: code }] });
    expect(isRetryableDynamoDbError(cancelled('ThrottlingError'))).toBe(true);
    expect(isRetryableDynamoDbError(cancelled('TransactionConflict'))).toBe(true);
    expect(isRetryableDynamoDbError(cancelled('ConditionalCheckFailed'))).toBe(false);
    expect(isRetryableDynamoDbError(Object.assign(new Error('x'), { $metadata: { httpStatusCode: 503 } }))).toBe(true);
    expect(isRetryableDynamoDbError(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isRetryableDynamoDbError(serviceError('ValidationException'))).toBe(false);
    expect(isRetryableDynamoDbError('nope')).toBe(false);
  });
});

describe('DynamoDbIdempotencyStore precheck', () => {
  test('unprocessed or failing reads fall through to the claim, which decides', async () => {
    const h = harness();
    h.fake.before = (op) => { if (op === 'BatchGetItem') throw serviceError('ThrottlingException'); };
    expect(await h.store('o', { precheck: true, attempts: 2 }).claim(keys(3), { inProgressExpiryMs: HOLD })).toEqual(Array(3).fill('claimed'));
    expect([h.fake.count('BatchGetItem'), h.fake.count('TransactWriteItems')]).toEqual([2, 1]);
    expect(h.errors).toEqual([expect.objectContaining({ operation: 'precheck', keys: 3 })]);
  });
});

describe('DynamoDbIdempotencyStore complete and release', () => {
  test('complete marks keys COMPLETED with the TTL, keeps the claim’s hash and drops inProgressExpiry', async () => {
    const h = harness();
    await h.store().claim([{ key: 'k', payloadHash: 'h' }], { inProgressExpiryMs: HOLD });
    h.clock.now = T0 + 5000;
    expect(await h.store().complete(['k', 'k'])).toEqual({ failed: [] });
    expect(h.fake.items.get('k')).toEqual({
      pk: { S: 'k' }, status: { S: 'COMPLETED' }, expiresAt: { N: String(Math.floor((T0 + 5000) / 1000) + TTL) }, owner: { S: 'owner-a' }, payloadHash: { S: 'h' },
    });
  });

  test('complete reports the keys of a chunk that stayed throttled', async () => {
    const h = harness();
    h.fake.before = (_op, batch) => { if (batch.includes('evt-00000')) throw serviceError('ThrottlingException'); };
    const all = keys(150).map((k) => k.key);
    const { failed } = await h.store().complete(all);
    expect(failed.sort()).toEqual(all.slice(0, 100));
    expect(h.fake.items.size).toBe(50);
  });

  test('release deletes only this owner’s IN_PROGRESS claims: others’ claims and completed keys are skipped, not failed', async () => {
    const h = harness();
    await h.store('owner-a').claim([{ key: 'mine-1' }, { key: 'mine-2' }, { key: 'done' }], { inProgressExpiryMs: HOLD });
    await h.store('owner-a').complete(['done']);
    await h.store('owner-b').claim([{ key: 'theirs' }], { inProgressExpiryMs: HOLD });
    h.fake.sent.length = 0;
    expect(await h.store('owner-a').release(['mine-1', 'theirs', 'done', 'absent', 'mine-2'])).toEqual({ failed: [] });
    expect([...h.fake.items.keys()].sort()).toEqual(['done', 'theirs']);
    // One cancelled transaction names the keys that are not ours; the resend deletes the rest.
    expect(h.fake.sent.map((s) => s.keys)).toEqual([['mine-1', 'theirs', 'done', 'absent', 'mine-2'], ['mine-1', 'mine-2']]);
    expect(await h.store('owner-b').claim([{ key: 'mine-1' }], { inProgressExpiryMs: HOLD })).toEqual(['claimed']);
  });

  test('release reports keys it could not attempt, and invalid keys', async () => {
    const h = harness();
    h.fake.before = () => { throw serviceError('RequestLimitExceeded'); };
    expect(await h.store('o', { attempts: 2 }).release(['a', '', 'b'])).toEqual({ failed: ['', 'a', 'b'] });
  });
});
