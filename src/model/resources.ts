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
    ipipMode: 'Never' | 'CrossSubnet';
    /** Always: traffic between hosts is tunnelled (Calico's VXLAN mode; here the overlay baseline). */
    vxlanMode: 'Never' | 'Always' | 'CrossSubnet';
    natOutgoing: boolean;
    /** No new addresses from it; its blocks are still routed (Calico's meaning). */
    disabled?: boolean;
    /** Its prefixes are not announced to BGP peers (Calico's disableBGPExport). */
    disableBGPExport?: boolean;
    nodeSelector: string;
    /** What its addresses are for (Calico's default: Workload and Tunnel); without Workload, IPAM gives workloads none. */
    allowedUses?: ('Workload' | 'Tunnel' | 'LoadBalancer')[];
    /** Manual: addresses only when asked for by pool, never by automatic assignment (Calico's default Automatic). */
    assignmentMode?: 'Automatic' | 'Manual';
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
    /** The peer's address, `ip` or `ip:port` when it does not listen on 179. */
    peerIP?: string;
    asNumber?: number;
    peerSelector?: string;
    /** Accept paths that already hold our own AS this many times (AS-per-rack designs). */
    numAllowedLocalASNumbers?: number;
    /** `UseNodeIP` (default): the session's source is the node's address; `None`: the kernel picks it. */
    sourceAddress?: 'UseNodeIP' | 'None';
    /** eBGP: pass routes on with their original next hop (BIRD `next hop keep`). */
    keepOriginalNextHop?: boolean;
    /** How long the peer keeps our routes across our restart (graceful restart time), a Go duration: "120s", "2m". */
    maxRestartTime?: string;
    /** GTSM: accept the peer's packets only from at most this many hops away (BIRD `ttl security on; multihop N`). */
    ttlSecurity?: number;
    /** TCP MD5 password of the session (BIRD `password`), from a Secret in calico-node's namespace. */
    password?: SecretKeyRef;
    /** BGPFilter names, applied in order before the session's own import and export rules. */
    filters?: string[];
    /** The AS this node speaks as on this session (BIRD `local as`), instead of its own. */
    localASNumber?: number;
    /** The gateway the peer is reached by: a static /32 (or /128) route to peerIP via it (bird_aggr.cfg.template). */
    reachableBy?: string;
  };
}

/**
 * Session timers and failure detection: knobs of the lab (the topology file's `bgp:`), not of
 * Calico's API — Calico fixes them in its templates (connect delay 2 s, retry 5 s, BIRD's hold
 * and keepalive defaults), and has no BFD in its open-source API. Stored in the lab's own
 * LabConfiguration record (keys.labConfiguration), never inside a Calico resource. Seconds,
 * except BFD's interval (milliseconds).
 */
export type BgpTimers = {
  holdTime?: number;
  keepaliveTime?: number;
  connectRetryTime?: number;
  /** Calico's templates: 2 s. */
  connectDelayTime?: number;
  /** Graceful restart (default on, as in Calico's templates). */
  gracefulRestart?: boolean;
  /**
   * BFD: fast failure detection instead of waiting for the hold timer — on every session, or
   * with `nodes` only on the sessions that have one of these nodes at either end (a large lab
   * cannot afford BFD on tens of thousands of sessions; `bench scale` watches one host's crash).
   */
  bfd?: { intervalMs: number; multiplier: number; nodes?: string[] };
};

export interface BGPConfiguration {
  apiVersion: typeof API_VERSION;
  kind: 'BGPConfiguration';
  metadata: Meta;
  spec: {
    asNumber: number;
    nodeToNodeMeshEnabled: boolean;
    logSeverityScreen?: string;
    /** Graceful restart time of the mesh sessions, a Go duration ("120s"). */
    nodeMeshMaxRestartTime?: string;
    /** TCP MD5 password of every node-to-node mesh session, from a Secret in calico-node's namespace. */
    nodeMeshPassword?: SecretKeyRef;
  } & BgpAdvertising;
}

/** A node's own BGPConfiguration (`node.<name>`). */
export interface NodeBGPConfiguration {
  apiVersion: typeof API_VERSION;
  kind: 'BGPConfiguration';
  metadata: Meta;
  spec: BgpAdvertising;
}

/**
 * BGPConfiguration fields about what a node announces and how it listens (the `default` one's,
 * or a node's own `node.<name>`: its listenPort, and its prefixAdvertisements replacing the list).
 */
export type BgpAdvertising = {
  /** The port BIRD listens on, and the port its peers dial (Calico's default 179). */
  listenPort?: number;
  /** NodeIP: BIRD listens on the node's address only (`strict bind`). */
  bindMode?: 'None' | 'NodeIP';
  /** Interfaces whose connected networks BIRD's direct protocol leaves out (besides the workloads'). */
  ignoredInterfaces?: string[];
  /** Community names and their values (`a:b` standard, `a:b:c` large). */
  communities?: { name: string; value: string }[];
  /** Communities added to the exported prefixes inside `cidr` (names from `communities`, or values). */
  prefixAdvertisements?: { cidr: string; communities: string[] }[];
  /** Kubernetes service ranges every node announces (a blackhole in BIRD, never in the kernel). */
  serviceClusterIPs?: { cidr: string }[];
  serviceExternalIPs?: { cidr: string }[];
  serviceLoadBalancerIPs?: { cidr: string }[];
};

/** The lab's own settings (not a Calico kind): what the harness sets that Calico's API has no field for. */
export interface LabConfiguration {
  apiVersion: typeof LAB_API_VERSION;
  kind: 'LabConfiguration';
  metadata: Meta;
  spec: { bgp: BgpTimers };
}
export const LAB_API_VERSION = 'calico-sim.dev/v1';

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
    /** Profiles applied when no policy selects the endpoint (Calico's CNI gives `kns.<namespace>`). */
    profiles?: string[];
    /** Its named ports, which rules refer to by name (Calico's WorkloadEndpointPort, from the pod's containerPorts). */
    ports?: EndpointPort[];
  };
}

/** A named port of an endpoint (Calico's EndpointPort / WorkloadEndpointPort without hostPort). */
export interface EndpointPort {
  name: string;
  protocol: 'TCP' | 'UDP' | 'SCTP';
  port: number;
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
  /** When its host claimed it (Calico's affinityClaimTime, RFC 3339). */
  affinityClaimTime?: string;
  /**
   * Bumped on every write of the block (libcalico-go's updateBlock); starts at the creation time
   * in microseconds (Calico: nanoseconds — more than a JSON number holds exactly), so a block
   * deleted and made again never reuses a number.
   */
  sequenceNumber?: number;
  /** Per allocated ordinal (as a string), the block's sequence number when it was allocated. */
  sequenceNumberForAllocation?: Record<string, number>;
}

/** /calico/ipam/v2/handle/<id> — Calico's IPAMHandle (libcalico-go/lib/backend/model/ipam_handle.go): addresses per block. */
export interface IpamHandle {
  block: Record<string, number>;
  deleted: boolean;
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
  /** `revision`: the etcd revision of the datastore read this pass programmed. */
  lastReconcile?: { at: string; ms: number; routesAdded: number; routesRemoved: number; revision?: string; policyChains?: number; policySets?: number; error?: string };
  bird?: { configuredAt?: string; error?: string };
}

// ---------------------------------------------------------------------------------------------
// Policy (Calico v3 shapes; src/policy/model.ts validates them, src/policy/resolve.ts reads them)

/** A protocol by Calico name or IANA number (1-255). */
export type PolicyProtocol = 'TCP' | 'UDP' | 'ICMP' | 'ICMPv6' | 'SCTP' | 'UDPLite' | number;

/** A port (0-65535) or an inclusive range in Calico's syntax, `"first:last"`. */
export type PolicyPort = number | string;

/** One side of a rule; every given field must match (Calico's EntityRule, without serviceAccounts/services). */
export interface EntityRule {
  nets?: string[];
  notNets?: string[];
  selector?: string;
  notSelector?: string;
  /** The namespaces (by their labels) whose endpoints selector/notSelector match; `global()`: non-namespaced endpoints (host endpoints). */
  namespaceSelector?: string;
  ports?: PolicyPort[];
  notPorts?: PolicyPort[];
}

export interface IcmpFields {
  type?: number;
  code?: number;
}

export type PolicyAction = 'Allow' | 'Deny' | 'Pass' | 'Log';
export type PolicyType = 'Ingress' | 'Egress';

export interface Rule {
  action: PolicyAction;
  ipVersion?: 4 | 6;
  protocol?: PolicyProtocol;
  notProtocol?: PolicyProtocol;
  icmp?: IcmpFields;
  notICMP?: IcmpFields;
  source?: EntityRule;
  destination?: EntityRule;
  metadata?: { annotations?: Record<string, string> };
}

/** The spec NetworkPolicy and GlobalNetworkPolicy share (a type, not an interface: stored specs are records). */
export type PolicySpec = {
  /** Lower first; unset = after every ordered policy. Calico takes any number (a float). */
  order?: number;
  /** Which endpoints the policy applies to; default all(). */
  selector?: string;
  /** GlobalNetworkPolicy: only endpoints of the namespaces (by their labels) it selects. */
  namespaceSelector?: string;
  /** The Tier it belongs to; stored as `default` when the file leaves it out (as Calico stores it). */
  tier?: string;
  /** Default (Calico): Ingress; Egress alone if there are only egress rules; both if both. */
  types?: PolicyType[];
  ingress?: Rule[];
  egress?: Rule[];
  /** GlobalNetworkPolicy: also police traffic the host forwards through the host endpoints it selects. */
  applyOnForward?: boolean;
  /** GlobalNetworkPolicy: untracked policy for host endpoints (the raw table, before conntrack); needs applyOnForward. */
  doNotTrack?: boolean;
  /** GlobalNetworkPolicy: ingress policy for host endpoints before DNAT (the mangle table); needs applyOnForward. */
  preDNAT?: boolean;
};

/** Namespaced: selects, and its rule selectors match, only endpoints of metadata.namespace (default `default`). */
export interface NetworkPolicy {
  apiVersion: typeof API_VERSION;
  kind: 'NetworkPolicy';
  metadata: Meta;
  spec: PolicySpec;
}

export interface GlobalNetworkPolicy {
  apiVersion: typeof API_VERSION;
  kind: 'GlobalNetworkPolicy';
  metadata: Meta;
  spec: PolicySpec;
}

/**
 * An ordered group of policies (Calico's Tier, felix/calc/policy_sorter.go): tiers apply in
 * `order` (unset: after every ordered tier; ties by name); within a tier the first policy that
 * decides, decides; a `Pass` rule goes on to the next tier; a packet no policy of the tier
 * decided meets the tier's `defaultAction` (Deny unless Pass). The `default` tier (order
 * 1,000,000, Deny) holds every policy that names no tier.
 */
export interface Tier {
  apiVersion: typeof API_VERSION;
  kind: 'Tier';
  metadata: Meta;
  spec: { order?: number; defaultAction?: 'Deny' | 'Pass' };
}

/** Rules for the endpoints that name the profile (WorkloadEndpoint spec.profiles), and labels they inherit. */
export interface Profile {
  apiVersion: typeof API_VERSION;
  kind: 'Profile';
  metadata: Meta;
  spec: {
    ingress?: Rule[];
    egress?: Rule[];
    labelsToApply?: Record<string, string>;
  };
}

/** A port the host keeps open whatever its host endpoints' policy (Calico's ProtoPort). */
export interface ProtoPort {
  protocol: 'TCP' | 'UDP' | 'SCTP';
  port: number;
  /** Only this peer network (inbound: the source, outbound: the destination). */
  net?: string;
}

/** What happens to traffic from a workload to its own host once the workload's egress policy allowed it. */
export type EndpointToHostAction = 'Drop' | 'Accept' | 'Return';

/**
 * Only `default`: which policy dataplane the agents program (absent/Disabled: iptables), and how
 * the host itself is protected (unset fields take Felix's defaults, felix/config/config_params.go).
 */
export interface FelixConfiguration {
  apiVersion: typeof API_VERSION;
  kind: 'FelixConfiguration';
  metadata: Meta;
  spec: {
    nftablesMode?: 'Enabled' | 'Disabled';
    defaultEndpointToHostAction?: EndpointToHostAction;
    failsafeInboundHostPorts?: ProtoPort[];
    failsafeOutboundHostPorts?: ProtoPort[];
  };
}

/**
 * A host's own interface (or all of them: `*`) under policy (Calico's HostEndpoint): traffic to
 * and from the host through it meets the policies that select its labels, then its profiles.
 */
export interface HostEndpoint {
  apiVersion: typeof API_VERSION;
  kind: 'HostEndpoint';
  metadata: Meta;
  spec: {
    node: string;
    interfaceName?: string;
    expectedIPs?: string[];
    profiles?: string[];
    ports?: EndpointPort[];
  };
}

/** Which ruleset the agent programs (Calico's FelixConfiguration nftablesMode). */
export type PolicyDataplaneKind = 'iptables' | 'nftables';

// ---------------------------------------------------------------------------------------------
// Resources as calicoctl writes them (src/ctl validates them with the schemas of
// pool-bgp-schemas.ts and src/policy/model.ts, and reads them back as StoredResource)

/** BGPConfiguration's log levels (spec.logSeverityScreen). */
export const LOG_SEVERITIES = ['Debug', 'Info', 'Warning', 'Error', 'Fatal'] as const;
export type LogSeverity = (typeof LOG_SEVERITIES)[number];

/** Metadata as calicoctl accepts it; `creationTimestamp` is set by the datastore on create. */
export interface ResourceMeta extends Meta {
  annotations?: Record<string, string>;
}

export type IPPoolResource = Omit<IPPool, 'metadata'> & { metadata: ResourceMeta };
export type NodeResource = Omit<CalicoNode, 'metadata'> & { metadata: ResourceMeta };
export type BGPPeerResource = Omit<BGPPeer, 'metadata'> & { metadata: ResourceMeta };
/** metadata.namespace is always set (`default` when the file leaves it out), as Calico stores it. */
export type NetworkPolicyResource = Omit<NetworkPolicy, 'metadata'> & { metadata: ResourceMeta & { namespace: string } };
export type GlobalNetworkPolicyResource = Omit<GlobalNetworkPolicy, 'metadata'> & { metadata: ResourceMeta };
export type ProfileResource = Omit<Profile, 'metadata'> & { metadata: ResourceMeta };
export type TierResource = Omit<Tier, 'metadata'> & { metadata: ResourceMeta };
export type BGPFilterResource = Omit<BGPFilter, 'metadata'> & { metadata: ResourceMeta };

/**
 * A Kubernetes Secret (apiVersion v1), as calico-node reads one for BGP passwords (BGPPeer
 * `password.secretKeyRef`, BGPConfiguration `nodeMeshPassword.secretKeyRef`): in calico-node's
 * namespace, `calico-system`. Stored in the lab's own keys (there is no Kubernetes here), values
 * base64 in `data` (`stringData` merged into it on apply, as the API server does).
 */
export interface SecretResource {
  apiVersion: 'v1';
  kind: 'Secret';
  metadata: ResourceMeta & { namespace: string };
  type: string;
  data: Record<string, string>;
  /** A Secret has no spec (declared so that code handling any Resource may read `spec`). */
  spec?: undefined;
}

/** The namespace calico-node runs in (an operator install), where it reads BGP password Secrets. */
export const CALICO_NODE_NAMESPACE = 'calico-system';

/** One rule of a BGPFilter (Calico's BGPFilterRuleV4/V6): every field given must match; the first rule that matches decides. */
export interface BGPFilterRule {
  action: 'Accept' | 'Reject';
  matchOperator?: 'Equal' | 'NotEqual' | 'In' | 'NotIn';
  cidr?: string;
  prefixLength?: { min?: number; max?: number };
  source?: 'RemotePeers';
  interface?: string;
  /** Only for sessions with a peer of the same AS (iBGP) or another (eBGP). */
  peerType?: 'eBGP' | 'iBGP';
  /** A route carrying this community (one value, `aa:nn` or `aa:nn:mm`). */
  communities?: { values: string[] };
  /** A route whose AS path starts with these AS numbers. */
  asPathPrefix?: number[];
  /** A route of this priority (lower is preferred: BIRD's local preference 2147483647 − priority). */
  priority?: number;
  /** What an Accept rule does to the route first, in order: exactly one of the three each. */
  operations?: { addCommunity?: { value: string }; prependASPath?: { prefix: number[] }; setPriority?: { value: number } }[];
}

/** A type, not an interface: stored specs are records. */
export type BGPFilterSpec = {
  exportV4?: BGPFilterRule[];
  importV4?: BGPFilterRule[];
  exportV6?: BGPFilterRule[];
  importV6?: BGPFilterRule[];
};

/** Route filters a BGPPeer names (spec.filters): what its sessions import and export. */
export interface BGPFilter {
  apiVersion: typeof API_VERSION;
  kind: 'BGPFilter';
  metadata: Meta;
  spec: BGPFilterSpec;
}

/** A password from a Secret's key (Calico's BGPPassword). */
export interface SecretKeyRef {
  secretKeyRef: { name: string; key: string };
}
export type FelixConfigurationResource = Omit<FelixConfiguration, 'metadata'> & { metadata: ResourceMeta };
export type HostEndpointResource = Omit<HostEndpoint, 'metadata'> & { metadata: ResourceMeta };

/**
 * A BGPConfiguration: `default` (the cluster's) or `node.<nodename>` (one node's). asNumber and
 * nodeToNodeMeshEnabled exist only in `default`, where they are always set (Calico's defaults:
 * 64512, true) — so `default` is a model BGPConfiguration, a node one is not.
 */
export interface BGPConfigurationResource {
  apiVersion: typeof API_VERSION;
  kind: 'BGPConfiguration';
  metadata: ResourceMeta;
  spec: { logSeverityScreen?: LogSeverity; nodeToNodeMeshEnabled?: boolean; asNumber?: number; nodeMeshMaxRestartTime?: string; nodeMeshPassword?: SecretKeyRef } & BgpAdvertising;
}

/** A validated resource of a kind calico-sim can write. */
export type Resource =
  | IPPoolResource
  | NodeResource
  | BGPPeerResource
  | BGPConfigurationResource
  | BGPFilterResource
  | NetworkPolicyResource
  | GlobalNetworkPolicyResource
  | TierResource
  | ProfileResource
  | FelixConfigurationResource
  | HostEndpointResource
  | SecretResource;
export type ResourceKind = Resource['kind'];

/** A resource as read back from etcd (of any kind, not re-validated). */
export interface StoredResource {
  apiVersion: string;
  kind: string;
  metadata: ResourceMeta;
  spec?: Record<string, unknown>;
}

/** What delete needs: kind (any calicoctl spelling) and name. Every Resource is one. */
export interface ResourceRef {
  kind: string;
  metadata: { name: string; namespace?: string };
}

export function ref(kind: string, name: string, namespace?: string): ResourceRef {
  return { kind, metadata: namespace === undefined ? { name } : { name, namespace } };
}
