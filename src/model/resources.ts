/**
 * Calico v3-shaped resources as stored in etcd (JSON), plus the IPAM records of
 * /calico/ipam/v2. Only the fields calico-sim reads are typed; the rest is kept as written.
 */
export const API_VERSION = 'projectcalico.org/v3';

export interface Meta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  creationTimestamp?: string;
}

export interface IPPool {
  apiVersion: typeof API_VERSION;
  kind: 'IPPool';
  metadata: Meta;
  spec: {
    cidr: string;
    blockSize: number;
    ipipMode: 'Never';
    /** Always: traffic between hosts is tunnelled (Calico's VXLAN mode; here the overlay baseline). */
    vxlanMode: 'Never' | 'Always';
    natOutgoing: boolean;
    disabled?: boolean;
    nodeSelector: string;
  };
}

export interface CalicoNode {
  apiVersion: typeof API_VERSION;
  kind: 'Node';
  metadata: Meta;
  spec: {
    bgp: {
      /** Address with prefix length, as Calico writes it: 198.18.0.11/16. */
      ipv4Address: string;
      ipv6Address?: string;
      /** Per-node AS (AS per rack); default: BGPConfiguration's asNumber. */
      asNumber?: number;
      /** Set on route reflectors: the RR cluster id (an IPv4-formatted id, e.g. 224.0.0.1). */
      routeReflectorClusterID?: string;
    };
  };
}

/**
 * An explicit BGP peering. Scope: `node` (one node), `nodeSelector` (matching nodes), neither
 * (every node). Peer: `peerIP` + `asNumber` (a router outside the cluster), or `peerSelector`
 * (cluster nodes; the peering then exists from both ends, as in Calico).
 */
export interface BGPPeer {
  apiVersion: typeof API_VERSION;
  kind: 'BGPPeer';
  metadata: Meta;
  spec: {
    node?: string;
    nodeSelector?: string;
    peerIP?: string;
    asNumber?: number;
    peerSelector?: string;
    /** Accept paths that already hold our own AS this many times (AS-per-rack designs). */
    numAllowedLocalASNumbers?: number;
  };
}

/**
 * Session timers and failure detection: calico-sim extensions of BGPConfiguration.spec (Calico
 * fixes these in its templates). Seconds, except BFD's interval (milliseconds).
 */
export type BgpTimers = {
  holdTime?: number;
  keepaliveTime?: number;
  connectRetryTime?: number;
  /** Graceful restart (default on, as in Calico's templates). */
  gracefulRestart?: boolean;
  /** BFD on every session: fast failure detection instead of waiting for the hold timer. */
  bfd?: { intervalMs: number; multiplier: number };
};

export interface BGPConfiguration {
  apiVersion: typeof API_VERSION;
  kind: 'BGPConfiguration';
  metadata: Meta;
  spec: {
    asNumber: number;
    nodeToNodeMeshEnabled: boolean;
    logSeverityScreen?: string;
  } & BgpTimers;
}

export interface WorkloadEndpoint {
  apiVersion: typeof API_VERSION;
  kind: 'WorkloadEndpoint';
  metadata: Meta;
  spec: {
    node: string;
    orchestrator: 'cni';
    workload: string;
    endpoint: 'eth0';
    interfaceName: string;
    ipNetworks: string[];
    /** The namespace the workload lives in (calico-sim specific, like Calico's containerID). */
    netns: string;
  };
}

/** /calico/ipam/v2/assignment/ipv4/block/<cidr with - for /> — Calico's AllocationBlock. */
export interface AllocationBlock {
  cidr: string;
  /** `host:<node>` or null when the block has no affinity. */
  affinity: string | null;
  /** One slot per address of the block: index into `attributes`, or null when free. */
  allocations: (number | null)[];
  /** Free ordinals, in the order they will be handed out. */
  unallocated: number[];
  attributes: { handle_id: string; secondary?: Record<string, string> }[];
  deleted?: boolean;
}

/** /calico/ipam/v2/host/<node>/ipv4/block/<cidr> */
export interface BlockAffinity {
  state: 'pending' | 'confirmed' | 'pendingDeletion';
  deleted: boolean;
}

/** /calico/felix/v2/no-region/host/<node>/status — the agent's heartbeat. */
export interface AgentStatus {
  host: string;
  pid: number;
  startedAt: string;
  heartbeatAt: string;
  reconciles: number;
  lastReconcile?: { at: string; ms: number; routesAdded: number; routesRemoved: number; error?: string };
  bird?: { configuredAt?: string; error?: string };
}
