import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchThroughput } from '../../src/scenarios/bench-throughput.js';

const dir = mkdtempSync(join(tmpdir(), 'csim-bench-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('bench throughput (one short trial: the figures come from the benchmark command, not from here)', () => {
  it('measures the four paths side by side and writes results.json and report.md', async () => {
    const r = await benchThroughput({ trials: 1, durationS: 1, reportDir: dir, log: () => undefined });
    expect(r.results.map((x) => `${x.path} ${x.mode}`)).toEqual(
      ['host-host', 'l3', 'vxlan', 'same-host'].flatMap((p) => ['tcp-1', 'tcp-4', 'udp'].map((m) => `${p} ${m}`)));
    for (const x of r.results) expect(x.gbps.median, `${x.path} ${x.mode}`).toBeGreaterThan(0);
    expect(Object.keys(r.ratios)).toEqual(['l3/host-host', 'vxlan/host-host', 'same-host/host-host', 'l3/vxlan']);
    expect(r.latency.every((l) => l.samples > 150 && l.p99Ms >= l.p50Ms)).toBe(true);
    const files = join(dir, r.runId);
    expect(JSON.parse(readFileSync(join(files, 'results.json'), 'utf8')).kind).toBe('throughput');
    expect(existsSync(join(files, 'report.md'))).toBe(true);
  }, 180_000);
});
