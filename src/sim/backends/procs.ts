import { spawn } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import { closeSync, existsSync, openSync, readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { inNetns, ipBatch, sleep } from '../../util/exec.js';
import { BackendError } from '../../util/errors.js';

/**
 * Starts a long-lived daemon that outlives the calling CLI: its own session, stdout and stderr
 * appended to `logFile`, inside `netns` (`ip netns exec` execs, so the pid is the daemon's own).
 */
/**
 * Daemons this process started, by pid: undefined while running, then how it ended (a signal,
 * or its exit code). For our own children this is the truth; /proc is only read for the others.
 */
const started = new Map<number, string | undefined>();
export const daemonEnding = (pid: number | undefined): string | undefined => (pid ? started.get(pid) : undefined);

export function spawnDaemon(opts: { netns?: string; argv: string[]; logFile: string; cwd?: string; env?: NodeJS.ProcessEnv }): number {
  const fd = openSync(opts.logFile, 'a');
  try {
    // Daemons inherit Node's open-files limit, which Node raises to the hard limit at start-up: a
    // route reflector's thousand sockets fit whatever a login shell's soft limit says (capacity.ts
    // checks the hard one).
    const [cmd, ...args] = inNetns(opts.netns, opts.argv);
    const child = spawn(cmd!, args, { detached: true, stdio: ['ignore', fd, fd], cwd: opts.cwd, env: opts.env ?? process.env });
    if (child.pid === undefined) throw new BackendError(`cannot start ${opts.argv[0]}`);
    const pid = child.pid;
    started.set(pid, undefined);
    child.once('exit', (code, signal) => started.set(pid, signal ? `killed by ${signal}` : `exit code ${code}`));
    child.unref();
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** True if `pid` runs and its command line contains every mark (guards against pid reuse). */
export function isAlive(pid: number | undefined, marks: string[]): boolean {
  if (!pid) return false;
  // Our own child: Node tells us when it ends. (Its /proc cmdline can read empty while it execs
  // from `ip netns exec` into the daemon, which made a starting daemon look dead.)
  if (started.has(pid)) return started.get(pid) === undefined && !isGone(pid);
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return marks.every((m) => cmdline.includes(m)) && !isGone(pid);
  } catch {
    return false;
  }
}

/** Pids of every process whose network namespace is one of the named ones (read from /proc). */
export function pidsInNetns(netnsNames: string[]): number[] {
  return pidsInNamespaces(netnsInodes(netnsNames));
}

/** The inodes of named network namespaces that still exist. */
function netnsInodes(netnsNames: string[]): Set<number> {
  const inodes = new Set<number>();
  for (const ns of netnsNames) {
    try {
      inodes.add(statSync(`/run/netns/${ns}`).ino);
    } catch {
      // already gone
    }
  }
  return inodes;
}

/** Pids of every process in one of these network namespaces (by inode: named or not any more). */
function pidsInNamespaces(inodes: Set<number>): number[] {
  if (inodes.size === 0) return [];
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const link = readlinkSync(`/proc/${entry}/ns/net`); // "net:[4026532210]"
      if (inodes.has(Number(link.slice(5, -1)))) pids.push(Number(entry));
    } catch {
      // exited meanwhile, or a kernel thread
    }
  }
  return pids;
}

/**
 * SIGTERM, then SIGKILL whatever is left after `graceMs`; waits (bounded) until all are gone.
 * Never signals the calling process itself (`down` may run from inside a lab namespace).
 */
export async function killAll(pids: number[], graceMs = 1000): Promise<void> {
  const targets = pids.filter((p) => p !== process.pid);
  const signal = (sig: NodeJS.Signals) =>
    targets.forEach((p) => {
      try {
        process.kill(p, sig);
      } catch {
        /* gone */
      }
    });
  const alive = () => targets.filter((p) => !isGone(p));
  signal('SIGTERM');
  let deadline = Date.now() + graceMs;
  while (alive().length > 0 && Date.now() < deadline) await sleep(20);
  if (alive().length === 0) return;
  signal('SIGKILL');
  deadline = Date.now() + 5000;
  while (alive().length > 0 && Date.now() < deadline) await sleep(20);
  if (alive().length > 0) throw new BackendError(`processes ${alive().join(', ')} did not exit after SIGKILL`);
}

/**
 * Removes network namespaces completely: kills every process inside (a process left in a
 * namespace keeps it and its veths alive after `ip netns del`), deletes them in one batch, and
 * repeats while a process started meanwhile keeps one alive.
 */
export async function removeNetns(netns: string[]): Promise<void> {
  const present = () => netns.filter((n) => existsSync(`/run/netns/${n}`));
  // By inode, taken first: a process started into a namespace while it is being deleted (a
  // daemon's child, racing `down`) keeps the namespace alive after its name is gone.
  const inodes = netnsInodes(netns);
  for (let round = 0; round < 3 && (present().length > 0 || pidsInNamespaces(inodes).length > 0); round++) {
    await killAll(pidsInNamespaces(inodes));
    await ipBatch(
      undefined,
      present().map((n) => `netns del ${n}`),
      { force: true },
    ).catch(() => undefined);
    if (pidsInNamespaces(inodes).length === 0 && present().length === 0) return;
  }
  const left = present();
  if (left.length > 0) throw new BackendError(`could not remove namespaces ${left.join(', ')}`);
  const stragglers = pidsInNamespaces(inodes);
  if (stragglers.length > 0) throw new BackendError(`processes ${stragglers.join(', ')} outlived their removed namespaces`);
}

/** True if the process is stopped (SIGSTOP, or traced): alive, but doing nothing. */
export function isStopped(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return 'Tt'.includes(stat.charAt(stat.lastIndexOf(')') + 2));
  } catch {
    return false;
  }
}

/** True if the process has exited: no /proc entry, or a zombie (state Z) not reaped yet. */
function isGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.charAt(stat.lastIndexOf(')') + 2) === 'Z';
  } catch {
    return true;
  }
}

/** Runs a user's command with the terminal attached (`calico-sim exec`, `birdc`); its exit code (127: no such program, 128 + n: signal n). */
export function runAttached(argv: readonly string[]): Promise<number> {
  const [cmd, ...args] = argv;
  return new Promise((resolve) => {
    const child = spawn(cmd!, args, { stdio: 'inherit' });
    child.once('error', () => resolve(127));
    child.once('close', (code, signal) => resolve(code ?? 128 + (signal ? (osConstants.signals[signal] ?? 0) : 0)));
  });
}
