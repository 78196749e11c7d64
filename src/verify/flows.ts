/**
 * Proves from a capture that traffic between workloads crossed the fabric as plain routed IP,
 * the way Calico's pure layer-3 model says it does. Pure: packets and an expectation in, a
 * report out.
 *
 * Three checks, on every packet whose outer source or destination is a workload address or that
 * carries an encapsulation:
 *   (a) no encapsulation: VXLAN, IP-in-IP, GRE, ESP, Geneve, WireGuard are all violations;
 *   (b) no NAT: when the capture window carried only workload-to-workload traffic, a packet
 *       between a workload and a host address (of another host) can only be NAT, and so can a
 *       workload talking to an address that is neither; and each expected flow must appear
 *       with exactly its own two addresses (NAT that rewrites them makes it "not observed");
 *   (c) routed hop: the Ethernet source and destination are two different hosts' fabric MACs.
 * (b) and (c) skip packets to multicast or broadcast addresses (neighbour discovery, MLD): they
 * never leave the link, so there is no flow to NAT or route.
 */
import { canonicalIp, canonicalMac, type InnerPacket, type IpInfo, type L4Info, type Packet } from './pcap.js';

export interface ExpectedFlow {
  /** Source: an address, or a workload's name. */
  from: string;
  /** Destination: an address, or a workload's name. */
  to: string;
  /** Only packets of this protocol count (default: any). */
  protocol?: 'tcp' | 'udp' | 'icmp' | 'icmpv6';
}

export interface FlowExpectation {
  /** `host` (the host's name) lets the NAT check tell a host talking to its own workload apart. */
  workloads: { name: string; ip: string; ips?: string[]; host?: string }[];
  /** Every machine that routes on the captured link (hosts, and routers if any) with its fabric MAC. */
  hosts: { name: string; mac: string; macs?: string[]; ip?: string; ips?: string[] }[];
  /** Flows that must be seen, unencapsulated, with exactly these addresses. */
  expectedFlows?: ExpectedFlow[];
  /**
   * The capture window carried only workload-to-workload traffic, so a workload talking to a
   * host address of another host (or to an unknown address) is NAT. Default: true when
   * `expectedFlows` is given and all of them are between workloads, false otherwise.
   */
  onlyWorkloadTraffic?: boolean;
}

export interface FlowResult {
  /** e.g. `tcp 198.18.0.5:40312 > 198.18.1.7:7777`, with ` [vxlan vni 42: ...]` for encapsulated packets. */
  key: string;
  src: string;
  dst: string;
  protocol: string;
  packets: number;
  /** The flow's first packet. */
  sample: Packet;
  ok: boolean;
  problems: string[];
}

export interface FlowReport {
  ok: boolean;
  /** Packets that involve a workload address or carry an encapsulation. */
  packetsInspected: number;
  flows: FlowResult[];
  /** One line each: what is wrong, with the flow, its packet count and first packet number. */
  violations: string[];
  /** What could not be checked (never a failure), e.g. MACs in a cooked capture. */
  notes: string[];
}

interface Problem {
  text: string;
  count: number;
  first: number;
}

interface FlowAcc {
  result: FlowResult;
  problems: Map<string, Problem>;
}

export function checkCapture(packets: Packet[], exp: FlowExpectation): FlowReport {
  const workloadByIp = new Map<string, { name: string; host?: string }>();
  for (const w of exp.workloads) {
    for (const ip of [w.ip, ...(w.ips ?? [])]) {
      const c = canonicalIp(ip);
      if (c) workloadByIp.set(c, { name: w.name, ...(w.host ? { host: w.host } : {}) });
    }
  }
  const hostByIp = new Map<string, string>();
  const hostByMac = new Map<string, string>();
  for (const h of exp.hosts) {
    for (const ip of [h.ip, ...(h.ips ?? [])]) {
      const c = ip ? canonicalIp(ip) : undefined;
      if (c) hostByIp.set(c, h.name);
    }
    for (const m of [h.mac, ...(h.macs ?? [])]) {
      const c = canonicalMac(m);
      if (c) hostByMac.set(c, h.name);
    }
  }
  const notes: string[] = [];
  const violations: string[] = [];

  const resolve = (s: string): string => canonicalIp(s) ?? exp.workloads.find((w) => w.name === s)?.ip ?? s;
  const expected = (exp.expectedFlows ?? []).map((f) => ({ ...f, from: canonicalIp(resolve(f.from)) ?? f.from, to: canonicalIp(resolve(f.to)) ?? f.to }));
  const onlyWorkloadTraffic = exp.onlyWorkloadTraffic ?? (expected.length > 0 && expected.every((f) => workloadByIp.has(f.from) && workloadByIp.has(f.to)));

  const describe = (ip: string): string => {
    const w = workloadByIp.get(ip);
    if (w) return `${ip} (workload ${w.name}${w.host ? ` on ${w.host}` : ''})`;
    const h = hostByIp.get(ip);
    if (h) return `${ip} (${h}'s host address)`;
    return ip;
  };
  const describeMac = (m: string | undefined): string => (m ? `${m} (${hostByMac.get(m) ?? 'not a host'})` : 'unknown');

  const flows = new Map<string, FlowAcc>();
  let inspected = 0;
  let macUnchecked = 0;
  for (const p of packets) {
    const ip = p.ip;
    if (!ip) continue;
    if (!workloadByIp.has(ip.src) && !workloadByIp.has(ip.dst) && !p.encapsulation) continue;
    inspected++;
    const key = flowKey(ip, p.l4) + (p.encapsulation ? ` [${encapText(p.encapsulation.kind, p.encapsulation.vni, p.encapsulation.inner)}]` : '');
    let acc = flows.get(key);
    if (!acc) {
      acc = { result: { key, src: ip.src, dst: ip.dst, protocol: protoName(ip, p.l4), packets: 0, sample: p, ok: true, problems: [] }, problems: new Map() };
      flows.set(key, acc);
    }
    acc.result.packets++;
    const problem = (kind: string, text: string) => {
      const have = acc!.problems.get(kind);
      if (have) have.count++;
      else acc!.problems.set(kind, { text, count: 1, first: p.index });
    };

    // (a) no encapsulation
    if (p.encapsulation) {
      const e = p.encapsulation;
      const inner = e.inner ? `inner ${e.inner.src} > ${e.inner.dst} ${protoName(e.inner, e.inner.l4)}` : 'inner packet not decodable';
      problem('encap', `encapsulated (${encapText(e.kind, e.vni)}): outer ${ip.src} > ${ip.dst}, ${inner}`);
    }

    // Multicast and broadcast (neighbour discovery, MLD...) stay on the link: no flow to NAT or route.
    const linkScope = isGroupAddress(ip.dst);

    // (b) no NAT: a workload's peer must be a workload when only workload traffic is expected
    if (onlyWorkloadTraffic && !linkScope) {
      const ws = workloadByIp.get(ip.src);
      const wd = workloadByIp.get(ip.dst);
      if (ws && !wd) {
        problem('nat', natText(ip.src, ip.dst, 'destination', ws.host, hostByIp.get(ip.dst), describe));
      } else if (wd && !ws) {
        problem('nat', natText(ip.dst, ip.src, 'source', wd.host, hostByIp.get(ip.src), describe));
      }
    }

    // (c) routed hop: two different hosts' MACs
    if (hostByMac.size > 0 && !linkScope) {
      if (!p.src_mac || !p.dst_mac) {
        macUnchecked++;
      } else {
        const hs = hostByMac.get(p.src_mac);
        const hd = hostByMac.get(p.dst_mac);
        if (!hs || !hd) {
          problem('mac', `not a routed hop: Ethernet ${describeMac(p.src_mac)} > ${describeMac(p.dst_mac)}: both must be hosts' fabric MACs`);
        } else if (hs === hd) {
          problem('mac', `not a routed hop: Ethernet ${p.src_mac} > ${p.dst_mac} are both ${hs}'s: the source and destination must be two different hosts`);
        }
      }
    }
  }
  if (hostByMac.size === 0 && inspected > 0) notes.push('routed-hop check skipped: the expectation names no host MAC');
  if (macUnchecked > 0) notes.push(`routed-hop check skipped for ${macUnchecked} packet(s) without both Ethernet addresses (a Linux cooked or raw-IP capture)`);

  const results: FlowResult[] = [];
  for (const acc of flows.values()) {
    for (const pr of acc.problems.values()) {
      acc.result.problems.push(pr.text);
      violations.push(`${pr.text} — flow ${acc.result.key}, ${pr.count} of ${acc.result.packets} packet(s), first #${pr.first}`);
    }
    acc.result.ok = acc.result.problems.length === 0;
    results.push(acc.result);
  }

  // (b') every expected flow appears, plain, with exactly its own addresses
  for (const f of expected) {
    const matches = (x: IpInfo & { l4?: L4Info }) => x.src === f.from && x.dst === f.to && (!f.protocol || protoName(x, x.l4) === f.protocol);
    const what = `expected flow ${describe(f.from)} > ${describe(f.to)}${f.protocol ? ` (${f.protocol})` : ''}`;
    if (packets.some((p) => p.ip && matches({ ...p.ip, ...(p.l4 ? { l4: p.l4 } : {}) }))) continue;
    const encapsulated = packets.find((p) => innerChain(p.encapsulation?.inner).some(matches));
    if (encapsulated) {
      violations.push(`${what} seen only inside ${encapsulated.encapsulation!.kind} encapsulation (first #${encapsulated.index}), never as plain IP`);
      continue;
    }
    const sameProto = (p: Packet) => !f.protocol || (p.ip !== undefined && protoName(p.ip, p.l4) === f.protocol);
    const otherSrcs = distinct(packets.filter((p) => p.ip?.dst === f.to && sameProto(p)).map((p) => p.ip!.src));
    const otherDsts = distinct(packets.filter((p) => p.ip?.src === f.from && sameProto(p)).map((p) => p.ip!.dst));
    const hints: string[] = [];
    if (otherSrcs.length) hints.push(`packets to ${f.to} came from ${list(otherSrcs, describe)} instead`);
    if (otherDsts.length) hints.push(`packets from ${f.from} went to ${list(otherDsts, describe)} instead`);
    violations.push(`${what} not observed${hints.length ? `: ${hints.join('; ')} (NAT?)` : ` in ${packets.length} packet(s)`}`);
  }

  return { ok: violations.length === 0, packetsInspected: inspected, flows: results, violations, notes };
}

/** IPv4 multicast (224.0.0.0/4) or limited broadcast, IPv6 multicast (ff00::/8). */
function isGroupAddress(ip: string): boolean {
  if (ip.includes(':')) return ip.startsWith('ff');
  const first = Number(ip.split('.')[0]);
  return (first >= 224 && first <= 239) || ip === '255.255.255.255';
}

function natText(wIp: string, otherIp: string, otherSide: 'source' | 'destination', wHost: string | undefined, otherHost: string | undefined, describe: (ip: string) => string): string {
  const pair = otherSide === 'source' ? `${describe(otherIp)} > ${describe(wIp)}` : `${describe(wIp)} > ${describe(otherIp)}`;
  if (otherHost && wHost && otherHost === wHost) {
    // A host talking to its own workload is not NAT, but it is not workload-to-workload traffic either.
    return `unexpected traffic: ${pair}: only workload-to-workload traffic was expected`;
  }
  if (otherHost) return `NAT suspected: ${pair}: only workload-to-workload traffic was expected, so the ${otherSide} must be a workload's own address, not a host's`;
  return `NAT suspected: ${pair}: the ${otherSide} is neither a workload nor a host, and only workload-to-workload traffic was expected`;
}

function protoName(ip: { protocol: number }, l4?: L4Info): string {
  if (l4 && l4.protocol !== 'other') return l4.protocol;
  switch (ip.protocol) {
    case 6:
      return 'tcp';
    case 17:
      return 'udp';
    case 1:
      return 'icmp';
    case 58:
      return 'icmpv6';
    default:
      return `proto ${ip.protocol}`;
  }
}

function endpoint(ip: string, port: number | undefined): string {
  if (port === undefined) return ip;
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

function flowKey(ip: IpInfo, l4: L4Info | undefined): string {
  const proto = protoName(ip, l4);
  const frag = ip.fragment && ip.fragment.offset > 0 ? ' (fragment)' : '';
  if (l4 && (l4.protocol === 'icmp' || l4.protocol === 'icmpv6')) {
    const id = l4.icmpId !== undefined ? ` id ${l4.icmpId}` : l4.icmpType !== undefined ? ` type ${l4.icmpType}` : '';
    return `${proto} ${ip.src} > ${ip.dst}${id}${frag}`;
  }
  return `${proto} ${endpoint(ip.src, l4?.srcPort)} > ${endpoint(ip.dst, l4?.dstPort)}${frag}`;
}

function encapText(kind: string, vni: number | undefined, inner?: InnerPacket): string {
  const id = vni === undefined ? '' : kind === 'gre' ? ` key ${vni}` : ` vni ${vni}`;
  return `${kind}${id}${inner ? `: ${flowKey(inner, inner.l4)}` : ''}`;
}

function innerChain(inner: InnerPacket | undefined): InnerPacket[] {
  const out: InnerPacket[] = [];
  for (let i = inner; i; i = i.encapsulation?.inner) out.push(i);
  return out;
}

function distinct(xs: string[]): string[] {
  return [...new Set(xs)];
}

function list(xs: string[], describe: (ip: string) => string): string {
  const shown = xs.slice(0, 3).map(describe).join(', ');
  return xs.length > 3 ? `${shown} and ${xs.length - 3} more` : shown;
}
