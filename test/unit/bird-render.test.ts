import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { expectGolden as expectGoldenFile } from '../helpers/golden.js';
import { protocolName, renderBirdConfig, type BirdInput } from '../../src/bgp/render.js';
import { filterFunctionName, ruleStatement } from '../../src/bgp/filters.js';
import { computeDesired } from '../../src/agent/desired.js';
import type { Snapshot } from '../../src/datastore/snapshot.js';
import { assignInBlock, newBlock } from '../../src/ipam/blocks.js';
import { API_VERSION, type BGPConfiguration, type BGPFilter, type BGPPeer, type CalicoNode, type NodeBGPConfiguration } from '../../src/model/resources.js';
import { parseResourceFile } from '../../src/ctl/parse.js';
import { checkBirdConfig } from '../../src/bgp/bird.js';
import { SimError } from '../../src/util/errors.js';

const GOLDEN = fileURLToPath(new URL('./golden/', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'calico-sim-bird-render-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// Addresses chosen so that numeric and lexical order differ ("198.18.0.10" < "198.18.0.9" as
// text): the mesh direction follows the text, as Calico's template compares them
// (confd/etc/calico/confd/templates/bird.cfg.template: `{{if gt $onode_ip $node_ip}} passive on`).
const h1 = { name: 'h1', ip: '198.18.0.9' };
const h2 = { name: 'h2', ip: '198.18.0.10' };
const h3 = { name: 'h3', ip: '198.18.0.12' };

const node = (n: { name: string; ip: string }, bgp: Partial<CalicoNode['spec']['bgp']> = {}, labels?: Record<string, string>): CalicoNode => ({
  apiVersion: API_VERSION,
  kind: 'Node',
  metadata: { name: n.name, ...(labels ? { labels } : {}) },
  spec: { bgp: { ipv4Address: `${n.ip}/16`, ...bgp } },
});
const peer = (name: string, spec: BGPPeer['spec']): BGPPeer => ({ apiVersion: API_VERSION, kind: 'BGPPeer', metadata: { name }, spec });

function snapshot(nodes: CalicoNode[], over: Partial<Snapshot> = {}, mesh = true): Snapshot {
  return {
    nodes: [...nodes].reverse(), // scrambled on purpose
    pools: [
      {
        apiVersion: API_VERSION,
        kind: 'IPPool',
        metadata: { name: 'p' },
        spec: { cidr: '198.19.0.0/16', blockSize: 26, ipipMode: 'Never', vxlanMode: 'Never', natOutgoing: false, nodeSelector: 'all()' },
      },
    ],
    bgpConfiguration: { apiVersion: API_VERSION, kind: 'BGPConfiguration', metadata: { name: 'default' }, spec: { asNumber: 64512, nodeToNodeMeshEnabled: mesh } },
    bgpPeers: [],
    blocks: [newBlock('198.19.10.0/26', 'h1'), newBlock('198.19.9.192/26', 'h1'), newBlock('198.19.0.0/26', 'h2')],
    workloadEndpoints: [],
    ...over,
  };
}

const mesh = snapshot([node(h1), node(h2), node(h3)]);
/** Two route reflectors (h1, h2: cluster 224.0.0.1) and a client h3, as Calico documents it. */
const rr = snapshot(
  [node(h1, { routeReflectorClusterID: '224.0.0.1' }, { 'route-reflector': 'true' }), node(h2, { routeReflectorClusterID: '224.0.0.1' }, { 'route-reflector': 'true' }), node(h3)],
  {
    bgpPeers: [peer('peer-with-route-reflectors', { nodeSelector: 'all()', peerSelector: "route-reflector == 'true'" })],
  },
  false,
);
/** A gateway router peered by every node (iBGP) and a node-specific eBGP peer. */
const explicit = snapshot(
  [node(h1), node(h2)],
  {
    bgpPeers: [peer('gateway', { peerIP: '198.18.0.2', asNumber: 64512 }), peer('tor-h1', { node: 'h1', peerIP: '198.18.0.3', asNumber: 65001 })],
  },
  false,
);

/**
 * BGPFilter: Calico's reference sample (tigera/docs calico/reference/resources/bgpfilter), on the
 * sessions of a BGPPeer that names it (and one it names that does not exist); the mesh takes none.
 */
const MY_FILTER: BGPFilter = {
  apiVersion: API_VERSION,
  kind: 'BGPFilter',
  metadata: { name: 'my-filter' },
  spec: {
    exportV4: [
      { action: 'Accept', matchOperator: 'In', cidr: '77.0.0.0/16', source: 'RemotePeers' },
      { action: 'Reject', interface: '*.calico' },
    ],
    importV4: [
      { action: 'Accept', matchOperator: 'In', cidr: '55.0.0.0/16', prefixLength: { min: 30 } },
      { action: 'Reject', matchOperator: 'NotIn', cidr: '44.0.0.0/16' },
    ],
    exportV6: [
      { action: 'Reject', source: 'RemotePeers' },
      { action: 'Reject', interface: '*.calico' },
    ],
    importV6: [{ action: 'Accept', matchOperator: 'Equal', cidr: '5000::0/64' }, { action: 'Reject' }],
  },
};
const filtered = snapshot([node(h1), node(h2)], {
  bgpFilters: [MY_FILTER],
  bgpPeers: [peer('gateway', { peerIP: '198.18.0.2', asNumber: 65000, filters: ['my-filter', 'nope'], keepOriginalNextHop: true })],
});

/**
 * BGPFilter's newer fields (Calico 3.32: peerType, communities, asPathPrefix, priority,
 * operations), as confd's docs/bgpfilter-bird-config-examples.md "full-example" uses them, on an
 * eBGP router peer and an iBGP one: the functions with peer-type rules take `is_same_as`.
 */
const FULL_EXAMPLE: BGPFilter = {
  apiVersion: API_VERSION,
  kind: 'BGPFilter',
  metadata: { name: 'full-example' },
  spec: {
    importV4: [
      {
        action: 'Accept',
        peerType: 'iBGP',
        matchOperator: 'In',
        cidr: '10.244.0.0/16',
        prefixLength: { min: 24, max: 28 },
        interface: 'eth0',
        communities: { values: ['65000:100'] },
        asPathPrefix: [65000],
        priority: 512,
        operations: [{ setPriority: { value: 256 } }, { addCommunity: { value: '65000:200' } }, { prependASPath: { prefix: [65001, 65002] } }],
      },
      {
        action: 'Accept',
        peerType: 'eBGP',
        matchOperator: 'In',
        cidr: '10.244.0.0/16',
        communities: { values: ['65000:100:999'] },
        asPathPrefix: [65000, 65001],
        priority: 100,
        operations: [{ setPriority: { value: 1024 } }],
      },
      { action: 'Reject' },
    ],
    exportV4: [
      {
        action: 'Accept',
        peerType: 'eBGP',
        matchOperator: 'In',
        cidr: '198.19.0.0/16',
        source: 'RemotePeers',
        communities: { values: ['65000:42'] },
        operations: [{ addCommunity: { value: '65000:300:400' } }, { prependASPath: { prefix: [64999] } }],
      },
      { action: 'Accept', peerType: 'iBGP', matchOperator: 'Equal', cidr: '198.19.0.0/16' },
    ],
  },
};
const fullExample = snapshot([node(h1), node(h2)], {
  bgpFilters: [FULL_EXAMPLE],
  bgpPeers: [peer('router', { peerIP: '198.18.0.2', asNumber: 65002, filters: ['full-example'] }), peer('same-as', { peerIP: '198.18.0.3', asNumber: 64512, filters: ['full-example'] })],
});

/** h1 ran out of blocks and borrowed an address from h2's block. */
const borrowing = snapshot([node(h1), node(h2)], {
  blocks: [newBlock('198.19.10.0/26', 'h1'), assignInBlock(newBlock('198.19.0.0/26', 'h2'), 'lab.w9', 1, { node: 'h1' })!.block],
});

/** Dual stack: an IPv6 pool and blocks, the nodes' IPv6 fabric addresses. */
const dual = snapshot([node(h1, { ipv6Address: '2001:db8:f::9/64' }), node(h2, { ipv6Address: '2001:db8:f::a/64' })], {
  pools: [...mesh.pools, { ...mesh.pools[0]!, metadata: { name: 'v6' }, spec: { ...mesh.pools[0]!.spec, cidr: '2001:db8:1::/48', blockSize: 122 } }],
  blocks: [newBlock('198.19.10.0/26', 'h1'), newBlock('2001:db8:1::40/122', 'h1'), newBlock('2001:db8:1::/122', 'h2')],
});

/** AS per rack: h1 and h2 share AS 65101 and peer eBGP with their top-of-rack router only. */
const rack = snapshot(
  [node(h1, { asNumber: 65101 }, { rack: 'a' }), node(h2, { asNumber: 65101 }, { rack: 'a' })],
  {
    bgpPeers: [peer('tor-a', { nodeSelector: "rack == 'a'", peerIP: '198.18.0.2', asNumber: 65001, numAllowedLocalASNumbers: 1 })],
  },
  false,
);

/**
 * Calico's session options and pool flags (confd bird.cfg.template, bird_ipam.cfg.template): the
 * mesh's graceful restart time, an eBGP router peer with sourceAddress None, keepOriginalNextHop,
 * maxRestartTime and ttlSecurity; a router on ports 1791 and 1792 (two sessions: peers are keyed
 * by address and port), two hops away (reachableBy: the static /32 of bird_aggr.cfg.template);
 * node h2 again on port 1790 (a node's address with a port is that node); a pool with disableBGPExport (never announced) and a disabled
 * pool (still routed).
 */
const options = snapshot([node(h1), node(h2)], {
  bgpConfiguration: {
    apiVersion: API_VERSION,
    kind: 'BGPConfiguration',
    metadata: { name: 'default' },
    spec: { asNumber: 64512, nodeToNodeMeshEnabled: true, nodeMeshMaxRestartTime: '90s', nodeMeshPassword: { secretKeyRef: { name: 'bgp-secrets', key: 'mesh' } } },
  },
  // Passwords come from a Secret in calico-node's namespace (confd's getPassword), base64 in data.
  secrets: [
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'bgp-secrets', namespace: 'calico-system' },
      type: 'Opaque',
      data: { mesh: Buffer.from('mesh-pass').toString('base64'), upstream: Buffer.from('up$tream pass').toString('base64') },
    },
  ],
  pools: [
    ...mesh.pools,
    { ...mesh.pools[0]!, metadata: { name: 'quiet' }, spec: { ...mesh.pools[0]!.spec, cidr: '198.20.0.0/16', disableBGPExport: true } },
    { ...mesh.pools[0]!, metadata: { name: 'draining' }, spec: { ...mesh.pools[0]!.spec, cidr: '198.21.0.0/16', disabled: true } },
  ],
  bgpPeers: [
    peer('upstream', {
      peerIP: '198.18.0.2',
      asNumber: 65000,
      sourceAddress: 'None',
      keepOriginalNextHop: true,
      maxRestartTime: '2m',
      ttlSecurity: 1,
      password: { secretKeyRef: { name: 'bgp-secrets', key: 'upstream' } },
    }),
    peer('tor-loopback', { peerIP: '192.168.1.1:1791', asNumber: 63400, reachableBy: '198.18.0.1' }),
    // Peers are keyed by address and port: the same router on another port is a second session.
    peer('tor-loopback-2', { peerIP: '192.168.1.1:1792', asNumber: 63400, reachableBy: '198.18.0.1' }),
    // A node's address with a port is that node: a node-specific session on that port, reachableBy too.
    peer('h2-alt-port', { node: 'h1', peerIP: '198.18.0.10:1790', reachableBy: '198.18.0.1' }),
  ],
});

const inputFor = (s: Snapshot, host: string): BirdInput => computeDesired(s, host).bird;

/**
 * BGPConfiguration: Calico's reference sample, unchanged (calico/reference/resources/bgpconfig.mdx),
 * parsed as ctl parses it; h2 listens on a port of its own (`node.h2`); a BGPPeer with localASNumber.
 */
const BGPCONFIG_SAMPLE = `apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata:
  name: default
spec:
  logSeverityScreen: Info
  nodeToNodeMeshEnabled: true
  nodeMeshMaxRestartTime: 120s
  asNumber: 63400
  serviceClusterIPs:
    - cidr: 10.96.0.0/12
  serviceExternalIPs:
    - cidr: 104.244.42.129/32
    - cidr: 172.217.3.0/24
  listenPort: 178
  bindMode: NodeIP
  communities:
    - name: bgp-large-community
      value: 63400:300:100
  prefixAdvertisements:
    - cidr: 172.218.4.0/26
      communities:
        - bgp-large-community
        - 63400:120
`;
const advertised = ((): Snapshot => {
  const [config] = parseResourceFile(BGPCONFIG_SAMPLE, 'bgpconfig.yaml') as BGPConfiguration[];
  const h2Port: NodeBGPConfiguration = { apiVersion: API_VERSION, kind: 'BGPConfiguration', metadata: { name: 'node.h2' }, spec: { listenPort: 1790 } };
  const pool = { ...config!, spec: { ...config!.spec, prefixAdvertisements: [...config!.spec.prefixAdvertisements!, { cidr: '198.19.0.0/16', communities: ['64512:1'] }] } };
  return snapshot([node(h1), node(h2), node(h3)], {
    bgpConfiguration: pool,
    nodeBgpConfigurations: [h2Port],
    bgpPeers: [peer('rack-router', { peerIP: '198.18.255.1', asNumber: 65001, localASNumber: 65100 })],
  });
})();

describe('BGPFilter (confd template_funcs.go)', () => {
  it('renders each rule as confd does, and says which filter a BGPPeer names that does not exist', () => {
    expect(ruleStatement({ action: 'Reject', matchOperator: 'NotIn', cidr: '55.4.0.0/16', prefixLength: { min: 16, max: 24 }, source: 'RemotePeers' }, 4)).toBe(
      'if ((net !~ [ 55.4.0.0/16{16,24} ])&&((defined(source))&&(source ~ [ RTS_BGP ]))) then { reject; }',
    );
    expect(ruleStatement({ action: 'Accept', interface: 'eth0', source: 'RemotePeers' }, 6)).toBe(
      'if (((defined(source))&&(source ~ [ RTS_BGP ]))&&((defined(ifname))&&(ifname ~ "eth0"))) then { accept; }',
    );
    expect(ruleStatement({ action: 'Reject' }, 4)).toBe('reject;');
    expect(filterFunctionName('my-filter', 'import', 4)).toBe("'bgp_my-filter_importFilterV4'");
    expect(filterFunctionName('x'.repeat(60), 'export', 6)).toHaveLength(64 + 2);
    expect(computeDesired(filtered, 'h1').problems).toEqual(['BGPPeer gateway: filters: no BGPFilter named "nope": skipped']);
  });

  it("renders Calico 3.32's matches and operations as confd does (conditions in its order, operations before the action, a peer type around the rule)", () => {
    const [ibgp, ebgp] = FULL_EXAMPLE.spec.importV4!;
    expect(ruleStatement(ibgp!, 4)).toBe(
      'if (is_same_as) then { if ((net ~ [ 10.244.0.0/16{24,28} ])&&((defined(ifname))&&(ifname ~ "eth0"))&&((65000, 100) ~ bgp_community)&&(bgp_path ~ [= 65000 * =])&&(defined(bgp_local_pref)&&(bgp_local_pref = 2147483135))) then { bgp_local_pref = 2147483391; bgp_community.add((65000, 200)); bgp_path.prepend(65002); bgp_path.prepend(65001); accept; } }',
    );
    expect(ruleStatement(ebgp!, 4)).toBe(
      'if (!is_same_as) then { if ((net ~ 10.244.0.0/16)&&((65000, 100, 999) ~ bgp_large_community)&&(bgp_path ~ [= 65000 65001 * =])&&(defined(bgp_local_pref)&&(bgp_local_pref = 2147483547))) then { bgp_local_pref = 2147482623; accept; } }',
    );
    // The sessions say whether the peer is of this node's AS.
    const text = renderBirdConfig(inputFor(fullExample, 'h1'));
    expect(text).toContain("function 'bgp_full-example_importFilterV4'(bool is_same_as) {");
    expect(text).toMatch(/protocol bgp Global_198_18_0_2 [\s\S]*?'bgp_full-example_importFilterV4'\(false\);/);
    expect(text).toMatch(/protocol bgp Global_198_18_0_3 [\s\S]*?'bgp_full-example_importFilterV4'\(true\);/);
  });

  it("every session's filters carry the priority preamble (confd's compiled_templates bgpfilter/kubevirt_live_migration/bird.cfg): metric ↔ local preference on export before the filter functions, preference 200 for raised priority on import after them", () => {
    const text = renderBirdConfig(inputFor(fullExample, 'h1'));
    const session = text.slice(text.indexOf('protocol bgp Global_198_18_0_2'));
    const lines = session.split('\n').map((l) => l.trim());
    const at = (l: string) => lines.indexOf(l);
    expect(at("'bgp_full-example_importFilterV4'(false);")).toBeLessThan(at('if (defined(bgp_local_pref)&&(bgp_local_pref > 2147482623)) then'));
    expect(at('preference = 200;')).toBe(at('if (defined(bgp_local_pref)&&(bgp_local_pref > 2147482623)) then') + 1);
    expect(at('if (defined(source) && source = RTS_BGP && defined(bgp_local_pref)) then {')).toBeLessThan(at("'bgp_full-example_exportFilterV4'(false);"));
    expect(lines).toContain('krt_metric = 2147483647 - bgp_local_pref;');
    expect(lines).toContain('if (!defined(krt_metric)) then { krt_metric = 1024; }');
    // Sessions without BGPFilters get the same from the shared filters.
    expect(text).toMatch(/filter calico_export_to_peers\n\{\n {2}if \(defined\(source\) && source = RTS_BGP && defined\(bgp_local_pref\)\) then \{/);
    expect(text).toMatch(/filter calico_import_from_nodes\n\{\n {2}if \(defined\(bgp_local_pref\)&&\(bgp_local_pref > 2147482623\)\) then\n {4}preference = 200;\n {2}accept;/);
  });
});

describe('BGP passwords (confd: bird.cfg.template `password`)', () => {
  it('a missing Secret or key, or a value BIRD cannot hold, leaves the session without a password and says why', () => {
    const missing = { ...options, secrets: [] };
    const d = computeDesired(missing, 'h1');
    expect(d.bird.sessions.map((x) => x.password)).toEqual([undefined, undefined, undefined, undefined, undefined]);
    expect(d.problems).toEqual([
      'BGPConfiguration default nodeMeshPassword: password: no Secret calico-system/bgp-secrets: the session has no password',
      'BGPPeer upstream: password: no Secret calico-system/bgp-secrets: the session has no password',
    ]);
    const quoted = { ...options, secrets: [{ ...options.secrets![0]!, data: { mesh: Buffer.from('say "hi"').toString('base64') } }] };
    expect(computeDesired(quoted, 'h1').problems[0]).toBe(
      'BGPConfiguration default nodeMeshPassword: password: key "mesh" of Secret calico-system/bgp-secrets: 1 to 80 bytes of printable characters, no double quote or backslash: the session has no password',
    );
  });
});

const expectGolden = (name: string, text: string) => expectGoldenFile(join(GOLDEN, name), text);

/** The real BIRD must accept the text. */
async function expectBirdAccepts(name: string, text: string): Promise<void> {
  const path = join(tmp, name);
  writeFileSync(path, text);
  await checkBirdConfig(path);
}

const goldens: Array<[string, BirdInput]> = [
  ['bird-mesh-h1.conf', inputFor(mesh, 'h1')],
  ['bird-mesh-h3.conf', inputFor(mesh, 'h3')],
  ['bird-no-blocks.conf', inputFor({ ...mesh, blocks: [] }, 'h2')],
  ['bird-rr-server.conf', inputFor(rr, 'h1')],
  ['bird-rr-client.conf', inputFor(rr, 'h3')],
  ['bird-peers-explicit.conf', inputFor(explicit, 'h1')],
  ['bird-borrowed.conf', inputFor(borrowing, 'h1')],
  ['bird-dual-stack.conf', inputFor(dual, 'h1')],
  ['bird-ebgp-rack.conf', inputFor(rack, 'h1')],
  ['bird-peer-options.conf', inputFor(options, 'h1')],
  ['bird-bgpfilter.conf', inputFor(filtered, 'h1')],
  ['bird-bgpfilter-full-example.conf', inputFor(fullExample, 'h1')],
  ['bird-bgp-configuration.conf', inputFor(advertised, 'h1')],
  ['bird-timers-bfd.conf', { ...inputFor(mesh, 'h1'), timers: { holdTime: 9, keepaliveTime: 3, connectRetryTime: 2, gracefulRestart: false, bfd: { intervalMs: 100, multiplier: 3 } } }],
  // BFD only on the sessions of h3 (bench scale's crash subject): h1's session with h3 has it.
  ['bird-bfd-nodes.conf', { ...inputFor(mesh, 'h1'), timers: { gracefulRestart: false, bfd: { intervalMs: 100, multiplier: 3, nodes: ['h3'] } } }],
  // BFD with a sourceAddress None peer: BIRD refuses multihop BGP with BFD and no local address.
  ['bird-bfd-no-source-address.conf', { ...inputFor(options, 'h1'), timers: { gracefulRestart: false, bfd: { intervalMs: 100, multiplier: 3 } } }],
];

describe('renderBirdConfig: golden files, each accepted by the real `bird -p`', () => {
  for (const [name, input] of goldens) {
    it(name, async () => {
      const text = renderBirdConfig(input);
      expectGolden(name, text);
      await expectBirdAccepts(name, text);
    });
  }

  it('BFD scoped to nodes: only their sessions get `bfd on`, and a host with none of them has no BFD at all', () => {
    const bfd = { intervalMs: 100, multiplier: 3, nodes: ['h3'] };
    const h1 = renderBirdConfig({ ...inputFor(mesh, 'h1'), timers: { bfd } });
    expect(h1.match(/^ {2}bfd on;/gm)).toHaveLength(1);
    expect(h1).toMatch(/node h3\n(?:.*\n){0,6} {2}bfd on;/);
    const h3 = renderBirdConfig({ ...inputFor(mesh, 'h3'), timers: { bfd } });
    expect(h3.match(/^ {2}bfd on;/gm)).toHaveLength(2); // h3 itself: every session
    const none = renderBirdConfig({ ...inputFor(mesh, 'h1'), timers: { bfd: { ...bfd, nodes: ['elsewhere'] } } });
    expect(none).not.toMatch(/bfd/);
    // Unscoped, the template carries it for every session, as before.
    expect(renderBirdConfig({ ...inputFor(mesh, 'h1'), timers: { bfd: { intervalMs: 100, multiplier: 3 } } }).match(/bfd on;/g)).toHaveLength(2);
  });

  it('with no IPv4 pools renders a filter that rejects everything, still valid BIRD', async () => {
    const text = renderBirdConfig({ ...inputFor(mesh, 'h1'), pools: [] });
    expect(text).toContain('  return false;');
    expect(text).not.toContain('[ ]');
    await expectBirdAccepts('no-pools.conf', text);
  });

  it('with no sessions at all is valid BIRD', async () => {
    const text = renderBirdConfig(inputFor(snapshot([node(h1)]), 'h1'));
    expect(text).not.toContain('protocol bgp');
    await expectBirdAccepts('alone.conf', text);
  });
});

describe('renderBirdConfig: content', () => {
  /** The `protocol bgp` block for a peer address, as text. */
  const block = (text: string, ip: string) => {
    const start = text.search(new RegExp(`protocol bgp \\w+_${ip.replaceAll('.', '_')} `));
    expect(start).toBeGreaterThanOrEqual(0);
    return text.slice(start, text.indexOf('\n}', start));
  };

  it('sorts peers and blocks numerically and is deterministic', () => {
    const text = renderBirdConfig(inputFor(mesh, 'h1'));
    expect(text.indexOf('Mesh_198_18_0_10')).toBeLessThan(text.indexOf('Mesh_198_18_0_12'));
    expect(text.indexOf('198.19.9.192/26')).toBeLessThan(text.indexOf('198.19.10.0/26'));
    const input = inputFor(mesh, 'h1');
    const shuffled = { ...input, sessions: [...input.sessions].reverse(), localBlocks: ['198.19.9.192/26', '198.19.10.0/26', '198.19.10.0/26'] };
    expect(renderBirdConfig(shuffled)).toBe(text);
  });

  it('exports each local block as an aggregate only, and other pool prefixes (borrowed /32s, reflected routes) as they are', () => {
    const text = renderBirdConfig(inputFor(mesh, 'h1'));
    const filter = text.slice(text.indexOf('filter calico_export_to_peers'), text.indexOf('\n}', text.indexOf('filter calico_export_to_peers')));
    expect(filter).toContain('if net = 198.19.9.192/26 then accept;');
    expect(filter).toContain('if net ~ 198.19.9.192/26 then reject;');
    expect(filter).toContain('if calico_in_pool() then accept;');
  });

  it("a borrowed address is announced from the kernel, as Calico's: learn; persist; the blocks' blackholes go to the kernel", () => {
    // The borrower's workload route (the agent's) is learned by the kernel protocol and, being in
    // a pool but in no local block, exported by the pool rule; nothing of it is static.
    const text = renderBirdConfig(inputFor(borrowing, 'h1'));
    expect(text).not.toContain('198.19.0.0/32');
    expect(text).toMatch(
      /protocol kernel kernel4 \{\n {2}learn;[^\n]*\n {2}persist;[^\n]*\n {2}scan time 2;\n {2}ipv4 \{\n {4}import filter \{ if ifname = "eth0" then reject; accept; \};\n {4}export filter calico_kernel_programming;/,
    );
    const kernelFilter = text.slice(text.indexOf('filter calico_kernel_programming'), text.indexOf('\n}', text.indexOf('filter calico_kernel_programming')));
    expect(kernelFilter).toContain('if source = RTS_BGP then accept;');
    expect(kernelFilter).toContain('if proto = "calico_blocks" then accept;');
    // The VXLAN device's routes, learned from the kernel, are never announced (reject_tunnel_routes).
    expect(text).toContain('if ifname = "vxlan.calico" then reject;');
  });

  it("dual stack: IPv6 routes on sessions of their own between the nodes' IPv6 addresses (Calico's bird6.cfg.template)", () => {
    const input = inputFor(dual, 'h1');
    expect(input.ipv6).toEqual({ address: '2001:db8:f::9', localBlocks: ['2001:db8:1::40/122'], pools: ['2001:db8:1::/48'] });
    expect(input.sessions.map((x) => [x.name, x.family ?? 4, x.ip, x.passive])).toEqual([
      ['Mesh_198_18_0_10', 4, '198.18.0.10', false], // "198.18.0.10" < "198.18.0.9" as text
      ['Mesh_2001_db8_f__a', 6, '2001:db8:f::a', true], // "2001:db8:f::a" > "2001:db8:f::9"
    ]);
    const text = renderBirdConfig(input);
    expect(text.match(/protocol bgp /g)).toHaveLength(2);
    expect(text).toMatch(/protocol bgp Mesh_2001_db8_f__a from calico_node6 \{\n {2}neighbor 2001:db8:f::a as 64512;\n {2}source address 2001:db8:f::9;/);
    expect(text).toMatch(/template bgp calico_node6 \{\n {2}local as 64512;\n {2}ipv6 \{/);
    expect(text).not.toContain('next hop address');
    expect(text).toMatch(/protocol static calico_blocks6 \{\n {2}ipv6;\n {2}route 2001:db8:1::40\/122 blackhole;/);
    expect(renderBirdConfig(inputFor(mesh, 'h1'))).not.toContain('ipv6');
  });

  it('a route reflector marks its clients and its cluster id; a client has plain sessions to both reflectors', () => {
    const server = renderBirdConfig(inputFor(rr, 'h1'));
    expect(block(server, h3.ip)).toContain('rr client;');
    expect(block(server, h3.ip)).toContain('rr cluster id 224.0.0.1;');
    expect(block(server, h2.ip)).not.toContain('rr client;'); // the other reflector of the same cluster
    const client = renderBirdConfig(inputFor(rr, 'h3'));
    expect(client).not.toContain('rr client');
    expect(client).toMatch(/protocol bgp Node_198_18_0_9 /);
    expect(client).toMatch(/protocol bgp Node_198_18_0_10 /);
    expect(client).not.toContain('Mesh_');
  });

  it('peers with routers outside the cluster: iBGP and eBGP, global and per node, with the router import filter', () => {
    const h1Text = renderBirdConfig(inputFor(explicit, 'h1'));
    expect(block(h1Text, '198.18.0.2')).toMatch(/protocol bgp Global_198_18_0_2 from calico_router[\s\S]*neighbor 198\.18\.0\.2 as 64512;/);
    expect(block(h1Text, '198.18.0.3')).toMatch(/protocol bgp Node_198_18_0_3 from calico_router[\s\S]*neighbor 198\.18\.0\.3 as 65001;/);
    expect(block(h1Text, '198.18.0.3')).toContain('source address 198.18.0.9;');
    const h2Text = renderBirdConfig(inputFor(explicit, 'h2'));
    expect(h2Text).toContain('Global_198_18_0_2');
    expect(h2Text).not.toContain('198_18_0_3');
  });

  it("eBGP to a top-of-rack router: own AS, the router's AS, and rack mates' routes accepted despite the shared AS", () => {
    const text = renderBirdConfig(inputFor(rack, 'h1'));
    expect(text).toContain('local as 65101;');
    expect(block(text, '198.18.0.2')).toMatch(/neighbor 198\.18\.0\.2 as 65001;[\s\S]*allow local as 1;/);
    expect(text.match(/protocol bgp /g)).toHaveLength(1);
  });

  it('names protocols as Calico does', () => {
    expect(protocolName('198.18.0.12')).toBe('Mesh_198_18_0_12');
    expect(protocolName('198.18.0.12', 'Global')).toBe('Global_198_18_0_12');
    expect(() => protocolName('198.18.0')).toThrow(SimError);
  });
});

describe('BGPConfiguration: listenPort, bindMode, communities, service ranges (confd bird.cfg.template, bird_aggr.cfg.template, bird_ipam.cfg.template)', () => {
  const text = renderBirdConfig(inputFor(advertised, 'h1'));
  it("listens on its port and dials each peer node on that node's own (node.<name> over default); NodeIP binds to the node address", () => {
    expect(text).toMatch(/template bgp calico_node \{\n {2}local port 178 as 63400;\n {2}strict bind on;/);
    expect(text).toMatch(/neighbor 198\.18\.0\.10 port 1790 as 63400;/);
    expect(text).toMatch(/neighbor 198\.18\.0\.12 port 178 as 63400;/);
    // A router outside the cluster listens on 179; the session speaks as the peer's localASNumber.
    expect(text).toMatch(/neighbor 198\.18\.255\.1 as 65001;\n {2}local as 65100;/);
  });
  it('adds the communities on the exported prefixes inside each prefixAdvertisement, names resolved', () => {
    expect(text).toContain('  if net ~ [ 172.218.4.0/26+ ] then {\n    bgp_large_community.add((63400, 300, 100));\n    bgp_community.add((63400, 120));\n  }');
    expect(text).toMatch(/filter calico_export_to_peers\n\{\n(?:.*\n)*? {2}if ifname = "vxlan.calico".*\n {2}calico_apply_communities\(\);/);
  });
  it("ignoredInterfaces: left out of the direct protocol before the workloads' and kube-ipvs*", () => {
    const config = { ...advertised.bgpConfiguration!, spec: { ...advertised.bgpConfiguration!.spec, ignoredInterfaces: ['docker*', 'eth1'] } };
    expect(renderBirdConfig(inputFor({ ...advertised, bgpConfiguration: config }, 'h1'))).toContain('  interface -"docker*", -"eth1", -"cali*", -"kube-ipvs*", "*";');
  });
  it('announces the service ranges from a static blackhole and keeps them out of the kernel', () => {
    expect(text).toContain('protocol static calico_services {\n  ipv4;\n  route 10.96.0.0/12 blackhole;\n  route 104.244.42.129/32 blackhole;\n  route 172.217.3.0/24 blackhole;\n}');
    expect(text).toContain('  if net ~ [ 10.96.0.0/12+ ] then accept;    # a service range');
    expect(text).toContain('filter calico_kernel_programming\n{\n  if net ~ [ 10.96.0.0/12+ ] then reject;');
  });
});

describe('BGPPeer localASNumber between cluster nodes', () => {
  it('the nodes in scope speak as it; the selected node expects it (its reverse session has no local as)', () => {
    const snap = snapshot(
      [node(h1, {}, { role: 'edge' }), node(h2, {}, { role: 'core' })],
      { bgpPeers: [peer('edge-core', { nodeSelector: "role == 'edge'", peerSelector: "role == 'core'", localASNumber: 65100 })] },
      false,
    );
    const edge = renderBirdConfig(inputFor(snap, 'h1'));
    const core = renderBirdConfig(inputFor(snap, 'h2'));
    expect(edge).toMatch(/neighbor 198\.18\.0\.10 as 64512;\n {2}local as 65100;/);
    expect(core).toMatch(/neighbor 198\.18\.0\.9 as 65100;\n {2}source address/);
  });
});

describe('renderBirdConfig: invalid input', () => {
  const session = inputFor(mesh, 'h1').sessions.find((x) => x.ip === h2.ip)!;
  const bad: Array<[string, Partial<BirdInput>, RegExp]> = [
    ['AS 0', { asNumber: 0 }, /AS number of host h1 must be an integer in 1\.\.4294967295, got 0/],
    ['AS too large', { asNumber: 4294967296 }, /AS number/],
    ['fractional AS', { asNumber: 64512.5 }, /AS number/],
    ['peer AS', { sessions: [{ ...session, asNumber: -1 }] }, /AS number of peer Mesh_198_18_0_10/],
    ['router id', { routerId: '198.18.0.256' }, /malformed IPv4 address for router id of host h1: "198.18.0.256"/],
    ['leading zero', { routerId: '198.18.0.09' }, /malformed IPv4 address/],
    ['peer address', { sessions: [{ ...session, ip: 'h2.example' }] }, /malformed IPv4 address for address of peer Mesh_198_18_0_10/],
    ['block CIDR', { localBlocks: ['198.19.0.0/33'] }, /malformed IPv4 CIDR for block of host h1: "198.19.0.0\/33"/],
    ['block without length', { localBlocks: ['198.19.0.0'] }, /malformed IPv4 CIDR/],
    ['host bits', { localBlocks: ['198.19.0.5/26'] }, /host bits set \(did you mean 198\.19\.0\.0\/26\?\)/],
    ['IPv6 pool', { pools: ['2001:db8:1::/48'] }, /malformed IPv4 .* IP pool/],
    ['own address as peer', { sessions: [{ ...session, ip: h1.ip }] }, /own address/],
    ['duplicate peer address', { sessions: [session, { ...session, name: 'Mesh_x' }] }, /share the address 198\.18\.0\.10/],
    ['rr client without a cluster id', { sessions: [{ ...session, rrClient: true }] }, /has no cluster id/],
    ['bad cluster id', { rrClusterId: '224.0.0' }, /route reflector cluster id/],
    ['hold time below 3', { timers: { holdTime: 2 } }, /BGP hold time of host h1 must be a whole number in 3\.\.65535, got 2/],
    ['keepalive not below hold', { timers: { holdTime: 9, keepaliveTime: 9 } }, /keepalive time \(9\) of host h1 must be below the hold time \(9\)/],
    ['BFD interval', { timers: { bfd: { intervalMs: 1, multiplier: 3 } } }, /BFD interval/],
    ['newline in host name', { host: 'h1\nrouter id 1.1.1.1;' }, /invalid host name/],
  ];
  for (const [what, over, message] of bad) {
    it(`rejects ${what}`, () => {
      const input = { ...inputFor(mesh, 'h1'), ...over };
      expect(() => renderBirdConfig(input)).toThrow(SimError);
      expect(() => renderBirdConfig(input)).toThrow(message);
    });
  }
});

describe('checkBirdConfig: negative controls', () => {
  it('names file and line of a syntax error', async () => {
    const path = join(tmp, 'broken.conf');
    writeFileSync(path, 'router id 198.18.0.9;\nprotocol bogus {\n');
    await expect(checkBirdConfig(path)).rejects.toThrow(new RegExp(`invalid BIRD config: ${path}:2:\\d+ syntax error`));
  });

  it('rejects a rendered config with a statement damaged', async () => {
    const path = join(tmp, 'damaged.conf');
    const text = renderBirdConfig(inputFor(mesh, 'h1')).replace('route 198.19.10.0/26 blackhole;', 'route 198.19.10.5/26 blackhole;');
    writeFileSync(path, text);
    const line = text.split('\n').findIndex((l) => l.includes('198.19.10.5/26')) + 1;
    await expect(checkBirdConfig(path)).rejects.toThrow(`${path}:${line}:`);
  });

  it('reports a missing file', async () => {
    await expect(checkBirdConfig(join(tmp, 'absent.conf'))).rejects.toThrow(/absent\.conf/);
  });
});
