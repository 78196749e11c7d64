/**
 * The calicoctl role over the datastore: class Ctl applies, deletes and reads Calico v3 resources
 * in etcd. An apply or a delete checks everything first (parse.ts validates, cross-checks.ts
 * checks against what is stored), then writes in ONE etcd transaction: all or nothing.
 */
import { keys } from '../datastore/keys.js';
import type { Datastore } from '../datastore/store.js';
import type { AllocationBlock, ResourceRef, StoredResource } from '../model/resources.js';
import { DatastoreError } from '../util/errors.js';
import { checkDeletes, crossCheck, resolveTargets } from './cross-checks.js';
import { infoOf, keyOf, KINDS, resolveKind, type KindInfo } from './kinds.js';
import { applyLimitProblems, MAX_RESOURCES_PER_TXN, resourceSizeProblems } from './limits.js';
import { filesOf } from './origins.js';
import { validateResources } from './parse.js';
import { ResourceError } from './resource-error.js';

export interface ApplyResult {
  kind: string;
  name: string;
  action: 'created' | 'configured';
}

export interface DeleteResult {
  kind: string;
  name: string;
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
  constructor(private readonly ds: Datastore) {}

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
      const { entries, revision } = await this.readResources();
      const problems = crossCheck(
        entries.map((e) => e.value),
        valid,
      );
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
    const { refs } = resolveTargets(targets);
    if (refs.length > MAX_RESOURCES_PER_TXN) {
      throw new ResourceError([
        `${filesOf(targets)}: ${refs.length.toLocaleString('en-US')} resources: one delete removes at most ${MAX_RESOURCES_PER_TXN.toLocaleString('en-US')} (one etcd transaction, all or nothing); split the file`,
      ]);
    }
    for (let attempt = 1; ; attempt++) {
      const [{ entries, revision }, blocks] = await Promise.all([this.readResources(), this.ds.list<AllocationBlock>(keys.blocks)]);
      const problems = checkDeletes(
        entries.map((e) => e.value),
        blocks.items.map((b) => b.value),
        targets,
      );
      if (problems.length) throw new ResourceError(problems);
      const deletes = refs.map((t) => keyOf(t.info, { metadata: { name: t.name, namespace: t.namespace } }));
      const unchangedSince = [
        { prefix: keys.resourcePrefix, revision },
        { prefix: keys.blocks, revision: blocks.revision },
      ];
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
