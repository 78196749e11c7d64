/**
 * IPAM blocks: host affinity, and allocation inside one block. Pure: no I/O. The address maths
 * (parsing, ordering, splitting a pool into blocks) is in net/cidr.ts.
 */
import type { AllocationBlock } from '../model/resources.js';
import { blockPrefixRange } from '../model/block-size.js';
import { blockLength, compareIps, familyOfBits, ipAt, ordinalOf, parseCidr } from '../net/cidr.js';
import { IpamError } from '../util/errors.js';

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
 * block) and they are handed out in order. Its sequence number starts at `at` in microseconds
 * (libcalico-go's newBlock: the creation time), its claim time is `at` when it has a host.
 */
export function newBlock(cidr: string, host: string | null, at: Date = new Date()): AllocationBlock {
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
    ...(host === null ? {} : { affinityClaimTime: at.toISOString() }),
    sequenceNumber: at.getTime() * 1000,
    sequenceNumberForAllocation: {},
  };
}

/** The block as written: its sequence number bumped (libcalico-go's updateBlock, on every write). */
export function nextWrite(block: AllocationBlock): AllocationBlock {
  return { ...block, sequenceNumber: (block.sequenceNumber ?? 0) + 1 };
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
export function assignInBlock(block: AllocationBlock, handleId: string, count = 1, attrs?: Record<string, string>): { block: AllocationBlock; ips: string[] } | undefined {
  if (!Number.isInteger(count) || count < 1) throw new IpamError(`cannot assign ${count} addresses: the count must be a positive integer`);
  const taken = block.unallocated.slice(0, count);
  if (taken.length === 0) return undefined;
  const attributes = [...block.attributes];
  let index = attributes.findIndex((a) => a.handle_id === handleId && sameAttrs(a.secondary, attrs));
  if (index < 0) {
    index = attributes.push(attrs ? { handle_id: handleId, secondary: { ...attrs } } : { handle_id: handleId }) - 1;
  }
  const allocations = [...block.allocations];
  // Each allocation records the block's sequence number at the time (SetSequenceNumberForOrdinal).
  const seqs = { ...block.sequenceNumberForAllocation };
  for (const ordinal of taken) {
    allocations[ordinal] = index;
    seqs[String(ordinal)] = block.sequenceNumber ?? 0;
  }
  return {
    block: { ...block, allocations, unallocated: block.unallocated.slice(taken.length), attributes, sequenceNumberForAllocation: seqs },
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
  const { [String(ordinal)]: _cleared, ...seqs } = block.sequenceNumberForAllocation ?? {};
  return { block: { ...block, allocations, unallocated: [...block.unallocated, ordinal], attributes, sequenceNumberForAllocation: seqs }, handleId };
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
export function foreignAllocationsInBlock(block: AllocationBlock, owner: string | undefined = hostOfAffinity(block.affinity)): { ip: string; node: string; handleId: string | undefined }[] {
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
    .flatMap((b) =>
      blockAllocations(b)
        .filter((a) => a.node === host)
        .map((a) => a.ip),
    )
    .sort(compareIps);
}
