/**
 * The iptables policy compiler (Calico Felix's iptables mode), pure: HostPolicyIR → a desired
 * ruleset (chain name → `-A chain ...` lines per family, plus ipsets), and from two of those the
 * texts that `ipset restore`, `iptables-restore` and `ip6tables-restore` read. The kernel is
 * touched only by iptables-apply.ts.
 *
 * Layout (Felix's, see felix/rules/static.go, endpoints.go, policy.go):
 *   raw PREROUTING/OUTPUT → cali-PREROUTING/cali-OUTPUT: marks cleared, IPv6 anti-spoofing, then
 *     a host endpoint's untracked (doNotTrack) policy, raw cali-fh-/cali-th-<iface>: an allow is
 *     NOTRACK and the accept mark, which the later tables honour.
 *   mangle PREROUTING → cali-PREROUTING: established and raw-accepted traffic pass, then a host
 *     endpoint's pre-DNAT policy, mangle cali-fh-<iface>; its allow is the accept mark too.
 *   FORWARD → cali-FORWARD: clear the pass mark, cali-from-hep-forward unless accepted before (the
 *     incoming host endpoint's applyOnForward policy, cali-fhfw-<iface>), `-i cali+` →
 *     cali-from-wl-dispatch, `-o cali+` → cali-to-wl-dispatch, cali-to-hep-forward
 *     (cali-thfw-<iface>), then ACCEPT (reached only when the endpoint chains returned); other
 *     forwarded traffic is accepted if a policy accepted it, else goes on to the kernel's chains. A
 *     host endpoint's forward chains start with conntrack (Felix's), so forwarded traffic through
 *     its interface that conntrack finds INVALID is dropped, with or without a forward policy.
 *   INPUT → cali-INPUT: `-i cali+` → cali-wl-to-host: the workload's egress policy, then
 *     DefaultEndpointToHostAction (ACCEPT, DROP or RETURN); accepted before (raw, mangle): ACCEPT;
 *     other interfaces → cali-from-host-endpoint.
 *   OUTPUT → cali-OUTPUT: accepted in raw: ACCEPT; `-o cali+` RETURN (host → local workload is
 *     always allowed, e.g. kubelet probes); other interfaces → cali-to-host-endpoint.
 *   dispatch chains: `-i/-o <iface> -g cali-fw-/cali-tw-<iface>`; unknown cali interfaces: DROP.
 *     Felix builds a tree of dispatch chains at thousands of endpoints; a flat list is enough here.
 *     Host endpoints: `-i/-o <iface> -g cali-fh-/cali-th-<iface>`, the `*` one last (the default);
 *     an interface no host endpoint covers is not policed.
 *   cali-tw-<iface> (ingress) / cali-fw-<iface> (egress): conntrack, policies in order, then profiles.
 *   cali-fh-<iface> (to the host) / cali-th-<iface> (from it): conntrack, cali-failsafe-in/-out,
 *     then policies in order, then profiles; no policy and no profile: DROP.
 *   cali-pi-/cali-po-<id> (policies), cali-pri-/cali-pro-<id> (profiles): the rules.
 * Marks as in Felix: accept 0x10000 ("RETURN means accepted"), pass 0x20000 (skip to profiles).
 */
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
  type HostEndpointIR,
  type HostPolicyIR,
  type MatchIR,
  type PolicyTable,
  type PortRange,
  type RuleIR,
  VXLAN_PEERS_SET,
} from './ir.js';

export const MARK_ACCEPT = 0x10000;
export const MARK_PASS = 0x20000;
/** Felix's scratch bits: a rule ORs its port alternatives into them (felix/rules/policy.go). */
export const MARK_SCRATCH0 = 0x40000;
export const MARK_SCRATCH1 = 0x80000;
const hex = (n: number) => `0x${n.toString(16)}`;
const MARKS = hex(MARK_ACCEPT | MARK_PASS);
const IS_ACCEPTED = `-m mark --mark ${hex(MARK_ACCEPT)}/${hex(MARK_ACCEPT)}`;
const IS_PASSED = `-m mark --mark ${hex(MARK_PASS)}/${hex(MARK_PASS)}`;
const NOT_PASSED = `-m mark --mark 0x0/${hex(MARK_PASS)}`;
/** The prefix of every interface we police (Calico's default InterfacePrefix). */
const WL = 'cali+';
export const LOG_PREFIX = 'calico-packet: ';

export const CHAINS = {
  forward: 'cali-FORWARD',
  input: 'cali-INPUT',
  output: 'cali-OUTPUT',
  wlToHost: 'cali-wl-to-host',
  fromWl: 'cali-from-wl-dispatch',
  toWl: 'cali-to-wl-dispatch',
  fromHep: 'cali-from-host-endpoint',
  toHep: 'cali-to-host-endpoint',
  fromHepFwd: 'cali-from-hep-forward',
  toHepFwd: 'cali-to-hep-forward',
  failsafeIn: 'cali-failsafe-in',
  failsafeOut: 'cali-failsafe-out',
} as const;

/** Our hooks in the base chains; only renderFull writes them (they never change). */
export const HOOKS: ReadonlyArray<readonly [base: string, target: string]> = [
  ['INPUT', CHAINS.input],
  ['FORWARD', CHAINS.forward],
  ['OUTPUT', CHAINS.output],
];

/** A chain we own: everything named `cali-` in the filter, raw and mangle tables. */
export const isOurChain = (name: string) => name.startsWith('cali-');
/** An ipset we own: `cali40s:` / `cali60s:`, the named-port `cali40n:` / `cali60n:` (and the `t` temporaries of a full apply). */
export const isOurSet = (name: string) => /^cali[46]0[snt]:/.test(name);

export const setName = (family: Family, id: string) => `cali${family}0s:${id}`;
/** A named-port set's ipset (Felix's `cali40n:`, type hash:ip,port). */
export const namedPortSetName = (family: Family, id: string) => `cali${family}0n:${id}`;
const tmpSetName = (family: Family, id: string) => `cali${family}0t:${id}`;

export function policyChainName(c: Pick<ChainIR, 'kind' | 'direction' | 'id'>): string {
  return `cali-${c.kind === 'profile' ? 'pr' : 'p'}${c.direction === 'ingress' ? 'i' : 'o'}-${c.id}`;
}
/** Ingress is traffic TO the workload (cali-tw-), egress FROM it (cali-fw-). */
export const endpointChainName = (direction: 'ingress' | 'egress', iface: string) => `cali-${direction === 'ingress' ? 'tw' : 'fw'}-${iface}`;
/** A host endpoint's ingress is traffic FROM its interface to the host (cali-fh-), egress TO it (cali-th-). */
export const hostEndpointChainName = (direction: 'ingress' | 'egress', iface: string) => `cali-${direction === 'ingress' ? 'fh' : 'th'}-${iface}`;

/** Chain name → its rules in `-A chain ...` form, in order. */
export type Ruleset = Map<string, string[]>;
export interface IpsetSpec {
  family: Family;
  /** hash:net (addresses) or hash:ip,port (a named-port set: `<address>,<protocol>:<port>`). */
  type: 'hash:net' | 'hash:ip,port';
  members: string[];
}
export interface CompiledPolicy {
  /** The filter table of each family. */
  v4: Ruleset;
  v6: Ruleset;
  /** The raw table (untracked host endpoint policy; IPv6 anti-spoofing) and the mangle table (pre-DNAT policy), per family. */
  raw: Record<Family, Ruleset>;
  mangle: Record<Family, Ruleset>;
  sets: Map<string, IpsetSpec>;
}

/**
 * What the applier runs, in this order: `ipset restore -exist` (ipset), `iptables-restore`
 * (v4) and `ip6tables-restore` (v6) — with `--noflush` when `noflush` — then `ipset restore
 * -exist` again (ipsetAfter: sets are destroyed only once no rule uses them). Empty texts are
 * skipped; `chains` and `sets` count what was rewritten, added or removed.
 */
export interface RestorePlan {
  ipset: string;
  v4: string;
  v6: string;
  ipsetAfter: string;
  noflush: boolean;
  chains: number;
  sets: number;
}

// ---------------------------------------------------------------------------------------------
// Compiling

/** iptables keeps at most 255 comment bytes; quotes and backslashes would break the restore syntax. */
const comment = (text: string) => `-m comment --comment "${text.replace(/["\\\n\r]/g, '_').slice(0, 255)}"`;

/** One rule line: the comment first, as Felix writes it. */
const line = (chain: string, note: string, body: string) => `-A ${chain} ${comment(note)} ${body}`;

const SET_TARGET = (mark: number) => `-j MARK --set-xmark ${hex(mark)}/${hex(mark)}`;
const CLEAR_MARKS = `-j MARK --set-xmark 0x0/${MARKS}`;
const CLEAR_PASS = `-j MARK --set-xmark 0x0/${hex(MARK_PASS)}`;
const CONNTRACK = ['-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT', '-m conntrack --ctstate INVALID -j DROP'];
/** ICMPv6 a workload must be able to send its host whatever its policy: MLD, RS, NS, NA (Felix's list). */
const ND_TYPES = [130, 131, 132, 133, 135, 136];

/** Compiles the IR into a desired ruleset. Throws an InputError for an IR that breaks its contract. */
export function compileIptables(ir: HostPolicyIR): CompiledPolicy {
  const sets = new Map<string, IpsetSpec>();
  const setFamily: SetIndex = new Map();
  for (const s of ir.sets) {
    if (setFamily.has(s.id)) throw new InputError(`policy IR: duplicate set id "${s.id}"`);
    checkId(s.id, 'set');
    setFamily.set(s.id, { family: s.family, named: !!s.namedPort, ...(s.namedPort ? { protocol: s.namedPort.protocol } : {}) });
    if (s.namedPort) sets.set(namedPortSetName(s.family, s.id), { family: s.family, type: 'hash:ip,port', members: namedPortMembers(s.family, s.members) });
    else sets.set(setName(s.family, s.id), { family: s.family, type: 'hash:net', members: ipsetMembers(s.family, s.members) });
  }
  if (ir.vxlanPeers) sets.set(setName(4, VXLAN_PEERS_SET), { family: 4, type: 'hash:net', members: ipsetMembers(4, ir.vxlanPeers) });
  for (const ep of ir.endpoints) {
    // Interface names end up in chain names (≤ 28 characters) and must fall under `cali+`.
    if (!/^cali[A-Za-z0-9_.-]{1,11}$/.test(ep.iface)) throw new InputError(`policy IR: endpoint ${ep.name}: interface ${JSON.stringify(ep.iface)} is not "cali" + 1-11 characters`);
  }
  if (new Set(ir.endpoints.map((e) => e.iface)).size !== ir.endpoints.length) throw new InputError('policy IR: two endpoints share an interface');
  const host = hostSide(ir);
  const heps = host.hostEndpoints;
  const chains = new Map<string, ChainIR>();
  for (const c of ir.chains) {
    checkId(c.id, 'chain');
    const name = policyChainName(c);
    if (chains.has(name)) throw new InputError(`policy IR: duplicate ${c.kind} ${c.direction} chain "${c.id}"`);
    chains.set(name, c);
  }
  const tablesOf = chainTables(ir);
  const sortedIn = (table: PolicyTable) => [...chains].filter(([, c]) => tablesOf(c).includes(table)).sort(([a], [b]) => (a < b ? -1 : 1));
  // The raw and mangle tables' policy machinery costs every packet a few rules (~15 % of a lab's
  // throughput, measured): it is there only while some host endpoint has untracked, resp.
  // pre-DNAT, policy. Without it the raw table holds IPv6 anti-spoofing alone, the mangle table
  // nothing.
  const untrackedUsed = heps.some((h) => h.untracked);
  const preDnatUsed = heps.some((h) => h.preDnat);
  const raw = (family: Family): Ruleset => {
    if (!untrackedUsed) return new Map(family === 6 ? [[RAW_CHAIN, [rpfRule(RAW_CHAIN)]]] : []);
    const out: Ruleset = new Map(rawStaticChains(family, host));
    for (const h of heps) {
      for (const dir of ['ingress', 'egress'] as const) {
        if (!h.untracked) continue;
        const name = hostEndpointChainName(dir, h.iface);
        out.set(name, endpointChain(name, { kind: 'untracked', name: `HostEndpoint ${h.name}` }, dir, { tiers: h.untracked[dir], profiles: [] }, chains));
      }
    }
    for (const [name, c] of sortedIn('raw')) out.set(name, policyChain(name, c, family, setFamily));
    return out;
  };
  const mangle = (family: Family): Ruleset => {
    if (!preDnatUsed) return new Map();
    const out: Ruleset = new Map(mangleStaticChains(family, host));
    for (const h of heps) {
      if (!h.preDnat) continue;
      const name = hostEndpointChainName('ingress', h.iface);
      out.set(name, endpointChain(name, { kind: 'preDnat', name: `HostEndpoint ${h.name}` }, 'ingress', { tiers: h.preDnat, profiles: [] }, chains));
    }
    for (const [name, c] of sortedIn('mangle')) out.set(name, policyChain(name, c, family, setFamily));
    return out;
  };
  const ruleset = (family: Family): Ruleset => {
    const out: Ruleset = new Map();
    for (const [name, rules] of staticChains(family, ir, host)) out.set(name, rules);
    for (const ep of ir.endpoints) {
      for (const dir of ['ingress', 'egress'] as const) {
        const name = endpointChainName(dir, ep.iface);
        out.set(name, endpointChain(name, { kind: 'workload', name: ep.name }, dir, ep[dir], chains));
      }
    }
    for (const h of heps) {
      for (const dir of ['ingress', 'egress'] as const) {
        const name = hostEndpointChainName(dir, h.iface);
        out.set(name, endpointChain(name, { kind: 'host', name: `HostEndpoint ${h.name}` }, dir, h[dir], chains));
        const fwd = hostForwardChainName(dir, h.iface);
        out.set(fwd, endpointChain(fwd, { kind: 'forward', name: `HostEndpoint ${h.name}` }, dir, { tiers: h.forward?.[dir] ?? [], profiles: [] }, chains));
      }
    }
    for (const [name, c] of sortedIn('filter')) out.set(name, policyChain(name, c, family, setFamily));
    return out;
  };
  return { v4: ruleset(4), v6: ruleset(6), raw: { 4: raw(4), 6: raw(6) }, mangle: { 4: mangle(4), 6: mangle(6) }, sets };
}

function checkId(id: string, what: string): void {
  if (!/^[a-z0-9]{1,12}$/.test(id)) throw new InputError(`policy IR: ${what} id ${JSON.stringify(id)} is not 1-12 characters of [a-z0-9]`);
}

/** The sets of the IR by id: family, and whether it is a named-port set. */
type SetIndex = Map<string, { family: Family; named: boolean; protocol?: string }>;

/** `hash:net` cannot hold a /0: like Felix, store it as its two halves. */
function ipsetMembers(family: Family, members: string[]): string[] {
  const out = new Set<string>();
  for (const m of members) {
    if (m.includes(':') !== (family === 6)) throw new InputError(`policy IR: ${m} in an IPv${family} set`);
    if (m === '0.0.0.0/0') out.add('0.0.0.0/1').add('128.0.0.0/1');
    else if (m === '::/0') out.add('::/1').add('8000::/1');
    else out.add(m);
  }
  return [...out];
}

/**
 * The failsafe rules of one family: protocol and destination port, and the peer net if given
 * (felix/rules/static.go). `replies`: the other list's, by source port — the raw table is before
 * conntrack, so replies to a failsafe connection must pass by their own rule.
 */
function failsafeRules(chain: string, rules: FailsafeIR[], family: Family, direction: 'inbound' | 'outbound', replies: FailsafeIR[] = []): string[] {
  const render = (r: FailsafeIR, reply: boolean) => {
    const l4 = L4_NAMES[r.protocol];
    if (!l4) throw new InputError(`policy IR: failsafe protocol ${r.protocol} is not TCP, UDP or SCTP`);
    const net = r.net ? `${direction === 'inbound' ? '-s' : '-d'} ${r.net} ` : '';
    return line(chain, `Failsafe ${direction}${reply ? ' reply' : ''} ${l4}:${r.port}`, `-p ${l4} -m ${l4} --${reply ? 'sport' : 'dport'} ${r.port} ${net}-j ACCEPT`);
  };
  const mine = (r: FailsafeIR) => !r.net || r.net.includes(':') === (family === 6);
  return [...rules.filter(mine).map((r) => render(r, false)), ...replies.filter(mine).map((r) => render(r, true))];
}

/** IPv6 anti-spoofing: a workload packet whose source does not route back through its interface is dropped. */
const rpfRule = (chain: string) => line(chain, 'Drop workload packets whose source does not route back to the workload (spoofed)', `-i ${WL} -m rpfilter --invert -j DROP`);

/**
 * The raw table's chains of one family (felix/rules/static.go StaticRawPreroutingChain,
 * StaticRawOutputChain): marks cleared; IPv6 anti-spoofing; traffic from workloads skips host
 * endpoints; the others meet their host endpoint's untracked policy (cali-fh-/cali-th-<iface>,
 * only those that have some), and what it accepted is accepted here, untracked, and by the
 * filter table's chains after.
 */
function rawStaticChains(family: Family, host: ReturnType<typeof hostSide>): Array<[string, string[]]> {
  const { rawPrerouting, rawOutput, fromHep, toHep, failsafeIn, failsafeOut } = { ...CHAINS, rawPrerouting: RAW_CHAIN, rawOutput: RAW_OUTPUT_CHAIN };
  const heps = host.hostEndpoints.filter((h) => h.untracked);
  const clear = `-j MARK --set-xmark 0x0/${hex(MARK_ACCEPT | MARK_PASS | MARK_SCRATCH0 | MARK_SCRATCH1)}`;
  return [
    [
      rawPrerouting,
      [
        line(rawPrerouting, 'Clear policy marks', clear),
        ...(family === 6 ? [rpfRule(rawPrerouting)] : []),
        line(rawPrerouting, 'From workload: no untracked policy', `-i ${WL} -j RETURN`),
        line(rawPrerouting, 'Untracked policy of the host endpoint', `-j ${fromHep}`),
        line(rawPrerouting, 'Untracked policy accepted packet', `${IS_ACCEPTED} -j ACCEPT`),
      ],
    ],
    [
      rawOutput,
      [
        line(rawOutput, 'Clear policy marks', clear),
        line(rawOutput, 'Untracked policy of the host endpoint', `-j ${toHep}`),
        line(rawOutput, 'Untracked policy accepted packet', `${IS_ACCEPTED} -j ACCEPT`),
      ],
    ],
    [fromHep, hostDispatch(fromHep, heps, 'ingress')],
    [toHep, hostDispatch(toHep, heps, 'egress')],
    [failsafeIn, failsafeRules(failsafeIn, host.failsafe.inbound, family, 'inbound', host.failsafe.outbound)],
    [failsafeOut, failsafeRules(failsafeOut, host.failsafe.outbound, family, 'outbound', host.failsafe.inbound)],
  ];
}

/**
 * The mangle table's chains of one family (felix/rules/static.go StaticManglePreroutingChain):
 * established traffic and what the raw table accepted pass; traffic from workloads skips host
 * endpoints; the rest meets its host endpoint's pre-DNAT policy (cali-fh-<iface>, only those
 * that have some, the `*` one last), whose allow the filter table's chains then accept.
 */
function mangleStaticChains(family: Family, host: ReturnType<typeof hostSide>): Array<[string, string[]]> {
  const { fromHep, failsafeIn } = CHAINS;
  const heps = host.hostEndpoints.filter((h) => h.preDnat);
  return [
    [
      MANGLE_CHAIN,
      [
        line(MANGLE_CHAIN, 'Accept established and related', CONNTRACK[0]!),
        line(MANGLE_CHAIN, 'Accepted by untracked policy', `${IS_ACCEPTED} -j ACCEPT`),
        line(MANGLE_CHAIN, 'From workload: no pre-DNAT policy', `-i ${WL} -j RETURN`),
        line(MANGLE_CHAIN, 'Pre-DNAT policy of the host endpoint', `-j ${fromHep}`),
        line(MANGLE_CHAIN, 'Pre-DNAT policy accepted packet', `${IS_ACCEPTED} -j ACCEPT`),
      ],
    ],
    [fromHep, hostDispatch(fromHep, heps, 'ingress')],
    [failsafeIn, failsafeRules(failsafeIn, host.failsafe.inbound, family, 'inbound')],
  ];
}

/**
 * `-i/-o <iface> -g <chain>` per host endpoint, the ALL_INTERFACES one last: it takes every other
 * interface. `forward`: to the endpoints' forward chains (Felix's cali-from-/to-hep-forward).
 */
function hostDispatch(chain: string, heps: HostEndpointIR[], direction: 'ingress' | 'egress', forward = false): string[] {
  const flag = direction === 'ingress' ? '-i' : '-o';
  const target = (iface: string) => (forward ? hostForwardChainName : hostEndpointChainName)(direction, iface);
  const what = forward ? 'Forwarded ' : '';
  const named = heps.filter((h) => h.iface !== ALL_INTERFACES);
  const all = heps.find((h) => h.iface === ALL_INTERFACES);
  return [
    ...named.map((h) => line(chain, `${what}${direction === 'ingress' ? (forward ? 'from' : 'From') : forward ? 'to' : 'To'} HostEndpoint ${h.name}`, `${flag} ${h.iface} -g ${target(h.iface)}`)),
    ...(all ? [line(chain, `${forward ? 'Forwarded through ' : ''}HostEndpoint ${all.name} (every other interface)`, `-g ${target(ALL_INTERFACES)}`)] : []),
  ];
}

function staticChains(family: Family, ir: HostPolicyIR, host: ReturnType<typeof hostSide>): Array<[string, string[]]> {
  const { forward, input, output, wlToHost, fromWl, toWl, fromHep, toHep, fromHepFwd, toHepFwd, failsafeIn, failsafeOut } = CHAINS;
  const { endpoints } = ir;
  const { hostEndpoints: heps, failsafe } = host;
  const toHost = host.endpointToHost.toUpperCase();
  // What only host endpoints need costs every packet a rule or two: only while there are some
  // (forward chains), resp. some untracked or pre-DNAT policy (the accept mark from raw/mangle).
  const fwd = heps.length > 0;
  const early = heps.some((h) => h.untracked || h.preDnat);
  return [
    [
      forward,
      [
        // No conntrack here: as Felix, each endpoint chain starts with it, so traffic that only
        // passes through (another host's, routed via this one) meets none unless it crosses a
        // host endpoint's interface — half a TCP connection seen here is conntrack INVALID.
        // The accept mark stays: an untracked or pre-DNAT policy accepted the packet (felix/rules/static.go).
        line(forward, 'Clear policy marks but accept', CLEAR_PASS),
        // Felix's order: the incoming host endpoint's forward policy, the workloads', the outgoing host endpoint's.
        ...(fwd ? [line(forward, 'Forwarded in through a host endpoint: its applyOnForward policy', `-m mark --mark 0x0/${hex(MARK_ACCEPT)} -j ${fromHepFwd}`)] : []),
        line(forward, 'From workload: its egress policy', `-i ${WL} -j ${fromWl}`),
        line(forward, 'To workload: its ingress policy', `-o ${WL} -j ${toWl}`),
        ...(fwd ? [line(forward, 'Forwarded out through a host endpoint: its applyOnForward policy', `-j ${toHepFwd}`)] : []),
        // Endpoint chains DROP or RETURN: reaching these means every policy on the way allowed it.
        // Same-host traffic went through both dispatch chains above before getting here.
        line(forward, 'Policy accepted packet from workload', `-i ${WL} -j ACCEPT`),
        line(forward, 'Policy accepted packet to workload', `-o ${WL} -j ACCEPT`),
        ...(fwd ? [line(forward, 'Policy explicitly accepted packet', `${IS_ACCEPTED} -j ACCEPT`)] : []),
      ],
    ],
    [
      input,
      [
        line(input, 'From workload to host', `-i ${WL} -g ${wlToHost}`),
        ...(ir.vxlanPeers && family === 4
          ? [line(input, 'Allow IPv4 VXLAN packets from allowed hosts', `-p udp -m udp --dport 4789 -m set --match-set ${setName(4, VXLAN_PEERS_SET)} src -j ACCEPT`)]
          : []),
        ...(early ? [line(input, 'Accepted by untracked or pre-DNAT policy', `${IS_ACCEPTED} -j ACCEPT`)] : []),
        line(input, 'Clear policy marks', CLEAR_MARKS),
        line(input, 'To host: its host endpoint policy', `-j ${fromHep}`),
        line(input, 'Host endpoint policy accepted packet', `${IS_ACCEPTED} -j ACCEPT`),
      ],
    ],
    [
      output,
      [
        ...(early ? [line(output, 'Accepted by untracked policy', `${IS_ACCEPTED} -j ACCEPT`)] : []),
        // "We don't currently police host -> endpoint according to the endpoint's ingress policy."
        line(output, 'From host to workload: always allowed', `-o ${WL} -j RETURN`),
        ...(ir.vxlanPeers && family === 4
          ? [line(output, 'Allow IPv4 VXLAN packets to other allowed hosts', `-p udp -m udp --dport 4789 -m set --match-set ${setName(4, VXLAN_PEERS_SET)} dst -j ACCEPT`)]
          : []),
        line(output, 'Clear policy marks', CLEAR_MARKS),
        line(output, 'From host: its host endpoint policy', `-j ${toHep}`),
        line(output, 'Host endpoint policy accepted packet', `${IS_ACCEPTED} -j ACCEPT`),
      ],
    ],
    // Felix's cali-wl-to-host: the workload's egress policy, then DefaultEndpointToHostAction.
    [
      wlToHost,
      [
        ...(family === 6 ? ND_TYPES.map((t) => line(wlToHost, 'Allow ICMPv6 ND and MLD to host', `-p 58 -m icmp6 --icmpv6-type ${t} -j ACCEPT`)) : []),
        line(wlToHost, 'Workload egress policy', `-j ${fromWl}`),
        line(wlToHost, `Egress policy accepted packet to host: DefaultEndpointToHostAction ${toHost}`, `-j ${toHost}`),
      ],
    ],
    [fromHep, hostDispatch(fromHep, heps, 'ingress')],
    [toHep, hostDispatch(toHep, heps, 'egress')],
    [fromHepFwd, hostDispatch(fromHepFwd, heps, 'ingress', true)],
    [toHepFwd, hostDispatch(toHepFwd, heps, 'egress', true)],
    [failsafeIn, failsafeRules(failsafeIn, failsafe.inbound, family, 'inbound')],
    [failsafeOut, failsafeRules(failsafeOut, failsafe.outbound, family, 'outbound')],
    [fromWl, [...endpoints.map((ep) => line(fromWl, `From ${ep.name}`, `-i ${ep.iface} -g ${endpointChainName('egress', ep.iface)}`)), line(fromWl, 'Unknown interface', '-j DROP')]],
    [toWl, [...endpoints.map((ep) => line(toWl, `To ${ep.name}`, `-o ${ep.iface} -g ${endpointChainName('ingress', ep.iface)}`)), line(toWl, 'Unknown interface', '-j DROP')]],
  ];
}

/** What an endpoint chain is for: a workload, a host endpoint (the host's own traffic), or a host endpoint's forward, untracked (raw) or pre-DNAT (mangle) policy. */
type EndpointChainKind = 'workload' | 'host' | 'forward' | 'untracked' | 'preDnat';

/**
 * One direction of one endpoint. Marks are cleared first: for same-host traffic this chain runs
 * after the sender's cali-fw- chain, whose accept mark must not count here. As
 * felix/rules/endpoints.go: a host endpoint's forward chain (chainTypeForward) has no failsafe
 * ports, and allows when no forward policy applies; an untracked one (raw) has no conntrack and
 * NOTRACKs what a policy accepts; forward, untracked and pre-DNAT chains have no profiles and no
 * final drop (their tiers pass what no policy decided).
 */
function endpointChain(name: string, ep: { kind: EndpointChainKind; name: string }, dir: 'ingress' | 'egress', d: DirectionIR, chains: Map<string, ChainIR>): string[] {
  const target = (kind: ChainIR['kind'], id: string) => {
    const t = policyChainName({ kind, direction: dir, id });
    const c = chains.get(t);
    if (!c) throw new InputError(`policy IR: endpoint ${ep.name} uses ${kind} ${dir} chain "${id}", which is not in the IR`);
    return c;
  };
  // Every endpoint chain starts with conntrack (felix/rules/endpoints.go, appendConntrackRules) but
  // an untracked one; a host endpoint's then with the failsafe ports (not a forward chain's).
  const out: string[] = ep.kind === 'untracked' ? [] : [line(name, 'Accept established and related', CONNTRACK[0]!), line(name, 'Drop conntrack invalid', CONNTRACK[1]!)];
  if (ep.kind === 'host' || ep.kind === 'untracked' || ep.kind === 'preDnat') out.push(line(name, 'Failsafe ports', `-j ${dir === 'ingress' ? CHAINS.failsafeIn : CHAINS.failsafeOut}`));
  const what = {
    workload: dir === 'ingress' ? 'Ingress to' : 'Egress from',
    host: dir === 'ingress' ? 'To host through' : 'From host through',
    forward: dir === 'ingress' ? 'Forwarded in through' : 'Forwarded out through',
    untracked: dir === 'ingress' ? 'Untracked in through' : 'Untracked out through',
    preDnat: 'Pre-DNAT in through',
  }[ep.kind];
  out.push(line(name, `${what} ${ep.name}: clear marks`, CLEAR_MARKS));
  if (ep.kind === 'forward' && !d.tiers.length) {
    out.push(line(name, 'Allow forwarded traffic by default', SET_TARGET(MARK_ACCEPT)), line(name, 'Allow forwarded traffic by default', '-j RETURN'));
    return out;
  }
  if (dir === 'egress' && ep.kind === 'workload') for (const e of ENCAP_FROM_WORKLOAD) out.push(line(name, `Drop ${e.what} encapped packets originating in workloads`, `${e.iptables} -j DROP`));
  for (const tier of d.tiers) {
    out.push(line(name, `Start of tier ${tier.name}`, CLEAR_PASS));
    for (const id of tier.policies) {
      const c = target('policy', id);
      // A pass mark means a policy of this tier said `pass`: its other policies are skipped.
      out.push(line(name, c.name, `${NOT_PASSED} -j ${policyChainName(c)}`));
      // Untracked: "map allow to NOTRACK and ALLOW" (felix/rules/endpoints.go).
      if (ep.kind === 'untracked') out.push(line(name, 'Untracked policy accepted: no conntrack', `${IS_ACCEPTED} -j NOTRACK`));
      out.push(line(name, 'Return if policy accepted', `${IS_ACCEPTED} -j RETURN`));
    }
    if (tier.defaultAction === 'deny') out.push(line(name, `End of tier ${tier.name}. Drop if no policies passed packet`, `${NOT_PASSED} -j DROP`));
  }
  // Forward, untracked and pre-DNAT chains have no profiles and no final drop.
  if (ep.kind !== 'workload' && ep.kind !== 'host') return out;
  for (const id of d.profiles) {
    const c = target('profile', id);
    out.push(line(name, c.name, `-j ${policyChainName(c)}`));
    out.push(line(name, 'Return if profile accepted', `${IS_ACCEPTED} -j RETURN`));
  }
  out.push(line(name, 'Drop if no profiles matched', '-j DROP'));
  return out;
}

/** A policy or profile chain for one family: its rules of that family, in order. */
function policyChain(name: string, c: ChainIR, family: Family, setFamily: SetIndex): string[] {
  const out: string[] = [];
  c.rules.forEach((r, i) => {
    if (r.family !== family) return;
    const note = `${c.name} rule ${i}`;
    const matched = ruleMatches(r, family, setFamily, note);
    if (!matched) return;
    for (const b of matched.block) out.push(line(name, note, b));
    const { match } = matched;
    if (r.action === 'allow') out.push(line(name, note, `${match}${SET_TARGET(MARK_ACCEPT)}`));
    else if (r.action === 'deny') out.push(line(name, note, `${match}-j DROP`));
    else if (r.action === 'log') out.push(line(name, note, `${match}-j LOG --log-prefix "${LOG_PREFIX}" --log-level 5`));
    // In a profile there is nothing to skip to but the next profile: a plain RETURN does it
    // (a pass mark there would be ambiguous, it may already be set by the policies' pass).
    else if (c.kind === 'profile') out.push(line(name, note, `${match}-j RETURN`));
    else out.push(line(name, note, `${match}${SET_TARGET(MARK_PASS)}`));
    if (r.action === 'allow') out.push(line(name, note, `${IS_ACCEPTED} -j RETURN`));
    if (r.action === 'pass' && c.kind === 'policy') out.push(line(name, note, `${IS_PASSED} -j RETURN`));
  });
  return out;
}

const PORT_PROTOCOLS = [6, 17, 132];

/**
 * The match part of a rule (ending in a space, or empty), and the lines before it that compute
 * part of it; undefined when the rule can match nothing. A side's port alternatives — numeric
 * ports in multiport lists of at most 15 slots, and named-port sets — are ORed: one alternative
 * goes into the rule itself; more make a block, as Felix's (felix/rules/policy.go): clear both
 * scratch bits, each alternative of the first side sets scratch 0, each of the second sets
 * scratch 1 and then scratch 0 is cleared unless scratch 1 is set; the rule matches scratch 0.
 * notPorts and notNamedPorts are ANDed into the rule.
 */
function ruleMatches(r: RuleIR, family: Family, setFamily: SetIndex, where: string): { block: string[]; match: string } | undefined {
  const parts: string[] = [];
  if (r.protocol !== undefined) {
    // `-p X ! -p Y` is not expressible; with X ≠ Y the second is implied, with X = Y nothing matches.
    if (r.notProtocol === r.protocol) return undefined;
    parts.push(`-p ${r.protocol}`);
  } else if (r.notProtocol !== undefined) parts.push(`! -p ${r.notProtocol}`);
  for (const [side, m] of [
    ['src', r.src],
    ['dst', r.dst],
  ] as const) {
    if (m.net) parts.push(`${side === 'src' ? '-s' : '-d'} ${m.net}`);
    for (const id of m.sets) parts.push(`-m set --match-set ${checkedSet(id, family, setFamily, where, false)} ${side}`);
    for (const id of m.notSets) parts.push(`-m set ! --match-set ${checkedSet(id, family, setFamily, where, false)} ${side}`);
  }
  const hasPorts = (m: MatchIR) => m.ports.length + m.notPorts.length + (m.namedPorts?.length ?? 0) + (m.notNamedPorts?.length ?? 0) > 0;
  if ((hasPorts(r.src) || hasPorts(r.dst)) && !PORT_PROTOCOLS.includes(r.protocol ?? -1)) {
    throw new InputError(`policy IR: ${where}: ports need protocol TCP, UDP or SCTP`);
  }
  for (const [side, m] of [
    ['src', r.src],
    ['dst', r.dst],
  ] as const) {
    for (const chunk of portChunks(m.notPorts)) parts.push(`-m multiport ! --${side === 'src' ? 'sports' : 'dports'} ${chunk}`);
    for (const id of m.notNamedPorts ?? []) parts.push(`-m set ! --match-set ${checkedSet(id, family, setFamily, where, true, r.protocol)} ${side},${side}`);
  }
  if (r.icmp || r.notIcmp) {
    if (r.protocol !== (family === 4 ? 1 : 58)) throw new InputError(`policy IR: ${where}: an ICMP match needs protocol ${family === 4 ? 'ICMP (1)' : 'ICMPv6 (58)'}`);
    const [mod, flag] = family === 4 ? ['icmp', '--icmp-type'] : ['icmp6', '--icmpv6-type'];
    const type = (t: { type: number; code?: number }) => `${t.type}${t.code === undefined ? '' : `/${t.code}`}`;
    if (r.icmp) parts.push(`-m ${mod} ${flag} ${type(r.icmp)}`);
    if (r.notIcmp) parts.push(`-m ${mod} ! ${flag} ${type(r.notIcmp)}`);
  }
  const alternatives = (side: 'src' | 'dst', m: MatchIR) => [
    ...(m.ports.length ? portChunks(m.ports).map((c) => `-m multiport --${side === 'src' ? 'sports' : 'dports'} ${c}`) : []),
    ...(m.namedPorts ?? []).map((id) => `-m set --match-set ${checkedSet(id, family, setFamily, where, true, r.protocol)} ${side},${side}`),
  ];
  const sides = [alternatives('src', r.src), alternatives('dst', r.dst)].filter((a) => a.length);
  const block: string[] = [];
  const blocks = sides.filter((a) => a.length > 1);
  if (blocks.length) {
    const proto = `-p ${r.protocol} `;
    block.push(`-j MARK --set-xmark 0x0/${hex(MARK_SCRATCH0 | MARK_SCRATCH1)}`);
    blocks.forEach((alts, i) => {
      const bit = hex(i === 0 ? MARK_SCRATCH0 : MARK_SCRATCH1);
      for (const a of alts) block.push(`${proto}${a} -j MARK --set-xmark ${bit}/${bit}`);
      if (i === 1) block.push(`-m mark --mark 0x0/${hex(MARK_SCRATCH1)} -j MARK --set-xmark 0x0/${hex(MARK_SCRATCH0)}`);
    });
    parts.push(`-m mark --mark ${hex(MARK_SCRATCH0)}/${hex(MARK_SCRATCH0)}`);
  }
  for (const a of sides) if (a.length === 1) parts.push(a[0]!);
  return { block, match: parts.map((p) => `${p} `).join('') };
}

function checkedSet(id: string, family: Family, setFamily: SetIndex, where: string, named: boolean, protocol?: number): string {
  const s = setFamily.get(id);
  if (s === undefined) throw new InputError(`policy IR: ${where} uses set "${id}", which is not in the IR`);
  if (s.family !== family) throw new InputError(`policy IR: ${where} is an IPv${family} rule using IPv${s.family} set "${id}"`);
  if (s.named !== named) throw new InputError(`policy IR: ${where} uses ${s.named ? 'named-port' : 'address'} set "${id}" as ${named ? 'a named-port' : 'an address'} set`);
  if (named && s.protocol !== L4_NAMES[protocol ?? -1]) throw new InputError(`policy IR: ${where}: named-port set "${id}" holds ${s.protocol} ports, the rule's protocol is ${protocol ?? 'none'}`);
  return named ? namedPortSetName(s.family, id) : setName(s.family, id);
}

/** multiport takes at most 15 ports, a range counting 2. */
const MULTIPORT_SLOTS = 15;

/** Merged ranges (sorted, overlaps and neighbours joined) packed into multiport lists. */
export function portChunks(ranges: PortRange[]): string[] {
  const merged: PortRange[] = [];
  for (const r of [...ranges].sort((a, b) => a.first - b.first)) {
    const last = merged[merged.length - 1];
    if (last && r.first <= last.last + 1) last.last = Math.max(last.last, r.last);
    else merged.push({ ...r });
  }
  const chunks: string[][] = [];
  let used = MULTIPORT_SLOTS;
  for (const r of merged) {
    const cost = r.first === r.last ? 1 : 2;
    if (used + cost > MULTIPORT_SLOTS) {
      chunks.push([]);
      used = 0;
    }
    chunks[chunks.length - 1]!.push(cost === 1 ? `${r.first}` : `${r.first}:${r.last}`);
    used += cost;
  }
  return chunks.map((c) => c.join(','));
}

// ---------------------------------------------------------------------------------------------
// Rendering

/** The tables of one family, in restore order: each with its built-in chains and our hooks in them. */
const TABLES = [
  { name: 'filter', builtins: ['INPUT', 'FORWARD', 'OUTPUT'], hooks: HOOKS },
  {
    name: 'raw',
    builtins: ['PREROUTING', 'OUTPUT'],
    hooks: [
      ['PREROUTING', 'cali-PREROUTING'],
      ['OUTPUT', 'cali-OUTPUT'],
    ],
  },
  { name: 'mangle', builtins: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'], hooks: [['PREROUTING', 'cali-PREROUTING']] },
] as const;
type TableName = (typeof TABLES)[number]['name'];
const tableOf = (d: CompiledPolicy, family: Family, table: TableName): Ruleset => (table === 'filter' ? (family === 4 ? d.v4 : d.v6) : d[table][family]);

const chainNames = (d: CompiledPolicy) => new Set(([4, 6] as const).flatMap((f) => TABLES.flatMap((t) => [...tableOf(d, f, t.name).keys()].map((c) => `${t.name} ${c}`))));
const ipsetType = (s: IpsetSpec) => `${s.type} family ${s.family === 4 ? 'inet' : 'inet6'}`;

/**
 * Every table of ours per family — filter, raw (untracked policy; IPv6 anti-spoofing) and mangle
 * (pre-DNAT policy) — whole (no --noflush: whatever else was there goes, so a restarted agent ends
 * with exactly these rules), and every set. Each set is filled as a temporary and swapped in, so a
 * set in use is never seen half-filled (Felix does the same). `kernelSets` are the sets the
 * namespace has now: those of ours not wanted are destroyed after the rules.
 */
export function renderFull(desired: CompiledPolicy, kernelSets: string[] = []): RestorePlan {
  const tables = (family: Family) =>
    TABLES.map((t) => {
      const rules = tableOf(desired, family, t.name);
      return [
        `*${t.name}`,
        ...t.builtins.map((b) => `:${b} ACCEPT [0:0]`),
        ...[...rules.keys()].map((c) => `:${c} - [0:0]`),
        ...t.hooks.filter(([, target]) => rules.has(target)).map(([base, target]) => line(base, 'calico-sim policy', `-j ${target}`)),
        ...[...rules.values()].flat(),
        'COMMIT',
        '',
      ].join('\n');
    }).join('');
  const ipset: string[] = [];
  for (const [name, s] of desired.sets) {
    const tmp = tmpSetName(s.family, name.slice(name.indexOf(':') + 1));
    ipset.push(`create ${name} ${ipsetType(s)}`, `create ${tmp} ${ipsetType(s)}`, `flush ${tmp}`);
    ipset.push(...s.members.map((m) => `add ${tmp} ${m}`), `swap ${tmp} ${name}`, `destroy ${tmp}`);
  }
  const stale = kernelSets.filter((n) => isOurSet(n) && !desired.sets.has(n)).sort();
  return {
    ipset: text(ipset),
    v4: tables(4),
    v6: tables(6),
    ipsetAfter: text(stale.map((n) => `destroy ${n}`)),
    noflush: false,
    chains: chainNames(desired).size,
    sets: desired.sets.size + stale.length,
  };
}

const text = (lines: string[]) => (lines.length ? `${lines.join('\n')}\n` : '');

/**
 * Which hooks the policy needs in the built-in chains: renderDelta never touches hooks, so a
 * change of these (untracked or pre-DNAT policy appearing or going) takes a full apply.
 */
export function hooksOf(d: CompiledPolicy): string {
  return ([4, 6] as const).map((f) => TABLES.map((t) => t.hooks.filter(([, target]) => tableOf(d, f, t.name).has(target)).join(',')).join('|')).join('/');
}

/**
 * The raw table's first chain (Felix's raw cali-PREROUTING, felix/rules/static.go): marks cleared,
 * IPv6 anti-spoofing ("Apply strict RPF check to packets from workload interfaces. This prevents
 * workloads from spoofing their IPs."; IPv4 has the rp_filter sysctl of each workload interface),
 * then untracked host endpoint policy.
 */
const RAW_CHAIN = 'cali-PREROUTING';
/** The raw table's output chain: the host's untracked egress policy. */
const RAW_OUTPUT_CHAIN = 'cali-OUTPUT';
/** The mangle table's prerouting chain: pre-DNAT host endpoint policy. */
const MANGLE_CHAIN = 'cali-PREROUTING';

const sameLines = (a: string[] | undefined, b: string[] | undefined) => !!a && !!b && a.length === b.length && a.every((l, i) => l === b[i]);

/**
 * Only what differs from `previous` (what the kernel has), table by table: for `iptables-restore
 * --noflush`, a changed or new chain is declared (which creates or flushes it) and its rules added
 * again; a removed chain is flushed with the others and deleted (-X) last, when nothing refers to
 * it any more. Sets: new ones and added/removed members first; removed sets after the rules.
 */
export function renderDelta(previous: CompiledPolicy, desired: CompiledPolicy): RestorePlan {
  const touched = new Set<string>();
  const table = (name: TableName, prev: Ruleset, want: Ruleset) => {
    const changed = [...want].filter(([c, rules]) => !sameLines(prev.get(c), rules));
    const removed = [...prev.keys()].filter((c) => !want.has(c));
    if (!changed.length && !removed.length) return '';
    for (const c of [...changed.map(([c]) => c), ...removed]) touched.add(`${name} ${c}`);
    return text([`*${name}`, ...[...changed.map(([c]) => c), ...removed].map((c) => `:${c} - [0:0]`), ...changed.flatMap(([, rules]) => rules), ...removed.map((c) => `-X ${c}`), 'COMMIT']);
  };
  const ipset: string[] = [];
  const after: string[] = [];
  let sets = 0;
  for (const [name, s] of desired.sets) {
    const old = previous.sets.get(name);
    const had = new Set(old?.members ?? []);
    const want = new Set(s.members);
    const lines = [
      ...(old ? [] : [`create ${name} ${ipsetType(s)}`]),
      ...s.members.filter((m) => !had.has(m)).map((m) => `add ${name} ${m}`),
      ...(old?.members ?? []).filter((m) => !want.has(m)).map((m) => `del ${name} ${m}`),
    ];
    if (lines.length) {
      ipset.push(...lines);
      sets++;
    }
  }
  for (const name of previous.sets.keys())
    if (!desired.sets.has(name)) {
      after.push(`destroy ${name}`);
      sets++;
    }
  const family = (f: Family) => TABLES.map((t) => table(t.name, tableOf(previous, f, t.name), tableOf(desired, f, t.name))).join('');
  return { ipset: text(ipset), v4: family(4), v6: family(6), ipsetAfter: text(after), noflush: true, chains: touched.size, sets };
}

/**
 * From `iptables-save -t <table>` output: the `--noflush` text that removes our hooks and chains
 * ('' when there are none). Hooks are deleted by their saved spec, so any form of ours matches.
 */
export function renderRemove(saved: string, table: 'filter' | 'raw' | 'mangle' = 'filter'): string {
  const lines = saved.split('\n');
  const hooks = lines.filter((l) => /^-A (INPUT|FORWARD|OUTPUT|PREROUTING) .*-[jg] cali-\S+\s*$/.test(l)).map((l) => `-D${l.slice(2)}`);
  const ours = lines.map((l) => /^:(\S+) /.exec(l)?.[1]).filter((c): c is string => !!c && isOurChain(c));
  if (!hooks.length && !ours.length) return '';
  return text([`*${table}`, ...hooks, ...ours.map((c) => `:${c} - [0:0]`), ...ours.map((c) => `-X ${c}`), 'COMMIT']);
}
