import type { CniEnv } from '../cni/workload.js';
import { names } from './names.js';
import { removeNetns } from './procs.js';

/** The lab's side of the CNI (cni/workload.ts): its naming scheme, and namespace removal. */
export const cniEnv: CniEnv = { workloadNs: names.workloadNs, caliIface: names.caliIface, removeNetns };
