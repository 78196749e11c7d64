import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signalDaemon } from '../../src/sim/faults.js';
import { heal } from '../../src/sim/heal.js';
import { deleteHost } from '../../src/sim/hosts.js';
import { down, up } from '../../src/sim/lab.js';
import { readLabState } from '../../src/sim/state.js';
import { status } from '../../src/sim/status.js';
import { resolveTopology } from '../../src/topologies/index.js';
import { waitFor } from '../../src/util/exec.js';
import { pingMatrix } from '../../src/verify/reachability.js';
import { ipRoutes, runner } from '../helpers/lab.js';

const LAB = 't-shared';
const endpoints = (st: Awaited<ReturnType<typeof status>>) => st.workloads.map((w) => ({ name: w.name, netns: w.netns, ip: w.ip }));

describe('agents shared by groups of hosts (one process, one datastore watch, many hosts)', () => {
  beforeAll(async () => {
    await down(LAB);
    const plan = resolveTopology('mesh', { hosts: 5 });
    await up({ ...plan, agents: { mode: 'shared', hostsPerProcess: 2 } }, { name: LAB });
  }, 120_000);
  afterAll(async () => {
    await down(LAB);
  });

  it('three processes serve five hosts; every block is everywhere and every workload reaches every other', async () => {
    const st = await status(readLabState(LAB));
    expect(st.agents).toBe('shared');
    expect(st.healthy).toBe(true);
    const pids = new Set(st.hosts.map((h) => h.agent.pid));
    expect(pids.size).toBe(3);
    expect(st.hosts.map((h) => h.agent.process)).toEqual(['agents-1', 'agents-1', 'agents-2', 'agents-2', 'agents-3']);
    expect((await pingMatrix(runner, endpoints(st))).filter((r) => !r.ok)).toEqual([]);
  });

  it('a route deleted by hand on a host of a shared process is back in well under a second (its kernel watch, not the 90 s pass)', async () => {
    const state = readLabState(LAB);
    const st = await status(state);
    const w4 = st.workloads.find((w) => w.host === 'host4')!;
    const host4 = state.hosts.find((h) => h.name === 'host4')!;
    await execa('ip', ['-n', host4.netns, 'route', 'del', `${w4.ip}/32`]);
    await waitFor('the route repaired', async () => (await ipRoutes(host4.netns, 'proto', 'boot')).some((r) => r.dst === w4.ip), 1_000, 20);
  });

  it('kill -9 of a shared process: its hosts show dead, traffic flows; heal restarts it once, and it repairs a route deleted meanwhile', async () => {
    const state = readLabState(LAB);
    signalDaemon(state, { node: 'host1', daemon: 'agent' });
    await waitFor(
      'host1 and host2 reported dead',
      async () => {
        const st = await status(readLabState(LAB));
        return (
          st.hosts
            .filter((h) => h.agent.state === 'dead')
            .map((h) => h.name)
            .join() === 'host1,host2'
        );
      },
      5_000,
      100,
    );
    const st = await status(state);
    expect((await pingMatrix(runner, endpoints(st))).filter((r) => !r.ok)).toEqual([]);
    const w2 = st.workloads.find((w) => w.host === 'host2')!;
    const host2 = state.hosts.find((h) => h.name === 'host2')!;
    await execa('ip', ['-n', host2.netns, 'route', 'del', `${w2.ip}/32`]);
    expect(await heal(readLabState(LAB))).toEqual(['agents@agents-1']);
    await waitFor('the route repaired by the restarted process', async () => (await ipRoutes(host2.netns, 'proto', 'boot')).some((r) => r.dst === w2.ip), 10_000, 100);
    const after = await status(readLabState(LAB));
    expect(after.hosts[0]!.agent.pid).toBe(after.hosts[1]!.agent.pid);
    expect(after.healthy).toBe(true);
  });

  it('host del of a host in a shared group restarts the group without it; the others keep their routes', async () => {
    await deleteHost(readLabState(LAB), 'host3');
    const state = readLabState(LAB);
    const host4 = state.hosts.find((h) => h.name === 'host4')!;
    expect(host4.agent.group).toBe('agents-2');
    await waitFor('agents-2 serving host4 alone, and healthy', async () => (await status(readLabState(LAB))).healthy, 20_000, 200);
    const st = await status(readLabState(LAB));
    expect((await pingMatrix(runner, endpoints(st))).filter((r) => !r.ok)).toEqual([]);
  });
});
