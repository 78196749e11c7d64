import { describe, expect, it } from 'vitest';
import { POLICY_SCENARIOS, runPolicyScenario } from '../../src/scenarios/policy.js';
import { labNamespaces } from '../helpers/lab.js';

/**
 * The three policy scenarios on both rulesets, each cell judged against the scenario's own
 * expectation (written by hand, not derived from the compilers), and the negative control: a
 * policy with one Allow flipped to Deny fails exactly at the cells that rule allowed.
 */
describe('policy scenarios', () => {
  for (const dataplane of ['iptables', 'nftables'] as const) {
    for (const s of POLICY_SCENARIOS) {
      it(`${s.id} on ${dataplane}`, async () => {
        const r = await runPolicyScenario({ scenario: s.id, dataplane, name: `t-pol-${s.id.slice(0, 4)}-${dataplane.slice(0, 3)}` });
        const failed = r.checks.filter((c) => !c.ok);
        expect(failed.map((c) => `${c.name}: ${c.actual}`)).toEqual([]);
        expect(r.cells.filter((c) => c.ok).length).toBeGreaterThan(0);
        expect(r.cells.filter((c) => !c.ok).length).toBeGreaterThan(0);
        console.log(`${s.id} on ${dataplane}: ${r.checks.length} cells as expected; policy on every host ${r.timings.enforced} ms after apply`);
      }, 120_000);
    }
  }

  for (const dataplane of ['iptables', 'nftables'] as const) {
    it(`negative control on ${dataplane}: app's Allow flipped to Deny fails exactly web → app on TCP 8080`, async () => {
      const r = await runPolicyScenario({ scenario: 'security-groups', dataplane, breakPolicy: 'app', name: `t-pol-brk-${dataplane.slice(0, 3)}` });
      expect(r.passed).toBe(false);
      expect(
        r.checks
          .filter((c) => !c.ok)
          .map((c) => c.name)
          .sort(),
      ).toEqual(['tcp/8080 v4 web1 → app1', 'tcp/8080 v4 web1 → app2', 'tcp/8080 v4 web2 → app1', 'tcp/8080 v4 web2 → app2']);
    }, 120_000);
  }

  it('leaves no namespace behind', () => {
    expect(labNamespaces().filter((n) => n.includes('t-pol-'))).toEqual([]);
  });
});
