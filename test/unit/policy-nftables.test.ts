import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expectGolden } from '../helpers/golden.js';
import { describe, expect, it } from 'vitest';
import { compileNft, deltaCounts, diffNft, mergeCidrs, renderDelta, renderFull } from '../../src/policy/nftables.js';
import { defaultTierOf, EMPTY_POLICY, type ChainIR, type HostPolicyIR, type MatchIR, type RuleIR, type SetIR } from '../../src/policy/ir.js';
import { InputError } from '../../src/util/errors.js';

/** Golden scripts; test/integration/policy-nftables.test.ts feeds every one to the real `nft`. */
const GOLDEN = fileURLToPath(new URL('./golden/policy-nftables/', import.meta.url));

const golden = (name: string, text: string) => expectGolden(join(GOLDEN, name), text);

const any = (): MatchIR => ({ sets: [], notSets: [], ports: [], notPorts: [] });
const match = (m: Partial<MatchIR>): MatchIR => ({ ...any(), ...m });
const rule = (r: Partial<RuleIR> & Pick<RuleIR, 'family' | 'action'>): RuleIR => ({ src: any(), dst: any(), ...r });
const set = (id: string, family: 4 | 6, members: string[], source: string): SetIR => ({ id, family, members, source });

const WEB = 'calia1b2c3d4e5f'; // selected by two ingress policies (the first passes some traffic) and one egress policy
const DB = 'cali0f9e8d7c6b5'; // no policy: its profile only

const sets: SetIR[] = [
  set('fe4', 4, ['198.19.0.5/32', '198.19.0.6/32'], "selector role == 'frontend' (ns default)"),
  set('fe6', 6, ['2001:db8:1::5/128'], "selector role == 'frontend' (ns default)"),
  // A net and an address inside it: the interval set keeps only the net.
  set('n10', 4, ['10.0.0.0/8', '10.2.3.4/32'], 'nets 10.0.0.0/8, 10.2.3.4/32'),
  set('n101', 4, ['10.1.0.0/16'], 'nets 10.1.0.0/16'),
  set('mon4', 4, [], "selector role == 'monitor' (ns ops)"),
  set('net6', 6, ['2001:db8:9::/48'], 'nets 2001:db8:9::/48'),
  // Named-port sets (Felix's `ipv4_addr . inet_proto . inet_service`).
  { ...set('http4', 4, ['198.19.0.5,tcp:8080', '198.19.0.6,tcp:8081'], "named port tcp:http of selector role == 'frontend' (ns default)"), namedPort: { name: 'http', protocol: 'tcp' } },
  { ...set('http6', 6, ['2001:db8:1::5,tcp:8080'], "named port tcp:http of selector role == 'frontend' (ns default)"), namedPort: { name: 'http', protocol: 'tcp' } },
];

const webIngress: ChainIR = {
  id: 'web1',
  kind: 'policy',
  direction: 'ingress',
  name: 'NetworkPolicy default/web',
  rules: [
    rule({
      family: 4,
      action: 'allow',
      protocol: 6,
      src: match({ sets: ['fe4'] }),
      dst: match({
        ports: [
          { first: 8000, last: 8080 },
          { first: 80, last: 80 },
          { first: 8080, last: 8090 },
        ],
      }),
    }),
    rule({
      family: 6,
      action: 'allow',
      protocol: 6,
      src: match({ sets: ['fe6'] }),
      dst: match({
        ports: [
          { first: 80, last: 80 },
          { first: 8000, last: 8080 },
        ],
      }),
    }),
    rule({ family: 4, action: 'allow', protocol: 1, icmp: { type: 8, code: 0 }, src: match({ sets: ['n10'], notSets: ['n101'] }) }),
    rule({ family: 6, action: 'allow', protocol: 58, icmp: { type: 128 }, src: match({ sets: ['net6'] }) }),
    rule({ family: 4, action: 'log', protocol: 17, dst: match({ notPorts: [{ first: 53, last: 53 }] }) }),
    rule({ family: 4, action: 'pass', src: match({ sets: ['mon4'] }) }),
    // Named ports: alone (inline), ORed with numeric ports on both sides (two blocks), on one side (one block).
    rule({ family: 4, action: 'allow', protocol: 6, dst: match({ namedPorts: ['http4'] }) }),
    rule({
      family: 4,
      action: 'allow',
      protocol: 6,
      src: match({ ports: [{ first: 1024, last: 65535 }], namedPorts: ['http4'] }),
      dst: match({ ports: [{ first: 80, last: 80 }], namedPorts: ['http4'], notNamedPorts: ['http4'] }),
    }),
    rule({ family: 6, action: 'log', protocol: 6, dst: match({ ports: [{ first: 443, last: 443 }], namedPorts: ['http6'] }) }),
  ],
};
const denyAll: ChainIR = {
  id: 'gdeny',
  kind: 'policy',
  direction: 'ingress',
  name: 'GlobalNetworkPolicy default-deny',
  rules: [
    rule({ family: 4, action: 'deny', protocol: 1, notIcmp: { type: 8, code: 0 } }),
    rule({ family: 6, action: 'deny', protocol: 58, notIcmp: { type: 128 } }),
    rule({ family: 4, action: 'deny', notProtocol: 6, src: match({ notSets: ['n10'] }) }),
  ],
};
const webEgress: ChainIR = {
  id: 'web1',
  kind: 'policy',
  direction: 'egress',
  name: 'NetworkPolicy default/web',
  rules: [
    rule({ family: 4, action: 'allow', protocol: 17, dst: match({ ports: [{ first: 53, last: 53 }] }) }),
    rule({ family: 4, action: 'allow', protocol: 132, src: match({ ports: [{ first: 1024, last: 65535 }] }), dst: match({ sets: ['fe4'], notPorts: [{ first: 22, last: 22 }] }) }),
    rule({ family: 6, action: 'deny', dst: match({ sets: ['net6'] }) }),
  ],
};
const profile = (direction: 'ingress' | 'egress'): ChainIR => ({
  id: 'knsdefault',
  kind: 'profile',
  direction,
  name: 'Profile kns.default',
  rules: [rule({ family: 4, action: 'allow' }), rule({ family: 6, action: 'allow' })],
});

const base: HostPolicyIR = {
  sets,
  chains: [denyAll, webIngress, webEgress, profile('ingress'), profile('egress')],
  endpoints: [
    { iface: DB, name: 'default/db', ingress: { tiers: [], profiles: ['knsdefault'] }, egress: { tiers: [], profiles: ['knsdefault'] } },
    { iface: WEB, name: 'default/web', ingress: { tiers: defaultTierOf(['web1', 'gdeny']), profiles: ['knsdefault'] }, egress: { tiers: defaultTierOf(['web1']), profiles: ['knsdefault'] } },
  ],
};

/** A label change: one more frontend, one fewer, a monitor appears. Only members move. */
const labels: HostPolicyIR = {
  ...base,
  sets: base.sets.map((s) =>
    s.id === 'fe4'
      ? { ...s, members: ['198.19.0.6/32', '198.19.0.9/32'] }
      : s.id === 'mon4'
        ? { ...s, members: ['198.19.3.0/26'] }
        : s.id === 'http4'
          ? { ...s, members: ['198.19.0.6,tcp:8081', '198.19.0.9,tcp:8080'] }
          : s,
  ),
};

/** A new policy selecting the db endpoint (ingress). */
const dbPolicy: ChainIR = {
  id: 'db1',
  kind: 'policy',
  direction: 'ingress',
  name: 'NetworkPolicy default/db',
  rules: [rule({ family: 4, action: 'allow', protocol: 6, src: match({ sets: ['fe4'] }), dst: match({ ports: [{ first: 5432, last: 5432 }] }) })],
};
const newPolicy: HostPolicyIR = {
  ...base,
  chains: [dbPolicy, ...base.chains],
  endpoints: base.endpoints.map((e) => (e.iface === DB ? { ...e, ingress: { tiers: defaultTierOf(['db1']), profiles: ['knsdefault'] } } : e)),
};

const removeEndpoint: HostPolicyIR = { ...base, endpoints: base.endpoints.filter((e) => e.iface !== DB) };

/** Lines of a script that are neither comments nor blank. */
const lines = (s: string) => s.split('\n').filter((l) => l && !l.startsWith('#'));

describe('compileNft + renderFull: golden scripts', () => {
  it('a host with two endpoints: policies with pass, sets, nets, notNets, port ranges, ICMP, v4 and v6', () => {
    golden('base.nft', renderFull(compileNft(base)));
  });

  it('a host with no endpoint still gets the skeleton (base and dispatch chains, empty maps)', () => {
    const text = renderFull(compileNft(EMPTY_POLICY));
    golden('empty.nft', text);
    // Felix's shape: a table per family, the iptables chains under the layer's prefix.
    expect(text).toContain('table ip calico {');
    expect(text).toContain('table ip6 calico {');
    expect(text).toContain('chain filter-FORWARD {\n\t\ttype filter hook forward priority filter; policy accept;\n\t\tjump filter-cali-FORWARD\n');
    expect(text).not.toContain('elements');
  });

  it('the next states as full scripts too (the integration test compares them with delta results)', () => {
    golden('labels.full.nft', renderFull(compileNft(labels)));
    golden('new-policy.full.nft', renderFull(compileNft(newPolicy)));
    golden('remove-endpoint.full.nft', renderFull(compileNft(removeEndpoint)));
  });

  it('endpoint chains: policies (skipped once passed), drop if none allowed, then profiles, then drop', () => {
    const d = compileNft(base)[4];
    expect(d.chains.get(`filter-cali-tw-${WEB}`)).toEqual([
      'ct state established,related accept',
      'ct state invalid drop',
      'meta mark set meta mark & 0xfffcffff',
      'meta mark set meta mark & 0xfffdffff comment "Start of tier default"',
      'meta mark & 0x20000 == 0 jump filter-cali-pi-web1',
      'meta mark & 0x10000 == 0x10000 return',
      'meta mark & 0x20000 == 0 jump filter-cali-pi-gdeny',
      'meta mark & 0x10000 == 0x10000 return',
      'meta mark & 0x20000 == 0 drop comment "default/web ingress: end of tier default, no policy passed"',
      'jump filter-cali-pri-knsdefault',
      'meta mark & 0x10000 == 0x10000 return',
      'drop comment "default/web ingress: no profile allowed"',
    ]);
    // Egress first drops the tunnel packets a workload sends (felix/rules/endpoints.go).
    expect(d.chains.get(`filter-cali-fw-${DB}`)).toEqual([
      'ct state established,related accept',
      'ct state invalid drop',
      'meta mark set meta mark & 0xfffcffff',
      'udp dport 4789 drop comment "default/db: VXLAN encapped packets originating in workloads"',
      'meta l4proto 4 drop comment "default/db: IPinIP encapped packets originating in workloads"',
      'jump filter-cali-pro-knsdefault',
      'meta mark & 0x10000 == 0x10000 return',
      'drop comment "default/db egress: no profile allowed"',
    ]);
    expect([...d.maps['from-wl']]).toEqual([
      [DB, `filter-cali-fw-${DB}`],
      [WEB, `filter-cali-fw-${WEB}`],
    ]);
    expect([...d.maps['to-wl']]).toEqual([
      [DB, `filter-cali-tw-${DB}`],
      [WEB, `filter-cali-tw-${WEB}`],
    ]);
  });

  it('rule statements: matches, merged port ranges, actions, and a comment naming policy and rule', () => {
    // Each family's rules in its own table; the comment keeps the rule's index in the policy.
    const d = compileNft(base);
    const pi = d[4].chains.get('filter-cali-pi-web1')!;
    expect(pi[0]).toBe('meta l4proto 6 ip saddr @cali40s-fe4 th dport { 80, 8000-8090 } meta mark set meta mark | 0x10000 return comment "NetworkPolicy default/web rule 0"');
    expect(pi[1]).toBe('meta l4proto 1 ip saddr @cali40s-n10 ip saddr != @cali40s-n101 icmp type 8 icmp code 0 meta mark set meta mark | 0x10000 return comment "NetworkPolicy default/web rule 2"');
    expect(pi[2]).toBe('meta l4proto 17 th dport != { 53 } log prefix "calico-packet: " comment "NetworkPolicy default/web rule 4"');
    expect(pi[3]).toMatch(/ip saddr @cali40s-mon4 meta mark set meta mark \| 0x20000 return/);
    expect(d[6].chains.get('filter-cali-pi-web1')![1]).toContain('ip6 saddr @cali60s-net6 icmpv6 type 128 meta mark');
    const deny = d[4].chains.get('filter-cali-pi-gdeny')!;
    expect(deny[0]).toContain('icmp type . icmp code != { 8 . 0 } drop');
    expect(deny[1]).toContain('meta l4proto != 6 ip saddr != @cali40s-n10 drop');
    expect(d[6].chains.get('filter-cali-pi-gdeny')![0]).toContain('icmpv6 type != 128 drop');
  });
});

describe('inline nets', () => {
  it('a single net is matched inline, with no set', () => {
    const one: HostPolicyIR = {
      sets: [],
      chains: [
        {
          id: 'one',
          kind: 'policy',
          direction: 'ingress',
          name: 'GlobalNetworkPolicy one',
          rules: [rule({ family: 4, action: 'allow', protocol: 6, src: match({ net: '198.18.128.7/32' }), dst: match({ net: '198.19.0.0/26' }) })],
        },
      ],
      endpoints: [{ iface: 'cali0123456789a', name: 'default/w', ingress: { tiers: defaultTierOf(['one']), profiles: [] }, egress: { tiers: [], profiles: [] } }],
    };
    const d = compileNft(one);
    expect(d[4].chains.get('filter-cali-pi-one')![0]).toContain('meta l4proto 6 ip saddr 198.18.128.7/32 ip daddr 198.19.0.0/26 meta mark set');
    expect(d[4].sets.size + d[6].sets.size).toBe(0);
  });
});

describe('mergeCidrs', () => {
  it('drops members inside another member, keeps adjacent and disjoint ones', () => {
    expect(mergeCidrs(['10.2.3.4/32', '10.0.0.0/8', '11.0.0.0/25', '11.0.0.128/25', '10.255.0.0/16'])).toEqual(['10.0.0.0/8', '11.0.0.0/25', '11.0.0.128/25']);
    expect(mergeCidrs(['2001:db8::1/128', '2001:db8::/64', '2001:db9::/64'])).toEqual(['2001:db8::/64', '2001:db9::/64']);
    expect(mergeCidrs([])).toEqual([]);
  });
});

describe('diffNft + renderDelta', () => {
  const d0 = compileNft(base);

  it('nothing changed: empty script, zero counts', () => {
    expect(renderDelta(d0, compileNft(base))).toBe('');
    expect(deltaCounts(d0, compileNft(base))).toEqual({ chains: 0, sets: 0 });
  });

  it('a label change only touches set elements: no chain rewritten', () => {
    const text = renderDelta(d0, compileNft(labels));
    golden('labels.delta.nft', text);
    expect(lines(text).every((l) => /^(add|delete) element ip calico cali40[sn]-/.test(l))).toBe(true);
    // Deletions come first (a member may be replaced by a covering CIDR).
    expect(lines(text)).toEqual([
      'delete element ip calico cali40s-fe4 { 198.19.0.5/32 }',
      'delete element ip calico cali40n-http4 { 198.19.0.5 . tcp . 8080 }',
      'add element ip calico cali40s-fe4 { 198.19.0.9/32 }',
      'add element ip calico cali40s-mon4 { 198.19.3.0/26 }',
      'add element ip calico cali40n-http4 { 198.19.0.9 . tcp . 8080 }',
    ]);
    expect(deltaCounts(d0, compileNft(labels))).toEqual({ chains: 0, sets: 3 });
  });

  it("a new policy on one endpoint rewrites only that endpoint's chain and adds the policy chain", () => {
    const text = renderDelta(d0, compileNft(newPolicy));
    golden('new-policy.delta.nft', text);
    for (const family of [4, 6] as const) {
      const d = diffNft(d0[family], compileNft(newPolicy)[family]);
      expect(d).toMatchObject({ addChains: ['filter-cali-pi-db1'], changedChains: [`filter-cali-tw-${DB}`], delChains: [], addSets: [], delSets: [], elements: [], mapAdd: [], mapDel: [] });
    }
    expect(lines(text).filter((l) => !/^add rule ip6? calico (filter-cali-tw-\S+|filter-cali-pi-db1) /.test(l))).toEqual([
      `flush chain ip calico filter-cali-tw-${DB}`,
      'add chain ip calico filter-cali-pi-db1',
      `flush chain ip6 calico filter-cali-tw-${DB}`,
      'add chain ip6 calico filter-cali-pi-db1',
    ]);
  });

  it('removing an endpoint removes its two chains and its map elements only', () => {
    const text = renderDelta(d0, compileNft(removeEndpoint));
    golden('remove-endpoint.delta.nft', text);
    const inTable = (t: string) => [
      `flush chain ${t} filter-cali-tw-${DB}`,
      `flush chain ${t} filter-cali-fw-${DB}`,
      `delete element ${t} filter-cali-fw-dispatch { "${DB}" }`,
      `delete element ${t} filter-cali-tw-dispatch { "${DB}" }`,
      `delete chain ${t} filter-cali-tw-${DB}`,
      `delete chain ${t} filter-cali-fw-${DB}`,
    ];
    expect(lines(text)).toEqual([...inTable('ip calico'), ...inTable('ip6 calico')]);
    expect(deltaCounts(d0, compileNft(removeEndpoint))).toEqual({ chains: 4, sets: 0 });
  });

  it('an added endpoint: chains created before the map elements that goto them', () => {
    const text = renderDelta(compileNft(removeEndpoint), d0);
    const l = lines(text);
    expect(l.indexOf(`add chain ip calico filter-cali-tw-${DB}`)).toBeLessThan(l.indexOf(`add element ip calico filter-cali-tw-dispatch { "${DB}" : goto filter-cali-tw-${DB} }`));
    expect(l.at(-1)).toMatch(/^add element ip6 calico filter-cali-(fw|tw)-dispatch/);
  });

  it('a set whose comment changes is recreated, and the chains using it are rewritten around it', () => {
    const renamed = compileNft({ ...base, sets: base.sets.map((s) => (s.id === 'n101' ? { ...s, source: 'nets 10.1.0.0/16 (edited)' } : s)) });
    const d = diffNft(d0[4], renamed[4]);
    expect(d).toMatchObject({ delSets: ['cali40s-n101'], addSets: ['cali40s-n101'], changedChains: ['filter-cali-pi-web1'], addChains: [], delChains: [] });
    expect(diffNft(d0[6], renamed[6])).toMatchObject({ delSets: [], addSets: [], changedChains: [] });
    const l = lines(renderDelta(d0, renamed));
    expect(l.indexOf('flush chain ip calico filter-cali-pi-web1')).toBeLessThan(l.indexOf('delete set ip calico cali40s-n101'));
    expect(l.indexOf('delete set ip calico cali40s-n101')).toBeLessThan(l.indexOf('add set ip calico cali40s-n101 { type ipv4_addr; flags interval; comment "nets 10.1.0.0/16 (edited)"; }'));
  });
});

describe('compileNft refuses what nft cannot take', () => {
  const bad =
    (chain: Partial<ChainIR>, extra: Partial<HostPolicyIR> = {}) =>
    () =>
      compileNft({ sets, chains: [{ id: 'x', kind: 'policy', direction: 'ingress', name: 'NetworkPolicy a/x', rules: [], ...chain }], endpoints: [], ...extra });

  it('ports without TCP, UDP or SCTP', () => {
    expect(bad({ rules: [rule({ family: 4, action: 'allow', dst: match({ ports: [{ first: 80, last: 80 }] }) })] })).toThrow(/ports need protocol/);
  });
  it('an unknown set, or a set of the other family', () => {
    expect(bad({ rules: [rule({ family: 4, action: 'allow', src: match({ sets: ['nope'] }) })] })).toThrow(InputError);
    expect(bad({ rules: [rule({ family: 4, action: 'allow', src: match({ sets: ['fe6'] }) })] })).toThrow(/IPv4 rule uses IPv6 set fe6/);
  });
  it('ICMP match without the ICMP protocol of its family, and bad numbers', () => {
    expect(bad({ rules: [rule({ family: 6, action: 'allow', protocol: 1, icmp: { type: 8 } })] })).toThrow(/needs protocol 58/);
    expect(bad({ rules: [rule({ family: 4, action: 'allow', protocol: 256 })] })).toThrow(/bad protocol/);
    expect(bad({ rules: [rule({ family: 4, action: 'allow', protocol: 6, dst: match({ ports: [{ first: 90, last: 80 }] }) })] })).toThrow(/bad port range/);
  });
  it('an endpoint naming a policy with no chain, a non-cali interface, ids outside [a-z0-9]{1,12}', () => {
    const ep = (iface: string, policies: string[]) => ({ iface, name: 'a/w', ingress: { tiers: defaultTierOf(policies), profiles: [] }, egress: { tiers: [], profiles: [] } });
    expect(bad({}, { endpoints: [ep('cali00000000001', ['missing'])] })).toThrow(/ingress policy missing has no chain/);
    expect(bad({}, { endpoints: [ep('eth0', [])] })).toThrow(/not a cali\* name/);
    expect(bad({ id: 'Bad-Id' })).toThrow(/bad chain id/);
  });
});
