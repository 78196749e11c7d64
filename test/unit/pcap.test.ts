import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { canonicalIp, canonicalMac, ipv6, PcapError, readPcap, readPcapFile } from '../../src/verify/pcap.js';
import { cat, eth, icmpEcho, ipv4Packet, ipv6Packet, MAC_A, MAC_B, macBytes, pcap, tcp, u16, u32, udp, v6Bytes, vxlan } from '../helpers/pcap-writer.js';
import { SimError } from '../../src/util/errors.js';

// ---------------------------------------------------------------------------------------------

describe('pcap file header', () => {
  it('reads a little-endian microsecond file: link type, timestamps, lengths, 1-based indexes', () => {
    const frame = eth(MAC_B, MAC_A, 0x0800, ipv4Packet({ src: '198.18.200.1', dst: '198.18.200.2', proto: 17 }, udp(40000, 5000, Buffer.from('hi'))));
    const cap = readPcap(
      pcap([
        { data: frame, sec: 1_700_000_000, frac: 123_456 },
        { data: frame, sec: 1_700_000_001, frac: 7 },
      ]),
    );
    expect(cap).toMatchObject({ linkType: 1, bigEndian: false, nanosecond: false, snaplen: 262144 });
    expect(cap.packets.map((p) => [p.index, p.timestampUs, p.length, p.capturedLength])).toEqual([
      [1, 1_700_000_000_123_456, frame.length, frame.length],
      [2, 1_700_000_001_000_007, frame.length, frame.length],
    ]);
  });

  it('reads a big-endian file', () => {
    const frame = eth(MAC_B, MAC_A, 0x0800, ipv4Packet({ src: '198.18.200.1', dst: '198.18.200.2', proto: 6 }, tcp(40001, 80)));
    const cap = readPcap(pcap([{ data: frame, sec: 10, frac: 20 }], { bigEndian: true }));
    expect(cap.bigEndian).toBe(true);
    expect(cap.packets[0]).toMatchObject({ timestampUs: 10_000_020, ip: { src: '198.18.200.1', dst: '198.18.200.2' }, l4: { protocol: 'tcp', srcPort: 40001, dstPort: 80 } });
  });

  it('reads nanosecond files of both byte orders, truncating the timestamp to microseconds', () => {
    const frame = eth(MAC_B, MAC_A, 0x0800, ipv4Packet({ src: '198.18.200.1', dst: '198.18.200.2', proto: 1 }, icmpEcho(8, 7, 1)));
    for (const bigEndian of [false, true]) {
      const cap = readPcap(pcap([{ data: frame, sec: 5, frac: 123_456_789 }], { nano: true, bigEndian }));
      expect(cap.nanosecond).toBe(true);
      expect(cap.packets[0]!.timestampUs).toBe(5_123_456);
      expect(cap.packets[0]!.l4).toEqual({ protocol: 'icmp', icmpType: 8, icmpCode: 0, icmpId: 7 });
    }
  });

  it('an empty capture (header only) has no packets', () => {
    expect(readPcap(pcap([])).packets).toEqual([]);
  });

  it('throws a PcapError (a SimError) for a bad header, never for a bad packet', () => {
    expect(() => readPcap(Buffer.alloc(10))).toThrow(/shorter than the 24-byte pcap file header/);
    expect(() => readPcap(Buffer.alloc(24))).toThrow(/unknown magic number 0x00000000/);
    const ng = Buffer.alloc(28);
    ng.writeUInt32LE(0x0a0d0d0a, 0);
    expect(() => readPcap(ng)).toThrow(/pcapng/);
    const v1 = pcap([]);
    v1.writeUInt16LE(1, 4);
    expect(() => readPcap(v1)).toThrow(/version 1\.4/);
    try {
      readPcap(Buffer.alloc(3));
    } catch (err) {
      expect(err).toBeInstanceOf(PcapError);
      expect(err).toBeInstanceOf(SimError);
    }
  });

  it('readPcapFile reads a file, and names the path when it cannot', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pcap-unit-'));
    try {
      const file = join(dir, 'a.pcap');
      writeFileSync(file, pcap([{ data: eth(MAC_B, MAC_A, 0x0806, Buffer.alloc(28)) }]));
      expect(readPcapFile(file).packets[0]).toMatchObject({ ethertype: 0x0806, src_mac: MAC_A, dst_mac: MAC_B });
      expect(readPcapFile(file).packets[0]!.ip).toBeUndefined();
      expect(() => readPcapFile(join(dir, 'missing.pcap'))).toThrow(PcapError);
      expect(() => readPcapFile(join(dir, 'missing.pcap'))).toThrow(/cannot read pcap file .*missing\.pcap/);
      writeFileSync(join(dir, 'bad.pcap'), 'not a capture at all, really');
      expect(() => readPcapFile(join(dir, 'bad.pcap'))).toThrow(/bad\.pcap: not a pcap file/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('decoding', () => {
  it('Ethernet / IPv4 / UDP, with Ethernet padding not taken for payload', () => {
    const ip = ipv4Packet({ src: '198.18.200.1', dst: '198.18.200.2', proto: 17, ttl: 63 }, udp(12345, 53));
    const frame = cat(eth('ff:ff:ff:ff:ff:ff', MAC_A, 0x0800, ip), Buffer.alloc(60 - 14 - ip.length)); // padded to 60
    const [p] = readPcap(pcap([{ data: frame }])).packets;
    expect(p).toEqual({
      index: 1,
      timestampUs: 1_700_000_000_000_000,
      length: 60,
      capturedLength: 60,
      src_mac: MAC_A,
      dst_mac: 'ff:ff:ff:ff:ff:ff',
      ethertype: 0x0800,
      ip: { version: 4, src: '198.18.200.1', dst: '198.18.200.2', protocol: 17, ttl: 63 },
      l4: { protocol: 'udp', srcPort: 12345, dstPort: 53 },
    });
  });

  it('IPv4 with options', () => {
    const opts = [0x94, 0x04, 0, 0, 1, 1, 1, 0]; // router alert, then NOPs and end of list
    const [p] = readPcap(pcap([{ data: eth(MAC_B, MAC_A, 0x0800, ipv4Packet({ src: '198.18.200.1', dst: '198.18.200.2', proto: 6, options: opts }, tcp(1, 2))) }])).packets;
    expect(p!.error).toBeUndefined();
    expect(p!.l4).toEqual({ protocol: 'tcp', srcPort: 1, dstPort: 2 });
  });

  it('IPv4 fragments: noted; the first carries the ports, later ones have none', () => {
    const first = ipv4Packet({ src: '198.18.200.1', dst: '198.18.200.2', proto: 17, id: 99, mf: true }, udp(7, 9, Buffer.alloc(16)));
    const later = ipv4Packet({ src: '198.18.200.1', dst: '198.18.200.2', proto: 17, id: 99, fragOffset: 24 }, Buffer.alloc(16));
    const [a, b] = readPcap(pcap([{ data: eth(MAC_B, MAC_A, 0x0800, first) }, { data: eth(MAC_B, MAC_A, 0x0800, later) }])).packets;
    expect(a!.ip!.fragment).toEqual({ id: 99, offset: 0, more: true });
    expect(a!.l4).toEqual({ protocol: 'udp', srcPort: 7, dstPort: 9 });
    expect(b!.ip!.fragment).toEqual({ id: 99, offset: 24, more: false });
    expect(b!.l4).toBeUndefined();
    expect(b!.error).toBeUndefined();
  });

  it('802.1Q and QinQ (802.1ad) tags', () => {
    const ip = ipv4Packet({ src: '198.18.200.1', dst: '198.18.200.2', proto: 17 }, udp(1, 2));
    const one = eth(MAC_B, MAC_A, 0x0800, ip, [{ tpid: 0x8100, vid: 0x2000 | 100 }]); // priority bits are not the VID
    const two = eth(MAC_B, MAC_A, 0x0800, ip, [
      { tpid: 0x88a8, vid: 200 },
      { tpid: 0x8100, vid: 300 },
    ]);
    const [a, b] = readPcap(pcap([{ data: one }, { data: two }])).packets;
    expect(a).toMatchObject({ vlan: [100], ethertype: 0x0800, ip: { src: '198.18.200.1' }, l4: { dstPort: 2 } });
    expect(b).toMatchObject({ vlan: [200, 300], ethertype: 0x0800, ip: { dst: '198.18.200.2' }, l4: { srcPort: 1 } });
  });

  it('IPv6 through hop-by-hop, destination options and routing headers to ICMPv6 echo', () => {
    const icmp6 = cat([128, 0, 0, 0], u16(0x4242), u16(1));
    const dstopts = cat([58, 0], [1, 4, 0, 0, 0, 0]); // next ICMPv6, 8 bytes, PadN
    const routing = cat([60, 0], [0, 0], [0, 0, 0, 0]); // next dest opts, 8 bytes, type 0 with no addresses
    const hbh = cat([43, 0], [5, 2, 0, 0], [1, 0]); // next routing, router alert + Pad1s
    const pkt = ipv6Packet({ src: '2001:db8:ff::1', dst: '2001:db8:ff:0:0:0:1:2', nh: 0, hop: 1 }, cat(hbh, routing, dstopts, icmp6));
    const [p] = readPcap(pcap([{ data: eth(MAC_B, MAC_A, 0x86dd, pkt) }])).packets;
    expect(p!.error).toBeUndefined();
    expect(p!.ip).toEqual({ version: 6, src: '2001:db8:ff::1', dst: '2001:db8:ff::1:2', protocol: 58, ttl: 1, extensionHeaders: [0, 43, 60] });
    expect(p!.l4).toEqual({ protocol: 'icmpv6', icmpType: 128, icmpCode: 0, icmpId: 0x4242 });
  });

  it('IPv6 fragment header: the first fragment decodes UDP, a later one stops at the fragment', () => {
    const first = ipv6Packet({ src: '2001:db8:ff::1', dst: '2001:db8:ff::2', nh: 44 }, cat([17, 0], u16(0 | 1), u32(0xdeadbeef), udp(5353, 5353, Buffer.alloc(8))));
    const later = ipv6Packet({ src: '2001:db8:ff::1', dst: '2001:db8:ff::2', nh: 44 }, cat([17, 0], u16(1448), u32(0xdeadbeef), Buffer.alloc(8)));
    const [a, b] = readPcap(pcap([{ data: eth(MAC_B, MAC_A, 0x86dd, first) }, { data: eth(MAC_B, MAC_A, 0x86dd, later) }])).packets;
    expect(a!.ip).toMatchObject({ protocol: 17, extensionHeaders: [44], fragment: { id: 0xdeadbeef, offset: 0, more: true } });
    expect(a!.l4).toEqual({ protocol: 'udp', srcPort: 5353, dstPort: 5353 });
    expect(b!.ip).toMatchObject({ protocol: 17, fragment: { offset: 1448, more: false } });
    expect(b!.l4).toBeUndefined();
  });

  it('VXLAN in UDP/4789: the inner Ethernet frame and its IP are decoded', () => {
    const inner = eth('02:00:00:00:01:02', '02:00:00:00:01:01', 0x0800, ipv4Packet({ src: '198.18.200.129', dst: '198.18.200.130', proto: 1 }, icmpEcho(8, 1234, 1)));
    const outer = eth(MAC_B, MAC_A, 0x0800, ipv4Packet({ src: '198.18.200.1', dst: '198.18.200.2', proto: 17 }, udp(51000, 4789, vxlan(42, inner))));
    const [p] = readPcap(pcap([{ data: outer }])).packets;
    expect(p!.error).toBeUndefined();
    expect(p!.ip).toMatchObject({ src: '198.18.200.1', dst: '198.18.200.2', protocol: 17 });
    expect(p!.l4).toEqual({ protocol: 'udp', srcPort: 51000, dstPort: 4789 });
    expect(p!.encapsulation).toEqual({
      kind: 'vxlan',
      vni: 42,
      inner: {
        version: 4,
        src: '198.18.200.129',
        dst: '198.18.200.130',
        protocol: 1,
        ttl: 64,
        src_mac: '02:00:00:00:01:01',
        dst_mac: '02:00:00:00:01:02',
        l4: { protocol: 'icmp', icmpType: 8, icmpCode: 0, icmpId: 1234 },
      },
    });
  });

  it('VXLAN on the Linux legacy port 8472 and carrying IPv6, over IPv6', () => {
    const inner = eth(MAC_B, MAC_A, 0x86dd, ipv6Packet({ src: '2001:db8:ff::2:1', dst: '2001:db8:ff::2:2', nh: 17 }, udp(1, 2)));
    const outer = eth(MAC_B, MAC_A, 0x86dd, ipv6Packet({ src: '2001:db8:ff::1', dst: '2001:db8:ff::2', nh: 17 }, udp(3, 8472, vxlan(7, inner))));
    const [p] = readPcap(pcap([{ data: outer }])).packets;
    expect(p!.encapsulation).toMatchObject({ kind: 'vxlan', vni: 7, inner: { version: 6, src: '2001:db8:ff::2:1', dst: '2001:db8:ff::2:2', l4: { protocol: 'udp', srcPort: 1, dstPort: 2 } } });
  });

  it('IP-in-IP (4) and IPv6-in-IP (41): the inner IP is decoded', () => {
    const ipip = ipv4Packet({ src: '198.18.200.1', dst: '198.18.200.2', proto: 4 }, ipv4Packet({ src: '198.18.200.65', dst: '198.18.200.66', proto: 6, ttl: 63 }, tcp(44444, 7777)));
    const sit = ipv4Packet({ src: '198.18.200.1', dst: '198.18.200.2', proto: 41 }, ipv6Packet({ src: '2001:db8:ff::a', dst: '2001:db8:ff::b', nh: 58 }, icmpEcho(129, 9, 9)));
    const [a, b] = readPcap(pcap([{ data: eth(MAC_B, MAC_A, 0x0800, ipip) }, { data: eth(MAC_B, MAC_A, 0x0800, sit) }])).packets;
    expect(a!.l4).toEqual({ protocol: 'other' });
    expect(a!.encapsulation).toEqual({ kind: 'ipip', inner: { version: 4, src: '198.18.200.65', dst: '198.18.200.66', protocol: 6, ttl: 63, l4: { protocol: 'tcp', srcPort: 44444, dstPort: 7777 } } });
    expect(b!.encapsulation).toMatchObject({ kind: 'ip6ip', inner: { version: 6, src: '2001:db8:ff::a', dst: '2001:db8:ff::b', l4: { protocol: 'icmpv6', icmpType: 129, icmpId: 9 } } });
  });

  it('GRE with a key carrying IPv4, and GRETAP carrying Ethernet', () => {
    const innerIp = ipv4Packet({ src: '198.18.200.65', dst: '198.18.200.66', proto: 17 }, udp(1000, 2000));
    const greIp = cat(u16(0x2000), u16(0x0800), u32(77), innerIp);
    const greTap = cat(u16(0), u16(0x6558), eth(MAC_B, MAC_A, 0x0800, innerIp));
    const [a, b] = readPcap(
      pcap([
        { data: eth(MAC_B, MAC_A, 0x0800, ipv4Packet({ src: '198.18.200.1', dst: '198.18.200.2', proto: 47 }, greIp)) },
        { data: eth(MAC_B, MAC_A, 0x0800, ipv4Packet({ src: '198.18.200.1', dst: '198.18.200.2', proto: 47 }, greTap)) },
      ]),
    ).packets;
    expect(a!.encapsulation).toMatchObject({ kind: 'gre', vni: 77, inner: { src: '198.18.200.65', dst: '198.18.200.66', l4: { protocol: 'udp', srcPort: 1000, dstPort: 2000 } } });
    expect(b!.encapsulation).toMatchObject({ kind: 'gre', inner: { src: '198.18.200.65', src_mac: MAC_A } });
  });

  it('ESP, Geneve and WireGuard are recognised', () => {
    const esp = ipv4Packet({ src: '198.18.200.1', dst: '198.18.200.2', proto: 50 }, cat(u32(0x1234), u32(1), Buffer.alloc(32)));
    const inner = eth(MAC_B, MAC_A, 0x0800, ipv4Packet({ src: '198.18.200.65', dst: '198.18.200.66', proto: 1 }, icmpEcho(0, 3, 3)));
    const geneve = ipv4Packet({ src: '198.18.200.1', dst: '198.18.200.2', proto: 17 }, udp(9, 6081, cat([0x01, 0], u16(0x6558), [0, 0, 5, 0], [0, 0, 0, 0], inner))); // one 4-byte option word
    const wg = ipv4Packet({ src: '198.18.200.1', dst: '198.18.200.2', proto: 17 }, udp(51820, 51820, cat([4, 0, 0, 0], Buffer.alloc(28))));
    const natT = ipv4Packet({ src: '198.18.200.1', dst: '198.18.200.2', proto: 17 }, udp(4500, 4500, cat(u32(0xabc), u32(1), Buffer.alloc(16))));
    const ike = ipv4Packet({ src: '198.18.200.1', dst: '198.18.200.2', proto: 17 }, udp(4500, 4500, cat(u32(0), Buffer.alloc(28))));
    const ps = readPcap(pcap([esp, geneve, wg, natT, ike].map((ip) => ({ data: eth(MAC_B, MAC_A, 0x0800, ip) })))).packets;
    expect(ps[0]!.encapsulation).toEqual({ kind: 'esp', spi: 0x1234 });
    expect(ps[1]!.encapsulation).toMatchObject({ kind: 'geneve', vni: 5, inner: { src: '198.18.200.65', l4: { protocol: 'icmp', icmpType: 0, icmpId: 3 } } });
    expect(ps[2]!.encapsulation).toEqual({ kind: 'wireguard' });
    expect(ps[3]!.encapsulation).toEqual({ kind: 'esp', spi: 0xabc });
    expect(ps[4]!.encapsulation).toBeUndefined();
    expect(ps.every((p) => p.error === undefined)).toBe(true);
  });

  it('Linux cooked captures: SLL (113) and SLL2 (276), with the source MAC', () => {
    const ip = ipv4Packet({ src: '198.18.200.1', dst: '198.18.200.2', proto: 17 }, udp(1, 2));
    const sll = cat(u16(4), u16(1), u16(6), macBytes(MAC_A), [0, 0], u16(0x0800), ip);
    const sll2 = cat(u16(0x86dd), [0, 0], u32(3), u16(1), [4], [6], macBytes(MAC_B), [0, 0], ipv6Packet({ src: '2001:db8:ff::1', dst: '2001:db8:ff::2', nh: 6 }, tcp(5, 6)));
    const a = readPcap(pcap([{ data: sll }], { linkType: 113 }));
    const b = readPcap(pcap([{ data: sll2 }], { linkType: 276 }));
    expect(a.linkType).toBe(113);
    expect(a.packets[0]).toMatchObject({ src_mac: MAC_A, ethertype: 0x0800, ip: { src: '198.18.200.1' }, l4: { protocol: 'udp', dstPort: 2 } });
    expect(a.packets[0]!.dst_mac).toBeUndefined();
    expect(b.linkType).toBe(276);
    expect(b.packets[0]).toMatchObject({ src_mac: MAC_B, ethertype: 0x86dd, ip: { version: 6, src: '2001:db8:ff::1' }, l4: { protocol: 'tcp', srcPort: 5 } });
  });

  it('a truncated packet gets an error and keeps what was decoded; the next packet is fine', () => {
    const full = eth(MAC_B, MAC_A, 0x0800, ipv4Packet({ src: '198.18.200.1', dst: '198.18.200.2', proto: 6 }, tcp(1, 2)));
    const cut = full.subarray(0, 14 + 20 + 2); // snap length cut inside the TCP header
    const tiny = full.subarray(0, 20); // inside the IPv4 header
    const ps = readPcap(pcap([{ data: cut, origLen: full.length }, { data: tiny, origLen: full.length }, { data: full }], { snaplen: 36 })).packets;
    expect(ps[0]).toMatchObject({ length: full.length, capturedLength: 36, ip: { src: '198.18.200.1' }, l4: { protocol: 'tcp' } });
    expect(ps[0]!.error).toMatch(/truncated TCP header: 2 of 20 bytes/);
    expect(ps[1]!.ip).toBeUndefined();
    expect(ps[1]!.error).toMatch(/truncated IPv4 header: 6 of 20 bytes/);
    expect(ps[2]!.error).toBeUndefined();
    expect(ps[2]!.l4).toEqual({ protocol: 'tcp', srcPort: 1, dstPort: 2 });
  });

  it('a truncated VXLAN inner frame is an error inside the encapsulation, still recognised', () => {
    const inner = eth(MAC_B, MAC_A, 0x0800, ipv4Packet({ src: '198.18.200.129', dst: '198.18.200.130', proto: 1 }, icmpEcho(8, 1, 1)));
    const outer = eth(MAC_B, MAC_A, 0x0800, ipv4Packet({ src: '198.18.200.1', dst: '198.18.200.2', proto: 17 }, udp(1, 4789, vxlan(42, inner))));
    const [p] = readPcap(pcap([{ data: outer.subarray(0, outer.length - inner.length + 20), origLen: outer.length }])).packets;
    expect(p!.encapsulation).toEqual({ kind: 'vxlan', vni: 42 });
    expect(p!.error).toMatch(/inside vxlan: truncated IPv4 header: 6 of 20 bytes/);
  });

  it('a file cut in the middle of a record keeps the packets before it', () => {
    const frame = eth(MAC_B, MAC_A, 0x0800, ipv4Packet({ src: '198.18.200.1', dst: '198.18.200.2', proto: 17 }, udp(1, 2)));
    const file = pcap([{ data: frame }, { data: frame }]);
    const ps = readPcap(file.subarray(0, file.length - 10)).packets;
    expect(ps).toHaveLength(2);
    expect(ps[0]!.error).toBeUndefined();
    expect(ps[1]!.error).toMatch(/truncated file: record says \d+ bytes/);
    const ps2 = readPcap(file.subarray(0, 24 + 16 + frame.length + 5)).packets;
    expect(ps2[1]!.error).toMatch(/a record header needs 16/);
  });

  it('malformed headers and an unknown link type give errors, not exceptions', () => {
    const badVersion = eth(MAC_B, MAC_A, 0x0800, Buffer.from([0x65, ...Array(19).fill(0)]));
    const badIhl = eth(MAC_B, MAC_A, 0x0800, Buffer.from([0x42, ...Array(19).fill(0)]));
    const ps = readPcap(pcap([{ data: badVersion }, { data: badIhl }, { data: Buffer.alloc(3) }])).packets;
    expect(ps[0]!.error).toMatch(/IPv4 expected, version field says 6/);
    expect(ps[1]!.error).toMatch(/header length 8 < 20/);
    expect(ps[2]!.error).toMatch(/truncated Ethernet header: 3 of 14/);
    expect(readPcap(pcap([{ data: Buffer.alloc(30) }], { linkType: 147 })).packets[0]!.error).toBe('unsupported link type 147');
  });

  it('raw IP link type (101)', () => {
    const [p] = readPcap(pcap([{ data: ipv6Packet({ src: 'fe80::1', dst: 'ff02::1', nh: 58, hop: 255 }, cat([134, 0, 0, 0])) }], { linkType: 101 })).packets;
    expect(p).toMatchObject({ ip: { version: 6, src: 'fe80::1', dst: 'ff02::1' }, l4: { protocol: 'icmpv6', icmpType: 134 } });
  });
});

describe('encapsulation is recognised by its header, not by its port', () => {
  const A = '198.18.200.65';
  const B = '198.18.200.129';
  const decode = (...datagrams: Buffer[]) => readPcap(pcap(datagrams.map((u) => ({ data: eth(MAC_B, MAC_A, 0x0800, ipv4Packet({ src: A, dst: B, proto: 17 }, u)) })))).packets;
  // What the reachability probes send: "probe", and the answer "<name> <source seen>\n".
  const texts = ['probe', `w2 ${A}\n`];

  it("a probe's text from or to 51820, 4789, 8472, 6081 or 4500 is plain UDP", () => {
    const pairs = [
      [51820, 7777],
      [7777, 51820],
      [7777, 4789],
      [7777, 8472],
      [7777, 6081],
      [7777, 4500],
      [4500, 7777],
    ] as const;
    for (const [sport, dport] of pairs) {
      for (const text of texts) {
        const [p] = decode(udp(sport, dport, Buffer.from(text)));
        expect(p!.encapsulation, `${sport} > ${dport} ${JSON.stringify(text)}`).toBeUndefined();
        expect(p!.error).toBeUndefined();
        expect(p!.l4).toEqual({ protocol: 'udp', srcPort: sport, dstPort: dport });
      }
    }
  });

  it('WireGuard: each message type at its length, from an ephemeral port to 51820 or back', () => {
    const msg = (type: number, len: number) => cat([type, 0, 0, 0], Buffer.alloc(len - 4, 0xa5));
    const ps = decode(udp(40000, 51820, msg(1, 148)), udp(51820, 40000, msg(2, 92)), udp(51820, 40000, msg(3, 64)), udp(40000, 51820, msg(4, 32)), udp(40000, 51820, msg(4, 1440)));
    expect(ps.map((p) => p.encapsulation)).toEqual(Array(5).fill({ kind: 'wireguard' }));
  });

  it('not WireGuard: a wrong length for the type, an unknown type, non-zero reserved bytes', () => {
    const ps = decode(
      udp(51820, 51820, cat([1, 0, 0, 0], Buffer.alloc(100))), // initiation is 148 bytes
      udp(51820, 51820, cat([4, 0, 0, 0], Buffer.alloc(29))), // transport data is whole 16-byte blocks
      udp(51820, 51820, cat([4, 0, 0, 0], Buffer.alloc(12))), // shorter than header and tag
      udp(51820, 51820, cat([5, 0, 0, 0], Buffer.alloc(28))),
      udp(51820, 51820, cat([4, 0, 1, 0], Buffer.alloc(28))),
    );
    expect(ps.map((p) => p.encapsulation)).toEqual(Array(5).fill(undefined));
  });

  it('not VXLAN: flags other than 0x08, non-zero reserved bytes, fewer than 8 bytes', () => {
    const frame = eth(MAC_B, MAC_A, 0x0800, ipv4Packet({ src: A, dst: B, proto: 1 }, icmpEcho(8, 1, 1)));
    const bad = (i: number, v: number) => {
      const h = vxlan(42, frame);
      h[i] = v;
      return h;
    };
    const ps = decode(udp(1, 4789, bad(0, 0x00)), udp(1, 4789, bad(0, 0x88)), udp(1, 4789, bad(2, 1)), udp(1, 4789, bad(7, 1)), udp(1, 4789, Buffer.from([8, 0, 0, 0])));
    expect(ps.map((p) => p.encapsulation)).toEqual(Array(5).fill(undefined));
    expect(decode(udp(1, 4789, vxlan(42, frame)))[0]!.encapsulation).toMatchObject({ kind: 'vxlan', vni: 42 });
  });

  it('not Geneve: version 1, or options longer than the datagram', () => {
    const ps = decode(udp(9, 6081, cat([0x40, 0], u16(0x6558), [0, 0, 5, 0], Buffer.alloc(20))), udp(9, 6081, cat([0x3f, 0], u16(0x6558), [0, 0, 5, 0], Buffer.alloc(20))));
    expect(ps.map((p) => p.encapsulation)).toEqual([undefined, undefined]);
  });

  it('not ESP on 4500: a keepalive, the non-ESP marker, a reserved SPI, a length not in 4-byte words', () => {
    const ps = decode(
      udp(4500, 4500, Buffer.from([0xff])),
      udp(4500, 4500, cat(u32(0), Buffer.alloc(28))),
      udp(4500, 4500, cat(u32(255), u32(1), Buffer.alloc(16))),
      udp(4500, 4500, cat(u32(0x1234), u32(1), Buffer.alloc(15))),
    );
    expect(ps.map((p) => p.encapsulation)).toEqual(Array(4).fill(undefined));
    expect(decode(udp(4500, 4500, cat(u32(0x1234), u32(1), Buffer.alloc(16))))[0]!.encapsulation).toEqual({ kind: 'esp', spi: 0x1234 });
  });

  it('ESP is encrypted, so no header tells it from text whose length is whole words: why the probes keep their client ports off 4500', () => {
    expect(decode(udp(7777, 4500, Buffer.from('w10 198.19.0.10\n')))[0]!.encapsulation).toEqual({ kind: 'esp', spi: Buffer.from('w10 ').readUInt32BE(0) });
  });

  it('a header cut by the snap length: recognised from its first 4 bytes (with an error), not from fewer', () => {
    const frame = eth(MAC_B, MAC_A, 0x0800, ipv4Packet({ src: A, dst: B, proto: 1 }, icmpEcho(8, 1, 1)));
    const full = eth(MAC_B, MAC_A, 0x0800, ipv4Packet({ src: A, dst: B, proto: 17 }, udp(1, 4789, vxlan(42, frame))));
    const at = 14 + 20 + 8; // where the VXLAN header starts
    const ps = readPcap(
      pcap([
        { data: full.subarray(0, at + 6), origLen: full.length },
        { data: full.subarray(0, at + 2), origLen: full.length },
      ]),
    ).packets;
    expect(ps[0]!.encapsulation).toEqual({ kind: 'vxlan' });
    expect(ps[0]!.error).toBe('truncated VXLAN header: 6 of 8 bytes');
    expect(ps[1]!.encapsulation).toBeUndefined();
    expect(ps[1]!.error).toBe(`truncated UDP payload: 2 of ${8 + frame.length} bytes captured, too few to tell whether it is VXLAN`);
  });
});

describe('address text', () => {
  it('IPv6 per RFC 5952', () => {
    const t = (s: string) => ipv6(Uint8Array.from(v6Bytes(s)));
    expect(t('2001:0db8:0000:0000:0000:0000:0000:0001')).toBe('2001:db8::1');
    expect(t('2001:db8:0:0:1:0:0:1')).toBe('2001:db8::1:0:0:1'); // first of two equal runs
    expect(t('2001:db8:0:1:1:1:1:1')).toBe('2001:db8:0:1:1:1:1:1'); // a single zero group is not compressed
    expect(t('2001:0:0:1:0:0:0:1')).toBe('2001:0:0:1::1'); // the longest run
    expect(t('0:0:0:0:0:0:0:0')).toBe('::');
    expect(t('0:0:0:0:0:0:0:1')).toBe('::1');
    expect(t('FE80:0:0:0:0:0:0:ABCD')).toBe('fe80::abcd');
    expect(t('2001:db8:ff:0:0:0:0:0')).toBe('2001:db8:ff::');
    expect(t('0:0:0:0:0:ffff:c612:c801')).toBe('::ffff:198.18.200.1');
  });

  it('canonicalIp and canonicalMac accept other spellings', () => {
    expect(canonicalIp('2001:DB8:00FF::0001')).toBe('2001:db8:ff::1');
    expect(canonicalIp('198.18.200.1/32')).toBe('198.18.200.1');
    expect(canonicalIp('2001:db8:ff::1/128')).toBe('2001:db8:ff::1');
    expect(canonicalIp('::ffff:198.18.200.1')).toBe('::ffff:198.18.200.1');
    expect(canonicalIp('fe80::1%eth0')).toBe('fe80::1');
    expect(canonicalIp('1:2:3:4:5:6:7:8')).toBe('1:2:3:4:5:6:7:8');
    for (const bad of ['198.18.200.256', '1::2::3', '1:2:3:4:5:6:7', 'host1', '1:2:3:4:5:6:7:8:9', '12345::']) expect(canonicalIp(bad), bad).toBeUndefined();
    expect(canonicalMac('02-00-00-AA-0b-1')).toBe('02:00:00:aa:0b:01');
    expect(canonicalMac('02:00:00:00:00')).toBeUndefined();
  });
});
