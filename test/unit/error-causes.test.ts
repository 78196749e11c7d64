import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { birdc, checkBirdConfig } from '../../src/bgp/bird.js';
import { loadTopologyFile, parseTopology } from '../../src/model/topology.js';
import { IptablesPolicy } from '../../src/policy/iptables-apply.js';
import { loadResults } from '../../src/report/diff.js';
import { BackendError, CommandError, InputError, TopologyError } from '../../src/util/errors.js';
import type { CommandResult, CommandRunner } from '../../src/util/exec.js';

/** A runner whose every command fails with `r` (thrown unless `reject: false`, as the real one). */
const failing = (r: CommandResult): CommandRunner => ({
  async run(argv, opts = {}) {
    if (opts.reject === false) return r;
    throw new CommandError({ argv, ...r });
  },
});

/** An error that wraps another keeps it as `cause`: the chain is there for whoever prints it. */
describe('wrapping errors keep their cause', () => {
  const dir = mkdtempSync(join(tmpdir(), 'calico-sim-causes-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const caught = (fn: () => unknown): Error => {
    try {
      fn();
    } catch (err) {
      return err as Error;
    }
    throw new Error('did not throw');
  };

  it('a results file that cannot be read', () => {
    const err = caught(() => loadResults(join(dir, 'missing.json')));
    expect(err).toBeInstanceOf(InputError);
    expect((err.cause as NodeJS.ErrnoException).code).toBe('ENOENT');
  });

  it('a results file that is not JSON', () => {
    writeFileSync(join(dir, 'bad.json'), '{ nope');
    const err = caught(() => loadResults(join(dir, 'bad.json')));
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toMatch(/bad\.json: not JSON: /);
    expect(err.cause).toBeInstanceOf(SyntaxError);
  });

  it('a topology file that cannot be read, or is not YAML', () => {
    const missing = caught(() => loadTopologyFile(join(dir, 'missing.yaml')));
    expect(missing).toBeInstanceOf(TopologyError);
    expect((missing.cause as NodeJS.ErrnoException).code).toBe('ENOENT');
    const yaml = caught(() => parseTopology('hosts: [a, b\n', 't.yaml'));
    expect(yaml).toBeInstanceOf(TopologyError);
    expect(yaml.cause).toBeInstanceOf(Error);
  });

  it('BIRD: an invalid config and a failed birdc keep the failed command', async () => {
    const invalid = await checkBirdConfig('/etc/b.conf', failing({ stdout: '', stderr: 'bird: /etc/b.conf:3:1 syntax error', exitCode: 1 })).catch((e: unknown) => e);
    expect(invalid).toBeInstanceOf(BackendError);
    expect((invalid as Error).message).toBe('invalid BIRD config: /etc/b.conf:3:1 syntax error');
    expect((invalid as Error).cause).toMatchObject({ argv: ['bird', '-p', '-c', '/etc/b.conf'], exitCode: 1 });
    const down = await birdc('/run/b.ctl', 'show protocols', failing({ stdout: '', stderr: 'Unable to connect to server control socket', exitCode: 1 })).catch((e: unknown) => e);
    expect((down as Error).message).toBe('birdc -s /run/b.ctl show protocols: Unable to connect to server control socket');
    expect((down as Error).cause).toBeInstanceOf(CommandError);
    expect((down as Error).cause).toMatchObject({ argv: ['birdc', '-s', '/run/b.ctl', 'show', 'protocols'] });
  });

  it('the iptables policy: its error names the namespace and keeps the failed command', async () => {
    const err = await new IptablesPolicy('csim-x-h1', failing({ stdout: '', stderr: 'ipset v7.17: Kernel error', exitCode: 1 })).remove().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect((err as Error).message).toBe('iptables policy in csim-x-h1: command failed: nsenter --net=/run/netns/csim-x-h1 -- iptables-save -t filter (exit code 1): ipset v7.17: Kernel error');
    expect((err as Error).cause).toMatchObject({ argv: ['nsenter', '--net=/run/netns/csim-x-h1', '--', 'iptables-save', '-t', 'filter'], exitCode: 1 });
  });
});
