import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { keys } from '../../src/datastore/keys.js';
import { Datastore } from '../../src/datastore/store.js';
import { borrowedAddresses, foreignAllocationsInBlock } from '../../src/ipam/blocks.js';
import { blockOf, ipAt, ordinalOf } from '../../src/net/cidr.js';
import { Ipam, type Assignment } from '../../src/ipam/ipam.js';
import { API_VERSION, type AllocationBlock, type BlockAffinity, type IPPool } from '../../src/model/resources.js';
import { IpamError } from '../../src/util/errors.js';
import { startEtcd, type EtcdServer } from '../helpers/etcd.js';

function pool(name: string, cidr: string, blockSize: number, disabled = false): IPPool {
  return {
    apiVersion: API_VERSION,
    kind: 'IPPool',
    metadata: { name },
    spec: { cidr, blockSize, ipipMode: 'Never', vxlanMode: 'Never', natOutgoing: false, nodeSelector: 'all()', ...(disabled ? { disabled } : {}) },
  };
}

const DEFAULT_POOL = pool('default-ipv4-ippool', '198.19.0.0/16', 26);
const V6_POOL = pool('default-ipv6-ippool', '2001:db8:1::/48', 122);

let etcd: EtcdServer | undefined;
let ds: Datastore;
let ipam: Ipam;
/** Extra clients a test opened; closed after it. */
const extraClients: Datastore[] = [];

beforeAll(async () => {
  etcd = await startEtcd();
  ds = new Datastore([etcd.endpoint]);
  ipam = new Ipam(ds);
});

afterAll(async () => {
  ds?.close();
  await etcd?.stop();
});

beforeEach(async () => {
  await ds.client.delete().prefix('/calico/');
});

afterEach(() => {
  for (const c of extraClients.splice(0)) c.close();
});

/** Assigns `n` addresses to `host`, one request after the other. */
async function assignMany(host: string, n: number, on: Ipam = ipam): Promise<Assignment[]> {
  const out = [];
  for (let i = 0; i < n; i++) out.push(await on.autoAssign({ host, handleId: `${host}.${i}` }));
  return out;
}

describe('IPAM against a real etcd', () => {
  it('gives a host the first block, fills it in order, then claims the next one', async () => {
    expect(await ipam.ensurePool(DEFAULT_POOL)).toBe(true);
    expect(await ipam.ensurePool(DEFAULT_POOL)).toBe(false);

    const first = await assignMany('host-a', 64);
    expect(first.map((a) => a.ip)).toEqual(Array.from({ length: 64 }, (_, i) => ipAt('198.19.0.0/26', i)));
    expect(new Set(first.map((a) => a.block))).toEqual(new Set(['198.19.0.0/26']));

    expect(await ipam.autoAssign({ host: 'host-a', handleId: 'host-a.64' })).toEqual({ ip: '198.19.0.64', block: '198.19.0.64/26' });
    expect(await ipam.autoAssign({ host: 'host-b', handleId: 'host-b.0' })).toEqual({ ip: '198.19.0.128', block: '198.19.0.128/26' });
    expect(await ipam.hostBlocks('host-a')).toEqual(['198.19.0.0/26', '198.19.0.64/26']);
    expect(await ipam.hostBlocks('host-b')).toEqual(['198.19.0.128/26']);

    // The records sit at Calico's keys.
    const block = await ds.get<AllocationBlock>('/calico/ipam/v2/assignment/ipv4/block/198.19.0.0-26');
    expect(block?.value.cidr).toBe('198.19.0.0/26');
    expect(block?.value.affinity).toBe('host:host-a');
    expect(block?.value.unallocated).toEqual([]);
    expect(block?.value.attributes[block.value.allocations[5]!]).toEqual({ handle_id: 'host-a.5', secondary: { node: 'host-a' } });
    const affinity = await ds.get<BlockAffinity>('/calico/ipam/v2/host/host-a/ipv4/block/198.19.0.64-26');
    expect(affinity?.value).toEqual({ state: 'confirmed', deleted: false });
    expect((await ipam.allBlocks()).map((b) => b.cidr)).toEqual(['198.19.0.0/26', '198.19.0.64/26', '198.19.0.128/26']);
  });

  it('records secondary attributes with the handle, and the node as Calico does', async () => {
    await ipam.ensurePool(DEFAULT_POOL);
    const { ip, block } = await ipam.autoAssign({ host: 'host-a', handleId: 'k8s-pod-network.abc', attrs: { namespace: 'default', pod: 'web-0' } });
    const b = (await ds.get<AllocationBlock>(keys.block(block)))!.value;
    expect(b.attributes[b.allocations[ordinalOf(block, ip)]!]).toEqual({
      handle_id: 'k8s-pod-network.abc',
      secondary: { namespace: 'default', pod: 'web-0', node: 'host-a' },
    });
  });

  it('release frees an address; releasing a free or foreign address is an error', async () => {
    await ipam.ensurePool(DEFAULT_POOL);
    const [a, b, c] = await assignMany('host-a', 3);
    await ipam.release(b!.ip);
    const block = (await ds.get<AllocationBlock>(keys.block('198.19.0.0/26')))!.value;
    expect(block.allocations.slice(0, 3)).toEqual([0, null, 1]);
    expect(block.attributes.map((x) => x.handle_id)).toEqual(['host-a.0', 'host-a.2']);
    expect(block.unallocated.at(-1)).toBe(1);

    await expect(ipam.release(b!.ip)).rejects.toThrow(new IpamError('198.19.0.1 is not allocated (block 198.19.0.0/26)'));
    await expect(ipam.release('198.19.1.1')).rejects.toThrow(new IpamError('198.19.1.1 is not allocated (its block 198.19.1.0/26 does not exist)'));
    await expect(ipam.release('203.0.113.9')).rejects.toThrow(new IpamError('203.0.113.9 is not in any IP pool'));
    await expect(ipam.release('not-an-ip')).rejects.toThrow(IpamError);

    await ipam.release(a!.ip);
    await ipam.release(c!.ip);
    const empty = (await ds.get<AllocationBlock>(keys.block('198.19.0.0/26')))!.value;
    expect(empty.allocations.every((x) => x === null)).toBe(true);
    expect(empty.attributes).toEqual([]);
  });

  it('releaseEmptyBlocks deletes only empty blocks of the host, with their affinities', async () => {
    await ipam.ensurePool(DEFAULT_POOL);
    const assigned = await assignMany('host-a', 66);
    await assignMany('host-b', 1);
    await ipam.release(assigned[64]!.ip);
    expect(await ipam.releaseEmptyBlocks('host-a')).toEqual([]); // 198.19.0.64/26 still holds .65
    await ipam.release(assigned[65]!.ip);
    await ipam.release(assigned[0]!.ip);

    expect(await ipam.releaseEmptyBlocks('host-a')).toEqual(['198.19.0.64/26']);
    expect(await ds.get(keys.block('198.19.0.64/26'))).toBeUndefined();
    expect(await ds.get(keys.affinity('host-a', '198.19.0.64/26'))).toBeUndefined();
    expect(await ipam.hostBlocks('host-a')).toEqual(['198.19.0.0/26']);
    expect(await ipam.hostBlocks('host-b')).toEqual(['198.19.0.128/26']);

    // The freed block is the first unclaimed one again: the next claim (any host) takes it.
    expect(await ipam.autoAssign({ host: 'host-a', handleId: 'again' })).toEqual({ ip: '198.19.0.0', block: '198.19.0.0/26' });
    expect(await ipam.autoAssign({ host: 'host-c', handleId: 'c' })).toEqual({ ip: '198.19.0.64', block: '198.19.0.64/26' });
  });

  it('says clearly when the pools are exhausted, with and without strict affinity', async () => {
    await ipam.ensurePool(pool('tiny', '198.19.0.0/25', 26));
    await ipam.setIpamConfig({ strictAffinity: true });
    await assignMany('host-a', 64);
    await assignMany('host-b', 1);
    const exhausted = 'IP pool(s) 198.19.0.0/25 exhausted: no free block for host';
    const strict = 'borrowing is disabled by strict affinity';
    await expect(ipam.autoAssign({ host: 'host-c', handleId: 'c' })).rejects.toThrow(new IpamError(`${exhausted} host-c; ${strict}`));
    await expect(ipam.autoAssign({ host: 'host-a', handleId: 'a' })).rejects.toThrow(new IpamError(`${exhausted} host-a; ${strict}`));
    // A second pool is used once the first one is full; both are named when all are exhausted.
    await ipam.ensurePool(pool('tiny-2', '198.19.1.0/26', 26));
    expect((await ipam.autoAssign({ host: 'host-c', handleId: 'c' })).block).toBe('198.19.1.0/26');
    await expect(ipam.autoAssign({ host: 'host-d', handleId: 'd' })).rejects.toThrow(new IpamError(`IP pool(s) 198.19.0.0/25, 198.19.1.0/26 exhausted: no free block for host host-d; ${strict}`));

    // Without strict affinity the same hosts borrow, until no address is left anywhere.
    await ipam.setIpamConfig({ strictAffinity: false });
    const borrowed = await assignMany('host-d', 63 + 63);
    expect(borrowed.every((a) => a.borrowed === true)).toBe(true);
    expect(new Set(borrowed.map((a) => a.ip)).size).toBe(126);
    await expect(ipam.autoAssign({ host: 'host-d', handleId: 'd' })).rejects.toThrow(
      new IpamError('IP pool(s) 198.19.0.0/25, 198.19.1.0/26 exhausted: no free block for host host-d, and no other block has a free address to borrow'),
    );
    expect(await ipam.hostBlocks('host-d')).toEqual([]);
  });

  it('skips disabled pools and refuses invalid or overlapping pools', async () => {
    await expect(ipam.autoAssign({ host: 'host-a', handleId: 'x' })).rejects.toThrow(/no enabled IP pool/);
    await ipam.ensurePool(pool('off', '198.19.0.0/24', 26, true));
    expect(await ipam.workloadPools('host-a', 4)).toEqual([]);
    await expect(ipam.autoAssign({ host: 'host-a', handleId: 'x' })).rejects.toThrow(/no enabled IP pool/);
    await ipam.ensurePool(pool('on', '198.19.1.0/24', 26));
    expect((await ipam.workloadPools('host-a', 4)).map((p) => p.metadata.name)).toEqual(['on']);
    expect((await ipam.autoAssign({ host: 'host-a', handleId: 'x' })).block).toBe('198.19.1.0/26');

    await expect(ipam.ensurePool(pool('clash', '198.19.0.128/25', 26))).rejects.toThrow(new IpamError('IP pool clash (198.19.0.128/25) overlaps IP pool off (198.19.0.0/24)'));
    await expect(ipam.ensurePool(pool('bad', '198.19.2.1/24', 26))).rejects.toThrow(/host bits set/);
    await expect(ipam.ensurePool(pool('big-blocks', '198.18.0.0/16', 19))).rejects.toThrow(/block size \/19 is invalid/);
    await expect(ipam.ensurePool(pool('small-pool', '198.18.0.0/28', 26))).rejects.toThrow(/block size \/26 is invalid/);
  });

  it('takes workload addresses only from pools allowed for workloads and assigned automatically (IPPool allowedUses, assignmentMode)', async () => {
    await ipam.ensurePool({ ...pool('manual', '198.19.0.0/24', 26), spec: { ...pool('m', '198.19.0.0/24', 26).spec, assignmentMode: 'Manual' } });
    await ipam.ensurePool({ ...pool('lb', '198.19.1.0/24', 26), spec: { ...pool('l', '198.19.1.0/24', 26).spec, allowedUses: ['LoadBalancer'] } });
    await expect(ipam.autoAssign({ host: 'host-a', handleId: 'x' })).rejects.toThrow(/no enabled IP pool/);
    await ipam.ensurePool({ ...pool('workloads', '198.19.2.0/24', 26), spec: { ...pool('w', '198.19.2.0/24', 26).spec, allowedUses: ['Workload', 'Tunnel'], assignmentMode: 'Automatic' } });
    expect((await ipam.workloadPools('host-a', 4)).map((p) => p.metadata.name)).toEqual(['workloads']);
    expect((await ipam.autoAssign({ host: 'host-a', handleId: 'x' })).block).toBe('198.19.2.0/26');
  });

  // libcalico-go/lib/ipam/ipam_block_reader_writer.go: claimAffineBlock, releaseBlockAffinity.
  it('claims a block in three writes (affinity pending, block, affinity confirmed) and releases it in three (pendingDeletion, block, affinity gone)', async () => {
    await ipam.ensurePool(pool('p', '198.19.0.0/24', 26));
    const seen: string[] = [];
    const watcher = await ds.client.watch().prefix('/calico/ipam/v2/').create();
    watcher.on('put', (kv) => {
      const key = kv.key.toString();
      const v = JSON.parse(kv.value.toString()) as { state?: string };
      if (key.includes('/host/')) seen.push(`affinity ${v.state}`);
      else if (key.includes('/assignment/')) seen.push('block');
    });
    watcher.on('delete', (kv) => seen.push(kv.key.toString().includes('/host/') ? 'affinity deleted' : 'block deleted'));
    const a = await ipam.autoAssign({ host: 'host-a', handleId: 'a' });
    const block = (await ds.get<AllocationBlock>(keys.block(a.block)))!.value;
    expect(block.affinityClaimTime).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(block.sequenceNumberForAllocation).toEqual({ '0': block.sequenceNumber! - 1 });
    expect((await ds.get<BlockAffinity>(keys.affinity('host-a', a.block)))!.value).toEqual({ state: 'confirmed', deleted: false });
    // host del: a block that still holds an address stays, without affinity, its sequence number bumped.
    const released = await ipam.releaseHostAffinities('host-a');
    expect(released).toEqual({ deleted: [], unaffined: [a.block] });
    const kept = (await ds.get<AllocationBlock>(keys.block(a.block)))!.value;
    expect(kept.affinity).toBeNull();
    expect(kept.affinityClaimTime).toBeUndefined();
    expect(kept.sequenceNumber).toBe(block.sequenceNumber! + 1);
    await new Promise((r) => setTimeout(r, 300));
    await watcher.cancel();
    expect(seen).toEqual(['affinity pending', 'block', 'affinity confirmed', 'block', 'affinity pendingDeletion', 'block', 'affinity deleted']);
  });

  it("completes a claim a crash left half-made (a pending affinity without its block), and deletes an affinity to another host's block", async () => {
    await ipam.ensurePool(pool('p', '198.19.0.0/24', 26));
    await ds.put(keys.affinity('host-a', '198.19.0.128/26'), { state: 'pending', deleted: false });
    expect((await ipam.autoAssign({ host: 'host-a', handleId: 'a' })).block).toBe('198.19.0.128/26');
    expect((await ds.get<BlockAffinity>(keys.affinity('host-a', '198.19.0.128/26')))!.value.state).toBe('confirmed');
    // A stale affinity: the block is host-b's.
    await ipam.autoAssign({ host: 'host-b', handleId: 'b' });
    const bBlock = (await ipam.hostBlocks('host-b'))[0]!;
    await ds.put(keys.affinity('host-a', bBlock), { state: 'pending', deleted: false });
    await ipam.autoAssign({ host: 'host-a', handleId: 'a2' });
    expect(await ds.get(keys.affinity('host-a', bBlock))).toBeUndefined();
  });

  it("follows a pool's nodeSelector, and takes the pools asked for as given (libcalico-go determinePools)", async () => {
    const node = (name: string, labels: Record<string, string>) => ({ apiVersion: 'projectcalico.org/v3', kind: 'Node', metadata: { name, labels }, spec: { bgp: { ipv4Address: '198.18.0.11/17' } } });
    await ds.put(keys.node('rack-a-1'), node('rack-a-1', { rack: 'a' }));
    await ds.put(keys.node('rack-b-1'), node('rack-b-1', { rack: 'b' }));
    await ipam.ensurePool({ ...pool('rack-a', '198.19.0.0/24', 26), spec: { ...pool('a', '198.19.0.0/24', 26).spec, nodeSelector: "rack == 'a'" } });
    await ipam.ensurePool({ ...pool('manual', '10.1.0.0/16', 26), spec: { ...pool('m', '10.1.0.0/16', 26).spec, assignmentMode: 'Manual' } });
    await ipam.ensurePool(pool('off', '198.19.2.0/24', 26, true));
    expect((await ipam.autoAssign({ host: 'rack-a-1', handleId: 'a1' })).block).toBe('198.19.0.0/26');
    await expect(ipam.autoAssign({ host: 'rack-b-1', handleId: 'b1' })).rejects.toThrow(/no enabled IP pool for IPv4 that gives workloads on host rack-b-1 addresses/);
    // Asked for: a Manual pool and a pool whose selector does not select the host are used, by name or CIDR.
    expect((await ipam.autoAssign({ host: 'rack-b-1', handleId: 'b2', pools: ['manual'] })).block).toBe('10.1.0.0/26');
    expect((await ipam.autoAssign({ host: 'rack-b-1', handleId: 'b3', pools: ['198.19.0.0/24'] })).block).toBe('198.19.0.64/26');
    for (const asked of ['off', 'nope', '198.19.9.0/24'])
      await expect(ipam.autoAssign({ host: 'rack-b-1', handleId: 'b4', pools: [asked] })).rejects.toThrow(
        new IpamError(`the given pool (${asked}) does not exist, or is not enabled for workloads (IPv4)`),
      );
  });

  it('hands out each block once when many hosts race for the last blocks (strict affinity)', async () => {
    await ipam.ensurePool(pool('four-blocks', '198.19.0.0/24', 26));
    await ipam.setIpamConfig({ strictAffinity: true });
    const clients = Array.from({ length: 8 }, () => new Datastore([etcd!.endpoint]));
    extraClients.push(...clients);
    const results = await Promise.allSettled(clients.map((c, i) => new Ipam(c).autoAssign({ host: `host-${i}`, handleId: `h${i}` })));
    const won = results.filter((r) => r.status === 'fulfilled').map((r) => r.value);
    const lost = results.filter((r) => r.status === 'rejected').map((r) => (r.reason as Error).message);
    expect(won).toHaveLength(4);
    expect(new Set(won.map((w) => w.block)).size).toBe(4);
    expect(lost).toHaveLength(4);
    for (const m of lost) expect(m).toMatch(/^IP pool\(s\) 198\.19\.0\.0\/24 exhausted: no free block for host host-\d; borrowing is disabled by strict affinity$/);
    const { items: affinities } = await ds.list<BlockAffinity>('/calico/ipam/v2/host/');
    expect(affinities).toHaveLength(4);
  });

  it('200 hosts claiming their first block at once: each gets its own, in O(N) transactions, not O(N²)', async () => {
    // Every claim attempt creates a block if absent (its second write): count those on the shared client.
    let txns = 0;
    const counted = new Datastore([etcd!.endpoint]);
    extraClients.push(counted);
    const create = counted.create.bind(counted);
    counted.create = (key, value) => {
      if (key.startsWith('/calico/ipam/v2/assignment/')) txns++;
      return create(key, value);
    };
    await ipam.ensurePool(DEFAULT_POOL);
    const n = 200;
    const won = await Promise.all(Array.from({ length: n }, (_, i) => new Ipam(counted).autoAssign({ host: `host-${i}`, handleId: `h${i}` })));
    expect(new Set(won.map((w) => w.block)).size).toBe(n);
    expect(won.every((w) => !w.borrowed)).toBe(true);
    // Claiming in address order only, host k lost k races: ~n²/2 = 20,000 attempts.
    expect(txns).toBeGreaterThanOrEqual(n);
    expect(txns).toBeLessThan(n * 5);
  });

  it('without strict affinity, the hosts that lose the race for blocks borrow instead', async () => {
    await ipam.ensurePool(pool('four-blocks', '198.19.0.0/24', 26));
    const clients = Array.from({ length: 8 }, () => new Datastore([etcd!.endpoint]));
    extraClients.push(...clients);
    const won = await Promise.all(clients.map((c, i) => new Ipam(c).autoAssign({ host: `host-${i}`, handleId: `h${i}` })));
    expect(new Set(won.map((w) => w.ip)).size).toBe(8);
    expect(won.filter((w) => w.borrowed)).toHaveLength(4);
    const blocks = await ipam.allBlocks();
    expect(blocks).toHaveLength(4);
    const { items: affinities } = await ds.list<BlockAffinity>('/calico/ipam/v2/host/');
    expect(affinities).toHaveLength(4);
    // Each borrowed address sits in a block owned by another host and is listed for its borrower.
    won.forEach((w, i) => {
      const block = blocks.find((b) => b.cidr === w.block)!;
      expect(block.affinity === `host:host-${i}`).toBe(!w.borrowed);
      expect(borrowedAddresses(blocks, `host-${i}`)).toEqual(w.borrowed ? [w.ip] : []);
    });
  });

  it('8 concurrent allocators on separate connections assign 1,000 unique addresses consistently', async () => {
    await ipam.ensurePool(DEFAULT_POOL);
    const hosts = ['host-a', 'host-b', 'host-c', 'host-d'];
    const perAllocator = 125;
    const allocators = hosts.flatMap((host) =>
      [0, 1].map((n) => {
        const client = new Datastore([etcd!.endpoint]);
        extraClients.push(client);
        return { host, n, ipam: new Ipam(client) };
      }),
    );

    const assigned = (
      await Promise.all(
        allocators.map(async ({ host, n, ipam: mine }) => {
          const out: { host: string; handleId: string; ip: string; block: string }[] = [];
          for (let i = 0; i < perAllocator; i++) {
            const handleId = `${host}.${n}.${i}`;
            out.push({ host, handleId, ...(await mine.autoAssign({ host, handleId })) });
          }
          return out;
        }),
      )
    ).flat();

    // No duplicate address.
    expect(assigned).toHaveLength(1000);
    expect(new Set(assigned.map((a) => a.ip)).size).toBe(1000);

    // Every address is recorded exactly once, in the block that contains it, under its handle,
    // and the block belongs to the host that asked.
    const blocks = await ipam.allBlocks();
    const recorded = new Map<string, { handleId: string; affinity: string | null; cidr: string }>();
    for (const b of blocks) {
      const free = new Set(b.unallocated);
      expect(free.size).toBe(b.unallocated.length);
      b.allocations.forEach((attr, ordinal) => {
        expect(attr === null).toBe(free.has(ordinal)); // allocated xor free
        if (attr === null) return;
        const ip = ipAt(b.cidr, ordinal);
        expect(recorded.has(ip)).toBe(false);
        recorded.set(ip, { handleId: b.attributes[attr]!.handle_id, affinity: b.affinity, cidr: b.cidr });
      });
    }
    expect(recorded.size).toBe(1000);
    for (const a of assigned) {
      expect(recorded.get(a.ip)).toEqual({ handleId: a.handleId, affinity: `host:${a.host}`, cidr: a.block });
      expect(blockOf(a.ip, 26)).toBe(a.block);
    }

    // No block without its affinity record, no affinity without its block: none lost.
    const { items: affinities } = await ds.list<BlockAffinity>('/calico/ipam/v2/host/');
    expect(affinities).toHaveLength(blocks.length);
    for (const b of blocks) {
      const host = b.affinity!.slice('host:'.length);
      expect(affinities.some((x) => x.key === keys.affinity(host, b.cidr))).toBe(true);
    }
    // 250 addresses per host need 4 blocks; a race between a host's two allocators may claim a fifth.
    for (const host of hosts) {
      const n = (await ipam.hostBlocks(host)).length;
      expect(n).toBeGreaterThanOrEqual(4);
      expect(n).toBeLessThanOrEqual(5);
    }
  });
});

describe('IPv6 and dual stack', () => {
  it("assigns IPv6 addresses from /122 blocks at Calico's ipv6 keys", async () => {
    await expect(ipam.autoAssign({ host: 'host-a', handleId: 'x', family: 6 })).rejects.toThrow(
      new IpamError(
        'no enabled IP pool for IPv6 that gives workloads on host host-a addresses automatically (allowedUses Workload, assignmentMode Automatic, a nodeSelector that selects the host): cannot assign an address',
      ),
    );
    expect(await ipam.ensurePool(V6_POOL)).toBe(true);
    await expect(ipam.autoAssign({ host: 'host-a', handleId: 'x' })).rejects.toThrow(/no enabled IP pool for IPv4/);

    const first = [];
    for (let i = 0; i < 65; i++) first.push(await ipam.autoAssign({ host: 'host-a', handleId: `a${i}`, family: 6 }));
    expect(first[0]).toEqual({ ip: '2001:db8:1::', block: '2001:db8:1::/122' });
    expect(first[5]).toEqual({ ip: '2001:db8:1::5', block: '2001:db8:1::/122' });
    expect(first[63]).toEqual({ ip: '2001:db8:1::3f', block: '2001:db8:1::/122' });
    expect(first[64]).toEqual({ ip: '2001:db8:1::40', block: '2001:db8:1::40/122' });
    expect(await ipam.autoAssign({ host: 'host-b', handleId: 'b0', family: 6 })).toEqual({ ip: '2001:db8:1::80', block: '2001:db8:1::80/122' });

    const block = await ds.get<AllocationBlock>('/calico/ipam/v2/assignment/ipv6/block/2001:db8:1::-122');
    expect(block?.value.cidr).toBe('2001:db8:1::/122');
    expect(block?.value.affinity).toBe('host:host-a');
    expect(block?.value.attributes[block.value.allocations[5]!]).toEqual({ handle_id: 'a5', secondary: { node: 'host-a' } });
    const affinity = await ds.get<BlockAffinity>('/calico/ipam/v2/host/host-a/ipv6/block/2001:db8:1::40-122');
    expect(affinity?.value).toEqual({ state: 'confirmed', deleted: false });
    expect(await ipam.hostBlocks('host-a')).toEqual(['2001:db8:1::/122', '2001:db8:1::40/122']);
    expect((await ipam.allBlocks(6)).map((b) => b.cidr)).toEqual(['2001:db8:1::/122', '2001:db8:1::40/122', '2001:db8:1::80/122']);
    expect(await ipam.allBlocks(4)).toEqual([]);

    // Release accepts any spelling of the address; the block stays with its host.
    await ipam.release('2001:DB8:1:0::5');
    const after = (await ds.get<AllocationBlock>(keys.block('2001:db8:1::/122')))!.value;
    expect(after.allocations[5]).toBeNull();
    expect(after.unallocated).toEqual([5]);
    await expect(ipam.release('2001:db8:1::5')).rejects.toThrow(new IpamError('2001:db8:1::5 is not allocated (block 2001:db8:1::/122)'));
    await expect(ipam.release('2001:db8:2::5')).rejects.toThrow(new IpamError('2001:db8:2::5 is not in any IP pool'));
    // host-a's blocks are tried in address order: the freed slot, the only free one of the first block, is next.
    expect(await ipam.autoAssign({ host: 'host-a', handleId: 'again', family: 6 })).toEqual({ ip: '2001:db8:1::5', block: '2001:db8:1::/122' });
    expect((await ipam.autoAssign({ host: 'host-a', handleId: 'then', family: 6 })).ip).toBe('2001:db8:1::41');
  });

  it('refuses v6 pools with block sizes Calico refuses', async () => {
    await expect(ipam.ensurePool(pool('v6-big', '2001:db8:1::/48', 115))).rejects.toThrow(
      new IpamError('IP pool v6-big: block size /115 is invalid for 2001:db8:1::/48 (it must be from /116 to /128)'),
    );
    await expect(ipam.ensurePool(pool('v6-v4size', '2001:db8:1::/48', 26))).rejects.toThrow(/block size \/26 is invalid/);
    await expect(ipam.ensurePool(pool('v6-hostbits', '2001:db8:1::1/48', 122))).rejects.toThrow(/host bits set \(the network is 2001:db8:1::\/48\)/);
    expect(await ipam.ensurePool(pool('v6-ok', '2001:db8:1::/48', 116))).toBe(true);
    await expect(ipam.ensurePool(pool('v6-clash', '2001:db8::/32', 122))).rejects.toThrow(/overlaps IP pool v6-ok/);
    // Families never clash with each other.
    expect(await ipam.ensurePool(pool('v4', '198.19.0.0/16', 26))).toBe(true);
  });

  it("keeps Calico's handle records (/calico/ipam/v2/handle/<id>: addresses per block) with each assign and release, and releases a workload through its handle", async () => {
    await ipam.ensurePool(DEFAULT_POOL);
    await ipam.ensurePool(V6_POOL);
    await ipam.autoAssign({ host: 'host-a', handleId: 'lab.web' });
    await ipam.autoAssign({ host: 'host-a', handleId: 'lab.web', family: 6 });
    await ipam.autoAssign({ host: 'host-a', handleId: 'lab.db' });
    expect((await ds.get(keys.handle('lab.web')))?.value).toEqual({ block: { '198.19.0.0/26': 1, '2001:db8:1::/122': 1 }, deleted: false });
    expect((await ds.get(keys.handle('lab.db')))?.value).toEqual({ block: { '198.19.0.0/26': 1 }, deleted: false });
    expect(await ipam.releaseHandle('lab.web')).toEqual(['198.19.0.0', '2001:db8:1::']);
    expect(await ds.get(keys.handle('lab.web'))).toBeUndefined(); // nothing left: the record goes
    await ipam.release('198.19.0.1');
    expect((await ds.list(keys.handles)).items).toEqual([]);
    expect(await ipam.releaseHandle('nobody')).toEqual([]);
  });

  it('gives one handle an IPv4 and an IPv6 address (dual stack)', async () => {
    await ipam.ensurePool(DEFAULT_POOL);
    await ipam.ensurePool(V6_POOL);
    const v4 = await ipam.autoAssign({ host: 'host-a', handleId: 'k8s-pod-network.web', attrs: { pod: 'web' } });
    const v6 = await ipam.autoAssign({ host: 'host-a', handleId: 'k8s-pod-network.web', attrs: { pod: 'web' }, family: 6 });
    expect(v4).toEqual({ ip: '198.19.0.0', block: '198.19.0.0/26' });
    expect(v6).toEqual({ ip: '2001:db8:1::', block: '2001:db8:1::/122' });
    for (const a of [v4, v6]) {
      const b = (await ds.get<AllocationBlock>(keys.block(a.block)))!.value;
      expect(b.attributes[b.allocations[ordinalOf(a.block, a.ip)]!]).toEqual({ handle_id: 'k8s-pod-network.web', secondary: { pod: 'web', node: 'host-a' } });
    }
    expect(await ipam.hostBlocks('host-a')).toEqual(['198.19.0.0/26', '2001:db8:1::/122']);
    expect(await ipam.hostBlocks('host-a', 6)).toEqual(['2001:db8:1::/122']);
    expect((await ipam.allBlocks()).map((b) => b.cidr)).toEqual(['198.19.0.0/26', '2001:db8:1::/122']);
    // Releasing both and the empty blocks removes both families' records.
    await ipam.release(v4.ip);
    await ipam.release(v6.ip);
    expect(await ipam.releaseEmptyBlocks('host-a')).toEqual(['198.19.0.0/26', '2001:db8:1::/122']);
    expect((await ds.list('/calico/ipam/v2/')).items).toEqual([]);
  });
});

describe('IPAM config, borrowing and strict affinity', () => {
  it('reads and writes the config record as libcalico-go does', async () => {
    expect(await ipam.getIpamConfig()).toEqual({ strictAffinity: false, autoAllocateBlocks: true, maxBlocksPerHost: 0 });
    expect(await ipam.setIpamConfig({ strictAffinity: true })).toEqual({ strictAffinity: true, autoAllocateBlocks: true, maxBlocksPerHost: 0 });
    expect((await ds.get('/calico/ipam/v2/config'))?.value).toEqual({ strict_affinity: true, auto_allocate_blocks: true, maxBlocksPerHost: 0 });
    expect(await ipam.setIpamConfig({ maxBlocksPerHost: 3 })).toEqual({ strictAffinity: true, autoAllocateBlocks: true, maxBlocksPerHost: 3 });
    await expect(ipam.setIpamConfig({ maxBlocksPerHost: -1 })).rejects.toThrow(IpamError);
    await expect(ipam.setIpamConfig({ maxBlocksPerHost: 1.5 })).rejects.toThrow(/maxBlocksPerHost must be a whole number/);

    // The v3 (camelCase) spelling is understood too; a missing auto_allocate_blocks means false,
    // since libcalico-go omits false values.
    await ds.put('/calico/ipam/v2/config', { strictAffinity: true, autoAllocateBlocks: true });
    expect(await ipam.getIpamConfig()).toEqual({ strictAffinity: true, autoAllocateBlocks: true, maxBlocksPerHost: 0 });
    await ds.put('/calico/ipam/v2/config', { strict_affinity: true });
    expect(await ipam.getIpamConfig()).toEqual({ strictAffinity: true, autoAllocateBlocks: false, maxBlocksPerHost: 0 });
  });

  it("borrows from another host's block once its own is full; strict affinity refuses; release leaves the owner's block", async () => {
    await ipam.ensurePool(pool('two-blocks', '198.19.0.0/25', 26));
    const mine = await assignMany('host-a', 64);
    expect(new Set(mine.map((a) => a.block))).toEqual(new Set(['198.19.0.0/26']));
    expect(await ipam.autoAssign({ host: 'host-b', handleId: 'host-b.0' })).toEqual({ ip: '198.19.0.64', block: '198.19.0.64/26' });

    const borrowed = await ipam.autoAssign({ host: 'host-a', handleId: 'host-a.64', attrs: { pod: 'late' } });
    expect(borrowed).toEqual({ ip: '198.19.0.65', block: '198.19.0.64/26', borrowed: true });
    // The block stays host-b's, with its affinity record; host-a gets no record for it.
    const bBlock = (await ds.get<AllocationBlock>(keys.block('198.19.0.64/26')))!.value;
    expect(bBlock.affinity).toBe('host:host-b');
    expect(bBlock.attributes[bBlock.allocations[1]!]).toEqual({ handle_id: 'host-a.64', secondary: { pod: 'late', node: 'host-a' } });
    expect(await ds.get(keys.affinity('host-b', '198.19.0.64/26'))).toBeDefined();
    expect(await ds.get(keys.affinity('host-a', '198.19.0.64/26'))).toBeUndefined();
    expect(await ipam.hostBlocks('host-a')).toEqual(['198.19.0.0/26']);
    expect(await ipam.hostBlocks('host-b')).toEqual(['198.19.0.64/26']);
    // What the agents and BIRD need to know.
    const blocks = await ipam.allBlocks();
    expect(borrowedAddresses(blocks, 'host-a')).toEqual(['198.19.0.65']);
    expect(borrowedAddresses(blocks, 'host-b')).toEqual([]);
    expect(foreignAllocationsInBlock(bBlock)).toEqual([{ ip: '198.19.0.65', node: 'host-a', handleId: 'host-a.64' }]);

    // Strict affinity: no borrowing, and the error says why.
    await ipam.setIpamConfig({ strictAffinity: true });
    await expect(ipam.autoAssign({ host: 'host-a', handleId: 'host-a.65' })).rejects.toThrow(
      new IpamError('IP pool(s) 198.19.0.0/25 exhausted: no free block for host host-a; borrowing is disabled by strict affinity'),
    );
    // host-b still uses its own block.
    expect(await ipam.autoAssign({ host: 'host-b', handleId: 'host-b.1' })).toEqual({ ip: '198.19.0.66', block: '198.19.0.64/26' });

    // Releasing the borrowed address frees it in host-b's block and leaves the block alone.
    await ipam.release(borrowed.ip);
    const after = (await ds.get<AllocationBlock>(keys.block('198.19.0.64/26')))!.value;
    expect(after.affinity).toBe('host:host-b');
    expect(after.allocations.slice(0, 3)).toEqual([0, null, 1]);
    expect(after.attributes.map((a) => a.handle_id)).toEqual(['host-b.0', 'host-b.1']);
    expect(await ds.get(keys.affinity('host-b', '198.19.0.64/26'))).toBeDefined();
    expect(await ipam.releaseEmptyBlocks('host-a')).toEqual([]);
    expect(await ipam.hostBlocks('host-b')).toEqual(['198.19.0.64/26']);

    // An empty block of its owner is not deleted by release either, only by releaseEmptyBlocks.
    await ipam.release('198.19.0.64');
    await ipam.release('198.19.0.66');
    expect((await ds.get<AllocationBlock>(keys.block('198.19.0.64/26')))?.value.affinity).toBe('host:host-b');
    expect(await ipam.releaseEmptyBlocks('host-b')).toEqual(['198.19.0.64/26']);
  });

  it("a host leaving (Calico's ReleaseHostAffinities): its empty blocks go, a block others borrow from stays without affinity", async () => {
    await ipam.ensurePool(pool('two-blocks', '198.19.0.0/25', 26));
    await assignMany('host-a', 64); // 198.19.0.0/26, full
    const b = await ipam.autoAssign({ host: 'host-b', handleId: 'b' }); // 198.19.0.64/26
    const lent = await ipam.autoAssign({ host: 'host-a', handleId: 'lent' }); // borrowed from host-b's block
    expect(lent.borrowed).toBe(true);
    await ipam.release(b.ip);
    // host-b leaves: its block still holds host-a's borrowed address.
    expect(await ipam.releaseHostAffinities('host-b')).toEqual({ deleted: [], unaffined: ['198.19.0.64/26'] });
    expect((await ds.get<AllocationBlock>(keys.block('198.19.0.64/26')))?.value.affinity).toBeNull();
    expect(await ds.get(keys.affinity('host-b', '198.19.0.64/26'))).toBeUndefined();
    expect(await ipam.check([], ['host-a']).then((p) => p.filter((x) => x.kind !== 'leaked-address'))).toEqual([]);
    // Its last address released, the block without owner goes too.
    await ipam.release(lent.ip);
    expect(await ds.get(keys.block('198.19.0.64/26'))).toBeUndefined();
    // host-a leaves with its addresses released: its (empty) block is deleted.
    for (let i = 0; i < 64; i++) await ipam.release(`198.19.0.${i}`);
    expect(await ipam.releaseHostAffinities('host-a')).toEqual({ deleted: ['198.19.0.0/26'], unaffined: [] });
    expect((await ds.list('/calico/ipam/v2/assignment/')).items).toEqual([]);
  });

  it('the owner cannot release its block while another host borrows from it', async () => {
    await ipam.ensurePool(pool('two-blocks', '198.19.0.0/25', 26));
    await assignMany('host-a', 64);
    const [own] = await assignMany('host-b', 1);
    const borrowed = await ipam.autoAssign({ host: 'host-a', handleId: 'borrower' });
    expect(borrowed.borrowed).toBe(true);
    await ipam.release(own!.ip);
    expect(await ipam.releaseEmptyBlocks('host-b')).toEqual([]);
    await ipam.release(borrowed.ip);
    expect(await ipam.releaseEmptyBlocks('host-b')).toEqual(['198.19.0.64/26']);
  });

  it("at maxBlocksPerHost a host gets Calico's block-limit error even while blocks are free (libcalico-go ipam.go ErrBlockLimit); a host that may not claim borrows, least used block first", async () => {
    await ipam.ensurePool(pool('four-blocks', '198.19.0.0/24', 26));
    await ipam.setIpamConfig({ maxBlocksPerHost: 1 });
    await assignMany('host-b', 3); // 198.19.0.0/26
    await assignMany('host-c', 1); // 198.19.0.64/26
    await assignMany('host-a', 64); // 198.19.0.128/26, full
    await expect(ipam.autoAssign({ host: 'host-a', handleId: 'x' })).rejects.toThrow(
      new IpamError('host host-a: need to allocate an IPAM block but could not - limit of 1 blocks reached for this node (ipam.maxBlocksPerHost); its blocks are full'),
    );
    // Unset (0) stays 0 in the record: the limit is then Calico's default, 20.
    await ipam.setIpamConfig({ maxBlocksPerHost: 0 });
    expect((await ipam.getIpamConfig()).maxBlocksPerHost).toBe(0);
    await ipam.setIpamConfig({ maxBlocksPerHost: 1, autoAllocateBlocks: false });
    expect(await ipam.autoAssign({ host: 'host-a', handleId: 'x' })).toEqual({ ip: '198.19.0.65', block: '198.19.0.64/26', borrowed: true });
    expect(await ipam.autoAssign({ host: 'host-a', handleId: 'y' })).toEqual({ ip: '198.19.0.66', block: '198.19.0.64/26', borrowed: true });
    // Tie (3 and 3 used): address order.
    expect(await ipam.autoAssign({ host: 'host-a', handleId: 'z' })).toEqual({ ip: '198.19.0.3', block: '198.19.0.0/26', borrowed: true });
    expect(await ipam.hostBlocks('host-a')).toEqual(['198.19.0.128/26']);
    // Lifting the limit, claims allowed: the host claims the free block again.
    await ipam.setIpamConfig({ maxBlocksPerHost: 0, autoAllocateBlocks: true });
    expect(await ipam.autoAssign({ host: 'host-a', handleId: 'w' })).toEqual({ ip: '198.19.0.192', block: '198.19.0.192/26' });
  });

  it('autoAllocateBlocks off: only existing blocks are used, by borrowing if need be', async () => {
    await ipam.ensurePool(pool('four-blocks', '198.19.0.0/24', 26));
    await ipam.setIpamConfig({ autoAllocateBlocks: false });
    await expect(ipam.autoAssign({ host: 'host-a', handleId: 'a' })).rejects.toThrow(
      new IpamError('IP pool(s) 198.19.0.0/24: host host-a has no free address in its blocks and may not claim one (autoAllocateBlocks is off), and no other block has a free address to borrow'),
    );
    await ipam.setIpamConfig({ autoAllocateBlocks: true });
    await assignMany('host-b', 1);
    await ipam.setIpamConfig({ autoAllocateBlocks: false });
    expect(await ipam.autoAssign({ host: 'host-a', handleId: 'a' })).toEqual({ ip: '198.19.0.1', block: '198.19.0.0/26', borrowed: true });
    expect((await ipam.allBlocks()).length).toBe(1);
  });
});

describe('ipam check against etcd', () => {
  it('finds nothing in a consistent datastore, then each planted problem', async () => {
    await ipam.ensurePool(pool('two-blocks', '198.19.0.0/25', 26));
    await ipam.ensurePool(V6_POOL);
    const a = await assignMany('host-a', 64);
    const b = await ipam.autoAssign({ host: 'host-b', handleId: 'b' });
    const borrowed = await ipam.autoAssign({ host: 'host-a', handleId: 'borrowed' });
    const v6 = await ipam.autoAssign({ host: 'host-a', handleId: 'a.0', family: 6 });
    const endpoints = [
      ...a.map((x, i) => ({ name: `a${i}`, node: 'host-a', ips: [`${x.ip}/32`] })),
      { name: 'b', node: 'host-b', ips: [`${b.ip}/32`] },
      { name: 'lent', node: 'host-a', ips: [`${borrowed.ip}/32`] },
    ];
    endpoints[0]!.ips.push(`${v6.ip}/128`);
    expect(await ipam.check(endpoints, ['host-a', 'host-b'])).toEqual([]);

    // A leaked address, a node that left, an affinity record without block, a leaked handle (its
    // addresses gone) and a handle record that lost count of one.
    await ds.put(keys.affinity('host-c', '198.19.1.0/26'), { state: 'confirmed', deleted: false });
    await ds.put(keys.handle('gone'), { block: { '198.19.0.0/26': 1 }, deleted: false });
    await ds.put(keys.handle('b'), { block: {}, deleted: false });
    const problems = await ipam.check(endpoints.slice(1), ['host-a']);
    expect(problems).toEqual([
      { kind: 'unknown-affinity-host', detail: 'block 198.19.0.64/26 has affinity to host host-b, which is not a node' },
      { kind: 'affinity-without-block', detail: 'affinity record of host host-c for block 198.19.1.0/26 has no block (/calico/ipam/v2/assignment/ipv4/block/198.19.1.0-26)' },
      { kind: 'leaked-address', detail: '198.19.0.0 is allocated in block 198.19.0.0/26 (handle host-a.0, node host-a) but no workload endpoint uses it' },
      { kind: 'leaked-address', detail: '2001:db8:1:: is allocated in block 2001:db8:1::/122 (handle a.0, node host-a) but no workload endpoint uses it' },
      { kind: 'leaked-handle', detail: 'handle gone records 1 address(es) in block 198.19.0.0/26, which has 0 with that handle (/calico/ipam/v2/handle/gone)' },
      { kind: 'missing-handle', detail: 'block 198.19.0.64/26 has 1 address(es) of handle b, which its record counts as 0 (/calico/ipam/v2/handle/b)' },
    ]);
  });

  it('reads endpoints and nodes from the datastore by default', async () => {
    await ipam.ensurePool(DEFAULT_POOL);
    const x = await ipam.autoAssign({ host: 'host-a', handleId: 'x' });
    await ipam.autoAssign({ host: 'host-a', handleId: 'leak' });
    await ds.put(keys.node('host-a'), { apiVersion: API_VERSION, kind: 'Node', metadata: { name: 'host-a' }, spec: { bgp: { ipv4Address: '198.18.0.11/16' } } });
    await ds.put(keys.workloadEndpoint('x'), {
      apiVersion: API_VERSION,
      kind: 'WorkloadEndpoint',
      metadata: { name: 'x', namespace: 'default' },
      spec: { node: 'host-a', orchestrator: 'cni', workload: 'x', endpoint: 'eth0', interfaceName: 'calix', ipNetworks: [`${x.ip}/32`], netns: 'x' },
    });
    expect(await ipam.check()).toEqual([{ kind: 'leaked-address', detail: '198.19.0.1 is allocated in block 198.19.0.0/26 (handle leak, node host-a) but no workload endpoint uses it' }]);
  });
});
