/**
 * Property-based: any text given to parseTopology gives a lab plan or a TopologyError (an
 * InputError), never another exception, and in bounded time.
 */
import fc from 'fast-check';
import { describe, expect } from 'vitest';
import { parseTopology } from '../../src/model/topology.js';
import { InputError, TopologyError } from '../../src/util/errors.js';
import { itHolds, resultOrTypedError } from '../helpers/fuzz.js';
import { anyText, cidrish, ipish, labelsish, mostly, nameish, numberish, selectorish, quietYamlWarnings, serialized } from '../helpers/fuzz-values.js';

const ALLOWED = [TopologyError, InputError];
const parse = (text: string) => resultOrTypedError(() => parseTopology(text, 'fuzz.yaml'), ALLOWED);

const bool = mostly(fc.boolean());
const names = (max: number) => mostly(fc.array(nameish, { maxLength: max }));
const workload = fc.oneof(nameish, fc.record({ name: mostly(nameish), namespace: mostly(nameish), labels: mostly(labelsish) }, { requiredKeys: ['name'] }));
const host = fc.record(
  { name: mostly(nameish), workloads: mostly(fc.array(workload, { maxLength: 4 })), routeReflector: mostly(ipish), asNumber: mostly(numberish), labels: mostly(labelsish) },
  { requiredKeys: ['name'] },
);
const router = fc.record(
  {
    name: mostly(nameish),
    asNumber: mostly(numberish),
    peerWith: mostly(fc.oneof(fc.constantFrom('all', 'route-reflectors'), selectorish)),
    peerRouters: names(3),
    allowLocalAs: mostly(numberish),
    network: mostly(cidrish),
    clients: names(30),
  },
  { requiredKeys: ['name', 'asNumber'] },
);
const peer = fc.record(
  {
    name: mostly(nameish),
    node: mostly(nameish),
    nodeSelector: mostly(selectorish),
    peerIP: mostly(ipish),
    asNumber: mostly(numberish),
    peerSelector: mostly(selectorish),
    numAllowedLocalASNumbers: mostly(numberish),
  },
  { requiredKeys: ['name'] },
);
const pool = fc.record({ name: mostly(nameish), cidr: mostly(cidrish), blockSize: mostly(numberish), natOutgoing: bool, vxlan: bool }, { requiredKeys: ['cidr'] });

/** A topology document: every field of the schema, mostly plausible, sometimes anything. */
const topology = fc.record(
  {
    name: mostly(nameish),
    description: mostly(fc.string()),
    asNumber: mostly(numberish),
    fabric: mostly(cidrish),
    fabric6: mostly(cidrish),
    bgp: mostly(
      fc.record(
        {
          nodeToNodeMesh: bool,
          peers: mostly(fc.array(peer, { maxLength: 3 })),
          holdTime: mostly(numberish),
          keepaliveTime: mostly(numberish),
          connectRetryTime: mostly(numberish),
          gracefulRestart: bool,
          bfd: mostly(fc.record({ intervalMs: mostly(numberish), multiplier: mostly(numberish) }, { requiredKeys: [] })),
        },
        { requiredKeys: [] },
      ),
    ),
    pools: mostly(fc.array(pool, { maxLength: 3 })),
    hosts: mostly(fc.array(host, { minLength: 1, maxLength: 5 })),
    routers: mostly(fc.array(router, { maxLength: 3 })),
    dataplane: mostly(fc.constantFrom('iptables', 'nftables', 'ebpf')),
    ipam: mostly(fc.record({ strictAffinity: bool, maxBlocksPerHost: mostly(numberish) }, { requiredKeys: [] })),
  },
  { requiredKeys: ['hosts'] },
);

/**
 * A topology that is mostly valid: unique names, addresses from the lab ranges in sizes from
 * roomy to too small, so that most documents pass the schema and reach the address plan.
 */
const labCidr = (family: 4 | 6, nets: string[]) =>
  fc.tuple(fc.constantFrom(...nets), fc.constantFrom(...(family === 4 ? [16, 17, 24, 26, 28, 29, 30, 31, 32] : [64, 116, 120, 122, 126, 127, 128]))).map(([n, p]) => `${n}/${p}`);
/** Usually left out, else one of `values`. */
const rarely = <T>(values: fc.Arbitrary<T>) => fc.oneof({ weight: 6, arbitrary: fc.constant(undefined) }, values);
const bgpPeer = fc.oneof(
  fc.record({ peerIP: fc.oneof({ weight: 6, arbitrary: fc.constant('198.18.0.2') }, ipish), asNumber: rarely(fc.integer({ min: 1, max: 65535 })) }),
  fc.record({ peerSelector: selectorish, node: rarely(fc.constantFrom('h0', 'h1', 'h9')), peerIP: rarely(fc.constant('198.18.0.3')) }),
);
const plausibleTopology = fc
  .record({
    hosts: fc.array(
      fc.record({ workloads: fc.integer({ min: 0, max: 3 }), routeReflector: rarely(fc.constantFrom('198.18.0.11', '224.0.0.1', '198.18.0')), asNumber: rarely(fc.integer({ min: 1, max: 65535 })) }),
      {
        minLength: 1,
        maxLength: 6,
      },
    ),
    routers: fc.array(
      fc.record({
        clients: fc.integer({ min: 0, max: 20 }),
        network: fc.oneof(labCidr(4, ['198.18.255.0', '198.18.254.0']), labCidr(6, ['2001:db8:2::'])),
        peerWith: fc.oneof(fc.constantFrom('all', 'route-reflectors'), selectorish),
      }),
      { maxLength: 3 },
    ),
    pools: rarely(
      fc.array(fc.record({ cidr: fc.oneof(labCidr(4, ['198.19.0.0']), labCidr(6, ['2001:db8:1::', '2001:db8:f::'])), blockSize: rarely(fc.integer({ min: 16, max: 130 })) }), {
        minLength: 1,
        maxLength: 2,
      }),
    ),
    fabric: rarely(fc.oneof(labCidr(4, ['198.18.0.0']), labCidr(6, ['2001:db8:f::']))),
    fabric6: rarely(labCidr(6, ['2001:db8:f::', '2001:db8:e::'])),
    peers: rarely(fc.array(bgpPeer, { minLength: 1, maxLength: 2 })),
  })
  .map((t) =>
    JSON.parse(
      JSON.stringify({
        hosts: t.hosts.map((h, i) => ({ name: `h${i}`, workloads: Array.from({ length: h.workloads }, (_, j) => `w${i}-${j}`), routeReflector: h.routeReflector, asNumber: h.asNumber })),
        routers: t.routers.map((r, i) => ({ name: `r${i}`, asNumber: 65001 + i, network: r.network, peerWith: r.peerWith, clients: Array.from({ length: r.clients }, (_, j) => `c${i}-${j}`) })),
        pools: t.pools,
        fabric: t.fabric,
        fabric6: t.fabric6,
        bgp: { peers: (t.peers ?? []).map((p, i) => ({ name: `p${i}`, ...p })) },
      }),
    ),
  );

describe('parseTopology on any text', () => {
  quietYamlWarnings();

  itHolds('arbitrary text and YAML-ish fragments: a plan or a TopologyError', anyText, (text) => void parse(text), 1000);

  itHolds('arbitrary JSON values, serialized as YAML or JSON: a plan or a TopologyError', serialized(fc.jsonValue({ maxDepth: 4 })), (text) => void parse(text), 500);

  itHolds(
    'topology documents, fields mostly plausible: a plan or a TopologyError, and a plan gives every host an address',
    serialized(topology),
    (text) => {
      const r = parse(text);
      if ('value' in r) expect(r.value.hosts.every((h) => h.ip !== undefined)).toBe(true);
    },
    1000,
  );

  itHolds('mostly valid topologies, networks from roomy to too small: a plan or a TopologyError', serialized(plausibleTopology), (text) => void parse(text), 1000);
});
