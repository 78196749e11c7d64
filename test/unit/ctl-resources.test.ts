import { YamlAliasError } from '../../src/util/yaml.js';
import { describe, expect, it } from 'vitest';
import { YAMLError } from 'yaml';
import { checkDeletes, crossCheck, crossNotes } from '../../src/ctl/cross-checks.js';
import { parseDeleteTargets, parseResourceFile, validateResources } from '../../src/ctl/parse.js';
import { resolveKind } from '../../src/ctl/kinds.js';
import { formatResources, summary } from '../../src/ctl/format.js';
import { ResourceError } from '../../src/ctl/resource-error.js';
import { ref, type Resource, type StoredResource } from '../../src/model/resources.js';
import { assignInBlock, newBlock } from '../../src/ipam/blocks.js';
import { SimError, TopologyError } from '../../src/util/errors.js';
import { labNetworks } from '../../src/model/address-plan.js';
import { parseTopology } from '../../src/model/topology.js';
import { Ctl } from '../../src/ctl/ctl.js';
import { applyLimitProblems, formatBytes, MAX_RESOURCE_BYTES, MAX_RESOURCES_PER_TXN, MAX_TXN_BYTES, resourceSizeProblems } from '../../src/ctl/limits.js';
import { ETCD_MAX_REQUEST_BYTES, ETCD_MAX_TXN_OPS } from '../../src/datastore/limits.js';
import { etcdSpec } from '../../src/sim/daemons.js';
import type { LabState } from '../../src/sim/state.js';
import type { Datastore } from '../../src/datastore/store.js';
import { keys } from '../../src/datastore/keys.js';

/** What `fn` throws (undefined if it returns). */
function parseError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}
import { bigPolicy, billionLaughs } from '../helpers/bad-input.js';

const V3 = 'apiVersion: projectcalico.org/v3';

/** One YAML document of a resource. */
function doc(kind: string, name: string, spec: string, metadata = ''): string {
  return `${V3}\nkind: ${kind}\nmetadata:\n  name: ${name}\n${metadata}spec:\n${spec
    .trim()
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n')}\n`;
}

const pool = (name: string, cidr: string, extra = '') => doc('IPPool', name, `cidr: ${cidr}\n${extra}`);
const node = (name: string, ip: string, extra = '', metadata = '') => doc('Node', name, `bgp:\n  ipv4Address: ${ip}\n${extra.replace(/^/gm, '  ')}`, metadata);

/** The problems parseResourceFile reports for a file (fails the test if it parses). */
function problemsOf(text: string, source = 'f.yaml'): readonly string[] {
  try {
    parseResourceFile(text, source);
  } catch (err) {
    expect(err).toBeInstanceOf(ResourceError);
    return (err as ResourceError).problems;
  }
  throw new Error('expected the file to be refused');
}

describe('parseResourceFile: shapes of a file', () => {
  it('reads one YAML document and fills Calico defaults', () => {
    const [p] = parseResourceFile(pool('default-ipv4-ippool', '198.19.0.0/17'), 'pool.yaml');
    expect(p).toEqual({
      apiVersion: 'projectcalico.org/v3',
      kind: 'IPPool',
      metadata: { name: 'default-ipv4-ippool' },
      spec: { cidr: '198.19.0.0/17', blockSize: 26, ipipMode: 'Never', vxlanMode: 'Never', natOutgoing: false, nodeSelector: 'all()' },
    });
  });

  it('stores a peerIP with its port as confd reads it (parseIPPort): 179 left out, another port kept', () => {
    const peerOf = (ip: string) => (parseResourceFile(doc('BGPPeer', 'p', `peerIP: "${ip}"\nasNumber: 65000`), 'p.yaml')[0] as { spec: { peerIP: string } }).spec.peerIP;
    expect(peerOf('10.0.0.1:179')).toBe('10.0.0.1');
    expect(peerOf('10.0.0.1:1791')).toBe('10.0.0.1:1791');
    expect(peerOf('192.168.1.1')).toBe('192.168.1.1');
  });

  it('reads several --- documents in order and skips empty ones', () => {
    const text = `---\n${pool('a', '198.19.0.0/17')}---\n---\n${node('n1', '198.18.0.11/17')}---\n`;
    const rs = parseResourceFile(text, 'multi.yaml');
    expect(rs.map((r) => `${r.kind}/${r.metadata.name}`)).toEqual(['IPPool/a', 'Node/n1']);
  });

  it('reads a kind: List, a <Kind>List (as calicoctl -o yaml writes) and a top-level sequence', () => {
    const list = `${V3}\nkind: List\nitems:\n- ${pool('a', '198.19.0.0/17').trim().replace(/\n/g, '\n  ')}\n- ${pool('b', '198.19.128.0/17').trim().replace(/\n/g, '\n  ')}\n`;
    expect(parseResourceFile(list, 'l.yaml').map((r) => r.metadata.name)).toEqual(['a', 'b']);
    expect(parseResourceFile(list.replace('kind: List', 'kind: IPPoolList'), 'l.yaml')).toHaveLength(2);
    const seq = `- {apiVersion: projectcalico.org/v3, kind: IPPool, metadata: {name: a}, spec: {cidr: 198.19.0.0/17}}\n- {apiVersion: projectcalico.org/v3, kind: IPPool, metadata: {name: b}, spec: {cidr: 198.19.128.0/17}}\n`;
    expect(parseResourceFile(seq, 's.yaml').map((r) => r.metadata.name)).toEqual(['a', 'b']);
  });

  it('reads JSON: one object, a List, an array', () => {
    const one = { apiVersion: 'projectcalico.org/v3', kind: 'BGPPeer', metadata: { name: 'tor' }, spec: { peerIP: '198.18.0.1', asNumber: 65001 } };
    expect(parseResourceFile(JSON.stringify(one), 'p.json')).toEqual([one]);
    expect(parseResourceFile(JSON.stringify({ apiVersion: 'projectcalico.org/v3', kind: 'List', items: [one, { ...one, metadata: { name: 'tor2' } }] }), 'p.json')).toHaveLength(2);
    expect(parseResourceFile(JSON.stringify([one]), 'p.json')).toEqual([one]);
  });

  it('fills BGPConfiguration defaults only in "default", and accepts node.<name>', () => {
    const rs = parseResourceFile(`${doc('BGPConfiguration', 'default', 'logSeverityScreen: Info')}---\n${doc('BGPConfiguration', 'node.n1', 'logSeverityScreen: Debug')}`, 'b.yaml');
    expect(rs[0]!.spec).toEqual({ logSeverityScreen: 'Info', nodeToNodeMeshEnabled: true, asNumber: 64512 });
    expect(rs[1]!.spec).toEqual({ logSeverityScreen: 'Debug' });
    const bare = parseResourceFile(`${V3}\nkind: BGPConfiguration\nmetadata: {name: default}\n`, 'b.yaml');
    expect(bare[0]!.spec).toEqual({ nodeToNodeMeshEnabled: true, asNumber: 64512 });
  });

  it('takes IPv6: pool block size 122 by default, canonical addresses', () => {
    const [p, n] = parseResourceFile(
      `${pool('v6', '2001:DB8:1:0::/48')}---\n${node('n1', '198.18.0.11/17', 'ipv6Address: 2001:DB8:F:0::000B/64\nasNumber: 65001\nrouteReflectorClusterID: 224.0.0.1')}`,
      'v6.yaml',
    ) as [Resource, Resource];
    expect(p.spec).toMatchObject({ cidr: '2001:db8:1::/48', blockSize: 122 });
    expect(n.spec).toEqual({ bgp: { ipv4Address: '198.18.0.11/17', ipv6Address: '2001:db8:f::b/64', asNumber: 65001, routeReflectorClusterID: '224.0.0.1' } });
  });

  it('takes an IPv4 BGP peer address in canonical form', () => {
    const [peer] = parseResourceFile(doc('BGPPeer', 'tor', 'peerIP: 198.18.0.1\nasNumber: 65000'), 'tor.yaml') as [Resource];
    expect(peer.spec).toEqual({ peerIP: '198.18.0.1', asNumber: 65000 });
  });

  it('keeps labels and annotations, and reads the selectors', () => {
    const [n, peer] = parseResourceFile(
      `${node('rr1', '198.18.0.11/17', '', '  labels:\n    route-reflector: "true"\n    projectcalico.org/rack: r1\n  annotations:\n    note: anything at all\n')}---\n${doc('BGPPeer', 'to-rrs', 'nodeSelector: "!has(route-reflector)"\npeerSelector: route-reflector == "true"')}`,
      'rr.yaml',
    ) as [Resource, Resource];
    expect(n.metadata).toEqual({ name: 'rr1', labels: { 'route-reflector': 'true', 'projectcalico.org/rack': 'r1' }, annotations: { note: 'anything at all' } });
    expect(peer.spec).toEqual({ nodeSelector: '!has(route-reflector)', peerSelector: 'route-reflector == "true"' });
  });
});

describe('parseResourceFile: every error names the document, the resource and the field', () => {
  const peer = (name: string, spec: string) => doc('BGPPeer', name, spec);
  const cases: [string, string, string][] = [
    // The example of the brief, as the second document of a file.
    ['asNumber with peerIP', `${pool('p', '198.19.0.0/17')}---\n${peer('rr-peers', 'peerIP: 198.18.0.1')}`, 'f.yaml: document 2 (BGPPeer rr-peers): spec.asNumber: required with spec.peerIP'],
    [
      'apiVersion',
      `apiVersion: projectcalico.org/v1\nkind: IPPool\nmetadata: {name: p}\nspec: {cidr: 198.19.0.0/17}\n`,
      'f.yaml: document 1 (IPPool p): apiVersion: must be projectcalico.org/v3 (got string "projectcalico.org/v1")',
    ],
    [
      'no kind',
      `${V3}\nmetadata: {name: p}\n`,
      'f.yaml: document 1 (p): kind: required (one of IPPool, Node, BGPPeer, BGPConfiguration, BGPFilter, NetworkPolicy, GlobalNetworkPolicy, Tier, Profile, HostEndpoint, FelixConfiguration, Secret)',
    ],
    [
      'unsupported kind',
      doc('KubeControllersConfiguration', 'default', 'logSeverityScreen: Info'),
      'f.yaml: document 1 (KubeControllersConfiguration default): kind: unsupported kind "KubeControllersConfiguration"; calico-sim applies IPPool, Node, BGPPeer, BGPConfiguration, BGPFilter, NetworkPolicy, GlobalNetworkPolicy, Tier, Profile, HostEndpoint, FelixConfiguration, Secret',
    ],
    [
      'kind spelled in lower case',
      doc('ippool', 'p', 'cidr: 198.19.0.0/17'),
      'f.yaml: document 1 (ippool p): kind: unsupported kind "ippool" (kinds are case-sensitive in files: IPPool); calico-sim applies IPPool, Node, BGPPeer, BGPConfiguration, BGPFilter, NetworkPolicy, GlobalNetworkPolicy, Tier, Profile, HostEndpoint, FelixConfiguration, Secret',
    ],
    [
      'read-only kind',
      doc('WorkloadEndpoint', 'w1', 'node: a'),
      'f.yaml: document 1 (WorkloadEndpoint w1): kind: WorkloadEndpoint cannot be applied: workload endpoints are written by the CNI plugin: use `calico-sim workload add` / `workload del`',
    ],
    ['not a mapping', `- 1\n`, 'f.yaml: document 1 item 1: expected a resource (a mapping with apiVersion, kind, metadata and spec), got number 1'],
    ['no metadata', `${V3}\nkind: IPPool\nspec: {cidr: 198.19.0.0/17}\n`, 'f.yaml: document 1 (IPPool): metadata: required'],
    ['no name', `${V3}\nkind: IPPool\nmetadata: {labels: {}}\nspec: {cidr: 198.19.0.0/17}\n`, 'f.yaml: document 1 (IPPool): metadata.name: required'],
    [
      'upper-case name',
      pool('Pool_1', '198.19.0.0/17'),
      'f.yaml: document 1 (IPPool Pool_1): metadata.name: must be a lowercase DNS-1123 subdomain: a-z, 0-9, "-" and ".", starting and ending with a letter or digit',
    ],
    ['long name', pool('a'.repeat(254), '198.19.0.0/17'), `f.yaml: document 1 (IPPool ${'a'.repeat(254)}): metadata.name: must be at most 253 characters`],
    [
      'namespace on a cluster resource',
      pool('p', '198.19.0.0/17').replace('  name: p\n', '  name: p\n  namespace: default\n'),
      'f.yaml: document 1 (IPPool p): metadata.namespace: IPPool is not namespaced: leave metadata.namespace out',
    ],
    [
      'unknown metadata field',
      pool('p', '198.19.0.0/17').replace('  name: p\n', '  name: p\n  uid: x\n'),
      'f.yaml: document 1 (IPPool p): metadata.uid: unknown field (known fields: name, namespace, labels, annotations, creationTimestamp)',
    ],
    ['label value not a string', node('n1', '198.18.0.11/17', '', '  labels:\n    rack: 1\n'), 'f.yaml: document 1 (Node n1): metadata.labels.rack: expected a string, got number 1'],
    [
      'bad label key',
      node('n1', '198.18.0.11/17', '', '  labels:\n    "rack id": a\n'),
      'f.yaml: document 1 (Node n1): metadata.labels["rack id"]: invalid label key: [DNS subdomain/]name, the name at most 63 characters of a-z, A-Z, 0-9, "-", "_" and "."',
    ],
    ['no spec', `${V3}\nkind: IPPool\nmetadata: {name: p}\n`, 'f.yaml: document 1 (IPPool p): spec: required'],
    [
      'unknown spec field (a typo)',
      pool('p', '198.19.0.0/17', 'natOutGoing: true'),
      'f.yaml: document 1 (IPPool p): spec.natOutGoing: unknown field (known fields: cidr, blockSize, ipipMode, vxlanMode, natOutgoing, disabled, disableBGPExport, nodeSelector, allowedUses, assignmentMode)',
    ],
    // BGPFilter: Calico's cross-field rules, and nothing that could break out of BIRD's config.
    [
      'filter cidr without operator',
      doc('BGPFilter', 'f', 'importV4: [{action: Reject, cidr: 44.0.0.0/16}]'),
      'f.yaml: document 1 (BGPFilter f): spec.importV4[0].matchOperator: MatchOperator cannot be empty when CIDR is not',
    ],
    [
      'filter prefix range BIRD would refuse',
      doc('BGPFilter', 'f', 'importV4: [{action: Accept, matchOperator: In, cidr: 10.0.0.0/16, prefixLength: {max: 8}}]'),
      "f.yaml: document 1 (BGPFilter f): spec.importV4[0].prefixLength.max: must be at least 16 (the CIDR's prefix length)",
    ],
    [
      'filter interface that would escape its quotes',
      doc('BGPFilter', 'f', "exportV4: [{action: Reject, interface: 'x\"; } accept; #'}]"),
      'f.yaml: document 1 (BGPFilter f): spec.exportV4[0].interface: an interface name or pattern: 1-15 of a-z, A-Z, 0-9, "_", ".", "*" and "-"',
    ],
    [
      'filter IPv6 CIDR in a v4 rule',
      doc('BGPFilter', 'f', 'importV4: [{action: Reject, matchOperator: Equal, cidr: "2001:db8::/64"}]'),
      'f.yaml: document 1 (BGPFilter f): spec.importV4[0].cidr: must be an IPv4 CIDR',
    ],
    // BGPFilter's newer fields (Calico 3.32's CEL rules and ranges).
    [
      'filter operations on a Reject rule',
      doc('BGPFilter', 'f', 'exportV4: [{action: Reject, operations: [{addCommunity: {value: "65000:1"}}]}]'),
      'f.yaml: document 1 (BGPFilter f): spec.exportV4[0].operations: operations may only be used with action Accept',
    ],
    [
      'filter operation with two kinds',
      doc('BGPFilter', 'f', 'exportV4: [{action: Accept, operations: [{addCommunity: {value: "65000:1"}, setPriority: {value: 5}}]}]'),
      'f.yaml: document 1 (BGPFilter f): spec.exportV4[0].operations[0]: exactly one operation must be set',
    ],
    ['filter priority 0', doc('BGPFilter', 'f', 'importV4: [{action: Accept, priority: 0}]'), 'f.yaml: document 1 (BGPFilter f): spec.importV4[0].priority: must be from 1 to 2147483646'],
    [
      'filter community out of range',
      doc('BGPFilter', 'f', 'importV4: [{action: Accept, communities: {values: ["65536:0"]}}]'),
      'f.yaml: document 1 (BGPFilter f): spec.importV4[0].communities.values[0]: "65536:0": each part of a standard community is at most 65535',
    ],
    [
      'filter peer type',
      doc('BGPFilter', 'f', 'importV4: [{action: Accept, peerType: IBGP}]'),
      'f.yaml: document 1 (BGPFilter f): spec.importV4[0].peerType: must be one of "eBGP", "iBGP" (got string "IBGP")',
    ],
    // Tier: the default tier is pinned as Calico pins it.
    ['default tier reordered', doc('Tier', 'default', 'order: 5'), 'f.yaml: document 1 (Tier default): spec.order: default tier order must be 1000000'],
    ['tier name with a dot', doc('Tier', 'a.b', 'order: 5'), "f.yaml: document 1 (Tier a.b): metadata.name: a tier's name must consist of lower case alphanumeric characters or '-' (at most 63)"],
    // Secret (Kubernetes v1)
    [
      'secret data not base64',
      'apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {k: "not base64!"}\n',
      'f.yaml: document 1 (Secret s): data.k: must be base64 (or give the value in stringData)',
    ],
    ['secret with a Calico apiVersion', `${V3}\nkind: Secret\nmetadata: {name: s}\n`, 'f.yaml: document 1 (Secret s): apiVersion: must be v1 (got string "projectcalico.org/v3")'],
    // IPPool
    ['pool without cidr', doc('IPPool', 'p', 'blockSize: 26'), 'f.yaml: document 1 (IPPool p): spec.cidr: required'],
    ['pool CIDR invalid', pool('p', '198.19.0.0/33'), 'f.yaml: document 1 (IPPool p): spec.cidr: "198.19.0.0/33" is not a valid IPv4 CIDR (expected a.b.c.d/n with n from 0 to 32)'],
    ['pool CIDR with host bits', pool('p', '198.19.0.1/17'), 'f.yaml: document 1 (IPPool p): spec.cidr: 198.19.0.1/17 has host bits set (the network is 198.19.0.0/17)'],
    [
      'pool in link-local',
      pool('p', '169.254.0.0/16'),
      'f.yaml: document 1 (IPPool p): spec.cidr: 169.254.0.0/16 overlaps the link-local range 169.254.0.0/16, which Calico refuses (workloads reach their host at 169.254.1.1)',
    ],
    ['pool in loopback', pool('p', '127.0.0.0/16'), 'f.yaml: document 1 (IPPool p): spec.cidr: 127.0.0.0/16 overlaps the loopback range 127.0.0.0/8'],
    ['pool over multicast', pool('p', '192.0.0.0/2'), 'f.yaml: document 1 (IPPool p): spec.cidr: 192.0.0.0/2 overlaps the multicast range 224.0.0.0/4'],
    ['IPv6 pool in multicast', pool('p', 'ff02::/120'), 'f.yaml: document 1 (IPPool p): spec.cidr: ff02::/120 overlaps the multicast range ff00::/8'],
    ['block size too small for v4', pool('p', '198.19.0.0/17', 'blockSize: 19'), 'f.yaml: document 1 (IPPool p): spec.blockSize: must be from 20 to 32 for an IPv4 pool (got 19)'],
    ['block size too large for v4', pool('p', '198.19.0.0/17', 'blockSize: 33'), 'f.yaml: document 1 (IPPool p): spec.blockSize: must be from 20 to 32 for an IPv4 pool (got 33)'],
    ['block size out of the v6 range', pool('p', '2001:db8:1::/48', 'blockSize: 26'), 'f.yaml: document 1 (IPPool p): spec.blockSize: must be from 116 to 128 for an IPv6 pool (got 26)'],
    ['block size not a number', pool('p', '198.19.0.0/17', 'blockSize: "26"'), 'f.yaml: document 1 (IPPool p): spec.blockSize: expected a number, got string "26"'],
    [
      'block larger than the pool',
      pool('p', '198.19.0.0/27', 'blockSize: 26'),
      "f.yaml: document 1 (IPPool p): spec.blockSize: the pool 198.19.0.0/27 is smaller than one /26 block: the block size must be at least the pool's prefix length (27)",
    ],
    [
      'default block larger than the pool',
      pool('p', '198.19.0.0/28'),
      "f.yaml: document 1 (IPPool p): spec.cidr: the pool 198.19.0.0/28 is smaller than one /26 block (the default block size; set spec.blockSize): the block size must be at least the pool's prefix length (28)",
    ],
    [
      'IP-in-IP',
      pool('p', '198.19.0.0/17', 'ipipMode: Always'),
      'f.yaml: document 1 (IPPool p): spec.ipipMode: "Always" is not supported: this kernel has no IP-in-IP (ipip module), so no tunl0; Never and CrossSubnet (no tunnel between nodes of one subnet, as every lab\'s nodes are) are accepted',
    ],
    ['IP-in-IP on an IPv6 pool', pool('p', '2001:db8:1::/48', 'blockSize: 122\nipipMode: CrossSubnet'), 'f.yaml: document 1 (IPPool p): spec.ipipMode: IPIP is not supported on an IPv6 IP pool'],
    [
      'IP-in-IP and VXLAN on one pool',
      pool('p', '198.19.0.0/17', 'ipipMode: CrossSubnet\nvxlanMode: Always'),
      'f.yaml: document 1 (IPPool p): spec.vxlanMode: IPIPMode and VXLANMode cannot both be enabled: give one of them Never',
    ],
    ['bogus tunnel mode', pool('p', '198.19.0.0/17', 'vxlanMode: Sometimes'), 'f.yaml: document 1 (IPPool p): spec.vxlanMode: must be Never, Always or CrossSubnet, got "Sometimes"'],
    ['natOutgoing not a bool', pool('p', '198.19.0.0/17', 'natOutgoing: "yes"'), 'f.yaml: document 1 (IPPool p): spec.natOutgoing: expected true or false, got string "yes"'],
    ['disabled not a bool', pool('p', '198.19.0.0/17', 'disabled: 1'), 'f.yaml: document 1 (IPPool p): spec.disabled: expected true or false, got number 1'],
    [
      'bad node selector',
      pool('p', '198.19.0.0/17', 'nodeSelector: rack = "a"'),
      'f.yaml: document 1 (IPPool p): spec.nodeSelector: invalid selector "rack = \\"a\\"": expected "==" but found "=" at column 5',
    ],
    // Node
    ['node without bgp', doc('Node', 'n1', 'bgp: null'), 'f.yaml: document 1 (Node n1): spec.bgp: expected a mapping, got null'],
    [
      'node address without prefix',
      node('n1', '198.18.0.11'),
      'f.yaml: document 1 (Node n1): spec.bgp.ipv4Address: must be an IPv4 address with its prefix length, as Calico writes it (e.g. 198.18.0.11/17)',
    ],
    ['node address of the wrong family', node('n1', '2001:db8:f::b/64'), 'f.yaml: document 1 (Node n1): spec.bgp.ipv4Address: "2001:db8:f::b/64" is not an IPv4 address (e.g. 198.18.0.11/17)'],
    ['node address invalid', node('n1', '198.18.0.300/17'), 'f.yaml: document 1 (Node n1): spec.bgp.ipv4Address: "198.18.0.300" is not a valid IPv4 address'],
    ['node prefix out of range', node('n1', '198.18.0.11/33'), 'f.yaml: document 1 (Node n1): spec.bgp.ipv4Address: prefix length /33 is out of range for IPv4 (0 to 32)'],
    [
      'node IPv6 address of the wrong family',
      node('n1', '198.18.0.11/17', 'ipv6Address: 198.18.0.11/17'),
      'f.yaml: document 1 (Node n1): spec.bgp.ipv6Address: "198.18.0.11/17" is not an IPv6 address (e.g. 2001:db8:f::b/64)',
    ],
    ['node address outside the lab ranges', node('n1', '10.0.0.1/16'), 'f.yaml: document 1 (Node n1): spec.bgp.ipv4Address: 10.0.0.1 is outside the lab address ranges (198.18.0.0/15, 2001:db8::/32)'],
    [
      'node IPv6 address outside the lab ranges',
      node('n1', '198.18.0.11/17', 'ipv6Address: fd00:18::11/64'),
      'f.yaml: document 1 (Node n1): spec.bgp.ipv6Address: fd00:18::11 is outside the lab address ranges (198.18.0.0/15, 2001:db8::/32)',
    ],
    ['node AS 0', node('n1', '198.18.0.11/17', 'asNumber: 0'), 'f.yaml: document 1 (Node n1): spec.bgp.asNumber: must be an AS number from 1 to 4294967295'],
    ['node AS too large', node('n1', '198.18.0.11/17', 'asNumber: 4294967296'), 'f.yaml: document 1 (Node n1): spec.bgp.asNumber: must be an AS number from 1 to 4294967295'],
    ['node AS fractional', node('n1', '198.18.0.11/17', 'asNumber: 64512.5'), 'f.yaml: document 1 (Node n1): spec.bgp.asNumber: must be an AS number, a whole number from 1 to 4294967295'],
    [
      'RR cluster id not IPv4',
      node('n1', '198.18.0.11/17', 'routeReflectorClusterID: rr-1'),
      'f.yaml: document 1 (Node n1): spec.bgp.routeReflectorClusterID: must be an IPv4-formatted id, e.g. 224.0.0.1 (got "rr-1")',
    ],
    [
      'unknown node field',
      doc('Node', 'n1', 'bgp:\n  ipv4Address: 198.18.0.11/17\n  ipv4IPIPTunnelAddr: 198.19.0.1'),
      'f.yaml: document 1 (Node n1): spec.bgp.ipv4IPIPTunnelAddr: unknown field (known fields: ipv4Address, ipv6Address, asNumber, routeReflectorClusterID)',
    ],
    // BGPPeer
    [
      'peer with neither peerIP nor peerSelector',
      peer('p', 'node: n1'),
      'f.yaml: document 1 (BGPPeer p): spec: one of peerIP (a router outside the cluster) or peerSelector (cluster nodes) is required',
    ],
    [
      'peer with both',
      peer('p', 'peerIP: 198.18.0.1\nasNumber: 65000\npeerSelector: all()'),
      'f.yaml: document 1 (BGPPeer p): spec.peerSelector: cannot be used with spec.peerIP: a peering is either to one address or to the nodes the selector matches',
    ],
    [
      'peer AS with peerSelector',
      peer('p', 'peerSelector: has(rr)\nasNumber: 65000'),
      "f.yaml: document 1 (BGPPeer p): spec.asNumber: not allowed with spec.peerSelector: the peers' AS numbers come from their Node resources",
    ],
    [
      'peer with node and nodeSelector',
      peer('p', 'peerSelector: has(rr)\nnode: n1\nnodeSelector: all()'),
      'f.yaml: document 1 (BGPPeer p): spec.nodeSelector: cannot be used with spec.node: give at most one of them (neither means every node)',
    ],
    [
      'peer IP invalid',
      peer('p', 'peerIP: 198.18.0\nasNumber: 65000'),
      'f.yaml: document 1 (BGPPeer p): spec.peerIP: "198.18.0" is not an IPv4 or IPv6 address (with an optional port: 10.0.0.1:1791, [fd00::1]:1791)',
    ],
    ['peer IP with port 0', peer('p', 'peerIP: 198.18.0.1:0\nasNumber: 65000'), 'f.yaml: document 1 (BGPPeer p): spec.peerIP: "198.18.0.1:0": the port must be from 1 to 65535'],
    ['peer IP with a port too high', peer('p', 'peerIP: 198.18.0.1:65536\nasNumber: 65000'), 'f.yaml: document 1 (BGPPeer p): spec.peerIP: "198.18.0.1:65536": the port must be from 1 to 65535'],
    [
      'peer IPv6 with a port',
      peer('p', 'peerIP: "[2001:db8:f::1]:1791"\nasNumber: 65000'),
      'f.yaml: document 1 (BGPPeer p): spec.peerIP: "[2001:db8:f::1]:1791": a peerIP is an IPv4 address here (routers outside the cluster speak IPv4; the IPv6 sessions between nodes follow their Node ipv6Address)',
    ],
    ['reachableBy without peerIP', peer('p', 'peerSelector: all()\nreachableBy: 198.18.0.1'), 'f.yaml: document 1 (BGPPeer p): spec.reachableBy: must be empty when peerIP is empty'],
    [
      'reachableBy of the other family',
      peer('p', 'peerIP: 10.0.0.1\nasNumber: 65000\nreachableBy: 2001:db8::1'),
      'f.yaml: document 1 (BGPPeer p): spec.reachableBy: ReachableBy and PeerIP address family mismatched',
    ],
    ['reachableBy not an address', peer('p', 'peerIP: 10.0.0.1\nasNumber: 65000\nreachableBy: gw'), 'f.yaml: document 1 (BGPPeer p): spec.reachableBy: "gw" is not an IP address'],
    ['peer IP on loopback', peer('p', 'peerIP: 127.0.0.1\nasNumber: 65000'), 'f.yaml: document 1 (BGPPeer p): spec.peerIP: 127.0.0.1 overlaps the loopback range 127.0.0.0/8'],
    [
      'peer IPv6 address',
      peer('p', 'peerIP: 2001:db8:f::1\nasNumber: 65000'),
      'f.yaml: document 1 (BGPPeer p): spec.peerIP: "2001:db8:f::1": a peerIP is an IPv4 address here (routers outside the cluster speak IPv4; the IPv6 sessions between nodes follow their Node ipv6Address)',
    ],
    [
      'peer IPv6 address outside the lab ranges too',
      peer('p', 'peerIP: fd00:18::1\nasNumber: 65000'),
      'f.yaml: document 1 (BGPPeer p): spec.peerIP: "fd00:18::1": a peerIP is an IPv4 address here (routers outside the cluster speak IPv4; the IPv6 sessions between nodes follow their Node ipv6Address)',
    ],
    [
      'peer node name invalid',
      peer('p', 'peerSelector: has(rr)\nnode: Node_1'),
      'f.yaml: document 1 (BGPPeer p): spec.node: must be a lowercase DNS-1123 subdomain: a-z, 0-9, "-" and ".", starting and ending with a letter or digit',
    ],
    ['peer selector invalid', peer('p', 'peerSelector: has(rr'), 'f.yaml: document 1 (BGPPeer p): spec.peerSelector: invalid selector "has(rr": expected ")" at column 6'],
    // BGPConfiguration
    [
      'BGPConfiguration name',
      doc('BGPConfiguration', 'cluster', 'asNumber: 65000'),
      'f.yaml: document 1 (BGPConfiguration cluster): metadata.name: must be "default" (the cluster\'s) or "node.<nodename>" (one node\'s)',
    ],
    [
      'per-node AS',
      doc('BGPConfiguration', 'node.n1', 'asNumber: 65000'),
      'f.yaml: document 1 (BGPConfiguration node.n1): spec.asNumber: only valid in the global BGPConfiguration "default", not in a per-node one',
    ],
    [
      'per-node mesh',
      doc('BGPConfiguration', 'node.n1', 'nodeToNodeMeshEnabled: false'),
      'f.yaml: document 1 (BGPConfiguration node.n1): spec.nodeToNodeMeshEnabled: only valid in the global BGPConfiguration "default", not in a per-node one',
    ],
    [
      'mesh not a bool',
      doc('BGPConfiguration', 'default', 'nodeToNodeMeshEnabled: "false"'),
      'f.yaml: document 1 (BGPConfiguration default): spec.nodeToNodeMeshEnabled: expected true or false, got string "false"',
    ],
    [
      'log severity',
      doc('BGPConfiguration', 'default', 'logSeverityScreen: Verbose'),
      'f.yaml: document 1 (BGPConfiguration default): spec.logSeverityScreen: must be one of "Debug", "Info", "Warning", "Error", "Fatal" (got string "Verbose")',
    ],
    // The file itself
    ['same resource twice', `${pool('p', '198.19.0.0/17')}---\n${pool('p', '198.19.128.0/17')}`, 'f.yaml: document 2 (IPPool p): metadata.name: IPPool p is given twice (also at f.yaml: document 1)'],
    ['List without items', `${V3}\nkind: List\n`, 'f.yaml: document 1: items: must be the list of resources of the List (got nothing)'],
    [
      'List item',
      `${V3}\nkind: List\nitems:\n- {apiVersion: projectcalico.org/v3, kind: IPPool, metadata: {name: p}, spec: {cidr: 198.19.0.0/17}}\n- {apiVersion: projectcalico.org/v3, kind: IPPool, metadata: {name: q}, spec: {cidr: 198.19.128.0/17, ipipMode: Always}}\n`,
      'f.yaml: document 1 item 2 (IPPool q): spec.ipipMode: "Always" is not supported: this kernel has no IP-in-IP (ipip module), so no tunl0; Never and CrossSubnet (no tunnel between nodes of one subnet, as every lab\'s nodes are) are accepted',
    ],
    // Line numbers count from the top of the file.
    [
      'malformed YAML',
      `${pool('p', '198.19.0.0/17')}---\nkind: [IPPool\n`,
      'f.yaml: document 2: line 9: malformed YAML: Flow sequence in block collection must be sufficiently indented and end with a ]',
    ],
    ['duplicate YAML key', `${V3}\nkind: IPPool\nkind: Node\n`, 'f.yaml: document 1: line 3: malformed YAML: Map keys must be unique'],
    ['empty file', '---\n', 'f.yaml: no resources in the file'],
  ];

  it.each(cases)('%s', (_what, text, expected) => {
    expect(problemsOf(text)).toContain(expected);
  });

  it('refuses a YAML alias bomb at once, naming the file, the document and where the aliases multiply', () => {
    const t0 = performance.now();
    expect(problemsOf(`${pool('p', '198.19.0.0/17')}---\n${billionLaughs(9)}`, 'bomb.yaml')).toEqual([
      'bomb.yaml: document 2: l2[0]: alias *l1: its aliases would expand more than 100 times (a YAML alias bomb, "billion laughs"): refused',
    ]);
    // Expanded, it would be 9^9 strings: minutes and gigabytes. Refused, it takes milliseconds (seconds on a loaded machine).
    expect(performance.now() - t0).toBeLessThan(5_000);
    expect(problemsOf(`${V3}\nkind: IPPool\nmetadata: {name: p}\nspec: *nope\n`)).toEqual(['f.yaml: document 1: spec: alias *nope names no anchor defined before it']);
  });

  it("keeps the YAML parser's error as the cause of a malformed YAML file", () => {
    const err = parseError(() => parseResourceFile(`${V3}\nkind: IPPool\nkind: Node\n`, 'f.yaml'));
    expect(err).toBeInstanceOf(ResourceError);
    expect((err as ResourceError).cause).toBeInstanceOf(YAMLError);
  });

  it('an alias that cannot be resolved, or an alias bomb, is a ResourceError naming the field (found by fuzz-resources)', () => {
    // Before: ReferenceError ("Unresolved alias", "Excessive alias count...") out of parseResourceFile.
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]', ...'bcdefghi'.split('').map((c, i) => `${c}: &${c} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(', ')}]`)].join('\n');
    const cases: [string, string][] = [
      ['<<: *a', 'f.yaml: document 1: ["<<"]: alias *a names no anchor defined before it'],
      [`${V3}\n---\nb: *a\n`, 'f.yaml: document 2: b: alias *a names no anchor defined before it'],
      [bomb, 'f.yaml: document 1: c[0]: alias *b: its aliases would expand more than 100 times (a YAML alias bomb, "billion laughs"): refused'],
    ];
    for (const [text, problem] of cases) {
      const err = parseError(() => parseResourceFile(text, 'f.yaml'));
      expect(err).toBeInstanceOf(ResourceError);
      expect((err as ResourceError).problems).toEqual([problem]);
      expect((err as ResourceError).cause).toBeInstanceOf(YamlAliasError);
    }
  });

  it('reports every problem of every document, the first one in the message', () => {
    const text = `${pool('a', '198.19.0.1/17')}---\n${pool('b', '198.19.128.0/17')}---\n${doc('BGPPeer', 'c', 'peerIP: 198.18.0.1')}`;
    const err = parseError(() => parseResourceFile(text, 'f.yaml'));
    expect(err).toBeInstanceOf(ResourceError);
    expect(err).toBeInstanceOf(SimError);
    expect((err as ResourceError).problems).toEqual([
      'f.yaml: document 1 (IPPool a): spec.cidr: 198.19.0.1/17 has host bits set (the network is 198.19.0.0/17)',
      'f.yaml: document 3 (BGPPeer c): spec.asNumber: required with spec.peerIP',
    ]);
    expect((err as Error).message).toBe('f.yaml: document 1 (IPPool a): spec.cidr: 198.19.0.1/17 has host bits set (the network is 198.19.0.0/17) (and 1 more problem)');
  });

  it('re-validates resources made in code, naming them by position', () => {
    expect(() => validateResources([{ apiVersion: 'projectcalico.org/v3', kind: 'Node', metadata: { name: 'n1' }, spec: { bgp: {} } }])).toThrow(
      'resource 1 (Node n1): spec.bgp.ipv4Address: required',
    );
    // A parsed resource keeps its file position, and validating it again changes nothing.
    const parsed = parseResourceFile(pool('p', '198.19.0.0/17'), 'p.yaml');
    expect(validateResources(parsed)).toEqual(parsed);
  });
});

describe('crossCheck: against the datastore and each other', () => {
  const stored = parseResourceFile(`${pool('default-ipv4-ippool', '198.19.0.0/17')}---\n${node('node-a', '198.18.0.11/17')}---\n${node('node-b', '198.18.0.12/17')}`, 'etcd');
  // What came from etcd has no file position.
  const current: StoredResource[] = JSON.parse(JSON.stringify(stored)) as StoredResource[];
  const check = (text: string) => crossCheck(current, parseResourceFile(text, 'new.yaml'));

  it('accepts what fits, and a resource replacing itself', () => {
    expect(check(`${pool('more', '198.19.128.0/17')}---\n${node('node-c', '198.18.0.13/17')}---\n${doc('BGPPeer', 'tor', 'node: node-a\npeerIP: 198.18.0.1\nasNumber: 65001')}`)).toEqual([]);
    expect(check(pool('default-ipv4-ippool', '198.19.0.0/18'))).toEqual([]);
    expect(check(node('node-a', '198.18.0.11/17', 'asNumber: 65001'))).toEqual([]);
  });

  it('refuses a pool overlapping another pool', () => {
    expect(check(pool('overlap', '198.19.64.0/18'))).toEqual(['new.yaml: document 1 (IPPool overlap): spec.cidr: 198.19.64.0/18 overlaps IPPool default-ipv4-ippool (198.19.0.0/17)']);
  });

  it('refuses overlapping pools in the same file (reported once, on the later one)', () => {
    expect(check(`${pool('x', '198.19.128.0/17')}---\n${pool('y', '198.19.192.0/18')}`)).toEqual([
      'new.yaml: document 2 (IPPool y): spec.cidr: 198.19.192.0/18 overlaps IPPool x (198.19.128.0/17, new.yaml: document 1)',
    ]);
  });

  it('refuses a pool overlapping the network of a node address (the fabric)', () => {
    expect(check(pool('fabric', '198.18.100.0/24'))).toEqual([
      'new.yaml: document 1 (IPPool fabric): spec.cidr: 198.18.100.0/24 overlaps the network 198.18.0.0/17 of Node node-a (spec.bgp.ipv4Address 198.18.0.11/17): workload routes would shadow host addresses',
      'new.yaml: document 1 (IPPool fabric): spec.cidr: 198.18.100.0/24 overlaps the network 198.18.0.0/17 of Node node-b (spec.bgp.ipv4Address 198.18.0.12/17): workload routes would shadow host addresses',
    ]);
  });

  it("refuses a pool overlapping the lab's networks whatever the Node records say, with the rule and the words of topology files", () => {
    const topo = (extraPool: string) =>
      `pools: [{cidr: 198.19.0.0/16}, {cidr: "2001:db8:1::/48"}${extraPool}]\nhosts: [{name: node-a}, {name: node-b}]\nrouters: [{name: gw, asNumber: 65000, network: 198.18.255.0/24}]\n`;
    const networks = labNetworks(parseTopology(topo(''), 't.yaml'));
    expect(networks).toEqual([
      { cidr: '198.18.0.0/17', what: 'the fabric (host) network' },
      { cidr: '2001:db8:f::/64', what: 'the IPv6 fabric' },
      { cidr: '198.18.255.0/24', what: 'the LAN of router gw' },
    ]);
    // The nodes say nothing of IPv6 (Node resources applied with an ipv4Address only): the lab's IPv6 fabric is still there.
    const withLab = (text: string) => crossCheck(current, parseResourceFile(text, 'new.yaml'), networks);
    const v6 = 'pool 2001:db8:f::/80 overlaps the IPv6 fabric 2001:db8:f::/64: workload routes would shadow host addresses';
    expect(withLab(pool('v6', '2001:db8:f::/80'))).toEqual([`new.yaml: document 1 (IPPool v6): spec.cidr: ${v6}`]);
    expect(() => parseTopology(topo(', {cidr: "2001:db8:f::/80"}'), 't.yaml')).toThrow(new TopologyError(`t.yaml: pools[2].cidr: ${v6}`));
    const lan = "pool 198.18.255.128/25 overlaps the LAN of router gw 198.18.255.0/24: workload routes would shadow the router's clients";
    expect(withLab(pool('lan', '198.18.255.128/25'))).toEqual([`new.yaml: document 1 (IPPool lan): spec.cidr: ${lan}`]);
    expect(() => parseTopology(topo(', {cidr: 198.18.255.128/25}'), 't.yaml')).toThrow(new TopologyError(`t.yaml: pools[2].cidr: ${lan}`));
    // The IPv4 fabric: said once, not once per node on it.
    expect(withLab(pool('fabric', '198.18.100.0/24'))).toEqual([
      'new.yaml: document 1 (IPPool fabric): spec.cidr: pool 198.18.100.0/24 overlaps the fabric (host) network 198.18.0.0/17: workload routes would shadow host addresses',
    ]);
    expect(withLab(pool('fine', '2001:db8:2::/64'))).toEqual([]);
  });

  it('refuses a node whose network covers a pool', () => {
    expect(check(node('node-c', '198.19.0.200/24'))).toEqual([
      "new.yaml: document 1 (Node node-c): spec.bgp.ipv4Address: the node's network 198.19.0.0/24 overlaps IPPool default-ipv4-ippool (198.19.0.0/17): workload routes would shadow host addresses",
    ]);
  });

  it('refuses a second node claiming a used IP, stored or in the same file', () => {
    expect(check(node('node-c', '198.18.0.11/17'))).toEqual([
      'new.yaml: document 1 (Node node-c): spec.bgp.ipv4Address: 198.18.0.11 is already used by Node node-a: two nodes cannot share an address',
    ]);
    expect(check(`${node('node-c', '198.18.0.13/17')}---\n${node('node-d', '198.18.0.13/24')}`)).toEqual([
      'new.yaml: document 2 (Node node-d): spec.bgp.ipv4Address: 198.18.0.13 is already used by Node node-c (new.yaml: document 1): two nodes cannot share an address',
    ]);
    // Moving node-a's address to node-c in the same file as node-a takes a new one is fine.
    expect(check(`${node('node-a', '198.18.0.21/17')}---\n${node('node-c', '198.18.0.11/17')}`)).toEqual([]);
  });

  it('takes a BGPPeer naming a node not in the datastore (Calico does), with a note; none once the file creates the node', () => {
    const peer = doc('BGPPeer', 'tor', 'node: node-x\npeerIP: 198.18.0.1\nasNumber: 65001');
    expect(check(peer)).toEqual([]);
    const notes = (text: string) => [...crossNotes(current, parseResourceFile(text, 'new.yaml')).values()];
    expect(notes(peer)).toEqual(['new.yaml: document 1 (BGPPeer tor): spec.node: no node "node-x" in the datastore (nodes: node-a, node-b): the peering starts when a node of that name joins']);
    expect(notes(`${peer}---\n${node('node-x', '198.18.0.30/17')}`)).toEqual([]);
  });

  it('lists problems in file order, and ignores malformed stored records', () => {
    const junk: StoredResource = { apiVersion: 'projectcalico.org/v3', kind: 'IPPool', metadata: { name: 'junk' }, spec: { cidr: 'not a cidr' } };
    const problems = crossCheck([...current, junk], parseResourceFile(`${doc('GlobalNetworkPolicy', 'gate', 'tier: nope')}---\n${pool('p', '198.19.0.0/24')}`, 'new.yaml'));
    expect(problems.map((p) => p.split(':').slice(0, 2).join(':'))).toEqual(['new.yaml: document 1 (GlobalNetworkPolicy gate)', 'new.yaml: document 2 (IPPool p)']);
  });
});

describe('checkDeletes', () => {
  const current: StoredResource[] = [
    ...(JSON.parse(
      JSON.stringify(parseResourceFile(`${pool('p', '198.19.0.0/17')}---\n${pool('empty', '198.19.128.0/17')}---\n${node('node-a', '198.18.0.11/17')}---\n${node('node-b', '198.18.0.12/17')}`, 'x')),
    ) as StoredResource[]),
    { apiVersion: 'projectcalico.org/v3', kind: 'WorkloadEndpoint', metadata: { name: 'w2', namespace: 'default' }, spec: { node: 'node-a', ipNetworks: ['198.19.0.1/32'] } },
    { apiVersion: 'projectcalico.org/v3', kind: 'WorkloadEndpoint', metadata: { name: 'w1', namespace: 'default' }, spec: { node: 'node-a', ipNetworks: ['198.19.0.0/32'] } },
  ];
  const block = assignInBlock(newBlock('198.19.0.0/26', 'node-a'), 'lab.w1', 2)!.block;
  const blocks = [block, newBlock('198.19.0.64/26', 'node-b'), newBlock('198.19.128.0/26', 'node-b'), newBlock('198.19.128.64/26', null)];

  it('allows deleting what exists and is unused (any spelling of the kind), a pool whose blocks are all empty too', () => {
    expect(checkDeletes(current, blocks, [ref('ippool', 'empty'), ref('nodes', 'node-b')])).toEqual([]);
  });

  it('lists every resource that does not exist', () => {
    expect(checkDeletes(current, blocks, [ref('Node', 'node-x'), ref('ipp', 'nope'), ref('IPPool', 'empty')])).toEqual(['resources do not exist: Node(node-x), IPPool(nope); nothing was deleted']);
  });

  it('refuses a node that still has workload endpoints, and lists them', () => {
    expect(checkDeletes(current, blocks, [ref('Node', 'node-a')])).toEqual(['Node node-a: Node node-a still has 2 workload endpoints (w1, w2): delete those workloads first']);
  });

  it('refuses a pool with addresses in use, and says how many and where (its empty blocks do not count)', () => {
    expect(checkDeletes(current, blocks, [ref('IPPool', 'p')])).toEqual(['IPPool p: IPPool p still has 2 addresses in use, in 1 block (198.19.0.0/26): delete the workloads using them first']);
  });

  it('refuses workload endpoints (the CNI owns them) and unknown kinds', () => {
    expect(checkDeletes(current, blocks, [ref('wep', 'w1'), ref('kubecontrollersconfiguration', 'x')])).toEqual([
      'wep w1: WorkloadEndpoint cannot be deleted here: workload endpoints are written by the CNI plugin: use `calico-sim workload add` / `workload del`',
      expect.stringMatching(/^kubecontrollersconfiguration x: kind: unknown resource type "kubecontrollersconfiguration" \(known: IPPool \(ippool, ippools, ipp/),
    ]);
  });

  it('refuses to delete the default tier, and a tier that still holds policies (libcalico-go/lib/clientv3/tier.go)', () => {
    const tier = (name: string): StoredResource => ({ apiVersion: 'projectcalico.org/v3', kind: 'Tier', metadata: { name }, spec: {} });
    const gnp: StoredResource = { apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', metadata: { name: 'sec.block' }, spec: { tier: 'security' } };
    const stored = [...current, tier('default'), tier('security'), tier('empty'), gnp];
    expect(checkDeletes(stored, blocks, [ref('Tier', 'default'), ref('Tier', 'security'), ref('Tier', 'empty')])).toEqual([
      'Tier default: Cannot delete default tier',
      'Tier security: Cannot delete a non-empty tier: it holds GlobalNetworkPolicy sec.block',
    ]);
  });

  it('names file positions when the targets come from a file', () => {
    const targets = parseResourceFile(node('node-a', '198.18.0.11/17'), 'del.yaml');
    expect(checkDeletes(current, blocks, targets)).toEqual(['del.yaml: document 1 (Node node-a): Node node-a still has 2 workload endpoints (w1, w2): delete those workloads first']);
  });
});

describe('parseDeleteTargets: what a delete -f reads', () => {
  it('needs only apiVersion, kind and metadata: no spec', () => {
    const text = `${V3}\nkind: IPPool\nmetadata: {name: p}\n---\n${V3}\nkind: NetworkPolicy\nmetadata: {name: web, namespace: tenant-a}\n---\n${V3}\nkind: NetworkPolicy\nmetadata: {name: deny, labels: {a: b}}\n---\n${pool('q', '198.19.0.0/17')}`;
    const targets = parseDeleteTargets(text, 'del.yaml');
    expect(targets).toEqual([ref('IPPool', 'p'), ref('NetworkPolicy', 'web', 'tenant-a'), ref('NetworkPolicy', 'deny'), ref('IPPool', 'q')]);
    // Errors about them still name the file and the document.
    expect(checkDeletes([], [], targets.slice(0, 1))).toEqual(['resource does not exist: IPPool(p); nothing was deleted']);
    expect(checkDeletes([], [], [ref('wep', 'w1')])[0]).toMatch(/^wep w1: WorkloadEndpoint cannot be deleted here/);
    const wep = parseDeleteTargets(`${V3}\nkind: WorkloadEndpoint\nmetadata: {name: w1}\n`, 'del.yaml');
    expect(checkDeletes([], [], wep)[0]).toMatch(/^del\.yaml: document 1 \(WorkloadEndpoint w1\): WorkloadEndpoint cannot be deleted here/);
    // The spec is not read: one that apply would refuse does not stop a delete.
    expect(parseDeleteTargets(`${V3}\nkind: IPPool\nmetadata: {name: p}\nspec: {cidr: nonsense}\n`, 'del.yaml')).toEqual([ref('IPPool', 'p')]);
  });

  it('still refuses what names no resource, naming the file, the document and the field', () => {
    const problems = (text: string) => {
      try {
        parseDeleteTargets(text, 'del.yaml');
      } catch (err) {
        return (err as ResourceError).problems;
      }
      throw new Error('expected the file to be refused');
    };
    expect(problems(`${V3}\nkind: IPPool\nmetadata: {namespace: x}\n`)).toEqual([
      'del.yaml: document 1 (IPPool): metadata.name: required',
      'del.yaml: document 1 (IPPool): metadata.namespace: IPPool is not namespaced: leave metadata.namespace out',
    ]);
    expect(problems(`${V3}\nkind: IPPool\n`)).toEqual(['del.yaml: document 1 (IPPool): metadata: required']);
    expect(problems(`${V3}\nkind: ippool\nmetadata: {name: p}\n`)[0]).toMatch(/^del\.yaml: document 1 \(ippool p\): kind: unsupported kind "ippool" \(kinds are case-sensitive in files: IPPool\)/);
    expect(problems(`kind: IPPool\nmetadata: {name: p}\n`)).toEqual(['del.yaml: document 1 (IPPool p): apiVersion: must be projectcalico.org/v3 (got nothing)']);
    expect(problems(`${V3}\nkind: IPPool\nmetadata: {name: p}\nspecs: {}\n`)).toEqual(['del.yaml: document 1 (IPPool p): specs: unknown field (known fields: apiVersion, kind, metadata, spec)']);
  });
});

describe('kind spellings', () => {
  it.each([
    ['IPPool', ['ippool', 'ippools', 'ipp', 'IPPool', 'IPPOOLS']],
    ['Node', ['node', 'nodes', 'Node', 'NODES']],
    ['BGPPeer', ['bgppeer', 'bgppeers', 'BGPPeer']],
    ['BGPConfiguration', ['bgpconfig', 'bgpconfiguration', 'bgpconfigurations', 'BGPConfiguration']],
    ['WorkloadEndpoint', ['workloadendpoint', 'workloadendpoints', 'wep', 'WorkloadEndpoints']],
    ['NetworkPolicy', ['networkpolicy', 'networkpolicies', 'np', 'policy', 'NetworkPolicies']],
    ['GlobalNetworkPolicy', ['globalnetworkpolicy', 'globalnetworkpolicies', 'gnp', 'GlobalNetworkPolicy']],
    ['Profile', ['profile', 'profiles', 'pro', 'Profile']],
    ['FelixConfiguration', ['felixconfiguration', 'felixconfig', 'felixconfigurations', 'FelixConfiguration']],
  ])('%s', (kind, spellings) => {
    for (const s of spellings) expect(resolveKind(s)).toBe(kind);
  });

  it('refuses an unknown one, listing the known spellings', () => {
    expect(() => resolveKind('pods')).toThrow(/^unknown resource type "pods" \(known: IPPool \(ippool, ippools, ipp, ipps, pool, pools\); Node \(node, nodes, no, nos\);/);
  });
});

describe('formatResources (goldens)', () => {
  const rs = parseResourceFile(
    [
      pool('p1', '198.19.0.0/17', 'nodeSelector: rack == "a"'),
      node('rr1', '198.18.0.11/17', 'routeReflectorClusterID: 224.0.0.1'),
      node('node-b', '198.18.0.12/17', 'asNumber: 65002\nipv6Address: 2001:db8:f::c/64'),
      doc('BGPPeer', 'tor', 'node: node-b\npeerIP: 198.18.0.1\nasNumber: 65001'),
      doc('BGPPeer', 'to-rr', 'peerSelector: has(rr)'),
      doc('BGPConfiguration', 'default', 'logSeverityScreen: Info\nnodeToNodeMeshEnabled: false'),
    ].join('---\n'),
    'all.yaml',
  );
  const wep: StoredResource = {
    apiVersion: 'projectcalico.org/v3',
    kind: 'WorkloadEndpoint',
    metadata: { name: 'w1', namespace: 'default' },
    spec: { node: 'node-b', orchestrator: 'cni', workload: 'w1', endpoint: 'eth0', interfaceName: 'cali0123456789a', ipNetworks: ['198.19.0.1/32', '2001:db8:1::1/128'] },
  };

  it('table: calicoctl-like columns, one table per kind', () => {
    expect(formatResources([...rs, wep], 'table', { defaultAsNumber: 64512 })).toBe(
      [
        'NAME  CIDR           SELECTOR',
        '----  -------------  -----------',
        'p1    198.19.0.0/17  rack == "a"',
        '',
        'NAME    ASN      IPV4            IPV6              RR CLUSTER',
        '------  -------  --------------  ----------------  ----------',
        'rr1     (64512)  198.18.0.11/17                    224.0.0.1',
        'node-b  65002    198.18.0.12/17  2001:db8:f::c/64',
        '',
        'NAME   PEERIP              NODE      ASN',
        '-----  ------------------  --------  -----',
        'tor    198.18.0.1          node-b    65001',
        'to-rr  (selector) has(rr)  (global)',
        '',
        'NAME     LOGSEVERITY  MESHENABLED  ASNUMBER',
        '-------  -----------  -----------  --------',
        'default  Info         false        64512',
        '',
        'NAMESPACE  WORKLOAD  NODE    NETWORKS                         INTERFACE',
        '---------  --------  ------  -------------------------------  ---------------',
        'default    w1        node-b  198.19.0.1/32,2001:db8:1::1/128  cali0123456789a',
      ].join('\n'),
    );
  });

  it('table: an empty list still has its header; the AS is "(default)" when unknown', () => {
    expect(formatResources([], 'table', { kind: 'bgpPeers' })).toBe('NAME  PEERIP  NODE  ASN\n----  ------  ----  ---');
    expect(formatResources([], 'table')).toBe('');
    expect(formatResources([rs[1]!], 'table')).toContain('rr1   (default)  198.18.0.11/17');
  });

  it('yaml: a kind: List that reads back to the same resources', () => {
    const yaml = formatResources([rs[0]!, rs[3]!], 'yaml');
    expect(yaml).toBe(
      [
        'apiVersion: projectcalico.org/v3',
        'items:',
        '- apiVersion: projectcalico.org/v3',
        '  kind: IPPool',
        '  metadata:',
        '    name: p1',
        '  spec:',
        '    cidr: 198.19.0.0/17',
        '    blockSize: 26',
        '    ipipMode: Never',
        '    vxlanMode: Never',
        '    natOutgoing: false',
        '    nodeSelector: rack == "a"',
        '- apiVersion: projectcalico.org/v3',
        '  kind: BGPPeer',
        '  metadata:',
        '    name: tor',
        '  spec:',
        '    node: node-b',
        '    peerIP: 198.18.0.1',
        '    asNumber: 65001',
        'kind: List',
      ].join('\n'),
    );
    expect(parseResourceFile(yaml, 'back.yaml')).toEqual([rs[0], rs[3]]);
    expect(formatResources([], 'yaml')).toBe('apiVersion: projectcalico.org/v3\nitems: []\nkind: List');
  });

  it('one named resource: yaml and json are the object itself (as calicoctl prints it), not a List', () => {
    expect(formatResources([rs[3]!], 'yaml', { single: true })).toBe(
      ['apiVersion: projectcalico.org/v3', 'kind: BGPPeer', 'metadata:', '  name: tor', 'spec:', '  node: node-b', '  peerIP: 198.18.0.1', '  asNumber: 65001'].join('\n'),
    );
    expect(JSON.parse(formatResources([rs[3]!], 'json', { single: true }))).toEqual(rs[3]);
    expect(parseResourceFile(formatResources([rs[3]!], 'yaml', { single: true }), 'one.yaml')).toEqual([rs[3]]);
  });

  it('wide: a table with the labels ("-" for none)', () => {
    expect(
      formatResources(
        [
          { ...wep, metadata: { ...wep.metadata, labels: { app: 'db', tier: 'back' } } },
          { ...wep, metadata: { name: 'w2', namespace: 'b' }, spec: { ...wep.spec, workload: 'w2' } },
        ],
        'wide',
      ),
    ).toBe(
      [
        'NAMESPACE  WORKLOAD  NODE    NETWORKS                         INTERFACE        LABELS',
        '---------  --------  ------  -------------------------------  ---------------  ----------------',
        'default    w1        node-b  198.19.0.1/32,2001:db8:1::1/128  cali0123456789a  app=db,tier=back',
        'b          w2        node-b  198.19.0.1/32,2001:db8:1::1/128  cali0123456789a  -',
      ].join('\n'),
    );
  });

  it('json: the same List', () => {
    const json = formatResources([rs[4]!], 'json');
    expect(json).toBe(
      [
        '{',
        '  "apiVersion": "projectcalico.org/v3",',
        '  "items": [',
        '    {',
        '      "apiVersion": "projectcalico.org/v3",',
        '      "kind": "BGPPeer",',
        '      "metadata": {',
        '        "name": "to-rr"',
        '      },',
        '      "spec": {',
        '        "peerSelector": "has(rr)"',
        '      }',
        '    }',
        '  ],',
        '  "kind": "List"',
        '}',
      ].join('\n'),
    );
    expect(parseResourceFile(json, 'back.json')).toEqual([rs[4]]);
  });

  it('summary: like calicoctl', () => {
    expect(summary('applied', [{ kind: 'IPPool' }, { kind: 'IPPool' }])).toBe("Successfully applied 2 'IPPool' resource(s)");
    expect(summary('applied', [{ kind: 'IPPool' }, { kind: 'Node' }])).toBe('Successfully applied 2 resource(s)');
    expect(summary('deleted', [{ kind: 'Node' }])).toBe("Successfully deleted 1 'Node' resource(s)");
  });
});

describe('policy kinds', () => {
  const np = (name: string, spec: string, ns?: string) => doc('NetworkPolicy', name, spec, ns ? `  namespace: ${ns}\n` : '');
  const gnp = (name: string, spec: string) => doc('GlobalNetworkPolicy', name, spec);
  const good = [
    np('web', 'order: 100\nselector: role == "web"\ningress:\n- action: Allow\n  protocol: TCP\n  source: {selector: role == "client"}\n  destination: {ports: [80, "8000:8080"]}', 'tenant-a'),
    np('default-deny', 'selector: all()\ntypes: [Ingress, Egress]'),
    gnp('allow-ping', 'order: 10\ningress:\n- {action: Allow, protocol: ICMP, icmp: {type: 8, code: 0}}\n- {action: Allow, protocol: ICMPv6, icmp: {type: 128}}'),
    gnp('egress-out', 'egress:\n- {action: Deny, destination: {nets: [198.18.255.0/24], notNets: [198.18.255.53/32]}}\n- {action: Pass}'),
    doc('Profile', 'kns.tenant-a', 'labelsToApply: {tenant: a}\ningress: [{action: Allow, source: {selector: tenant == "a"}}]\negress: [{action: Allow}]'),
    doc('FelixConfiguration', 'default', 'nftablesMode: Enabled'),
  ].join('---\n');

  it('reads good documents: namespace defaulted, types filled, the rest as written', () => {
    const rs = parseResourceFile(good, 'policy.yaml');
    expect(rs.map((r) => `${r.kind} ${r.metadata.namespace ?? '-'} ${r.metadata.name}`)).toEqual([
      'NetworkPolicy tenant-a web',
      'NetworkPolicy default default-deny',
      'GlobalNetworkPolicy - allow-ping',
      'GlobalNetworkPolicy - egress-out',
      'Profile - kns.tenant-a',
      'FelixConfiguration - default',
    ]);
    expect(rs.map((r) => (r.spec as { types?: string[] }).types)).toEqual([['Ingress'], ['Ingress', 'Egress'], ['Ingress'], ['Egress'], undefined, undefined]);
    expect(rs[3]!.spec).toEqual({ tier: 'default', types: ['Egress'], egress: [{ action: 'Deny', destination: { nets: ['198.18.255.0/24'], notNets: ['198.18.255.53/32'] } }, { action: 'Pass' }] });
  });

  const bad: [string, string, string][] = [
    [
      'bad selector: names spec.selector and the column',
      gnp('p', 'selector: role == web'),
      'f.yaml: document 1 (GlobalNetworkPolicy p): spec.selector: invalid selector "role == web": expected a quoted string but found "web" at column 8',
    ],
    [
      'ports without protocol',
      np('p', 'egress:\n- action: Allow\n  destination: {ports: [53]}'),
      'f.yaml: document 1 (NetworkPolicy p): spec.egress[0].destination.ports: needs protocol TCP, UDP or SCTP (no protocol given)',
    ],
    [
      'reversed port range',
      gnp('p', 'ingress:\n- action: Allow\n  protocol: TCP\n  destination: {ports: [22, "90:80"]}'),
      'f.yaml: document 1 (GlobalNetworkPolicy p): spec.ingress[0].destination.ports[1]: "90:80": first port is above last',
    ],
    [
      'unknown rule field',
      gnp('p', 'ingress:\n- action: Allow\n  protocols: [TCP]'),
      'f.yaml: document 1 (GlobalNetworkPolicy p): spec.ingress[0].protocols: unknown field (known fields: action, ipVersion, protocol, notProtocol, icmp, notICMP, source, destination, metadata)',
    ],
    ['unknown spec field', np('p', 'podSelector: {}'), 'f.yaml: document 1 (NetworkPolicy p): spec.podSelector: unknown field (known fields: order, selector, types, ingress, egress, tier)'],
    [
      'namespaceSelector with global() and more',
      np('p', 'ingress:\n- action: Allow\n  source: {namespaceSelector: "global() || all()"}'),
      'f.yaml: document 1 (NetworkPolicy p): spec.ingress[0].source.namespaceSelector: global() is only valid alone in a namespaceSelector',
    ],
    ['no action', gnp('p', 'ingress:\n- protocol: TCP'), 'f.yaml: document 1 (GlobalNetworkPolicy p): spec.ingress[0].action: required (one of "Allow", "Deny", "Pass", "Log")'],
    ['order not a number', gnp('p', 'order: first'), 'f.yaml: document 1 (GlobalNetworkPolicy p): spec.order: expected a number, got string "first"'],
    [
      'ICMP with IPv6 nets',
      gnp('p', 'ingress:\n- {action: Allow, protocol: ICMP, destination: {nets: ["2001:db8::/32"]}}'),
      'f.yaml: document 1 (GlobalNetworkPolicy p): spec.ingress[0].destination.nets[0]: "2001:db8::/32" is IPv6, but protocol ICMP is IPv4',
    ],
    [
      'bad namespace',
      np('p', 'selector: all()', 'Tenant_A'),
      'f.yaml: document 1 (NetworkPolicy p): metadata.namespace: must be a lowercase DNS-1123 subdomain: a-z, 0-9, "-" and ".", starting and ending with a letter or digit',
    ],
    [
      'Felix not default',
      doc('FelixConfiguration', 'global', 'nftablesMode: Disabled'),
      'f.yaml: document 1 (FelixConfiguration global): metadata.name: must be "default": calico-sim has only the cluster-wide FelixConfiguration',
    ],
    ['profile rule', doc('Profile', 'p', 'ingress: [{action: Accept}]'), 'f.yaml: document 1 (Profile p): spec.ingress[0].action: must be one of "Allow", "Deny", "Pass", "Log" (got string "Accept")'],
  ];
  it.each(bad)('refuses %s', (_what, text, expected) => {
    expect(problemsOf(text)).toEqual([expected]);
  });

  it('one bad policy among good ones refuses the whole file', () => {
    expect(problemsOf(`${good}---\n${gnp('bad', 'ingress: [{action: Allow, protocol: TCP, icmp: {type: 8}}]')}`)).toEqual([
      'f.yaml: document 7 (GlobalNetworkPolicy bad): spec.ingress[0].icmp: needs protocol ICMP or ICMPv6 (not TCP)',
    ]);
  });

  it('deletes a NetworkPolicy by namespace (default: "default"), and says which one is missing', () => {
    const stored = JSON.parse(JSON.stringify(parseResourceFile(good, 'x'))) as StoredResource[];
    expect(checkDeletes(stored, [], [ref('np', 'web', 'tenant-a'), ref('np', 'default-deny'), ref('gnp', 'allow-ping'), ref('pro', 'kns.tenant-a')])).toEqual([]);
    expect(checkDeletes(stored, [], [ref('np', 'web')])).toEqual(['resource does not exist: NetworkPolicy(default/web); nothing was deleted']);
  });

  it('table: namespace shown for NetworkPolicy; tier, order, selector and types', () => {
    const rs = parseResourceFile(good, 'x');
    expect(formatResources(rs, 'table')).toBe(
      [
        'NAMESPACE  NAME          TIER     ORDER  SELECTOR       TYPES',
        '---------  ------------  -------  -----  -------------  --------------',
        'tenant-a   web           default  100    role == "web"  Ingress',
        'default    default-deny  default         all()          Ingress,Egress',
        '',
        'NAME        TIER     ORDER  SELECTOR  TYPES',
        '----------  -------  -----  --------  -------',
        'allow-ping  default  10     all()     Ingress',
        'egress-out  default         all()     Egress',
        '',
        'NAME          LABELS TO APPLY',
        '------------  ---------------',
        'kns.tenant-a  tenant=a',
        '',
        'NAME     NFTABLESMODE  ENDPOINTTOHOST',
        '-------  ------------  --------------',
        'default  Enabled       (Drop)',
      ].join('\n'),
    );
  });
});

/** A datastore that fails the test if anything is read from or written to it. */
const untouchable = new Proxy({} as Datastore, {
  get: (_t, p) => {
    throw new Error(`the datastore was used (${String(p)})`);
  },
});

describe('size limits: refused before anything is sent', () => {
  it('formats sizes with their exact byte count', () => {
    expect(formatBytes(MAX_RESOURCE_BYTES)).toBe('1 MiB (1,048,576 bytes)');
    expect(formatBytes(5_531_208)).toBe('5.3 MiB (5,531,208 bytes)');
    expect(formatBytes(2048)).toBe('2 KiB (2,048 bytes)');
    expect(formatBytes(100)).toBe('100 bytes');
  });

  it('a resource over 1 MiB as stored: the file, the resource, its largest field, its size and the limit', async () => {
    const rs = parseResourceFile(`${pool('p', '198.19.0.0/17')}---\n${bigPolicy('huge', 1.5 * 1024 * 1024)}`, 'big.yaml');
    const problems = resourceSizeProblems(rs);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(
      /^big\.yaml: document 2 \(GlobalNetworkPolicy huge\): spec\.ingress: 1\.\d MiB \([\d,]+ bytes\); the resource takes 1\.\d MiB \([\d,]+ bytes\) as stored, more than the 1 MiB \(1,048,576 bytes\) one resource may take \(etcd takes at most 1\.5 MiB in one request\): split it into smaller resources$/,
    );
    // apply refuses it before reading or writing anything.
    const err = await new Ctl(untouchable).apply(rs).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResourceError);
    expect((err as ResourceError).problems).toEqual(problems);
  });

  it('a resource just under the limit is fine', () => {
    const rs = parseResourceFile(bigPolicy('big', 900 * 1024), 'big.yaml');
    expect(resourceSizeProblems(rs)).toEqual([]);
  });
});

/** A datastore holding nothing, whose transactions all commit: records what each wrote. */
function emptyStore(): { ds: Datastore; txns: Parameters<Datastore['txn']>[0][] } {
  const txns: Parameters<Datastore['txn']>[0][] = [];
  const ds = {
    list: async () => ({ items: [], revision: '1' }),
    txn: async (ops: Parameters<Datastore['txn']>[0]) => {
      txns.push(ops);
      return true;
    },
  } as unknown as Datastore;
  return { ds, txns };
}

/** `n` valid policies, one document each. */
const policies = (n: number) =>
  Array.from({ length: n }, (_, i) => doc('GlobalNetworkPolicy', `allow-${i}`, `selector: app == 'a${i}'\ningress:\n  - {action: Allow, protocol: TCP, destination: {ports: [${1000 + i}]}}`)).join(
    '---\n',
  );

describe('big files: one transaction, all or nothing', () => {
  it("the lab's etcd takes a transaction as large as apply writes", () => {
    const spec = etcdSpec({ lab: 'x', dir: '/run/x', fabric: { netns: 'ns' }, etcd: { endpoints: ['http://198.18.0.1:2379'], dataDir: '/run/x/etcd', log: '/run/x/etcd.log' } } as LabState);
    const flag = (f: string) => Number(spec.argv[spec.argv.indexOf(f) + 1]);
    expect(flag('--max-txn-ops')).toBe(ETCD_MAX_TXN_OPS);
    expect(flag('--max-request-bytes')).toBe(ETCD_MAX_REQUEST_BYTES);
    expect(MAX_RESOURCES_PER_TXN).toBeLessThanOrEqual(ETCD_MAX_TXN_OPS);
    expect(MAX_RESOURCES_PER_TXN).toBe(10_000);
    expect(MAX_TXN_BYTES).toBeLessThan(ETCD_MAX_REQUEST_BYTES);
    expect(MAX_RESOURCE_BYTES).toBeLessThan(MAX_TXN_BYTES);
  });

  it('applies 200 policies of one file in one transaction', async () => {
    const { ds, txns } = emptyStore();
    const results = await new Ctl(ds).apply(parseResourceFile(policies(200), 'many.yaml'));
    expect(results).toHaveLength(200);
    expect(results.every((r) => r.action === 'created')).toBe(true);
    expect(txns).toHaveLength(1);
    expect(txns[0]!.puts).toHaveLength(200);
  });

  it('refuses more than 10,000 resources, or more than 9 MiB, naming the file, before anything is read', async () => {
    const many = Array.from({ length: 10_001 }, (_, i) => ({ apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', metadata: { name: `p${i}` }, spec: {} }));
    const err = await new Ctl(untouchable).apply(many).catch((e: unknown) => e);
    expect((err as ResourceError).problems).toEqual(['resources: 10,001 resources: one apply writes at most 10,000 (one etcd transaction, all or nothing); split the file']);
    const fromFile = parseResourceFile(policies(3), 'many.yaml');
    expect(applyLimitProblems(fromFile)).toEqual([]);
    // Twelve resources of 800 KiB (a JSON List): each fits, together they do not.
    const items = Array.from({ length: 12 }, (_, i) => ({
      apiVersion: 'projectcalico.org/v3',
      kind: 'GlobalNetworkPolicy',
      metadata: { name: `big-${i}`, annotations: { inventory: 'x'.repeat(800 * 1024) } },
      spec: {},
    }));
    const big = parseResourceFile(JSON.stringify({ apiVersion: 'projectcalico.org/v3', kind: 'List', items }), 'big.yaml');
    expect(resourceSizeProblems(big)).toEqual([]);
    expect(applyLimitProblems(big)).toEqual([
      expect.stringMatching(
        /^big\.yaml: the 12 resources take \d+\.\d MiB \([\d,]+ bytes\) as stored: one apply writes at most 9 MiB \(9,437,184 bytes\) \(one etcd transaction, all or nothing\); split the file$/,
      ),
    ]);
    const refs = Array.from({ length: 10_001 }, (_, i) => ref('gnp', `p${i}`));
    expect(((await new Ctl(untouchable).delete(refs).catch((e: unknown) => e)) as ResourceError).problems).toEqual([
      'resources: 10,001 resources: one delete removes at most 10,000 (one etcd transaction, all or nothing); split the file',
    ]);
  });
});

describe('Ctl.delete of an IPPool releases its empty blocks in the same transaction', () => {
  /** A datastore holding `data` (key → value) whose transactions all commit: records what each wrote. */
  function storeOf(data: Record<string, unknown>) {
    const txns: Parameters<Datastore['txn']>[0][] = [];
    const ds = {
      list: async (prefix: string) => ({
        items: Object.entries(data)
          .filter(([k]) => k.startsWith(prefix))
          .map(([key, value]) => ({ key, value, modRevision: '5' })),
        revision: '7',
      }),
      txn: async (ops: Parameters<Datastore['txn']>[0]) => {
        txns.push(ops);
        return true;
      },
    } as unknown as Datastore;
    return { ds, txns };
  }
  const pools = parseResourceFile(`${pool('p', '198.19.0.0/17')}---\n${pool('q', '198.19.128.0/17')}`, 'x');
  const affinity = { state: 'confirmed', deleted: false };
  const data = (blockP: ReturnType<typeof newBlock>) => ({
    [keys.ippool('p')]: pools[0],
    [keys.ippool('q')]: pools[1],
    [keys.block('198.19.0.0/26')]: blockP,
    [keys.affinity('node-a', '198.19.0.0/26')]: affinity,
    [keys.block('198.19.0.64/26')]: newBlock('198.19.0.64/26', null),
    [keys.block('198.19.128.0/26')]: newBlock('198.19.128.0/26', 'node-b'),
    [keys.affinity('node-b', '198.19.128.0/26')]: affinity,
  });

  it('deletes the pool, its empty blocks and their affinities, and nothing of the other pool', async () => {
    const { ds, txns } = storeOf(data(newBlock('198.19.0.0/26', 'node-a')));
    expect(await new Ctl(ds).delete(parseDeleteTargets(`${V3}\nkind: IPPool\nmetadata: {name: p}\n`, 'del.yaml'))).toEqual([
      { kind: 'IPPool', name: 'p', releasedBlocks: ['198.19.0.0/26', '198.19.0.64/26'] },
    ]);
    expect(txns).toHaveLength(1);
    expect(new Set(txns[0]!.deletes)).toEqual(new Set([keys.ippool('p'), keys.block('198.19.0.0/26'), keys.block('198.19.0.64/26'), keys.affinity('node-a', '198.19.0.0/26')]));
    // Guarded: an allocation (a block written) or a new affinity between the check and the commit fails it.
    expect(txns[0]!.unchangedSince!.map((u) => u.prefix)).toEqual([keys.resourcePrefix, keys.secrets, keys.blocks, keys.allAffinities]);
  });

  it('refuses, writing nothing, while an address of the pool is in use', async () => {
    const used = assignInBlock(newBlock('198.19.0.0/26', 'node-a'), 'lab.w1', 3)!.block;
    const { ds, txns } = storeOf(data(used));
    const err = await new Ctl(ds).delete([ref('IPPool', 'p'), ref('IPPool', 'q')]).catch((e: unknown) => e);
    expect((err as ResourceError).problems).toEqual(['IPPool p: IPPool p still has 3 addresses in use, in 1 block (198.19.0.0/26): delete the workloads using them first']);
    expect(txns).toEqual([]);
  });
});
