/**
 * The results of `bench policy` (scenarios/bench-policy.ts runs it and writes the report): the
 * types results.json holds, its schema and the figures `report diff` compares, here so that the
 * report side reads them without the scenario.
 */
import { z } from 'zod';
import type { Summary } from '../measure/stats.js';
import type { PolicyDataplaneKind } from '../model/resources.js';
import { defineResultKind, int, rangeOf, RunReportSchema, summary, type Metric } from './result-kind.js';
import type { RunReport } from './run-report.js';

export type Variant = 'rules' | 'members';

export interface PolicyBenchRow {
  dataplane: PolicyDataplaneKind;
  variant: Variant | 'none';
  size: number;
  /** ctl apply → the newly allowed port answers on the last of the hosts (ms). */
  enforceMs?: Summary;
  gbps: Summary;
  /** iperf3 throughput over the no-policy median of the same dataplane. */
  ratio: number;
  /** Time of a new TCP connection (SYN to reply), which walks the rules. */
  connectMs: { p50: number; p99: number };
  pingMs: { p50: number; p99: number };
}

export interface PolicyBenchParameters {
  dataplanes: PolicyDataplaneKind[];
  sizes: number[];
  variants: Variant[];
  trials: number;
  durationS: number;
}
export interface PolicyBenchData {
  rows: PolicyBenchRow[];
  trials: { dataplane: string; variant: string; size: number; trial: number; enforceMs?: number; gbps: number }[];
}
/** What `bench policy` writes as results.json (docs/results-schema.md). */
export type PolicyBenchResults = RunReport<'bench-policy', PolicyBenchParameters, PolicyBenchData>;

const dataplane = z.enum(['iptables', 'nftables']);
const variant = z.enum(['rules', 'members']);
/** A figure with no sample (NaN) is written as null by JSON.stringify. */
const figure = z.number().nullable();
const percentiles = z.object({ p50: figure, p99: figure });

export const PolicyBenchResultsSchema = RunReportSchema.extend({
  kind: z.literal('bench-policy'),
  parameters: z.object({
    dataplanes: z.array(dataplane),
    sizes: z.array(int),
    variants: z.array(variant),
    trials: z.number().int().positive(),
    durationS: z.number().positive(),
  }),
  results: z.object({
    rows: z.array(
      z.object({
        dataplane,
        variant: z.union([variant, z.literal('none')]),
        size: int,
        enforceMs: summary.optional(),
        gbps: summary,
        ratio: figure,
        connectMs: percentiles,
        pingMs: percentiles,
      }),
    ),
    trials: z.array(
      z.object({
        dataplane: z.string(),
        variant: z.string(),
        size: int,
        trial: z.number().int().positive(),
        enforceMs: z.number().optional(),
        gbps: z.number(),
      }),
    ),
  }),
});

// Compile-time: what the benchmark writes fits what the schema accepts (tsc fails otherwise).
type Fits<T extends U, U> = T;
export type PolicyBenchFitsSchema = Fits<PolicyBenchResults, z.input<typeof PolicyBenchResultsSchema>>;

/** Pure: per dataplane × variant × size, apply → enforced and throughput, each with its trial range. */
export function policyMetrics(d: PolicyBenchData): Metric[] {
  return d.rows.flatMap((x) => {
    const id = `${x.dataplane} ${x.variant}${x.variant === 'none' ? '' : ` ${x.size}`}`;
    return [
      ...(x.enforceMs ? [{ metric: `${id} apply → enforced`, unit: 'ms', value: x.enforceMs.median, ...rangeOf(x.enforceMs), higherIsBetter: false }] : []),
      { metric: `${id} throughput`, unit: 'Gbit/s', value: x.gbps.median, ...rangeOf(x.gbps), higherIsBetter: true },
    ];
  });
}

/** `bench-policy` in the registry (src/report/kinds.ts). */
export const policyBenchKind = defineResultKind({ id: 'bench-policy', schema: PolicyBenchResultsSchema, metrics: policyMetrics });
