import { z } from 'zod';
import type { IperfResult } from '../measure/iperf.js';
import type { Summary } from '../measure/stats.js';
import { writeReportFiles, type ReportImage } from './html.js';
import { defineResultKind, idDescribe, int, rangeOf, RunReportSchema, summary, type Metric } from './result-kind.js';
import type { RunReport } from './run-report.js';
import { InputError } from '../util/errors.js';
import { table } from '../util/table.js';

export type Mode = 'tcp-1' | 'tcp-4' | 'udp';

export interface ThroughputParameters {
  /** Trials per path and mode, alternating between paths. */
  trials: number;
  /** Seconds per iperf3 run. */
  durationS: number;
  modes: Mode[];
  /** Pings per path in each trial, and their interval. */
  pingsPerTrial: number;
  pingIntervalMs: number;
}

export interface ThroughputCell {
  path: string;
  mode: Mode;
  trials: IperfResult[];
  /** Receiver goodput per trial, Gbit/s. */
  gbps: Summary;
  /** Median TCP retransmits per trial (absent for UDP). */
  retransmits?: number;
  /** Median CPU of sender and receiver, percent. */
  cpuSender: number;
  cpuReceiver: number;
}

export interface LatencyCell {
  path: string;
  /** All trials' pings together: their count and percentiles (ms), as the CDF chart draws them. */
  samples: number;
  p50Ms: number;
  p99Ms: number;
  /** Each trial's p50 and p99 (ms), summarized: the spread `report diff` judges noise by. */
  p50Trials?: Summary;
  p99Trials?: Summary;
  samplesMs?: number[];
}

export interface ThroughputData {
  paths: { id: string; describe: string }[];
  throughput: ThroughputCell[];
  latency: LatencyCell[];
  /** Median TCP (1 stream) throughput of each path over the host↔host baseline, and L3 over VXLAN. */
  ratios: Record<string, number>;
}

/** What `bench throughput` writes as results.json (docs/results-schema.md). */
export type ThroughputResults = RunReport<'bench-throughput', ThroughputParameters, ThroughputData>;

const iperf = z.object({
  bitsPerSecond: z.number(),
  retransmits: z.number().optional(),
  lostPercent: z.number().optional(),
  cpuSender: z.number(),
  cpuReceiver: z.number(),
});

export const ThroughputResultsSchema = RunReportSchema.extend({
  kind: z.literal('bench-throughput'),
  parameters: z.object({
    trials: z.number().int().positive(),
    durationS: z.number().positive(),
    modes: z.array(z.enum(['tcp-1', 'tcp-4', 'udp'])),
    pingsPerTrial: int,
    pingIntervalMs: z.number().positive(),
  }),
  results: z.object({
    paths: z.array(idDescribe),
    throughput: z.array(
      z.object({
        path: z.string(),
        mode: z.enum(['tcp-1', 'tcp-4', 'udp']),
        trials: z.array(iperf),
        gbps: summary,
        retransmits: z.number().optional(),
        cpuSender: z.number(),
        cpuReceiver: z.number(),
      }),
    ),
    latency: z.array(
      z.object({
        path: z.string(),
        samples: int,
        p50Ms: z.number(),
        p99Ms: z.number(),
        p50Trials: summary.optional(),
        p99Trials: summary.optional(),
        samplesMs: z.array(z.number()).optional(),
      }),
    ),
    ratios: z.record(z.string(), z.number()),
  }),
});

// Compile-time: what the benchmark writes fits what the schema accepts (tsc fails otherwise).
type Fits<T extends U, U> = T;
export type ThroughputFitsSchema = Fits<ThroughputResults, z.input<typeof ThroughputResultsSchema>>;

/** Pure: median Gbit/s per path × mode with its trial range; RTT p50/p99 per path, with the trials' range when recorded. */
export function throughputMetrics(d: Pick<ThroughputData, 'throughput' | 'latency'>): Metric[] {
  return [
    ...d.throughput.map((x) => ({ metric: `${x.path} ${x.mode} median`, unit: 'Gbit/s', value: x.gbps?.median, ...rangeOf(x.gbps), higherIsBetter: true })),
    ...d.latency.flatMap((l) => [
      { metric: `${l.path} RTT p50`, unit: 'ms', value: l.p50Ms, ...rangeOf(l.p50Trials), higherIsBetter: false },
      { metric: `${l.path} RTT p99`, unit: 'ms', value: l.p99Ms, ...rangeOf(l.p99Trials), higherIsBetter: false },
    ]),
  ];
}

/** `bench-throughput` in the registry (src/report/kinds.ts); files from before the envelope said `"kind": "throughput"`. */
export const throughputKind = defineResultKind({
  id: 'bench-throughput',
  schema: ThroughputResultsSchema,
  metrics: (d: ThroughputData) => throughputMetrics(d),
  legacy: {
    kind: 'throughput',
    metrics: (f, which) => {
      if (!Array.isArray(f.results) || !Array.isArray(f.latency)) throw new InputError(`${which}: not a throughput results file (no "results"/"latency" lists)`);
      return throughputMetrics({ throughput: f.results as ThroughputCell[], latency: f.latency as LatencyCell[] });
    },
  },
});

/** Pure: the report as Markdown — the table of medians with min/max, ratios, latency. */
export function throughputMarkdown(r: ThroughputResults): string {
  const g = (x: number) => x.toFixed(2);
  const ms = (x: number) => x.toFixed(3);
  const range = (s?: Summary) => (s ? `${ms(s.min)}–${ms(s.max)}` : '-');
  const { results: d, parameters: p } = r;
  const rows = d.throughput.map((x) => [x.path, x.mode, g(x.gbps.median), `${g(x.gbps.min)}–${g(x.gbps.max)}`, x.retransmits ?? '-', `${Math.round(x.cpuSender)}/${Math.round(x.cpuReceiver)}`]);
  return [
    `# Throughput (${r.runId})`,
    '',
    `${p.trials} trials of ${p.durationS} s per path and mode, alternating; ${r.machine.cpus} CPUs (${r.machine.cpuModel}), kernel ${r.machine.kernel}; BIRD ${r.versions.bird}, iperf3 ${r.versions.iperf3}.`,
    '',
    ...d.paths.map((x) => `- **${x.id}**: ${x.describe}`),
    '',
    '```',
    table(['path', 'mode', 'Gbit/s (median)', 'min–max', 'retransmits', 'CPU % snd/rcv'], rows),
    '```',
    '',
    'Ratios of median TCP (1 stream) throughput:',
    '',
    ...Object.entries(d.ratios).map(([k, v]) => `- ${k}: ${(100 * v).toFixed(1)} %`),
    '',
    `Round-trip time: ${p.pingsPerTrial} pings every ${p.pingIntervalMs} ms per path and trial; p50/p99 of all of them, and the range of the trials' own p50/p99.`,
    '',
    '```',
    table(
      ['path', 'RTT p50 (ms)', 'p50 of trials', 'RTT p99 (ms)', 'p99 of trials', 'samples'],
      d.latency.map((l) => [l.path, ms(l.p50Ms), range(l.p50Trials), ms(l.p99Ms), range(l.p99Trials), l.samples]),
    ),
    '```',
    '',
  ].join('\n');
}

/**
 * The report files of a throughput run in `dir`: throughput.png (median Gbit/s per path, one bar
 * per mode, min–max whiskers), rtt-cdf.png (when the RTT samples were kept), report.md (the table
 * report with the charts linked) and report.html (the same, self-contained). Returns their paths.
 */
export async function writeThroughputReport(res: ThroughputResults, dir: string): Promise<string[]> {
  const { renderBarChart, renderCdfChart } = await import('./charts.js'); // chart.js and the canvas load only to draw
  const images: ReportImage[] = [];
  const d = res.results;
  const pathIds = d.paths.map((p) => p.id);
  const cell = (path: string, mode: string) => d.throughput.find((r) => r.path === path && r.mode === mode)?.gbps;
  images.push({
    name: 'throughput.png',
    caption: `Median throughput of ${res.parameters.trials} trial(s) per path and mode; whiskers span min–max`,
    png: await renderBarChart({
      title: `Throughput (${res.runId})`,
      labels: pathIds,
      series: res.parameters.modes.map((mode) => ({
        label: mode,
        values: pathIds.map((p) => cell(p, mode)?.median ?? NaN),
        min: pathIds.map((p) => cell(p, mode)?.min ?? NaN),
        max: pathIds.map((p) => cell(p, mode)?.max ?? NaN),
      })),
      yLabel: 'throughput, median of trials (Gbit/s)',
      format: (v) => v.toFixed(2), // as in the table
    }),
  });
  const rtt = d.latency.filter((l) => l.samplesMs?.length);
  if (rtt.length) {
    images.push({
      name: 'rtt-cdf.png',
      caption: `Round-trip time per path: empirical CDF of ${rtt.map((l) => l.samplesMs!.length).join('/')} ping samples (all trials)`,
      png: await renderCdfChart({
        title: `RTT (${res.runId})`,
        series: rtt.map((l) => ({ label: l.path, values: l.samplesMs! })),
        xLabel: 'round-trip time (ms)',
      }),
    });
  }
  const markdown = [throughputMarkdown(res).trimEnd(), '', '## Charts', '', ...images.flatMap((i) => [`![${i.caption}](${i.name})`, ''])].join('\n');
  return writeReportFiles(dir, `Throughput (${res.runId})`, markdown, images);
}
