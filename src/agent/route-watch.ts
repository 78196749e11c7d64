import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { processRunner, run, type CommandRunner } from '../util/exec.js';

/**
 * One kernel route watch for every host namespace a shared agent process serves: `ip monitor
 * route all-nsid` in the process's own namespace (the fabric, which holds a peer id for each
 * host namespace through that host's uplink veth), instead of an `ip monitor` per host — at
 * 1,000 hosts, 1,000 processes and some 2.8 GB. A `Deleted` line of a host's namespace calls
 * that host's callback, as its own watch would (Dataplane.watchRouteDeletions).
 */
export class SharedRouteWatch {
  private child: ChildProcess | undefined;
  private readonly callbacks = new Map<string, () => void>();
  private names = new Map<number, string>();
  private refreshing: Promise<void> | undefined;
  private refreshedAt = 0;

  constructor(private readonly runner: CommandRunner = processRunner) {}

  /** Calls `onDeleted` whenever a route leaves `netns`; returns the function that stops that. */
  watch(netns: string, onDeleted: () => void): () => void {
    this.callbacks.set(netns, onDeleted);
    // A namespace made (or made again, under an id the kernel reused) since the last read.
    if (![...this.names.values()].includes(netns)) this.refreshedAt = 0;
    this.start();
    return () => {
      if (this.callbacks.get(netns) === onDeleted) this.callbacks.delete(netns);
      if (this.callbacks.size === 0) this.stop();
    };
  }

  private start(): void {
    if (this.child) return;
    void this.refresh();
    const child = spawn('ip', ['monitor', 'route', 'all-nsid'], { stdio: ['ignore', 'pipe', 'ignore'] });
    child.once('error', () => undefined); // no `ip`: the periodic pass still repairs
    createInterface({ input: child.stdout! }).on('line', (l) => this.line(l));
    // A watch that died is started again while anyone still watches (after a second, not in a loop).
    child.once('exit', () => {
      if (this.child !== child) return;
      this.child = undefined;
      if (this.callbacks.size) setTimeout(() => this.callbacks.size && this.start(), 1000).unref();
    });
    this.child = child;
  }

  private stop(): void {
    const child = this.child;
    this.child = undefined;
    child?.kill();
  }

  /** `[nsid 5]Deleted 198.19.0.1 dev cali… scope link`: the callback of the namespace with peer id 5. */
  private line(l: string): void {
    const m = /^\[nsid (\d+)\]Deleted /.exec(l);
    if (!m) return;
    const nsid = Number(m[1]);
    const call = () => {
      const netns = this.names.get(nsid);
      if (netns !== undefined) this.callbacks.get(netns)?.();
    };
    if (this.names.has(nsid)) call();
    else void this.refresh().then(call);
  }

  /**
   * Peer id → namespace name (`ip netns list-id`), read again at most once a second (a host added
   * since): a read asked for within that second waits for its end, so no event is dropped.
   */
  private refresh(): Promise<void> {
    if (this.refreshing) return this.refreshing;
    const wait = this.refreshedAt + 1000 - Date.now();
    if (wait > 0) {
      this.refreshing = new Promise<void>((resolve) => setTimeout(resolve, wait).unref()).then(() => {
        this.refreshing = undefined;
        return this.refresh();
      });
      return this.refreshing;
    }
    this.refreshing = run('ip', ['netns', 'list-id'], {}, this.runner)
      .then((out) => {
        this.names = parseNsids(out);
        this.refreshedAt = Date.now();
      })
      .catch(() => undefined)
      .finally(() => {
        this.refreshing = undefined;
      });
    return this.refreshing;
  }
}

/** `nsid 3 (iproute2 netns name: csim_lab_h_host1)` lines → 3 → csim_lab_h_host1. */
export function parseNsids(out: string): Map<number, string> {
  const names = new Map<number, string>();
  for (const l of out.split('\n')) {
    const m = /^nsid (\d+) \(iproute2 netns name: (\S+)\)/.exec(l.trim());
    if (m) names.set(Number(m[1]), m[2]!);
  }
  return names;
}
