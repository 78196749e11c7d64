import type { Snapshot } from '../datastore/snapshot.js';
import type { SyncChange } from '../datastore/syncer.js';
import { keys } from '../datastore/keys.js';
import { hostAffinity } from '../ipam/blocks.js';
import type { AllocationBlock, WorkloadEndpoint } from '../model/resources.js';

/** What of the whole datastore widens what a host must react to. */
export interface RelevanceContext {
  /** Some policy or profile rule selects endpoints by label or names a port: any endpoint may join a set here. */
  selectorRules: boolean;
  /**
   * A pool is in VXLAN mode (every other host's block is a route here) or IP-in-IP CrossSubnet
   * (every other host's block may be a reported problem here).
   */
  tunnels: boolean;
}

/**
 * Pure: does this change alter what `host`'s agent programs? Felix's calculation graph in one
 * question, so that an agent does work in proportion to what changed for it: another host's
 * workload changes nothing here unless a selector may pick it; another host's block only in
 * VXLAN mode; a block's allocations (which addresses are used) nobody. Everything else it watches
 * (nodes, pools, BGP settings and peers, policies, profiles, Felix settings) is relevant.
 */
export function relevantTo(host: string, change: SyncChange, ctx: RelevanceContext): boolean {
  if (change.key.startsWith(keys.workloadEndpoints)) {
    const on = (w: unknown) => (w as WorkloadEndpoint | undefined)?.spec?.node === host;
    return ctx.selectorRules || on(change.old) || on(change.value);
  }
  if (change.key.startsWith(keys.blocks)) {
    // What any host programs from a block is its CIDR and affinity (local blackholes, VXLAN
    // routes), never its allocations: a change of allocations alone concerns nobody.
    const placed = (b: unknown) => {
      const block = b as AllocationBlock | undefined;
      return block && !block.deleted ? block.affinity : undefined;
    };
    const [before, after] = [placed(change.old), placed(change.value)];
    if (before === after && change.old !== undefined && change.value !== undefined) return false;
    return ctx.tunnels || before === hostAffinity(host) || after === hostAffinity(host);
  }
  return true;
}

/** Contexts already computed, per snapshot: the agents sharing a Syncer share its snapshot too. */
const contexts = new WeakMap<Snapshot, RelevanceContext>();

/** Pure: the context, from a snapshot (computed once per snapshot, however many agents ask). */
export function relevanceContext(s: Snapshot): RelevanceContext {
  const known = contexts.get(s);
  if (known) return known;
  const ctx = computeContext(s);
  contexts.set(s, ctx);
  return ctx;
}

function computeContext(s: Snapshot): RelevanceContext {
  // A profile rule with a selector, or a named port (a set of every endpoint's ports of that name).
  const selectorRules =
    (s.networkPolicies?.length ?? 0) > 0 ||
    (s.globalNetworkPolicies?.length ?? 0) > 0 ||
    (s.profiles ?? []).some((p) => /"(not|namespace)?[sS]elector"|"(notP|p)orts":\[(?:[^\]]*,)?"[^"]*[^"\d:][^"]*"/.test(JSON.stringify(p.spec)));
  return { selectorRules, tunnels: s.pools.some((p) => p.spec.vxlanMode !== 'Never' || p.spec.ipipMode !== 'Never') };
}
