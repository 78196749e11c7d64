import { z } from 'zod';
import type { Summary } from '../measure/stats.js';

/**
 * What a kind of results.json is (docs/results-schema.md): the envelope every run writes, the
 * zod parts kinds build their `results` from, and the shape of a kind's entry in the registry
 * (src/report/kinds.ts): its id, its schema, and the figures `report diff` compares. Each report
 * file (throughput-report.ts, ...) defines its kind with `defineResultKind`.
 */

export const RESULTS_SCHEMA = 'calico-sim/results/v1';

export const int = z.number().int().nonnegative();
export const summary = z.object({ n: int, median: z.number(), min: z.number(), max: z.number(), p99: z.number().optional() });
export const idDescribe = z.object({ id: z.string(), describe: z.string() });

/** The envelope: who ran what, where, with which parts and options; `results` is the kind's. */
export const RunReportSchema = z.object({
  schema: z.literal(RESULTS_SCHEMA),
  runId: z.string().min(1),
  kind: z.string().regex(/^[a-z][a-z0-9-]*$/, 'a kebab-case kind'),
  startedAt: z.iso.datetime(),
  finishedAt: z.iso.datetime(),
  machine: z.object({ hostname: z.string(), kernel: z.string(), cpus: z.number().int().positive(), cpuModel: z.string(), memoryBytes: int }),
  versions: z.object({
    node: z.string(),
    calicoSim: z.string(),
    bird: z.string(),
    etcd: z.string(),
    iperf3: z.string(),
    iptables: z.string(),
    nft: z.string(),
    kernel: z.string(),
  }),
  topology: z.object({ name: z.string(), hosts: int, workloads: int, describe: z.string().optional(), backend: z.string().optional() }),
  parameters: z.record(z.string(), z.unknown()),
  results: z.unknown(),
});

/** One comparable figure of a run: a median (or a count), and its spread over the trials when known. */
export interface Metric {
  metric: string;
  unit: string;
  value: number;
  range?: { min: number; max: number };
  higherIsBetter: boolean;
}

/** Pure: `{ range }` of a summary with finite min and max, else nothing (spread into a Metric). */
export const rangeOf = (s?: Summary): { range?: { min: number; max: number } } => (s && Number.isFinite(s.min) && Number.isFinite(s.max) ? { range: { min: s.min, max: s.max } } : {});

/** A kind of results.json: everything `report diff`, `report schema` and validation need to know. */
export interface ResultKind<Id extends string = string, R = unknown> {
  /** The `kind` field of its files, kebab-case (`bench-policy`). */
  id: Id;
  /** The whole file of this kind: the envelope with `kind`, `parameters` and `results` made precise. */
  schema: z.ZodType;
  /** Pure: the figures `report diff` compares, from a file's `results` (already validated by `schema`). */
  metrics: (results: R) => Metric[];
  /** Files written before the envelope, recognised by their top-level `kind` (e.g. "throughput"). */
  legacy?: { kind: string; metrics: (file: Record<string, unknown>, which: string) => Metric[] };
}

/** Identity with inference: a report file's kind, its `metrics` typed by the results it reads. */
export function defineResultKind<Id extends string, R>(k: ResultKind<Id, R>): ResultKind<Id, R> {
  return k;
}
