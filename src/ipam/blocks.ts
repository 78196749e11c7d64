/**
 * IPAM maths: pools → blocks → addresses, and allocation inside one block. Pure: no I/O.
 *
 * Addresses are handled as bigints with an address width (`bits`: 32 for IPv4, 128 for IPv6).
 * The family is read from the text: anything with a `:` is IPv6. IPv6 text is always written in
 * the canonical RFC 5952 form (lowercase, no leading zeros, longest zero run compressed to `::`).
 */
import { IPv4 } from 'ip-num';
import type { AllocationBlock } from '../model/resources.js';
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

/** Calico's smallest IPv4 block prefix (largest block): /20, 4,096 addresses. */
export const MIN_BLOCK_PREFIX_V4 = 20;
/** Calico's smallest IPv6 block prefix (largest block): /116, 4,096 addresses. */
export const MIN_BLOCK_PREFIX_V6 = 116;
/** Calico's default block sizes: /26 (64 addresses) for IPv4, /122 (64 addresses) for IPv6. */
export const DEFAULT_BLOCK_SIZE: Readonly<Record<IpFamily, number>> = { 4: 26, 6: 122 };

const V4_BITS = 32;
const V6_BITS = 128;

/** The address width of a family. */
export function familyBits(family: IpFamily): number {
  return family === 4 ? V4_BITS : V6_BITS;
}

/** The block prefix lengths Calico accepts for a family: /20../32 for IPv4, /116../128 for IPv6. */
export function blockPrefixRange(family: IpFamily): { min: number; max: number } {
  return family === 4 ? { min: MIN_BLOCK_PREFIX_V4, max: V4_BITS } : { min: MIN_BLOCK_PREFIX_V6, max: V6_BITS };
}

/** The family of an address or CIDR text (no validation: IPv6 text is the one with a `:`). */
export function familyOf(text: string): IpFamily {
  return text.includes(':') ? 6 : 4;
}

function familyOfBits(bits: number): IpFamily {
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

/** Parses a plain address (no prefix) of either family, or throws an IpamError. */
function parseAddress(ip: string): Address {
  const family = familyOf(ip);
  const value = family === 4 ? parseV4(ip) : parseV6(ip);
  if (value === undefined) throw new IpamError(`"${ip}" is not a valid IPv${family} address`);
  return { value, bits: familyBits(family) };
}

/** Formats an address number of the given width as canonical text. */
function formatAddress(value: bigint, bits: number): string {
  return bits === V4_BITS ? IPv4.fromNumber(value).toString() : formatIpv6(value);
}

/** The canonical text of an address (`2001:DB8:1:0::05` → `2001:db8:1::5`); throws if invalid. */
export function canonicalIp(ip: string): string {
  const a = parseAddress(ip);
  return formatAddress(a.value, a.bits);
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

/** The block CIDRs of a pool, lazily, in address order (for pools too large to list, e.g. IPv6). */
export function* eachBlock(poolCidr: string, blockSize: number): Generator<string> {
  const pool = parseCidr(poolCidr);
  checkBlockSize(pool, blockSize);
  const step = sizeOf(blockSize, pool.bits);
  const end = pool.network + sizeOf(pool.prefix, pool.bits);
  for (let n = pool.network; n < end; n += step) yield `${formatAddress(n, pool.bits)}/${blockSize}`;
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
function blockLength(block: Cidr): number {
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

/** The affinity string Calico writes for a host: `host:<name>`. */
export function hostAffinity(host: string): string {
  return `host:${host}`;
}

/** The host of a `host:<name>` affinity; undefined for none or another kind. */
export function hostOfAffinity(affinity: string | null | undefined): string | undefined {
  return affinity?.startsWith('host:') ? affinity.slice('host:'.length) : undefined;
}

/**
 * An empty block. Every address is usable (Calico reserves no network or broadcast address in a
 * block) and they are handed out in order.
 */
export function newBlock(cidr: string, host: string | null): AllocationBlock {
  const block = parseCidr(cidr);
  const { min, max } = blockPrefixRange(familyOfBits(block.bits));
  if (block.prefix < min) {
    throw new IpamError(`block ${block.cidr} is too large: blocks are /${min} to /${max}`);
  }
  const length = blockLength(block);
  return {
    cidr: block.cidr,
    affinity: host === null ? null : hostAffinity(host),
    allocations: new Array<number | null>(length).fill(null),
    unallocated: Array.from({ length }, (_, i) => i),
    attributes: [],
  };
}

/** True if two optional attribute maps hold the same entries. */
function sameAttrs(a: Record<string, string> | undefined, b: Record<string, string> | undefined): boolean {
  const x = Object.entries(a ?? {});
  return x.length === Object.keys(b ?? {}).length && x.every(([k, v]) => b?.[k] === v);
}

/**
 * Takes up to `count` free addresses of `block` for `handleId`, in the block's free order.
 * Returns the updated copy and the addresses (fewer than `count` if the block ran out), or
 * undefined if the block is full. The input block is not modified.
 */
export function assignInBlock(
  block: AllocationBlock,
  handleId: string,
  count = 1,
  attrs?: Record<string, string>,
): { block: AllocationBlock; ips: string[] } | undefined {
  if (!Number.isInteger(count) || count < 1) throw new IpamError(`cannot assign ${count} addresses: the count must be a positive integer`);
  const taken = block.unallocated.slice(0, count);
  if (taken.length === 0) return undefined;
  const attributes = [...block.attributes];
  let index = attributes.findIndex((a) => a.handle_id === handleId && sameAttrs(a.secondary, attrs));
  if (index < 0) {
    index = attributes.push(attrs ? { handle_id: handleId, secondary: { ...attrs } } : { handle_id: handleId }) - 1;
  }
  const allocations = [...block.allocations];
  for (const ordinal of taken) allocations[ordinal] = index;
  return {
    block: { ...block, allocations, unallocated: block.unallocated.slice(taken.length), attributes },
    ips: taken.map((ordinal) => ipAt(block.cidr, ordinal)),
  };
}

/**
 * Frees `ip` in `block`: the address goes to the end of the free list (as in Calico, so it is
 * not reused at once) and an attribute no longer referenced is dropped. Returns the updated copy
 * and the handle the address belonged to; throws if the address is outside the block or free.
 */
export function releaseInBlock(block: AllocationBlock, ip: string): { block: AllocationBlock; handleId: string } {
  const ordinal = ordinalOf(block.cidr, ip);
  const index = block.allocations[ordinal];
  if (index === null || index === undefined) throw new IpamError(`${ip} is not allocated (block ${block.cidr})`);
  const handleId = block.attributes[index]!.handle_id;
  let allocations = block.allocations.map((a, i) => (i === ordinal ? null : a));
  let attributes = block.attributes;
  if (!allocations.includes(index)) {
    attributes = attributes.filter((_, i) => i !== index);
    allocations = allocations.map((a) => (a !== null && a > index ? a - 1 : a));
  }
  return { block: { ...block, allocations, unallocated: [...block.unallocated, ordinal], attributes }, handleId };
}

/** How many addresses of a block are in use, out of how many. */
export function blockUsage(block: AllocationBlock): { used: number; total: number } {
  return { used: block.allocations.filter((a) => a !== null).length, total: block.allocations.length };
}

/** True if no address of the block is in use. */
export function isEmpty(block: AllocationBlock): boolean {
  return block.allocations.every((a) => a === null);
}

/** One allocated address of a block, with what the block records about it. */
export interface BlockAllocation {
  ip: string;
  ordinal: number;
  /** The handle, or undefined if the attribute index is out of range (a corrupt block). */
  handleId: string | undefined;
  /** The host the address was assigned on: `secondary.node`, as Calico records it. */
  node: string | undefined;
}

/** The allocated addresses of a block, in ordinal order. */
export function blockAllocations(block: AllocationBlock): BlockAllocation[] {
  const out: BlockAllocation[] = [];
  block.allocations.forEach((index, ordinal) => {
    if (index === null || index === undefined) return;
    const attr = block.attributes[index];
    out.push({ ip: ipAt(block.cidr, ordinal), ordinal, handleId: attr?.handle_id, node: attr?.secondary?.node });
  });
  return out;
}

/**
 * Addresses of workloads on `owner`'s block that were assigned on another host (borrowed from
 * it): the owner exports the block as an aggregate, the borrower exports these addresses
 * individually. `owner` defaults to the block's affinity host. Allocations that record no node
 * are not counted (nothing says where they live).
 */
export function foreignAllocationsInBlock(
  block: AllocationBlock,
  owner: string | undefined = hostOfAffinity(block.affinity),
): { ip: string; node: string; handleId: string | undefined }[] {
  return blockAllocations(block)
    .filter((a): a is BlockAllocation & { node: string } => a.node !== undefined && a.node !== owner)
    .map((a) => ({ ip: a.ip, node: a.node, handleId: a.handleId }));
}

/**
 * Addresses assigned to workloads on `host` (allocation attribute `secondary.node`) that lie in
 * blocks without affinity to `host`: the borrowed addresses `host` must route (and announce)
 * one by one. IPv4 first, then in address order.
 */
export function borrowedAddresses(blocks: readonly AllocationBlock[], host: string): string[] {
  const mine = hostAffinity(host);
  return blocks
    .filter((b) => b.affinity !== mine)
    .flatMap((b) => blockAllocations(b).filter((a) => a.node === host).map((a) => a.ip))
    .sort(compareIps);
}
