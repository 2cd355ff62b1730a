/**
 * Reading values whose type is unknown: parsed JSON, events, and whatever a
 * rejected promise holds (SDK errors, plain objects, strings).
 */

/** A non-null, non-array object. */
export const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/** An error's `name` (SDK errors carry the service's error code there), or 'Error'. */
export function errorName(error: unknown): string {
  const name = (error as { name?: unknown } | null | undefined)?.name;
  return typeof name === 'string' && name !== '' ? name : 'Error';
}

/** An error's `message`, or the value itself as a string. */
export function errorMessage(error: unknown): string {
  const message = (error as { message?: unknown } | null | undefined)?.message;
  return typeof message === 'string' ? message : String(error);
}
