/** When a lab is ready: every block learned by BGP everywhere, and no daemon dead on the way. */
import { existsSync, readFileSync } from 'node:fs';
import { hostOfAffinity } from '../ipam/blocks.js';
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
      50,
    );
  } catch (err) {
    if (err instanceof FatalWaitError || signal?.aborted) throw err;
    throw new BackendError(`${errorMessage(err)}; still missing: ${last.slice(0, 5).join('; ')}`, { cause: err });
  }
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
