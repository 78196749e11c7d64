/**
 * `ipam check` (after `calicoctl ipam check`): compares the IPAM records with the workload
 * endpoints and nodes that use them, and lists every inconsistency. Pure: no I/O.
 */
import { keys } from '../datastore/keys.js';
import type { AllocationBlock } from '../model/resources.js';
import { errorMessage } from '../util/errors.js';
import { hostOfAffinity } from './blocks.js';
import { canonicalIp, cidrContains, compareCidrs, compareIps, ipAt, parseCidr, type Cidr } from '../net/cidr.js';

/** The kinds of problem, in the order they are reported. */
export const IPAM_PROBLEM_KINDS = [
  /** A block record that contradicts itself (slot count, free list) or has an invalid CIDR. */
  'inconsistent-block',
  /** An allocation whose attribute index points outside the block's attributes. */
  'bad-attribute-index',
  /** A block with affinity to a host that is not a node. */
  'unknown-affinity-host',
  /** A block with affinity to a host that has no affinity record for it. */
  'block-without-affinity',
  /** An affinity record whose block does not exist. */
  'affinity-without-block',
  /** An affinity record for a block whose affinity is another host (or none). */
  'affinity-mismatch',
  /** An endpoint address that is not an IP address. */
  'invalid-address',
  /** An address used by two or more endpoints. */
  'double-use',
  /** An endpoint address that no block has allocated. */
  'unallocated-address',
  /** An endpoint on one node using an address assigned on another (`secondary.node`). */
  'node-mismatch',
  /** An allocated address that no endpoint uses. */
  'leaked-address',
  /** A handle record counting more addresses in a block than the block has with that handle (none: a leaked handle). */
  'leaked-handle',
  /** Addresses allocated with a handle that its record does not count (or that has no record). */
  'missing-handle',
] as const;

export type IpamProblemKind = (typeof IPAM_PROBLEM_KINDS)[number];

export interface IpamProblem {
  kind: IpamProblemKind;
  /** One line that names the address, block, host or endpoint concerned. */
  detail: string;
}

/** A workload endpoint as the check sees it. `ips` may carry a prefix (`198.19.0.5/32`). */
export interface CheckEndpoint {
  name: string;
  node: string;
  ips: string[];
}

export interface IpamCheckInput {
  blocks: AllocationBlock[];
  /** Affinity records, from their keys: /calico/ipam/v2/host/<host>/ipv4/block/<cidr>. */
  affinities: { host: string; cidr: string }[];
  endpoints: CheckEndpoint[];
  nodes: string[];
  /** Handle records (/calico/ipam/v2/handle/<id>): addresses per block. Absent: not checked. */
  handles?: { id: string; block: Record<string, number> }[];
}

interface Allocated {
  block: string;
  handleId: string | undefined;
  node: string | undefined;
}

/**
 * Every inconsistency between blocks, affinity records, endpoints and nodes, grouped by kind (in
 * the order of IPAM_PROBLEM_KINDS), then by block or address order. Empty when all is well.
 */
export function checkIpam(input: IpamCheckInput): IpamProblem[] {
  const problems: IpamProblem[] = [];
  const add = (kind: IpamProblemKind, detail: string) => problems.push({ kind, detail });
  const nodes = new Set(input.nodes);

  // Affinity records, by canonical block CIDR.
  const records = new Map<string, string[]>();
  for (const a of input.affinities) {
    let cidr: string;
    try {
      cidr = parseCidr(a.cidr).cidr;
    } catch (err) {
      add('affinity-without-block', `affinity record of host ${a.host} names "${a.cidr}", which is not a block CIDR (${errorMessage(err)})`);
      continue;
    }
    records.set(cidr, [...(records.get(cidr) ?? []), a.host]);
  }

  // Blocks: their own consistency, their affinity, and what they have allocated.
  const blocks = new Map<string, { block: AllocationBlock; cidr: Cidr }>();
  for (const block of input.blocks) {
    let cidr: Cidr;
    try {
      cidr = parseCidr(block.cidr);
    } catch (err) {
      add('inconsistent-block', `block "${block.cidr}" has an invalid CIDR: ${errorMessage(err)}`);
      continue;
    }
    if (blocks.has(cidr.cidr)) add('inconsistent-block', `block ${cidr.cidr} is recorded twice`);
    else blocks.set(cidr.cidr, { block, cidr });
  }
  const allocated = new Map<string, Allocated>();
  for (const { block, cidr } of [...blocks.values()].sort((x, y) => compareCidrs(x.cidr.cidr, y.cidr.cidr))) {
    checkBlockRecord(block, cidr, add);
    const host = hostOfAffinity(block.affinity);
    const hosts = records.get(cidr.cidr) ?? [];
    if (host !== undefined && !nodes.has(host)) {
      add('unknown-affinity-host', `block ${cidr.cidr} has affinity to host ${host}, which is not a node`);
    }
    if (host !== undefined && !hosts.includes(host)) {
      add('block-without-affinity', `block ${cidr.cidr} has affinity to host ${host} but no affinity record (${keys.affinity(host, cidr.cidr)})`);
    }
    for (const other of hosts.filter((h) => h !== host)) {
      add('affinity-mismatch', `affinity record of host ${other} for block ${cidr.cidr} does not match the block, whose affinity is ${block.affinity ?? 'none'}`);
    }
    const size = Number(1n << BigInt(cidr.bits - cidr.prefix));
    block.allocations.slice(0, size).forEach((index, ordinal) => {
      if (index === null || index === undefined) return;
      const ip = ipAt(cidr.cidr, ordinal);
      const attr = Number.isInteger(index) && index >= 0 ? block.attributes[index] : undefined;
      if (!attr) {
        add('bad-attribute-index', `${ip} (block ${cidr.cidr}, ordinal ${ordinal}) refers to attribute ${index}, but the block has ${block.attributes.length} attribute(s)`);
      }
      allocated.set(ip, { block: cidr.cidr, handleId: attr?.handle_id, node: attr?.secondary?.node });
    });
  }
  for (const [cidr, hosts] of records) {
    if (blocks.has(cidr)) continue;
    for (const host of hosts) add('affinity-without-block', `affinity record of host ${host} for block ${cidr} has no block (${keys.block(cidr)})`);
  }

  // Endpoint addresses: each used once, allocated, and on the node it was assigned on.
  const usedBy = new Map<string, CheckEndpoint[]>();
  for (const ep of input.endpoints) {
    for (const raw of ep.ips) {
      let ip: string;
      try {
        ip = canonicalIp(raw.includes('/') ? raw.slice(0, raw.indexOf('/')) : raw);
      } catch {
        add('invalid-address', `endpoint ${describe(ep)} has an invalid address "${raw}"`);
        continue;
      }
      const users = usedBy.get(ip) ?? [];
      if (!users.includes(ep)) usedBy.set(ip, [...users, ep]);
    }
  }
  for (const [ip, users] of [...usedBy].sort(([a], [b]) => compareIps(a, b))) {
    if (users.length > 1) add('double-use', `${ip} is used by ${users.length} endpoints: ${users.map(describe).join(', ')}`);
    const alloc = allocated.get(ip);
    for (const ep of users) {
      if (!alloc) {
        const holder = [...blocks.keys()].find((cidr) => cidrContains(cidr, ip));
        const why = holder ? `block ${holder} has it free` : 'no IPAM block holds it';
        add('unallocated-address', `endpoint ${describe(ep)} uses ${ip}, which is not allocated (${why})`);
      } else if (alloc.node !== undefined && alloc.node !== ep.node) {
        add('node-mismatch', `endpoint ${describe(ep)} uses ${ip}, which was assigned on node ${alloc.node} (block ${alloc.block}, handle ${alloc.handleId ?? 'unknown'})`);
      }
    }
  }
  for (const [ip, alloc] of [...allocated].sort(([a], [b]) => compareIps(a, b))) {
    if (usedBy.has(ip)) continue;
    add('leaked-address', `${ip} is allocated in block ${alloc.block} (handle ${alloc.handleId ?? 'unknown'}, node ${alloc.node ?? 'unknown'}) but no workload endpoint uses it`);
  }

  // Handle records against the blocks' allocations (Calico releases a workload's addresses through its handle).
  if (input.handles) {
    const actual = new Map<string, Map<string, number>>();
    for (const a of allocated.values()) {
      if (a.handleId === undefined) continue;
      const perBlock = actual.get(a.handleId) ?? new Map<string, number>();
      perBlock.set(a.block, (perBlock.get(a.block) ?? 0) + 1);
      actual.set(a.handleId, perBlock);
    }
    const recorded = new Map(input.handles.map((h) => [h.id, h.block]));
    for (const id of [...new Set([...recorded.keys(), ...actual.keys()])].sort()) {
      const want = recorded.get(id) ?? {};
      const have = actual.get(id) ?? new Map<string, number>();
      for (const cidr of [...new Set([...Object.keys(want), ...have.keys()])].sort(compareCidrs)) {
        const r = want[cidr] ?? 0;
        const n = have.get(cidr) ?? 0;
        if (r > n) add('leaked-handle', `handle ${id} records ${r} address(es) in block ${cidr}, which has ${n} with that handle (${keys.handle(id)})`);
        if (n > r)
          add('missing-handle', `block ${cidr} has ${n} address(es) of handle ${id}, which its record ${recorded.has(id) ? `counts as ${r}` : 'does not exist to count'} (${keys.handle(id)})`);
      }
    }
  }

  const rank = (k: IpamProblemKind) => IPAM_PROBLEM_KINDS.indexOf(k);
  return problems.sort((a, b) => rank(a.kind) - rank(b.kind));
}

/** `name (node n)`. */
function describe(ep: CheckEndpoint): string {
  return `${ep.name} (node ${ep.node})`;
}

/** Reports a block whose slot count or free list contradicts its CIDR or its allocations. */
function checkBlockRecord(block: AllocationBlock, cidr: Cidr, add: (kind: IpamProblemKind, detail: string) => void): void {
  const size = Number(1n << BigInt(cidr.bits - cidr.prefix));
  const wrong: string[] = [];
  if (block.allocations.length !== size) wrong.push(`${block.allocations.length} allocation slots for ${size} addresses`);
  const free = new Set<number>();
  const bad: number[] = [];
  for (const ordinal of block.unallocated) {
    if (!Number.isInteger(ordinal) || ordinal < 0 || ordinal >= size || free.has(ordinal) || (block.allocations[ordinal] ?? null) !== null) bad.push(ordinal);
    else free.add(ordinal);
  }
  if (bad.length > 0) wrong.push(`free list holds ordinal(s) ${list(bad)} that are allocated, repeated or out of range`);
  const lost: number[] = [];
  for (let ordinal = 0; ordinal < Math.min(size, block.allocations.length); ordinal++) {
    if ((block.allocations[ordinal] ?? null) === null && !free.has(ordinal)) lost.push(ordinal);
  }
  if (lost.length > 0) wrong.push(`free ordinal(s) ${list(lost)} missing from the free list`);
  if (wrong.length > 0) add('inconsistent-block', `block ${cidr.cidr}: ${wrong.join('; ')}`);
}

/** The first few numbers of a list, for a detail line. */
function list(ns: number[]): string {
  return ns.length <= 5 ? ns.join(', ') : `${ns.slice(0, 5).join(', ')} and ${ns.length - 5} more`;
}
