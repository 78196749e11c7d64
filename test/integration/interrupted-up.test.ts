import { afterAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { existsSync, readFileSync } from 'node:fs';
import { cli, labNamespaces } from '../helpers/lab.js';
import { STATE_ROOT } from '../../src/sim/names.js';
import { sleep } from '../../src/util/exec.js';

/** Processes of a lab: every daemon's command line names a path in its state directory. */
const labProcesses = async (lab: string) => (await execa('pgrep', ['-f', `${STATE_ROOT}/${lab}/`], { reject: false })).stdout.split('\n').filter(Boolean);

async function nothingLeft(lab: string): Promise<void> {
  expect(labNamespaces(lab)).toEqual([]);
  expect(await labProcesses(lab)).toEqual([]);
  expect(existsSync(`${STATE_ROOT}/${lab}`)).toBe(false);
}

/** The lab's state says it was built to the end (no builder recorded any more). */
function builtAndReady(lab: string): boolean {
  const file = `${STATE_ROOT}/${lab}/lab.json`;
  return existsSync(file) && (JSON.parse(readFileSync(file, 'utf8')) as { builder?: unknown }).builder === undefined;
}

/**
 * `up two-host` as a user runs it, stopped by `signal` after `ms`. Resolves with its exit code,
 * or undefined when the signal's default action ended it: before `up` had made anything and
 * taken the signal over, or after it had finished and given the signal back.
 */
async function interruptedUp(lab: string, signal: NodeJS.Signals, ms: number): Promise<number | undefined> {
  const child = execa(process.execPath, ['bin/calico-sim.js', 'up', 'two-host', '--name', lab], { reject: false });
  await sleep(ms);
  child.kill(signal);
  return (await child).exitCode;
}

/** Random moments over the whole of `up` (a two-host up takes ~2-3 s here). */
const moments = (n: number) => Array.from({ length: n }, () => Math.round(100 + Math.random() * 2900));
/** One moment surely inside the build (after the name is claimed, before the lab is up), then random ones. */
const midBuildAndRandom = (n: number) => [1200, ...moments(n)];
const RUNS = Number(process.env.CSIM_INTERRUPT_RUNS ?? 4);

describe('an interrupted up', () => {
  afterAll(async () => {
    await cli('down', '--name', 't-intr');
    await cli('down', '--name', 't-intr-b');
  });

  it.each(['SIGINT', 'SIGTERM'] as const)(
    'rolls back on %s: exit 128+n, nothing left, at random moments',
    async (signal) => {
      for (const ms of moments(RUNS)) {
        const code = await interruptedUp('t-intr', signal, ms);
        // Done before the signal is the only other honest outcome: exit 0, or — a signal between
        // the end of the build and the exit — ended by the signal with the lab built and ready.
        if (code === 0 || (code === undefined && builtAndReady('t-intr'))) {
          await cli('down', '--name', 't-intr');
        } else if (code !== undefined) {
          expect(code, `stopped after ${ms} ms`).toBe(signal === 'SIGINT' ? 130 : 143);
        }
        await nothingLeft('t-intr');
      }
    },
    120_000,
  );

  it('after kill -9 the lab is reported incomplete (status exit 1), and the next up of the name reaps and rebuilds it', async () => {
    let incomplete = 0;
    for (const ms of midBuildAndRandom(RUNS)) {
      await interruptedUp('t-intr', 'SIGKILL', ms);
      const st = await cli('status', '--lab', 't-intr', '--json');
      if (st.code === 2) {
        // Killed before it claimed the name: nothing was made.
        expect(st.stderr).toMatch(/no lab named "t-intr"/);
        await nothingLeft('t-intr');
        continue;
      }
      const s = JSON.parse(st.stdout) as { phase: string; healthy: boolean; errors: string[] };
      // A lab that got all the way up before the kill is ready; anything else is incomplete.
      if (s.phase === 'ready') {
        expect(st.code).toBe(0);
        await cli('down', '--name', 't-intr');
        continue;
      }
      expect(s.phase, `killed after ${ms} ms`).toBe('incomplete');
      incomplete++;
      expect(s.healthy).toBe(false);
      expect(st.code).toBe(1);
      expect(s.errors.join('\n')).toMatch(/incomplete, builder gone/);
      const text = await cli('status', '--lab', 't-intr');
      expect(text.stdout).toMatch(/INCOMPLETE, builder gone/);
      const again = await cli('up', 'two-host', '--name', 't-intr');
      expect(again.code).toBe(0);
      expect(again.stdout).toMatch(/reaped lab "t-intr", left incomplete by process \d+/);
      const down = await cli('down', '--name', 't-intr');
      expect(down.stdout).not.toMatch(/incomplete/);
      await nothingLeft('t-intr');
    }
    // Not vacuous: at least one kill landed mid-build and was judged incomplete.
    expect(incomplete).toBeGreaterThan(0);
  }, 240_000);

  it('down of a lab left incomplete by kill -9 says so and leaves nothing', async () => {
    await interruptedUp('t-intr', 'SIGKILL', 1500);
    const down = await cli('down', '--name', 't-intr');
    // Killed before it made anything: there is no such lab (exit 2), and nothing to leave.
    expect(down.code === 0 || /no lab named "t-intr"/.test(down.stderr)).toBe(true);
    if (down.stdout.includes('removed')) expect(down.stdout).toMatch(/it was incomplete: its builder had died/);
    await nothingLeft('t-intr');
  }, 60_000);

  it('a second up of a name that is being built is refused, and the first one still finishes', async () => {
    const first = execa(process.execPath, ['bin/calico-sim.js', 'up', 'two-host', '--name', 't-intr-b'], { reject: false });
    for (let i = 0; i < 100 && !existsSync(`${STATE_ROOT}/t-intr-b/lab.json`); i++) await sleep(20);
    const second = await cli('up', 'two-host', '--name', 't-intr-b');
    expect(second.code).toBe(2);
    expect(second.stderr).toMatch(/is being built by process \d+|already exists/);
    expect((await first).exitCode).toBe(0);
    expect((await cli('status', '--lab', 't-intr-b')).code).toBe(0);
    await cli('down', '--name', 't-intr-b');
    await nothingLeft('t-intr-b');
  }, 60_000);
});

describe('an empty or malformed lab name is an error for every command, and changes nothing', () => {
  afterAll(async () => {
    await cli('down', '--name', 't-name');
  });

  it.each([
    ['down', '--name', ''],
    ['down', '--lab', ''],
    ['status', '--lab', ''],
    ['heal', '--lab', ''],
    ['exec', '--lab', '', 'host1', '--', 'true'],
    ['workload', 'add', 'wx', '--host', 'host1', '--lab', ''],
    ['workload', 'del', 'host1-w1', '--lab', ''],
    ['host', 'del', 'host2', '--lab', ''],
    ['ctl', 'get', 'nodes', '--lab', ''],
    ['ctl', 'ipam', 'show', '--lab', ''],
    ['down', '--name', 'Bad_Name'],
    ['up', 'two-host', '--name', ''],
    ['run', 'quickstart', '--name', ''],
  ])(
    '%s %s %s …',
    async (...argv) => {
      // The single running lab is what an empty name used to pick.
      if (!existsSync(`${STATE_ROOT}/t-name/lab.json`)) expect((await cli('up', 'two-host', '--name', 't-name')).code).toBe(0);
      const before = labNamespaces('t-name').sort();
      const r = await cli(...argv);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^calico-sim: invalid lab name "(|Bad_Name)"/);
      expect(labNamespaces('t-name').sort()).toEqual(before);
      expect((await cli('status', '--lab', 't-name')).code).toBe(0);
    },
    60_000,
  );
});
