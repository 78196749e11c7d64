import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { keys } from '../../src/datastore/keys.js';
import { Datastore } from '../../src/datastore/store.js';
import { blockOf, ipAt, ordinalOf } from '../../src/ipam/blocks.js';
import { Ipam } from '../../src/ipam/ipam.js';
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
async function assignMany(host: string, n: number, on: Ipam = ipam): Promise<{ ip: string; block: string }[]> {
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
    expect(block?.value.attributes[block.value.allocations[5]!]).toEqual({ handle_id: 'host-a.5' });
    const affinity = await ds.get<BlockAffinity>('/calico/ipam/v2/host/host-a/ipv4/block/198.19.0.64-26');
    expect(affinity?.value).toEqual({ state: 'confirmed', deleted: false });
    expect((await ipam.allBlocks()).map((b) => b.cidr)).toEqual(['198.19.0.0/26', '198.19.0.64/26', '198.19.0.128/26']);
  });

  it('records secondary attributes with the handle', async () => {
    await ipam.ensurePool(DEFAULT_POOL);
    const { ip, block } = await ipam.autoAssign({ host: 'host-a', handleId: 'k8s-pod-network.abc', attrs: { namespace: 'default', pod: 'web-0' } });
    const b = (await ds.get<AllocationBlock>(keys.block(block)))!.value;
    expect(b.attributes[b.allocations[ordinalOf(block, ip)]!]).toEqual({
      handle_id: 'k8s-pod-network.abc',
      secondary: { namespace: 'default', pod: 'web-0' },
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

  it('says clearly when the pools are exhausted', async () => {
    await ipam.ensurePool(pool('tiny', '198.19.0.0/25', 26));
    await assignMany('host-a', 64);
    await assignMany('host-b', 1);
    const exhausted = 'IP pool(s) 198.19.0.0/25 exhausted: no free block for host';
    await expect(ipam.autoAssign({ host: 'host-c', handleId: 'c' })).rejects.toThrow(new IpamError(`${exhausted} host-c`));
    // No borrowing yet: host-a's own blocks are full and no block is left to claim.
    await expect(ipam.autoAssign({ host: 'host-a', handleId: 'a' })).rejects.toThrow(new IpamError(`${exhausted} host-a`));
    // A second pool is used once the first one is full; both are named when all are exhausted.
    await ipam.ensurePool(pool('tiny-2', '198.19.1.0/26', 26));
    expect((await ipam.autoAssign({ host: 'host-c', handleId: 'c' })).block).toBe('198.19.1.0/26');
    await expect(ipam.autoAssign({ host: 'host-d', handleId: 'd' })).rejects.toThrow(
      new IpamError('IP pool(s) 198.19.0.0/25, 198.19.1.0/26 exhausted: no free block for host host-d'),
    );
  });

  it('skips disabled pools and refuses invalid or overlapping pools', async () => {
    await expect(ipam.autoAssign({ host: 'host-a', handleId: 'x' })).rejects.toThrow(/no enabled IP pool/);
    await ipam.ensurePool(pool('off', '198.19.0.0/24', 26, true));
    expect(await ipam.pools()).toEqual([]);
    await expect(ipam.autoAssign({ host: 'host-a', handleId: 'x' })).rejects.toThrow(/no enabled IP pool/);
    await ipam.ensurePool(pool('on', '198.19.1.0/24', 26));
    expect((await ipam.pools()).map((p) => p.metadata.name)).toEqual(['on']);
    expect((await ipam.autoAssign({ host: 'host-a', handleId: 'x' })).block).toBe('198.19.1.0/26');

    await expect(ipam.ensurePool(pool('clash', '198.19.0.128/25', 26))).rejects.toThrow(
      new IpamError('IP pool clash (198.19.0.128/25) overlaps IP pool off (198.19.0.0/24)'),
    );
    await expect(ipam.ensurePool(pool('bad', '198.19.2.1/24', 26))).rejects.toThrow(/host bits set/);
    await expect(ipam.ensurePool(pool('big-blocks', '198.18.0.0/16', 19))).rejects.toThrow(/block size \/19 is invalid/);
    await expect(ipam.ensurePool(pool('small-pool', '198.18.0.0/28', 26))).rejects.toThrow(/block size \/26 is invalid/);
  });

  it('hands out each block once when many hosts race for the last blocks', async () => {
    await ipam.ensurePool(pool('four-blocks', '198.19.0.0/24', 26));
    const clients = Array.from({ length: 8 }, () => new Datastore([etcd!.endpoint]));
    extraClients.push(...clients);
    const results = await Promise.allSettled(clients.map((c, i) => new Ipam(c).autoAssign({ host: `host-${i}`, handleId: `h${i}` })));
    const won = results.filter((r) => r.status === 'fulfilled').map((r) => r.value);
    const lost = results.filter((r) => r.status === 'rejected').map((r) => (r.reason as Error).message);
    expect(won).toHaveLength(4);
    expect(new Set(won.map((w) => w.block)).size).toBe(4);
    expect(lost).toHaveLength(4);
    for (const m of lost) expect(m).toMatch(/^IP pool\(s\) 198\.19\.0\.0\/24 exhausted: no free block for host host-\d$/);
    const { items: affinities } = await ds.list<BlockAffinity>('/calico/ipam/v2/host/');
    expect(affinities).toHaveLength(4);
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
