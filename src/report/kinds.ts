import { convergenceKind } from './convergence-report.js';
import { policyBenchKind } from './policy-report.js';
import type { ResultKind } from './result-kind.js';
import { scaleKind } from './scale-report.js';
import { throughputKind } from './throughput-report.js';

/**
 * The registry of results.json kinds, report side: each kind's id, schema and `report diff`
 * figures, defined in its report file. results-schema.ts validates by it, diff.ts compares by it,
 * `report schema` prints from it. The run side of each kind (its `bench` command: description,
 * options, how to run it) is its entry in src/cli/registry.ts, which tsc holds to this list.
 */
export const RESULT_KINDS = [throughputKind, convergenceKind, policyBenchKind, scaleKind] as const;

export type ResultKindId = (typeof RESULT_KINDS)[number]['id'];

export const RESULT_KIND_IDS: readonly ResultKindId[] = RESULT_KINDS.map((k) => k.id);

/** The registered kind of that id, or undefined (a kind checked against the envelope only). */
export function resultKind(id: unknown): ResultKind<ResultKindId, never> | undefined {
  return (RESULT_KINDS as readonly ResultKind<ResultKindId, never>[]).find((k) => k.id === id);
}

/** The registered kind whose files from before the envelope carried this top-level `kind`. */
export function legacyKind(kind: unknown): ResultKind<ResultKindId, never> | undefined {
  return (RESULT_KINDS as readonly ResultKind<ResultKindId, never>[]).find((k) => k.legacy?.kind === kind);
}
