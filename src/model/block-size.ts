/**
 * Calico's IPAM block sizes: the prefix lengths an IP pool's blockSize may take, and the
 * defaults. Used where pools are checked (topology, ctl) and where blocks are made (ipam).
 */
import { familyBits, type IpFamily } from '../net/cidr.js';

/** Calico's smallest IPv4 block prefix (largest block): /20, 4,096 addresses. */
export const MIN_BLOCK_PREFIX_V4 = 20;
/** Calico's smallest IPv6 block prefix (largest block): /116, 4,096 addresses. */
export const MIN_BLOCK_PREFIX_V6 = 116;
/** Calico's default block sizes: /26 (64 addresses) for IPv4, /122 (64 addresses) for IPv6. */
export const DEFAULT_BLOCK_SIZE: Readonly<Record<IpFamily, number>> = { 4: 26, 6: 122 };

/** The block prefix lengths Calico accepts for a family: /20../32 for IPv4, /116../128 for IPv6. */
export function blockPrefixRange(family: IpFamily): { min: number; max: number } {
  return family === 4 ? { min: MIN_BLOCK_PREFIX_V4, max: familyBits(4) } : { min: MIN_BLOCK_PREFIX_V6, max: familyBits(6) };
}

/**
 * The blocks a host may hold when IPAMConfig.maxBlocksPerHost is 0 (unset): Calico's IPAM
 * defaults to 20 (libcalico-go/lib/ipam/ipam.go: "defaulting to reasonable limit").
 */
export const DEFAULT_MAX_BLOCKS_PER_HOST = 20;
