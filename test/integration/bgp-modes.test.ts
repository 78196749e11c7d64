import { afterAll, describe, expect, it } from 'vitest';
import { down, up, withDatastore } from '../../src/sim/lab.js';
import { status } from '../../src/sim/status.js';
import { missingRoutes } from '../../src/sim/readiness.js';
import { resolveTopology } from '../../src/topologies/index.js';
import { pingMatrix, tcpMatrix } from '../../src/verify/reachability.js';
import { readLabState } from '../../src/sim/state.js';
import { waitFor } from '../../src/util/exec.js';
import { ipRoutes, runner } from '../helpers/lab.js';
import { birdc } from '../../src/bgp/bird.js';
import { keys } from '../../src/datastore/keys.js';
import { signalDaemon } from '../../src/sim/faults.js';

const labs = ['t-mesh', 't-rr', 't-gw', 't-rack'];
afterAll(async () => {
  for (const l of labs) await down(l);
});

const endpoints = (st: Awaited<ReturnType<typeof status>>) => st.workloads.map((w) => ({ name: w.name, netns: w.netns, ip: w.ip }));
const sessionsPerHost = (st: Awaited<ReturnType<typeof status>>) => {
  const m = new Map<string, number>();
  for (const b of st.bgp) if (b.state === 'Established') m.set(b.host, (m.get(b.host) ?? 0) + 1);
  return Object.fromEntries(m);
};

describe('BGP modes on real namespaces', () => {
  it('a 6-host full mesh: 5 sessions per host, all pairs reachable', async () => {
    await down('t-mesh');
    const { state } = await up(resolveTopology('mesh', { hosts: 6 }), { name: 't-mesh' });
    const st = await status(state);
    expect(Object.values(sessionsPerHost(st))).toEqual([5, 5, 5, 5, 5, 5]);
    const icmp = await pingMatrix(runner, endpoints(st));
    expect(icmp).toHaveLength(30);
    expect(icmp.filter((r) => !r.ok)).toEqual([]);
    await down('t-mesh');
  });

  it('10 hosts with 2 route reflectors: clients have 2 sessions; killing one reflector loses no route and no reachability', async () => {
    await down('t-rr');
    // Graceful restart off: a dead reflector's routes go at once instead of staying (stale) for
    // minutes, so what remains is what the other reflector really carries.
    const plan = resolveTopology('route-reflector', { hosts: 10 });
    const { state } = await up({ ...plan, timers: { gracefulRestart: false } }, { name: 't-rr' });
    const st = await status(state);
    const perHost = sessionsPerHost(st);
    expect(perHost.host1).toBe(9);
    expect(perHost.host2).toBe(9);
    for (let i = 3; i <= 10; i++) expect(perHost[`host${i}`], `host${i}`).toBe(2);
    const eps = endpoints(st);
    expect(eps).toHaveLength(8);
    expect((await pingMatrix(runner, eps)).filter((r) => !r.ok)).toEqual([]);

    // Lose route reflector host1 abruptly: every client keeps every block through host2.
    const rr1 = readLabState('t-rr').hosts.find((h) => h.name === 'host1')!;
    signalDaemon(readLabState('t-rr'), { node: 'host1', daemon: 'bird' });
    await waitFor(
      'clients to notice the dead reflector',
      async () => {
        const now = await status(readLabState('t-rr'));
        return now.bgp.filter((b) => b.peerIp === rr1.ip && b.state === 'Established').length === 0;
      },
      15_000,
      200,
    );
    const clients = { ...state, hosts: state.hosts.filter((h) => h.name !== 'host1') };
    expect(await withDatastore(state, (ds) => missingRoutes(ds, clients))).toEqual([]);
    expect((await pingMatrix(runner, eps)).filter((r) => !r.ok)).toEqual([]);
    // Not stale routes kept by graceful restart: every client's BIRD has every other client's
    // block from the surviving reflector host2 itself.
    const blocks = (await withDatastore(state, (ds) => ds.list<{ cidr: string; affinity: string }>(keys.blocks))).items.map((i) => i.value);
    for (const h of clients.hosts.filter((x) => x.name !== 'host2')) {
      const viaRr2 = await birdc(h.bird.socket, 'show route protocol Node_198_18_0_12');
      for (const b of blocks.filter((x) => x.affinity !== `host:${h.name}`)) expect(viaRr2, `${h.name} has ${b.cidr} from host2`).toContain(b.cidr);
    }
    // Negative control: with both reflectors gone, the clients' sessions carry no route at all.
    signalDaemon(readLabState('t-rr'), { node: 'host2', daemon: 'bird' });
    const host3 = readLabState('t-rr').hosts.find((h) => h.name === 'host3')!;
    await waitFor('host3 to lose its sessions', async () => !/Established/.test(await birdc(host3.bird.socket, 'show protocols')), 15_000, 200);
    expect(await birdc(host3.bird.socket, 'show route protocol Node_198_18_0_12')).not.toMatch(/198\.19\./);
    expect((await pingMatrix(runner, eps.slice(1, 3))).every((r) => !r.ok)).toBe(true);
    await down('t-rr');
  }, 120_000);

  it('a gateway router learns every block by BGP; an outside client reaches workloads by their own IPs, with no NAT', async () => {
    await down('t-gw');
    const { state } = await up(resolveTopology('gateway', { hosts: 3 }), { name: 't-gw' });
    const st = await status(state);
    const gw = state.routers[0]!;
    const learned = await ipRoutes(gw.netns, 'proto', 'bird');
    const blocks = await withDatastore(state, async (ds) => (await ds.list<{ cidr: string }>('/calico/ipam/v2/assignment/')).items.map((i) => i.value.cidr));
    expect(learned.map((r) => r.dst).sort()).toEqual([...blocks].sort());
    expect(st.bgp.filter((b) => b.host === 'gw' && b.state === 'Established')).toHaveLength(3);

    const outside = { name: gw.clients[0]!.name, netns: gw.clients[0]!.netns, ip: gw.clients[0]!.ip };
    const eps = endpoints(st);
    const icmp = await pingMatrix(runner, eps, 1, [outside]);
    expect(icmp).toHaveLength(3);
    expect(icmp.filter((r) => !r.ok)).toEqual([]);
    const tcp = await tcpMatrix(runner, eps, 2000, [outside]);
    expect(tcp.filter((r) => !r.ok)).toEqual([]);
    // No NAT: every workload saw the outside client's own address as the source.
    expect(tcp.map((r) => r.seenAs)).toEqual(eps.map(() => outside.ip));
    // Negative control: an address in the pool that no workload holds does not answer.
    expect((await pingMatrix(runner, [{ name: 'ghost', netns: eps[0]!.netns, ip: '198.19.3.3' }], 1, [outside]))[0]!.ok).toBe(false);
    await down('t-gw');
  });

  it('two racks, AS per rack, eBGP to a ToR per rack: each host has one session, every pair is reachable', async () => {
    await down('t-rack');
    const { state } = await up(resolveTopology('rack', { hosts: 4 }), { name: 't-rack' });
    const st = await status(state);
    const perHost = sessionsPerHost(st);
    for (const h of ['host1', 'host2', 'host3', 'host4']) expect(perHost[h], h).toBe(1);
    expect(perHost['tor-a']).toBe(3); // two hosts of rack a and tor-b
    expect(st.bgp.find((b) => b.host === 'host3')!.peerIp).toBe(state.routers.find((r) => r.name === 'tor-b')!.ip);
    // Both ToRs hold every block, learned by BGP (missingRoutes covers routers too).
    expect(await withDatastore(state, (ds) => missingRoutes(ds, state))).toEqual([]);
    expect((await pingMatrix(runner, endpoints(st))).filter((r) => !r.ok)).toEqual([]);
    await down('t-rack');
  });
});
