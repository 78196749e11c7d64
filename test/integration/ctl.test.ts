import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { down, up, withDatastore } from '../../src/sim/lab.js';
import { status } from '../../src/sim/status.js';
import { keys } from '../../src/datastore/keys.js';
import { resolveTopology } from '../../src/topologies/index.js';
import { pingMatrix } from '../../src/verify/reachability.js';
import { readLabState } from '../../src/sim/state.js';
import { cli, runner } from '../helpers/lab.js';
import { Ctl } from '../../src/ctl/ctl.js';
import { waitForAgents, waitForBgpSettled } from '../../src/sim/readiness.js';

const LAB = 't-ctl';
afterAll(async () => {
  await down(LAB);
});

describe('ctl on a running lab', () => {
  it('switches a live full mesh to a route reflector by applying resources, with no daemon restarted', async () => {
    await down(LAB);
    const { state } = await up(resolveTopology('mesh', { hosts: 4 }), { name: LAB });
    const pids = state.hosts.map((h) => [h.bird.pid, h.agent.pid]);
    // --wait returns once every agent has the change and BGP has settled: no polling after it.
    const applied = await cli('ctl', 'apply', '-f', 'examples/switch-to-route-reflector.yaml', '--lab', LAB, '--wait');
    expect(applied.stderr).toBe('');
    expect(applied.code).toBe(0);
    expect(applied.stdout).toMatch(/Successfully applied 3 .*resource/);
    expect(applied.stdout).toMatch(/^every agent \(4\) programmed it \d+ ms after the write$/m);
    expect(applied.stdout).toMatch(/^BGP settled \d+ ms after the write: 6\/6 sessions Established, every block learned everywhere$/m);
    const st = await status(readLabState(LAB));
    const established = st.bgp.filter((b) => b.state === 'Established');
    const per = (h: string) => established.filter((b) => b.host === h).map((b) => b.peer);
    expect(per('host1')).toHaveLength(3);
    for (const h of ['host2', 'host3', 'host4']) expect(per(h)).toEqual(['Node_198_18_0_11']);
    expect(st.bgp.filter((b) => b.peer.startsWith('Mesh_'))).toEqual([]);
    expect(
      (
        await pingMatrix(
          runner,
          st.workloads.map((w) => ({ name: w.name, netns: w.netns, ip: w.ip })),
        )
      ).filter((r) => !r.ok),
    ).toEqual([]);
    expect(readLabState(LAB).hosts.map((h) => [h.bird.pid, h.agent.pid])).toEqual(pids);
    expect(st.hosts.every((h) => h.bird.alive && h.agent.alive)).toBe(true);

    const get = await cli('ctl', 'get', 'bgppeers', '-o', 'yaml', '--lab', LAB);
    expect(get.stdout).toMatch(/kind: BGPPeer[\s\S]*name: peer-with-route-reflectors[\s\S]*peerSelector: route-reflector == 'true'/);
    const nodes = await cli('ctl', 'get', 'nodes', '--lab', LAB);
    expect(nodes.stdout).toMatch(/host1\s+.*198\.18\.0\.11/);
  });

  it('--wait can fail: a peer nobody answers keeps BGP unsettled, and the timeout names its session', async () => {
    const state = readLabState(LAB);
    const ghost = { apiVersion: 'projectcalico.org/v3', kind: 'BGPPeer', metadata: { name: 'ghost' }, spec: { node: 'host2', peerIP: '198.18.0.9', asNumber: 64999 } };
    await withDatastore(state, async (ds) => {
      const ctl = new Ctl(ds);
      await ctl.apply([ghost]);
      await waitForAgents(ds, state, ctl.lastRevision!, 10_000);
      await expect(waitForBgpSettled(ds, state, 2_000)).rejects.toThrow(/^timed out after 2000 ms waiting for BGP to settle .*; not yet: host2 Node_198_18_0_9 (Active|Connect|Idle)/);
      await ctl.delete([ghost]);
      await waitForAgents(ds, state, ctl.lastRevision!, 10_000);
      expect((await waitForBgpSettled(ds, state, 10_000)).sessions).toBe(6);
    });
  });

  describe('bad resource files fail with a clear error and change nothing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'csim-ctl-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const file = (name: string, text: string) => {
      const p = join(dir, name);
      writeFileSync(p, text);
      return p;
    };
    const head = 'apiVersion: projectcalico.org/v3\n';
    const cases: [string, string, RegExp][] = [
      ['unknown kind', file('kind.yaml', `${head}kind: Frobnicator\nmetadata: {name: x}\n`), /kind\.yaml: document 1.*kind.*Frobnicator/],
      ['bad CIDR', file('cidr.yaml', `${head}kind: IPPool\nmetadata: {name: p2}\nspec: {cidr: 198.19.300.0/24}\n`), /cidr\.yaml: document 1 \(IPPool p2\): spec\.cidr: /],
      ['overlapping pools', file('overlap.yaml', `${head}kind: IPPool\nmetadata: {name: p3}\nspec: {cidr: 198.19.4.0/24}\n`), /overlap\.yaml: .*IPPool p3.*overlaps.*198\.19\.0\.0\/16/],
      ['pool over the fabric', file('fabric.yaml', `${head}kind: IPPool\nmetadata: {name: p4}\nspec: {cidr: 198.18.0.0/24}\n`), /fabric\.yaml: .*IPPool p4.*overlaps/],
      [
        'a policy in an unknown tier',
        file('tier.yaml', `${head}kind: GlobalNetworkPolicy\nmetadata: {name: x}\nspec: {tier: nosuch}\n`),
        /tier\.yaml: .*GlobalNetworkPolicy x.*no Tier named "nosuch"/,
      ],
      [
        'one bad document among good ones',
        file('mixed.yaml', `${head}kind: IPPool\nmetadata: {name: good}\nspec: {cidr: 198.19.200.0/24}\n---\n${head}kind: IPPool\nmetadata: {name: bad}\nspec: {cidr: nonsense}\n`),
        /mixed\.yaml: document 2 \(IPPool bad\)/,
      ],
    ];
    /** Every resource in etcd, with its revision: any write would show. */
    const resources = () => withDatastore(readLabState(LAB), async (ds) => (await ds.list(keys.resourcePrefix)).items.map((i) => [i.key, i.modRevision]));
    it.each(cases)('%s', async (_what, path, re) => {
      const before = await resources();
      const r = await cli('ctl', 'apply', '-f', path, '--lab', LAB);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(re);
      expect(await resources()).toEqual(before);
    });
  });
});
