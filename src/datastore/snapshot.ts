import type {
  AllocationBlock,
  BGPConfiguration,
  BGPFilter,
  BGPPeer,
  CalicoNode,
  FelixConfiguration,
  GlobalNetworkPolicy,
  HostEndpoint,
  IPPool,
  LabConfiguration,
  NodeBGPConfiguration,
  NetworkPolicy,
  Profile,
  SecretResource,
  Tier,
  WorkloadEndpoint,
} from '../model/resources.js';
import { keys } from './keys.js';
import type { Datastore } from './store.js';

/**
 * Everything the agent and the BIRD renderer need, read in two range requests. The policy fields
 * are optional so that code building a Snapshot by hand (tests) need not list them; readSnapshot
 * always fills them.
 */
export interface Snapshot {
  nodes: CalicoNode[];
  pools: IPPool[];
  bgpConfiguration?: BGPConfiguration;
  /** Nodes' own BGPConfigurations (`node.<name>`): their listenPort and prefixAdvertisements. */
  nodeBgpConfigurations?: NodeBGPConfiguration[];
  bgpPeers?: BGPPeer[];
  bgpFilters?: BGPFilter[];
  blocks: AllocationBlock[];
  workloadEndpoints: WorkloadEndpoint[];
  networkPolicies?: NetworkPolicy[];
  globalNetworkPolicies?: GlobalNetworkPolicy[];
  /** Tier records; a lab without a `default` one behaves as if it had Calico's. */
  tiers?: Tier[];
  profiles?: Profile[];
  hostEndpoints?: HostEndpoint[];
  /** The `default` FelixConfiguration, if any. */
  felixConfiguration?: FelixConfiguration;
  /** Kubernetes Secrets (BGP passwords), as the lab stores them. */
  secrets?: SecretResource[];
  /** The lab's own settings (BGP timers, BFD), if any. */
  labConfiguration?: LabConfiguration;
  /** The etcd revision of the resource read: an agent reports it to say what it has programmed. */
  revision?: string;
}

export async function readSnapshot(ds: Datastore): Promise<Snapshot> {
  const [res, ipam, lab] = await Promise.all([ds.list<unknown>(keys.resourcePrefix), ds.list<unknown>(keys.blocks), ds.list<unknown>(keys.labPrefix)]);
  return snapshotOf([...res.items, ...ipam.items, ...lab.items], res.revision);
}

/** The prefixes a Snapshot is made of: what an agent reads, and what its syncer watches. */
export const SNAPSHOT_PREFIXES = [keys.resourcePrefix, keys.blocks, keys.labPrefix] as const;

/** The Snapshot's fields that hold records, and the key prefix of each one's records. */
const FIELDS = [
  ['nodes', keys.nodes],
  ['pools', keys.ippools],
  ['bgpConfigurations', keys.bgpConfiguration('')],
  ['bgpPeers', keys.bgpPeers],
  ['bgpFilters', keys.bgpFilters],
  ['blocks', keys.blocks],
  ['workloadEndpoints', keys.workloadEndpoints],
  ['networkPolicies', keys.networkPolicies],
  ['globalNetworkPolicies', keys.globalNetworkPolicies],
  ['tiers', keys.tiers],
  ['profiles', keys.profiles],
  ['hostEndpoints', keys.hostEndpoints],
  ['felixConfigurations', keys.felixConfiguration('')],
  ['labConfigurations', keys.labConfiguration('')],
  ['secrets', keys.secrets],
] as const;

/** Which list of a Snapshot a key's record belongs to (undefined: none, e.g. an IPAM handle). */
export type SnapshotField = (typeof FIELDS)[number][0];

export function snapshotFieldOf(key: string): SnapshotField | undefined {
  return FIELDS.find(([, prefix]) => key.startsWith(prefix))?.[0];
}

/** Pure: a Snapshot from the records of each field (a syncer keeps them apart, and rebuilds only the lists that changed). */
export function snapshotFromFields(records: (field: SnapshotField) => readonly unknown[], revision?: string): Snapshot {
  const of = <T>(f: SnapshotField) => records(f) as T[];
  const named = <T extends { metadata: { name: string } }>(f: SnapshotField) => of<T>(f).find((c) => c.metadata.name === 'default');
  return {
    nodes: of<CalicoNode>('nodes'),
    pools: of<IPPool>('pools'),
    bgpConfiguration: named<BGPConfiguration>('bgpConfigurations'),
    nodeBgpConfigurations: of<NodeBGPConfiguration>('bgpConfigurations').filter((c) => c.metadata.name.startsWith('node.')),
    bgpPeers: of<BGPPeer>('bgpPeers'),
    bgpFilters: of<BGPFilter>('bgpFilters'),
    blocks: of<AllocationBlock>('blocks'),
    workloadEndpoints: of<WorkloadEndpoint>('workloadEndpoints'),
    networkPolicies: of<NetworkPolicy>('networkPolicies'),
    globalNetworkPolicies: of<GlobalNetworkPolicy>('globalNetworkPolicies'),
    tiers: of<Tier>('tiers'),
    profiles: of<Profile>('profiles'),
    hostEndpoints: of<HostEndpoint>('hostEndpoints'),
    felixConfiguration: named<FelixConfiguration>('felixConfigurations'),
    labConfiguration: named<LabConfiguration>('labConfigurations'),
    secrets: of<SecretResource>('secrets'),
    ...(revision ? { revision } : {}),
  };
}

/** Pure: a Snapshot from the key/values under SNAPSHOT_PREFIXES (any order). */
export function snapshotOf(items: readonly { key: string; value: unknown }[], revision?: string): Snapshot {
  const byField = new Map<SnapshotField, unknown[]>();
  for (const i of items) {
    const f = snapshotFieldOf(i.key);
    if (!f) continue;
    const list = byField.get(f);
    if (list) list.push(i.value);
    else byField.set(f, [i.value]);
  }
  return snapshotFromFields((f) => byField.get(f) ?? [], revision);
}
