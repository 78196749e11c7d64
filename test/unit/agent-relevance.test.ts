import { describe, expect, it } from 'vitest';
import { relevanceContext, relevantTo } from '../../src/agent/relevance.js';
import { keys } from '../../src/datastore/keys.js';
import { newBlock } from '../../src/ipam/blocks.js';
import type { AllocationBlock } from '../../src/model/resources.js';

const none = { selectorRules: false, tunnels: false };
const wep = (node: string) => ({ spec: { node } });
const withAllocation = (b: AllocationBlock, node: string): AllocationBlock => ({ ...b, allocations: [0, ...b.allocations.slice(1)], attributes: [{ handle_id: 'x', secondary: { node } }] });

describe('which changes concern a host (the agent computes only for those)', () => {
  it.each([
    ['its own workload', keys.workloadEndpoint('w1'), undefined, wep('h1'), none, true],
    ['its own workload, deleted', keys.workloadEndpoint('w1'), wep('h1'), undefined, none, true],
    ['a workload moving here', keys.workloadEndpoint('w1'), wep('h2'), wep('h1'), none, true],
    ["another host's workload", keys.workloadEndpoint('w2'), undefined, wep('h2'), none, false],
    ["another host's workload when a rule selects by label", keys.workloadEndpoint('w2'), undefined, wep('h2'), { ...none, selectorRules: true }, true],
    ['its own block', keys.block('198.19.0.0/26'), undefined, newBlock('198.19.0.0/26', 'h1'), none, true],
    ["another host's block", keys.block('198.19.0.64/26'), undefined, newBlock('198.19.0.64/26', 'h2'), none, false],
    ["another host's block in VXLAN mode", keys.block('198.19.0.64/26'), undefined, newBlock('198.19.0.64/26', 'h2'), { ...none, tunnels: true }, true],
    // Nothing a host programs comes from allocations (a borrowed address is routed from its endpoint).
    ["another host's block lending an address to this host", keys.block('198.19.0.64/26'), newBlock('198.19.0.64/26', 'h2'), withAllocation(newBlock('198.19.0.64/26', 'h2'), 'h1'), none, false],
    ['its own block, an address given out', keys.block('198.19.0.0/26'), newBlock('198.19.0.0/26', 'h1'), withAllocation(newBlock('198.19.0.0/26', 'h1'), 'h1'), none, false],
    ['its own block, deleted', keys.block('198.19.0.0/26'), newBlock('198.19.0.0/26', 'h1'), undefined, none, true],
    ['a block losing its affinity to this host', keys.block('198.19.0.0/26'), newBlock('198.19.0.0/26', 'h1'), { ...newBlock('198.19.0.0/26', 'h1'), affinity: undefined }, none, true],
    ['a node', keys.node('h9'), undefined, { spec: {} }, none, true],
    ['a pool', keys.ippool('p'), undefined, { spec: {} }, none, true],
    ['a policy', keys.globalNetworkPolicy('g'), undefined, { spec: {} }, none, true],
  ] as const)('%s → %s', (_what, key, old, value, ctx, expected) => {
    expect(relevantTo('h1', { key, old, value }, ctx)).toBe(expected);
  });

  it('the context: selector rules come from policies and from profiles whose rules select; tunnels from any VXLAN or IP-in-IP CrossSubnet pool', () => {
    const pool = (vxlanMode: string, disabled = false, ipipMode = 'Never') => ({ spec: { cidr: '198.19.0.0/16', vxlanMode, ipipMode, disabled } });
    const base = { nodes: [], blocks: [], workloadEndpoints: [] };
    expect(relevanceContext({ ...base, pools: [pool('Never')] } as never)).toEqual({ selectorRules: false, tunnels: false });
    expect(relevanceContext({ ...base, pools: [pool('Always')] } as never).tunnels).toBe(true);
    expect(relevanceContext({ ...base, pools: [pool('CrossSubnet')] } as never).tunnels).toBe(true);
    expect(relevanceContext({ ...base, pools: [pool('Never', false, 'CrossSubnet')] } as never).tunnels).toBe(true);
    // A disabled pool gives no new addresses but keeps its VXLAN routing (Felix's meaning of disabled).
    expect(relevanceContext({ ...base, pools: [pool('Always', true)] } as never).tunnels).toBe(true);
    expect(relevanceContext({ ...base, pools: [], profiles: [{ spec: { ingress: [{ action: 'Allow' }] } }] } as never).selectorRules).toBe(false);
    expect(relevanceContext({ ...base, pools: [], profiles: [{ spec: { ingress: [{ action: 'Allow', source: { selector: "role == 'db'" } }] } }] } as never).selectorRules).toBe(true);
    expect(relevanceContext({ ...base, pools: [], globalNetworkPolicies: [{}] } as never).selectorRules).toBe(true);
    // A named port in a profile is a set of every endpoint's ports of that name; numbers and ranges are not.
    const withPorts = (ports: unknown[]) =>
      relevanceContext({ ...base, pools: [], profiles: [{ spec: { ingress: [{ action: 'Allow', protocol: 'TCP', destination: { ports } }] } }] } as never).selectorRules;
    expect(withPorts([80, '443', '8000:8080'])).toBe(false);
    expect(withPorts([80, 'http'])).toBe(true);
  });
});
