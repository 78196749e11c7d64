import { describe, expect, it } from 'vitest';
import { judgeProbe } from '../../src/verify/reachability.js';

const to = { name: 'w2', family: 4 as const, ip: '198.19.0.2' };

describe('a TCP/UDP cell is judged on who answered and whom they saw', () => {
  it('passes when the intended workload answers and saw our own address', () => {
    expect(judgeProbe('w1', '198.19.0.1', 'tcp', to, { target: 'x', ok: true, reply: 'w2 198.19.0.1', ms: 0.4 })).toMatchObject({ ok: true, rttMs: 0.4, seenAs: '198.19.0.1' });
  });
  it('fails when another endpoint answers on that address (an open port is not enough)', () => {
    expect(judgeProbe('w1', '198.19.0.1', 'tcp', to, { target: 'x', ok: true, reply: 'impostor 198.19.0.1', ms: 1 })).toMatchObject({ ok: false, detail: 'answered by "impostor"' });
  });
  it('fails when the answer saw another source address: NAT on the way', () => {
    expect(judgeProbe('w1', '198.19.0.1', 'udp', to, { target: 'x', ok: true, reply: 'w2 198.18.0.11', ms: 1 })).toMatchObject({
      ok: false,
      detail: 'seen as 198.18.0.11, not 198.19.0.1: address translated',
    });
  });
  it('fails with the probe error when nothing answered', () => {
    expect(judgeProbe('w1', '198.19.0.1', 'tcp', to, { target: 'x', ok: false, error: 'connect ECONNREFUSED', ms: 1 })).toMatchObject({ ok: false, detail: 'connect ECONNREFUSED' });
  });
});
