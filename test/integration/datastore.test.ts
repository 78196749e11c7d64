import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Datastore } from '../../src/datastore/store.js';
import { keys } from '../../src/datastore/keys.js';
import { registerNodes } from '../../src/sim/bootstrap.js';
import { DatastoreError } from '../../src/util/errors.js';
import { startEtcd, type EtcdServer } from '../helpers/etcd.js';

describe('datastore on a real etcd', () => {
  let etcd: EtcdServer;
  let ds: Datastore;
  beforeAll(async () => {
    etcd = await startEtcd();
    ds = new Datastore([etcd.endpoint]);
  });
  afterAll(async () => {
    ds?.close();
    await etcd?.stop();
  });

  it('registers hosts as Node resources at the Calico key, and refuses a duplicate name', async () => {
    const h = (name: string, ip: string) => ({ name, ip, prefixLength: 16, labels: {} });
    await registerNodes(ds, [h('node-a', '198.18.0.11'), h('node-b', '198.18.0.12')]);
    expect((await ds.get(keys.node('node-a')))?.value).toMatchObject({
      apiVersion: 'projectcalico.org/v3',
      kind: 'Node',
      metadata: { name: 'node-a' },
      spec: { bgp: { ipv4Address: '198.18.0.11/16' } },
    });
    const dup = registerNodes(ds, [h('node-a', '198.18.0.13')]);
    await expect(dup).rejects.toThrow(DatastoreError);
    await expect(registerNodes(ds, [h('node-a', '198.18.0.13')])).rejects.toThrow(/node name "node-a" is already registered: host names must be unique/);
    await expect(registerNodes(ds, [h('node-c', '198.18.0.12')])).rejects.toThrow(/node "node-c" claims 198\.18\.0\.12, already the address of node "node-b"/);
    expect(await ds.get(keys.node('node-c'))).toBeUndefined();
    // The first registration is untouched.
    expect((await ds.get<{ spec: { bgp: { ipv4Address: string } } }>(keys.node('node-a')))?.value.spec.bgp.ipv4Address).toBe('198.18.0.11/16');
  });

  it('compare-and-swap refuses a stale revision', async () => {
    await ds.put('/calico/test/k', { v: 1 });
    const first = (await ds.get<{ v: number }>('/calico/test/k'))!;
    expect(await ds.cas('/calico/test/k', { v: 2 }, first.modRevision)).toBe(true);
    expect(await ds.cas('/calico/test/k', { v: 3 }, first.modRevision)).toBe(false);
    expect((await ds.get<{ v: number }>('/calico/test/k'))!.value).toEqual({ v: 2 });
    expect(await ds.create('/calico/test/k', { v: 4 })).toBe(false);
  });
});
