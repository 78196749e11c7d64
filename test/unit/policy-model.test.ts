import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseResourceFile } from '../../src/ctl/parse.js';
import { formatResources } from '../../src/ctl/format.js';
import { ResourceError } from '../../src/ctl/resource-error.js';
import { comparePolicies, compareTiers, isNamedPort, parsePort, portProblem, policySortName, policyTypes, protocolNumber, supportsPorts } from '../../src/policy/model.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/policy/', import.meta.url));
const read = (name: string) => readFileSync(`${FIXTURES}${name}`, 'utf8');

describe('policy files: what is accepted, and how it is stored', () => {
  const rs = parseResourceFile(read('tenants.yaml'), 'tenants.yaml');

  it('reads every kind of the tenants fixture', () => {
    expect(rs.map((r) => `${r.kind}/${r.metadata.namespace ?? ''}/${r.metadata.name}`)).toEqual([
      'Profile//kns.tenant-a',
      'Profile//kns.tenant-b',
      'GlobalNetworkPolicy//allow-ping',
      'NetworkPolicy/tenant-a/web',
      'GlobalNetworkPolicy//to-profiles',
      'GlobalNetworkPolicy//b-outside',
      'FelixConfiguration//default',
    ]);
  });

  it("fills types with Calico's default and keeps the rest as written", () => {
    const web = rs.find((r) => r.metadata.name === 'web')!;
    expect(web.spec).toEqual({
      order: 100,
      selector: 'role == "web"',
      tier: 'default',
      types: ['Ingress'],
      ingress: [{ action: 'Allow', protocol: 'TCP', source: { selector: 'role == "client"' }, destination: { ports: [80, '8000:8080'] } }, { action: 'Deny' }],
    });
    // Only egress rules: Egress alone (libcalico-go's defaultPolicyTypesField).
    expect(rs.find((r) => r.metadata.name === 'b-outside')!.spec).toMatchObject({ types: ['Egress'] });
  });

  it('gives a NetworkPolicy without a namespace the namespace "default"', () => {
    const [np] = parseResourceFile('apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: p}\nspec: {}\n', 'np.yaml');
    expect(np!.metadata).toEqual({ name: 'p', namespace: 'default' });
    expect(np!.spec).toEqual({ tier: 'default', types: ['Ingress'] });
  });

  it('takes the same name in two namespaces, but not twice in one', () => {
    const np = (ns: string) => `apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: p, namespace: ${ns}}\nspec: {}\n`;
    expect(parseResourceFile(`${np('a')}---\n${np('b')}`, 'x.yaml')).toHaveLength(2);
    expect(() => parseResourceFile(`${np('a')}---\n${np('a')}`, 'x.yaml')).toThrow(
      'x.yaml: document 2 (NetworkPolicy p): metadata.name: NetworkPolicy a/p is given twice (also at x.yaml: document 1)',
    );
  });

  it('accepts Calico syntax corner cases: port strings, protocol numbers, ICMP code, Log, empty spec', () => {
    const [gnp] = parseResourceFile(
      `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: p}
spec:
  order: 0.5
  ingress:
  - {action: Log}
  - {action: Allow, protocol: 132, destination: {ports: ["9", "0:1023"], notPorts: [22]}}
  - {action: Allow, protocol: ICMPv6, icmp: {type: 1, code: 4}, source: {notNets: ["2001:db8::/32"]}}
  - {action: Deny, ipVersion: 6, notProtocol: UDPLite, source: {notSelector: "has(x)"}}
`,
      'p.yaml',
    );
    expect(gnp!.spec).toMatchObject({ order: 0.5, types: ['Ingress'] });
    const [felix] = parseResourceFile('apiVersion: projectcalico.org/v3\nkind: FelixConfiguration\nmetadata: {name: default}\n', 'f.yaml');
    expect(felix!.spec).toEqual({});
  });

  it('writes back (get -o yaml) what it reads', () => {
    expect(parseResourceFile(formatResources(rs, 'yaml'), 'back.yaml')).toEqual(rs);
  });
});

describe('bad policy files: each refused, the message naming the field', () => {
  const files = readdirSync(`${FIXTURES}bad`)
    .filter((f) => f.endsWith('.yaml'))
    .sort();

  it('has the fixtures', () => expect(files.length).toBeGreaterThan(25));

  it.each(files)('%s', (file) => {
    const text = read(`bad/${file}`);
    const expected = /^# expect: (.*)$/m.exec(text)![1]!;
    let problems: readonly string[] = [];
    try {
      parseResourceFile(text, file);
    } catch (err) {
      expect(err).toBeInstanceOf(ResourceError);
      problems = (err as ResourceError).problems;
    }
    expect(problems).toHaveLength(1);
    // `<file>: document 1 (<Kind> <name>): <field path>: <reason>`
    expect(problems[0]!.slice(problems[0]!.indexOf('): ') + 3)).toBe(expected);
  });
});

describe('pure helpers', () => {
  it('parsePort: numbers, "n" and "first:last"; refuses the rest', () => {
    expect(parsePort(80)).toEqual({ first: 80, last: 80 });
    expect(parsePort('443')).toEqual({ first: 443, last: 443 });
    expect(parsePort('0:65535')).toEqual({ first: 0, last: 65535 });
    expect(parsePort('80:80')).toEqual({ first: 80, last: 80 });
    expect(() => parsePort('90:80')).toThrow('"90:80": first port is above last');
    expect(() => parsePort(-1)).toThrow('-1: ports are whole numbers from 0 to 65535');
    expect(() => parsePort(1.5)).toThrow('1.5: ports are whole numbers');
    expect(() => parsePort('1:')).toThrow('"1:": ports are whole numbers');
    expect(() => parsePort('http')).toThrow('"http" is a named port, not a number or range');
  });

  it('named ports: a string that is neither a number nor a range, checked as Kubernetes port names are (libcalico-go portName)', () => {
    expect(['http', 'metrics-9', 'a'].map(isNamedPort)).toEqual([true, true, true]);
    expect([80, '80', '80:90'].map(isNamedPort)).toEqual([false, false, false]);
    expect(portProblem('http')).toBeUndefined();
    expect(portProblem('HTTP')).toMatch(/only alpha-numeric characters \(a-z, 0-9\), and hyphens/);
    expect(portProblem('a-very-long-port-name')).toMatch(/no more than 15 characters/);
    expect(portProblem('web--api')).toMatch(/consecutive hyphens/);
    expect(portProblem('-web')).toMatch(/begin or end with a hyphen/);
    expect(portProblem('80-90')).toBe('"80-90" is not a port number, range or name: a named port must contain at least one letter (a-z) (a range is "80:90")');
  });

  it('protocol numbers and which protocols have ports', () => {
    expect(['TCP', 'UDP', 'ICMP', 'ICMPv6', 'SCTP', 'UDPLite', 47].map((p) => protocolNumber(p as never))).toEqual([6, 17, 1, 58, 132, 136, 47]);
    expect(['TCP', 'UDP', 'SCTP', 6, 17, 132].every((p) => supportsPorts(p as never))).toBe(true);
    expect([undefined, 'ICMP', 'UDPLite', 47].some((p) => supportsPorts(p as never))).toBe(false);
  });

  it("policyTypes: Calico's defaults, or the given list", () => {
    const allow = [{ action: 'Allow' as const }];
    expect(policyTypes({})).toEqual(['Ingress']);
    expect(policyTypes({ ingress: allow })).toEqual(['Ingress']);
    expect(policyTypes({ egress: allow })).toEqual(['Egress']);
    expect(policyTypes({ ingress: allow, egress: allow })).toEqual(['Ingress', 'Egress']);
    expect(policyTypes({ types: ['Egress'], ingress: allow })).toEqual(['Egress']);
  });

  it('policy order: order ascending, unset last, ties by <name>/<namespace>/<kind> (felix/calc/policy_sorter.go), byte-wise', () => {
    const p = (sortName: string, order?: number) => ({ sortName, order });
    const sorted = [p('z', 1), p('b'), p('a'), p('y', 1), p('B', 1), p('x', 0.5), p('w', -3)].sort(comparePolicies);
    expect(sorted.map((x) => x.sortName)).toEqual(['w', 'x', 'B', 'y', 'z', 'a', 'b']);
    expect(policySortName('NetworkPolicy', { name: 'web', namespace: 'tenant-a' })).toBe('web/tenant-a/NetworkPolicy');
    expect(policySortName('NetworkPolicy', { name: 'web' })).toBe('web/default/NetworkPolicy');
    expect(policySortName('GlobalNetworkPolicy', { name: 'web' })).toBe('web//GlobalNetworkPolicy');
    // Equal orders: a GlobalNetworkPolicy "b" comes before a NetworkPolicy "b" of any namespace ("/" < letters), after a NetworkPolicy "a".
    const names = [
      policySortName('NetworkPolicy', { name: 'b', namespace: 'x' }),
      policySortName('GlobalNetworkPolicy', { name: 'b' }),
      policySortName('NetworkPolicy', { name: 'a', namespace: 'z' }),
    ];
    expect(
      names
        .map((sortName) => ({ sortName, order: 5 }))
        .sort(comparePolicies)
        .map((x) => x.sortName),
    ).toEqual(['a/z/NetworkPolicy', 'b//GlobalNetworkPolicy', 'b/x/NetworkPolicy']);
  });

  it('tier order: order ascending, unset last, ties by name (felix/calc/policy_sorter.go TierLess)', () => {
    const t = (name: string, order?: number) => ({ name, order });
    expect([t('z'), t('default', 1_000_000), t('b', 100), t('a', 100), t('y')].sort(compareTiers).map((x) => x.name)).toEqual(['a', 'b', 'default', 'y', 'z']);
  });
});
