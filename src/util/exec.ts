import { execa } from 'execa';
import { BackendError, CommandError, InterruptedError } from './errors.js';
import { activeSpawner, type SpawnReply } from './spawner.js';

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** How to run one command. */
export interface CommandOptions {
  /** Written to the command's stdin (then closed). */
  input?: string;
  /** Killed (SIGTERM) after this long; 30 s unless given. */
  timeoutMs?: number;
  /** false: a failed command is returned, not thrown (for probes whose failure is an answer). */
  reject?: boolean;
}

/** What a command did. stdout and stderr lose their final newline. */
export interface CommandResult {
  stdout: string;
  stderr: string;
  /** undefined when it did not exit on its own: killed, timed out, or never started. */
  exitCode: number | undefined;
  signal?: NodeJS.Signals;
  /** Why it did not run to an exit code, when it did not: `timed out after 30000 ms`, `spawn ip ENOENT`. */
  reason?: string;
}

/**
 * Runs commands (an argv, no shell). Code that touches the kernel takes one, so that tests can
 * give it a fake that records what would run and answers as a kernel would. A failure (non-zero
 * exit, signal, timeout, not started) throws a CommandError unless `reject: false`; then it is
 * returned, and `new CommandError({ argv, ...result })` makes the same error.
 */
export interface CommandRunner {
  run(argv: readonly string[], opts?: CommandOptions): Promise<CommandResult>;
}

/** execa's stripFinalNewline. */
const stripNewline = (s: string) => (s.endsWith('\r\n') ? s.slice(0, -2) : s.endsWith('\n') ? s.slice(0, -1) : s);

/** The real runner: child processes of this one (or of its spawner). */
export const processRunner: CommandRunner = {
  async run(argv, opts = {}) {
    const [file, ...args] = argv;
    if (!file) throw new TypeError('cannot run an empty command line');
    const timeoutMs = opts.timeoutMs ?? 30_000;
    const spawner = activeSpawner();
    if (spawner) {
      // A spawner that died with the command out is a command that did not run to an exit code.
      const r = await spawner.run(argv, opts.input, timeoutMs).catch((err: unknown): SpawnReply => ({ id: 0, stdout: '', stderr: '', error: err instanceof Error ? err.message : String(err) }));
      const reason = r.timedOut ? `timed out after ${timeoutMs} ms` : r.error;
      const result: CommandResult = {
        stdout: stripNewline(r.stdout),
        stderr: stripNewline(r.stderr),
        exitCode: r.timedOut || r.error ? undefined : r.exitCode,
        ...(r.signal ? { signal: r.signal } : {}),
        ...(reason ? { reason } : {}),
      };
      if (result.exitCode !== 0 && opts.reject !== false) throw new CommandError({ argv, ...result }, r.error ? { cause: new Error(r.error) } : undefined);
      return result;
    }
    const r = await execa(file, args, { input: opts.input, reject: false, timeout: timeoutMs, stripFinalNewline: true });
    const reason = r.timedOut ? `timed out after ${timeoutMs} ms` : r.failed && r.exitCode === undefined && !r.signal && r.cause instanceof Error ? r.cause.message : undefined;
    const result: CommandResult = {
      stdout: String(r.stdout ?? ''),
      stderr: String(r.stderr ?? ''),
      exitCode: r.exitCode,
      ...(r.signal ? { signal: r.signal } : {}),
      ...(reason ? { reason } : {}),
    };
    if (r.failed && opts.reject !== false) throw new CommandError({ argv, ...result }, r.cause === undefined ? undefined : { cause: r.cause });
    return result;
  },
};

/** Runs a command and returns its stdout; throws a CommandError if it fails. */
export async function run(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}, runner: CommandRunner = processRunner): Promise<string> {
  return (await runner.run([cmd, ...args], opts)).stdout;
}

/** Like run() but never throws: for probes whose failure is an answer (exit code -1: none). */
export async function tryRun(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}, runner: CommandRunner = processRunner): Promise<RunResult> {
  const r = await runner.run([cmd, ...args], { ...opts, reject: false });
  return { stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode ?? -1 };
}

/** `ip [-n ns] -batch -` with the given lines: one process for many kernel changes. */
export async function ipBatch(netns: string | undefined, lines: string[], opts: { force?: boolean; runner?: CommandRunner } = {}): Promise<void> {
  if (lines.length === 0) return;
  // Not `ip -n`: it too unshares a mount namespace and remounts /sys (see inNetns).
  const argv = inNetns(netns, ['ip', ...(opts.force ? ['-force'] : []), '-batch', '-']);
  await (opts.runner ?? processRunner).run(argv, { input: `${lines.join('\n')}\n` });
}

/** `ip [-n ns] -j ...` parsed as JSON. */
export async function ipJson<T>(netns: string | undefined, args: string[], runner: CommandRunner = processRunner): Promise<T> {
  const out = (await runner.run(inNetns(netns, ['ip', '-j', ...args]))).stdout;
  return (out.trim() === '' ? [] : JSON.parse(out)) as T;
}

/**
 * The argv that runs `argv` inside a named network namespace (or as is, for the current one):
 * `nsenter --net`, a setns(2) and nothing else. `ip netns exec` — and `ip -n` too — also make a
 * mount namespace and remount /sys, which copies every mount of the machine — with a thousand namespaces (each one a
 * bind mount in /run/netns) that turned a lab's routine commands into minutes of D-state waits.
 * What needs /sys and /etc/netns/<ns> as the namespace sees them (a user's shell) uses
 * `ip netns exec` itself (see the backend's attach).
 */
export function inNetns(netns: string | undefined, argv: string[]): string[] {
  return netns ? ['nsenter', `--net=/run/netns/${netns}`, '--', ...argv] : argv;
}

/**
 * A runner that lets at most `limit` of its commands run at once and queues the rest: a shared
 * agent process drives up to 50 hosts, and 50 periodic passes starting together would fork
 * hundreds of processes at the same instant.
 */
export function limitedRunner(inner: CommandRunner, limit: number): CommandRunner {
  let active = 0;
  const waiting: (() => void)[] = [];
  return {
    async run(argv, opts) {
      // A finishing command hands its slot to the first in line, so none can slip in between.
      if (active >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
      else active++;
      try {
        return await inner.run(argv, opts);
      } finally {
        const next = waiting.shift();
        if (next) next();
        else active--;
      }
    },
  };
}

/** Sets sysctls in one process: keys like `net.ipv4.ip_forward`. */
export async function setSysctls(netns: string | undefined, values: Record<string, string>, runner: CommandRunner = processRunner): Promise<void> {
  const pairs = Object.entries(values).map(([k, v]) => `${k}=${v}`);
  if (pairs.length === 0) return;
  await runner.run(inNetns(netns, ['sysctl', '-q', '-w', ...pairs]));
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Thrown from a waitFor probe, it ends the wait at once: no point polling a dead daemon. */
export class FatalWaitError extends BackendError {}

/**
 * Polls `fn` until it returns a value that is not undefined/false, or the deadline passes. Other
 * errors from `fn` count as "not yet"; a FatalWaitError ends the wait.
 */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs: number, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      if (err instanceof FatalWaitError || err instanceof InterruptedError) throw err;
      last = err;
    }
    if (Date.now() > deadline) {
      throw new BackendError(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last instanceof Error ? last.message : last}` : ''}`, last === undefined ? undefined : { cause: last });
    }
    await sleep(everyMs);
  }
}
