import { BirdConfd } from '../bgp/confd.js';
import { keys } from '../datastore/keys.js';
import { Syncer } from '../datastore/syncer.js';
import type { Datastore } from '../datastore/store.js';
import type { AgentStatus } from '../model/resources.js';
import { errorMessage } from '../util/errors.js';
import type { CommandRunner } from '../util/exec.js';
import { DataplaneError, type ApplyResult, type Dataplane } from './dataplane.js';
import { computeDesired } from './desired.js';
import { relevanceContext, relevantTo } from './relevance.js';

export interface AgentOptions {
  host: string;
  ds: Datastore;
  /**
   * The local copy of the datastore this agent computes from. Agents of one process share one
   * (the Typha role: one watch for all of them); without it the agent makes and runs its own.
   */
  syncer?: Syncer;
  dataplane: Dataplane;
  /** BIRD config file and control socket this agent keeps in step (the confd role). */
  bird?: { config: string; socket: string };
  /** Runs `bird -p` and `birdc configure`: the dataplane's runner unless given. */
  runner?: CommandRunner;
  /** Period of the full pass over the kernel (routes, rules, BIRD config), to repair drift nobody told us about. */
  resyncMs?: number;
  heartbeatMs?: number;
  log?: (line: string) => void;
}

/**
 * The Felix role for one host: keep a local copy of the datastore (a Syncer: one read, then the
 * watch's deltas), compute the desired state (pure) when a change concerns this host, converge
 * the kernel (thin dataplane) and BIRD's config. Each pass still compares the whole desired state
 * with what the kernel holds, so a restart, a missed event or a hand-deleted route heal the same
 * way; what changed is what decides *whether* a pass runs (relevance.ts), not what it checks.
 */
export class Agent {
  private readonly syncer: Syncer;
  private readonly ownSyncer: boolean;
  private unsubscribe: (() => void) | undefined;
  private stopRouteWatch: (() => void) | undefined;
  private syncStarted: Promise<void> | undefined;
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
    this.ownSyncer = !o.syncer;
    this.syncer = o.syncer ?? new Syncer(o.ds, (l) => this.log(l));
  }

  async start(): Promise<void> {
    // Subscribe first, then read: a change made in between triggers one more pass, none is lost.
    this.unsubscribe = this.syncer.onChange((changes, revision) => {
      const ctx = relevanceContext(this.syncer.snapshot());
      if (changes.some((c) => relevantTo(this.o.host, c, ctx))) this.kick();
      else this.unchangedAt(revision);
    });
    await this.synced();
    await this.reconcileNow();
    this.stopRouteWatch = this.o.dataplane.watchRouteDeletions?.(() => this.kick());
    // The periodic pass at a random phase: the agents of a shared process (or of a lab started
    // at once) would otherwise all pass over their kernels at the same instant.
    const resyncMs = this.o.resyncMs ?? 10_000;
    const phase = setTimeout(() => {
      this.kick();
      this.timers.push(setInterval(() => this.kick(), resyncMs));
    }, Math.random() * resyncMs);
    this.timers.push(phase);
    this.timers.push(setInterval(() => void this.heartbeat(), this.o.heartbeatMs ?? 2_000));
    await this.heartbeat();
  }

  /** Coalesces bursts of events (a workload add writes several keys) into one pass. */
  kick(): void {
    if (this.stopped) return;
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      void this.reconcileNow();
    }, 10);
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
      await this.synced();
      const snapshot = this.syncer.snapshot();
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
      const error = [...desired.problems, ...(dataplaneError ? [dataplaneError] : []), ...(birdError ? [birdError] : [])].join('; ') || undefined;
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

  /**
   * Nothing this host programs changed up to `revision`: once no pass is due, the last pass
   * stands for it too. Told at the next heartbeat, so that whoever waits for a revision to be
   * programmed everywhere is answered without a pass, and without a write per event.
   */
  /** The own syncer's first read, once (a shared one is started by its owner). */
  private synced(): Promise<void> {
    this.syncStarted ??= this.ownSyncer ? this.syncer.start() : Promise.resolve();
    return this.syncStarted;
  }

  private unchangedAt(revision: string): void {
    const last = this.status.lastReconcile;
    if (!last || last.error || this.running || this.debounce) return;
    if (!last.revision || BigInt(revision) > BigInt(last.revision)) last.revision = revision;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.debounce);
    this.timers.forEach(clearTimeout);
    this.unsubscribe?.();
    this.stopRouteWatch?.();
    if (this.ownSyncer) await this.syncer.stop();
    await this.running;
  }

  private log(line: string): void {
    (this.o.log ?? ((l) => console.log(l)))(`${new Date().toISOString()} ${this.o.host} ${line}`);
  }
}
