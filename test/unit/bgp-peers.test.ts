import { describe, expect, it } from 'vitest';
import { desiredSessions } from '../../src/bgp/peers.js';
import type { Snapshot } from '../../src/datastore/snapshot.js';
import { API_VERSION, type BGPPeer, type CalicoNode } from '../../src/model/resources.js';

const node = (i: number, bgp: Partial<CalicoNode['spec']['bgp']> = {}, labels?: Record<string, string>): CalicoNode => ({
  apiVersion: API_VERSION,
  kind: 'Node',
  metadata: { name: `h${i}`, ...(labels ? { labels } : {}) },
  spec: { bgp: { ipv4Address: `198.18.0.${10 + i}/16`, ...bgp } },
});
const peer = (name: string, spec: BGPPeer['spec']): BGPPeer => ({ apiVersion: API_VERSION, kind: 'BGPPeer', metadata: { name }, spec });
const snap = (nodes: CalicoNode[], mesh: boolean, bgpPeers: BGPPeer[] = []): Snapshot => ({
  nodes,
  pools: [],
  blocks: [],
  workloadEndpoints: [],
  bgpPeers,
  bgpConfiguration: { apiVersion: API_VERSION, kind: 'BGPConfiguration', metadata: { name: 'default' }, spec: { asNumber: 64512, nodeToNodeMeshEnabled: mesh } },
});

/**
 * Every session must exist from both ends. On mesh and global sessions exactly one end connects;
 * node-specific ones have no passive end, as in Calico's template (BIRD resolves the collision).
 */
function expectSymmetric(s: Snapshot): void {
  const byIp = new Map(s.nodes.map((n) => [n.spec.bgp.ipv4Address.split('/')[0]!, n.metadata.name]));
  for (const n of s.nodes) {
    const myIp = n.spec.bgp.ipv4Address.split('/')[0]!;
    for (const sess of desiredSessions(s, n.metadata.name).filter((x) => x.clusterNode)) {
      const back = desiredSessions(s, byIp.get(sess.ip)!).find((x) => x.ip === myIp);
      expect(back, `${n.metadata.name} → ${byIp.get(sess.ip)} has no way back`).toBeDefined();
      if (sess.name.startsWith('Node_') || back!.name.startsWith('Node_'))
        expect(sess.passive || back!.passive, `${n.metadata.name} ↔ ${byIp.get(sess.ip)}: node-specific, no passive side`).toBe(false);
      else expect(back!.passive !== sess.passive, `${n.metadata.name} ↔ ${byIp.get(sess.ip)}: one side must be passive`).toBe(true);
    }
  }
}

describe('BGP sessions from the datastore (pure)', () => {
  it('full mesh: N−1 sessions per node, one active side per pair', () => {
    const s = snap(
      Array.from({ length: 6 }, (_, i) => node(i + 1)),
      true,
    );
    for (const n of s.nodes) expect(desiredSessions(s, n.metadata.name)).toHaveLength(5);
    expectSymmetric(s);
  });

  it('route reflectors: clients peer only with the 2 reflectors; reflectors with everyone, clients marked', () => {
    const rr = { routeReflectorClusterID: '224.0.0.1' };
    const nodes = Array.from({ length: 10 }, (_, i) => (i < 2 ? node(i + 1, rr, { 'route-reflector': 'true' }) : node(i + 1)));
    const s = snap(nodes, false, [peer('peer-with-rrs', { nodeSelector: 'all()', peerSelector: "route-reflector == 'true'" })]);
    for (const n of nodes.slice(2)) {
      const sessions = desiredSessions(s, n.metadata.name);
      expect(sessions.map((x) => x.ip).sort()).toEqual(['198.18.0.11', '198.18.0.12']);
      expect(sessions.every((x) => !x.rrClient)).toBe(true);
    }
    const server = desiredSessions(s, 'h1');
    expect(server).toHaveLength(9);
    expect(server.filter((x) => x.rrClient)).toHaveLength(8);
    expect(server.find((x) => x.ip === '198.18.0.12')!.rrClient).toBe(false); // same cluster
    expectSymmetric(s);
  });

  it('passive side: the lower address *as a string* waits (confd bird.cfg.template: `gt $onode_ip $node_ip`)', () => {
    // 198.18.0.100 < 198.18.0.20 as strings, though not as numbers.
    const a = { ...node(1), spec: { bgp: { ipv4Address: '198.18.0.100/16' } } };
    const b = { ...node(2), spec: { bgp: { ipv4Address: '198.18.0.20/16' } } };
    const s = snap([a, b], true);
    expect(desiredSessions(s, 'h1')[0]).toMatchObject({ name: 'Mesh_198_18_0_20', passive: true });
    expect(desiredSessions(s, 'h2')[0]).toMatchObject({ name: 'Mesh_198_18_0_100', passive: false });
  });

  it('a route reflector is in no mesh (confd: "Skipping … as it is a route reflector"), even with the mesh on', () => {
    const s = snap([node(1, { routeReflectorClusterID: '224.0.0.1' }), node(2), node(3)], true);
    expect(desiredSessions(s, 'h1')).toEqual([]);
    expect(desiredSessions(s, 'h2').map((x) => x.name)).toEqual(['Mesh_198_18_0_13']);
  });

  it('Global_ for a BGPPeer without node or nodeSelector (peerSelector or not), Node_ otherwise and for the reverse peering (confd client.go)', () => {
    const s = snap([node(1, { routeReflectorClusterID: '224.0.0.1' }, { rr: 'y' }), node(2), node(3, { asNumber: 65003 })], false, [peer('to-rr', { peerSelector: "rr == 'y'" })]);
    expect(desiredSessions(s, 'h2').map((x) => [x.name, x.passive])).toEqual([['Global_198_18_0_11', false]]);
    // The reflector: its own global session to itself is skipped; the reverse peerings are Node_,
    // and only the same-AS peer is its route-reflector client.
    expect(desiredSessions(s, 'h1').map((x) => [x.name, x.passive, x.rrClient])).toEqual([
      ['Node_198_18_0_12', false, true],
      ['Node_198_18_0_13', false, false],
    ]);
  });

  it('explicit peers: global, per node and by node selector; eBGP keeps the peer AS', () => {
    const s = snap([node(1, {}, { rack: 'a' }), node(2, {}, { rack: 'b' })], false, [
      peer('gw', { peerIP: '198.18.255.1', asNumber: 64512 }),
      peer('tor-a', { nodeSelector: "rack == 'a'", peerIP: '198.18.0.101', asNumber: 65001 }),
      peer('only-h2', { node: 'h2', peerIP: '198.18.0.102', asNumber: 65002 }),
    ]);
    expect(desiredSessions(s, 'h1').map((x) => [x.name, x.asNumber, x.clusterNode, x.passive])).toEqual([
      ['Global_198_18_255_1', 64512, false, false],
      ['Node_198_18_0_101', 65001, false, false],
    ]);
    expect(desiredSessions(s, 'h2').map((x) => x.name)).toEqual(['Global_198_18_255_1', 'Node_198_18_0_102']);
  });

  it('per-node AS numbers reach the peers', () => {
    const s = snap([node(1, { asNumber: 65101 }), node(2, { asNumber: 65102 })], true);
    expect(desiredSessions(s, 'h1')[0]).toMatchObject({ ip: '198.18.0.12', asNumber: 65102 });
  });

  it('one session per peer address, whatever the number of reasons', () => {
    const s = snap([node(1), node(2)], true, [peer('also', { peerSelector: 'all()' })]);
    expect(desiredSessions(s, 'h1')).toHaveLength(1);
    expect(desiredSessions(s, 'h1')[0]!.name).toBe('Mesh_198_18_0_12');
  });

  it('peers are keyed by address and port (bgp_processor.go): one router on two ports is two sessions; a node address with a port is that node', () => {
    const s = snap([node(1), node(2)], true, [
      peer('r-1791', { peerIP: '192.168.1.1:1791', asNumber: 63400 }),
      peer('r-1792', { peerIP: '192.168.1.1:1792', asNumber: 63400, reachableBy: '198.18.0.1' }),
      peer('r-again', { peerIP: '192.168.1.1:1791', asNumber: 63400 }),
      peer('h2-alt', { node: 'h1', peerIP: '198.18.0.12:1790', reachableBy: '198.18.0.1' }),
      // The node's own port (179, left out) is the mesh session already.
      peer('h2-same', { node: 'h1', peerIP: '198.18.0.12' }),
    ]);
    expect(desiredSessions(s, 'h1').map((x) => [x.name, x.ip, x.port, x.clusterNode, x.peerNode, x.reachableBy])).toEqual([
      ['Mesh_198_18_0_12', '198.18.0.12', undefined, true, 'h2', undefined],
      ['Global_192_168_1_1_port_1791', '192.168.1.1', 1791, false, undefined, undefined],
      ['Global_192_168_1_1_port_1792', '192.168.1.1', 1792, false, undefined, '198.18.0.1'],
      ['Node_198_18_0_12_port_1790', '198.18.0.12', 1790, true, 'h2', '198.18.0.1'],
    ]);
    // A BGPPeer naming this node's own address is no session, whatever the port.
    expect(desiredSessions(snap([node(1), node(2)], false, [peer('self', { peerIP: '198.18.0.11:1790' })]), 'h1')).toEqual([]);
  });

  it('an unknown host has no sessions', () => {
    expect(desiredSessions(snap([node(1)], true), 'nobody')).toEqual([]);
  });
});
