/** The etcd key layout: Calico's own, so that etcdctl users find things where they expect. */
const RES = '/calico/resources/v3/projectcalico.org';
const IPAM = '/calico/ipam/v2';

/** 6 for IPv6 text (it has a `:`), else 4. */
function ipFamily(cidr: string): 4 | 6 {
  return cidr.includes(':') ? 6 : 4;
}

export const keys = {
  resourcePrefix: `${RES}/`,
  ippool: (name: string) => `${RES}/ippools/${name}`,
  ippools: `${RES}/ippools/`,
  node: (name: string) => `${RES}/nodes/${name}`,
  nodes: `${RES}/nodes/`,
  bgpConfiguration: (name = 'default') => `${RES}/bgpconfigurations/${name}`,
  bgpPeer: (name: string) => `${RES}/bgppeers/${name}`,
  bgpPeers: `${RES}/bgppeers/`,
  bgpFilter: (name: string) => `${RES}/bgpfilters/${name}`,
  bgpFilters: `${RES}/bgpfilters/`,
  workloadEndpoint: (name: string, namespace = 'default') => `${RES}/workloadendpoints/${namespace}/${name}`,
  workloadEndpoints: `${RES}/workloadendpoints/`,
  networkPolicy: (name: string, namespace = 'default') => `${RES}/networkpolicies/${namespace}/${name}`,
  networkPolicies: `${RES}/networkpolicies/`,
  globalNetworkPolicy: (name: string) => `${RES}/globalnetworkpolicies/${name}`,
  globalNetworkPolicies: `${RES}/globalnetworkpolicies/`,
  tier: (name: string) => `${RES}/tiers/${name}`,
  tiers: `${RES}/tiers/`,
  hostEndpoint: (name: string) => `${RES}/hostendpoints/${name}`,
  hostEndpoints: `${RES}/hostendpoints/`,
  profile: (name: string) => `${RES}/profiles/${name}`,
  profiles: `${RES}/profiles/`,
  /** The lab's own settings (BGP timers, BFD): calico-sim's, outside Calico's key space. */
  labConfiguration: (name = 'default') => `/calico-sim/v1/labconfigurations/${name}`,
  labPrefix: '/calico-sim/v1/',
  /** Kubernetes Secrets (BGP passwords): the lab's own keys, there being no Kubernetes. */
  secret: (name: string, namespace: string) => `/calico-sim/v1/secrets/${namespace}/${name}`,
  secrets: '/calico-sim/v1/secrets/',
  /** Calico's FelixConfiguration (`default`): the policy dataplane, failsafe ports, DefaultEndpointToHostAction. */
  felixConfiguration: (name = 'default') => `${RES}/felixconfigurations/${name}`,

  ipamPrefix: '/calico/ipam/v2/',
  /** The block of a CIDR, IPv4 or IPv6 (`.../ipv6/block/2001:db8:1::-122`); pass canonical CIDRs. */
  block: (cidr: string) => `${IPAM}/assignment/ipv${ipFamily(cidr)}/block/${cidr.replace('/', '-')}`,
  /** Prefix of every block of both families. */
  blocks: `${IPAM}/assignment/`,
  /** Prefix of the blocks of one family. */
  blocksOf: (family: 4 | 6) => `${IPAM}/assignment/ipv${family}/block/`,
  affinity: (host: string, cidr: string) => `${IPAM}/host/${host}/ipv${ipFamily(cidr)}/block/${cidr.replace('/', '-')}`,
  /** Prefix of a host's affinity records: both families, or one. */
  affinities: (host: string, family?: 4 | 6) => `${IPAM}/host/${host}/${family ? `ipv${family}/block/` : ''}`,
  /** Prefix of every host's affinity records. */
  allAffinities: `${IPAM}/host/`,
  /** Calico's global IPAM settings (strict_affinity, auto_allocate_blocks, maxBlocksPerHost). */
  ipamConfig: `${IPAM}/config`,
  /** Calico's IPAM handle: which blocks hold addresses of one allocation (a workload's), and how many. */
  handle: (id: string) => `${IPAM}/handle/${id}`,
  handles: `${IPAM}/handle/`,

  agentStatus: (host: string) => `/calico/felix/v2/no-region/host/${host}/status`,
  agentStatuses: '/calico/felix/v2/no-region/host/',
};

/** Block key suffix back to a CIDR: 198.19.0.0-26 → 198.19.0.0/26, 2001:db8:1::-122 → 2001:db8:1::/122. */
export function cidrFromKey(key: string): string {
  const last = key.slice(key.lastIndexOf('/') + 1);
  const i = last.lastIndexOf('-');
  return `${last.slice(0, i)}/${last.slice(i + 1)}`;
}

/** An affinity record's key back to its host and block CIDR; undefined for any other key. */
export function affinityFromKey(key: string): { host: string; cidr: string } | undefined {
  const m = /^\/calico\/ipam\/v2\/host\/([^/]+)\/ipv[46]\/block\/([^/]+-[0-9]+)$/.exec(key);
  return m ? { host: m[1]!, cidr: cidrFromKey(m[2]!) } : undefined;
}
