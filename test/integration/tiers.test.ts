import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { down } from '../../src/sim/lab.js';
import { cli } from '../helpers/lab.js';

const LAB = 't-tiers';
const dir = mkdtempSync(join(tmpdir(), 'csim-tiers-'));
afterAll(async () => {
  await down(LAB);
  rmSync(dir, { recursive: true, force: true });
});

const EXPECT = 'examples/tiers/expect.yaml';
const probe = () => cli('probe', '--lab', LAB, '--port', '6379', '--expect', EXPECT);

describe("tiers: Calico's Tier and GlobalNetworkPolicy reference samples, applied unchanged, take effect", () => {
  it('the tier allows the frontend, denies the rest at its end; defaultAction Pass hands the rest to the next tier', async () => {
    await down(LAB);
    expect((await cli('up', 'examples/tiers/topology.yaml', '--lab', LAB)).code).toBe(0);
    // Negative control: before the tier, everything is open, so the expectations fail.
    const before = await probe();
    expect(before.code).toBe(1);
    expect(before.stdout).toMatch(/NOT AS EXPECTED: other → database: expected blocked, tcp v4 :6379 was open/);

    const applied = await cli('ctl', 'apply', '-f', 'examples/tiers/internal-access.yaml', '--lab', LAB, '--wait');
    expect(applied.code).toBe(0);
    const after = await probe();
    expect(after.stdout).toMatch(/all 5 expectations hold/);
    expect(after.code).toBe(0);

    // As calicoctl shows them; the default tier is the lab's from the start.
    const tiers = await cli('ctl', 'get', 'tiers', '--lab', LAB);
    expect(tiers.stdout.split('\n').map((l) => l.trim().split(/\s+/))).toEqual([
      ['NAME', 'ORDER', 'DEFAULTACTION'],
      ['---------------', '-------', '-------------'],
      ['default', '1000000', 'Deny'],
      ['internal-access', '100', 'Deny'],
    ]);
    // A tier that holds a policy, and the default tier, cannot be deleted (libcalico-go/lib/clientv3/tier.go).
    const tierFile = (name: string) => {
      const f = join(dir, `${name}.yaml`);
      writeFileSync(f, `apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: ${name}}\n`);
      return f;
    };
    const del = await cli('ctl', 'delete', '-f', tierFile('internal-access'), '--lab', LAB);
    expect(del.code).toBe(2);
    expect(del.stderr).toMatch(/Cannot delete a non-empty tier: it holds GlobalNetworkPolicy internal-access\.allow-tcp-6379/);
    expect((await cli('ctl', 'delete', '-f', tierFile('default'), '--lab', LAB)).stderr).toMatch(/Cannot delete default tier/);
    // A policy in a tier that does not exist is refused before anything is written.
    const orphan = join(dir, 'orphan.yaml');
    writeFileSync(orphan, 'apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: x}\nspec: {tier: nowhere, selector: all()}\n');
    const refused = await cli('ctl', 'apply', '-f', orphan, '--lab', LAB);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/spec\.tier: no Tier named "nowhere"/);

    // defaultAction Pass: what the tier does not decide goes on to the default tier (empty: the profiles, which allow).
    const pass = join(dir, 'pass.yaml');
    writeFileSync(pass, 'apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: internal-access}\nspec: {order: 100, defaultAction: Pass}\n');
    expect((await cli('ctl', 'apply', '-f', pass, '--lab', LAB, '--wait')).code).toBe(0);
    const passed = await probe();
    expect(passed.code).toBe(1);
    expect(passed.stdout).toMatch(/NOT AS EXPECTED: other → database: expected blocked, tcp v4 :6379 was open/);
    expect(passed.stdout).toMatch(/NOT AS EXPECTED: frontend → database: expected blocked, icmp v4 was open/);
  }, 180_000);
});
