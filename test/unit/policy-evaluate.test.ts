import { describe, expect, it } from 'vitest';
import { evaluate, type Packet } from '../../src/policy/evaluate.js';
import type { HostPolicyIR, MatchIR, RuleIR } from '../../src/policy/ir.js';
import { defaultTierOf } from '../../src/policy/ir.js';
import { resolvePolicy, type PolicySnapshot } from '../../src/policy/resolve.js';
import { resourcesFrom, tenantsSnapshot, wep } from '../fixtures/policy/cluster.js';

// Addresses of the tenants fixture: on h1 a-web .1/::1, a-client .2/::2, b-client .3; on h2
// a-client2 .65, b-web .66.
const IFACE = { aWeb: 'cali00000000a01', aClient: 'cali00000000a02', bClient: 'cali00000000b01' };
const tcp = (src: string, dst: string, dstPort: number, o: Partial<Packet> = {}): Packet => ({ family: 4, src, dst, protocol: 6, srcPort: 40000, dstPort, ...o });
const ping = (src: string, dst: string, o: Partial<Packet> = {}): Packet => ({ family: 4, src, dst, protocol: 1, icmpType: 8, icmpCode: 0, ...o });

describe('evaluate: the tenants fixture on h1', () => {
  const ir = resolvePolicy(tenantsSnapshot(), 'h1');
  const v = (p: Packet) => evaluate(ir, p);

  it('a client reaches the web server on its ports; the web policy denies other ports', () => {
    expect(v(tcp('198.19.0.2', '198.19.0.1', 80, { fromIface: IFACE.aClient, toIface: IFACE.aWeb }))).toEqual({
      verdict: 'allow',
      reason: 'egress of tenant-a/a-client: allowed by Profile kns.tenant-a rule 1; ingress of tenant-a/a-web: allowed by NetworkPolicy tenant-a/web rule 1',
    });
    expect(v(tcp('198.19.0.65', '198.19.0.1', 8080, { toIface: IFACE.aWeb })).verdict).toBe('allow');
    expect(v(tcp('198.19.0.65', '198.19.0.1', 8081, { toIface: IFACE.aWeb }))).toEqual({
      verdict: 'deny',
      reason: 'ingress of tenant-a/a-web: denied by NetworkPolicy tenant-a/web rule 3',
    });
    expect(v(tcp('198.19.0.65', '198.19.0.1', 7999, { toIface: IFACE.aWeb })).verdict).toBe('deny');
  });

  it('IPv6 follows the IPv6 rules and sets', () => {
    expect(v(tcp('2001:db8:1::2', '2001:db8:1::1', 80, { family: 6, toIface: IFACE.aWeb })).verdict).toBe('allow');
    expect(v(tcp('2001:db8:1::9', '2001:db8:1::1', 80, { family: 6, toIface: IFACE.aWeb })).verdict).toBe('deny');
    expect(v({ family: 6, src: '2001:db8:1::9', dst: '2001:db8:1::1', protocol: 58, icmpType: 128, icmpCode: 0, toIface: IFACE.aWeb }).verdict).toBe('allow');
  });

  it('namespaced rule selector: a client of another tenant is not a client of tenant-a', () => {
    // b-client's own profile (tenant-b) lets everything out; a-web then denies.
    expect(v(tcp('198.19.0.3', '198.19.0.1', 80, { fromIface: IFACE.bClient, toIface: IFACE.aWeb }))).toEqual({
      verdict: 'deny',
      reason:
        'egress of tenant-b/b-client: allowed by Profile kns.tenant-b rule 1 (after pass by GlobalNetworkPolicy b-outside rule 3); ingress of tenant-a/a-web: denied by NetworkPolicy tenant-a/web rule 3',
    });
    expect(v(tcp('198.19.0.66', '198.19.0.1', 80, { toIface: IFACE.aWeb })).reason).toBe('ingress of tenant-a/a-web: denied by NetworkPolicy tenant-a/web rule 3');
  });

  it('ICMP type: echo requests allowed by policy, other types go on (and here are denied)', () => {
    expect(v(ping('198.19.0.66', '198.19.0.1', { toIface: IFACE.aWeb })).reason).toBe('ingress of tenant-a/a-web: allowed by GlobalNetworkPolicy allow-ping rule 1');
    expect(v(ping('198.19.0.66', '198.19.0.1', { icmpType: 0, toIface: IFACE.aWeb })).verdict).toBe('deny');
  });

  it('Pass goes to the profiles: tenant-a lets tenant-a in, not tenant-b', () => {
    expect(v(tcp('198.19.0.65', '198.19.0.2', 22, { toIface: IFACE.aClient }))).toEqual({
      verdict: 'allow',
      reason: 'ingress of tenant-a/a-client: allowed by Profile kns.tenant-a rule 1 (after pass by GlobalNetworkPolicy to-profiles rule 1)',
    });
    expect(v(tcp('198.19.0.66', '198.19.0.2', 22, { toIface: IFACE.aClient }))).toEqual({
      verdict: 'deny',
      reason: 'ingress of tenant-a/a-client: denied: passed by GlobalNetworkPolicy to-profiles rule 1, then no profile allowed it',
    });
  });

  it('egress policy with nets and ports: DNS to one address allowed, the rest of the range denied', () => {
    const out = (dst: string, protocol: number, dstPort: number) => v({ family: 4, src: '198.19.0.3', dst, protocol, srcPort: 5353, dstPort, fromIface: IFACE.bClient });
    expect(out('198.18.255.53', 17, 53).reason).toBe('egress of tenant-b/b-client: allowed by GlobalNetworkPolicy b-outside rule 1');
    expect(out('198.18.255.53', 6, 53).reason).toBe('egress of tenant-b/b-client: denied by GlobalNetworkPolicy b-outside rule 2');
    expect(out('198.18.255.54', 17, 53).verdict).toBe('deny');
    // Outside the range: passed to the profile, which lets everything out.
    expect(out('198.18.254.1', 6, 443).reason).toBe('egress of tenant-b/b-client: allowed by Profile kns.tenant-b rule 1 (after pass by GlobalNetworkPolicy b-outside rule 3)');
  });

  it('a packet between no local endpoints is not policed; an unknown iface is an error', () => {
    expect(v(tcp('198.19.0.65', '198.19.0.66', 80))).toEqual({ verdict: 'allow', reason: 'no local endpoint involved' });
    expect(() => v(tcp('198.19.0.65', '198.19.0.1', 80, { toIface: 'cali-nope' }))).toThrow('no local endpoint has interface cali-nope');
  });
});

describe('evaluate: Calico semantics on small policies', () => {
  const V3 = 'apiVersion: projectcalico.org/v3';
  const gnp = (name: string, spec: string) => `${V3}\nkind: GlobalNetworkPolicy\nmetadata: {name: ${name}}\nspec:\n${spec.replace(/^/gm, '  ')}\n`;
  const np = (ns: string, name: string, spec: string) => `${V3}\nkind: NetworkPolicy\nmetadata: {name: ${name}, namespace: ${ns}}\nspec:\n${spec.replace(/^/gm, '  ')}\n`;
  const profile = (name: string, spec: string) => `${V3}\nkind: Profile\nmetadata: {name: ${name}}\nspec:\n${spec.replace(/^/gm, '  ')}\n`;
  const ALLOW_ALL = profile('kns.default', 'ingress: [{action: Allow}]\negress: [{action: Allow}]');
  /** Two local endpoints: w1 (.1, app a) and w2 (.2, app b), namespace default, profile kns.default; w3 (.3) in ns other, elsewhere. */
  const irOf = (...docs: string[]): HostPolicyIR => {
    const snap: PolicySnapshot = {
      ...resourcesFrom(docs.join('---\n')),
      workloadEndpoints: [
        wep('w1', { node: 'h1', iface: 'cali1', ips: ['198.19.0.1/32', '2001:db8:1::1/128'], labels: { app: 'a' } }),
        wep('w2', { node: 'h1', iface: 'cali2', ips: ['198.19.0.2/32', '2001:db8:1::2/128'], labels: { app: 'b' } }),
        wep('w3', { ns: 'other', node: 'h2', iface: 'cali3', ips: ['198.19.0.3/32'], labels: { app: 'a' } }),
      ],
    };
    return resolvePolicy(snap, 'h1');
  };
  const to1 = (src: string, o: Partial<Packet> = {}) => tcp(src, '198.19.0.1', 80, { toIface: 'cali1', ...o });

  it('an endpoint no policy selects follows its profiles; no profile at all → deny', () => {
    expect(evaluate(irOf(ALLOW_ALL), to1('198.19.0.9')).reason).toBe('ingress of default/w1: allowed by Profile kns.default rule 1');
    expect(evaluate(irOf(), to1('198.19.0.9'))).toEqual({ verdict: 'deny', reason: 'ingress of default/w1: denied: no policy and no profile' });
    expect(evaluate(irOf(profile('kns.default', 'egress: [{action: Allow}]')), to1('198.19.0.9')).reason).toBe('ingress of default/w1: denied: no profile allowed it');
  });

  it('a policy that applies but matches nothing denies, even if the profile would allow', () => {
    const ir = irOf(ALLOW_ALL, gnp('only-udp', 'ingress: [{action: Allow, protocol: UDP}]'));
    expect(evaluate(ir, to1('198.19.0.9'))).toEqual({ verdict: 'deny', reason: 'ingress of default/w1: denied: end of tier default, no policy allowed it' });
  });

  it('first matching rule decides; Log goes on to the next rule', () => {
    const ir = irOf(gnp('p', 'ingress:\n- {action: Log}\n- {action: Deny, protocol: TCP, destination: {ports: [80]}}\n- {action: Allow}'));
    expect(evaluate(ir, to1('198.19.0.9')).reason).toBe('ingress of default/w1: denied by GlobalNetworkPolicy p rule 3');
    expect(evaluate(ir, to1('198.19.0.9', { dstPort: 81 })).reason).toBe('ingress of default/w1: allowed by GlobalNetworkPolicy p rule 5');
  });

  it('order ties are broken by name; unset order comes last', () => {
    const deny = 'order: 10\ningress: [{action: Deny}]';
    const allow = 'order: 10\ningress: [{action: Allow}]';
    expect(evaluate(irOf(gnp('a-deny', deny), gnp('b-allow', allow)), to1('198.19.0.9')).verdict).toBe('deny');
    expect(evaluate(irOf(gnp('b-deny', deny), gnp('a-allow', allow)), to1('198.19.0.9')).verdict).toBe('allow');
    expect(evaluate(irOf(gnp('a-unordered', 'ingress: [{action: Deny}]'), gnp('z-ordered', 'order: 1000\ningress: [{action: Allow}]')), to1('198.19.0.9')).verdict).toBe('allow');
  });

  it('a policy selecting the endpoint only for Egress leaves Ingress to the profiles', () => {
    const ir = irOf(profile('kns.default', 'ingress: [{action: Allow}]'), gnp('out', 'types: [Egress]\negress: [{action: Deny}]'));
    expect(evaluate(ir, to1('198.19.0.9')).reason).toBe('ingress of default/w1: allowed by Profile kns.default rule 1');
    expect(evaluate(ir, tcp('198.19.0.1', '198.19.0.9', 80, { fromIface: 'cali1' })).reason).toBe('egress of default/w1: denied by GlobalNetworkPolicy out rule 1');
  });

  it('both ends local: egress of the source first, then ingress of the destination', () => {
    const ir = irOf(ALLOW_ALL, gnp('no-b-in', 'selector: app == "b"\ningress: [{action: Deny}]'));
    const p = tcp('198.19.0.1', '198.19.0.2', 80, { fromIface: 'cali1', toIface: 'cali2' });
    expect(evaluate(ir, p)).toEqual({
      verdict: 'deny',
      reason: 'egress of default/w1: allowed by Profile kns.default rule 1; ingress of default/w2: denied by GlobalNetworkPolicy no-b-in rule 1',
    });
  });

  it('notNets and notSelector exclude; selectors of a NetworkPolicy keep to its namespace', () => {
    const ir = irOf(
      np('default', 'in', 'selector: app == "a"\ningress:\n- {action: Allow, source: {selector: app == "a", notNets: [198.19.0.0/31]}}\n- {action: Allow, source: {notSelector: app == "b"}}'),
    );
    // w3 has app a but lives in namespace other: neither rule matches it.
    expect(evaluate(ir, to1('198.19.0.3')).verdict).toBe('deny');
    // w1 itself is app a but inside the notNets.
    // (rule 2 of the IR: the first rule has no IPv6 version, its notNets being IPv4 only)
    expect(evaluate(ir, to1('198.19.0.1')).reason).toBe('ingress of default/w1: allowed by NetworkPolicy default/in rule 2');
    // w2 is app b: excluded by the notSelector; an address outside the cluster is in no namespace.
    expect(evaluate(ir, to1('198.19.0.2')).verdict).toBe('deny');
    expect(evaluate(ir, to1('198.18.255.1')).verdict).toBe('deny');
    // The same rules in a global policy: every namespace, and a notSelector alone matches outside addresses.
    const g = irOf(gnp('in', 'selector: app == "a"\ningress:\n- {action: Allow, source: {selector: app == "a"}}\n- {action: Allow, source: {notSelector: app == "b"}}'));
    expect(evaluate(g, to1('198.19.0.3')).reason).toBe('ingress of default/w1: allowed by GlobalNetworkPolicy in rule 1');
    expect(evaluate(g, to1('198.18.255.1')).reason).toBe('ingress of default/w1: allowed by GlobalNetworkPolicy in rule 3');
    expect(evaluate(g, to1('198.19.0.2')).verdict).toBe('deny');
  });

  it('port ranges and notPorts, source and destination', () => {
    const ir = irOf(gnp('ports', 'ingress:\n- {action: Allow, protocol: TCP, source: {notPorts: ["0:1023"]}, destination: {ports: ["8000:8080", 443], notPorts: [8008]}}'));
    const at = (dstPort: number, srcPort = 40000) => evaluate(ir, to1('198.19.0.9', { dstPort, srcPort })).verdict;
    expect([at(8000), at(8080), at(443), at(8008), at(7999), at(8081), at(443, 1023), at(443, 1024)]).toEqual(['allow', 'allow', 'allow', 'deny', 'deny', 'deny', 'deny', 'allow']);
  });

  it('ICMP type and code, and notICMP', () => {
    const ir = irOf(gnp('icmp', 'ingress:\n- {action: Allow, protocol: ICMP, icmp: {type: 3, code: 4}}\n- {action: Allow, protocol: ICMP, notICMP: {type: 3}}'));
    const at = (icmpType: number, icmpCode: number) => evaluate(ir, ping('198.19.0.9', '198.19.0.1', { icmpType, icmpCode, toIface: 'cali1' })).verdict;
    expect([at(3, 4), at(3, 1), at(8, 0), at(0, 0)]).toEqual(['allow', 'deny', 'allow', 'allow']);
    // ICMP rules are IPv4 only: an ICMPv6 echo request matches neither.
    expect(evaluate(ir, { family: 6, src: '2001:db8::9', dst: '2001:db8:1::1', protocol: 58, icmpType: 128, toIface: 'cali1' }).verdict).toBe('deny');
  });

  it('families: an IPv4-only rule does not match IPv6; protocol and notProtocol', () => {
    const ir = irOf(gnp('fam', 'ingress:\n- {action: Allow, ipVersion: 4, notProtocol: UDP}'));
    expect(evaluate(ir, to1('198.19.0.9')).verdict).toBe('allow');
    expect(evaluate(ir, to1('198.19.0.9', { protocol: 17 })).verdict).toBe('deny');
    expect(evaluate(ir, tcp('2001:db8::9', '2001:db8:1::1', 80, { family: 6, toIface: 'cali1' })).verdict).toBe('deny');
  });
});

describe('evaluate: on a hand-made IR', () => {
  const any: MatchIR = { sets: [], notSets: [], ports: [], notPorts: [] };
  const rule = (action: RuleIR['action'], o: Partial<RuleIR> = {}): RuleIR => ({ family: 4, action, src: any, dst: any, ...o });
  const ir: HostPolicyIR = {
    sets: [{ id: 's1', family: 4, members: ['10.0.0.0/8'], source: 'nets 10.0.0.0/8' }],
    chains: [
      { id: 'p1', kind: 'policy', direction: 'ingress', name: 'GlobalNetworkPolicy p1', rules: [rule('pass', { src: { ...any, sets: ['s1'] } })] },
      { id: 'r1', kind: 'profile', direction: 'ingress', name: 'Profile r1', rules: [rule('pass'), rule('deny', { protocol: 17 })] },
      { id: 'r2', kind: 'profile', direction: 'ingress', name: 'Profile r2', rules: [rule('allow')] },
    ],
    endpoints: [{ iface: 'cali1', name: 'default/w1', ingress: { tiers: defaultTierOf(['p1']), profiles: ['r1', 'r2'] }, egress: { tiers: [], profiles: [] } }],
  };

  it('pass in a profile goes on to the next profile; a policy pass skips to the profiles', () => {
    expect(evaluate(ir, tcp('10.1.1.1', '198.19.0.1', 80, { toIface: 'cali1' })).reason).toBe('ingress of default/w1: allowed by Profile r2 rule 1 (after pass by GlobalNetworkPolicy p1 rule 1)');
    expect(evaluate(ir, tcp('192.0.2.1', '198.19.0.1', 80, { toIface: 'cali1' })).reason).toBe('ingress of default/w1: denied: end of tier default, no policy allowed it');
  });

  it('tiers: allow ends every tier; a pass, or a tier whose defaultAction is Pass, goes on to the next tier; Deny drops at the end of its tier', () => {
    const tiered: HostPolicyIR = {
      ...ir,
      chains: [
        ...ir.chains,
        { id: 'udp', kind: 'policy', direction: 'ingress', name: 'GlobalNetworkPolicy no-udp', rules: [rule('deny', { protocol: 17 })] },
        { id: 'p80', kind: 'policy', direction: 'ingress', name: 'GlobalNetworkPolicy web', rules: [rule('allow', { protocol: 6, dst: { ...any, ports: [{ first: 80, last: 80 }] } })] },
      ],
      endpoints: [
        {
          iface: 'cali1',
          name: 'default/w1',
          ingress: {
            tiers: [
              { name: 'security', policies: ['udp'], defaultAction: 'pass' },
              { name: 'platform', policies: ['p1'], defaultAction: 'deny' },
              { name: 'default', policies: ['p80'], defaultAction: 'deny' },
            ],
            profiles: ['r2'],
          },
          egress: { tiers: [], profiles: [] },
        },
      ],
    };
    const udp = { family: 4 as const, src: '10.1.1.1', dst: '198.19.0.1', protocol: 17, dstPort: 53, toIface: 'cali1' };
    expect(evaluate(tiered, udp).reason).toBe('ingress of default/w1: denied by GlobalNetworkPolicy no-udp rule 1');
    // security passes at its end (Pass), platform's policy passes 10/8, default allows port 80.
    expect(evaluate(tiered, tcp('10.1.1.1', '198.19.0.1', 80, { toIface: 'cali1' })).reason).toBe('ingress of default/w1: allowed by GlobalNetworkPolicy web rule 1');
    // From outside 10/8 nothing in platform decides: its end-of-tier Deny drops it before default's allow.
    expect(evaluate(tiered, tcp('192.0.2.1', '198.19.0.1', 80, { toIface: 'cali1' })).reason).toBe('ingress of default/w1: denied: end of tier platform, no policy allowed it');
    // 10/8 to port 22: passed by platform, default decides nothing: denied at the end of default, the profile is not reached.
    expect(evaluate(tiered, tcp('10.1.1.1', '198.19.0.1', 22, { toIface: 'cali1' })).verdict).toBe('deny');
  });

  it('refuses an IR that references what it does not hold', () => {
    const broken: HostPolicyIR = { ...ir, sets: [] };
    expect(() => evaluate(broken, tcp('10.1.1.1', '198.19.0.1', 80, { toIface: 'cali1' }))).toThrow('the IR references set s1, which it does not hold');
  });
});
