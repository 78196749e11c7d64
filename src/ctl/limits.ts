/**
 * How much one apply may write, checked before anything is sent (pure): etcd refuses a request
 * larger than its --max-request-bytes with a bare gRPC error, and writes nothing of it; here the
 * refusal names the file, the resource, its size and the limit.
 */
import { ETCD_MAX_REQUEST_BYTES, ETCD_MAX_TXN_OPS } from '../datastore/limits.js';
import type { Resource } from '../model/resources.js';
import { infoOf, keyOf } from './kinds.js';
import { describe, filesOf } from './origins.js';

const KIB = 1024;
const MIB = 1024 * KIB;

/**
 * The most one resource may take as stored (its key and its JSON value): below etcd's default
 * request limit (--max-request-bytes, 1.5 MiB), so a resource fits in one request of any lab's
 * etcd, with room for the rest of the request.
 */
export const MAX_RESOURCE_BYTES = 1 * MIB;

/** The most resources one apply or delete writes: one etcd transaction of the lab's etcd holds that many operations. */
export const MAX_RESOURCES_PER_TXN = ETCD_MAX_TXN_OPS;

/**
 * The most bytes (keys and values) one apply writes: the lab's etcd request limit less 1 MiB for
 * the rest of the request (framing of every operation, the compares).
 */
export const MAX_TXN_BYTES = ETCD_MAX_REQUEST_BYTES - 1 * MIB;

/** Pure: `5.0 MiB (5,242,880 bytes)`. */
export function formatBytes(n: number): string {
  const unit = n >= MIB ? `${(n / MIB).toFixed(n % MIB ? 1 : 0)} MiB` : n >= KIB ? `${(n / KIB).toFixed(n % KIB ? 1 : 0)} KiB` : `${n} bytes`;
  return n >= KIB ? `${unit} (${n.toLocaleString('en-US')} bytes)` : unit;
}

/** An ISO creation time, as apply sets it: its text always has this length. */
const SOME_TIME = new Date(0).toISOString();

/** The bytes a resource takes in etcd, as apply stores it (with a creation time): its key and its JSON value. */
export function storedBytes(r: Resource): number {
  const value = { ...r, metadata: { ...r.metadata, creationTimestamp: SOME_TIME } };
  return Buffer.byteLength(keyOf(infoOf(r.kind), r)) + Buffer.byteLength(JSON.stringify(value));
}

/**
 * Pure: a problem for each resource larger than MAX_RESOURCE_BYTES as stored, naming its largest
 * field (`spec.ingress`), its size and the limit. Empty when every resource fits.
 */
export function resourceSizeProblems(resources: readonly Resource[]): string[] {
  const problems: string[] = [];
  for (const r of resources) {
    const bytes = storedBytes(r);
    if (bytes <= MAX_RESOURCE_BYTES) continue;
    const field = largestField(r);
    problems.push(
      `${describe(r)}: ${field ? `${field.path}: ${formatBytes(field.bytes)}; ` : ''}the resource takes ${formatBytes(bytes)} as stored, more than the ${formatBytes(MAX_RESOURCE_BYTES)} one resource may take (etcd takes at most 1.5 MiB in one request): split it into smaller resources`,
    );
  }
  return problems;
}

/** The biggest field under spec and metadata (`spec.ingress`), by the size of its JSON. */
function largestField(r: Resource): { path: string; bytes: number } | undefined {
  let best: { path: string; bytes: number } | undefined;
  for (const [top, value] of [
    ['spec', 'spec' in r ? r.spec : undefined],
    ['data', 'data' in r ? r.data : undefined],
    ['metadata', r.metadata],
  ] as const) {
    if (typeof value !== 'object' || value === null) continue;
    for (const [k, v] of Object.entries(value)) {
      const bytes = Buffer.byteLength(JSON.stringify(v) ?? '');
      if (!best || bytes > best.bytes) best = { path: `${top}.${k}`, bytes };
    }
  }
  return best;
}

/**
 * Pure: why the resources, each within MAX_RESOURCE_BYTES, cannot be applied in one transaction
 * (too many, or too many bytes), naming the file; empty when they can.
 */
export function applyLimitProblems(resources: readonly Resource[]): string[] {
  const file = filesOf(resources);
  if (resources.length > MAX_RESOURCES_PER_TXN) {
    return [
      `${file}: ${resources.length.toLocaleString('en-US')} resources: one apply writes at most ${MAX_RESOURCES_PER_TXN.toLocaleString('en-US')} (one etcd transaction, all or nothing); split the file`,
    ];
  }
  const bytes = resources.reduce((n, r) => n + storedBytes(r), 0);
  if (bytes > MAX_TXN_BYTES) {
    return [
      `${file}: the ${resources.length.toLocaleString('en-US')} resources take ${formatBytes(bytes)} as stored: one apply writes at most ${formatBytes(MAX_TXN_BYTES)} (one etcd transaction, all or nothing); split the file`,
    ];
  }
  return [];
}
