/** Workloads of a running lab, through the CNI, by name. */
import { labelMap } from '../model/labels.js';
import { endpointPortSchema } from '../model/resource-fields.js';
import { addWorkload, deleteWorkload, findWorkload } from '../cni/workload.js';
import type { EndpointPort, WorkloadEndpoint } from '../model/resources.js';
import { InputError } from '../util/errors.js';
import { backendOf } from './backends/index.js';
import { cniEnv } from './cni-env.js';
import { NAME_RE } from '../model/names.js';
import { requireRoot } from './preflight.js';
import type { LabState } from './state.js';
import { withDatastore } from './lab.js';

export async function addLabWorkload(
  state: LabState,
  name: string,
  host: string,
  o: { namespace?: string; labels?: Record<string, string>; ports?: EndpointPort[]; ipv4Pools?: string[]; ipv6Pools?: string[] } = {},
): Promise<WorkloadEndpoint> {
  requireRoot();
  if (!NAME_RE.test(name)) throw new InputError(`invalid workload name "${name}": use 1-32 characters of a-z, 0-9 and "-" (not at either end)`);
  if (state.routers.some((r) => r.name === name || r.clients.some((c) => c.name === name))) throw new InputError(`"${name}" is a router or outside client of lab ${state.lab}`);
  const h = state.hosts.find((x) => x.name === host);
  if (!h) throw new InputError(`unknown host "${host}" in lab ${state.lab} (hosts: ${state.hosts.map((x) => x.name).join(', ')})`);
  if (state.hosts.some((x) => x.name === name)) throw new InputError(`"${name}" is a host name; workload names must differ from host names`);
  const labels = labelMap.safeParse(o.labels ?? {});
  if (!labels.success) throw new InputError(`--label ${labels.error.issues[0]!.path.join('.')}: ${labels.error.issues[0]!.message}`);
  (o.ports ?? []).forEach((p, i) => {
    const checked = endpointPortSchema.safeParse(p);
    if (!checked.success) throw new InputError(`--port ${i + 1} (${p.name}): ${checked.error.issues[0]!.path.join('.') || 'value'}: ${checked.error.issues[0]!.message}`);
  });
  return withDatastore(state, (ds) => addWorkload(ds, { lab: state.lab, name, host, hostNetns: h.netns, ...o }, cniEnv(backendOf(state))));
}

export async function deleteLabWorkload(state: LabState, name: string): Promise<{ name: string; released: string[] }> {
  requireRoot();
  return withDatastore(state, (ds) => deleteWorkload(ds, state.lab, name, cniEnv(backendOf(state))));
}

/** The namespace of a host or workload of the lab, by name. */
export async function netnsOf(state: LabState, target: string): Promise<string> {
  const h = [...state.hosts, ...state.routers, ...state.routers.flatMap((r) => r.clients)].find((x) => x.name === target);
  if (h) return h.netns;
  const wep = await withDatastore(state, (ds) => findWorkload(ds, target));
  if (wep) return wep.value.spec.netns;
  throw new InputError(`no host or workload named "${target}" in lab ${state.lab}`);
}
