import { InputError } from '../util/errors.js';

/**
 * Every kernel object and file a lab makes carries its lab name, so that `down` can find them
 * from the system alone. Names use [a-z0-9-]; the `_` separator (sim/names.ts) therefore never
 * appears inside a name and a namespace name parses back without ambiguity.
 */
export const NETNS_PREFIX = 'csim_';
export const NAME_RE = /^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/;
export const LAB_RE = /^[a-z0-9]([a-z0-9-]{0,14}[a-z0-9])?$/;

export function checkLabName(lab: string): string {
  if (!LAB_RE.test(lab)) {
    throw new InputError(`invalid lab name "${lab}": use 1-16 characters of a-z, 0-9 and "-" (not at either end)`);
  }
  return lab;
}

/** What names a workload endpoint in Calico (libcalico-go/lib/names/workloadendpoint.go). */
export interface WepIdentifiers {
  node: string;
  orchestrator: string;
  workload: string;
  endpoint: string;
}

/** The orchestrator and endpoint of every workload endpoint the lab's CNI writes. */
export const CNI_ORCHESTRATOR = 'cni' as const;
export const CNI_ENDPOINT = 'eth0' as const;

/**
 * A workload endpoint's name as Calico forms it: `<node>-<orchestrator>-<workload>-<endpoint>`,
 * each part with its dashes doubled (escapeDashes), so the name parses back (wepIdentifiers).
 */
export function wepName(ids: WepIdentifiers): string {
  return [ids.node, ids.orchestrator, ids.workload, ids.endpoint].map((p) => p.replaceAll('-', '--')).join('-');
}

/** The parts of a name wepName made; undefined for any other name. */
export function wepIdentifiers(name: string): WepIdentifiers | undefined {
  // A separator is a single dash: one not next to another dash.
  const parts = name.split(/(?<!-)-(?!-)/).map((p) => p.replaceAll('--', '-'));
  if (parts.length !== 4 || parts.some((p) => p === '')) return undefined;
  const [node, orchestrator, workload, endpoint] = parts as [string, string, string, string];
  return { node, orchestrator, workload, endpoint };
}
