import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ThroughputResults } from '../scenarios/bench-throughput.js';
import { InputError, errorMessage } from '../util/errors.js';
import { table } from './table.js';

export interface DiffRow {
  metric: string;
  unit: string;
  old: number;
  new: number;
  /** (new − old) / old in %; positive is an increase whatever the metric. */
  changePct: number;
  /** Worse than the threshold: throughput dropped, or RTT rose, by more than thresholdPct. */
  regression: boolean;
}

export interface DiffResult {
  rows: DiffRow[];
  regressions: number;
  thresholdPct: number;
  /** Metrics found in only one of the two runs (not compared). */
  unmatched: string[];
}

interface Metric { metric: string; unit: string; value: number; higherIsBetter: boolean }

/** The comparable figures of a run: median Gbit/s per path × mode, RTT p50/p99 per path. */
function metrics(r: ThroughputResults, which: string): Metric[] {
  if (!Array.isArray(r.results) || !Array.isArray(r.latency)) throw new InputError(`${which}: not a throughput results file (no "results"/"latency" lists)`);
  return [
    ...r.results.map((x) => ({ metric: `${x.path} ${x.mode} median`, unit: 'Gbit/s', value: x.gbps?.median, higherIsBetter: true })),
    ...r.latency.flatMap((l) => [
      { metric: `${l.path} RTT p50`, unit: 'ms', value: l.p50Ms, higherIsBetter: false },
      { metric: `${l.path} RTT p99`, unit: 'ms', value: l.p99Ms, higherIsBetter: false },
    ]),
  ].filter((m): m is Metric => typeof m.value === 'number' && Number.isFinite(m.value));
}

/**
 * Pure: compares two benchmark runs metric by metric. A throughput median lower by more than
 * thresholdPct, or an RTT higher by more than thresholdPct, is a regression.
 */
export function diffResults(oldRes: { kind?: unknown }, newRes: { kind?: unknown }, thresholdPct: number): DiffResult {
  if (!Number.isFinite(thresholdPct) || thresholdPct < 0) throw new InputError(`threshold ${thresholdPct}: a percentage ≥ 0`);
  if (oldRes?.kind !== newRes?.kind) throw new InputError(`cannot compare a "${String(oldRes?.kind)}" run with a "${String(newRes?.kind)}" run`);
  if (oldRes.kind !== 'throughput') throw new InputError(`cannot compare "${String(oldRes.kind)}" runs (only throughput results)`);
  const before = metrics(oldRes as ThroughputResults, 'old');
  const after = new Map(metrics(newRes as ThroughputResults, 'new').map((m) => [m.metric, m]));
  const rows: DiffRow[] = [];
  const unmatched: string[] = [];
  for (const o of before) {
    const n = after.get(o.metric);
    after.delete(o.metric);
    if (!n) {
      unmatched.push(`${o.metric} (old only)`);
      continue;
    }
    const changePct = o.value === n.value ? 0 : o.value === 0 ? Math.sign(n.value) * Infinity : (100 * (n.value - o.value)) / Math.abs(o.value);
    const worse = o.higherIsBetter ? -changePct : changePct;
    rows.push({ metric: o.metric, unit: o.unit, old: o.value, new: n.value, changePct, regression: worse > thresholdPct });
  }
  unmatched.push(...[...after.keys()].map((k) => `${k} (new only)`));
  if (rows.length === 0) throw new InputError('the two runs have no metric in common');
  return { rows, regressions: rows.filter((r) => r.regression).length, thresholdPct, unmatched };
}

/** The comparison as a table, a line per metric, then a one-line verdict. */
export function formatDiff(d: DiffResult): string {
  const num = (v: number, unit: string) => v.toFixed(unit === 'ms' ? 3 : 2);
  const pct = (v: number) => (Number.isFinite(v) ? `${v > 0 ? '+' : ''}${v.toFixed(1)} %` : v > 0 ? '+inf' : '-inf');
  const lines = [
    table(['metric', 'unit', 'old', 'new', 'change', ''], d.rows.map((r) => [r.metric, r.unit, num(r.old, r.unit), num(r.new, r.unit), pct(r.changePct), r.regression ? 'REGRESSION' : ''])),
    '',
  ];
  if (d.unmatched.length) lines.push(`not compared: ${d.unmatched.join(', ')}`);
  lines.push(d.regressions
    ? `${d.regressions} regression(s) beyond ${d.thresholdPct} % (of ${d.rows.length} metrics)`
    : `no regression beyond ${d.thresholdPct} % (${d.rows.length} metrics)`);
  return lines.join('\n');
}

/** Reads a results.json, given either the file or the run directory holding it. */
export function loadResults(arg: string): { kind?: unknown } {
  const file = existsSync(arg) && statSync(arg).isDirectory() ? join(arg, 'results.json') : arg;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new InputError(`${file}: cannot read: ${errorMessage(err)}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new InputError(`${file}: not JSON: ${errorMessage(err)}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InputError(`${file}: not a results file (expected a JSON object)`);
  return value as { kind?: unknown };
}
