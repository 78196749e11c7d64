import { describe, expect, it } from 'vitest';
import { cellCheck, negativeControl, type Check } from '../../src/scenarios/conformance.js';

const c = (name: string, ok: boolean, actual = 'x'): Check => ({ suite: 's', name, ok, expected: 'e', actual });

describe('negative controls pass only when the checker reports the violation', () => {
  const capture = (encapOk: boolean, natOk: boolean) => [
    c('no encapsulation on the fabric', encapOk, encapOk ? '3 flows' : 'encapsulated (vxlan vni 4096): outer …'),
    c('no NAT on the fabric', natOk, natOk ? '3 flows' : 'NAT suspected: 198.18.0.11 …'),
    c('a routed hop between two hosts', true),
  ];
  it('VXLAN: passes when encapsulation is flagged, fails when the checker saw nothing', () => {
    expect(negativeControl('encapsulation', capture(false, true)).find((x) => /VXLAN/.test(x.name))!.ok).toBe(true);
    expect(negativeControl('encapsulation', capture(true, true)).find((x) => /VXLAN/.test(x.name))!.ok).toBe(false);
  });
  it('NAT: passes when NAT is flagged and probes saw a translated source, fails otherwise', () => {
    const probes = [c('tcp v4 w1 → outside', false, 'seen as 198.18.0.11, not 198.19.0.1: address translated')];
    const flagged = negativeControl('nat', [...capture(true, false), ...probes]);
    expect(flagged.filter((x) => /negative control/.test(x.name)).every((x) => x.ok)).toBe(true);
    expect(flagged.some((x) => x.name === 'tcp v4 w1 → outside')).toBe(false);
    const blind = negativeControl('nat', capture(true, true));
    expect(blind.filter((x) => /negative control/.test(x.name)).map((x) => x.ok)).toEqual([false, false]);
  });
});

describe('a cell is judged against what the scenario expects', () => {
  const cell = { from: 'w1', to: 'w2', family: 4 as const, proto: 'tcp' as const, ip: '198.19.0.2' };
  it('expected reachable: passes only when it answered', () => {
    expect(cellCheck('s', { ...cell, ok: true, rttMs: 0.3 }, 'pass').ok).toBe(true);
    expect(cellCheck('s', { ...cell, ok: false, detail: 'timeout' }, 'pass')).toMatchObject({ ok: false, actual: 'timeout' });
  });
  it('expected blocked: passes only when it did not answer', () => {
    expect(cellCheck('s', { ...cell, ok: false, detail: 'timeout' }, 'blocked')).toMatchObject({ ok: true, name: 'tcp v4 w1 → w2 (blocked)' });
    expect(cellCheck('s', { ...cell, ok: true, rttMs: 0.3 }, 'blocked').ok).toBe(false);
    // A refusal or a wrong answer means the packet got through: not blocked.
    expect(cellCheck('s', { ...cell, ok: false, detail: 'connect ECONNREFUSED 198.19.0.2:7777' }, 'blocked').ok).toBe(false);
    expect(cellCheck('s', { ...cell, ok: false, detail: 'answered by "w3"' }, 'blocked').ok).toBe(false);
    expect(cellCheck('s', { ...cell, proto: 'icmp', ok: false, detail: 'no echo reply' }, 'blocked').ok).toBe(true);
  });
});
