/**
 * The nftables compiler (Calico's nftables mode): HostPolicyIR → a desired model of Felix's two
 * tables, `table ip calico` and `table ip6 calico` → `nft -f` scripts, either a full atomic
 * rebuild or a minimal delta. Pure.
 *
 * The shape is Felix's (felix/nftables/table.go, table_layer.go; felix/rules): in each table, the
 * iptables tables are layers whose chains keep their iptables names under the layer's prefix —
 *  - base chains `filter-INPUT`, `filter-FORWARD`, `filter-OUTPUT`, `raw-PREROUTING`, `raw-OUTPUT`
 *    and `mangle-PREROUTING` jump to the `cali-` chain of the same name under the same prefix;
 *  - `raw-cali-PREROUTING`/`raw-cali-OUTPUT`: marks cleared, IPv6 anti-spoofing, a host endpoint's
 *    untracked policy (`raw-cali-fh-`/`raw-cali-th-<iface>`: an allow is `notrack` and the accept
 *    mark); `mangle-cali-PREROUTING`: its pre-DNAT policy (`mangle-cali-fh-<iface>`);
 *  - `filter-cali-FORWARD`: the incoming host endpoint's applyOnForward policy
 *    (`filter-cali-fhfw-<iface>`, unless accepted before), workload dispatch both ways (conntrack
 *    in each endpoint chain), the outgoing one's (`filter-cali-thfw-<iface>`);
 *    `filter-cali-INPUT`: from a workload → `filter-cali-wl-to-host` (its egress policy, then
 *    DefaultEndpointToHostAction), accepted before → accept, else →
 *    `filter-cali-from-host-endpoint`; `filter-cali-OUTPUT`: accepted in raw → accept, the host
 *    always reaches its workloads (as Calico allows kubelet probes), else →
 *    `filter-cali-to-host-endpoint`;
 *  - dispatch chains hold a verdict map keyed by interface name (Felix's nftables dispatch) whose
 *    elements `goto` the endpoint chain: `filter-cali-fw-<iface>` / `filter-cali-tw-<iface>`
 *    (workload egress / ingress), `filter-cali-fh-<iface>` / `filter-cali-th-<iface>` (host
 *    endpoint: conntrack, `filter-cali-failsafe-in` / `-out`, policies, profiles, drop; the `*`
 *    host endpoint's `…-any-interface-at-all` takes every interface not in the map). An endpoint
 *    chain's `return` goes back past the dispatch `jump` (a same-host packet runs its source's
 *    egress AND its destination's ingress); a workload interface missing from the map is dropped;
 *  - policy/profile chains `filter-cali-pi-`/`po-`/`pri-`/`pro-<id>`, mark based as Felix's
 *    (accept bit 0x10000, pass bit 0x20000, scratch bits 0x40000 and 0x80000 ORing port
 *    alternatives); address sets `cali40s-<id>` / `cali60s-<id>` and named-port sets
 *    `cali40n-<id>` / `cali60n-<id>` (the ipset names, `:` being illegal in nft set names).
 * Names derive from stable IR ids, so a label change only changes set elements.
 */
import { compareCidrs, parseCidr } from '../net/cidr.js';
import { InputError } from '../util/errors.js';
import {
  ALL_INTERFACES,
  chainTables,
  ENCAP_FROM_WORKLOAD,
  hostForwardChainName,
  hostSide,
  L4_NAMES,
  namedPortMembers,
  type ChainIR,
  type DirectionIR,
  type FailsafeIR,
  type Family,
  type HostPolicyIR,
  type IcmpMatch,
  type MatchIR,
  type PortRange,
  type RuleIR,
  type SetIR,
  type PolicyTable,
  VXLAN_PEERS_SET,
} from './ir.js';

export const NFT_TABLE = 'calico';
/** The nft family of each address family's table. */
export const NFT_FAMILIES: Readonly<Record<Family, 'ip' | 'ip6'>> = { 4: 'ip', 6: 'ip6' };
const FAMILIES: readonly Family[] = [4, 6];
const tableOf = (f: Family) => `${NFT_FAMILIES[f]} ${NFT_TABLE}`;

/** Felix's mark bits: a policy/profile chain sets ACCEPT or PASS and returns. */
export const MARK_ACCEPT = 0x10000;
export const MARK_PASS = 0x20000;
/** Felix's scratch bits: a rule ORs its port alternatives into them (felix/rules/policy.go). */
const MARK_SCRATCH0 = 0x40000;
const MARK_SCRATCH1 = 0x80000;
const hex = (n: number) => `0x${n.toString(16)}`;
const CLEAR_MARKS = `meta mark set meta mark & ${hex(~(MARK_ACCEPT | MARK_PASS) >>> 0)}`;
const CLEAR_PASS = `meta mark set meta mark & ${hex(~MARK_PASS >>> 0)}`;
const IF_ACCEPTED = `meta mark & ${hex(MARK_ACCEPT)} == ${hex(MARK_ACCEPT)}`;
const IF_NOT_PASSED = `meta mark & ${hex(MARK_PASS)} == 0`;
const IF_NOT_ACCEPTED = `meta mark & ${hex(MARK_ACCEPT)} == 0`;
export const LOG_PREFIX = 'calico-packet: ';

/** A chain of the filter layer: its iptables name under Felix's `filter-` prefix. */
const filter = (name: string) => `filter-${name}`;
export const CHAINS = {
  forward: filter('cali-FORWARD'),
  input: filter('cali-INPUT'),
  output: filter('cali-OUTPUT'),
  wlToHost: filter('cali-wl-to-host'),
  fromWl: filter('cali-from-wl-dispatch'),
  toWl: filter('cali-to-wl-dispatch'),
  fromHep: filter('cali-from-host-endpoint'),
  toHep: filter('cali-to-host-endpoint'),
  fromHepFwd: filter('cali-from-hep-forward'),
  toHepFwd: filter('cali-to-hep-forward'),
  failsafeIn: filter('cali-failsafe-in'),
  failsafeOut: filter('cali-failsafe-out'),
  raw: 'raw-cali-PREROUTING',
  rawOutput: 'raw-cali-OUTPUT',
  rawFromHep: 'raw-cali-from-host-endpoint',
  rawToHep: 'raw-cali-to-host-endpoint',
  rawFailsafeIn: 'raw-cali-failsafe-in',
  rawFailsafeOut: 'raw-cali-failsafe-out',
  mangle: 'mangle-cali-PREROUTING',
  mangleFromHep: 'mangle-cali-from-host-endpoint',
  mangleFailsafeIn: 'mangle-cali-failsafe-in',
} as const;

/** The layers of Felix's table (felix/nftables/table_layer.go): each iptables table's chains under its prefix. */
type Layer = PolicyTable;

/** The dispatch verdict maps (interface → endpoint chain), as Felix names its dispatch. */
export const DISPATCH_MAPS = {
  'from-wl': filter('cali-fw-dispatch'),
  'to-wl': filter('cali-tw-dispatch'),
  'from-hep': filter('cali-fh-dispatch'),
  'from-hep-fwd': filter('cali-fhfw-dispatch'),
  'to-hep-fwd': filter('cali-thfw-dispatch'),
  'raw-from-hep': 'raw-cali-fh-dispatch',
  'raw-to-hep': 'raw-cali-th-dispatch',
  'mangle-from-hep': 'mangle-cali-fh-dispatch',
  'to-hep': filter('cali-th-dispatch'),
} as const;
export type DispatchMap = keyof typeof DISPATCH_MAPS;
const MAP_KEYS = Object.keys(DISPATCH_MAPS) as DispatchMap[];

export interface NftSet {
  /**
   * The IR members with CIDRs inside another member dropped (an interval set refuses overlaps);
   * a named-port set's as nft elements, `<address> . <protocol> . <port>`.
   */
  members: string[];
  /** A named-port set (Felix's `ipv4_addr . inet_proto . inet_service`). */
  namedPort?: boolean;
  /** The IR set's `source`; fixed when the set is created, so a change recreates the set. */
  comment: string;
}

/** The desired content of one family's table beyond its base chains. */
export interface NftTable {
  sets: Map<string, NftSet>;
  /** Dispatch verdict maps: interface → the endpoint chain it `goto`s. */
  maps: Record<DispatchMap, Map<string, string>>;
  /** Every regular chain (Calico's, the endpoints', the policies'): name → rule statements, in order. */
  chains: Map<string, string[]>;
}

/** Both tables: `ip calico` (4) and `ip6 calico` (6). */
export type NftDesired = Record<Family, NftTable>;

export const setName = (family: Family, id: string) => `cali${family}0s-${id}`;
/** A named-port set: Felix's `cali40n:` name, legalized for nft. */
export const namedPortSetName = (family: Family, id: string) => `cali${family}0n-${id}`;

export function policyChainName(c: Pick<ChainIR, 'id' | 'kind' | 'direction'>, layer: Layer = 'filter'): string {
  return `${layer}-cali-${c.kind === 'profile' ? 'pr' : 'p'}${c.direction === 'ingress' ? 'i' : 'o'}-${c.id}`;
}

/** `filter-cali-tw-` (to the workload: its ingress) or `filter-cali-fw-` (from it: its egress). */
export const endpointChainName = (direction: 'ingress' | 'egress', iface: string) => filter(`cali-${direction === 'ingress' ? 'tw' : 'fw'}-${iface}`);
/** `filter-cali-fh-` (from the interface to the host: a host endpoint's ingress) or `filter-cali-th-` (its egress). */
export const hostEndpointChainName = (direction: 'ingress' | 'egress', iface: string, layer: Layer = 'filter') => `${layer}-cali-${direction === 'ingress' ? 'fh' : 'th'}-${iface}`;

/** The base chains: hooked, each only jumping to Calico's chain of the same name (Felix's layout). */
const BASE: Array<{ name: string; hook: string; rules: string[] }> = [
  { name: 'filter-INPUT', hook: 'type filter hook input priority filter; policy accept;', rules: [`jump ${CHAINS.input}`] },
  { name: 'filter-FORWARD', hook: 'type filter hook forward priority filter; policy accept;', rules: [`jump ${CHAINS.forward}`] },
  { name: 'filter-OUTPUT', hook: 'type filter hook output priority filter; policy accept;', rules: [`jump ${CHAINS.output}`] },
  { name: 'raw-PREROUTING', hook: 'type filter hook prerouting priority raw; policy accept;', rules: [`jump ${CHAINS.raw}`] },
  { name: 'raw-OUTPUT', hook: 'type filter hook output priority raw; policy accept;', rules: [`jump ${CHAINS.rawOutput}`] },
  { name: 'mangle-PREROUTING', hook: 'type filter hook prerouting priority mangle; policy accept;', rules: [`jump ${CHAINS.mangle}`] },
];
/** The base chains a table needs: those whose Calico chain it has (raw-OUTPUT and mangle-PREROUTING only with untracked, resp. pre-DNAT, policy). */
function baseChains(t: NftTable): typeof BASE {
  return BASE.filter((c) => t.chains.has(c.rules[0]!.slice('jump '.length)));
}

/**
 * The base chains of both tables, as names: renderDelta never adds or removes base chains, so
 * when these change (untracked or pre-DNAT policy appearing or going) the tables are rebuilt.
 */
export function baseChainsOf(d: NftDesired): string {
  return FAMILIES.map((f) =>
    baseChains(d[f])
      .map((c) => c.name)
      .join(','),
  ).join('/');
}

const ID_RE = /^[a-z0-9]{1,12}$/;
const IFACE_RE = /^cali[A-Za-z0-9_.-]{1,11}$/;

/** A comment nft accepts: printable, no double quote or backslash, at most 120 characters. */
function comment(text: string): string {
  const clean = text.replace(/["\\]/g, "'").replace(/[^\x20-\x7e]/g, '?');
  return `comment "${clean.length > 120 ? `${clean.slice(0, 117)}...` : clean}"`;
}

/** Drops every CIDR that lies inside another one; the rest keeps compareCidrs order. */
export function mergeCidrs(members: string[]): string[] {
  const parsed = members.map(parseCidr).sort((a, b) => compareCidrs(a.cidr, b.cidr));
  const out: typeof parsed = [];
  for (const c of parsed) {
    const cover = out[out.length - 1];
    // Sorted by network then prefix, CIDRs nest or are disjoint: only the last kept can cover c.
    if (cover && cover.bits === c.bits && cover.prefix <= c.prefix && c.network >> BigInt(c.bits - cover.prefix) === cover.network >> BigInt(c.bits - cover.prefix)) continue;
    out.push(c);
  }
  return out.map((c) => c.cidr);
}

/** Sorted, overlapping or adjacent ranges merged: an anonymous interval set refuses overlaps. */
function mergePorts(ports: PortRange[], where: string): string {
  for (const p of ports) {
    if (!Number.isInteger(p.first) || !Number.isInteger(p.last) || p.first < 0 || p.last > 65535 || p.first > p.last) throw new InputError(`${where}: bad port range ${p.first}-${p.last}`);
  }
  const merged: PortRange[] = [];
  for (const p of [...ports].sort((a, b) => a.first - b.first || a.last - b.last)) {
    const last = merged[merged.length - 1];
    if (last && p.first <= last.last + 1) last.last = Math.max(last.last, p.last);
    else merged.push({ ...p });
  }
  return `{ ${merged.map((p) => (p.first === p.last ? `${p.first}` : `${p.first}-${p.last}`)).join(', ')} }`;
}

const byte = (n: number | undefined, what: string, where: string): number => {
  if (n === undefined || !Number.isInteger(n) || n < 0 || n > 255) throw new InputError(`${where}: bad ${what} ${n}`);
  return n;
};

/**
 * The rules one IR rule needs, without `add rule …`: the rule itself, after the lines of a port
 * block when a side has more than one port alternative (its numeric ports, each named-port set),
 * ORed through Felix's scratch bits as in iptables.ts.
 */
function ruleText(r: RuleIR, index: number, chain: ChainIR, sets: Map<string, SetIR>): string[] {
  const where = `${chain.name} (${chain.direction}) rule ${index}`;
  const note = comment(`${chain.name} rule ${index}`);
  const out: string[] = [];
  if (r.protocol !== undefined) out.push(`meta l4proto ${byte(r.protocol, 'protocol', where)}`);
  if (r.notProtocol !== undefined) out.push(`meta l4proto != ${byte(r.notProtocol, 'protocol', where)}`);
  const ip = r.family === 4 ? 'ip' : 'ip6';
  const setRef = (id: string, named: boolean) => {
    const s = sets.get(id);
    if (!s) throw new InputError(`${where}: unknown address set ${id}`);
    if (s.family !== r.family) throw new InputError(`${where}: IPv${r.family} rule uses IPv${s.family} set ${id}`);
    if (!!s.namedPort !== named) throw new InputError(`${where}: uses ${s.namedPort ? 'named-port' : 'address'} set ${id} as ${named ? 'a named-port' : 'an address'} set`);
    if (s.namedPort && s.namedPort.protocol !== L4_NAMES[r.protocol ?? -1])
      throw new InputError(`${where}: named-port set ${id} holds ${s.namedPort.protocol} ports, the rule's protocol is ${r.protocol ?? 'none'}`);
    return `@${(named ? namedPortSetName : setName)(s.family, id)}`;
  };
  /** The port alternatives of each side that has more than one (ORed in a block). */
  const alternatives: string[][] = [];
  for (const [m, addr, port] of [
    [r.src, 'saddr', 'sport'],
    [r.dst, 'daddr', 'dport'],
  ] as Array<[MatchIR, string, string]>) {
    if (m.net) out.push(`${ip} ${addr} ${m.net}`);
    for (const id of m.sets) out.push(`${ip} ${addr} ${setRef(id, false)}`);
    for (const id of m.notSets) out.push(`${ip} ${addr} != ${setRef(id, false)}`);
    const named = m.namedPorts ?? [];
    const notNamed = m.notNamedPorts ?? [];
    if (m.ports.length || m.notPorts.length || named.length || notNamed.length) {
      // `th` is the transport header: only meaningful once the protocol is one with ports.
      if (![6, 17, 132].includes(r.protocol ?? -1)) throw new InputError(`${where}: ports need protocol TCP, UDP or SCTP`);
      const alts = [...(m.ports.length ? [`th ${port} ${mergePorts(m.ports, where)}`] : []), ...named.map((id) => `${ip} ${addr} . meta l4proto . th ${port} ${setRef(id, true)}`)];
      if (alts.length === 1) out.push(alts[0]!);
      else if (alts.length) alternatives.push(alts);
      if (m.notPorts.length) out.push(`th ${port} != ${mergePorts(m.notPorts, where)}`);
      for (const id of notNamed) out.push(`${ip} ${addr} . meta l4proto . th ${port} != ${setRef(id, true)}`);
    }
  }
  const icmp = r.family === 4 ? 'icmp' : 'icmpv6';
  const icmpProto = r.family === 4 ? 1 : 58;
  const checkIcmp = (x: IcmpMatch) => {
    if (r.protocol !== icmpProto) throw new InputError(`${where}: ICMP match needs protocol ${icmpProto}`);
    return { type: byte(x.type, 'ICMP type', where), code: x.code === undefined ? undefined : byte(x.code, 'ICMP code', where) };
  };
  if (r.icmp) {
    const { type, code } = checkIcmp(r.icmp);
    out.push(`${icmp} type ${type}${code === undefined ? '' : ` ${icmp} code ${code}`}`);
  }
  if (r.notIcmp) {
    const { type, code } = checkIcmp(r.notIcmp);
    // Not (type AND code): one lookup of the concatenation, negated.
    out.push(code === undefined ? `${icmp} type != ${type}` : `${icmp} type . ${icmp} code != { ${type} . ${code} }`);
  }
  const verdict = {
    allow: `meta mark set meta mark | ${hex(MARK_ACCEPT)} return`,
    deny: 'drop',
    pass: `meta mark set meta mark | ${hex(MARK_PASS)} return`,
    log: `log prefix "${LOG_PREFIX}"`,
  }[r.action];
  if (!verdict) throw new InputError(`${where}: unknown action ${String(r.action)}`);
  const block: string[] = [];
  if (alternatives.length) {
    block.push(`meta mark set meta mark & ${hex(~(MARK_SCRATCH0 | MARK_SCRATCH1) >>> 0)} ${note}`);
    alternatives.forEach((alts, i) => {
      const bit = hex(i === 0 ? MARK_SCRATCH0 : MARK_SCRATCH1);
      for (const a of alts) block.push(`meta l4proto ${r.protocol} ${a} meta mark set meta mark | ${bit} ${note}`);
      if (i === 1) block.push(`meta mark & ${hex(MARK_SCRATCH1)} == 0 meta mark set meta mark & ${hex(~MARK_SCRATCH0 >>> 0)} ${note}`);
    });
    out.push(`meta mark & ${hex(MARK_SCRATCH0)} == ${hex(MARK_SCRATCH0)}`);
  }
  out.push(verdict, note);
  return [...block, out.join(' ')];
}

/** What an endpoint chain is for: a workload, a host endpoint (the host's own traffic), or a host endpoint's forward, untracked (raw) or pre-DNAT (mangle) policy. */
type EndpointChainKind = 'workload' | 'host' | 'forward' | 'untracked' | 'preDnat';

/**
 * An endpoint chain: conntrack, policies in order, then (if none, or on pass) the profiles; else
 * drop. A host endpoint's has the failsafe ports after conntrack; its forward chain (applyOnForward
 * policies) no failsafe ports, and allows when no policy applies; its untracked chain (raw) no
 * conntrack, and `notrack` on what a policy accepts; forward, untracked and pre-DNAT chains have
 * no profiles and no final drop.
 */
function endpointRules(who: string, d: DirectionIR, direction: 'ingress' | 'egress', chains: Map<string, string[]>, kind: EndpointChainKind = 'workload'): string[] {
  const layer: Layer = kind === 'untracked' ? 'raw' : kind === 'preDnat' ? 'mangle' : 'filter';
  const ref = (id: string, kind: 'policy' | 'profile') => {
    const name = policyChainName({ id, kind, direction }, layer);
    if (!chains.has(name)) throw new InputError(`${who}: ${direction} ${kind} ${id} has no chain in the IR`);
    return name;
  };
  const failsafe = {
    filter: direction === 'ingress' ? CHAINS.failsafeIn : CHAINS.failsafeOut,
    raw: direction === 'ingress' ? CHAINS.rawFailsafeIn : CHAINS.rawFailsafeOut,
    mangle: CHAINS.mangleFailsafeIn,
  }[layer];
  const out = [
    // An untracked chain is before conntrack: it has none.
    ...(kind === 'untracked' ? [] : ['ct state established,related accept', 'ct state invalid drop']),
    ...(kind === 'host' || kind === 'untracked' || kind === 'preDnat'
      ? [`jump ${failsafe}`, CLEAR_MARKS]
      : kind === 'forward'
        ? [CLEAR_MARKS]
        : [CLEAR_MARKS, ...(direction === 'egress' ? ENCAP_FROM_WORKLOAD.map((e) => `${e.nft} drop ${comment(`${who}: ${e.what} encapped packets originating in workloads`)}`) : [])]),
  ];
  if (kind === 'forward' && !d.tiers.length) return [...out, `meta mark set meta mark | ${hex(MARK_ACCEPT)} return ${comment('allow forwarded traffic by default')}`];
  for (const tier of d.tiers) {
    out.push(`${CLEAR_PASS} ${comment(`Start of tier ${tier.name}`)}`);
    for (const id of tier.policies) {
      out.push(`${IF_NOT_PASSED} jump ${ref(id, 'policy')}`);
      // Untracked: "map allow to NOTRACK and ALLOW" (felix/rules/endpoints.go).
      if (kind === 'untracked') out.push(`${IF_ACCEPTED} notrack ${comment('untracked policy accepted: no conntrack')}`);
      out.push(`${IF_ACCEPTED} return`);
    }
    if (tier.defaultAction === 'deny') out.push(`${IF_NOT_PASSED} drop ${comment(`${who} ${direction}: end of tier ${tier.name}, no policy passed`)}`);
  }
  // Forward, untracked and pre-DNAT chains have no profiles and no final drop.
  if (kind !== 'workload' && kind !== 'host') return out;
  for (const id of d.profiles) out.push(`jump ${ref(id, 'profile')}`, `${IF_ACCEPTED} return`);
  out.push(`drop ${comment(`${who} ${direction}: no profile allowed`)}`);
  return out;
}

/** Calico's own chains of one family's table (felix/rules/static.go), before any endpoint's. */
function staticChains(family: Family, ir: HostPolicyIR, host: ReturnType<typeof hostSide>): Array<[string, string[]]> {
  const { endpointToHost: toHost, failsafe } = host;
  const allInterfaces = host.hostEndpoints.some((h) => h.iface === ALL_INTERFACES);
  const all = (direction: 'ingress' | 'egress', forward = false) =>
    allInterfaces ? [`goto ${forward ? filter(hostForwardChainName(direction, ALL_INTERFACES)) : hostEndpointChainName(direction, ALL_INTERFACES)}`] : [];
  // Felix's cali-INPUT/cali-OUTPUT: VXLAN from and to known hosts passes before host endpoint policy.
  const vxlan = (peer: 'saddr' | 'daddr', what: string) =>
    family === 4 && ir.vxlanPeers ? [`ip ${peer} @${setName(4, VXLAN_PEERS_SET)} udp dport 4789 accept ${comment(`Allow IPv4 VXLAN packets ${what}`)}`] : [];
  // What only host endpoints need costs every packet a rule or two: only while there are some
  // (forward chains), resp. some untracked or pre-DNAT policy (the accept mark from raw/mangle).
  const fwd = host.hostEndpoints.length > 0;
  const early = host.hostEndpoints.some((h) => h.untracked || h.preDnat);
  return [
    [
      CHAINS.forward,
      [
        // No conntrack here (Felix's layout): each endpoint chain has it (a host endpoint's forward chains too).
        // The accept mark stays: an untracked or pre-DNAT policy accepted the packet.
        CLEAR_PASS,
        ...(fwd ? [`${IF_NOT_ACCEPTED} jump ${CHAINS.fromHepFwd} ${comment('forwarded in through a host endpoint: its applyOnForward policy')}`] : []),
        `iifname "cali*" jump ${CHAINS.fromWl}`,
        `oifname "cali*" jump ${CHAINS.toWl}`,
        ...(fwd ? [`jump ${CHAINS.toHepFwd} ${comment('forwarded out through a host endpoint: its applyOnForward policy')}`] : []),
        'iifname "cali*" accept',
        'oifname "cali*" accept',
        ...(fwd ? [`${IF_ACCEPTED} accept ${comment('policy explicitly accepted packet')}`] : []),
      ],
    ],
    [
      CHAINS.input,
      [
        `iifname "cali*" goto ${CHAINS.wlToHost}`,
        ...vxlan('saddr', 'from allowed hosts'),
        ...(early ? [`${IF_ACCEPTED} accept ${comment('accepted by untracked or pre-DNAT policy')}`] : []),
        CLEAR_MARKS,
        `jump ${CHAINS.fromHep}`,
        `${IF_ACCEPTED} accept ${comment('host endpoint policy accepted packet')}`,
      ],
    ],
    [
      CHAINS.output,
      [
        ...(early ? [`${IF_ACCEPTED} accept ${comment('accepted by untracked policy')}`] : []),
        `oifname "cali*" return ${comment('host to workload: always allowed')}`,
        ...vxlan('daddr', 'to other allowed hosts'),
        CLEAR_MARKS,
        `jump ${CHAINS.toHep}`,
        `${IF_ACCEPTED} accept ${comment('host endpoint policy accepted packet')}`,
      ],
    ],
    [
      CHAINS.wlToHost,
      [
        // MLD and neighbour discovery to the host-side veth (the workload's IPv6 gateway), before
        // the policy (whose chain starts with conntrack), as Felix does.
        ...(family === 6 ? ['icmpv6 type { 130, 131, 132, 133, 135, 136 } accept'] : []),
        CLEAR_MARKS,
        `jump ${CHAINS.fromWl}`,
        `${toHost} ${comment(`egress policy accepted packet to host: DefaultEndpointToHostAction ${toHost}`)}`,
      ],
    ],
    [CHAINS.fromWl, [`iifname vmap @${DISPATCH_MAPS['from-wl']}`, `drop ${comment('unknown workload interface')}`]],
    [CHAINS.toWl, [`oifname vmap @${DISPATCH_MAPS['to-wl']}`, `drop ${comment('unknown workload interface')}`]],
    [CHAINS.fromHep, [`iifname vmap @${DISPATCH_MAPS['from-hep']}`, ...all('ingress')]],
    [CHAINS.toHep, [`oifname vmap @${DISPATCH_MAPS['to-hep']}`, ...all('egress')]],
    [CHAINS.fromHepFwd, [`iifname vmap @${DISPATCH_MAPS['from-hep-fwd']}`, ...all('ingress', true)]],
    [CHAINS.toHepFwd, [`oifname vmap @${DISPATCH_MAPS['to-hep-fwd']}`, ...all('egress', true)]],
    [CHAINS.failsafeIn, failsafeRules(failsafe.inbound, family, 'saddr')],
    [CHAINS.failsafeOut, failsafeRules(failsafe.outbound, family, 'daddr')],
    ...rawChains(family, host),
    ...mangleChains(family, host),
  ];
}

/**
 * The raw layer (Felix's raw cali-PREROUTING/cali-OUTPUT): marks cleared, IPv6 anti-spoofing (a
 * workload's packet whose source does not route back through the interface it came in on is
 * dropped; IPv4 has the rp_filter sysctl on each workload interface, src/cni/sysctls.ts), then
 * untracked host endpoint policy (not for workload traffic); what it accepted is accepted
 * (untracked). The policy machinery costs every packet a few rules: it is there only while some
 * host endpoint has untracked policy; else raw-cali-PREROUTING holds anti-spoofing alone.
 */
function rawChains(family: Family, host: ReturnType<typeof hostSide>): Array<[string, string[]]> {
  const { failsafe } = host;
  const rpf = family === 6 ? [`iifname "cali*" fib saddr . iif oif 0 drop ${comment('workload IPv6 source does not route back to it: spoofed')}`] : [];
  if (!host.hostEndpoints.some((h) => h.untracked)) return [[CHAINS.raw, rpf]];
  return [
    [
      CHAINS.raw,
      [
        `meta mark set meta mark & ${hex(~(MARK_ACCEPT | MARK_PASS | MARK_SCRATCH0 | MARK_SCRATCH1) >>> 0)}`,
        ...rpf,
        `iifname "cali*" return ${comment('from workload: no untracked policy')}`,
        `jump ${CHAINS.rawFromHep}`,
        `${IF_ACCEPTED} accept ${comment('untracked policy accepted packet')}`,
      ],
    ],
    [
      CHAINS.rawOutput,
      [
        `meta mark set meta mark & ${hex(~(MARK_ACCEPT | MARK_PASS | MARK_SCRATCH0 | MARK_SCRATCH1) >>> 0)}`,
        `jump ${CHAINS.rawToHep}`,
        `${IF_ACCEPTED} accept ${comment('untracked policy accepted packet')}`,
      ],
    ],
    [CHAINS.rawFromHep, [`iifname vmap @${DISPATCH_MAPS['raw-from-hep']}`]],
    [CHAINS.rawToHep, [`oifname vmap @${DISPATCH_MAPS['raw-to-hep']}`]],
    // Before conntrack: replies to a failsafe connection pass by their source port.
    [CHAINS.rawFailsafeIn, failsafeRules(failsafe.inbound, family, 'saddr', failsafe.outbound)],
    [CHAINS.rawFailsafeOut, failsafeRules(failsafe.outbound, family, 'daddr', failsafe.inbound)],
  ];
}

/** The mangle layer (Felix's mangle cali-PREROUTING): pre-DNAT host endpoint policy, only while some host endpoint has some. */
function mangleChains(family: Family, host: ReturnType<typeof hostSide>): Array<[string, string[]]> {
  if (!host.hostEndpoints.some((h) => h.preDnat)) return [];
  return [
    [
      CHAINS.mangle,
      [
        'ct state established,related accept',
        `${IF_ACCEPTED} accept ${comment('accepted by untracked policy')}`,
        `iifname "cali*" return ${comment('from workload: no pre-DNAT policy')}`,
        `jump ${CHAINS.mangleFromHep}`,
        `${IF_ACCEPTED} accept ${comment('pre-DNAT policy accepted packet')}`,
      ],
    ],
    [
      CHAINS.mangleFromHep,
      [
        `iifname vmap @${DISPATCH_MAPS['mangle-from-hep']}`,
        ...(host.hostEndpoints.some((h) => h.iface === ALL_INTERFACES && h.preDnat) ? [`goto ${hostEndpointChainName('ingress', ALL_INTERFACES, 'mangle')}`] : []),
      ],
    ],
    [CHAINS.mangleFailsafeIn, failsafeRules(host.failsafe.inbound, family, 'saddr')],
  ];
}

/** HostPolicyIR → the desired tables. Throws InputError on ids, references or matches nft cannot take. */
export function compileNft(ir: HostPolicyIR): NftDesired {
  const setIrs = new Map<string, SetIR>();
  for (const s of ir.sets) {
    if (!ID_RE.test(s.id)) throw new InputError(`bad set id ${JSON.stringify(s.id)}`);
    if (setIrs.has(s.id)) throw new InputError(`duplicate set id ${s.id}`);
    if (s.namedPort) namedPortMembers(s.family, s.members);
    else for (const m of s.members) if ((m.includes(':') ? 6 : 4) !== s.family) throw new InputError(`set ${s.id} (IPv${s.family}) has member ${m}`);
    setIrs.set(s.id, s);
  }
  for (const c of ir.chains) if (!ID_RE.test(c.id)) throw new InputError(`bad chain id ${JSON.stringify(c.id)}`);
  if (new Set(ir.chains.map((c) => policyChainName(c))).size !== ir.chains.length) throw new InputError('duplicate policy or profile chain id');
  for (const ep of ir.endpoints) {
    if (!IFACE_RE.test(ep.iface)) throw new InputError(`endpoint ${ep.name}: interface ${JSON.stringify(ep.iface)} is not a cali* name of at most 15 characters`);
  }
  if (new Set(ir.endpoints.map((e) => e.iface)).size !== ir.endpoints.length) throw new InputError('duplicate endpoint interface');
  const host = hostSide(ir);
  const heps = host.hostEndpoints;
  const tablesOf = chainTables(ir);

  const table = (family: Family): NftTable => {
    const sets = new Map<string, NftSet>();
    for (const s of ir.sets) {
      if (s.family !== family) continue;
      if (s.namedPort) sets.set(namedPortSetName(family, s.id), { members: s.members.map((m) => m.replace(/,(\w+):/, ' . $1 . ')), comment: s.source, namedPort: true });
      else sets.set(setName(family, s.id), { members: mergeCidrs(s.members), comment: s.source });
    }
    if (family === 4 && ir.vxlanPeers) sets.set(setName(4, VXLAN_PEERS_SET), { members: mergeCidrs(ir.vxlanPeers), comment: 'other hosts: their VXLAN packets pass' });
    const policyChains = new Map<string, string[]>();
    for (const c of ir.chains) {
      // Each rule keeps its index in the policy (both families), for the comments.
      const rules = c.rules.flatMap((r, i) => (r.family === family ? ruleText(r, i, c, setIrs) : []));
      for (const layer of tablesOf(c)) policyChains.set(policyChainName(c, layer), rules);
    }
    const chains = new Map<string, string[]>(staticChains(family, ir, host));
    const maps = Object.fromEntries(MAP_KEYS.map((k) => [k, new Map<string, string>()])) as NftTable['maps'];
    for (const ep of ir.endpoints) {
      for (const [direction, map] of [
        ['ingress', 'to-wl'],
        ['egress', 'from-wl'],
      ] as const) {
        const name = endpointChainName(direction, ep.iface);
        chains.set(name, endpointRules(ep.name, ep[direction], direction, policyChains));
        maps[map].set(ep.iface, name);
      }
    }
    for (const h of heps) {
      for (const [direction, map] of [
        ['ingress', 'from-hep'],
        ['egress', 'to-hep'],
      ] as const) {
        const name = hostEndpointChainName(direction, h.iface);
        chains.set(name, endpointRules(`HostEndpoint ${h.name}`, h[direction], direction, policyChains, 'host'));
        if (h.iface !== ALL_INTERFACES) maps[map].set(h.iface, name);
        const fwd = filter(hostForwardChainName(direction, h.iface));
        chains.set(fwd, endpointRules(`HostEndpoint ${h.name}`, { tiers: h.forward?.[direction] ?? [], profiles: [] }, direction, policyChains, 'forward'));
        if (h.iface !== ALL_INTERFACES) maps[direction === 'ingress' ? 'from-hep-fwd' : 'to-hep-fwd'].set(h.iface, fwd);
        if (h.untracked) {
          const raw = hostEndpointChainName(direction, h.iface, 'raw');
          chains.set(raw, endpointRules(`HostEndpoint ${h.name}`, { tiers: h.untracked[direction], profiles: [] }, direction, policyChains, 'untracked'));
          maps[direction === 'ingress' ? 'raw-from-hep' : 'raw-to-hep'].set(h.iface, raw);
        }
      }
      if (h.preDnat) {
        const mangle = hostEndpointChainName('ingress', h.iface, 'mangle');
        chains.set(mangle, endpointRules(`HostEndpoint ${h.name}`, { tiers: h.preDnat, profiles: [] }, 'ingress', policyChains, 'preDnat'));
        if (h.iface !== ALL_INTERFACES) maps['mangle-from-hep'].set(h.iface, mangle);
      }
    }
    for (const [name, rules] of policyChains) chains.set(name, rules);
    return { sets, maps, chains };
  };
  return { 4: table(4), 6: table(6) };
}

/**
 * Failsafe rules of one family: protocol and destination port, and the peer net if given
 * (felix/rules/static.go); `replies`: the other list's by source port (the raw table's, before conntrack).
 */
function failsafeRules(rules: FailsafeIR[], family: Family, peer: 'saddr' | 'daddr', replies: FailsafeIR[] = []): string[] {
  const render = (r: FailsafeIR, reply: boolean) => {
    const l4 = L4_NAMES[r.protocol];
    if (!l4) throw new InputError(`failsafe protocol ${r.protocol} is not TCP, UDP or SCTP`);
    const net = r.net ? `${NFT_FAMILIES[family]} ${peer} ${r.net} ` : '';
    return `${net}${l4} ${reply ? 'sport' : 'dport'} ${r.port} accept ${comment(`failsafe${reply ? ' reply' : ''} ${l4}:${r.port}`)}`;
  };
  const mine = (r: FailsafeIR) => !r.net || r.net.includes(':') === (family === 6);
  return [...rules.filter(mine).map((r) => render(r, false)), ...replies.filter(mine).map((r) => render(r, true))];
}

const setSpec = (family: Family, s: NftSet) =>
  s.namedPort ? [`type ipv${family}_addr . inet_proto . inet_service`, comment(s.comment)] : [`type ipv${family}_addr`, 'flags interval', comment(s.comment)];
const mapElements = (m: Map<string, string>) => [...m].map(([iface, chain]) => `"${iface}" : goto ${chain}`).join(', ');

/**
 * One `nft -f` script that (re)creates both tables in one transaction: the no-op `table` makes
 * the `delete` valid on a first run; a restarted agent thus rebuilds exactly the same tables.
 */
export function renderFull(d: NftDesired): string {
  const out = ['# calico-sim policy dataplane (nftables): generated, do not edit'];
  for (const family of FAMILIES) {
    const t = d[family];
    out.push(`table ${tableOf(family)} {}`, `delete table ${tableOf(family)}`, `table ${tableOf(family)} {`);
    const block = (head: string, lines: string[]) => out.push(`\t${head} {`, ...lines.map((l) => `\t\t${l}`), '\t}');
    for (const [name, s] of t.sets) block(`set ${name}`, [...setSpec(family, s), ...(s.members.length ? [`elements = { ${s.members.join(', ')} }`] : [])]);
    for (const map of MAP_KEYS) block(`map ${DISPATCH_MAPS[map]}`, ['type ifname : verdict', ...(t.maps[map].size ? [`elements = { ${mapElements(t.maps[map])} }`] : [])]);
    for (const c of baseChains(t)) block(`chain ${c.name}`, [c.hook, ...c.rules]);
    for (const [name, rules] of t.chains) block(`chain ${name}`, rules);
    out.push('}');
  }
  return `${out.join('\n')}\n`;
}

export interface NftDelta {
  /** Sets created, with all members (new, or recreated because their comment changed). */
  addSets: string[];
  /** Sets deleted (gone, or recreated). */
  delSets: string[];
  /** Element changes of sets that stay. */
  elements: Array<{ set: string; add: string[]; del: string[] }>;
  addChains: string[];
  /** Chains flushed and refilled: their rules changed, or they reference a recreated set. */
  changedChains: string[];
  delChains: string[];
  mapAdd: Array<{ map: DispatchMap; iface: string; chain: string }>;
  mapDel: Array<{ map: DispatchMap; iface: string }>;
}

const sameList = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/** What changes from `prev` to `next` in one table, structurally. */
export function diffNft(prev: NftTable, next: NftTable): NftDelta {
  const delta: NftDelta = { addSets: [], delSets: [], elements: [], addChains: [], changedChains: [], delChains: [], mapAdd: [], mapDel: [] };
  const recreated = new Set<string>();
  for (const [name, s] of next.sets) {
    const p = prev.sets.get(name);
    if (!p) {
      delta.addSets.push(name);
    } else if (p.comment !== s.comment) {
      recreated.add(name);
      delta.delSets.push(name);
      delta.addSets.push(name);
    } else {
      const had = new Set(p.members);
      const has = new Set(s.members);
      const add = s.members.filter((m) => !had.has(m));
      const del = p.members.filter((m) => !has.has(m));
      if (add.length || del.length) delta.elements.push({ set: name, add, del });
    }
  }
  for (const name of prev.sets.keys()) if (!next.sets.has(name)) delta.delSets.push(name);
  const usesRecreated = (rules: string[]) => recreated.size > 0 && rules.some((r) => [...recreated].some((s) => new RegExp(`@${s}(?![\\w.-])`).test(r)));
  for (const [name, rules] of next.chains) {
    const p = prev.chains.get(name);
    if (!p) delta.addChains.push(name);
    else if (!sameList(p, rules) || usesRecreated(rules)) delta.changedChains.push(name);
  }
  for (const name of prev.chains.keys()) if (!next.chains.has(name)) delta.delChains.push(name);
  for (const map of MAP_KEYS) {
    for (const [iface, chain] of next.maps[map]) {
      const p = prev.maps[map].get(iface);
      if (p === chain) continue;
      if (p !== undefined) delta.mapDel.push({ map, iface });
      delta.mapAdd.push({ map, iface, chain });
    }
    for (const iface of prev.maps[map].keys()) if (!next.maps[map].has(iface)) delta.mapDel.push({ map, iface });
  }
  return delta;
}

/** How many chains and sets a change rewrites, adds or removes, over both tables (the PolicyDataplane contract's count). */
export function deltaCounts(prev: NftDesired, next: NftDesired): { chains: number; sets: number } {
  let chains = 0;
  let sets = 0;
  for (const family of FAMILIES) {
    const d = diffNft(prev[family], next[family]);
    chains += d.addChains.length + d.changedChains.length + d.delChains.length;
    sets += new Set([...d.addSets, ...d.delSets, ...d.elements.map((e) => e.set)]).size;
  }
  return { chains, sets };
}

/** The counts of a full rebuild: every chain (base chains included) and every set, of both tables. */
export function fullCounts(d: NftDesired): { chains: number; sets: number } {
  return { chains: FAMILIES.reduce((n, f) => n + baseChains(d[f]).length + d[f].chains.size, 0), sets: d[4].sets.size + d[6].sets.size };
}

/**
 * One `nft -f` script (one transaction) taking both tables from `prev` to `next`; '' when equal.
 * Order, per table: references go before what they point to is deleted (flush chains, delete map
 * elements, then delete chains and sets), and things exist before anything points to them (sets
 * and chains created before the rules and map elements that use them).
 */
export function renderDelta(prev: NftDesired, next: NftDesired): string {
  const out: string[] = [];
  for (const family of FAMILIES) {
    const T = tableOf(family);
    const d = diffNft(prev[family], next[family]);
    const after = next[family];
    for (const c of [...d.changedChains, ...d.delChains]) out.push(`flush chain ${T} ${c}`);
    for (const m of d.mapDel) out.push(`delete element ${T} ${DISPATCH_MAPS[m.map]} { "${m.iface}" }`);
    for (const c of d.delChains) out.push(`delete chain ${T} ${c}`);
    for (const s of d.delSets) out.push(`delete set ${T} ${s}`);
    for (const name of d.addSets) {
      const s = after.sets.get(name)!;
      out.push(`add set ${T} ${name} { ${setSpec(family, s).join('; ')}; }`);
      if (s.members.length) out.push(`add element ${T} ${name} { ${s.members.join(', ')} }`);
    }
    // Deletions first: a member can be replaced by a CIDR that covers or splits it.
    for (const e of d.elements) if (e.del.length) out.push(`delete element ${T} ${e.set} { ${e.del.join(', ')} }`);
    for (const e of d.elements) if (e.add.length) out.push(`add element ${T} ${e.set} { ${e.add.join(', ')} }`);
    for (const c of d.addChains) out.push(`add chain ${T} ${c}`);
    for (const c of [...d.addChains, ...d.changedChains]) for (const r of after.chains.get(c)!) out.push(`add rule ${T} ${c} ${r}`);
    for (const m of d.mapAdd) out.push(`add element ${T} ${DISPATCH_MAPS[m.map]} { "${m.iface}" : goto ${m.chain} }`);
  }
  return out.length ? `${out.join('\n')}\n` : '';
}
