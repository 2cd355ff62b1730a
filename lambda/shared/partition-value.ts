/**
 * Turning payload values into S3 prefix segments.
 *
 * A partition value becomes part of an object key (`region=<value>/`) and an
 * Athena partition; a `/` would add a directory level, and characters outside
 * a conservative set break projection, Hive-style listing or URL handling.
 * Values are REJECTED rather than percent-encoded, so the S3 path always reads
 * the same as the column value and the construct's `enum` projection lists
 * (validated against the same set) keep matching.
 */

/** Safe set: ASCII letters, digits and `_ . : = + -`; 1 to 512 characters. */
export const PARTITION_VALUE_PATTERN = /^[A-Za-z0-9_.:=+-]{1,512}$/;
export const MAX_PARTITION_VALUE_LENGTH = 512;

/**
 * The partition string for a scalar payload value, or `undefined` when the
 * value is not a string/number/boolean or its text falls outside the safe set.
 * Numbers use JavaScript's shortest decimal form (`1.5`, `-3`; `1e+21` for huge ones).
 */
export function toPartitionValue(value: unknown): string | undefined {
  let text: string;
  switch (typeof value) {
    case 'string':
      text = value;
      break;
    case 'number':
      if (!Number.isFinite(value)) return undefined;
      text = String(value);
      break;
    case 'boolean':
      text = value ? 'true' : 'false';
      break;
    default:
      return undefined;
  }
  return PARTITION_VALUE_PATTERN.test(text) ? text : undefined;
}
