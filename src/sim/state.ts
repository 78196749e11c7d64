import { existsSync, mkdirSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import type { LabPlan } from '../model/topology.js';
import { SimError } from '../util/errors.js';
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
  agent: { log: string; pid?: number };
}

/** A router outside the cluster: its BIRD, and the outside clients on its LAN. */
export interface RouterState extends BgpSpeakerState {
  clients: { name: string; netns: string; ip: string }[];
}

export interface LabState {
  lab: string;
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
  if (!existsSync(file)) throw new SimError(`no lab named "${lab}" (labs have a directory in ${STATE_ROOT})`);
  return JSON.parse(readFileSync(file, 'utf8')) as LabState;
}

/** Creates the lab's state directory; false if it exists already (the name is taken). */
export function claimStateDir(lab: string): boolean {
  mkdirSync(STATE_ROOT, { recursive: true });
  try {
    mkdirSync(names.stateDir(lab));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
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

export function initialState(lab: string, plan: LabPlan, backend: string, ns: NetnsNames): LabState {
  const dir = names.stateDir(lab);
  return {
    lab,
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
    hosts: plan.hosts.map((h) => hostState(dir, h.name, h.ip, h.asNumber ?? plan.asNumber, ns.host(h.name))),
    routers: plan.routers.map((r) => {
      const rdir = `${dir}/routers/${r.name}`;
      return {
        name: r.name, netns: ns.router(r.name), ip: r.ip, as: r.asNumber, dir: rdir,
        bird: { config: `${rdir}/bird.conf`, socket: `${rdir}/bird.ctl`, log: `${rdir}/bird.log` },
        clients: r.clients.map((c) => ({ name: c.name, netns: ns.client(c.name), ip: c.ip })),
      };
    }),
  };
}

export function hostState(labDir: string, name: string, ip: string, as: number, netns: string): HostState {
  const dir = `${labDir}/hosts/${name}`;
  return {
    name, netns, ip, as, dir,
    bird: { config: `${dir}/bird.conf`, socket: `${dir}/bird.ctl`, log: `${dir}/bird.log` },
    agent: { log: `${dir}/agent.log` },
  };
}
