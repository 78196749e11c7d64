import { describe, expect, it } from 'vitest';
import {
  assignInBlock,
  blockCidrs,
  blockOf,
  blockUsage,
  cidrContains,
  cidrsOverlap,
  compareCidrs,
  eachBlock,
  ipAt,
  isEmpty,
  newBlock,
  ordinalOf,
  parseCidr,
  releaseInBlock,
} from '../../src/ipam/blocks.js';
import type { AllocationBlock } from '../../src/model/resources.js';
import { IpamError } from '../../src/util/errors.js';

/** A deep copy, to check that a function left its input alone. */
const snapshot = (b: AllocationBlock): AllocationBlock => structuredClone(b);

describe('parseCidr', () => {
  it('parses and normalizes', () => {
    expect(parseCidr('198.19.0.0/16')).toEqual({ cidr: '198.19.0.0/16', network: 0xc6130000n, prefix: 16, bits: 32 });
    expect(parseCidr('0.0.0.0/0').cidr).toBe('0.0.0.0/0');
    expect(parseCidr('198.19.0.7/32').cidr).toBe('198.19.0.7/32');
  });

  it.each(['', '198.19.0.0', '198.19.0.0/', '198.19.0.0/33', '198.19.0.0/-1', '198.19.0.0/016', '198.19.0/16', '198.19.0.256/32',
    '198.019.0.0/16', ' 198.19.0.0/16', '198.19.0.0/16 ', 'abc/8', '2001:db8::/32', '198.19.0.0/1.5'])('refuses %j clearly', (s) => {
    expect(() => parseCidr(s)).toThrow(IpamError);
    expect(() => parseCidr(s)).toThrow(`"${s}" is not a valid IPv4 CIDR`);
  });

  it('refuses host bits and names the network', () => {
    expect(() => parseCidr('198.19.0.1/16')).toThrow(new IpamError('198.19.0.1/16 has host bits set (the network is 198.19.0.0/16)'));
    expect(() => parseCidr('198.19.0.64/25')).toThrow(/has host bits set/);
  });
});

describe('blockCidrs', () => {
  it('splits the default pool into 1024 /26 blocks in address order', () => {
    const blocks = blockCidrs('198.19.0.0/16', 26);
    expect(blocks).toHaveLength(1024);
    expect(blocks[0]).toBe('198.19.0.0/26');
    expect(blocks[1]).toBe('198.19.0.64/26');
    expect(blocks[4]).toBe('198.19.1.0/26');
    expect(blocks[1023]).toBe('198.19.255.192/26');
    expect([...blocks].sort(compareCidrs)).toEqual(blocks);
    expect(new Set(blocks).size).toBe(1024);
  });

  it('handles the edges: one block, /32 blocks', () => {
    expect(blockCidrs('198.19.0.0/26', 26)).toEqual(['198.19.0.0/26']);
    expect(blockCidrs('198.19.0.0/30', 32)).toEqual(['198.19.0.0/32', '198.19.0.1/32', '198.19.0.2/32', '198.19.0.3/32']);
    expect(blockCidrs('198.18.0.0/15', 16)).toEqual(['198.18.0.0/16', '198.19.0.0/16']);
  });

  it('is lazy through eachBlock', () => {
    const it = eachBlock('0.0.0.0/0', 32);
    expect(it.next().value).toBe('0.0.0.0/32');
    expect(it.next().value).toBe('0.0.0.1/32');
  });

  it('refuses block sizes that do not fit the pool, and bad pools', () => {
    expect(() => blockCidrs('198.19.0.0/16', 15)).toThrow(new IpamError('block size /15 does not fit pool 198.19.0.0/16: it must be between /16 and /32'));
    expect(() => blockCidrs('198.19.0.0/16', 33)).toThrow(IpamError);
    expect(() => blockCidrs('198.19.0.0/16', 26.5)).toThrow(IpamError);
    expect(() => blockCidrs('198.19.0.1/16', 26)).toThrow(/host bits set/);
    expect(() => blockCidrs('198.19.0.0', 26)).toThrow(/not a valid IPv4 CIDR/);
  });
});

describe('addresses in blocks', () => {
  it('blockOf finds the containing block', () => {
    expect(blockOf('198.19.0.0', 26)).toBe('198.19.0.0/26');
    expect(blockOf('198.19.0.63', 26)).toBe('198.19.0.0/26');
    expect(blockOf('198.19.0.64', 26)).toBe('198.19.0.64/26');
    expect(blockOf('198.19.255.255', 26)).toBe('198.19.255.192/26');
    expect(blockOf('198.19.7.9', 32)).toBe('198.19.7.9/32');
    expect(() => blockOf('198.19.0.300', 26)).toThrow(new IpamError('"198.19.0.300" is not a valid IPv4 address'));
    expect(() => blockOf('198.19.0.1', 33)).toThrow(IpamError);
  });

  it('ipAt and ordinalOf are inverse over a whole block, across octet boundaries', () => {
    const block = '198.19.0.128/25';
    for (let i = 0; i < 128; i++) expect(ordinalOf(block, ipAt(block, i))).toBe(i);
    expect(ipAt(block, 0)).toBe('198.19.0.128');
    expect(ipAt(block, 127)).toBe('198.19.0.255');
    expect(ipAt('198.19.0.0/23', 256)).toBe('198.19.1.0');
    expect(ordinalOf('198.19.0.0/23', '198.19.1.255')).toBe(511);
  });

  it('ipAt and ordinalOf refuse what is outside the block', () => {
    expect(() => ipAt('198.19.0.0/26', 64)).toThrow(new IpamError('ordinal 64 is outside block 198.19.0.0/26'));
    expect(() => ipAt('198.19.0.0/26', -1)).toThrow(IpamError);
    expect(() => ipAt('198.19.0.0/26', 1.5)).toThrow(IpamError);
    expect(() => ordinalOf('198.19.0.0/26', '198.19.0.64')).toThrow(new IpamError('198.19.0.64 is not in block 198.19.0.0/26'));
    expect(() => ordinalOf('198.19.0.64/26', '198.19.0.63')).toThrow(IpamError);
  });

  it('cidrContains', () => {
    expect(cidrContains('198.19.0.0/16', '198.19.255.255')).toBe(true);
    expect(cidrContains('198.19.0.0/16', '198.18.255.255')).toBe(false);
    expect(cidrContains('198.19.0.0/16', '198.20.0.0')).toBe(false);
    expect(cidrContains('0.0.0.0/0', '203.0.113.1')).toBe(true);
    expect(cidrContains('198.19.0.5/32', '198.19.0.5')).toBe(true);
    expect(() => cidrContains('198.19.0.0/16', 'nope')).toThrow(IpamError);
  });

  it.each([
    ['198.19.0.0/16', '198.19.0.0/16', true],
    ['198.19.0.0/16', '198.19.4.0/26', true],
    ['198.19.4.0/26', '198.19.0.0/16', true],
    ['198.18.0.0/15', '198.19.0.0/16', true],
    ['198.18.0.0/16', '198.19.0.0/16', false],
    ['198.19.0.0/26', '198.19.0.64/26', false],
    ['198.19.0.0/25', '198.19.0.64/26', true],
    ['0.0.0.0/0', '198.19.0.0/16', true],
    ['198.19.0.63/32', '198.19.0.64/26', false],
  ])('cidrsOverlap(%s, %s) = %s', (a, b, want) => {
    expect(cidrsOverlap(a, b)).toBe(want);
  });

  it('compareCidrs orders by address, then prefix', () => {
    expect(['198.19.1.0/26', '198.19.0.64/26', '198.19.0.0/26', '198.19.0.0/16'].sort(compareCidrs)).toEqual([
      '198.19.0.0/16',
      '198.19.0.0/26',
      '198.19.0.64/26',
      '198.19.1.0/26',
    ]);
    // Numeric, not textual: 198.19.10.0 comes after 198.19.9.0.
    expect(['198.19.10.0/26', '198.19.9.0/26'].sort(compareCidrs)).toEqual(['198.19.9.0/26', '198.19.10.0/26']);
  });
});

describe('allocation in a block', () => {
  it('newBlock: every address free, in order, with the host affinity', () => {
    const b = newBlock('198.19.0.64/26', 'host-a');
    expect(b.cidr).toBe('198.19.0.64/26');
    expect(b.affinity).toBe('host:host-a');
    expect(b.allocations).toHaveLength(64);
    expect(b.allocations.every((a) => a === null)).toBe(true);
    expect(b.unallocated).toEqual(Array.from({ length: 64 }, (_, i) => i));
    expect(b.attributes).toEqual([]);
    expect(newBlock('198.19.0.0/26', null).affinity).toBeNull();
    expect(blockUsage(b)).toEqual({ used: 0, total: 64 });
    expect(isEmpty(b)).toBe(true);
    expect(() => newBlock('198.19.0.0/19', 'h')).toThrow(/too large/);
    expect(() => newBlock('198.19.0.1/26', 'h')).toThrow(/host bits set/);
  });

  it('assigns in order, including network and broadcast-looking addresses, until full', () => {
    let block = newBlock('198.19.0.0/26', 'host-a');
    const ips: string[] = [];
    for (let i = 0; i < 64; i++) {
      const r = assignInBlock(block, `h${i}`);
      expect(r).toBeDefined();
      expect(r!.ips).toHaveLength(1);
      ips.push(r!.ips[0]!);
      block = r!.block;
    }
    expect(ips[0]).toBe('198.19.0.0');
    expect(ips[63]).toBe('198.19.0.63');
    expect(new Set(ips).size).toBe(64);
    expect(blockUsage(block)).toEqual({ used: 64, total: 64 });
    expect(block.unallocated).toEqual([]);
    expect(block.attributes[block.allocations[10]!]).toEqual({ handle_id: 'h10' });
    expect(assignInBlock(block, 'late')).toBeUndefined();
  });

  it('assigns several at once, fewer when the block runs short, and shares one attribute per handle', () => {
    const r = assignInBlock(newBlock('198.19.0.0/30', 'h'), 'pod-1', 3, { namespace: 'default', pod: 'web' });
    expect(r!.ips).toEqual(['198.19.0.0', '198.19.0.1', '198.19.0.2']);
    expect(r!.block.attributes).toEqual([{ handle_id: 'pod-1', secondary: { namespace: 'default', pod: 'web' } }]);
    expect(r!.block.allocations).toEqual([0, 0, 0, null]);
    const more = assignInBlock(r!.block, 'pod-2', 5);
    expect(more!.ips).toEqual(['198.19.0.3']);
    expect(more!.block.attributes).toHaveLength(2);
    expect(assignInBlock(more!.block, 'pod-3', 1)).toBeUndefined();
    expect(() => assignInBlock(r!.block, 'x', 0)).toThrow(IpamError);
  });

  it('does not mutate its input', () => {
    const attrs = { namespace: 'ns' };
    const b0 = newBlock('198.19.0.0/29', 'host-a');
    const before = snapshot(b0);
    const r = assignInBlock(b0, 'pod-1', 2, attrs);
    expect(b0).toEqual(before);
    attrs.namespace = 'changed';
    expect(r!.block.attributes[0]!.secondary).toEqual({ namespace: 'ns' });
    const b1 = r!.block;
    const b1Before = snapshot(b1);
    releaseInBlock(b1, '198.19.0.1');
    expect(b1).toEqual(b1Before);
  });

  it('releases: frees the slot, queues it last, returns the handle and drops unused attributes', () => {
    let block = newBlock('198.19.0.0/29', 'host-a');
    for (const h of ['a', 'b', 'c']) block = assignInBlock(block, h)!.block;
    expect(block.attributes.map((a) => a.handle_id)).toEqual(['a', 'b', 'c']);

    const r = releaseInBlock(block, '198.19.0.1');
    expect(r.handleId).toBe('b');
    expect(r.block.allocations.slice(0, 3)).toEqual([0, null, 1]);
    expect(r.block.attributes.map((a) => a.handle_id)).toEqual(['a', 'c']);
    expect(r.block.unallocated).toEqual([3, 4, 5, 6, 7, 1]);
    expect(blockUsage(r.block)).toEqual({ used: 2, total: 8 });
    expect(r.block.attributes[r.block.allocations[2]!]!.handle_id).toBe('c');

    expect(() => releaseInBlock(r.block, '198.19.0.1')).toThrow(new IpamError('198.19.0.1 is not allocated (block 198.19.0.0/29)'));
    expect(() => releaseInBlock(r.block, '198.19.0.8')).toThrow(/not in block/);

    let empty = r.block;
    for (const ip of ['198.19.0.0', '198.19.0.2']) empty = releaseInBlock(empty, ip).block;
    expect(isEmpty(empty)).toBe(true);
    expect(empty.attributes).toEqual([]);
    expect([...empty.unallocated].sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('keeps an attribute shared by several addresses until the last one is released', () => {
    const r = assignInBlock(newBlock('198.19.0.0/30', 'h'), 'multi', 2)!;
    const once = releaseInBlock(r.block, '198.19.0.0');
    expect(once.block.attributes).toEqual([{ handle_id: 'multi' }]);
    expect(once.block.allocations[1]).toBe(0);
    expect(releaseInBlock(once.block, '198.19.0.1').block.attributes).toEqual([]);
  });
});
