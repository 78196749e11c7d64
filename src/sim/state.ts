import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { AUTO_SHARED_ABOVE, type LabPlan } from '../model/topology.js';
import { NoSuchLabError } from '../util/errors.js';
import { LAB_RE } from '../model/names.js';
import { names, STATE_ROOT } from './names.js';

/** A node with a BIRD of its own: a host or a router. Written to <state>/<lab>/lab.json. */
interface BgpSpeakerState {
  name: string;
  netns: string;
  ip: string;
  as: number;
  dir: string;
  bird: { config: string; socket: string; log: string; pid?: number };
}

/** A host: its BIRD and its agent. */
export interface HostState extends BgpSpeakerState {
  /**
   * Its agent. `group`: the shared agent process serving it with other hosts (its pid and log
   * are then the group's); without it, a process of its own in the host's namespace.
   */
  agent: { log: string; pid?: number; group?: string };
}

/** A router outside the cluster: its BIRD, and the outside clients on its LAN. */
export interface RouterState extends BgpSpeakerState {
  clients: { name: string; netns: string; ip: string }[];
}

/**
 * The process building the lab (`up`), while it builds: its pid and its start time in the
 * kernel's clock ticks (/proc/<pid>/stat field 22), which tells it apart from a later process
 * that got the same pid. Gone from lab.json once the lab is up.
 */
export interface Builder {
  pid: number;
  start: string;
}

export interface LabState {
  lab: string;
  /** Set while `up` builds the lab; a builder that no longer runs left the lab incomplete. */
  builder?: Builder;
  backend: string;
  createdAt: string;
  topology: string;
  plan: LabPlan;
  dir: string;
  fabric: { netns: string; gatewayIp: string };
  etcd: { endpoints: string[]; clientUrl: string; dataDir: string; log: string; pid?: number };
  hosts: HostState[];
  routers: RouterState[];
}

export function labFile(lab: string): string {
  return `${names.stateDir(lab)}/lab.json`;
}

export function readLabState(lab: string): LabState {
  const file = labFile(lab);
  if (!existsSync(file)) throw new NoSuchLabError(lab, labsWithState());
  return JSON.parse(readFileSync(file, 'utf8')) as LabState;
}

/** Labs that have a state directory with a lab.json. */
export function labsWithState(): string[] {
  if (!existsSync(STATE_ROOT)) return [];
  return readdirSync(STATE_ROOT)
    .filter((d) => LAB_RE.test(d) && existsSync(`${STATE_ROOT}/${d}/lab.json`))
    .sort();
}

/** This process, as a builder record. */
export function thisBuilder(): Builder {
  return { pid: process.pid, start: processStart(process.pid) ?? '' };
}

/** The start time of a process (clock ticks after boot), or undefined if it does not run. */
export function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): state is field 3, starttime 22.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[0] === 'Z' ? undefined : fields[19];
  } catch {
    return undefined;
  }
}

/** ready: built; building: its builder still runs; incomplete: the builder died before the end. */
export type LabPhase = 'ready' | 'building' | 'incomplete';

export function labPhase(s: Pick<LabState, 'builder'>): LabPhase {
  if (!s.builder) return 'ready';
  return processStart(s.builder.pid) === s.builder.start ? 'building' : 'incomplete';
}

const CLAIM_PREFIX = '.claim-';

/**
 * Claims the lab's name by creating its state directory with lab.json already inside: a
 * directory made aside, then renamed into place (atomic; fails when the name is taken). So a
 * lab's directory always has a lab.json that names its builder, even if `up` is killed at once.
 * False if the name is taken.
 */
export function claimStateDir(s: LabState): boolean {
  mkdirSync(STATE_ROOT, { recursive: true });
  const tmp = `${STATE_ROOT}/${CLAIM_PREFIX}${s.lab}-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  writeFileSync(`${tmp}/lab.json`, JSON.stringify(s, null, 2));
  try {
    renameSync(tmp, s.dir);
    return true;
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    if (['EEXIST', 'ENOTEMPTY', 'EISDIR', 'ENOTDIR'].includes((err as NodeJS.ErrnoException).code ?? '')) return false;
    throw err;
  }
}

/** Removes claim directories whose builder was killed between making and renaming them. */
export function removeStaleClaims(): string[] {
  if (!existsSync(STATE_ROOT)) return [];
  const stale = readdirSync(STATE_ROOT).filter((d) => {
    const m = d.startsWith(CLAIM_PREFIX) ? /-(\d+)$/.exec(d) : null;
    return m && processStart(Number(m[1])) === undefined;
  });
  for (const d of stale) rmSync(`${STATE_ROOT}/${d}`, { recursive: true, force: true });
  return stale;
}

export function writeLabState(s: LabState): void {
  mkdirSync(s.dir, { recursive: true });
  const tmp = `${labFile(s.lab)}.new`;
  writeFileSync(tmp, JSON.stringify(s, null, 2));
  renameSync(tmp, labFile(s.lab));
}

export const ETCD_CLIENT_PORT = 2379;

/** Paths and endpoints of a lab to be: pure, so `up` can write them before it starts anything. */
export interface NetnsNames {
  fabric: string;
  host(name: string): string;
  router(name: string): string;
  client(name: string): string;
}

export function initialState(lab: string, plan: LabPlan, backend: string, ns: NetnsNames, builder?: Builder): LabState {
  const dir = names.stateDir(lab);
  return {
    lab,
    ...(builder ? { builder } : {}),
    backend,
    createdAt: new Date().toISOString(),
    topology: plan.source,
    plan,
    dir,
    fabric: { netns: ns.fabric, gatewayIp: plan.fabric.gatewayIp },
    etcd: {
      // Agents reach etcd over the fabric, like calico-node does; the CLI, in the root namespace
      // where the fabric is not routed, through a unix socket of the same server.
      endpoints: [`http://${plan.fabric.gatewayIp}:${ETCD_CLIENT_PORT}`],
      clientUrl: `unix://${dir}/etcd:${ETCD_CLIENT_PORT}`,
      dataDir: `${dir}/etcd-data`,
      log: `${dir}/etcd.log`,
    },
    hosts: plan.hosts.map((h, i) => {
      const hs = hostState(dir, h.name, h.ip, h.asNumber ?? plan.asNumber, ns.host(h.name));
      return sharedAgents(plan) ? inAgentGroup(dir, hs, `agents-${Math.floor(i / plan.agents.hostsPerProcess) + 1}`) : hs;
    }),
    routers: plan.routers.map((r) => {
      const rdir = `${dir}/routers/${r.name}`;
      return {
        name: r.name,
        netns: ns.router(r.name),
        ip: r.ip,
        as: r.asNumber,
        dir: rdir,
        bird: { config: `${rdir}/bird.conf`, socket: `${rdir}/bird.ctl`, log: `${rdir}/bird.log` },
        clients: r.clients.map((c) => ({ name: c.name, netns: ns.client(c.name), ip: c.ip })),
      };
    }),
  };
}

/** Whether the lab's agents run in shared processes (the plan's choice, or its size). */
export function sharedAgents(plan: Pick<LabPlan, 'agents' | 'hosts'>): boolean {
  return plan.agents.mode === 'shared' || (plan.agents.mode === 'auto' && plan.hosts.length > AUTO_SHARED_ABOVE);
}

/** The host served by the shared agent process `group`, which logs to its own file. */
export function inAgentGroup(labDir: string, h: HostState, group: string): HostState {
  return { ...h, agent: { log: `${labDir}/agents/${group}.log`, group } };
}

export function hostState(labDir: string, name: string, ip: string, as: number, netns: string): HostState {
  const dir = `${labDir}/hosts/${name}`;
  return {
    name,
    netns,
    ip,
    as,
    dir,
    bird: { config: `${dir}/bird.conf`, socket: `${dir}/bird.ctl`, log: `${dir}/bird.log` },
    agent: { log: `${dir}/agent.log` },
  };
}
