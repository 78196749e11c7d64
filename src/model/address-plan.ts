import { cidrsOverlap, familyOf, parseCidr } from '../net/cidr.js';

/** Every address a lab uses comes from these (RFC 2544 and RFC 3849 documentation space). */
export const LAB_RANGES = { 4: '198.18.0.0/15', 6: '2001:db8::/32' } as const;

/**
 * Why a network (CIDR) or address is outside the lab ranges, or undefined when it is inside.
 * Never RFC 1918 or public space: a lab must not shadow the host's own networks.
 */
export function outsideLabRanges(cidrOrIp: string): string | undefined {
  const cidr = cidrOrIp.includes('/') ? cidrOrIp : `${cidrOrIp}/${familyOf(cidrOrIp) === 6 ? 128 : 32}`;
  const c = parseCidr(cidr);
  const range = LAB_RANGES[familyOf(c.cidr)];
  const inside = cidrsOverlap(c.cidr, range) && c.prefix >= Number(range.split('/')[1]);
  return inside ? undefined : `${cidrOrIp} is outside the lab address ranges (${LAB_RANGES[4]}, ${LAB_RANGES[6]})`;
}

/** A network of a lab that no IPPool may overlap: its fabric (host) networks and its routers' LANs. */
export interface LabNetwork {
  cidr: string;
  /** What it is, for errors: `the fabric (host) network`, `the IPv6 fabric`, `the LAN of router gw`. */
  what: string;
}

/** The networks of a lab plan that pools must stay out of: the fabric, the IPv6 fabric (dual stack), the routers' LANs. */
export function labNetworks(plan: { fabric: { cidr: string }; fabric6?: { cidr: string } | undefined; routers: readonly { name: string; network: { cidr: string } }[] }): LabNetwork[] {
  return [
    { cidr: plan.fabric.cidr, what: 'the fabric (host) network' },
    ...(plan.fabric6 ? [{ cidr: plan.fabric6.cidr, what: 'the IPv6 fabric' }] : []),
    ...plan.routers.map((r) => ({ cidr: r.network.cidr, what: `the LAN of router ${r.name}` })),
  ];
}

/**
 * Pure: why a pool (canonical CIDR) may not be used in a lab with these networks: the first one
 * it overlaps, or undefined. The one rule of both paths: a topology's pools (model/topology.ts)
 * and an IPPool applied to a running lab (ctl/cross-checks.ts).
 */
export function poolOverlapsLab(pool: string, networks: readonly LabNetwork[]): string | undefined {
  const hit = networks.find((n) => cidrsOverlap(pool, n.cidr));
  if (!hit) return undefined;
  const why = hit.what.startsWith('the LAN') ? "workload routes would shadow the router's clients" : 'workload routes would shadow host addresses';
  return `pool ${pool} overlaps ${hit.what} ${hit.cidr}: ${why}`;
}
