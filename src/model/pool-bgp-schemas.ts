/**
 * zod schemas of the Calico v3 resources that make the network: IPPool, Node, BGPPeer and
 * BGPConfiguration, checking what calicoctl checks (the policy kinds' are in src/policy/model.ts).
 * Each is typed by its resource type in resources.ts, so schema and type cannot drift apart; on
 * the way in, defaults are filled in and addresses made canonical, as calicoctl stores them.
 */
import { z } from 'zod';
import { blockPrefixRange, DEFAULT_BLOCK_SIZE } from './block-size.js';
import { canonicalIp, familyBits, familyOf, parseCidr, type IpFamily } from '../net/cidr.js';
import { notUnicast, outsideLabRanges, poolRangeProblem } from './address-plan.js';
import { issue, metadataSchema, resourceName, resourceSchema, selectorText as selector, strict } from './resource-fields.js';
import {
  CALICO_NODE_NAMESPACE,
  LOG_SEVERITIES,
  type BGPConfigurationResource,
  type BGPFilterResource,
  type BGPPeerResource,
  type IPPool,
  type IPPoolResource,
  type NodeResource,
  type SecretResource,
} from './resources.js';
import { errorMessage } from '../util/errors.js';

// ---------------------------------------------------------------------------------------------
// Field schemas

const MAX_AS = 4294967295;
const CALICO_DEFAULT_AS = 64512;

const asNumber = z.number().int(`must be an AS number, a whole number from 1 to ${MAX_AS}`).min(1, `must be an AS number from 1 to ${MAX_AS}`).max(MAX_AS, `must be an AS number from 1 to ${MAX_AS}`);

/**
 * VXLAN: Never, Always or CrossSubnet. IP-in-IP: Never or CrossSubnet — this kernel has no ipip
 * module, so no tunl0; CrossSubnet tunnels only between nodes of different subnets (Felix's
 * nodeInOurSubnet), and a lab's nodes share one fabric subnet, so its routes are Calico's (the
 * agent reports any node outside its subnet, where Calico would tunnel).
 */
function tunnelMode(tunnel: 'IP-in-IP' | 'VXLAN') {
  const allowed = tunnel === 'VXLAN' ? ['Never', 'Always', 'CrossSubnet'] : ['Never', 'CrossSubnet'];
  return z
    .string()
    .default('Never')
    .superRefine((mode, ctx) => {
      if (allowed.includes(mode)) return;
      ctx.addIssue({
        code: 'custom',
        message:
          tunnel === 'VXLAN'
            ? `must be Never, Always or CrossSubnet, got ${JSON.stringify(mode)}`
            : mode === 'Always'
              ? `"Always" is not supported: this kernel has no IP-in-IP (ipip module), so no tunl0; Never and CrossSubnet (no tunnel between nodes of one subnet, as every lab's nodes are) are accepted`
              : `must be Never, Always or CrossSubnet, got ${JSON.stringify(mode)}`,
      });
    })
    .transform((m) => m as 'Never' | 'Always' | 'CrossSubnet');
}

/**
 * `address/prefix` of one family, as Calico writes a node's address (198.18.0.11/16); stored with
 * the address in canonical form.
 */
function addressWithPrefix(family: IpFamily) {
  const example = family === 4 ? '198.18.0.11/17' : '2001:db8:f::b/64';
  const bits = familyBits(family);
  return z
    .string()
    .superRefine((text, ctx) => {
      const m = /^([^/]+)\/(0|[1-9][0-9]{0,2})$/.exec(text);
      let why: string | undefined;
      if (!m) why = `must be an IPv${family} address with its prefix length, as Calico writes it (e.g. ${example})`;
      else if (familyOf(m[1]!) !== family) why = `${JSON.stringify(text)} is not an IPv${family} address (e.g. ${example})`;
      else if (Number(m[2]) > bits) why = `prefix length /${m[2]} is out of range for IPv${family} (0 to ${bits})`;
      else {
        try {
          canonicalIp(m[1]!);
          why = outsideLabRanges(m[1]!);
        } catch (err) {
          why = errorMessage(err);
        }
      }
      if (why) ctx.addIssue({ code: 'custom', message: why });
    })
    .transform((text) => {
      const [ip, prefix] = text.split('/');
      return `${canonicalIp(ip!)}/${prefix}`;
    });
}

/**
 * Pure: a BGPPeer peerIP split into its address and port, as confd's parseIPPort: `a.b.c.d:port`
 * or `[v6]:port` (libcalico-go's IPv4PortFormat/IPv6PortFormat); otherwise the address alone.
 * Port 179 is BGP's own and left out (as combineIPAndPort leaves it out of the datastore key).
 */
export function splitPeerIp(text: string): { ip: string; port?: number } {
  const m = /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(text) ?? /^\[([0-9a-fA-F:.]+)\]:(\d+)$/.exec(text);
  if (!m) return { ip: text };
  const port = Number(m[2]);
  return port === 179 ? { ip: m[1]! } : { ip: m[1]!, port };
}

/**
 * A BGP peer's address, with a port if the peer does not listen on 179 (`10.0.0.1:1791`,
 * `[fd00::1]:1791`; confd renders `neighbor … port N`). Stored canonical: `ip` or `ip:port`.
 */
const peerAddress = z
  .string()
  .superRefine((text, ctx) => {
    const { ip, port } = splitPeerIp(text);
    if (port !== undefined && (port < 1 || port > 65535)) {
      ctx.addIssue({ code: 'custom', message: `${JSON.stringify(text)}: the port must be from 1 to 65535` });
      return;
    }
    try {
      canonicalIp(ip);
    } catch {
      ctx.addIssue({ code: 'custom', message: `${JSON.stringify(text)} is not an IPv4 or IPv6 address (with an optional port: 10.0.0.1:1791, [fd00::1]:1791)` });
      return;
    }
    // Routers outside the cluster speak IPv4; the IPv6 sessions between nodes follow their Node ipv6Address.
    if (familyOf(ip) !== 4)
      ctx.addIssue({
        code: 'custom',
        message: `${JSON.stringify(text)}: a peerIP is an IPv4 address here (routers outside the cluster speak IPv4; the IPv6 sessions between nodes follow their Node ipv6Address)`,
      });
    else {
      const why = notUnicast(ip);
      if (why) ctx.addIssue({ code: 'custom', message: why });
    }
  })
  .transform((text) => {
    const { ip, port } = splitPeerIp(text);
    return port === undefined ? canonicalIp(ip) : `${canonicalIp(ip)}:${port}`;
  });

/** A plain IP address of either family, canonical. */
const plainAddress = z
  .string()
  .superRefine((text, ctx) => {
    try {
      canonicalIp(text);
    } catch {
      ctx.addIssue({ code: 'custom', message: `${JSON.stringify(text)} is not an IP address` });
    }
  })
  .transform((text) => canonicalIp(text));

/**
 * A Go duration as Kubernetes writes one (metav1.Duration): "120s", "2m", "1h30m", "1.5s"; kept
 * as written. goDurationSeconds reads it.
 */
const goDuration = z.string().superRefine((text, ctx) => {
  if (goDurationSeconds(text) === undefined) ctx.addIssue({ code: 'custom', message: `must be a duration such as "120s", "2m" or "1h30m" (got ${JSON.stringify(text)})` });
});

/** Pure: the seconds of a Go duration ("1h30m" → 5400), undefined if it is not one. */
export function goDurationSeconds(text: string): number | undefined {
  const unit: Record<string, number> = { ns: 1e-9, us: 1e-6, µs: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };
  if (text === '0') return 0;
  if (!/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(text)) return undefined;
  let total = 0;
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) total += Number(m[1]) * unit[m[2]!]!;
  return total;
}

const ipv4Id = z.string().superRefine((text, ctx) => {
  let ok = familyOf(text) === 4;
  try {
    canonicalIp(text);
  } catch {
    ok = false;
  }
  if (!ok) ctx.addIssue({ code: 'custom', message: `must be an IPv4-formatted id, e.g. 224.0.0.1 (got ${JSON.stringify(text)})` });
});

// ---------------------------------------------------------------------------------------------
// Spec schemas, one per kind

/** A pool's CIDR: valid, no host bits, unicast, clear of the link-local range. */
const poolCidrField = z.string().superRefine((text, ctx) => {
  try {
    const why = poolRangeProblem(parseCidr(text).cidr);
    if (why) ctx.addIssue({ code: 'custom', message: why });
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: errorMessage(err) });
  }
});

const IPPoolSpec = strict({
  cidr: poolCidrField,
  blockSize: z.number().int('must be a whole number (a prefix length)').optional(),
  ipipMode: tunnelMode('IP-in-IP').transform((m) => m as 'Never' | 'CrossSubnet'),
  vxlanMode: tunnelMode('VXLAN'),
  natOutgoing: z.boolean().default(false),
  disabled: z.boolean().optional(),
  disableBGPExport: z.boolean().optional(),
  nodeSelector: selector.default('all()'),
  allowedUses: z.array(z.enum(['Workload', 'Tunnel', 'LoadBalancer'])).optional(),
  assignmentMode: z.enum(['Automatic', 'Manual']).optional(),
})
  .superRefine((s, ctx) => {
    // Calico's validation (validateIPPool): one encapsulation per pool.
    if (s.ipipMode !== 'Never' && s.vxlanMode !== 'Never') issue(ctx, ['vxlanMode'], 'IPIPMode and VXLANMode cannot both be enabled: give one of them Never');
    if (s.ipipMode !== 'Never' && familyOf(s.cidr) === 6) issue(ctx, ['ipipMode'], 'IPIP is not supported on an IPv6 IP pool');
    // Calico's validation (IPPool allowedUses): LoadBalancer pools are for nothing else.
    const uses = s.allowedUses ?? [];
    if (new Set(uses).size !== uses.length) issue(ctx, ['allowedUses'], 'a use is given twice');
    if (uses.includes('LoadBalancer') && uses.length > 1) issue(ctx, ['allowedUses'], 'LoadBalancer cannot be combined with Workload or Tunnel');
    const family = familyOf(s.cidr);
    const { min, max } = blockPrefixRange(family);
    if (s.blockSize !== undefined && (s.blockSize < min || s.blockSize > max)) {
      issue(ctx, ['blockSize'], `must be from ${min} to ${max} for an IPv${family} pool (got ${s.blockSize})`);
      return;
    }
    const prefix = Number(s.cidr.split('/')[1]);
    const size = s.blockSize ?? DEFAULT_BLOCK_SIZE[family];
    if (size < prefix) {
      issue(
        ctx,
        s.blockSize === undefined ? ['cidr'] : ['blockSize'],
        `the pool ${s.cidr} is smaller than one /${size} block${s.blockSize === undefined ? ' (the default block size; set spec.blockSize)' : ''}: the block size must be at least the pool's prefix length (${prefix})`,
      );
    }
  })
  .transform((s): IPPool['spec'] => ({
    cidr: parseCidr(s.cidr).cidr,
    blockSize: s.blockSize ?? DEFAULT_BLOCK_SIZE[familyOf(s.cidr)],
    ipipMode: s.ipipMode,
    vxlanMode: s.vxlanMode,
    natOutgoing: s.natOutgoing,
    ...(s.disabled === undefined ? {} : { disabled: s.disabled }),
    ...(s.disableBGPExport === undefined ? {} : { disableBGPExport: s.disableBGPExport }),
    nodeSelector: s.nodeSelector,
    ...(s.allowedUses === undefined ? {} : { allowedUses: s.allowedUses }),
    ...(s.assignmentMode === undefined ? {} : { assignmentMode: s.assignmentMode }),
  }));

const NodeSpec = strict({
  bgp: strict({
    ipv4Address: addressWithPrefix(4),
    ipv6Address: addressWithPrefix(6).optional(),
    asNumber: asNumber.optional(),
    routeReflectorClusterID: ipv4Id.optional(),
  }),
});

/** Calico's BGPPassword: a key of a Secret in calico-node's namespace. */
const secretKeyRef = strict({ secretKeyRef: strict({ name: resourceName, key: z.string().regex(/^[-._a-zA-Z0-9]+$/, 'a Secret key: letters, digits, "-", "_" and "."') }) });

const BGPPeerSpec = strict({
  node: resourceName.optional(),
  nodeSelector: selector.optional(),
  peerIP: peerAddress.optional(),
  asNumber: asNumber.optional(),
  peerSelector: selector.optional(),
  numAllowedLocalASNumbers: z.number().int().min(0).max(10).optional(),
  sourceAddress: z.enum(['UseNodeIP', 'None']).optional(),
  keepOriginalNextHop: z.boolean().optional(),
  maxRestartTime: goDuration.optional(),
  ttlSecurity: z.number().int().min(0).max(255).optional(),
  password: secretKeyRef.optional(),
  filters: z.array(resourceName).optional(),
  localASNumber: asNumber.optional(),
  reachableBy: plainAddress.optional(),
}).superRefine((s, ctx) => {
  // libcalico-go validateBGPPeerSpec and the CRD's rule: a gateway toward peerIP, of its family.
  if (s.reachableBy !== undefined) {
    if (s.peerIP === undefined) issue(ctx, ['reachableBy'], 'must be empty when peerIP is empty');
    else if (familyOf(s.reachableBy) !== familyOf(splitPeerIp(s.peerIP).ip)) issue(ctx, ['reachableBy'], 'ReachableBy and PeerIP address family mismatched');
  }
  if (s.peerIP === undefined && s.peerSelector === undefined) {
    issue(ctx, [], 'one of peerIP (a router outside the cluster) or peerSelector (cluster nodes) is required');
  }
  if (s.peerIP !== undefined && s.peerSelector !== undefined) {
    issue(ctx, ['peerSelector'], 'cannot be used with spec.peerIP: a peering is either to one address or to the nodes the selector matches');
  }
  if (s.peerIP !== undefined && s.asNumber === undefined) issue(ctx, ['asNumber'], 'required with spec.peerIP');
  if (s.peerSelector !== undefined && s.asNumber !== undefined) {
    issue(ctx, ['asNumber'], "not allowed with spec.peerSelector: the peers' AS numbers come from their Node resources");
  }
  if (s.node !== undefined && s.nodeSelector !== undefined) {
    issue(ctx, ['nodeSelector'], 'cannot be used with spec.node: give at most one of them (neither means every node)');
  }
});

/** A BGP community value as Calico validates it: `a:b` (standard, 16-bit parts) or `a:b:c` (large, 32-bit parts). */
export function communityProblem(value: string): string | undefined {
  const parts = /^(\d+):(\d+)(?::(\d+))?$/
    .exec(value)
    ?.slice(1)
    .filter((p) => p !== undefined)
    .map(Number);
  if (!parts) return `${JSON.stringify(value)} is not a community: write "aa:nn" (standard) or "aa:nn:mm" (large)`;
  const max = parts.length === 2 ? 65535 : 4294967295;
  if (parts.some((p) => p > max)) return `${JSON.stringify(value)}: each part of a ${parts.length === 2 ? 'standard' : 'large'} community is at most ${max}`;
  return undefined;
}

/** A CIDR of either family, without host bits. */
const anyCidr = z.string().superRefine((text, ctx) => {
  try {
    parseCidr(text);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: errorMessage(err) });
  }
});
const serviceRanges = z.array(strict({ cidr: anyCidr })).optional();

const BGPConfigurationSpec = strict({
  logSeverityScreen: z.enum(LOG_SEVERITIES).optional(),
  nodeToNodeMeshEnabled: z.boolean().optional(),
  asNumber: asNumber.optional(),
  nodeMeshMaxRestartTime: goDuration.optional(),
  nodeMeshPassword: secretKeyRef.optional(),
  listenPort: z.number().int().min(1).max(65535).optional(),
  bindMode: z.enum(['None', 'NodeIP']).optional(),
  communities: z
    .array(
      strict({
        name: z.string().regex(/^[a-zA-Z0-9-]+$/, 'letters, digits and "-"'),
        value: z.string().superRefine((v, ctx) => {
          const problem = communityProblem(v);
          if (problem) ctx.addIssue({ code: 'custom', message: problem });
        }),
      }),
    )
    .optional(),
  prefixAdvertisements: z.array(strict({ cidr: anyCidr, communities: z.array(z.string()) })).optional(),
  serviceClusterIPs: serviceRanges,
  serviceExternalIPs: serviceRanges,
  serviceLoadBalancerIPs: serviceRanges,
  ignoredInterfaces: z.array(z.string().regex(/^[A-Za-z0-9_.@*-]{1,15}$/, 'an interface name or pattern (1-15 of A-Z a-z 0-9 _ . @ - *)')).optional(),
  // Session timers and BFD are not Calico's fields: they are the lab's (the topology file's `bgp:`).
})
  .superRefine((s, ctx) => {
    const names = new Set((s.communities ?? []).map((c) => c.name));
    for (const [i, a] of (s.prefixAdvertisements ?? []).entries()) {
      for (const [j, c] of a.communities.entries()) {
        if (!names.has(c) && communityProblem(c))
          issue(ctx, ['prefixAdvertisements', i, 'communities', j], `${JSON.stringify(c)} is neither a name in spec.communities nor a community value ("aa:nn" or "aa:nn:mm")`);
      }
    }
  })
  .prefault({});

// ---------------------------------------------------------------------------------------------
// Resource schemas

export const IPPoolSchema: z.ZodType<IPPoolResource> = resourceSchema('IPPool', false, IPPoolSpec);
export const NodeSchema: z.ZodType<NodeResource> = resourceSchema('Node', false, NodeSpec);
export const BGPPeerSchema: z.ZodType<BGPPeerResource> = resourceSchema('BGPPeer', false, BGPPeerSpec);
export const BGPConfigurationSchema: z.ZodType<BGPConfigurationResource> = resourceSchema('BGPConfiguration', false, BGPConfigurationSpec)
  .superRefine((r, ctx) => {
    const { name } = r.metadata;
    if (name !== 'default' && !name.startsWith('node.')) {
      issue(ctx, ['metadata', 'name'], 'must be "default" (the cluster\'s) or "node.<nodename>" (one node\'s)');
    } else if (name !== 'default') {
      for (const field of ['asNumber', 'nodeToNodeMeshEnabled', 'bindMode', 'serviceClusterIPs', 'serviceExternalIPs', 'serviceLoadBalancerIPs'] as const) {
        if (r.spec[field] !== undefined) issue(ctx, ['spec', field], 'only valid in the global BGPConfiguration "default", not in a per-node one');
      }
    }
  })
  .transform((r) => (r.metadata.name === 'default' ? { ...r, spec: { ...r.spec, nodeToNodeMeshEnabled: r.spec.nodeToNodeMeshEnabled ?? true, asNumber: r.spec.asNumber ?? CALICO_DEFAULT_AS } } : r));

// ---------------------------------------------------------------------------------------------
// Secret (Kubernetes v1): where BGP passwords come from

const base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64 (or give the value in stringData)');

/** A Kubernetes Secret as kubectl takes it; stored with stringData merged into data (base64), in `calico-system` unless it says. */
export const SecretSchema: z.ZodType<SecretResource> = strict({
  apiVersion: z.literal('v1'),
  kind: z.literal('Secret'),
  metadata: metadataSchema('Secret', true),
  type: z.string().optional(),
  data: z.record(z.string(), base64).optional(),
  stringData: z.record(z.string(), z.string()).optional(),
  immutable: z.boolean().optional(),
}).transform(
  (r): SecretResource => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { ...r.metadata, namespace: r.metadata.namespace ?? CALICO_NODE_NAMESPACE },
    type: r.type ?? 'Opaque',
    data: { ...r.data, ...Object.fromEntries(Object.entries(r.stringData ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])) },
  }),
);

// ---------------------------------------------------------------------------------------------
// BGPFilter (api/pkg/apis/projectcalico/v3/bgpfilter.go; cross-field rules of
// libcalico-go/lib/validator/v3/validator.go validateBGPFilterRule and of the CRD's CEL rules;
// peerType, communities, asPathPrefix, priority and operations as Calico 3.32 has them)

/** A BGP community value: `aa:nn` or `aa:nn:mm` (Calico's BGPCommunityValue). */
const communityValue = z.string().superRefine((text, ctx) => {
  const why = communityProblem(text);
  if (why) issue(ctx, [], why);
});
/** BGPFilter's priority and setPriority value: 1 to 2147483646. */
const filterPriority = z.number().int('must be a whole number').min(1, 'must be from 1 to 2147483646').max(2147483646, 'must be from 1 to 2147483646');
const filterOperation = strict({
  addCommunity: strict({ value: communityValue }).optional(),
  prependASPath: strict({ prefix: z.array(asNumber).min(1, 'give 1 to 10 AS numbers').max(10, 'give 1 to 10 AS numbers') }).optional(),
  setPriority: strict({ value: filterPriority }).optional(),
}).superRefine((o, ctx) => {
  if ([o.addCommunity, o.prependASPath, o.setPriority].filter((x) => x !== undefined).length !== 1) issue(ctx, [], 'exactly one operation must be set');
});

function filterRule(family: 4 | 6) {
  const bits = family === 4 ? 32 : 128;
  const length = z.number().int().min(0).max(bits);
  return strict({
    action: z.enum(['Accept', 'Reject']),
    matchOperator: z.enum(['Equal', 'NotEqual', 'In', 'NotIn']).optional(),
    cidr: z
      .string()
      .superRefine((text, ctx) => {
        try {
          const c = parseCidr(text);
          if (familyOf(c.cidr) !== family) issue(ctx, [], `must be an IPv${family} CIDR`);
        } catch (err) {
          issue(ctx, [], errorMessage(err));
        }
      })
      .optional(),
    prefixLength: strict({ min: length.optional(), max: length.optional() }).optional(),
    source: z.enum(['RemotePeers']).optional(),
    interface: z
      .string()
      .regex(/^[a-zA-Z0-9_.*-]{1,15}$/, 'an interface name or pattern: 1-15 of a-z, A-Z, 0-9, "_", ".", "*" and "-"')
      .optional(),
    peerType: z.enum(['eBGP', 'iBGP']).optional(),
    communities: strict({ values: z.array(communityValue).length(1, 'give exactly one community') }).optional(),
    asPathPrefix: z.array(asNumber).optional(),
    priority: filterPriority.optional(),
    operations: z.array(filterOperation).min(1, 'give 1 to 10 operations').max(10, 'give 1 to 10 operations').optional(),
  }).superRefine((r, ctx) => {
    if (r.operations?.length && r.action !== 'Accept') issue(ctx, ['operations'], 'operations may only be used with action Accept');
    if (r.cidr !== undefined && r.matchOperator === undefined) issue(ctx, ['matchOperator'], 'MatchOperator cannot be empty when CIDR is not');
    if (r.cidr === undefined && r.matchOperator !== undefined) issue(ctx, ['cidr'], 'CIDR cannot be empty when MatchOperator is not');
    if (r.cidr === undefined && r.prefixLength !== undefined) issue(ctx, ['cidr'], 'CIDR cannot be empty when PrefixLength is not');
    // BIRD's `[ cidr{min,max} ]` needs mask <= min <= max (min below the mask counts as the mask,
    // as confd clamps it): anything else makes every host's BIRD config invalid.
    if (r.cidr !== undefined && r.prefixLength) {
      const mask = Number(r.cidr.split('/')[1]);
      const min = Math.max(mask, r.prefixLength.min ?? mask);
      const max = r.prefixLength.max ?? bits;
      if (max < min)
        issue(ctx, ['prefixLength', 'max'], `must be at least ${min} (the CIDR's prefix length${r.prefixLength.min !== undefined && r.prefixLength.min > mask ? ' and prefixLength.min' : ''})`);
    }
  });
}

const BGPFilterSpecSchema = strict({
  exportV4: z.array(filterRule(4)).optional(),
  importV4: z.array(filterRule(4)).optional(),
  exportV6: z.array(filterRule(6)).optional(),
  importV6: z.array(filterRule(6)).optional(),
}).prefault({});

export const BGPFilterSchema: z.ZodType<BGPFilterResource> = resourceSchema('BGPFilter', false, BGPFilterSpecSchema);
