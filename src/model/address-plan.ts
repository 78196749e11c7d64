import { cidrsOverlap, familyOf, parseCidr } from '../net/cidr.js';

/**
 * A lab's own address plan comes from these (RFC 2544 and RFC 3849 documentation space): the
 * fabric, the routers' LANs, the default pools. Pools and BGP peers a user gives may be any
 * unicast address (Calico's samples use 10.1.0.0/16 and 192.168.1.1): every lab interface is in a
 * namespace of the lab's own — none in the machine's — so no lab route shadows the machine's
 * networks and no packet to such an address can leave the machine.
 */
export const LAB_RANGES = { 4: '198.18.0.0/15', 6: '2001:db8::/32' } as const;

/** A CIDR as given, or an address as its /32 or /128, parsed. */
const asCidr = (cidrOrIp: string) => parseCidr(cidrOrIp.includes('/') ? cidrOrIp : `${cidrOrIp}/${familyOf(cidrOrIp) === 6 ? 128 : 32}`);

/** Why a network (CIDR) or address is outside the lab ranges (the lab's own plan), or undefined when it is inside. */
export function outsideLabRanges(cidrOrIp: string): string | undefined {
  const c = asCidr(cidrOrIp);
  const range = LAB_RANGES[familyOf(c.cidr)];
  const inside = cidrsOverlap(c.cidr, range) && c.prefix >= Number(range.split('/')[1]);
  return inside ? undefined : `${cidrOrIp} is outside the lab address ranges (${LAB_RANGES[4]}, ${LAB_RANGES[6]})`;
}

/** Networks no pool or peer address may touch: they do not route as unicast anywhere. */
const NOT_UNICAST: Record<4 | 6, readonly [string, string][]> = {
  4: [
    ['0.0.0.0/8', 'the "this network" range'],
    ['127.0.0.0/8', 'the loopback range'],
    ['224.0.0.0/4', 'the multicast range'],
    ['240.0.0.0/4', 'the reserved range'],
  ],
  6: [
    ['::/128', 'the unspecified address'],
    ['::1/128', 'the loopback address'],
    ['ff00::/8', 'the multicast range'],
  ],
};

/**
 * Pure: why a network (CIDR) or address cannot be a pool or a BGP peer (loopback, multicast,
 * unspecified, reserved), or undefined when it is routable unicast. Link-local is the pool
 * schema's own rule (Calico's).
 */
export function notUnicast(cidrOrIp: string): string | undefined {
  const c = asCidr(cidrOrIp);
  const hit = NOT_UNICAST[familyOf(c.cidr)].find(([range]) => cidrsOverlap(c.cidr, range));
  return hit ? `${cidrOrIp} overlaps ${hit[1]} ${hit[0]}` : undefined;
}

/**
 * Pure: why a network cannot be an IP pool, or undefined: Calico refuses the link-local range
 * (workloads reach their host at 169.254.1.1), and no pool may be loopback, multicast or reserved.
 * The one rule of a topology's pools and of an IPPool resource.
 */
export function poolRangeProblem(cidr: string): string | undefined {
  const linkLocal = familyOf(cidr) === 4 ? '169.254.0.0/16' : 'fe80::/10';
  if (cidrsOverlap(cidr, linkLocal)) return `${cidr} overlaps the link-local range ${linkLocal}, which Calico refuses (workloads reach their host at 169.254.1.1)`;
  return notUnicast(cidr);
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
