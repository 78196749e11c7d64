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
 */
import { cidrContains } from '../net/cidr.js';
import { InputError } from '../util/errors.js';
import type { ChainIR, DirectionIR, Family, HostPolicyIR, MatchIR, PortRange, RuleIR, SetIR } from './ir.js';

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
  /** The local endpoint (host-side iface) the packet comes from, if any. */
  fromIface?: string;
  /** The local endpoint the packet goes to, if any. */
  toIface?: string;
}

export interface Verdict {
  verdict: 'allow' | 'deny';
  /** e.g. `egress of default/w1: allowed by GlobalNetworkPolicy allow-dns rule 1`. */
  reason: string;
}

type Outcome = { allowed: boolean; why: string };

function inPorts(port: number | undefined, ranges: readonly PortRange[]): boolean {
  return port !== undefined && ranges.some((r) => port >= r.first && port <= r.last);
}

function sideMatches(m: MatchIR, ip: string, port: number | undefined, sets: ReadonlyMap<string, SetIR>): boolean {
  const member = (id: string) => {
    const set = sets.get(id);
    if (!set) throw new InputError(`the IR references set ${id}, which it does not hold`);
    return set.members.some((cidr) => cidrContains(cidr, ip));
  };
  if (m.net && !cidrContains(m.net, ip)) return false;
  if (!m.sets.every(member) || m.notSets.some(member)) return false;
  if (m.ports.length && !inPorts(port, m.ports)) return false;
  return !inPorts(port, m.notPorts);
}

/** True if every field of the rule matches the packet. */
export function ruleMatches(r: RuleIR, p: Packet, sets: ReadonlyMap<string, SetIR>): boolean {
  if (r.family !== p.family) return false;
  if (r.protocol !== undefined && r.protocol !== p.protocol) return false;
  if (r.notProtocol !== undefined && r.notProtocol === p.protocol) return false;
  const icmpHit = (m: { type: number; code?: number }) => m.type === p.icmpType && (m.code === undefined || m.code === p.icmpCode);
  if (r.icmp && !icmpHit(r.icmp)) return false;
  if (r.notIcmp && icmpHit(r.notIcmp)) return false;
  return sideMatches(r.src, p.src, p.srcPort, sets) && sideMatches(r.dst, p.dst, p.dstPort, sets);
}

/** The first non-log rule of a chain that matches (1-based index among all its rules), if any. */
function decide(chain: ChainIR, p: Packet, sets: ReadonlyMap<string, SetIR>): { action: 'allow' | 'deny' | 'pass'; rule: number } | undefined {
  for (const [i, r] of chain.rules.entries()) {
    if (r.action !== 'log' && ruleMatches(r, p, sets)) return { action: r.action, rule: i + 1 };
  }
  return undefined;
}

function direction(ir: HostPolicyIR, d: DirectionIR, p: Packet, sets: ReadonlyMap<string, SetIR>): Outcome {
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
  for (const c of d.profiles.map(chain)) {
    const hit = decide(c, p, sets);
    if (hit && hit.action !== 'pass')
      return { allowed: hit.action === 'allow', why: `${hit.action === 'allow' ? 'allowed' : 'denied'} by ${c.name} rule ${hit.rule}${passed ? ` (after pass by ${passed})` : ''}` };
  }
  const none = d.profiles.length ? 'no profile allowed it' : 'no policy and no profile';
  return { allowed: false, why: `denied: ${passed ? `passed by ${passed}, then ` : ''}${none}` };
}

/** The verdict of the host's policy on one packet. */
export function evaluate(ir: HostPolicyIR, p: Packet): Verdict {
  const sets = new Map(ir.sets.map((s) => [s.id, s]));
  const endpoint = (iface: string) => {
    const ep = ir.endpoints.find((e) => e.iface === iface);
    if (!ep) throw new InputError(`no local endpoint has interface ${iface}`);
    return ep;
  };
  const reasons: string[] = [];
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
  return { verdict: 'allow', reason: reasons.join('; ') || 'no local endpoint involved' };
}
