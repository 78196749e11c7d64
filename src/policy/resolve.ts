/**
 * From the datastore snapshot to what one host enforces (HostPolicyIR, see ir.ts): which policy
 * and profile chains apply to each local endpoint, in order, and every selector and net list
 * resolved to address sets. Pure and canonical: the same snapshot always gives the same IR.
 *
 * Calico semantics kept here:
 * - An endpoint's labels: its profiles' labelsToApply (the first profile wins a clash), then its
 *   own labels over those, then the implicit projectcalico.org/namespace and /orchestrator.
 * - A NetworkPolicy selects endpoints of its own namespace only; a side of one of its rules that
 *   has a selector or a notSelector matches only endpoints of that namespace (Calico ANDs
 *   `projectcalico.org/namespace == '<ns>'` into it). GlobalNetworkPolicy and Profile selectors
 *   match every namespace. A side with neither matches any address, in the cluster or not.
 * - Policies apply by tier (Tier order, unset last, ties by name; a tier with no policy for the
 *   endpoint is skipped), and in a tier by `order`, unset last, ties by `<name>/<namespace>/<kind>`
 *   (felix/calc/policy_sorter.go), compared byte-wise.
 * - Host endpoints (this host's, by interface) get the policies of the global kinds whose selector
 *   matches their labels, then their profiles; every selector also matches host endpoints by
 *   their expectedIPs (a `selector: all()` GlobalNetworkPolicy applies to host endpoints too).
 * - A rule becomes one RuleIR per family it can match (ipVersion, its nets, ICMP vs ICMPv6).
 * - A named port in a rule's ports/notPorts is a named-port set: the `<address>,<protocol>:<port>`
 *   of each endpoint (workload or host) the side's positive selector picks, or of every endpoint
 *   when the side has none (felix/calc/rule_scanner.go).
 */
import { createHash } from 'node:crypto';
import { errorMessage } from '../util/errors.js';
import type { z } from 'zod';
import type { Snapshot } from '../datastore/snapshot.js';
import { canonicalIp, compareCidrs, familyOf, parseCidr } from '../net/cidr.js';
import {
  API_VERSION,
  type CalicoNode,
  type EndpointPort,
  type EntityRule,
  type FelixConfiguration,
  type GlobalNetworkPolicy,
  type HostEndpoint,
  type NetworkPolicy,
  type Profile,
  type ProtoPort,
  type Rule,
  type Tier,
  type WorkloadEndpoint,
} from '../model/resources.js';
import { parseSelector, type Labels, type Selector } from '../model/selector.js';
import {
  ALL_INTERFACES,
  FAILSAFE_DEFAULTS,
  type ChainIR,
  type DirectionIR,
  type EndpointIR,
  type FailsafeIR,
  type Family,
  type HostEndpointIR,
  type HostPolicyIR,
  type MatchIR,
  type RuleIR,
  type SetIR,
  type TierIR,
} from './ir.js';
import {
  comparePolicies,
  compareTiers,
  DEFAULT_TIER,
  DEFAULT_TIER_ORDER,
  icmpFamily,
  isNamedPort,
  parsePort,
  POLICY_SPEC_SCHEMAS,
  policySortName,
  PROTOCOL_NUMBERS,
  isGlobalNamespaceSelector,
  profileSpecSchema,
  protocolNumber,
  type PolicyKind,
} from './model.js';

export type PolicySnapshot = Pick<Snapshot, 'workloadEndpoints' | 'networkPolicies' | 'globalNetworkPolicies' | 'profiles' | 'tiers' | 'hostEndpoints' | 'felixConfiguration'> &
  Partial<Pick<Snapshot, 'nodes'>>;

/** A host's own interface in a lab (its uplink to the fabric): where its node addresses are. */
export const HOST_UPLINK = 'eth0';

export const NAMESPACE_LABEL = 'projectcalico.org/namespace';
export const ORCHESTRATOR_LABEL = 'projectcalico.org/orchestrator';

type Direction = 'ingress' | 'egress';
const DIRECTIONS: readonly Direction[] = ['ingress', 'egress'];
const FAMILIES: readonly Family[] = [4, 6];

/** A policy or profile: where its rules come from. `namespace` only for a NetworkPolicy. */
interface Owner {
  kind: PolicyKind | 'Profile';
  namespace?: string;
  name: string;
  ingress: Rule[];
  egress: Rule[];
}

interface Policy extends Owner {
  kind: PolicyKind;
  tier: string;
  sortName: string;
  order?: number;
  selector: Selector;
  /** GlobalNetworkPolicy namespaceSelector: only endpoints of the namespaces it selects. */
  nsSelector?: Selector;
  types: string[];
  /** Also applies to traffic forwarded through the host endpoints it selects. */
  applyOnForward: boolean;
  /** Untracked (raw table) or pre-DNAT (mangle table) host endpoint policy: in those chains only. */
  stage: 'normal' | 'untracked' | 'preDnat';
}

/** What selectors see of an endpoint, workload or host: a host endpoint has no namespace. */
interface Endpoint {
  namespace?: string;
  labels: Labels;
  /** Its namespace's labels (namespaceSelector sees these); none for a host endpoint. */
  nsLabels?: Labels;
  /** Host CIDRs (/32, /128) per family. */
  addresses: Record<Family, string[]>;
  profiles: string[];
  /** Its named ports (WorkloadEndpoint or HostEndpoint `spec.ports`). */
  ports: readonly EndpointPort[];
}

/** A short stable token of [0-9a-f]: what set and chain ids are made of. */
export function shortHash(meaning: string): string {
  return createHash('sha256').update(meaning).digest('hex').slice(0, 12);
}

/** The labels policy selectors see on an endpoint (see the module comment for precedence). */
export function endpointLabels(wep: WorkloadEndpoint, profiles: ReadonlyMap<string, Profile>): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const name of [...(wep.spec.profiles ?? [])].reverse()) Object.assign(labels, profiles.get(name)?.spec.labelsToApply);
  Object.assign(labels, wep.metadata.labels);
  labels[NAMESPACE_LABEL] = wep.metadata.namespace ?? 'default';
  labels[ORCHESTRATOR_LABEL] = 'cni';
  return labels;
}

/** By endpoint record: an agent's syncer keeps a record's object until it changes, and a pass reads every endpoint's. */
const addressMemo = new WeakMap<object, Record<Family, string[]>>();

/** A workload's addresses (ipNetworks) or a host endpoint's (expectedIPs), as host CIDRs per family. */
function hostAddresses(record: object, ips: readonly string[]): Record<Family, string[]> {
  const known = addressMemo.get(record);
  if (known) return known;
  const out: Record<Family, string[]> = { 4: [], 6: [] };
  for (const n of ips) {
    try {
      const ip = canonicalIp(n.split('/')[0]!);
      const f = familyOf(ip);
      out[f].push(`${ip}/${f === 4 ? 32 : 128}`);
    } catch {
      // A malformed address matches nothing.
    }
  }
  addressMemo.set(record, out);
  return out;
}

/** `spec.ingress[0].protocol: ...` — the first problem of a stored record that fails validation. */
function firstIssue(err: z.ZodError): string {
  const iss = err.issues[0]!;
  return `${iss.path.reduce<string>((s, p) => (typeof p === 'number' ? `${s}[${p}]` : `${s}.${String(p)}`), 'spec')}: ${iss.message}`;
}

/**
 * Which endpoints a rule side's selector may match: every one (undefined), those of one namespace
 * (a NetworkPolicy's own), those of the namespaces a namespaceSelector picks, or the
 * non-namespaced ones (`namespaceSelector: global()`: host endpoints).
 */
type SideScope = undefined | string | { namespaces: string } | { global: true };

type SetUse =
  | { kind: 'nets'; family: Family; nets: string[] }
  | { kind: 'selector'; family: Family; text: string; scope: SideScope }
  | { kind: 'namedPort'; family: Family; port: NamedPortKey; text: string; not: string | undefined; scope: SideScope };

/** A named port of a rule: its name and the protocol of the rule. */
interface NamedPortKey {
  name: string;
  protocol: 'tcp' | 'udp' | 'sctp';
}

/**
 * The protocol a named port is looked up with (felix/labelindex/ipsetmember: TCP unless the rule's
 * protocol is UDP or SCTP, by name or number).
 */
function namedPortProtocol(p: Rule['protocol']): NamedPortKey['protocol'] {
  const n = p === undefined ? undefined : protocolNumber(p);
  return n === 17 ? 'udp' : n === 132 ? 'sctp' : 'tcp';
}

/** Which endpoints a side scope takes, and how a set's key and comment name it. */
function scopeOf(scope: SideScope): { key: string; shown: string; inScope: (ep: Endpoint) => boolean } {
  if (scope === undefined) return { key: '*', shown: '', inScope: () => true };
  if (typeof scope === 'string') return { key: scope, shown: ` (ns ${scope})`, inScope: (ep) => ep.namespace === scope };
  if ('global' in scope) return { key: 'global()', shown: ' (non-namespaced)', inScope: (ep) => ep.namespace === undefined };
  // The key of a namespace scope is its name (a name never contains a space or parentheses).
  const nsSel = parseSelector(scope.namespaces);
  const text = nsSel.toString();
  return { key: `namespaces ${text}`, shown: ` (namespaces ${text})`, inScope: (ep) => ep.nsLabels !== undefined && nsSel.matches(ep.nsLabels) };
}

/** A namespace's labels as namespaceSelector sees them: Calico's profile kns.<ns> applies them to its endpoints as `pcns.<key>`, and every namespace has its name. */
export function namespaceLabels(namespace: string, endpointLabels: Labels): Labels {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(endpointLabels)) if (k.startsWith(NS_LABEL_PREFIX)) out[k.slice(NS_LABEL_PREFIX.length)] = v;
  out['projectcalico.org/name'] = namespace;
  return out;
}

/** The prefix under which a namespace's labels reach its endpoints (Calico's `pcns.`). */
export const NS_LABEL_PREFIX = 'pcns.';

/** Rule IR by the validated rule array it came from, and the namespace scope. */
const ruleCache = new WeakMap<Rule[], Map<string, { rules: RuleIR[]; uses: SetUse[] }>>();

/** Canonical CIDR text, memoized: a policy of thousands of nets is resolved on every pass. */
const cidrMemo = new Map<string, string>();
function canonicalCidr(n: string): string {
  let c = cidrMemo.get(n);
  if (c === undefined) {
    if (cidrMemo.size > 100_000) cidrMemo.clear();
    c = parseCidr(n).cidr;
    cidrMemo.set(n, c);
  }
  return c;
}

/**
 * Builds sets and chains on demand, so that only what local endpoints use is emitted, and each
 * set (one per meaning) and chain (one per owner and direction) exactly once.
 */
class Builder {
  readonly sets = new Map<string, SetIR>();
  readonly chains = new Map<string, ChainIR>();
  /** The sets the chain being built uses, so that a cached chain can declare them again. */
  private recording: SetUse[] | undefined;

  constructor(private readonly endpoints: readonly Endpoint[]) {}

  chain(owner: Owner, direction: Direction): string {
    const id = shortHash(`chain|${owner.kind}|${owner.namespace ?? ''}|${owner.name}|${direction}`);
    if (!this.chains.has(id)) {
      const scope = owner.kind === 'NetworkPolicy' ? owner.namespace : undefined;
      this.chains.set(id, {
        id,
        kind: owner.kind === 'Profile' ? 'profile' : 'policy',
        direction,
        name: `${owner.kind} ${owner.namespace ? `${owner.namespace}/` : ''}${owner.name}`,
        rules: this.rules(owner[direction], scope),
      });
    }
    return id;
  }

  /**
   * A rule list's IR. An unchanged policy keeps its validated rule array from pass to pass
   * (see `validated`), so its IR is reused: only the sets it uses are declared again (their
   * members follow the endpoints of this pass).
   */
  private rules(list: Rule[], scope: string | undefined): RuleIR[] {
    const byScope = ruleCache.get(list) ?? new Map<string, { rules: RuleIR[]; uses: SetUse[] }>();
    ruleCache.set(list, byScope);
    const hit = byScope.get(scope ?? '');
    if (hit) {
      for (const u of hit.uses) {
        if (u.kind === 'nets') this.netsSet(u.family, u.nets);
        else if (u.kind === 'selector') this.selectorSet(u.family, u.text, u.scope);
        else this.namedPortSet(u.family, u.port, u.text, u.not, u.scope);
      }
      return hit.rules;
    }
    this.recording = [];
    const rules = list.flatMap((r) => FAMILIES.flatMap((f) => this.rule(r, f, scope) ?? []));
    byScope.set(scope ?? '', { rules, uses: this.recording });
    this.recording = undefined;
    return rules;
  }

  /** The rule for one family, or undefined if it cannot match any packet of that family. */
  private rule(r: Rule, family: Family, scope: string | undefined): RuleIR | undefined {
    if (r.ipVersion !== undefined && r.ipVersion !== family) return undefined;
    const icmp = icmpFamily(r.protocol);
    if (icmp !== undefined && icmp !== family) return undefined;
    const src = this.match(r.source, family, scope, r.protocol);
    const dst = this.match(r.destination, family, scope, r.protocol);
    if (!src || !dst) return undefined;
    return {
      family,
      action: r.action.toLowerCase() as RuleIR['action'],
      ...(r.protocol === undefined ? {} : { protocol: protocolNumber(r.protocol) }),
      ...(r.notProtocol === undefined ? {} : { notProtocol: protocolNumber(r.notProtocol) }),
      src,
      dst,
      ...(r.icmp?.type === undefined ? {} : { icmp: { type: r.icmp.type, ...(r.icmp.code === undefined ? {} : { code: r.icmp.code }) } }),
      ...(r.notICMP?.type === undefined ? {} : { notIcmp: { type: r.notICMP.type, ...(r.notICMP.code === undefined ? {} : { code: r.notICMP.code }) } }),
    };
  }

  private match(e: EntityRule | undefined, family: Family, scope: string | undefined, protocol: Rule['protocol']): MatchIR | undefined {
    const sets: string[] = [];
    const notSets: string[] = [];
    let net: string | undefined;
    if (e?.nets?.length) {
      const mine = e.nets.filter((n) => familyOf(n) === family);
      if (!mine.length) return undefined; // only nets of the other family: no match in this one
      const canonical = [...new Set(mine.map(canonicalCidr))];
      if (canonical.length === 1) net = canonical[0];
      else sets.push(this.netsSet(family, mine));
    }
    const notNets = (e?.notNets ?? []).filter((n) => familyOf(n) === family);
    // As Felix: a rule whose notNets are all of the other family has no version in this one
    // (else `notNets: [10.0.0.0/8]` would allow, or deny, every IPv6 packet).
    if (e?.notNets?.length && !notNets.length) return undefined;
    if (notNets.length) notSets.push(this.netsSet(family, notNets));
    const selector = e?.selector?.trim() ? e.selector : undefined;
    const notSelector = e?.notSelector?.trim() ? e.notSelector : undefined;
    // A namespaceSelector replaces the policy's namespace as the scope of both selectors.
    const nsSel = e?.namespaceSelector?.trim() ? e.namespaceSelector : undefined;
    const side: SideScope = nsSel === undefined ? scope : isGlobalNamespaceSelector(nsSel) ? { global: true } : { namespaces: nsSel };
    // A scoped side with only a notSelector (or nothing but the namespaceSelector) still matches only in its scope.
    const positive = selector !== undefined || (side !== undefined && (notSelector !== undefined || nsSel !== undefined));
    const ports = (e?.ports ?? []).filter((p) => !isNamedPort(p)).map(parsePort);
    const notPorts = (e?.notPorts ?? []).filter((p) => !isNamedPort(p)).map(parsePort);
    // Named ports (felix/calc/rule_scanner.go, namedPortsToIPSets): a set per name of the
    // addresses and ports of the endpoints the side's positive selector picks (its notSelector
    // folded in), or of every endpoint when it has none. With named ports only, that set stands
    // for the selector's set too, which is left out (as Felix does).
    const named = (e?.ports ?? []).filter(isNamedPort);
    const notNamed = (e?.notPorts ?? []).filter(isNamedPort);
    const namedSet = (name: string) =>
      this.namedPortSet(family, { name, protocol: namedPortProtocol(protocol) }, positive ? (selector ?? 'all()') : 'all()', positive ? notSelector : undefined, positive ? side : undefined);
    const namedPorts = [...new Set(named.map(namedSet))].sort();
    const notNamedPorts = [...new Set(notNamed.map(namedSet))].sort();
    if (positive && (ports.length > 0 || !named.length)) sets.push(this.selectorSet(family, selector ?? 'all()', side));
    if (notSelector !== undefined) notSets.push(this.selectorSet(family, notSelector, side));
    return {
      ...(net ? { net } : {}),
      sets: sets.sort(),
      notSets: notSets.sort(),
      ports,
      notPorts,
      ...(namedPorts.length ? { namedPorts } : {}),
      ...(notNamedPorts.length ? { notNamedPorts } : {}),
    };
  }

  private netsSet(family: Family, nets: string[]): string {
    this.recording?.push({ kind: 'nets', family, nets });
    const members = [...new Set(nets.map(canonicalCidr))].sort(compareCidrs);
    return this.set(`v${family}|nets|${members.join(',')}`, family, `nets ${members.join(', ')}`, () => members);
  }

  private selectorSet(family: Family, text: string, scope: SideScope): string {
    this.recording?.push({ kind: 'selector', family, text, scope });
    const sel = parseSelector(text);
    const canonical = sel.toString();
    const { key, shown, inScope } = scopeOf(scope);
    return this.set(`v${family}|selector|${canonical}|${key}`, family, `selector ${canonical}${shown}`, () => {
      const found = this.endpoints.filter((ep) => inScope(ep) && sel.matches(ep.labels)).flatMap((ep) => ep.addresses[family]);
      return [...new Set(found)].sort(compareCidrs);
    });
  }

  /**
   * A named-port set (felix/labelindex/named_port_index.go): for each endpoint in scope that the
   * selector picks and the notSelector does not, each address of the family with each of its
   * ports of that name and protocol, as `<address>,<protocol>:<port>`.
   */
  private namedPortSet(family: Family, port: NamedPortKey, text: string, notText: string | undefined, scope: SideScope): string {
    this.recording?.push({ kind: 'namedPort', family, port, text, not: notText, scope });
    const sel = parseSelector(text);
    const not = notText === undefined ? undefined : parseSelector(notText);
    const canonical = `${sel.toString()}${not ? ` && !(${not.toString()})` : ''}`;
    const { key, shown, inScope } = scopeOf(scope);
    const what = `${port.protocol}:${port.name}`;
    return this.set(
      `v${family}|namedport|${what}|${canonical}|${key}`,
      family,
      `named port ${what} of selector ${canonical}${shown}`,
      () => {
        const found: Array<[cidr: string, port: number]> = [];
        for (const ep of this.endpoints) {
          if (!inScope(ep) || !sel.matches(ep.labels) || not?.matches(ep.labels)) continue;
          for (const p of ep.ports) if (p.name === port.name && p.protocol.toLowerCase() === port.protocol) for (const a of ep.addresses[family]) found.push([a, p.port]);
        }
        found.sort(([a, x], [b, y]) => compareCidrs(a, b) || x - y);
        return [...new Set(found.map(([a, p]) => `${a.slice(0, a.indexOf('/'))},${port.protocol}:${p}`))];
      },
      port,
    );
  }

  /** The id of the set with this meaning, creating it (members computed once) if new. */
  private set(meaning: string, family: Family, source: string, members: () => string[], namedPort?: NamedPortKey): string {
    const id = shortHash(`set|${meaning}`);
    if (!this.sets.has(id)) this.sets.set(id, { id, family, members: members(), source, ...(namedPort ? { namedPort: { ...namedPort } } : {}) });
    return id;
  }
}

/**
 * Validation results by policy text. An agent resolves on every datastore change, and validating
 * a 5,000-rule policy takes ~100 ms; an unchanged policy is not validated again. Only the
 * entries of the latest pass are kept.
 */
let validCache = new Map<string, ReturnType<(typeof POLICY_SPEC_SCHEMAS)[PolicyKind]['safeParse']>>();
let seenThisPass = new Map<string, ReturnType<(typeof POLICY_SPEC_SCHEMAS)[PolicyKind]['safeParse']>>();

function validated(kind: PolicyKind, spec: unknown): ReturnType<(typeof POLICY_SPEC_SCHEMAS)[PolicyKind]['safeParse']> {
  const key = `${kind}\0${JSON.stringify(spec)}`;
  const r = validCache.get(key) ?? POLICY_SPEC_SCHEMAS[kind].safeParse(spec);
  seenThisPass.set(key, r);
  return r;
}

/** What one host enforces. Stored policies or profiles that fail validation are skipped and reported to `warn`. */
export function resolvePolicy(snap: PolicySnapshot, host: string, warn: (problem: string) => void = () => {}): HostPolicyIR {
  const profiles = new Map<string, Profile>();
  for (const p of snap.profiles ?? []) {
    const spec = profileSpecSchema.safeParse(p.spec ?? {});
    if (spec.success) profiles.set(p.metadata.name, { ...p, spec: spec.data });
    else warn(`Profile ${p.metadata.name}: ignored: ${firstIssue(spec.error)}`);
  }

  // Calico always has the `default` tier (order 1,000,000, Deny), with or without its record.
  const tiers = new Map<string, Tier>((snap.tiers ?? []).map((t) => [t.metadata.name, t]));
  if (!tiers.has(DEFAULT_TIER)) tiers.set(DEFAULT_TIER, { apiVersion: API_VERSION, kind: 'Tier', metadata: { name: DEFAULT_TIER }, spec: { order: DEFAULT_TIER_ORDER, defaultAction: 'Deny' } });
  const policies: Policy[] = [];
  const stored: [PolicyKind, NetworkPolicy | GlobalNetworkPolicy][] = [
    ...(snap.networkPolicies ?? []).map((p): [PolicyKind, NetworkPolicy] => ['NetworkPolicy', p]),
    ...(snap.globalNetworkPolicies ?? []).map((p): [PolicyKind, GlobalNetworkPolicy] => ['GlobalNetworkPolicy', p]),
  ];
  for (const [kind, p] of stored) {
    const namespace = kind === 'NetworkPolicy' ? (p.metadata.namespace ?? 'default') : undefined;
    const sortName = policySortName(kind, p.metadata);
    const shown = `${kind} ${namespace ? `${namespace}/` : ''}${p.metadata.name}`;
    const spec = validated(kind, p.spec ?? {});
    if (!spec.success) {
      warn(`${shown}: ignored: ${firstIssue(spec.error)}`);
      continue;
    }
    const { order, selector, namespaceSelector, types, ingress, egress, tier, applyOnForward, doNotTrack, preDNAT } = spec.data;
    const t = tier ?? DEFAULT_TIER;
    if (!tiers.has(t)) warn(`${shown}: its tier "${t}" does not exist: applied after every tier that does, with defaultAction Deny (as Felix orders an unknown tier)`);
    policies.push({
      kind,
      namespace,
      name: p.metadata.name,
      tier: t,
      sortName,
      order,
      selector: parseSelector(selector ?? ''),
      ...(namespaceSelector ? { nsSelector: parseSelector(namespaceSelector) } : {}),
      types: types ?? [],
      ingress: ingress ?? [],
      egress: egress ?? [],
      applyOnForward: applyOnForward === true,
      stage: doNotTrack ? 'untracked' : preDNAT ? 'preDnat' : 'normal',
    });
  }
  policies.sort(comparePolicies);
  // Tier order (felix/calc/policy_sorter.go TierLess): tiers that exist first, by order (unset
  // last), then by name; a tier named by policies but with no record after them all.
  const tierOrder = [...new Set([...tiers.keys(), ...policies.map((p) => p.tier)])].sort((a, b) => {
    const [ta, tb] = [tiers.get(a), tiers.get(b)];
    if (!ta !== !tb) return ta ? -1 : 1;
    return compareTiers({ name: a, order: ta?.spec.order }, { name: b, order: tb?.spec.order });
  });
  [validCache, seenThisPass] = [seenThisPass, new Map()];

  const workloads = snap.workloadEndpoints.map((wep) => {
    const namespace = wep.metadata.namespace ?? 'default';
    const labels = endpointLabels(wep, profiles);
    return {
      wep,
      namespace,
      labels,
      nsLabels: namespaceLabels(namespace, labels),
      addresses: hostAddresses(wep, wep.spec.ipNetworks ?? []),
      profiles: wep.spec.profiles ?? [],
      ports: wep.spec.ports ?? [],
    };
  });
  // Host endpoints: selectors of global policies and profiles see them (by their expectedIPs).
  const heps = (snap.hostEndpoints ?? []).map((hep) => ({
    hep,
    labels: hostEndpointLabels(hep, profiles),
    addresses: hostAddresses(hep, hep.spec.expectedIPs ?? []),
    profiles: hep.spec.profiles ?? [],
    ports: hep.spec.ports ?? [],
  }));
  const b = new Builder([...workloads, ...heps]);

  // The tiers of the policies that apply to an endpoint in one direction, as Felix splits them
  // (felix/calc/event_sequencer.go): untracked (doNotTrack) and pre-DNAT policies in tiers of
  // their own, which pass what they do not decide; the others normal, and the applyOnForward ones
  // among them forward tiers too.
  type Stage = 'normal' | 'forward' | 'untracked' | 'preDnat';
  const applying = (ep: Endpoint, dir: Direction, kind: Stage): Policy[] => {
    const type = dir === 'ingress' ? 'Ingress' : 'Egress';
    // A NetworkPolicy selects workloads of its namespace only, a GlobalNetworkPolicy's
    // namespaceSelector those of the namespaces it picks; a host endpoint has no namespace.
    return policies.filter(
      (p) =>
        p.types.includes(type) &&
        p.stage === (kind === 'forward' ? 'normal' : kind) &&
        (kind !== 'forward' || p.applyOnForward) &&
        (p.namespace === undefined || p.namespace === ep.namespace) &&
        (!p.nsSelector || (ep.nsLabels !== undefined && p.nsSelector.matches(ep.nsLabels))) &&
        p.selector.matches(ep.labels),
    );
  };
  const tiersOf = (ep: Endpoint, dir: Direction, kind: Stage = 'normal'): TierIR[] => {
    const applies = applying(ep, dir, kind);
    return tierOrder.flatMap((name): TierIR[] => {
      const mine = applies.filter((p) => p.tier === name);
      // Felix's tierprocessor: any defaultAction but Pass is Deny.
      const pass = kind === 'untracked' || kind === 'preDnat' || tiers.get(name)?.spec.defaultAction === 'Pass';
      return mine.length ? [{ name, policies: mine.map((p) => b.chain(p, dir)), defaultAction: pass ? 'pass' : 'deny' }] : [];
    });
  };
  const direction = (ep: Endpoint, dir: Direction): DirectionIR => {
    const names = [...new Set(ep.profiles)].filter((n) => profiles.has(n));
    return {
      tiers: tiersOf(ep, dir),
      profiles: names.map((n) => {
        const spec = profiles.get(n)!.spec;
        return b.chain({ kind: 'Profile', name: n, ingress: spec.ingress ?? [], egress: spec.egress ?? [] }, dir);
      }),
    };
  };

  const local: EndpointIR[] = workloads
    .filter((ep) => ep.wep.spec.node === host)
    .sort((x, y) => (x.wep.spec.interfaceName < y.wep.spec.interfaceName ? -1 : x.wep.spec.interfaceName > y.wep.spec.interfaceName ? 1 : 0))
    .map((ep) => {
      const [ingress, egress] = DIRECTIONS.map((d) => direction(ep, d)) as [DirectionIR, DirectionIR];
      return { iface: ep.wep.spec.interfaceName, name: `${ep.namespace}/${ep.wep.spec.workload}`, ingress, egress };
    });

  const hostEndpoints: HostEndpointIR[] = [];
  for (const [iface, ep] of localHostEndpoints(heps, host, snap.nodes ?? [], warn)) {
    const [ingress, egress] = DIRECTIONS.map((d) => direction(ep, d)) as [DirectionIR, DirectionIR];
    const forward = { ingress: tiersOf(ep, 'ingress', 'forward'), egress: tiersOf(ep, 'egress', 'forward') };
    const preDnat = tiersOf(ep, 'ingress', 'preDnat');
    // felix/dataplane/linux/endpoint_mgr.go: "DoNotTrack policy is not supported for a HEP with `interfaceName: *`; ignoring it"
    // (asked without building its chains, which nothing would use).
    const noUntracked = iface === ALL_INTERFACES;
    if (noUntracked && DIRECTIONS.some((d) => applying(ep, d, 'untracked').length))
      warn(`HostEndpoint ${ep.hep.metadata.name}: doNotTrack policy is not supported for a host endpoint with interfaceName "*": ignored`);
    const untracked = noUntracked ? { ingress: [], egress: [] } : { ingress: tiersOf(ep, 'ingress', 'untracked'), egress: tiersOf(ep, 'egress', 'untracked') };
    const hasUntracked = untracked.ingress.length + untracked.egress.length > 0;
    hostEndpoints.push({
      iface,
      name: ep.hep.metadata.name,
      ingress,
      egress,
      ...(forward.ingress.length || forward.egress.length ? { forward } : {}),
      ...(preDnat.length ? { preDnat } : {}),
      ...(hasUntracked ? { untracked } : {}),
    });
  }

  const byId = <T extends { id: string }>(m: Map<string, T>) => [...m.values()].sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
  return { sets: byId(b.sets), chains: byId(b.chains), endpoints: local, hostEndpoints, ...felixHostSettings(snap.felixConfiguration, warn) };
}

/** The labels policy selectors see on a host endpoint: its profiles' labelsToApply, then its own. */
export function hostEndpointLabels(hep: HostEndpoint, profiles: ReadonlyMap<string, Profile>): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const name of [...(hep.spec.profiles ?? [])].reverse()) Object.assign(labels, profiles.get(name)?.spec.labelsToApply);
  return Object.assign(labels, hep.metadata.labels);
}

/**
 * This host's host endpoints by the interface each protects (felix/dataplane/linux/endpoint_mgr.go):
 * `interfaceName` names it (`*`: ALL_INTERFACES); with none, the interface that holds one of its
 * expectedIPs — in a lab, the host's uplink holds the node's addresses. Two for one interface:
 * the first by name wins, as Felix takes the lowest endpoint id.
 */
function localHostEndpoints<E extends { hep: HostEndpoint }>(heps: readonly E[], host: string, nodes: readonly CalicoNode[], warn: (problem: string) => void): Map<string, E> {
  const node = nodes.find((n) => n.metadata.name === host);
  const nodeIps = [node?.spec.bgp?.ipv4Address, node?.spec.bgp?.ipv6Address].flatMap((a) => (a ? [canonicalIp(a.split('/')[0]!)] : []));
  const out = new Map<string, E>();
  for (const ep of [...heps].filter((e) => e.hep.spec.node === host).sort((x, y) => (x.hep.metadata.name < y.hep.metadata.name ? -1 : 1))) {
    const { interfaceName, expectedIPs = [] } = ep.hep.spec;
    let iface = interfaceName === '*' ? ALL_INTERFACES : interfaceName;
    if (!iface) {
      const held = expectedIPs.some((ip) => {
        try {
          return nodeIps.includes(canonicalIp(ip));
        } catch {
          return false;
        }
      });
      if (!held) {
        warn(`HostEndpoint ${ep.hep.metadata.name}: no interface of ${host} holds any of its expectedIPs (${expectedIPs.join(', ')}): not applied`);
        continue;
      }
      iface = HOST_UPLINK;
    }
    if (out.has(iface)) {
      warn(`HostEndpoint ${ep.hep.metadata.name}: interface ${interfaceName ?? iface} of ${host} already has HostEndpoint ${out.get(iface)!.hep.metadata.name}: not applied`);
      continue;
    }
    out.set(iface, ep);
  }
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Failsafe ports and DefaultEndpointToHostAction from the FelixConfiguration, with Felix's defaults. */
function felixHostSettings(fc: FelixConfiguration | undefined, warn: (problem: string) => void): Required<Pick<HostPolicyIR, 'failsafe' | 'endpointToHost'>> {
  const rules = (field: 'failsafeInboundHostPorts' | 'failsafeOutboundHostPorts', fallback: FailsafeIR[]): FailsafeIR[] => {
    const list: ProtoPort[] | undefined = fc?.spec[field];
    if (!list) return fallback;
    return list.flatMap((p, i) => {
      try {
        return [{ protocol: PROTOCOL_NUMBERS[p.protocol], port: p.port, ...(p.net ? { net: canonicalCidr(p.net) } : {}) }];
      } catch (err) {
        warn(`FelixConfiguration default: spec.${field}[${i}] ignored: ${errorMessage(err)}`);
        return [];
      }
    });
  };
  return {
    failsafe: { inbound: rules('failsafeInboundHostPorts', FAILSAFE_DEFAULTS.inbound), outbound: rules('failsafeOutboundHostPorts', FAILSAFE_DEFAULTS.outbound) },
    endpointToHost: fc?.spec.defaultEndpointToHostAction === 'Accept' ? 'accept' : fc?.spec.defaultEndpointToHostAction === 'Return' ? 'return' : 'drop',
  };
}
