/** The supervisor: restarts a lab's dead daemons and checks that they stay up. */
import { birdc } from '../bgp/bird.js';
import { sleep } from '../util/exec.js';
import { SimError } from '../util/errors.js';
import { backendOf } from './backends/index.js';
import { agentDaemons, birdSpec, etcdSpec, type DaemonSpec } from './daemons.js';
import { requireRoot } from './preflight.js';
import { writeLabState, type LabState } from './state.js';
import { logTail } from './readiness.js';

/** How long a restarted daemon must stay up (and BIRD answer on its socket) to count as restarted. */
const HEAL_VERIFY_MS = 1_500;

/**
 * The supervisor's pass: restarts every daemon of the lab that is not running, then checks that
 * each one it restarted still runs (and a BIRD answers on its control socket) — a daemon that
 * dies at once (a BIRD without a config) is an error naming it, with the end of its log.
 */
export async function heal(state: LabState): Promise<string[]> {
  requireRoot();
  const backend = backendOf(state);
  const restarted: { spec: DaemonSpec; pid: number; socket?: string }[] = [];
  const restart = async (spec: DaemonSpec, pid: number | undefined, socket?: string): Promise<number | undefined> => {
    if (backend.daemonAlive(spec, pid)) return pid;
    const started = await backend.startDaemon(spec);
    restarted.push({ spec, pid: started, ...(socket ? { socket } : {}) });
    return started;
  };
  state.etcd.pid = await restart(etcdSpec(state), state.etcd.pid);
  for (const h of state.hosts) h.bird.pid = await restart(birdSpec(h, { recovery: true }), h.bird.pid, h.bird.socket);
  // A shared agent process is restarted once for all the hosts it serves.
  for (const { spec, hosts } of agentDaemons(state)) {
    const pid = await restart(spec, hosts[0]!.agent.pid);
    for (const h of hosts) h.agent.pid = pid;
  }
  for (const r of state.routers) r.bird.pid = await restart(birdSpec(r, { recovery: true }), r.bird.pid, r.bird.socket);
  writeLabState(state);
  const failed: string[] = [];
  await Promise.all(
    restarted.map(async ({ spec, pid, socket }) => {
      const deadline = Date.now() + HEAL_VERIFY_MS;
      let answered = socket === undefined;
      while (Date.now() < deadline || !answered) {
        if (!backend.daemonAlive(spec, pid)) {
          const ending = backend.daemonEnding(pid);
          failed.push(`${spec.what} died right after its restart${ending ? ` (${ending})` : ''}: ${logTail(spec) || 'nothing in its log'}`);
          return;
        }
        if (!answered)
          answered = await birdc(socket!, 'show status').then(
            () => true,
            () => false,
          );
        if (!answered && Date.now() > deadline + 5_000) {
          failed.push(`${spec.what} was restarted but does not answer on ${socket}`);
          return;
        }
        await sleep(100);
      }
    }),
  );
  if (failed.length) throw new SimError(`heal: ${failed.join('; ')}`);
  return restarted.map((r) => r.spec.what);
}
