/**
 * The reference evaluator: what the IR says should happen to one packet, with Calico's semantics,
 * and no kernel. The compilers' outputs are checked against it, and so are the policy scenarios'
 * expectations.
 *
 * A packet leaving a local endpoint goes through that endpoint's egress, then (if its destination
 * is a local endpoint too) through the destination's ingress. Per direction:
 * - tiers in order (only those with a policy that applies); in each, its policies in order; in
 *   each policy the first matching rule decides: allow → allowed; deny → denied; pass → skip the
 *   tier's remaining policies, go to the next tier; log → go on to the next rule; no rule
 *   matched → next policy. No policy of the tier decided → the tier's defaultAction: deny →
 *   denied; pass → next tier.
 * - with no tier (or after the last tier passed): the profiles in order, the same way; `pass` in
 *   a profile goes on to the next profile. No profile allows → denied.
 * Traffic to or from the host itself meets its host endpoints instead (hostTraffic).
 */
import { canonicalIp, cidrContains } from '../net/cidr.js';
import { InputError } from '../util/errors.js';
import { ALL_INTERFACES, hostSide, L4_NAMES, type ChainIR, type DirectionIR, type FailsafeIR, type Family, type HostPolicyIR, type MatchIR, type PortRange, type RuleIR, type SetIR } from './ir.js';

export interface Packet {
  family: Family;
  src: string;
  dst: string;
  /** IANA protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6...). */
  protocol: number;
  srcPort?: number;
  dstPort?: number;
  icmpType?: number;
  icmpCode?: number;
  /**
   * The local endpoint (host-side iface) the packet comes from, if any. Forwarded (not to the
   * host), it meets a `*` host endpoint's forward policy too: that dispatch takes every interface,
   * workloads' included (felix/rules/dispatch.go).
   */
  fromIface?: string;
  /** The local endpoint the packet goes to, if any (forwarded: the same about a `*` host endpoint). */
  toIface?: string;
  /** Addressed to this host, arriving through this interface (from a local workload: its cali iface and fromIface). */
  toHost?: string;
  /** Sent by this host, leaving through this interface. */
  fromHost?: string;
  /** Forwarded by this host, arriving through this (non-workload) interface: its host endpoint's applyOnForward policy. */
  forwardIn?: string;
  /** Forwarded by this host, leaving through this (non-workload) interface. */
  forwardOut?: string;
}

export interface Verdict {
  verdict: 'allow' | 'deny';
  /** e.g. `egress of default/w1: allowed by GlobalNetworkPolicy allow-dns rule 1`. */
  reason: string;
}

/** `undecided`: a forward, untracked or pre-DNAT policy had no verdict (the packet goes on). */
type Outcome = { allowed: boolean; why: string; undecided?: true };

function inPorts(port: number | undefined, ranges: readonly PortRange[]): boolean {
  return port !== undefined && ranges.some((r) => port >= r.first && port <= r.last);
}

function sideMatches(m: MatchIR, ip: string, port: number | undefined, protocol: number, sets: ReadonlyMap<string, SetIR>): boolean {
  const set = (id: string) => {
    const found = sets.get(id);
    if (!found) throw new InputError(`the IR references set ${id}, which it does not hold`);
    return found;
  };
  const member = (id: string) => {
    const s = set(id);
    if (s.namedPort) throw new InputError(`the IR uses named-port set ${id} as an address set`);
    return s.members.some((cidr) => cidrContains(cidr, ip));
  };
  // A named-port set holds `<address>,<protocol>:<port>`; only a packet of that protocol can be in it.
  const l4 = L4_NAMES[protocol];
  const entry = l4 && port !== undefined ? `${canonicalIp(ip)},${l4}:${port}` : undefined;
  const inNamed = (id: string) => {
    const s = set(id);
    if (!s.namedPort) throw new InputError(`the IR uses address set ${id} as a named-port set`);
    return entry !== undefined && s.members.includes(entry);
  };
  if (m.net && !cidrContains(m.net, ip)) return false;
  if (!m.sets.every(member) || m.notSets.some(member)) return false;
  // Numeric and named ports are ORed (Felix's port match block).
  const named = m.namedPorts ?? [];
  if ((m.ports.length || named.length) && !inPorts(port, m.ports) && !named.some(inNamed)) return false;
  return !inPorts(port, m.notPorts) && !(m.notNamedPorts ?? []).some(inNamed);
}

/** True if every field of the rule matches the packet. */
export function ruleMatches(r: RuleIR, p: Packet, sets: ReadonlyMap<string, SetIR>): boolean {
  if (r.family !== p.family) return false;
  if (r.protocol !== undefined && r.protocol !== p.protocol) return false;
  if (r.notProtocol !== undefined && r.notProtocol === p.protocol) return false;
  const icmpHit = (m: { type: number; code?: number }) => m.type === p.icmpType && (m.code === undefined || m.code === p.icmpCode);
  if (r.icmp && !icmpHit(r.icmp)) return false;
  if (r.notIcmp && icmpHit(r.notIcmp)) return false;
  return sideMatches(r.src, p.src, p.srcPort, p.protocol, sets) && sideMatches(r.dst, p.dst, p.dstPort, p.protocol, sets);
}

/** The first non-log rule of a chain that matches (1-based index among all its rules), if any. */
function decide(chain: ChainIR, p: Packet, sets: ReadonlyMap<string, SetIR>): { action: 'allow' | 'deny' | 'pass'; rule: number } | undefined {
  for (const [i, r] of chain.rules.entries()) {
    if (r.action !== 'log' && ruleMatches(r, p, sets)) return { action: r.action, rule: i + 1 };
  }
  return undefined;
}

/** One direction of an endpoint. `forward`: a host endpoint's forward policy — no profiles, and what no policy decided goes on (allowed). */
function direction(ir: HostPolicyIR, d: DirectionIR, p: Packet, sets: ReadonlyMap<string, SetIR>, forward = false): Outcome {
  const chain = (id: string) => {
    const c = ir.chains.find((x) => x.id === id);
    if (!c) throw new InputError(`the IR references chain ${id}, which it does not hold`);
    return c;
  };
  let passed: string | undefined;
  for (const tier of d.tiers) {
    let decided = false;
    for (const c of tier.policies.map(chain)) {
      const hit = decide(c, p, sets);
      if (!hit) continue;
      const by = `${c.name} rule ${hit.rule}`;
      if (hit.action === 'pass') {
        passed = by;
        decided = true;
        break;
      }
      return { allowed: hit.action === 'allow', why: `${hit.action === 'allow' ? 'allowed' : 'denied'} by ${by}` };
    }
    if (decided) continue;
    if (tier.defaultAction === 'deny') return { allowed: false, why: `denied: end of tier ${tier.name}, no policy allowed it` };
    passed = `the end of tier ${tier.name} (defaultAction Pass)`;
  }
  if (forward) return { allowed: true, undecided: true, why: d.tiers.length ? `no policy decided${passed ? ` (passed by ${passed})` : ''}` : 'no policy' };
  for (const c of d.profiles.map(chain)) {
    const hit = decide(c, p, sets);
    if (hit && hit.action !== 'pass')
      return { allowed: hit.action === 'allow', why: `${hit.action === 'allow' ? 'allowed' : 'denied'} by ${c.name} rule ${hit.rule}${passed ? ` (after pass by ${passed})` : ''}` };
  }
  const none = d.profiles.length ? 'no profile allowed it' : 'no policy and no profile';
  return { allowed: false, why: `denied: ${passed ? `passed by ${passed}, then ` : ''}${none}` };
}

/** A failsafe rule that lets the packet through: its protocol, destination port and (if given) peer net. */
function failsafeHit(rules: FailsafeIR[], p: Packet, peer: string, port: number | undefined = p.dstPort): FailsafeIR | undefined {
  return rules.find((r) => r.protocol === p.protocol && r.port === port && (!r.net || (r.net.includes(':') === (p.family === 6) && cidrContains(r.net, peer))));
}

/**
 * The raw then the mangle table (felix/rules/static.go): a host endpoint's untracked (doNotTrack)
 * policy, then for ingress its pre-DNAT policy, on a packet through `iface` — the verdict of the
 * first that decides, or undefined. A failsafe port (inbound by destination port; in the raw
 * table, replies too, by source port) skips them.
 */
function earlyVerdict(ir: HostPolicyIR, p: Packet, sets: ReadonlyMap<string, SetIR>, iface: string, dir: 'ingress' | 'egress'): Outcome | undefined {
  const { hostEndpoints: heps, failsafe } = hostSide(ir);
  const inbound = dir === 'ingress';
  const peer = inbound ? p.src : p.dst;
  const [mine, replies] = inbound ? [failsafe.inbound, failsafe.outbound] : [failsafe.outbound, failsafe.inbound];
  // The raw table's failsafe rules take replies too: the other list's port as the source port.
  const reply = failsafeHit(replies, p, peer, p.srcPort);
  const untracked = heps.find((h) => h.iface === iface && h.untracked);
  if (untracked && !failsafeHit(mine, p, peer) && !reply) {
    const o = direction(ir, { tiers: untracked.untracked![dir], profiles: [] }, p, sets, true);
    if (!o.undecided) return { ...o, why: `untracked ${dir} of HostEndpoint ${untracked.name}: ${o.why}` };
  }
  const preDnat = inbound ? (heps.find((h) => h.iface === iface && h.preDnat) ?? heps.find((h) => h.iface === ALL_INTERFACES && h.preDnat)) : undefined;
  if (preDnat && !failsafeHit(mine, p, peer)) {
    const o = direction(ir, { tiers: preDnat.preDnat!, profiles: [] }, p, sets, true);
    if (!o.undecided) return { ...o, why: `pre-DNAT ingress of HostEndpoint ${preDnat.name}: ${o.why}` };
  }
  return undefined;
}

/**
 * Traffic between the host itself and an interface (Felix's cali-INPUT / cali-OUTPUT): from a
 * local workload, its egress then DefaultEndpointToHostAction; to a local workload, always
 * allowed; else the interface's host endpoint (or the `*` one): failsafe ports, then its policy.
 * An interface no host endpoint covers is not policed. Conntrack is not modelled.
 */
function hostTraffic(ir: HostPolicyIR, p: Packet, sets: ReadonlyMap<string, SetIR>): Verdict | undefined {
  if (p.toHost === undefined && p.fromHost === undefined) return undefined;
  if (p.fromHost !== undefined && p.toIface !== undefined) return { verdict: 'allow', reason: 'host to its own workload: always allowed' };
  if (p.toHost !== undefined && p.fromIface !== undefined) {
    // INPUT, not FORWARD: the workload's egress only, no host endpoint's forward policy.
    const out = forwarded(ir, { ...p, toHost: undefined }, sets, false);
    if (out.verdict === 'deny') return out;
    const action = hostSide(ir).endpointToHost;
    return { verdict: action === 'drop' ? 'deny' : 'allow', reason: `${out.reason}; to its host: DefaultEndpointToHostAction ${action}` };
  }
  const inbound = p.toHost !== undefined;
  const iface = (inbound ? p.toHost : p.fromHost)!;
  const early = earlyVerdict(ir, p, sets, iface, inbound ? 'ingress' : 'egress');
  if (early) return { verdict: early.allowed ? 'allow' : 'deny', reason: early.why };
  const { hostEndpoints: heps, failsafe } = hostSide(ir);
  const hep = heps.find((h) => h.iface === iface) ?? heps.find((h) => h.iface === ALL_INTERFACES);
  if (!hep) return { verdict: 'allow', reason: `no host endpoint on ${iface}: not policed` };
  const safe = failsafeHit(inbound ? failsafe.inbound : failsafe.outbound, p, inbound ? p.src : p.dst);
  const dir = inbound ? 'ingress' : 'egress';
  if (safe) return { verdict: 'allow', reason: `${dir} of HostEndpoint ${hep.name}: failsafe port ${safe.port}` };
  const o = direction(ir, hep[dir], p, sets);
  return { verdict: o.allowed ? 'allow' : 'deny', reason: `${dir} of HostEndpoint ${hep.name}: ${o.why}` };
}

/** The verdict of the host's policy on one packet. */
export function evaluate(ir: HostPolicyIR, p: Packet): Verdict {
  const sets = new Map(ir.sets.map((s) => [s.id, s]));
  return hostTraffic(ir, p, sets) ?? forwarded(ir, p, sets, true);
}

/**
 * A packet through the local endpoints it names: their egress and ingress policy, and when it is
 * forwarded (`viaForward`: Felix's cali-FORWARD), the host endpoints' forward policy around them.
 */
function forwarded(ir: HostPolicyIR, p: Packet, sets: ReadonlyMap<string, SetIR>, viaForward: boolean): Verdict {
  const endpoint = (iface: string) => {
    const ep = ir.endpoints.find((e) => e.iface === iface);
    if (!ep) throw new InputError(`no local endpoint has interface ${iface}`);
    return ep;
  };
  const reasons: string[] = [];
  // Felix's cali-FORWARD order: the incoming host endpoint's forward policy, the workloads', the outgoing one's.
  const { hostEndpoints: heps } = hostSide(ir);
  const forward = (iface: string | undefined, dir: 'ingress' | 'egress') => {
    if (!viaForward) return true;
    const hep = iface === undefined ? undefined : (heps.find((h) => h.iface === iface) ?? heps.find((h) => h.iface === ALL_INTERFACES));
    // No forward policy in this direction: allowed (Felix: "Allow forwarded traffic by default").
    if (!hep?.forward?.[dir].length) return true;
    const o = direction(ir, { tiers: hep.forward?.[dir] ?? [], profiles: [] }, p, sets, true);
    reasons.push(`forwarded ${dir === 'ingress' ? 'in' : 'out'} through HostEndpoint ${hep.name}: ${o.undecided ? `${o.why}: forwarded` : o.why}`);
    return o.allowed;
  };
  // What an untracked or pre-DNAT policy accepted skips the incoming forward policy (Felix's accept mark), not the workloads'.
  const early = p.forwardIn === undefined ? undefined : earlyVerdict(ir, p, sets, p.forwardIn, 'ingress');
  if (early) reasons.push(early.why);
  if (early && !early.allowed) return { verdict: 'deny', reason: reasons.join('; ') };
  if (!early && !forward(p.forwardIn ?? p.fromIface, 'ingress')) return { verdict: 'deny', reason: reasons.join('; ') };
  const steps: [string | undefined, 'egress' | 'ingress'][] = [
    [p.fromIface, 'egress'],
    [p.toIface, 'ingress'],
  ];
  for (const [iface, dir] of steps) {
    if (iface === undefined) continue;
    const ep = endpoint(iface);
    const o = direction(ir, ep[dir], p, sets);
    reasons.push(`${dir} of ${ep.name}: ${o.why}`);
    if (!o.allowed) return { verdict: 'deny', reason: reasons.join('; ') };
  }
  if (!forward(p.forwardOut ?? p.toIface, 'egress')) return { verdict: 'deny', reason: reasons.join('; ') };
  return { verdict: 'allow', reason: reasons.join('; ') || 'no local endpoint involved' };
}
