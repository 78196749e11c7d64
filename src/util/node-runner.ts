import type { Writable } from 'node:stream';
import { CommandError } from './errors.js';
import type { RunResult } from './exec.js';

/**
 * How code reaches the processes of a lab's node (a host, a router, a workload, the fabric):
 * run a command there, or start a helper there (a prober, a server, tcpdump, a monitor). Only
 * types: a backend (src/sim/backends/) implements it; verifiers and measurements take it.
 */
export interface NodeRunner {
  /** Runs `argv` in the node's network namespace and waits for it; never throws for its exit code. */
  exec(netns: string | undefined, argv: string[], opts?: { input?: string; timeoutMs?: number }): Promise<RunResult>;
  /** Starts a helper in the node's network namespace; resolves once it said it is ready. */
  spawn(netns: string | undefined, argv: string[], opts: HelperOptions): Promise<Helper>;
}

export interface HelperOptions {
  /** What it is, for errors ("tcpdump on fp1a2b", "iperf3 server"). */
  what: string;
  /** A line it prints when it is ready; without one it counts as ready once started. */
  ready?: RegExp;
  /** Where the ready line comes: stdout (default) or stderr. */
  readyOn?: 'stdout' | 'stderr';
  /** How long it may take to be ready (default 10 s). */
  timeoutMs?: number;
  /** Called with every line it prints on stdout, the ready line included. */
  onLine?: (line: string) => void;
  /** Gives it a standard input to write to (otherwise it reads nothing). */
  stdin?: boolean;
}

export interface Helper {
  readonly what: string;
  /** Its standard input, when asked for with `stdin`. */
  readonly stdin?: Writable;
  /** Resolves when it has exited, with how. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Everything it printed on stdout so far. */
  output(): string;
  /** Sends `signal` (default SIGTERM), SIGKILL after `graceMs` (default 5 s); resolves once it has exited. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
}

/** Runs `argv` in a node and returns its stdout; a non-zero exit is a CommandError (argv, exit code, stderr). */
export async function execOk(runner: NodeRunner, netns: string | undefined, argv: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<string> {
  const r = await runner.exec(netns, argv, opts);
  if (r.exitCode !== 0) throw new CommandError({ argv, exitCode: r.exitCode, stderr: r.stderr, stdout: r.stdout, ...(netns ? { reason: `in ${netns}: exit code ${r.exitCode}` } : {}) });
  return r.stdout;
}

/** `ip -j …` in a node, parsed. */
export async function ipJsonIn<T>(runner: NodeRunner, netns: string | undefined, args: string[]): Promise<T> {
  const out = await execOk(runner, netns, ['ip', '-j', ...args]);
  return (out.trim() === '' ? [] : JSON.parse(out)) as T;
}
