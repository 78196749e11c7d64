import { execa } from 'execa';
import { BackendError, InterruptedError } from './errors.js';

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** Runs a command and throws a BackendError naming the command and its stderr if it fails. */
export async function run(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<string> {
  const r = await execa(cmd, args, {
    input: opts.input,
    reject: false,
    timeout: opts.timeoutMs ?? 30_000,
    stripFinalNewline: true,
  });
  if (r.exitCode !== 0 || r.failed) {
    const what = [cmd, ...args].join(' ');
    const detail = (r.stderr || r.stdout || r.shortMessage || '').toString().trim().split('\n').slice(-3).join(' | ');
    throw new BackendError(`command failed: ${what}: ${detail}`);
  }
  return String(r.stdout);
}

/** Like run() but never throws: for probes whose failure is an answer. */
export async function tryRun(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  const r = await execa(cmd, args, { input: opts.input, reject: false, timeout: opts.timeoutMs ?? 30_000 });
  return { stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? ''), exitCode: r.exitCode ?? -1 };
}

/** `ip [-n ns] -batch -` with the given lines: one process for many kernel changes. */
export async function ipBatch(netns: string | undefined, lines: string[], opts: { force?: boolean } = {}): Promise<void> {
  if (lines.length === 0) return;
  const args = [...(netns ? ['-n', netns] : []), ...(opts.force ? ['-force'] : []), '-batch', '-'];
  await run('ip', args, { input: lines.join('\n') + '\n' });
}

/** `ip [-n ns] -j ...` parsed as JSON. */
export async function ipJson<T>(netns: string | undefined, args: string[]): Promise<T> {
  const out = await run('ip', [...(netns ? ['-n', netns] : []), '-j', ...args]);
  return (out.trim() === '' ? [] : JSON.parse(out)) as T;
}

/** The argv that runs `argv` inside a network namespace (or as is, for the current one). */
export function inNetns(netns: string | undefined, argv: string[]): string[] {
  return netns ? ['ip', 'netns', 'exec', netns, ...argv] : argv;
}

/** Sets sysctls in one process: keys like `net.ipv4.ip_forward`. */
export async function setSysctls(netns: string | undefined, values: Record<string, string>): Promise<void> {
  const pairs = Object.entries(values).map(([k, v]) => `${k}=${v}`);
  if (pairs.length === 0) return;
  const [cmd, ...args] = inNetns(netns, ['sysctl', '-q', '-w', ...pairs]);
  await run(cmd!, args);
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
      throw new BackendError(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last instanceof Error ? last.message : last}` : ''}`);
    }
    await sleep(everyMs);
  }
}
