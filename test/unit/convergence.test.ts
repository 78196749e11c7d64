import { describe, expect, it } from 'vitest';
import { flowingAgainAt, parseRouteMonitor, routeConvergence, streamLoss, summarizeTrials, type RecvSample, type TrialResult } from '../../src/measure/convergence.js';

describe('control-plane convergence from route events', () => {
  const monitor = (lines: string[]) => lines.join('\n');
  it('parses `ip -ts monitor route` adds and deletes with microseconds', () => {
    const ev = parseRouteMonitor(
      'h2',
      monitor([
        '[2026-11-26T14:28:08.808530] 198.19.0.64/26 via 198.18.0.11 dev eth0 proto bird metric 32 ',
        '[2026-11-26T14:28:08.811898] Deleted blackhole 198.19.1.0/26 proto 80 ',
        '[2026-11-26T14:28:09.000001] 198.19.0.5 dev cali1234 proto 80 scope link ',
        'garbage',
      ]),
    );
    expect(ev.map((e) => [e.kind, e.dst, e.proto])).toEqual([
      ['add', '198.19.0.64/26', 'bird'],
      ['del', '198.19.1.0/26', '80'],
      ['add', '198.19.0.5/32', '80'],
    ]);
    expect(ev[1]!.atUs - ev[0]!.atUs).toBe(3368);
  });

  it('known timestamps give the known convergence time: the slowest host, first event after the trigger', () => {
    const t0 = Date.parse('2026-11-26T14:28:08') * 1000;
    const ev = [
      ...parseRouteMonitor('h2', '[2026-11-26T14:28:07.900000] 198.19.0.64/26 via 198.18.0.11 dev eth0 proto bird\n[2026-11-26T14:28:08.120000] 198.19.0.64/26 via 198.18.0.11 dev eth0 proto bird'),
      ...parseRouteMonitor('h3', '[2026-11-26T14:28:08.345000] 198.19.0.64/26 via 198.18.0.11 dev eth0 proto bird'),
    ];
    const r = routeConvergence(ev, t0, '198.19.0.64/26', 'add', ['h2', 'h3']);
    expect(r.perHost).toEqual({ h2: 120_000, h3: 345_000 });
    expect(r.convergedUs).toBe(345_000);
    const partial = routeConvergence(ev, t0, '198.19.0.64/26', 'add', ['h2', 'h3', 'h4']);
    expect(partial.convergedUs).toBeUndefined();
    expect(partial.missing).toEqual(['h4']);
    expect(routeConvergence(ev, t0, '198.19.0.64/26', 'del', ['h2']).missing).toEqual(['h2']);
  });
});

describe('data-plane convergence from a constant-rate probe stream', () => {
  it('a known gap gives the known loss: 1,000 pkt/s, 250 lost in one run → 250 ms', () => {
    const received = Array.from({ length: 2000 }, (_, i) => i).filter((s) => s < 700 || s >= 950);
    expect(streamLoss(received, 2000, 1000)).toEqual({ sent: 2000, received: 1750, lost: 250, lossDerivedMs: 250, longestGapMs: 250, duplicates: 0 });
  });
  it('scattered losses add up, the longest gap is the longest run; duplicates are not received twice', () => {
    const received = [0, 1, 3, 4, 4, 8, 9];
    expect(streamLoss(received, 10, 100)).toEqual({ sent: 10, received: 6, lost: 4, lossDerivedMs: 40, longestGapMs: 30, duplicates: 1 });
  });
  it('no loss is zero', () => {
    expect(streamLoss([0, 1, 2], 3, 1000)).toMatchObject({ lost: 0, lossDerivedMs: 0, longestGapMs: 0 });
  });
});

describe('when a stream flows again (so that it is stopped after the whole outage)', () => {
  /** Receiver counts every 100 ms from t=0: full rate (1,000 pkt/s) except during [downFrom, downTo). */
  const counts = (downFrom: number, downTo: number, untilMs: number): RecvSample[] => {
    const out: RecvSample[] = [];
    let n = 0;
    for (let t = 100; t <= untilMs; t += 100) {
      if (t <= downFrom || t > downTo) n += 100;
      out.push({ atMs: t, received: n });
    }
    return out;
  };
  it('an outage from 1 s to 12 s after an event that ended at 2 s: flowing again 1 s after it ends', () => {
    expect(flowingAgainAt(counts(1000, 12_000, 20_000), 2000, 1000, 1000, 1)).toBe(13_000);
    // At the default 90 %, the window 11.9–12.9 s already qualifies (nine tenths at full rate).
    expect(flowingAgainAt(counts(1000, 12_000, 20_000), 2000, 1000)).toBe(12_900);
  });
  it('no outage: one full window after the event', () => {
    expect(flowingAgainAt(counts(0, 0, 5000), 2000, 1000)).toBe(3000);
  });
  it('still down at the end (or too few samples): not yet', () => {
    expect(flowingAgainAt(counts(1000, 30_000, 20_000), 2000, 1000)).toBeUndefined();
    expect(flowingAgainAt(counts(0, 0, 2500), 2000, 1000)).toBeUndefined();
  });
  it('a trickle below 90 % of the rate is not flowing', () => {
    const slow = Array.from({ length: 50 }, (_, i) => ({ atMs: i * 100, received: i * 80 }));
    expect(flowingAgainAt(slow, 0, 1000)).toBeUndefined();
    expect(flowingAgainAt(slow, 0, 1000, 1000, 0.75)).toBe(1000);
  });
});

describe('trial summaries', () => {
  const stream = (lost: number, recovered = true) => ({ sent: 5000, received: 5000 - lost, lost, lossDerivedMs: lost, longestGapMs: lost, duplicates: 0, recovered });
  it('median, min and max of each figure over the trials that have it', () => {
    const rs: TrialResult[] = [{ controlPlaneMs: 300 }, { controlPlaneMs: 100 }, { note: 'trial failed: x' }, { controlPlaneMs: 200 }];
    expect(summarizeTrials(rs)).toEqual({ controlPlaneMs: { n: 3, median: 200, min: 100, max: 300 } });
  });
  it('a stream that did not recover is counted apart, not as a loss figure', () => {
    const rs: TrialResult[] = [{ stream: stream(1000) }, { stream: stream(59_000, false) }, { stream: stream(3000) }];
    expect(summarizeTrials(rs)).toEqual({
      lossMs: { n: 2, median: 2000, min: 1000, max: 3000 },
      longestGapMs: { n: 2, median: 2000, min: 1000, max: 3000 },
      notRecovered: 1,
    });
    expect(summarizeTrials([{ stream: stream(59_000, false) }])).toEqual({ notRecovered: 1 });
  });
});
