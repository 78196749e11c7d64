/**
 * Names inside a lab: the /etc/hosts a command started by `calico-sim exec` sees, so that
 * `exec w1 -- ping w3` works. The file lives in the lab's state directory; exec bind-mounts it
 * over /etc/hosts inside the private mount namespace `ip netns exec` makes, so the machine's own
 * /etc/hosts is never touched (and nothing is left to remove).
 */
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { keys } from '../datastore/keys.js';
import type { WorkloadEndpoint } from '../model/resources.js';
import { withDatastore } from './lab.js';
import type { LabState } from './state.js';

export interface NamedAddress {
  name: string;
  ip: string;
}

export interface NamedWorkload {
  name: string;
  namespace: string;
  /** Its addresses, with or without a prefix length (an endpoint's ipNetworks: 198.19.0.5/32). */
  ips: readonly string[];
}

/**
 * An /etc/hosts: the loopback names, then every host, router and outside client by its fabric
 * or LAN address, then every workload by `<name>` and `<name>.<namespace>` (one line per address,
 * IPv4 and IPv6).
 */
export function renderEtcHosts(nodes: readonly NamedAddress[], workloads: readonly NamedWorkload[]): string {
  const lines = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback', '', '# the lab (calico-sim exec)'];
  for (const n of nodes) lines.push(`${n.ip}\t${n.name}`);
  for (const w of [...workloads].sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }))) {
    for (const ip of w.ips) lines.push(`${ip.replace(/\/\d+$/, '')}\t${w.name} ${w.name}.${w.namespace}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Writes the lab's hosts file from its state and its workload endpoints; returns its path. */
export async function writeEtcHosts(state: LabState): Promise<string> {
  // Without etcd (a lab being debugged) the nodes' names still resolve: exec must not fail for it.
  const weps = await withDatastore(state, async (ds) => (await ds.list<WorkloadEndpoint>(keys.workloadEndpoints)).items.map((i) => i.value)).catch((): WorkloadEndpoint[] => []);
  const nodes = [...state.hosts, ...state.routers, ...state.routers.flatMap((r) => r.clients)].map((n) => ({ name: n.name, ip: n.ip }));
  const text = renderEtcHosts(
    nodes,
    weps.map((w) => ({ name: w.spec.workload, namespace: w.metadata.namespace ?? 'default', ips: w.spec.ipNetworks })),
  );
  const path = join(state.dir, 'etc-hosts');
  // Whole or not at all: another exec may be reading it.
  const tmp = `${path}.${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
  return path;
}
