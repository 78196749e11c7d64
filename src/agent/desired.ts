import type { BirdInput } from '../bgp/render.js';
import type { Snapshot } from '../datastore/snapshot.js';
import type { BgpTimers } from '../model/resources.js';
import { compact } from '../util/object.js';
import { borrowedAddresses, compareCidrs, familyOf, hostOfAffinity } from '../ipam/blocks.js';
import { DEFAULT_AS, desiredSessions, nodeAs, nodeIp } from '../bgp/peers.js';

/** Routes the agent owns carry this protocol number (Felix uses 80 too). */
export const AGENT_ROUTE_PROTO = 80;

export type DesiredRoute =
  | { dst: string; type: 'blackhole' }
  | { dst: string; type: 'unicast'; dev: string };

/** The kernel state one host should have: computed from the datastore alone, no I/O. */
export interface DesiredState {
  routes: DesiredRoute[];
  /** Host-side veths of local workloads: each gets workloadIfaceSysctls() once it exists. */
  workloadIfaces: string[];
  bird: BirdInput;
}

export const HOST_SYSCTLS: Record<string, string> = {
  'net.ipv4.ip_forward': '1',
  'net.ipv6.conf.all.forwarding': '1',
};

/** The sysctls Calico sets on a workload's host-side veth. */
export function workloadIfaceSysctls(iface: string): Record<string, string> {
  return {
    [`net.ipv4.conf.${iface}.forwarding`]: '1',
    [`net.ipv4.conf.${iface}.rp_filter`]: '1',
    [`net.ipv4.conf.${iface}.proxy_arp`]: '1',
    [`net.ipv4.neigh.${iface}.proxy_delay`]: '0',
  };
}

function bgpTimers(s: Snapshot): BgpTimers {
  const { holdTime, keepaliveTime, connectRetryTime, gracefulRestart, bfd } = s.bgpConfiguration?.spec ?? {};
  return compact({ holdTime, keepaliveTime, connectRetryTime, gracefulRestart, bfd });
}

export function computeDesired(s: Snapshot, host: string): DesiredState {
  const me = s.nodes.find((n) => n.metadata.name === host);
  const localBlocks = s.blocks.filter((b) => !b.deleted && hostOfAffinity(b.affinity) === host).map((b) => b.cidr).sort(compareCidrs);
  const routes: DesiredRoute[] = localBlocks.map((dst) => ({ dst, type: 'blackhole' }));
  const local = s.workloadEndpoints.filter((w) => w.spec.node === host);
  const borrowed = borrowedAddresses(s.blocks, host);
  const pools = s.pools.filter((p) => !p.spec.disabled).map((p) => p.spec.cidr);
  const ipv6Address = me?.spec.bgp.ipv6Address?.split('/')[0];
  for (const wep of local) {
    for (const dst of wep.spec.ipNetworks) routes.push({ dst, type: 'unicast', dev: wep.spec.interfaceName });
  }
  return {
    routes,
    workloadIfaces: local.map((w) => w.spec.interfaceName).sort(),
    bird: {
      host,
      routerId: me ? nodeIp(me) : '0.0.0.0',
      asNumber: me ? nodeAs(s, me) : DEFAULT_AS,
      ...(me?.spec.bgp.routeReflectorClusterID ? { rrClusterId: me.spec.bgp.routeReflectorClusterID } : {}),
      sessions: desiredSessions(s, host),
      localBlocks: localBlocks.filter((b) => familyOf(b) === 4),
      borrowed: borrowed.filter((ip) => familyOf(ip) === 4).map((ip) => `${ip}/32`),
      pools: pools.filter((p) => familyOf(p) === 4),
      ...(ipv6Address && pools.some((p) => familyOf(p) === 6) ? {
        ipv6: {
          address: ipv6Address,
          localBlocks: localBlocks.filter((b) => familyOf(b) === 6),
          borrowed: borrowed.filter((ip) => familyOf(ip) === 6).map((ip) => `${ip}/128`),
          pools: pools.filter((p) => familyOf(p) === 6),
        },
      } : {}),
      timers: bgpTimers(s),
    },
  };
}
