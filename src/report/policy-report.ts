/**
 * The results of `bench policy` (scenarios/bench-policy.ts runs it and writes the report): the
 * types results.json holds, here so that report/diff.ts reads them without the scenario.
 */
import type { Summary } from '../measure/stats.js';
import type { PolicyDataplaneKind } from '../model/resources.js';
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

export interface PolicyBenchParameters { dataplanes: PolicyDataplaneKind[]; sizes: number[]; variants: Variant[]; trials: number; durationS: number }
export interface PolicyBenchData {
  rows: PolicyBenchRow[];
  trials: { dataplane: string; variant: string; size: number; trial: number; enforceMs?: number; gbps: number }[];
}
/** What `bench policy` writes as results.json (docs/results-schema.md). */
export type PolicyBenchResults = RunReport<'bench-policy', PolicyBenchParameters, PolicyBenchData>;
