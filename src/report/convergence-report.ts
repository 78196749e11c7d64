import { z } from 'zod';
import type { TrialResult, TrialsSummary } from '../measure/convergence.js';
import type { Summary } from '../measure/stats.js';
import { trialsNote } from './captions.js';
import type { BarSeries, ChartSpec } from './charts.js';
import { writeReportFiles, type ReportImage } from './html.js';
import { defineResultKind, idDescribe, int, rangeOf, RunReportSchema, summary, type Metric } from './result-kind.js';
import type { RunReport } from './run-report.js';
import { InputError } from '../util/errors.js';
import { table } from '../util/table.js';

/** The BGP timers a convergence run is measured under (scenarios/bench-convergence.ts TIMER_SETTINGS). */
export type TimerSetting = 'default' | 'tuned' | 'bfd';
/** The events a convergence run measures (scenarios/bench-convergence.ts EVENTS). */
export type EventId = 'workload-existing-block' | 'workload-new-block' | 'host-join' | 'host-crash' | 'rr-fail' | 'link-flap' | 'agent-restart' | 'bird-restart' | 'etcd-restart';

export interface ConvergenceParameters {
  /** Trials per event and timer setting (a host crash under BIRD's default timers: one). */
  trials: number;
  events: EventId[];
  settings: TimerSetting[];
  /** The probe stream: packets per second, and the most seconds it waits for traffic to flow again. */
  streamRatePps: number;
  streamCapS: number;
}

export type ConvergenceCell = { event: EventId; setting: TimerSetting; trials: TrialResult[] } & TrialsSummary;

export interface ConvergenceData {
  timerResolution: string;
  settings: { id: TimerSetting; describe: string }[];
  events: { id: EventId; describe: string }[];
  measurements: ConvergenceCell[];
}

/** What `bench convergence` writes as results.json (docs/results-schema.md). */
export type ConvergenceResults = RunReport<'bench-convergence', ConvergenceParameters, ConvergenceData>;

const stream = z.object({
  sent: int,
  received: int,
  lost: int,
  lossDerivedMs: z.number(),
  longestGapMs: z.number(),
  duplicates: int,
  recovered: z.boolean(),
});

export const ConvergenceResultsSchema = RunReportSchema.extend({
  kind: z.literal('bench-convergence'),
  parameters: z.object({
    trials: z.number().int().positive(),
    events: z.array(z.string()),
    settings: z.array(z.string()),
    streamRatePps: z.number().positive(),
    streamCapS: z.number().positive(),
  }),
  results: z.object({
    timerResolution: z.string(),
    settings: z.array(idDescribe),
    events: z.array(idDescribe),
    measurements: z.array(
      z.object({
        event: z.string(),
        setting: z.string(),
        trials: z.array(z.object({ controlPlaneMs: z.number().optional(), stream: stream.optional(), note: z.string().optional() })),
        controlPlaneMs: summary.optional(),
        lossMs: summary.optional(),
        longestGapMs: summary.optional(),
        notRecovered: int.optional(),
      }),
    ),
  }),
});

// Compile-time: what the benchmark writes fits what the schema accepts (tsc fails otherwise).
type Fits<T extends U, U> = T;
export type ConvergenceFitsSchema = Fits<ConvergenceResults, z.input<typeof ConvergenceResultsSchema>>;

/** Pure: median control-plane time and loss per event × timer setting, and trials whose stream did not recover. */
export function convergenceMetrics(measurements: ConvergenceData['measurements']): Metric[] {
  return measurements.flatMap((m) => {
    const id = `${m.event} ${m.setting}`;
    const hasStream = m.trials.some((t) => t.stream);
    return [
      ...(m.controlPlaneMs ? [{ metric: `${id} control plane`, unit: 'ms', value: m.controlPlaneMs.median, ...rangeOf(m.controlPlaneMs), higherIsBetter: false }] : []),
      ...(m.lossMs ? [{ metric: `${id} loss`, unit: 'ms', value: m.lossMs.median, ...rangeOf(m.lossMs), higherIsBetter: false }] : []),
      ...(hasStream ? [{ metric: `${id} not recovered`, unit: 'trials', value: m.notRecovered ?? 0, range: { min: m.notRecovered ?? 0, max: m.notRecovered ?? 0 }, higherIsBetter: false }] : []),
    ];
  });
}

/** `bench-convergence` in the registry (src/report/kinds.ts); files from before the envelope said `"kind": "convergence"`. */
export const convergenceKind = defineResultKind({
  id: 'bench-convergence',
  schema: ConvergenceResultsSchema,
  metrics: (d: ConvergenceData) => convergenceMetrics(d.measurements),
  legacy: {
    kind: 'convergence',
    metrics: (f, which) => {
      if (!Array.isArray(f.results)) throw new InputError(`${which}: not a convergence results file (no "results" list)`);
      return convergenceMetrics((f.results as ConvergenceCell[]).map((m) => ({ ...m, trials: m.trials ?? [] })));
    },
  },
});

const ms = (v: number) => v.toFixed(1);
const medianRange = (s?: Summary) => (s ? `${ms(s.median)} (${ms(s.min)}–${ms(s.max)})` : '-');

/** Pure: the loss cell — the figure over the recovered trials, and how many were not. */
export function lossCell(c: ConvergenceCell, capS: number): string {
  const k = c.notRecovered ?? 0;
  if (!k) return medianRange(c.lossMs);
  const nr = `not recovered within ${capS} s`;
  return c.lossMs ? `${medianRange(c.lossMs)}; ${k}/${c.trials.length} ${nr}` : `${k}/${c.trials.length} ${nr}`;
}

/** Pure: the report as Markdown: settings, events, the table, and every trial that has a note. */
export function convergenceMarkdown(r: ConvergenceResults): string {
  const { results: d, parameters: p } = r;
  const notes = d.measurements.flatMap((m) => m.trials.flatMap((t, i) => (t.note ? [`- ${m.setting} · ${m.event} · trial ${i + 1}: ${t.note}`] : [])));
  return [
    `# Convergence (${r.runId})`,
    '',
    `${p.trials} trials per event and setting; probe stream ${p.streamRatePps} pkt/s, kept up until it has flowed again for 1 s after the event (at most ${p.streamCapS} s); timer resolution: ${d.timerResolution}; labs on the ${r.topology.backend ?? 'netns'} backend; ${r.machine.cpus} CPUs, kernel ${r.machine.kernel}, BIRD ${r.versions.bird}.`,
    '',
    ...d.settings.map((s) => `- **${s.id}**: ${s.describe}`),
    '',
    ...d.events.map((e) => `- \`${e.id}\`: ${e.describe}`),
    '',
    '```',
    table(
      ['event', 'timers', 'control plane ms, median (min–max)', 'loss ms (RFC 6412)', 'longest gap ms', 'trials'],
      d.measurements.map((x) => [x.event, x.setting, medianRange(x.controlPlaneMs), lossCell(x, p.streamCapS), medianRange(x.longestGapMs), x.trials.length]),
    ),
    '```',
    '',
    ...(notes.length ? ['Notes:', '', ...notes, ''] : []),
  ].join('\n');
}

/**
 * Pure: one chart's bars: a group per event that has the figure in some setting, a bar per
 * setting (median, whiskers min–max) and, where a trial set has no figure, a note saying why.
 */
export function convergenceSeries(d: ConvergenceData, figure: 'controlPlaneMs' | 'lossMs', capS: number): { labels: string[]; series: BarSeries[] } {
  const has = (m: ConvergenceCell) => (figure === 'lossMs' ? m.lossMs !== undefined || !!m.notRecovered : m.controlPlaneMs !== undefined);
  const labels = d.events.map((e) => e.id).filter((e) => d.measurements.some((m) => m.event === e && has(m)));
  const series = d.settings.map((s) => {
    const cells = labels.map((e) => d.measurements.find((m) => m.event === e && m.setting === s.id));
    const note = (c?: ConvergenceCell) => {
      if (!c) return undefined;
      if (figure === 'lossMs' && c.notRecovered) return `${c.notRecovered}/${c.trials.length} not recovered (${capS} s)`;
      return c[figure] ? undefined : 'no figure';
    };
    return {
      label: s.id,
      values: cells.map((c) => c?.[figure]?.median ?? NaN),
      min: cells.map((c) => c?.[figure]?.min ?? NaN),
      max: cells.map((c) => c?.[figure]?.max ?? NaN),
      notes: cells.map(note),
    };
  });
  return { labels, series };
}

/** Whether figures span enough decades that a linear axis would flatten the small ones. */
const spansDecades = (series: BarSeries[]) => {
  const v = series.flatMap((s) => s.values).filter((x) => Number.isFinite(x) && x > 0);
  return v.length > 1 && Math.max(...v) / Math.min(...v) > 50;
};

/** Pure: the trial counts behind one chart's bars (a Summary's `n`), for its note. */
const barTrials = (d: ConvergenceData, figure: 'controlPlaneMs' | 'lossMs', labels: string[]) => d.measurements.filter((m) => labels.includes(m.event)).map((m) => m[figure]?.n);

/**
 * Pure: the charts of a convergence run, control-plane.png and loss.png (per event × timer
 * setting, the figures written on the bars, as in the table); each says in its subtitle and
 * caption how many trials a bar is the median of and what the whiskers are. Loss bars are of the
 * trials whose stream recovered only: the others have no figure, their bar a note instead.
 */
export function convergenceCharts(res: ConvergenceResults): ChartSpec[] {
  const d = res.results;
  const capS = res.parameters.streamCapS;
  const charts: ChartSpec[] = [];
  const fmt = (v: number) => v.toFixed(1); // as in the table
  const cp = convergenceSeries(d, 'controlPlaneMs', capS);
  if (cp.labels.length) {
    const log = spansDecades(cp.series);
    const note = trialsNote(barTrials(d, 'controlPlaneMs', cp.labels));
    charts.push({
      name: 'control-plane.png',
      caption: `Control-plane convergence: from the event until the route is in (or out of) every other host's kernel; ${note}`,
      type: 'bar',
      chart: {
        title: `Control-plane convergence (${res.runId})`,
        subtitle: note,
        labels: cp.labels,
        series: cp.series,
        format: fmt,
        logScale: log,
        yLabel: `control-plane convergence (ms${log ? ', log scale' : ''})`,
        width: 1100,
        height: 560,
      },
    });
  }
  const loss = convergenceSeries(d, 'lossMs', capS);
  if (loss.labels.length) {
    const log = spansDecades(loss.series) && loss.series.every((s) => s.values.every((v) => !Number.isFinite(v) || v > 0));
    const note = trialsNote(barTrials(d, 'lossMs', loss.labels), 'that recovered');
    charts.push({
      name: 'loss.png',
      caption: `Data-plane loss (RFC 6412: lost packets × ${1000 / res.parameters.streamRatePps} ms) of a ${res.parameters.streamRatePps} pkt/s stream; ${note}`,
      type: 'bar',
      chart: {
        title: `Data-plane loss (${res.runId})`,
        subtitle: note,
        labels: loss.labels,
        series: loss.series,
        format: fmt,
        logScale: log,
        yLabel: `loss-derived convergence time (ms${log ? ', log scale' : ''})`,
        width: 1100,
        height: 560,
      },
    });
  }
  return charts;
}

/**
 * The report files of a convergence run in `dir`: the charts of `convergenceCharts`, report.md
 * and the self-contained report.html. Returns their paths.
 */
export async function writeConvergenceReport(res: ConvergenceResults, dir: string): Promise<string[]> {
  const { renderChart } = await import('./charts.js'); // chart.js and the canvas load only to draw
  const images: ReportImage[] = [];
  for (const c of convergenceCharts(res)) images.push({ name: c.name, caption: c.caption, png: await renderChart(c) });
  return writeReportFiles(dir, `Convergence (${res.runId})`, convergenceMarkdown(res), images);
}
