/**
 * Checks of resources against each other and against what the datastore holds (pure): what an
 * apply must not do (crossCheck: a pool overlapping another pool or a node's network, an address
 * claimed by two nodes, a policy in a tier that does not exist), what it is told but may do
 * (crossNotes), and what stops a delete (checkDeletes: a resource that does not exist, a Node with
 * workload endpoints, an IPPool with addresses in use).
 */
import { blockUsage } from '../ipam/blocks.js';
import { type LabNetwork, poolOverlapsLab } from '../model/address-plan.js';
import type { AllocationBlock, Resource, ResourceRef, StoredResource } from '../model/resources.js';
import { blockOf, canonicalIp, cidrsOverlap, parseCidr } from '../net/cidr.js';
import { identity, kindInfo, spellingList, type KindInfo } from './kinds.js';
import { describe, label, origins } from './origins.js';

interface CheckInput {
  /** Stored resources not replaced by the incoming ones. */
  existing: readonly StoredResource[];
  incoming: readonly Resource[];
  /** What the datastore would hold after the apply. */
  after: readonly StoredResource[];
  /** The lab's own networks (fabric, IPv6 fabric, router LANs), when known: no pool may overlap them. */
  networks: readonly LabNetwork[];
}

/** A rule: the problems it finds, each with the incoming resource it is about. */
type CrossCheck = (c: CheckInput) => [Resource, string][];

function spec(r: StoredResource): Record<string, unknown> {
  return r.spec ?? {};
}

interface NodeAddress {
  field: string;
  /** As written: 198.18.0.11/16. */
  value: string;
  /** Canonical address: 198.18.0.11. */
  ip: string;
  /** Its network: 198.18.0.0/16. */
  network: string;
}

function nodeAddresses(r: StoredResource): NodeAddress[] {
  const bgp = (spec(r).bgp ?? {}) as Record<string, unknown>;
  const out: NodeAddress[] = [];
  for (const field of ['ipv4Address', 'ipv6Address'] as const) {
    const value = bgp[field];
    if (typeof value !== 'string') continue;
    try {
      const [ip, prefix] = value.split('/');
      out.push({ field: `spec.bgp.${field}`, value, ip: canonicalIp(ip!), network: blockOf(ip!, Number(prefix)) });
    } catch {
      // A malformed stored address cannot clash with anything.
    }
  }
  return out;
}

function poolCidr(r: StoredResource): string | undefined {
  const cidr = spec(r).cidr;
  try {
    return typeof cidr === 'string' ? parseCidr(cidr).cidr : undefined;
  } catch {
    return undefined;
  }
}

function overlaps(a: string, b: string): boolean {
  try {
    return cidrsOverlap(a, b);
  } catch {
    return false;
  }
}

function ofKind<T extends StoredResource>(list: readonly T[], kind: string): T[] {
  return list.filter((r) => r.kind === kind);
}

/**
 * The cross-resource rules. Each reports only problems that involve an incoming resource (what is
 * already stored is not re-judged), once per pair.
 */
const CROSS_CHECKS: readonly CrossCheck[] = [
  // A pool overlapping another pool, the lab's networks (the rule a topology's pools follow), or
  // the network of a node's address: Calico would route workload addresses over host addresses.
  ({ existing, incoming, after, networks }) => {
    const problems: [Resource, string][] = [];
    const newPools = ofKind(incoming, 'IPPool');
    // A node's network inside a lab network adds nothing to the lab network's check.
    const covered = (net: string) => networks.some((n) => overlaps(net, n.cidr) && Number(net.split('/')[1]) >= Number(n.cidr.split('/')[1]));
    newPools.forEach((pool, i) => {
      const cidr = poolCidr(pool)!;
      const why = poolOverlapsLab(cidr, networks);
      if (why) problems.push([pool, `${describe(pool)}: spec.cidr: ${why}`]);
      const others = [...ofKind(existing, 'IPPool'), ...newPools.slice(0, i)];
      for (const other of others) {
        const theirs = poolCidr(other);
        if (theirs && overlaps(cidr, theirs)) {
          const where = origins.get(other) ? `, ${origins.get(other)}` : '';
          problems.push([pool, `${describe(pool)}: spec.cidr: ${cidr} overlaps IPPool ${other.metadata.name} (${theirs}${where})`]);
        }
      }
      for (const node of ofKind(after, 'Node')) {
        for (const a of nodeAddresses(node)) {
          if (!covered(a.network) && overlaps(cidr, a.network)) {
            problems.push([
              pool,
              `${describe(pool)}: spec.cidr: ${cidr} overlaps the network ${a.network} of Node ${node.metadata.name} (${a.field} ${a.value}): workload routes would shadow host addresses`,
            ]);
          }
        }
      }
    });
    // A new node whose network covers a pool that stays as it is (new pools were checked above).
    for (const node of ofKind(incoming, 'Node')) {
      for (const a of nodeAddresses(node)) {
        for (const pool of ofKind(existing, 'IPPool')) {
          const cidr = poolCidr(pool);
          if (cidr && overlaps(cidr, a.network)) {
            problems.push([node, `${describe(node)}: ${a.field}: the node's network ${a.network} overlaps IPPool ${pool.metadata.name} (${cidr}): workload routes would shadow host addresses`]);
          }
        }
      }
    }
    return problems;
  },

  // A second node claiming an address another node uses.
  ({ existing, incoming }) => {
    const problems: [Resource, string][] = [];
    const newNodes = ofKind(incoming, 'Node');
    newNodes.forEach((node, i) => {
      const others = [...ofKind(existing, 'Node'), ...newNodes.slice(0, i)].filter((o) => o.metadata.name !== node.metadata.name);
      for (const a of nodeAddresses(node)) {
        const owner = others.find((o) => nodeAddresses(o).some((b) => b.ip === a.ip));
        if (owner) {
          const where = origins.get(owner) ? ` (${origins.get(owner)})` : '';
          problems.push([node, `${describe(node)}: ${a.field}: ${a.ip} is already used by Node ${owner.metadata.name}${where}: two nodes cannot share an address`]);
        }
      }
    });
    return problems;
  },

  // A policy in a tier that does not exist (Calico's client refuses it: it reads the tier first).
  ({ incoming, after }) => {
    // Calico makes the `default` tier at start-up: it exists even where no record says so.
    const tiers = new Set(['default', ...ofKind(after, 'Tier').map((t) => t.metadata.name)]);
    return [...ofKind(incoming, 'NetworkPolicy'), ...ofKind(incoming, 'GlobalNetworkPolicy')]
      .filter((p) => !tiers.has(String(spec(p).tier ?? 'default')))
      .map((p): [Resource, string] => [
        p,
        `${describe(p)}: spec.tier: no Tier named ${JSON.stringify(spec(p).tier ?? 'default')} (tiers: ${[...tiers].sort().join(', ') || 'none'}): apply the Tier first`,
      ]);
  },
];

/**
 * Checks validated `incoming` resources against the datastore's `current` resources (each with
 * its right `kind`), the lab's `networks` and each other: a pool overlapping another pool, a lab
 * network or a node's network, a node claiming another node's address, a policy in a tier that
 * does not exist. Returns the problems.
 */
export function crossCheck(current: readonly StoredResource[], incoming: readonly Resource[], networks: readonly LabNetwork[] = []): string[] {
  const replaced = new Set(incoming.map(identity));
  const existing = current.filter((r) => !replaced.has(identity(r)));
  const input: CheckInput = { existing, incoming, after: [...existing, ...incoming], networks };
  const order = new Map(incoming.map((r, i) => [r, i]));
  return CROSS_CHECKS.flatMap((check) => check(input))
    .sort((a, b) => order.get(a[0])! - order.get(b[0])!)
    .map(([, problem]) => problem);
}

/**
 * What an apply is told but not refused, by resource: a BGPPeer scoped to a node that is not
 * (yet) in the datastore — Calico takes it, and the peering starts when the node joins.
 */
export function crossNotes(current: readonly StoredResource[], incoming: readonly Resource[]): Map<Resource, string> {
  const replaced = new Set(incoming.map(identity));
  const after = [...current.filter((r) => !replaced.has(identity(r))), ...incoming];
  const nodes = new Set(ofKind(after, 'Node').map((n) => n.metadata.name));
  return new Map(
    ofKind(incoming, 'BGPPeer')
      .filter((p) => typeof spec(p).node === 'string' && !nodes.has(spec(p).node as string))
      .map((p) => [
        p,
        `${describe(p)}: spec.node: no node ${JSON.stringify(spec(p).node)} in the datastore${nodes.size ? ` (nodes: ${[...nodes].sort().join(', ')})` : ''}: the peering starts when a node of that name joins`,
      ]),
  );
}

/** Resolves delete targets to their kind; problems for unknown kinds and read-only ones. */
export function resolveTargets(targets: readonly ResourceRef[]): { refs: { info: KindInfo; name: string; namespace?: string; at: string }[]; problems: string[] } {
  const problems: string[] = [];
  const refs: { info: KindInfo; name: string; namespace?: string; at: string }[] = [];
  const seen = new Set<string>();
  for (const t of targets) {
    const info = kindInfo(t.kind);
    const where = origins.get(t);
    const at = where ? label(where, t.kind, t.metadata.name) : `${t.kind} ${t.metadata.name}`;
    if (!info) problems.push(`${at}: kind: unknown resource type ${JSON.stringify(t.kind)} (known: ${spellingList()})`);
    else if (!info.schema) problems.push(`${at}: ${info.kind} cannot be deleted here: ${info.readOnly}`);
    else {
      const namespace = info.namespaced ? (t.metadata.namespace ?? info.defaultNamespace ?? 'default') : undefined;
      const id = `${info.kind}/${namespace ?? ''}/${t.metadata.name}`;
      if (!seen.has(id)) refs.push({ info, name: t.metadata.name, namespace, at });
      seen.add(id);
    }
  }
  return { refs, problems };
}

/** The IPAM blocks inside a pool (none if its CIDR cannot be read). */
export function poolBlocks(pool: StoredResource, blocks: readonly AllocationBlock[]): AllocationBlock[] {
  const cidr = poolCidr(pool);
  return cidr ? blocks.filter((b) => overlaps(cidr, b.cidr)) : [];
}

/**
 * Why the targets cannot be deleted, given everything stored (`current`, with workload endpoints)
 * and the IPAM blocks: a resource that does not exist, a Node that still has workload endpoints,
 * an IPPool with addresses in use (its empty blocks do not stop it: they are released with it).
 * Empty if the delete may go ahead.
 */
export function checkDeletes(current: readonly StoredResource[], blocks: readonly AllocationBlock[], targets: readonly ResourceRef[]): string[] {
  const { refs, problems } = resolveTargets(targets);
  const byId = new Map(current.map((r) => [identity(r), r]));
  const missing = refs.filter((t) => !byId.has(`${t.info.kind}/${t.namespace ?? ''}/${t.name}`));
  if (missing.length) {
    problems.push(
      `resource${missing.length > 1 ? 's do' : ' does'} not exist: ${missing.map((t) => `${t.info.kind}(${t.namespace ? `${t.namespace}/` : ''}${t.name})`).join(', ')}; nothing was deleted`,
    );
  }
  for (const t of refs) {
    const r = byId.get(`${t.info.kind}/${t.namespace ?? ''}/${t.name}`);
    if (!r) continue;
    if (t.info.kind === 'Node') {
      const weps = ofKind(current, 'WorkloadEndpoint').filter((w) => spec(w).node === t.name);
      if (weps.length) {
        // The workload's name (spec.workload; a record without one: its resource name).
        const names = weps
          .map((w) => {
            const name = String(spec(w).workload ?? w.metadata.name);
            return w.metadata.namespace && w.metadata.namespace !== 'default' ? `${w.metadata.namespace}/${name}` : name;
          })
          .sort();
        problems.push(
          `${t.at}: Node ${t.name} still has ${weps.length} workload endpoint${weps.length > 1 ? 's' : ''} (${names.join(', ')}): delete ${weps.length > 1 ? 'those workloads' : 'that workload'} first`,
        );
      }
    }
    if (t.info.kind === 'Tier') {
      // libcalico-go/lib/clientv3/tier.go: "Cannot delete default tier", "Cannot delete a non-empty tier".
      // Policies deleted by the same (all-or-nothing) delete do not count.
      const going = new Set(refs.map((x) => `${x.info.kind}/${x.namespace ?? ''}/${x.name}`));
      const policies = [...ofKind(current, 'NetworkPolicy'), ...ofKind(current, 'GlobalNetworkPolicy')].filter((p) => (spec(p).tier ?? 'default') === t.name && !going.has(identity(p)));
      if (t.name === 'default') problems.push(`${t.at}: Cannot delete default tier`);
      else if (policies.length)
        problems.push(`${t.at}: Cannot delete a non-empty tier: it holds ${policies.map((p) => `${p.kind} ${p.metadata.namespace ? `${p.metadata.namespace}/` : ''}${p.metadata.name}`).join(', ')}`);
    }
    if (t.info.kind === 'IPPool') {
      // Empty blocks are released with the pool (poolBlocks); addresses in use stop the delete.
      const inUse = poolBlocks(r, blocks).filter((b) => blockUsage(b).used > 0);
      if (inUse.length) {
        const used = inUse.reduce((n, b) => n + blockUsage(b).used, 0);
        problems.push(
          `${t.at}: IPPool ${t.name} still has ${used} address${used === 1 ? '' : 'es'} in use, in ${inUse.length} block${inUse.length > 1 ? 's' : ''} (${inUse.map((b) => b.cidr).join(', ')}): delete the workloads using ${used === 1 ? 'it' : 'them'} first`,
        );
      }
    }
  }
  return problems;
}
