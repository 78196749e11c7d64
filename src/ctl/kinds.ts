/**
 * The kinds ctl knows, as calicoctl spells them: each kind's spellings (singular, plural, short
 * names), whether it is namespaced, its etcd keys, and the schema that validates it (none for the
 * kinds calico-sim only reads).
 *
 * To add a kind: write its schema (in src/model/pool-bgp-schemas.ts; the policy kinds' are in
 * src/policy/model.ts), add an entry to KINDS (key, spellings) and its table columns to TABLES in
 * format.ts (tsc asks for them), and any rule that involves other resources to CROSS_CHECKS in
 * cross-checks.ts. Nothing else switches on the kind.
 */
import type { z } from 'zod';
import { keys } from '../datastore/keys.js';
import { BGPConfigurationSchema, BGPFilterSchema, BGPPeerSchema, IPPoolSchema, NodeSchema, SecretSchema } from '../model/pool-bgp-schemas.js';
import { CALICO_NODE_NAMESPACE, type Resource, type ResourceKind } from '../model/resources.js';
import { FelixConfigurationSchema, GlobalNetworkPolicySchema, HostEndpointSchema, NetworkPolicySchema, ProfileSchema, TierSchema } from '../policy/model.js';
import { ResourceError } from './resource-error.js';

/** Every kind ctl knows: the ones it writes, and WorkloadEndpoint, which it only reads. */
export type KindName = ResourceKind | 'WorkloadEndpoint';

export interface KindInfo {
  readonly kind: KindName;
  /** calicoctl's spellings, lower case: singular, plural, short names. */
  readonly spellings: readonly string[];
  readonly namespaced: boolean;
  /** etcd prefix of every resource of the kind. */
  readonly prefix: string;
  key(name: string, namespace?: string): string;
  /** Validates one resource; absent for kinds calico-sim only reads (`readOnly` says why). */
  readonly schema?: z.ZodType<Resource>;
  /** Its apiVersion in files, when not projectcalico.org/v3 (a Kubernetes Secret: v1). */
  readonly apiVersion?: string;
  /** The namespace of a namespaced kind when none is given, when not `default`. */
  readonly defaultNamespace?: string;
  readonly readOnly?: string;
}

export const KINDS: readonly KindInfo[] = [
  {
    kind: 'IPPool',
    spellings: ['ippool', 'ippools', 'ipp', 'ipps', 'pool', 'pools'],
    namespaced: false,
    prefix: keys.ippools,
    key: (name) => keys.ippool(name),
    schema: IPPoolSchema,
  },
  {
    kind: 'Node',
    spellings: ['node', 'nodes', 'no', 'nos'],
    namespaced: false,
    prefix: keys.nodes,
    key: (name) => keys.node(name),
    schema: NodeSchema,
  },
  {
    kind: 'BGPPeer',
    spellings: ['bgppeer', 'bgppeers', 'bgpp', 'bgpps', 'bp', 'bps'],
    namespaced: false,
    prefix: keys.bgpPeers,
    key: (name) => keys.bgpPeer(name),
    schema: BGPPeerSchema,
  },
  {
    kind: 'BGPConfiguration',
    spellings: ['bgpconfiguration', 'bgpconfigurations', 'bgpconfig', 'bgpconfigs'],
    namespaced: false,
    prefix: keys.bgpConfiguration(''),
    key: (name) => keys.bgpConfiguration(name),
    schema: BGPConfigurationSchema,
  },
  {
    kind: 'BGPFilter',
    spellings: ['bgpfilter', 'bgpfilters'],
    namespaced: false,
    prefix: keys.bgpFilters,
    key: (name) => keys.bgpFilter(name),
    schema: BGPFilterSchema,
  },
  {
    kind: 'NetworkPolicy',
    spellings: ['networkpolicy', 'networkpolicies', 'policy', 'policies', 'pol', 'pols', 'np', 'nps'],
    namespaced: true,
    prefix: keys.networkPolicies,
    key: (name, namespace) => keys.networkPolicy(name, namespace),
    schema: NetworkPolicySchema,
  },
  {
    kind: 'GlobalNetworkPolicy',
    spellings: ['globalnetworkpolicy', 'globalnetworkpolicies', 'gnp', 'gnps'],
    namespaced: false,
    prefix: keys.globalNetworkPolicies,
    key: (name) => keys.globalNetworkPolicy(name),
    schema: GlobalNetworkPolicySchema,
  },
  {
    kind: 'Tier',
    spellings: ['tier', 'tiers'],
    namespaced: false,
    prefix: keys.tiers,
    key: (name) => keys.tier(name),
    schema: TierSchema,
  },
  {
    kind: 'Profile',
    spellings: ['profile', 'profiles', 'pro', 'pros'],
    namespaced: false,
    prefix: keys.profiles,
    key: (name) => keys.profile(name),
    schema: ProfileSchema,
  },
  {
    kind: 'HostEndpoint',
    spellings: ['hostendpoint', 'hostendpoints', 'hep', 'heps'],
    namespaced: false,
    prefix: keys.hostEndpoints,
    key: (name) => keys.hostEndpoint(name),
    schema: HostEndpointSchema,
  },
  {
    kind: 'FelixConfiguration',
    spellings: ['felixconfiguration', 'felixconfigurations', 'felixconfig', 'felixconfigs'],
    namespaced: false,
    prefix: keys.felixConfiguration(''),
    key: (name) => keys.felixConfiguration(name),
    schema: FelixConfigurationSchema,
  },
  {
    kind: 'Secret',
    apiVersion: 'v1',
    defaultNamespace: CALICO_NODE_NAMESPACE,
    spellings: ['secret', 'secrets'],
    namespaced: true,
    prefix: keys.secrets,
    key: (name, namespace) => keys.secret(name, namespace ?? CALICO_NODE_NAMESPACE),
    schema: SecretSchema,
  },
  {
    kind: 'WorkloadEndpoint',
    spellings: ['workloadendpoint', 'workloadendpoints', 'wep', 'weps'],
    namespaced: true,
    prefix: keys.workloadEndpoints,
    key: (name, namespace) => keys.workloadEndpoint(name, namespace),
    readOnly: 'workload endpoints are written by the CNI plugin: use `calico-sim workload add` / `workload del`',
  },
];

export function spellingList(): string {
  return KINDS.map((k) => `${k.kind} (${k.spellings.join(', ')})`).join('; ');
}

export function kindInfo(spelling: string): KindInfo | undefined {
  const s = spelling.toLowerCase();
  return KINDS.find((k) => k.kind.toLowerCase() === s || k.spellings.includes(s));
}

/** The kind a calicoctl spelling stands for (`ipp`, `BGPPeers`, `wep`...); throws a ResourceError. */
export function resolveKind(spelling: string): string {
  const k = kindInfo(spelling);
  if (!k) throw new ResourceError([`unknown resource type ${JSON.stringify(spelling)} (known: ${spellingList()})`]);
  return k.kind;
}

/** The kinds calico-sim can apply from a file. */
export const WRITABLE_KINDS: readonly string[] = KINDS.filter((k) => k.schema).map((k) => k.kind);

export function keyOf(k: KindInfo, r: { metadata: { name: string; namespace?: string } }): string {
  return k.namespaced ? k.key(r.metadata.name, r.metadata.namespace ?? k.defaultNamespace ?? 'default') : k.key(r.metadata.name);
}

/** The entry of a kind by its exact name (as resolveKind returns it, or a validated resource has it). */
export function infoOf(kind: string): KindInfo {
  return KINDS.find((k) => k.kind === kind)!;
}

/** A resource's identity, `<kind>/<namespace>/<name>` (an empty namespace when it has none). */
export function identity(r: { kind: string; metadata: { name: string; namespace?: string } }): string {
  return `${r.kind}/${r.metadata.namespace ?? ''}/${r.metadata.name}`;
}
