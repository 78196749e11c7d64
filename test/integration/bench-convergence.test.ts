import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchConvergence } from '../../src/scenarios/bench-convergence.js';

const dir = mkdtempSync(join(tmpdir(), 'csim-conv-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('bench convergence (one short trial: the figures come from the benchmark command)', () => {
  it('measures control-plane time from route events and data-plane loss from a stream, and writes the report', async () => {
    const r = await benchConvergence({ trials: 1, events: ['workload-new-block', 'agent-restart'], settings: ['tuned'], reportDir: dir, log: () => undefined });
    const add = r.results.find((x) => x.event === 'workload-new-block')!;
    expect(add.controlPlaneMs!.median).toBeGreaterThan(0);
    const restart = r.results.find((x) => x.event === 'agent-restart')!;
    expect(restart.trials[0]!.stream!.sent).toBe(4000);
    expect(restart.trials[0]!.stream!.received).toBeGreaterThan(3900); // the stream really flowed
    expect(existsSync(join(dir, r.runId, 'report.md'))).toBe(true);
  }, 180_000);
});
