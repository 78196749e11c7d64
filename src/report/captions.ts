/**
 * Words for charts and tables of aggregated trials, so a reader needs no code to read them. A
 * figure is the median of its trials and its whiskers their min and max (src/measure/stats.ts
 * `summarize`: no standard deviation, no confidence interval), so what a chart must say is how
 * many trials that is. `ns` are the trial counts of the bars (a Summary's `n`).
 */

const counts = (ns: readonly (number | undefined)[]) => ns.filter((x): x is number => x !== undefined && Number.isInteger(x) && x > 0);

/** Pure: how many trials the figures are of: `5 trials`, `1 trial` or, when they differ, `3–5 trials`. */
export function trialCount(ns: readonly (number | undefined)[]): string {
  const n = counts(ns);
  if (!n.length) return 'no trials';
  const [lo, hi] = [Math.min(...n), Math.max(...n)];
  return lo === hi ? `${hi} trial${hi === 1 ? '' : 's'}` : `${lo}–${hi} trials`;
}

/**
 * Pure: what a bar and its whiskers are, for a chart's subtitle and caption, e.g. `bar = median of
 * 5 trials, whiskers = min–max of those trials`. `which` qualifies the trials ("that recovered").
 */
export function trialsNote(ns: readonly (number | undefined)[], which = ''): string {
  const n = counts(ns);
  const q = which ? ` ${which}` : '';
  if (!n.length) return `no trials${q}`;
  const [lo, hi] = [Math.min(...n), Math.max(...n)];
  if (hi === 1) return `bar = 1 trial${q}, no whiskers`;
  const perBar = lo === hi ? '' : ' (per bar)';
  const single = lo === 1 ? '; a bar of 1 trial has none' : '';
  return `bar = median of ${trialCount(n)}${q}${perBar}, whiskers = min–max of those trials${single}`;
}
