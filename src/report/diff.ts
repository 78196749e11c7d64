import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { InputError, errorMessage } from '../util/errors.js';
import { legacyKind, RESULT_KIND_IDS, resultKind } from './kinds.js';
import { RESULTS_SCHEMA, type Metric } from './result-kind.js';
import { validateRunReport } from './results-schema.js';
import { table } from '../util/table.js';

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

type File = Record<string, unknown>;

/** The kind of a results file: its `kind`, or the registered kind an older file's top-level `kind` names. */
function kindOf(f: File, which: string): string {
  if (typeof f.kind !== 'string') throw new InputError(`${which}: not a results file (no "kind")`);
  return f.schema === RESULTS_SCHEMA ? f.kind : (legacyKind(f.kind)?.id ?? f.kind);
}

/**
 * The comparable figures of a results file of a registered kind: the common envelope (validated
 * against the kind's schema) or the shape written before it, read by the kind's own functions.
 */
function figures(f: File, which: string): Metric[] {
  let metrics: Metric[];
  if (f.schema === RESULTS_SCHEMA) {
    const v = validateRunReport(f);
    if (!v.ok) throw new InputError(`${which}: not a valid ${RESULTS_SCHEMA} file: ${v.issues.slice(0, 3).join('; ')}`);
    metrics = resultKind(v.report.kind)!.metrics(v.report.results as never);
  } else {
    const legacy = legacyKind(f.kind)?.legacy;
    if (!legacy) throw new InputError(`${which}: not a ${RESULTS_SCHEMA} file (its "schema" is ${JSON.stringify(f.schema)})`);
    metrics = legacy.metrics(f, which);
  }
  return metrics.filter((m) => typeof m.value === 'number' && Number.isFinite(m.value));
}

/**
 * Pure: compares two benchmark runs metric by metric. A metric regressed when the new median is
 * worse than the old one by more than thresholdPct (throughput lower; RTT, convergence time or
 * loss higher) AND outside the old run's min–max over its trials: a new median the old run's own
 * trials also produced is noise, not a regression. A figure without a trial range (an RTT of an
 * older run) is judged by the threshold alone.
 */
export function diffResults(oldRes: { kind?: unknown }, newRes: { kind?: unknown }, thresholdPct: number): DiffResult {
  if (!Number.isFinite(thresholdPct) || thresholdPct < 0) throw new InputError(`threshold ${thresholdPct}: a percentage ≥ 0`);
  const [oldFile, newFile] = [oldRes as File, newRes as File];
  const [kind, newKind] = [kindOf(oldFile, 'old'), kindOf(newFile, 'new')];
  if (newKind !== kind) throw new InputError(`cannot compare a ${kind} run with a ${newKind} run`);
  if (!resultKind(kind)) throw new InputError(`cannot compare ${kind} runs (only ${RESULT_KIND_IDS.join(', ')} results)`);
  const [before, after] = [figures(oldFile, 'old'), new Map(figures(newFile, 'new').map((m) => [m.metric, m]))];
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
    const beyondThreshold = (o.higherIsBetter ? -changePct : changePct) > thresholdPct;
    const outside = !o.range || (o.higherIsBetter ? n.value < o.range.min : n.value > o.range.max);
    rows.push({
      metric: o.metric,
      unit: o.unit,
      old: o.value,
      ...(o.range ? { oldMin: o.range.min, oldMax: o.range.max } : {}),
      new: n.value,
      changePct,
      beyondThreshold,
      regression: beyondThreshold && outside,
    });
  }
  unmatched.push(...[...after.keys()].map((k) => `${k} (new only)`));
  if (rows.length === 0) throw new InputError('the two runs have no metric in common');
  return { kind, rows, regressions: rows.filter((r) => r.regression).length, thresholdPct, unmatched };
}

/** The comparison as a table, a line per metric, then a one-line verdict that states the rule. */
export function formatDiff(d: DiffResult): string {
  const num = (v: number, unit: string) => (unit === 'trials' ? String(v) : v.toFixed(unit === 'ms' ? 3 : 2));
  const pct = (v: number) => (Number.isFinite(v) ? `${v > 0 ? '+' : ''}${v.toFixed(1)} %` : v > 0 ? '+inf' : '-inf');
  const verdict = (r: DiffRow) => (r.regression ? 'REGRESSION' : r.beyondThreshold ? 'within old min–max (noise)' : '');
  const lines = [
    table(
      ['metric', 'unit', 'old', 'old min–max', 'new', 'change', ''],
      d.rows.map((r) => [r.metric, r.unit, num(r.old, r.unit), r.oldMin !== undefined ? `${num(r.oldMin, r.unit)}–${num(r.oldMax!, r.unit)}` : '-', num(r.new, r.unit), pct(r.changePct), verdict(r)]),
    ),
    '',
  ];
  if (d.unmatched.length) lines.push(`not compared: ${d.unmatched.join(', ')}`);
  lines.push(`a regression: the new median worse than the old by more than ${d.thresholdPct} % and outside the old run's min–max over its trials`);
  lines.push(d.regressions ? `${d.regressions} regression(s) beyond ${d.thresholdPct} % (of ${d.rows.length} metrics)` : `no regression beyond ${d.thresholdPct} % (${d.rows.length} metrics)`);
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
