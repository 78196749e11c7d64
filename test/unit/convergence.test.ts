import { describe, expect, it } from 'vitest';
import { parseRouteMonitor, routeConvergence, streamLoss } from '../../src/measure/convergence.js';

describe('control-plane convergence from route events', () => {
  const monitor = (lines: string[]) => lines.join('\n');
  it('parses `ip -ts monitor route` adds and deletes with microseconds', () => {
    const ev = parseRouteMonitor('h2', monitor([
      '[2026-11-26T14:28:08.808530] 198.19.0.64/26 via 198.18.0.11 dev eth0 proto bird metric 32 ',
      '[2026-11-26T14:28:08.811898] Deleted blackhole 198.19.1.0/26 proto 80 ',
      '[2026-11-26T14:28:09.000001] 198.19.0.5 dev cali1234 proto 80 scope link ',
      'garbage',
    ]));
    expect(ev.map((e) => [e.kind, e.dst, e.proto])).toEqual([['add', '198.19.0.64/26', 'bird'], ['del', '198.19.1.0/26', '80'], ['add', '198.19.0.5/32', '80']]);
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
