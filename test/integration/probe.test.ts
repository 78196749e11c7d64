import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { down } from '../../src/sim/lab.js';
import { waitFor } from '../../src/util/exec.js';
import { cli } from '../helpers/lab.js';
import type { ProbeRun } from '../../src/scenarios/probe.js';

const LAB = 't-probe';
const dir = mkdtempSync(join(tmpdir(), 'csim-probe-'));
afterAll(async () => {
  await down(LAB);
  rmSync(dir, { recursive: true, force: true });
});

const EXPECT = 'examples/first-lab/expect.yaml';

describe('probe: the first-lab walkthrough of the README, on a lab built from its files', () => {
  it('all open before the policy (so --expect fails: exit 1), one flow blocked after it (exit 0)', async () => {
    await down(LAB);
    expect((await cli('up', 'examples/first-lab/topology.yaml', '--lab', LAB)).code).toBe(0);

    // Every pair, ICMP and TCP on the database's port: all open, each answered by the workload asked.
    const before = await cli('probe', '--lab', LAB, '--port', '5432', '-o', 'json');
    expect(before.code).toBe(0);
    const run = JSON.parse(before.stdout) as ProbeRun;
    expect(run).toMatchObject({ lab: LAB, protos: ['icmp', 'tcp'], families: [4, 6], ports: [5432], pairs: 6 });
    expect(run.cells).toHaveLength(12); // IPv4 only in this lab: 6 pairs × (icmp + tcp)
    expect(run.cells.filter((c) => !c.ok)).toEqual([]);
    // No NAT: the server saw each client's own address.
    const ipOf = (name: string) => run.cells.find((x) => x.to === name)!.ip;
    for (const c of run.cells.filter((x) => x.proto === 'tcp')) expect(c.seenAs).toBe(ipOf(c.from));

    // Negative control: the expectations do not hold yet (client → db is open).
    const early = await cli('probe', '--lab', LAB, '--port', '5432', '--expect', EXPECT);
    expect(early.code).toBe(1);
    expect(early.stdout).toMatch(/NOT AS EXPECTED: client → db: expected blocked, tcp v4 :5432 was open/);

    // The suite's checks on this lab as the user built it (all open); --sample leaves the captures out.
    const cf = await cli('conformance', '--lab', LAB, '--sample', '3', '--report-dir', dir);
    expect(cf.code).toBe(0);
    expect(cf.stdout).toMatch(/^control plane +3\/3 passed$/m);
    expect(cf.stdout).toMatch(/^reachability +\d+\/\d+ passed$/m);
    expect(cf.stdout).toMatch(/^captures +left out \(--sample\)$/m);
    expect(cf.stdout).toContain(`report: ${dir}/${LAB}`);

    expect((await cli('ctl', 'apply', '-f', 'examples/first-lab/db-policy.yaml', '--lab', LAB)).code).toBe(0);
    // The agents program the policy within a pass; the expectations then hold.
    const after = await waitFor(
      'the policy to take effect',
      async () => {
        const r = await cli('probe', '--lab', LAB, '--port', '5432', '--expect', EXPECT);
        return r.code === 0 ? r : undefined;
      },
      30_000,
      500,
    );
    expect(after.stdout).toMatch(/all 5 expectations hold/);
    expect(after.stdout).toMatch(/client +db +tcp v4 :5432 +198\.19\.\S+ +BLOCKED/);

    // --from/--to by selector and a sample.
    const sel = JSON.parse((await cli('probe', '--lab', LAB, '--from', "role == 'web'", '--to', 'db,client', '--proto', 'icmp', '-o', 'json')).stdout) as ProbeRun;
    expect(sel.cells.map((c) => `${c.from}>${c.to}`).sort()).toEqual(['web>client', 'web>db']);
    const sample = JSON.parse((await cli('probe', '--lab', LAB, '--sample', '2', '--proto', 'icmp', '-o', 'json')).stdout) as ProbeRun;
    expect(sample.pairs).toBe(2);

    // Negative control of conformance --lab: with the policy in, the flows it blocks fail the
    // suite's reachability (which expects every pair open); the control plane and captures pass.
    const blocked = await cli('conformance', '--lab', LAB, '--report-dir', dir);
    expect(blocked.code).toBe(1);
    expect(blocked.stdout).toMatch(/^control plane +3\/3 passed$/m);
    expect(blocked.stdout).toMatch(/^reachability +\d+\/\d+ passed$\n {3}FAIL \w+ v4 \S+ → db/m);
    expect(blocked.stdout).toMatch(/^captures +(\d+)\/\1 passed$/m);
  }, 180_000);

  it('bad input is exit 2 and one line: an unknown workload, a malformed expectations file', async () => {
    const typo = await cli('probe', '--lab', LAB, '--from', 'wbe');
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/^calico-sim: --from "wbe": neither workload or host names \(no workload or host "wbe"; workloads: client, db, web; hosts: host1, host2\)/);
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, '- { from: web, to: db, expect: maybe }\n');
    const r = await cli('probe', '--lab', LAB, '--expect', bad);
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/bad\.yaml: \[0\]\.expect: /);
  });
});
