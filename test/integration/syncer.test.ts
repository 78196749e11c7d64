import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keys } from '../../src/datastore/keys.js';
import { Datastore } from '../../src/datastore/store.js';
import { type SyncChange, Syncer } from '../../src/datastore/syncer.js';
import { waitFor } from '../../src/util/exec.js';
import { startEtcd, type EtcdServer } from '../helpers/etcd.js';

const pool = (name: string, cidr: string) => ({ apiVersion: 'projectcalico.org/v3', kind: 'IPPool', metadata: { name }, spec: { cidr, blockSize: 26 } });

describe('the syncer: one read, then deltas from the watch', () => {
  let etcd: EtcdServer;
  let ds: Datastore;
  let syncer: Syncer;
  const batches: SyncChange[][] = [];
  beforeAll(async () => {
    etcd = await startEtcd();
    ds = new Datastore([etcd.endpoint]);
    await ds.put(keys.ippool('a'), pool('a', '198.19.0.0/16'));
    syncer = new Syncer(ds);
    syncer.onChange((c) => batches.push([...c]));
    await syncer.start();
  });
  afterAll(async () => {
    await syncer?.stop();
    ds?.close();
    await etcd?.stop();
  });

  it('starts from what is there', () => {
    expect(syncer.snapshot().pools.map((p) => p.metadata.name)).toEqual(['a']);
    expect(batches.flat().map((c) => c.key)).toEqual([keys.ippool('a')]);
  });

  it('applies a put and a delete as deltas, with the value before and after', async () => {
    batches.length = 0;
    await ds.put(keys.ippool('b'), pool('b', '198.19.0.0/17'));
    await ds.delete(keys.ippool('a'));
    await waitFor('both changes', async () => batches.flat().length >= 2, 5_000, 20);
    const changes = batches.flat();
    expect(changes[0]).toMatchObject({ key: keys.ippool('b'), old: undefined, value: { metadata: { name: 'b' } } });
    expect(changes[1]).toMatchObject({ key: keys.ippool('a'), old: { metadata: { name: 'a' } }, value: undefined });
    expect(syncer.snapshot().pools.map((p) => p.metadata.name)).toEqual(['b']);
  });

  it('heartbeats and other status keys wake nobody', async () => {
    batches.length = 0;
    for (let i = 0; i < 5; i++) await ds.put(keys.agentStatus('h1'), { host: 'h1', i });
    await ds.put(keys.ippool('c'), pool('c', '198.19.128.0/17'));
    await waitFor('the pool change', async () => batches.flat().length >= 1, 5_000, 20);
    expect(batches.flat().map((c) => c.key)).toEqual([keys.ippool('c')]);
  });

  it('a re-read reports only what differs from the copy', async () => {
    batches.length = 0;
    await syncer.resync();
    expect(batches.flat()).toEqual([]);
    expect(
      syncer
        .snapshot()
        .pools.map((p) => p.metadata.name)
        .sort(),
    ).toEqual(['b', 'c']);
  });
});
