/**
 * The UDP ports on which the capture reader (pcap.ts) looks for an encapsulation header. A module
 * of its own so that the prober (probe.ts, started in every namespace) keeps its client ports off
 * them without loading the reader.
 */

/** UDP destination ports that mean VXLAN (IANA 4789; 8472 is the Linux kernel's old default). */
export const VXLAN_PORTS: readonly number[] = [4789, 8472];
export const GENEVE_PORT = 6081;
export const WIREGUARD_PORT = 51820;
/** IPsec NAT traversal: ESP in UDP (RFC 3948), told apart from IKE by its non-zero SPI. */
export const ESP_IN_UDP_PORT = 4500;

const ENCAPSULATION_UDP_PORTS: ReadonlySet<number> = new Set([...VXLAN_PORTS, GENEVE_PORT, WIREGUARD_PORT, ESP_IN_UDP_PORT]);

/** True for a UDP port on which the capture reader checks for an encapsulation header. */
export function isEncapsulationPort(port: number): boolean {
  return ENCAPSULATION_UDP_PORTS.has(port);
}
