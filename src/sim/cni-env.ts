import type { CniEnv } from '../cni/workload.js';
import type { Backend } from './backend.js';
import { names } from './names.js';

/**
 * The lab's side of the CNI (cni/workload.ts): its naming scheme, and its backend's sandboxes.
 * `sandboxesMade`: the sandboxes were made beforehand, all in one batch (`up`).
 */
export function cniEnv(backend: Backend, o: { sandboxesMade?: boolean } = {}): CniEnv {
  return {
    workloadNs: (lab, name) => backend.workloadNetns(lab, name),
    caliIface: names.caliIface,
    createSandbox: async (netns) => {
      if (!o.sandboxesMade) await backend.addWorkloadNetns([netns]);
    },
    removeSandbox: async (netns) => (await backend.removeNodes([netns])).length > 0,
  };
}
