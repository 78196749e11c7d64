import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateRunReport } from '../../src/report/results-schema.js';
import { benchThroughput } from '../../src/scenarios/bench-throughput.js';

const dir = mkdtempSync(join(tmpdir(), 'csim-bench-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('bench throughput (one short trial: the figures come from the benchmark command, not from here)', () => {
  it('measures the four paths side by side and writes results.json (validated) and the report', async () => {
    const lines: string[] = [];
    const r = await benchThroughput({ trials: 1, durationS: 1, reportDir: dir, log: (l) => lines.push(l), labPrefix: 't-bench' });
    const d = r.results;
    expect(d.throughput.map((x) => `${x.path} ${x.mode}`)).toEqual(['host-host', 'l3', 'vxlan', 'same-host'].flatMap((p) => ['tcp-1', 'tcp-4', 'udp'].map((m) => `${p} ${m}`)));
    for (const x of d.throughput) expect(x.gbps.median, `${x.path} ${x.mode}`).toBeGreaterThan(0);
    expect(Object.keys(d.ratios)).toEqual(['l3/host-host', 'vxlan/host-host', 'same-host/host-host', 'l3/vxlan']);
    expect(d.latency.every((l) => l.samples > 150 && l.p99Ms >= l.p50Ms && l.p50Trials!.n === 1)).toBe(true);
    const files = join(dir, r.runId);
    const json = JSON.parse(readFileSync(join(files, 'results.json'), 'utf8'));
    expect(validateRunReport(json)).toMatchObject({ ok: true });
    expect(json).toMatchObject({ schema: 'calico-sim/results/v1', kind: 'bench-throughput', topology: { name: 'two-host', hosts: 2 } });
    expect(json.versions.bird).toMatch(/^2\./);
    for (const f of ['report.md', 'report.html', 'throughput.png', 'rtt-cdf.png']) expect(existsSync(join(files, f)), f).toBe(true);
    // Not on a terminal: plain progress lines, one per measurement.
    expect(lines.filter((l) => /trial 1\/1 · tcp-1 l3: [\d.]+ Gbit\/s$/.test(l))).toHaveLength(1);
  }, 180_000);
});
