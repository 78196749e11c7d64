/** When a lab is ready: every block learned by BGP everywhere, and no daemon dead on the way. */
import { existsSync, readFileSync } from 'node:fs';
import { bgpSessions } from '../bgp/bird.js';
import { keys } from '../datastore/keys.js';
import { hostOfAffinity } from '../ipam/blocks.js';
import type { AgentStatus } from '../model/resources.js';
import { familyOf } from '../net/cidr.js';
import { readSnapshot } from '../datastore/snapshot.js';
import type { Datastore } from '../datastore/store.js';
import { FatalWaitError, waitFor } from '../util/exec.js';
import { ipJsonIn } from '../util/node-runner.js';
import { pool } from '../util/pool.js';
import { BackendError, errorMessage } from '../util/errors.js';
import { backendOf } from './backends/index.js';
import { agentDaemons, birdSpec, etcdSpec, type DaemonSpec } from './daemons.js';
import type { LabState } from './state.js';

/** Kernels read at once: a 500-host lab polled all at once was a thousand `ip` processes a round. */
const READ_CONCURRENCY = 16;

/**
 * Every host's kernel holds, as a `proto bird` route, every block another host owns; so does
 * every router outside the cluster. `only`: check just these nodes (by name).
 */
export async function missingRoutes(ds: Datastore, state: LabState, only?: Set<string>): Promise<string[]> {
  const snap = await readSnapshot(ds);
  const missing: string[] = [];
  const backend = backendOf(state);
  const anyV6 = snap.blocks.some((b) => familyOf(b.cidr) === 6);
  const learnedBy = async (netns: string, families: string[]) =>
    new Set((await Promise.all(families.map((f) => ipJsonIn<{ dst: string }[]>(backend, netns, [f, 'route', 'show', 'proto', 'bird'])))).flat().map((r) => r.dst));
  const nodes = [
    ...state.hosts.map((h) => ({ h, v6: true })),
    // Routers outside the cluster speak IPv4 only.
    ...state.routers.map((h) => ({ h, v6: false })),
  ].filter((n) => !only || only.has(n.h.name));
  await pool(
    nodes.map(({ h, v6 }) => async () => {
      const learned = await learnedBy(h.netns, v6 && anyV6 ? ['-4', '-6'] : ['-4']);
      for (const b of snap.blocks) {
        const owner = hostOfAffinity(b.affinity);
        if (!v6 && familyOf(b.cidr) === 6) continue;
        if (owner && owner !== h.name && !learned.has(b.cidr)) missing.push(`${h.name} lacks ${b.cidr} (owned by ${owner})`);
      }
    }),
    READ_CONCURRENCY,
  );
  return missing.sort();
}

export async function waitForRoutes(ds: Datastore, state: LabState, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  let last: string[] = [];
  let lacking: Set<string> | undefined;
  try {
    await waitFor(
      'every block to be learned by BGP on every host',
      async () => {
        signal?.throwIfAborted();
        assertDaemonsAlive(state);
        // Re-read only the nodes that lacked something last round; once none does, one more
        // round over all of them confirms it (a route may have left a kernel read earlier).
        last = await missingRoutes(ds, state, lacking);
        const full = lacking === undefined;
        lacking = last.length ? new Set(last.map((m) => m.split(' ')[0]!)) : undefined;
        return last.length === 0 && full;
      },
      timeoutMs,
      // Every read dumps a kernel's routes under the lock its route installs need: a large lab is
      // polled less often, so the poll does not slow what it waits for (1 s at 1,000 hosts).
      Math.max(50, state.hosts.length),
    );
  } catch (err) {
    if (err instanceof FatalWaitError || signal?.aborted) throw err;
    throw new BackendError(`${errorMessage(err)}; still missing: ${last.slice(0, 5).join('; ')}`, { cause: err });
  }
}

/**
 * Every host's agent has programmed the datastore up to `revision` (the write a caller waits on)
 * without error: its routes, rules and BIRD config reflect it. An agent whose last pass failed is
 * waited for (its next pass retries); on timeout the message says what each agent said.
 */
export async function waitForAgents(ds: Datastore, state: LabState, revision: string, timeoutMs: number): Promise<void> {
  let behind: string[] = [];
  try {
    await waitFor(
      `every agent to program revision ${revision}`,
      async () => {
        const { items } = await ds.list<AgentStatus>(keys.agentStatuses);
        const last = new Map(items.map((i) => [i.value.host, i.value.lastReconcile]));
        behind = state.hosts.flatMap((h) => {
          const r = last.get(h.name);
          if (r?.error) return [`agent@${h.name}: ${r.error}`];
          return r && BigInt(r.revision ?? '0') >= BigInt(revision) ? [] : [`agent@${h.name} at revision ${r?.revision ?? 'none'}`];
        });
        return behind.length === 0;
      },
      timeoutMs,
      20,
    );
  } catch (err) {
    throw new BackendError(`${errorMessage(err)}; ${behind.slice(0, 5).join('; ')}`, { cause: err });
  }
}

/**
 * BGP has settled: every BGP session of every BIRD (hosts and routers) is Established, and every
 * node has learned every block (missingRoutes). A session that cannot come up (a peer address
 * nobody has) keeps it unsettled: the timeout names it.
 */
export async function waitForBgpSettled(ds: Datastore, state: LabState, timeoutMs: number): Promise<{ sessions: number }> {
  let unsettled: string[] = [];
  let sessions = 0;
  try {
    await waitFor(
      'BGP to settle (every session Established, every block learned everywhere)',
      async () => {
        assertDaemonsAlive(state);
        const speakers = [...state.hosts, ...state.routers];
        const all = await pool(
          speakers.map((h) => async () => (await bgpSessions(h.bird.socket)).map((s) => ({ node: h.name, s }))),
          READ_CONCURRENCY,
        );
        const down = all.flat().filter(({ s }) => s.bgpState !== 'Established');
        sessions = all.flat().length;
        unsettled = [...down.map(({ node, s }) => `${node} ${s.name} ${s.bgpState || s.state}`), ...(down.length ? [] : await missingRoutes(ds, state))];
        return unsettled.length === 0;
      },
      timeoutMs,
      100,
    );
  } catch (err) {
    if (err instanceof FatalWaitError) throw err;
    throw new BackendError(`${errorMessage(err)}; not yet: ${unsettled.slice(0, 5).join('; ')}`, { cause: err });
  }
  return { sessions };
}

/** The last lines of a daemon's log, on one line. */
export function logTail(spec: DaemonSpec): string {
  return existsSync(spec.log) ? readFileSync(spec.log, 'utf8').trim().split('\n').slice(-3).join(' | ') : 'no log';
}

/** Fails at once, with the end of its log, if a daemon of the lab died. */
function assertDaemonsAlive(state: LabState): void {
  const backend = backendOf(state);
  const specs: [DaemonSpec, number | undefined][] = [
    [etcdSpec(state), state.etcd.pid],
    ...state.hosts.map((h): [DaemonSpec, number | undefined] => [birdSpec(h), h.bird.pid]),
    ...agentDaemons(state).map(({ spec, hosts }): [DaemonSpec, number | undefined] => [spec, hosts[0]!.agent.pid]),
    ...state.routers.map((r): [DaemonSpec, number | undefined] => [birdSpec(r), r.bird.pid]),
  ];
  for (const [spec, pid] of specs) {
    if (!backend.daemonAlive(spec, pid)) {
      const ending = backend.daemonEnding(pid);
      throw new FatalWaitError(`${spec.what} has exited${ending ? ` (${ending})` : ''}: ${logTail(spec) || 'nothing in its log'}`);
    }
  }
}
