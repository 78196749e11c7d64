import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PolicyBenchResults } from '../../src/report/policy-report.js';
import { benchPolicy, policyBenchMarkdown, writePolicyBenchReport } from '../../src/scenarios/bench-policy.js';
import { validateResources } from '../../src/ctl/parse.js';

const summary = (median: number) => ({ n: 3, median, min: median, max: median });

describe('bench policy', () => {
  it('rules: N filler rules nothing in the lab matches, then the allowing rules; valid for ctl', () => {
    const p = benchPolicy('rules', 1000, '198.19.0.5', 7101) as { spec: { ingress: { source?: { nets?: string[]; selector?: string }; destination?: { ports: number[] } }[] } };
    expect(p.spec.ingress).toHaveLength(1002);
    const fillers = p.spec.ingress.slice(0, 1000).map((r) => r.source!.nets![0]!);
    expect(new Set(fillers).size).toBe(1000);
    expect(fillers.every((n) => n.startsWith('198.18.1') && n.endsWith('/32') && n !== '198.19.0.5/32')).toBe(true);
    expect(p.spec.ingress[1000]).toMatchObject({ source: { selector: "role == 'client'" }, destination: { ports: [5201, 7101] } });
    expect(() => validateResources([p])).not.toThrow();
  });

  it('members: one rule whose set holds N addresses, the client among them', () => {
    const p = benchPolicy('members', 1000, '198.19.0.5', 7101) as { spec: { ingress: { source: { nets: string[] } }[] } };
    expect(p.spec.ingress[0]!.source.nets).toHaveLength(1000);
    expect(p.spec.ingress[0]!.source.nets).toContain('198.19.0.5/32');
    expect(() => validateResources([p])).not.toThrow();
  });

  const row = (dataplane: 'iptables' | 'nftables', ratio: number, enforce: number, variant: 'rules' | 'none' = 'rules') => ({
    dataplane,
    variant,
    size: variant === 'none' ? 0 : 1000,
    enforceMs: summary(enforce),
    gbps: summary(10 * ratio),
    ratio,
    connectMs: { p50: 0.5, p99: 1 },
    pingMs: { p50: 0.1, p99: 0.2 },
  });

  it('the verdicts against the targets follow the figures', () => {
    const r = {
      runId: 'x',
      parameters: { dataplanes: ['iptables', 'nftables'] as ('iptables' | 'nftables')[], sizes: [1000], variants: ['rules' as const], trials: 3, durationS: 3 },
      results: { rows: [row('iptables', 0.97, 800), row('nftables', 0.5, 1500)], trials: [] },
    };
    const md = policyBenchMarkdown(r);
    expect(md).toContain('iptables, 1,000 rules: throughput 97.0 % of no policy (target ≥ 90 %) ✔; enforced on every host 800 ms after apply (target ≤ 1,000 ms) ✔');
    expect(md).toContain('nftables, 1,000 rules: throughput 50.0 % of no policy (target ≥ 90 %) ✘; enforced on every host 1500 ms after apply (target ≤ 1,000 ms) ✘');
  });

  it('each chart says how many trials a bar is the median of, and what its whiskers are', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'csim-bench-policy-'));
    try {
      const r = {
        runId: 'x',
        parameters: { dataplanes: ['iptables'], sizes: [1000], variants: ['rules'], trials: 3, durationS: 3 },
        results: { rows: [row('iptables', 1, 0, 'none'), row('iptables', 0.97, 800)], trials: [] },
      } as unknown as PolicyBenchResults;
      await writePolicyBenchReport(r, dir);
      const md = readFileSync(join(dir, 'report.md'), 'utf8');
      expect(md).toContain(
        '![ctl apply → the policy is enforced on all 3 hosts (ms), per rules (or set members) per endpoint; bar = median of 3 trials, whiskers = min–max of those trials](enforce.png)',
      );
      expect(md).toContain('% of the same dataplane with no policy; bar = median of 3 trials, whiskers = min–max of those trials](throughput.png)');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
