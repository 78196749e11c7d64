/**
 * Calico's policy resources (NetworkPolicy, GlobalNetworkPolicy, Tier, Profile, HostEndpoint,
 * FelixConfiguration):
 * zod schemas of their specs and of the whole resources that check what calicoctl checks, and
 * the pure helpers resolve.ts and ctl share (protocol numbers, port ranges, defaulted types,
 * policy names and order).
 *
 * Fields Calico has but calico-sim does not implement (serviceAccounts, http, ...) are refused by name ("not supported by calico-sim"), so that a policy never
 * silently means less than it says. Field paths in errors come from zod (`spec.ingress[0]...`).
 */
import { z } from 'zod';
import { canonicalIp, familyOf, parseCidr } from '../net/cidr.js';
import type {
  EntityRule,
  FelixConfigurationResource,
  GlobalNetworkPolicyResource,
  HostEndpointResource,
  IcmpFields,
  NetworkPolicyResource,
  PolicyPort,
  PolicyProtocol,
  PolicySpec,
  PolicyType,
  Profile,
  ProfileResource,
  ProtoPort,
  Rule,
  TierResource,
} from '../model/resources.js';
import { labelMap } from '../model/labels.js';
import { endpointPortSchema, issue, portNameProblem, resourceSchema, selectorText, strict, unsupported } from '../model/resource-fields.js';
import { InputError, errorMessage } from '../util/errors.js';
import type { Family, PortRange } from './ir.js';

// ---------------------------------------------------------------------------------------------
// Pure helpers

/** IANA numbers of the protocols Calico names. */
export const PROTOCOL_NUMBERS: Readonly<Record<Exclude<PolicyProtocol, number>, number>> = { TCP: 6, UDP: 17, ICMP: 1, ICMPv6: 58, SCTP: 132, UDPLite: 136 };

export function protocolNumber(p: PolicyProtocol): number {
  return typeof p === 'number' ? p : PROTOCOL_NUMBERS[p];
}

/** Ports make sense with TCP, UDP and SCTP only (Calico's SupportsPorts). */
export function supportsPorts(p: PolicyProtocol | undefined): boolean {
  return p !== undefined && [6, 17, 132].includes(protocolNumber(p));
}

/** The family an ICMP protocol belongs to (ICMP: 4, ICMPv6: 6), else undefined. */
export function icmpFamily(p: PolicyProtocol | undefined): Family | undefined {
  const n = p === undefined ? undefined : protocolNumber(p);
  return n === 1 ? 4 : n === 58 ? 6 : undefined;
}

/**
 * A named port: a port string that is neither a number nor `first:last` (Calico's
 * numorstring.PortFromString); it stands for the port of that name of each endpoint the rule
 * side's selector picks.
 */
export function isNamedPort(p: PolicyPort): p is string {
  return typeof p === 'string' && !p.includes(':') && !/^\d+$/.test(p);
}

/** A Calico port (`80`, `"80"`, `"8000:8080"`) as a range; throws an InputError saying what is wrong (a named port too: see isNamedPort). */
export function parsePort(p: PolicyPort): PortRange {
  const shown = JSON.stringify(p);
  const num = (t: string) => (/^\d{1,5}$/.test(t) ? Number(t) : NaN);
  let first: number;
  let last: number;
  if (typeof p === 'number') first = last = p;
  else {
    if (isNamedPort(p)) throw new InputError(`${shown} is a named port, not a number or range`);
    const m = /^([^:]*):([^:]*)$/.exec(p);
    [first, last] = m ? [num(m[1]!), num(m[2]!)] : [num(p), num(p)];
  }
  for (const n of [first, last]) {
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InputError(`${shown}: ports are whole numbers from 0 to 65535 (a range is "first:last")`);
  }
  if (first > last) throw new InputError(`${shown}: first port is above last`);
  return { first, last };
}

/** Why a rule's port is wrong, or undefined: a number, `"first:last"`, or a port name (Kubernetes' IsValidPortName, as Calico checks it). */
export function portProblem(p: PolicyPort): string | undefined {
  if (isNamedPort(p)) {
    const problem = portNameProblem(p);
    if (!problem) return undefined;
    const range = /^\d+-\d+$/.test(p) ? ` (a range is "${p.replace('-', ':')}")` : '';
    return `${JSON.stringify(p)} is not a port number, range or name: a named port ${problem}${range}`;
  }
  try {
    parsePort(p);
    return undefined;
  } catch (err) {
    return errorMessage(err);
  }
}

/** Calico's default types: Ingress; Egress alone if the policy has only egress rules; both if it has both. */
export function policyTypes(spec: PolicySpec): PolicyType[] {
  if (spec.types?.length) return spec.types;
  if (!spec.egress?.length) return ['Ingress'];
  return spec.ingress?.length ? ['Ingress', 'Egress'] : ['Egress'];
}

export type PolicyKind = 'NetworkPolicy' | 'GlobalNetworkPolicy';

/**
 * The key Calico sorts policies by when their orders tie: `<name>/<namespace>/<kind>` (empty
 * namespace for a GlobalNetworkPolicy), compared byte-wise — felix/calc/policy_sorter.go
 * (PolicySorter: `fmt.Sprintf("%s/%s/%s", Key.Name, Key.Namespace, Key.Kind)`).
 */
export function policySortName(kind: PolicyKind, metadata: { name: string; namespace?: string }): string {
  return `${metadata.name}/${kind === 'NetworkPolicy' ? (metadata.namespace ?? 'default') : ''}/${kind}`;
}

/** The tier every policy that names none belongs to, and its fixed order (api/pkg/apis/projectcalico/v3/tier.go DefaultTierOrder). */
export const DEFAULT_TIER = 'default';
export const DEFAULT_TIER_ORDER = 1_000_000;

/** Tier evaluation order (felix/calc/policy_sorter.go TierLess): `order` ascending, unset last, ties by name. */
export function compareTiers(a: { name: string; order?: number }, b: { name: string; order?: number }): number {
  const oa = a.order ?? Infinity;
  const ob = b.order ?? Infinity;
  if (oa !== ob) return oa < ob ? -1 : 1;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Evaluation order: `order` ascending, unset after every ordered policy, ties by sort name (byte order, as Go compares). */
export function comparePolicies(a: { order?: number; sortName: string }, b: { order?: number; sortName: string }): number {
  const oa = a.order ?? Infinity;
  const ob = b.order ?? Infinity;
  if (oa !== ob) return oa < ob ? -1 : 1;
  return a.sortName < b.sortName ? -1 : a.sortName > b.sortName ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------
// zod helpers (the shared ones, strict, unsupported and selectorText, are in src/model/resource-fields.ts)

type Ctx = z.core.$RefinementCtx;

/** A policy or rule selector: also no global(), which Calico allows only in a rule's namespaceSelector. */
const policySelector = selectorText.superRefine((text, ctx) => {
  if (/\bglobal\s*\(/.test(text)) issue(ctx, [], "global() is only valid in a rule's namespaceSelector");
});

/** A rule's namespaceSelector: a selector over namespace labels, or `global()` alone (non-namespaced endpoints). */
const ruleNamespaceSelector = selectorText.superRefine((text, ctx) => {
  if (/\bglobal\s*\(/.test(text) && text.trim() !== 'global()') issue(ctx, [], 'global() is only valid alone in a namespaceSelector');
});

/** `global()` in a rule's namespaceSelector: the side matches non-namespaced endpoints (host endpoints) only. */
export const isGlobalNamespaceSelector = (text: string | undefined) => text?.trim() === 'global()';

// ---------------------------------------------------------------------------------------------
// Rules

const protocol: z.ZodType<PolicyProtocol> = z
  .union([z.number(), z.string()], { error: 'expected a protocol: TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite or a number from 1 to 255' })
  .superRefine((p, ctx) => {
    if (typeof p === 'number' ? Number.isInteger(p) && p >= 1 && p <= 255 : Object.hasOwn(PROTOCOL_NUMBERS, p)) return;
    const hint = typeof p === 'string' ? Object.keys(PROTOCOL_NUMBERS).find((n) => n.toLowerCase() === p.toLowerCase()) : undefined;
    issue(ctx, [], `${JSON.stringify(p)} is not a protocol: use TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite or a number from 1 to 255${hint ? ` (names are case-sensitive: ${hint})` : ''}`);
  }) as z.ZodType<PolicyProtocol>;

const port: z.ZodType<PolicyPort> = z.union([z.number(), z.string()], { error: 'expected a port: a number, "first:last" or a port name' }).superRefine((p, ctx) => {
  const problem = portProblem(p);
  if (problem) issue(ctx, [], problem);
});

/** A CIDR of either family, without host bits; a bare address is refused (Calico refuses it too). */
const net = z.string().superRefine((text, ctx) => {
  if (!text.includes('/')) {
    issue(ctx, [], `${JSON.stringify(text)} is not a CIDR: write the address with its prefix length (e.g. ${text}/${familyOf(text) === 4 ? 32 : 128})`);
    return;
  }
  try {
    parseCidr(text);
  } catch (err) {
    issue(ctx, [], errorMessage(err));
  }
});

const icmpFields: z.ZodType<IcmpFields> = strict({
  type: z.number().int('must be a whole number').min(0, 'must be an ICMP type from 0 to 254').max(254, 'must be an ICMP type from 0 to 254').optional(),
  code: z.number().int('must be a whole number').min(0, 'must be an ICMP code from 0 to 255').max(255, 'must be an ICMP code from 0 to 255').optional(),
}).superRefine((f, ctx) => {
  if (f.type === undefined) issue(ctx, ['type'], f.code === undefined ? 'required (the ICMP type to match)' : 'required with code (a code is only meaningful for a type)');
});

const entityRule: z.ZodType<EntityRule> = strict({
  nets: z.array(net).optional(),
  notNets: z.array(net).optional(),
  selector: policySelector.optional(),
  notSelector: policySelector.optional(),
  ports: z.array(port).optional(),
  notPorts: z.array(port).optional(),
  namespaceSelector: ruleNamespaceSelector.optional(),
  serviceAccounts: unsupported('there are no service accounts'),
  services: unsupported('there are no Kubernetes services'),
});

const SIDES = ['source', 'destination'] as const;
const PORT_FIELDS = ['ports', 'notPorts'] as const;
const NET_FIELDS = ['nets', 'notNets'] as const;

/** Calico's checks across a rule's fields: ports need a port protocol, ICMP fields an ICMP protocol, one family. */
function checkRule(r: Rule, ctx: Ctx): void {
  for (const side of SIDES) {
    for (const f of PORT_FIELDS) {
      if (r[side]?.[f]?.length && !supportsPorts(r.protocol)) {
        issue(ctx, [side, f], `needs protocol TCP, UDP or SCTP (${r.protocol === undefined ? 'no protocol given' : `not ${r.protocol}`})`);
      }
    }
  }
  const icmp = icmpFamily(r.protocol);
  for (const f of ['icmp', 'notICMP'] as const) {
    if (r[f] && icmp === undefined) issue(ctx, [f], `needs protocol ICMP or ICMPv6 (${r.protocol === undefined ? 'no protocol given' : `not ${r.protocol}`})`);
  }
  if (icmp && r.ipVersion && r.ipVersion !== icmp) {
    issue(ctx, ['ipVersion'], `${r.ipVersion} does not match protocol ${r.protocol} (IPv${icmp}): use ${icmp === 4 ? 'ICMPv6 for IPv6' : 'ICMP for IPv4'}`);
  }
  // Every net of the rule must be of one family, the one of ipVersion or of the ICMP protocol.
  let family: Family | undefined = r.ipVersion ?? icmp;
  const why = r.ipVersion ? `ipVersion is ${r.ipVersion}` : icmp ? `protocol ${r.protocol} is IPv${icmp}` : undefined;
  let firstNet: string | undefined;
  for (const side of SIDES) {
    for (const f of NET_FIELDS) {
      (r[side]?.[f] ?? []).forEach((n, i) => {
        const fam = familyOf(n);
        if (family === undefined) [family, firstNet] = [fam, n];
        else if (fam !== family) {
          const reason = why ?? `the rule also has ${firstNet}: it mixes IPv4 and IPv6 CIDRs (write one rule per family)`;
          issue(ctx, [side, f, i], `${JSON.stringify(n)} is IPv${fam}, but ${reason}`);
        }
      });
    }
  }
}

export const ruleSchema: z.ZodType<Rule> = strict({
  action: z.enum(['Allow', 'Deny', 'Pass', 'Log']),
  ipVersion: z.union([z.literal(4), z.literal(6)], { error: 'must be 4 or 6' }).optional(),
  protocol: protocol.optional(),
  notProtocol: protocol.optional(),
  icmp: icmpFields.optional(),
  notICMP: icmpFields.optional(),
  source: entityRule.optional(),
  destination: entityRule.optional(),
  metadata: strict({ annotations: z.record(z.string(), z.string()).optional() }).optional(),
  http: unsupported('no application-layer policy'),
}).superRefine(checkRule);

// ---------------------------------------------------------------------------------------------
// Specs

/** A tier's name, as Calico's validator takes it: a DNS label (no dots), at most 63 characters. */
const tierName = z
  .string()
  .max(63, { error: 'at most 63 characters' })
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, { error: "must consist of lower case alphanumeric characters or '-', and start and end with one" });

const types = z.array(z.enum(['Ingress', 'Egress'])).superRefine((list, ctx) => {
  list.forEach((t, i) => {
    if (list.indexOf(t) !== i) issue(ctx, [i], `${t} is given twice`);
  });
});

/** NetworkPolicy or GlobalNetworkPolicy spec; on the way in, `types` gets Calico's default (as calicoctl stores it). */
function policySpecSchema(kind: PolicyKind): z.ZodType<PolicySpec> {
  const shared = {
    order: z.number().optional(),
    selector: policySelector.optional(),
    types: types.optional(),
    ingress: z.array(ruleSchema).optional(),
    egress: z.array(ruleSchema).optional(),
    serviceAccountSelector: unsupported('there are no service accounts'),
    tier: tierName.optional(),
    performanceHints: unsupported('no performance hints'),
  };
  const global = {
    namespaceSelector: policySelector.optional(),
    doNotTrack: z.boolean().optional(),
    preDNAT: z.boolean().optional(),
    applyOnForward: z.boolean().optional(),
  };
  return strict(kind === 'GlobalNetworkPolicy' ? { ...shared, ...global } : shared)
    .superRefine((s, ctx) => {
      // libcalico-go/lib/validator/v3/validator.go (validateGlobalNetworkPolicySpec).
      if (kind !== 'GlobalNetworkPolicy') return;
      const { preDNAT, doNotTrack, applyOnForward } = s as { preDNAT?: boolean; doNotTrack?: boolean; applyOnForward?: boolean };
      if (preDNAT && doNotTrack) issue(ctx, ['preDNAT'], 'PreDNAT and DoNotTrack cannot both be true, for a given PolicySpec');
      if (preDNAT && s.egress?.length) issue(ctx, ['egress'], 'PreDNAT PolicySpec cannot have any Egress rules');
      if (preDNAT && s.types?.includes('Egress')) issue(ctx, ['types'], "PreDNAT PolicySpec cannot have 'egress' Type");
      if ((preDNAT || doNotTrack) && !applyOnForward) issue(ctx, ['applyOnForward'], 'ApplyOnForward must be true if either PreDNAT or DoNotTrack is true, for a given PolicySpec');
    })
    .transform(
      (s): PolicySpec => ({
        ...(s.order === undefined ? {} : { order: s.order }),
        ...(s.selector === undefined ? {} : { selector: s.selector }),
        ...('namespaceSelector' in s && typeof s.namespaceSelector === 'string' ? { namespaceSelector: s.namespaceSelector } : {}),
        tier: s.tier ?? DEFAULT_TIER,
        types: policyTypes(s),
        ...(s.ingress === undefined ? {} : { ingress: s.ingress }),
        ...(s.egress === undefined ? {} : { egress: s.egress }),
        ...('applyOnForward' in s && s.applyOnForward === true ? { applyOnForward: true } : {}),
        ...('doNotTrack' in s && s.doNotTrack === true ? { doNotTrack: true } : {}),
        ...('preDNAT' in s && s.preDNAT === true ? { preDNAT: true } : {}),
      }),
    );
}

export const POLICY_SPEC_SCHEMAS: Readonly<Record<PolicyKind, z.ZodType<PolicySpec>>> = {
  NetworkPolicy: policySpecSchema('NetworkPolicy'),
  GlobalNetworkPolicy: policySpecSchema('GlobalNetworkPolicy'),
};

export const profileSpecSchema: z.ZodType<Profile['spec']> = strict({
  ingress: z.array(ruleSchema).optional(),
  egress: z.array(ruleSchema).optional(),
  labelsToApply: labelMap.optional(),
});

/** Calico's ProtoPort (failsafe ports). */
const protoPort: z.ZodType<ProtoPort> = strict({
  protocol: z.enum(['TCP', 'UDP', 'SCTP']),
  port: z.number().int().min(0).max(65535),
  net: net.optional(),
});

export const felixConfigurationSpecSchema = strict({
  nftablesMode: z.enum(['Enabled', 'Disabled']).optional(),
  defaultEndpointToHostAction: z.enum(['Drop', 'Accept', 'Return']).optional(),
  failsafeInboundHostPorts: z.array(protoPort).optional(),
  failsafeOutboundHostPorts: z.array(protoPort).optional(),
});

/** A Linux interface name (at most 15 characters), or `*`: every interface of the host. */
const interfaceName = z.string().regex(/^(\*|[A-Za-z0-9_.@-]{1,15})$/, { error: 'must be an interface name (1-15 of A-Z a-z 0-9 _ . @ -) or "*" (every interface)' });
const ipAddress = z.string().superRefine((text, ctx) => {
  try {
    canonicalIp(text);
  } catch {
    issue(ctx, [], `${JSON.stringify(text)} is not an IP address`);
  }
});

/** HostEndpoint spec, as Calico validates it (api/pkg/apis/projectcalico/v3/hostendpoint.go). */
export const hostEndpointSpecSchema = strict({
  node: z.string().min(1, { error: 'node must be specified' }),
  interfaceName: interfaceName.optional(),
  expectedIPs: z.array(ipAddress).optional(),
  profiles: z.array(z.string().min(1)).optional(),
  ports: z.array(endpointPortSchema).optional(),
}).superRefine((s, ctx) => {
  if (!s.interfaceName && !s.expectedIPs?.length) issue(ctx, [], 'at least one of interfaceName or expectedIPs must be specified');
});

// ---------------------------------------------------------------------------------------------
// Resources (the envelope is src/model/resource-fields.ts's; ctl validates files with these)

export const NetworkPolicySchema: z.ZodType<NetworkPolicyResource> = resourceSchema('NetworkPolicy', true, POLICY_SPEC_SCHEMAS.NetworkPolicy).transform((r) => ({
  ...r,
  metadata: { ...r.metadata, namespace: r.metadata.namespace ?? 'default' },
}));
export const GlobalNetworkPolicySchema: z.ZodType<GlobalNetworkPolicyResource> = resourceSchema('GlobalNetworkPolicy', false, POLICY_SPEC_SCHEMAS.GlobalNetworkPolicy);
/** Calico's Tier; the `default` tier is pinned to order 1,000,000 and Deny, as Calico's validation pins it. */
export const TierSchema: z.ZodType<TierResource> = resourceSchema('Tier', false, strict({ order: z.number().optional(), defaultAction: z.enum(['Deny', 'Pass']).optional() }).prefault({})).superRefine(
  (r, ctx) => {
    if (!tierName.safeParse(r.metadata.name).success) issue(ctx, ['metadata', 'name'], "a tier's name must consist of lower case alphanumeric characters or '-' (at most 63)");
    if (r.metadata.name === DEFAULT_TIER && r.spec.order !== DEFAULT_TIER_ORDER) issue(ctx, ['spec', 'order'], `default tier order must be ${DEFAULT_TIER_ORDER}`);
    if (r.metadata.name === DEFAULT_TIER && (r.spec.defaultAction ?? 'Deny') !== 'Deny') issue(ctx, ['spec', 'defaultAction'], "The 'default' tier must have default action 'Deny'");
  },
);

export const HostEndpointSchema: z.ZodType<HostEndpointResource> = resourceSchema('HostEndpoint', false, hostEndpointSpecSchema);
export const ProfileSchema: z.ZodType<ProfileResource> = resourceSchema('Profile', false, profileSpecSchema.prefault({}));
export const FelixConfigurationSchema: z.ZodType<FelixConfigurationResource> = resourceSchema('FelixConfiguration', false, felixConfigurationSpecSchema.prefault({})).superRefine((r, ctx) => {
  if (r.metadata.name !== 'default') issue(ctx, ['metadata', 'name'], 'must be "default": calico-sim has only the cluster-wide FelixConfiguration');
});
