/**
 * Address maths: parsing, formatting, ordering and containment of IPv4 and IPv6 addresses and
 * CIDRs, and the equal-sized prefixes (blocks) a CIDR splits into. Pure: no I/O.
 *
 * Addresses are handled as bigints with an address width (`bits`: 32 for IPv4, 128 for IPv6).
 * The family is read from the text: anything with a `:` is IPv6. IPv6 text is always written in
 * the canonical RFC 5952 form (lowercase, no leading zeros, longest zero run compressed to `::`).
 */
import { IPv4 } from 'ip-num';
import { IpamError } from '../util/errors.js';

/** An address family. */
export type IpFamily = 4 | 6;

/** A parsed, validated CIDR. */
export interface Cidr {
  /** The normalized text, e.g. `198.19.0.0/26` or `2001:db8:1::/122`. */
  cidr: string;
  /** The network (first) address. */
  network: bigint;
  prefix: number;
  /** Address width: 32 for IPv4, 128 for IPv6. */
  bits: number;
}

const V4_BITS = 32;
const V6_BITS = 128;

/** The address width of a family. */
export function familyBits(family: IpFamily): number {
  return family === 4 ? V4_BITS : V6_BITS;
}

/** The family of an address or CIDR text (no validation: IPv6 text is the one with a `:`). */
export function familyOf(text: string): IpFamily {
  return text.includes(':') ? 6 : 4;
}

/** The family of an address width (32 bits: IPv4, else IPv6). */
export function familyOfBits(bits: number): IpFamily {
  return bits === V4_BITS ? 4 : 6;
}

/** A dotted-quad IPv4 address to its number, or undefined. */
function parseV4(text: string): bigint | undefined {
  try {
    return IPv4.fromString(text).getValue();
  } catch {
    return undefined;
  }
}

const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

/**
 * An IPv6 address to its number, or undefined. Accepts every RFC 4291 text form (`::`, leading
 * zeros, upper case, a dotted IPv4 tail); no zone index, no surrounding space.
 */
function parseV6(text: string): bigint | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(text)) return undefined;
  let hex = text;
  if (text.includes('.')) {
    const cut = text.lastIndexOf(':');
    const v4 = parseV4(text.slice(cut + 1));
    if (v4 === undefined) return undefined;
    hex = `${text.slice(0, cut + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const gap = hex.indexOf('::');
  let groups: string[];
  if (gap >= 0) {
    if (hex.indexOf('::', gap + 1) >= 0) return undefined;
    const left = gap === 0 ? [] : hex.slice(0, gap).split(':');
    const right = gap + 2 === hex.length ? [] : hex.slice(gap + 2).split(':');
    if (left.length + right.length > 7) return undefined;
    groups = [...left, ...new Array<string>(8 - left.length - right.length).fill('0'), ...right];
  } else {
    groups = hex.split(':');
    if (groups.length !== 8) return undefined;
  }
  let value = 0n;
  for (const g of groups) {
    if (!HEX_GROUP.test(g)) return undefined;
    value = (value << 16n) | BigInt(parseInt(g, 16));
  }
  return value;
}

/** RFC 5952 text of an IPv6 address number. */
export function formatIpv6(value: bigint): string {
  const groups = Array.from({ length: 8 }, (_, i) => Number((value >> BigInt(112 - 16 * i)) & 0xffffn));
  // IPv4-mapped addresses keep their dotted tail (RFC 5952 section 5).
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${IPv4.fromNumber(value & 0xffffffffn).toString()}`;
  }
  // The longest run of two or more zero groups (the first one on a tie) becomes `::`.
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (gs: number[]) => gs.map((g) => g.toString(16)).join(':');
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLength))}`;
}

/** A parsed address: its number and width. */
interface Address {
  value: bigint;
  bits: number;
}

/**
 * Addresses parsed, by text: an agent's pass reads every endpoint's and every peer's address, and
 * parsing (ip-num validates through binary strings) was most of a pass at 400 hosts. Bounded.
 */
const parsed = new Map<string, Address>();

/** Parses a plain address (no prefix) of either family, or throws an IpamError. */
function parseAddress(ip: string): Address {
  const known = parsed.get(ip);
  if (known) return known;
  const family = familyOf(ip);
  const value = family === 4 ? parseV4(ip) : parseV6(ip);
  if (value === undefined) throw new IpamError(`"${ip}" is not a valid IPv${family} address`);
  if (parsed.size >= 100_000) parsed.clear();
  const a = { value, bits: familyBits(family) };
  parsed.set(ip, a);
  return a;
}

/** Formats an address number of the given width as canonical text. */
function formatAddress(value: bigint, bits: number): string {
  return bits === V4_BITS ? IPv4.fromNumber(value).toString() : formatIpv6(value);
}

/** Canonical texts, by text (bounded, as `parsed`). */
const canonical = new Map<string, string>();

/** The canonical text of an address (`2001:DB8:1:0::05` → `2001:db8:1::5`); throws if invalid. */
export function canonicalIp(ip: string): string {
  let c = canonical.get(ip);
  if (c === undefined) {
    const a = parseAddress(ip);
    c = formatAddress(a.value, a.bits);
    if (canonical.size >= 100_000) canonical.clear();
    canonical.set(ip, c);
  }
  return c;
}

/** Orders addresses: IPv4 before IPv6, then numerically. */
export function compareIps(a: string, b: string): number {
  const x = parseAddress(a);
  const y = parseAddress(b);
  if (x.bits !== y.bits) return x.bits - y.bits;
  return x.value === y.value ? 0 : x.value < y.value ? -1 : 1;
}

/** The number of addresses in a prefix of `bits`-wide addresses. */
function sizeOf(prefix: number, bits: number): bigint {
  return 1n << BigInt(bits - prefix);
}

/** The network address of `value` under `prefix`. */
function maskTo(value: bigint, prefix: number, bits: number): bigint {
  return (value >> BigInt(bits - prefix)) << BigInt(bits - prefix);
}

/** Prefix lengths as text: no sign, no leading zero. */
const PREFIX_TEXT = /^(0|[1-9][0-9]{0,2})$/;

/**
 * Parses and validates an IPv4 or IPv6 CIDR; throws an IpamError that says what is wrong
 * ("... is not a valid IPv4 CIDR", "... is not a valid IPv6 CIDR", "... has host bits set").
 */
export function parseCidr(s: string): Cidr {
  const family = familyOf(s);
  const bits = familyBits(family);
  const slash = s.indexOf('/');
  const prefixText = s.slice(slash + 1);
  if (slash < 0 || !PREFIX_TEXT.test(prefixText) || Number(prefixText) > bits) {
    const shape = family === 4 ? 'a.b.c.d/n' : 'an IPv6 address/n';
    throw new IpamError(`"${s}" is not a valid IPv${family} CIDR (expected ${shape} with n from 0 to ${bits})`);
  }
  const address = family === 4 ? parseV4(s.slice(0, slash)) : parseV6(s.slice(0, slash));
  if (address === undefined) throw new IpamError(`"${s}" is not a valid IPv${family} CIDR (bad address part)`);
  const prefix = Number(prefixText);
  const network = maskTo(address, prefix, bits);
  if (network !== address) {
    throw new IpamError(`${s} has host bits set (the network is ${formatAddress(network, bits)}/${prefix})`);
  }
  return { cidr: `${formatAddress(network, bits)}/${prefix}`, network, prefix, bits };
}

/** Orders CIDRs: IPv4 before IPv6, then by address, then by prefix length (shorter first). */
export function compareCidrs(a: string, b: string): number {
  const x = parseCidr(a);
  const y = parseCidr(b);
  if (x.bits !== y.bits) return x.bits - y.bits;
  if (x.network !== y.network) return x.network < y.network ? -1 : 1;
  return x.prefix - y.prefix;
}

/** True if `ip` is inside `cidr` (never for an address of the other family). */
export function cidrContains(cidr: string, ip: string): boolean {
  const c = parseCidr(cidr);
  const a = parseAddress(ip);
  return a.bits === c.bits && maskTo(a.value, c.prefix, c.bits) === c.network;
}

/** True if the two CIDRs share at least one address (never across families). */
export function cidrsOverlap(a: string, b: string): boolean {
  const x = parseCidr(a);
  const y = parseCidr(b);
  if (x.bits !== y.bits) return false;
  const prefix = Math.min(x.prefix, y.prefix);
  return maskTo(x.network, prefix, x.bits) === maskTo(y.network, prefix, y.bits);
}

/** Throws unless `blockSize` is a prefix length that can split `pool`. */
function checkBlockSize(pool: Cidr, blockSize: number): void {
  if (!Number.isInteger(blockSize) || blockSize < pool.prefix || blockSize > pool.bits) {
    throw new IpamError(`block size /${blockSize} does not fit pool ${pool.cidr}: it must be between /${pool.prefix} and /${pool.bits}`);
  }
}

/**
 * The block CIDRs of a pool, lazily (for pools too large to list, e.g. IPv6), in address order —
 * or, with `from` in [0, 1), starting that far into the pool and wrapping around to its start.
 */
export function* eachBlock(poolCidr: string, blockSize: number, from = 0): Generator<string> {
  const pool = parseCidr(poolCidr);
  checkBlockSize(pool, blockSize);
  const step = sizeOf(blockSize, pool.bits);
  const count = sizeOf(pool.prefix, pool.bits) / step;
  const first = (count * BigInt(Math.floor(Math.min(Math.max(from, 0), 1 - 2 ** -32) * 2 ** 32))) >> 32n;
  for (let i = 0n; i < count; i++) yield `${formatAddress(pool.network + ((first + i) % count) * step, pool.bits)}/${blockSize}`;
}

/** All block CIDRs of a pool, in address order. */
export function blockCidrs(poolCidr: string, blockSize: number): string[] {
  return [...eachBlock(poolCidr, blockSize)];
}

/** The CIDR of the `/blockSize` block that contains `ip`. */
export function blockOf(ip: string, blockSize: number): string {
  const family = familyOf(ip);
  const bits = familyBits(family);
  if (!Number.isInteger(blockSize) || blockSize < 0 || blockSize > bits) {
    throw new IpamError(`block size /${blockSize} is not a valid IPv${family} prefix length`);
  }
  return `${formatAddress(maskTo(parseAddress(ip).value, blockSize, bits), bits)}/${blockSize}`;
}

/** The number of addresses in a block. */
export function blockLength(block: Cidr): number {
  return Number(sizeOf(block.prefix, block.bits));
}

/** The address at `ordinal` (0-based) in a block. */
export function ipAt(blockCidr: string, ordinal: number): string {
  const block = parseCidr(blockCidr);
  if (!Number.isInteger(ordinal) || ordinal < 0 || ordinal >= blockLength(block)) {
    throw new IpamError(`ordinal ${ordinal} is outside block ${block.cidr}`);
  }
  return formatAddress(block.network + BigInt(ordinal), block.bits);
}

/** The 0-based position of `ip` in a block; throws if the address is outside it. */
export function ordinalOf(blockCidr: string, ip: string): number {
  const block = parseCidr(blockCidr);
  const a = parseAddress(ip);
  if (a.bits !== block.bits || maskTo(a.value, block.prefix, block.bits) !== block.network) {
    throw new IpamError(`${ip} is not in block ${block.cidr}`);
  }
  return Number(a.value - block.network);
}
