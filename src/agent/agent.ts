import type { Watcher } from 'etcd3';
import { BirdConfd } from '../bgp/confd.js';
import { keys } from '../datastore/keys.js';
import { readSnapshot } from '../datastore/snapshot.js';
import type { Datastore } from '../datastore/store.js';
import type { AgentStatus } from '../model/resources.js';
import { errorMessage } from '../util/errors.js';
import type { CommandRunner } from '../util/exec.js';
import { DataplaneError, type ApplyResult, type Dataplane } from './dataplane.js';
import { computeDesired } from './desired.js';

export interface AgentOptions {
  host: string;
  ds: Datastore;
  dataplane: Dataplane;
  /** BIRD config file and control socket this agent keeps in step (the confd role). */
  bird?: { config: string; socket: string };
  /** Runs `bird -p` and `birdc configure`: the dataplane's runner unless given. */
  runner?: CommandRunner;
  /** Full re-read of datastore and kernel, to repair drift nobody told us about. */
  resyncMs?: number;
  heartbeatMs?: number;
  log?: (line: string) => void;
}

/**
 * The Felix role for one host: watch etcd, compute the desired state (pure), converge the
 * kernel (thin dataplane) and BIRD's config. Level-triggered: every pass starts from a full
 * read, so a restart, a missed event or a hand-deleted route all heal the same way.
 */
export class Agent {
  private watchers: Watcher[] = [];
  private timers: NodeJS.Timeout[] = [];
  private running: Promise<void> | undefined;
  private again = false;
  private debounce: NodeJS.Timeout | undefined;
  private readonly confd: BirdConfd | undefined;
  private readonly status: AgentStatus;
  private stopped = false;

  constructor(private readonly o: AgentOptions) {
    this.confd = o.bird ? new BirdConfd(o.bird.config, o.bird.socket, o.runner ?? o.dataplane.runner) : undefined;
    const now = new Date().toISOString();
    this.status = { host: o.host, pid: process.pid, startedAt: now, heartbeatAt: now, reconciles: 0 };
  }

  async start(): Promise<void> {
    // Watch first, then read: a change made in between triggers one more pass, none is lost.
    for (const prefix of [keys.resourcePrefix, keys.ipamPrefix]) {
      this.watchers.push(
        await this.o.ds.watch(
          prefix,
          () => this.kick(),
          (err) => {
            this.log(`watch on ${prefix}: ${errorMessage(err)} (resyncing)`);
            this.kick();
          },
        ),
      );
    }
    await this.reconcileNow();
    this.timers.push(setInterval(() => this.kick(), this.o.resyncMs ?? 10_000));
    this.timers.push(setInterval(() => void this.heartbeat(), this.o.heartbeatMs ?? 2_000));
    await this.heartbeat();
  }

  /** Coalesces bursts of events (a workload add writes several keys) into one pass. */
  kick(): void {
    if (this.stopped) return;
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => void this.reconcileNow(), 10);
  }

  /** One pass at a time; a kick during a pass schedules exactly one more. */
  async reconcileNow(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.pass();
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async pass(): Promise<void> {
    const t0 = performance.now();
    const at = new Date().toISOString();
    try {
      const snapshot = await readSnapshot(this.o.ds);
      const desired = computeDesired(snapshot, this.o.host);
      // Steps that failed are reported with what the others did; the next pass retries them.
      let r: ApplyResult;
      let dataplaneError: string | undefined;
      try {
        r = await this.o.dataplane.apply(desired);
      } catch (err) {
        if (!(err instanceof DataplaneError)) throw err;
        r = err.result;
        dataplaneError = err.message;
      }
      let birdError: string | undefined;
      if (this.confd) {
        try {
          if (await this.confd.update(desired.bird)) this.status.bird = { configuredAt: at };
          else if (this.status.bird?.error) this.status.bird = { configuredAt: this.status.bird.configuredAt };
        } catch (err) {
          birdError = errorMessage(err);
          this.status.bird = { ...this.status.bird, error: birdError };
        }
      }
      const ms = Math.round(performance.now() - t0);
      const error = [...desired.policyProblems, ...(dataplaneError ? [dataplaneError] : []), ...(birdError ? [birdError] : [])].join('; ') || undefined;
      this.status.reconciles++;
      const before = this.status.lastReconcile;
      this.status.lastReconcile = {
        at,
        ms,
        routesAdded: r.added,
        routesRemoved: r.removed,
        ...(snapshot.revision ? { revision: snapshot.revision } : {}),
        policyChains: r.policy.chains,
        policySets: r.policy.sets,
        ...(error ? { error } : {}),
      };
      // Say at once what we programmed (callers wait on it), not at the next heartbeat.
      if (before?.revision !== snapshot.revision || error || before?.error) void this.heartbeat();
      const policy = r.policy.chains || r.policy.sets ? `, policy: ${r.policy.chains} chains ${r.policy.sets} sets written` : '';
      if (r.added || r.removed || policy || error) this.log(`reconcile: +${r.added} -${r.removed} routes${policy} in ${ms} ms${error ? ` error: ${error}` : ''}`);
    } catch (err) {
      this.status.lastReconcile = { at, ms: Math.round(performance.now() - t0), routesAdded: 0, routesRemoved: 0, error: errorMessage(err) };
      this.log(`reconcile failed: ${errorMessage(err)}`);
    }
  }

  private async heartbeat(): Promise<void> {
    this.status.heartbeatAt = new Date().toISOString();
    try {
      await this.o.ds.put(keys.agentStatus(this.o.host), this.status);
    } catch (err) {
      this.log(`heartbeat failed: ${errorMessage(err)}`);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.debounce);
    this.timers.forEach(clearInterval);
    await Promise.all(this.watchers.map((w) => w.cancel()));
    await this.running;
  }

  private log(line: string): void {
    (this.o.log ?? ((l) => console.log(l)))(`${new Date().toISOString()} ${this.o.host} ${line}`);
  }
}
