/**
 * The calicoctl role over the datastore: class Ctl applies, deletes and reads Calico v3 resources
 * in etcd. An apply or a delete checks everything first (parse.ts validates, cross-checks.ts
 * checks against what is stored), then writes in ONE etcd transaction: all or nothing.
 */
import { affinityFromKey, keys } from '../datastore/keys.js';
import { ETCD_MAX_TXN_OPS } from '../datastore/limits.js';
import type { Datastore } from '../datastore/store.js';
import type { LabNetwork } from '../model/address-plan.js';
import type { AllocationBlock, BlockAffinity, ResourceRef, StoredResource } from '../model/resources.js';
import { compareCidrs } from '../net/cidr.js';
import { DatastoreError } from '../util/errors.js';
import { checkDeletes, crossCheck, crossNotes, poolBlocks, resolveTargets } from './cross-checks.js';
import { infoOf, keyOf, KINDS, resolveKind, type KindInfo } from './kinds.js';
import { applyLimitProblems, MAX_RESOURCES_PER_TXN, resourceSizeProblems } from './limits.js';
import { filesOf } from './origins.js';
import { validateResources } from './parse.js';
import { ResourceError } from './resource-error.js';

export interface ApplyResult {
  kind: string;
  name: string;
  action: 'created' | 'configured';
  /** What the user is told about it, though it was taken (crossNotes). */
  note?: string;
}

export interface DeleteResult {
  kind: string;
  name: string;
  /** For an IPPool: the empty IPAM blocks released with it (CIDRs, in address order). */
  releasedBlocks?: string[];
}

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
  /** The etcd revision of this Ctl's last apply or delete: the agents have seen it once they report it. */
  lastRevision: string | undefined;

  /** `labNetworks`: the lab's fabric, IPv6 fabric and router LANs (labNetworks(plan)), which no IPPool may overlap. */
  constructor(
    private readonly ds: Datastore,
    private readonly opts: { labNetworks?: readonly LabNetwork[] } = {},
  ) {}

  /**
   * Creates or replaces the resources (spec and labels; creationTimestamp is kept). Validates all
   * of them (schema, size, then against the datastore and each other) before writing any; throws a
   * ResourceError listing every problem. Returns, in input order, what happened to each.
   */
  async apply(resources: readonly unknown[]): Promise<ApplyResult[]> {
    const valid = validateResources(resources);
    // What etcd would refuse as too large is refused here, before anything is read or sent.
    const tooLarge = resourceSizeProblems(valid);
    if (tooLarge.length) throw new ResourceError(tooLarge);
    const tooMuch = applyLimitProblems(valid);
    if (tooMuch.length) throw new ResourceError(tooMuch);
    for (let attempt = 1; ; attempt++) {
      const { entries, guards } = await this.readResources();
      const problems = crossCheck(
        entries.map((e) => e.value),
        valid,
        this.opts.labNetworks,
      );
      if (problems.length) throw new ResourceError(problems);
      const stored = new Map(entries.map((e) => [e.key, e.value]));
      const notes = crossNotes(
        entries.map((e) => e.value),
        valid,
      );
      const now = new Date().toISOString();
      const results: ApplyResult[] = [];
      const puts = valid.map((r) => {
        const key = keyOf(infoOf(r.kind), r);
        const before = stored.get(key);
        const note = notes.get(r);
        results.push({ kind: r.kind, name: r.metadata.name, action: before ? 'configured' : 'created', ...(note ? { note } : {}) });
        const metadata = { ...r.metadata, creationTimestamp: before?.metadata.creationTimestamp ?? now };
        return { key, value: { ...r, metadata } };
      });
      const written = await this.ds.txn({ puts, unchangedSince: guards });
      if (written) {
        this.lastRevision = written;
        return results;
      }
      if (attempt === MAX_ATTEMPTS) throw new DatastoreError(`the datastore kept changing during ${MAX_ATTEMPTS} attempts to apply; nothing was applied`);
    }
  }

  /**
   * Deletes resources by kind and name (any calicoctl spelling of the kind). Refuses, deleting
   * nothing, if one does not exist, a Node still has workload endpoints, or an IPPool still has
   * addresses in use; the ResourceError lists every such problem. An IPPool's empty blocks (and
   * their affinity records) are released in the same transaction, as Calico does.
   */
  async delete(targets: readonly ResourceRef[]): Promise<DeleteResult[]> {
    const { refs } = resolveTargets(targets);
    const n = (x: number) => x.toLocaleString('en-US');
    if (refs.length > MAX_RESOURCES_PER_TXN) {
      throw new ResourceError([`${filesOf(targets)}: ${n(refs.length)} resources: one delete removes at most ${n(MAX_RESOURCES_PER_TXN)} (one etcd transaction, all or nothing); split the file`]);
    }
    for (let attempt = 1; ; attempt++) {
      const [{ entries, guards }, blocks, affinities] = await Promise.all([this.readResources(), this.ds.list<AllocationBlock>(keys.blocks), this.ds.list<BlockAffinity>(keys.allAffinities)]);
      const problems = checkDeletes(
        entries.map((e) => e.value),
        blocks.items.map((b) => b.value),
        targets,
      );
      if (problems.length) throw new ResourceError(problems);
      const byKey = new Map(entries.map((e) => [e.key, e.value]));
      const deletes: string[] = [];
      const results = refs.map((t): DeleteResult => {
        const key = keyOf(t.info, { metadata: { name: t.name, namespace: t.namespace } });
        deletes.push(key);
        if (t.info.kind !== 'IPPool') return { kind: t.info.kind, name: t.name };
        // The pool's blocks are all empty (checkDeletes): release them and their affinities.
        const released = poolBlocks(
          byKey.get(key)!,
          blocks.items.map((b) => b.value),
        ).map((b) => b.cidr);
        const inPool = new Set(released);
        deletes.push(...blocks.items.filter((b) => inPool.has(b.value.cidr)).map((b) => b.key));
        deletes.push(...affinities.items.filter((a) => inPool.has(affinityFromKey(a.key)?.cidr ?? '')).map((a) => a.key));
        return { kind: t.info.kind, name: t.name, ...(released.length ? { releasedBlocks: released.sort(compareCidrs) } : {}) };
      });
      if (deletes.length > ETCD_MAX_TXN_OPS) {
        throw new ResourceError([
          `${filesOf(targets)}: this delete takes ${n(deletes.length)} writes (${n(refs.length)} resources, ${n(deletes.length - refs.length)} records of the empty IPAM blocks released with the pools): one etcd transaction holds at most ${n(ETCD_MAX_TXN_OPS)}; split the file`,
        ]);
      }
      const unchangedSince = [...guards, { prefix: keys.blocks, revision: blocks.revision }, { prefix: keys.allAffinities, revision: affinities.revision }];
      const written = await this.ds.txn({ deletes, unchangedSince });
      if (written) {
        this.lastRevision = written;
        return results;
      }
      if (attempt === MAX_ATTEMPTS) throw new DatastoreError(`the datastore kept changing during ${MAX_ATTEMPTS} attempts to delete; nothing was deleted`);
    }
  }

  /**
   * Resources of a kind (any calicoctl spelling), sorted by name; with `name`, that one resource
   * (a ResourceError if it does not exist). Namespaced kinds (workload endpoints, network
   * policies) are read in `scope.namespace` (default `default`), or in every namespace with
   * `scope.all`, as calicoctl's `-n` and `-A`; other kinds ignore the scope.
   */
  async get(kind: string, name?: string, scope: { namespace?: string; all?: boolean } = {}): Promise<StoredResource[]> {
    const info = infoOf(resolveKind(kind));
    const namespace = scope.namespace ?? info.defaultNamespace ?? 'default';
    if (name !== undefined) {
      const found = await this.ds.get<StoredResource>(keyOf(info, { metadata: { name, namespace } }));
      if (!found) throw new ResourceError([`resource does not exist: ${info.kind}(${info.namespaced ? `${namespace}/` : ''}${name})`]);
      return [withKind(found.value, info)];
    }
    // One namespace's key prefix ends in "/": "default/" is not a prefix of "default-x/".
    const { items } = await this.ds.list<StoredResource>(info.namespaced && !scope.all ? info.key('', namespace) : info.prefix);
    return items.map((i) => withKind(i.value, info)).sort(byName);
  }

  /** The cluster AS (BGPConfiguration default), for formatResources' node table. */
  async defaultAsNumber(): Promise<number | undefined> {
    const found = await this.ds.get<StoredResource>(keys.bgpConfiguration('default'));
    const asn = found?.value.spec?.asNumber;
    return typeof asn === 'number' ? asn : undefined;
  }

  /**
   * Every stored resource of a known kind, with its key: Calico's under /calico/resources, the
   * Secrets under the lab's own prefix; with the revision each prefix was read at (a write is
   * guarded by both).
   */
  private async readResources(): Promise<{ entries: StoredEntry[]; guards: { prefix: string; revision: string }[] }> {
    const prefixes = [keys.resourcePrefix, keys.secrets];
    const lists = await Promise.all(prefixes.map((p) => this.ds.list<StoredResource>(p)));
    const entries: StoredEntry[] = [];
    for (const item of lists.flatMap((l) => l.items)) {
      const info = KINDS.find((k) => item.key.startsWith(k.prefix));
      if (info && typeof item.value === 'object' && item.value !== null) entries.push({ key: item.key, value: withKind(item.value, info) });
    }
    return { entries, guards: prefixes.map((prefix, i) => ({ prefix, revision: lists[i]!.revision })) };
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
