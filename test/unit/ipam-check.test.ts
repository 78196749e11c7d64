import { describe, expect, it } from 'vitest';
import { assignInBlock, newBlock } from '../../src/ipam/blocks.js';
import { checkIpam, IPAM_PROBLEM_KINDS, type IpamCheckInput } from '../../src/ipam/check.js';
import type { AllocationBlock } from '../../src/model/resources.js';

/** A block of `owner` with one address per entry, assigned on that node to handle `h-<ip index>`. */
function blockWith(cidr: string, owner: string | null, nodes: string[]): AllocationBlock {
  let b = newBlock(cidr, owner);
  nodes.forEach((node, i) => {
    b = assignInBlock(b, `${cidr}-h${i}`, 1, { node })!.block;
  });
  return b;
}

/**
 * A consistent world: host-a owns 198.19.0.0/26 (two workloads) and 2001:db8:1::/122 (one),
 * host-b owns 198.19.0.64/26 (one workload) and lends 198.19.0.65 to a workload on host-a.
 */
function clean(): IpamCheckInput {
  return {
    blocks: [blockWith('198.19.0.0/26', 'host-a', ['host-a', 'host-a']), blockWith('198.19.0.64/26', 'host-b', ['host-b', 'host-a']), blockWith('2001:db8:1::/122', 'host-a', ['host-a'])],
    affinities: [
      { host: 'host-a', cidr: '198.19.0.0/26' },
      { host: 'host-b', cidr: '198.19.0.64/26' },
      { host: 'host-a', cidr: '2001:db8:1::/122' },
    ],
    endpoints: [
      { name: 'a1', node: 'host-a', ips: ['198.19.0.0/32', '2001:db8:1::/128'] },
      { name: 'a2', node: 'host-a', ips: ['198.19.0.1'] },
      { name: 'b1', node: 'host-b', ips: ['198.19.0.64/32'] },
      { name: 'a3', node: 'host-a', ips: ['198.19.0.65/32'] }, // borrowed from host-b: fine
    ],
    nodes: ['host-a', 'host-b'],
  };
}

describe('checkIpam', () => {
  it('finds nothing wrong in a consistent world (borrowed addresses included)', () => {
    expect(checkIpam(clean())).toEqual([]);
    expect(checkIpam({ blocks: [], affinities: [], endpoints: [], nodes: [] })).toEqual([]);
  });

  it('accepts non-canonical endpoint address text', () => {
    const input = clean();
    input.endpoints[0]!.ips = ['198.19.0.0/32', '2001:DB8:1:0:0:0:0:0/128'];
    expect(checkIpam(input)).toEqual([]);
  });

  it('leaked-address: allocated, used by no endpoint', () => {
    const input = clean();
    input.endpoints = input.endpoints.filter((e) => e.name !== 'a2');
    expect(checkIpam(input)).toEqual([{ kind: 'leaked-address', detail: '198.19.0.1 is allocated in block 198.19.0.0/26 (handle 198.19.0.0/26-h1, node host-a) but no workload endpoint uses it' }]);
  });

  it('double-use: one address, two endpoints', () => {
    const input = clean();
    input.endpoints.push({ name: 'a4', node: 'host-a', ips: ['198.19.0.1/32'] });
    expect(checkIpam(input)).toEqual([{ kind: 'double-use', detail: '198.19.0.1 is used by 2 endpoints: a2 (node host-a), a4 (node host-a)' }]);
  });

  it('unallocated-address: free in its block, or in no block at all', () => {
    const input = clean();
    input.endpoints.push({ name: 'x', node: 'host-a', ips: ['198.19.0.5/32', '198.19.9.9', '2001:db8:1::3f'] });
    expect(checkIpam(input)).toEqual([
      { kind: 'unallocated-address', detail: 'endpoint x (node host-a) uses 198.19.0.5, which is not allocated (block 198.19.0.0/26 has it free)' },
      { kind: 'unallocated-address', detail: 'endpoint x (node host-a) uses 198.19.9.9, which is not allocated (no IPAM block holds it)' },
      { kind: 'unallocated-address', detail: 'endpoint x (node host-a) uses 2001:db8:1::3f, which is not allocated (block 2001:db8:1::/122 has it free)' },
    ]);
  });

  it('invalid-address and node-mismatch', () => {
    const input = clean();
    input.endpoints[1] = { name: 'a2', node: 'host-b', ips: ['198.19.0.1', 'nonsense'] };
    expect(checkIpam(input)).toEqual([
      { kind: 'invalid-address', detail: 'endpoint a2 (node host-b) has an invalid address "nonsense"' },
      { kind: 'node-mismatch', detail: 'endpoint a2 (node host-b) uses 198.19.0.1, which was assigned on node host-a (block 198.19.0.0/26, handle 198.19.0.0/26-h1)' },
    ]);
  });

  it('unknown-affinity-host: a block whose host is not a node', () => {
    const input = clean();
    input.nodes = ['host-a'];
    expect(checkIpam(input)).toEqual([{ kind: 'unknown-affinity-host', detail: 'block 198.19.0.64/26 has affinity to host host-b, which is not a node' }]);
  });

  it('affinity-without-block, block-without-affinity, affinity-mismatch', () => {
    const input = clean();
    input.affinities = [
      { host: 'host-a', cidr: '198.19.0.0/26' },
      { host: 'host-a', cidr: '198.19.0.64/26' }, // the block is host-b's
      { host: 'host-a', cidr: '2001:db8:1::/122' },
      { host: 'host-b', cidr: '198.19.1.0/26' }, // no such block
    ];
    expect(checkIpam(input)).toEqual([
      {
        kind: 'block-without-affinity',
        detail: 'block 198.19.0.64/26 has affinity to host host-b but no affinity record (/calico/ipam/v2/host/host-b/ipv4/block/198.19.0.64-26)',
      },
      { kind: 'affinity-without-block', detail: 'affinity record of host host-b for block 198.19.1.0/26 has no block (/calico/ipam/v2/assignment/ipv4/block/198.19.1.0-26)' },
      { kind: 'affinity-mismatch', detail: 'affinity record of host host-a for block 198.19.0.64/26 does not match the block, whose affinity is host:host-b' },
    ]);
  });

  it('bad-attribute-index: an allocation pointing past the attributes', () => {
    const input = clean();
    const b = input.blocks[0]!;
    b.allocations[1] = 7;
    expect(checkIpam(input)).toEqual([{ kind: 'bad-attribute-index', detail: '198.19.0.1 (block 198.19.0.0/26, ordinal 1) refers to attribute 7, but the block has 2 attribute(s)' }]);
    // Without an endpoint, the address also shows as leaked, with an unknown handle.
    input.endpoints = input.endpoints.filter((e) => e.name !== 'a2');
    expect(checkIpam(input).map((p) => p.detail)).toContain('198.19.0.1 is allocated in block 198.19.0.0/26 (handle unknown, node unknown) but no workload endpoint uses it');
  });

  it('inconsistent-block: free list and slot count contradicting the block', () => {
    const input = clean();
    const b = input.blocks[1]!;
    b.unallocated = [0, 2, 2, 99, ...b.unallocated.slice(2)]; // 0 is allocated, 2 repeated, 99 outside; 3 lost
    const v6 = input.blocks[2]!;
    v6.allocations = v6.allocations.slice(0, 10);
    const problems = checkIpam(input);
    expect(problems).toEqual([
      {
        kind: 'inconsistent-block',
        detail: 'block 198.19.0.64/26: free list holds ordinal(s) 0, 2, 99 that are allocated, repeated or out of range; free ordinal(s) 3 missing from the free list',
      },
      { kind: 'inconsistent-block', detail: 'block 2001:db8:1::/122: 10 allocation slots for 64 addresses' },
    ]);
    expect(checkIpam({ ...clean(), blocks: [...clean().blocks, { ...newBlock('198.19.1.0/26', null), cidr: '198.19.1.1/26' }] })).toEqual([
      { kind: 'inconsistent-block', detail: 'block "198.19.1.1/26" has an invalid CIDR: 198.19.1.1/26 has host bits set (the network is 198.19.1.0/26)' },
    ]);
  });

  it('reports several problems grouped by kind, in a fixed order', () => {
    const input = clean();
    input.nodes = ['host-a'];
    input.endpoints = [
      { name: 'a1', node: 'host-a', ips: ['198.19.0.0/32', '2001:db8:1::/128'] },
      { name: 'dup', node: 'host-b', ips: ['198.19.0.0'] },
    ];
    const kinds = checkIpam(input).map((p) => p.kind);
    expect(kinds).toEqual(['unknown-affinity-host', 'double-use', 'node-mismatch', 'leaked-address', 'leaked-address', 'leaked-address']);
    const rank = kinds.map((k) => IPAM_PROBLEM_KINDS.indexOf(k));
    expect([...rank].sort((x, y) => x - y)).toEqual(rank);
  });
});
