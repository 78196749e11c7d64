import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Summary } from '../measure/stats.js';
import { InputError, errorMessage } from '../util/errors.js';
import type { ConvergenceData } from './convergence-report.js';
import { validateRunReport } from './results-schema.js';
import { RESULTS_SCHEMA } from './run-report.js';
import { table } from '../util/table.js';
import type { ThroughputData } from './throughput-report.js';
import type { PolicyBenchData } from './policy-report.js';

export interface DiffRow {
  metric: string;
  unit: string;
  old: number;
  /** The old run's spread over its trials (absent for figures measured once, e.g. older RTTs). */
  oldMin?: number;
  oldMax?: number;
  new: number;
  /** (new − old) / old in %; positive is an increase whatever the metric. */
  changePct: number;
  /** Worse than the old median by more than the threshold. */
  beyondThreshold: boolean;
  /** The regression verdict: beyond the threshold and outside the old run's min–max (when it has one). */
  regression: boolean;
}

export interface DiffResult {
  kind: string;
  rows: DiffRow[];
  regressions: number;
  thresholdPct: number;
  /** Metrics found in only one of the two runs (not compared). */
  unmatched: string[];
}

interface Metric { metric: string; unit: string; value: number; range?: { min: number; max: number }; higherIsBetter: boolean }

const range = (s?: Summary) => (s && Number.isFinite(s.min) && Number.isFinite(s.max) ? { range: { min: s.min, max: s.max } } : {});

/** Median Gbit/s per path × mode with its trial range; RTT p50/p99 per path, with the trials' range when recorded. */
function throughputMetrics(d: ThroughputData): Metric[] {
  return [
    ...d.throughput.map((x) => ({ metric: `${x.path} ${x.mode} median`, unit: 'Gbit/s', value: x.gbps?.median, ...range(x.gbps), higherIsBetter: true })),
    ...d.latency.flatMap((l) => [
      { metric: `${l.path} RTT p50`, unit: 'ms', value: l.p50Ms, ...range(l.p50Trials), higherIsBetter: false },
      { metric: `${l.path} RTT p99`, unit: 'ms', value: l.p99Ms, ...range(l.p99Trials), higherIsBetter: false },
    ]),
  ];
}

/** Median control-plane time and loss per event × timer setting, and trials whose stream did not recover. */
function convergenceMetrics(d: ConvergenceData): Metric[] {
  return d.measurements.flatMap((m) => {
    const id = `${m.event} ${m.setting}`;
    const hasStream = m.trials.some((t) => t.stream);
    return [
      ...(m.controlPlaneMs ? [{ metric: `${id} control plane`, unit: 'ms', value: m.controlPlaneMs.median, ...range(m.controlPlaneMs), higherIsBetter: false }] : []),
      ...(m.lossMs ? [{ metric: `${id} loss`, unit: 'ms', value: m.lossMs.median, ...range(m.lossMs), higherIsBetter: false }] : []),
      ...(hasStream ? [{ metric: `${id} not recovered`, unit: 'trials', value: m.notRecovered ?? 0, range: { min: m.notRecovered ?? 0, max: m.notRecovered ?? 0 }, higherIsBetter: false }] : []),
    ];
  });
}

/** Per dataplane × variant × size: apply → enforced and throughput, each with its trial range. */
function policyMetrics(d: PolicyBenchData): Metric[] {
  return d.rows.flatMap((x) => {
    const id = `${x.dataplane} ${x.variant}${x.variant === 'none' ? '' : ` ${x.size}`}`;
    return [
      ...(x.enforceMs ? [{ metric: `${id} apply → enforced`, unit: 'ms', value: x.enforceMs.median, ...range(x.enforceMs), higherIsBetter: false }] : []),
      { metric: `${id} throughput`, unit: 'Gbit/s', value: x.gbps.median, ...range(x.gbps), higherIsBetter: true },
    ];
  });
}

type Legacy = { kind: 'throughput'; results: ThroughputData['throughput']; latency: ThroughputData['latency'] }
  | { kind: 'convergence'; results: ConvergenceData['measurements'] };

/**
 * The kind and comparable figures of a results file: the common envelope (validated against its
 * schema), or the shapes written before it ("throughput", "convergence" at the top level).
 */
function figures(r: unknown, which: string): { kind: string; metrics: Metric[] } {
  const o = r as { schema?: unknown; kind?: unknown };
  let out: { kind: string; metrics: Metric[] };
  if (o?.schema === RESULTS_SCHEMA) {
    const v = validateRunReport(r);
    if (!v.ok) throw new InputError(`${which}: not a valid ${RESULTS_SCHEMA} file: ${v.issues.slice(0, 3).join('; ')}`);
    const kind = v.report.kind;
    if (kind === 'bench-throughput') out = { kind, metrics: throughputMetrics(v.report.results as ThroughputData) };
    else if (kind === 'bench-convergence') out = { kind, metrics: convergenceMetrics(v.report.results as ConvergenceData) };
    else if (kind === 'bench-policy') out = { kind, metrics: policyMetrics(v.report.results as PolicyBenchData) };
    else out = { kind, metrics: [] };
  } else {
    const l = r as Legacy;
    if (l?.kind === 'throughput') {
      if (!Array.isArray(l.results) || !Array.isArray(l.latency)) throw new InputError(`${which}: not a throughput results file (no "results"/"latency" lists)`);
      out = { kind: 'bench-throughput', metrics: throughputMetrics({ paths: [], throughput: l.results, latency: l.latency, ratios: {} }) };
    } else if (l?.kind === 'convergence') {
      if (!Array.isArray(l.results)) throw new InputError(`${which}: not a convergence results file (no "results" list)`);
      out = { kind: 'bench-convergence', metrics: convergenceMetrics({ timerResolution: '', settings: [], events: [], measurements: l.results.map((m) => ({ ...m, trials: m.trials ?? [] })) }) };
    } else {
      out = { kind: String(o?.kind), metrics: [] };
    }
  }
  return { kind: out.kind, metrics: out.metrics.filter((m) => typeof m.value === 'number' && Number.isFinite(m.value)) };
}

const COMPARABLE = ['bench-throughput', 'bench-convergence', 'bench-policy'];

/**
 * Pure: compares two benchmark runs metric by metric. A metric regressed when the new median is
 * worse than the old one by more than thresholdPct (throughput lower; RTT, convergence time or
 * loss higher) AND outside the old run's min–max over its trials: a new median the old run's own
 * trials also produced is noise, not a regression. A figure without a trial range (an RTT of an
 * older run) is judged by the threshold alone.
 */
export function diffResults(oldRes: { kind?: unknown }, newRes: { kind?: unknown }, thresholdPct: number): DiffResult {
  if (!Number.isFinite(thresholdPct) || thresholdPct < 0) throw new InputError(`threshold ${thresholdPct}: a percentage ≥ 0`);
  const [a, b] = [figures(oldRes, 'old'), figures(newRes, 'new')];
  if (a.kind !== b.kind) throw new InputError(`cannot compare a "${a.kind}" run with a "${b.kind}" run`);
  if (!COMPARABLE.includes(a.kind)) throw new InputError(`cannot compare "${a.kind}" runs (only ${COMPARABLE.join(', ')} results)`);
  const after = new Map(b.metrics.map((m) => [m.metric, m]));
  const rows: DiffRow[] = [];
  const unmatched: string[] = [];
  for (const o of a.metrics) {
    const n = after.get(o.metric);
    after.delete(o.metric);
    if (!n) {
      unmatched.push(`${o.metric} (old only)`);
      continue;
    }
    const changePct = o.value === n.value ? 0 : o.value === 0 ? Math.sign(n.value) * Infinity : (100 * (n.value - o.value)) / Math.abs(o.value);
    const beyondThreshold = (o.higherIsBetter ? -changePct : changePct) > thresholdPct;
    const outside = !o.range || (o.higherIsBetter ? n.value < o.range.min : n.value > o.range.max);
    rows.push({
      metric: o.metric, unit: o.unit, old: o.value, ...(o.range ? { oldMin: o.range.min, oldMax: o.range.max } : {}), new: n.value,
      changePct, beyondThreshold, regression: beyondThreshold && outside,
    });
  }
  unmatched.push(...[...after.keys()].map((k) => `${k} (new only)`));
  if (rows.length === 0) throw new InputError('the two runs have no metric in common');
  return { kind: a.kind, rows, regressions: rows.filter((r) => r.regression).length, thresholdPct, unmatched };
}

/** The comparison as a table, a line per metric, then a one-line verdict that states the rule. */
export function formatDiff(d: DiffResult): string {
  const num = (v: number, unit: string) => (unit === 'trials' ? String(v) : v.toFixed(unit === 'ms' ? 3 : 2));
  const pct = (v: number) => (Number.isFinite(v) ? `${v > 0 ? '+' : ''}${v.toFixed(1)} %` : v > 0 ? '+inf' : '-inf');
  const verdict = (r: DiffRow) => (r.regression ? 'REGRESSION' : r.beyondThreshold ? 'within old min–max (noise)' : '');
  const lines = [
    table(['metric', 'unit', 'old', 'old min–max', 'new', 'change', ''], d.rows.map((r) => [
      r.metric, r.unit, num(r.old, r.unit), r.oldMin !== undefined ? `${num(r.oldMin, r.unit)}–${num(r.oldMax!, r.unit)}` : '-', num(r.new, r.unit), pct(r.changePct), verdict(r),
    ])),
    '',
  ];
  if (d.unmatched.length) lines.push(`not compared: ${d.unmatched.join(', ')}`);
  lines.push(`a regression: the new median worse than the old by more than ${d.thresholdPct} % and outside the old run's min–max over its trials`);
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
    throw new InputError(`${file}: cannot read: ${errorMessage(err)}`, { cause: err });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new InputError(`${file}: not JSON: ${errorMessage(err)}`, { cause: err });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InputError(`${file}: not a results file (expected a JSON object)`);
  return value as { kind?: unknown };
}
