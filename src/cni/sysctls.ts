/**
 * Sysctls of a workload's host-side veth: the CNI sets them when it wires a workload, the agent
 * keeps them set.
 */

/** The sysctls Calico sets on a workload's host-side veth. */
export function workloadIfaceSysctls(iface: string): Record<string, string> {
  return {
    [`net.ipv4.conf.${iface}.forwarding`]: '1',
    [`net.ipv4.conf.${iface}.rp_filter`]: '1',
    [`net.ipv4.conf.${iface}.proxy_arp`]: '1',
    [`net.ipv4.neigh.${iface}.proxy_delay`]: '0',
  };
}
