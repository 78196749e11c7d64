import { describe, expect, it } from 'vitest';
import { createProgress, formatElapsed, plainLine, statusLine } from '../../src/util/progress.js';

/** A terminal stand-in: what was written, and the screen line as a terminal would show it. */
function fakeTty(columns = 60) {
  const writes: string[] = [];
  return {
    isTTY: true,
    columns,
    writes,
    write(s: string) {
      writes.push(s);
      return true;
    },
    /** The visible status line: what follows the last "erase line". */
    screen: () => writes.join('').split('\r\x1b[2K').at(-1)!,
  };
}

describe('progress formatting (pure)', () => {
  it('elapsed time as mm:ss, and h:mm:ss from an hour on', () => {
    expect(formatElapsed(0)).toBe('00:00');
    expect(formatElapsed(65_999)).toBe('01:05');
    expect(formatElapsed(3_723_000)).toBe('1:02:03');
  });
  it('a plain line per step and per finished trial', () => {
    expect(plainLine({ step: 'tuned · link-flap' }, 5000)).toBe('[00:05] tuned · link-flap');
    expect(plainLine({ step: 'tuned · link-flap', trial: [2, 5] }, 65_000, 'lost 1013/4000')).toBe('[01:05] tuned · link-flap · trial 2/5: lost 1013/4000');
    expect(plainLine({ step: 'measuring', trial: [1, 5], item: 'tcp-1 l3' }, 0, '13.20 Gbit/s')).toBe('[00:00] measuring · trial 1/5 · tcp-1 l3: 13.20 Gbit/s');
  });
  it('the status line carries the last outcome and fits the terminal', () => {
    const s = { step: 'bfd · host-crash', trial: [3, 5] as [number, number], last: 'control plane 482.4 ms' };
    expect(statusLine(s, 42_000, 200)).toBe('[00:42] bfd · host-crash · trial 3/5 · last: control plane 482.4 ms');
    const cut = statusLine(s, 42_000, 30);
    expect(cut).toHaveLength(29);
    expect(cut.endsWith('…')).toBe(true);
  });
});

describe('progress when not on a terminal', () => {
  it('plain log lines, as before: steps and finished trials; nothing on the stream', () => {
    const lines: string[] = [];
    const stream = {
      isTTY: false,
      write: () => {
        throw new Error('no status line off a terminal');
      },
    };
    let t = 1000;
    const p = createProgress({ log: (l) => lines.push(l), stream, now: () => t });
    p.step('tuned · agent-restart');
    p.trial(1, 2);
    t += 4000;
    p.result('lost 0/4000');
    p.trial(2, 2);
    t += 61_000;
    p.result('lost 3/4000');
    p.log('the table');
    p.done();
    expect(lines).toEqual(['[00:00] tuned · agent-restart', '[00:04] tuned · agent-restart · trial 1/2: lost 0/4000', '[01:05] tuned · agent-restart · trial 2/2: lost 3/4000', 'the table']);
  });
});

describe('progress on a terminal', () => {
  it('one status line redrawn in place; kept lines go above it; done clears it', () => {
    const tty = fakeTty(80);
    const lines: string[] = [];
    let t = 0;
    const p = createProgress({ log: (l) => lines.push(l), stream: tty, now: () => t, tickMs: 0 });
    p.step('tuned · link-flap');
    expect(tty.screen()).toBe('[00:00] tuned · link-flap');
    p.trial(1, 5);
    t = 3000;
    p.result('lost 1013/4000');
    expect(tty.screen()).toBe('[00:03] tuned · link-flap · trial 1/5 · last: lost 1013/4000');
    p.trial(2, 5);
    expect(tty.screen()).toBe('[00:03] tuned · link-flap · trial 2/5 · last: lost 1013/4000');
    expect(lines).toEqual([]); // trials are not logged on a terminal
    // Every draw erases the line first: nothing is ever printed below the status line.
    expect(tty.writes.every((w) => w.startsWith('\r\x1b[2K'))).toBe(true);
    expect(tty.writes.join('')).not.toContain('\n');
    const before = tty.writes.length;
    p.log('a warning');
    expect(lines).toEqual(['a warning']);
    // Erased, the line printed, then redrawn.
    expect(tty.writes.slice(before)).toEqual(['\r\x1b[2K', '\r\x1b[2K[00:03] tuned · link-flap · trial 2/5 · last: lost 1013/4000']);
    p.done();
    expect(tty.writes.at(-1)).toBe('\r\x1b[2K');
    expect(tty.screen()).toBe('');
  });
  it('the clock redraws the elapsed time; done stops it', async () => {
    const tty = fakeTty();
    let t = 0;
    const p = createProgress({ log: () => undefined, stream: tty, now: () => t, tickMs: 5 });
    p.step('building the labs');
    t = 7000;
    await new Promise((r) => setTimeout(r, 30));
    expect(tty.screen()).toBe('[00:07] building the labs');
    p.done();
    const n = tty.writes.length;
    await new Promise((r) => setTimeout(r, 30));
    expect(tty.writes.length).toBe(n);
  });
  it('a terminal that reports no width (a bare pty says 0) gets 80 columns, not a 10-column stub', () => {
    const tty = fakeTty(0);
    const p = createProgress({ log: () => undefined, stream: tty, now: () => 0, tickMs: 0 });
    p.step('bfd · link-flap');
    p.trial(2, 5);
    expect(tty.screen()).toBe('[00:00] bfd · link-flap · trial 2/5');
  });
  it('isTTY of the stream decides, unless told', () => {
    const lines: string[] = [];
    const tty = fakeTty();
    createProgress({ log: (l) => lines.push(l), stream: tty, tty: false }).step('x');
    expect(lines).toEqual(['[00:00] x']);
    expect(tty.writes).toEqual([]);
  });
});
