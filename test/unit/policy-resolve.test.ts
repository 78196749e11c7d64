import { fileURLToPath } from 'node:url';
import { expectGolden as expectGoldenFile } from '../helpers/golden.js';
import { describe, expect, it } from 'vitest';
import { EMPTY_POLICY, FAILSAFE_DEFAULTS, type ChainIR, type HostPolicyIR, type RuleIR } from '../../src/policy/ir.js';
import { evaluate } from '../../src/policy/evaluate.js';
import { endpointLabels, resolvePolicy, type PolicySnapshot } from '../../src/policy/resolve.js';
import { resourcesFrom, tenantsEndpoints, tenantsSnapshot, wep } from '../fixtures/policy/cluster.js';

const GOLDEN = fileURLToPath(new URL('../fixtures/policy/', import.meta.url));

const expectGolden = (name: string, ir: HostPolicyIR) => expectGoldenFile(`${GOLDEN}${name}`, `${JSON.stringify(ir, null, 2)}\n`);

const V3 = 'apiVersion: projectcalico.org/v3';
const gnp = (name: string, spec: string) => `${V3}\nkind: GlobalNetworkPolicy\nmetadata: {name: ${name}}\nspec:\n${spec.replace(/^/gm, '  ')}\n`;
const np = (ns: string, name: string, spec: string) => `${V3}\nkind: NetworkPolicy\nmetadata: {name: ${name}, namespace: ${ns}}\nspec:\n${spec.replace(/^/gm, '  ')}\n`;
const profile = (name: string, spec: string) => `${V3}\nkind: Profile\nmetadata: {name: ${name}}\nspec:\n${spec.replace(/^/gm, '  ')}\n`;

/** A snapshot of the tenants' endpoints with other policy resources. */
const withPolicies = (...docs: string[]): PolicySnapshot => ({ ...resourcesFrom(docs.join('---\n')), workloadEndpoints: tenantsEndpoints() });

const chainNamed = (ir: HostPolicyIR, name: string, direction = 'ingress'): ChainIR => {
  const c = ir.chains.find((x) => x.name === name && x.direction === direction);
  if (!c) throw new Error(`no chain ${name} (${direction}); chains: ${ir.chains.map((x) => `${x.name}/${x.direction}`).join(', ')}`);
  return c;
};
const setOf = (ir: HostPolicyIR, id: string) => ir.sets.find((s) => s.id === id)!;
const names = (ir: HostPolicyIR, ids: string[]) => ids.map((id) => ir.chains.find((c) => c.id === id)!.name);
const ep = (ir: HostPolicyIR, name: string) => ir.endpoints.find((e) => e.name === name)!;

describe('resolvePolicy: the tenants fixture', () => {
  const ir = resolvePolicy(tenantsSnapshot(), 'h1');

  it('matches the golden IR for h1', () => expectGolden('tenants-h1.ir.json', ir));

  it('is canonical: sets and chains sorted by id, endpoints by iface, ids short tokens', () => {
    const ids = (xs: { id: string }[]) => xs.map((x) => x.id);
    expect(ids(ir.sets)).toEqual([...ids(ir.sets)].sort());
    expect(ids(ir.chains)).toEqual([...ids(ir.chains)].sort());
    expect(ir.endpoints.map((e) => e.iface)).toEqual(['cali00000000a01', 'cali00000000a02', 'cali00000000b01']);
    for (const id of [...ids(ir.sets), ...ids(ir.chains)]) expect(id).toMatch(/^[a-z0-9]{1,12}$/);
    // Input order does not matter.
    const s = tenantsSnapshot();
    expect(resolvePolicy({ ...s, workloadEndpoints: [...s.workloadEndpoints].reverse(), globalNetworkPolicies: [...s.globalNetworkPolicies!].reverse() }, 'h1')).toEqual(ir);
  });

  it('applies policies in order and profiles in the endpoint order, per direction', () => {
    expect(
      names(
        ir,
        ep(ir, 'tenant-a/a-web').ingress.tiers.flatMap((t) => t.policies),
      ),
    ).toEqual(['GlobalNetworkPolicy allow-ping', 'NetworkPolicy tenant-a/web', 'GlobalNetworkPolicy to-profiles']);
    expect(names(ir, ep(ir, 'tenant-a/a-web').ingress.profiles)).toEqual(['Profile kns.tenant-a']);
    // A policy with only egress rules applies to egress only.
    expect(
      names(
        ir,
        ep(ir, 'tenant-b/b-client').egress.tiers.flatMap((t) => t.policies),
      ),
    ).toEqual(['GlobalNetworkPolicy b-outside']);
    expect(
      names(
        ir,
        ep(ir, 'tenant-a/a-client').egress.tiers.flatMap((t) => t.policies),
      ),
    ).toEqual([]);
    expect(names(ir, ep(ir, 'tenant-a/a-client').egress.profiles)).toEqual(['Profile kns.tenant-a']);
  });

  it('a NetworkPolicy selects endpoints of its namespace only', () => {
    // b-web (tenant-b, role web) is on h2: the tenant-a policy does not apply to it.
    const h2 = resolvePolicy(tenantsSnapshot(), 'h2');
    expect(
      names(
        h2,
        ep(h2, 'tenant-b/b-web').ingress.tiers.flatMap((t) => t.policies),
      ),
    ).toEqual(['GlobalNetworkPolicy allow-ping', 'GlobalNetworkPolicy to-profiles']);
  });

  it("a NetworkPolicy's rule selector matches its namespace only; a profile's every namespace", () => {
    const web = chainNamed(ir, 'NetworkPolicy tenant-a/web');
    const [v4, v6] = web.rules.map((r) => setOf(ir, r.src.sets[0]!));
    // b-client (tenant-b) has role client too, but is not in tenant-a.
    expect(v4).toMatchObject({ family: 4, members: ['198.19.0.2/32', '198.19.0.65/32'], source: 'selector role == "client" (ns tenant-a)' });
    expect(v6).toMatchObject({ family: 6, members: ['2001:db8:1::2/128'] });
    const profileSet = setOf(ir, chainNamed(ir, 'Profile kns.tenant-a').rules[0]!.src.sets[0]!);
    expect(profileSet).toMatchObject({ source: 'selector tenant == "a"', members: ['198.19.0.1/32', '198.19.0.2/32', '198.19.0.65/32'] });
  });

  it('splits rules by family: ICMP is IPv4, ICMPv6 IPv6, nets decide, no constraint gives both', () => {
    const fam = (c: ChainIR) => c.rules.map((r) => `${r.family}:${r.action}`);
    expect(fam(chainNamed(ir, 'GlobalNetworkPolicy allow-ping'))).toEqual(['4:allow', '6:allow']);
    expect(fam(chainNamed(ir, 'NetworkPolicy tenant-a/web'))).toEqual(['4:allow', '6:allow', '4:deny', '6:deny']);
    expect(fam(chainNamed(ir, 'GlobalNetworkPolicy b-outside', 'egress'))).toEqual(['4:allow', '4:deny', '4:pass', '6:pass']);
    expect(chainNamed(ir, 'GlobalNetworkPolicy allow-ping').rules[0]).toMatchObject({ protocol: 1, icmp: { type: 8 } });
    expect(chainNamed(ir, 'GlobalNetworkPolicy allow-ping').rules[1]).toMatchObject({ protocol: 58, icmp: { type: 128 } });
  });

  it('emits only what local endpoints use', () => {
    // Profile kns.tenant-b's ingress is used by b-client (h1); nothing on h1 uses a set of b-web.
    expect(ir.sets.flatMap((s) => s.members)).not.toContain('198.19.0.66/32');
    // The fixture's FelixConfiguration leaves DefaultEndpointToHostAction and the failsafe ports to Felix's defaults.
    expect(resolvePolicy(tenantsSnapshot(), 'h3')).toEqual({ ...EMPTY_POLICY, hostEndpoints: [], failsafe: FAILSAFE_DEFAULTS, endpointToHost: 'drop' });
  });
});

describe('resolvePolicy: Calico corner cases', () => {
  it('order: unset after every ordered policy, ties by <name>/<namespace>/<kind> (felix/calc/policy_sorter.go)', () => {
    const ir = resolvePolicy(
      withPolicies(
        gnp('zz-unordered', 'selector: all()'),
        gnp('aa-unordered', 'selector: all()'),
        gnp('tenant-a-x', 'order: 5'),
        np('tenant-a', 'web-a', 'order: 5'),
        gnp('first', 'order: -1'),
        gnp('zz', 'order: 4.5'),
      ),
      'h1',
    );
    // "tenant-a-x//GlobalNetworkPolicy" < "web-a/tenant-a/NetworkPolicy" byte-wise.
    expect(
      names(
        ir,
        ep(ir, 'tenant-a/a-web').ingress.tiers.flatMap((t) => t.policies),
      ),
    ).toEqual([
      'GlobalNetworkPolicy first',
      'GlobalNetworkPolicy zz',
      'GlobalNetworkPolicy tenant-a-x',
      'NetworkPolicy tenant-a/web-a',
      'GlobalNetworkPolicy aa-unordered',
      'GlobalNetworkPolicy zz-unordered',
    ]);
  });

  it('tiers: in Tier order (unset last, ties by name), only those with a policy for the endpoint; defaultAction Pass or Deny (felix/calc/policy_sorter.go, felix/rules/endpoints.go)', () => {
    const tier = (name: string, spec: string) => `${V3}\nkind: Tier\nmetadata: {name: ${name}}\nspec: {${spec}}\n`;
    const problems: string[] = [];
    const ir = resolvePolicy(
      withPolicies(
        tier('default', 'order: 1000000'),
        tier('security', 'order: 100, defaultAction: Pass'),
        tier('platform', 'order: 100'),
        tier('unused', 'order: 1'),
        tier('last', ''),
        gnp('security.block', 'tier: security\nselector: role == "web"'),
        gnp('platform.a', 'tier: platform\nselector: all()'),
        gnp('last.a', 'tier: last\nselector: all()'),
        gnp('plain', 'selector: all()'),
        gnp('ghost.a', 'tier: ghost\nselector: all()'),
      ),
      'h1',
      (p) => problems.push(p),
    );
    const tiers = (e: string) => ep(ir, e).ingress.tiers.map((t) => `${t.name}:${t.defaultAction}:${names(ir, t.policies).join(',')}`);
    expect(tiers('tenant-a/a-web')).toEqual([
      'platform:deny:GlobalNetworkPolicy platform.a',
      'security:pass:GlobalNetworkPolicy security.block',
      'default:deny:GlobalNetworkPolicy plain',
      'last:deny:GlobalNetworkPolicy last.a',
      'ghost:deny:GlobalNetworkPolicy ghost.a',
    ]);
    // The security tier selects only web: a client skips it (no end-of-tier action without a policy).
    expect(tiers('tenant-a/a-client').map((t) => t.split(':')[0])).toEqual(['platform', 'default', 'last', 'ghost']);
    expect(problems).toEqual(['GlobalNetworkPolicy ghost.a: its tier "ghost" does not exist: applied after every tier that does, with defaultAction Deny (as Felix orders an unknown tier)']);
  });

  it('types: a policy selecting the endpoint only in Egress leaves Ingress to the profiles', () => {
    const ir = resolvePolicy(withPolicies(gnp('out', 'types: [Egress]\nselector: role == "web"'), profile('kns.tenant-a', 'ingress: [{action: Allow}]')), 'h1');
    expect(
      names(
        ir,
        ep(ir, 'tenant-a/a-web').egress.tiers.flatMap((t) => t.policies),
      ),
    ).toEqual(['GlobalNetworkPolicy out']);
    expect(ep(ir, 'tenant-a/a-web').ingress).toEqual({ tiers: [], profiles: [chainNamed(ir, 'Profile kns.tenant-a').id] });
  });

  it('an endpoint no policy selects has only its profiles; missing profiles are skipped; none at all is allowed', () => {
    const s = withPolicies(profile('kns.tenant-a', 'ingress: [{action: Allow}]'), profile('extra', 'labelsToApply: {x: y}'));
    s.workloadEndpoints = [
      wep('w1', { ns: 'tenant-a', node: 'h1', iface: 'cali1', ips: ['198.19.0.1/32'], profiles: ['missing', 'kns.tenant-a', 'extra', 'kns.tenant-a'] }),
      wep('w2', { node: 'h1', iface: 'cali2', ips: ['198.19.0.2/32'], profiles: [] }),
    ];
    const ir = resolvePolicy(s, 'h1');
    expect(names(ir, ep(ir, 'tenant-a/w1').ingress.profiles)).toEqual(['Profile kns.tenant-a', 'Profile extra']);
    expect(ep(ir, 'tenant-a/w1').ingress.tiers.flatMap((t) => t.policies)).toEqual([]);
    expect(chainNamed(ir, 'Profile extra').rules).toEqual([]);
    expect(ep(ir, 'default/w2')).toEqual({ iface: 'cali2', name: 'default/w2', ingress: { tiers: [], profiles: [] }, egress: { tiers: [], profiles: [] } });
  });

  it('labels: own labels over profile labels (the first profile wins), implicit namespace and orchestrator over all', () => {
    const profiles = new Map(resourcesFrom([profile('p1', 'labelsToApply: {a: p1, b: p1}'), profile('p2', 'labelsToApply: {a: p2, c: p2}')].join('---\n')).profiles!.map((p) => [p.metadata.name, p]));
    const w = wep('w', { ns: 'ns1', node: 'h1', iface: 'cali1', ips: [], labels: { b: 'own', 'projectcalico.org/namespace': 'fake' }, profiles: ['p1', 'p2'] });
    expect(endpointLabels(w, profiles)).toEqual({ a: 'p1', b: 'own', c: 'p2', 'projectcalico.org/namespace': 'ns1', 'projectcalico.org/orchestrator': 'cni' });
    // Profile labels select endpoints.
    const ir = resolvePolicy(withPolicies(profile('kns.tenant-b', 'labelsToApply: {tenant: b}'), gnp('b', 'selector: tenant == "b"')), 'h1');
    expect(
      names(
        ir,
        ep(ir, 'tenant-b/b-client').ingress.tiers.flatMap((t) => t.policies),
      ),
    ).toEqual(['GlobalNetworkPolicy b']);
    expect(ep(ir, 'tenant-a/a-web').ingress.tiers.flatMap((t) => t.policies)).toEqual([]);
  });

  it('notNets and notSelector: not-sets; in a NetworkPolicy a notSelector alone still keeps to the namespace', () => {
    const ir = resolvePolicy(
      withPolicies(
        np('tenant-a', 'not', 'selector: role == "web"\ningress:\n- action: Allow\n  source: {notSelector: role == "client", notNets: [198.19.0.128/25]}'),
        gnp('not-global', 'selector: role == "web"\ningress:\n- action: Allow\n  source: {notSelector: role == "client"}'),
      ),
      'h1',
    );
    const rules = chainNamed(ir, 'NetworkPolicy tenant-a/not').rules as RuleIR[];
    // notNets of IPv4 only: the rule has no IPv6 version (as Felix).
    expect(rules.map((r) => r.family)).toEqual([4]);
    const v4 = rules[0]!;
    expect(v4.src.sets.map((id) => setOf(ir, id).source)).toEqual(['selector all() (ns tenant-a)']);
    expect(v4.src.notSets.map((id) => setOf(ir, id).source).sort()).toEqual(['nets 198.19.0.128/25', 'selector role == "client" (ns tenant-a)']);
    const g = chainNamed(ir, 'GlobalNetworkPolicy not-global').rules[0]!;
    expect(g.src.sets).toEqual([]);
    expect(setOf(ir, g.src.notSets[0]!)).toMatchObject({ source: 'selector role == "client"', members: ['198.19.0.2/32', '198.19.0.3/32', '198.19.0.65/32'] });
  });

  it('a side without selector in a NetworkPolicy matches any address (no namespace set)', () => {
    const ir = resolvePolicy(withPolicies(np('tenant-a', 'any', 'ingress: [{action: Allow, protocol: TCP}]')), 'h1');
    expect(chainNamed(ir, 'NetworkPolicy tenant-a/any').rules.map((r) => r.src.sets)).toEqual([[], []]);
  });

  it('family splitting: ipVersion, nets of one family, notNets of the other', () => {
    const ir = resolvePolicy(
      withPolicies(
        gnp(
          'fam',
          [
            'ingress:',
            '- {action: Allow, ipVersion: 6}',
            '- {action: Allow, source: {nets: [2001:db8:2::/48, 2001:db8:1::/48, 2001:db8:1::/48]}}',
            '- {action: Deny, destination: {notNets: [198.18.0.0/15]}}',
            '- {action: Allow, protocol: 47}',
          ].join('\n'),
        ),
      ),
      'h1',
    );
    const rules = chainNamed(ir, 'GlobalNetworkPolicy fam').rules;
    // notNets of IPv4 only: no IPv6 rule at all (as Felix; else the Deny would drop all IPv6).
    expect(rules.map((r) => `${r.family}:${r.action}`)).toEqual(['6:allow', '6:allow', '4:deny', '4:allow', '6:allow']);
    // Nets become one canonical, sorted, deduplicated set.
    expect(setOf(ir, rules[1]!.src.sets[0]!)).toMatchObject({ family: 6, members: ['2001:db8:1::/48', '2001:db8:2::/48'], source: 'nets 2001:db8:1::/48, 2001:db8:2::/48' });
    expect(rules[2]!.dst.notSets).toHaveLength(1);
    expect(rules[3]).toMatchObject({ protocol: 47 });
  });

  it('protocols, ports and ICMP fields carried over', () => {
    const ir = resolvePolicy(
      withPolicies(
        gnp(
          'fields',
          [
            'ingress:',
            '- {action: Allow, protocol: SCTP, notProtocol: UDP, source: {ports: ["1000:2000"]}, destination: {ports: [80, "443"], notPorts: ["8000:8080"]}}',
            '- {action: Deny, protocol: ICMPv6, icmp: {type: 1, code: 4}, notICMP: {type: 2}}',
            '- {action: Log, protocol: UDPLite}',
          ].join('\n'),
        ),
      ),
      'h1',
    );
    const [sctp4, sctp6, icmp6, log4] = chainNamed(ir, 'GlobalNetworkPolicy fields').rules;
    expect(sctp4).toMatchObject({
      family: 4,
      protocol: 132,
      notProtocol: 17,
      src: { ports: [{ first: 1000, last: 2000 }] },
      dst: {
        ports: [
          { first: 80, last: 80 },
          { first: 443, last: 443 },
        ],
        notPorts: [{ first: 8000, last: 8080 }],
      },
    });
    expect(sctp6).toMatchObject({ family: 6, protocol: 132 });
    expect(icmp6).toEqual({
      family: 6,
      action: 'deny',
      protocol: 58,
      src: { sets: [], notSets: [], ports: [], notPorts: [] },
      dst: { sets: [], notSets: [], ports: [], notPorts: [] },
      icmp: { type: 1, code: 4 },
      notIcmp: { type: 2 },
    });
    expect(log4).toMatchObject({ family: 4, action: 'log', protocol: 136 });
  });

  it('one set per meaning: the same selector in two policies is one set, per family and namespace scope', () => {
    const rule = (sel: string) => `ingress: [{action: Allow, source: {selector: ${sel}}}]`;
    const [a, b] = [`"role == 'client'"`, `'role=="client"'`];
    const ir = resolvePolicy(withPolicies(gnp('g1', rule(a)), gnp('g2', rule(b)), np('tenant-a', 'n1', rule(a)), np('tenant-a', 'n2', rule(b))), 'h1');
    expect(ir.sets.map((s) => s.source).sort()).toEqual([
      'selector role == "client"',
      'selector role == "client"',
      'selector role == "client" (ns tenant-a)',
      'selector role == "client" (ns tenant-a)',
    ]);
    expect(new Set(ir.sets.map((s) => `${s.family} ${s.source}`)).size).toBe(4);
  });

  it('set ids and chains are stable when a label changes: only members change', () => {
    const before = resolvePolicy(tenantsSnapshot(), 'h1');
    const s = tenantsSnapshot();
    // a-client2 (h2) stops being a client; b-web (h2) moves to tenant-a's profile.
    s.workloadEndpoints[3]!.metadata.labels = { role: 'other' };
    s.workloadEndpoints[4]!.spec.profiles = ['kns.tenant-a'];
    const after = resolvePolicy(s, 'h1');
    expect(after.chains).toEqual(before.chains);
    expect(after.endpoints).toEqual(before.endpoints);
    expect(after.sets.map((x) => x.id)).toEqual(before.sets.map((x) => x.id));
    const changed = after.sets.filter((x, i) => JSON.stringify(x.members) !== JSON.stringify(before.sets[i]!.members)).map((x) => `${x.family} ${x.source}: ${x.members.join(' ')}`);
    expect(changed.sort()).toEqual(['4 selector role == "client" (ns tenant-a): 198.19.0.2/32', '4 selector tenant == "a": 198.19.0.1/32 198.19.0.2/32 198.19.0.65/32 198.19.0.66/32']);
  });

  it('skips a stored policy or profile that fails validation, and says so', () => {
    const s = tenantsSnapshot();
    s.globalNetworkPolicies!.push({ apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', metadata: { name: 'junk' }, spec: { selector: 'a ==' } });
    s.profiles!.push({ apiVersion: 'projectcalico.org/v3', kind: 'Profile', metadata: { name: 'kns.tenant-a' }, spec: { ingress: [{ action: 'Allow', protocol: 'TCP', icmp: { type: 8 } }] } });
    const problems: string[] = [];
    const ir = resolvePolicy(s, 'h1', (p) => problems.push(p));
    expect(problems).toEqual([
      'Profile kns.tenant-a: ignored: spec.ingress[0].icmp: needs protocol ICMP or ICMPv6 (not TCP)',
      'GlobalNetworkPolicy junk: ignored: spec.selector: invalid selector "a ==": expected a quoted string at column 4',
    ]);
    expect(ir.chains.map((c) => c.name)).not.toContain('GlobalNetworkPolicy junk');
  });
});

describe('resolvePolicy: named ports (felix/calc/rule_scanner.go, felix/labelindex/named_port_index.go)', () => {
  const withPorts = (w: ReturnType<typeof wep>, ports: { name: string; protocol: 'TCP' | 'UDP' | 'SCTP'; port: number }[]) => ({ ...w, spec: { ...w.spec, ports } });
  const endpoints = [
    withPorts(wep('a-web', { ns: 'tenant-a', node: 'h1', iface: 'cali00000000a01', ips: ['198.19.0.1/32', '2001:db8:1::1/128'], labels: { role: 'web' } }), [
      { name: 'http', protocol: 'TCP', port: 8080 },
      { name: 'dns', protocol: 'UDP', port: 53 },
    ]),
    wep('a-client', { ns: 'tenant-a', node: 'h1', iface: 'cali00000000a02', ips: ['198.19.0.2/32'], labels: { role: 'client' } }),
    withPorts(wep('b-web', { ns: 'tenant-b', node: 'h2', iface: 'cali00000000b02', ips: ['198.19.0.66/32'], labels: { role: 'web' } }), [{ name: 'http', protocol: 'TCP', port: 9090 }]),
  ];
  const hep = `${V3}\nkind: HostEndpoint\nmetadata: {name: h1-eth0, labels: {role: web}}\nspec: {node: h1, interfaceName: eth0, expectedIPs: [198.18.0.1], ports: [{name: http, protocol: TCP, port: 80}]}\n`;
  const snap: PolicySnapshot = {
    ...resourcesFrom(
      [
        np('tenant-a', 'np-web', "selector: role == 'web'\ningress: [{action: Allow, protocol: TCP, destination: {ports: [http]}}]"),
        gnp(
          'egress-web',
          [
            "selector: role == 'client'",
            'egress:',
            "- {action: Allow, protocol: TCP, destination: {selector: role == 'web', ports: [http, 443]}}",
            "- {action: Allow, protocol: UDP, destination: {selector: role == 'web', namespaceSelector: projectcalico.org/name == 'tenant-a', ports: [dns]}}",
            '- {action: Deny, protocol: TCP, destination: {notPorts: [http]}}',
          ].join('\n'),
        ),
        hep,
      ].join('---\n'),
    ),
    workloadEndpoints: endpoints,
  };
  const ir = resolvePolicy(snap, 'h1');
  const named = (id: string) => {
    const s = setOf(ir, id);
    expect(s.namedPort).toBeDefined();
    return s;
  };

  it('a side with only a named port: a set of every endpoint of the cluster (no namespace scope, host endpoints too), and no selector set', () => {
    const [r4, r6] = chainNamed(ir, 'NetworkPolicy tenant-a/np-web').rules;
    expect(r4!.dst.sets).toEqual([]);
    expect(named(r4!.dst.namedPorts![0]!)).toMatchObject({ family: 4, namedPort: { name: 'http', protocol: 'tcp' }, members: ['198.18.0.1,tcp:80', '198.19.0.1,tcp:8080', '198.19.0.66,tcp:9090'] });
    expect(named(r6!.dst.namedPorts![0]!).members).toEqual(['2001:db8:1::1,tcp:8080']);
    expect(r4!.dst.ports).toEqual([]);
  });

  it("with numeric ports too: the selector's set stays, the named port's set is the selector's endpoints; the namespaceSelector scopes it; UDP looks up UDP ports", () => {
    const [tcp4, , udp4, , deny4] = chainNamed(ir, 'GlobalNetworkPolicy egress-web', 'egress').rules;
    expect(tcp4!.dst.sets).toHaveLength(1);
    // The host endpoint is labelled role web too: a GlobalNetworkPolicy's selector picks it.
    expect(setOf(ir, tcp4!.dst.sets[0]!).members).toEqual(['198.18.0.1/32', '198.19.0.1/32', '198.19.0.66/32']);
    expect(tcp4!.dst.ports).toEqual([{ first: 443, last: 443 }]);
    expect(named(tcp4!.dst.namedPorts![0]!).members).toEqual(['198.18.0.1,tcp:80', '198.19.0.1,tcp:8080', '198.19.0.66,tcp:9090']);
    expect(udp4!.dst.sets).toEqual([]);
    expect(named(udp4!.dst.namedPorts![0]!)).toMatchObject({
      members: ['198.19.0.1,udp:53'],
      source: 'named port udp:dns of selector role == "web" (namespaces projectcalico.org/name == "tenant-a")',
    });
    expect(named(deny4!.dst.notNamedPorts![0]!).members).toEqual(['198.18.0.1,tcp:80', '198.19.0.1,tcp:8080', '198.19.0.66,tcp:9090']);
  });

  it('the evaluator follows the sets: a named port is the port of that name of the endpoint the packet goes to', () => {
    const to = (dst: string, dstPort: number, protocol = 6) =>
      evaluate(ir, { family: 4, src: '198.19.0.2', dst, protocol, dstPort, fromIface: 'cali00000000a02', ...(dst === '198.19.0.1' ? { toIface: 'cali00000000a01' } : {}) });
    expect(to('198.19.0.1', 8080)).toMatchObject({ verdict: 'allow' });
    expect(to('198.19.0.1', 8080).reason).toMatch(
      /egress of tenant-a\/a-client: allowed by GlobalNetworkPolicy egress-web rule 1; ingress of tenant-a\/a-web: allowed by NetworkPolicy tenant-a\/np-web rule 1/,
    );
    // 443: numeric on egress, but a-web's ingress allows only its http port.
    expect(to('198.19.0.1', 443).reason).toMatch(/ingress of tenant-a\/a-web: denied/);
    // 9090 is b-web's http port, not a-web's.
    expect(to('198.19.0.1', 9090).reason).toMatch(/egress of tenant-a\/a-client: denied by GlobalNetworkPolicy egress-web rule 5/);
    expect(to('198.19.0.66', 9090)).toMatchObject({ verdict: 'allow' });
    expect(to('198.19.0.66', 8080)).toMatchObject({ verdict: 'deny' });
    // The dns port is a UDP port: TCP to 53 is not it.
    expect(to('198.19.0.1', 53, 17).reason).toMatch(/egress of tenant-a\/a-client: allowed by GlobalNetworkPolicy egress-web rule 3/);
    expect(to('198.19.0.1', 53, 6).reason).toMatch(/denied by GlobalNetworkPolicy egress-web rule 5/);
  });

  it('a port change on an endpoint changes members only: set ids and chains stay', () => {
    const moved = resolvePolicy({ ...snap, workloadEndpoints: [withPorts(endpoints[0]!, [{ name: 'http', protocol: 'TCP', port: 8081 }]), ...endpoints.slice(1)] }, 'h1');
    expect(moved.chains).toEqual(ir.chains);
    expect(moved.sets.map((s) => s.id)).toEqual(ir.sets.map((s) => s.id));
    const [r4] = chainNamed(moved, 'NetworkPolicy tenant-a/np-web').rules;
    expect(setOf(moved, r4!.dst.namedPorts![0]!).members).toContain('198.19.0.1,tcp:8081');
  });
});
