import { readFileSync } from 'node:fs';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { cidrsOverlap, ipAt, parseCidr } from '../ipam/blocks.js';
import { TopologyError, errorMessage } from '../util/errors.js';
import { NAME_RE } from '../sim/names.js';

/**
 * The topology file: what a lab is made of. Unknown keys are errors (a typo must not be
 * silently ignored). Extend here for BGP modes, gateways and racks.
 */
const name = z.string().regex(NAME_RE, 'must be 1-32 characters of a-z, 0-9 and "-" (not at either end)');
const asNumber = z.number().int().min(1).max(4294967295);

const PoolSchema = z.strictObject({
  name: name.optional(),
  cidr: z.string(),
  blockSize: z.number().int().min(20).max(32).default(26),
});

const HostSchema = z.strictObject({
  name,
  workloads: z.array(name).default([]),
});

export const TopologySchema = z.strictObject({
  name: name.optional(),
  description: z.string().optional(),
  asNumber: asNumber.default(64512),
  fabric: z.string().default('198.18.0.0/16'),
  bgp: z.strictObject({ nodeToNodeMesh: z.boolean().default(true) }).default({ nodeToNodeMesh: true }),
  pools: z.array(PoolSchema).min(1).default([{ cidr: '198.19.0.0/16', blockSize: 26 }]),
  hosts: z.array(HostSchema).min(1, 'a lab needs at least one host'),
});

export type Topology = z.infer<typeof TopologySchema>;

export interface PoolPlan { name: string; cidr: string; blockSize: number }
export interface HostPlan { name: string; ip: string; prefixLength: number; asNumber: number }
export interface WorkloadPlan { name: string; host: string }

/** A validated topology with every address decided: what the engine builds. */
export interface LabPlan {
  source: string;
  asNumber: number;
  meshEnabled: boolean;
  fabric: { cidr: string; gatewayIp: string; prefixLength: number };
  pools: PoolPlan[];
  hosts: HostPlan[];
  workloads: WorkloadPlan[];
}

/** Fabric addresses: .1 is the fabric gateway (and etcd), hosts start at .11. */
export const FABRIC_GATEWAY_ORDINAL = 1;
export const FIRST_HOST_ORDINAL = 11;

/** Reads and validates a topology file. `source` names it in errors. */
export function loadTopologyFile(path: string): LabPlan {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new TopologyError(`${path}: cannot read topology file: ${errorMessage(err)}`);
  }
  return parseTopology(text, path);
}

export function parseTopology(text: string, source: string): LabPlan {
  let doc: unknown;
  try {
    doc = parseYaml(text, { prettyErrors: true });
  } catch (err) {
    const where = err instanceof YAMLParseError && err.linePos ? `line ${err.linePos[0].line}: ` : '';
    throw new TopologyError(`${source}: ${where}malformed YAML: ${errorMessage(err).split('\n')[0]}`);
  }
  const parsed = TopologySchema.safeParse(doc ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new TopologyError(`${source}: ${fieldPath(issue.path) || '(top level)'}: ${issue.message}`);
  }
  return plan(parsed.data, source);
}

function plan(t: Topology, source: string): LabPlan {
  const fail = (field: string, why: string): never => {
    throw new TopologyError(`${source}: ${field}: ${why}`);
  };
  const fabric = checkCidr(t.fabric, 'fabric', fail);
  const seen = new Map<string, string>();
  const claim = (n: string, field: string) => {
    const prev = seen.get(n);
    if (prev) fail(field, `duplicate name "${n}" (already used at ${prev}); host and workload names must be unique in a lab`);
    seen.set(n, field);
  };
  t.hosts.forEach((h, i) => {
    claim(h.name, `hosts[${i}].name`);
    h.workloads.forEach((w, j) => claim(w, `hosts[${i}].workloads[${j}]`));
  });
  const pools = t.pools.map((p, i): PoolPlan => {
    const cidr = checkCidr(p.cidr, `pools[${i}].cidr`, fail);
    if (cidrsOverlap(cidr, fabric)) {
      fail(`pools[${i}].cidr`, `pool ${cidr} overlaps the fabric (host) network ${fabric}: workload routes would shadow host addresses`);
    }
    const prefix = Number(cidr.split('/')[1]);
    if (p.blockSize < prefix) fail(`pools[${i}].blockSize`, `block size /${p.blockSize} is larger than the pool ${cidr}`);
    t.pools.slice(0, i).forEach((q, k) => {
      if (cidrsOverlap(cidr, q.cidr)) fail(`pools[${i}].cidr`, `pool ${cidr} overlaps pools[${k}] (${q.cidr})`);
    });
    return { name: p.name ?? (i === 0 ? 'default-ipv4-ippool' : `pool-${i}`), cidr, blockSize: p.blockSize };
  });
  const fabricPrefix = Number(fabric.split('/')[1]);
  const capacity = 2 ** (32 - fabricPrefix) - FIRST_HOST_ORDINAL - 1;
  if (t.hosts.length > capacity) fail('hosts', `${t.hosts.length} hosts do not fit in the fabric ${fabric} (room for ${capacity})`);
  return {
    source,
    asNumber: t.asNumber,
    meshEnabled: t.bgp.nodeToNodeMesh,
    fabric: { cidr: fabric, gatewayIp: ipAt(fabric, FABRIC_GATEWAY_ORDINAL), prefixLength: fabricPrefix },
    pools,
    hosts: t.hosts.map((h, i) => ({ name: h.name, ip: ipAt(fabric, FIRST_HOST_ORDINAL + i), prefixLength: fabricPrefix, asNumber: t.asNumber })),
    workloads: t.hosts.flatMap((h) => h.workloads.map((w) => ({ name: w, host: h.name }))),
  };
}

function checkCidr(cidr: string, field: string, fail: (f: string, why: string) => never): string {
  try {
    return parseCidr(cidr).cidr;
  } catch (err) {
    return fail(field, errorMessage(err));
  }
}

function fieldPath(path: PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('');
}
