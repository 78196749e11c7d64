import { describe, expect, it } from 'vitest';
import { cidrFromKey, keys } from '../../src/datastore/keys.js';
import { assignInBlock, blockAllocations, blockUsage, borrowedAddresses, foreignAllocationsInBlock, isEmpty, newBlock, nextWrite, releaseInBlock } from '../../src/ipam/blocks.js';
import { blockCidrs, blockOf, canonicalIp, cidrContains, cidrsOverlap, compareCidrs, compareIps, eachBlock, familyOf, ipAt, ordinalOf, parseCidr } from '../../src/net/cidr.js';
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

  it.each([
    '',
    '198.19.0.0',
    '198.19.0.0/',
    '198.19.0.0/33',
    '198.19.0.0/-1',
    '198.19.0.0/016',
    '198.19.0/16',
    '198.19.0.256/32',
    '198.019.0.0/16',
    ' 198.19.0.0/16',
    '198.19.0.0/16 ',
    'abc/8',
    '198.19.0.0/1.5',
  ])('refuses %j clearly', (s) => {
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

  it('eachBlock from a point of the pool on wraps around to its start, every block once', () => {
    expect([...eachBlock('198.19.0.0/24', 26, 0.5)]).toEqual(['198.19.0.128/26', '198.19.0.192/26', '198.19.0.0/26', '198.19.0.64/26']);
    expect([...eachBlock('198.19.0.0/24', 26, 0.99)][0]).toBe('198.19.0.192/26');
    expect([...eachBlock('198.19.0.0/24', 26, 1)][0]).toBe('198.19.0.192/26'); // clamped below 1
    // An IPv6 pool of 2^74 blocks: lazily, from half way.
    expect(eachBlock('2001:db8:1::/48', 122, 0.5).next().value).toBe('2001:db8:1:8000::/122');
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
    expect(['198.19.1.0/26', '198.19.0.64/26', '198.19.0.0/26', '198.19.0.0/16'].sort(compareCidrs)).toEqual(['198.19.0.0/16', '198.19.0.0/26', '198.19.0.64/26', '198.19.1.0/26']);
    // Numeric, not textual: 198.19.10.0 comes after 198.19.9.0.
    expect(['198.19.10.0/26', '198.19.9.0/26'].sort(compareCidrs)).toEqual(['198.19.9.0/26', '198.19.10.0/26']);
  });
});

// libcalico-go/lib/ipam/ipam_block.go (newBlock, SetSequenceNumberForOrdinal, release) and
// ipam_block_reader_writer.go (updateBlock: every write bumps the sequence number).
describe("a block's sequence numbers and claim time", () => {
  const at = new Date('2026-11-30T12:00:00.000Z');
  it('start at the creation time (µs), record the number at each allocation, forget it at release; each write bumps it', () => {
    const b = newBlock('198.19.0.0/26', 'h1', at);
    expect(b).toMatchObject({ affinityClaimTime: '2026-11-30T12:00:00.000Z', sequenceNumber: at.getTime() * 1000, sequenceNumberForAllocation: {} });
    expect(newBlock('198.19.0.0/26', null, at).affinityClaimTime).toBeUndefined();
    const first = assignInBlock(b, 'lab.a', 2)!.block;
    expect(first.sequenceNumberForAllocation).toEqual({ '0': at.getTime() * 1000, '1': at.getTime() * 1000 });
    const written = nextWrite(first);
    expect(written.sequenceNumber).toBe(at.getTime() * 1000 + 1);
    const second = assignInBlock(written, 'lab.b')!.block;
    expect(second.sequenceNumberForAllocation!['2']).toBe(at.getTime() * 1000 + 1);
    expect(releaseInBlock(second, '198.19.0.1').block.sequenceNumberForAllocation).toEqual({ '0': at.getTime() * 1000, '2': at.getTime() * 1000 + 1 });
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

describe('IPv6', () => {
  it('parses the v6 pool and writes canonical RFC 5952 text', () => {
    expect(parseCidr('2001:db8:1::/48')).toEqual({ cidr: '2001:db8:1::/48', network: 0x20010db8000100000000000000000000n, prefix: 48, bits: 128 });
    expect(parseCidr('2001:DB8:0001:0000:0000:0000:0000:0000/48').cidr).toBe('2001:db8:1::/48');
    expect(parseCidr('::/0').cidr).toBe('::/0');
    expect(parseCidr('2001:db8:1::5/128').cidr).toBe('2001:db8:1::5/128');
    expect(familyOf('2001:db8:1::/48')).toBe(6);
    expect(familyOf('198.19.0.0/16')).toBe(4);
  });

  it.each([
    ['2001:0db8:0001:0000:0000:0000:0000:0005', '2001:db8:1::5'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // the first of two equal zero runs
    ['2001:db8:0:0:0:1:0:0', '2001:db8::1:0:0'], // the longest run
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a single zero group is not compressed
    ['2001:db8::1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['0:0:0:0:0:0:0:0', '::'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['1:0:0:0:0:0:0:0', '1::'],
    ['FE80::ABCD', 'fe80::abcd'],
    ['::ffff:198.19.0.1', '::ffff:198.19.0.1'],
    ['::FFFF:c613:1', '::ffff:198.19.0.1'],
    ['64:ff9b::198.19.0.1', '64:ff9b::c613:1'],
  ])('canonicalIp(%s) = %s', (input, want) => {
    expect(canonicalIp(input)).toBe(want);
    expect(canonicalIp(want)).toBe(want);
  });

  it.each([
    '2001:db8:1::/129',
    '2001:db8:1::/048',
    '2001:db8:1:::/48',
    '2001:db8::1::/64',
    '2001:db8:1::g/128',
    '2001:db8:1:2:3:4:5:6:7/128',
    '2001:db8:1:2:3:4:5/112',
    ':2001:db8::/32',
    '2001:db8::/',
    'fe80::1%eth0/128',
    '::ffff:198.19.0.256/128',
    ' ::/0',
    '2001:db8:12345::/48',
  ])('refuses %j clearly', (s) => {
    expect(() => parseCidr(s)).toThrow(IpamError);
    expect(() => parseCidr(s)).toThrow(`"${s}" is not a valid IPv6 CIDR`);
  });

  it('refuses host bits and names the canonical network', () => {
    expect(() => parseCidr('2001:db8:1::5/48')).toThrow(new IpamError('2001:db8:1::5/48 has host bits set (the network is 2001:db8:1::/48)'));
    expect(() => canonicalIp('2001:db8::zz')).toThrow(new IpamError('"2001:db8::zz" is not a valid IPv6 address'));
  });

  it('splits 2001:db8:1::/48 into /122 blocks of 64 addresses, lazily', () => {
    const it = eachBlock('2001:db8:1::/48', 122);
    expect([it.next().value, it.next().value, it.next().value]).toEqual(['2001:db8:1::/122', '2001:db8:1::40/122', '2001:db8:1::80/122']);
    expect(blockCidrs('2001:db8:1::/120', 122)).toEqual(['2001:db8:1::/122', '2001:db8:1::40/122', '2001:db8:1::80/122', '2001:db8:1::c0/122']);
    // Across a group boundary.
    expect(blockCidrs('2001:db8:1::fe00/119', 120)).toEqual(['2001:db8:1::fe00/120', '2001:db8:1::ff00/120']);
    expect(blockCidrs('2001:db8:1::ffff:ff80/121', 122)).toEqual(['2001:db8:1::ffff:ff80/122', '2001:db8:1::ffff:ffc0/122']);
    expect(() => blockCidrs('2001:db8:1::/48', 129)).toThrow(/must be between \/48 and \/128/);
  });

  it('blockOf, ipAt and ordinalOf round-trip over a /122, across group boundaries', () => {
    expect(blockOf('2001:db8:1::5', 122)).toBe('2001:db8:1::/122');
    expect(blockOf('2001:db8:1::40', 122)).toBe('2001:db8:1::40/122');
    expect(blockOf('2001:db8:1:0:0:0:1:3f', 122)).toBe('2001:db8:1::1:0/122');
    expect(blockOf('2001:db8:1:ffff:ffff:ffff:ffff:ffff', 122)).toBe('2001:db8:1:ffff:ffff:ffff:ffff:ffc0/122');
    expect(() => blockOf('2001:db8:1::5', 129)).toThrow(new IpamError('block size /129 is not a valid IPv6 prefix length'));

    const block = '2001:db8:1::ffff:ffc0/122';
    for (let i = 0; i < 64; i++) {
      const ip = ipAt(block, i);
      expect(ordinalOf(block, ip)).toBe(i);
      expect(blockOf(ip, 122)).toBe(block);
      expect(canonicalIp(ip)).toBe(ip);
    }
    expect(ipAt(block, 0)).toBe('2001:db8:1::ffff:ffc0');
    expect(ipAt(block, 63)).toBe('2001:db8:1::ffff:ffff');
    expect(ipAt('2001:db8:1::/112', 0x100)).toBe('2001:db8:1::100');
    expect(ipAt('2001:db8:1::/122', 0)).toBe('2001:db8:1::');
    expect(ordinalOf('2001:db8:1::/122', '2001:DB8:1:0::05')).toBe(5);
    expect(() => ipAt('2001:db8:1::/122', 64)).toThrow(new IpamError('ordinal 64 is outside block 2001:db8:1::/122'));
    expect(() => ordinalOf('2001:db8:1::/122', '2001:db8:1::40')).toThrow(new IpamError('2001:db8:1::40 is not in block 2001:db8:1::/122'));
    expect(() => ordinalOf('2001:db8:1::/122', '198.19.0.1')).toThrow(/not in block/);
  });

  it('contains and overlaps within a family only', () => {
    expect(cidrContains('2001:db8:1::/48', '2001:db8:1:ffff::1')).toBe(true);
    expect(cidrContains('2001:db8:1::/48', '2001:db8:2::1')).toBe(false);
    expect(cidrContains('::/0', '198.19.0.1')).toBe(false);
    expect(cidrContains('0.0.0.0/0', '2001:db8:1::1')).toBe(false);
    expect(cidrContains('::ffff:0:0/96', '198.19.0.1')).toBe(false);
    expect(cidrsOverlap('2001:db8:1::/48', '2001:db8:1::40/122')).toBe(true);
    expect(cidrsOverlap('2001:db8:1::/122', '2001:db8:1::40/122')).toBe(false);
    expect(cidrsOverlap('2001:db8::/32', '2001:db8:1::/48')).toBe(true);
    expect(cidrsOverlap('::/0', '0.0.0.0/0')).toBe(false);
    expect(cidrsOverlap('::/0', '198.19.0.0/16')).toBe(false);
    expect(cidrsOverlap('0.0.0.0/0', '2001:db8:1::/48')).toBe(false);
  });

  it('orders IPv4 before IPv6, numerically within a family', () => {
    expect(['2001:db8:1::40/122', '198.19.0.0/26', '2001:db8:1::/48', '2001:db8:1::/122'].sort(compareCidrs)).toEqual(['198.19.0.0/26', '2001:db8:1::/48', '2001:db8:1::/122', '2001:db8:1::40/122']);
    expect(['2001:db8:1::a', '2001:db8:1::9', '198.19.0.10', '198.19.0.9'].sort(compareIps)).toEqual(['198.19.0.9', '198.19.0.10', '2001:db8:1::9', '2001:db8:1::a']);
  });

  it('newBlock: /116 to /128 for IPv6, and allocation works as for IPv4', () => {
    const b = newBlock('2001:db8:1::40/122', 'host-a');
    expect(b.cidr).toBe('2001:db8:1::40/122');
    expect(b.allocations).toHaveLength(64);
    expect(newBlock('2001:db8:1::/116', 'h').allocations).toHaveLength(4096);
    expect(newBlock('2001:db8:1::7/128', 'h').allocations).toHaveLength(1);
    expect(() => newBlock('2001:db8:1::/115', 'h')).toThrow(new IpamError('block 2001:db8:1::/115 is too large: blocks are /116 to /128'));
    const r = assignInBlock(b, 'pod-1', 2)!;
    expect(r.ips).toEqual(['2001:db8:1::40', '2001:db8:1::41']);
    expect(releaseInBlock(r.block, '2001:db8:1:0::41').handleId).toBe('pod-1');
  });

  it("keys: Calico's ipv6 layout, and back to the CIDR", () => {
    expect(keys.block('2001:db8:1::/122')).toBe('/calico/ipam/v2/assignment/ipv6/block/2001:db8:1::-122');
    expect(keys.block('198.19.0.0/26')).toBe('/calico/ipam/v2/assignment/ipv4/block/198.19.0.0-26');
    expect(keys.affinity('host-a', '2001:db8:1::40/122')).toBe('/calico/ipam/v2/host/host-a/ipv6/block/2001:db8:1::40-122');
    expect(keys.affinities('host-a', 6)).toBe('/calico/ipam/v2/host/host-a/ipv6/block/');
    expect(keys.affinities('host-a')).toBe('/calico/ipam/v2/host/host-a/');
    expect(keys.blocksOf(6)).toBe('/calico/ipam/v2/assignment/ipv6/block/');
    expect(keys.block('2001:db8:1::/122').startsWith(keys.blocks)).toBe(true);
    expect(keys.block('198.19.0.0/26').startsWith(keys.blocks)).toBe(true);
    expect(cidrFromKey(keys.block('2001:db8:1::/122'))).toBe('2001:db8:1::/122');
    expect(cidrFromKey(keys.affinity('h', '2001:db8:1::ffff:ffc0/122'))).toBe('2001:db8:1::ffff:ffc0/122');
    expect(cidrFromKey(keys.block('198.19.0.64/26'))).toBe('198.19.0.64/26');
  });
});

describe('borrowed addresses', () => {
  /** A block of `owner` with addresses assigned on the given nodes, in order. */
  function blockWith(cidr: string, owner: string | null, nodes: (string | undefined)[]): AllocationBlock {
    let b = newBlock(cidr, owner);
    nodes.forEach((node, i) => {
      b = assignInBlock(b, `pod-${i}`, 1, node === undefined ? undefined : { node })!.block;
    });
    return b;
  }

  it("lists the addresses of a host that lie in other hosts' blocks, IPv4 first", () => {
    const a = blockWith('198.19.0.0/26', 'host-a', ['host-a', 'host-a']);
    const b = blockWith('198.19.0.64/26', 'host-b', ['host-b', 'host-a', 'host-c', 'host-a']);
    const v6 = blockWith('2001:db8:1::/122', 'host-b', ['host-a']);
    const orphan = blockWith('198.19.0.128/26', null, [undefined, 'host-a']);
    expect(borrowedAddresses([v6, orphan, a, b], 'host-a')).toEqual(['198.19.0.65', '198.19.0.67', '198.19.0.129', '2001:db8:1::']);
    expect(borrowedAddresses([a, b, v6], 'host-c')).toEqual(['198.19.0.66']);
    expect(borrowedAddresses([a, b, v6], 'host-b')).toEqual([]);
    expect(borrowedAddresses([], 'host-a')).toEqual([]);
  });

  it('lists the foreign allocations of a block, for its owner', () => {
    const b = blockWith('198.19.0.64/26', 'host-b', ['host-b', 'host-a', undefined, 'host-c']);
    expect(foreignAllocationsInBlock(b)).toEqual([
      { ip: '198.19.0.65', node: 'host-a', handleId: 'pod-1' },
      { ip: '198.19.0.67', node: 'host-c', handleId: 'pod-3' },
    ]);
    expect(foreignAllocationsInBlock(b, 'host-a').map((x) => x.ip)).toEqual(['198.19.0.64', '198.19.0.67']);
    expect(blockAllocations(b).map((x) => [x.ip, x.node])).toEqual([
      ['198.19.0.64', 'host-b'],
      ['198.19.0.65', 'host-a'],
      ['198.19.0.66', undefined],
      ['198.19.0.67', 'host-c'],
    ]);
  });
});
