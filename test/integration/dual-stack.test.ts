import { afterAll, describe, expect, it } from 'vitest';
import { down, up, withDatastore } from '../../src/sim/lab.js';
import { waitForRoutes } from '../../src/sim/readiness.js';
import { status } from '../../src/sim/status.js';
import { birdc } from '../../src/bgp/bird.js';
import { resolveTopology } from '../../src/topologies/index.js';
import { pingMatrix, tcpMatrix } from '../../src/verify/reachability.js';
import { readLabState } from '../../src/sim/state.js';
import { waitFor } from '../../src/util/exec.js';
import { ipRoutes, runner } from '../helpers/lab.js';
import { signalDaemon } from '../../src/sim/faults.js';
import { addHost } from '../../src/sim/hosts.js';
import { addLabWorkload } from '../../src/sim/workloads.js';

afterAll(async () => {
  await down('t-dual');
  await down('t-bfd');
});

describe('dual stack and session options on real namespaces', () => {
  it('IPv6 workloads reach each other across hosts, over IPv6 BGP sessions of their own', async () => {
    await down('t-dual');
    const { state } = await up(resolveTopology('dual-stack', { hosts: 2, workloads: 2 }), { name: 't-dual' });
    const st = await status(state);
    // Two sessions per pair, as Calico: IPv4 between the IPv4 addresses, IPv6 between the IPv6 ones.
    expect(st.bgp.filter((b) => b.state === 'Established').map((b) => `${b.host} ${b.peer}`)).toEqual([
      'host1 Mesh_198_18_0_12',
      'host1 Mesh_2001_db8_f__c',
      'host2 Mesh_198_18_0_11',
      'host2 Mesh_2001_db8_f__b',
    ]);
    expect(st.workloads.every((w) => w.ip6?.startsWith('2001:db8:1:'))).toBe(true);
    const v6 = st.workloads.map((w) => ({ name: w.name, netns: w.netns, ip: w.ip6! }));
    const v4 = st.workloads.map((w) => ({ name: w.name, netns: w.netns, ip: w.ip }));
    expect((await pingMatrix(runner, v6)).filter((r) => !r.ok)).toEqual([]);
    expect((await pingMatrix(runner, v4)).filter((r) => !r.ok)).toEqual([]);
    const tcp6 = await tcpMatrix(runner, v6);
    expect(tcp6.filter((r) => !r.ok)).toEqual([]);
    for (const r of tcp6) expect(r.seenAs).toBe(v6.find((e) => e.name === r.from)!.ip); // no NAT in IPv6 either
    // The other host's IPv6 block was learned by BGP over the IPv6 session, from the host's IPv6 fabric address.
    const learned = await ipRoutes(state.hosts[0]!.netns, '-6', 'proto', 'bird');
    expect(learned).toContainEqual(expect.objectContaining({ gateway: state.plan.hosts[1]!.ip6 }));
    // Negative control: an unassigned IPv6 pool address does not answer.
    expect((await pingMatrix(runner, [v6[0]!, { name: 'ghost', netns: v6[1]!.netns, ip: '2001:db8:1::ff0' }]))[0]!.ok).toBe(false);
    // A host added to the running lab gets its IPv6 fabric address too: its IPv6 block is learned
    // and its workload answers over IPv6 (it had none, and host add timed out waiting for BGP).
    const added = await addHost(readLabState('t-dual'), 'host3');
    expect(added.ip6).toBe('2001:db8:f::d');
    const w = await addLabWorkload(readLabState('t-dual'), 'host3-w1', 'host3');
    const w6 = w.spec.ipNetworks.find((n) => n.includes(':'))!.split('/')[0]!;
    // Its new IPv6 block travels by BGP to the others (and theirs back) before it can answer.
    await withDatastore(readLabState('t-dual'), (ds) => waitForRoutes(ds, readLabState('t-dual'), 30_000));
    const after = await status(readLabState('t-dual'));
    const nw = after.workloads.find((x) => x.name === 'host3-w1')!;
    expect((await pingMatrix(runner, [v6[0]!, { name: nw.name, netns: nw.netns, ip: w6 }])).filter((r) => !r.ok)).toEqual([]);
    await down('t-dual');
  });

  it('BFD and BGP timers from the configuration run on every session', async () => {
    await down('t-bfd');
    const { state } = await up(resolveTopology('test/fixtures/mesh-bfd.yaml'), { name: 't-bfd' });
    const h1 = state.hosts[0]!;
    await waitFor(
      'BFD sessions up',
      async () => {
        const out = await birdc(h1.bird.socket, 'show bfd sessions');
        return (out.match(/\sUp\s/g) ?? []).length === 2;
      },
      10_000,
      200,
    );
    const all = await birdc(h1.bird.socket, 'show protocols all Mesh_198_18_0_12');
    expect(all).toMatch(/Hold timer:\s+\S+\/9/);
    expect(all).toMatch(/Keepalive timer:\s+\S+\/3/);
    // A peer that dies is noticed by BFD in well under the 9 s hold time.
    const h2 = readLabState('t-bfd').hosts[1]!;
    signalDaemon(readLabState('t-bfd'), { node: h2.name, daemon: 'bird' }, 'SIGSTOP'); // alive but silent: only BFD or the hold timer can tell
    const t0 = Date.now();
    try {
      await waitFor('host1 to drop host2', async () => !/Established/.test(await birdc(h1.bird.socket, 'show protocols Mesh_198_18_0_12')), 8_000, 50);
    } finally {
      signalDaemon(readLabState('t-bfd'), { node: h2.name, daemon: 'bird' }, 'SIGCONT');
    }
    const ms = Date.now() - t0;
    console.log(`BFD detected a silent peer in ${ms} ms (hold time 9 s)`);
    expect(ms).toBeLessThan(8_000);
    await down('t-bfd');
  });
});
