import type { HostPlan, LabPlan, RouterPlan } from '../model/topology.js';
import type { NodeRunner } from '../util/node-runner.js';
import type { DaemonSpec } from './daemons.js';

/** What `down` removed, for the report and for tests. */
export interface DestroyReport {
  lab: string;
  namespaces: string[];
  processes: number;
  stateDir?: string;
}

/** The fabric side of a node's uplink: where its traffic is captured, and where it is cut. */
export interface Uplink {
  /** The namespace the interface is in (undefined: the root namespace). */
  netns: string | undefined;
  ifname: string;
}

/**
 * Where a lab's nodes live, and the only way any code reaches them: their namespaces, links and
 * processes. Every node is reachable as a *named network namespace* (the netns backend makes
 * them; a container backend exposes each container's namespace under a name), so the CNI, agent
 * and verifiers address nodes by that name. Adding a backend means implementing this interface
 * in src/sim/backends/ and registering it in src/sim/backends/index.ts.
 */
export interface Backend extends NodeRunner {
  readonly kind: string;
  /** True when each host's agent must run inside the node (a container): no shared agent processes. */
  readonly agentsInNodes: boolean;
  /** Before anything is made: what the backend needs is there (an engine, an image), or an InputError says what to do. */
  prepare(plan: LabPlan, log: (line: string) => void): Promise<void>;
  /** The fabric (a bridge in its own namespace, holding the gateway address) for a new lab. */
  createFabric(lab: string, plan: LabPlan): Promise<void>;
  /** Hosts with eth0 on the fabric, their address and a default route to the fabric gateway. */
  addHosts(lab: string, plan: LabPlan, hosts: HostPlan[]): Promise<void>;
  /** Routers outside the cluster: eth0 on the fabric, a LAN bridge with their outside clients. */
  addRouters(lab: string, plan: LabPlan, routers: RouterPlan[]): Promise<void>;
  /** Empty namespaces for workloads (in one batch), which the CNI then plumbs from their hosts' side. */
  addWorkloadNetns(netns: readonly string[]): Promise<void>;
  /** Removes nodes (a host, a workload) with every process inside them; returns those that existed. */
  removeNodes(netns: string[]): Promise<string[]>;
  /** Namespace name of the fabric, a host, a router, an outside client or a workload. */
  fabricNetns(lab: string): string;
  hostNetns(lab: string, host: string): string;
  routerNetns(lab: string, router: string): string;
  clientNetns(lab: string, client: string): string;
  workloadNetns(lab: string, workload: string): string;
  /** The fabric side of a host's or router's uplink. */
  uplink(lab: string, node: string): Uplink;
  /** Cuts (false) or restores (true) a node's uplink: the link-failure fault. */
  setUplink(lab: string, node: string, up: boolean): Promise<void>;
  /**
   * Runs a command in a node with the terminal attached (`calico-sim exec`); resolves with its
   * exit code. `etcHosts`: a file the command sees as /etc/hosts (the lab's names), without the
   * machine's own /etc/hosts changing.
   */
  attach(netns: string, argv: string[], o?: { etcHosts?: string }): Promise<number>;
  /** Starts a lab daemon (etcd, BIRD, an agent) that outlives the CLI; returns its pid. */
  startDaemon(spec: DaemonSpec): Promise<number>;
  /** True if the daemon with this pid runs (and is the one the spec describes). */
  daemonAlive(spec: DaemonSpec, pid: number | undefined): boolean;
  /** How a daemon this process started has ended ("killed by SIGKILL"), if it has. */
  daemonEnding(pid: number | undefined): string | undefined;
  /** True if the process is stopped (SIGSTOP): alive, but doing nothing. */
  daemonStopped(pid: number | undefined): boolean;
  /** Sends a signal to a lab daemon (a fault, or a stop). */
  signalDaemon(pid: number, signal: NodeJS.Signals): void;
  /** Removes everything of the lab that exists, found from system state alone. */
  destroy(lab: string): Promise<DestroyReport>;
  /** A container backend: the id of each node's container, by the node's namespace name. */
  nodeContainers?(lab: string): Promise<Map<string, string>>;
  /** Labs that have anything left on this machine. */
  labs(): Promise<string[]>;
}
