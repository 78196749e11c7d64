import { z } from 'zod';
import type { ConvergenceResults } from './convergence-report.js';
import { RESULTS_SCHEMA, type RunReport } from './run-report.js';
import type { ThroughputResults } from './throughput-report.js';

/**
 * The results.json schema (docs/results-schema.md) as zod: the envelope every run writes, and the
 * `results` of the kinds specified so far. `validateRunReport` checks a parsed file;
 * `resultsJsonSchema` gives the same as JSON Schema (draft 2020-12) for other tools.
 */

const int = z.number().int().nonnegative();
const summary = z.object({ n: int, median: z.number(), min: z.number(), max: z.number(), p99: z.number().optional() });
const idDescribe = z.object({ id: z.string(), describe: z.string() });

export const RunReportSchema = z.object({
  schema: z.literal(RESULTS_SCHEMA),
  runId: z.string().min(1),
  kind: z.string().regex(/^[a-z][a-z0-9-]*$/, 'a kebab-case kind'),
  startedAt: z.iso.datetime(),
  finishedAt: z.iso.datetime(),
  machine: z.object({ hostname: z.string(), kernel: z.string(), cpus: z.number().int().positive(), cpuModel: z.string(), memoryBytes: int }),
  versions: z.object({
    node: z.string(), calicoSim: z.string(), bird: z.string(), etcd: z.string(), iperf3: z.string(), iptables: z.string(), nft: z.string(), kernel: z.string(),
  }),
  topology: z.object({ name: z.string(), hosts: int, workloads: int, describe: z.string().optional() }),
  parameters: z.record(z.string(), z.unknown()),
  results: z.unknown(),
});

const iperf = z.object({
  bitsPerSecond: z.number(), retransmits: z.number().optional(), lostPercent: z.number().optional(), cpuSender: z.number(), cpuReceiver: z.number(),
});

export const ThroughputResultsSchema = RunReportSchema.extend({
  kind: z.literal('bench-throughput'),
  parameters: z.object({
    trials: z.number().int().positive(), durationS: z.number().positive(), modes: z.array(z.enum(['tcp-1', 'tcp-4', 'udp'])),
    pingsPerTrial: int, pingIntervalMs: z.number().positive(),
  }),
  results: z.object({
    paths: z.array(idDescribe),
    throughput: z.array(z.object({
      path: z.string(), mode: z.enum(['tcp-1', 'tcp-4', 'udp']), trials: z.array(iperf), gbps: summary,
      retransmits: z.number().optional(), cpuSender: z.number(), cpuReceiver: z.number(),
    })),
    latency: z.array(z.object({
      path: z.string(), samples: int, p50Ms: z.number(), p99Ms: z.number(),
      p50Trials: summary.optional(), p99Trials: summary.optional(), samplesMs: z.array(z.number()).optional(),
    })),
    ratios: z.record(z.string(), z.number()),
  }),
});

const stream = z.object({
  sent: int, received: int, lost: int, lossDerivedMs: z.number(), longestGapMs: z.number(), duplicates: int, recovered: z.boolean(),
});

export const ConvergenceResultsSchema = RunReportSchema.extend({
  kind: z.literal('bench-convergence'),
  parameters: z.object({
    trials: z.number().int().positive(), events: z.array(z.string()), settings: z.array(z.string()),
    streamRatePps: z.number().positive(), streamCapS: z.number().positive(),
  }),
  results: z.object({
    timerResolution: z.string(),
    settings: z.array(idDescribe),
    events: z.array(idDescribe),
    measurements: z.array(z.object({
      event: z.string(), setting: z.string(),
      trials: z.array(z.object({ controlPlaneMs: z.number().optional(), stream: stream.optional(), note: z.string().optional() })),
      controlPlaneMs: summary.optional(), lossMs: summary.optional(), longestGapMs: summary.optional(), notRecovered: int.optional(),
    })),
  }),
});

/** The schema a kind's file is checked against: its own where specified, else the envelope. */
export function schemaFor(kind: unknown): z.ZodType {
  if (kind === 'bench-throughput') return ThroughputResultsSchema;
  if (kind === 'bench-convergence') return ConvergenceResultsSchema;
  return RunReportSchema;
}

/** Pure: checks a parsed results.json; the problems as `path: message` lines when it does not fit. */
export function validateRunReport(value: unknown): { ok: true; report: RunReport } | { ok: false; issues: string[] } {
  const kind = typeof value === 'object' && value !== null ? (value as { kind?: unknown }).kind : undefined;
  const r = schemaFor(kind).safeParse(value);
  if (r.success) return { ok: true, report: r.data as RunReport };
  return { ok: false, issues: r.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`) };
}

/** The schema of one kind (or of the envelope) as JSON Schema, draft 2020-12. */
export function resultsJsonSchema(kind?: string): object {
  return z.toJSONSchema(schemaFor(kind), { io: 'input' });
}

// Compile-time: what the benchmarks write fits what the schema accepts (tsc fails otherwise).
type Fits<T extends U, U> = T;
export type ThroughputFitsSchema = Fits<ThroughputResults, z.input<typeof ThroughputResultsSchema>>;
export type ConvergenceFitsSchema = Fits<ConvergenceResults, z.input<typeof ConvergenceResultsSchema>>;
