import type { AllocationBlock, BGPConfiguration, BGPPeer, CalicoNode, IPPool, WorkloadEndpoint } from '../model/resources.js';
import { keys } from './keys.js';
import type { Datastore } from './store.js';

/** Everything the agent and the BIRD renderer need, read in two range requests. */
export interface Snapshot {
  nodes: CalicoNode[];
  pools: IPPool[];
  bgpConfiguration?: BGPConfiguration;
  bgpPeers?: BGPPeer[];
  blocks: AllocationBlock[];
  workloadEndpoints: WorkloadEndpoint[];
}

export async function readSnapshot(ds: Datastore): Promise<Snapshot> {
  const [res, ipam] = await Promise.all([ds.list<unknown>(keys.resourcePrefix), ds.list<unknown>(keys.blocks)]);
  const of = <T>(prefix: string) => res.items.filter((i) => i.key.startsWith(prefix)).map((i) => i.value as T);
  return {
    nodes: of<CalicoNode>(keys.nodes),
    pools: of<IPPool>(keys.ippools),
    bgpConfiguration: of<BGPConfiguration>(keys.bgpConfiguration('')).find((c) => c.metadata.name === 'default'),
    bgpPeers: of<BGPPeer>(keys.bgpPeers),
    blocks: ipam.items.map((i) => i.value as AllocationBlock),
    workloadEndpoints: of<WorkloadEndpoint>(keys.workloadEndpoints),
  };
}
