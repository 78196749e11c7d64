import type { BgpSession } from '../bgp/bird.js';
import { blockUsage, hostOfAffinity } from '../ipam/blocks.js';
import type { AllocationBlock } from '../model/resources.js';
import { compareCidrs } from '../net/cidr.js';
import { table } from '../util/table.js';

/** Calico's words for who a session is with, from the protocol name confd gave it. */
export function peerType(protocol: string): string {
  if (protocol.startsWith('Mesh_')) return 'node-to-node mesh';
  if (protocol.startsWith('Node_')) return 'node specific';
  if (protocol.startsWith('Global_')) return 'global';
  return 'other';
}

/** `calicoctl node status`: the BGP sessions of one host, as its BIRD reports them. */
export function formatNodeStatus(host: string, birdAlive: boolean, sessions: BgpSession[]): string {
  if (!birdAlive) return `Calico process is not running.\n(BIRD of host ${host} is not running: calico-sim heal restarts it)`;
  // One table per address family, as calicoctl prints them (IPv6 sessions are separate sessions).
  const family = (v6: boolean) => {
    const rows = sessions
      .filter((s) => s.neighborAddress.includes(':') === v6)
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((s) => [s.neighborAddress, peerType(s.name), s.state, s.since, s.bgpState === s.info || !s.info ? s.bgpState : `${s.bgpState} ${s.info}`.trim()]);
    const label = v6 ? 'IPv6' : 'IPv4';
    return [`${label} BGP status`, rows.length ? table(['PEER ADDRESS', 'PEER TYPE', 'STATE', 'SINCE', 'INFO'], rows) : `No ${label} peers found.`];
  };
  return ['Calico process is running.', '', ...family(false), '', ...family(true)].join('\n');
}

/** One host's BGP sessions, as `ctl node status -o json|yaml` prints them (a documented contract). */
export interface NodeStatusJson {
  node: string;
  birdRunning: boolean;
  sessions: { peerAddress: string; peerType: string; protocol: string; state: string; since: string; bgpState: string; info: string }[];
}

export function nodeStatusJson(node: string, birdRunning: boolean, sessions: readonly BgpSession[]): NodeStatusJson {
  return {
    node,
    birdRunning,
    sessions: [...sessions]
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((s) => ({ peerAddress: s.neighborAddress, peerType: peerType(s.name), protocol: s.name, state: s.state, since: s.since, bgpState: s.bgpState, info: s.info })),
  };
}

/** The blocks of `ctl ipam show`, as `-o json|yaml` prints them (a documented contract). */
export interface IpamShowJson {
  blocks: { host: string | null; cidr: string; inUse: number; size: number }[];
  inUse: number;
  size: number;
}

export function ipamShowJson(blocks: readonly AllocationBlock[]): IpamShowJson {
  const rows = [...blocks]
    .sort((a, b) => (hostOfAffinity(a.affinity) ?? '').localeCompare(hostOfAffinity(b.affinity) ?? '') || compareCidrs(a.cidr, b.cidr))
    .map((b) => {
      const { used, total } = blockUsage(b);
      return { host: hostOfAffinity(b.affinity) ?? null, cidr: b.cidr, inUse: used, size: total };
    });
  return { blocks: rows, inUse: rows.reduce((n, b) => n + b.inUse, 0), size: rows.reduce((n, b) => n + b.size, 0) };
}

/** `calicoctl ipam show --show-blocks`, condensed: blocks per host with their usage. */
export function formatIpamShow(blocks: readonly AllocationBlock[]): string {
  const { blocks: rows, inUse, size } = ipamShowJson(blocks);
  return [
    table(
      ['HOST', 'BLOCK', 'IN USE', 'USAGE'],
      rows.map((b) => [b.host ?? '(none)', b.cidr, `${b.inUse}/${b.size}`, `${Math.round((100 * b.inUse) / b.size)}%`]),
    ),
    '',
    `${rows.length} blocks, ${inUse} of ${size} addresses in use`,
  ].join('\n');
}
