import { describe, expect, it } from 'vitest';
import { computeDesired, isAgentRoute, LARGE_LAB_NODES, LARGE_LAB_SCAN_S, natTable } from '../../src/agent/desired.js';
import { workloadIfaceSysctls } from '../../src/cni/sysctls.js';
import { diffRoutes, routeLines } from '../../src/agent/dataplane.js';
import type { Snapshot } from '../../src/datastore/snapshot.js';
import { newBlock } from '../../src/ipam/blocks.js';
import { API_VERSION } from '../../src/model/resources.js';

const node = (name: string, ip: string, asNumber?: number) => ({
  apiVersion: API_VERSION as typeof API_VERSION,
  kind: 'Node' as const,
  metadata: { name },
  spec: { bgp: { ipv4Address: `${ip}/16`, ...(asNumber ? { asNumber } : {}) } },
});
const wep = (name: string, host: string, ip: string, iface: string) => ({
  apiVersion: API_VERSION as typeof API_VERSION,
  kind: 'WorkloadEndpoint' as const,
  metadata: { name, namespace: 'default' },
  spec: { node: host, orchestrator: 'cni' as const, workload: name, endpoint: 'eth0' as const, interfaceName: iface, ipNetworks: [`${ip}/32`], netns: `ns-${name}` },
});

const snap: Snapshot = {
  nodes: [node('h1', '198.18.0.11'), node('h2', '198.18.0.12', 65001)],
  pools: [
    {
      apiVersion: API_VERSION,
      kind: 'IPPool',
      metadata: { name: 'p' },
      spec: { cidr: '198.19.0.0/16', blockSize: 26, ipipMode: 'Never', vxlanMode: 'Never', natOutgoing: false, nodeSelector: 'all()' },
    },
  ],
  bgpConfiguration: { apiVersion: API_VERSION, kind: 'BGPConfiguration', metadata: { name: 'default' }, spec: { asNumber: 64512, nodeToNodeMeshEnabled: true } },
  blocks: [newBlock('198.19.0.64/26', 'h1'), newBlock('198.19.0.0/26', 'h1'), newBlock('198.19.0.128/26', 'h2'), newBlock('198.19.1.0/26', null)],
  workloadEndpoints: [wep('a', 'h1', '198.19.0.1', 'caliaaaaaaaaaaa'), wep('b', 'h2', '198.19.0.129', 'calibbbbbbbbbbb')],
};

describe('agent desired state (pure)', () => {
  it("a scope-link /32 per local workload, nothing of other hosts; the blocks' blackholes are BIRD's", () => {
    const d = computeDesired(snap, 'h1');
    expect(d.routes).toEqual([{ dst: '198.19.0.1/32', type: 'unicast', dev: 'caliaaaaaaaaaaa' }]);
    expect(d.bird.localBlocks).toEqual(['198.19.0.0/26', '198.19.0.64/26']);
    expect(d.workloadIfaces).toEqual(['caliaaaaaaaaaaa']);
  });

  it('feeds BIRD with the other nodes, the local blocks and the pools', () => {
    const { bird } = computeDesired(snap, 'h1');
    expect(bird).toEqual({
      host: 'h1',
      routerId: '198.18.0.11',
      asNumber: 64512,
      sessions: [
        {
          name: 'Mesh_198_18_0_12',
          description: 'node-to-node mesh: node h2',
          ip: '198.18.0.12',
          asNumber: 65001,
          passive: true,
          rrClient: false,
          clusterNode: true,
          peerNode: 'h2',
        },
      ],
      localBlocks: ['198.19.0.0/26', '198.19.0.64/26'],
      pools: ['198.19.0.0/16'],
      timers: {},
    });
    expect(computeDesired(snap, 'h2').bird.sessions[0]).toMatchObject({ ip: '198.18.0.11', passive: false });
    const noMesh = { ...snap, bgpConfiguration: { ...snap.bgpConfiguration!, spec: { asNumber: 64512, nodeToNodeMeshEnabled: false } } };
    expect(computeDesired(noMesh, 'h1').bird.sessions).toEqual([]);
  });

  it("BIRD scans the kernel every 2 s as Calico's does, every 30 s in a lab of more than 50 nodes", async () => {
    const { renderBirdConfig } = await import('../../src/bgp/render.js');
    expect(computeDesired(snap, 'h1').bird.scanTimeS).toBeUndefined();
    expect(renderBirdConfig(computeDesired(snap, 'h1').bird).match(/scan time 2;/g)).toHaveLength(2); // device, kernel
    const many = { ...snap, nodes: Array.from({ length: LARGE_LAB_NODES + 1 }, (_, i) => node(`h${i + 1}`, `198.18.1.${i + 1}`)) };
    const big = computeDesired(many, 'h1').bird;
    expect(big.scanTimeS).toBe(LARGE_LAB_SCAN_S);
    expect(renderBirdConfig(big).match(new RegExp(`scan time ${LARGE_LAB_SCAN_S};`, 'g'))).toHaveLength(2);
  });

  it('sets the sysctls Calico sets on a host-side veth', () => {
    expect(workloadIfaceSysctls('cali1')).toEqual({
      'net.ipv4.conf.cali1.forwarding': '1',
      'net.ipv4.conf.cali1.rp_filter': '1',
      'net.ipv4.conf.cali1.proxy_arp': '1',
      'net.ipv4.neigh.cali1.proxy_delay': '0',
    });
  });
});

describe('route reconciliation (pure)', () => {
  const desired = computeDesired(snap, 'h1').routes;

  it('converged kernel: nothing to do', () => {
    expect(diffRoutes(desired, desired)).toEqual({ put: [], del: [] });
    expect(routeLines([], [])).toEqual([]);
  });

  it('repairs a missing route, moves a route to the right device, removes a stale one, in one batch', () => {
    const actual = [
      { dst: '198.19.0.1/32', type: 'unicast' as const, dev: 'caliold00000000' },
      { dst: '198.19.0.9/32', type: 'unicast' as const, dev: 'caligone0000000' },
    ];
    const { put, del } = diffRoutes(desired, actual);
    expect(put.map((r) => r.dst)).toEqual(['198.19.0.1/32']);
    expect(del.map((r) => r.dst)).toEqual(['198.19.0.9/32']);
    // proto boot: Felix's DeviceRouteProtocol (3), which `ip route` does not print.
    expect(routeLines(put, del)).toEqual(['route del 198.19.0.9/32 dev caligone0000000 proto boot', 'route replace 198.19.0.1/32 dev caliaaaaaaaaaaa scope link proto boot']);
  });
});

describe('VXLAN mode and natOutgoing (the overlay baseline and the negative controls)', () => {
  const vx = { ...snap, pools: [{ ...snap.pools[0]!, spec: { ...snap.pools[0]!.spec, vxlanMode: 'Always' as const, natOutgoing: true } }] };

  it("routes other hosts' blocks through the VXLAN device, to their host address, onlink", () => {
    const d = computeDesired(vx, 'h1');
    expect(d.routes).toContainEqual({ dst: '198.19.0.128/26', type: 'unicast', dev: 'vxlan.calico', via: '198.18.0.12' });
    expect(d.vxlan).toEqual({ localIp: '198.18.0.11', mac: '66:00:c6:12:00:0b', peers: [{ ip: '198.18.0.12', mac: '66:00:c6:12:00:0c' }] });
    expect(computeDesired(snap, 'h1').vxlan).toBeUndefined();
    expect(routeLines([{ dst: '198.19.0.128/26', type: 'unicast', dev: 'vxlan.calico', via: '198.18.0.12' }], [])).toEqual([
      'route replace 198.19.0.128/26 via 198.18.0.12 dev vxlan.calico onlink proto boot',
    ]);
  });

  // felix/calc/l3_route_resolver.go (nodeInOurSubnet) and felix/dataplane/linux/vxlan_mgr.go (noEncapRoute).
  it("CrossSubnet: a node in this node's subnet is routed to without encapsulation, on the fabric device; a node outside it through VXLAN", () => {
    const cross = (mode: 'CrossSubnet' | 'Always') => ({
      ...snap,
      nodes: [...snap.nodes, { ...node('h3', '198.18.128.13'), spec: { bgp: { ipv4Address: '198.18.128.13/17' } } }],
      blocks: [...snap.blocks, newBlock('198.19.2.0/26', 'h3')],
      pools: [{ ...snap.pools[0]!, spec: { ...snap.pools[0]!.spec, vxlanMode: mode } }],
    });
    const h1 = { ...node('h1', '198.18.0.11'), spec: { bgp: { ipv4Address: '198.18.0.11/17' } } };
    const s = { ...cross('CrossSubnet'), nodes: [h1, ...cross('CrossSubnet').nodes.slice(1)] };
    const d = computeDesired(s, 'h1');
    expect(d.routes).toContainEqual({ dst: '198.19.0.128/26', type: 'unicast', dev: 'eth0', via: '198.18.0.12' });
    expect(d.routes).toContainEqual({ dst: '198.19.2.0/26', type: 'unicast', dev: 'vxlan.calico', via: '198.18.128.13' });
    expect(d.vxlan?.peers.map((p) => p.ip)).toEqual(['198.18.0.12', '198.18.128.13']);
    // Always: every remote block through the tunnel (the negative control of the subnet test).
    const always = computeDesired({ ...cross('Always'), nodes: s.nodes }, 'h1');
    expect(always.routes.filter((r) => r.dev === 'eth0')).toEqual([]);
    expect(routeLines([{ dst: '198.19.0.128/26', type: 'unicast', dev: 'eth0', via: '198.18.0.12' }], [])).toEqual(['route replace 198.19.0.128/26 via 198.18.0.12 dev eth0 onlink proto boot']);
    // Read back as the agent's (so removed when no longer wanted); the host's own default route on eth0 is not.
    expect(isAgentRoute({ dev: 'eth0', flags: ['onlink'] })).toBe(true);
    expect(isAgentRoute({ dev: 'eth0' })).toBe(false);
    expect(isAgentRoute({ dev: 'cali0123456789a' })).toBe(true);
  });

  it('IP-in-IP CrossSubnet: no route of the agent (BIRD routes the blocks); a node outside the subnet is reported, as there is no tunl0 here', () => {
    const pools = [{ ...snap.pools[0]!, spec: { ...snap.pools[0]!.spec, ipipMode: 'CrossSubnet' as const } }];
    const one = computeDesired({ ...snap, pools }, 'h1');
    expect(one.routes).toEqual(computeDesired(snap, 'h1').routes);
    expect(one.vxlan).toBeUndefined();
    expect(one.problems).toEqual([]);
    const h1 = { ...node('h1', '198.18.0.11'), spec: { bgp: { ipv4Address: '198.18.0.11/24' } } };
    const two = computeDesired({ ...snap, pools, nodes: [h1, snap.nodes[1]!, node('h3', '198.18.1.13')], blocks: [...snap.blocks, newBlock('198.19.2.0/26', 'h3')] }, 'h1');
    expect(two.problems).toEqual([
      "IP-in-IP CrossSubnet: node h3 (198.18.1.13) is outside this node's subnet 198.18.0.0/24, where Calico tunnels through tunl0; this kernel has no IP-in-IP, so its blocks are routed directly",
    ]);
  });

  it('masquerades traffic from a natOutgoing pool to anything outside the pools, and nothing else', () => {
    expect(computeDesired(vx, 'h1').natTable).toBe(natTable(['198.19.0.0/16'], ['198.19.0.0/16']));
    expect(natTable(['198.19.0.0/16'], ['198.19.0.0/16', '198.19.128.0/17']).split('\n')).toEqual(
      expect.arrayContaining(['-A cali-nat-outgoing -d 198.19.0.0/16 -j RETURN', '-A cali-nat-outgoing -d 198.19.128.0/17 -j RETURN', '-A cali-nat-outgoing -s 198.19.0.0/16 -j MASQUERADE']),
    );
    expect(computeDesired(snap, 'h1').natTable).toBe('');
  });
});
