/**
 * A reader for classic pcap files (what `tcpdump -w` writes), pure TypeScript.
 *
 * It decodes just enough of every packet to prove what crossed a link: the link layer (Ethernet
 * with 802.1Q/802.1ad tags, Linux cooked SLL and SLL2, raw IP), IPv4 (options skipped, fragments
 * noted), IPv6 (extension headers walked), TCP/UDP ports, ICMP/ICMPv6 type, and every kind of
 * encapsulation an overlay network could use: VXLAN (its inner frame decoded), IP-in-IP and
 * IPv6-in-IP (inner IP decoded), GRE (inner decoded when it carries IP or Ethernet), ESP (also
 * UDP-encapsulated on 4500), Geneve (inner decoded) and WireGuard; those in UDP by their header on
 * their port, never by the port alone.
 *
 * Longer than the project's ~450 lines on purpose: it is one decoder whose layers call each other
 * (link → IP → transport → encapsulation → inner link…); split, every file would import every other.
 *
 * A bad file header throws a PcapError; a bad packet never does: it gets an `error` text and
 * whatever was decoded before the problem.
 */
import { canonicalIp as canonicalIpText, formatIpv6 } from '../net/cidr.js';
import { readFileSync } from 'node:fs';
import { SimError } from '../util/errors.js';
import { ESP_IN_UDP_PORT, GENEVE_PORT, VXLAN_PORTS, WIREGUARD_PORT } from './encap-ports.js';

/** The file is not a classic pcap file, or cannot be read. */
export class PcapError extends SimError {}

/** Link-layer header types (https://www.tcpdump.org/linktypes.html) this reader decodes. */
export const LINKTYPE = {
  ETHERNET: 1,
  RAW: 101,
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
} as const;

export { ESP_IN_UDP_PORT, GENEVE_PORT, VXLAN_PORTS, WIREGUARD_PORT } from './encap-ports.js';

export interface IpInfo {
  version: 4 | 6;
  /** Dotted quad, or IPv6 in RFC 5952 text (compressed, lowercase). */
  src: string;
  dst: string;
  /** The upper-layer protocol: for IPv6 the one after the extension headers (6 TCP, 17 UDP, 58 ICMPv6...). */
  protocol: number;
  /** TTL, or IPv6 hop limit. */
  ttl: number;
  /** Set when the packet is a fragment; only the first (offset 0) has an `l4`. */
  fragment?: { id: number; offset: number; more: boolean };
  /** IPv6 only: the extension headers walked, in order (0 hop-by-hop, 43 routing, 44 fragment, 60 destination options, 51 AH). */
  extensionHeaders?: number[];
}

export interface L4Info {
  protocol: 'tcp' | 'udp' | 'icmp' | 'icmpv6' | 'other';
  srcPort?: number;
  dstPort?: number;
  icmpType?: number;
  icmpCode?: number;
  /** ICMP/ICMPv6 echo request and reply identifier. */
  icmpId?: number;
}

export type EncapsulationKind = 'vxlan' | 'ipip' | 'ip6ip' | 'gre' | 'esp' | 'geneve' | 'wireguard';

/** The packet inside an encapsulation: its IP header, and for VXLAN/Geneve/GRETAP its Ethernet addresses. */
export interface InnerPacket extends IpInfo {
  l4?: L4Info;
  src_mac?: string;
  dst_mac?: string;
  vlan?: number[];
  /** Encapsulation inside the encapsulation (decoded a few levels deep at most). */
  encapsulation?: Encapsulation;
}

export interface Encapsulation {
  kind: EncapsulationKind;
  /** VXLAN and Geneve network identifier; GRE key when present. */
  vni?: number;
  /** ESP security parameter index. */
  spi?: number;
  /** The inner IP packet, when it could be decoded (not for ESP and WireGuard: they are encrypted). */
  inner?: InnerPacket;
}

export interface Packet extends Layers {
  /** 1-based position in the file: the frame number Wireshark and tshark show. */
  index: number;
  /** Capture time in microseconds since the epoch (nanosecond files are truncated to µs). */
  timestampUs: number;
  /** Length on the wire. */
  length: number;
  /** Bytes saved in the file (less than `length` when the snap length cut the packet). */
  capturedLength: number;
  /** Set when the packet is truncated or malformed; fields decoded before the problem are kept. */
  error?: string;
}

export interface PcapCapture {
  linkType: number;
  snaplen: number;
  nanosecond: boolean;
  bigEndian: boolean;
  packets: Packet[];
}

const MAGIC_US = 0xa1b2c3d4;
const MAGIC_NS = 0xa1b23c4d;
const PCAPNG_MAGIC = 0x0a0d0d0a;
const FILE_HEADER = 24;
const RECORD_HEADER = 16;
const MAX_ENCAP_DEPTH = 4;

/** Parses a whole classic pcap file held in memory. Throws PcapError only for a bad file header. */
export function readPcap(buf: Buffer): PcapCapture {
  if (buf.length < FILE_HEADER) {
    throw new PcapError(`not a pcap file: ${buf.length} bytes, shorter than the ${FILE_HEADER}-byte pcap file header`);
  }
  const le = buf.readUInt32LE(0);
  const be = buf.readUInt32BE(0);
  let bigEndian: boolean;
  let nanosecond: boolean;
  if (le === MAGIC_US || le === MAGIC_NS) {
    bigEndian = false;
    nanosecond = le === MAGIC_NS;
  } else if (be === MAGIC_US || be === MAGIC_NS) {
    bigEndian = true;
    nanosecond = be === MAGIC_NS;
  } else if (le === PCAPNG_MAGIC) {
    throw new PcapError('this is a pcapng file, not classic pcap: capture with `tcpdump -w` or convert it with `editcap -F pcap in.pcapng out.pcap`');
  } else {
    throw new PcapError(`not a pcap file: unknown magic number 0x${be.toString(16).padStart(8, '0')}`);
  }
  const u16 = (o: number) => (bigEndian ? buf.readUInt16BE(o) : buf.readUInt16LE(o));
  const u32 = (o: number) => (bigEndian ? buf.readUInt32BE(o) : buf.readUInt32LE(o));
  const major = u16(4);
  const minor = u16(6);
  if (major !== 2) throw new PcapError(`unsupported pcap version ${major}.${minor} (only 2.x exists)`);
  const snaplen = u32(16);
  // The upper bits of the link-type field may carry FCS information; the type is the low 16 bits.
  const linkType = u32(20) & 0xffff;

  const packets: Packet[] = [];
  let off = FILE_HEADER;
  while (off < buf.length) {
    const index = packets.length + 1;
    if (buf.length - off < RECORD_HEADER) {
      packets.push({ index, timestampUs: 0, length: 0, capturedLength: 0, error: `truncated file: ${buf.length - off} bytes left, a record header needs ${RECORD_HEADER}` });
      break;
    }
    const sec = u32(off);
    const frac = u32(off + 4);
    const inclLen = u32(off + 8);
    const origLen = u32(off + 12);
    const timestampUs = sec * 1_000_000 + (nanosecond ? Math.floor(frac / 1000) : frac);
    off += RECORD_HEADER;
    const avail = buf.length - off;
    if (inclLen > avail) {
      // A capture killed while writing: decode what is there, and stop.
      const data = buf.subarray(off, buf.length);
      const p = decodePacket(index, timestampUs, origLen, data, linkType);
      p.error = joinErrors(`truncated file: record says ${inclLen} bytes, ${avail} left`, p.error);
      packets.push(p);
      break;
    }
    packets.push(decodePacket(index, timestampUs, origLen, buf.subarray(off, off + inclLen), linkType));
    off += inclLen;
  }
  return { linkType, snaplen, nanosecond, bigEndian, packets };
}

/** Reads and parses a classic pcap file. Throws PcapError if it cannot be read or is not pcap. */
export function readPcapFile(path: string): PcapCapture {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (err) {
    throw new PcapError(`cannot read pcap file ${path}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  try {
    return readPcap(buf);
  } catch (err) {
    if (err instanceof PcapError) throw new PcapError(`${path}: ${err.message}`, { cause: err });
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Decoding. Every decoder gets the packet bytes and the [off, end) window of its layer, fills in
// `Layers`, and records problems in `errs` instead of throwing.

/** What a packet's headers say, layer by layer. */
interface Layers {
  src_mac?: string;
  dst_mac?: string;
  /** VLAN IDs, outermost first. */
  vlan?: number[];
  /** The EtherType (or SLL protocol) of the network layer, after any VLAN tags. */
  ethertype?: number;
  ip?: IpInfo;
  l4?: L4Info;
  encapsulation?: Encapsulation;
}

interface Ctx {
  errs: string[];
  /** Encapsulation depth: 0 for the outer packet. */
  depth: number;
}

function joinErrors(...parts: (string | undefined)[]): string | undefined {
  const s = parts.filter((p): p is string => !!p);
  return s.length ? s.join('; ') : undefined;
}

function decodePacket(index: number, timestampUs: number, origLen: number, data: Buffer, linkType: number): Packet {
  const layers: Layers = {};
  const ctx: Ctx = { errs: [], depth: 0 };
  try {
    decodeLink(linkType, data, layers, ctx);
  } catch (err) {
    // The decoders check their bounds; this is a last line so that one packet never sinks a file.
    ctx.errs.push(`decoder error: ${err instanceof Error ? err.message : String(err)}`);
  }
  const p: Packet = { index, timestampUs, length: origLen, capturedLength: data.length, ...layers };
  const error = joinErrors(...ctx.errs);
  if (error) p.error = error;
  return p;
}

function decodeLink(linkType: number, b: Buffer, d: Layers, ctx: Ctx): void {
  switch (linkType) {
    case LINKTYPE.ETHERNET:
      decodeEthernet(b, 0, b.length, d, ctx);
      return;
    case LINKTYPE.LINUX_SLL: {
      // packet type(2) ARPHRD(2) address length(2) address(8) protocol(2)
      if (b.length < 16) {
        ctx.errs.push(`truncated Linux cooked (SLL) header: ${b.length} of 16 bytes`);
        return;
      }
      const hatype = b.readUInt16BE(2);
      const alen = b.readUInt16BE(4);
      if (hatype === 1 && alen === 6) d.src_mac = mac(b, 6);
      decodeEthertype(b.readUInt16BE(14), b, 16, b.length, d, ctx);
      return;
    }
    case LINKTYPE.LINUX_SLL2: {
      // protocol(2) reserved(2) ifindex(4) ARPHRD(2) packet type(1) address length(1) address(8)
      if (b.length < 20) {
        ctx.errs.push(`truncated Linux cooked (SLL2) header: ${b.length} of 20 bytes`);
        return;
      }
      const hatype = b.readUInt16BE(8);
      const alen = b[11]!;
      if (hatype === 1 && alen === 6) d.src_mac = mac(b, 12);
      decodeEthertype(b.readUInt16BE(0), b, 20, b.length, d, ctx);
      return;
    }
    case LINKTYPE.RAW:
    case 12: // DLT_RAW on most systems, as some old files store it
    case LINKTYPE.IPV4:
    case LINKTYPE.IPV6:
      decodeIp(b, 0, b.length, d, ctx);
      return;
    default:
      ctx.errs.push(`unsupported link type ${linkType}`);
  }
}

const VLAN_TPIDS = new Set([0x8100, 0x88a8, 0x9100]);

function decodeEthernet(b: Buffer, off: number, end: number, d: Layers, ctx: Ctx): void {
  if (end - off < 14) {
    ctx.errs.push(`truncated Ethernet header: ${Math.max(0, end - off)} of 14 bytes`);
    return;
  }
  d.dst_mac = mac(b, off);
  d.src_mac = mac(b, off + 6);
  decodeEthertype(b.readUInt16BE(off + 12), b, off + 14, end, d, ctx);
}

/** Network layer by EtherType, after stripping 802.1Q / 802.1ad tags. */
function decodeEthertype(type: number, b: Buffer, off: number, end: number, d: Layers, ctx: Ctx): void {
  while (VLAN_TPIDS.has(type)) {
    if (end - off < 4) {
      ctx.errs.push('truncated VLAN tag');
      return;
    }
    d.vlan ??= [];
    d.vlan.push(b.readUInt16BE(off) & 0x0fff);
    type = b.readUInt16BE(off + 2);
    off += 4;
  }
  d.ethertype = type;
  if (type === 0x0800 || type === 0x86dd) decodeIp(b, off, end, d, ctx, type === 0x0800 ? 4 : 6);
}

function decodeIp(b: Buffer, off: number, end: number, d: Layers, ctx: Ctx, expect?: 4 | 6): void {
  if (end - off < 1) {
    ctx.errs.push('truncated IP header: no bytes');
    return;
  }
  const version = b[off]! >> 4;
  if (expect !== undefined && version !== expect) {
    ctx.errs.push(`malformed: IPv${expect} expected, version field says ${version}`);
    return;
  }
  if (version === 4) {
    decodeIpv4(b, off, end, d, ctx);
    return;
  }
  if (version === 6) {
    decodeIpv6(b, off, end, d, ctx);
    return;
  }
  ctx.errs.push(`malformed: IP version ${version}`);
}

function decodeIpv4(b: Buffer, off: number, end: number, d: Layers, ctx: Ctx): void {
  const avail = end - off;
  if (avail < 20) {
    ctx.errs.push(`truncated IPv4 header: ${avail} of 20 bytes`);
    return;
  }
  const ihl = (b[off]! & 0x0f) * 4;
  if (ihl < 20) {
    ctx.errs.push(`malformed IPv4 header: header length ${ihl} < 20`);
    return;
  }
  const ip: IpInfo = { version: 4, src: ipv4(b, off + 12), dst: ipv4(b, off + 16), protocol: b[off + 9]!, ttl: b[off + 8]! };
  d.ip = ip;
  const frag = b.readUInt16BE(off + 6);
  const more = (frag & 0x2000) !== 0;
  const fragOffset = (frag & 0x1fff) * 8;
  if (more || fragOffset > 0) ip.fragment = { id: b.readUInt16BE(off + 4), offset: fragOffset, more };
  if (avail < ihl) {
    ctx.errs.push(`truncated IPv4 options: header length ${ihl}, ${avail} bytes captured`);
    return;
  }
  const total = b.readUInt16BE(off + 2);
  if (total !== 0 && total < ihl) {
    ctx.errs.push(`malformed IPv4 header: total length ${total} < header length ${ihl}`);
    return;
  }
  // Total length 0 happens in captures of TSO packets; otherwise it bounds the payload (Ethernet pads).
  const pend = total === 0 ? end : Math.min(end, off + total);
  if (fragOffset > 0) return; // a later fragment: no transport header
  decodeL4(ip.protocol, b, off + ihl, pend, d, ctx);
}

/** IPv6 extension headers with the generic (next header, length in 8-octet units - 1) layout. */
const IPV6_GENERIC_EXT = new Set([0, 43, 60, 135, 139, 140]);

function decodeIpv6(b: Buffer, off: number, end: number, d: Layers, ctx: Ctx): void {
  const avail = end - off;
  if (avail < 40) {
    ctx.errs.push(`truncated IPv6 header: ${avail} of 40 bytes`);
    return;
  }
  const payloadLen = b.readUInt16BE(off + 4);
  let nh = b[off + 6]!;
  const ip: IpInfo = { version: 6, src: ipv6(b, off + 8), dst: ipv6(b, off + 24), protocol: nh, ttl: b[off + 7]! };
  d.ip = ip;
  // Payload length 0 is a jumbogram (or a TSO capture): the captured bytes are the bound.
  const pend = payloadLen === 0 ? end : Math.min(end, off + 40 + payloadLen);
  let cur = off + 40;
  const exts: number[] = [];
  for (let guard = 0; guard < 16; guard++) {
    if (IPV6_GENERIC_EXT.has(nh) || nh === 51) {
      if (pend - cur < 2) {
        ip.protocol = nh;
        ip.extensionHeaders = [...exts, nh];
        ctx.errs.push(`truncated IPv6 extension header ${nh}`);
        return;
      }
      const len = nh === 51 ? (b[cur + 1]! + 2) * 4 : (b[cur + 1]! + 1) * 8;
      exts.push(nh);
      nh = b[cur]!;
      cur += len;
      if (cur > pend) {
        ip.protocol = nh;
        ip.extensionHeaders = exts;
        ctx.errs.push(`truncated IPv6 extension header ${exts[exts.length - 1]}: ${len} bytes, ${pend - (cur - len)} captured`);
        return;
      }
    } else if (nh === 44) {
      exts.push(nh);
      if (pend - cur < 8) {
        ip.protocol = nh;
        ip.extensionHeaders = exts;
        ctx.errs.push(`truncated IPv6 fragment header: ${Math.max(0, pend - cur)} of 8 bytes`);
        return;
      }
      const fo = b.readUInt16BE(cur + 2);
      ip.fragment = { id: b.readUInt32BE(cur + 4), offset: fo & 0xfff8, more: (fo & 1) !== 0 };
      nh = b[cur]!;
      cur += 8;
      if (ip.fragment.offset > 0) {
        ip.protocol = nh;
        ip.extensionHeaders = exts;
        return; // a later fragment: no transport header
      }
    } else {
      break;
    }
  }
  ip.protocol = nh;
  if (exts.length) ip.extensionHeaders = exts;
  decodeL4(nh, b, cur, pend, d, ctx);
}

function decodeL4(proto: number, b: Buffer, off: number, end: number, d: Layers, ctx: Ctx): void {
  const avail = end - off;
  switch (proto) {
    case 6: {
      d.l4 = { protocol: 'tcp' };
      if (avail < 4) {
        ctx.errs.push(`truncated TCP header: ${Math.max(0, avail)} of 20 bytes`);
        return;
      }
      d.l4.srcPort = b.readUInt16BE(off);
      d.l4.dstPort = b.readUInt16BE(off + 2);
      if (avail < 20) ctx.errs.push(`truncated TCP header: ${avail} of 20 bytes`);
      return;
    }
    case 17: {
      d.l4 = { protocol: 'udp' };
      if (avail < 8) {
        if (avail >= 4) {
          d.l4.srcPort = b.readUInt16BE(off);
          d.l4.dstPort = b.readUInt16BE(off + 2);
        }
        ctx.errs.push(`truncated UDP header: ${Math.max(0, avail)} of 8 bytes`);
        return;
      }
      const sport = b.readUInt16BE(off);
      const dport = b.readUInt16BE(off + 2);
      d.l4.srcPort = sport;
      d.l4.dstPort = dport;
      const ulen = b.readUInt16BE(off + 4);
      const pend = ulen >= 8 ? Math.min(end, off + ulen) : end;
      // Length 0 (a jumbogram, or a TSO capture): the captured bytes are the payload.
      decodeUdpPayload(sport, dport, b, off + 8, pend, ulen >= 8 ? ulen - 8 : pend - off - 8, d, ctx);
      return;
    }
    case 1:
    case 58: {
      d.l4 = { protocol: proto === 1 ? 'icmp' : 'icmpv6' };
      if (avail < 1) {
        ctx.errs.push(`truncated ${d.l4.protocol.toUpperCase()} header: no bytes`);
        return;
      }
      const type = b[off]!;
      d.l4.icmpType = type;
      if (avail >= 2) d.l4.icmpCode = b[off + 1]!;
      const echo = proto === 1 ? type === 0 || type === 8 : type === 128 || type === 129;
      if (echo && avail >= 6) d.l4.icmpId = b.readUInt16BE(off + 4);
      if (avail < 4) ctx.errs.push(`truncated ${d.l4.protocol.toUpperCase()} header: ${avail} of 4 bytes`);
      return;
    }
    case 4:
    case 41: {
      d.l4 = { protocol: 'other' };
      encapsulate(proto === 4 ? 'ipip' : 'ip6ip', d, ctx, (inner, ictx) => decodeIp(b, off, end, inner, ictx, proto === 4 ? 4 : 6));
      return;
    }
    case 47:
      d.l4 = { protocol: 'other' };
      decodeGre(b, off, end, d, ctx);
      return;
    case 50: {
      d.l4 = { protocol: 'other' };
      const enc: Encapsulation = { kind: 'esp' };
      if (avail >= 4) enc.spi = b.readUInt32BE(off);
      else ctx.errs.push(`truncated ESP header: ${Math.max(0, avail)} of 8 bytes`);
      d.encapsulation = enc;
      return;
    }
    default:
      d.l4 = { protocol: 'other' };
  }
}

/**
 * The encapsulations carried in UDP, each recognised by its header on its port, never by the port
 * alone (a probe whose ephemeral port happens to be 51820 is not WireGuard). `len` is the payload
 * length the UDP header gives; `end - off` bytes of it were captured. A header needs its first 4
 * bytes captured to be recognised: a header cut later by the snap length is recognised with an
 * error, one cut before that is not recognised and gets an error.
 */
function decodeUdpPayload(sport: number, dport: number, b: Buffer, off: number, end: number, len: number, d: Layers, ctx: Ctx): void {
  const avail = end - off;
  const ports = (p: number) => sport === p || dport === p;
  const candidates = [VXLAN_PORTS.includes(dport) && 'VXLAN', dport === GENEVE_PORT && 'Geneve', ports(WIREGUARD_PORT) && 'WireGuard', ports(ESP_IN_UDP_PORT) && 'ESP'].filter((c) => !!c);
  if (candidates.length === 0) return;
  if (avail < 4) {
    if (len > avail) ctx.errs.push(`truncated UDP payload: ${Math.max(0, avail)} of ${len} bytes captured, too few to tell whether it is ${candidates.join(' or ')}`);
    return;
  }
  // Bytes past the capture (snap length) are taken to match.
  const zero = (...at: number[]) => at.every((i) => i >= avail || b[off + i] === 0);
  if (VXLAN_PORTS.includes(dport) && len >= 8 && b[off] === 0x08 && zero(1, 2, 3, 7)) {
    // RFC 7348: flags(1: 0x08 = VNI valid) reserved(3) VNI(3) reserved(1), then an Ethernet frame
    if (avail < 8) {
      d.encapsulation = { kind: 'vxlan' };
      ctx.errs.push(`truncated VXLAN header: ${avail} of 8 bytes`);
      return;
    }
    const vni = b.readUIntBE(off + 4, 3);
    encapsulate('vxlan', d, ctx, (inner, ictx) => decodeEthernet(b, off + 8, end, inner, ictx), { vni });
    return;
  }
  const optLen = (b[off]! & 0x3f) * 4;
  if (dport === GENEVE_PORT && b[off]! >> 6 === 0 && 8 + optLen <= len) {
    // RFC 8926: version(2 bits, 0) option length(6 bits, 4-byte units) flags(1) protocol type(2) VNI(3) reserved(1) options
    if (avail < 8) {
      d.encapsulation = { kind: 'geneve' };
      ctx.errs.push(`truncated Geneve header: ${avail} of 8 bytes`);
      return;
    }
    const ptype = b.readUInt16BE(off + 2);
    const vni = b.readUIntBE(off + 4, 3);
    encapsulate('geneve', d, ctx, (inner, ictx) => decodeByProtocolType(ptype, b, off + 8 + optLen, end, inner, ictx), { vni });
    return;
  }
  if (ports(WIREGUARD_PORT) && isWireGuardMessage(b[off]!, len) && zero(1, 2, 3)) {
    d.encapsulation = { kind: 'wireguard' };
    return;
  }
  if (ports(ESP_IN_UDP_PORT)) {
    // RFC 3948: a 1-byte 0xff is a NAT keepalive and a zero first word the non-ESP marker of IKE;
    // ESP's SPI is never 1-255 (reserved, RFC 4303 2.1) and its length is whole 4-byte words
    // (RFC 4303 2.4), at least SPI, sequence number and one word of padded trailer.
    const spi = b.readUInt32BE(off);
    if (spi > 255 && len >= 12 && len % 4 === 0) d.encapsulation = { kind: 'esp', spi };
  }
}

/**
 * A WireGuard message by its type (first byte, then 3 reserved zero bytes) and its length, fixed
 * per type: handshake initiation 148 bytes, response 92, cookie reply 64; transport data is a
 * 16-byte header, the payload padded to 16 bytes, and a 16-byte tag.
 */
function isWireGuardMessage(type: number, len: number): boolean {
  switch (type) {
    case 1:
      return len === 148;
    case 2:
      return len === 92;
    case 3:
      return len === 64;
    case 4:
      return len >= 32 && len % 16 === 0;
    default:
      return false;
  }
}

function decodeGre(b: Buffer, off: number, end: number, d: Layers, ctx: Ctx): void {
  const avail = end - off;
  if (avail < 4) {
    d.encapsulation = { kind: 'gre' };
    ctx.errs.push(`truncated GRE header: ${Math.max(0, avail)} of 4 bytes`);
    return;
  }
  const flags = b.readUInt16BE(off);
  const ptype = b.readUInt16BE(off + 2);
  const version = flags & 7;
  const hasC = (flags & 0x8000) !== 0;
  const hasK = (flags & 0x2000) !== 0;
  const hasS = (flags & 0x1000) !== 0;
  let hlen: number;
  let key: number | undefined;
  if (version === 1) {
    // Enhanced GRE (PPTP): key field always, sequence and acknowledgement optional; carries PPP.
    hlen = 8 + (hasS ? 4 : 0) + ((flags & 0x0080) !== 0 ? 4 : 0);
  } else {
    hlen = 4 + (hasC ? 4 : 0) + (hasK ? 4 : 0) + (hasS ? 4 : 0);
    if (hasK && avail >= 4 + (hasC ? 4 : 0) + 4) key = b.readUInt32BE(off + 4 + (hasC ? 4 : 0));
  }
  const extra = key !== undefined ? { vni: key } : {};
  if (avail < hlen) {
    d.encapsulation = { kind: 'gre', ...extra };
    ctx.errs.push(`truncated GRE header: ${avail} of ${hlen} bytes`);
    return;
  }
  if (version !== 0) {
    d.encapsulation = { kind: 'gre', ...extra };
    return;
  }
  encapsulate('gre', d, ctx, (inner, ictx) => decodeByProtocolType(ptype, b, off + hlen, end, inner, ictx), extra);
}

/** An EtherType-numbered payload of GRE or Geneve: IP, or an Ethernet frame (0x6558, transparent bridging). */
function decodeByProtocolType(ptype: number, b: Buffer, off: number, end: number, d: Layers, ctx: Ctx): void {
  if (ptype === 0x6558) {
    decodeEthernet(b, off, end, d, ctx);
    return;
  }
  if (ptype === 0x0800 || ptype === 0x86dd) {
    decodeIp(b, off, end, d, ctx, ptype === 0x0800 ? 4 : 6);
    return;
  }
  // Anything else (MPLS, ERSPAN, NSH...): encapsulation recognised, inner left undecoded.
}

/** Records an encapsulation on `d`, decoding its inner packet unless the nesting is too deep. */
function encapsulate(kind: EncapsulationKind, d: Layers, ctx: Ctx, decodeInner: (inner: Layers, ictx: Ctx) => void, extra: { vni?: number } = {}): void {
  const enc: Encapsulation = { kind, ...extra };
  d.encapsulation = enc;
  if (ctx.depth + 1 > MAX_ENCAP_DEPTH) {
    ctx.errs.push(`${kind}: encapsulation nested deeper than ${MAX_ENCAP_DEPTH} levels, not decoded`);
    return;
  }
  const inner: Layers = {};
  const ictx: Ctx = { errs: [], depth: ctx.depth + 1 };
  decodeInner(inner, ictx);
  for (const e of ictx.errs) ctx.errs.push(`inside ${kind}: ${e}`);
  if (inner.ip) {
    const ip: InnerPacket = { ...inner.ip };
    if (inner.l4) ip.l4 = inner.l4;
    if (inner.src_mac) ip.src_mac = inner.src_mac;
    if (inner.dst_mac) ip.dst_mac = inner.dst_mac;
    if (inner.vlan) ip.vlan = inner.vlan;
    if (inner.encapsulation) ip.encapsulation = inner.encapsulation;
    enc.inner = ip;
  }
}

// ---------------------------------------------------------------------------------------------
// Addresses.

export function mac(b: Uint8Array, off = 0): string {
  const parts: string[] = [];
  for (let i = 0; i < 6; i++) parts.push(b[off + i]!.toString(16).padStart(2, '0'));
  return parts.join(':');
}

export function ipv4(b: Uint8Array, off = 0): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

/** IPv6 address text per RFC 5952, by the IPAM maths' formatter (one implementation for both). */
export function ipv6(b: Uint8Array, off = 0): string {
  let value = 0n;
  for (let i = 0; i < 16; i++) value = (value << 8n) | BigInt(b[off + i]!);
  return formatIpv6(value);
}

/** The text this reader prints for an address given in any valid spelling; undefined if not an address. */
export function canonicalIp(text: string): string | undefined {
  try {
    return canonicalIpText(
      text
        .trim()
        .replace(/\/\d+$/, '')
        .replace(/%.*$/, ''),
    );
  } catch {
    return undefined;
  }
}

/** `AA-BB-CC-DD-EE-FF` or `aa:bb:...` to `aa:bb:cc:dd:ee:ff`; undefined if not a MAC address. */
export function canonicalMac(text: string): string | undefined {
  const parts = text.trim().toLowerCase().split(/[:-]/);
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-f]{1,2}$/.test(p))) return undefined;
  return parts.map((p) => p.padStart(2, '0')).join(':');
}
