import { afterAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkLab } from '../../src/scenarios/conformance.js';
import { down, up } from '../../src/sim/lab.js';
import { status } from '../../src/sim/status.js';
import { resolveTopology } from '../../src/topologies/index.js';
import { cli } from '../helpers/lab.js';

const dir = mkdtempSync(join(tmpdir(), 'csim-conf-'));
afterAll(async () => {
  await down('t-conf');
  rmSync(dir, { recursive: true, force: true });
});

describe('the conformance suite', () => {
  it('passes on two-host and writes JUnit with one testcase per check', async () => {
    const junit = join(dir, 'junit.xml');
    const r = await cli('conformance', 'two-host', '--junit', junit, '--json', join(dir, 'r.json'), '--report-dir', join(dir, 'reports'));
    expect(r.stdout).toMatch(/conformance: 90 passed, 0 failed/);
    expect(r.code).toBe(0);
    const xml = readFileSync(junit, 'utf8');
    expect(xml.match(/<testcase /g)).toHaveLength(90);
    expect(xml).toContain('name="no encapsulation on the fabric"');
    expect(xml).not.toContain('<failure');
    const json = JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8'));
    expect(json.checks.find((c: { name: string }) => c.name === 'no NAT on the fabric').actual).toMatch(/\d+ flows, \d+ packets inspected/);
  });

  it('a dataplane broken on purpose (a DROP rule on one host) fails, naming the broken pairs', async () => {
    await down('t-conf');
    const { state } = await up(resolveTopology('two-host'), { name: 't-conf' });
    const st = await status(state);
    const w3 = st.workloads.find((w) => w.name === 'w3')!;
    // In host2's namespace, never the root one: traffic to w3 is dropped on its way in.
    await execa('ip', ['netns', 'exec', state.hosts[1]!.netns, 'iptables', '-I', 'FORWARD', '-d', w3.ip, '-j', 'DROP']);
    const checks = await checkLab('two-host', state, join(dir, 'broken'));
    const failed = checks.filter((c) => !c.ok);
    expect(failed.length).toBeGreaterThan(0);
    // Every failing reachability cell involves w3 (requests to it, or replies to it, are dropped);
    // pairs without w3 still pass.
    const cells = failed.filter((c) => /^(icmp|tcp|udp) v4 /.test(c.name));
    expect(cells.map((c) => c.name)).toEqual(expect.arrayContaining(['icmp v4 w1 → w3', 'tcp v4 w2 → w3', 'udp v4 w1 → w3']));
    expect(cells.every((c) => / w3 |→ w3$/.test(c.name))).toBe(true);
    expect(checks.find((c) => c.name === 'icmp v4 w1 → w2')!.ok).toBe(true);
    const cell = failed.find((c) => c.name === 'tcp v4 w1 → w3')!;
    expect(cell.expected).toContain(w3.ip);
    expect(cell.actual).toMatch(/timeout|no answer/);
    // A drop is not NAT or a tunnel: the capture checks still pass (no false alarm).
    for (const name of ['no NAT on the fabric', 'no encapsulation on the fabric', 'a routed hop between two hosts']) {
      expect(checks.find((c) => c.name === name)!.ok, name).toBe(true);
    }
    await down('t-conf');
  });

  it('the negative controls are flagged: NAT by the capture checker and the probes, VXLAN by the capture checker', async () => {
    const json = join(dir, 'controls.json');
    const r = await cli('conformance', 'control-nat', 'control-vxlan', '--json', json, '--report-dir', join(dir, 'controls'));
    expect(r.code).toBe(0);
    const checks = JSON.parse(readFileSync(json, 'utf8')).checks as { name: string; ok: boolean; actual: string }[];
    const nat = checks.find((c) => c.name === 'negative control: the capture checker reports NAT')!;
    expect(nat.ok).toBe(true);
    expect(nat.actual).toMatch(/NAT suspected: 198\.18\.0\.1\d \(host\d's host address\) > 198\.18\.255\.10/);
    expect(checks.find((c) => c.name === "negative control: the probes see the host address, not the workload's")!.ok).toBe(true);
    const vxlan = checks.find((c) => c.name === 'negative control: the capture checker reports VXLAN')!;
    expect(vxlan.ok).toBe(true);
    expect(vxlan.actual).toMatch(/encapsulated \(vxlan vni 4096\)/);
    // The overlay still carries every pair: it is the benchmarks' baseline, not a broken lab.
    expect(checks.filter((c) => /^(icmp|tcp|udp) v4 w\d → w\d$/.test(c.name)).every((c) => c.ok)).toBe(true);
  }, 120_000);
});
