import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The built-in topologies: YAML files beside this module's source, and generators sized by
 * options. Kept free of heavy imports, so `calico-sim up --help` can list them quickly.
 */
export const DIR = fileURLToPath(new URL('../../src/topologies/', import.meta.url));

export interface GeneratorOptions {
  /** Number of hosts. */
  hosts?: number;
  /** Workloads per host. */
  workloads?: number;
}

type Generator = { describe: string; defaultHosts: number; minHosts: number; make: (hosts: number, workloads: number) => object };

const hostList = (n: number, workloads: number, extra: (i: number) => object = () => ({})) =>
  Array.from({ length: n }, (_, i) => ({
    name: `host${i + 1}`,
    workloads: Array.from({ length: workloads }, (_, j) => `host${i + 1}-w${j + 1}`),
    ...extra(i),
  }));

export const generators: Record<string, Generator> = {
  mesh: {
    describe: 'N hosts in a node-to-node BGP full mesh',
    defaultHosts: 6,
    minHosts: 1,
    make: (n, w) => ({ name: 'mesh', hosts: hostList(n, w) }),
  },
  'route-reflector': {
    describe: 'N hosts of which host1 and host2 are dedicated route reflectors (one cluster id, no workloads); no mesh',
    defaultHosts: 10,
    minHosts: 3,
    make: (n, w) => ({
      name: 'route-reflector',
      bgp: {
        nodeToNodeMesh: false,
        peers: [{ name: 'peer-with-route-reflectors', nodeSelector: 'all()', peerSelector: "route-reflector == 'true'" }],
      },
      hosts: hostList(n, w, (i) => (i < 2 ? { routeReflector: '224.0.0.1', workloads: [] } : {})),
    }),
  },
  'dual-stack': {
    describe: 'N meshed hosts with an IPv4 and an IPv6 pool: every workload gets both, IPv6 routes on BGP sessions of their own between the hosts IPv6 addresses, as in Calico',
    defaultHosts: 2,
    minHosts: 1,
    make: (n, w) => ({
      name: 'dual-stack',
      pools: [
        { cidr: '198.19.0.0/16', blockSize: 26 },
        { name: 'default-ipv6-ippool', cidr: '2001:db8:1::/48', blockSize: 122 },
      ],
      hosts: hostList(n, w),
    }),
  },
  rack: {
    describe: 'two racks, AS per rack (hosts 65101/65102), a top-of-rack router per rack (65001/65002); hosts peer eBGP with their ToR only, the ToRs with each other (RFC 7938 style)',
    defaultHosts: 4,
    minHosts: 2,
    make: (n, w) => {
      const rackOf = (i: number) => (i < Math.ceil(n / 2) ? 'a' : 'b');
      return {
        name: 'rack',
        bgp: { nodeToNodeMesh: false },
        hosts: hostList(n, w, (i) => ({ labels: { rack: rackOf(i) }, asNumber: rackOf(i) === 'a' ? 65101 : 65102 })),
        routers: (['a', 'b'] as const).map((r) => ({
          name: `tor-${r}`,
          asNumber: r === 'a' ? 65001 : 65002,
          peerWith: `rack == '${r}'`,
          peerRouters: r === 'a' ? ['tor-b'] : [],
          // Rack mates share an AS and learn each other's blocks through their ToR.
          allowLocalAs: 1,
          network: r === 'a' ? '198.18.254.0/24' : '198.18.255.0/24',
        })),
      };
    },
  },
  gateway: {
    describe: 'N meshed hosts, a gateway router (AS 64513) peering with all of them, and an outside client behind it',
    defaultHosts: 3,
    minHosts: 1,
    make: (n, w) => ({
      name: 'gateway',
      hosts: hostList(n, w),
      routers: [{ name: 'gw', asNumber: 64513, peerWith: 'all', network: '198.18.255.0/24', clients: ['outside'] }],
    }),
  },
};

export function builtinTopologies(): string[] {
  const files = readdirSync(DIR)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => f.slice(0, -5));
  return [...files, ...Object.keys(generators)].sort();
}

export function describeBuiltins(): string {
  return Object.entries(generators)
    .map(([n, g]) => `${n} (--hosts, default ${g.defaultHosts}): ${g.describe}`)
    .join('; ');
}
