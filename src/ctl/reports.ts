import type { BgpSession } from '../bgp/bird.js';
import { blockUsage, hostOfAffinity } from '../ipam/blocks.js';
import type { AllocationBlock } from '../model/resources.js';
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
  const rows = [...sessions]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((s) => [s.neighborAddress, peerType(s.name), s.state, s.since, s.bgpState === s.info || !s.info ? s.bgpState : `${s.bgpState} ${s.info}`.trim()]);
  return ['Calico process is running.', '', 'IPv4 BGP status', table(['PEER ADDRESS', 'PEER TYPE', 'STATE', 'SINCE', 'INFO'], rows)].join('\n');
}

/** `calicoctl ipam show --show-blocks`, condensed: blocks per host with their usage. */
export function formatIpamShow(blocks: AllocationBlock[]): string {
  const rows = [...blocks]
    .sort((a, b) => (hostOfAffinity(a.affinity) ?? '').localeCompare(hostOfAffinity(b.affinity) ?? '') || a.cidr.localeCompare(b.cidr))
    .map((b) => {
      const { used, total } = blockUsage(b);
      return [hostOfAffinity(b.affinity) ?? '(none)', b.cidr, `${used}/${total}`, `${Math.round((100 * used) / total)}%`];
    });
  const used = blocks.reduce((n, b) => n + blockUsage(b).used, 0);
  const total = blocks.reduce((n, b) => n + blockUsage(b).total, 0);
  return [table(['HOST', 'BLOCK', 'IN USE', 'USAGE'], rows), '', `${blocks.length} blocks, ${used} of ${total} addresses in use`].join('\n');
}
