import { configure } from '../bgp/bird.js';
import { writeBirdConfig } from '../bgp/confd.js';
import { deleteWorkload } from '../cni/workload.js';
import { keys } from '../datastore/keys.js';
import { Ipam } from '../ipam/ipam.js';
import type { WorkloadEndpoint } from '../model/resources.js';
import { FIRST_HOST_ORDINAL, type HostPlan } from '../model/topology.js';
import { ipAt } from '../net/cidr.js';
import { InputError } from '../util/errors.js';
import { cniEnv } from './cni-env.js';
import { registerNodes, routerConfig, startHostDaemons } from './bootstrap.js';
import { waitForRoutes } from './readiness.js';
import { withDatastore } from './lab.js';
import { NAME_RE } from '../model/names.js';
import { requireRoot } from './preflight.js';
import { backendOf } from './backends/index.js';
import { hostState, inAgentGroup, writeLabState, type LabState } from './state.js';
import { rmSync } from 'node:fs';
import { agentSpec, writeAgentGroupFile } from './daemons.js';

export interface HostOptions {
  asNumber?: number;
  /** Make the new host a route reflector with this cluster id. */
  routeReflector?: string;
  labels?: Record<string, string>;
}

/**
 * Adds a host to a running lab: namespace on the fabric, Node resource, BIRD and agent. The other
 * hosts' agents see the new Node in etcd and add it to their BIRD config by reload; routers
 * outside the cluster are re-rendered by the engine. Returns once the lab has converged again.
 */
export async function addHost(state: LabState, name: string, opts: HostOptions = {}): Promise<HostPlan> {
  requireRoot();
  if (!NAME_RE.test(name)) throw new InputError(`invalid host name "${name}": use 1-32 characters of a-z, 0-9 and "-"`);
  const taken = [...state.hosts.map((h) => h.name), ...state.routers.flatMap((r) => [r.name, ...r.clients.map((c) => c.name)])];
  if (taken.includes(name)) throw new InputError(`"${name}" is already a host or router of lab ${state.lab}`);
  const used = new Set(state.hosts.map((h) => h.ip));
  let ordinal = FIRST_HOST_ORDINAL;
  while (used.has(ipAt(state.plan.fabric.cidr, ordinal))) ordinal++;
  const { fabric, fabric6 } = state.plan;
  const at = (cidr: string) => {
    try {
      return ipAt(cidr, ordinal);
    } catch {
      throw new InputError(`the fabric ${cidr} of lab ${state.lab} is full: no address for another host`);
    }
  };
  const plan: HostPlan = {
    name,
    ip: at(fabric.cidr),
    // A dual-stack lab: the IPv6 fabric address at the same ordinal, as `up` gives its hosts.
    ...(fabric6 ? { ip6: at(fabric6.cidr), prefixLength6: fabric6.prefixLength } : {}),
    prefixLength: fabric.prefixLength,
    ...(opts.asNumber ? { asNumber: opts.asNumber } : {}),
    ...(opts.routeReflector ? { routeReflectorClusterId: opts.routeReflector } : {}),
    labels: { ...opts.labels, ...(opts.routeReflector ? { 'route-reflector': 'true' } : {}) },
  };
  const backend = backendOf(state);
  const own = hostState(state.dir, name, plan.ip, plan.asNumber ?? state.plan.asNumber, backend.hostNetns(state.lab, name));
  // A lab whose agents are shared gives a new host a shared-style process of its own.
  const hs = state.hosts.some((h) => h.agent.group) ? inAgentGroup(state.dir, own, `agents-${name}`) : own;
  await withDatastore(state, async (ds) => {
    // The Node first: a name taken in etcd (by a host outside this engine's view) stops us here.
    await registerNodes(ds, [plan]);
    try {
      await backend.addHosts(state.lab, state.plan, [plan]);
      await startHostDaemons(ds, state, [hs]);
    } catch (err) {
      await ds.delete(keys.node(name));
      await backend.removeNodes([hs.netns]);
      throw err;
    }
    state.hosts.push(hs);
    state.plan.hosts.push(plan);
    writeLabState(state);
    await reconfigureRouters(state);
    await waitForRoutes(ds, state, 30_000);
  });
  return plan;
}

/**
 * Removes a host from a running lab: its workloads (and their addresses), its blocks, its Node
 * resource, its daemons and namespace. The other hosts drop it from their BIRD config by reload.
 */
export async function deleteHost(state: LabState, name: string): Promise<{ workloads: string[]; blocks: string[] }> {
  requireRoot();
  const h = state.hosts.find((x) => x.name === name);
  if (!h) throw new InputError(`unknown host "${name}" in lab ${state.lab} (hosts: ${state.hosts.map((x) => x.name).join(', ')})`);
  if (state.hosts.length === 1) throw new InputError(`"${name}" is the last host of lab ${state.lab}: use calico-sim down`);
  const backend = backendOf(state);
  const result = await withDatastore(state, async (ds) => {
    const weps = (await ds.list<WorkloadEndpoint>(keys.workloadEndpoints)).items.map((i) => i.value).filter((w) => w.spec.node === name);
    for (const w of weps) await deleteWorkload(ds, state.lab, w.spec.workload, cniEnv(backend));
    // As Calico when a node goes: empty blocks deleted, the others keep their (borrowed) addresses without an owner.
    const { deleted: blocks } = await new Ipam(ds).releaseHostAffinities(name);
    await ds.delete(keys.node(name));
    await ds.delete(keys.agentStatus(name));
    return { workloads: weps.map((w) => w.spec.workload), blocks };
  });
  // A shared agent process lives outside the host's namespace: it is stopped, and restarted
  // without this host when it serves others (a restart costs nothing: routes stay).
  const group = h.agent.group;
  if (group && h.agent.pid && backend.daemonAlive(agentSpec(state, h), h.agent.pid)) backend.signalDaemon(h.agent.pid, 'SIGKILL');
  await backend.removeNodes([h.netns]);
  rmSync(h.dir, { recursive: true, force: true });
  state.hosts = state.hosts.filter((x) => x !== h);
  const rest = group ? state.hosts.filter((x) => x.agent.group === group) : [];
  if (rest.length > 0) {
    writeAgentGroupFile(state, group!, rest);
    const pid = await backend.startDaemon(agentSpec(state, rest[0]!));
    for (const x of rest) x.agent.pid = pid;
  }
  state.plan.hosts = state.plan.hosts.filter((x) => x.name !== name);
  writeLabState(state);
  await reconfigureRouters(state);
  return result;
}

/** Routers outside the cluster follow the host list: re-render and reload their BIRD. */
async function reconfigureRouters(state: LabState): Promise<void> {
  await Promise.all(
    state.routers.map(async (r) => {
      await writeBirdConfig(r.bird.config, routerConfig(state, r));
      await configure(r.bird.socket);
    }),
  );
}
