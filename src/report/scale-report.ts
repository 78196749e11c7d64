/**
 * The results of `bench scale` (scenarios/bench-scale.ts runs it): full mesh against route
 * reflectors as the lab grows — the types results.json holds, its schema, the figures
 * `report diff` compares, and the report (Markdown table, charts against lab size).
 */
import { z } from 'zod';
import { table } from '../util/table.js';
import { defineResultKind, int, RunReportSchema, type Metric } from './result-kind.js';
import type { RunReport } from './run-report.js';

export type ScaleMode = 'mesh' | 'rr';

/** One lab of the sweep: its size, and what it took, or why it could not be built. */
export interface ScaleRow {
  mode: ScaleMode;
  hosts: number;
  ok: boolean;
  /** Why the size failed or was not attempted (the estimate said no, a timeout, a dead daemon). */
  reason?: string;
  /** Milliseconds per phase of `up`, and `total` (= every block in every host's kernel). */
  upMs?: Record<string, number>;
  /** BGP sessions in Established state: all of them, and per host. */
  sessions?: { total: number; perHostMedian: number; perHostMax: number };
  /** `proto bird` routes per host (IPv4). */
  routesPerHost?: { median: number; max: number };
  /** Resident memory, MB. */
  memoryMB?: { birdMedian: number; birdMax: number; birdTotal: number; agentsTotal: number; agentProcesses: number; etcd: number; total: number };
  /** CPU seconds of the lab's daemons (etcd, BIRDs, agents) by the end of `up`. */
  cpuSeconds?: number;
  /** A workload in a block new to its host → that block in the kernel of every sampled host. */
  newBlockMs?: number;
  /** A host's uplink cut (BFD on) → its block gone from the kernel of every sampled host. */
  crashWithdrawMs?: number;
  /** How many hosts the two churn timings watched (all, or a random sample on large labs). */
  sampledHosts?: number;
  /** What was not measured on a lab that was built, and why. */
  note?: string;
}

export interface ScaleParameters {
  modes: ScaleMode[];
  hosts: number[];
  workloadsPerHost: number;
  agents: 'auto' | 'per-host' | 'shared';
  timers: string;
}

export type ScaleResults = RunReport<'bench-scale', ScaleParameters, { rows: ScaleRow[] }>;

const mode = z.enum(['mesh', 'rr']);
export const ScaleResultsSchema = RunReportSchema.extend({
  kind: z.literal('bench-scale'),
  parameters: z.object({ modes: z.array(mode), hosts: z.array(int), workloadsPerHost: int, agents: z.enum(['auto', 'per-host', 'shared']), timers: z.string() }),
  results: z.object({
    rows: z.array(
      z.object({
        mode,
        hosts: int,
        ok: z.boolean(),
        reason: z.string().optional(),
        upMs: z.record(z.string(), z.number()).optional(),
        sessions: z.object({ total: int, perHostMedian: z.number(), perHostMax: int }).optional(),
        routesPerHost: z.object({ median: z.number(), max: int }).optional(),
        memoryMB: z.object({ birdMedian: z.number(), birdMax: z.number(), birdTotal: z.number(), agentsTotal: z.number(), agentProcesses: int, etcd: z.number(), total: z.number() }).optional(),
        cpuSeconds: z.number().optional(),
        newBlockMs: z.number().optional(),
        crashWithdrawMs: z.number().optional(),
        sampledHosts: int.optional(),
        note: z.string().optional(),
      }),
    ),
  }),
});

// Compile-time: what the benchmark writes fits what the schema accepts (tsc fails otherwise).
type Fits<T extends U, U> = T;
export type ScaleFitsSchema = Fits<ScaleResults, z.input<typeof ScaleResultsSchema>>;

const label = (m: ScaleMode) => (m === 'mesh' ? 'full mesh' : 'route reflectors');

/** Pure: per mode and size, the convergence and churn times and the memory, for `report diff`. */
export function scaleMetrics(d: { rows: ScaleRow[] }): Metric[] {
  return d.rows
    .filter((r) => r.ok)
    .flatMap((r) => {
      const id = `${r.mode} ${r.hosts}`;
      return [
        ...(r.upMs?.total !== undefined ? [{ metric: `${id} up → converged`, unit: 'ms', value: r.upMs.total, higherIsBetter: false }] : []),
        ...(r.newBlockMs !== undefined ? [{ metric: `${id} new block everywhere`, unit: 'ms', value: r.newBlockMs, higherIsBetter: false }] : []),
        ...(r.crashWithdrawMs !== undefined ? [{ metric: `${id} crash withdrawn everywhere`, unit: 'ms', value: r.crashWithdrawMs, higherIsBetter: false }] : []),
        ...(r.memoryMB ? [{ metric: `${id} memory`, unit: 'MB', value: r.memoryMB.total, higherIsBetter: false }] : []),
      ];
    });
}

/** `bench-scale` in the registry (src/report/kinds.ts). */
export const scaleKind = defineResultKind({ id: 'bench-scale', schema: ScaleResultsSchema, metrics: scaleMetrics });

/** Pure: the report's table. */
export function scaleMarkdown(r: Pick<ScaleResults, 'runId' | 'parameters' | 'results'>): string {
  const f = (n: number | undefined, d = 0) => (n === undefined ? '–' : n.toLocaleString('en-US', { maximumFractionDigits: d }));
  const rows = r.results.rows.map((x) =>
    x.ok
      ? [
          label(x.mode),
          String(x.hosts),
          f(x.upMs?.total ? x.upMs.total / 1000 : undefined, 1),
          f(x.upMs?.workloads ? x.upMs.workloads / 1000 : undefined, 1),
          `${f(x.sessions?.total)} (${f(x.sessions?.perHostMax)})`,
          f(x.routesPerHost?.median),
          `${f(x.memoryMB?.birdMedian, 1)} / ${f(x.memoryMB?.birdMax, 1)}`,
          `${f(x.memoryMB?.agentsTotal)} (${f(x.memoryMB?.agentProcesses)})`,
          f(x.memoryMB?.total),
          f(x.cpuSeconds, 1),
          f(x.newBlockMs),
          f(x.crashWithdrawMs),
        ]
      : [label(x.mode), String(x.hosts), `not built: ${x.reason ?? 'failed'}`, '', '', '', '', '', '', '', '', ''],
  );
  return [
    `# Scale benchmark ${r.runId}`,
    '',
    `Full mesh against route reflectors (2 reflectors, every other host their client), ${r.parameters.workloadsPerHost} workload per host, agents ${r.parameters.agents}, BGP timers: ${r.parameters.timers}. ` +
      '"up → converged" ends when every host holds every other host\'s block as a `proto bird` route. The churn timings watch every host up to 50, a random 50 above.',
    '',
    table(
      [
        'mode',
        'hosts',
        'up → converged, s',
        'of which workloads, s',
        'BGP sessions (busiest host)',
        'routes/host',
        'BIRD MB median / max',
        'agents MB (processes)',
        'total MB',
        'daemon CPU s',
        'new block everywhere, ms',
        'crash withdrawn (BFD), ms',
      ],
      rows,
    ),
    '',
    ...r.results.rows.filter((x) => x.note).map((x) => `- ${label(x.mode)}, ${x.hosts} hosts: ${x.note}`),
    '',
  ].join('\n');
}

/** The charts: each figure against the number of hosts, full mesh and route reflectors on the same axes. */
export const SCALE_CHARTS: { file: string; title: string; yLabel: string; pick: (r: ScaleRow) => number | undefined }[] = [
  { file: 'converged.png', title: 'up → every block in every kernel', yLabel: 'seconds', pick: (r) => (r.upMs?.total === undefined ? undefined : r.upMs.total / 1000) },
  { file: 'sessions.png', title: 'BGP sessions in the lab', yLabel: 'sessions', pick: (r) => r.sessions?.total },
  { file: 'memory.png', title: 'memory of the lab (etcd, BIRDs, agents)', yLabel: 'MB', pick: (r) => r.memoryMB?.total },
  { file: 'churn.png', title: 'a new block reaches every host', yLabel: 'ms', pick: (r) => r.newBlockMs },
];

export const scaleModeLabel = label;

/** report.md, report.html and a chart per figure against lab size (full mesh and route reflectors on the same axes). */
export async function writeScaleReport(res: ScaleResults, dir: string): Promise<string[]> {
  const { renderLineChart } = await import('./charts.js'); // chart.js and the canvas load only to draw
  const { writeReportFiles } = await import('./html.js');
  const ok = res.results.rows.filter((r) => r.ok);
  const images = await Promise.all(
    SCALE_CHARTS.map(async (c) => ({
      name: c.file,
      caption: `${c.title} against the number of hosts (one lab per point)`,
      png: await renderLineChart({
        title: `${c.title} (${res.runId})`,
        xLabel: 'hosts',
        yLabel: c.yLabel,
        series: res.parameters.modes.map((m) => ({
          label: label(m),
          points: ok.filter((r) => r.mode === m && c.pick(r) !== undefined).map((r) => ({ x: r.hosts, y: c.pick(r)! })),
        })),
      }),
    })),
  );
  return writeReportFiles(dir, `Scale (${res.runId})`, scaleMarkdown(res), images);
}
