/**
 * A new lab's first state: the datastore's initial resources (pools, BGP settings, peers, one
 * Node per host), the routers' BIRD configs, and the hosts' first BIRD config and daemons.
 */
import { mkdirSync } from 'node:fs';
import { writeBirdConfig } from '../bgp/confd.js';
import { renderBirdConfig } from '../bgp/render.js';
import { computeDesired } from '../agent/desired.js';
import { keys } from '../datastore/keys.js';
import { Ipam } from '../ipam/ipam.js';
import { readSnapshot } from '../datastore/snapshot.js';
import type { Datastore } from '../datastore/store.js';
import { API_VERSION, LAB_API_VERSION, type LabConfiguration, type BGPConfiguration, type BGPPeer, type CalicoNode, type IPPool, type Tier } from '../model/resources.js';
import { DEFAULT_TIER, DEFAULT_TIER_ORDER } from '../policy/model.js';
import type { HostPlan, LabPlan } from '../model/topology.js';
import { renderRouterConfig } from '../bgp/router.js';
import { parseSelector } from '../model/selector.js';
import { DatastoreError } from '../util/errors.js';
import { backendOf } from './backends/index.js';
import { agentDaemons, birdSpec, writeAgentGroupFile } from './daemons.js';
import type { HostState, LabState, RouterState } from './state.js';
import { settled } from '../util/settled.js';

export async function seedDatastore(ds: Datastore, plan: LabPlan): Promise<void> {
  const bgp: BGPConfiguration = {
    apiVersion: API_VERSION,
    kind: 'BGPConfiguration',
    metadata: { name: 'default' },
    spec: { asNumber: plan.asNumber, nodeToNodeMeshEnabled: plan.meshEnabled },
  };
  await ds.put(keys.bgpConfiguration(), bgp);
  // The harness's own knobs (timers, BFD) go in a record of its own: Calico's kinds hold only Calico's fields.
  const lab: LabConfiguration = { apiVersion: LAB_API_VERSION, kind: 'LabConfiguration', metadata: { name: 'default' }, spec: { bgp: plan.timers } };
  await ds.put(keys.labConfiguration(), lab);
  // Which policy ruleset the agents program (Calico's FelixConfiguration nftablesMode), and
  // workloads may reach their host: Felix's default is Drop, Calico's manifests set Accept
  // (FELIX_DEFAULTENDPOINTTOHOSTACTION), and so does a lab.
  await ds.put(keys.felixConfiguration(), {
    apiVersion: API_VERSION,
    kind: 'FelixConfiguration',
    metadata: { name: 'default' },
    spec: { nftablesMode: plan.dataplane === 'nftables' ? 'Enabled' : 'Disabled', defaultEndpointToHostAction: 'Accept' },
  });
  // The tier every policy that names none is in, as Calico makes it at start-up (clientv3 EnsureInitialized).
  const tier: Tier = { apiVersion: API_VERSION, kind: 'Tier', metadata: { name: DEFAULT_TIER }, spec: { order: DEFAULT_TIER_ORDER, defaultAction: 'Deny' } };
  await ds.put(keys.tier(DEFAULT_TIER), tier);
  const ipam = new Ipam(ds);
  for (const p of plan.pools) {
    const pool: IPPool = {
      apiVersion: API_VERSION,
      kind: 'IPPool',
      metadata: { name: p.name },
      spec: { cidr: p.cidr, blockSize: p.blockSize, ipipMode: 'Never', vxlanMode: p.vxlan ? 'Always' : 'Never', natOutgoing: p.natOutgoing, nodeSelector: 'all()' },
    };
    await ipam.ensurePool(pool);
  }
  const peers: BGPPeer[] = [
    ...plan.peers.map(({ name, ...spec }): BGPPeer => ({ apiVersion: API_VERSION, kind: 'BGPPeer', metadata: { name }, spec })),
    // Each router outside the cluster is an explicit peer of the hosts it serves.
    ...plan.routers.map(
      (r): BGPPeer => ({
        apiVersion: API_VERSION,
        kind: 'BGPPeer',
        metadata: { name: `router-${r.name}` },
        spec: { peerIP: r.ip, asNumber: r.asNumber, nodeSelector: r.hostSelector, ...(r.allowLocalAs ? { numAllowedLocalASNumbers: r.allowLocalAs } : {}) },
      }),
    ),
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
    name: r.name,
    routerId: r.ip,
    asNumber: r.as,
    network: plan.network.cidr,
    neighbors: [
      ...hosts.map((h) => ({ name: `host ${h.name}`, ip: h.ip, asNumber: h.asNumber ?? state.plan.asNumber })),
      ...routers.map((x) => ({ name: `router ${x.name}`, ip: x.ip, asNumber: x.asNumber })),
    ],
  });
}

export async function startRouters(state: LabState): Promise<void> {
  const backend = backendOf(state);
  await Promise.all(
    state.routers.map(async (r) => {
      mkdirSync(r.dir, { recursive: true });
      await writeBirdConfig(r.bird.config, routerConfig(state, r));
      r.bird.pid = await backend.startDaemon(birdSpec(r));
    }),
  );
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

/**
 * Renders each host's first BIRD config from the datastore, then starts BIRD, and the agents
 * serving these hosts: a process per host, or one per group of hosts (writing its hosts file).
 */
export async function startHostDaemons(ds: Datastore, state: LabState, hosts: HostState[]): Promise<void> {
  const snap = await readSnapshot(ds);
  const backend = backendOf(state);
  await settled(
    hosts.map(async (h) => {
      mkdirSync(h.dir, { recursive: true });
      await writeBirdConfig(h.bird.config, renderBirdConfig(computeDesired(snap, h.name).bird));
      h.bird.pid = await backend.startDaemon(birdSpec(h));
    }),
  );
  for (const { spec, hosts: served } of agentDaemons(state, hosts)) {
    const group = served[0]!.agent.group;
    if (group) writeAgentGroupFile(state, group, served);
    const pid = await backend.startDaemon(spec);
    for (const h of served) h.agent.pid = pid;
  }
}
