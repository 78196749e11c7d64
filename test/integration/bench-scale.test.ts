import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { validateRunReport } from '../../src/report/results-schema.js';
import { benchScale } from '../../src/scenarios/bench-scale.js';

const dir = mkdtempSync(join(tmpdir(), 'csim-scale-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('bench scale (3 hosts: the curves come from the benchmark command, not from here)', () => {
  it('measures a mesh and a route-reflector lab, reports a size it cannot build, and writes results.json (validated) and the report', async () => {
    const r = await benchScale({ modes: ['mesh', 'rr'], hosts: [3, 30000], agents: 'auto', reportDir: dir, log: () => undefined, labPrefix: 't-sc' });
    const rows = r.results.rows;
    expect(rows.map((x) => `${x.mode} ${x.hosts} ${x.ok}`)).toEqual(['mesh 3 true', 'mesh 30000 false', 'rr 3 true', 'rr 30000 false']);
    for (const x of rows.filter((y) => y.ok)) {
      expect(x.upMs!.total, `${x.mode}`).toBeGreaterThan(0);
      expect(x.newBlockMs, `${x.mode}`).toBeGreaterThan(0);
      expect(x.crashWithdrawMs, `${x.mode}`).toBeGreaterThan(0);
      expect(x.memoryMB!.birdTotal).toBeGreaterThan(0);
    }
    expect(rows[0]!.sessions).toMatchObject({ total: 3, perHostMax: 2 });
    expect(rows[2]!.sessions).toMatchObject({ total: 3, perHostMax: 2 }); // host3 with both reflectors, and the reflectors with each other
    expect(rows[1]!.reason).toMatch(/bridges hold at most 24000 hosts/);
    const files = join(dir, r.runId);
    expect(validateRunReport(JSON.parse(readFileSync(join(files, 'results.json'), 'utf8')))).toMatchObject({ ok: true });
    for (const f of ['report.md', 'report.html', 'converged.png', 'sessions.png', 'memory.png', 'churn.png']) expect(existsSync(join(files, f)), f).toBe(true);
  }, 120_000);
});
