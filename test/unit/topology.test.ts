import { describe, expect, it } from 'vitest';
import { YAMLParseError } from 'yaml';
import { defaultLabName } from '../../src/cli/lab.js';
import { parseTopology } from '../../src/model/topology.js';
import { builtinTopologies, resolveTopology } from '../../src/topologies/index.js';
import { TopologyError } from '../../src/util/errors.js';
import { billionLaughs } from '../helpers/bad-input.js';

const ok = `
hosts:
  - name: a
    workloads: [w1]
  - name: b
`;

describe('topology parsing', () => {
  it('fills the defaults from the address plan', () => {
    const p = parseTopology(ok, 't.yaml');
    expect(p.asNumber).toBe(64512);
    expect(p.meshEnabled).toBe(true);
    expect(p.fabric).toEqual({ cidr: '198.18.0.0/17', gatewayIp: '198.18.0.1', prefixLength: 17 });
    expect(p.pools).toEqual([{ name: 'default-ipv4-ippool', cidr: '198.19.0.0/16', blockSize: 26, natOutgoing: false, vxlan: false }]);
    expect(p.hosts.map((h) => [h.name, h.ip])).toEqual([
      ['a', '198.18.0.11'],
      ['b', '198.18.0.12'],
    ]);
    expect(p.workloads).toEqual([{ name: 'w1', host: 'a' }]);
  });

  it('ships two-host as a built-in', () => {
    expect(builtinTopologies()).toContain('two-host');
    const p = resolveTopology('two-host');
    expect(p.hosts).toHaveLength(2);
    expect(p.workloads).toHaveLength(4);
  });

  const bad: [string, string, RegExp][] = [
    ['malformed YAML', 'hosts: [a, b\n', /t\.yaml: .*malformed YAML/],
    ['unknown key', 'hosts: [{name: a}]\nhostz: 1\n', /t\.yaml: \(top level\): .*hostz/],
    ['missing hosts', 'asNumber: 64512\n', /t\.yaml: hosts: /],
    ['empty hosts', 'hosts: []\n', /t\.yaml: hosts: a lab needs at least one host/],
    ['bad host name', 'hosts: [{name: Host_1}]\n', /t\.yaml: hosts\[0\]\.name: must be/],
    ['duplicate host', 'hosts: [{name: a}, {name: a}]\n', /t\.yaml: hosts\[1\]\.name: duplicate name "a"/],
    ['workload named like a host', 'hosts: [{name: a, workloads: [b]}, {name: b}]\n', /hosts\[1\]\.name: duplicate name "b"/],
    ['bad AS', 'asNumber: 0\nhosts: [{name: a}]\n', /t\.yaml: asNumber: /],
    ['bad pool CIDR', 'pools: [{cidr: 198.19.0.0/33}]\nhosts: [{name: a}]\n', /t\.yaml: pools\[0\]\.cidr: /],
    ['pool with host bits', 'pools: [{cidr: 198.19.0.1/16}]\nhosts: [{name: a}]\n', /t\.yaml: pools\[0\]\.cidr: /],
    ['pool overlapping the fabric', 'pools: [{cidr: 198.18.64.0/24}]\nhosts: [{name: a}]\n', /t\.yaml: pools\[0\]\.cidr: pool 198\.18\.64\.0\/24 overlaps the fabric/],
    ['overlapping pools', 'pools: [{cidr: 198.19.0.0/16}, {cidr: 198.19.4.0/24}]\nhosts: [{name: a}]\n', /pools\[1\]\.cidr: pool 198\.19\.4\.0\/24 overlaps pools\[0\]/],
    ['block larger than pool', 'pools: [{cidr: 198.19.0.0/24, blockSize: 22}]\nhosts: [{name: a}]\n', /pools\[0\]\.blockSize: /],
    // Found by fuzz-topology: these threw IpamError ("ordinal 1 is outside block ..."), not a TopologyError.
    [
      'a router network with no room for the router',
      'hosts: [{name: a}]\nrouters: [{name: r, asNumber: 65001, network: "2001:db8:2::/128"}]\n',
      /t\.yaml: routers\[0\]\.network: 2001:db8:2::\/128 is too small: it has no address 1 for the router$/,
    ],
    [
      'a router network with no room for its clients',
      'hosts: [{name: a}]\nrouters: [{name: r, asNumber: 65001, network: 198.18.255.0/30, clients: [c]}]\n',
      /t\.yaml: routers\[0\]\.network: 198\.18\.255\.0\/30 is too small: it has no address 10 for client c$/,
    ],
    [
      'an IPv6 fabric with no room for the hosts',
      'hosts: [{name: a}]\npools: [{cidr: 198.19.0.0/16}, {cidr: "2001:db8:1::/120"}]\nfabric6: "2001:db8:f::/127"\n',
      /t\.yaml: hosts: 1 host does not fit in the fabric6 2001:db8:f::\/127: it has room for 0 hosts .*; 1 host needs a \/124 or larger$/,
    ],
    [
      'an IPv6 fabric with no room for its gateway',
      'hosts: [{name: a}]\npools: [{cidr: 198.19.0.0/16}, {cidr: "2001:db8:1::/120"}]\nfabric6: "2001:db8:f::/128"\n',
      /t\.yaml: hosts: 1 host does not fit in the fabric6 2001:db8:f::\/128: it has room for 0 hosts .*; 1 host needs a \/124 or larger$/,
    ],
    ['too many hosts for the fabric', `fabric: 198.18.0.0/28\nhosts: [${Array.from({ length: 5 }, (_, i) => `{name: h${i}}`).join(', ')}]\n`, /t\.yaml: hosts: 5 hosts do not fit/],
  ];
  it.each(bad)('refuses %s with the file and field', (_what, text, re) => {
    expect(() => parseTopology(text, 't.yaml')).toThrow(TopologyError);
    expect(() => parseTopology(text, 't.yaml')).toThrow(re);
  });

  it('refuses a YAML alias bomb at once, naming the file and where the aliases multiply', () => {
    const t0 = performance.now();
    expect(() => parseTopology(billionLaughs(9), 'bomb.yaml')).toThrow(
      new TopologyError('bomb.yaml: l2[0]: alias *l1: its aliases would expand more than 100 times (a YAML alias bomb, "billion laughs"): refused'),
    );
    // Expanded, it would be 9^9 strings: minutes and gigabytes. Refused, it takes milliseconds (seconds on a loaded machine).
    expect(performance.now() - t0).toBeLessThan(5_000);
    // A few aliases are fine; an alias of no anchor names the field.
    expect(parseTopology('hosts: [{name: a, labels: &l {rack: r1}}, {name: b, labels: *l}]\n', 't.yaml').hosts.map((h) => h.labels)).toEqual([{ rack: 'r1' }, { rack: 'r1' }]);
    expect(() => parseTopology('hosts: [{name: a, workloads: *ws}]\n', 't.yaml')).toThrow(new TopologyError('t.yaml: hosts[0].workloads: alias *ws names no anchor defined before it'));
  });

  it('a fabric too small for the hosts says how many fit (never fewer than none) and what they need', () => {
    const hosts = (n: number) => `hosts: [${Array.from({ length: n }, (_, i) => `{name: h${i}}`).join(', ')}]\n`;
    expect(() => parseTopology(`fabric: 198.18.0.0/30\n${hosts(1)}`, 't.yaml')).toThrow(
      new TopologyError(
        't.yaml: hosts: 1 host does not fit in the fabric 198.18.0.0/30: it has room for 0 hosts (hosts take the addresses from .11 to the last before the broadcast; .1 is the gateway, .2–.10 the routers); 1 host needs a /28 or larger',
      ),
    );
    expect(() => parseTopology(`fabric: 198.18.0.0/28\n${hosts(5)}`, 't.yaml')).toThrow(
      new TopologyError(
        't.yaml: hosts: 5 hosts do not fit in the fabric 198.18.0.0/28: it has room for 4 hosts (hosts take the addresses from .11 to the last before the broadcast; .1 is the gateway, .2–.10 the routers); 5 hosts need a /27 or larger',
      ),
    );
    expect(parseTopology(`fabric: 198.18.0.0/28\n${hosts(4)}`, 't.yaml').hosts.map((h) => h.ip)).toEqual(['198.18.0.11', '198.18.0.12', '198.18.0.13', '198.18.0.14']);
    // The IPv6 fabric of a dual-stack lab too.
    expect(() => parseTopology(`fabric6: "2001:db8:f::/125"\npools: [{cidr: "2001:db8:1::/64"}]\n${hosts(1)}`, 't.yaml')).toThrow(
      /^t\.yaml: hosts: 1 host does not fit in the fabric6 2001:db8:f::\/125: it has room for 0 hosts .*; 1 host needs a \/124 or larger$/,
    );
  });

  it('keeps the error it wraps as the cause', () => {
    const thrown = (text: string): TopologyError => {
      try {
        parseTopology(text, 't.yaml');
      } catch (err) {
        return err as TopologyError;
      }
      throw new Error('no error');
    };
    expect(thrown('hosts: [a, b\n').cause).toBeInstanceOf(YAMLParseError);
    expect(thrown('pools: [{cidr: 198.19.0.0/33}]\nhosts: [{name: a}]\n').cause).toBeInstanceOf(Error);
    expect(thrown("bgp: {peers: [{name: p, peerSelector: 'has(rr'}]}\nhosts: [{name: a}]\n").cause).toBeInstanceOf(Error);
    expect(thrown('hosts: [{name: a}, {name: a}]\n')).not.toHaveProperty('cause');
  });

  it("names the lab after the topology's name: when it has one, else after the file", () => {
    const named = parseTopology('name: my-lab\nhosts: [{name: a}]\n', 'dir/other-file.yaml');
    expect(named.name).toBe('my-lab');
    expect(defaultLabName(named.source, 'dir/other-file.yaml', named.name)).toBe('my-lab');
    const unnamed = parseTopology('hosts: [{name: a}]\n', 'dir/other-file.yaml');
    expect(unnamed.name).toBeUndefined();
    expect(defaultLabName(unnamed.source, 'dir/other-file.yaml', unnamed.name)).toBe('other-file');
    expect(defaultLabName(resolveTopology('two-host').source, 'two-host', resolveTopology('two-host').name)).toBe('two-host');
    expect(resolveTopology('mesh', { hosts: 3 }).name).toBe('mesh');
    // A name that cannot name a lab is refused where it is written.
    expect(() => parseTopology('name: a-name-too-long-for-a-lab\nhosts: [{name: a}]\n', 't.yaml')).toThrow(
      new TopologyError('t.yaml: name: must be 1-16 characters of a-z, 0-9 and "-" (not at either end): it names the lab'),
    );
  });

  it('refuses an unknown topology name and a missing file', () => {
    expect(() => resolveTopology('no-such-topology')).toThrow(/unknown topology "no-such-topology": not a built-in \(.*two-host.*\) and no such file/);
  });
});
