/** Pure summary statistics for benchmark trials. */

export interface Summary {
  n: number;
  median: number;
  min: number;
  max: number;
  p99?: number;
}

/** The q-quantile (0..1) by linear interpolation between closest ranks. */
export function quantile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

export function summarize(values: number[]): Summary {
  return { n: values.length, median: quantile(values, 0.5), min: Math.min(...values), max: Math.max(...values) };
}
