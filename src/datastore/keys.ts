/** The etcd key layout: Calico's own, so that etcdctl users find things where they expect. */
const RES = '/calico/resources/v3/projectcalico.org';

export const keys = {
  resourcePrefix: `${RES}/`,
  ippool: (name: string) => `${RES}/ippools/${name}`,
  ippools: `${RES}/ippools/`,
  node: (name: string) => `${RES}/nodes/${name}`,
  nodes: `${RES}/nodes/`,
  bgpConfiguration: (name = 'default') => `${RES}/bgpconfigurations/${name}`,
  workloadEndpoint: (name: string, namespace = 'default') => `${RES}/workloadendpoints/${namespace}/${name}`,
  workloadEndpoints: `${RES}/workloadendpoints/`,

  ipamPrefix: '/calico/ipam/v2/',
  block: (cidr: string) => `/calico/ipam/v2/assignment/ipv4/block/${cidr.replace('/', '-')}`,
  blocks: '/calico/ipam/v2/assignment/ipv4/block/',
  affinity: (host: string, cidr: string) => `/calico/ipam/v2/host/${host}/ipv4/block/${cidr.replace('/', '-')}`,
  affinities: (host: string) => `/calico/ipam/v2/host/${host}/ipv4/block/`,
  handle: (id: string) => `/calico/ipam/v2/handle/${id}`,

  agentStatus: (host: string) => `/calico/felix/v2/no-region/host/${host}/status`,
  agentStatuses: '/calico/felix/v2/no-region/host/',
};

/** Block key suffix back to a CIDR: 198.19.0.0-26 → 198.19.0.0/26. */
export function cidrFromKey(key: string): string {
  const last = key.slice(key.lastIndexOf('/') + 1);
  const i = last.lastIndexOf('-');
  return `${last.slice(0, i)}/${last.slice(i + 1)}`;
}
