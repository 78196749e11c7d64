import type { BirdInput } from '../bgp/render.js';
import type { Snapshot } from '../datastore/snapshot.js';
import type { BgpTimers, PolicyDataplaneKind } from '../model/resources.js';
import { hostOfAffinity } from '../ipam/blocks.js';
import { blockOf, cidrContains, cidrsOverlap, compareCidrs, familyOf, parseCidr } from '../net/cidr.js';
import { communityProblem } from '../model/pool-bgp-schemas.js';
import { errorMessage } from '../util/errors.js';
import { DEFAULT_AS, desiredSessions, listenPortOf, nodeAs, nodeIp } from '../bgp/peers.js';
import type { HostPolicyIR } from '../policy/ir.js';
import { resolvePolicy } from '../policy/resolve.js';

/**
 * Above this many nodes BIRD rescans the kernel every LARGE_LAB_SCAN_S instead of Calico's 2 s:
 * a thousand BIRDs on one machine each dumping a thousand routes every 2 s kept both cores busy.
 */
export const LARGE_LAB_NODES = 50;
export const LARGE_LAB_SCAN_S = 30;

/**
 * The protocol of the routes the agent programs: Felix's DeviceRouteProtocol, 3 (RTPROT_BOOT,
 * which `ip route` does not print), felix/config/config_params.go. The agent owns the `boot`
 * routes on workload interfaces (cali*) and on the VXLAN device; a local block's blackhole is
 * BIRD's (`proto bird`, from its static protocol), as on a Calico node.
 */
export const AGENT_ROUTE_PROTO = 'boot';

/** A route the agent owns. `via`: a next hop reached on `dev` without a connected route (onlink), for the VXLAN device. */
export type DesiredRoute = { dst: string; type: 'unicast'; dev: string; via?: string };

/** True for an interface whose routes the agent owns: a workload's veth, or the VXLAN device. */
export const isAgentDevice = (dev: string | undefined): boolean => !!dev && (dev.startsWith('cali') || dev === VXLAN_DEVICE);

/**
 * True for a kernel route (of the agent's protocol) that the agent owns: on its devices, or on
 * the fabric device with `onlink` — the VXLAN CrossSubnet routes to same-subnet nodes; the
 * host's own `proto boot` routes there (its default route) are never onlink.
 */
export const isAgentRoute = (r: { dev?: string | undefined; flags?: readonly string[] | undefined }): boolean =>
  isAgentDevice(r.dev) || (r.dev === FABRIC_DEVICE && (r.flags ?? []).includes('onlink'));

export const VXLAN_DEVICE = 'vxlan.calico';
/** A host's fabric interface (Felix's data device: the one holding the node's address). */
export const FABRIC_DEVICE = 'eth0';
export const VXLAN_VNI = 4096;
export const VXLAN_PORT = 4789;

/** Calico's VXLAN mode: a device, and for every other host its tunnel endpoint (address, MAC). */
export interface VxlanState {
  localIp: string;
  mac: string;
  peers: { ip: string; mac: string }[];
}

/** The kernel state one host should have: computed from the datastore alone, no I/O. */
export interface DesiredState {
  routes: DesiredRoute[];
  /** Host-side veths of local workloads: each gets workloadIfaceSysctls() once it exists. */
  workloadIfaces: string[];
  /** Present when a pool is in VXLAN mode. */
  vxlan?: VxlanState;
  /** The iptables `nat` table: masquerade for pools with natOutgoing (empty when none has it). */
  natTable: string;
  /** Network policy for the local endpoints, and which ruleset enforces it. */
  policy: HostPolicyIR;
  policyDataplane: PolicyDataplaneKind;
  /** What could not be programmed as stored (a policy or profile failing validation, a BGP password that cannot be read): skipped, and reported as errors. */
  problems: string[];
  bird: BirdInput;
}

/** A tunnel endpoint's MAC, derived from its host address: locally administered, unicast. */
export function vtepMac(ip: string): string {
  return ['66', '00', ...ip.split('.').map((o) => Number(o).toString(16).padStart(2, '0'))].join(':');
}

/**
 * Pure: the whole `nat` table as iptables-restore reads it. Traffic from a natOutgoing pool to
 * anything outside every pool leaves with the host's address (Calico's cali-nat-outgoing).
 */
export function natTable(natPools: string[], allPools: string[]): string {
  if (natPools.length === 0) return '';
  return [
    '*nat',
    ':PREROUTING ACCEPT [0:0]',
    ':INPUT ACCEPT [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    ':POSTROUTING ACCEPT [0:0]',
    ':cali-nat-outgoing - [0:0]',
    '-A POSTROUTING -m comment --comment "calico-sim:nat-outgoing" -j cali-nat-outgoing',
    ...allPools.map((p) => `-A cali-nat-outgoing -d ${p} -j RETURN`),
    ...natPools.map((p) => `-A cali-nat-outgoing -s ${p} -j MASQUERADE`),
    'COMMIT',
    '',
  ].join('\n');
}

export const HOST_SYSCTLS: Record<string, string> = {
  'net.ipv4.ip_forward': '1',
  // The kernel applies max(all, interface): `all` at 0 makes each workload interface's
  // rp_filter=1 strict, whatever the machine's default (systemd sets 2, loose, for new namespaces).
  'net.ipv4.conf.all.rp_filter': '0',
  'net.ipv6.conf.all.forwarding': '1',
};

function bgpTimers(s: Snapshot): BgpTimers {
  return s.labConfiguration?.spec.bgp ?? {};
}

export function computeDesired(s: Snapshot, host: string): DesiredState {
  const problems: string[] = [];
  const me = s.nodes.find((n) => n.metadata.name === host);
  const localBlocks = s.blocks
    .filter((b) => !b.deleted && hostOfAffinity(b.affinity) === host)
    .map((b) => b.cidr)
    .sort(compareCidrs);
  // A local block's blackhole comes from BIRD's static protocol (bird_aggr.cfg.template), not from here.
  const routes: DesiredRoute[] = [];
  const local = s.workloadEndpoints.filter((w) => w.spec.node === host);
  // A disabled pool gives no new addresses but is still routed (Calico); only disableBGPExport
  // keeps a pool's prefixes from the peers.
  const pools = s.pools.map((p) => p.spec.cidr);
  const noExport = s.pools.filter((p) => p.spec.disableBGPExport).map((p) => p.spec.cidr);
  const ipv6Address = me?.spec.bgp.ipv6Address?.split('/')[0];
  for (const wep of local) {
    for (const dst of wep.spec.ipNetworks) routes.push({ dst, type: 'unicast', dev: wep.spec.interfaceName });
  }
  // VXLAN mode: other hosts' blocks in a VXLAN pool are reached through the tunnel, not the
  // fabric (these routes outrank BIRD's, which carry metric 32). CrossSubnet: a block of a node in
  // this node's subnet is routed to that node without encapsulation, by the agent (Felix's
  // noEncapRoute on the data device, felix/dataplane/linux/vxlan_mgr.go); Always never.
  // A disabled pool only stops giving addresses: its VXLAN and NAT stay, as Felix keeps them.
  const v4Pools = s.pools.filter((p) => familyOf(p.spec.cidr) === 4);
  const vxlanPools = v4Pools.filter((p) => p.spec.vxlanMode !== 'Never');
  const others = s.nodes.filter((n) => n.metadata.name !== host);
  const othersByName = new Map(others.map((n) => [n.metadata.name, n]));
  const ownerOf = (affinity: string | null | undefined) => othersByName.get(hostOfAffinity(affinity) ?? '');
  // Felix's nodeInOurSubnet (felix/calc/l3_route_resolver.go): the node's address inside the
  // network of this node's spec.bgp.ipv4Address.
  const mySubnet = me ? subnetOf(me.spec.bgp.ipv4Address) : undefined;
  const inMySubnet = (n: (typeof s.nodes)[number]) => mySubnet !== undefined && cidrContains(mySubnet, nodeIp(n));
  let vxlan: VxlanState | undefined;
  if (me && vxlanPools.length > 0) {
    vxlan = { localIp: nodeIp(me), mac: vtepMac(nodeIp(me)), peers: others.map((n) => ({ ip: nodeIp(n), mac: vtepMac(nodeIp(n)) })) };
    for (const b of s.blocks) {
      const owner = ownerOf(b.affinity);
      const pool = owner && vxlanPools.find((p) => cidrsOverlap(p.spec.cidr, b.cidr));
      if (!owner || !pool) continue;
      const sameSubnet = pool.spec.vxlanMode === 'CrossSubnet' && inMySubnet(owner);
      routes.push({ dst: b.cidr, type: 'unicast', dev: sameSubnet ? FABRIC_DEVICE : VXLAN_DEVICE, via: nodeIp(owner) });
    }
  }
  // IP-in-IP CrossSubnet: BIRD routes the blocks directly (confd's krt_tunnel = "" when the next
  // hop is in this node's subnet); a node in another subnet is where Calico would tunnel (tunl0).
  const ipipPools = v4Pools.filter((p) => p.spec.ipipMode === 'CrossSubnet');
  if (me && ipipPools.length > 0) {
    const across = new Map<string, string>(); // node name → its address
    for (const b of s.blocks) {
      const owner = ownerOf(b.affinity);
      if (owner && !inMySubnet(owner) && ipipPools.some((p) => cidrsOverlap(p.spec.cidr, b.cidr))) across.set(owner.metadata.name, nodeIp(owner));
    }
    for (const [n, ip] of [...across].sort(([a], [b]) => a.localeCompare(b)))
      problems.push(
        `IP-in-IP CrossSubnet: node ${n} (${ip}) is outside this node's subnet ${mySubnet ?? '(none)'}, where Calico tunnels through tunl0; this kernel has no IP-in-IP, so its blocks are routed directly`,
      );
  }
  return {
    routes,
    workloadIfaces: local.map((w) => w.spec.interfaceName).sort(),
    ...(vxlan ? { vxlan } : {}),
    natTable: natTable(
      v4Pools.filter((p) => p.spec.natOutgoing).map((p) => p.spec.cidr),
      v4Pools.map((p) => p.spec.cidr),
    ),
    policy: { ...resolvePolicy(s, host, (p) => problems.push(p)), ...(vxlan ? { vxlanPeers: vxlan.peers.map((p) => `${p.ip}/32`) } : {}) },
    problems,
    policyDataplane: s.felixConfiguration?.spec.nftablesMode === 'Enabled' ? 'nftables' : 'iptables',
    bird: {
      host,
      routerId: me ? nodeIp(me) : '0.0.0.0',
      asNumber: me ? nodeAs(s, me) : DEFAULT_AS,
      ...(me?.spec.bgp.routeReflectorClusterID ? { rrClusterId: me.spec.bgp.routeReflectorClusterID } : {}),
      sessions: desiredSessions(s, host, (p) => problems.push(p)),
      ...(s.nodes.length > LARGE_LAB_NODES ? { scanTimeS: LARGE_LAB_SCAN_S } : {}),
      localBlocks: localBlocks.filter((b) => familyOf(b) === 4),
      pools: pools.filter((p) => familyOf(p) === 4),
      ...(noExport.some((p) => familyOf(p) === 4) ? { noExportPools: noExport.filter((p) => familyOf(p) === 4) } : {}),
      ...(ipv6Address && pools.some((p) => familyOf(p) === 6)
        ? {
            ipv6: {
              address: ipv6Address,
              localBlocks: localBlocks.filter((b) => familyOf(b) === 6),
              pools: pools.filter((p) => familyOf(p) === 6),
              ...(noExport.some((p) => familyOf(p) === 6) ? { noExportPools: noExport.filter((p) => familyOf(p) === 6) } : {}),
            },
          }
        : {}),
      timers: bgpTimers(s),
      ...(s.bgpFilters?.length ? { bgpFilters: s.bgpFilters.map((f) => ({ name: f.metadata.name, spec: f.spec })) } : {}),
      ...bgpAdvertising(s, host, (p) => problems.push(p)),
    },
  };
}

/**
 * What BGPConfiguration says of this node's BGP (confd's client.go and templates): the port it
 * listens on (its own `node.<name>` config, else `default`), bindMode, the communities of its
 * prefixAdvertisements (its own list replaces the global one; names resolved through both
 * configs' `communities`), and the service ranges every node announces.
 */
function bgpAdvertising(s: Snapshot, host: string, warn: (problem: string) => void): Pick<BirdInput, 'listenPort' | 'strictBind' | 'ignoredInterfaces' | 'communities' | 'services'> {
  const global = s.bgpConfiguration?.spec;
  const own = s.nodeBgpConfigurations?.find((c) => c.metadata.name === `node.${host}`)?.spec;
  const listenPort = listenPortOf(s, host);
  const named = new Map([...(global?.communities ?? []), ...(own?.communities ?? [])].map((c) => [c.name, c.value]));
  const communities = (own?.prefixAdvertisements ?? global?.prefixAdvertisements ?? []).flatMap((a) => {
    const values = a.communities.flatMap((c) => {
      const value = named.get(c) ?? c;
      if (!communityProblem(value)) return [value];
      warn(`BGPConfiguration prefixAdvertisements ${a.cidr}: "${c}" is neither a community name nor a value: left out`);
      return [];
    });
    try {
      return values.length ? [{ cidr: parseCidr(a.cidr).cidr, values }] : [];
    } catch (err) {
      warn(`BGPConfiguration prefixAdvertisements: ${errorMessage(err)}: left out`);
      return [];
    }
  });
  const services = [...(global?.serviceClusterIPs ?? []), ...(global?.serviceExternalIPs ?? []), ...(global?.serviceLoadBalancerIPs ?? [])].flatMap((r) => {
    try {
      return [parseCidr(r.cidr).cidr];
    } catch (err) {
      warn(`BGPConfiguration service range: ${errorMessage(err)}: left out`);
      return [];
    }
  });
  return {
    ...(listenPort !== undefined ? { listenPort } : {}),
    ...(global?.bindMode === 'NodeIP' ? { strictBind: true } : {}),
    ...(global?.ignoredInterfaces?.length ? { ignoredInterfaces: global.ignoredInterfaces } : {}),
    ...(communities.length ? { communities } : {}),
    ...(services.length ? { services } : {}),
  };
}

/** Pure: the network of an `address/prefix` (198.18.0.11/17 → 198.18.0.0/17). */
function subnetOf(addressWithPrefix: string): string {
  const [ip, prefix] = addressWithPrefix.split('/');
  return blockOf(ip!, Number(prefix ?? 32));
}
