/**
 * namespaceSelector as Calico means it (libcalico-go/lib/apis v3 EntityRule and GlobalNetworkPolicySpec;
 * namespace labels reach endpoints as `pcns.<key>` through their kns.<namespace> profile): in a
 * rule it scopes selector and notSelector to the endpoints of the namespaces it selects
 * (`global()`: non-namespaced endpoints); on a GlobalNetworkPolicy, which endpoints it applies to.
 */
import { describe, expect, it } from 'vitest';
import { evaluate, type Packet } from '../../src/policy/evaluate.js';
import { API_VERSION, type HostEndpoint } from '../../src/model/resources.js';
import { resolvePolicy, type PolicySnapshot } from '../../src/policy/resolve.js';
import { resourcesFrom, wep } from '../fixtures/policy/cluster.js';

const PROFILES = ['prod', 'dev', 'ops']
  .map(
    (ns) => `apiVersion: projectcalico.org/v3
kind: Profile
metadata: {name: kns.${ns}}
spec:
  ingress: [{action: Allow}]
  egress: [{action: Allow}]
  labelsToApply: {pcns.projectcalico.org/name: ${ns}, pcns.env: ${ns === 'ops' ? 'prod' : ns}}
`,
  )
  .join('---\n');

const POLICIES = `apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: db, namespace: prod}
spec:
  selector: role == 'db'
  ingress:
    - action: Allow
      protocol: TCP
      source: {namespaceSelector: env == 'prod', selector: role == 'app'}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: dev-no-egress}
spec:
  namespaceSelector: projectcalico.org/name == 'dev'
  types: [Egress]
  egress:
    - action: Allow
      destination: {namespaceSelector: global()}
`;

const HOST: HostEndpoint = { apiVersion: API_VERSION, kind: 'HostEndpoint', metadata: { name: 'h1-eth0' }, spec: { node: 'h1', interfaceName: 'eth0', expectedIPs: ['198.18.0.11'] } };

const snap = (): PolicySnapshot => ({
  ...resourcesFrom(`${PROFILES}---\n${POLICIES}`),
  workloadEndpoints: [
    wep('db', { ns: 'prod', node: 'h1', iface: 'cali0000000db01', ips: ['198.19.0.1/32'], labels: { role: 'db' } }),
    wep('app', { ns: 'prod', node: 'h2', iface: 'cali0000000ap01', ips: ['198.19.0.65/32'], labels: { role: 'app' } }),
    wep('ops-app', { ns: 'ops', node: 'h2', iface: 'cali0000000op01', ips: ['198.19.0.66/32'], labels: { role: 'app' } }),
    wep('dev-app', { ns: 'dev', node: 'h1', iface: 'cali0000000de01', ips: ['198.19.0.2/32'], labels: { role: 'app' } }),
  ],
  hostEndpoints: [HOST],
});

const tcp = (src: string, dst: string, o: Partial<Packet>): Packet => ({ family: 4, src, dst, protocol: 6, srcPort: 40000, dstPort: 5432, ...o });

describe('namespaceSelector', () => {
  const ir = resolvePolicy(snap(), 'h1');

  it('in a rule: selector matches in the namespaces it selects (by their labels), not the policy namespace', () => {
    const set = ir.sets.find((x) => x.family === 4 && x.source.startsWith('selector role == "app" (namespaces'))!;
    expect(set.source).toBe('selector role == "app" (namespaces env == "prod")');
    // app (prod) and ops-app (ops, labelled env=prod); not dev-app.
    expect(set.members).toEqual(['198.19.0.65/32', '198.19.0.66/32']);
    expect(evaluate(ir, tcp('198.19.0.66', '198.19.0.1', { toIface: 'cali0000000db01' })).verdict).toBe('allow');
    expect(evaluate(ir, tcp('198.19.0.2', '198.19.0.1', { toIface: 'cali0000000db01' })).verdict).toBe('deny');
  });

  it('global(): the side matches non-namespaced endpoints only (host endpoints)', () => {
    const set = ir.sets.find((x) => x.family === 4 && x.source === 'selector all() (non-namespaced)')!;
    expect(set.members).toEqual(['198.18.0.11/32']);
  });

  it('on a GlobalNetworkPolicy: it applies only to the endpoints of the namespaces it selects', () => {
    const dev = ir.endpoints.find((e) => e.name === 'dev/dev-app')!;
    const db = ir.endpoints.find((e) => e.name === 'prod/db')!;
    expect(dev.egress.tiers).toHaveLength(1);
    expect(db.egress.tiers).toEqual([]);
    // dev-app may reach the host endpoint's address, nothing else.
    expect(evaluate(ir, tcp('198.19.0.2', '198.18.0.11', { fromIface: 'cali0000000de01' })).verdict).toBe('allow');
    expect(evaluate(ir, tcp('198.19.0.2', '198.19.0.1', { fromIface: 'cali0000000de01' })).verdict).toBe('deny');
  });
});
