import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateRunReport } from '../../src/report/results-schema.js';
import { benchConvergence } from '../../src/scenarios/bench-convergence.js';

const dir = mkdtempSync(join(tmpdir(), 'csim-conv-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('bench convergence (one short trial: the figures come from the benchmark command)', () => {
  it('measures control-plane time from route events and data-plane loss from a stream, and writes the report', async () => {
    const r = await benchConvergence({ trials: 1, events: ['workload-new-block', 'agent-restart'], settings: ['tuned'], reportDir: dir, log: () => undefined, labPrefix: 't-b' });
    const m = r.results.measurements;
    const add = m.find((x) => x.event === 'workload-new-block')!;
    expect(add.controlPlaneMs!.median).toBeGreaterThan(0);
    const restart = m.find((x) => x.event === 'agent-restart')!.trials[0]!.stream!;
    // At least the 4 s minimum; stopped soon after, since traffic never stopped.
    expect(restart.sent).toBeGreaterThanOrEqual(4000);
    expect(restart.sent).toBeLessThan(10_000);
    expect(restart.recovered).toBe(true);
    expect(restart.received).toBeGreaterThan(restart.sent - 100); // the stream really flowed
    const files = join(dir, r.runId);
    expect(validateRunReport(JSON.parse(readFileSync(join(files, 'results.json'), 'utf8')))).toMatchObject({ ok: true });
    for (const f of ['report.md', 'report.html', 'control-plane.png', 'loss.png']) expect(existsSync(join(files, f)), f).toBe(true);
  }, 180_000);

  it('a link flap under BFD: the stream lasts until traffic is back, so its loss is a measurement, not a lower bound', async () => {
    const r = await benchConvergence({ trials: 1, events: ['link-flap'], settings: ['bfd'], reportDir: dir, log: () => undefined, labPrefix: 't-b' });
    const s = r.results.measurements[0]!.trials[0]!.stream!;
    expect(s.recovered).toBe(true);
    // BFD tears the sessions down within the 1 s outage; BIRD then waits before it reconnects.
    expect(s.lossDerivedMs).toBeGreaterThan(1000);
    expect(s.lossDerivedMs).toBeLessThan(r.parameters.streamCapS * 1000);
    // One outage, and traffic flowed again (about a second: ~1,000 packets, plus the ~1,000
    // before the event) before the stream stopped: the outage is all inside it.
    expect(s.longestGapMs).toBeGreaterThan(0.9 * s.lossDerivedMs);
    expect(s.received).toBeGreaterThan(1700);
  }, 240_000);

  it('BIRD and etcd killed and restarted with graceful restart on (default timers): not one packet lost', async () => {
    const r = await benchConvergence({ trials: 1, events: ['bird-restart', 'etcd-restart'], settings: ['default'], reportDir: dir, log: () => undefined, labPrefix: 't-b' });
    for (const m of r.results.measurements) {
      const s = m.trials[0]!.stream!;
      expect(s.recovered, m.event).toBe(true);
      expect(s.received, m.event).toBeGreaterThan(3900); // the stream really flowed
      // Without `-R` on the restarted BIRD its peers dropped its routes on reconnect: 1–44 ms lost.
      expect(s.lost, `${m.event}: packets lost`).toBe(0);
    }
  }, 180_000);
});
