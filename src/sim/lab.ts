import { labelMap } from '../model/labels.js';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { bgpSessions, birdc, type BgpSession } from '../bgp/bird.js';
import { writeBirdConfig } from '../bgp/confd.js';
import { renderBirdConfig } from '../bgp/render.js';
import { computeDesired } from '../agent/desired.js';
import { hostOfAffinity } from '../ipam/blocks.js';
import { familyOf } from '../net/cidr.js';
import { addWorkload, deleteWorkload, findWorkload } from '../cni/workload.js';
import { keys } from '../datastore/keys.js';
import { Ipam } from '../ipam/ipam.js';
import { readSnapshot } from '../datastore/snapshot.js';
import { Datastore } from '../datastore/store.js';
import { API_VERSION, type AgentStatus, type BGPConfiguration, type BGPPeer, type CalicoNode, type IPPool, type WorkloadEndpoint } from '../model/resources.js';
import type { HostPlan, LabPlan } from '../model/topology.js';
import { renderRouterConfig } from '../bgp/router.js';
import { parseSelector } from '../model/selector.js';
import { FatalWaitError, sleep, waitFor } from '../util/exec.js';
import { ipJsonIn } from '../util/node-runner.js';
import { DatastoreError, InputError, InterruptedError, NoSuchLabError, SimError, errorMessage } from '../util/errors.js';
import { capacityProblems, describeEstimate, estimateLab, machineFacts } from './capacity.js';
import type { Backend, DestroyReport } from './backend.js';
import { allLabs, backendFor, backendOf, DEFAULT_BACKEND } from './backends/index.js';
import { cniEnv } from './cni-env.js';
import { agentSpec, birdSpec, etcdSpec, type DaemonSpec } from './daemons.js';
import { checkLabName, NAME_RE } from '../model/names.js';
import { neighbourPreflight, requireRoot, requireTools } from './preflight.js';
import { claimStateDir, initialState, labPhase, readLabState, removeStaleClaims, thisBuilder, writeLabState, type HostState, type LabPhase, type LabState, type RouterState } from './state.js';

export interface UpResult {
  state: LabState;
  /** Milliseconds per phase, and `total`. */
  timings: Record<string, number>;
  notes: string[];
}

type Log = (line: string) => void;

/**
 * Builds a lab from a validated plan: fabric and hosts, etcd, the datastore's initial resources,
 * BIRD and an agent per host, the workloads; returns once every host has learned every other
 * host's blocks by BGP. On any failure everything it made is removed again.
 */
export async function up(plan: LabPlan, opts: { name: string; backend?: string; log?: Log; ignoreLimits?: boolean }): Promise<UpResult> {
  const log = opts.log ?? (() => undefined);
  const lab = checkLabName(opts.name);
  requireRoot();
  requireTools();
  const backend = backendFor(opts.backend ?? DEFAULT_BACKEND);
  checkCapacity(plan, opts.ignoreLimits ?? false, log);
  const state = initialState(lab, plan, backend.kind, {
    fabric: backend.fabricNetns(lab),
    host: (h) => backend.hostNetns(lab, h),
    router: (r) => backend.routerNetns(lab, r),
    client: (c) => backend.clientNetns(lab, c),
  }, thisBuilder());
  // SIGINT, SIGTERM and SIGHUP stop the build at its next step and remove what was made.
  const interrupt = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (interrupt.signal.aborted) return log(`${sig}: still removing what was made`);
    log(`${sig}: stopping, then removing what was made`);
    interrupt.abort(new InterruptedError(sig));
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  signals.forEach((s) => process.on(s, onSignal));
  const step = () => interrupt.signal.throwIfAborted();
  try {
    await claimLab(backend, state, log);
  } catch (err) {
    signals.forEach((s) => process.off(s, onSignal));
    throw err;
  }
  // From here on the lab exists: lab.json names this process as its builder, so a kill -9
  // leaves a lab that `status`, `up` and `down --all` recognise as incomplete.
  const notes: string[] = [];
  const timings: Record<string, number> = {};
  const t0 = performance.now();
  let mark = t0;
  const phase = (what: string) => {
    const now = performance.now();
    timings[what] = Math.round(now - mark);
    mark = now;
    log(`${what}: ${timings[what]} ms`);
    step();
  };
  let ds: Datastore | undefined;
  try {
    notes.push(neighbourPreflight(plan.hosts.length, plan.workloads.length));
    notes.forEach((n) => log(`preflight: ${n}`));
    await backend.createFabric(lab, plan);
    step();
    await backend.addHosts(lab, plan, plan.hosts);
    step();
    await backend.addRouters(lab, plan, plan.routers);
    phase('namespaces');

    state.etcd.pid = backend.startDaemon(etcdSpec(state));
    writeLabState(state);
    ds = new Datastore([state.etcd.clientUrl]);
    await ds.ready(15_000, interrupt.signal);
    phase('etcd');

    await seedDatastore(ds, plan);
    await registerNodes(ds, plan.hosts);
    step();
    await startHostDaemons(ds, state, state.hosts);
    await startRouters(state);
    writeLabState(state);
    phase('daemons');

    // Hosts in parallel; one host's workloads in turn, so they fill a block before claiming the
    // next (Calico's CNI plugin takes a per-host IPAM lock for the same reason).
    await settled(plan.hosts.map(async (h) => {
      for (const w of plan.workloads.filter((x) => x.host === h.name)) {
        step();
        await addWorkload(ds!, { lab, name: w.name, host: w.host, hostNetns: backend.hostNetns(lab, w.host), ...(w.namespace ? { namespace: w.namespace } : {}), ...(w.labels ? { labels: w.labels } : {}) }, cniEnv(backend));
      }
    }));
    phase('workloads');

    await waitForRoutes(ds, state, 30_000, interrupt.signal);
    phase('bgp-converged');
    delete state.builder;
    writeLabState(state);
    timings.total = Math.round(performance.now() - t0);
    return { state, timings, notes };
  } catch (err) {
    const why = interrupt.signal.aborted ? interrupt.signal.reason as InterruptedError : err;
    log(`up failed, removing what was made: ${errorMessage(why)}`);
    ds?.close();
    ds = undefined;
    await backend.destroy(lab);
    throw why;
  } finally {
    ds?.close();
    signals.forEach((s) => process.off(s, onSignal));
  }
}

/** Refuses, before anything is made, a lab this machine cannot hold; says what it will cost. */
function checkCapacity(plan: LabPlan, ignoreLimits: boolean, log: Log): void {
  const estimate = estimateLab(plan);
  const { hard, soft } = capacityProblems(estimate, machineFacts());
  const what = `this lab (${describeEstimate(estimate)})`;
  if (hard.length) throw new InputError(`${plan.source}: too large: ${hard.join('; ')}`);
  if (soft.length && !ignoreLimits) throw new InputError(`${plan.source}: this machine cannot hold ${what}: ${soft.join('; ')} (build it anyway with --ignore-limits)`);
  if (soft.length) log(`preflight: over this machine's limits, building anyway (--ignore-limits): ${soft.join('; ')}`);
}

/**
 * Takes the lab's name, atomically. A lab of that name whose builder died (kill -9 of `up`) is
 * reaped first; one that is up, or still being built by a live process, is refused.
 */
async function claimLab(backend: Backend, state: LabState, log: Log): Promise<void> {
  const lab = state.lab;
  const exists = (why: string) => new InputError(`lab "${lab}" ${why}: use another --name, or calico-sim down --name ${lab}`);
  removeStaleClaims();
  // Leftovers of a lab whose state directory was removed by hand (namespaces only) have no
  // builder: they are reaped.
  if (!existsSync(state.dir) && (await backend.labs()).includes(lab)) {
    const left = await backend.destroy(lab);
    log(`reaped the leftovers of an earlier lab "${lab}" (${left.namespaces.length} namespaces, ${left.processes} processes)`);
  }
  if (claimStateDir(state)) return;
  let old: LabState;
  try {
    old = readLabState(lab);
  } catch {
    throw exists('already exists');
  }
  const phase = labPhase(old);
  if (phase === 'ready') throw exists('already exists');
  if (phase === 'building') throw exists(`is being built by process ${old.builder!.pid}`);
  const left = await backend.destroy(lab);
  log(`reaped lab "${lab}", left incomplete by process ${old.builder!.pid} that died while building it (${left.namespaces.length} namespaces, ${left.processes} processes)`);
  if (!claimStateDir(state)) throw exists('was taken again while reaping it');
}

/**
 * Like Promise.all, but waits for every branch before it throws the first error: a rollback
 * must not race branches that are still creating things.
 */
export async function settled<T>(work: Promise<T>[]): Promise<T[]> {
  const results = await Promise.allSettled(work);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}

async function seedDatastore(ds: Datastore, plan: LabPlan): Promise<void> {
  const bgp: BGPConfiguration = {
    apiVersion: API_VERSION, kind: 'BGPConfiguration', metadata: { name: 'default' },
    spec: { asNumber: plan.asNumber, nodeToNodeMeshEnabled: plan.meshEnabled, ...plan.timers },
  };
  await ds.put(keys.bgpConfiguration(), bgp);
  // Which policy ruleset the agents program: Calico's FelixConfiguration nftablesMode.
  await ds.put(keys.felixConfiguration(), {
    apiVersion: API_VERSION, kind: 'FelixConfiguration', metadata: { name: 'default' },
    spec: { nftablesMode: plan.dataplane === 'nftables' ? 'Enabled' : 'Disabled' },
  });
  const ipam = new Ipam(ds);
  for (const p of plan.pools) {
    const pool: IPPool = {
      apiVersion: API_VERSION, kind: 'IPPool', metadata: { name: p.name },
      spec: { cidr: p.cidr, blockSize: p.blockSize, ipipMode: 'Never', vxlanMode: p.vxlan ? 'Always' : 'Never', natOutgoing: p.natOutgoing, nodeSelector: 'all()' },
    };
    await ipam.ensurePool(pool);
  }
  const peers: BGPPeer[] = [
    ...plan.peers.map(({ name, ...spec }): BGPPeer => ({ apiVersion: API_VERSION, kind: 'BGPPeer', metadata: { name }, spec })),
    // Each router outside the cluster is an explicit peer of the hosts it serves.
    ...plan.routers.map((r): BGPPeer => ({
      apiVersion: API_VERSION, kind: 'BGPPeer', metadata: { name: `router-${r.name}` },
      spec: { peerIP: r.ip, asNumber: r.asNumber, nodeSelector: r.hostSelector, ...(r.allowLocalAs ? { numAllowedLocalASNumbers: r.allowLocalAs } : {}) },
    })),
  ];
  for (const p of peers) await ds.put(keys.bgpPeer(p.metadata.name), p);
  await ipam.setIpamConfig({ ...plan.ipam, autoAllocateBlocks: true });
}

/**
 * A router outside the cluster is configured from the lab plan, not from etcd: it peers with
 * every host, or with the route reflectors only, and announces its LAN.
 */
export function routerConfig(state: LabState, r: RouterState): string {
  const plan = state.plan.routers.find((x) => x.name === r.name)!;
  const selector = parseSelector(plan.hostSelector);
  const hosts = state.plan.hosts.filter((h) => selector.matches({ ...h.labels, 'projectcalico.org/name': h.name }));
  const routers = state.plan.routers.filter((x) => plan.peerRouters.includes(x.name) || x.peerRouters.includes(plan.name));
  return renderRouterConfig({
    name: r.name, routerId: r.ip, asNumber: r.as, network: plan.network.cidr,
    neighbors: [
      ...hosts.map((h) => ({ name: `host ${h.name}`, ip: h.ip, asNumber: h.asNumber ?? state.plan.asNumber })),
      ...routers.map((x) => ({ name: `router ${x.name}`, ip: x.ip, asNumber: x.asNumber })),
    ],
  });
}

async function startRouters(state: LabState): Promise<void> {
  const backend = backendOf(state);
  await Promise.all(state.routers.map(async (r) => {
    mkdirSync(r.dir, { recursive: true });
    await writeBirdConfig(r.bird.config, routerConfig(state, r));
    r.bird.pid = backend.startDaemon(birdSpec(r));
  }));
}

/**
 * Registers hosts as Node resources. A name already taken is refused, as Calico must refuse a
 * second host with the same hostname (it would steal the first one's blocks and routes).
 */
export async function registerNodes(ds: Datastore, hosts: HostPlan[]): Promise<void> {
  const existing = (await ds.list<CalicoNode>(keys.nodes)).items.map((i) => i.value);
  for (const h of hosts) {
    const clash = existing.find((n) => n.spec.bgp.ipv4Address.split('/')[0] === h.ip && n.metadata.name !== h.name);
    if (clash) throw new DatastoreError(`node "${h.name}" claims ${h.ip}, already the address of node "${clash.metadata.name}": node addresses must be unique`);
    const node: CalicoNode = {
      apiVersion: API_VERSION,
      kind: 'Node',
      metadata: { name: h.name, creationTimestamp: new Date().toISOString(), ...(Object.keys(h.labels).length ? { labels: h.labels } : {}) },
      spec: {
        bgp: {
          ipv4Address: `${h.ip}/${h.prefixLength}`,
          ...(h.ip6 ? { ipv6Address: `${h.ip6}/${h.prefixLength6 ?? 64}` } : {}),
          ...(h.asNumber ? { asNumber: h.asNumber } : {}),
          ...(h.routeReflectorClusterId ? { routeReflectorClusterID: h.routeReflectorClusterId } : {}),
        },
      },
    };
    if (!(await ds.create(keys.node(h.name), node))) {
      throw new DatastoreError(`node name "${h.name}" is already registered: host names must be unique (a second host with the same name would take over the first one's blocks and routes)`);
    }
    existing.push(node);
  }
}

/** Renders each host's first BIRD config from the datastore, then starts BIRD and the agent. */
export async function startHostDaemons(ds: Datastore, state: LabState, hosts: HostState[]): Promise<void> {
  const snap = await readSnapshot(ds);
  const backend = backendOf(state);
  await settled(hosts.map(async (h) => {
    mkdirSync(h.dir, { recursive: true });
    await writeBirdConfig(h.bird.config, renderBirdConfig(computeDesired(snap, h.name).bird));
    h.bird.pid = backend.startDaemon(birdSpec(h));
    h.agent.pid = backend.startDaemon(agentSpec(state, h));
  }));
}

/**
 * Every host's kernel holds, as a `proto bird` route, every block another host owns; so does
 * every router outside the cluster.
 */
export async function missingRoutes(ds: Datastore, state: LabState): Promise<string[]> {
  const snap = await readSnapshot(ds);
  const missing: string[] = [];
  const backend = backendOf(state);
  const learnedBy = async (netns: string, families: string[]) =>
    new Set((await Promise.all(families.map((f) => ipJsonIn<{ dst: string }[]>(backend, netns, [f, 'route', 'show', 'proto', 'bird'])))).flat().map((r) => r.dst));
  await Promise.all([
    ...state.hosts.map(async (h) => ({ h, learned: await learnedBy(h.netns, ['-4', '-6']), v6: true })),
    // Routers outside the cluster speak IPv4 only.
    ...state.routers.map(async (h) => ({ h, learned: await learnedBy(h.netns, ['-4']), v6: false })),
  ].map(async (p) => {
    const { h, learned, v6 } = await p;
    for (const b of snap.blocks) {
      const owner = hostOfAffinity(b.affinity);
      if (!v6 && familyOf(b.cidr) === 6) continue;
      if (owner && owner !== h.name && !learned.has(b.cidr)) missing.push(`${h.name} lacks ${b.cidr} (owned by ${owner})`);
    }
  }));
  return missing.sort();
}

export async function waitForRoutes(ds: Datastore, state: LabState, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  let last: string[] = [];
  try {
    await waitFor('every block to be learned by BGP on every host', async () => {
      signal?.throwIfAborted();
      assertDaemonsAlive(state);
      last = await missingRoutes(ds, state);
      return last.length === 0;
    }, timeoutMs, 50);
  } catch (err) {
    if (err instanceof FatalWaitError || signal?.aborted) throw err;
    throw new SimError(`${errorMessage(err)}; still missing: ${last.slice(0, 5).join('; ')}`);
  }
}

/** The last lines of a daemon's log, on one line. */
function logTail(spec: DaemonSpec): string {
  return existsSync(spec.log) ? readFileSync(spec.log, 'utf8').trim().split('\n').slice(-3).join(' | ') : 'no log';
}

/** Fails at once, with the end of its log, if a daemon of the lab died. */
function assertDaemonsAlive(state: LabState): void {
  const backend = backendOf(state);
  const specs: [DaemonSpec, number | undefined][] = [
    [etcdSpec(state), state.etcd.pid],
    ...state.hosts.flatMap((h): [DaemonSpec, number | undefined][] => [[birdSpec(h), h.bird.pid], [agentSpec(state, h), h.agent.pid]]),
    ...state.routers.map((r): [DaemonSpec, number | undefined] => [birdSpec(r), r.bird.pid]),
  ];
  for (const [spec, pid] of specs) {
    if (!backend.daemonAlive(spec, pid)) {
      const ending = backend.daemonEnding(pid);
      throw new FatalWaitError(`${spec.what} has exited${ending ? ` (${ending})` : ''}: ${logTail(spec) || 'nothing in its log'}`);
    }
  }
}

/** The lab to act on: the named one (an empty or malformed name is an error), or the only one there is. */
export async function resolveLab(name: string | undefined): Promise<LabState> {
  if (name !== undefined) return readLabState(checkLabName(name));
  const labs = (await allLabs()).map((l) => l.lab);
  if (labs.length === 0) throw new NoSuchLabError(undefined, []);
  if (labs.length > 1) throw new InputError(`several labs are running (${labs.join(', ')}): say which with --name`);
  return readLabState(labs[0]!);
}

export interface DownReport extends DestroyReport {
  /** What the lab was: built, still being built, or left incomplete by a builder that died. */
  phase?: LabPhase;
}

export async function down(name: string): Promise<DownReport> {
  requireRoot();
  checkLabName(name);
  let kind: string | undefined;
  let phase: LabPhase | undefined;
  try {
    const st = readLabState(name);
    kind = st.backend;
    phase = labPhase(st);
  } catch {
    // no state file (its directory was removed by hand): the system state is enough
  }
  // Without state (its directory was removed by hand), the backend that still holds it.
  const backend = kind ? backendFor(kind) : (await allLabs()).find((l) => l.lab === name)?.backend ?? backendFor(DEFAULT_BACKEND);
  return { ...(await backend.destroy(name)), ...(phase ? { phase } : {}) };
}

export async function downAll(): Promise<DownReport[]> {
  requireRoot();
  removeStaleClaims();
  return Promise.all((await allLabs()).map((l) => down(l.lab)));
}

/** Opens the lab's datastore for the duration of `fn`. */
export async function withDatastore<T>(state: LabState, fn: (ds: Datastore) => Promise<T>, readyMs = 5_000): Promise<T> {
  const ds = new Datastore([state.etcd.clientUrl]);
  try {
    await ds.ready(readyMs);
    return await fn(ds);
  } finally {
    ds.close();
  }
}

/** How a daemon stands: running; stalled (stopped, or an agent whose heartbeat is stale); dead. */
export type DaemonState = 'running' | 'stalled' | 'dead';

/** An agent heartbeats every 2 s; one silent for this long is stalled. */
export const HEARTBEAT_STALE_MS = 10_000;

export interface LabStatus {
  lab: string;
  backend: string;
  topology: string;
  /** ready; building (its `up` still runs); incomplete (the `up` that built it died). */
  phase: LabPhase;
  builder?: { pid: number };
  /** True when the lab is ready and every daemon runs: `status` exits 0 only then. */
  healthy: boolean;
  etcd: { endpoints: string[]; clientUrl: string; pid?: number; alive: boolean; state: DaemonState };
  hosts: {
    name: string; netns: string; ip: string; as: number;
    bird: { socket: string; pid?: number; alive: boolean; state: DaemonState };
    agent: { pid?: number; alive: boolean; state: DaemonState; heartbeatAt?: string; heartbeatAgeMs?: number; lastReconcile?: AgentStatus['lastReconcile'] };
  }[];
  workloads: { name: string; host: string; netns: string; ip: string; ip6?: string; interface: string }[];
  routers: { name: string; netns: string; ip: string; as: number; bird: { socket: string; pid?: number; alive: boolean; state: DaemonState }; clients: { name: string; netns: string; ip: string }[] }[];
  bgp: { host: string; peer: string; peerIp: string; state: string; since: string; info: string }[];
  errors: string[];
}

/** What runs and how BGP stands, from /proc, BIRD's sockets and etcd. Never throws for a dead part. */
export async function status(state: LabState): Promise<LabStatus> {
  const backend = backendOf(state);
  const daemonAlive = (spec: DaemonSpec, pid: number | undefined) => backend.daemonAlive(spec, pid);
  const daemonState = (alive: boolean, pid: number | undefined): DaemonState => (!alive ? 'dead' : backend.daemonStopped(pid) ? 'stalled' : 'running');
  const errors: string[] = [];
  const phase = labPhase(state);
  if (phase === 'incomplete') errors.push(`incomplete, builder gone: the up that built this lab (process ${state.builder!.pid}) died before it finished; remove it with calico-sim down --name ${state.lab}, or run the same up again (it reaps it first)`);
  const etcdAlive = daemonAlive(etcdSpec(state), state.etcd.pid);
  const etcdState = daemonState(etcdAlive, state.etcd.pid);
  let weps: WorkloadEndpoint[] = [];
  let agents: AgentStatus[] = [];
  if (etcdState === 'running') {
    try {
      await withDatastore(state, async (ds) => {
        weps = (await ds.list<WorkloadEndpoint>(keys.workloadEndpoints)).items.map((i) => i.value);
        agents = (await ds.list<AgentStatus>(keys.agentStatuses)).items.map((i) => i.value);
      }, 2_000); // an etcd that just died must not hold status up
    } catch (err) {
      errors.push(`etcd: ${errorMessage(err)}`);
    }
  } else {
    errors.push(`etcd is ${etcdState === 'dead' ? 'not running' : 'stopped'}`);
  }
  const bgp: LabStatus['bgp'] = [];
  const sessionsOf = async (h: HostState | RouterState): Promise<DaemonState> => {
    const st = daemonState(daemonAlive(birdSpec(h), h.bird.pid), h.bird.pid);
    // A stopped BIRD would never answer on its socket.
    if (st === 'running') {
      try {
        for (const s of await bgpSessions(h.bird.socket)) {
          bgp.push({ host: h.name, peer: s.name, peerIp: s.neighborAddress, state: s.bgpState || s.state, since: s.since, info: s.info });
        }
      } catch (err) {
        errors.push(`bird@${h.name}: ${errorMessage(err)}`);
      }
    }
    return st;
  };
  const birdOf = async (h: HostState | RouterState) => {
    const st = await sessionsOf(h);
    if (st !== 'running') errors.push(`bird@${h.name} is ${st}`);
    return { socket: h.bird.socket, pid: h.bird.pid, alive: st !== 'dead', state: st };
  };
  const routers = await Promise.all(state.routers.map(async (r) => ({
    name: r.name, netns: r.netns, ip: r.ip, as: r.as, bird: await birdOf(r), clients: r.clients,
  })));
  const now = Date.now();
  const hosts = await Promise.all(state.hosts.map(async (h) => {
    const bird = await birdOf(h);
    const agentAlive = daemonAlive(agentSpec(state, h), h.agent.pid);
    const hb = agents.find((a) => a.host === h.name);
    const ageMs = hb ? Math.max(0, now - Date.parse(hb.heartbeatAt)) : undefined;
    let agentState = daemonState(agentAlive, h.agent.pid);
    // A heartbeat is only expected when etcd can take it.
    if (agentState === 'running' && etcdState === 'running' && phase === 'ready' && (ageMs === undefined || ageMs > HEARTBEAT_STALE_MS)) agentState = 'stalled';
    if (agentState !== 'running') errors.push(`agent@${h.name} is ${agentState}${agentState === 'stalled' && ageMs !== undefined ? ` (last heartbeat ${Math.round(ageMs / 1000)} s ago)` : ''}`);
    return {
      name: h.name, netns: h.netns, ip: h.ip, as: h.as,
      bird,
      agent: { pid: h.agent.pid, alive: agentAlive, state: agentState, heartbeatAt: hb?.heartbeatAt, ...(ageMs !== undefined ? { heartbeatAgeMs: ageMs } : {}), lastReconcile: hb?.lastReconcile },
    };
  }));
  bgp.sort((a, b) => a.host.localeCompare(b.host) || a.peer.localeCompare(b.peer));
  const healthy = phase === 'ready' && etcdState === 'running' && [...hosts.flatMap((h) => [h.bird, h.agent]), ...routers.map((r) => r.bird)].every((d) => d.state === 'running');
  return {
    lab: state.lab,
    backend: state.backend,
    topology: state.topology,
    phase,
    ...(state.builder ? { builder: { pid: state.builder.pid } } : {}),
    healthy,
    etcd: { endpoints: state.etcd.endpoints, clientUrl: state.etcd.clientUrl, pid: state.etcd.pid, alive: etcdAlive, state: etcdState },
    hosts,
    workloads: weps.map((w) => ({
      name: w.metadata.name, host: w.spec.node, netns: w.spec.netns,
      ip: w.spec.ipNetworks.find((n) => !n.includes(':'))?.split('/')[0] ?? '',
      ...(w.spec.ipNetworks.some((n) => n.includes(':')) ? { ip6: w.spec.ipNetworks.find((n) => n.includes(':'))!.split('/')[0] } : {}),
      interface: w.spec.interfaceName,
    })).sort((a, b) => a.name.localeCompare(b.name)),
    routers,
    bgp,
    errors,
  };
}

/** A host's or router's BGP sessions, from its BIRD's control socket (none when BIRD is not running). */
export async function nodeSessions(state: LabState, node: string): Promise<{ alive: boolean; sessions: BgpSession[] }> {
  const h = [...state.hosts, ...state.routers].find((x) => x.name === node);
  if (!h) throw new InputError(`unknown host "${node}" in lab ${state.lab} (hosts and routers: ${[...state.hosts, ...state.routers].map((x) => x.name).join(', ')})`);
  const alive = backendOf(state).daemonAlive(birdSpec(h), h.bird.pid);
  return { alive, sessions: alive ? await bgpSessions(h.bird.socket) : [] };
}

/** How long a restarted daemon must stay up (and BIRD answer on its socket) to count as restarted. */
const HEAL_VERIFY_MS = 1_500;

/**
 * The supervisor's pass: restarts every daemon of the lab that is not running, then checks that
 * each one it restarted still runs (and a BIRD answers on its control socket) — a daemon that
 * dies at once (a BIRD without a config) is an error naming it, with the end of its log.
 */
export async function heal(state: LabState): Promise<string[]> {
  requireRoot();
  const backend = backendOf(state);
  const restarted: { spec: DaemonSpec; pid: number; socket?: string }[] = [];
  const restart = (spec: DaemonSpec, pid: number | undefined, socket?: string): number | undefined => {
    if (backend.daemonAlive(spec, pid)) return pid;
    const started = backend.startDaemon(spec);
    restarted.push({ spec, pid: started, ...(socket ? { socket } : {}) });
    return started;
  };
  state.etcd.pid = restart(etcdSpec(state), state.etcd.pid);
  for (const h of state.hosts) {
    h.bird.pid = restart(birdSpec(h), h.bird.pid, h.bird.socket);
    h.agent.pid = restart(agentSpec(state, h), h.agent.pid);
  }
  for (const r of state.routers) r.bird.pid = restart(birdSpec(r), r.bird.pid, r.bird.socket);
  writeLabState(state);
  const failed: string[] = [];
  await Promise.all(restarted.map(async ({ spec, pid, socket }) => {
    const deadline = Date.now() + HEAL_VERIFY_MS;
    let answered = socket === undefined;
    while (Date.now() < deadline || !answered) {
      if (!backend.daemonAlive(spec, pid)) {
        const ending = backend.daemonEnding(pid);
        failed.push(`${spec.what} died right after its restart${ending ? ` (${ending})` : ''}: ${logTail(spec) || 'nothing in its log'}`);
        return;
      }
      if (!answered) answered = await birdc(socket!, 'show status').then(() => true, () => false);
      if (!answered && Date.now() > deadline + 5_000) {
        failed.push(`${spec.what} was restarted but does not answer on ${socket}`);
        return;
      }
      await sleep(100);
    }
  }));
  if (failed.length) throw new SimError(`heal: ${failed.join('; ')}`);
  return restarted.map((r) => r.spec.what);
}

export async function addLabWorkload(state: LabState, name: string, host: string, o: { namespace?: string; labels?: Record<string, string> } = {}): Promise<WorkloadEndpoint> {
  requireRoot();
  if (!NAME_RE.test(name)) throw new InputError(`invalid workload name "${name}": use 1-32 characters of a-z, 0-9 and "-" (not at either end)`);
  if (state.routers.some((r) => r.name === name || r.clients.some((c) => c.name === name))) throw new InputError(`"${name}" is a router or outside client of lab ${state.lab}`);
  const h = state.hosts.find((x) => x.name === host);
  if (!h) throw new InputError(`unknown host "${host}" in lab ${state.lab} (hosts: ${state.hosts.map((x) => x.name).join(', ')})`);
  if (state.hosts.some((x) => x.name === name)) throw new InputError(`"${name}" is a host name; workload names must differ from host names`);
  const labels = labelMap.safeParse(o.labels ?? {});
  if (!labels.success) throw new InputError(`--label ${labels.error.issues[0]!.path.join('.')}: ${labels.error.issues[0]!.message}`);
  return withDatastore(state, (ds) => addWorkload(ds, { lab: state.lab, name, host, hostNetns: h.netns, ...o }, cniEnv(backendOf(state))));
}

export async function deleteLabWorkload(state: LabState, name: string): Promise<{ name: string; released: string[] }> {
  requireRoot();
  return withDatastore(state, (ds) => deleteWorkload(ds, state.lab, name, cniEnv(backendOf(state))));
}

/** The namespace of a host or workload of the lab, by name. */
export async function netnsOf(state: LabState, target: string): Promise<string> {
  const h = [...state.hosts, ...state.routers, ...state.routers.flatMap((r) => r.clients)].find((x) => x.name === target);
  if (h) return h.netns;
  const wep = await withDatastore(state, (ds) => findWorkload(ds, target));
  if (wep) return wep.value.spec.netns;
  throw new InputError(`no host or workload named "${target}" in lab ${state.lab}`);
}
