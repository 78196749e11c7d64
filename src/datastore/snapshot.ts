import type {
  AllocationBlock,
  BGPConfiguration,
  BGPPeer,
  CalicoNode,
  FelixConfiguration,
  GlobalNetworkPolicy,
  IPPool,
  LabConfiguration,
  NetworkPolicy,
  Profile,
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
  bgpPeers?: BGPPeer[];
  blocks: AllocationBlock[];
  workloadEndpoints: WorkloadEndpoint[];
  networkPolicies?: NetworkPolicy[];
  globalNetworkPolicies?: GlobalNetworkPolicy[];
  profiles?: Profile[];
  /** The `default` FelixConfiguration, if any. */
  felixConfiguration?: FelixConfiguration;
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

/** Pure: a Snapshot from the key/values under SNAPSHOT_PREFIXES (any order). */
export function snapshotOf(items: readonly { key: string; value: unknown }[], revision?: string): Snapshot {
  const of = <T>(prefix: string) => items.filter((i) => i.key.startsWith(prefix)).map((i) => i.value as T);
  return {
    nodes: of<CalicoNode>(keys.nodes),
    pools: of<IPPool>(keys.ippools),
    bgpConfiguration: of<BGPConfiguration>(keys.bgpConfiguration('')).find((c) => c.metadata.name === 'default'),
    bgpPeers: of<BGPPeer>(keys.bgpPeers),
    blocks: of<AllocationBlock>(keys.blocks),
    workloadEndpoints: of<WorkloadEndpoint>(keys.workloadEndpoints),
    networkPolicies: of<NetworkPolicy>(keys.networkPolicies),
    globalNetworkPolicies: of<GlobalNetworkPolicy>(keys.globalNetworkPolicies),
    profiles: of<Profile>(keys.profiles),
    felixConfiguration: of<FelixConfiguration>(keys.felixConfiguration('')).find((c) => c.metadata.name === 'default'),
    labConfiguration: of<LabConfiguration>(keys.labConfiguration('')).find((c) => c.metadata.name === 'default'),
    ...(revision ? { revision } : {}),
  };
}
