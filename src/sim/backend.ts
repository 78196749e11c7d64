import type { HostPlan, LabPlan, RouterPlan } from '../model/topology.js';

/** What `down` removed, for the report and for tests. */
export interface DestroyReport {
  lab: string;
  namespaces: string[];
  processes: number;
  stateDir?: string;
}

/**
 * Where a lab's nodes live. Every node is reachable as a *named network namespace* (the netns
 * backend makes them; a container backend exposes each container's namespace under a name), so
 * the CNI, agent and verifiers work the same on any backend through `ip -n` / `ip netns exec`.
 */
export interface Backend {
  readonly kind: string;
  /** The fabric (a bridge in its own namespace, holding the gateway address) for a new lab. */
  createFabric(lab: string, plan: LabPlan): Promise<void>;
  /** Hosts with eth0 on the fabric, their address and a default route to the fabric gateway. */
  addHosts(lab: string, plan: LabPlan, hosts: HostPlan[]): Promise<void>;
  /** Routers outside the cluster: eth0 on the fabric, a LAN bridge with their outside clients. */
  addRouters(lab: string, plan: LabPlan, routers: RouterPlan[]): Promise<void>;
  /** Namespace name of the fabric, a host, a router or an outside client. */
  routerNetns(lab: string, router: string): string;
  clientNetns(lab: string, client: string): string;
  fabricNetns(lab: string): string;
  hostNetns(lab: string, host: string): string;
  /** Removes everything of the lab that exists, found from system state alone. */
  destroy(lab: string): Promise<DestroyReport>;
  /** Labs that have anything left on this machine. */
  labs(): Promise<string[]>;
}
