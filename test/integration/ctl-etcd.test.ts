/**
 * The calicoctl role against a real etcd (no namespaces): apply, delete and get, and that a
 * refused file or delete leaves etcd exactly as it was.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Ctl } from '../../src/ctl/ctl.js';
import { parseDeleteTargets, parseResourceFile } from '../../src/ctl/parse.js';
import { formatResources, summary } from '../../src/ctl/format.js';
import { ResourceError } from '../../src/ctl/resource-error.js';
import { ref } from '../../src/model/resources.js';
import { keys } from '../../src/datastore/keys.js';
import { Datastore } from '../../src/datastore/store.js';
import { assignInBlock, newBlock } from '../../src/ipam/blocks.js';
import { startEtcd, type EtcdServer } from '../helpers/etcd.js';
import { bigPolicy } from '../helpers/bad-input.js';

const V3 = 'apiVersion: projectcalico.org/v3';

const cluster = `
${V3}
kind: BGPConfiguration
metadata: {name: default}
spec: {asNumber: 64512, nodeToNodeMeshEnabled: false}
---
${V3}
kind: IPPool
metadata: {name: default-ipv4-ippool}
spec: {cidr: 198.19.0.0/17}
---
${V3}
kind: Node
metadata: {name: node-b, labels: {rack: r1}}
spec: {bgp: {ipv4Address: 198.18.0.12/17}}
---
${V3}
kind: Node
metadata: {name: node-a, labels: {rack: r1}}
spec: {bgp: {ipv4Address: 198.18.0.11/17, routeReflectorClusterID: 224.0.0.1}}
---
${V3}
kind: BGPPeer
metadata: {name: tor}
spec: {node: node-a, peerIP: 198.18.0.1, asNumber: 65001}
`;

/** Every key and value under /calico, to show that nothing changed. */
async function dump(ds: Datastore): Promise<Record<string, string>> {
  return ds.client.getAll().prefix('/calico/').strings();
}

async function refused(p: Promise<unknown>): Promise<readonly string[]> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ResourceError);
  return (err as ResourceError).problems;
}

describe('Ctl on a real etcd', () => {
  let etcd: EtcdServer;
  let ds: Datastore;
  let ctl: Ctl;
  beforeAll(async () => {
    etcd = await startEtcd();
    ds = new Datastore([etcd.endpoint]);
    ctl = new Ctl(ds);
  });
  afterAll(async () => {
    ds?.close();
    await etcd?.stop();
  });
  beforeEach(async () => {
    await ds.client.delete().prefix('/calico/');
  });

  it('apply creates, then configures; values land at the Calico keys', async () => {
    const first = await ctl.apply(parseResourceFile(cluster, 'cluster.yaml'));
    expect(first.map((r) => `${r.kind}/${r.name}: ${r.action}`)).toEqual([
      'BGPConfiguration/default: created',
      'IPPool/default-ipv4-ippool: created',
      'Node/node-b: created',
      'Node/node-a: created',
      'BGPPeer/tor: created',
    ]);
    expect(summary('applied', first)).toBe('Successfully applied 5 resource(s)');

    const pool = (await ds.get<{ metadata: { creationTimestamp: string }; spec: unknown }>(keys.ippool('default-ipv4-ippool')))!;
    expect(pool.value.spec).toEqual({ cidr: '198.19.0.0/17', blockSize: 26, ipipMode: 'Never', vxlanMode: 'Never', natOutgoing: false, nodeSelector: 'all()' });
    expect(pool.value.metadata.creationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect((await ds.get(keys.node('node-a')))?.value).toMatchObject({ kind: 'Node', metadata: { name: 'node-a', labels: { rack: 'r1' } } });
    expect((await ds.get(keys.bgpPeer('tor')))?.value).toMatchObject({ spec: { node: 'node-a', peerIP: '198.18.0.1', asNumber: 65001 } });
    expect((await ds.get(keys.bgpConfiguration()))?.value).toMatchObject({ spec: { asNumber: 64512, nodeToNodeMeshEnabled: false } });

    // Again, with one change: everything is configured, the creation time is kept.
    const again = await ctl.apply(parseResourceFile(cluster.replace('{cidr: 198.19.0.0/17}', '{cidr: 198.19.0.0/17, blockSize: 28, natOutgoing: true}'), 'cluster.yaml'));
    expect(again.every((r) => r.action === 'configured')).toBe(true);
    const after = (await ds.get<{ metadata: { creationTimestamp: string }; spec: { blockSize: number; natOutgoing: boolean } }>(keys.ippool('default-ipv4-ippool')))!;
    expect(after.value.spec).toMatchObject({ blockSize: 28, natOutgoing: true });
    expect(after.value.metadata.creationTimestamp).toBe(pool.value.metadata.creationTimestamp);

    // One new, one known.
    const mixed = await ctl.apply(
      parseResourceFile(
        `${V3}\nkind: IPPool\nmetadata: {name: second}\nspec: {cidr: 198.19.128.0/17}\n---\n${V3}\nkind: IPPool\nmetadata: {name: default-ipv4-ippool}\nspec: {cidr: 198.19.0.0/17}\n`,
        'p.yaml',
      ),
    );
    expect(mixed.map((r) => r.action)).toEqual(['created', 'configured']);
    expect(summary('applied', mixed)).toBe("Successfully applied 2 'IPPool' resource(s)");
  });

  it('a file with one bad document writes nothing', async () => {
    await ctl.apply(parseResourceFile(cluster, 'cluster.yaml'));
    const before = await dump(ds);

    // A schema error in the last document: refused before etcd is even read.
    const schemaBad = `${V3}\nkind: IPPool\nmetadata: {name: fresh}\nspec: {cidr: 198.19.128.0/17}\n---\n${V3}\nkind: BGPPeer\nmetadata: {name: rr-peers}\nspec: {peerIP: 198.18.0.2}\n`;
    expect(() => parseResourceFile(schemaBad, 'peers.yaml')).toThrow('peers.yaml: document 2 (BGPPeer rr-peers): spec.asNumber: required with spec.peerIP');
    // The same objects handed to apply directly are validated there too.
    const raw = [
      { apiVersion: 'projectcalico.org/v3', kind: 'IPPool', metadata: { name: 'fresh' }, spec: { cidr: '198.19.128.0/17' } },
      { apiVersion: 'projectcalico.org/v3', kind: 'BGPPeer', metadata: { name: 'rr-peers' }, spec: { peerIP: '198.18.0.2' } },
    ];
    expect(await refused(ctl.apply(raw))).toEqual(['resource 2 (BGPPeer rr-peers): spec.asNumber: required with spec.peerIP']);
    // An address that is not unicast is refused there as well.
    const multicast = [{ apiVersion: 'projectcalico.org/v3', kind: 'BGPPeer', metadata: { name: 'upstream' }, spec: { peerIP: '224.0.0.5', asNumber: 65001 } }];
    expect(await refused(ctl.apply(multicast))).toEqual(['resource 1 (BGPPeer upstream): spec.peerIP: 224.0.0.5 overlaps the multicast range 224.0.0.0/4']);

    // A cross-check error in the last document (valid on its own): found against etcd.
    const crossBad = parseResourceFile(
      `${V3}\nkind: IPPool\nmetadata: {name: fresh}\nspec: {cidr: 198.19.128.0/17}\n---\n${V3}\nkind: Node\nmetadata: {name: node-c}\nspec: {bgp: {ipv4Address: 198.18.0.11/17}}\n---\n${V3}\nkind: BGPPeer\nmetadata: {name: tor}\nspec: {node: node-x, peerIP: 198.18.0.1, asNumber: 65001}\n`,
      'more.yaml',
    );
    expect(await refused(ctl.apply(crossBad))).toEqual(['more.yaml: document 2 (Node node-c): spec.bgp.ipv4Address: 198.18.0.11 is already used by Node node-a: two nodes cannot share an address']);
    const overlap = parseResourceFile(`${V3}\nkind: IPPool\nmetadata: {name: fabric}\nspec: {cidr: 198.18.0.0/24}\n`, 'fabric.yaml');
    expect((await refused(ctl.apply(overlap)))[0]).toMatch(/^fabric\.yaml: document 1 \(IPPool fabric\): spec\.cidr: 198\.18\.0\.0\/24 overlaps the network 198\.18\.0\.0\/17 of Node node-a/);

    // A good policy and a bad one in one file: the error names the field, nothing is written.
    const policies =
      `${V3}\nkind: GlobalNetworkPolicy\nmetadata: {name: good}\nspec: {selector: "role == 'web'", ingress: [{action: Allow, protocol: TCP, destination: {ports: [80]}}]}\n---\n` +
      `${V3}\nkind: NetworkPolicy\nmetadata: {name: bad, namespace: tenant-a}\nspec: {ingress: [{action: Allow, destination: {ports: ['90:80']}, protocol: TCP}]}\n`;
    expect(() => parseResourceFile(policies, 'policies.yaml')).toThrow(/policies\.yaml: document 2 \(NetworkPolicy bad\): spec\.ingress\[0\]\.destination\.ports\[0\]: /);
    const rawPolicies = [
      { apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', metadata: { name: 'good' }, spec: { ingress: [{ action: 'Allow' }] } },
      { apiVersion: 'projectcalico.org/v3', kind: 'NetworkPolicy', metadata: { name: 'bad', namespace: 'tenant-a' }, spec: { selector: "role = 'web'" } },
    ];
    expect((await refused(ctl.apply(rawPolicies)))[0]).toMatch(/^resource 2 \(NetworkPolicy bad\): spec\.selector: .*column/);

    expect(await dump(ds)).toEqual(before);
  });

  it('refuses a resource too large for one etcd request before sending it, writing nothing', async () => {
    await ctl.apply(parseResourceFile(cluster, 'cluster.yaml'));
    const before = await dump(ds);
    const big = parseResourceFile(bigPolicy('huge', 5 * 1024 * 1024), 'big.yaml');
    expect(await refused(ctl.apply(big))).toEqual([
      expect.stringMatching(
        /^big\.yaml: document 1 \(GlobalNetworkPolicy huge\): spec\.ingress: 5\.\d MiB .*; the resource takes 5\.\d MiB \([\d,]+ bytes\) as stored, more than the 1 MiB \(1,048,576 bytes\) one resource may take/,
      ),
    ]);
    expect(await dump(ds)).toEqual(before);
  });

  it('applies 200 policies of one file all or nothing, and reads back more than gRPC takes by default (4 MiB)', async () => {
    const policy = (i: number) =>
      `${V3}\nkind: GlobalNetworkPolicy\nmetadata: {name: allow-${i}}\nspec: {selector: "app == 'a${i}'", ingress: [{action: Allow, protocol: TCP, destination: {ports: [${1000 + i}]}}]}\n`;
    const file = Array.from({ length: 200 }, (_, i) => policy(i)).join('---\n');
    // One bad document among them: nothing is written.
    const bad = `${file}---\n${V3}\nkind: GlobalNetworkPolicy\nmetadata: {name: gate}\nspec: {tier: nosuch, ingress: [{action: Allow}]}\n`;
    expect(await refused(ctl.apply(parseResourceFile(bad, 'many.yaml')))).toEqual([
      'many.yaml: document 201 (GlobalNetworkPolicy gate): spec.tier: no Tier named "nosuch" (tiers: default): apply the Tier first',
    ]);
    expect(await ctl.get('gnp')).toHaveLength(0);
    // All 200, in one transaction: one revision.
    const results = await ctl.apply(parseResourceFile(file, 'many.yaml'));
    expect(results).toHaveLength(200);
    const revisions = new Set((await ds.list(keys.globalNetworkPolicies)).items.map((i) => i.modRevision));
    expect(revisions.size).toBe(1);

    // Eight resources of 800 KiB: 6.4 MiB in one transaction, then listed back whole.
    const items = Array.from({ length: 8 }, (_, i) => ({
      apiVersion: 'projectcalico.org/v3',
      kind: 'GlobalNetworkPolicy',
      metadata: { name: `inventory-${i}`, annotations: { hosts: 'x'.repeat(800 * 1024) } },
      spec: {},
    }));
    expect(await ctl.apply(parseResourceFile(JSON.stringify({ apiVersion: 'projectcalico.org/v3', kind: 'List', items }), 'inventory.json'))).toHaveLength(8);
    expect(await ctl.get('gnp')).toHaveLength(208);
  });

  it('delete refuses a node with workload endpoints and a pool with addresses in use, deleting nothing', async () => {
    await ctl.apply(parseResourceFile(cluster, 'cluster.yaml'));
    const wep = (name: string, node: string) => ({
      apiVersion: 'projectcalico.org/v3',
      kind: 'WorkloadEndpoint',
      metadata: { name, namespace: 'default' },
      spec: { node, orchestrator: 'cni', workload: name, endpoint: 'eth0', interfaceName: `cali-${name}`, ipNetworks: ['198.19.0.0/32'], netns: `ns-${name}` },
    });
    await ds.put(keys.workloadEndpoint('w1'), wep('w1', 'node-a'));
    await ds.put(keys.workloadEndpoint('w2'), wep('w2', 'node-a'));
    await ds.put(keys.block('198.19.0.0/26'), assignInBlock(newBlock('198.19.0.0/26', 'node-a'), 'lab.w1', 2)!.block);
    await ds.put(keys.affinity('node-a', '198.19.0.0/26'), { state: 'confirmed', deleted: false });
    const before = await dump(ds);

    expect(await refused(ctl.delete([ref('bgppeer', 'tor'), ref('node', 'node-a'), ref('ippool', 'default-ipv4-ippool')]))).toEqual([
      'node node-a: Node node-a still has 2 workload endpoints (w1, w2): delete those workloads first',
      'ippool default-ipv4-ippool: IPPool default-ipv4-ippool still has 2 addresses in use, in 1 block (198.19.0.0/26): delete the workloads using them first',
    ]);
    expect(await refused(ctl.delete([ref('bgppeer', 'tor'), ref('Node', 'ghost'), ref('IPPool', 'nope')]))).toEqual(['resources do not exist: Node(ghost), IPPool(nope); nothing was deleted']);
    expect(await refused(ctl.delete([ref('wep', 'w1')]))).toEqual([
      'wep w1: WorkloadEndpoint cannot be deleted here: workload endpoints are written by the CNI plugin: use `calico-sim workload add` / `workload del`',
    ]);
    expect(await dump(ds)).toEqual(before);

    // Once the workloads are gone (their addresses released, the block left empty with its
    // affinity, as IPAM leaves it), the delete goes through, in one transaction.
    await ds.delete(keys.workloadEndpoint('w1'));
    await ds.delete(keys.workloadEndpoint('w2'));
    await ds.put(keys.block('198.19.0.0/26'), newBlock('198.19.0.0/26', 'node-a'));
    // A delete file needs no spec.
    const done = await ctl.delete(
      parseDeleteTargets(`${V3}\nkind: BGPPeer\nmetadata: {name: tor}\n---\n${V3}\nkind: Node\nmetadata: {name: node-a}\nspec: {bgp: {ipv4Address: 198.18.0.11/17}}\n`, 'del.yaml'),
    );
    expect(done).toEqual([
      { kind: 'BGPPeer', name: 'tor' },
      { kind: 'Node', name: 'node-a' },
    ]);
    expect(summary('deleted', done)).toBe('Successfully deleted 2 resource(s)');
    expect(await ds.get(keys.node('node-a'))).toBeUndefined();
    expect(await ds.get(keys.bgpPeer('tor'))).toBeUndefined();
    expect(await ds.get(keys.node('node-b'))).toBeDefined();
    // The pool goes with its empty block and the block's affinity record.
    expect(await ctl.delete([ref('ippool', 'default-ipv4-ippool')])).toEqual([{ kind: 'IPPool', name: 'default-ipv4-ippool', releasedBlocks: ['198.19.0.0/26'] }]);
    expect(await ds.get(keys.ippool('default-ipv4-ippool'))).toBeUndefined();
    expect(await ds.client.getAll().prefix(keys.ipamPrefix).keys()).toEqual([]);
  });

  it('get: every kind spelling, sorted by name, one by name, namespaces (-n, -A), and the tables', async () => {
    await ctl.apply(parseResourceFile(cluster, 'cluster.yaml'));
    await ds.put(keys.workloadEndpoint('w2'), {
      apiVersion: 'projectcalico.org/v3',
      kind: 'WorkloadEndpoint',
      metadata: { name: 'w2', namespace: 'default' },
      spec: { node: 'node-b', interfaceName: 'cali2', ipNetworks: ['198.19.0.65/32'] },
    });
    await ds.put(keys.workloadEndpoint('w1'), {
      apiVersion: 'projectcalico.org/v3',
      kind: 'WorkloadEndpoint',
      metadata: { name: 'w1', namespace: 'default' },
      spec: { node: 'node-a', interfaceName: 'cali1', ipNetworks: ['198.19.0.1/32'] },
    });
    // In another namespace, whose name starts with "default": not in the default one's list.
    await ds.put(keys.workloadEndpoint('w0', 'default-b'), {
      apiVersion: 'projectcalico.org/v3',
      kind: 'WorkloadEndpoint',
      metadata: { name: 'w0', namespace: 'default-b', labels: { app: 'db' } },
      spec: { node: 'node-a', interfaceName: 'cali0', ipNetworks: ['198.19.0.2/32'] },
    });
    // Not a resource of a kind ctl knows: ignored by apply's checks, invisible to get.
    await ds.put(`${keys.resourcePrefix}profiles/kns.default`, { kind: 'Profile', metadata: { name: 'kns.default' } });

    const spellings: [string[], string[]][] = [
      [['ippool', 'ippools', 'ipp', 'IPPool', 'IPPools'], ['default-ipv4-ippool']],
      [
        ['node', 'nodes', 'Node', 'NODES'],
        ['node-a', 'node-b'],
      ],
      [['bgppeer', 'bgppeers', 'BGPPeer'], ['tor']],
      [['bgpconfig', 'bgpconfiguration', 'bgpconfigurations', 'BGPConfiguration'], ['default']],
      [
        ['workloadendpoint', 'workloadendpoints', 'wep', 'WorkloadEndpoints'],
        ['w1', 'w2'],
      ],
    ];
    for (const [names, expected] of spellings) {
      for (const s of names)
        expect(
          (await ctl.get(s)).map((r) => r.metadata.name),
          s,
        ).toEqual(expected);
    }

    expect(await ctl.get('node', 'node-a')).toEqual([expect.objectContaining({ kind: 'Node', spec: { bgp: { ipv4Address: '198.18.0.11/17', routeReflectorClusterID: '224.0.0.1' } } })]);
    expect(await ctl.get('wep', 'w1')).toHaveLength(1);
    await expect(ctl.get('ipp', 'nope')).rejects.toThrow('resource does not exist: IPPool(nope)');
    await expect(ctl.get('wep', 'w1', { namespace: 'other' })).rejects.toThrow('resource does not exist: WorkloadEndpoint(other/w1)');
    expect((await ctl.get('wep', 'w0', { namespace: 'default-b' }))[0]!.metadata).toMatchObject({ name: 'w0', namespace: 'default-b' });
    expect((await ctl.get('wep', undefined, { namespace: 'default-b' })).map((r) => r.metadata.name)).toEqual(['w0']);
    expect((await ctl.get('wep', undefined, { all: true })).map((r) => `${r.metadata.namespace}/${r.metadata.name}`)).toEqual(['default-b/w0', 'default/w1', 'default/w2']);
    // Kinds without namespaces ignore them.
    expect((await ctl.get('node', undefined, { namespace: 'default-b' })).map((r) => r.metadata.name)).toEqual(['node-a', 'node-b']);
    await expect(ctl.get('pods')).rejects.toThrow(/^unknown resource type "pods"/);

    const asn = await ctl.defaultAsNumber();
    expect(asn).toBe(64512);
    expect(formatResources(await ctl.get('nodes'), 'table', { defaultAsNumber: asn })).toBe(
      [
        'NAME    ASN      IPV4            IPV6  RR CLUSTER',
        '------  -------  --------------  ----  ----------',
        'node-a  (64512)  198.18.0.11/17        224.0.0.1',
        'node-b  (64512)  198.18.0.12/17',
      ].join('\n'),
    );
    expect(formatResources(await ctl.get('weps'), 'table')).toBe(
      [
        'NAMESPACE  WORKLOAD  NODE    NETWORKS        INTERFACE',
        '---------  --------  ------  --------------  ---------',
        'default    w1        node-a  198.19.0.1/32   cali1',
        'default    w2        node-b  198.19.0.65/32  cali2',
      ].join('\n'),
    );
    expect(formatResources(await ctl.get('weps', undefined, { all: true }), 'wide')).toBe(
      [
        'NAMESPACE  WORKLOAD  NODE    NETWORKS        INTERFACE  LABELS',
        '---------  --------  ------  --------------  ---------  ------',
        'default-b  w0        node-a  198.19.0.2/32   cali0      app=db',
        'default    w1        node-a  198.19.0.1/32   cali1      -',
        'default    w2        node-b  198.19.0.65/32  cali2      -',
      ].join('\n'),
    );

    // What get prints as YAML applies back unchanged (every resource configured, same values).
    const before = await dump(ds);
    const yaml = formatResources([...(await ctl.get('ipp')), ...(await ctl.get('nodes')), ...(await ctl.get('bgpp')), ...(await ctl.get('bgpconfig'))], 'yaml');
    const results = await ctl.apply(parseResourceFile(yaml, 'get.yaml'));
    expect(results.map((r) => r.action)).toEqual(['configured', 'configured', 'configured', 'configured', 'configured']);
    expect(await dump(ds)).toEqual(before);
  });

  it('a conflicting write between the checks and the commit is caught: apply re-reads and refuses', async () => {
    await ctl.apply(parseResourceFile(cluster, 'cluster.yaml'));
    /** A Datastore whose next txn first lets "someone else" write. */
    class Racing extends Datastore {
      race?: () => Promise<void>;
      override async txn(ops: Parameters<Datastore['txn']>[0]): Promise<string | false> {
        const race = this.race;
        this.race = undefined;
        if (race) await race();
        return super.txn(ops);
      }
    }
    const racing = new Racing([etcd.endpoint]);
    try {
      // Between apply's check and its commit, another writer registers node-c at 198.18.0.13.
      racing.race = () => ds.put(keys.node('node-c'), { apiVersion: 'projectcalico.org/v3', kind: 'Node', metadata: { name: 'node-c' }, spec: { bgp: { ipv4Address: '198.18.0.13/17' } } });
      const claim = parseResourceFile(`${V3}\nkind: Node\nmetadata: {name: node-d}\nspec: {bgp: {ipv4Address: 198.18.0.13/17}}\n`, 'd.yaml');
      expect(await refused(new Ctl(racing).apply(claim))).toEqual([
        'd.yaml: document 1 (Node node-d): spec.bgp.ipv4Address: 198.18.0.13 is already used by Node node-c: two nodes cannot share an address',
      ]);
      expect(await ds.get(keys.node('node-d'))).toBeUndefined();
      // A harmless concurrent write only costs a retry.
      racing.race = () => ds.put(keys.bgpPeer('other'), { apiVersion: 'projectcalico.org/v3', kind: 'BGPPeer', metadata: { name: 'other' }, spec: { peerSelector: 'all()' } });
      expect(await new Ctl(racing).apply(parseResourceFile(`${V3}\nkind: Node\nmetadata: {name: node-d}\nspec: {bgp: {ipv4Address: 198.18.0.14/17}}\n`, 'd.yaml'))).toEqual([
        { kind: 'Node', name: 'node-d', action: 'created' },
      ]);
    } finally {
      racing.close();
    }
  });

  it('txn commits only if nothing under the guarded prefix changed since the read', async () => {
    await ds.put('/calico/test/a', 1);
    const { revision } = await ds.list('/calico/test/');
    const written = await ds.txn({ puts: [{ key: '/calico/test/b', value: 2 }], unchangedSince: [{ prefix: '/calico/test/', revision }] });
    expect(written).toBe((await ds.get('/calico/test/b'))!.modRevision);
    // b was written after `revision`: a second write guarded by the same revision is refused whole.
    expect(await ds.txn({ puts: [{ key: '/calico/test/c', value: 3 }], deletes: ['/calico/test/a'], unchangedSince: [{ prefix: '/calico/test/', revision }] })).toBe(false);
    expect(await ds.client.getAll().prefix('/calico/test/').strings()).toEqual({ '/calico/test/a': '1', '/calico/test/b': '2' });
    // A change elsewhere does not matter.
    const now = (await ds.list('/calico/test/')).revision;
    await ds.put('/calico/other', 1);
    expect(await ds.txn({ deletes: ['/calico/test/a'], unchangedSince: [{ prefix: '/calico/test/', revision: now }] })).toMatch(/^\d+$/);
    expect(await ds.get('/calico/test/a')).toBeUndefined();
  });
});
