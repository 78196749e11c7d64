/**
 * Calico-style IPAM over etcd: pools are split into blocks, a block is claimed by a host
 * (affinity) in Calico's three writes, and addresses are taken from a block by compare-and-swap on
 * the block record (its sequence number bumped on every write). Any number of allocators, in any
 * number of processes, may run at once.
 *
 * As in Calico (libcalico-go/lib/ipam/ipam.go): IPv4 and IPv6 pools side by side; a host whose
 * blocks are full claims another, up to `maxBlocksPerHost` (0: Calico's default 20) — at the limit
 * it gets an error, it does not borrow; when no block is left to claim (or autoAllocateBlocks is
 * off) it borrows an address from another host's block unless `strictAffinity` is set; the block
 * keeps its owner.
 */
import { affinityFromKey, cidrFromKey, keys } from '../datastore/keys.js';
import type { Datastore, Versioned } from '../datastore/store.js';
import type { AllocationBlock, BlockAffinity, CalicoNode, IpamHandle, IPPool, WorkloadEndpoint } from '../model/resources.js';
import { blockPrefixRange, DEFAULT_MAX_BLOCKS_PER_HOST } from '../model/block-size.js';
import { IpamError } from '../util/errors.js';
import { matches } from '../model/selector.js';
import { assignInBlock, blockAllocations, blockUsage, hostAffinity, isEmpty, newBlock, nextWrite, releaseInBlock } from './blocks.js';
import { blockOf, canonicalIp, cidrContains, cidrsOverlap, compareCidrs, eachBlock, familyOf, parseCidr, type IpFamily } from '../net/cidr.js';
import { checkIpam, type CheckEndpoint, type IpamProblem } from './check.js';

/** How many times a read–modify–write is retried after losing a race before giving up. */
const MAX_ATTEMPTS = 100;

export interface AssignRequest {
  host: string;
  /** Who owns the address (Calico: `<network>.<container id>`), recorded in the block. */
  handleId: string;
  /**
   * Extra attributes recorded with the handle (Calico's `secondary`: namespace, pod...).
   * `node: <host>` is always added, as Calico does.
   */
  attrs?: Record<string, string>;
  /** Which pools to use: IPv4 (the default) or IPv6. */
  family?: IpFamily;
  /**
   * The pools asked for (names or CIDRs; CNI's `ipv4_pools`/`ipv6_pools`, the pod annotation
   * `cni.projectcalico.org/ipv4pools`); none: every pool for workloads that selects the host.
   */
  pools?: readonly string[];
}

export interface Assignment {
  ip: string;
  /** CIDR of the block the address came from. */
  block: string;
  /** Set when the block belongs to another host (the address was borrowed). */
  borrowed?: true;
}

/** Calico's global IPAM settings (the v3 IPAMConfiguration spec). */
export interface IpamConfig {
  /** Never borrow from another host's block. */
  strictAffinity: boolean;
  /** Hosts claim new blocks when theirs are full (false: only existing blocks are used). */
  autoAllocateBlocks: boolean;
  /** The most blocks a host may own per address family; 0 = no limit. */
  maxBlocksPerHost: number;
}

/** The settings in force when no IPAM config record exists (Calico's defaults). */
export const DEFAULT_IPAM_CONFIG: Readonly<IpamConfig> = { strictAffinity: false, autoAllocateBlocks: true, maxBlocksPerHost: 0 };

/**
 * The record at /calico/ipam/v2/config as libcalico-go writes it (model.IPAMConfig, with its
 * mixed spellings). Reading also accepts the camelCase v3 names.
 */
interface IpamConfigRecord {
  strict_affinity?: boolean;
  auto_allocate_blocks?: boolean;
  maxBlocksPerHost?: number;
  strictAffinity?: boolean;
  autoAllocateBlocks?: boolean;
}

/** The outcome of one pass over a host's affine blocks. */
type AffineOutcome = Assignment | 'conflict' | { full: true; owned: number };

export class Ipam {
  constructor(private readonly ds: Datastore) {}

  /**
   * The pools a workload on `host` takes addresses of `family` from, as libcalico-go's
   * determinePools (lib/ipam/ipam.go): pools asked for by name or CIDR are used as given (node
   * selectors ignored; a Manual pool too) and each must exist, be enabled and allow workloads;
   * otherwise every enabled pool that allows workloads (allowedUses, default Workload and Tunnel),
   * is not Manual (assignmentMode) and whose nodeSelector selects the host's Node.
   */
  async workloadPools(host: string, family: IpFamily, requested: readonly string[] = []): Promise<IPPool[]> {
    const all = (await this.allPools()).filter((p) => familyOf(p.spec.cidr) === family);
    const forWorkloads = (p: IPPool) => !p.spec.disabled && (p.spec.allowedUses ?? ['Workload']).includes('Workload');
    if (requested.length > 0) {
      return requested.map((r) => {
        const pool = all.find((p) => p.metadata.name === r || p.spec.cidr === cidrOrUndefined(r));
        if (!pool || !forWorkloads(pool)) throw new IpamError(`the given pool (${r}) does not exist, or is not enabled for workloads (IPv${family})`);
        return pool;
      });
    }
    const node = (await this.ds.get<CalicoNode>(keys.node(host)))?.value;
    const labels = node?.metadata.labels ?? {};
    return all.filter((p) => forWorkloads(p) && p.spec.assignmentMode !== 'Manual' && matches(p.spec.nodeSelector, labels));
  }

  /**
   * Creates `pool` unless a pool of that name exists. Refuses an invalid CIDR or block size
   * (IPv4 /20../32, IPv6 /116../128, as Calico), and a pool overlapping another one. Returns true
   * if it was created.
   */
  async ensurePool(pool: IPPool): Promise<boolean> {
    const cidr = parseCidr(pool.spec.cidr);
    const { blockSize } = pool.spec;
    const range = blockPrefixRange(familyOf(cidr.cidr));
    const min = Math.max(cidr.prefix, range.min);
    if (!Number.isInteger(blockSize) || blockSize < min || blockSize > range.max) {
      throw new IpamError(`IP pool ${pool.metadata.name}: block size /${blockSize} is invalid for ${cidr.cidr} (it must be from /${min} to /${range.max})`);
    }
    const clash = (await this.allPools()).find((p) => p.metadata.name !== pool.metadata.name && cidrsOverlap(p.spec.cidr, cidr.cidr));
    if (clash) {
      throw new IpamError(`IP pool ${pool.metadata.name} (${cidr.cidr}) overlaps IP pool ${clash.metadata.name} (${clash.spec.cidr})`);
    }
    return this.ds.create(keys.ippool(pool.metadata.name), pool);
  }

  /** The IPAM settings: the record at /calico/ipam/v2/config, or Calico's defaults without one. */
  async getIpamConfig(): Promise<IpamConfig> {
    return decodeConfig((await this.ds.get<IpamConfigRecord>(keys.ipamConfig))?.value);
  }

  /** Changes some IPAM settings (the others keep their current value); returns the result. */
  async setIpamConfig(changes: Partial<IpamConfig>): Promise<IpamConfig> {
    const { maxBlocksPerHost } = changes;
    if (maxBlocksPerHost !== undefined && (!Number.isInteger(maxBlocksPerHost) || maxBlocksPerHost < 0)) {
      throw new IpamError(`maxBlocksPerHost must be a whole number, 0 for no limit (got ${maxBlocksPerHost})`);
    }
    for (;;) {
      const current = await this.ds.get<IpamConfigRecord>(keys.ipamConfig);
      const config = { ...decodeConfig(current?.value), ...changes };
      const record: IpamConfigRecord = {
        strict_affinity: config.strictAffinity,
        auto_allocate_blocks: config.autoAllocateBlocks,
        maxBlocksPerHost: config.maxBlocksPerHost,
      };
      const written = current ? await this.ds.cas(keys.ipamConfig, record, current.modRevision) : await this.ds.create(keys.ipamConfig, record);
      if (written) return config;
    }
  }

  /**
   * Assigns one address of `family` (default IPv4) to `host`: from its affine blocks first (in
   * address order), else from a block it claims for itself, else (unless strict affinity) from
   * another host's block, the least used first. Throws an IpamError when nothing is left.
   */
  async autoAssign(req: AssignRequest): Promise<Assignment> {
    const family = req.family ?? 4;
    if (family !== 4 && family !== 6) throw new IpamError(`address family must be 4 or 6 (got ${String(family)})`);
    const pools = await this.workloadPools(req.host, family, req.pools);
    if (pools.length === 0)
      throw new IpamError(
        `no enabled IP pool for IPv${family} that gives workloads on host ${req.host} addresses automatically (allowedUses Workload, assignmentMode Automatic, a nodeSelector that selects the host): cannot assign an address`,
      );
    const config = await this.getIpamConfig();
    const attrs = { ...req.attrs, node: req.host };
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const outcome = await this.assignFromAffineBlocks(req.host, req.handleId, attrs, pools);
      if (outcome === 'conflict') continue;
      if (!('full' in outcome)) return outcome;
      if (config.autoAllocateBlocks) {
        // Calico's rule (libcalico-go/lib/ipam/ipam.go): at the block limit a host gets an error
        // ("limit of N blocks reached for this node"), it does not borrow.
        const limit = config.maxBlocksPerHost || DEFAULT_MAX_BLOCKS_PER_HOST;
        if (outcome.owned >= limit) {
          throw new IpamError(
            `host ${req.host}: need to allocate an IPAM block but could not - limit of ${limit} blocks reached for this node (ipam.maxBlocksPerHost${config.maxBlocksPerHost ? '' : `, unset: Calico's default ${DEFAULT_MAX_BLOCKS_PER_HOST}`}); its blocks are full`,
          );
        }
        // The claimed block is used by the next pass (or by a concurrent allocator of the host).
        if (await this.claimBlock(req.host, pools)) continue;
      }
      if (!config.strictAffinity) {
        const borrowed = await this.borrow(req.host, req.handleId, attrs, pools);
        if (borrowed === 'conflict') continue;
        if (borrowed) return borrowed;
      }
      throw new IpamError(exhaustedMessage(req.host, pools, config));
    }
    throw new IpamError(`could not assign an address to host ${req.host}: lost ${MAX_ATTEMPTS} races for its IPAM blocks`);
  }

  /**
   * Releases every address recorded with this handle (a workload's), found through its handle
   * record (the blocks it names), as Calico's ReleaseByHandle; returns them.
   */
  async releaseHandle(handleId: string): Promise<string[]> {
    const handle = await this.ds.get<IpamHandle>(keys.handle(handleId));
    const named = await Promise.all(Object.keys(handle?.value.block ?? {}).map((cidr) => this.ds.get<AllocationBlock>(keys.block(cidr))));
    const of = (blocks: readonly AllocationBlock[]) =>
      blocks.flatMap((b) =>
        blockAllocations(b)
          .filter((a) => a.handleId === handleId)
          .map((a) => a.ip),
      );
    let ips = of(named.flatMap((b) => (b ? [b.value] : [])));
    // A record that is missing, empty, or counts fewer than it should (a lab from before handles, or
    // what ipam check calls a missing handle): every block is searched, so nothing is kept.
    const counted = Object.values(handle?.value.block ?? {}).reduce((n, c) => n + c, 0);
    if (!handle || ips.length === 0 || ips.length < counted) ips = of(await this.allBlocks());
    for (const ip of ips) await this.release(ip);
    return ips;
  }

  /**
   * A block's new value (undefined: deleted) and its handle's count of addresses in that block,
   * written in one transaction guarded by both records' revisions — Calico keeps the two with
   * two writes (libcalico-go/lib/ipam: incrementHandle, then the block), here they cannot part.
   */
  private async writeBlockAndHandle(block: Versioned<AllocationBlock>, next: AllocationBlock | undefined, handleId: string, delta: number): Promise<boolean> {
    const handle = await this.ds.get<IpamHandle>(keys.handle(handleId));
    const counts = { ...(handle?.value.block ?? {}) };
    const n = (counts[block.value.cidr] ?? 0) + delta;
    if (n > 0) counts[block.value.cidr] = n;
    else delete counts[block.value.cidr];
    return this.ds.casAll([
      { key: block.key, modRevision: block.modRevision, value: next && nextWrite(next) },
      { key: keys.handle(handleId), ...(handle ? { modRevision: handle.modRevision } : {}), value: Object.keys(counts).length ? { block: counts, deleted: false } : undefined },
    ]);
  }

  /**
   * Frees an allocated address (borrowed or not). Throws an IpamError if it is not allocated.
   * A block with an affinity stays even when empty (`releaseEmptyBlocks` removes the host's
   * own); an empty block with no affinity is deleted, as Calico does.
   */
  async release(ip: string): Promise<void> {
    const address = canonicalIp(ip);
    const pool = (await this.allPools()).find((p) => cidrContains(p.spec.cidr, address));
    if (!pool) throw new IpamError(`${ip} is not in any IP pool`);
    const key = keys.block(blockOf(address, pool.spec.blockSize));
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const current = await this.ds.get<AllocationBlock>(key);
      if (!current) throw new IpamError(`${ip} is not allocated (its block ${cidrFromKey(key)} does not exist)`);
      const { block, handleId } = releaseInBlock(current.value, address);
      if (await this.writeBlockAndHandle(current, block.affinity === null && isEmpty(block) ? undefined : block, handleId, -1)) return;
    }
    throw new IpamError(`could not release ${ip}: lost ${MAX_ATTEMPTS} races for its block`);
  }

  /**
   * Deletes the host's blocks that have no address in use (borrowed addresses of other hosts
   * count as in use), each with its affinity record (releaseBlockAffinity's three writes, the
   * block's guarded by its revision: an allocation in between wins). Returns the CIDRs of the blocks deleted, in order.
   */
  async releaseEmptyBlocks(host: string): Promise<string[]> {
    return (await this.releaseHostAffinities(host, { mustBeEmpty: true })).deleted;
  }

  /**
   * Calico's ReleaseHostAffinities: the host's empty blocks are deleted with their affinity
   * records; unless `mustBeEmpty`, a block that still holds addresses (borrowed by other hosts)
   * loses its affinity and its record but stays, its addresses with it — an empty block without
   * affinity is deleted when its last one is released (a node deleted: `host del`). Each block by
   * releaseBlockAffinity. Returns the deleted and the kept blocks.
   */
  async releaseHostAffinities(host: string, o: { mustBeEmpty?: boolean } = {}): Promise<{ deleted: string[]; unaffined: string[] }> {
    const deleted: string[] = [];
    const unaffined: string[] = [];
    for (const cidr of await this.hostBlocks(host)) {
      const outcome = await this.releaseBlockAffinity(host, cidr, o.mustBeEmpty ?? false);
      if (outcome === 'deleted') deleted.push(cidr);
      else if (outcome === 'unaffined') unaffined.push(cidr);
    }
    return { deleted, unaffined };
  }

  /**
   * libcalico-go's releaseBlockAffinity (ipam_block_reader_writer.go), in its three writes: the
   * affinity marked pendingDeletion, then the block deleted if empty or else left without
   * affinity, then the affinity deleted — each guarded by the record's revision, retried after a
   * lost race. A stale affinity (the block gone or another host's) is deleted alone.
   */
  private async releaseBlockAffinity(host: string, cidr: string, mustBeEmpty: boolean): Promise<'deleted' | 'unaffined' | 'kept' | 'stale'> {
    const affinityKey = keys.affinity(host, cidr);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const [block, affinity] = await Promise.all([this.ds.get<AllocationBlock>(keys.block(cidr)), this.ds.get<BlockAffinity>(affinityKey)]);
      if (!block || block.value.affinity !== hostAffinity(host)) {
        if (affinity) await this.ds.casAll([{ key: affinityKey, modRevision: affinity.modRevision, value: undefined }]);
        return 'stale';
      }
      const empty = isEmpty(block.value);
      if (!empty && mustBeEmpty) return 'kept';
      const pendingDeletion: BlockAffinity = { state: 'pendingDeletion', deleted: false };
      if (affinity && !(await this.ds.casAll([{ key: affinityKey, modRevision: affinity.modRevision, value: pendingDeletion }]))) continue;
      const next = empty ? undefined : nextWrite({ ...block.value, affinity: null, affinityClaimTime: undefined });
      if (!(await this.ds.casAll([{ key: block.key, modRevision: block.modRevision, value: next }]))) continue;
      // Compare-and-delete: an affinity a concurrent claim made confirmed again is not ours to delete.
      const marked = await this.ds.get<BlockAffinity>(affinityKey);
      if (marked?.value.state === 'pendingDeletion') await this.ds.casAll([{ key: affinityKey, modRevision: marked.modRevision, value: undefined }]);
      return empty ? 'deleted' : 'unaffined';
    }
    throw new IpamError(`could not release the affinity of host ${host} to block ${cidr}: lost ${MAX_ATTEMPTS} races`);
  }

  async hostBlocks(host: string, family?: IpFamily): Promise<string[]> {
    const { items } = await this.ds.list<BlockAffinity>(keys.affinities(host, family));
    return items.map((a) => cidrFromKey(a.key)).sort(compareCidrs);
  }

  /** Every allocation block (of one family, if given): IPv4 first, in address order. */
  async allBlocks(family?: IpFamily): Promise<AllocationBlock[]> {
    const { items } = await this.ds.list<AllocationBlock>(family ? keys.blocksOf(family) : keys.blocks);
    return items.map((b) => b.value).sort((a, b) => compareCidrs(a.cidr, b.cidr));
  }

  /**
   * `calicoctl ipam check`: reads every block and affinity record and compares them with the
   * workload endpoints and nodes given (by default, those in the datastore). See `checkIpam`.
   */
  async check(endpoints?: CheckEndpoint[], nodes?: string[]): Promise<IpamProblem[]> {
    const [blocks, affinities, handles, weps, nodeList] = await Promise.all([
      this.allBlocks(),
      this.ds.list<BlockAffinity>(keys.allAffinities),
      this.ds.list<IpamHandle>(keys.handles),
      endpoints ?? this.ds.list<WorkloadEndpoint>(keys.workloadEndpoints).then(({ items }) => items.map(({ value: w }) => ({ name: w.spec.workload, node: w.spec.node, ips: w.spec.ipNetworks }))),
      nodes ?? this.ds.list<CalicoNode>(keys.nodes).then(({ items }) => items.map((n) => n.value.metadata.name)),
    ]);
    return checkIpam({
      blocks,
      affinities: affinities.items.flatMap((a) => affinityFromKey(a.key) ?? []),
      endpoints: weps,
      nodes: nodeList,
      handles: handles.items.map((h) => ({ id: h.key.slice(keys.handles.length), block: h.value.block ?? {} })),
    });
  }

  private async allPools(): Promise<IPPool[]> {
    const { items } = await this.ds.list<IPPool>(keys.ippools);
    return items.map((p) => p.value);
  }

  /**
   * One pass over the host's affine blocks (half-made claims completed) that lie in the given pools: takes an
   * address from the first one with room. 'conflict' if another writer changed that block first;
   * when all are full, how many blocks the host owns in these pools.
   */
  private async assignFromAffineBlocks(host: string, handleId: string, attrs: Record<string, string>, pools: IPPool[]): Promise<AffineOutcome> {
    const blocks = await this.affineBlocks(host, pools);
    for (const block of blocks) {
      const result = assignInBlock(block.value, handleId, 1, attrs);
      if (!result) continue;
      if (!(await this.writeBlockAndHandle(block, result.block, handleId, 1))) return 'conflict';
      return { ip: result.ips[0]!, block: block.value.cidr };
    }
    return { full: true, owned: blocks.length };
  }

  /**
   * The host's usable blocks (inside one of `pools`), in address order: those of its confirmed
   * affinities, and of the ones a claim or release left pending, once completed (libcalico-go's
   * getBlockFromAffinity: the block made if missing and the affinity confirmed; an affinity to
   * another host's block deleted as stale).
   */
  private async affineBlocks(host: string, pools: IPPool[]): Promise<Versioned<AllocationBlock>[]> {
    const family = familyOf(pools[0]!.spec.cidr);
    const { items } = await this.ds.list<BlockAffinity>(keys.affinities(host, family));
    const cidrs: string[] = [];
    for (const a of items) {
      const cidr = cidrFromKey(a.key);
      if (a.value.deleted || !pools.some((p) => cidrsOverlap(p.spec.cidr, cidr))) continue;
      if (a.value.state === 'confirmed' || (await this.claimAffineBlock(host, cidr))) cidrs.push(cidr);
    }
    const blocks = await Promise.all(cidrs.sort(compareCidrs).map((cidr) => this.ds.get<AllocationBlock>(keys.block(cidr))));
    return blocks.filter((b): b is Versioned<AllocationBlock> => b?.value.affinity === hostAffinity(host));
  }

  /**
   * Claims an unclaimed block of the pools for `host` (claimAffineBlock: affinity pending, block,
   * affinity confirmed). Uncontended it takes the first (pool order, then
   * address order). Having lost a race — the hosts of a lab being built all claim at once, in the
   * same order — it reads what is taken again and takes the first free block from a random point
   * of the pool on, as Calico's randomBlockGenerator starts at a random block (libcalico-go/lib/ipam/ipam_block_reader_writer.go):
   * 200 hosts claiming together cost O(hosts) transactions (ipam-etcd.test.ts: under 5 per
   * host), not the O(hosts²) of claiming in order.
   * Returns false if every block of every pool is taken.
   */
  private async claimBlock(host: string, pools: IPPool[]): Promise<boolean> {
    const family = familyOf(pools[0]!.spec.cidr);
    for (let lost = 0; ; lost++) {
      const taken = new Set(await this.ds.client.getAll().prefix(keys.blocksOf(family)).keys());
      const cidr = firstFree(pools, taken, lost === 0 ? 0 : Math.random());
      if (cidr === undefined) return false;
      if (await this.claimAffineBlock(host, cidr)) return true;
    }
  }

  /**
   * libcalico-go's claim (ipam_block_reader_writer.go getPendingAffinity, claimAffineBlock,
   * confirmAffinity), in its three writes: the host's affinity to `cidr` created `pending`, the
   * block created with that affinity, the affinity `confirmed`. Another host having made the block
   * first: the pending affinity is deleted and false returned (the caller tries another block).
   * An affinity or block this host left half-made (a crash between the writes) is completed.
   */
  private async claimAffineBlock(host: string, cidr: string): Promise<boolean> {
    const affinityKey = keys.affinity(host, cidr);
    const pending: BlockAffinity = { state: 'pending', deleted: false };
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      // getPendingAffinity: made pending; one left pending or pendingDeletion is made pending again, a
      // confirmed one kept. (Uncontended: three round trips — create, create, compare-and-swap.)
      const revision = await this.ds.createAt(affinityKey, pending);
      if (revision === undefined) {
        const affinity = await this.ds.get<BlockAffinity>(affinityKey);
        if (!affinity) continue;
        if (affinity.value.state === 'pendingDeletion' && !(await this.ds.casAll([{ key: affinityKey, modRevision: affinity.modRevision, value: pending }]))) continue;
      }
      if (!(await this.ds.create(keys.block(cidr), newBlock(cidr, host)))) {
        const block = await this.ds.get<AllocationBlock>(keys.block(cidr));
        if (!block) continue;
        if (block.value.affinity !== hostAffinity(host)) {
          // Another host's block: this affinity is stale (deleted only if nobody changed it since).
          const mine = await this.ds.get<BlockAffinity>(affinityKey);
          if (mine) await this.ds.casAll([{ key: affinityKey, modRevision: mine.modRevision, value: undefined }]);
          return false;
        }
        // "CAS the block to get a new revision and invalidate any other instances": a release
        // of it in flight now fails its own block write.
        if (!(await this.ds.casAll([{ key: block.key, modRevision: block.modRevision, value: nextWrite(block.value) }]))) continue;
      }
      const confirmed: BlockAffinity = { state: 'confirmed', deleted: false };
      if (revision !== undefined && (await this.ds.casAll([{ key: affinityKey, modRevision: revision, value: confirmed }]))) return true;
      const current = await this.ds.get<BlockAffinity>(affinityKey);
      if (!current) continue;
      if (current.value.state === 'confirmed') return true;
      if (await this.ds.casAll([{ key: affinityKey, modRevision: current.modRevision, value: confirmed }])) return true;
    }
    throw new IpamError(`could not claim block ${cidr} for host ${host}: lost ${MAX_ATTEMPTS} races`);
  }

  /**
   * Takes a free address from a block of `pools` that is not affine to `host`, the least used
   * block first (then address order). The block's affinity is left alone. 'conflict' if another
   * writer changed the block first; undefined if no such block has room.
   */
  private async borrow(host: string, handleId: string, attrs: Record<string, string>, pools: IPPool[]): Promise<Assignment | 'conflict' | undefined> {
    const { items } = await this.ds.list<AllocationBlock>(keys.blocksOf(familyOf(pools[0]!.spec.cidr)));
    const candidates = items
      .filter((b) => b.value.affinity !== hostAffinity(host) && !b.value.deleted && b.value.unallocated.length > 0)
      .filter((b) => pools.some((p) => cidrsOverlap(p.spec.cidr, b.value.cidr)))
      .map((b) => ({ b, used: blockUsage(b.value).used }))
      .sort((x, y) => x.used - y.used || compareCidrs(x.b.value.cidr, y.b.value.cidr));
    for (const { b } of candidates) {
      const result = assignInBlock(b.value, handleId, 1, attrs);
      if (!result) continue;
      if (!(await this.writeBlockAndHandle(b, result.block, handleId, 1))) return 'conflict';
      return { ip: result.ips[0]!, block: b.value.cidr, borrowed: true };
    }
    return undefined;
  }
}

/** The canonical form of a CIDR, undefined if `text` is not one (a pool's name). */
function cidrOrUndefined(text: string): string | undefined {
  try {
    return parseCidr(text).cidr;
  } catch {
    return undefined;
  }
}

/** The settings a config record holds; Calico's defaults when there is no record. */
function decodeConfig(r: IpamConfigRecord | undefined): IpamConfig {
  if (!r) return { ...DEFAULT_IPAM_CONFIG };
  return {
    strictAffinity: r.strict_affinity ?? r.strictAffinity ?? false,
    // libcalico-go omits a false auto_allocate_blocks, so a record without it means false.
    autoAllocateBlocks: r.auto_allocate_blocks ?? r.autoAllocateBlocks ?? false,
    maxBlocksPerHost: r.maxBlocksPerHost ?? 0,
  };
}

/** Why no address could be found, in one line. */
function exhaustedMessage(host: string, pools: IPPool[], config: IpamConfig): string {
  const cidrs = pools.map((p) => p.spec.cidr).join(', ');
  const why = config.autoAllocateBlocks ? `no free block for host ${host}` : `host ${host} has no free address in its blocks and may not claim one (autoAllocateBlocks is off)`;
  const head = config.autoAllocateBlocks ? `IP pool(s) ${cidrs} exhausted: ` : `IP pool(s) ${cidrs}: `;
  const tail = config.strictAffinity ? '; borrowing is disabled by strict affinity' : ', and no other block has a free address to borrow';
  return head + why + tail;
}

/** The first block of `pools` not in `taken` (pool order; in each pool from `from` on, wrapping). */
function firstFree(pools: IPPool[], taken: Set<string>, from: number): string | undefined {
  for (const pool of pools) for (const cidr of eachBlock(pool.spec.cidr, pool.spec.blockSize, from)) if (!taken.has(keys.block(cidr))) return cidr;
  return undefined;
}
