/**
 * Bounded-concurrency map. Handlers fan a batch out into many AWS calls
 * (100 keys per DynamoDB transaction, 500 records per PutRecords); running
 * them all at once would turn one large batch into a throttling burst.
 */

/**
 * Calls `fn` for every item with at most `limit` calls in flight, and resolves
 * with the results in input order.
 *
 * If a call rejects, no further calls start; the returned promise rejects with
 * the first error once the calls already in flight have settled (so no work is
 * left running behind the caller's back).
 */
export async function mapWithConcurrency<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  if (!Number.isInteger(limit) || limit < 1) {
    throw new RangeError(`mapWithConcurrency: limit must be a positive integer, got ${limit}`);
  }
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;

  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const index = next++;
      try {
        results[index] = await fn(items[index], index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };

  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== undefined) throw failure.error;
  return results;
}
