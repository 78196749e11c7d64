/**
 * The policy intermediate representation: what one host must enforce, with every selector
 * already resolved to address sets. Produced by resolve.ts (pure, from the datastore snapshot),
 * consumed by the two compilers (iptables.ts, nftables.ts) and by the reference evaluator.
 *
 * Stable identities keep updates small (as in Felix): a set's id depends on what it means
 * (the selector and its namespace scope, or the list of nets), never on its members, so a label
 * change on one endpoint changes set members, not the chains that reference the set. A chain's
 * id depends only on the policy's or profile's identity (kind, namespace, name).
 */
import { createHash } from 'node:crypto';
import type { PolicyDataplaneKind } from '../model/resources.js';
import { InputError } from '../util/errors.js';

export type Family = 4 | 6;

/** Calico's rule actions. `log` logs and goes on to the next rule. */
export type Action = 'allow' | 'deny' | 'pass' | 'log';

/** A port or an inclusive range. */
export interface PortRange {
  first: number;
  last: number;
}

export interface IcmpMatch {
  type: number;
  code?: number;
}

/** One side (source or destination) of a rule. Absent/empty fields match anything. */
export interface MatchIR {
  /**
   * A rule's `nets` when it is a single CIDR: matched inline (`-s`, `ip saddr`), as Felix does,
   * not through a set — a policy of a thousand one-address rules must not make a thousand sets.
   */
  net?: string;
  /** Ids of address sets: the address must be in every one (nets and selector are ANDed). */
  sets: string[];
  /** Ids of address sets the address must be in none of (notNets, notSelector). */
  notSets: string[];
  /** The port must be in one of these (needs protocol TCP, UDP or SCTP). */
  ports: PortRange[];
  /** The port must be in none of these. */
  notPorts: PortRange[];
  /**
   * Ids of named-port sets (SetIR with `namedPort`): the packet's address, protocol and port must
   * be in one of them, or its port in `ports` — Calico ORs a rule's numeric and named ports.
   */
  namedPorts?: string[];
  /** Ids of named-port sets the packet's address, protocol and port must be in none of. */
  notNamedPorts?: string[];
}

/** One rule for one address family: every present field must match. */
export interface RuleIR {
  family: Family;
  action: Action;
  /** IANA protocol number: 1 ICMP, 6 TCP, 17 UDP, 58 ICMPv6, 132 SCTP, or any other. */
  protocol?: number;
  notProtocol?: number;
  src: MatchIR;
  dst: MatchIR;
  /** Only with protocol ICMP (family 4) or ICMPv6 (family 6). */
  icmp?: IcmpMatch;
  notIcmp?: IcmpMatch;
}

/**
 * An address set. `id` is a short token of [a-z0-9], at most 12 characters, unique per host;
 * compilers derive kernel names from it (ipset `cali40s:<id>`, `cali60s:<id>`; nft `cali40s-<id>`,
 * `cali60s-<id>`; a named-port set `n` for `s`, as Felix's `cali40n:`).
 */
export interface SetIR {
  id: string;
  family: Family;
  /**
   * Canonical CIDRs (host addresses as /32 or /128), sorted, no duplicates. A named-port set's
   * members are `<address>,<tcp|udp|sctp>:<port>` (Felix's `hash:ip,port` members), sorted.
   */
  members: string[];
  /**
   * Present on a named-port set (Felix's IP_AND_PORT set, felix/calc/rule_scanner.go): the
   * endpoints a rule side's selector picks, each address with the port of theirs of this name
   * and protocol.
   */
  namedPort?: { name: string; protocol: 'tcp' | 'udp' | 'sctp' };
  /** What it stands for, for comments and humans: `selector role == 'web' (ns tenant-a)`, `nets 10.0.0.0/8`. */
  source: string;
}

/**
 * The rules of one policy or profile, in one direction. `id` is a short token of [a-z0-9], at
 * most 12 characters; compilers name the chain from direction and kind: iptables `cali-pi-<id>`
 * (policy, ingress), `cali-po-<id>` (policy, egress), `cali-pri-<id>` / `cali-pro-<id>` (profile).
 */
export interface ChainIR {
  id: string;
  kind: 'policy' | 'profile';
  direction: 'ingress' | 'egress';
  /** Human name: `GlobalNetworkPolicy default-deny`, `NetworkPolicy tenant-a/allow-same`, `Profile kns.default`. */
  name: string;
  /** Both families' rules, in the policy's order. */
  rules: RuleIR[];
}

/**
 * The policies of one tier that select an endpoint in one direction (felix/rules/endpoints.go):
 * in evaluation order (order ascending, unset last, ties by `<name>/<namespace>/<kind>`). The
 * first policy whose rule decides, decides: allow ends every tier, deny drops, pass skips the
 * rest of the tier. A packet none of them decided meets `defaultAction`: drop, or on to the next
 * tier (Tier spec.defaultAction Pass).
 */
export interface TierIR {
  name: string;
  policies: string[];
  defaultAction: 'deny' | 'pass';
}

/** What applies to one direction of one endpoint. */
export interface DirectionIR {
  /** The tiers with at least one policy that selects the endpoint, in tier order; a tier none of whose policies applies is skipped. */
  tiers: TierIR[];
  /** Ids of profile chains, in the endpoint's profile order: reached when no tier applies, or every applying tier passed. No profile (or none allows) means drop. */
  profiles: string[];
}

/** Policy ids as the one `default` tier (Deny) of a direction; none: no tier. */
export function defaultTierOf(policies: string[]): TierIR[] {
  return policies.length ? [{ name: 'default', policies, defaultAction: 'deny' }] : [];
}

/**
 * One local workload endpoint. Ingress is traffic TO the workload (leaving the host through
 * `iface`), egress traffic FROM it (entering the host through `iface`).
 */
export interface EndpointIR {
  /** Host-side interface (cali + 11 hex). */
  iface: string;
  /** `namespace/name` of the WorkloadEndpoint, for comments. */
  name: string;
  ingress: DirectionIR;
  egress: DirectionIR;
}

/** Felix's name for the interface of a host endpoint with `interfaceName: "*"` (every interface). */
export const ALL_INTERFACES = 'any-interface-at-all';

/**
 * The chain of a host endpoint's forward policy (Felix's `cali-fhfw-<iface>`: forwarded in through
 * it; `cali-thfw-<iface>`: out through it), shortened with a hash of the interface name to fit
 * iptables' 28 characters (the `*` endpoint's any-interface-at-all does not).
 */
export function hostForwardChainName(direction: 'ingress' | 'egress', iface: string): string {
  const prefix = `cali-${direction === 'ingress' ? 'fh' : 'th'}fw-`;
  if (prefix.length + iface.length <= 28) return `${prefix}${iface}`;
  return `${prefix}${iface.slice(0, 28 - prefix.length - 7)}_${createHash('sha256').update(iface).digest('hex').slice(0, 6)}`;
}

/** A host endpoint's interface: a Linux name (≤ 15 characters, not a workload's), or ALL_INTERFACES. */
const isHostIface = (iface: string) => iface === ALL_INTERFACES || /^(?!cali)[A-Za-z0-9_.@-]{1,15}$/.test(iface);

/** The protocols failsafe rules take, by number, as iptables and nft name them. */
export const L4_NAMES: Readonly<Record<number, string>> = { 6: 'tcp', 17: 'udp', 132: 'sctp' };

/**
 * One host endpoint of this host (Calico's HostEndpoint): `iface` is the interface it protects,
 * or ALL_INTERFACES (the default of every interface no other host endpoint names). Ingress is
 * traffic TO the host arriving through it, egress traffic FROM the host leaving through it.
 * Traffic between the host and its own workloads never meets it (Felix: workload → host is the
 * workload's egress then `endpointToHost`; host → workload is always allowed).
 */
export interface HostEndpointIR {
  iface: string;
  /** The HostEndpoint's name, for comments. */
  name: string;
  ingress: DirectionIR;
  egress: DirectionIR;
  /**
   * Its `applyOnForward` policies for traffic the host forwards in through this interface
   * (ingress) or out through it (egress): Felix's cali-fhfw-/cali-thfw- chains — tiers only, no
   * profiles, no failsafe ports; a direction no such policy applies to allows. Absent: none.
   */
  forward?: { ingress: TierIR[]; egress: TierIR[] };
  /**
   * Its `preDNAT` policies (ingress only): Felix's mangle-table cali-fh-<iface>, before DNAT —
   * conntrack, failsafe ports, the tiers (which pass what no policy decided: no end-of-tier drop),
   * no profiles. An allow there is final for the host's input (the filter table accepts it).
   * Absent: none.
   */
  preDnat?: TierIR[];
  /**
   * Its `doNotTrack` policies: Felix's raw-table cali-fh-/cali-th-<iface>, before conntrack — no
   * conntrack, failsafe ports (replies too, by source port), the tiers (passing what no policy
   * decided), no profiles; an allow is NOTRACK and accept. Absent: none.
   */
  untracked?: { ingress: TierIR[]; egress: TierIR[] };
}

/** A failsafe rule: the host accepts this protocol and destination port whatever its host endpoints' policy. */
export interface FailsafeIR {
  /** 6 TCP, 17 UDP, 132 SCTP. */
  protocol: number;
  port: number;
  /** Only from (inbound) or to (outbound) this network; its family decides the rule's. */
  net?: string;
}

/** Everything one host enforces. Arrays are sorted by id (iface for endpoints): the IR is canonical. */
export interface HostPolicyIR {
  sets: SetIR[];
  chains: ChainIR[];
  endpoints: EndpointIR[];
  /** Host endpoints of this host, sorted by iface (absent: none). */
  hostEndpoints?: HostEndpointIR[];
  /** Failsafe rules (absent: Felix's default lists, FAILSAFE_DEFAULTS). */
  failsafe?: { inbound: FailsafeIR[]; outbound: FailsafeIR[] };
  /**
   * Workload → its own host, once the workload's egress policy allowed it (Felix's
   * DefaultEndpointToHostAction). The resolver always sets it (Felix's default: drop); absent in
   * an IR built by hand: accept, what labs and Calico's manifests configure.
   */
  endpointToHost?: 'drop' | 'accept' | 'return';
  /**
   * With a pool in VXLAN mode, the other hosts' addresses: their VXLAN packets (UDP 4789) are
   * accepted to and from the host before host endpoint policy, as Felix's cali-INPUT/cali-OUTPUT
   * allow VXLAN from and to known hosts.
   */
  vxlanPeers?: string[];
}

/** The id of the address set of vxlanPeers (`cali40s:vxlanpeers`, nft `cali40s-vxlanpeers`). */
export const VXLAN_PEERS_SET = 'vxlanpeers';

/**
 * Felix's default failsafe ports (felix/config/config_params.go FailsafeInboundHostPorts,
 * FailsafeOutboundHostPorts): SSH, DHCP, DNS, BGP, etcd, Typha, the Kubernetes API.
 */
export const FAILSAFE_DEFAULTS: { inbound: FailsafeIR[]; outbound: FailsafeIR[] } = (() => {
  // Both ways: BGP, etcd (client, peer), Typha, the Kubernetes API, and 6666/6667.
  const both = [179, 2379, 2380, 5473, 6443, 6666, 6667].map((port) => ({ protocol: 6, port }));
  return {
    // SSH and DHCP (the client's port) in; DNS and DHCP (the server's port) out.
    inbound: [{ protocol: 6, port: 22 }, { protocol: 17, port: 68 }, ...both],
    outbound: [{ protocol: 17, port: 53 }, { protocol: 17, port: 67 }, ...both],
  };
})();

/**
 * The host side of an IR, checked (interface names end up in chain names), with the defaults of
 * the fields an IR built by hand may leave out: what both compilers and the evaluator read.
 */
export function hostSide(ir: HostPolicyIR): { hostEndpoints: HostEndpointIR[]; failsafe: { inbound: FailsafeIR[]; outbound: FailsafeIR[] }; endpointToHost: 'drop' | 'accept' | 'return' } {
  const hostEndpoints = ir.hostEndpoints ?? [];
  for (const h of hostEndpoints) if (!isHostIface(h.iface)) throw new InputError(`policy IR: host endpoint ${h.name}: interface ${JSON.stringify(h.iface)} is not a host interface name`);
  if (new Set(hostEndpoints.map((h) => h.iface)).size !== hostEndpoints.length) throw new InputError('policy IR: two host endpoints share an interface');
  return { hostEndpoints, failsafe: ir.failsafe ?? FAILSAFE_DEFAULTS, endpointToHost: ir.endpointToHost ?? 'accept' };
}

/** A named-port set's members, checked: `<address>,<tcp|udp|sctp>:<port>`, the address of the set's family. */
export function namedPortMembers(family: Family, members: string[]): string[] {
  for (const m of members) {
    const ok = /^([0-9a-f.:]+),(tcp|udp|sctp):(\d{1,5})$/.exec(m);
    if (!ok || ok[1]!.includes(':') !== (family === 6) || Number(ok[3]) > 65535) throw new InputError(`policy IR: ${JSON.stringify(m)} is not an IPv${family} <address>,<tcp|udp|sctp>:<port> member`);
  }
  return members;
}

/** The iptables tables (nftables layers) a chain of the IR is rendered in. */
export type PolicyTable = 'filter' | 'raw' | 'mangle';

/**
 * Where each chain goes (both compilers): a policy of a host endpoint's untracked tiers to the raw
 * table, of its pre-DNAT tiers to the mangle table (Felix renders a policy into every table whose
 * chains use it; the resolver keeps those policies out of every other tier), any other chain to
 * the filter table.
 */
export function chainTables(ir: HostPolicyIR): (c: ChainIR) => PolicyTable[] {
  const heps = ir.hostEndpoints ?? [];
  const usedIn = (pick: (h: HostEndpointIR) => TierIR[] | undefined) => new Set(heps.flatMap((h) => (pick(h) ?? []).flatMap((t) => t.policies)));
  const raw = { ingress: usedIn((h) => h.untracked?.ingress), egress: usedIn((h) => h.untracked?.egress) };
  const mangle = usedIn((h) => h.preDnat);
  return (c) => {
    if (c.kind !== 'policy') return ['filter'];
    const tables: PolicyTable[] = [...(raw[c.direction].has(c.id) ? (['raw'] as const) : []), ...(c.direction === 'ingress' && mangle.has(c.id) ? (['mangle'] as const) : [])];
    return tables.length ? tables : ['filter'];
  };
}

/** A host with no local endpoint still gets the base chains; this is its IR. */
export const EMPTY_POLICY: HostPolicyIR = { sets: [], chains: [], endpoints: [] };

/** The contract of the two kernel backends (iptables-apply.ts, nftables-apply.ts). */
export interface PolicyDataplane {
  readonly kind: PolicyDataplaneKind;
  /**
   * Converge the namespace's ruleset to `ir`. The first call after construction rewrites all
   * of ours (a restarted agent rebuilds exactly the same rules); later calls change only what
   * differs from the last applied IR, in ONE atomic batch per tool. Returns how many chains and
   * sets it rewrote, added or removed (0 when nothing changed: nothing is run then).
   */
  apply(ir: HostPolicyIR): Promise<{ chains: number; sets: number }>;
  /** Removes every chain, set and hook of ours (switching backend, or tests). Idempotent. */
  remove(): Promise<void>;
}

/**
 * Tunnel packets a workload sends are dropped at the top of its egress chain, whatever its policy
 * (Felix's cali-fw-, felix/rules/endpoints.go: "Drop VXLAN/IPinIP encapped packets originating in
 * workloads"; Felix does it when that encapsulation is enabled, calico-sim always).
 */
export const ENCAP_FROM_WORKLOAD = [
  { what: 'VXLAN', nft: 'udp dport 4789', iptables: '-p udp -m udp --dport 4789' },
  { what: 'IPinIP', nft: 'meta l4proto 4', iptables: '-p 4' },
] as const;
