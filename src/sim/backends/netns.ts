import { existsSync, readdirSync, rmSync } from 'node:fs';
import type { HostPlan, LabPlan } from '../../model/topology.js';
import { ipBatch } from '../../util/exec.js';
import type { Backend, DestroyReport } from '../backend.js';
import { labOfNetns, names, NETNS_PREFIX, STATE_ROOT } from '../names.js';
import { killAll, pidsInNetns } from '../procs.js';

const BRIDGE = 'br0';

/** The embedded backend: plain network namespaces, veth pairs and one Linux bridge. */
export class NetnsBackend implements Backend {
  readonly kind = 'netns';

  fabricNetns(lab: string): string {
    return names.fabricNs(lab);
  }

  hostNetns(lab: string, host: string): string {
    return names.hostNs(lab, host);
  }

  async createFabric(lab: string, plan: LabPlan): Promise<void> {
    const ns = this.fabricNetns(lab);
    await ipBatch(undefined, [`netns add ${ns}`]);
    await ipBatch(ns, [
      'link set lo up',
      `link add ${BRIDGE} type bridge`,
      `addr add ${plan.fabric.gatewayIp}/${plan.fabric.prefixLength} dev ${BRIDGE}`,
      `link set ${BRIDGE} up`,
    ]);
  }

  async addHosts(lab: string, plan: LabPlan, hosts: HostPlan[]): Promise<void> {
    const fabric = this.fabricNetns(lab);
    await ipBatch(undefined, hosts.map((h) => `netns add ${this.hostNetns(lab, h.name)}`));
    await ipBatch(fabric, hosts.flatMap((h) => {
      const port = names.fabricPort(h.name);
      return [
        `link add ${port} type veth peer name eth0 netns ${this.hostNetns(lab, h.name)}`,
        `link set ${port} master ${BRIDGE}`,
        `link set ${port} up`,
      ];
    }));
    // One batch per host namespace (ip -batch cannot switch namespaces), all at once.
    await Promise.all(hosts.map((h) => ipBatch(this.hostNetns(lab, h.name), [
      'link set lo up',
      `addr add ${h.ip}/${h.prefixLength} dev eth0`,
      'link set eth0 up',
      `route add default via ${plan.fabric.gatewayIp} dev eth0`,
    ])));
  }

  async labs(): Promise<string[]> {
    const fromNetns = listNetns().map(labOfNetns).filter((l): l is string => !!l);
    const fromState = existsSync(STATE_ROOT) ? readdirSync(STATE_ROOT) : [];
    return [...new Set([...fromNetns, ...fromState])].sort();
  }

  async destroy(lab: string): Promise<DestroyReport> {
    const mine = listNetns().filter((ns) => labOfNetns(ns) === lab);
    // Every daemon of a lab (etcd, BIRD, agents, probes) runs in one of its namespaces.
    const pids = pidsInNetns(mine);
    await killAll(pids);
    // Deleting a namespace deletes the veths and the bridge inside it.
    await ipBatch(undefined, mine.map((ns) => `netns del ${ns}`), { force: true }).catch(() => undefined);
    const stateDir = names.stateDir(lab);
    const hadState = existsSync(stateDir);
    rmSync(stateDir, { recursive: true, force: true });
    return { lab, namespaces: mine, processes: pids.length, stateDir: hadState ? stateDir : undefined };
  }
}

function listNetns(): string[] {
  return existsSync('/run/netns') ? readdirSync('/run/netns').filter((n) => n.startsWith(NETNS_PREFIX)) : [];
}
