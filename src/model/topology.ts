import { readFileSync } from 'node:fs';
import { parseDocument, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { blockPrefixRange, DEFAULT_BLOCK_SIZE } from './block-size.js';
import { cidrsOverlap, familyOf, ipAt, parseCidr } from '../net/cidr.js';
import { IpamError, TopologyError, errorMessage } from '../util/errors.js';
import { YamlAliasError, yamlValue } from '../util/yaml.js';
import { LAB_RE, NAME_RE } from './names.js';
import { parseSelector } from './selector.js';
import { labNetworks, outsideLabRanges, poolOverlapsLab, poolRangeProblem } from './address-plan.js';
import { poolCapacityProblems } from './pool-capacity.js';
import type { BGPPeer, BgpTimers, EndpointPort, PolicyDataplaneKind } from './resources.js';
import { compact } from '../util/object.js';
import { labelMap } from './labels.js';
import { endpointPortSchema } from './resource-fields.js';

/**
 * The topology file: what a lab is made of. Unknown keys are errors (a typo must not be
 * silently ignored). Extend here for BGP modes, gateways and racks.
 */
const name = z.string().regex(NAME_RE, 'must be 1-32 characters of a-z, 0-9 and "-" (not at either end)');
const asNumber = z.number().int().min(1).max(4294967295);

const PoolSchema = z.strictObject({
  name: name.optional(),
  cidr: z.string(),
  /** Default: 26 for IPv4, 122 for IPv6 (Calico's). */
  blockSize: z.number().int().optional(),
  /** SNAT to the host's address for traffic leaving the pools (Calico's natOutgoing). */
  natOutgoing: z.boolean().default(false),
  /** Tunnel traffic between hosts through VXLAN (Calico's vxlanMode: Always): the overlay baseline. */
  vxlan: z.boolean().default(false),
});

const ipv4 = z.string().regex(/^(\d{1,3})(\.\d{1,3}){3}$/, 'must be an IPv4 address');

/**
 * A workload: a name, or a name with the labels policies select on, a namespace (a tenant) and
 * named ports (Calico's WorkloadEndpoint `ports`, which rules refer to by name).
 */
const WorkloadSchema = z.union([name, z.strictObject({ name, namespace: name.default('default'), labels: labelMap.default({}), ports: z.array(endpointPortSchema).optional() })]);

const HostSchema = z.strictObject({
  name,
  workloads: z.array(WorkloadSchema).default([]),
  /** Makes the host a route reflector with this cluster id (and labels it route-reflector=true). */
  routeReflector: ipv4.optional(),
  /** Per-host AS number (AS per rack); default: the topology's asNumber. */
  asNumber: asNumber.optional(),
  labels: labelMap.default({}),
  /**
   * Resource limits of the host's container (the docker backend: its BIRD, agent and anything
   * run in it share them): `cpus` (e.g. 0.5) and `memory` in MiB. Namespaces have no limits.
   */
  resources: z.strictObject({ cpus: z.number().min(0.01).max(1024).optional(), memoryMiB: z.number().int().min(32).max(1048576).optional() }).optional(),
});

/** A Calico BGPPeer, as in the resource's spec, plus its name. */
const PeerSchema = z.strictObject({
  name,
  node: name.optional(),
  nodeSelector: z.string().optional(),
  peerIP: ipv4.optional(),
  asNumber: asNumber.optional(),
  peerSelector: z.string().optional(),
  numAllowedLocalASNumbers: z.number().int().min(0).max(10).optional(),
});

/** A plain BGP router outside the cluster (a gateway or ToR), with a LAN of outside clients. */
const RouterSchema = z.strictObject({
  name,
  asNumber,
  /** Which cluster hosts it peers with: `all`, `route-reflectors`, or a label selector (`rack == 'a'`). */
  peerWith: z.string().default('all'),
  /** Other routers it peers with (eBGP between top-of-rack routers). */
  peerRouters: z.array(name).default([]),
  /**
   * How often the hosts it serves accept their own AS in a path from it (Calico's
   * numAllowedLocalASNumbers): 1 when hosts of a rack share an AS and learn each other via the router.
   */
  allowLocalAs: z.number().int().min(0).max(10).default(0),
  /** The LAN behind it, where its clients live. */
  network: z.string().default('198.18.255.0/24'),
  clients: z.array(name).default([]),
});

export const TopologySchema = z.strictObject({
  /** The lab's name when `up` is given none (README: "Topology files"). */
  name: z.string().regex(LAB_RE, 'must be 1-16 characters of a-z, 0-9 and "-" (not at either end): it names the lab').optional(),
  description: z.string().optional(),
  asNumber: asNumber.default(64512),
  // 198.18.0.0/17: DESIGN.md's fabric /16 would contain its own external range 198.18.255.0/24.
  fabric: z.string().default('198.18.0.0/17'),
  /** The fabric's IPv6 network, used when a pool is IPv6 (dual stack). */
  fabric6: z.string().default('2001:db8:f::/64'),
  bgp: z
    .strictObject({
      nodeToNodeMesh: z.boolean().default(true),
      peers: z.array(PeerSchema).default([]),
      holdTime: z.number().int().min(3).max(65535).optional(),
      keepaliveTime: z.number().int().min(1).max(65535).optional(),
      connectRetryTime: z.number().int().min(1).max(65535).optional(),
      connectDelayTime: z.number().int().min(0).max(65535).optional(),
      gracefulRestart: z.boolean().optional(),
      bfd: z.strictObject({ intervalMs: z.number().int().min(10).max(60000).default(100), multiplier: z.number().int().min(1).max(255).default(3) }).optional(),
    })
    .default({ nodeToNodeMesh: true, peers: [] }),
  pools: z
    .array(PoolSchema)
    .min(1)
    .default([{ cidr: '198.19.0.0/16', blockSize: 26, natOutgoing: false, vxlan: false }]),
  hosts: z.array(HostSchema).min(1, 'a lab needs at least one host'),
  routers: z.array(RouterSchema).default([]),
  /** The ruleset the agents program for network policy (Calico's FelixConfiguration nftablesMode). */
  dataplane: z.enum(['iptables', 'nftables']).default('iptables'),
  /** Where the nodes live: network namespaces (the default) or Docker containers; `up --backend` overrides it. */
  backend: z.enum(['netns', 'docker']).optional(),
  /**
   * How the agents run: a process per host (as calico-node does), or `shared` processes serving
   * up to `hostsPerProcess` hosts each with one datastore watch (what large labs need: a Node
   * process costs ~90 MB). `auto`: per host up to AUTO_SHARED_ABOVE hosts, shared above.
   */
  agents: z
    .strictObject({
      mode: z.enum(['auto', 'per-host', 'shared']).default('auto'),
      hostsPerProcess: z.number().int().min(1).max(1000).default(50),
    })
    .default({ mode: 'auto', hostsPerProcess: 50 }),
  /** Calico's IPAM configuration. */
  ipam: z
    .strictObject({
      strictAffinity: z.boolean().default(false),
      maxBlocksPerHost: z.number().int().min(0).default(0),
    })
    .default({ strictAffinity: false, maxBlocksPerHost: 0 }),
});

export type Topology = z.infer<typeof TopologySchema>;

export interface PoolPlan {
  name: string;
  cidr: string;
  blockSize: number;
  natOutgoing: boolean;
  vxlan: boolean;
}
export interface HostPlan {
  name: string;
  ip: string;
  /** IPv6 fabric address and prefix length, in a dual-stack lab. */
  ip6?: string;
  prefixLength6?: number;
  prefixLength: number;
  /** Set only when the host has its own AS; else the cluster default applies. */
  asNumber?: number;
  routeReflectorClusterId?: string;
  labels: Record<string, string>;
  /** Its container's resource limits (docker backend). */
  limits?: NodeLimits;
}
/** CPU (cores, may be fractional) and memory (MiB) a node may use. */
export interface NodeLimits {
  cpus?: number;
  memoryMiB?: number;
}
/** A BGPPeer of the topology: Calico's spec, and its name. */
export type PeerPlan = { name: string } & BGPPeer['spec'];
export interface RouterPlan {
  name: string;
  asNumber: number;
  /** Fabric address. */
  ip: string;
  /** Calico selector of the hosts it peers with. */
  hostSelector: string;
  peerRouters: string[];
  allowLocalAs: number;
  network: { cidr: string; gatewayIp: string; prefixLength: number };
  clients: { name: string; ip: string }[];
}
export interface WorkloadPlan {
  name: string;
  host: string;
  /** Default `default`. */
  namespace?: string;
  labels?: Record<string, string>;
  ports?: EndpointPort[];
}

/** A validated topology with every address decided: what the engine builds. */
export interface LabPlan {
  source: string;
  /** The topology's `name:`: the lab's name when `up` is given none. */
  name?: string;
  asNumber: number;
  meshEnabled: boolean;
  fabric: { cidr: string; gatewayIp: string; prefixLength: number };
  /** Present when the lab is dual stack (an IPv6 pool exists). */
  fabric6?: { cidr: string; gatewayIp: string; prefixLength: number };
  pools: PoolPlan[];
  hosts: HostPlan[];
  workloads: WorkloadPlan[];
  peers: PeerPlan[];
  routers: RouterPlan[];
  timers: BgpTimers;
  ipam: { strictAffinity: boolean; maxBlocksPerHost: number };
  dataplane: PolicyDataplaneKind;
  agents: { mode: 'auto' | 'per-host' | 'shared'; hostsPerProcess: number };
  /** The backend the topology asks for (`up --backend` overrides it). */
  backend?: 'netns' | 'docker';
}

/** Labs with more hosts than this run their agents in shared processes unless told otherwise. */
export const AUTO_SHARED_ABOVE = 20;

/** Fabric addresses: .1 is the fabric gateway (and etcd), routers .2–.10, hosts from .11. */
export const FABRIC_GATEWAY_ORDINAL = 1;
export const FIRST_ROUTER_ORDINAL = 2;
export const MAX_ROUTERS = 9;
export const FIRST_HOST_ORDINAL = 11;
/** Outside clients on a router's LAN start at .10. */
export const FIRST_CLIENT_ORDINAL = 10;

/** Reads and validates a topology file. `source` names it in errors. */
export function loadTopologyFile(path: string): LabPlan {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new TopologyError(`${path}: cannot read topology file: ${errorMessage(err)}`, { cause: err });
  }
  return parseTopology(text, path);
}

export function parseTopology(text: string, source: string): LabPlan {
  let doc: unknown;
  try {
    const parsed = parseDocument(text, { prettyErrors: true });
    if (parsed.errors[0]) throw parsed.errors[0];
    doc = yamlValue(parsed);
  } catch (err) {
    if (err instanceof YamlAliasError) throw new TopologyError(`${source}: ${err.message}`, { cause: err });
    const where = err instanceof YAMLParseError && err.linePos ? `line ${err.linePos[0].line}: ` : '';
    throw new TopologyError(`${source}: ${where}malformed YAML: ${errorMessage(err).split('\n')[0]}`, { cause: err });
  }
  return planTopology(doc, source);
}

/** Validates a topology document (parsed YAML, or a generator's output) into a plan. */
export function planTopology(doc: unknown, source: string): LabPlan {
  const parsed = TopologySchema.safeParse(doc ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new TopologyError(`${source}: ${fieldPath(issue.path) || '(top level)'}: ${issue.message}`);
  }
  return plan(parsed.data, source);
}

function plan(t: Topology, source: string): LabPlan {
  /** `cause`: the error `why` comes from, if any. */
  const fail = (field: string, why: string, cause?: unknown): never => {
    throw new TopologyError(`${source}: ${field}: ${why}`, cause === undefined ? undefined : { cause });
  };
  /** The address at `ordinal` of `cidr`: a network too small to have it is an error at `field`. */
  const at = (cidr: string, ordinal: number, field: string, what: string): string => {
    try {
      return ipAt(cidr, ordinal);
    } catch (err) {
      if (!(err instanceof IpamError)) throw err;
      return fail(field, `${cidr} is too small: it has no address ${ordinal} for ${what}`, err);
    }
  };
  const fabric = checkCidr(t.fabric, 'fabric', fail);
  const seen = new Map<string, string>();
  const claim = (n: string, field: string) => {
    const prev = seen.get(n);
    if (prev) fail(field, `duplicate name "${n}" (already used at ${prev}); host and workload names must be unique in a lab`);
    seen.set(n, field);
  };
  t.hosts.forEach((h, i) => {
    claim(h.name, `hosts[${i}].name`);
    for (const [j, w] of h.workloads.entries()) claim(typeof w === 'string' ? w : w.name, `hosts[${i}].workloads[${j}]`);
  });
  t.routers.forEach((r, i) => {
    claim(r.name, `routers[${i}].name`);
    for (const [j, c] of r.clients.entries()) claim(c, `routers[${i}].clients[${j}]`);
  });
  if (t.routers.length > MAX_ROUTERS) fail('routers', `at most ${MAX_ROUTERS} routers (fabric addresses .2–.10)`);
  t.bgp.peers.forEach((p, i) => {
    if (!!p.peerIP === !!p.peerSelector) fail(`bgp.peers[${i}]`, 'give exactly one of peerIP and peerSelector');
    if (p.peerIP && p.asNumber === undefined) fail(`bgp.peers[${i}].asNumber`, 'required with peerIP');
    if (p.node && p.nodeSelector) fail(`bgp.peers[${i}]`, 'give at most one of node and nodeSelector');
    if (p.node && !t.hosts.some((h) => h.name === p.node)) fail(`bgp.peers[${i}].node`, `unknown host "${p.node}"`);
    for (const f of ['nodeSelector', 'peerSelector'] as const) {
      const sel = p[f];
      if (sel !== undefined) {
        try {
          parseSelector(sel);
        } catch (err) {
          fail(`bgp.peers[${i}].${f}`, errorMessage(err), err);
        }
      }
    }
  });
  t.routers.forEach((r, i) => {
    if (r.peerWith === 'route-reflectors' && !t.hosts.some((h) => h.routeReflector)) fail(`routers[${i}].peerWith`, 'route-reflectors, but no host is a route reflector');
    try {
      parseSelector(routerHostSelector(r.peerWith));
    } catch (err) {
      fail(`routers[${i}].peerWith`, errorMessage(err), err);
    }
    r.peerRouters.forEach((n, j) => {
      if (n === r.name || !t.routers.some((x) => x.name === n)) fail(`routers[${i}].peerRouters[${j}]`, `unknown router "${n}"`);
    });
  });
  const routerNets = t.routers.map((r, i) => {
    const net = checkCidr(r.network, `routers[${i}].network`, fail);
    if (cidrsOverlap(net, fabric)) fail(`routers[${i}].network`, `${net} overlaps the fabric ${fabric}`);
    return net;
  });
  const pools = t.pools.map((p, i): PoolPlan => {
    const cidr = checkCidr(p.cidr, `pools[${i}].cidr`, fail, poolRangeProblem);
    const prefix = Number(cidr.split('/')[1]);
    const family = familyOf(cidr);
    const blockSize = p.blockSize ?? DEFAULT_BLOCK_SIZE[family];
    const { min: lo, max: hi } = blockPrefixRange(family);
    if (blockSize < lo || blockSize > hi) fail(`pools[${i}].blockSize`, `an IPv${family} block size must be /${lo} to /${hi}, got /${blockSize}`);
    if (blockSize < prefix) fail(`pools[${i}].blockSize`, `block size /${blockSize} is larger than the pool ${cidr}`);
    t.pools.slice(0, i).forEach((q, k) => {
      if (cidrsOverlap(cidr, q.cidr)) fail(`pools[${i}].cidr`, `pool ${cidr} overlaps pools[${k}] (${q.cidr})`);
    });
    if ((p.vxlan || p.natOutgoing) && family === 6) fail(`pools[${i}]`, 'natOutgoing and vxlan are IPv4 options here');
    return { name: p.name ?? (i === 0 ? 'default-ipv4-ippool' : `pool-${i}`), cidr, blockSize, natOutgoing: p.natOutgoing, vxlan: p.vxlan };
  });
  const fabricPrefix = Number(fabric.split('/')[1]);
  const dualStack = pools.some((p) => familyOf(p.cidr) === 6);
  const fabric6 = dualStack ? checkCidr(t.fabric6, 'fabric6', fail) : undefined;
  if (fabric6 && familyOf(fabric6) !== 6) fail('fabric6', `${fabric6} is not an IPv6 network`);
  // The rule ctl applies to an IPPool on a running lab, too.
  const networks = labNetworks({
    fabric: { cidr: fabric },
    fabric6: fabric6 ? { cidr: fabric6 } : undefined,
    routers: t.routers.map((r, i) => ({ name: r.name, network: { cidr: routerNets[i]! } })),
  });
  pools.forEach((p, i) => {
    const why = poolOverlapsLab(p.cidr, networks);
    if (why) fail(`pools[${i}].cidr`, why);
  });
  for (const [field, net] of [['fabric', fabric], ...(fabric6 ? [['fabric6', fabric6]] : [])] as const) {
    const room = hostRoom(net);
    if (t.hosts.length > room) {
      const n = t.hosts.length;
      fail(
        'hosts',
        `${n} host${n === 1 ? '' : 's'} do${n === 1 ? 'es' : ''} not fit in the ${field} ${net}: it has room for ${room} host${room === 1 ? '' : 's'} (hosts take the addresses from .${FIRST_HOST_ORDINAL}${familyOf(net) === 4 ? ' to the last before the broadcast' : ' on'}; .${FABRIC_GATEWAY_ORDINAL} is the gateway, .${FIRST_ROUTER_ORDINAL}–.${FIRST_ROUTER_ORDINAL + MAX_ROUTERS - 1} the routers); ${n} host${n === 1 ? ' needs' : 's need'} a /${prefixForHosts(n, familyOf(net))} or larger`,
      );
    }
  }
  // A pool too small for the workloads would stop the build halfway: refuse it now.
  const short = poolCapacityProblems({
    pools,
    workloadsPerHost: t.hosts.map((h, i) => ({ host: h.name, field: `hosts[${i}].workloads`, workloads: h.workloads.length })),
    ipam: t.ipam,
  })[0];
  if (short) fail(short.field, short.why);
  return {
    source,
    ...(t.name ? { name: t.name } : {}),
    asNumber: t.asNumber,
    meshEnabled: t.bgp.nodeToNodeMesh,
    fabric: { cidr: fabric, gatewayIp: ipAt(fabric, FABRIC_GATEWAY_ORDINAL), prefixLength: fabricPrefix },
    ...(fabric6 ? { fabric6: { cidr: fabric6, gatewayIp: at(fabric6, FABRIC_GATEWAY_ORDINAL, 'fabric6', 'the fabric gateway'), prefixLength: Number(fabric6.split('/')[1]) } } : {}),
    pools,
    hosts: t.hosts.map(
      (h, i): HostPlan => ({
        name: h.name,
        ip: ipAt(fabric, FIRST_HOST_ORDINAL + i),
        ...(fabric6 ? { ip6: at(fabric6, FIRST_HOST_ORDINAL + i, 'fabric6', `host ${h.name}`), prefixLength6: Number(fabric6.split('/')[1]) } : {}),
        prefixLength: fabricPrefix,
        ...(h.asNumber ? { asNumber: h.asNumber } : {}),
        ...(h.routeReflector ? { routeReflectorClusterId: h.routeReflector } : {}),
        labels: { ...h.labels, ...(h.routeReflector ? { 'route-reflector': 'true' } : {}) },
        ...(h.resources && Object.keys(h.resources).length ? { limits: h.resources } : {}),
      }),
    ),
    workloads: t.hosts.flatMap((h) =>
      h.workloads.map(
        (w): WorkloadPlan =>
          typeof w === 'string'
            ? { name: w, host: h.name }
            : {
                name: w.name,
                host: h.name,
                ...(w.namespace !== 'default' ? { namespace: w.namespace } : {}),
                ...(Object.keys(w.labels).length ? { labels: w.labels } : {}),
                ...(w.ports?.length ? { ports: w.ports } : {}),
              },
      ),
    ),
    dataplane: t.dataplane,
    agents: t.agents,
    ...(t.backend ? { backend: t.backend } : {}),
    peers: t.bgp.peers,
    timers: compact({
      holdTime: t.bgp.holdTime,
      keepaliveTime: t.bgp.keepaliveTime,
      connectRetryTime: t.bgp.connectRetryTime,
      connectDelayTime: t.bgp.connectDelayTime,
      gracefulRestart: t.bgp.gracefulRestart,
      bfd: t.bgp.bfd,
    }),
    ipam: t.ipam,
    routers: t.routers.map((r, i): RouterPlan => {
      const net = routerNets[i]!;
      return {
        name: r.name,
        asNumber: r.asNumber,
        ip: ipAt(fabric, FIRST_ROUTER_ORDINAL + i),
        hostSelector: routerHostSelector(r.peerWith),
        peerRouters: r.peerRouters,
        allowLocalAs: r.allowLocalAs,
        network: { cidr: net, gatewayIp: at(net, 1, `routers[${i}].network`, `the router`), prefixLength: Number(net.split('/')[1]) },
        clients: r.clients.map((c, j) => ({ name: c, ip: at(net, FIRST_CLIENT_ORDINAL + j, `routers[${i}].network`, `client ${c}`) })),
      };
    }),
  };
}

/** Pure: how many hosts a fabric network holds: addresses from FIRST_HOST_ORDINAL on (IPv4: up to the last before the broadcast); never negative. */
export function hostRoom(net: string): number {
  const { prefix, bits } = parseCidr(net);
  const size = 2 ** Math.min(bits - prefix, 40); // more than any lab needs; keeps the number exact
  return Math.max(0, size - FIRST_HOST_ORDINAL - (bits === 32 ? 1 : 0));
}

/** Pure: the longest prefix of a fabric of `family` with room for `hosts` hosts. */
function prefixForHosts(hosts: number, family: 4 | 6): number {
  const bits = family === 4 ? 32 : 128;
  let prefix = bits;
  while (hostRoom(`${family === 4 ? '0.0.0.0' : '::'}/${prefix}`) < hosts) prefix--;
  return prefix;
}

/** A router's `peerWith` as a Calico selector over the hosts' labels. */
function routerHostSelector(peerWith: string): string {
  if (peerWith === 'all') return 'all()';
  if (peerWith === 'route-reflectors') return "route-reflector == 'true'";
  return peerWith;
}

/** A valid network, in canonical form, that `rule` takes (by default: inside the lab address ranges). */
function checkCidr(cidr: string, field: string, fail: (f: string, why: string, cause?: unknown) => never, rule: (cidr: string) => string | undefined = outsideLabRanges): string {
  let canonical: string;
  try {
    canonical = parseCidr(cidr).cidr;
  } catch (err) {
    return fail(field, errorMessage(err), err);
  }
  const why = rule(canonical);
  return why ? fail(field, why) : canonical;
}

function fieldPath(path: PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('');
}
