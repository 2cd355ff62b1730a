/** Small numeric helpers shared by the benches. */

/** `x` rounded to `digits` decimals (1 by default: the BENCH lines' milliseconds). */
export const round = (x: number, digits = 1): number => Number(x.toFixed(digits));

/** The median of `xs` (the mean of the middle two for an even count). */
export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
