import { describe, expect, it } from 'vitest';
import { limitedRunner, type CommandResult, type CommandRunner } from '../../src/util/exec.js';

describe('limitedRunner: a shared agent process runs at most N commands at once', () => {
  it('queues the rest, runs them all in order of arrival, and passes results and errors through', async () => {
    let active = 0;
    let most = 0;
    const started: string[] = [];
    const inner: CommandRunner = {
      async run(argv): Promise<CommandResult> {
        active++;
        most = Math.max(most, active);
        started.push(argv[0]!);
        await new Promise((r) => setTimeout(r, 5));
        active--;
        if (argv[0] === 'bad') throw new Error('bad command');
        return { stdout: argv[0]!, stderr: '', exitCode: 0 };
      },
    };
    const r = limitedRunner(inner, 3);
    const names = Array.from({ length: 12 }, (_, i) => (i === 5 ? 'bad' : `c${i}`));
    const results = await Promise.allSettled(names.map((n) => r.run([n])));
    expect(most).toBe(3);
    expect(started).toEqual(names);
    expect(results.map((x) => (x.status === 'fulfilled' ? x.value.stdout : (x.reason as Error).message))).toEqual(names.map((n) => (n === 'bad' ? 'bad command' : n)));
  });
});
