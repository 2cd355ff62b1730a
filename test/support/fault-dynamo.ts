/**
 * A fault-injecting DynamoDB sender for the fraud engine's tests, in front of any sender (the
 * in-memory store or dynalite):
 * - throttling: a request fails with ProvisionedThroughputExceededException before reaching the store;
 * - a conditional conflict: before a transaction, another writer bumps the version of one window item
 *   it writes (content unchanged), so the engine's condition fails and it must read again;
 * - a timeout mid-batch: after `dieAfterCommits` more committed transactions the invocation dies
 *   (InvocationDiedError, which no engine code catches): the writes before it stay committed.
 * Faults are decided by an injected random source, so a seed replays them.
 */
import { TransactWriteItemsCommand } from '@aws-sdk/client-dynamodb';
import type { Item } from '../../lambda/shared/fraud/item-codec';
import type { DynamoSender } from '../../lambda/shared/fraud/state-store';
import type { MemoryDynamo } from './memory-dynamo';

export class InvocationDiedError extends Error {
  override readonly name = 'InvocationDiedError';
}

export interface FaultOptions {
  /** Probability that a request is throttled. @default 0 */
  readonly throttle?: number;
  /** Probability that a transaction meets a concurrent version bump (needs `store`). @default 0 */
  readonly conflict?: number;
  /** The in-memory store whose items a conflict bumps. */
  readonly store?: MemoryDynamo;
  readonly random: () => number;
}

export class FaultyDynamo implements DynamoSender {
  throttled = 0;
  conflicts = 0;
  /** Transactions that will meet a version bump whatever the random source says. */
  conflictsPending = 0;
  /** Commits left before the invocation dies; undefined = never. */
  dieAfterCommits?: number;

  constructor(private readonly inner: DynamoSender, private readonly o: FaultOptions) {}

  async send(command: object): Promise<unknown> {
    if (this.o.random() < (this.o.throttle ?? 0)) {
      this.throttled++;
      throw Object.assign(new Error('Rate of requests exceeds the allowed throughput'), { name: 'ProvisionedThroughputExceededException' });
    }
    const isTx = command instanceof TransactWriteItemsCommand;
    if (isTx && this.o.store && (this.conflictsPending > 0 || this.o.random() < (this.o.conflict ?? 0))) {
      this.conflictsPending = Math.max(0, this.conflictsPending - 1);
      this.bump(command);
    }
    const out = await this.inner.send(command);
    if (isTx && this.dieAfterCommits !== undefined) {
      if (this.dieAfterCommits <= 0) throw new InvocationDiedError('the invocation timed out after a committed transaction');
      this.dieAfterCommits--;
    }
    return out;
  }

  /** Another writer wrote one of the transaction's versioned window items again (same content, next version). */
  private bump(command: TransactWriteItemsCommand): void {
    const store = this.o.store as MemoryDynamo;
    for (const a of command.input.TransactItems ?? []) {
      const pk = a.Put?.Item?.pk.S as string;
      const old = store.items.get(pk);
      if (a.Put?.ConditionExpression === 'v = :v' && old?.kind?.S === 'window') {
        store.items.set(pk, { ...old, v: { N: String(Number(old.v.N) + 1) } } as Item);
        this.conflicts++;
        return;
      }
    }
  }
}
