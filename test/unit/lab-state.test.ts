import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { labPhase, processStart, thisBuilder } from '../../src/sim/state.js';

describe('who builds a lab', () => {
  it('a lab without a builder is ready; one whose builder runs is building', () => {
    expect(labPhase({})).toBe('ready');
    expect(labPhase({ builder: thisBuilder() })).toBe('building');
  });

  it('a builder that has exited leaves the lab incomplete', () => {
    const r = spawnSync('true');
    expect(r.pid).toBeGreaterThan(0);
    expect(processStart(r.pid!)).toBeUndefined();
    expect(labPhase({ builder: { pid: r.pid!, start: '1' } })).toBe('incomplete');
  });

  it("a live process that took the builder's pid does not count as the builder (start time differs)", () => {
    const me = thisBuilder();
    expect(me.start).toMatch(/^\d+$/);
    expect(labPhase({ builder: { pid: me.pid, start: String(Number(me.start) - 1) } })).toBe('incomplete');
  });
});
