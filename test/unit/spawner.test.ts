import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { Spawner } from '../../src/util/spawner.js';

// The spawner child is the built one (dist/util/spawner-main.js; the global setup builds).
describe('Spawner: commands forked by a small child process', () => {
  const s = new Spawner();

  it('returns output, exit code and what went to stdin', async () => {
    expect(await s.run(['sh', '-c', 'cat; echo err >&2; exit 3'], 'in\n', 5_000)).toMatchObject({ stdout: 'in\n', stderr: 'err\n', exitCode: 3 });
  });

  it('runs commands side by side and answers each its own', async () => {
    const rs = await Promise.all([3, 1, 2].map((n) => s.run(['sh', '-c', `sleep 0.${n}; echo ${n}`], undefined, 5_000)));
    expect(rs.map((r) => r.stdout)).toEqual(['3\n', '1\n', '2\n']);
  });

  it('says when a command cannot start, and when it ran out of time', async () => {
    expect((await s.run(['/nonexistent/cmd'], undefined, 5_000)).error).toMatch(/ENOENT/);
    expect(await s.run(['sleep', '5'], undefined, 100)).toMatchObject({ timedOut: true, signal: 'SIGTERM' });
  });

  it('carries large outputs whole', async () => {
    const r = await s.run(['head', '-c', '3000000', '/dev/zero'], undefined, 5_000);
    expect(r.stdout.length).toBe(3_000_000);
  });

  // Last: it kills every spawner of this process.
  it('a spawner that dies fails the commands it had out; the next command starts a new one', async () => {
    const mine = new Spawner();
    const out = mine.run(['sleep', '5'], undefined, 10_000);
    await new Promise((r) => setTimeout(r, 300));
    execFileSync('pkill', ['-KILL', '-P', String(process.pid), '-f', 'spawner-main']);
    await expect(out).rejects.toThrow(/the spawner process exited \(SIGKILL\) before the command ended/);
    expect((await mine.run(['echo', 'again'], undefined, 5_000)).stdout).toBe('again\n');
  });
});
