import { describe, expect, it } from 'vitest';
import { BackendError, CommandError, commandFailureMessage, formatArgv, type CommandFailure } from '../../src/util/errors.js';
import { ipBatch, ipJson, processRunner, run, setSysctls, tryRun, waitFor, type CommandOptions, type CommandResult, type CommandRunner } from '../../src/util/exec.js';

describe('commandFailureMessage', () => {
  const cases: { name: string; failure: CommandFailure; message: string }[] = [
    {
      name: 'exit code and the first line of stderr',
      failure: { argv: ['ip', '-batch', '-'], exitCode: 1, stderr: 'Error: Nexthop device is not up.\n', stdout: '' },
      message: 'command failed: ip -batch - (exit code 1): Error: Nexthop device is not up.',
    },
    {
      name: 'the first three non-blank lines, joined',
      failure: { argv: ['iptables-restore', '-w'], exitCode: 2, stderr: '\nline one\n  line two  \n\nline three\nline four\n' },
      message: 'command failed: iptables-restore -w (exit code 2): line one | line two | line three',
    },
    {
      name: 'stdout when stderr is empty',
      failure: { argv: ['birdc', 'configure'], exitCode: 1, stderr: '', stdout: 'Unable to connect to server control socket\n' },
      message: 'command failed: birdc configure (exit code 1): Unable to connect to server control socket',
    },
    {
      name: 'nothing said',
      failure: { argv: ['false'], exitCode: 1, stderr: '' },
      message: 'command failed: false (exit code 1)',
    },
    {
      name: 'a signal',
      failure: { argv: ['sleep', '10'], exitCode: undefined, signal: 'SIGKILL', stderr: '' },
      message: 'command failed: sleep 10 (killed by SIGKILL)',
    },
    {
      name: 'a reason outranks the signal',
      failure: { argv: ['sleep', '10'], exitCode: undefined, signal: 'SIGTERM', stderr: '', reason: 'timed out after 200 ms' },
      message: 'command failed: sleep 10 (timed out after 200 ms)',
    },
    {
      name: 'no exit code and no reason',
      failure: { argv: ['x'], exitCode: undefined, stderr: '' },
      message: 'command failed: x (did not exit)',
    },
    {
      name: 'arguments a shell would split are quoted',
      failure: { argv: ['sh', '-c', "echo it's >&2; exit 3", ''], exitCode: 3, stderr: "it's" },
      message: `command failed: sh -c 'echo it'\\''s >&2; exit 3' '' (exit code 3): it's`,
    },
  ];
  it.each(cases)('$name', ({ failure, message }) => {
    expect(commandFailureMessage(failure)).toBe(message);
  });

  it('is one line, and clips a long command line and a long output', () => {
    const m = commandFailureMessage({ argv: ['sysctl', '-w', ...Array.from({ length: 100 }, (_, i) => `net.ipv4.conf.cali${i}.forwarding=1`)], exitCode: 255, stderr: 'x'.repeat(1000) });
    expect(m).not.toContain('\n');
    expect(m.length).toBeLessThan(600);
    expect(m).toMatch(/^command failed: sysctl -w net\.ipv4\.conf\.cali0\.forwarding=1 .*… \(exit code 255\): x+…$/);
  });

  it('formatArgv leaves plain words alone', () => {
    expect(formatArgv(['ip', '-n', 'csim-h1', 'route', 'replace', '10.65.0.2/32', 'dev', 'cali1', 'proto', '80'])).toBe('ip -n csim-h1 route replace 10.65.0.2/32 dev cali1 proto 80');
  });
});

describe('CommandError', () => {
  it('keeps the fields and the cause', () => {
    const cause = new Error('underneath');
    const e = new CommandError({ argv: ['false'], exitCode: 1, stderr: 'err', stdout: 'out' }, { cause });
    expect(e).toBeInstanceOf(BackendError);
    expect(e.name).toBe('CommandError');
    expect(e).toMatchObject({ argv: ['false'], exitCode: 1, signal: undefined, stderr: 'err', stdout: 'out', reason: undefined, cause });
    expect(e.message).toBe('command failed: false (exit code 1): err');
  });
});

describe('processRunner', () => {
  it('throws a CommandError with the fields of a real failing command', async () => {
    const argv = ['sh', '-c', 'echo out; echo boom >&2; echo more >&2; exit 3'];
    const err = await processRunner.run(argv).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandError);
    expect(err).toMatchObject({ argv, exitCode: 3, signal: undefined, stderr: 'boom\nmore', stdout: 'out' });
    expect((err as CommandError).message).toBe(`command failed: sh -c 'echo out; echo boom >&2; echo more >&2; exit 3' (exit code 3): boom | more`);
  });

  it('`false` fails with exit code 1 and nothing said', async () => {
    await expect(run('false', [])).rejects.toThrow(new CommandError({ argv: ['false'], exitCode: 1, stderr: '' }).message);
  });

  it('returns the failure when told not to reject', async () => {
    const r = await processRunner.run(['sh', '-c', 'echo boom >&2; exit 3'], { reject: false });
    expect(r).toEqual({ stdout: '', stderr: 'boom', exitCode: 3 });
    expect(await tryRun('sh', ['-c', 'exit 4'])).toEqual({ stdout: '', stderr: '', exitCode: 4 });
  });

  it('feeds stdin and strips the final newline', async () => {
    expect(await processRunner.run(['cat'], { input: 'a\nb\n' })).toEqual({ stdout: 'a\nb', stderr: '', exitCode: 0 });
  });

  it('a timeout and a signal are named, with no exit code', async () => {
    await expect(processRunner.run(['sleep', '5'], { timeoutMs: 100 })).rejects.toMatchObject({
      exitCode: undefined,
      signal: 'SIGTERM',
      reason: 'timed out after 100 ms',
      message: 'command failed: sleep 5 (timed out after 100 ms)',
    });
    await expect(processRunner.run(['sh', '-c', 'kill -KILL $$'])).rejects.toMatchObject({
      exitCode: undefined,
      signal: 'SIGKILL',
      message: "command failed: sh -c 'kill -KILL $$' (killed by SIGKILL)",
    });
  });

  it('a program that does not exist fails with the spawn error as cause', async () => {
    const err = await processRunner.run(['calico-sim-no-such-program']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandError);
    expect(err).toMatchObject({ exitCode: undefined, reason: 'spawn calico-sim-no-such-program ENOENT' });
    expect((err as CommandError).cause).toBeInstanceOf(Error);
  });
});

describe('helpers run through the runner they are given', () => {
  const recorder = () => {
    const calls: { argv: readonly string[]; opts?: CommandOptions }[] = [];
    const runner: CommandRunner = {
      async run(argv, opts): Promise<CommandResult> {
        calls.push({ argv, ...(opts ? { opts } : {}) });
        return { stdout: argv.includes('-j') ? '[{"ifname":"lo"}]' : '', stderr: '', exitCode: 0 };
      },
    };
    return { calls, runner };
  };

  it('ipBatch, ipJson, setSysctls, run', async () => {
    const { calls, runner } = recorder();
    await ipBatch('ns1', ['route del 10.0.0.0/8'], { force: true, runner });
    await ipBatch('ns1', [], { runner });
    expect(await ipJson(undefined, ['link', 'show'], runner)).toEqual([{ ifname: 'lo' }]);
    await setSysctls('ns1', { 'net.ipv4.ip_forward': '1' }, runner);
    await run('true', ['x'], { input: 'in' }, runner);
    expect(calls).toEqual([
      { argv: ['nsenter', '--net=/run/netns/ns1', '--', 'ip', '-force', '-batch', '-'], opts: { input: 'route del 10.0.0.0/8\n' } },
      { argv: ['ip', '-j', 'link', 'show'] },
      { argv: ['nsenter', '--net=/run/netns/ns1', '--', 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1'] },
      { argv: ['true', 'x'], opts: { input: 'in' } },
    ]);
  });
});

describe('waitFor', () => {
  it('keeps the last error as the cause of its timeout', async () => {
    const last = new Error('not yet');
    const err = await waitFor(
      'nothing',
      async () => {
        throw last;
      },
      30,
      10,
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect((err as Error).message).toBe('timed out after 30 ms waiting for nothing: not yet');
    expect((err as Error).cause).toBe(last);
  });
});
