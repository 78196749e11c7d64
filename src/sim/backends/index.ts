import { InputError } from '../../util/errors.js';
import type { Backend } from '../backend.js';
import type { LabState } from '../state.js';
import { DockerBackend } from './docker.js';
import { NetnsBackend } from './netns.js';

/** Every backend by name: `up --backend NAME` picks one, a lab's state names its own. */
export const backends: Record<string, () => Backend> = { netns: () => new NetnsBackend(), docker: () => new DockerBackend() };

export const DEFAULT_BACKEND = 'netns';

export function backendFor(kind: string): Backend {
  const make = backends[kind];
  if (!make) throw new InputError(`unknown backend "${kind}" (known: ${Object.keys(backends).join(', ')})`);
  return make();
}

/** The backend a running lab was built with. */
export function backendOf(state: Pick<LabState, 'backend'>): Backend {
  return backendFor(state.backend);
}

/**
 * Every lab on this machine, of any backend, with the backend that holds it. A container lab also
 * has named namespaces (the containers'), which the netns backend sees too: the backend that is
 * not the default wins, so that removing the lab removes its containers.
 */
export async function allLabs(): Promise<{ lab: string; backend: Backend }[]> {
  const found = new Map<string, Backend>();
  for (const kind of Object.keys(backends)) {
    const b = backendFor(kind);
    for (const lab of await b.labs()) if (!found.has(lab) || kind !== DEFAULT_BACKEND) found.set(lab, b);
  }
  return [...found].sort(([a], [b]) => a.localeCompare(b)).map(([lab, backend]) => ({ lab, backend }));
}
