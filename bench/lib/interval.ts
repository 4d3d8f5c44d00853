/**
 * A 95% confidence interval for the mean of a few paired ratios (one per round), from
 * Student's t distribution. The bench uses it to say whether a run's rounds can tell its
 * ratio apart from the target at all: the machine's speed drifts within seconds, so single
 * rounds of one path spread widely.
 */

/** Two-sided 95% quantiles of Student's t, t(0.975, df), for df 1..30. */
const T_975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
  2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086,
  2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

export interface MeanInterval {
  mean: number;
  low: number;
  high: number;
  /** How many values it rests on. */
  n: number;
}

/** The mean of `xs` with its 95% interval; undefined for fewer than two values. */
export function meanInterval95(xs: readonly number[]): MeanInterval | undefined {
  const n = xs.length;
  if (n < 2) return undefined;
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const variance = xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1);
  const t = T_975[n - 2] ?? 1.96;
  const half = t * Math.sqrt(variance / n);
  return { mean, low: mean - half, high: mean + half, n };
}

/** Where `target` lies against the interval: below it, inside it, or above it. */
export function placeAgainst(interval: MeanInterval, target: number): 'below' | 'inside' | 'above' {
  return target < interval.low ? 'below' : target > interval.high ? 'above' : 'inside';
}
