/**
 * Progress of a long run. On a terminal (stderr is a TTY) one status line — step, trial i/n,
 * elapsed, the last outcome — redrawn in place, with kept lines printed above it. Elsewhere (CI,
 * a pipe, a log file) plain lines: one per step and one per finished trial, as a log reads best.
 */

/** What the status line is drawn on: process.stderr, or a fake in tests. */
export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(s: string): unknown;
}

export interface ProgressState {
  step?: string;
  /** What the current trial measures, when a step alternates several things (e.g. "tcp-1 l3"). */
  item?: string;
  trial?: [number, number];
  /** The outcome of the last finished trial. */
  last?: string;
}

export interface Progress {
  /** A new phase ("building the labs", "tuned · link-flap"). */
  step(name: string): void;
  /** Trial i of n starts; `item` says what it measures when the step alternates things. */
  trial(i: number, n: number, item?: string): void;
  /** The current trial's outcome: a log line when plain, the "last" field on a terminal. */
  result(outcome: string): void;
  /** A line to keep (a table, a warning): printed above the status line on a terminal. */
  log(line: string): void;
  /** Clears the status line and stops its clock. */
  done(): void;
}

/** Pure: `mm:ss`, or `h:mm:ss` from an hour on. */
export function formatElapsed(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const two = (n: number) => String(n).padStart(2, '0');
  const [h, m, sec] = [Math.floor(s / 3600), Math.floor(s / 60) % 60, s % 60];
  return h ? `${h}:${two(m)}:${two(sec)}` : `${two(m)}:${two(sec)}`;
}

const where = (s: ProgressState) => [s.step, s.trial && `trial ${s.trial[0]}/${s.trial[1]}`, s.item].filter(Boolean).join(' · ');

/** Pure: the plain log line of a finished trial (or, without a trial, of a step). */
export function plainLine(s: ProgressState, elapsedMs: number, outcome?: string): string {
  return `[${formatElapsed(elapsedMs)}] ${where(s)}${outcome ? `: ${outcome}` : ''}`;
}

/** Pure: the status line, cut to the terminal width (a line that wraps cannot be redrawn in place). */
export function statusLine(s: ProgressState, elapsedMs: number, columns = 80): string {
  const line = `[${formatElapsed(elapsedMs)}] ${where(s)}${s.last ? ` · last: ${s.last}` : ''}`;
  const max = Math.max(10, columns - 1);
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** ANSI: carriage return, then erase the whole line. */
const CLEAR = '\r\x1b[2K';

export function createProgress(o: {
  /** Where plain lines and kept lines go (the CLI's print: stdout). */
  log: (line: string) => void;
  stream?: ProgressStream;
  /** Defaults to stream.isTTY. */
  tty?: boolean;
  now?: () => number;
  /** Redraw period of the elapsed time on a terminal; 0 for none (tests). */
  tickMs?: number;
}): Progress {
  const stream = o.stream ?? process.stderr;
  const tty = o.tty ?? !!stream.isTTY;
  const now = o.now ?? Date.now;
  const t0 = now();
  let s: ProgressState = {};
  let drawn = false;
  let timer: NodeJS.Timeout | undefined;
  const draw = () => {
    stream.write(CLEAR + statusLine(s, now() - t0, stream.columns || 80)); // a pty may say 0
    drawn = true;
  };
  const clear = () => {
    if (drawn) stream.write(CLEAR);
    drawn = false;
  };
  const startClock = () => {
    if (timer || !tty || !(o.tickMs ?? 1000)) return;
    timer = setInterval(draw, o.tickMs ?? 1000);
    timer.unref();
  };
  return {
    step(name) {
      s = { step: name };
      if (tty) {
        draw();
        startClock();
      } else {
        o.log(plainLine(s, now() - t0));
      }
    },
    trial(i, n, item) {
      s = { ...s, trial: [i, n], item };
      if (tty) draw();
    },
    result(outcome) {
      if (tty) {
        s = { ...s, last: outcome };
        draw();
      } else {
        o.log(plainLine(s, now() - t0, outcome));
      }
    },
    log(line) {
      if (!tty) return o.log(line);
      const wasDrawn = drawn;
      clear();
      o.log(line);
      if (wasDrawn) draw();
    },
    done() {
      if (timer) clearInterval(timer);
      timer = undefined;
      if (tty) clear();
    },
  };
}
