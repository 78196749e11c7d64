import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expectGolden as expectGoldenFile } from '../helpers/golden.js';
import { describe, expect, it } from 'vitest';
import type { ChainIR, HostPolicyIR, MatchIR, PortRange, RuleIR } from '../../src/policy/ir.js';
import { defaultTierOf } from '../../src/policy/ir.js';
import { EMPTY_POLICY } from '../../src/policy/ir.js';
import { compileIptables, hooksOf, portChunks, renderDelta, renderFull, renderRemove, type RestorePlan } from '../../src/policy/iptables.js';
import { InputError } from '../../src/util/errors.js';

const GOLDEN = fileURLToPath(new URL('./golden/policy-iptables/', import.meta.url));

const expectGolden = (name: string, text: string) => expectGoldenFile(join(GOLDEN, name), text);

/** A plan as one readable text: each tool's input under a header. */
const show = (p: RestorePlan) =>
  [`# chains ${p.chains}, sets ${p.sets}, noflush ${p.noflush}`, ['ipset restore', p.ipset], [`iptables-restore`, p.v4], ['ip6tables-restore', p.v6], ['ipset restore (after)', p.ipsetAfter]]
    .map((s) => (typeof s === 'string' ? `${s}\n` : `# ---- ${s[0]}\n${s[1]}`))
    .join('');

const any = (): MatchIR => ({ sets: [], notSets: [], ports: [], notPorts: [] });
const m = (over: Partial<MatchIR>): MatchIR => ({ ...any(), ...over });
const rule = (family: 4 | 6, action: RuleIR['action'], over: Partial<RuleIR> = {}): RuleIR => ({ family, action, src: any(), dst: any(), ...over });
const p = (first: number, last = first): PortRange => ({ first, last });
const rule4allow = (over: Partial<RuleIR>) => rule(4, 'allow', over);

/** 17 ports and ranges (23 multiport slots): two lines. */
const manyPorts = [p(20, 21), p(22), p(25), p(53), p(80), p(110), p(143), p(443), p(465), p(587), p(993), p(995), p(3306), p(5432), p(6379), p(8000, 8099), p(9000, 9100)];

const chains: ChainIR[] = [
  {
    id: 'gnpdefault',
    kind: 'policy',
    direction: 'ingress',
    name: 'GlobalNetworkPolicy default-pass',
    rules: [rule(4, 'deny', { protocol: 6, src: m({ notSets: ['fabric4'] }), dst: m({ ports: [p(22)] }) }), rule(4, 'pass', { src: m({ sets: ['fabric4'] }) }), rule(6, 'pass')],
  },
  {
    id: 'npweb',
    kind: 'policy',
    direction: 'ingress',
    name: 'NetworkPolicy tenant-a/web',
    rules: [
      rule(4, 'log', { protocol: 6, src: m({ sets: ['web4'] }) }),
      rule(4, 'allow', { protocol: 6, src: m({ sets: ['web4', 'nets4'] }), dst: m({ ports: manyPorts, notPorts: [...manyPorts.slice(0, 10), p(8080)] }) }),
      rule(6, 'allow', { protocol: 6, src: m({ sets: ['web6'] }), dst: m({ ports: [p(80), p(443)] }) }),
      rule(4, 'allow', { protocol: 1, icmp: { type: 8, code: 0 } }),
      rule(6, 'allow', { protocol: 58, icmp: { type: 128 } }),
      rule(4, 'deny', { protocol: 1, notIcmp: { type: 3, code: 4 } }),
      rule(4, 'allow', { notProtocol: 17, dst: m({ notSets: ['web4'] }) }),
      rule(4, 'allow', { protocol: 17, src: m({ ports: [p(53)] }), dst: m({ ports: [p(1024, 65535)] }) }),
      // Named ports: alone (inline), ORed with numeric ports on both sides (two blocks), on one side (one block).
      rule(4, 'allow', { protocol: 6, dst: m({ namedPorts: ['http4'] }) }),
      rule(4, 'allow', { protocol: 6, src: m({ ports: [p(1024, 65535)], namedPorts: ['http4'] }), dst: m({ ports: [p(80)], namedPorts: ['http4'], notNamedPorts: ['http4'] }) }),
      rule(6, 'log', { protocol: 6, dst: m({ ports: [p(443)], namedPorts: ['http6'] }) }),
    ],
  },
  {
    id: 'npweb',
    kind: 'policy',
    direction: 'egress',
    name: 'NetworkPolicy tenant-a/web',
    rules: [rule(4, 'allow', { dst: m({ sets: ['all4'], notSets: ['nets4'] }) }), rule(6, 'deny', { protocol: 58, icmp: { type: 128, code: 0 } }), rule(6, 'allow')],
  },
  { id: 'knsdefault', kind: 'profile', direction: 'ingress', name: 'Profile kns.default', rules: [rule(4, 'allow'), rule(6, 'allow')] },
  { id: 'knsdefault', kind: 'profile', direction: 'egress', name: 'Profile kns.default', rules: [rule(4, 'allow'), rule(6, 'allow')] },
  { id: 'knstenanta', kind: 'profile', direction: 'ingress', name: 'Profile kns.tenant-a', rules: [rule(4, 'pass', { protocol: 17 }), rule(4, 'allow', { src: m({ sets: ['web4'] }) })] },
];

/** Two endpoints: web (two ingress policies, the first with pass; one egress policy), db (profile only). */
const host: HostPolicyIR = {
  sets: [
    { id: 'all4', family: 4, members: ['0.0.0.0/0'], source: 'nets 0.0.0.0/0' },
    { id: 'fabric4', family: 4, members: ['198.18.0.0/16'], source: 'nets 198.18.0.0/16' },
    { id: 'nets4', family: 4, members: ['198.18.255.0/24', '198.19.0.0/16'], source: 'nets 198.19.0.0/16, 198.18.255.0/24' },
    { id: 'web4', family: 4, members: ['198.19.0.1/32', '198.19.0.65/32'], source: "selector role == 'web' (ns tenant-a)" },
    { id: 'web6', family: 6, members: ['2001:db8:1::1/128', '2001:db8:1::41/128'], source: "selector role == 'web' (ns tenant-a)" },
    {
      id: 'http4',
      family: 4,
      members: ['198.19.0.1,tcp:8080', '198.19.0.65,tcp:8443'],
      source: "named port tcp:http of selector role == 'web' (ns tenant-a)",
      namedPort: { name: 'http', protocol: 'tcp' },
    },
    { id: 'http6', family: 6, members: ['2001:db8:1::1,tcp:8080'], source: "named port tcp:http of selector role == 'web' (ns tenant-a)", namedPort: { name: 'http', protocol: 'tcp' } },
  ],
  chains,
  endpoints: [
    {
      iface: 'cali0123456789a',
      name: 'tenant-a/web-1',
      ingress: { tiers: defaultTierOf(['gnpdefault', 'npweb']), profiles: ['knstenanta'] },
      egress: { tiers: defaultTierOf(['npweb']), profiles: ['knsdefault'] },
    },
    { iface: 'calibcdef012345', name: 'default/db-1', ingress: { tiers: [], profiles: ['knsdefault'] }, egress: { tiers: [], profiles: ['knsdefault'] } },
  ],
};

describe('compileIptables / renderFull: golden', () => {
  it('a host with two endpoints, policies with pass, sets, ports, ICMP, both families', () => {
    expectGolden('full.txt', show(renderFull(compileIptables(host))));
    // The integration test applies this IR to a real kernel: the texts must be accepted.
    expectGolden('host-ir.json', `${JSON.stringify(host, null, 1)}\n`);
  });

  it('a host with no endpoint gets the base chains only', () => {
    expectGolden('empty.txt', show(renderFull(compileIptables(EMPTY_POLICY))));
  });

  it('destroys stale sets of ours only, after the rules', () => {
    const plan = renderFull(compileIptables(host), ['cali40s:gone', 'cali40t:web4', 'cali40s:web4', 'other']);
    expect(plan.ipsetAfter).toBe('destroy cali40s:gone\ndestroy cali40t:web4\n');
    expect(plan.sets).toBe(9);
  });

  it('is deterministic and names every rule with its policy and index', () => {
    const a = compileIptables(host);
    expect(renderFull(compileIptables(structuredClone(host)))).toEqual(renderFull(a));
    for (const [chain, rules] of [...a.v4, ...a.v6]) {
      expect(chain.length).toBeLessThanOrEqual(28);
      for (const r of rules) expect(r).toMatch(new RegExp(`^-A ${chain} -m comment --comment "[^"]+" `));
    }
    expect(a.v4.get('cali-pi-npweb')!.filter((r) => r.includes('rule 1"'))).toHaveLength(5); // clear scratch, 2 port lines, the rule, RETURN
  });
});

describe('compileIptables: semantics', () => {
  const v4 = compileIptables(host).v4;
  const v6 = compileIptables(host).v6;

  it('endpoint chain: conntrack, clear marks, per tier the pass mark cleared, policies guarded by it, end-of-tier drop; then profiles, drop', () => {
    const tw = v4.get('cali-tw-cali0123456789a')!.map((r) => r.replace(/-m comment --comment "[^"]*" /, ''));
    expect(tw).toEqual([
      '-A cali-tw-cali0123456789a -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
      '-A cali-tw-cali0123456789a -m conntrack --ctstate INVALID -j DROP',
      '-A cali-tw-cali0123456789a -j MARK --set-xmark 0x0/0x30000',
      '-A cali-tw-cali0123456789a -j MARK --set-xmark 0x0/0x20000',
      '-A cali-tw-cali0123456789a -m mark --mark 0x0/0x20000 -j cali-pi-gnpdefault',
      '-A cali-tw-cali0123456789a -m mark --mark 0x10000/0x10000 -j RETURN',
      '-A cali-tw-cali0123456789a -m mark --mark 0x0/0x20000 -j cali-pi-npweb',
      '-A cali-tw-cali0123456789a -m mark --mark 0x10000/0x10000 -j RETURN',
      '-A cali-tw-cali0123456789a -m mark --mark 0x0/0x20000 -j DROP',
      '-A cali-tw-cali0123456789a -j cali-pri-knstenanta',
      '-A cali-tw-cali0123456789a -m mark --mark 0x10000/0x10000 -j RETURN',
      '-A cali-tw-cali0123456789a -j DROP',
    ]);
    expect(v4.get('cali-tw-calibcdef012345')!.join('\n')).not.toContain('Drop if no policies passed packet');
  });

  it('tiers as felix/rules/endpoints.go renders them: a start per tier, an end-of-tier drop unless its defaultAction is Pass', () => {
    const two: HostPolicyIR = {
      ...host,
      endpoints: host.endpoints.map((e) =>
        e.name === 'tenant-a/web-1'
          ? {
              ...e,
              ingress: {
                tiers: [
                  { name: 'security', policies: ['gnpdefault'], defaultAction: 'pass' },
                  { name: 'default', policies: ['npweb'], defaultAction: 'deny' },
                ],
                profiles: ['knstenanta'],
              },
            }
          : e,
      ),
    };
    const c = compileIptables(two);
    const tw = (c.v4.get('cali-tw-cali0123456789a') ?? []).map((r) => /--comment "([^"]*)"/.exec(r)?.[1]);
    expect(tw).toEqual([
      'Accept established and related',
      'Drop conntrack invalid',
      'Ingress to tenant-a/web-1: clear marks',
      'Start of tier security',
      'GlobalNetworkPolicy default-pass',
      'Return if policy accepted',
      'Start of tier default',
      'NetworkPolicy tenant-a/web',
      'Return if policy accepted',
      'End of tier default. Drop if no policies passed packet',
      'Profile kns.tenant-a',
      'Return if profile accepted',
      'Drop if no profiles matched',
    ]);
  });

  it("policy chains hold only their family's rules; ports over 15 slots are ORed through the scratch bits (Felix's block)", () => {
    const pi = v4.get('cali-pi-npweb')!;
    const rule1 = pi.filter((r) => r.includes('rule 1"')).map((r) => r.replace(/-m comment --comment "[^"]*" /, ''));
    expect(rule1.slice(0, 3)).toEqual([
      '-A cali-pi-npweb -j MARK --set-xmark 0x0/0xc0000',
      '-A cali-pi-npweb -p 6 -m multiport --dports 20:22,25,53,80,110,143,443,465,587,993,995,3306,5432,6379 -j MARK --set-xmark 0x40000/0x40000',
      '-A cali-pi-npweb -p 6 -m multiport --dports 8000:8099,9000:9100 -j MARK --set-xmark 0x40000/0x40000',
    ]);
    // The rule: the ANDed sets and notPorts, and scratch 0.
    expect(rule1[3]).toMatch(/-m set --match-set cali40s:web4 src -m set --match-set cali40s:nets4 src .*! --dports .* -m mark --mark 0x40000\/0x40000 -j MARK --set-xmark 0x10000\/0x10000$/);
    expect(v6.get('cali-pi-npweb')!.join('\n')).not.toContain('cali40s');
    expect(v6.get('cali-pi-npweb')!.join('\n')).toContain('-p 58 -m icmp6 --icmpv6-type 128 -j MARK --set-xmark 0x10000/0x10000');
    expect(pi.join('\n')).toContain('-p 1 -m icmp ! --icmp-type 3/4 -j DROP');
  });

  it('named ports: one alone is matched inline (dst,dst); ORed with numeric ports through the scratch bits; notNamedPorts ANDed', () => {
    const rule = (i: number, chain = v4.get('cali-pi-npweb')!) => chain.filter((r) => r.includes(`rule ${i}"`)).map((r) => r.replace(/^-A \S+ -m comment --comment "[^"]*" /, ''));
    expect(rule(8)).toEqual(['-p 6 -m set --match-set cali40n:http4 dst,dst -j MARK --set-xmark 0x10000/0x10000', '-m mark --mark 0x10000/0x10000 -j RETURN']);
    expect(rule(9)).toEqual([
      '-j MARK --set-xmark 0x0/0xc0000',
      '-p 6 -m multiport --sports 1024:65535 -j MARK --set-xmark 0x40000/0x40000',
      '-p 6 -m set --match-set cali40n:http4 src,src -j MARK --set-xmark 0x40000/0x40000',
      '-p 6 -m multiport --dports 80 -j MARK --set-xmark 0x80000/0x80000',
      '-p 6 -m set --match-set cali40n:http4 dst,dst -j MARK --set-xmark 0x80000/0x80000',
      '-m mark --mark 0x0/0x80000 -j MARK --set-xmark 0x0/0x40000',
      '-p 6 -m set ! --match-set cali40n:http4 dst,dst -m mark --mark 0x40000/0x40000 -j MARK --set-xmark 0x10000/0x10000',
      '-m mark --mark 0x10000/0x10000 -j RETURN',
    ]);
    // A log rule logs once whichever alternative matched.
    expect(rule(10, v6.get('cali-pi-npweb')!).filter((l) => l.includes('-j LOG'))).toEqual(['-p 6 -m mark --mark 0x40000/0x40000 -j LOG --log-prefix "calico-packet: " --log-level 5']);
    const sets = compileIptables(host).sets;
    expect(sets.get('cali40n:http4')).toEqual({ family: 4, type: 'hash:ip,port', members: ['198.19.0.1,tcp:8080', '198.19.0.65,tcp:8443'] });
    // A named-port set used as an address set, or the reverse, breaks the IR's contract.
    const wrong = structuredClone(host);
    wrong.chains[1]!.rules.push(rule4allow({ dst: m({ sets: ['http4'] }) }));
    expect(() => compileIptables(wrong)).toThrow(/uses named-port set "http4" as an address set/);
    // ...and one of TCP ports on a UDP rule.
    const udp = structuredClone(host);
    udp.chains[1]!.rules.push(rule4allow({ protocol: 17, dst: m({ namedPorts: ['http4'] }) }));
    expect(() => compileIptables(udp)).toThrow(/named-port set "http4" holds tcp ports, the rule's protocol is 17/);
  });

  it('profile pass returns without a mark; policy pass sets the pass mark', () => {
    expect(v4.get('cali-pri-knstenanta')!.join('\n')).toMatch(/-p 17 -j RETURN$/m);
    expect(v4.get('cali-pi-gnpdefault')!.join('\n')).toContain('-m set --match-set cali40s:fabric4 src -j MARK --set-xmark 0x20000/0x20000');
  });

  it('a single net is matched inline, with no set', () => {
    const one: HostPolicyIR = {
      sets: [],
      chains: [
        {
          id: 'one',
          kind: 'policy',
          direction: 'ingress',
          name: 'GlobalNetworkPolicy one',
          rules: [rule(4, 'allow', { protocol: 6, src: { ...any(), net: '198.18.128.7/32' }, dst: { ...any(), net: '198.19.0.0/26' } })],
        },
      ],
      endpoints: [{ iface: 'cali0123456789a', name: 'default/w', ingress: { tiers: defaultTierOf(['one']), profiles: [] }, egress: { tiers: [], profiles: [] } }],
    };
    const d = compileIptables(one);
    expect(d.v4.get('cali-pi-one')!.join('\n')).toContain('-p 6 -s 198.18.128.7/32 -d 198.19.0.0/26 -j MARK --set-xmark 0x10000/0x10000');
    expect(d.sets.size).toBe(0);
  });

  it('stores a /0 as two halves (hash:net cannot hold /0)', () => {
    expect(compileIptables(host).sets.get('cali40s:all4')!.members).toEqual(['0.0.0.0/1', '128.0.0.0/1']);
  });

  it('portChunks merges overlaps and packs 15 slots, ranges counting 2', () => {
    expect(portChunks([p(80), p(79, 81), p(82), p(443)])).toEqual(['79:82,443']);
    const ports = Array.from({ length: 16 }, (_, i) => p(i * 10));
    expect(portChunks(ports).map((c) => c.split(',').length)).toEqual([15, 1]);
    expect(portChunks(Array.from({ length: 8 }, (_, i) => p(i * 10, i * 10 + 1)))).toHaveLength(2);
  });

  it('refuses an IR that breaks the contract', () => {
    const bad = (over: Partial<HostPolicyIR>) => () => compileIptables({ ...host, ...over });
    const first = (r: RuleIR) => [{ ...chains[0]!, rules: [r] }, ...chains.slice(1)];
    expect(bad({ sets: [] })).toThrow(InputError);
    expect(bad({ chains: chains.slice(1) })).toThrow(/not in the IR/);
    expect(bad({ chains: first(rule(4, 'allow', { dst: m({ ports: [p(1)] }) })) })).toThrow(/ports need protocol/);
    expect(bad({ chains: first(rule(6, 'allow', { src: m({ sets: ['web4'] }) })) })).toThrow(/IPv6 rule using IPv4 set/);
    expect(bad({ chains: first(rule(4, 'allow', { protocol: 6, icmp: { type: 8 } })) })).toThrow(/ICMP match needs protocol ICMP/);
    expect(bad({ endpoints: [{ ...host.endpoints[0]!, iface: 'eth0' }] })).toThrow(/interface/);
  });
});

describe('renderDelta', () => {
  const before = compileIptables(host);
  const plan = (ir: HostPolicyIR) => renderDelta(before, compileIptables(ir));
  const chainsIn = (t: string) => [...t.matchAll(/^:(\S+) /gm)].map((x) => x[1]);

  it('nothing changed: empty texts', () => {
    expect(plan(structuredClone(host))).toEqual({ ipset: '', v4: '', v6: '', ipsetAfter: '', noflush: true, chains: 0, sets: 0 });
  });

  it('a label change only changes set members: no chain is rewritten', () => {
    const sets = host.sets.map((s) => (s.id === 'web4' ? { ...s, members: ['198.19.0.1/32', '198.19.0.2/32'] } : s));
    const d = plan({ ...host, sets });
    expect([d.v4, d.v6, d.ipsetAfter]).toEqual(['', '', '']);
    expectGolden('delta-labels.txt', show(d));
  });

  it('a new policy on one endpoint rewrites that endpoint chain and adds the policy chain', () => {
    const deny: ChainIR = { id: 'npdeny', kind: 'policy', direction: 'ingress', name: 'NetworkPolicy default/deny-ssh', rules: [rule(4, 'deny', { protocol: 6, dst: m({ ports: [p(22)] }) })] };
    const endpoints = host.endpoints.map((e) => (e.name === 'default/db-1' ? { ...e, ingress: { ...e.ingress, tiers: defaultTierOf(['npdeny']) } } : e));
    const d = plan({ ...host, chains: [...chains, deny], endpoints });
    expect(chainsIn(d.v4)).toEqual(['cali-tw-calibcdef012345', 'cali-pi-npdeny']);
    expect(chainsIn(d.v6)).toEqual(['cali-tw-calibcdef012345', 'cali-pi-npdeny']);
    expect(d.ipset).toBe('');
    expect(d.chains).toBe(2);
    expectGolden('delta-new-policy.txt', show(d));
  });

  it('removing an endpoint removes its chains and dispatch lines only', () => {
    const d = plan({ ...host, endpoints: host.endpoints.slice(1) });
    expect(chainsIn(d.v4)).toEqual(['cali-from-wl-dispatch', 'cali-to-wl-dispatch', 'cali-tw-cali0123456789a', 'cali-fw-cali0123456789a']);
    expect(d.v4).toContain('-X cali-tw-cali0123456789a\n-X cali-fw-cali0123456789a\nCOMMIT');
    expect(d.v4).not.toContain('-i cali0123456789a');
    expect(d.v4).toContain('-i calibcdef012345 -g cali-fw-calibcdef012345');
    expectGolden('delta-remove-endpoint.txt', show(d));
  });

  it('a removed set is destroyed after the rules; a new one is created before', () => {
    const d = renderDelta(compileIptables({ ...host, sets: [...host.sets, { id: 'x', family: 6, members: ['::/0'], source: 'nets ::/0' }] }), before);
    expect(d.ipsetAfter).toBe('destroy cali60s:x\n');
    expect(renderDelta(before, compileIptables({ ...host, sets: [...host.sets, { id: 'x', family: 6, members: ['::/0'], source: '' }] })).ipset).toBe(
      'create cali60s:x hash:net family inet6\nadd cali60s:x ::/1\nadd cali60s:x 8000::/1\n',
    );
  });
});

describe('renderRemove', () => {
  it('deletes our hooks by their saved spec, then flushes and deletes our chains; nothing when none', () => {
    const saved = [
      '# Generated by iptables-save v1.8.9 (nf_tables) on Thu Jan  1 00:00:00 2026',
      '*filter',
      ':INPUT ACCEPT [0:0]',
      ':FORWARD DROP [0:0]',
      ':OUTPUT ACCEPT [0:0]',
      ':cali-FORWARD - [0:0]',
      ':cali-pi-x - [0:0]',
      ':fault - [0:0]',
      '-A INPUT -m comment --comment "calico-sim policy" -j cali-INPUT',
      '-A FORWARD -j fault',
      '-A FORWARD -m comment --comment "calico-sim policy" -j cali-FORWARD',
      '-A cali-FORWARD -j cali-pi-x',
      'COMMIT',
      '',
    ].join('\n');
    expect(renderRemove(saved)).toBe(
      [
        '*filter',
        '-D INPUT -m comment --comment "calico-sim policy" -j cali-INPUT',
        '-D FORWARD -m comment --comment "calico-sim policy" -j cali-FORWARD',
        ':cali-FORWARD - [0:0]',
        ':cali-pi-x - [0:0]',
        '-X cali-FORWARD',
        '-X cali-pi-x',
        'COMMIT',
        '',
      ].join('\n'),
    );
    expect(renderRemove('*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n')).toBe('');
    expect(renderRemove('')).toBe('');
  });
});

describe('hooksOf: the raw and mangle machinery only with untracked or pre-DNAT policy', () => {
  it('a host without them has IPv6 anti-spoofing alone in raw and nothing in mangle; with them the hooks differ, so the applier rewrites all', () => {
    const plain = compileIptables(host);
    expect([...plain.raw[4].keys()]).toEqual([]);
    expect([...plain.raw[6].keys()]).toEqual(['cali-PREROUTING']);
    expect([...plain.mangle[4].keys(), ...plain.mangle[6].keys()]).toEqual([]);
    expect(renderFull(plain).v4).toContain('*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT');
    const untracked = structuredClone(host);
    untracked.hostEndpoints = [
      { iface: 'eth0', name: 'h1-eth0', ingress: { tiers: [], profiles: [] }, egress: { tiers: [], profiles: [] }, untracked: { ingress: defaultTierOf(['gnpdefault']), egress: [] } },
    ];
    const withRaw = compileIptables(untracked);
    expect(withRaw.raw[4].has('cali-OUTPUT')).toBe(true);
    expect(hooksOf(withRaw)).not.toBe(hooksOf(plain));
    expect(hooksOf(compileIptables(structuredClone(host)))).toBe(hooksOf(plain));
  });
});
