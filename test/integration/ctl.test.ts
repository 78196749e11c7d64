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
import { waitFor } from '../../src/util/exec.js';
import { cli, runner } from '../helpers/lab.js';

const LAB = 't-ctl';
afterAll(async () => {
  await down(LAB);
});

describe('ctl on a running lab', () => {
  it('switches a live full mesh to a route reflector by applying resources, with no daemon restarted', async () => {
    await down(LAB);
    const { state } = await up(resolveTopology('mesh', { hosts: 4 }), { name: LAB });
    const pids = state.hosts.map((h) => [h.bird.pid, h.agent.pid]);
    const applied = await cli('ctl', 'apply', '-f', 'examples/switch-to-route-reflector.yaml', '--lab', LAB);
    expect(applied.stderr).toBe('');
    expect(applied.stdout).toMatch(/Successfully applied 3 .*resource/);

    await waitFor(
      'the route-reflector design',
      async () => {
        const st = await status(readLabState(LAB));
        const up = st.bgp.filter((b) => b.state === 'Established');
        const per = (h: string) => up.filter((b) => b.host === h).map((b) => b.peer);
        return per('host1').length === 3 && ['host2', 'host3', 'host4'].every((h) => per(h).length === 1 && per(h)[0] === 'Node_198_18_0_11') && st.bgp.every((b) => !b.peer.startsWith('Mesh_'));
      },
      20_000,
      200,
    );
    const st = await status(readLabState(LAB));
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
      ['unknown node', file('node.yaml', `${head}kind: BGPPeer\nmetadata: {name: x}\nspec: {node: nosuchhost, peerIP: 198.18.0.9, asNumber: 64512}\n`), /node\.yaml: .*BGPPeer x.*nosuchhost/],
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
