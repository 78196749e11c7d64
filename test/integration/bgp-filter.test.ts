import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { birdc } from '../../src/bgp/bird.js';
import { down } from '../../src/sim/lab.js';
import { readLabState } from '../../src/sim/state.js';
import { waitFor } from '../../src/util/exec.js';
import { cli } from '../helpers/lab.js';

const LAB = 't-bgp-filter';
const dir = mkdtempSync(join(tmpdir(), 'csim-bgp-filter-'));
afterAll(async () => {
  await down(LAB);
  rmSync(dir, { recursive: true, force: true });
});

const routes = async (node: string) => (await cli('exec', node, '--lab', LAB, '--', 'ip', 'route')).stdout;
const OUTSIDE = /^198\.18\.255\.0\/24 via 198\.18\.0\.2 dev eth0 proto bird/m;

describe("BGPFilter: Calico's reference sample on the gateway's BGPPeer", () => {
  it("the hosts stop importing the gateway's network, the gateway still learns their blocks; without the filter it is back", async () => {
    await down(LAB);
    expect((await cli('up', 'gateway', '--lab', LAB)).code).toBe(0);
    // Negative control: before the filter every host has the gateway's network.
    for (const h of ['host1', 'host2', 'host3']) expect(await routes(h)).toMatch(OUTSIDE);

    const applied = await cli('ctl', 'apply', '-f', 'examples/bgp-filter/my-filter.yaml', '--lab', LAB, '--wait');
    expect(applied.stderr).toBe('');
    expect(applied.code).toBe(0);
    for (const h of ['host1', 'host2', 'host3']) await waitFor(`${h} to drop 198.18.255.0/24`, async () => !OUTSIDE.test(await routes(h)), 15_000, 300);
    // Export is still Calico's after the filter's rules: the gateway has every host's block (from
    // every host, each its own next hop: the sessions are multihop, as Calico's, so next hop self).
    expect((await routes('gw')).match(/^198\.19\.\S+ (via 198\.18\.0\.1[123] dev eth0 )?proto bird/gm)).toHaveLength(3);
    expect((await cli('ctl', 'get', 'bgpfilters', '--lab', LAB)).stdout).toMatch(/^my-filter\s+2\s+2\s+2\s+2$/m);

    // The peer without filters: the gateway's network is imported again.
    const plain = join(dir, 'plain.yaml');
    writeFileSync(plain, 'apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata: {name: router-gw}\nspec: {peerIP: 198.18.0.2, asNumber: 64513, nodeSelector: all()}\n');
    expect((await cli('ctl', 'apply', '-f', plain, '--lab', LAB, '--wait')).code).toBe(0);
    for (const h of ['host1', 'host2', 'host3']) await waitFor(`${h} to learn 198.18.255.0/24 again`, async () => OUTSIDE.test(await routes(h)), 15_000, 300);

    // Calico 3.32's operations, for eBGP peers only (the gateway, AS 64513): the gateway's routes
    // to the blocks carry the community and the prepended AS; without the filter they do not.
    const tagging = join(dir, 'tagging.yaml');
    writeFileSync(
      tagging,
      [
        'apiVersion: projectcalico.org/v3\nkind: BGPFilter\nmetadata: {name: tag-for-ebgp}\nspec:\n  exportV4:\n    - {action: Accept, peerType: eBGP, matchOperator: In, cidr: 198.19.0.0/16, operations: [{addCommunity: {value: "65000:200"}}, {prependASPath: {prefix: [65001]}}]}\n    - {action: Accept, peerType: iBGP, matchOperator: In, cidr: 198.19.0.0/16, operations: [{addCommunity: {value: "65000:999"}}]}',
        'apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata: {name: router-gw}\nspec: {peerIP: 198.18.0.2, asNumber: 64513, nodeSelector: all(), filters: [tag-for-ebgp]}',
      ].join('\n---\n'),
    );
    expect((await cli('ctl', 'apply', '-f', tagging, '--lab', LAB, '--wait')).code).toBe(0);
    const gw = readLabState(LAB).routers.find((r) => r.name === 'gw')!;
    const birdOfGw = () => birdc(gw.bird.socket, 'show route all');
    await waitFor('the gateway to see the community', async () => /BGP\.community: \(65000,200\)/.test(await birdOfGw()), 15_000, 300);
    const tagged = await birdOfGw();
    expect(tagged).toMatch(/BGP\.as_path: 64512 65001/);
    expect(tagged).not.toContain('(65000,999)');
    writeFileSync(plain, 'apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata: {name: router-gw}\nspec: {peerIP: 198.18.0.2, asNumber: 64513, nodeSelector: all()}\n');
    expect((await cli('ctl', 'apply', '-f', plain, '--lab', LAB, '--wait')).code).toBe(0);
    await waitFor('the community to go', async () => !/\(65000,200\)/.test(await birdOfGw()), 15_000, 300);
  }, 120_000);
});
