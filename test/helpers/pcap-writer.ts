/**
 * A tiny pcap writer, for crafting the bytes a capture would hold. Deliberately independent of
 * the reader (src/verify/pcap.ts): its own address parsing, its own layouts straight from the RFCs.
 */
import { LINKTYPE } from '../../src/verify/pcap.js';

export const cat = (...parts: (Buffer | number[])[]) => Buffer.concat(parts.map((p) => (Buffer.isBuffer(p) ? p : Buffer.from(p))));
export const u16 = (x: number) => [x >> 8, x & 0xff];
export const u32 = (x: number) => [(x >>> 24) & 0xff, (x >>> 16) & 0xff, (x >>> 8) & 0xff, x & 0xff];

export function macBytes(m: string): number[] {
  return m.split(':').map((h) => parseInt(h, 16));
}
export function v4Bytes(a: string): number[] {
  return a.split('.').map(Number);
}
export function v6Bytes(a: string): number[] {
  const [head, tail] = a.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return groups.flatMap((g) => u16(parseInt(g, 16)));
}

export const MAC_A = '02:00:00:00:00:0a';
export const MAC_B = '02:00:00:00:00:0b';

export function eth(dst: string, src: string, type: number, payload: Buffer, vlans: { tpid: number; vid: number }[] = []): Buffer {
  return cat(macBytes(dst), macBytes(src), ...vlans.flatMap((v) => [u16(v.tpid), u16(v.vid)]), u16(type), payload);
}

export function ipv4Packet(o: { src: string; dst: string; proto: number; ttl?: number; id?: number; mf?: boolean; fragOffset?: number; options?: number[] }, payload: Buffer): Buffer {
  const opts = o.options ?? [];
  const ihl = 5 + opts.length / 4;
  const flags = (o.mf ? 0x2000 : 0) | ((o.fragOffset ?? 0) / 8);
  const h = cat([0x40 | ihl, 0], u16(ihl * 4 + payload.length), u16(o.id ?? 1), u16(flags), [o.ttl ?? 64, o.proto], [0, 0], v4Bytes(o.src), v4Bytes(o.dst), opts);
  let sum = 0;
  for (let i = 0; i < h.length; i += 2) sum += h.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
  h.writeUInt16BE(~sum & 0xffff, 10);
  return cat(h, payload);
}

export function ipv6Packet(o: { src: string; dst: string; nh: number; hop?: number }, payload: Buffer): Buffer {
  return cat([0x60, 0, 0, 0], u16(payload.length), [o.nh, o.hop ?? 64], v6Bytes(o.src), v6Bytes(o.dst), payload);
}

export const udp = (sport: number, dport: number, payload: Buffer = Buffer.alloc(0)) => cat(u16(sport), u16(dport), u16(8 + payload.length), [0, 0], payload);
export const tcp = (sport: number, dport: number) => cat(u16(sport), u16(dport), u32(1000), u32(0), [0x50, 0x02], u16(64240), [0, 0], [0, 0]);
export const icmpEcho = (type: number, id: number, seq: number) => cat([type, 0, 0, 0], u16(id), u16(seq), Buffer.from('abcdefgh'));
export const vxlan = (vni: number, frame: Buffer) => cat([0x08, 0, 0, 0], [(vni >> 16) & 0xff, (vni >> 8) & 0xff, vni & 0xff, 0], frame);

export interface Rec {
  data: Buffer;
  sec?: number;
  frac?: number;
  origLen?: number;
}

export function pcap(records: Rec[], o: { linkType?: number; bigEndian?: boolean; nano?: boolean; snaplen?: number } = {}): Buffer {
  const w32 = (x: number) => {
    const b = Buffer.alloc(4);
    if (o.bigEndian) b.writeUInt32BE(x >>> 0);
    else b.writeUInt32LE(x >>> 0);
    return b;
  };
  const w16 = (x: number) => {
    const b = Buffer.alloc(2);
    if (o.bigEndian) b.writeUInt16BE(x);
    else b.writeUInt16LE(x);
    return b;
  };
  const header = cat(w32(o.nano ? 0xa1b23c4d : 0xa1b2c3d4), w16(2), w16(4), w32(0), w32(0), w32(o.snaplen ?? 262144), w32(o.linkType ?? LINKTYPE.ETHERNET));
  return cat(header, ...records.flatMap((r, i) => [cat(w32(r.sec ?? 1_700_000_000 + i), w32(r.frac ?? 0), w32(r.data.length), w32(r.origLen ?? r.data.length)), r.data]));
}
