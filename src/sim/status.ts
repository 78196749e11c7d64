/** How a lab stands: its phase, each daemon's liveness, its workloads and BGP sessions. */
import { bgpSessions, type BgpSession } from '../bgp/bird.js';
import { keys } from '../datastore/keys.js';
import type { AgentStatus, WorkloadEndpoint } from '../model/resources.js';
import { InputError, errorMessage } from '../util/errors.js';
import { allLabs, backendOf } from './backends/index.js';
import { agentSpec, birdSpec, etcdSpec, type DaemonSpec } from './daemons.js';
import { labPhase, readLabState, type HostState, type LabPhase, type LabState, type RouterState } from './state.js';
import { withDatastore } from './lab.js';

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
  /** `per-host`: an agent process per host; `shared`: processes serving groups of hosts. */
  agents: 'per-host' | 'shared';
  /** True when the lab is ready and every daemon runs: `status` exits 0 only then. */
  healthy: boolean;
  etcd: { endpoints: string[]; clientUrl: string; pid?: number; alive: boolean; state: DaemonState; container?: string };
  hosts: {
    name: string;
    netns: string;
    /** The node's container (docker backend): its id, 12 hex digits. */
    container?: string;
    ip: string;
    as: number;
    bird: { socket: string; pid?: number; alive: boolean; state: DaemonState };
    /** `process`: the shared agent process serving this host, when the lab shares them. */
    agent: { pid?: number; process?: string; alive: boolean; state: DaemonState; heartbeatAt?: string; heartbeatAgeMs?: number; lastReconcile?: AgentStatus['lastReconcile'] };
  }[];
  workloads: { name: string; host: string; namespace: string; labels: Record<string, string>; netns: string; container?: string; ip: string; ip6?: string; interface: string }[];
  routers: {
    name: string;
    netns: string;
    container?: string;
    ip: string;
    as: number;
    bird: { socket: string; pid?: number; alive: boolean; state: DaemonState };
    clients: { name: string; netns: string; ip: string }[];
  }[];
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
  if (phase === 'incomplete')
    errors.push(
      `incomplete, builder gone: the up that built this lab (process ${state.builder!.pid}) died before it finished; remove it with calico-sim down --lab ${state.lab}, or run the same up again (it reaps it first)`,
    );
  const ids = await backend.nodeContainers?.(state.lab);
  const container = (netns: string) => (ids?.has(netns) ? { container: ids.get(netns)! } : {});
  const etcdAlive = daemonAlive(etcdSpec(state), state.etcd.pid);
  const etcdState = daemonState(etcdAlive, state.etcd.pid);
  let weps: WorkloadEndpoint[] = [];
  let agents: AgentStatus[] = [];
  if (etcdState === 'running') {
    try {
      await withDatastore(
        state,
        async (ds) => {
          weps = (await ds.list<WorkloadEndpoint>(keys.workloadEndpoints)).items.map((i) => i.value);
          agents = (await ds.list<AgentStatus>(keys.agentStatuses)).items.map((i) => i.value);
        },
        2_000,
      ); // an etcd that just died must not hold status up
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
  const routers = await Promise.all(
    state.routers.map(async (r) => ({
      name: r.name,
      netns: r.netns,
      ...container(r.netns),
      ip: r.ip,
      as: r.as,
      bird: await birdOf(r),
      clients: r.clients,
    })),
  );
  const now = Date.now();
  const hosts = await Promise.all(
    state.hosts.map(async (h) => {
      const bird = await birdOf(h);
      const agentAlive = daemonAlive(agentSpec(state, h), h.agent.pid);
      const hb = agents.find((a) => a.host === h.name);
      const ageMs = hb ? Math.max(0, now - Date.parse(hb.heartbeatAt)) : undefined;
      let agentState = daemonState(agentAlive, h.agent.pid);
      // A heartbeat is only expected when etcd can take it.
      if (agentState === 'running' && etcdState === 'running' && phase === 'ready' && (ageMs === undefined || ageMs > HEARTBEAT_STALE_MS)) agentState = 'stalled';
      if (agentState !== 'running') errors.push(`agent@${h.name} is ${agentState}${agentState === 'stalled' && ageMs !== undefined ? ` (last heartbeat ${Math.round(ageMs / 1000)} s ago)` : ''}`);
      return {
        name: h.name,
        netns: h.netns,
        ...container(h.netns),
        ip: h.ip,
        as: h.as,
        bird,
        agent: {
          pid: h.agent.pid,
          ...(h.agent.group ? { process: h.agent.group } : {}),
          alive: agentAlive,
          state: agentState,
          heartbeatAt: hb?.heartbeatAt,
          ...(ageMs !== undefined ? { heartbeatAgeMs: ageMs } : {}),
          lastReconcile: hb?.lastReconcile,
        },
      };
    }),
  );
  bgp.sort((a, b) => a.host.localeCompare(b.host) || a.peer.localeCompare(b.peer));
  const healthy = phase === 'ready' && etcdState === 'running' && [...hosts.flatMap((h) => [h.bird, h.agent]), ...routers.map((r) => r.bird)].every((d) => d.state === 'running');
  return {
    lab: state.lab,
    backend: state.backend,
    topology: state.topology,
    agents: state.hosts.some((h) => h.agent.group) ? 'shared' : 'per-host',
    phase,
    ...(state.builder ? { builder: { pid: state.builder.pid } } : {}),
    healthy,
    etcd: { endpoints: state.etcd.endpoints, clientUrl: state.etcd.clientUrl, pid: state.etcd.pid, alive: etcdAlive, state: etcdState, ...container(state.fabric.netns) },
    hosts,
    workloads: weps
      .map((w) => ({
        name: w.spec.workload,
        host: w.spec.node,
        namespace: w.metadata.namespace ?? 'default',
        labels: w.metadata.labels ?? {},
        netns: w.spec.netns,
        ...container(w.spec.netns),
        ip: w.spec.ipNetworks.find((n) => !n.includes(':'))?.split('/')[0] ?? '',
        ...(w.spec.ipNetworks.some((n) => n.includes(':')) ? { ip6: w.spec.ipNetworks.find((n) => n.includes(':'))!.split('/')[0] } : {}),
        interface: w.spec.interfaceName,
      }))
      .sort((a, b) => a.name.localeCompare(b.name)),
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

/** One line of `calico-sim ls`: a lab as found on this machine. */
export interface LabSummary {
  lab: string;
  backend: string;
  topology: string;
  /** ready, building or incomplete; `unknown` when only the system holds it (no lab.json). */
  phase: LabPhase | 'unknown';
  hosts: number;
  /** From the datastore; undefined when it does not answer. */
  workloads?: number;
  createdAt?: string;
  ageS?: number;
}

/** Every lab on the machine, from the backends and each lab's state; etcd is asked for workloads only. */
export async function listLabs(now = Date.now()): Promise<LabSummary[]> {
  return Promise.all(
    (await allLabs()).map(async ({ lab, backend }): Promise<LabSummary> => {
      let state: LabState;
      try {
        state = readLabState(lab);
      } catch {
        return { lab, backend: backend.kind, topology: '-', phase: 'unknown', hosts: 0 };
      }
      const workloads = await withDatastore(state, async (ds) => (await ds.list(keys.workloadEndpoints)).items.length, 2_000).catch(() => undefined);
      return {
        lab,
        backend: state.backend,
        topology: state.topology,
        phase: labPhase(state),
        hosts: state.hosts.length,
        ...(workloads !== undefined ? { workloads } : {}),
        createdAt: state.createdAt,
        ageS: Math.max(0, Math.round((now - Date.parse(state.createdAt)) / 1000)),
      };
    }),
  );
}
