import type { Snapshot } from '../datastore/snapshot.js';
import type { CalicoNode } from '../model/resources.js';
import { parseSelector, type Labels } from '../model/selector.js';
import { protocolName, type BirdSession } from './render.js';
import { compareIps } from '../net/cidr.js';

export const DEFAULT_AS = 64512;

/** A node's labels as selectors see them: its own, plus Calico's implicit name label. */
function labelsOf(n: CalicoNode): Labels {
  return { ...n.metadata.labels, 'projectcalico.org/name': n.metadata.name };
}

export const nodeIp = (n: CalicoNode): string => n.spec.bgp.ipv4Address.split('/')[0]!;

export function nodeAs(s: Snapshot, n: CalicoNode): number {
  return n.spec.bgp.asNumber ?? s.bgpConfiguration?.spec.asNumber ?? DEFAULT_AS;
}

/**
 * The BGP sessions one host has, decided the way Calico's confd decides them (pure):
 * - node-to-node mesh (BGPConfiguration.nodeToNodeMeshEnabled): every other node;
 * - BGPPeer with peerIP: a router outside the cluster, for the nodes in the peer's scope
 *   (`node`, `nodeSelector`, or every node when neither is set);
 * - BGPPeer with peerSelector: the matching nodes, from both ends — a node in scope peers with
 *   the selected nodes, and a selected node peers with the nodes in scope;
 * - between two cluster nodes, exactly one side connects: the lower address is passive;
 * - a route reflector (Node.spec.bgp.routeReflectorClusterID) treats every node peer that is not a
 *   reflector of the same cluster as its client.
 * One session per peer address; the first reason found wins (mesh, then BGPPeers by name).
 */
export function desiredSessions(s: Snapshot, host: string): BirdSession[] {
  const me = s.nodes.find((n) => n.metadata.name === host);
  if (!me) return [];
  const myIp = nodeIp(me);
  const myCluster = me.spec.bgp.routeReflectorClusterID;
  const sessions = new Map<string, BirdSession>();
  const addNode = (peer: CalicoNode, kind: 'Mesh' | 'Node' | 'Global', why: string) => {
    const ip = nodeIp(peer);
    if (peer.metadata.name === host || sessions.has(ip)) return;
    const peerCluster = peer.spec.bgp.routeReflectorClusterID;
    sessions.set(ip, {
      name: protocolName(ip, kind),
      description: `${why}: node ${peer.metadata.name}${peerCluster ? ` (route reflector, cluster ${peerCluster})` : ''}`,
      ip,
      asNumber: nodeAs(s, peer),
      passive: compareIps(myIp, ip) < 0,
      rrClient: !!myCluster && peerCluster !== myCluster,
      clusterNode: true,
      peerNode: peer.metadata.name,
    });
  };

  if (s.bgpConfiguration?.spec.nodeToNodeMeshEnabled ?? true) {
    for (const n of s.nodes) addNode(n, 'Mesh', 'node-to-node mesh');
  }
  const peers = [...(s.bgpPeers ?? [])].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  for (const p of peers) {
    const { spec } = p;
    const inScope = (n: CalicoNode) => (spec.node ? n.metadata.name === spec.node : parseSelector(spec.nodeSelector ?? 'all()').matches(labelsOf(n)));
    const kind = spec.node ? 'Node' : 'Global';
    if (spec.peerIP) {
      if (!inScope(me) || spec.peerIP === myIp || sessions.has(spec.peerIP)) continue;
      const clusterPeer = s.nodes.find((n) => nodeIp(n) === spec.peerIP);
      if (clusterPeer) {
        addNode(clusterPeer, kind, `BGPPeer ${p.metadata.name}`);
        continue;
      }
      sessions.set(spec.peerIP, {
        name: protocolName(spec.peerIP, kind),
        description: `BGPPeer ${p.metadata.name}: router ${spec.peerIP} AS ${spec.asNumber ?? nodeAs(s, me)}`,
        ip: spec.peerIP,
        asNumber: spec.asNumber ?? nodeAs(s, me),
        passive: false,
        rrClient: false,
        clusterNode: false,
        ...(spec.numAllowedLocalASNumbers ? { allowLocalAs: spec.numAllowedLocalASNumbers } : {}),
      });
    } else if (spec.peerSelector) {
      const selected = parseSelector(spec.peerSelector);
      if (inScope(me)) for (const n of s.nodes.filter((x) => selected.matches(labelsOf(x)))) addNode(n, 'Node', `BGPPeer ${p.metadata.name}`);
      if (selected.matches(labelsOf(me))) for (const n of s.nodes.filter(inScope)) addNode(n, 'Node', `BGPPeer ${p.metadata.name}`);
    }
  }
  return [...sessions.values()];
}
