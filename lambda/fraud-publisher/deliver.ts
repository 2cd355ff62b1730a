/**
 * One retry loop for every partially-failing send the publisher makes (SNS PublishBatch, EventBridge
 * PutEvents, Kinesis PutRecords, DynamoDB writes): send in calls, resend only the entries that
 * failed for a retryable reason, with full-jitter backoff, while attempts and the invocation's time
 * last. What is left fails, and its stream record is reported (never acknowledged unpublished).
 */
import { mapWithConcurrency } from '../shared/concurrency';
import { NON_RETRYABLE_ERRORS } from '../shared/put-records-packer';
import { backoffDelayMs, realSleep } from '../shared/retry';
import { errorName } from '../shared/unknown';

export interface DeliveryBudget {
  /** Sends per entry, the first included. */
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** Calls in flight at once. */
  readonly concurrency: number;
  /** Milliseconds left in the invocation (Lambda's getRemainingTimeInMillis). */
  readonly remainingMs: () => number;
  /**
   * No round of calls starts, and no backoff, unless this much time would be left: room for a call
   * to time out (index.ts bounds SDK calls) and for the handler to answer before Lambda's timeout,
   * which would fail the whole batch and redeliver all of it.
   */
  readonly reserveMs: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
}

/** An entry sent and not to be resent: done, or failed for good with an error code. */
export interface CallOutcome<T> {
  /** Entries to resend, with why they failed this time. */
  readonly retry: readonly { readonly entry: T; readonly code: string }[];
  /** Entries that failed for a reason a resend cannot fix. */
  readonly failed: readonly { readonly entry: T; readonly code: string }[];
}

export interface DeliveryResult<T> {
  /** Entries not delivered, with their last error code. */
  readonly failed: Map<T, string>;
  readonly calls: number;
}

/**
 * Whole-call errors that repeat on every call (wrong resource, no permission, a bad request):
 * Kinesis's list plus SNS's and EventBridge's own names.
 */
export const NON_RETRYABLE_CALL_ERRORS: ReadonlySet<string> = new Set([
  ...NON_RETRYABLE_ERRORS,
  'AuthorizationErrorException', 'NotFoundException', 'InvalidParameterException', 'InvalidParameterValueException',
  'InvalidSecurityException', 'BatchEntryIdsNotDistinctException', 'BatchRequestTooLongException', 'EmptyBatchRequestException',
  'InvalidBatchEntryIdException', 'TooManyEntriesInBatchRequestException', 'ConditionalCheckFailedException',
]);

export const isRetryableCallError = (error: unknown): boolean => !NON_RETRYABLE_CALL_ERRORS.has(errorName(error));

/**
 * Sends `entries` in the calls `pack` makes, resending what `send` reports as retryable. A call that
 * throws is resent whole when `isRetryableCallError` says so, else all its entries fail with the
 * error's name. Entries still failing after `maxAttempts` sends, or when the time left would not
 * cover another backoff, fail with their last code.
 */
export async function deliverAll<T>(
  entries: readonly T[],
  pack: (pending: readonly T[]) => T[][],
  send: (call: readonly T[]) => Promise<CallOutcome<T>>,
  budget: DeliveryBudget,
): Promise<DeliveryResult<T>> {
  const failed = new Map<T, string>();
  const sleep = budget.sleep ?? realSleep;
  let pending: { entry: T; code: string }[] = entries.map((entry) => ({ entry, code: '' }));
  let calls = 0;
  for (let attempt = 1; pending.length > 0; attempt++) {
    if (budget.remainingMs() < budget.reserveMs) {
      // Too late to start a round that could outlive the invocation: fail what is left, now.
      for (const p of pending) failed.set(p.entry, p.code || 'OutOfTime');
      break;
    }
    const batches = pack(pending.map((p) => p.entry));
    calls += batches.length;
    const outcomes = await mapWithConcurrency(batches, budget.concurrency, async (call): Promise<CallOutcome<T>> => {
      try {
        return await send(call);
      } catch (error) {
        const code = errorName(error);
        const all = call.map((entry) => ({ entry, code }));
        return isRetryableCallError(error) ? { retry: all, failed: [] } : { retry: [], failed: all };
      }
    });
    pending = [];
    for (const outcome of outcomes) {
      for (const f of outcome.failed) failed.set(f.entry, f.code);
      pending.push(...outcome.retry);
    }
    if (pending.length === 0) break;
    const delayMs = backoffDelayMs(attempt, { baseMs: budget.baseDelayMs, maxMs: budget.maxDelayMs, random: budget.random });
    if (attempt >= budget.maxAttempts || budget.remainingMs() - delayMs < budget.reserveMs) {
      for (const p of pending) failed.set(p.entry, p.code);
      break;
    }
    await sleep(delayMs);
  }
  return { failed, calls };
}
