import { z } from 'zod';
import type { IperfResult } from '../measure/iperf.js';
import { summarize, type Summary } from '../measure/stats.js';
import { trialCount, trialsNote } from './captions.js';
import type { BarSeries, ChartSpec } from './charts.js';
import { writeReportFiles, type ReportImage } from './html.js';
import { defineResultKind, idDescribe, int, rangeOf, RunReportSchema, summary, type Metric } from './result-kind.js';
import type { RunReport } from './run-report.js';
import { InputError } from '../util/errors.js';
import { table } from '../util/table.js';

export type Mode = 'tcp-1' | 'tcp-4' | 'udp';

/**
 * The iperf3 client options of each mode, as src/scenarios/bench-throughput.ts `iperf` runs them
 * (keep the two alike): the report says what a mode measured in the command's own words.
 */
export const MODE_IPERF_ARGS: Record<Mode, readonly string[]> = { 'tcp-1': [], 'tcp-4': ['-P', '4'], udp: ['-u', '-b', '0', '-l', '1400'] };

/** Pure: a mode's iperf3 client command without target and duration, e.g. `iperf3 -u -b 0 -l 1400`. */
export const modeCommand = (m: Mode): string => ['iperf3', ...MODE_IPERF_ARGS[m]].join(' ');

/**
 * What each mode is, for a reader who does not know iperf3. The UDP figure is not a throughput
 * like TCP's: with `-b 0` the sender floods datagrams as fast as it can, without congestion
 * control, so what it tells is how much of the flood arrived, and how much was lost.
 */
export const MODE_DESCRIPTIONS: Record<Mode, string> = {
  'tcp-1': `TCP, 1 stream (\`${modeCommand('tcp-1')}\`)`,
  'tcp-4': `TCP, 4 parallel streams (\`${modeCommand('tcp-4')}\`)`,
  udp: `unlimited-rate UDP blast (\`${modeCommand('udp')}\`): 1,400-byte datagrams sent as fast as the sender can, without congestion control; Gbit/s is what the receiver got, lost % the datagrams that never arrived`,
};

/** The modes in chart legends: the table's id and what it is, short. */
const MODE_LEGEND: Record<Mode, string> = { 'tcp-1': 'tcp-1: TCP, 1 stream', 'tcp-4': 'tcp-4: TCP, 4 streams', udp: 'udp: unlimited-rate UDP (-u -b 0)' };

const isTcp = (m: Mode) => m !== 'udp';

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

/** Pure: a UDP cell's loss over its trials, % of datagrams lost (iperf3's lost_percent); undefined when its trials did not record it. */
export function lossOf(c: Pick<ThroughputCell, 'trials'>): Summary | undefined {
  const lost = c.trials.flatMap((t) => (t.lostPercent !== undefined ? [t.lostPercent] : []));
  return lost.length ? summarize(lost) : undefined;
}

const gbit = (x: number) => x.toFixed(2);
const pct = (x: number) => x.toFixed(2);

/**
 * Pure: the report as Markdown (also what `bench throughput` prints) — what each mode is, the TCP
 * table (medians with min–max, retransmits), the UDP table apart (received and lost), ratios, latency.
 */
export function throughputMarkdown(r: ThroughputResults): string {
  const ms = (x: number) => x.toFixed(3);
  const range = (s?: Summary) => (s ? `${ms(s.min)}–${ms(s.max)}` : '-');
  const { results: d, parameters: p } = r;
  const cpu = (x: ThroughputCell) => `${Math.round(x.cpuSender)}/${Math.round(x.cpuReceiver)}`;
  const tcp = d.throughput.filter((x) => isTcp(x.mode));
  const udp = d.throughput.filter((x) => x.mode === 'udp');
  const of = (cells: ThroughputCell[]) => `median of ${trialCount(cells.map((x) => x.gbps.n))}, min–max of those trials`;
  const tcpRows = tcp.map((x) => [x.path, x.mode, gbit(x.gbps.median), `${gbit(x.gbps.min)}–${gbit(x.gbps.max)}`, x.retransmits ?? '-', cpu(x)]);
  const udpRows = udp.map((x) => {
    const lost = lossOf(x);
    return [x.path, gbit(x.gbps.median), `${gbit(x.gbps.min)}–${gbit(x.gbps.max)}`, lost ? pct(lost.median) : '-', lost ? `${pct(lost.min)}–${pct(lost.max)}` : '-', cpu(x)];
  });
  return [
    `# Throughput (${r.runId})`,
    '',
    `${p.trials} trials of ${p.durationS} s per path and mode, alternating; labs on the ${r.topology.backend ?? 'netns'} backend; ${r.machine.cpus} CPUs (${r.machine.cpuModel}), kernel ${r.machine.kernel}; BIRD ${r.versions.bird}, iperf3 ${r.versions.iperf3}.`,
    '',
    ...d.paths.map((x) => `- **${x.id}**: ${x.describe}`),
    '',
    'Modes:',
    '',
    ...p.modes.map((m) => `- **${m}**: ${MODE_DESCRIPTIONS[m]}`),
    '',
    ...(tcp.length ? [`TCP throughput, ${of(tcp)}:`, '', '```', table(['path', 'mode', 'Gbit/s (median)', 'min–max', 'retransmits', 'CPU % snd/rcv'], tcpRows), '```', ''] : []),
    ...(udp.length
      ? [
          `UDP, unlimited rate (\`${modeCommand('udp')}\`): Gbit/s received and % of datagrams lost, ${of(udp)}:`,
          '',
          '```',
          table(['path', 'Gbit/s received (median)', 'min–max', 'lost % (median)', 'lost % min–max', 'CPU % snd/rcv'], udpRows),
          '```',
          '',
        ]
      : []),
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
 * Pure: the charts of a throughput run. TCP and UDP apart, each on its own axis: an unlimited-rate
 * UDP blast is another quantity (how much of a flood got through, and its loss), and in one chart
 * its bars would set the scale the TCP bars are read on. Each chart says in its subtitle and
 * caption how many trials a bar is and what the whiskers are.
 */
export function throughputCharts(res: ThroughputResults): ChartSpec[] {
  const d = res.results;
  const p = res.parameters;
  const pathIds = d.paths.map((x) => x.id);
  const cell = (path: string, mode: Mode) => d.throughput.find((r) => r.path === path && r.mode === mode);
  const bars = (modes: Mode[]): BarSeries[] =>
    modes.map((mode) => ({
      label: MODE_LEGEND[mode],
      values: pathIds.map((x) => cell(x, mode)?.gbps.median ?? NaN),
      min: pathIds.map((x) => cell(x, mode)?.gbps.min ?? NaN),
      max: pathIds.map((x) => cell(x, mode)?.gbps.max ?? NaN),
    }));
  const note = (modes: Mode[]) => trialsNote(modes.flatMap((m) => pathIds.map((x) => cell(x, m)?.gbps.n)));
  const charts: ChartSpec[] = [];
  const tcp = p.modes.filter(isTcp);
  if (tcp.length) {
    charts.push({
      name: 'throughput.png',
      caption: `TCP throughput per path (iperf3, ${tcp.join(' and ')}): ${note(tcp)}`,
      type: 'bar',
      chart: { title: `TCP throughput (${res.runId})`, subtitle: note(tcp), labels: pathIds, series: bars(tcp), yLabel: 'TCP throughput (Gbit/s)', format: gbit }, // as in the table
    });
  }
  if (p.modes.includes('udp')) {
    // The loss under each path's name: it belongs to the bar, and the axis stays Gbit/s alone.
    const lost = (x: string) => {
      const c = cell(x, 'udp');
      const l = c && lossOf(c);
      return l ? `${x} (lost ${pct(l.median)} %)` : `${x} (loss not recorded)`;
    };
    charts.push({
      name: 'udp.png',
      caption: `Unlimited-rate UDP blast per path (${modeCommand('udp')}), on its own axis: Gbit/s the receiver got, ${note(['udp'])}; under each path, the median % of datagrams lost`,
      type: 'bar',
      chart: {
        title: `UDP, unlimited rate: received (${res.runId})`,
        subtitle: `${modeCommand('udp')}; ${note(['udp'])}`,
        labels: pathIds.map(lost),
        series: bars(['udp']),
        yLabel: 'UDP received (Gbit/s)',
        format: gbit,
      },
    });
  }
  const rtt = d.latency.filter((l) => l.samplesMs?.length);
  if (rtt.length) {
    const pooled = `every ping of the ${trialCount([p.trials])} pooled (${p.pingsPerTrial} per path and trial): a distribution, no whiskers`;
    charts.push({
      name: 'rtt-cdf.png',
      caption: `Round-trip time per path: empirical CDF of ${rtt.map((l) => l.samplesMs!.length).join('/')} ping samples, ${pooled}`,
      type: 'cdf',
      chart: { title: `RTT (${res.runId})`, subtitle: pooled, series: rtt.map((l) => ({ label: l.path, values: l.samplesMs! })), xLabel: 'round-trip time (ms)' },
    });
  }
  return charts;
}

/**
 * The report files of a throughput run in `dir`: the charts of `throughputCharts` (throughput.png:
 * TCP; udp.png: the UDP blast; rtt-cdf.png when the RTT samples were kept), report.md (the table
 * report with the charts linked) and report.html (the same, self-contained). Returns their paths.
 */
export async function writeThroughputReport(res: ThroughputResults, dir: string): Promise<string[]> {
  const { renderChart } = await import('./charts.js'); // chart.js and the canvas load only to draw
  const images: ReportImage[] = [];
  for (const c of throughputCharts(res)) images.push({ name: c.name, caption: c.caption, png: await renderChart(c) });
  return writeReportFiles(dir, `Throughput (${res.runId})`, throughputMarkdown(res), images);
}
