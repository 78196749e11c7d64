/**
 * The confd role: renders one host's BIRD 2 configuration from cluster state. Pure: same input,
 * same text (peers sorted by address, blocks and pools by address then length).
 *
 * Shape, after Calico's confd templates (bird.cfg, bird_aggr.cfg, bird_ipam.cfg):
 * - local IPAM blocks are static blackhole routes in BIRD, programmed into the kernel (a Calico
 *   node's `blackhole <block> proto bird`) and exported to peers as aggregates;
 * - the kernel protocol learns the agent's routes (`learn; persist;`, as bird.cfg.template): a
 *   workload address borrowed from another host's block is thus announced on its own;
 * - from other cluster nodes everything they send is imported (Calico's `import all`: pool
 *   prefixes, service ranges, prefix advertisements); from routers, what they announce but our pools;
 * - which sessions exist (mesh, route reflectors, explicit peers) is decided by src/bgp/peers.ts;
 *   this module only prints them: `Mesh_<ip>` for the node-to-node mesh, `Node_<ip>` for peers
 *   of this node, `Global_<ip>` for peers of every node, as Calico names them;
 * - to peers, as Calico's calico_aggr: a local block is exported as the aggregate and nothing
 *   inside it; any other pool prefix (a borrowed /32 learned from the kernel, or a route
 *   reflected to clients) is exported, except from a pool with disableBGPExport and the VXLAN
 *   device's routes (reject_tunnel_routes).
 */
import type { BGPFilterSpec, BgpTimers } from '../model/resources.js';
import { filterFunctionName, filterFunctions, filterRules, hasPeerType, PRIORITY_EXPORT, PRIORITY_IMPORT, type FilterDirection } from './filters.js';
import { SimError } from '../util/errors.js';
import { canonicalIp, compareCidrs, compareIps, familyOf, parseCidr as parseCidrAny } from '../net/cidr.js';

/** One BGP session of this host. */
export interface BirdSession {
  /** BIRD protocol name: `Mesh_…`, `Node_…` or `Global_…` + the address with `_` for `.` and `:`. */
  name: string;
  /** The session's address family (default 4): IPv6 routes have sessions of their own between the nodes' IPv6 addresses, as Calico's bird6. */
  family?: 4 | 6;
  /** Who the peer is, for the comment above the session. */
  description: string;
  ip: string;
  asNumber: number;
  /** Wait for the peer to connect: one side of every node-to-node pair, so sessions never collide. */
  passive: boolean;
  /** This host is a route reflector and the peer is one of its clients. */
  rrClient: boolean;
  /** The peer is another cluster node (imports only pool prefixes) rather than an outside router. */
  clusterNode: boolean;
  /** Accept paths holding our own AS this many times (Calico's numAllowedLocalASNumbers). */
  allowLocalAs?: number;
  /** The peer's node name, when it is a cluster node. */
  peerNode?: string;
  /** BGPPeer sourceAddress None: no `source address` (the kernel picks it). */
  noSourceAddress?: boolean;
  /** BGPPeer keepOriginalNextHop (eBGP only): `next hop keep`. */
  keepNextHop?: boolean;
  /** BGPPeer maxRestartTime / BGPConfiguration nodeMeshMaxRestartTime: `graceful restart time`, seconds. */
  restartTimeS?: number;
  /** BGPPeer ttlSecurity: `ttl security on; multihop N`. */
  ttlSecurity?: number;
  /** BGPPeer password / BGPConfiguration nodeMeshPassword, from its Secret: `password "…"` (TCP MD5). */
  password?: string;
  /** BGPPeer filters: BGPFilter names, their functions called before the session's own import and export rules. */
  filters?: string[];
  /** The port the peer listens on, when not 179 (a node's BGPConfiguration listenPort): `neighbor … port N`. */
  port?: number;
  /** BGPPeer localASNumber: this node speaks as this AS on the session (`local as`). */
  localAs?: number;
  /**
   * BGPPeer reachableBy: the gateway toward the peer — a static /32 to the peer via it, in the
   * blocks' static protocol and so in the kernel (bird_aggr.cfg.template).
   */
  reachableBy?: string;
}

export interface BirdInput {
  /** Node name. */
  host: string;
  /** The node's IPv4 fabric address: router id and BGP source address. */
  routerId: string;
  /** Node AS (Calico's default is 64512). */
  asNumber: number;
  /** Set when this node is a route reflector. */
  rrClusterId?: string;
  sessions: BirdSession[];
  /** CIDRs of the IPAM blocks with affinity to this host. */
  localBlocks: string[];
  /** IPv4 IPPool CIDRs. */
  pools: string[];
  /** IPv4 pools with disableBGPExport: none of their prefixes go to peers. */
  noExportPools?: string[];
  timers?: BgpTimers;
  /**
   * How often BIRD rescans the kernel's routes and interfaces, seconds (netlink tells it of
   * changes in between). Calico's 2 s; a lab of many hosts on one machine scans less often.
   */
  scanTimeS?: number;
  /**
   * IPv6: the host's IPv6 fabric address (the source of its IPv6 sessions, family 6 in
   * `sessions`), its IPv6 blocks, the IPv6 pools.
   */
  ipv6?: { address: string; localBlocks: string[]; pools: string[]; noExportPools?: string[] };
  /** Every BGPFilter (their functions are rendered whether a session uses them or not, as confd does). */
  bgpFilters?: { name: string; spec: BGPFilterSpec }[];
  /** BGPConfiguration listenPort: the port BIRD listens on for every session (`local port N`); absent: 179. */
  listenPort?: number;
  /** BGPConfiguration bindMode NodeIP: BIRD listens on the node's address only (`strict bind on`). */
  strictBind?: boolean;
  /** BGPConfiguration ignoredInterfaces: left out of the direct protocol, with the workloads' and kube-ipvs*. */
  ignoredInterfaces?: string[];
  /** BGPConfiguration prefixAdvertisements, resolved: communities (`a:b`, `a:b:c`) added to the exported prefixes inside each CIDR (either family). */
  communities?: { cidr: string; values: string[] }[];
  /** BGPConfiguration serviceClusterIPs/ExternalIPs/LoadBalancerIPs: ranges every node announces (either family). */
  services?: string[];
}

/** What the export filters of one family add (BGPConfiguration): communities, and the service ranges announced. */
interface Advertising {
  communities: { cidr: string; values: string[] }[];
  services: string[];
}

/** Name of the static protocol that holds this host's blocks. */
const BLOCKS_PROTOCOL = 'calico_blocks';
/** Calico's VXLAN device (agent/desired.ts VXLAN_DEVICE): its routes are never announced. */
const VXLAN_IFACE = 'vxlan.calico';
/** A host's fabric interface (agent/desired.ts FABRIC_DEVICE). */
const FABRIC_IFACE = 'eth0';
/** Names of the BGP templates sessions are built from. */
const NODE_TEMPLATE = 'calico_node';
const ROUTER_TEMPLATE = 'calico_router';
const MAX_AS = 4294967295;

/** An IPv4 prefix as numbers, plus its canonical text. */
interface Cidr {
  addr: number;
  len: number;
  text: string;
}

/** A session after validation. */
type Session = BirdSession & { family: 4 | 6 };

/** The input after validation: sorted, de-duplicated, ready to print. */
interface Checked {
  host: string;
  scanTimeS: number;
  routerId: string;
  routerAddr: number;
  asNumber: number;
  rrClusterId?: string;
  sessions: Session[];
  localBlocks: Cidr[];
  pools: Cidr[];
  noExportPools: Cidr[];
  timers: BgpTimers;
  ipv6?: { address: string; localBlocks: string[]; pools: string[]; noExportPools: string[] };
  bgpFilters: { name: string; spec: BGPFilterSpec }[];
  listenPort?: number;
  strictBind: boolean;
  ignoredInterfaces: string[];
  advertising: Record<4 | 6, Advertising>;
}

/** Renders the whole BIRD 2 configuration for one host. Throws SimError on invalid input. */
export function renderBirdConfig(input: BirdInput): string {
  const c = checkInput(input);
  const sections = [
    headerSection(c),
    globalSection(c),
    filtersSection(
      V4,
      c.pools.map((p) => p.text),
      c.localBlocks.map((b) => b.text),
      c.noExportPools.map((p) => p.text),
      c.advertising[4],
    ),
    ...(c.ipv6 ? [filtersSection(V6, c.ipv6.pools, c.ipv6.localBlocks, c.ipv6.noExportPools, c.advertising[6])] : []),
    ...(['4', '6'] as const).flatMap((v) => {
      const fns = filterFunctions(c.bgpFilters, v === '4' ? 4 : 6);
      return fns.length && (v === '4' || c.ipv6) ? [[`# BGPFilter functions (IPv${v}).`, ...fns]] : [];
    }),
    deviceSection(c.scanTimeS),
    directSection(c.ipv6 ? [V4, V6] : [V4], c.ignoredInterfaces),
    kernelSection(V4, c.scanTimeS),
    ...(c.ipv6 ? [kernelSection(V6, c.scanTimeS)] : []),
    blocksSection(
      V4,
      c.localBlocks.map((b) => b.text),
      c.sessions.flatMap((p) => (p.reachableBy ? [{ peer: p.ip, via: p.reachableBy, global: p.name.startsWith('Global_') }] : [])),
    ),
    ...(c.ipv6 ? [blocksSection(V6, c.ipv6.localBlocks)] : []),
    ...(c.advertising[4].services.length ? [servicesSection(V4, c.advertising[4].services)] : []),
    ...(c.ipv6 && c.advertising[6].services.length ? [servicesSection(V6, c.advertising[6].services)] : []),
    ...(c.timers.bfd && (!c.timers.bfd.nodes || c.sessions.some((p) => bfdOn(c, p))) ? [bfdSection(c.timers.bfd)] : []),
    templateSection(c),
    sessionsSection(c),
  ];
  return `${sections.map((lines) => lines.join('\n')).join('\n\n')}\n`;
}

/** BIRD protocol name of a session, as Calico names them: `Mesh_198_18_0_12`, `Node_…`, `Global_…`, `Mesh_2001_db8_f__c`. */
export function protocolName(peerIp: string, kind: 'Mesh' | 'Node' | 'Global' = 'Mesh'): string {
  const text = peerIp.includes(':') ? canonicalIp(peerIp) : parseIPv4(peerIp, 'peer address').text;
  return `${kind}_${text.replaceAll('.', '_').replaceAll(':', '_')}`;
}

// ---------------------------------------------------------------------------------------------
// Sections: each returns its lines, without a trailing blank line.

function headerSection(c: Checked): string[] {
  return [`# BIRD 2 configuration for host ${c.host}.`, '# Generated by calico-sim (the confd role); rewritten on every change, do not edit.'];
}

function globalSection(c: Checked): string[] {
  return [`router id ${c.routerId};`, '# BIRD runs in the foreground; its stderr goes to a log file.', 'log stderr { info, remote, warning, error, auth, fatal, bug };'];
}

/** What differs between the IPv4 and the IPv6 half of the config: names and the channel. */
interface Family {
  channel: 'ipv4' | 'ipv6';
  suffix: '' | '6';
  label: 'IPv4' | 'IPv6';
}
const V4: Family = { channel: 'ipv4', suffix: '', label: 'IPv4' };
const V6: Family = { channel: 'ipv6', suffix: '6', label: 'IPv6' };

/**
 * What a session with a cluster node imports: everything (bird.cfg.template's `import all`; the
 * kernel filter keeps service ranges out), a route of raised priority preferred.
 */
const IMPORT_FROM_NODES = [...PRIORITY_IMPORT.map((l) => `  ${l}`), '  accept;'];

/** What a session with a router imports: what it announces, not our own blocks; a route of raised priority preferred. */
function importFromRoutersBody(blocks: string[]): string[] {
  return [...blocks.map((b) => `  if net ~ ${b} then reject;`), ...PRIORITY_IMPORT.map((l) => `  ${l}`), '  accept;'];
}

/**
 * What every session exports: each local block as one aggregate, other pool prefixes as they are;
 * with prefixAdvertisements their communities, and the service ranges (bird_ipam.cfg.template's
 * calico_export_to_bgp_peers: disabled pools, then apply_communities, then the rest).
 */
function exportBody(x: string, blocks: string[], noExport: string[], adv: Advertising): string[] {
  return [
    `  if ifname = "${VXLAN_IFACE}" then reject;    # the VXLAN device's routes (learned from the kernel)`,
    ...noExport.map((p) => `  if net ~ [ ${p}+ ] then reject;    # disableBGPExport`),
    ...(adv.communities.length ? [`  calico_apply_communities${x}();`] : []),
    ...adv.services.map((p) => `  if net ~ [ ${p}+ ] then accept;    # a service range`),
    ...blocks.flatMap((b) => [`  if net = ${b} then accept;`, `  if net ~ ${b} then reject;`]),
    `  if calico_in_pool${x}() then accept;`,
    '  reject;',
  ];
}

/** BIRD's community literal: `(a, b)` for a standard one, `(a, b, c)` for a large one. */
const communityStatement = (value: string) => {
  const parts = value.split(':');
  return `${parts.length === 2 ? 'bgp_community' : 'bgp_large_community'}.add((${parts.join(', ')}));`;
};

/** The pool membership test and the route filters built on it, for one address family. */
function filtersSection(f: Family, pools: string[], blocks: string[], noExport: string[], adv: Advertising): string[] {
  const x = f.suffix;
  const test = pools.length === 0 ? 'false' : `net ~ [ ${pools.map((p) => `${p}+`).join(', ')} ]`;
  const communities = adv.communities.length
    ? [
        '# BGPConfiguration prefixAdvertisements: communities on the exported prefixes inside each CIDR (apply_communities).',
        `function calico_apply_communities${x}()`,
        '{',
        ...adv.communities.flatMap((a) => [`  if net ~ [ ${a.cidr}+ ] then {`, ...a.values.map((v) => `    ${communityStatement(v)}`), '  }']),
        '}',
        '',
      ]
    : [];
  return [
    ...communities,
    pools.length === 0 ? `# True for prefixes inside an ${f.label} pool. There are no ${f.label} pools: nothing is.` : `# True for prefixes inside an ${f.label} pool.`,
    `function calico_in_pool${x}()`,
    '{',
    `  return ${test};`,
    '}',
    '',
    '# From other cluster nodes: everything they send (Calico: import all).',
    `filter calico_import_from_nodes${x}`,
    '{',
    ...IMPORT_FROM_NODES,
    '}',
    '',
    '# From routers outside the cluster: what they announce (e.g. external networks), not our pools.',
    `filter calico_import_from_routers${x}`,
    '{',
    ...importFromRoutersBody(blocks),
    '}',
    '',
    '# To peers: each local block as one aggregate, nothing inside it; other pool prefixes',
    '# (borrowed addresses, routes a route reflector passes on) as they are.',
    `filter calico_export_to_peers${x}`,
    '{',
    ...PRIORITY_EXPORT.map((l) => `  ${l}`),
    ...exportBody(x, blocks, noExport, adv),
    '}',
    '',
    '# To the kernel (as `proto bird`): what was learned over BGP, and the blackhole of each local block.',
    `filter calico_kernel_programming${x}`,
    '{',
    ...adv.services.map((p) => `  if net ~ [ ${p}+ ] then reject;    # a service range: announced, never programmed`),
    '  if source = RTS_BGP then accept;',
    `  if proto = "${BLOCKS_PROTOCOL}${x}" then accept;`,
    '  reject;',
    '}',
  ];
}

function deviceSection(scanTimeS: number): string[] {
  return ['# Interface up/down events.', 'protocol device {', `  scan time ${scanTimeS};`, '}'];
}

/** Connected routes, so that iBGP next hops resolve recursively. */
/** Connected routes, so that iBGP next hops resolve recursively (bird.cfg.template: ignoredInterfaces, the workloads', kube-ipvs*). */
function directSection(families: Family[], ignored: string[]): string[] {
  const out = [...ignored.map((i) => `-"${i}"`), '-"cali*"', '-"kube-ipvs*"', '"*"'].join(', ');
  return ['# Connected networks (not workload interfaces), for recursive next-hop resolution.', 'protocol direct {', ...families.map((f) => `  ${f.channel};`), `  interface ${out};`, '}'];
}

/** Calico's kernel protocol (bird.cfg.template): learns the routes others put in the kernel, and leaves BIRD's there when BIRD stops. */
function kernelSection(f: Family, scanTimeS: number): string[] {
  return [
    `# ${f.label}: BGP routes and local block blackholes go to the kernel; the agent's routes are learned from it.`,
    `protocol kernel kernel${f.suffix || '4'} {`,
    '  learn;             # learn alien routes from the kernel (a borrowed workload address)',
    "  persist;           # don't remove routes on BIRD shutdown",
    `  scan time ${scanTimeS};`,
    `  ${f.channel} {`,
    // Not the routes on the fabric device: the agent's to other nodes' blocks (VXLAN CrossSubnet)
    // must not be announced as this node's; once here, not in every session's export filter.
    `    import filter { if ifname = "${FABRIC_IFACE}" then reject; accept; };`,
    `    export filter calico_kernel_programming${f.suffix};`,
    '  };',
    '  graceful restart;',
    '  merge paths on;    # ECMP when several peers announce a prefix',
    '}',
  ];
}

/**
 * One blackhole route per local block (bird_aggr.cfg.template): in the kernel, traffic to an
 * address of the block no local workload has is dropped here; to peers, the block's aggregate.
 */
function blocksSection(f: Family, blocks: string[], peerRoutes: { peer: string; via: string; global: boolean }[] = []): string[] {
  // One route per peer address (BIRD refuses a static route twice): two sessions to one peer on
  // two ports share it, the global peers' first.
  const seen = new Set<string>();
  const first = [...peerRoutes.filter((r) => r.global), ...peerRoutes.filter((r) => !r.global)].filter((r) => !seen.has(r.peer) && !!seen.add(r.peer));
  const routes = (global: boolean) => first.filter((r) => r.global === global).map((r) => `  route ${r.peer}/32 via ${r.via};`);
  const [globalRoutes, nodeRoutes] = [routes(true), routes(false)];
  return [
    blocks.length === 0 ? `# ${f.label} IPAM blocks of this host: none yet.` : `# ${f.label} IPAM blocks of this host.`,
    `protocol static ${BLOCKS_PROTOCOL}${f.suffix} {`,
    `  ${f.channel};`,
    ...blocks.map((b) => `  route ${b} blackhole;`),
    ...(globalRoutes.length ? ['  # Static routes needed for global BGP peers (BGPPeer reachableBy).', ...globalRoutes] : []),
    ...(nodeRoutes.length ? ['  # Static routes needed for node specific BGP peers (BGPPeer reachableBy).', ...nodeRoutes] : []),
    '}',
  ];
}

/** The service ranges every node announces (bird_aggr.cfg.template's static routes): a blackhole here, kept out of the kernel. */
function servicesSection(f: Family, services: string[]): string[] {
  return [
    `# ${f.label} service ranges (BGPConfiguration serviceClusterIPs, serviceExternalIPs, serviceLoadBalancerIPs), announced by every node.`,
    `protocol static calico_services${f.suffix} {`,
    `  ${f.channel};`,
    ...services.map((p) => `  route ${p} blackhole;`),
    '}',
  ];
}

/**
 * BFD for every session: a dead peer is noticed in interval × multiplier, not the hold time. The
 * sessions are multihop (as Calico's), so their BFD is multihop BFD: its `multihop` options.
 */
function bfdSection(bfd: NonNullable<BgpTimers['bfd']>): string[] {
  return [
    '# Bidirectional forwarding detection for the (multihop) BGP sessions.',
    'protocol bfd {',
    '  multihop {',
    `    interval ${bfd.intervalMs} ms;`,
    `    multiplier ${bfd.multiplier};`,
    '  };',
    '}',
  ];
}

function templateSection(c: Checked): string[] {
  const t = c.timers;
  const channel = (f: Family, importFilter: string) => [
    `  ${f.channel} {`,
    `    import filter ${importFilter}${f.suffix};`,
    `    export filter calico_export_to_peers${f.suffix};`,
    '    gateway recursive;',
    '    add paths on;',
    '  };',
  ];
  const template = (name: string, importFilter: string, f: Family) => [
    `template bgp ${name}${f.suffix} {`,
    `  local${c.listenPort ? ` port ${c.listenPort}` : ''} as ${c.asNumber};`,
    ...(c.strictBind ? ['  strict bind on;    # BGPConfiguration bindMode NodeIP: listen on the node address only'] : []),
    ...channel(f, importFilter),
    `  connect delay time ${t.connectDelayTime ?? 2};`,
    `  connect retry time ${t.connectRetryTime ?? 5};`,
    '  error wait time 5,30;',
    ...(t.holdTime !== undefined ? [`  hold time ${t.holdTime};`] : []),
    ...(t.keepaliveTime !== undefined ? [`  keepalive time ${t.keepaliveTime};`] : []),
    `  graceful restart ${t.gracefulRestart === false ? 'off' : 'on'};`,
    ...(t.bfd && !t.bfd.nodes ? ['  bfd on;'] : []),
    '}',
  ];
  return [
    '# Settings shared by every session with another cluster node.',
    ...template(NODE_TEMPLATE, 'calico_import_from_nodes', V4),
    '',
    '# Settings shared by every session with a router outside the cluster.',
    ...template(ROUTER_TEMPLATE, 'calico_import_from_routers', V4),
    ...(c.ipv6 ? ['', "# IPv6 sessions between the nodes' IPv6 addresses (Calico's bird6.cfg.template).", ...template(NODE_TEMPLATE, 'calico_import_from_nodes', V6)] : []),
  ];
}

/** BFD on this session: on every one, or only where one of `bfd.nodes` is at either end. */
function bfdOn(c: Checked, p: BirdSession): boolean {
  const nodes = c.timers.bfd?.nodes;
  return !nodes || nodes.includes(c.host) || (p.peerNode !== undefined && nodes.includes(p.peerNode));
}

/**
 * A session's own channel settings, when it has any: `next hop keep`, and its BGPFilters'
 * functions called first in its import and export filters, then what the session does without
 * them (bird.cfg.template: `'bgp_<name>_importFilterV4'();` … then the default).
 */
function sessionChannel(c: Checked, p: Session, f: Family): string[] {
  const family = p.family;
  const known = new Map(c.bgpFilters.map((x) => [x.name, x.spec]));
  // A function with peer-type rules is told whether the peer is of this node's AS (bgp_processor.go: sameAS).
  const sameAs = p.asNumber === (p.localAs ?? c.asNumber);
  const calls = (d: FilterDirection) =>
    (p.filters ?? [])
      .filter((n) => known.has(n) && filterRules(known.get(n)!, d, family).length)
      .map((n) => `      ${filterFunctionName(n, d, family)}(${hasPeerType(filterRules(known.get(n)!, d, family)) ? String(sameAs) : ''});`);
  const [imports, exports] = [calls('import'), calls('export')];
  const blocks = family === 6 ? c.ipv6!.localBlocks : c.localBlocks.map((b) => b.text);
  const noExport = family === 6 ? c.ipv6!.noExportPools : c.noExportPools.map((b) => b.text);
  const adv = c.advertising[family];
  const inner = [
    ...(imports.length ? ['    import filter {', ...imports, ...(p.clusterNode ? IMPORT_FROM_NODES : importFromRoutersBody(blocks)).map((l) => `    ${l}`), '    };'] : []),
    ...(exports.length ? ['    export filter {', ...PRIORITY_EXPORT.map((l) => `      ${l}`), ...exports, ...exportBody(f.suffix, blocks, noExport, adv).map((l) => `    ${l}`), '    };'] : []),
    ...(p.keepNextHop ? ['    next hop keep;'] : []),
  ];
  if (!imports.length && !exports.length) return p.keepNextHop ? [`  ${f.channel} { next hop keep; };`] : [];
  return [`  ${f.channel} {`, ...inner, '  };'];
}

/** One `protocol bgp` per session: mesh, route reflector and explicit peers alike. */
function sessionsSection(c: Checked): string[] {
  const lines = [c.rrClusterId ? `# ------------- BGP sessions (route reflector, cluster id ${c.rrClusterId}) -------------` : '# ------------- BGP sessions -------------'];
  if (c.sessions.length === 0) lines.push('# None.');
  for (const p of c.sessions) {
    const f = p.family === 6 ? V6 : V4;
    lines.push(
      '',
      `# ${p.description}`,
      `protocol bgp ${p.name} from ${p.clusterNode ? NODE_TEMPLATE : ROUTER_TEMPLATE}${f.suffix} {`,
      `  neighbor ${p.ip}${p.port ? ` port ${p.port}` : ''} as ${p.asNumber};`,
      ...(p.localAs !== undefined ? [`  local as ${p.localAs};    # BGPPeer localASNumber`] : []),
      ...(p.noSourceAddress ? [] : [`  source address ${f === V6 ? c.ipv6!.address : c.routerId};`]),
      ...(p.passive ? ['  passive on;    # the peer connects to us'] : []),
      ...(p.rrClient ? ['  rr client;', `  rr cluster id ${c.rrClusterId};`] : []),
      ...(p.allowLocalAs ? [`  allow local as ${p.allowLocalAs};`] : []),
      ...(p.restartTimeS !== undefined ? [`  graceful restart time ${p.restartTimeS};`] : []),
      // Every session multihop, as confd's bgp_processor.go writes them (so its BFD is multihop BFD).
      ...(p.ttlSecurity ? ['  ttl security on;', `  multihop ${p.ttlSecurity};`] : ['  ttl security off;', '  multihop;']),
      ...(p.password !== undefined ? [`  password "${p.password}";`] : []),
      ...sessionChannel(c, p, f),
      // BIRD: "Multihop BGP with BFD requires specified local address" — no BFD without one.
      ...(p.noSourceAddress && c.timers.bfd && bfdOn(c, p) ? ['  bfd off;    # multihop BFD needs a source address (BGPPeer sourceAddress None)'] : []),
      ...(c.timers.bfd?.nodes && bfdOn(c, p) && !p.noSourceAddress ? ['  bfd on;    # BFD only for the sessions of the nodes it names'] : []),
      '}',
    );
  }
  return lines;
}

// ---------------------------------------------------------------------------------------------
// Validation.

/** What a TCP MD5 password BIRD's config can hold: 1-80 bytes (the kernel's TCP_MD5SIG_MAXKEYLEN), no quote, backslash or control character. */
export function isBirdPassword(v: string): boolean {
  return v.length >= 1 && Buffer.byteLength(v) <= 80 && [...v].every((c) => c !== '"' && c !== '\\' && c.charCodeAt(0) >= 0x20 && c.charCodeAt(0) !== 0x7f);
}

export const PASSWORD_RULE = '1 to 80 bytes of printable characters, no double quote or backslash';

/** Validates the input and returns it sorted and de-duplicated. */
function checkInput(input: BirdInput): Checked {
  const host = checkName(input.host, 'host name');
  const router = parseIPv4(input.routerId, `router id of host ${host}`);
  const asNumber = checkAs(input.asNumber, `AS number of host ${host}`);
  /** `address:port` of the sessions so far: peers are keyed by both (confd's bgp_processor.go). */
  const seen = new Set<string>();
  const rrClusterId = input.rrClusterId === undefined ? undefined : parseIPv4(input.rrClusterId, `route reflector cluster id of host ${host}`).text;
  const seen6 = new Set<string>();
  const ipv6 = input.ipv6 ? checkIpv6(input.ipv6, host) : undefined;
  const sessions = input.sessions.map((p): Session => {
    const name = checkName(p.name, 'session name');
    if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(name)) throw new SimError(`invalid BGP protocol name ${JSON.stringify(name)} (host ${host})`);
    if (p.rrClient && !rrClusterId) throw new SimError(`session ${name} of host ${host} has a route reflector client, but the host has no cluster id`);
    if (p.password !== undefined && !isBirdPassword(p.password)) throw new SimError(`the password of session ${name} (host ${host}) cannot be written in BIRD's config: ${PASSWORD_RULE}`);
    const common = { ...p, name, description: checkName(p.description, 'peer description'), asNumber: checkAs(p.asNumber, `AS number of peer ${name}`) };
    if (p.family === 6) {
      if (!ipv6) throw new SimError(`IPv6 session ${name} of host ${host}, which has no IPv6 address`);
      if (!p.clusterNode) throw new SimError(`IPv6 session ${name} of host ${host} is with a router: routers outside the cluster speak IPv4 only`);
      let ip: string;
      try {
        ip = canonicalIp(p.ip);
      } catch {
        throw new SimError(`malformed IPv6 address for peer ${name}: ${JSON.stringify(p.ip)}`);
      }
      if (familyOf(ip) !== 6) throw new SimError(`IPv6 session ${name} of host ${host} has the IPv4 address ${ip}`);
      if (ip === ipv6.address) throw new SimError(`peer ${name} has this host's own address ${ip} (host ${host})`);
      if (seen6.has(`${ip}:${p.port ?? 179}`)) throw new SimError(`two peers of host ${host} share the address ${ip}${p.port === undefined ? '' : ` and port ${p.port}`}`);
      seen6.add(`${ip}:${p.port ?? 179}`);
      return { ...common, ip, family: 6 };
    }
    const ip = parseIPv4(p.ip, `address of peer ${name}`);
    if (p.reachableBy !== undefined) parseIPv4(p.reachableBy, `reachableBy gateway of peer ${name}`);
    if (p.port !== undefined && (!Number.isInteger(p.port) || p.port < 1 || p.port > 65535)) throw new SimError(`port of peer ${name} must be 1..65535, got ${p.port}`);
    if (ip.addr === router.addr) throw new SimError(`peer ${name} has this host's own address ${ip.text} (host ${host})`);
    const at = `${ip.addr}:${p.port ?? 179}`;
    if (seen.has(at)) throw new SimError(`two peers of host ${host} share the address ${ip.text}${p.port === undefined ? '' : ` and port ${p.port}`}`);
    seen.add(at);
    return { ...common, ip: ip.text, family: 4 };
  });
  const scanTimeS = input.scanTimeS ?? 2;
  if (!Number.isInteger(scanTimeS) || scanTimeS < 1 || scanTimeS > 3600) throw new SimError(`scan time of host ${host} must be a whole number of seconds in 1..3600, got ${scanTimeS}`);
  return {
    host,
    scanTimeS,
    routerId: router.text,
    routerAddr: router.addr,
    asNumber,
    ...(rrClusterId ? { rrClusterId } : {}),
    // IPv4 sessions first, each family in address order.
    sessions: sessions.sort((a, b) => a.family - b.family || compareIps(a.ip, b.ip)),
    localBlocks: sortedUnique(input.localBlocks.map((b) => parseCidr(b, `block of host ${host}`))),
    timers: checkTimers(input.timers ?? {}, host),
    ...(ipv6 ? { ipv6 } : {}),
    pools: sortedUnique(input.pools.map((p) => parseCidr(p, 'IP pool'))),
    noExportPools: sortedUnique((input.noExportPools ?? []).map((p) => parseCidr(p, 'IP pool without BGP export'))),
    bgpFilters: input.bgpFilters ?? [],
    ...(input.listenPort !== undefined ? { listenPort: checkPort(input.listenPort, `listen port of host ${host}`) } : {}),
    strictBind: input.strictBind ?? false,
    ignoredInterfaces: (input.ignoredInterfaces ?? []).map((i) => {
      if (!/^[A-Za-z0-9_.@*-]{1,15}$/.test(i)) throw new SimError(`ignored interface ${JSON.stringify(i)} of host ${host} is not an interface name or pattern`);
      return i;
    }),
    advertising: { 4: advertising(input, 4, host), 6: advertising(input, 6, host) },
  };
}

function checkPort(port: number, what: string): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new SimError(`${what} must be a port number in 1..65535, got ${port}`);
  return port;
}

/** One family's communities and service ranges, canonical and checked (a value BIRD could not take is an error). */
function advertising(input: BirdInput, family: 4 | 6, host: string): Advertising {
  const canon = (cidr: string, what: string) => {
    const c = parseCidrAny(cidr);
    if (c.cidr !== cidr) throw new SimError(`${what} of host ${host}: ${cidr} is not canonical (${c.cidr})`);
    return c;
  };
  const communities = (input.communities ?? [])
    .filter((a) => familyOf(a.cidr) === family)
    .map((a) => {
      canon(a.cidr, 'prefix advertisement');
      for (const v of a.values) if (!/^\d+:\d+(:\d+)?$/.test(v)) throw new SimError(`community ${JSON.stringify(v)} for ${a.cidr} (host ${host}) is not "a:b" or "a:b:c"`);
      return { cidr: a.cidr, values: a.values };
    });
  const services = [...new Set((input.services ?? []).filter((p) => familyOf(p) === family))].sort(compareCidrs);
  for (const p of services) canon(p, 'service range');
  return { communities, services };
}

/** IPv6 inputs, checked and ordered with the IPAM maths (which speaks both families). */
function checkIpv6(v6: NonNullable<BirdInput['ipv6']>, host: string): NonNullable<Checked['ipv6']> {
  const cidrs = (list: string[], what: string) => {
    const out = list.map((t) => {
      const c = parseCidrAny(t);
      if (c.bits !== 128) throw new SimError(`${what} of host ${host} is not IPv6: ${t}`);
      return c.cidr;
    });
    return [...new Set(out)].sort(compareCidrs);
  };
  if (familyOf(v6.address) !== 6) throw new SimError(`IPv6 next hop of host ${host} is not an IPv6 address: ${v6.address}`);
  return {
    address: canonicalIp(v6.address),
    localBlocks: cidrs(v6.localBlocks, 'IPv6 block'),
    pools: cidrs(v6.pools, 'IPv6 pool'),
    noExportPools: cidrs(v6.noExportPools ?? [], 'IPv6 pool without BGP export'),
  };
}

/** BIRD's own limits: hold time 0 or 3..65535, keepalive 1..65535, below the hold time. */
function checkTimers(t: BgpTimers, host: string): BgpTimers {
  const int = (v: number | undefined, lo: number, hi: number, what: string) => {
    if (v !== undefined && (!Number.isInteger(v) || v < lo || v > hi)) throw new SimError(`${what} of host ${host} must be a whole number in ${lo}..${hi}, got ${v}`);
  };
  int(t.holdTime, 3, 65535, 'BGP hold time');
  int(t.keepaliveTime, 1, 65535, 'BGP keepalive time');
  int(t.connectRetryTime, 1, 65535, 'BGP connect retry time');
  int(t.connectDelayTime, 0, 65535, 'BGP connect delay time');
  if (t.holdTime !== undefined && t.keepaliveTime !== undefined && t.keepaliveTime >= t.holdTime) {
    throw new SimError(`BGP keepalive time (${t.keepaliveTime}) of host ${host} must be below the hold time (${t.holdTime})`);
  }
  if (t.bfd) {
    int(t.bfd.intervalMs, 10, 60000, 'BFD interval (ms)');
    int(t.bfd.multiplier, 1, 255, 'BFD multiplier');
  }
  return t;
}

/** Names end up in comments: one line of printable text. */
function checkName(name: string, what: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this refuses
  if (name.length === 0 || /[\x00-\x1f\x7f]/.test(name)) throw new SimError(`invalid ${what}: ${JSON.stringify(name)}`);
  return name;
}

function checkAs(as: number, what: string): number {
  if (!Number.isInteger(as) || as < 1 || as > MAX_AS) throw new SimError(`${what} must be an integer in 1..${MAX_AS}, got ${as}`);
  return as;
}

/** Parses a dotted-quad IPv4 address (no leading zeros). */
function parseIPv4(text: string, what: string): { addr: number; text: string } {
  const parts = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text)?.slice(1);
  if (!parts || parts.some((p) => Number(p) > 255 || (p.length > 1 && p.startsWith('0')))) {
    throw new SimError(`malformed IPv4 address for ${what}: ${JSON.stringify(text)}`);
  }
  return { addr: parts.reduce((acc, p) => acc * 256 + Number(p), 0), text };
}

/** Parses an IPv4 CIDR; host bits must be zero (BIRD refuses them too). */
function parseCidr(text: string, what: string): Cidr {
  const m = /^([^/]+)\/(0|[1-9]\d?)$/.exec(text);
  const len = m ? Number(m[2]) : NaN;
  if (!m || len > 32) throw new SimError(`malformed IPv4 CIDR for ${what}: ${JSON.stringify(text)}`);
  const { addr } = parseIPv4(m[1]!, what);
  const size = 2 ** (32 - len);
  if (addr % size !== 0) {
    throw new SimError(`${what} ${text} has host bits set (did you mean ${formatIPv4(addr - (addr % size))}/${len}?)`);
  }
  return { addr, len, text };
}

function formatIPv4(addr: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(addr / 2 ** shift) % 256).join('.');
}

/** Sorted by address then prefix length, duplicates dropped. */
function sortedUnique(cidrs: Cidr[]): Cidr[] {
  const sorted = [...cidrs].sort((a, b) => a.addr - b.addr || a.len - b.len);
  return sorted.filter((c, i) => i === 0 || c.text !== sorted[i - 1]!.text);
}
