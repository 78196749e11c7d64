import { createHash } from 'node:crypto';
import { LAB_RE, NETNS_PREFIX } from '../model/names.js';

export const STATE_ROOT = process.env.CALICO_SIM_STATE ?? '/run/calico-sim';

/**
 * The names of a lab's kernel objects and files, each carrying the lab name with `_` as the
 * separator (the name rules, NAME_RE and LAB_RE, are in model/names.ts).
 */
export const names = {
  fabricNs: (lab: string) => `${NETNS_PREFIX}${lab}_fabric`,
  hostNs: (lab: string, host: string) => `${NETNS_PREFIX}${lab}_h_${host}`,
  workloadNs: (lab: string, wl: string) => `${NETNS_PREFIX}${lab}_w_${wl}`,
  routerNs: (lab: string, router: string) => `${NETNS_PREFIX}${lab}_r_${router}`,
  /** An outside client on a router's LAN. */
  clientNs: (lab: string, client: string) => `${NETNS_PREFIX}${lab}_x_${client}`,
  /** The fabric-side end of a host's uplink, inside the fabric namespace (max 15 chars). */
  fabricPort: (host: string) => `fp${shortHash(host, 10)}`,
  /** Calico's host-side veth name: "cali" + 11 hex characters of a hash of the endpoint id. */
  caliIface: (lab: string, wl: string) => `cali${shortHash(`${lab}/${wl}`, 11)}`,
  stateDir: (lab: string) => `${STATE_ROOT}/${lab}`,
};

/** Lab name from one of its namespace names, or undefined for a foreign namespace. */
export function labOfNetns(ns: string): string | undefined {
  if (!ns.startsWith(NETNS_PREFIX)) return undefined;
  const lab = ns.slice(NETNS_PREFIX.length).split('_')[0];
  return lab && LAB_RE.test(lab) ? lab : undefined;
}

function shortHash(s: string, len: number): string {
  return createHash('sha1').update(s).digest('hex').slice(0, len);
}
