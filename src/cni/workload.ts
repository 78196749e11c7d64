import { keys } from '../datastore/keys.js';
import type { Datastore } from '../datastore/store.js';
import { Ipam } from '../ipam/ipam.js';
import { API_VERSION, type CalicoNode, type EndpointPort, type WorkloadEndpoint } from '../model/resources.js';
import { CNI_ENDPOINT, CNI_ORCHESTRATOR, NAME_RE, wepIdentifiers, wepName } from '../model/names.js';
import { ipBatch, setSysctls } from '../util/exec.js';
import { InputError, SimError, errorMessage } from '../util/errors.js';
import { workloadIfaceSysctls } from './sysctls.js';

/** The workload's next hop: a link-local address the host-side veth answers by proxy ARP. */
export const WORKLOAD_GATEWAY = '169.254.1.1';
/** Calico gives every host-side veth this MAC; the proxy ARP reply carries it. */
export const HOST_VETH_MAC = 'ee:ee:ee:ee:ee:ee';
/** The IPv6 gateway: the host-side veth's own link-local address (EUI-64 of HOST_VETH_MAC). */
export const WORKLOAD_GATEWAY6 = 'fe80::ecee:eeff:feee:eeee';

/**
 * What the CNI takes from the lab it works in (sim/cni-env.ts, from the lab's backend): the names
 * of a workload's namespace and host-side veth, and how its sandbox (a named network namespace)
 * is made and removed (with every process inside).
 */
export interface CniEnv {
  workloadNs(lab: string, name: string): string;
  caliIface(lab: string, name: string): string;
  createSandbox(netns: string): Promise<void>;
  /** False if there was no such sandbox. */
  removeSandbox(netns: string): Promise<boolean>;
}

export interface WorkloadRequest {
  lab: string;
  name: string;
  host: string;
  hostNetns: string;
  /** The tenant it belongs to (NetworkPolicy scope). Default `default`. */
  namespace?: string;
  labels?: Record<string, string>;
  /** Its named ports (Calico's WorkloadEndpoint `ports`; on Kubernetes, from the pod's containerPorts). */
  ports?: readonly EndpointPort[];
  /** The pools to take its addresses from (names or CIDRs), as Calico's `cni.projectcalico.org/ipv4pools`/`ipv6pools`. */
  ipv4Pools?: readonly string[];
  ipv6Pools?: readonly string[];
}

/** The profile every endpoint of a namespace gets, as Calico's CNI on Kubernetes gives `kns.<ns>`. */
export const namespaceProfile = (namespace: string) => `kns.${namespace}`;

/**
 * Creates the namespace's profile if absent: allow everything in and out, and the namespace's
 * name as a label, as Calico's `kns.<namespace>` profiles do. So an endpoint no policy selects is reachable, and a policy
 * that selects it takes over in the directions it covers.
 */
export async function ensureNamespaceProfile(ds: Datastore, namespace: string): Promise<void> {
  const name = namespaceProfile(namespace);
  await ds.create(keys.profile(name), {
    apiVersion: API_VERSION,
    kind: 'Profile',
    metadata: { name, creationTimestamp: new Date().toISOString() },
    // The namespace's labels reach its endpoints as `pcns.<key>` (namespaceSelector sees them), as
    // Calico's kns.<namespace> profiles apply them; a namespace here has only its name.
    spec: { ingress: [{ action: 'Allow' }], egress: [{ action: 'Allow' }], labelsToApply: { 'pcns.projectcalico.org/name': namespace } },
  });
}

/** A workload's endpoint record by workload name (names are unique across namespaces in a lab). */
export async function findWorkload(ds: Datastore, name: string): Promise<{ key: string; value: WorkloadEndpoint } | undefined> {
  // Keys only (…/workloadendpoints/<namespace>/<node>-cni-<workload>-eth0), then the one record:
  // a lab of 1,000 workloads adding them all at once would otherwise read every record for every add.
  // (A suffix test first: at 1,000 workloads every add looks through every key.)
  const suffix = wepName({ node: '', orchestrator: CNI_ORCHESTRATOR, workload: name, endpoint: CNI_ENDPOINT }); // -cni-<workload>-eth0
  const key = (await ds.client.getAll().prefix(keys.workloadEndpoints).keys()).find((k) => k.endsWith(suffix) && wepIdentifiers(k.slice(k.lastIndexOf('/') + 1))?.workload === name);
  const value = key === undefined ? undefined : await ds.get<WorkloadEndpoint>(key);
  return key === undefined || !value ? undefined : { key, value: value.value };
}

/**
 * The CNI ADD of calico-sim: an address from IPAM, a namespace behind a veth pair, the /32 and
 * the 169.254.1.1 default route inside, the host route and sysctls outside, then the endpoint
 * record. Fails whole: on any error everything done so far is undone.
 */
export async function addWorkload(ds: Datastore, req: WorkloadRequest, env: CniEnv): Promise<WorkloadEndpoint> {
  // Names end up in `ip -batch` input and etcd keys: nothing but the safe alphabet gets there.
  if (!NAME_RE.test(req.name)) throw new InputError(`invalid workload name ${JSON.stringify(req.name)}: use 1-32 characters of a-z, 0-9 and "-" (not at either end)`);
  const namespace = req.namespace ?? 'default';
  if (!NAME_RE.test(namespace)) throw new InputError(`invalid namespace ${JSON.stringify(namespace)} of workload "${req.name}"`);
  const ids = { node: req.host, orchestrator: CNI_ORCHESTRATOR, workload: req.name, endpoint: CNI_ENDPOINT };
  const key = keys.workloadEndpoint(wepName(ids), namespace);
  if (await findWorkload(ds, req.name)) throw new InputError(`workload "${req.name}" already exists`);
  if (!(await ds.get<CalicoNode>(keys.node(req.host)))) throw new InputError(`unknown host "${req.host}": no Node resource in the datastore`);
  const ipam = new Ipam(ds);
  const handleId = `${req.lab}.${req.name}`;
  const { ip } = await ipam.autoAssign({ host: req.host, handleId, ...(req.ipv4Pools ? { pools: req.ipv4Pools } : {}) });
  let ip6: string | undefined;
  if (req.ipv6Pools?.length || (await ipam.workloadPools(req.host, 6)).length > 0) {
    try {
      ip6 = (await ipam.autoAssign({ host: req.host, handleId, family: 6, ...(req.ipv6Pools ? { pools: req.ipv6Pools } : {}) })).ip;
    } catch (err) {
      await ipam.release(ip);
      throw err;
    }
  }
  const netns = env.workloadNs(req.lab, req.name);
  const iface = env.caliIface(req.lab, req.name);
  const wep: WorkloadEndpoint = {
    apiVersion: API_VERSION,
    kind: 'WorkloadEndpoint',
    // Calico's name, <node>-<orchestrator>-<workload>-<endpoint>; the lab addresses a workload by spec.workload.
    metadata: { name: wepName(ids), namespace, creationTimestamp: new Date().toISOString(), ...(req.labels && Object.keys(req.labels).length ? { labels: req.labels } : {}) },
    spec: {
      node: req.host,
      orchestrator: CNI_ORCHESTRATOR,
      workload: req.name,
      endpoint: CNI_ENDPOINT,
      interfaceName: iface,
      ipNetworks: [`${ip}/32`, ...(ip6 ? [`${ip6}/128`] : [])],
      netns,
      profiles: [namespaceProfile(namespace)],
      ...(req.ports?.length ? { ports: req.ports.map((p) => ({ ...p })) } : {}),
    },
  };
  let nsMade = false;
  try {
    await env.createSandbox(netns);
    nsMade = true;
    await ipBatch(req.hostNetns, [
      `link add ${iface} type veth peer name eth0 netns ${netns}`,
      `link set ${iface} address ${HOST_VETH_MAC}`,
      `link set ${iface} up`,
      // `proto static`, not the agent's: until the endpoint record exists the agent would take
      // an agent-owned route it cannot explain for stale and delete it. It takes this one over
      // (route replace … proto boot) once the record is there.
      `route replace ${ip}/32 dev ${iface} scope link proto static`,
      ...(ip6 ? [`route replace ${ip6}/128 dev ${iface} proto static`] : []),
    ]);
    await Promise.all([
      setSysctls(req.hostNetns, workloadIfaceSysctls(iface)),
      ipBatch(netns, [
        'link set lo up',
        `addr add ${ip}/32 dev eth0`,
        'link set eth0 up',
        `route add ${WORKLOAD_GATEWAY} dev eth0 scope link`,
        `route add default via ${WORKLOAD_GATEWAY} dev eth0`,
        ...(ip6 ? [`addr add ${ip6}/128 dev eth0 nodad`, `route add default via ${WORKLOAD_GATEWAY6} dev eth0`] : []),
      ]),
    ]);
    await ensureNamespaceProfile(ds, namespace);
    if (!(await ds.create(key, wep))) throw new InputError(`workload "${req.name}" already exists`);
    return wep;
  } catch (err) {
    if (nsMade) await env.removeSandbox(netns).catch(() => undefined);
    await ipam.release(ip).catch(() => undefined);
    if (ip6) await ipam.release(ip6).catch(() => undefined);
    throw err instanceof SimError ? err : new SimError(`cannot add workload "${req.name}": ${errorMessage(err)}`, { cause: err });
  }
}

/**
 * The CNI DEL: processes in the namespace, the namespace (and with it the veth pair and the host
 * route), the record, the addresses. Idempotent: it also cleans up after an ADD that died half
 * way (a namespace or addresses with no record).
 */
export async function deleteWorkload(ds: Datastore, lab: string, name: string, env: CniEnv): Promise<{ name: string; released: string[] }> {
  if (!NAME_RE.test(name)) throw new InputError(`invalid workload name ${JSON.stringify(name)}`);
  const found = await findWorkload(ds, name);
  const netns = found?.value.spec.netns ?? env.workloadNs(lab, name);
  const hadNetns = await env.removeSandbox(netns);
  if (found) await ds.delete(found.key);
  const released = await new Ipam(ds).releaseHandle(`${lab}.${name}`);
  if (!found && !hadNetns && released.length === 0) throw new InputError(`unknown workload "${name}"`);
  return { name, released };
}
