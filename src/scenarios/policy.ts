import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { Ctl } from '../ctl/ctl.js';
import { planTopology, type LabPlan } from '../model/topology.js';
import type { PolicyDataplaneKind } from '../model/resources.js';
import { withLab, withDatastore } from '../sim/lab.js';
import { waitForAgents } from '../sim/readiness.js';
import { status } from '../sim/status.js';
import type { LabState } from '../sim/state.js';
import { InputError, errorMessage } from '../util/errors.js';
import { backendOf } from '../sim/backends/index.js';
import { reachability, type PairResult, type Proto } from '../verify/reachability.js';
import { table } from '../util/table.js';
import { cellCheck, type Check } from './conformance.js';

/** A workload as a policy scenario sees it: where it is, and what policies select on. */
export interface ScenarioWorkload {
  name: string;
  host: string;
  namespace: string;
  labels: Record<string, string>;
}

/**
 * A policy scenario: a lab of labelled workloads, a policy file (Calico v3 YAML, applied with
 * ctl as a user would), the ports every workload serves, and — written by hand, independent of
 * the compilers — what each probe should meet: an answer, or silence.
 */
export interface PolicyScenario {
  id: string;
  describe: string;
  /** A topology document (the same shape as a topology file). */
  topology: Record<string, unknown>;
  /** examples/policy/<file>. */
  policyFile: string;
  ports: number[];
  families: (4 | 6)[];
  expect: (cell: { proto: Proto; port?: number; from: ScenarioWorkload; to: ScenarioWorkload }) => 'pass' | 'blocked';
}

const wl = (name: string, labels: Record<string, string>, namespace = 'default') => ({ name, namespace, labels });
const hosts = (...ws: ReturnType<typeof wl>[][]) => ws.map((workloads, i) => ({ name: `host${i + 1}`, workloads }));

export const POLICY_SCENARIOS: PolicyScenario[] = [
  {
    id: 'tenant-isolation',
    describe: 'two tenants (namespaces) over three hosts, dual stack: inside a tenant everything passes, across tenants nothing, both directions, TCP/UDP/ICMP over IPv4 and IPv6',
    topology: {
      pools: [{ cidr: '198.19.0.0/16' }, { name: 'default-ipv6-ippool', cidr: '2001:db8:1::/48' }],
      hosts: hosts(
        [wl('a1', { tenant: 'a' }, 'tenant-a'), wl('b1', { tenant: 'b' }, 'tenant-b')],
        [wl('a2', { tenant: 'a' }, 'tenant-a'), wl('b2', { tenant: 'b' }, 'tenant-b')],
        [wl('a3', { tenant: 'a' }, 'tenant-a'), wl('b3', { tenant: 'b' }, 'tenant-b')],
      ),
    },
    policyFile: 'tenant-isolation.yaml',
    ports: [7777],
    families: [4, 6],
    expect: ({ from, to }) => (from.namespace === to.namespace ? 'pass' : 'blocked'),
  },
  {
    id: 'security-groups',
    describe: 'web → app → db: anyone reaches web on TCP 80, only web reaches app on TCP 8080, only app reaches db on TCP 5432; an unprotected client is reachable by all',
    topology: {
      hosts: hosts(
        [wl('web1', { role: 'web' }), wl('client', { role: 'client' })],
        [wl('web2', { role: 'web' }), wl('app1', { role: 'app' })],
        [wl('app2', { role: 'app' }), wl('db1', { role: 'db' })],
      ),
    },
    policyFile: 'security-groups.yaml',
    ports: [80, 8080, 5432],
    families: [4],
    expect: ({ proto, port, from, to }) => {
      const role = to.labels.role;
      if (role === 'client') return 'pass';
      if (proto !== 'tcp') return 'blocked';
      const open = (role === 'web' && port === 80) || (role === 'app' && port === 8080 && from.labels.role === 'web') || (role === 'db' && port === 5432 && from.labels.role === 'app');
      return open ? 'pass' : 'blocked';
    },
  },
  {
    id: 'default-deny',
    describe: 'a rule-less policy selects every workload both ways: nothing passes but TCP from the admin workload, which two more policies allow',
    topology: {
      hosts: hosts([wl('admin', { role: 'admin' }), wl('w1', { role: 'worker' })], [wl('w2', { role: 'worker' }), wl('w3', { role: 'worker' })], [wl('w4', { role: 'worker' })]),
    },
    policyFile: 'default-deny.yaml',
    ports: [7777],
    families: [4],
    expect: ({ proto, from }) => (proto === 'tcp' && from.labels.role === 'admin' ? 'pass' : 'blocked'),
  },
];

export function policyScenario(id: string): PolicyScenario {
  const s = POLICY_SCENARIOS.find((x) => x.id === id);
  if (!s) throw new InputError(`unknown scenario "${id}" (known: quickstart, ${POLICY_SCENARIOS.map((x) => x.id).join(', ')})`);
  return s;
}

export const policyFilePath = (s: PolicyScenario) => fileURLToPath(new URL(`../../examples/policy/${s.policyFile}`, import.meta.url));

/** The scenario's lab plan on a dataplane. */
export function scenarioPlan(s: PolicyScenario, dataplane: PolicyDataplaneKind): LabPlan {
  return planTopology({ name: s.id, ...s.topology, dataplane }, `scenario ${s.id}`);
}

/** The scenario's policy documents, parsed (plain objects, as ctl apply takes them). */
export function scenarioPolicies(s: PolicyScenario): Record<string, unknown>[] {
  const path = policyFilePath(s);
  return parseAllDocuments(readFileSync(path, 'utf8'))
    .map((d) => d.toJS() as Record<string, unknown>)
    .filter(Boolean);
}

/**
 * A deliberately wrong policy, for negative controls: the first Allow rule of the named policy
 * becomes Deny. Pure: returns new documents.
 */
export function breakPolicy(docs: Record<string, unknown>[], name: string): Record<string, unknown>[] {
  let done = false;
  const out = docs.map((d) => {
    const meta = d.metadata as { name?: string } | undefined;
    if (done || meta?.name !== name) return d;
    const copy = structuredClone(d) as { spec: { ingress?: { action: string }[]; egress?: { action: string }[] } };
    const rule = [...(copy.spec.ingress ?? []), ...(copy.spec.egress ?? [])].find((r) => r.action === 'Allow');
    if (rule) {
      rule.action = 'Deny';
      done = true;
    }
    return copy as unknown as Record<string, unknown>;
  });
  if (!done) throw new InputError(`--break ${name}: no policy of that name with an Allow rule in the scenario`);
  return out;
}

export interface PolicyRunResult {
  scenario: string;
  dataplane: PolicyDataplaneKind;
  passed: boolean;
  checks: Check[];
  cells: PairResult[];
  timings: Record<string, number>;
}

/**
 * Runs a policy scenario: up, probe every workload pair (every protocol and port: all must
 * answer), apply the policies with ctl, wait until every agent has programmed that revision,
 * probe again and judge each cell against the scenario's expectation (a blocked cell must time
 * out), down. `checks` holds one check per cell of the second matrix, in the same order, then
 * any failure of the first. `breakPolicy` runs a negative control.
 */
export async function runPolicyScenario(o: {
  scenario: string;
  dataplane: PolicyDataplaneKind;
  name?: string;
  backend?: string;
  breakPolicy?: string;
  log?: (l: string) => void;
}): Promise<PolicyRunResult> {
  const s = policyScenario(o.scenario);
  const log = o.log ?? (() => undefined);
  let docs = scenarioPolicies(s);
  if (o.breakPolicy) docs = breakPolicy(docs, o.breakPolicy);
  const plan = scenarioPlan(s, o.dataplane);
  const lab = o.name ?? `${s.id.slice(0, 10)}-${o.dataplane.slice(0, 3)}`;
  const t0 = performance.now();
  return withLab(plan, { name: lab, backend: o.backend, log: (l) => log(`   ${l}`) }, async ({ state }) => {
    const timings: Record<string, number> = { up: Math.round(performance.now() - t0) };
    const st = await status(state);
    const eps = st.workloads.map((w) => ({ name: w.name, netns: w.netns, ip: w.ip, ...(w.ip6 ? { ip6: w.ip6 } : {}) }));
    const matrixOf = () => reachability({ runner: backendOf(state), endpoints: eps, ports: s.ports, families: s.families, timeoutMs: 1500 });
    // Before any policy every cell must pass (the namespace profiles allow all): so a cell
    // blocked afterwards was blocked by the policy, not by a broken probe or lab.
    log('== the same matrix before any policy: every cell must answer');
    const before = (await matrixOf()).map((c) => ({
      ...cellCheck(`${s.id} before policy`, c, 'pass'),
      name: `before policy: ${c.proto}${c.proto === 'icmp' ? '' : `/${c.port}`} v${c.family} ${c.from} → ${c.to}`,
    }));
    log(`   ${before.filter((c) => c.ok).length}/${before.length} answered`);
    log(`== apply ${policyFilePath(s)}${o.breakPolicy ? ` (with the first Allow of "${o.breakPolicy}" flipped to Deny)` : ''}`);
    const t1 = performance.now();
    const revision = await applyAndWait(state, docs);
    timings.enforced = Math.round(performance.now() - t1);
    log(`   every agent programmed revision ${revision} in ${timings.enforced} ms`);
    const byName = new Map(plan.workloads.map((w) => [w.name, { name: w.name, host: w.host, namespace: w.namespace ?? 'default', labels: w.labels ?? {} }]));
    const t2 = performance.now();
    const cells = await matrixOf();
    timings.matrix = Math.round(performance.now() - t2);
    const checks = cells.map((c) => cellCheck(s.id, c, s.expect({ proto: c.proto, port: c.port, from: byName.get(c.from)!, to: byName.get(c.to)! })));
    const kinds = new Set(checks.map((c) => c.name.endsWith('(blocked)')));
    // A matrix that expects only passes (or only blocks) could not tell a broken policy apart.
    if (kinds.size < 2) checks.push({ suite: s.id, name: 'the matrix has allowed and blocked cells', ok: false, expected: 'both kinds', actual: [...kinds].join() });
    checks.push(...before.filter((c) => !c.ok));
    if (before.length !== cells.length) checks.push({ suite: s.id, name: 'the matrix before and after policy has the same cells', ok: false, expected: `${cells.length}`, actual: `${before.length}` });
    return { scenario: s.id, dataplane: o.dataplane, passed: checks.every((c) => c.ok), checks, cells, timings };
  });
}

/**
 * Applies resources with ctl (one transaction) and waits until every host's agent reports a
 * reconcile of at least that datastore revision without error. Returns the revision.
 */
export async function applyAndWait(state: LabState, docs: unknown[], timeoutMs = 20_000): Promise<string> {
  return withDatastore(state, async (ds) => {
    const ctl = new Ctl(ds);
    await ctl.apply(docs);
    await waitForAgents(ds, state, ctl.lastRevision!, timeoutMs);
    return ctl.lastRevision!;
  }).catch((err: unknown) => {
    throw err instanceof InputError ? err : new Error(`applying the policies: ${errorMessage(err)}`, { cause: err });
  });
}

/** The run as a terminal shows it: a matrix per protocol and port, the failures, a verdict. */
export function printPolicyRun(r: PolicyRunResult, print: (s: string) => void, reportDir?: string): void {
  const names = [...new Set(r.cells.map((c) => c.from))];
  const group = (c: PairResult) => `${c.proto}${c.proto === 'icmp' ? '' : `/${c.port}`} IPv${c.family}`;
  for (const g of [...new Set(r.cells.map(group))]) {
    print(`\n== ${g}  (pass: answered · blk: blocked · !: not what the scenario expects)`);
    const mark = (f: string, t: string) => {
      const i = r.cells.findIndex((c) => group(c) === g && c.from === f && c.to === t);
      if (i < 0) return '-';
      return `${r.cells[i]!.ok ? 'pass' : 'blk'}${r.checks[i]!.ok ? '' : '!'}`;
    };
    print(
      table(
        ['from \\ to', ...names],
        names.map((f) => [f, ...names.map((t) => mark(f, t))]),
      ),
    );
  }
  const failed = r.checks.filter((c) => !c.ok);
  for (const f of failed.slice(0, 20)) print(`FAIL ${f.name}: expected ${f.expected}, got ${f.actual}`);
  if (failed.length > 20) print(`… and ${failed.length - 20} more`);
  print(
    `\n${r.checks.length - failed.length}/${r.checks.length} cells as expected · up ${r.timings.up} ms · policy enforced on every host ${r.timings.enforced} ms after apply · matrix ${r.timings.matrix} ms`,
  );
  print(`${r.scenario} on ${r.dataplane}: ${r.passed ? 'PASSED' : 'FAILED'}`);
  if (reportDir) {
    mkdirSync(reportDir, { recursive: true });
    writeFileSync(`${reportDir}/${r.scenario}-${r.dataplane}.json`, JSON.stringify(r, null, 2));
  }
}
