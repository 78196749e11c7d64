import { afterAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, labNamespaces, netSnapshot } from '../helpers/lab.js';
import { STATE_ROOT } from '../../src/sim/names.js';

/**
 * What a lab must never change in a namespace (the root one, unless told), as text: routes,
 * rules, links, addresses, iptables and nftables rules. Every command must succeed.
 */

/** Labs on this machine that are not this file's: tests must leave them alone. */
const foreignLabs = () => [...new Set(labNamespaces().map((n) => n.split('_')[1]!))].filter((l) => !l.startsWith('t-life'));

const labProcesses = async (lab: string) => (await execa('pgrep', ['-f', `${STATE_ROOT}/${lab}/`], { reject: false })).stdout.split('\n').filter(Boolean);

describe('lab lifecycle from the CLI', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'csim-topo-'));
  afterAll(async () => {
    await cli('down', '--name', 't-life-a');
    await cli('down', '--name', 't-life-b');
    await cli('down', '--name', 't-life-c');
    rmSync(tmp, { recursive: true, force: true });
  });

  it('the snapshot that guards the root namespace sees a change (negative control, in a scratch namespace)', async () => {
    const ns = 'csim_t-life-x_scratch';
    await execa('ip', ['netns', 'add', ns]);
    try {
      const before = await netSnapshot(ns);
      await execa('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      await execa('ip', ['-n', ns, 'route', 'add', 'blackhole', '198.18.250.0/24']);
      expect(await netSnapshot(ns)).not.toBe(before);
    } finally {
      await execa('ip', ['netns', 'del', ns]);
    }
  });

  it('two labs live side by side; down leaves no namespace, process or state dir, and the root namespace unchanged', async () => {
    const before = await netSnapshot();
    const [a, b] = await Promise.all([cli('up', 'two-host', '--name', 't-life-a'), cli('up', 'two-host', '--name', 't-life-b')]);
    expect(a.stderr).toBe('');
    expect(a.code).toBe(0);
    expect(b.code).toBe(0);
    expect(a.stdout).toMatch(/lab "t-life-a" is up: 2 hosts, 4 workloads/);
    expect(a.stdout.match(/preflight:/g)).toHaveLength(1); // said once, before the build
    expect(labNamespaces('t-life-a').length).toBe(7); // fabric + 2 hosts + 4 workloads
    expect(labNamespaces('t-life-b').length).toBe(7);

    // Without --name and with two labs, the CLI asks which one.
    const ambiguous = await cli('status');
    expect(ambiguous.code).not.toBe(0);
    expect(ambiguous.stderr).toMatch(/several labs are running \(.*t-life-a.*t-life-b.*\): say which with --lab/);

    // ls finds both, with what they are (other labs on the machine may be listed too).
    const ls = JSON.parse((await cli('ls', '-o', 'json')).stdout) as { lab: string; backend: string; phase: string; hosts: number; workloads: number; ageS: number }[];
    for (const lab of ['t-life-a', 't-life-b']) expect(ls.find((l) => l.lab === lab)).toMatchObject({ backend: 'netns', phase: 'ready', hosts: 2, workloads: 4 });
    expect((await cli('ls')).stdout).toMatch(/t-life-a +netns +\S*two-host\S* +ready +2 +4 +\d+ s/);

    const text = (await cli('status', '--lab', 't-life-b')).stdout;
    expect(text).toMatch(/^2\/2 sessions Established; 5\/5 daemons running; 4 workloads on 2 hosts$/m);
    expect(text).toMatch(/^host1 +w1 +default +198\.19\./m); // workloads grouped by host, with their namespace

    const st = JSON.parse((await cli('status', '--lab', 't-life-b', '--json')).stdout);
    expect(st.lab).toBe('t-life-b');
    expect(st.bgp.every((s: { state: string }) => s.state === 'Established')).toBe(true);
    const ex = await cli('exec', '--lab', 't-life-b', 'w1', '--', 'ping', '-c1', '-W1', st.workloads.find((w: { name: string }) => w.name === 'w4').ip);
    expect(ex.code).toBe(0);
    // A command that does not exist exits 127, as in a shell; with no command, a shell.
    expect((await cli('exec', '--lab', 't-life-b', 'w1', '--', 'no-such-command')).code).toBe(127);
    const shell = await execa(process.execPath, ['bin/calico-sim.js', 'exec', '--lab', 't-life-b', 'w1'], { input: 'ip -o -4 addr show dev eth0; exit 7\n', reject: false });
    expect(shell.exitCode).toBe(7);
    expect(String(shell.stdout)).toContain(st.workloads.find((w: { name: string }) => w.name === 'w1').ip);
    // The lab's names resolve inside (exec w1 -- ping w3), and the machine's /etc/hosts stays as it was.
    const etcHosts = readFileSync('/etc/hosts', 'utf8');
    const byName = await cli('exec', '--lab', 't-life-b', 'w1', '--', 'ping', '-c1', '-W1', 'w4');
    expect(byName.code).toBe(0);
    expect(byName.stdout).toContain(`PING w4 (${st.workloads.find((w: { name: string }) => w.name === 'w4').ip})`);
    expect((await cli('exec', '--lab', 't-life-b', 'host1', '--', 'getent', 'hosts', 'host2', 'w2.default')).stdout).toMatch(/^198\.18\.0\.12\s+host2\n198\.19\.\S+\s+w2 w2\.default$/);
    expect(readFileSync('/etc/hosts', 'utf8')).toBe(etcHosts);
    expect((await execa('findmnt', ['/etc/hosts'], { reject: false })).stdout).toBe('');
    // birdc on a host's BIRD, its socket found for it.
    const birdc = await cli('birdc', '--lab', 't-life-b', 'host1', 'show', 'protocols');
    expect(birdc.code).toBe(0);
    expect(birdc.stdout).toMatch(/^Mesh_198_18_0_12 +BGP +--- +up +\S+ +Established/m);
    expect((await cli('birdc', '--lab', 't-life-b', 'w1', 'show', 'status')).stderr).toBe('calico-sim: no host or router named "w1" in lab t-life-b (BIRD runs on: host1, host2)');

    expect((await labProcesses('t-life-a')).length).toBeGreaterThanOrEqual(5); // etcd + 2 BIRD + 2 agents
    const downA = await cli('down', '--name', 't-life-a');
    expect(downA.stdout).toMatch(/lab "t-life-a" removed: 7 namespaces, 7 processes/); // etcd, 2 BIRDs, 2 agents and their kernel route watches
    expect(labNamespaces('t-life-a')).toEqual([]);
    expect(labNamespaces('t-life-b').length).toBe(7); // the other lab is untouched
    if (foreignLabs().length === 0) {
      const downAll = await cli('down', '--all');
      expect(downAll.code).toBe(0);
    } else {
      console.log(`not testing down --all: other labs run on this machine (${foreignLabs().join(', ')})`);
      await cli('down', '--name', 't-life-b');
    }
    for (const lab of ['t-life-a', 't-life-b']) {
      expect(labNamespaces(lab)).toEqual([]);
      expect(await labProcesses(lab)).toEqual([]);
      expect(existsSync(`${STATE_ROOT}/${lab}`)).toBe(false);
    }
    expect(await netSnapshot()).toBe(before);
    // down of a lab that is not there changes nothing, and says so: a typo must not look like success.
    const again = await cli('down', '--lab', 't-life-a');
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/^calico-sim: no lab named "t-life-a" \((labs here: .*|no lab exists: start one with calico-sim up two-host)\)$/);
    expect(await netSnapshot()).toBe(before);
  });

  it('an up that fails half way removes everything it made', async () => {
    const r = await cli('up', 'test/fixtures/fails-midway.yaml', '--name', 't-life-c');
    expect(r.code).toBe(3); // could not run (not bad input: the file is valid, the pool ran out)
    expect(r.stderr).toMatch(/exhausted.*strict affinity/);
    expect(labNamespaces('t-life-c')).toEqual([]);
    expect(await labProcesses('t-life-c')).toEqual([]);
    expect(existsSync(`${STATE_ROOT}/t-life-c`)).toBe(false);
  });

  it('down cleans up after a crash: namespaces and daemons with no state file are still found', async () => {
    const up = await cli('up', 'two-host', '--name', 't-life-a');
    expect(up.code).toBe(0);
    await execa('rm', ['-rf', `${STATE_ROOT}/t-life-a`]); // the engine's memory is gone
    const down = await cli('down', '--name', 't-life-a');
    expect(down.stdout).toMatch(/lab "t-life-a" removed: 7 namespaces, 7 processes/); // etcd, 2 BIRDs, 2 agents and their kernel route watches
    expect(labNamespaces('t-life-a')).toEqual([]);
    expect(await labProcesses('t-life-a')).toEqual([]);
  });

  describe('bad input gets one clear error, a non-zero exit, and creates nothing', () => {
    const file = (name: string, text: string) => {
      const p = join(tmp, name);
      writeFileSync(p, text);
      return p;
    };
    const cases: [string, string[], RegExp][] = [
      ['malformed YAML', [file('broken.yaml', 'hosts: [ {name: a\n')], /broken\.yaml: .*malformed YAML/],
      ['an unknown field', [file('typo.yaml', 'hosts: [{name: a, workload: [x]}]\n')], /typo\.yaml: hosts\[0\]: .*workload/],
      ['an unknown topology name', ['no-such-topology'], /unknown topology "no-such-topology"/],
      ['a duplicate host name', [file('dup.yaml', 'hosts: [{name: a}, {name: a}]\n')], /dup\.yaml: hosts\[1\]\.name: duplicate name "a"/],
      ['a pool overlapping the fabric', [file('overlap.yaml', 'pools: [{cidr: 198.18.0.0/20}]\nhosts: [{name: a}]\n')], /overlap\.yaml: pools\[0\]\.cidr: pool 198\.18\.0\.0\/20 overlaps the fabric/],
      ['a bad lab name', ['two-host', '--name', 'Bad_Name'], /invalid lab name "Bad_Name"/],
      ['a fabric outside the lab ranges', [file('rfc1918.yaml', 'fabric: 10.0.0.0/24\nhosts: [{name: a}]\n')], /rfc1918\.yaml: fabric: 10\.0\.0\.0\/24 is outside the lab address ranges/],
      [
        'a loopback pool',
        [file('loopback.yaml', 'pools: [{cidr: 127.1.0.0/16}]\nhosts: [{name: a}]\n')],
        /loopback\.yaml: pools\[0\]\.cidr: 127\.1\.0\.0\/16 overlaps the loopback range 127\.0\.0\.0\/8/,
      ],
    ];
    it.each(cases)('%s', async (_what, args, re) => {
      const before = { netns: labNamespaces(), state: existsSync(STATE_ROOT) ? readdirSync(STATE_ROOT) : [] };
      const r = await cli('up', ...args);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(re);
      expect(labNamespaces()).toEqual(before.netns);
      expect(existsSync(STATE_ROOT) ? readdirSync(STATE_ROOT) : []).toEqual(before.state);
    });
  });

  it('every command has --help', async () => {
    for (const args of [[], ['up'], ['down'], ['status'], ['exec'], ['workload'], ['workload', 'add'], ['workload', 'del'], ['heal'], ['run']]) {
      const r = await cli(...args, '--help');
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout).toMatch(/Usage: calico-sim/);
    }
  });
});
