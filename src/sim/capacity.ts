import { MAX_FABRIC_NODES } from './backends/fabric-bridges.js';
import { readFileSync } from 'node:fs';
import { parseSelector } from '../model/selector.js';
import type { LabPlan } from '../model/topology.js';
import { sharedAgents } from './state.js';

/**
 * What a lab will cost this machine, estimated before anything is built, and whether the machine
 * can hold it. The per-part figures are the ones measured on the project's machines (DESIGN.md:
 * agent RSS, BIRD RSS by session count, up time by lab size); they are estimates, stated as such.
 */
export interface LabEstimate {
  hosts: number;
  workloads: number;
  namespaces: number;
  /** BGP sessions of the busiest host, and of the whole lab. */
  sessionsPerHost: number;
  sessions: number;
  /** Entries in the kernel's neighbour table, which every namespace shares. */
  neighbours: number;
  /** Long-lived processes (etcd, BIRDs, agents) and their threads. */
  processes: number;
  threads: number;
  memoryMB: number;
  seconds: number;
}

/** What the machine has, read from /proc (a pure estimate takes it as an argument). */
export interface MachineFacts {
  memAvailableMB: number;
  pidMax: number;
  threadsMax: number;
  /** The hard limit of open files per process (RLIMIT_NOFILE): Node raises its soft limit to it at start-up, and the daemons inherit that. */
  openFilesMax: number;
}

/** Measured per part: an agent process, BIRD by its sessions and routes, etcd, a namespace. */
const COST = {
  /** A process per host (up mesh --hosts 20/40: 94/96 MB each). */
  agentMB: 100,
  /** A shared process: its base, and per host it serves (30 hosts in one process: 141 MB). */
  sharedAgentMB: 45,
  sharedAgentPerHostMB: 3.5,
  agentThreads: 11,
  birdMB: 2.5,
  birdPerSessionMB: 0.02,
  birdPerRouteMB: 0.002,
  etcdMB: 80,
  netnsMB: 0.3,
  cliMB: 120,
} as const;

/** The neighbour-table ceiling the preflight raises gc_thresh3 to. */
export const NEIGHBOUR_CEILING = 65_536;
/** Files a BIRD holds open besides a socket per BGP session (log, control socket, netlink, BFD). */
const FILES_BESIDES_SESSIONS = 64;
/** Share of the available memory a lab may plan to take. */
const MEMORY_SHARE = 0.8;
/** Beyond this estimated build time a lab is refused unless told otherwise. */
const MAX_SECONDS = 30 * 60;

export function estimateLab(plan: LabPlan): LabEstimate {
  const hosts = plan.hosts.length;
  const workloads = plan.workloads.length;
  const routers = plan.routers.length;
  const clients = plan.routers.reduce((n, r) => n + r.clients.length, 0);
  const { sessions, sessionsPerHost } = countSessions(plan);
  const blocks = Math.max(hosts, Math.ceil(workloads / 64));
  const namespaces = 1 + hosts + workloads + routers + clients;
  const birds = hosts + routers;
  const agentProcesses = sharedAgents(plan) ? Math.ceil(hosts / plan.agents.hostsPerProcess) : hosts;
  const agentsMB = sharedAgents(plan) ? agentProcesses * COST.sharedAgentMB + hosts * COST.sharedAgentPerHostMB : hosts * COST.agentMB;
  const memoryMB = COST.cliMB + COST.etcdMB + agentsMB + namespaces * COST.netnsMB + birds * (COST.birdMB + blocks * COST.birdPerRouteMB) + 2 * sessions * COST.birdPerSessionMB;
  // Up, measured with agents that react only to what concerns their host: mesh 20 hosts × 1
  // workload 10 s, 40 × 1 22 s (`calico-sim up mesh --hosts N`), on 2 cores.
  const seconds = 1 + 0.27 * (hosts + workloads);
  return {
    hosts,
    workloads,
    namespaces,
    sessionsPerHost,
    sessions,
    neighbours: 2 * sessions + 2 * workloads + hosts,
    processes: 1 + birds + agentProcesses,
    threads: 10 + birds + agentProcesses * COST.agentThreads,
    memoryMB: Math.round(memoryMB),
    seconds: Math.round(seconds),
  };
}

/**
 * BGP sessions the plan implies: the node-to-node mesh, BGPPeers (a peerIP, or the hosts a
 * peerSelector picks, on the nodes their nodeSelector picks) and the routers' sessions.
 */
function countSessions(plan: LabPlan): { sessions: number; sessionsPerHost: number } {
  const hosts = plan.hosts;
  const degree = new Map(hosts.map((h) => [h.name, plan.meshEnabled ? hosts.length - 1 : 0]));
  let sessions = plan.meshEnabled ? (hosts.length * (hosts.length - 1)) / 2 : 0;
  const pairs = new Set<string>();
  const select = (selector: string | undefined) => {
    if (selector === undefined) return hosts;
    const sel = parseSelector(selector);
    return hosts.filter((h) => sel.matches({ ...h.labels, 'projectcalico.org/name': h.name }));
  };
  const bump = (host: string) => degree.set(host, (degree.get(host) ?? 0) + 1);
  for (const p of plan.peers) {
    const nodes = p.node ? hosts.filter((h) => h.name === p.node) : select(p.nodeSelector);
    const targets = p.peerIP || plan.meshEnabled ? [] : select(p.peerSelector); // once per peer, not per node
    for (const n of nodes) {
      if (p.peerIP) {
        sessions++;
        bump(n.name);
        continue;
      }
      if (plan.meshEnabled) continue; // host-to-host sessions the mesh already has
      for (const t of targets) {
        const key = [n.name, t.name].sort().join(' ');
        if (t.name === n.name || pairs.has(key)) continue;
        pairs.add(key);
        sessions++;
        bump(n.name);
        bump(t.name);
      }
    }
  }
  for (const r of plan.routers) {
    for (const h of select(r.hostSelector)) {
      sessions++;
      bump(h.name);
    }
  }
  return { sessions, sessionsPerHost: Math.max(0, ...degree.values()) };
}

/**
 * Why this machine cannot hold the lab (empty: it can). `hard` reasons no override lifts; the
 * others an explicit `--ignore-limits` does.
 */
export function capacityProblems(e: LabEstimate, m: MachineFacts): { hard: string[]; soft: string[] } {
  const hard: string[] = [];
  const soft: string[] = [];
  // A hard limit of the lab's construction (not of the machine): no override makes it fit.
  if (e.hosts + 10 > MAX_FABRIC_NODES) hard.push(`${e.hosts} hosts: the fabric's bridges hold at most ${MAX_FABRIC_NODES} hosts and routers`);
  if (e.memoryMB > m.memAvailableMB * MEMORY_SHARE) soft.push(`needs about ${fmtMB(e.memoryMB)} of memory, ${fmtMB(m.memAvailableMB)} is available`);
  if (e.neighbours > NEIGHBOUR_CEILING) soft.push(`needs about ${e.neighbours} neighbour entries, more than the ${NEIGHBOUR_CEILING} the kernel's shared table is raised to`);
  if (e.threads > m.threadsMax / 2 || e.processes > m.pidMax / 2)
    soft.push(`needs about ${e.threads} threads in ${e.processes} processes (kernel limits: threads-max ${m.threadsMax}, pid_max ${m.pidMax})`);
  // The busiest BIRD holds a socket per session, plus its log, control socket, netlink...
  if (e.sessionsPerHost + FILES_BESIDES_SESSIONS > m.openFilesMax)
    soft.push(
      `its busiest BIRD needs about ${e.sessionsPerHost + FILES_BESIDES_SESSIONS} open files, more than the hard limit of ${m.openFilesMax} (raise it: ulimit -Hn, or LimitNOFILE of the service that runs calico-sim)`,
    );
  if (e.seconds > MAX_SECONDS) soft.push(`would take about ${fmtDuration(e.seconds)} to build`);
  return { hard, soft };
}

export function describeEstimate(e: LabEstimate): string {
  return (
    `${e.hosts} hosts, ${e.workloads} workloads, ${e.namespaces} namespaces, ${e.sessions} BGP sessions (${e.sessionsPerHost} on the busiest host), ` +
    `about ${fmtMB(e.memoryMB)} of memory, ${e.neighbours} neighbour entries, ${e.processes} processes, ${fmtDuration(e.seconds)} to build`
  );
}

export function machineFacts(): MachineFacts {
  const meminfo = readFileSync('/proc/meminfo', 'utf8');
  const kb = Number(/^MemAvailable:\s+(\d+)/m.exec(meminfo)?.[1] ?? 0);
  const num = (f: string) => Number(readFileSync(f, 'utf8').trim());
  return { memAvailableMB: Math.round(kb / 1024), pidMax: num('/proc/sys/kernel/pid_max'), threadsMax: num('/proc/sys/kernel/threads-max'), openFilesMax: openFilesHardLimit() };
}

function fmtMB(mb: number): string {
  return mb >= 1024 ? `${(mb / 1024).toFixed(1)} GB` : `${mb} MB`;
}

function fmtDuration(s: number): string {
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

/** The hard RLIMIT_NOFILE of this process, from /proc/self/limits ("unlimited" reads as Infinity). */
function openFilesHardLimit(): number {
  const hard = /^Max open files\s+\S+\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1];
  return hard === undefined ? 1024 : hard === 'unlimited' ? Infinity : Number(hard);
}
