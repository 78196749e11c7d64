import { createHash } from 'node:crypto';
import { InputError } from '../util/errors.js';

/**
 * Every kernel object and file a lab makes carries its lab name, so that `down` can find them
 * from the system alone. Names use [a-z0-9-]; the `_` separator below therefore never appears
 * inside a name and a namespace name parses back without ambiguity.
 */
export const NETNS_PREFIX = 'csim_';
export const NAME_RE = /^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/;
export const LAB_RE = /^[a-z0-9]([a-z0-9-]{0,14}[a-z0-9])?$/;

export const STATE_ROOT = process.env.CALICO_SIM_STATE ?? '/run/calico-sim';

export function checkLabName(lab: string): string {
  if (!LAB_RE.test(lab)) {
    throw new InputError(`invalid lab name "${lab}": use 1-16 characters of a-z, 0-9 and "-" (not at either end)`);
  }
  return lab;
}

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
