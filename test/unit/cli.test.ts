import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommanderError, Command } from 'commander';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { CommanderExit, errorLines, exitCodeFor } from '../../src/cli/exit.js';
import { billionLaughs } from '../helpers/bad-input.js';
import { BackendError, InputError, InterruptedError, NoSuchLabError, TopologyError } from '../../src/util/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'csim-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The built CLI, as a user runs it (none of these commands needs root or a lab); execa strips the last newline. */
const cli = async (...args: string[]) => {
  const r = await execa(process.execPath, ['bin/calico-sim.js', ...args], { reject: false, timeout: 30_000 });
  return { code: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
};

describe('exit codes', () => {
  it('2 bad input, 3 could not run, 128 + n interrupted', () => {
    expect(exitCodeFor(new InputError('x'))).toBe(2);
    expect(exitCodeFor(new TopologyError('x'))).toBe(2);
    expect(exitCodeFor(new NoSuchLabError('a', []))).toBe(2);
    expect(exitCodeFor(new BackendError('BIRD died'))).toBe(3);
    expect(exitCodeFor(new Error('timeout'))).toBe(3);
    expect(exitCodeFor('a string')).toBe(3);
    expect(exitCodeFor(new InterruptedError('SIGINT'))).toBe(130);
    expect(exitCodeFor(new InterruptedError('SIGTERM'))).toBe(143);
  });
  it('a usage error is 2 with one line and a hint; help asked for is 0 and says nothing more', () => {
    const sub = new Command('calico-sim').command('bench').command('policy');
    const usage = new CommanderExit(new CommanderError(1, 'commander.unknownOption', "error: unknown option '--x'"), sub);
    expect(exitCodeFor(usage)).toBe(2);
    expect(errorLines(usage)).toEqual(["calico-sim: unknown option '--x'", '(see calico-sim bench policy --help)']);
    const help = new CommanderExit(new CommanderError(0, 'commander.helpDisplayed', '(outputHelp)'), sub);
    expect(exitCodeFor(help)).toBe(0);
    expect(errorLines(help)).toEqual([]);
  });
});

describe('the CLI', () => {
  it('--help of the program, a group and a command', async () => {
    for (const args of [['--help'], ['bench', '--help'], ['bench', 'policy', '--help'], ['run', '--help'], ['report', 'schema', '--help'], ['help', 'bench']]) {
      const r = await cli(...args);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout, args.join(' ')).toMatch(/^Usage: calico-sim/);
      expect(r.stderr).toBe('');
    }
    expect((await cli('bench', '--help')).stdout).toMatch(/throughput[\s\S]*convergence[\s\S]*policy/);
    expect((await cli('--help')).stdout).toMatch(/Exit codes: 0 done or passed, 1 checks ran and something failed, 2 bad input, 3 could not run/);
  });
  it('every command has --help', async () => {
    const commands = [
      'up',
      'down',
      'status',
      'ls',
      'probe',
      'exec',
      'birdc',
      'heal',
      'workload',
      'workload add',
      'workload del',
      'host',
      'host add',
      'host del',
      'ctl',
      'ctl apply',
      'ctl delete',
      'ctl get',
      'ctl node',
      'ctl node status',
      'ctl ipam',
      'ctl ipam show',
      'ctl ipam check',
      'ctl ipam release',
      'run',
      'conformance',
      'bench',
      'bench throughput',
      'bench convergence',
      'bench policy',
      'report',
      'report diff',
      'report schema',
    ];
    const results = await Promise.all(commands.map((c) => cli(...c.split(' '), '--help')));
    results.forEach((r, i) => {
      expect(r.code, commands[i]).toBe(0);
      expect(r.stdout, commands[i]).toMatch(new RegExp(`^Usage: calico-sim ${commands[i]} `));
    });
    expect((await cli('run', '--help')).stdout).toMatch(/quickstart[\s\S]*tenant-isolation[\s\S]*security-groups[\s\S]*default-deny/);
  });
  it.each([
    [['up', '--hosts', '0x2', 'two-host'], 'calico-sim: --hosts takes a whole number, not "0x2"'],
    [['up', '--hosts', ' 1e0 ', 'mesh'], 'calico-sim: --hosts takes a whole number, not " 1e0 "'],
    [['bench', 'policy', '--trials', ''], 'calico-sim: --trials takes a whole number ≥ 1, not ""'],
    [
      ['bench', 'convergence', '--events', 'link-flap,meteor'],
      'calico-sim: --events: unknown event "meteor" (known: workload-existing-block, workload-new-block, host-join, host-crash, rr-fail, link-flap, agent-restart, bird-restart, etcd-restart)',
    ],
    [['workload', 'add', 'w9', '--host', 'host1', '--label', 'role'], 'calico-sim: --label takes key=value, not "role"'],
    [['up', 'two-host', '--lab', 'a', '--name', 'b'], 'calico-sim: --lab "a" and --name "b": --name is --lab\'s other spelling, give one'],
    [['run', 'nosuch'], 'calico-sim: unknown scenario "nosuch" (known: quickstart, tenant-isolation, security-groups, default-deny)'],
    [['run', 'quickstart', '--break', 'web'], 'calico-sim: quickstart does not take --break'],
    [['run', 'quickstart', '--backend', 'lxc'], 'calico-sim: --backend takes netns or docker, not "lxc"'],
    [['conformance', '--lab', 'x', '--backend', 'docker'], "calico-sim: --backend builds the suite's labs; a lab given with --lab is checked where it is"],
    [
      ['up', 'two-host', '--backend', 'docker', '--agents', 'shared'],
      'calico-sim: the docker backend runs an agent inside each host container (as calico-node does): shared agent processes are for the netns backend',
    ],
    [['up', 'two-host', '--backend', 'lxc'], 'calico-sim: unknown backend "lxc" (known: netns, docker)'],
    [['ctl', 'get', 'wep', '-A', '-n', 'x'], 'calico-sim: give -n NAMESPACE or -A, not both'],
    [['ctl', 'get', 'wep', 'w1', '-A'], 'calico-sim: -A lists every namespace; a named resource is looked up in one (-n NAMESPACE, default "default")'],
    [['ctl', 'get', 'wep', '-o', 'xml'], 'calico-sim: --output takes table, wide, yaml or json, not "xml"'],
    [['report', 'schema', 'conformance'], 'calico-sim: unknown results kind "conformance" (known: bench-throughput, bench-convergence, bench-policy, bench-scale)'],
  ])('bad input %j: exit 2, one line', async (args, line) => {
    const r = await cli(...args);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(line);
    expect(r.stdout).toBe('');
  });
  it.each([
    [['nosuchcommand'], "calico-sim: unknown command 'nosuchcommand'", 'calico-sim'],
    [['stauts'], "calico-sim: unknown command 'stauts' (Did you mean status?)", 'calico-sim'],
    [['bench', 'nosuch'], "calico-sim: unknown command 'nosuch'", 'calico-sim bench'],
    [['up', 'two-host', '--nosuch'], "calico-sim: unknown option '--nosuch'", 'calico-sim up'],
    [['up'], "calico-sim: missing required argument 'topology'", 'calico-sim up'],
    [['status', '--name', 'lab1'], "calico-sim: unknown option '--name' (the lab is --lab)", 'calico-sim status'],
    [['workload', 'add', 'w9', '--host', 'h1', '--name', 'w9'], "calico-sim: unknown option '--name' (the lab is --lab)", 'calico-sim workload add'],
    [['workload', 'add', 'w9'], "calico-sim: required option '--host <host>' not specified", 'calico-sim workload add'],
    [['report', 'diff', 'a'], "calico-sim: missing required argument 'new'", 'calico-sim report diff'],
    [['down', 'extra'], "calico-sim: too many arguments for 'down'. Expected 0 arguments but got 1.", 'calico-sim down'],
    [['bench'], 'calico-sim: missing command after "bench": throughput, convergence, policy, scale', 'calico-sim bench'],
  ])('usage error %j: exit 2, one line and a hint, not the help', async (args, line, cmd) => {
    const r = await cli(...args);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`${line}\n(see ${cmd} --help)`);
    expect(r.stdout).toBe('');
  });
  it("the agent refuses to program a namespace that is not a lab's: the root one, or a container that is not a lab's host", async () => {
    for (const env of [{}, { CALICO_SIM_NODE: 'csim_x_h_h1' }]) {
      const r = await execa(process.execPath, ['dist/agent/main.js', '--host', 'not-this-machine', '--etcd', 'http://127.0.0.1:1'], { reject: false, env, timeout: 20_000 });
      expect(r.exitCode).toBe(1);
      expect(String(r.stderr)).toContain("refusing to program a namespace that is not a calico-sim lab's");
    }
  });
  it('a YAML alias bomb in a topology or resource file: exit 2 at once, one line naming the file and the field', async () => {
    const bomb = join(dir, 'bomb.yaml');
    writeFileSync(bomb, billionLaughs(9));
    for (const args of [
      ['up', bomb],
      ['ctl', 'apply', '-f', bomb],
      ['ctl', 'delete', '-f', bomb],
    ]) {
      const t0 = performance.now();
      const r = await cli(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.startsWith(`calico-sim: ${bomb}: `)).toBe(true);
      expect(r.stderr).toMatch(/: l2\[0\]: alias \*l1: its aliases would expand more than 100 times \(a YAML alias bomb, "billion laughs"\): refused$/);
      expect(r.stderr).not.toContain('\n');
      expect(r.stdout).toBe('');
      expect(performance.now() - t0).toBeLessThan(10_000);
    }
  });
  it('ctl delete -f reads documents without spec (it goes on to look for the lab)', async () => {
    const file = join(dir, 'del.yaml');
    writeFileSync(file, 'apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: p}\n---\napiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: web, namespace: t}\n');
    const r = await cli('ctl', 'delete', '-f', file, '--lab', 't-bi-nolab');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^calico-sim: no lab named "t-bi-nolab"/);
    // apply still needs the spec.
    const a = await cli('ctl', 'apply', '-f', file, '--lab', 't-bi-nolab');
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(new RegExp(`^calico-sim: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: document 1 \\(IPPool p\\): spec: required`));
  });
  it('up of a topology whose pool cannot hold its workloads: exit 2, one line, nothing built', async () => {
    const file = join(dir, 'small-pool.yaml');
    writeFileSync(file, 'pools: [{cidr: 198.19.0.0/30, blockSize: 30}]\nhosts: [{name: a, workloads: [w1, w2, w3]}, {name: b, workloads: [w4, w5]}]\n');
    const r = await cli('up', file, '--name', 't-bi-pool');
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`calico-sim: ${file}: pools: the IPv4 pool (198.19.0.0/30) holds 4 addresses; the 5 workloads need 5 IPv4 addresses, one each (a /29 pool or larger)`);
    expect(r.stdout).toBe('');
    expect(existsSync('/run/calico-sim/t-bi-pool')).toBe(false);
  });
  it('report schema bench-policy prints the JSON Schema of bench-policy files', async () => {
    const r = await cli('report', 'schema', 'bench-policy');
    expect(r.code, r.stderr).toBe(0);
    const schema = JSON.parse(r.stdout) as { properties: { kind: { const: string }; results: { properties: object } } };
    expect(schema.properties.kind.const).toBe('bench-policy');
    expect(Object.keys(schema.properties.results.properties)).toEqual(['rows', 'trials']);
  });
  it('report diff of two kinds says so plainly (exit 2)', async () => {
    const file = (name: string, kind: string) => {
      const f = join(dir, name);
      writeFileSync(f, JSON.stringify({ schema: 'calico-sim/results/v1', kind }));
      return f;
    };
    const r = await cli('report', 'diff', file('t.json', 'bench-throughput'), file('p.json', 'bench-policy'));
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('calico-sim: cannot compare a bench-throughput run with a bench-policy run');
  });
});
