/**
 * Bad input on real labs, through the CLI as a user types it: what only a running lab can show.
 * Labs: t-bi-ds (dual stack, one host, no workload) and t-bi-named (named by its file's `name:`;
 * its file is t-bi-file.yaml, so that naming it after the file would make t-bi-file).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { keys } from '../../src/datastore/keys.js';
import { down, up, withDatastore } from '../../src/sim/lab.js';
import { readLabState } from '../../src/sim/state.js';
import { resolveTopology } from '../../src/topologies/index.js';
import { cli, labNamespaces } from '../helpers/lab.js';

const DS = 't-bi-ds';
const NAMED = 't-bi-named';
const BY_FILE = 't-bi-file';
const dir = mkdtempSync(join(tmpdir(), 'csim-bi-'));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

afterAll(async () => {
  await down(DS);
  await down(NAMED);
  await down(BY_FILE);
  rmSync(dir, { recursive: true, force: true });
});

describe('bad input on a running lab', () => {
  it("ctl apply refuses an IPv6 pool over the lab's IPv6 fabric, even once the Node records no longer say it", async () => {
    await down(DS);
    await up(resolveTopology('dual-stack', { hosts: 1, workloads: 0 }), { name: DS });
    // Node host1 applied as calicoctl users write it (as examples/switch-to-route-reflector.yaml
    // does): an IPv4 address only. host1's eth0 keeps its IPv6 fabric address all the same.
    const node = file('node.yaml', 'apiVersion: projectcalico.org/v3\nkind: Node\nmetadata: {name: host1}\nspec: {bgp: {ipv4Address: 198.18.0.11/17}}\n');
    expect((await cli('ctl', 'apply', '-f', node, '--lab', DS)).code).toBe(0);
    const pools = () => withDatastore(readLabState(DS), async (ds) => (await ds.list(keys.ippools)).items.map((i) => [i.key, i.modRevision]));
    const before = await pools();

    const pool = file('v6.yaml', 'apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: over-fabric}\nspec: {cidr: "2001:db8:f::/80"}\n');
    const r = await cli('ctl', 'apply', '-f', pool, '--lab', DS);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `calico-sim: ${pool}: document 1 (IPPool over-fabric): spec.cidr: pool 2001:db8:f::/80 overlaps the IPv6 fabric 2001:db8:f::/64: workload routes would shadow host addresses`,
    );
    expect(await pools()).toEqual(before);
    await down(DS);
  });

  it("up FILE without --name names the lab after the file's name:", async () => {
    await down(NAMED);
    const topology = file(`${BY_FILE}.yaml`, `name: ${NAMED}\nhosts: [{name: host1}]\n`);
    const r = await cli('up', topology);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`lab "${NAMED}" is up`));
    expect(labNamespaces(NAMED).length).toBeGreaterThan(0);
    expect(labNamespaces(BY_FILE)).toEqual([]);
    expect((await cli('down', '--name', NAMED)).code).toBe(0);
  });
});
