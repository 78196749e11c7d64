import { afterAll, describe, expect, it } from 'vitest';
import { addLabWorkload } from '../../src/sim/workloads.js';
import { down, up, withDatastore } from '../../src/sim/lab.js';
import { status } from '../../src/sim/status.js';
import { missingRoutes, waitForRoutes } from '../../src/sim/readiness.js';
import { addHost, deleteHost } from '../../src/sim/hosts.js';
import { resolveTopology } from '../../src/topologies/index.js';
import { pingMatrix } from '../../src/verify/reachability.js';
import { readLabState } from '../../src/sim/state.js';
import { keys } from '../../src/datastore/keys.js';
import { blockOf } from '../../src/net/cidr.js';
import { waitFor } from '../../src/util/exec.js';
import { labNamespaces, ipRoutes, runner } from '../helpers/lab.js';

afterAll(async () => {
  await down('t-borrow');
  await down('t-hosts');
});

const endpoints = (st: Awaited<ReturnType<typeof status>>) => st.workloads.map((w) => ({ name: w.name, netns: w.netns, ip: w.ip }));

describe('a running lab changes', () => {
  it('borrowing: a host whose block is full, with no block left to claim, borrows a /32 that every other host routes to it', async () => {
    await down('t-borrow');
    const { state } = await up(resolveTopology('test/fixtures/borrowing.yaml'), { name: 't-borrow' });
    const wep = await addLabWorkload(state, 'a5', 'host1');
    const ip = wep.spec.ipNetworks[0]!.split('/')[0]!;
    const owner = await withDatastore(state, async (ds) => {
      const blocks = (await ds.list<{ cidr: string; affinity: string }>(keys.blocks)).items.map((i) => i.value);
      expect(blocks).toHaveLength(4); // the pool's four: none left for host1 to claim
      return blocks.find((x) => x.cidr === blockOf(ip, 30))!.affinity.slice(5);
    });
    expect(owner).not.toBe('host1');
    // The /32 is learned by BGP from host1 everywhere (more specific than the owner's /30).
    for (const h of ['host2', 'host3', 'host4']) {
      await waitFor(`${h} to learn ${ip}/32 from host1`, async () => (await ipRoutes(`csim_t-borrow_h_${h}`, 'proto', 'bird')).some((r) => r.dst === ip && r.gateway === '198.18.0.11'), 5_000, 50);
    }
    const st = await status(readLabState('t-borrow'));
    const eps = endpoints(st);
    const a5 = eps.find((e) => e.name === 'a5')!;
    const results = await pingMatrix(runner, [...eps.filter((e) => e.name !== 'a5'), a5]);
    expect(results.filter((r) => !r.ok)).toEqual([]);
    await down('t-borrow');
  });

  it('host add / host del: peers are added and removed everywhere by reload, blocks appear and go', async () => {
    await down('t-hosts');
    const { state } = await up(resolveTopology('mesh', { hosts: 2 }), { name: 't-hosts' });
    const birdPidsBefore = state.hosts.map((h) => h.bird.pid);
    await addHost(state, 'host3');
    const wep = await addLabWorkload(readLabState('t-hosts'), 'host3-w1', 'host3');
    await withDatastore(state, (ds) => waitForRoutes(ds, readLabState('t-hosts'), 5_000));
    const st = await status(readLabState('t-hosts'));
    expect(st.bgp.filter((b) => b.state === 'Established')).toHaveLength(6);
    expect((await pingMatrix(runner, endpoints(st))).filter((r) => !r.ok)).toEqual([]);
    expect(await withDatastore(state, (ds) => missingRoutes(ds, readLabState('t-hosts')))).toEqual([]);
    // No daemon was restarted to get there.
    expect(
      readLabState('t-hosts')
        .hosts.slice(0, 2)
        .map((h) => h.bird.pid),
    ).toEqual(birdPidsBefore);
    expect(st.hosts.filter((h) => h.bird.alive && h.agent.alive)).toHaveLength(3);

    const r = await deleteHost(readLabState('t-hosts'), 'host3');
    expect(r.workloads).toEqual(['host3-w1']);
    expect(labNamespaces('t-hosts').some((n) => n.endsWith('_h_host3'))).toBe(false);
    // Within one resync period (10 s) at worst, should a watch event be lost on a loaded machine.
    await waitFor('every peer to drop host3', async () => !(await status(readLabState('t-hosts'))).bgp.some((b) => b.peerIp === '198.18.0.13'), 15_000, 100);
    const learned = await ipRoutes('csim_t-hosts_h_host1', 'proto', 'bird');
    expect(learned.some((x) => x.dst.startsWith(wep.spec.ipNetworks[0]!.split('.').slice(0, 3).join('.')) && x.gateway === '198.18.0.13')).toBe(false);
    await down('t-hosts');
  });
});
