import { z } from 'zod';
import { resultKind } from './kinds.js';
import { RunReportSchema } from './result-kind.js';
import type { RunReport } from './run-report.js';

/**
 * The results.json schema (docs/results-schema.md) as zod: the envelope every run writes, and
 * each kind of the registry (src/report/kinds.ts) with its `results`. `validateRunReport` checks
 * a parsed file; `resultsJsonSchema` gives the same as JSON Schema (draft 2020-12) for other tools.
 */

export { RunReportSchema } from './result-kind.js';
export { ConvergenceResultsSchema } from './convergence-report.js';
export { PolicyBenchResultsSchema } from './policy-report.js';
export { ThroughputResultsSchema } from './throughput-report.js';

/** The schema a kind's file is checked against: its own when the registry has the kind, else the envelope. */
export function schemaFor(kind: unknown): z.ZodType {
  return resultKind(kind)?.schema ?? RunReportSchema;
}

/** Pure: checks a parsed results.json; the problems as `path: message` lines when it does not fit. */
export function validateRunReport(value: unknown): { ok: true; report: RunReport } | { ok: false; issues: string[] } {
  const kind = typeof value === 'object' && value !== null ? (value as { kind?: unknown }).kind : undefined;
  const r = schemaFor(kind).safeParse(value);
  if (r.success) return { ok: true, report: r.data as RunReport };
  return { ok: false, issues: r.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`) };
}

/** The schema of one kind (or, without one, of the envelope) as JSON Schema, draft 2020-12. */
export function resultsJsonSchema(kind?: string): object {
  return z.toJSONSchema(schemaFor(kind), { io: 'input' });
}
