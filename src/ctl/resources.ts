/**
 * The calicoctl role: resources (read by parse.ts) checked against what the datastore holds, then
 * applied, deleted or read in etcd.
 *
 * Pure: crossCheck, checkDeletes.
 * I/O: class Ctl over a Datastore; an apply or a delete is ONE etcd transaction (all or nothing).
 */
import { keys } from '../datastore/keys.js';
import type { Datastore } from '../datastore/store.js';
import { blockUsage } from '../ipam/blocks.js';
import { blockOf, canonicalIp, cidrsOverlap, parseCidr } from '../net/cidr.js';
import type { AllocationBlock, Resource, ResourceRef, StoredResource } from '../model/resources.js';
import { DatastoreError } from '../util/errors.js';
import { identity, infoOf, keyOf, kindInfo, KINDS, resolveKind, spellingList, type KindInfo } from './kinds.js';
import { describe, label, origins } from './origins.js';
import { validateResources } from './parse.js';
import { ResourceError } from './resource-error.js';

// ---------------------------------------------------------------------------------------------
// Cross-resource checks

interface CheckInput {
  /** Stored resources not replaced by the incoming ones. */
  existing: readonly StoredResource[];
  incoming: readonly Resource[];
  /** What the datastore would hold after the apply. */
  after: readonly StoredResource[];
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
  // A pool overlapping another pool, or the network of a node's address: Calico would route
  // workload addresses over host addresses.
  ({ existing, incoming, after }) => {
    const problems: [Resource, string][] = [];
    const newPools = ofKind(incoming, 'IPPool');
    newPools.forEach((pool, i) => {
      const cidr = poolCidr(pool)!;
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
          if (overlaps(cidr, a.network)) {
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

  // A peering scoped to a node that does not exist.
  ({ incoming, after }) => {
    const nodes = new Set(ofKind(after, 'Node').map((n) => n.metadata.name));
    return ofKind(incoming, 'BGPPeer')
      .filter((p) => typeof spec(p).node === 'string' && !nodes.has(spec(p).node as string))
      .map((p): [Resource, string] => [p, `${describe(p)}: spec.node: unknown node ${JSON.stringify(spec(p).node)} (no Node resource of that name${nodes.size ? `; nodes: ${[...nodes].sort().join(', ')}` : ''})`]);
  },
];

/**
 * Checks validated `incoming` resources against the datastore's `current` resources (each with
 * its right `kind`) and against each other: a pool overlapping another pool or a node's network,
 * a node claiming another node's address, a BGPPeer for an unknown node. Returns the problems.
 */
export function crossCheck(current: readonly StoredResource[], incoming: readonly Resource[]): string[] {
  const replaced = new Set(incoming.map(identity));
  const existing = current.filter((r) => !replaced.has(identity(r)));
  const input: CheckInput = { existing, incoming, after: [...existing, ...incoming] };
  const order = new Map(incoming.map((r, i) => [r, i]));
  return CROSS_CHECKS.flatMap((check) => check(input))
    .sort((a, b) => order.get(a[0])! - order.get(b[0])!)
    .map(([, problem]) => problem);
}

/** Resolves delete targets to their kind; problems for unknown kinds and read-only ones. */
function resolveTargets(targets: readonly ResourceRef[]): { refs: { info: KindInfo; name: string; namespace?: string; at: string }[]; problems: string[] } {
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
      const namespace = info.namespaced ? (t.metadata.namespace ?? 'default') : undefined;
      const id = `${info.kind}/${namespace ?? ''}/${t.metadata.name}`;
      if (!seen.has(id)) refs.push({ info, name: t.metadata.name, namespace, at });
      seen.add(id);
    }
  }
  return { refs, problems };
}

/**
 * Why the targets cannot be deleted, given everything stored (`current`, with workload endpoints)
 * and the IPAM blocks: a resource that does not exist, a Node that still has workload endpoints,
 * an IPPool that still has allocated blocks. Empty if the delete may go ahead.
 */
export function checkDeletes(current: readonly StoredResource[], blocks: readonly AllocationBlock[], targets: readonly ResourceRef[]): string[] {
  const { refs, problems } = resolveTargets(targets);
  const byId = new Map(current.map((r) => [identity(r), r]));
  const missing = refs.filter((t) => !byId.has(`${t.info.kind}/${t.namespace ?? ''}/${t.name}`));
  if (missing.length) {
    problems.push(`resource${missing.length > 1 ? 's do' : ' does'} not exist: ${missing.map((t) => `${t.info.kind}(${t.namespace ? `${t.namespace}/` : ''}${t.name})`).join(', ')}; nothing was deleted`);
  }
  for (const t of refs) {
    const r = byId.get(`${t.info.kind}/${t.namespace ?? ''}/${t.name}`);
    if (!r) continue;
    if (t.info.kind === 'Node') {
      const weps = ofKind(current, 'WorkloadEndpoint').filter((w) => spec(w).node === t.name);
      if (weps.length) {
        const names = weps.map((w) => (w.metadata.namespace && w.metadata.namespace !== 'default' ? `${w.metadata.namespace}/${w.metadata.name}` : w.metadata.name)).sort();
        problems.push(`${t.at}: Node ${t.name} still has ${weps.length} workload endpoint${weps.length > 1 ? 's' : ''} (${names.join(', ')}): delete ${weps.length > 1 ? 'those workloads' : 'that workload'} first`);
      }
    }
    if (t.info.kind === 'IPPool') {
      const cidr = poolCidr(r);
      const inPool = cidr ? blocks.filter((b) => !b.deleted && overlaps(cidr, b.cidr)) : [];
      if (inPool.length) {
        const used = inPool.reduce((n, b) => n + blockUsage(b).used, 0);
        problems.push(
          `${t.at}: IPPool ${t.name} still has ${inPool.length} allocated block${inPool.length > 1 ? 's' : ''} (${used} address${used === 1 ? '' : 'es'} in use): delete the workloads using it first`,
        );
      }
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// The datastore side

export interface ApplyResult {
  kind: string;
  name: string;
  action: 'created' | 'configured';
}

export interface DeleteResult {
  kind: string;
  name: string;
}

/** etcd's default --max-txn-ops: the most writes one transaction may hold. */
export const MAX_RESOURCES_PER_TXN = 128;
/** How many times apply/delete re-reads and retries when someone else wrote in between. */
const MAX_ATTEMPTS = 5;

interface StoredEntry {
  key: string;
  value: StoredResource;
}

/**
 * calicoctl over the datastore. apply and delete check everything first, then write in one etcd
 * transaction that commits only if the resources they checked against are unchanged (retried
 * after a concurrent write): a bad file, or a refused delete, changes nothing.
 */
export class Ctl {
  constructor(private readonly ds: Datastore) {}

  /**
   * Creates or replaces the resources (spec and labels; creationTimestamp is kept). Validates all
   * of them (schema, then against the datastore and each other) before writing any; throws a
   * ResourceError listing every problem. Returns, in input order, what happened to each.
   */
  async apply(resources: readonly unknown[]): Promise<ApplyResult[]> {
    const valid = validateResources(resources);
    if (valid.length > MAX_RESOURCES_PER_TXN) {
      throw new ResourceError([`cannot apply ${valid.length} resources at once: etcd takes at most ${MAX_RESOURCES_PER_TXN} writes in one transaction; split the file`]);
    }
    for (let attempt = 1; ; attempt++) {
      const { entries, revision } = await this.readResources();
      const problems = crossCheck(entries.map((e) => e.value), valid);
      if (problems.length) throw new ResourceError(problems);
      const stored = new Map(entries.map((e) => [e.key, e.value]));
      const now = new Date().toISOString();
      const results: ApplyResult[] = [];
      const puts = valid.map((r) => {
        const key = keyOf(infoOf(r.kind), r);
        const before = stored.get(key);
        results.push({ kind: r.kind, name: r.metadata.name, action: before ? 'configured' : 'created' });
        const metadata = { ...r.metadata, creationTimestamp: before?.metadata.creationTimestamp ?? now };
        return { key, value: { ...r, metadata } };
      });
      if (await this.ds.txn({ puts, unchangedSince: [{ prefix: keys.resourcePrefix, revision }] })) return results;
      if (attempt === MAX_ATTEMPTS) throw new DatastoreError(`the datastore kept changing during ${MAX_ATTEMPTS} attempts to apply; nothing was applied`);
    }
  }

  /**
   * Deletes resources by kind and name (any calicoctl spelling of the kind). Refuses, deleting
   * nothing, if one does not exist, a Node still has workload endpoints, or an IPPool still has
   * allocated blocks; the ResourceError lists every such problem.
   */
  async delete(targets: readonly ResourceRef[]): Promise<DeleteResult[]> {
    for (let attempt = 1; ; attempt++) {
      const [{ entries, revision }, blocks] = await Promise.all([this.readResources(), this.ds.list<AllocationBlock>(keys.blocks)]);
      const problems = checkDeletes(entries.map((e) => e.value), blocks.items.map((b) => b.value), targets);
      if (problems.length) throw new ResourceError(problems);
      const { refs } = resolveTargets(targets);
      if (refs.length > MAX_RESOURCES_PER_TXN) {
        throw new ResourceError([`cannot delete ${refs.length} resources at once: etcd takes at most ${MAX_RESOURCES_PER_TXN} writes in one transaction`]);
      }
      const deletes = refs.map((t) => keyOf(t.info, { metadata: { name: t.name, namespace: t.namespace } }));
      const unchangedSince = [{ prefix: keys.resourcePrefix, revision }, { prefix: keys.blocks, revision: blocks.revision }];
      if (await this.ds.txn({ deletes, unchangedSince })) return refs.map((t) => ({ kind: t.info.kind, name: t.name }));
      if (attempt === MAX_ATTEMPTS) throw new DatastoreError(`the datastore kept changing during ${MAX_ATTEMPTS} attempts to delete; nothing was deleted`);
    }
  }

  /**
   * Resources of a kind (any calicoctl spelling), sorted by name; with `name`, that one resource
   * (a ResourceError if it does not exist). Workload endpoints are looked up in `namespace`
   * (default: `default`) when named, listed across namespaces otherwise.
   */
  async get(kind: string, name?: string, namespace?: string): Promise<StoredResource[]> {
    const info = infoOf(resolveKind(kind));
    if (name !== undefined) {
      const found = await this.ds.get<StoredResource>(keyOf(info, { metadata: { name, namespace } }));
      if (!found) throw new ResourceError([`resource does not exist: ${info.kind}(${info.namespaced ? `${namespace ?? 'default'}/` : ''}${name})`]);
      return [withKind(found.value, info)];
    }
    const { items } = await this.ds.list<StoredResource>(info.prefix);
    return items.map((i) => withKind(i.value, info)).sort(byName);
  }

  /** The cluster AS (BGPConfiguration default), for formatResources' node table. */
  async defaultAsNumber(): Promise<number | undefined> {
    const found = await this.ds.get<StoredResource>(keys.bgpConfiguration('default'));
    const asn = found?.value.spec?.asNumber;
    return typeof asn === 'number' ? asn : undefined;
  }

  /** Every stored resource of a known kind, with its key, read at one revision. */
  private async readResources(): Promise<{ entries: StoredEntry[]; revision: string }> {
    const { items, revision } = await this.ds.list<StoredResource>(keys.resourcePrefix);
    const entries: StoredEntry[] = [];
    for (const item of items) {
      const info = KINDS.find((k) => item.key.startsWith(k.prefix));
      if (info && typeof item.value === 'object' && item.value !== null) entries.push({ key: item.key, value: withKind(item.value, info) });
    }
    return { entries, revision };
  }
}

/** A stored value with the kind its key says (and a metadata object to read the name from). */
function withKind(value: StoredResource, info: KindInfo): StoredResource {
  const metadata = typeof value.metadata === 'object' && value.metadata !== null ? value.metadata : { name: '' };
  return value.kind === info.kind && metadata === value.metadata ? value : { ...value, kind: info.kind, metadata };
}

function byName(a: StoredResource, b: StoredResource): number {
  return a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : (a.metadata.namespace ?? '').localeCompare(b.metadata.namespace ?? '');
}
