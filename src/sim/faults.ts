import { InputError } from '../util/errors.js';
import { backendOf } from './backends/index.js';
import type { LabState } from './state.js';

/**
 * Faults injected into a running lab, for benchmarks and tests — all through the lab's backend,
 * so they work the same on every backend. Each one is undone by its counterpart or by `heal`.
 */

/** A lab daemon: etcd, or a host's (or router's) BIRD or agent. */
export type DaemonRef = 'etcd' | { node: string; daemon: 'bird' | 'agent' };

/** Cuts a host's or router's uplink to the fabric: its BGP sessions and traffic stop. */
export async function cutLink(state: LabState, node: string): Promise<void> {
  await backendOf(state).setUplink(state.lab, node, false);
}

/** Restores an uplink cut by cutLink. */
export async function restoreLink(state: LabState, node: string): Promise<void> {
  await backendOf(state).setUplink(state.lab, node, true);
}

/** Sends a signal to a lab daemon: SIGKILL to crash it, SIGSTOP/SIGCONT to stall and resume it. */
export function signalDaemon(state: LabState, which: DaemonRef, signal: NodeJS.Signals = 'SIGKILL'): void {
  const pid = pidOf(state, which);
  if (!pid) throw new InputError(`${describe(which)} has no recorded pid in lab ${state.lab}`);
  backendOf(state).signalDaemon(pid, signal);
}

function pidOf(state: LabState, which: DaemonRef): number | undefined {
  if (which === 'etcd') return state.etcd.pid;
  const node = [...state.hosts, ...state.routers].find((n) => n.name === which.node);
  if (!node) throw new InputError(`no host or router "${which.node}" in lab ${state.lab}`);
  if (which.daemon === 'bird') return node.bird.pid;
  if (!('agent' in node)) throw new InputError(`"${which.node}" is a router: it has no agent`);
  return node.agent.pid;
}

const describe = (w: DaemonRef) => (w === 'etcd' ? 'etcd' : `${w.daemon}@${w.node}`);
