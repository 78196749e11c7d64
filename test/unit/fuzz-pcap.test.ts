/**
 * Property-based: the pcap reader throws a PcapError for a bad file header and nothing else;
 * after a good header, no packet bytes make it throw, and none make a decoder throw either
 * (decodePacket's last-line catch would turn that into a "decoder error", hiding a missed bound).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Packet, PcapError, readPcap } from '../../src/verify/pcap.js';
import { fuzzParams, fuzzTimeout, resultOrTypedError } from '../helpers/fuzz.js';
import { cat, eth, icmpEcho, ipv4Packet, ipv6Packet, MAC_A, MAC_B, macBytes, pcap, tcp, u16, u32, udp, vxlan } from '../helpers/pcap-writer.js';

const LINK_TYPES = [1, 12, 101, 113, 228, 229, 276];
const header = fc.record({
  linkType: fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...LINK_TYPES) }, fc.integer({ min: 0, max: 0xffffffff })),
  bigEndian: fc.boolean(),
  nano: fc.boolean(),
  snaplen: fc.constantFrom(65535, 256, 0),
});

/** Every packet decoded without a decoder throwing, and its lengths as the record says. */
function checkPackets(packets: Packet[]): void {
  packets.forEach((p, i) => {
    expect(p.index).toBe(i + 1);
    expect(p.error ?? '').not.toMatch(/decoder error/);
  });
}

const A = '198.18.200.1';
const B = '198.18.200.2';
const inner = eth(MAC_B, MAC_A, 0x0800, ipv4Packet({ src: '198.18.200.65', dst: '198.18.200.66', proto: 1 }, icmpEcho(8, 1, 1)));
const v4 = (proto: number, payload: Buffer) => eth(MAC_B, MAC_A, 0x0800, ipv4Packet({ src: A, dst: B, proto }, payload));
const v6 = (nh: number, payload: Buffer) => eth(MAC_B, MAC_A, 0x86dd, ipv6Packet({ src: '2001:db8:ff::1', dst: '2001:db8:ff::2', nh }, payload));

/** Well-formed frames of every layer the reader decodes: the seeds that mutations start from. */
const FRAMES: Buffer[] = [
  v4(6, tcp(40000, 7777)),
  v4(17, udp(40000, 7777, Buffer.from('probe'))),
  v4(1, icmpEcho(8, 7, 1)),
  v4(17, udp(51000, 4789, vxlan(42, inner))),
  v4(17, udp(9, 6081, cat([0x01, 0], u16(0x6558), [0, 0, 5, 0], [0, 0, 0, 0], inner))),
  v4(17, udp(51820, 51820, cat([4, 0, 0, 0], Buffer.alloc(28)))),
  v4(17, udp(4500, 4500, cat(u32(0xabc), u32(1), Buffer.alloc(16)))),
  v4(50, cat(u32(0x1234), u32(1), Buffer.alloc(32))),
  v4(4, ipv4Packet({ src: '198.18.200.65', dst: '198.18.200.66', proto: 6 }, tcp(1, 2))),
  v4(41, ipv6Packet({ src: '2001:db8:ff::a', dst: '2001:db8:ff::b', nh: 58 }, icmpEcho(128, 9, 9))),
  v4(47, cat(u16(0x2000), u16(0x0800), u32(77), ipv4Packet({ src: '198.18.200.65', dst: '198.18.200.66', proto: 17 }, udp(1, 2)))),
  v4(47, cat(u16(0), u16(0x6558), inner)),
  v4(47, cat(u16(0x3081), u16(0x880b), u32(0), u32(1), u32(2))), // enhanced GRE (PPTP)
  v6(0, cat([43, 0], [5, 2, 0, 0], [1, 0], [60, 0], [0, 0], [0, 0, 0, 0], [58, 0], [1, 4, 0, 0, 0, 0], icmpEcho(128, 1, 1))),
  v6(44, cat([17, 0], u16(1), u32(0xdeadbeef), udp(5353, 5353, Buffer.alloc(8)))),
  v6(51, cat([6, 2], [0, 0], u32(0x100), u32(1), Buffer.alloc(4), tcp(1, 2))), // AH: (2 + 2) * 4 bytes
  eth(MAC_B, MAC_A, 0x0800, ipv4Packet({ src: A, dst: B, proto: 17 }, udp(1, 2)), [
    { tpid: 0x88a8, vid: 200 },
    { tpid: 0x8100, vid: 300 },
  ]),
  eth(MAC_B, MAC_A, 0x0800, ipv4Packet({ src: A, dst: B, proto: 6, options: [0x94, 0x04, 0, 0, 1, 1, 1, 0] }, tcp(1, 2))),
  eth(MAC_B, MAC_A, 0x0800, ipv4Packet({ src: A, dst: B, proto: 17, mf: true, fragOffset: 8 }, Buffer.alloc(16))),
];
/** The same frames as the other link types carry them (raw IP, Linux cooked SLL and SLL2). */
const asLink = (frame: Buffer, linkType: number): Buffer => {
  const ip = frame.subarray(14);
  const type = frame.readUInt16BE(12);
  if (linkType === 113) return cat(u16(4), u16(1), u16(6), macBytes(MAC_A), [0, 0], u16(type), ip);
  if (linkType === 276) return cat(u16(type), [0, 0], u32(3), u16(1), [4], [6], macBytes(MAC_B), [0, 0], ip);
  if (linkType === 1) return frame;
  let off = 14; // raw IP: no link layer, so no VLAN tags either
  while ([0x8100, 0x88a8].includes(frame.readUInt16BE(off - 2))) off += 4;
  return frame.subarray(off);
};

/** A well-formed frame, then mutated: bytes overwritten, cut short, or grown. */
const mutatedFrame = fc
  .record({
    frame: fc.constantFrom(...FRAMES),
    linkType: fc.constantFrom(...LINK_TYPES),
    writes: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
    cut: fc.option(fc.nat(), { nil: undefined }),
    extra: fc.uint8Array({ maxLength: 16 }),
  })
  .map(({ frame, linkType, writes, cut, extra }) => {
    const b = Buffer.from(asLink(frame, linkType));
    for (const [at, v] of writes) b[at % b.length] = v;
    const kept = cut === undefined ? b : b.subarray(0, cut % (b.length + 1));
    return { linkType, data: cat(kept, Buffer.from(extra)) };
  });

describe('readPcap on any bytes', () => {
  it('the seed frames of the mutations decode cleanly on every link type, so mutations start deep in the layers', () => {
    for (const linkType of LINK_TYPES) {
      const packets = readPcap(
        pcap(
          FRAMES.map((f) => ({ data: asLink(f, linkType) })),
          { linkType },
        ),
      ).packets;
      expect(packets.map((p) => p.error ?? 'ok')).toEqual(FRAMES.map(() => 'ok'));
      expect(packets.filter((p) => p.encapsulation).length).toBe(10);
    }
  });

  it(
    'arbitrary bytes: a capture or a PcapError',
    () => {
      const magic = fc.constantFrom([0xd4, 0xc3, 0xb2, 0xa1], [0xa1, 0xb2, 0xc3, 0xd4], [0x4d, 0x3c, 0xb2, 0xa1], [0x0a, 0x0d, 0x0d, 0x0a], [0, 0, 0, 0]);
      const bytes = fc.oneof(
        fc.uint8Array({ maxLength: 300 }),
        fc.tuple(magic, fc.uint8Array({ maxLength: 300 })).map(([m, rest]) => Uint8Array.from([...m, ...rest])),
      );
      fc.assert(
        fc.property(bytes, (b) => {
          const r = resultOrTypedError(() => readPcap(Buffer.from(b)), [PcapError]);
          if ('value' in r) checkPackets(r.value.packets);
        }),
        fuzzParams(1000),
      );
    },
    fuzzTimeout(),
  );

  it(
    'a good header, then arbitrary bytes: never throws, and no decoder throws',
    () => {
      fc.assert(
        fc.property(header, fc.uint8Array({ maxLength: 600 }), (h, rest) => {
          const r = resultOrTypedError(() => readPcap(cat(pcap([], h), Buffer.from(rest))), []);
          if ('value' in r) checkPackets(r.value.packets);
        }),
        fuzzParams(1000),
      );
    },
    fuzzTimeout(),
  );

  it(
    'a good header, then records of arbitrary bytes: never throws, and no decoder throws',
    () => {
      const records = fc.array(fc.record({ data: fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)), origLen: fc.option(fc.nat(), { nil: undefined }) }), { maxLength: 5 });
      fc.assert(
        fc.property(header, records, (h, recs) => {
          const r = resultOrTypedError(() => readPcap(pcap(recs, h)), []);
          if ('value' in r) {
            checkPackets(r.value.packets);
            expect(r.value.packets.map((p) => p.capturedLength)).toEqual(recs.map((x) => x.data.length));
          }
        }),
        fuzzParams(1000),
      );
    },
    fuzzTimeout(),
  );

  it(
    'a good header, then well-formed frames of every kind with bytes overwritten, cut or added: no decoder throws',
    () => {
      fc.assert(
        fc.property(fc.array(mutatedFrame, { minLength: 1, maxLength: 4 }), fc.boolean(), (frames, bigEndian) => {
          for (const { linkType, data } of frames) {
            const r = resultOrTypedError(() => readPcap(pcap([{ data }], { linkType, bigEndian })), []);
            if ('value' in r) checkPackets(r.value.packets);
          }
        }),
        fuzzParams(1000),
      );
    },
    fuzzTimeout(),
  );
});
