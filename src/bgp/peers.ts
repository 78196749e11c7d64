import type { Snapshot } from '../datastore/snapshot.js';
import { CALICO_NODE_NAMESPACE, type BGPPeer, type CalicoNode, type SecretKeyRef } from '../model/resources.js';
import { parseSelector, type Labels } from '../model/selector.js';
import { isBirdPassword, PASSWORD_RULE, protocolName, type BirdSession } from './render.js';
import { goDurationSeconds, splitPeerIp } from '../model/pool-bgp-schemas.js';
import { canonicalIp } from '../net/cidr.js';

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
 * A BGPPeer's session options, as confd renders them (bird.cfg.template): `allow local as`,
 * no `source address` for sourceAddress None, `next hop keep` for keepOriginalNextHop on eBGP
 * only, `graceful restart time` from maxRestartTime, `ttl security on; multihop N` from
 * ttlSecurity, `local as` from localASNumber (eBGP or iBGP is decided with it).
 */
function sessionOptions(spec: BGPPeer['spec'], ebgp: boolean, passwordOf: (ref: SecretKeyRef) => string | undefined): Partial<BirdSession> {
  const restart = spec.maxRestartTime === undefined ? undefined : goDurationSeconds(spec.maxRestartTime);
  const password = spec.password ? passwordOf(spec.password) : undefined;
  return {
    ...(spec.numAllowedLocalASNumbers ? { allowLocalAs: spec.numAllowedLocalASNumbers } : {}),
    ...(spec.sourceAddress === 'None' ? { noSourceAddress: true } : {}),
    ...(spec.keepOriginalNextHop && ebgp ? { keepNextHop: true } : {}),
    ...(restart !== undefined ? { restartTimeS: Math.round(restart) } : {}),
    ...(spec.ttlSecurity ? { ttlSecurity: spec.ttlSecurity } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(spec.filters?.length ? { filters: spec.filters } : {}),
    ...(spec.localASNumber !== undefined ? { localAs: spec.localASNumber } : {}),
  };
}

/** The port a node's BIRD listens on, when its BGPConfiguration (its own, else `default`) sets one (client.go: the peer node's listen_port). */
export function listenPortOf(s: Snapshot, node: string): number | undefined {
  return s.nodeBgpConfigurations?.find((c) => c.metadata.name === `node.${node}`)?.spec.listenPort ?? s.bgpConfiguration?.spec.listenPort;
}

/**
 * A BGP password from its Secret (in calico-node's namespace, calico-system), as confd reads it;
 * a missing Secret or key, or a value BIRD cannot hold, leaves the session without a password
 * and says why.
 */
function secretPassword(s: Snapshot, ref: SecretKeyRef, what: string, warn: (problem: string) => void): string | undefined {
  const { name, key } = ref.secretKeyRef;
  const secret = (s.secrets ?? []).find((x) => x.metadata.name === name && x.metadata.namespace === CALICO_NODE_NAMESPACE);
  const encoded = secret?.data[key];
  const where = `Secret ${CALICO_NODE_NAMESPACE}/${name}`;
  if (encoded === undefined) {
    warn(`${what}: password: ${secret ? `no key "${key}" in ${where}` : `no ${where}`}: the session has no password`);
    return undefined;
  }
  const value = Buffer.from(encoded, 'base64').toString();
  if (!isBirdPassword(value)) {
    warn(`${what}: password: key "${key}" of ${where}: ${PASSWORD_RULE}: the session has no password`);
    return undefined;
  }
  return value;
}

/**
 * The BGP sessions one host has, decided the way Calico's confd decides them (pure; the rules of
 * confd/etc/calico/confd/templates/bird.cfg.template and confd/pkg/backends/calico/client.go):
 * - node-to-node mesh (BGPConfiguration.nodeToNodeMeshEnabled): every other node — except that a
 *   route reflector (Node.spec.bgp.routeReflectorClusterID) is in no mesh: it meshes with nobody
 *   and nobody meshes with it;
 * - BGPPeer with neither `node` nor `nodeSelector` is global (`Global_<ip>`), one with either is
 *   node-specific (`Node_<ip>`); a global peering wins over a node-specific one to the same
 *   address;
 * - with peerIP: a router outside the cluster (or a node), for the nodes in the peer's scope;
 * - with peerSelector: the matching nodes, from both ends — a node in scope peers with the
 *   selected nodes, and a selected node peers back with the nodes in scope (always `Node_`);
 * - IPv6: a session of its own between the nodes' IPv6 addresses for each IPv4 session with a
 *   node that has one (bird6.cfg.template), in a lab with an IPv6 pool;
 * - between two cluster nodes on a mesh or global session, the side whose address is the lower
 *   *string* is passive (the template's `gt $onode_ip $node_ip`: "198.18.0.100" < "198.18.0.11");
 *   node-specific sessions have no passive side (BIRD resolves the collision);
 * - `rr client` only on non-mesh sessions of a route reflector to a peer of the same AS whose
 *   cluster id is not its own.
 * One session per peer address and port (a BGPPeer's `ip:port`, else the port the peer listens
 * on); the first reason found wins (mesh, global peers, node peers). A BGPPeer whose peerIP is a
 * node's address, with or without a port, is a session with that node.
 */
export function desiredSessions(s: Snapshot, host: string, warn: (problem: string) => void = () => {}): BirdSession[] {
  const me = s.nodes.find((n) => n.metadata.name === host);
  if (!me) return [];
  const myIp = nodeIp(me);
  const myAs = nodeAs(s, me);
  const myCluster = me.spec.bgp.routeReflectorClusterID;
  const sessions = new Map<string, BirdSession>();
  const key = (ip: string, port: number | undefined) => `${ip}:${port ?? 179}`;
  const meshRestart = s.bgpConfiguration?.spec.nodeMeshMaxRestartTime;
  const meshPassword = s.bgpConfiguration?.spec.nodeMeshPassword;
  // The mesh's options come from BGPConfiguration: its restart time and password.
  const meshOptions: BGPPeer['spec'] = { ...(meshRestart ? { maxRestartTime: meshRestart } : {}), ...(meshPassword ? { password: meshPassword } : {}) };
  const warned = new Set<string>();
  const passwordOf = (what: string) => (ref: SecretKeyRef) =>
    secretPassword(s, ref, what, (problem) => {
      if (!warned.has(problem)) warn(problem);
      warned.add(problem);
    });
  // `reverse`: the peering a selected node writes back to a node in the BGPPeer's scope; the
  // peer's localASNumber is then the AS the other end speaks, not ours.
  // `peerPort`: the port of a BGPPeer's `ip:port` naming the node (else the node's listen port).
  const addNode = (peer: CalicoNode, kind: 'Mesh' | 'Node' | 'Global', why: string, given: BGPPeer['spec'] = {}, reverse = false, peerPort?: number) => {
    const ip = nodeIp(peer);
    const port = peerPort ?? listenPortOf(s, peer.metadata.name);
    if (peer.metadata.name === host || sessions.has(key(ip, port))) return;
    const peerCluster = peer.spec.bgp.routeReflectorClusterID;
    const { localASNumber, ...rest } = given;
    const options = reverse ? rest : given;
    const peerAs = reverse && localASNumber !== undefined ? localASNumber : nodeAs(s, peer);
    const localAs = reverse ? myAs : (given.localASNumber ?? myAs);
    sessions.set(key(ip, port), {
      name: `${protocolName(ip, kind)}${peerPort === undefined ? '' : `_port_${peerPort}`}`,
      description: `${why}: node ${peer.metadata.name}${peerCluster ? ` (route reflector, cluster ${peerCluster})` : ''}`,
      ip,
      asNumber: peerAs,
      passive: kind !== 'Node' && ip > myIp,
      rrClient: kind !== 'Mesh' && !!myCluster && peerAs === localAs && peerCluster !== myCluster,
      clusterNode: true,
      peerNode: peer.metadata.name,
      ...(port !== undefined ? { port } : {}),
      ...(given.reachableBy && !reverse ? { reachableBy: given.reachableBy } : {}),
      ...sessionOptions(kind === 'Mesh' ? meshOptions : options, peerAs !== localAs, passwordOf(kind === 'Mesh' ? 'BGPConfiguration default nodeMeshPassword' : why)),
    });
  };

  if ((s.bgpConfiguration?.spec.nodeToNodeMeshEnabled ?? true) && !myCluster) {
    for (const n of s.nodes) if (!n.spec.bgp.routeReflectorClusterID) addNode(n, 'Mesh', 'node-to-node mesh');
  }
  const isGlobal = (p: BGPPeer) => p.spec.node === undefined && p.spec.nodeSelector === undefined;
  const byName = (a: BGPPeer, b: BGPPeer) => a.metadata.name.localeCompare(b.metadata.name);
  const peers = [...(s.bgpPeers ?? [])].sort((a, b) => Number(isGlobal(b)) - Number(isGlobal(a)) || byName(a, b));
  for (const p of peers) {
    const { spec } = p;
    const inScope = (n: CalicoNode) => (spec.node ? n.metadata.name === spec.node : parseSelector(spec.nodeSelector ?? 'all()').matches(labelsOf(n)));
    const kind = isGlobal(p) ? 'Global' : 'Node';
    if (spec.peerIP) {
      // `ip:port` when the peer does not listen on 179 (confd's parseIPPort): `neighbor … port N`,
      // and `_port_N` on the protocol's name (bgp_processor.go).
      const { ip, port } = splitPeerIp(spec.peerIP);
      if (!inScope(me) || ip === myIp) continue;
      const clusterPeer = s.nodes.find((n) => nodeIp(n) === ip);
      if (clusterPeer) {
        addNode(clusterPeer, kind, `BGPPeer ${p.metadata.name}`, spec, false, port);
        continue;
      }
      if (sessions.has(key(ip, port))) continue;
      sessions.set(key(ip, port), {
        name: `${protocolName(ip, kind)}${port === undefined ? '' : `_port_${port}`}`,
        description: `BGPPeer ${p.metadata.name}: router ${spec.peerIP} AS ${spec.asNumber ?? myAs}${spec.reachableBy ? `, reachable by ${spec.reachableBy}` : ''}`,
        ip,
        asNumber: spec.asNumber ?? myAs,
        passive: false,
        rrClient: !!myCluster && (spec.asNumber ?? myAs) === (spec.localASNumber ?? myAs),
        clusterNode: false,
        ...(port !== undefined ? { port } : {}),
        ...(spec.reachableBy ? { reachableBy: spec.reachableBy } : {}),
        ...sessionOptions(spec, (spec.asNumber ?? myAs) !== (spec.localASNumber ?? myAs), passwordOf(`BGPPeer ${p.metadata.name}`)),
      });
    } else if (spec.peerSelector) {
      const selected = parseSelector(spec.peerSelector);
      if (inScope(me)) for (const n of s.nodes.filter((x) => selected.matches(labelsOf(x)))) addNode(n, kind, `BGPPeer ${p.metadata.name}`, spec);
      // The reverse peering confd writes for a selected node is always node-specific.
      if (selected.matches(labelsOf(me))) for (const n of s.nodes.filter(inScope)) addNode(n, 'Node', `BGPPeer ${p.metadata.name} (reverse)`, spec, true);
    }
  }
  // IPv6 routes have sessions of their own between the nodes' IPv6 addresses, laid out as the IPv4
  // ones (Calico's bird6.cfg.template): one for every IPv4 session with a node that has an IPv6
  // address, of the same kind, passive by the same string rule on the IPv6 addresses.
  // (Only in a lab with an IPv6 pool: without one BIRD has no IPv6 half to carry.)
  const myIp6 = nodeIp6(me);
  const v6: BirdSession[] = [];
  if (myIp6 && s.pools.some((p) => p.spec.cidr.includes(':'))) {
    for (const v4 of sessions.values()) {
      const peer = v4.clusterNode ? s.nodes.find((n) => n.metadata.name === v4.peerNode) : undefined;
      const ip6 = peer && nodeIp6(peer);
      if (!ip6) continue;
      const kind = v4.name.slice(0, v4.name.indexOf('_')) as 'Mesh' | 'Node' | 'Global';
      const portSuffix = /_port_\d+$/.exec(v4.name)?.[0] ?? '';
      const { reachableBy: _v4Gateway, ...rest } = v4;
      v6.push({ ...rest, family: 6, ip: ip6, name: `${protocolName(ip6, kind)}${portSuffix}`, passive: kind !== 'Node' && ip6 > myIp6 });
    }
  }
  // A BGPPeer naming a filter that does not exist: confd skips it (`if exists`); say so.
  const filters = new Set((s.bgpFilters ?? []).map((f) => f.metadata.name));
  for (const p of s.bgpPeers ?? []) {
    for (const f of p.spec.filters ?? []) if (!filters.has(f)) warn(`BGPPeer ${p.metadata.name}: filters: no BGPFilter named "${f}": skipped`);
  }
  return [...sessions.values(), ...v6];
}

/** A node's IPv6 fabric address, canonical, if it has one. */
const nodeIp6 = (n: CalicoNode): string | undefined => {
  const a = n.spec.bgp.ipv6Address?.split('/')[0];
  return a === undefined ? undefined : canonicalIp(a);
};
