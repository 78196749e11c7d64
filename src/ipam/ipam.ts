/**
 * Calico-style IPAM over etcd: pools are split into blocks, a block is claimed by a host
 * (affinity) in one transaction, and addresses are taken from a block by compare-and-swap on the
 * block record. Any number of allocators, in any number of processes, may run at once.
 */
import { cidrFromKey, keys } from '../datastore/keys.js';
import type { Datastore, Versioned } from '../datastore/store.js';
import type { AllocationBlock, BlockAffinity, IPPool } from '../model/resources.js';
import { IpamError } from '../util/errors.js';
import {
  assignInBlock,
  blockOf,
  cidrContains,
  cidrsOverlap,
  compareCidrs,
  eachBlock,
  hostAffinity,
  isEmpty,
  MIN_BLOCK_PREFIX_V4,
  newBlock,
  parseCidr,
  releaseInBlock,
} from './blocks.js';

/** How many times a read–modify–write is retried after losing a race before giving up. */
const MAX_ATTEMPTS = 100;

export interface AssignRequest {
  host: string;
  /** Who owns the address (Calico: `<network>.<container id>`), recorded in the block. */
  handleId: string;
  /** Extra attributes recorded with the handle (Calico's `secondary`: namespace, pod...). */
  attrs?: Record<string, string>;
}

export interface Assignment {
  ip: string;
  /** CIDR of the block the address came from. */
  block: string;
}

/** The outcome of one pass over a host's affine blocks. */
type AffineOutcome = Assignment | 'conflict' | 'full';

export class Ipam {
  constructor(private readonly ds: Datastore) {}

  /** The enabled IP pools. */
  async pools(): Promise<IPPool[]> {
    return (await this.allPools()).filter((p) => !p.spec.disabled);
  }

  /**
   * Creates `pool` unless a pool of that name exists. Refuses an invalid CIDR or block size, and
   * a pool overlapping another one. Returns true if it was created.
   */
  async ensurePool(pool: IPPool): Promise<boolean> {
    const cidr = parseCidr(pool.spec.cidr);
    const { blockSize } = pool.spec;
    if (!Number.isInteger(blockSize) || blockSize < Math.max(cidr.prefix, MIN_BLOCK_PREFIX_V4) || blockSize > cidr.bits) {
      throw new IpamError(
        `IP pool ${pool.metadata.name}: block size /${blockSize} is invalid for ${cidr.cidr} (it must be from /${Math.max(cidr.prefix, MIN_BLOCK_PREFIX_V4)} to /${cidr.bits})`,
      );
    }
    const clash = (await this.allPools()).find((p) => p.metadata.name !== pool.metadata.name && cidrsOverlap(p.spec.cidr, cidr.cidr));
    if (clash) {
      throw new IpamError(`IP pool ${pool.metadata.name} (${cidr.cidr}) overlaps IP pool ${clash.metadata.name} (${clash.spec.cidr})`);
    }
    return this.ds.create(keys.ippool(pool.metadata.name), pool);
  }

  /**
   * Assigns one address to `host`: from its affine blocks first (in address order), else from a
   * block it claims for itself. Throws an IpamError when no enabled pool has a free block left.
   */
  async autoAssign(req: AssignRequest): Promise<Assignment> {
    const pools = await this.pools();
    if (pools.length === 0) throw new IpamError(`no enabled IP pool: cannot assign an address to host ${req.host}`);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const outcome = await this.assignFromAffineBlocks(req, pools);
      if (outcome === 'conflict') continue;
      if (outcome !== 'full') return outcome;
      // The claimed block is used by the next pass (or by a concurrent allocator of the host).
      if (await this.claimBlock(req.host, pools)) continue;
      // Borrowing from other hosts' blocks belongs here.
      const cidrs = pools.map((p) => p.spec.cidr).join(', ');
      throw new IpamError(`IP pool(s) ${cidrs} exhausted: no free block for host ${req.host}`);
    }
    throw new IpamError(`could not assign an address to host ${req.host}: lost ${MAX_ATTEMPTS} races for its IPAM blocks`);
  }

  /** Frees an allocated address. Throws an IpamError if it is not allocated. */
  async release(ip: string): Promise<void> {
    const pool = (await this.allPools()).find((p) => cidrContains(p.spec.cidr, ip));
    if (!pool) throw new IpamError(`${ip} is not in any IP pool`);
    const key = keys.block(blockOf(ip, pool.spec.blockSize));
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const current = await this.ds.get<AllocationBlock>(key);
      if (!current) throw new IpamError(`${ip} is not allocated (its block ${cidrFromKey(key)} does not exist)`);
      const { block } = releaseInBlock(current.value, ip);
      if (await this.ds.cas(key, block, current.modRevision)) return;
    }
    throw new IpamError(`could not release ${ip}: lost ${MAX_ATTEMPTS} races for its block`);
  }

  /**
   * Deletes the host's blocks that have no address in use, each with its affinity record, in one
   * transaction guarded by the block's revision (an allocation in between wins). Returns the CIDRs
   * of the blocks deleted, in address order.
   */
  async releaseEmptyBlocks(host: string): Promise<string[]> {
    const released: string[] = [];
    for (const cidr of await this.hostBlocks(host)) {
      const block = await this.ds.get<AllocationBlock>(keys.block(cidr));
      if (!block || block.value.affinity !== hostAffinity(host) || !isEmpty(block.value)) continue;
      const { client } = this.ds;
      const res = await client
        .if(block.key, 'Mod', '==', block.modRevision)
        .then(client.delete().key(block.key), client.delete().key(keys.affinity(host, cidr)))
        .commit();
      if (res.succeeded) released.push(cidr);
    }
    return released;
  }

  /** CIDRs of the blocks with affinity to `host`, in address order. */
  async hostBlocks(host: string): Promise<string[]> {
    const { items } = await this.ds.list<BlockAffinity>(keys.affinities(host));
    return items.map((a) => cidrFromKey(a.key)).sort(compareCidrs);
  }

  /** Every allocation block, in address order. */
  async allBlocks(): Promise<AllocationBlock[]> {
    const { items } = await this.ds.list<AllocationBlock>(keys.blocks);
    return items.map((b) => b.value).sort((a, b) => compareCidrs(a.cidr, b.cidr));
  }

  private async allPools(): Promise<IPPool[]> {
    const { items } = await this.ds.list<IPPool>(keys.ippools);
    return items.map((p) => p.value);
  }

  /**
   * One pass over the host's confirmed affine blocks that lie in an enabled pool: takes an address
   * from the first one with room. 'conflict' if another writer changed that block first.
   */
  private async assignFromAffineBlocks(req: AssignRequest, pools: IPPool[]): Promise<AffineOutcome> {
    for (const block of await this.affineBlocks(req.host, pools)) {
      const result = assignInBlock(block.value, req.handleId, 1, req.attrs);
      if (!result) continue;
      if (!(await this.ds.cas(block.key, result.block, block.modRevision))) return 'conflict';
      return { ip: result.ips[0]!, block: block.value.cidr };
    }
    return 'full';
  }

  /** The host's usable blocks (confirmed affinity, inside an enabled pool), in address order. */
  private async affineBlocks(host: string, pools: IPPool[]): Promise<Versioned<AllocationBlock>[]> {
    const { items } = await this.ds.list<BlockAffinity>(keys.affinities(host));
    const cidrs = items
      .filter((a) => a.value.state === 'confirmed' && !a.value.deleted)
      .map((a) => cidrFromKey(a.key))
      .filter((cidr) => pools.some((p) => cidrsOverlap(p.spec.cidr, cidr)))
      .sort(compareCidrs);
    const blocks = await Promise.all(cidrs.map((cidr) => this.ds.get<AllocationBlock>(keys.block(cidr))));
    return blocks.filter((b): b is Versioned<AllocationBlock> => b?.value.affinity === hostAffinity(host));
  }

  /**
   * Claims the first unclaimed block of the pools (in pool order, then address order) for `host`:
   * the block and its affinity record are created together, only if neither exists. Returns false
   * if every block of every pool is taken.
   */
  private async claimBlock(host: string, pools: IPPool[]): Promise<boolean> {
    const taken = new Set(await this.ds.client.getAll().prefix(keys.blocks).keys());
    for (const pool of pools) {
      for (const cidr of eachBlock(pool.spec.cidr, pool.spec.blockSize)) {
        const key = keys.block(cidr);
        if (taken.has(key)) continue;
        const affinity: BlockAffinity = { state: 'confirmed', deleted: false };
        const created = await this.ds.createAll([
          { key, value: newBlock(cidr, host) },
          { key: keys.affinity(host, cidr), value: affinity },
        ]);
        if (created) return true;
      }
    }
    return false;
  }
}
