/**
 * IPAM maths: pools → blocks → addresses, and allocation inside one block. Pure: no I/O.
 *
 * Addresses are handled as bigints with an address width (`bits`), so IPv6 only needs a parser
 * and a formatter; today only IPv4 is parsed.
 */
import { IPv4 } from 'ip-num';
import type { AllocationBlock } from '../model/resources.js';
import { IpamError } from '../util/errors.js';

/** A parsed, validated CIDR. */
export interface Cidr {
  /** The normalized text, e.g. `198.19.0.0/26`. */
  cidr: string;
  /** The network (first) address. */
  network: bigint;
  prefix: number;
  /** Address width: 32 for IPv4. */
  bits: number;
}

/** Calico's smallest IPv4 block prefix (largest block): /20, 4,096 addresses. */
export const MIN_BLOCK_PREFIX_V4 = 20;

const V4_BITS = 32;

/** Parses a plain IPv4 address (no prefix) to its number, or throws an IpamError. */
function parseAddress(ip: string): bigint {
  try {
    return IPv4.fromString(ip).getValue();
  } catch {
    throw new IpamError(`"${ip}" is not a valid IPv4 address`);
  }
}

/** Formats an address number as text. */
function formatAddress(value: bigint): string {
  return IPv4.fromNumber(value).toString();
}

/** The number of addresses in a prefix of `bits`-wide addresses. */
function sizeOf(prefix: number, bits: number): bigint {
  return 1n << BigInt(bits - prefix);
}

/** The network address of `value` under `prefix`. */
function maskTo(value: bigint, prefix: number, bits: number): bigint {
  return (value >> BigInt(bits - prefix)) << BigInt(bits - prefix);
}

/**
 * Parses and validates an IPv4 CIDR; throws an IpamError that says what is wrong
 * ("... is not a valid IPv4 CIDR", "... has host bits set").
 */
export function parseCidr(s: string): Cidr {
  const slash = s.indexOf('/');
  const prefixText = s.slice(slash + 1);
  if (slash < 0 || !/^(0|[1-9][0-9]?)$/.test(prefixText) || Number(prefixText) > V4_BITS) {
    throw new IpamError(`"${s}" is not a valid IPv4 CIDR (expected a.b.c.d/n with n from 0 to 32)`);
  }
  let address: bigint;
  try {
    address = parseAddress(s.slice(0, slash));
  } catch {
    throw new IpamError(`"${s}" is not a valid IPv4 CIDR (bad address part)`);
  }
  const prefix = Number(prefixText);
  const network = maskTo(address, prefix, V4_BITS);
  if (network !== address) {
    throw new IpamError(`${s} has host bits set (the network is ${formatAddress(network)}/${prefix})`);
  }
  return { cidr: `${formatAddress(network)}/${prefix}`, network, prefix, bits: V4_BITS };
}

/** Orders CIDRs by address, then by prefix length (shorter first). */
export function compareCidrs(a: string, b: string): number {
  const x = parseCidr(a);
  const y = parseCidr(b);
  if (x.network !== y.network) return x.network < y.network ? -1 : 1;
  return x.prefix - y.prefix;
}

/** True if `ip` is inside `cidr`. */
export function cidrContains(cidr: string, ip: string): boolean {
  const c = parseCidr(cidr);
  return maskTo(parseAddress(ip), c.prefix, c.bits) === c.network;
}

/** True if the two CIDRs share at least one address. */
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

/** The block CIDRs of a pool, lazily, in address order (for pools too large to list). */
export function* eachBlock(poolCidr: string, blockSize: number): Generator<string> {
  const pool = parseCidr(poolCidr);
  checkBlockSize(pool, blockSize);
  const step = sizeOf(blockSize, pool.bits);
  const end = pool.network + sizeOf(pool.prefix, pool.bits);
  for (let n = pool.network; n < end; n += step) yield `${formatAddress(n)}/${blockSize}`;
}

/** All block CIDRs of a pool, in address order. */
export function blockCidrs(poolCidr: string, blockSize: number): string[] {
  return [...eachBlock(poolCidr, blockSize)];
}

/** The CIDR of the `/blockSize` block that contains `ip`. */
export function blockOf(ip: string, blockSize: number): string {
  if (!Number.isInteger(blockSize) || blockSize < 0 || blockSize > V4_BITS) {
    throw new IpamError(`block size /${blockSize} is not a valid IPv4 prefix length`);
  }
  return `${formatAddress(maskTo(parseAddress(ip), blockSize, V4_BITS))}/${blockSize}`;
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
  return formatAddress(block.network + BigInt(ordinal));
}

/** The 0-based position of `ip` in a block; throws if the address is outside it. */
export function ordinalOf(blockCidr: string, ip: string): number {
  const block = parseCidr(blockCidr);
  const value = parseAddress(ip);
  if (maskTo(value, block.prefix, block.bits) !== block.network) {
    throw new IpamError(`${ip} is not in block ${block.cidr}`);
  }
  return Number(value - block.network);
}

/** The affinity string Calico writes for a host: `host:<name>`. */
export function hostAffinity(host: string): string {
  return `host:${host}`;
}

/**
 * An empty block. Every address is usable (Calico reserves no network or broadcast address in a
 * block) and they are handed out in order.
 */
export function newBlock(cidr: string, host: string | null): AllocationBlock {
  const block = parseCidr(cidr);
  if (block.prefix < MIN_BLOCK_PREFIX_V4) {
    throw new IpamError(`block ${block.cidr} is too large: blocks are /${MIN_BLOCK_PREFIX_V4} to /${V4_BITS}`);
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
