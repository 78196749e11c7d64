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
