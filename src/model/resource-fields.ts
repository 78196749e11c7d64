/**
 * zod building blocks shared by every Calico v3 resource schema (IPPool, Node, BGPPeer and
 * BGPConfiguration in pool-bgp-schemas.ts; the policy kinds in src/policy/model.ts): strict
 * objects whose unknown-field error lists the known fields, Calico fields refused by name,
 * selectors, resource names, metadata, and the apiVersion/kind/metadata/spec envelope.
 */
import { z } from 'zod';
import { errorMessage } from '../util/errors.js';
import { labelMap } from './labels.js';
import { API_VERSION } from './resources.js';
import { parseSelector } from './selector.js';

type Ctx = z.core.$RefinementCtx;
export function issue(ctx: Ctx, path: (string | number)[], message: string): void {
  ctx.addIssue({ code: 'custom', path, message });
}

/** Schemas of the Calico fields calico-sim refuses (left out of the "known fields" lists). */
const UNSUPPORTED = new WeakSet<object>();

/** A Calico field calico-sim refuses: says so, and why. */
export function unsupported(why: string) {
  const schema = z.never({ error: `not supported by calico-sim (${why})` }).optional();
  UNSUPPORTED.add(schema);
  return schema;
}

/** A strict object whose unknown-field error lists the known (and supported) fields. */
export function strict<T extends z.ZodRawShape>(shape: T) {
  const known = Object.keys(shape)
    .filter((k) => !UNSUPPORTED.has(shape[k]!))
    .join(', ');
  return z.strictObject(shape, { error: (iss) => (iss.code === 'unrecognized_keys' ? `unknown field (known fields: ${known})` : undefined) });
}

/** A Calico selector, checked by the selector parser (stored as written); the error names the column. */
export const selectorText = z.string().superRefine((text, ctx) => {
  try {
    parseSelector(text);
  } catch (err) {
    issue(ctx, [], errorMessage(err));
  }
});

/**
 * What is wrong with a port name, or undefined: Calico validates endpoint port names and the named
 * ports of rules with Kubernetes' IsValidPortName (libcalico-go validator `portName`).
 */
export function portNameProblem(name: string): string | undefined {
  if (name.length > 15) return 'must be no more than 15 characters';
  if (!/^[-a-z0-9]+$/.test(name)) return 'must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)';
  if (!/[a-z]/.test(name)) return 'must contain at least one letter (a-z)';
  if (name.includes('--')) return 'must not contain consecutive hyphens';
  if (name.startsWith('-') || name.endsWith('-')) return 'must not begin or end with a hyphen';
  return undefined;
}

const portName = z.string().superRefine((name, ctx) => {
  const problem = portNameProblem(name);
  if (problem) issue(ctx, [], `${JSON.stringify(name)} is not a port name: ${problem}`);
});

/**
 * Calico's EndpointPort (a WorkloadEndpoint's or HostEndpoint's `ports`): a name rules refer to,
 * a protocol with ports, a port (api/pkg/apis/projectcalico/v3/hostendpoint.go).
 */
export const endpointPortSchema = strict({
  name: portName,
  protocol: z.enum(['TCP', 'UDP', 'SCTP'], { error: 'EndpointPort protocol must be TCP, UDP or SCTP (a protocol with ports)' }),
  port: z.number({ error: 'expected a port number' }).int('must be a whole number').min(1, 'must be from 1 to 65535').max(65535, 'must be from 1 to 65535'),
});

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Calico's resource names: a lowercase DNS-1123 subdomain of at most 253 characters. */
export const resourceName = z
  .string()
  .max(253, 'must be at most 253 characters')
  .regex(DNS1123_SUBDOMAIN, 'must be a lowercase DNS-1123 subdomain: a-z, 0-9, "-" and ".", starting and ending with a letter or digit');

export function metadataSchema(kind: string, namespaced: boolean) {
  return strict({
    name: resourceName,
    namespace: namespaced ? resourceName.optional() : z.never({ error: `${kind} is not namespaced: leave metadata.namespace out` }).optional(),
    labels: labelMap.optional(),
    annotations: z.record(z.string(), z.string()).optional(),
    creationTimestamp: z.string().optional(),
  });
}

/** A whole resource of `kind`: apiVersion, kind, metadata (with a namespace if `namespaced`) and `spec`. */
export function resourceSchema<K extends string, S extends z.ZodType>(kind: K, namespaced: boolean, spec: S) {
  return strict({ apiVersion: z.literal(API_VERSION), kind: z.literal(kind), metadata: metadataSchema(kind, namespaced), spec });
}
