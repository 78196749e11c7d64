/**
 * Runs commands through a small long-lived child process (spawner-main.ts) instead of forking
 * this one. Node forks (libuv: fork + exec, the event loop blocked until the exec) copy the
 * parent's page tables, so a fork costs in proportion to the parent's memory: measured here,
 * 1 ms from a 56 MB process, 10 ms from 270 MB, 46 ms from 900 MB, more on a loaded machine.
 * A shared agent process (50 hosts) or `up` of a large lab forks thousands of times; the
 * spawner, which holds nothing, forks for them at the small process's price and off their event
 * loop.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import type { Socket } from 'node:net';

export interface SpawnRequest {
  id: number;
  argv: string[];
  input?: string;
  timeoutMs: number;
}

export interface SpawnReply {
  id: number;
  stdout: string;
  stderr: string;
  /** Absent when the command did not exit on its own (killed, timed out, never started). */
  exitCode?: number;
  signal?: NodeJS.Signals;
  timedOut?: boolean;
  /** It could not be started: `spawn ip ENOENT`. */
  error?: string;
}

const SPAWNER_MAIN = fileURLToPath(new URL('../../dist/util/spawner-main.js', import.meta.url));

/** One spawner child, started on first use and again if it dies; idle, it keeps nobody alive. */
export class Spawner {
  private child: ChildProcess | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: SpawnReply) => void; reject: (e: Error) => void }>();

  run(argv: readonly string[], input: string | undefined, timeoutMs: number): Promise<SpawnReply> {
    const child = this.started();
    const id = this.nextId++;
    const req: SpawnRequest = { id, argv: [...argv], ...(input === undefined ? {} : { input }), timeoutMs };
    return new Promise<SpawnReply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.hold(true);
      child.stdin!.write(`${JSON.stringify(req)}\n`);
    });
  }

  private started(): ChildProcess {
    if (this.child) return this.child;
    const child = spawn(process.execPath, [SPAWNER_MAIN], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.child = child;
    child.stdin!.on('error', () => undefined);
    const gone = (why: string) => {
      if (this.child !== child) return;
      this.child = undefined;
      const waiting = [...this.pending.values()];
      this.pending.clear();
      this.hold(false);
      for (const p of waiting) p.reject(new Error(`the spawner process ${why} before the command ended`));
    };
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let reply: SpawnReply;
      try {
        reply = JSON.parse(line) as SpawnReply;
      } catch {
        // Half a line: the spawner died writing it. Everything out fails, the next run starts a new one.
        child.kill('SIGKILL');
        gone('wrote an unreadable reply');
        return;
      }
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      if (this.pending.size === 0) this.hold(false);
      p.resolve(reply);
    });
    child.once('error', (e) => gone(`failed (${e.message})`));
    child.once('exit', (code, signal) => gone(`exited (${signal ?? `code ${String(code)}`})`));
    this.hold(false);
    return child;
  }

  /** Keeps this process alive while commands are out, not while the spawner idles. */
  private hold(busy: boolean): void {
    const c = this.child;
    if (!c) return;
    for (const h of [c, c.stdin as unknown as Socket | null, c.stdout as unknown as Socket | null]) {
      if (busy) h?.ref();
      else h?.unref();
    }
  }
}

let spawner: Spawner | undefined;

/**
 * From now on processRunner (exec.ts) forks through a spawner process: for the processes that run
 * thousands of commands while holding a large heap, the CLI (`up` of a large lab, its checks) and
 * a shared agent process.
 */
export function forkThroughSpawner(): void {
  spawner ??= new Spawner();
}

/** The spawner processRunner forks through, if forkThroughSpawner was called. */
export function activeSpawner(): Spawner | undefined {
  return spawner;
}
