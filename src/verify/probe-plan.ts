/**
 * `calico-sim probe`, the pure part: which workloads probe which (names or Calico selectors,
 * all pairs or a random sample), and the judgement of the cells against an expectations file.
 */
import { z } from 'zod';
import { parseSelector } from '../model/selector.js';
import { InputError } from '../util/errors.js';
import type { Family, PairResult, Proto } from './reachability.js';

/** A workload as probe sees it: its addresses, and the labels selectors match (with its namespace). */
export interface ProbeEndpoint {
  name: string;
  netns: string;
  ip: string;
  ip6?: string;
  namespace: string;
  labels: Record<string, string>;
}

/** The label Calico gives every workload endpoint for its namespace. */
export const NAMESPACE_LABEL = 'projectcalico.org/namespace';

/**
 * The endpoints `spec` picks (`--from`/`--to`): a comma-separated list of workload names, or a
 * Calico selector over their labels and `projectcalico.org/namespace` (`role == 'db'`,
 * `all()`). Undefined picks all. A name that is not a workload and is no valid selector is an
 * InputError naming `flag` and the workloads there are.
 */
export function pickEndpoints(all: ProbeEndpoint[], spec: string | undefined, flag: string, hosts: ProbeEndpoint[] = []): ProbeEndpoint[] {
  if (spec === undefined) return all;
  const names = spec.split(',').map((s) => s.trim());
  // Hosts are picked by name only: selectors and "all" are about workloads.
  const byName = new Map([...hosts, ...all].map((e) => [e.name, e]));
  if (names.every((n) => byName.has(n))) return [...new Set(names)].map((n) => byName.get(n)!);
  let selector: ReturnType<typeof parseSelector>;
  try {
    selector = parseSelector(spec);
  } catch (err) {
    const unknown = names.filter((n) => !byName.has(n));
    throw new InputError(
      `${flag} ${JSON.stringify(spec)}: neither workload or host names (no workload or host ${unknown.map((n) => JSON.stringify(n)).join(', ')}; workloads: ${all.map((e) => e.name).join(', ') || 'none'}${hosts.length ? `; hosts: ${hosts.map((e) => e.name).join(', ')}` : ''}) nor a selector (${(err as Error).message})`,
    );
  }
  const picked = all.filter((e) => selector.matches({ ...e.labels, [NAMESPACE_LABEL]: e.namespace }));
  if (picked.length === 0) throw new InputError(`${flag} ${JSON.stringify(spec)} selects no workload`);
  return picked;
}

export type Pair<T = ProbeEndpoint> = [from: T, to: T];

/** Every (from, to) pair of two different endpoints; with `sample`, that many of them at random. */
export function probePairs<T extends { name: string }>(from: T[], to: T[], sample?: number, random: () => number = Math.random): Pair<T>[] {
  const pairs: Pair<T>[] = from.flatMap((f) => to.filter((t) => t.name !== f.name).map((t): Pair<T> => [f, t]));
  if (sample === undefined || sample >= pairs.length) return pairs;
  // A partial Fisher–Yates: the first `sample` places get a uniform random choice.
  for (let i = 0; i < sample; i++) {
    const j = i + Math.floor(random() * (pairs.length - i));
    [pairs[i], pairs[j]] = [pairs[j]!, pairs[i]!];
  }
  return pairs.slice(0, sample);
}

const ExpectationSchema = z.strictObject({
  from: z.string().min(1),
  to: z.string().min(1),
  proto: z.enum(['icmp', 'tcp', 'udp']).optional(),
  port: z.number().int().min(1).max(65535).optional(),
  family: z.union([z.literal(4), z.literal(6)]).optional(),
  expect: z.enum(['open', 'blocked']),
});
/** One line of `--expect`: the cells from → to (of that protocol, port, family, when given) must be open or blocked. */
export type Expectation = z.infer<typeof ExpectationSchema>;
const ExpectationsSchema = z.array(ExpectationSchema).min(1);

/** Parses an expectations file's value (YAML or JSON, already read); errors name the file, the item and the field. */
export function parseExpectations(value: unknown, file: string): Expectation[] {
  const r = ExpectationsSchema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const where = issue.path.length ? issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('') : '(the whole file)';
  throw new InputError(`${file}: ${where.replace(/^\./, '')}: ${issue.message}${issue.path.length === 0 ? ' (a list of {from, to, expect: open|blocked}, with proto, port or family if needed)' : ''}`);
}

/** A cell that did not come out as a line of `--expect` said, or a line that matched no cell. */
export interface Mismatch {
  expectation: Expectation;
  /** The cells it covered, with what they were; empty when it covered none. */
  cells: PairResult[];
  why: string;
}

/** Pure: the expectations that did not hold. A line must cover at least one probed cell. */
export function judgeExpectations(cells: PairResult[], expectations: Expectation[]): Mismatch[] {
  const out: Mismatch[] = [];
  for (const e of expectations) {
    const covered = cells.filter(
      (c) => c.from === e.from && c.to === e.to && (e.proto === undefined || c.proto === e.proto) && (e.port === undefined || c.port === e.port) && (e.family === undefined || c.family === e.family),
    );
    if (covered.length === 0) {
      out.push({ expectation: e, cells: [], why: 'no probed cell matches it (check the names, --from/--to, --proto, --port)' });
      continue;
    }
    const wrong = covered.filter((c) => c.ok !== (e.expect === 'open'));
    if (wrong.length) out.push({ expectation: e, cells: wrong, why: `expected ${e.expect}, ${wrong.map((c) => `${cellName(c)} was ${c.ok ? 'open' : 'blocked'}`).join('; ')}` });
  }
  return out;
}

/** `icmp v4`, `tcp v6 :80`: how a cell is named in messages. */
export function cellName(c: { proto: Proto; family: Family; port?: number }): string {
  return `${c.proto} v${c.family}${c.proto !== 'icmp' && c.port !== undefined ? ` :${c.port}` : ''}`;
}
