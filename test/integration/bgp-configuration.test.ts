import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { birdc } from '../../src/bgp/bird.js';
import { down, up } from '../../src/sim/lab.js';
import { readLabState } from '../../src/sim/state.js';
import { resolveTopology } from '../../src/topologies/index.js';
import { inNetns } from '../../src/util/exec.js';
import { cli } from '../helpers/lab.js';

const LAB = 't-bgp-conf';
const dir = mkdtempSync(join(tmpdir(), 'csim-bgp-conf-'));
afterAll(async () => {
  await down(LAB);
  rmSync(dir, { recursive: true, force: true });
});
const inNs = async (netns: string, argv: string[]) => {
  const [cmd, ...args] = inNetns(netns, argv);
  return (await execa(cmd!, args)).stdout;
};

describe("BGPConfiguration: Calico's reference sample, applied unchanged, takes effect (confd's templates)", () => {
  it('the mesh moves to port 178 on the node addresses and AS 63400; the service ranges are announced, never programmed', async () => {
    await down(LAB);
    await up(resolveTopology('two-host'), { name: LAB });
    const applied = await cli('ctl', 'apply', '-f', 'examples/bgp-configuration/bgpconfig.yaml', '--lab', LAB, '--wait');
    expect(applied.stdout).toMatch(/BGP settled .*2\/2 sessions Established, every block learned everywhere/);
    expect(applied.code).toBe(0);
    const [h1, h2] = readLabState(LAB).hosts;
    // listenPort 178, bindMode NodeIP: BIRD listens on the node's address and port 178 only, and the session runs there.
    expect(await inNs(h1!.netns, ['ss', '-Htnl'])).toMatch(new RegExp(`${h1!.ip.replaceAll('.', '\\.')}:178 `));
    expect(await inNs(h1!.netns, ['ss', '-Htnl'])).not.toMatch(/:179 /);
    expect(await inNs(h1!.netns, ['ss', '-Htn', 'state', 'established'])).toMatch(/:178 /);
    const proto = `Mesh_${h2!.ip.replaceAll('.', '_')}`;
    expect(await birdc(h1!.bird.socket, `show protocols all ${proto}`)).toMatch(/Local AS:\s+63400/);
    // The service ranges: exported to the peers from every node, kept out of every kernel.
    const exported = await birdc(h1!.bird.socket, `show route export ${proto}`);
    for (const r of ['10.96.0.0/12', '104.244.42.129/32', '172.217.3.0/24']) expect(exported).toContain(r);
    for (const h of [h1!, h2!]) expect(await inNs(h.netns, ['ip', 'route', 'show', 'table', 'all'])).not.toMatch(/10\.96\.0\.0|104\.244|172\.217/);
    // Negative control: back to Calico's defaults, BIRD listens on 179 again and the ranges are gone.
    const defaults = join(dir, 'defaults.yaml');
    writeFileSync(defaults, 'apiVersion: projectcalico.org/v3\nkind: BGPConfiguration\nmetadata: {name: default}\nspec: {}\n');
    expect((await cli('ctl', 'apply', '-f', defaults, '--lab', LAB, '--wait')).code).toBe(0);
    expect(await inNs(h1!.netns, ['ss', '-Htnl'])).toMatch(/:179 /);
    expect(await birdc(h1!.bird.socket, `show route export ${proto}`)).not.toContain('10.96.0.0/12');
  }, 120_000);
});
