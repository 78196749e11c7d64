import { describe, expect, it } from 'vitest';
import { pool } from '../../src/util/pool.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('pool', () => {
  it("runs at most `limit` jobs at once and keeps the jobs' order", async () => {
    let running = 0;
    let most = 0;
    const jobs = [30, 10, 20, 5, 15].map((ms, i) => async () => {
      most = Math.max(most, ++running);
      await sleep(ms);
      running--;
      return i;
    });
    expect(await pool(jobs, 2)).toEqual([0, 1, 2, 3, 4]);
    expect(most).toBe(2);
  });

  it('after a failure starts nothing new, and throws only once the running jobs have ended', async () => {
    const ended: number[] = [];
    const jobs = [
      async () => {
        await sleep(5);
        throw new Error('first');
      },
      async () => {
        await sleep(40);
        ended.push(1);
      },
      async () => {
        ended.push(2);
      },
    ];
    await expect(pool(jobs, 2)).rejects.toThrow('first');
    // Job 1 was running when job 0 failed: it finished before the error came; job 2 never started.
    expect(ended).toEqual([1]);
  });
});
