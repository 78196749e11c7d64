/**
 * Host endpoints as Felix protects a host (felix/rules/static.go, felix/rules/endpoints.go,
 * felix/dataplane/linux/endpoint_mgr.go; defaults from felix/config/config_params.go; the
 * HostEndpoint schema from api/pkg/apis/projectcalico/v3/hostendpoint.go).
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseResourceFile } from '../../src/ctl/parse.js';
import { API_VERSION, type CalicoNode, type FelixConfiguration, type HostEndpoint } from '../../src/model/resources.js';
import { evaluate, type Packet } from '../../src/policy/evaluate.js';
import { ALL_INTERFACES, FAILSAFE_DEFAULTS, hostForwardChainName } from '../../src/policy/ir.js';
import { compileIptables, renderFull } from '../../src/policy/iptables.js';
import { compileNft, renderFull as renderNft } from '../../src/policy/nftables.js';
import { resolvePolicy, type PolicySnapshot } from '../../src/policy/resolve.js';
import { resourcesFrom, wep } from '../fixtures/policy/cluster.js';
import { expectGolden } from '../helpers/golden.js';

const GOLDEN = fileURLToPath(new URL('./golden/host-endpoints/', import.meta.url));

/** Calico's reference page sample (calico/reference/resources/hostendpoint.mdx), unchanged. */
const REFERENCE_SAMPLE = `apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata:
  name: some.name
  labels:
    type: production
spec:
  interfaceName: eth0
  node: myhost
  expectedIPs:
    - 192.168.0.1
    - 192.168.0.2
  profiles:
    - profile1
    - profile2
  ports:
    - name: some-port
      port: 1234
      protocol: TCP
    - name: another-port
      port: 5432
      protocol: UDP
`;

const problems = (text: string) => {
  try {
    parseResourceFile(text, 'f.yaml');
    return [];
  } catch (err) {
    return (err as { problems?: string[] }).problems ?? [String(err)];
  }
};

describe('HostEndpoint and FelixConfiguration: what calicoctl takes', () => {
  it("takes Calico's reference sample unchanged", () => {
    expect(parseResourceFile(REFERENCE_SAMPLE, 'f.yaml')).toMatchObject([{ kind: 'HostEndpoint', metadata: { name: 'some.name' }, spec: { node: 'myhost', interfaceName: 'eth0' } }]);
  });

  it("refuses what Calico's validation refuses, naming the field", () => {
    const hep = (spec: string) => `apiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata: {name: h}\nspec: ${spec}\n`;
    expect(problems(hep('{interfaceName: eth0}')).join()).toMatch(/spec\.node: /);
    expect(problems(hep('{node: n}')).join()).toMatch(/at least one of interfaceName or expectedIPs must be specified/);
    expect(problems(hep('{node: n, expectedIPs: [10.0.0.300]}')).join()).toMatch(/spec\.expectedIPs\[0\]: "10\.0\.0\.300" is not an IP address/);
    expect(problems(hep('{node: n, interfaceName: "a very long interface"}')).join()).toMatch(/spec\.interfaceName: must be an interface name/);
  });

  it("takes failsafe ports, DefaultEndpointToHostAction, applyOnForward, preDNAT and doNotTrack, with libcalico-go's checks", () => {
    const fc = `apiVersion: projectcalico.org/v3\nkind: FelixConfiguration\nmetadata: {name: default}\nspec:\n  defaultEndpointToHostAction: Return\n  failsafeInboundHostPorts: [{protocol: TCP, port: 22, net: 10.0.0.0/8}]\n  failsafeOutboundHostPorts: []\n`;
    expect(problems(fc)).toEqual([]);
    const gnp = (field: string, v: boolean | number) =>
      `apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: p}\nspec: {selector: all(), applyOnForward: true, ${field}: ${v}}\n`;
    expect(problems(gnp('order', 1))).toEqual([]);
    expect(problems(gnp('preDNAT', true))).toEqual([]);
    expect(problems(gnp('doNotTrack', true))).toEqual([]);
    const noForward = `apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: p}\nspec: {selector: all(), preDNAT: true}\n`;
    expect(problems(noForward).join()).toMatch(/spec\.applyOnForward: ApplyOnForward must be true if either PreDNAT or DoNotTrack is true/);
    const egressType = `apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: p}\nspec: {selector: all(), preDNAT: true, applyOnForward: true, types: [Egress]}\n`;
    expect(problems(egressType).join()).toMatch(/spec\.types: PreDNAT PolicySpec cannot have 'egress' Type/);
  });
});

const hep = (name: string, spec: HostEndpoint['spec'], labels?: Record<string, string>): HostEndpoint => ({
  apiVersion: API_VERSION,
  kind: 'HostEndpoint',
  metadata: { name, ...(labels ? { labels } : {}) },
  spec,
});
const node = (name: string, ip: string): CalicoNode => ({ apiVersion: API_VERSION, kind: 'Node', metadata: { name }, spec: { bgp: { ipv4Address: `${ip}/16` } } }) as CalicoNode;

const POLICIES = `
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: k8s-node}
spec:
  order: 10
  selector: role == 'k8s-node'
  types: [Ingress]
  ingress:
    - {action: Allow, protocol: TCP, source: {selector: role == 'client'}, destination: {ports: [8080]}}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: everything}
spec:
  order: 20
  selector: all()
  types: [Ingress]
  ingress:
    - {action: Allow, protocol: ICMP}
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: web, namespace: default}
spec:
  selector: all()
  ingress:
    - {action: Allow}
---
apiVersion: projectcalico.org/v3
kind: Profile
metadata: {name: kns.default}
spec:
  ingress: [{action: Allow}]
  egress: [{action: Allow}]
`;

function snapshot(o: { heps: HostEndpoint[]; felix?: FelixConfiguration['spec'] }): PolicySnapshot {
  return {
    ...resourcesFrom(POLICIES),
    workloadEndpoints: [
      wep('web', { node: 'h1', iface: 'cali00000000a01', ips: ['198.19.0.1/32'], labels: { role: 'web' } }),
      wep('client', { node: 'h2', iface: 'cali00000000a02', ips: ['198.19.0.65/32'], labels: { role: 'client' } }),
    ],
    hostEndpoints: o.heps,
    nodes: [node('h1', '198.18.0.11'), node('h2', '198.18.0.12')],
    ...(o.felix ? { felixConfiguration: { apiVersion: API_VERSION, kind: 'FelixConfiguration', metadata: { name: 'default' }, spec: o.felix } } : {}),
  };
}

const H1_ETH0 = hep('h1-eth0', { node: 'h1', interfaceName: 'eth0', expectedIPs: ['198.18.0.11'] }, { role: 'k8s-node' });

describe('resolvePolicy: host endpoints', () => {
  it('a host endpoint gets the global policies whose selector matches it (all() too), never a NetworkPolicy', () => {
    const ir = resolvePolicy(snapshot({ heps: [H1_ETH0] }), 'h1');
    expect(ir.hostEndpoints).toHaveLength(1);
    const [h] = ir.hostEndpoints!;
    expect(h!.iface).toBe('eth0');
    const names = h!.ingress.tiers.flatMap((t) => t.policies.map((id) => ir.chains.find((c) => c.id === id)!.name));
    expect(names).toEqual(['GlobalNetworkPolicy k8s-node', 'GlobalNetworkPolicy everything']);
    expect(h!.egress).toEqual({ tiers: [], profiles: [] });
    expect(resolvePolicy(snapshot({ heps: [H1_ETH0] }), 'h2').hostEndpoints).toEqual([]);
  });

  it('a selector in a rule matches host endpoints by their expectedIPs', () => {
    const snap = snapshot({ heps: [H1_ETH0] });
    snap.globalNetworkPolicies!.push(
      ...resourcesFrom(`apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: from-nodes}
spec:
  selector: role == 'web'
  ingress: [{action: Allow, source: {selector: role == 'k8s-node'}}]
`).globalNetworkPolicies!,
    );
    const ir = resolvePolicy(snap, 'h1');
    expect(ir.sets.find((x) => x.family === 4 && x.source === 'selector role == "k8s-node"')?.members).toEqual(['198.18.0.11/32']);
  });

  it('"*" is every interface; with expectedIPs alone, the interface holding the node address; else not applied, with a warning', () => {
    const warnings: string[] = [];
    const ir = resolvePolicy(
      snapshot({
        heps: [
          hep('all', { node: 'h1', interfaceName: '*' }),
          hep('by-ip', { node: 'h1', expectedIPs: ['198.18.0.11'] }),
          hep('lost', { node: 'h1', expectedIPs: ['10.9.9.9'] }),
          hep('twice', { node: 'h1', interfaceName: 'eth0' }),
        ],
      }),
      'h1',
      (w) => warnings.push(w),
    );
    expect(ir.hostEndpoints!.map((h) => [h.iface, h.name])).toEqual([
      [ALL_INTERFACES, 'all'],
      ['eth0', 'by-ip'],
    ]);
    expect(warnings).toEqual([
      'HostEndpoint lost: no interface of h1 holds any of its expectedIPs (10.9.9.9): not applied',
      'HostEndpoint twice: interface eth0 of h1 already has HostEndpoint by-ip: not applied',
    ]);
  });

  it("failsafe ports and DefaultEndpointToHostAction: Felix's defaults unless the FelixConfiguration says", () => {
    expect(resolvePolicy(snapshot({ heps: [] }), 'h1')).toMatchObject({ failsafe: FAILSAFE_DEFAULTS, endpointToHost: 'drop' });
    const ir = resolvePolicy(snapshot({ heps: [], felix: { defaultEndpointToHostAction: 'Accept', failsafeInboundHostPorts: [{ protocol: 'UDP', port: 53, net: '10.0.0.0/8' }] } }), 'h1');
    expect(ir).toMatchObject({ failsafe: { inbound: [{ protocol: 17, port: 53, net: '10.0.0.0/8' }], outbound: FAILSAFE_DEFAULTS.outbound }, endpointToHost: 'accept' });
  });
});

/** Calico's applyOnForward: also police what the host forwards through the host endpoints it selects. */
const FORWARD = `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: forward-no-ssh}
spec:
  order: 5
  selector: role == 'k8s-node'
  applyOnForward: true
  types: [Ingress]
  ingress:
    - {action: Deny, protocol: TCP, destination: {ports: [22]}}
    - {action: Allow}
`;
const withForward = (heps: HostEndpoint[]) => {
  const snap = snapshot({ heps });
  snap.globalNetworkPolicies!.push(...resourcesFrom(FORWARD).globalNetworkPolicies!);
  return snap;
};

describe('applyOnForward (felix/calc/event_sequencer.go, felix/rules/endpoints.go chainTypeForward)', () => {
  const ir = resolvePolicy(withForward([H1_ETH0]), 'h1');
  const [h] = ir.hostEndpoints!;
  const names = (tiers: { policies: string[] }[]) => tiers.flatMap((t) => t.policies.map((id) => ir.chains.find((c) => c.id === id)!.name));

  it("an applyOnForward policy is in the host endpoint's forward tiers and in its normal ones; a direction with none has no tier", () => {
    expect(names(h!.forward!.ingress)).toEqual(['GlobalNetworkPolicy forward-no-ssh']);
    expect(h!.forward!.egress).toEqual([]);
    expect(names(h!.ingress.tiers)).toEqual(['GlobalNetworkPolicy forward-no-ssh', 'GlobalNetworkPolicy k8s-node', 'GlobalNetworkPolicy everything']);
    // Without one, the host endpoint has no forward tiers at all.
    expect(resolvePolicy(snapshot({ heps: [H1_ETH0] }), 'h1').hostEndpoints![0]!.forward).toBeUndefined();
  });

  it('forwarded traffic meets the incoming host endpoint’s forward policy, then the workload’s; no policy in a direction allows', () => {
    const tcp = (dstPort: number, o: Partial<Packet>): Packet => ({ family: 4, src: '198.18.0.12', dst: '198.19.0.1', protocol: 6, srcPort: 40000, dstPort, ...o });
    expect(evaluate(ir, tcp(22, { forwardIn: 'eth0', toIface: 'cali00000000a01' }))).toEqual({
      verdict: 'deny',
      reason: 'forwarded in through HostEndpoint h1-eth0: denied by GlobalNetworkPolicy forward-no-ssh rule 1',
    });
    expect(evaluate(ir, tcp(8080, { forwardIn: 'eth0', toIface: 'cali00000000a01' }))).toEqual({
      verdict: 'allow',
      reason: 'forwarded in through HostEndpoint h1-eth0: allowed by GlobalNetworkPolicy forward-no-ssh rule 3; ingress of default/web: allowed by NetworkPolicy default/web rule 1',
    });
    // Out through eth0: no egress forward policy, so allowed.
    expect(evaluate(ir, { family: 4, src: '198.19.0.1', dst: '198.18.0.12', protocol: 6, dstPort: 22, fromIface: 'cali00000000a01', forwardOut: 'eth0' }).verdict).toBe('allow');
    // Traffic not forwarded through a host endpoint is the workloads' alone.
    expect(evaluate(ir, tcp(22, { toIface: 'cali00000000a01' })).verdict).toBe('allow');
    // A "*" host endpoint's dispatch takes every interface, workloads' too (felix/rules/dispatch.go).
    const all = resolvePolicy(withForward([hep('all', { node: 'h1', interfaceName: '*' }, { role: 'k8s-node' })]), 'h1');
    expect(evaluate(all, { family: 4, src: '198.19.0.1', dst: '198.18.0.12', protocol: 6, dstPort: 22, fromIface: 'cali00000000a01' })).toEqual({
      verdict: 'deny',
      reason: 'forwarded in through HostEndpoint all: denied by GlobalNetworkPolicy forward-no-ssh rule 1',
    });
    // To its own host it is INPUT, not FORWARD: no forward policy there.
    expect(
      evaluate({ ...all, endpointToHost: 'accept' }, { family: 4, src: '198.19.0.1', dst: '198.18.0.11', protocol: 6, dstPort: 22, fromIface: 'cali00000000a01', toHost: 'cali00000000a01' }).verdict,
    ).toBe('allow');
  });
});

/** Untracked (raw table) and pre-DNAT (mangle table) policy on h1's eth0. */
const EARLY = `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: untracked-memcached}
spec:
  selector: role == 'k8s-node'
  doNotTrack: true
  applyOnForward: true
  ingress:
    - {action: Allow, protocol: UDP, destination: {ports: [11211]}}
    - {action: Deny, protocol: UDP, destination: {ports: [11212]}}
  egress:
    - {action: Allow, protocol: UDP, source: {ports: [11211]}}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: pre-dnat}
spec:
  selector: role == 'k8s-node'
  preDNAT: true
  applyOnForward: true
  ingress:
    - {action: Deny, protocol: TCP, source: {nets: [198.18.0.12/32]}, destination: {ports: [9090]}}
    - {action: Allow, protocol: TCP, destination: {ports: [9091]}}
`;
const withEarly = (heps: HostEndpoint[]) => {
  const snap = snapshot({ heps });
  snap.globalNetworkPolicies!.push(...resourcesFrom(EARLY).globalNetworkPolicies!);
  return snap;
};

describe('doNotTrack and preDNAT (felix/calc/event_sequencer.go, felix/rules/static.go and endpoints.go)', () => {
  const ir = resolvePolicy(withEarly([H1_ETH0]), 'h1');
  const [h] = ir.hostEndpoints!;
  const names = (tiers: { policies: string[] }[]) => tiers.flatMap((t) => t.policies.map((id) => ir.chains.find((c) => c.id === id)!.name));
  const udp = (dstPort: number, o: Partial<Packet>): Packet => ({ family: 4, src: '198.18.0.12', dst: '198.18.0.11', protocol: 17, srcPort: 40000, dstPort, ...o });
  const tcp = (dstPort: number, o: Partial<Packet>): Packet => ({ ...udp(dstPort, o), protocol: 6 });

  it('untracked and pre-DNAT policies are in tiers of their own, which pass what they do not decide; not in the normal or forward tiers', () => {
    expect(names(h!.untracked!.ingress)).toEqual(['GlobalNetworkPolicy untracked-memcached']);
    expect(names(h!.untracked!.egress)).toEqual(['GlobalNetworkPolicy untracked-memcached']);
    expect(names(h!.preDnat!)).toEqual(['GlobalNetworkPolicy pre-dnat']);
    expect([...h!.untracked!.ingress, ...h!.preDnat!].every((t) => t.defaultAction === 'pass')).toBe(true);
    expect(names(h!.ingress.tiers)).toEqual(['GlobalNetworkPolicy k8s-node', 'GlobalNetworkPolicy everything']);
    expect(h!.forward).toBeUndefined();
    // A "*" host endpoint takes no untracked policy, as Felix ignores it there (and says so).
    const warnings: string[] = [];
    const all = resolvePolicy(withEarly([hep('all', { node: 'h1', interfaceName: '*' }, { role: 'k8s-node' })]), 'h1', (w) => warnings.push(w)).hostEndpoints![0]!;
    expect(all.untracked).toBeUndefined();
    expect(all.preDnat).toBeDefined();
    // ...and builds no chain for it, which nothing would use.
    const withAll = resolvePolicy(withEarly([hep('all', { node: 'h1', interfaceName: '*' }, { role: 'k8s-node' })]), 'h1');
    expect(withAll.chains.map((c) => c.name)).not.toContain('GlobalNetworkPolicy untracked-memcached');
    expect(warnings).toContain('HostEndpoint all: doNotTrack policy is not supported for a host endpoint with interfaceName "*": ignored');
  });

  it('to the host: the untracked policy first, then pre-DNAT, then the normal policy; failsafe ports skip both', () => {
    expect(evaluate(ir, udp(11211, { toHost: 'eth0' }))).toEqual({ verdict: 'allow', reason: 'untracked ingress of HostEndpoint h1-eth0: allowed by GlobalNetworkPolicy untracked-memcached rule 1' });
    expect(evaluate(ir, udp(11212, { toHost: 'eth0' })).reason).toBe('untracked ingress of HostEndpoint h1-eth0: denied by GlobalNetworkPolicy untracked-memcached rule 3');
    expect(evaluate(ir, tcp(9090, { toHost: 'eth0' })).reason).toBe('pre-DNAT ingress of HostEndpoint h1-eth0: denied by GlobalNetworkPolicy pre-dnat rule 1');
    // Allowed before DNAT: the normal policy (which would drop 9091) is not asked.
    expect(evaluate(ir, tcp(9091, { toHost: 'eth0' })).verdict).toBe('allow');
    // Undecided by both: the normal policy (k8s-node allows 8080 from clients only).
    expect(evaluate(ir, tcp(8080, { toHost: 'eth0' })).reason).toBe('ingress of HostEndpoint h1-eth0: denied: end of tier default, no policy allowed it');
    // Untracked egress: replies by source port.
    expect(evaluate(ir, { ...udp(40000, { fromHost: 'eth0' }), src: '198.18.0.11', dst: '198.18.0.12', srcPort: 11211 }).verdict).toBe('allow');
    // A failsafe port (SSH) is not subject to the early policies.
    const ssh = resolvePolicy(
      (() => {
        const snap = withEarly([H1_ETH0]);
        snap.globalNetworkPolicies!.push(
          ...resourcesFrom(
            `apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: no-ssh}\nspec: {selector: role == 'k8s-node', preDNAT: true, applyOnForward: true, ingress: [{action: Deny, protocol: TCP, destination: {ports: [22]}}]}\n`,
          ).globalNetworkPolicies!,
        );
        return snap;
      })(),
      'h1',
    );
    expect(evaluate(ssh, tcp(22, { toHost: 'eth0' }))).toEqual({ verdict: 'allow', reason: 'ingress of HostEndpoint h1-eth0: failsafe port 22' });
  });

  it('forwarded: a pre-DNAT deny drops; its allow skips the forward policy, not the workload’s', () => {
    expect(evaluate(ir, tcp(9090, { dst: '198.19.0.1', forwardIn: 'eth0', toIface: 'cali00000000a01' })).verdict).toBe('deny');
    expect(evaluate(ir, tcp(9091, { dst: '198.19.0.1', forwardIn: 'eth0', toIface: 'cali00000000a01' })).reason).toBe(
      'pre-DNAT ingress of HostEndpoint h1-eth0: allowed by GlobalNetworkPolicy pre-dnat rule 2; ingress of default/web: allowed by NetworkPolicy default/web rule 1',
    );
  });

  it('compilers: the raw and mangle tables hold the chains, the policies there, NOTRACK on allow', () => {
    const c = compileIptables(ir);
    const bare = (rules: string[]) => rules.map((r) => r.replace(/^-A \S+ -m comment --comment "[^"]*" /, ''));
    expect(bare(c.raw[4].get('cali-PREROUTING')!)).toEqual(['-j MARK --set-xmark 0x0/0xf0000', '-i cali+ -j RETURN', '-j cali-from-host-endpoint', '-m mark --mark 0x10000/0x10000 -j ACCEPT']);
    expect(bare(c.raw[4].get('cali-from-host-endpoint')!)).toEqual(['-i eth0 -g cali-fh-eth0']);
    const rawFh = bare(c.raw[4].get('cali-fh-eth0')!);
    expect(rawFh[0]).toBe('-j cali-failsafe-in');
    expect(rawFh).toContain('-m mark --mark 0x10000/0x10000 -j NOTRACK');
    expect(rawFh.join('\n')).not.toMatch(/conntrack|DROP/);
    expect(bare(c.raw[4].get('cali-failsafe-in')!)).toContain('-p tcp -m tcp --sport 2379 -j ACCEPT');
    const untrackedChain = [...c.raw[4].keys()].find((k) => k.startsWith('cali-pi-'))!;
    expect(c.v4.has(untrackedChain)).toBe(false);
    expect(bare(c.mangle[4].get('cali-PREROUTING')!)).toEqual([
      '-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
      '-m mark --mark 0x10000/0x10000 -j ACCEPT',
      '-i cali+ -j RETURN',
      '-j cali-from-host-endpoint',
      '-m mark --mark 0x10000/0x10000 -j ACCEPT',
    ]);
    expect(bare(c.mangle[4].get('cali-fh-eth0')!).slice(0, 3)).toEqual(['-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT', '-m conntrack --ctstate INVALID -j DROP', '-j cali-failsafe-in']);
    // The filter table accepts what they accepted.
    expect(bare(c.v4.get('cali-INPUT')!)).toContain('-m mark --mark 0x10000/0x10000 -j ACCEPT');
    expect(bare(c.v4.get('cali-OUTPUT')!)[0]).toBe('-m mark --mark 0x10000/0x10000 -j ACCEPT');
    const nft = renderNft(compileNft(ir));
    expect(nft).toMatch(/chain raw-cali-fh-eth0 \{\n\t\tjump raw-cali-failsafe-in\n/);
    expect(nft).toMatch(/meta mark & 0x10000 == 0x10000 notrack comment "untracked policy accepted: no conntrack"/);
    expect(nft).toMatch(/map mangle-cali-fh-dispatch \{\n\t\ttype ifname : verdict\n\t\telements = \{ "eth0" : goto mangle-cali-fh-eth0 \}/);
    expect(nft).toMatch(/chain mangle-PREROUTING \{\n\t\ttype filter hook prerouting priority mangle; policy accept;\n\t\tjump mangle-cali-PREROUTING/);
  });
});

describe('evaluate: traffic to and from the host', () => {
  const tcp = (src: string, dst: string, dstPort: number, o: Partial<Packet> = {}): Packet => ({ family: 4, src, dst, protocol: 6, srcPort: 40000, dstPort, ...o });
  const ir = resolvePolicy(snapshot({ heps: [H1_ETH0] }), 'h1');
  const v = (p: Packet) => evaluate(ir, p);

  it('policy allows, the rest is dropped at the end of the tier; failsafe ports pass first', () => {
    expect(v(tcp('198.19.0.65', '198.18.0.11', 8080, { toHost: 'eth0' }))).toEqual({ verdict: 'allow', reason: 'ingress of HostEndpoint h1-eth0: allowed by GlobalNetworkPolicy k8s-node rule 1' });
    expect(v(tcp('198.18.0.12', '198.18.0.11', 8080, { toHost: 'eth0' }))).toEqual({ verdict: 'deny', reason: 'ingress of HostEndpoint h1-eth0: denied: end of tier default, no policy allowed it' });
    expect(v(tcp('198.18.0.12', '198.18.0.11', 179, { toHost: 'eth0' }))).toEqual({ verdict: 'allow', reason: 'ingress of HostEndpoint h1-eth0: failsafe port 179' });
    // No policy for the host's egress, no profile: dropped, but for the failsafe ports.
    expect(v(tcp('198.18.0.11', '198.18.0.12', 8080, { fromHost: 'eth0' })).verdict).toBe('deny');
    expect(v(tcp('198.18.0.11', '198.18.0.1', 2379, { fromHost: 'eth0' })).verdict).toBe('allow');
    // An interface no host endpoint covers is not policed.
    expect(v(tcp('198.18.0.12', '198.18.0.11', 8080, { toHost: 'eth1' })).verdict).toBe('allow');
  });

  it('a workload and its own host: the workload egress, then DefaultEndpointToHostAction; host → workload always', () => {
    const toHost = tcp('198.19.0.1', '198.18.0.11', 8080, { fromIface: 'cali00000000a01', toHost: 'cali00000000a01' });
    expect(v(toHost)).toEqual({ verdict: 'deny', reason: 'egress of default/web: allowed by Profile kns.default rule 1; to its host: DefaultEndpointToHostAction drop' });
    expect(evaluate({ ...ir, endpointToHost: 'accept' }, toHost).verdict).toBe('allow');
    expect(v(tcp('198.18.0.11', '198.19.0.1', 80, { fromHost: 'cali00000000a01', toIface: 'cali00000000a01' })).verdict).toBe('allow');
  });
});

describe('compilers: host endpoint chains (golden)', () => {
  const snap = withForward([H1_ETH0, hep('h1-all', { node: 'h1', interfaceName: '*' })]);
  snap.felixConfiguration = {
    apiVersion: API_VERSION,
    kind: 'FelixConfiguration',
    metadata: { name: 'default' },
    spec: { failsafeOutboundHostPorts: [{ protocol: 'TCP', port: 2379, net: '198.18.0.1/32' }] },
  };
  const ir = resolvePolicy(snap, 'h1');

  it('iptables: dispatch by interface, the "*" endpoint last; conntrack, failsafe, policy, drop', () => {
    const full = renderFull(compileIptables(ir));
    expectGolden(join(GOLDEN, 'iptables-v4.txt'), full.v4);
    expect(full.v4).toMatch(/-A cali-from-host-endpoint .* -i eth0 -g cali-fh-eth0\n-A cali-from-host-endpoint .* -g cali-fh-any-interface-at-all\n/);
    expect(full.v4).toMatch(/-A cali-failsafe-out .* -p tcp -m tcp --dport 2379 -d 198\.18\.0\.1\/32 -j ACCEPT\n/);
    // The IPv4-only failsafe rule has no IPv6 version.
    expect(full.v6.slice(0, full.v6.indexOf('*raw'))).not.toMatch(/-A cali-failsafe-out /);
    expect(full.v4).toMatch(/-A cali-wl-to-host .*DefaultEndpointToHostAction DROP.* -j DROP/);
  });

  it('iptables: forwarded traffic meets the host endpoints’ forward chains around the workload dispatch; no forward policy allows', () => {
    const v4 = compileIptables(ir).v4;
    const bare = (chain: string) => v4.get(chain)!.map((r) => r.replace(/^-A \S+ -m comment --comment "[^"]*" /, ''));
    expect(bare('cali-FORWARD')).toEqual([
      // The accept mark stays (an untracked or pre-DNAT policy's); then the forward policy only without it.
      '-j MARK --set-xmark 0x0/0x20000',
      '-m mark --mark 0x0/0x10000 -j cali-from-hep-forward',
      '-i cali+ -j cali-from-wl-dispatch',
      '-o cali+ -j cali-to-wl-dispatch',
      '-j cali-to-hep-forward',
      '-i cali+ -j ACCEPT',
      '-o cali+ -j ACCEPT',
      '-m mark --mark 0x10000/0x10000 -j ACCEPT',
    ]);
    const all = hostForwardChainName('ingress', ALL_INTERFACES);
    expect(all).toMatch(/^cali-fhfw-any-interfa_[0-9a-f]{6}$/);
    expect(bare('cali-from-hep-forward')).toEqual(['-i eth0 -g cali-fhfw-eth0', `-g ${all}`]);
    const fhfw = bare('cali-fhfw-eth0');
    expect(fhfw.slice(0, 3)).toEqual(['-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT', '-m conntrack --ctstate INVALID -j DROP', '-j MARK --set-xmark 0x0/0x30000']);
    expect(fhfw.join('\n')).not.toMatch(/failsafe|cali-pri-/);
    expect(fhfw.at(-1)).toBe('-m mark --mark 0x0/0x20000 -j DROP');
    // No forward policy out through eth0, none on the "*" endpoint: allowed.
    expect(bare('cali-thfw-eth0').slice(-2)).toEqual(['-j MARK --set-xmark 0x10000/0x10000', '-j RETURN']);
    expect(bare(all).slice(-2)).toEqual(['-j MARK --set-xmark 0x10000/0x10000', '-j RETURN']);
  });

  it('nftables: the same, with interface maps', () => {
    const text = renderNft(compileNft(ir));
    expectGolden(join(GOLDEN, 'table.nft'), text);
    expect(text).toMatch(/map filter-cali-fh-dispatch \{\n\t\ttype ifname : verdict\n\t\telements = \{ "eth0" : goto filter-cali-fh-eth0 \}/);
    expect(text).toMatch(/chain filter-cali-from-host-endpoint \{\n\t\tiifname vmap @filter-cali-fh-dispatch\n\t\tgoto filter-cali-fh-any-interface-at-all\n/);
    expect(text).toMatch(/map filter-cali-fhfw-dispatch \{\n\t\ttype ifname : verdict\n\t\telements = \{ "eth0" : goto filter-cali-fhfw-eth0 \}/);
    expect(text).toMatch(/chain filter-cali-from-hep-forward \{\n\t\tiifname vmap @filter-cali-fhfw-dispatch\n\t\tgoto filter-cali-fhfw-any-interfa_[0-9a-f]{6}\n/);
    expect(text).toMatch(
      /chain filter-cali-thfw-eth0 \{\n\t\tct state established,related accept\n\t\tct state invalid drop\n\t\tmeta mark set .*\n\t\tmeta mark set meta mark \| 0x10000 return comment "allow forwarded traffic by default"\n\t\}/,
    );
  });
});
