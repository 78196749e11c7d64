import { writeFileSync, mkdirSync } from 'node:fs';
import { AGENT_ROUTE_PROTO, isAgentDevice } from '../agent/desired.js';
import { desiredSessions } from '../bgp/peers.js';
import { readSnapshot } from '../datastore/snapshot.js';
import { junitXml, type JunitSuite } from '../report/junit.js';
import { withLab, withDatastore } from '../sim/lab.js';
import { missingRoutes } from '../sim/readiness.js';
import { status, type LabStatus } from '../sim/status.js';
import type { LabState } from '../sim/state.js';
import type { PoolPlan } from '../model/topology.js';
import { familyOf } from '../net/cidr.js';
import { resolveTopology, type GeneratorOptions } from '../topologies/index.js';
import { backendOf } from '../sim/backends/index.js';
import { FabricCapture } from '../verify/capture.js';
import { checkCapture, type FlowExpectation } from '../verify/flows.js';
import { readPcapFile } from '../verify/pcap.js';
import { probePairs } from '../verify/probe-plan.js';
import { PROBE_PORT, reachability, type Endpoint, type PairResult } from '../verify/reachability.js';
import { ipJsonIn } from '../util/node-runner.js';
import { errorMessage } from '../util/errors.js';
import { sysdump } from './sysdump.js';

/**
 * One lab of the suite: a topology, its size, and the lab name it runs under. A negative control
 * is a lab built to break a claim (NAT, or a tunnel): the suite passes only if the checker says so.
 */
export interface SuiteLab {
  id: string;
  topology: string;
  options?: GeneratorOptions;
  lab: string;
  pools?: Partial<Pick<PoolPlan, 'natOutgoing' | 'vxlan'>>;
  negativeControl?: 'nat' | 'encapsulation';
}

export const DEFAULT_SUITE: SuiteLab[] = [
  { id: 'two-host', topology: 'two-host', lab: 'cf-two-host' },
  { id: 'mesh', topology: 'mesh', options: { hosts: 4 }, lab: 'cf-mesh' },
  { id: 'route-reflector', topology: 'route-reflector', options: { hosts: 5 }, lab: 'cf-rr' },
  { id: 'gateway', topology: 'gateway', options: { hosts: 2 }, lab: 'cf-gateway' },
  { id: 'dual-stack', topology: 'dual-stack', options: { hosts: 2 }, lab: 'cf-dual' },
  // Negative controls, always run: a checker that cannot fail is a defect.
  { id: 'control-nat', topology: 'gateway', options: { hosts: 2 }, lab: 'cf-nat', pools: { natOutgoing: true }, negativeControl: 'nat' },
  { id: 'control-vxlan', topology: 'two-host', lab: 'cf-vxlan', pools: { vxlan: true }, negativeControl: 'encapsulation' },
];

export interface Check {
  suite: string;
  name: string;
  ok: boolean;
  expected: string;
  actual: string;
  /** Where to look: capture files, a sysdump directory, a command's output. */
  evidence?: string;
  timeMs?: number;
}

export interface ConformanceResult {
  passed: boolean;
  durationMs: number;
  checks: Check[];
}

/**
 * The conformance suite: builds each lab, probes every pair (ICMP, TCP, UDP; IPv4 and IPv6
 * where the lab has both; outside clients too) while capturing every fabric link, then proves
 * from the captures that the traffic was plain routed IP — no NAT, no encapsulation — and that
 * BGP, not the engine, carried the routes. A failing lab leaves a sysdump in the report dir.
 */
export async function conformance(o: { suite?: SuiteLab[]; reportDir: string; backend?: string; log?: (l: string) => void }): Promise<ConformanceResult> {
  const log = o.log ?? (() => undefined);
  const t0 = performance.now();
  const checks: Check[] = [];
  for (const s of o.suite ?? DEFAULT_SUITE) {
    log(`== ${s.id}`);
    const lt0 = performance.now();
    const labChecks = await conformLab(s, `${o.reportDir}/${s.id}`, o.backend).catch((err: unknown): Check[] => [
      { suite: s.id, name: 'lab builds', ok: false, expected: 'the lab comes up', actual: errorMessage(err) },
    ]);
    checks.push(...labChecks);
    const failed = labChecks.filter((c) => !c.ok);
    log(`   ${labChecks.length - failed.length}/${labChecks.length} checks passed in ${Math.round(performance.now() - lt0)} ms`);
    for (const f of failed.slice(0, 10)) log(`   FAIL ${f.name}: expected ${f.expected}, got ${f.actual}${f.evidence ? ` (evidence: ${f.evidence})` : ''}`);
  }
  return { passed: checks.every((c) => c.ok), durationMs: Math.round(performance.now() - t0), checks };
}

async function conformLab(s: SuiteLab, dir: string, backend?: string): Promise<Check[]> {
  mkdirSync(dir, { recursive: true });
  const plan = resolveTopology(s.topology, s.options);
  return withLab({ ...plan, pools: plan.pools.map((p) => (familyOf(p.cidr) === 4 ? { ...p, ...s.pools } : p)) }, { name: s.lab, backend }, async ({ state }) => {
    const raw = await checkLab(s.id, state, dir);
    const checks = s.negativeControl ? negativeControl(s.negativeControl, raw) : raw;
    if (checks.some((c) => !c.ok)) {
      const where = await sysdump(state, `${dir}/sysdump`);
      for (const c of checks) if (!c.ok) c.evidence = [c.evidence, `sysdump ${where}`].filter(Boolean).join('; ');
    }
    return checks;
  });
}

/**
 * The suite's checks on a lab someone built (`conformance --lab`): nothing is built or torn down.
 * With `sample`, reachability covers that many random pairs of each matrix and the capture
 * checks are left out (a capture per fabric link of a 1,000-host lab is 1,000 tcpdumps).
 */
export async function conformanceOfLab(state: LabState, o: { reportDir: string; sample?: number }): Promise<ConformanceResult> {
  const t0 = performance.now();
  mkdirSync(o.reportDir, { recursive: true });
  const checks = await checkLab(state.lab, state, o.reportDir, () => 'pass', o.sample);
  const r = { passed: checks.every((c) => c.ok), durationMs: Math.round(performance.now() - t0), checks };
  writeFileSync(`${o.reportDir}/checks.json`, `${JSON.stringify(r, null, 2)}\n`);
  return r;
}

/** All checks of one running lab. Exported for tests that break a lab on purpose first. */
export async function checkLab(suite: string, state: LabState, dir: string, expect: CellExpectation = () => 'pass', sample?: number): Promise<Check[]> {
  const checks: Check[] = [];
  const st = await status(state);
  checks.push(...(await controlPlaneChecks(suite, state, st)));

  const workloads: Endpoint[] = st.workloads.map((w) => ({ name: w.name, netns: w.netns, ip: w.ip, ...(w.ip6 ? { ip6: w.ip6 } : {}) }));
  const outside: Endpoint[] = state.routers.flatMap((r) => r.clients.map((c) => ({ name: c.name, netns: c.netns, ip: c.ip })));
  const runner = backendOf(state);
  if (sample !== undefined) return [...checks, ...(await sampledCells(state, workloads, outside, sample)).map((c) => cellCheck(suite, c, expect(c)))];
  const capture = await FabricCapture.start(runner, state, `${dir}/pcap`);
  let cells: PairResult[];
  try {
    cells = [
      ...(await reachability({ runner, endpoints: workloads })),
      ...(outside.length ? await reachability({ runner, endpoints: workloads, sources: outside, families: [4] }) : []),
      // Outside clients as servers too: traffic a workload starts towards the outside (which a
      // natOutgoing pool translates).
      ...(outside.length ? await reachability({ runner, endpoints: outside, sources: workloads, families: [4] }) : []),
    ];
  } finally {
    await capture.stop();
  }
  // Hosts ↔ workloads, after the capture window: a host's own address on the fabric would read as
  // NAT to the capture checker, which proves the workload traffic above.
  const hosts: Endpoint[] = state.hosts.map((h) => {
    const ip6 = state.plan.hosts.find((p) => p.name === h.name)?.ip6;
    return { name: h.name, netns: h.netns, ip: h.ip, ...(ip6 ? { ip6 } : {}) };
  });
  cells.push(...(await reachability({ runner, endpoints: workloads, sources: hosts })), ...(await reachability({ runner, endpoints: hosts, sources: workloads })));
  checks.push(...cells.map((c) => cellCheck(suite, c, expect(c))));
  checks.push(
    ...(await captureChecks(
      suite,
      state,
      st,
      capture.files.map((f) => f.file),
      outside,
    )),
  );
  return checks;
}

/** `sample` random pairs of each matrix of checkLab: workloads, outside clients, hosts. */
async function sampledCells(state: LabState, workloads: Endpoint[], outside: Endpoint[], sample: number): Promise<PairResult[]> {
  const runner = backendOf(state);
  const hosts: Endpoint[] = state.hosts.map((h) => ({ name: h.name, netns: h.netns, ip: h.ip }));
  const matrix = async (from: Endpoint[], to: Endpoint[], families?: (4 | 6)[]) => {
    const pairs = new Set(probePairs(from, to, sample).map(([f, t]) => `${f.name}>${t.name}`));
    if (pairs.size === 0) return [];
    const names = (side: 0 | 1) => new Set([...pairs].map((p) => p.split('>')[side]!));
    const [src, dst] = [names(0), names(1)];
    return reachability({
      runner,
      endpoints: to.filter((e) => dst.has(e.name)),
      sources: from.filter((e) => src.has(e.name)),
      only: (f, t) => pairs.has(`${f.name}>${t.name}`),
      ...(families ? { families } : {}),
    });
  };
  return [
    ...(await matrix(workloads, workloads)),
    ...(outside.length ? await matrix(outside, workloads, [4]) : []),
    ...(outside.length ? await matrix(workloads, outside, [4]) : []),
    ...(await matrix(hosts, workloads)),
  ];
}

/** Pure: what a check is about, for the per-category summary of `conformance --lab`. */
export function checkCategory(c: Pick<Check, 'name'>): 'control plane' | 'reachability' | 'captures' {
  if (CONTROL_PLANE_CHECKS.includes(c.name)) return 'control plane';
  return /^(icmp|tcp|udp)\b/.test(c.name) ? 'reachability' : 'captures';
}
const CONTROL_PLANE_CHECKS = ['BGP sessions established', 'every block learned by BGP everywhere', 'no inter-host route made by hand'];

/** What a scenario expects of one cell: reachable, or blocked (by a policy). */
export type CellExpectation = (cell: PairResult) => 'pass' | 'blocked';

/** Pure: a reachability cell judged against what the scenario expects of it. */
export function cellCheck(suite: string, c: PairResult, want: 'pass' | 'blocked'): Check {
  const name = `${c.proto}${c.port !== undefined && c.port !== PROBE_PORT ? `/${c.port}` : ''} v${c.family} ${c.from} → ${c.to}`;
  const actual = c.ok ? `answered in ${c.rttMs} ms` : (c.detail ?? 'no answer');
  return want === 'pass'
    ? { suite, name, ok: c.ok, expected: `${c.to} (${c.ip}) answers ${c.from}, seeing its own address`, actual, timeMs: c.rttMs }
    : // Blocked means dropped: no answer at all. A refusal or a wrong answer means the packet got through.
      { suite, name: `${name} (blocked)`, ok: !c.ok && (c.detail === 'timeout' || c.detail === 'no echo reply'), expected: `${c.to} (${c.ip}) does not answer ${c.from} (dropped: a timeout)`, actual };
}

async function controlPlaneChecks(suite: string, state: LabState, st: LabStatus): Promise<Check[]> {
  const snap = await withDatastore(state, (ds) => readSnapshot(ds));
  const want = state.hosts.flatMap((h) => desiredSessions(snap, h.name).map((s) => `${h.name}→${s.ip}`));
  const up = new Set(st.bgp.filter((b) => b.state === 'Established').map((b) => `${b.host}→${b.peerIp}`));
  const down = want.filter((w) => !up.has(w));
  const missing = await withDatastore(state, (ds) => missingRoutes(ds, state));
  // Inter-host routes must come from BGP: no agent-owned route (proto boot, on the agent's devices)
  // points at another host.
  const engineMade = (
    await Promise.all(
      state.hosts.map(async (h) =>
        (
          await ipJsonIn<{ dst: string; gateway?: string; dev?: string }[]>(backendOf(state), h.netns, ['route', 'show', 'proto', AGENT_ROUTE_PROTO])
        )
          .filter((r) => r.gateway && isAgentDevice(r.dev))
          .map((r) => `${h.name}: ${r.dst} via ${r.gateway}`),
      ),
    )
  ).flat();
  return [
    {
      suite,
      name: 'BGP sessions established',
      ok: down.length === 0,
      expected: `${want.length} sessions Established`,
      actual: down.length ? `not established: ${down.join(', ')}` : `${want.length} Established`,
    },
    {
      suite,
      name: 'every block learned by BGP everywhere',
      ok: missing.length === 0,
      expected: "every host and router holds every other host's blocks as proto bird routes",
      actual: missing.length ? missing.slice(0, 5).join('; ') : 'all present',
    },
    {
      suite,
      name: 'no inter-host route made by hand',
      ok: engineMade.length === 0,
      expected: 'routes via other hosts come from BIRD only',
      actual: engineMade.length ? engineMade.join('; ') : 'none',
    },
  ];
}

async function captureChecks(suite: string, state: LabState, st: LabStatus, files: string[], outside: Endpoint[]): Promise<Check[]> {
  const macOf = async (netns: string) => (await ipJsonIn<{ address: string }[]>(backendOf(state), netns, ['link', 'show', 'eth0']))[0]!.address;
  const exp: FlowExpectation = {
    workloads: [
      ...st.workloads.map((w) => ({ name: w.name, ip: w.ip, ips: [w.ip, ...(w.ip6 ? [w.ip6] : [])], host: w.host })),
      // An outside client talks to workloads with its own address: for the NAT check it is an endpoint too.
      ...outside.map((c) => ({ name: c.name, ip: c.ip, host: state.routers.find((r) => r.clients.some((x) => x.name === c.name))!.name })),
    ],
    hosts: await Promise.all([...state.hosts, ...state.routers].map(async (n) => ({ name: n.name, mac: await macOf(n.netns), ip: n.ip }))),
    expectedFlows: st.workloads.flatMap((a) => st.workloads.filter((b) => b.host !== a.host).map((b) => ({ from: a.ip, to: b.ip, protocol: 'icmp' as const }))),
    onlyWorkloadTraffic: true,
  };
  const packets = files.flatMap((f) => readPcapFile(f).packets);
  const report = checkCapture(packets, exp);
  const evidence = `captures ${files.join(', ')}`;
  writeFileSync(files[0]!.replace(/[^/]+$/, 'flows.json'), JSON.stringify(report, null, 2));
  const of = (re: RegExp) => report.violations.filter((v) => re.test(v));
  const sample = report.flows.find((f) => f.ok)?.sample;
  const mk = (name: string, expected: string, bad: string[]): Check => ({
    suite,
    name,
    ok: bad.length === 0 && report.packetsInspected > 0,
    expected,
    actual: bad.length
      ? bad.slice(0, 3).join(' | ')
      : `${report.flows.length} flows, ${report.packetsInspected} packets inspected${sample ? `; e.g. #${sample.index} ${sample.ip?.src} > ${sample.ip?.dst}` : ''}`,
    evidence,
  });
  return [
    mk('no encapsulation on the fabric', 'no VXLAN, IPIP, GRE, ESP, Geneve or WireGuard header', of(/encapsulat|inside/)),
    mk('no NAT on the fabric', "every flow carries the workloads' own addresses", of(/NAT|not observed|unexpected/)),
    mk('a routed hop between two hosts', "workload packets cross the fabric between two hosts' MACs", of(/routed hop/)),
  ];
}

/**
 * Pure: turns the checks of a negative-control lab into what must hold there — the checker
 * reports the violation the lab was built with. Checks about plain routed traffic that the
 * violation breaks by design are replaced by the control's own checks.
 */
export function negativeControl(kind: 'nat' | 'encapsulation', checks: Check[]): Check[] {
  const find = (name: string) => checks.find((c) => c.name === name);
  if (kind === 'encapsulation') {
    const encap = find('no encapsulation on the fabric')!;
    return [
      ...checks.filter((c) => !/on the fabric$|between two hosts$|made by hand$/.test(c.name)),
      { ...encap, name: 'negative control: the capture checker reports VXLAN', ok: !encap.ok && /vxlan/.test(encap.actual), expected: 'the VXLAN headers of this lab are flagged' },
    ];
  }
  const nat = find('no NAT on the fabric')!;
  const outbound = checks.filter((c) => /^(tcp|udp) v4 \S+ → /.test(c.name) && /address translated/.test(c.actual));
  return [
    ...checks.filter((c) => !/on the fabric$|between two hosts$/.test(c.name) && !outbound.includes(c)),
    { ...nat, name: 'negative control: the capture checker reports NAT', ok: !nat.ok && /NAT/.test(nat.actual), expected: 'the masqueraded flows of this lab are flagged' },
    {
      suite: nat.suite,
      name: "negative control: the probes see the host address, not the workload's",
      ok: outbound.length > 0,
      expected: 'workload → outside TCP/UDP answers report a translated source',
      actual: outbound.length ? `${outbound.length} translated, e.g. ${outbound[0]!.name}: ${outbound[0]!.actual}` : 'no probe saw a translated source',
    },
  ];
}

export function writeReports(r: ConformanceResult, o: { junit?: string; json?: string }): void {
  if (o.junit) {
    const suites: JunitSuite[] = [...new Set(r.checks.map((c) => c.suite))].map((s) => ({
      name: s,
      cases: r.checks
        .filter((c) => c.suite === s)
        .map((c) => ({
          name: c.name,
          classname: `conformance.${s}`,
          timeMs: c.timeMs,
          ...(c.ok ? {} : { failure: { message: `expected ${c.expected}, got ${c.actual}`, details: c.evidence } }),
        })),
    }));
    writeFileSync(o.junit, junitXml(suites));
  }
  if (o.json) writeFileSync(o.json, JSON.stringify(r, null, 2));
}
