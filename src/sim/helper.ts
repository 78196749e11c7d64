import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { BackendError } from '../util/errors.js';
import type { Helper, HelperOptions } from '../util/node-runner.js';

/**
 * Starts a helper process (argv already wrapped for its node by the backend) and resolves once
 * it printed its ready line, or rejects — after killing it — when it exits first or the
 * deadline passes. The one implementation behind every backend's `spawn`.
 */
export async function startHelper(argv: string[], opts: HelperOptions): Promise<Helper> {
  const [cmd, ...args] = argv;
  const child = spawn(cmd!, args, { stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  // A helper that already ended has no reader: writing to it must not crash the engine.
  child.stdin?.on('error', () => undefined);
  let out = '';
  let err = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal }));
    child.once('error', () => resolve({ code: null, signal: null }));
  });
  const readyOn = opts.readyOn ?? 'stdout';
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new BackendError(`${opts.what} did not start within ${opts.timeoutMs ?? 10_000} ms${err ? `: ${tail(err)}` : ''}`)), opts.timeoutMs ?? 10_000);
    const seen = (stream: 'stdout' | 'stderr', line: string) => {
      if (opts.ready && stream === readyOn && opts.ready.test(line)) {
        clearTimeout(timer);
        resolve();
      }
    };
    createInterface({ input: child.stdout! }).on('line', (l) => {
      out += `${l}\n`;
      opts.onLine?.(l);
      seen('stdout', l);
    });
    createInterface({ input: child.stderr! }).on('line', (l) => {
      err += `${l}\n`;
      seen('stderr', l);
    });
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new BackendError(`${opts.what} could not start: ${e.message}`, { cause: e }));
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new BackendError(`${opts.what} exited (${signal ?? `code ${code}`}) before it was ready${err ? `: ${tail(err)}` : ''}`));
    });
    if (!opts.ready)
      child.once('spawn', () => {
        clearTimeout(timer);
        resolve();
      });
  });
  const helper: Helper = {
    what: opts.what,
    ...(child.stdin ? { stdin: child.stdin } : {}),
    exited,
    output: () => out,
    async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 5_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      child.kill(signal);
      await exited;
      clearTimeout(timer);
    },
  };
  try {
    await ready;
  } catch (e) {
    await helper.stop('SIGKILL');
    throw e;
  }
  return helper;
}

const tail = (s: string) => s.trim().split('\n').slice(-3).join(' | ');
