/**
 * Whether a topology's pools can hold its workloads, decided before anything is built (pure).
 * Every workload takes one address of each family that has a pool. IPAM (src/ipam/ipam.ts) hands
 * a host addresses from its own blocks, claims a new block when they are full — and fails once it
 * holds ipam.maxBlocksPerHost blocks (0: Calico's default, 20), without borrowing — and, when no
 * block is left to claim, borrows a free address of another host's block unless
 * ipam.strictAffinity. Hosts build their workloads in parallel, so only what fails whatever the
 * order is refused here (a host held to its own blocks is assumed: borrowing only happens once
 * the pools have no free block, which a topology rarely arranges on purpose):
 * - more workloads than the pools have addresses;
 * - a host needing more blocks than maxBlocksPerHost;
 * - with strictAffinity, more blocks than the pools have (each host with workloads needs its own:
 *   hosts × block size may exceed a pool the workloads alone would fit in).
 */
import { DEFAULT_MAX_BLOCKS_PER_HOST } from './block-size.js';
import { familyBits, parseCidr } from '../net/cidr.js';

export interface PoolCapacityInput {
  pools: readonly { cidr: string; blockSize: number }[];
  /** Workloads per host, hosts without workloads included or not. */
  workloadsPerHost: readonly { host: string; field: string; workloads: number }[];
  ipam: { strictAffinity: boolean; maxBlocksPerHost: number };
}

/** A problem: the field it is about (`pools`, `hosts[2].workloads`) and why. */
export interface PoolCapacityProblem {
  field: string;
  why: string;
}

/** 2^n as a number, capped at 2^50: more blocks or addresses than any lab can use. */
const pow2 = (n: number) => 2 ** Math.min(n, 50);
const plural = (n: number, one: string, many = `${one}s`) => `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;

/** The smallest n with 2^n ≥ x. */
const log2Ceil = (x: number) => Math.max(0, Math.ceil(Math.log2(x)));

/** Pure: the first reason the pools cannot hold the workloads, for each family with pools; empty when they can. */
export function poolCapacityProblems(input: PoolCapacityInput): PoolCapacityProblem[] {
  const problems: PoolCapacityProblem[] = [];
  const hosts = input.workloadsPerHost.filter((h) => h.workloads > 0);
  const total = hosts.reduce((n, h) => n + h.workloads, 0);
  if (total === 0) return [];
  const { strictAffinity, maxBlocksPerHost: asked } = input.ipam;
  const limit = asked || DEFAULT_MAX_BLOCKS_PER_HOST;
  for (const family of [4, 6] as const) {
    const pools = input.pools.map((p) => ({ ...p, parsed: parseCidr(p.cidr) })).filter((p) => (p.parsed.bits === 32 ? 4 : 6) === family);
    if (pools.length === 0) continue;
    const bits = familyBits(family);
    const blocks = pools.map((p) => ({ count: pow2(p.blockSize - p.parsed.prefix), size: pow2(bits - p.blockSize), blockSize: p.blockSize }));
    const blockCount = blocks.reduce((n, b) => n + b.count, 0);
    const addresses = blocks.reduce((n, b) => n + b.count * b.size, 0);
    const cidrs = pools.map((p) => p.cidr).join(', ');
    const held = `the IPv${family} pool${pools.length > 1 ? 's' : ''} (${cidrs}) hold${pools.length > 1 ? '' : 's'} ${plural(addresses, 'address', 'addresses')}`;
    // One block size for the family: the block counts below are exact.
    const uniform = blocks.every((b) => b.blockSize === blocks[0]!.blockSize) ? blocks[0]! : undefined;
    const poolFor = (needed: number) => (uniform ? ` (a /${bits - log2Ceil(needed * uniform.size)} pool or larger)` : '');

    if (total > addresses) {
      problems.push({
        field: 'pools',
        why: `${held}; the ${plural(total, 'workload')} need ${plural(total, `IPv${family} address`, `IPv${family} addresses`)}, one each${uniform ? ` (a /${bits - log2Ceil(total)} pool or larger)` : ''}`,
      });
      continue;
    }
    const tooMany = uniform ? hosts.find((h) => Math.ceil(h.workloads / uniform.size) > limit) : undefined;
    if (tooMany && uniform) {
      problems.push({
        field: tooMany.field,
        why: `host ${tooMany.host} has ${plural(tooMany.workloads, 'workload')}, but a host may hold at most ${plural(limit, 'block')} (ipam.maxBlocksPerHost${asked ? '' : `, Calico's default ${DEFAULT_MAX_BLOCKS_PER_HOST}`}) of ${plural(uniform.size, `IPv${family} address`, `IPv${family} addresses`)} (/${uniform.blockSize}): ${plural(limit * uniform.size, 'address', 'addresses')}; it needs ${plural(Math.ceil(tooMany.workloads / uniform.size), 'block')}`,
      });
      continue;
    }
    if (strictAffinity) {
      const needed = uniform ? hosts.reduce((n, h) => n + Math.ceil(h.workloads / uniform.size), 0) : hosts.length;
      if (needed > blockCount) {
        problems.push({
          field: 'pools',
          why: `${held} in ${plural(blockCount, 'block')}${uniform ? ` of /${uniform.blockSize}` : ''}; with ipam.strictAffinity each host takes addresses from its own blocks only, and the ${plural(hosts.length, 'host')} with workloads need ${uniform ? '' : 'at least '}${plural(needed, 'block')}${poolFor(needed)}`,
        });
      }
    }
  }
  return problems;
}
