import { describe, expect, it } from 'vitest';
import { parseTopology } from '../../src/model/topology.js';
import { resolveTopology } from '../../src/topologies/index.js';
import { TopologyError } from '../../src/util/errors.js';

/** `n` hosts with `w` workloads each (host names h0.., workloads h0-w0..). */
const hosts = (n: number, w: number) =>
  `hosts:\n${Array.from({ length: n }, (_, i) => `  - {name: h${i}, workloads: [${Array.from({ length: w }, (_, j) => `h${i}-w${j}`).join(', ')}]}`).join('\n')}\n`;
const refused = (text: string) => {
  try {
    parseTopology(text, 't.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(TopologyError);
    return (err as Error).message;
  }
  throw new Error('expected the topology to be refused');
};

describe('pools too small for the workloads are refused before anything is built', () => {
  it('more workloads than addresses: what the pool holds and what is needed', () => {
    expect(refused(`pools: [{cidr: 198.19.0.0/28, blockSize: 30}]\n${hosts(3, 6)}`)).toBe(
      't.yaml: pools: the IPv4 pool (198.19.0.0/28) holds 16 addresses; the 18 workloads need 18 IPv4 addresses, one each (a /27 pool or larger)',
    );
    expect(parseTopology(`pools: [{cidr: 198.19.0.0/28, blockSize: 30}]\n${hosts(4, 4)}`, 't.yaml').workloads).toHaveLength(16);
  });

  it('IPv6 too: every workload of a dual-stack lab takes an address of each family', () => {
    expect(refused(`pools: [{cidr: 198.19.0.0/24}, {cidr: "2001:db8:1::/124", blockSize: 124}]\n${hosts(1, 17)}`)).toBe(
      't.yaml: pools: the IPv6 pool (2001:db8:1::/124) holds 16 addresses; the 17 workloads need 17 IPv6 addresses, one each (a /123 pool or larger)',
    );
  });

  it('with strict affinity each host with workloads needs its own blocks: hosts × block size may exceed a pool the workloads fit in', () => {
    expect(refused(`pools: [{cidr: 198.19.0.0/26, blockSize: 26}]\nipam: {strictAffinity: true}\n${hosts(2, 1)}`)).toBe(
      't.yaml: pools: the IPv4 pool (198.19.0.0/26) holds 64 addresses in 1 block of /26; with ipam.strictAffinity each host takes addresses from its own blocks only, and the 2 hosts with workloads need 2 blocks (a /25 pool or larger)',
    );
    expect(refused(`pools: [{cidr: 198.19.0.0/28, blockSize: 30}]\nipam: {strictAffinity: true}\n${hosts(3, 5)}`)).toBe(
      't.yaml: pools: the IPv4 pool (198.19.0.0/28) holds 16 addresses in 4 blocks of /30; with ipam.strictAffinity each host takes addresses from its own blocks only, and the 3 hosts with workloads need 6 blocks (a /27 pool or larger)',
    );
    // Without strict affinity the second host borrows from the first one's block: it builds.
    expect(parseTopology(`pools: [{cidr: 198.19.0.0/26, blockSize: 26}]\n${hosts(2, 1)}`, 't.yaml').workloads).toHaveLength(2);
  });

  it('a host needing more blocks than maxBlocksPerHost allows: that host (Calico errs at the limit, it does not borrow)', () => {
    expect(
      refused(`pools: [{cidr: 198.19.0.0/24, blockSize: 30}]\nipam: {strictAffinity: true, maxBlocksPerHost: 2}\n${hosts(1, 2)}${hosts(1, 9).replace('hosts:\n', '').replaceAll('h0', 'x0')}`),
    ).toBe('t.yaml: hosts[1].workloads: host x0 has 9 workloads, but a host may hold at most 2 blocks (ipam.maxBlocksPerHost) of 4 IPv4 addresses (/30): 8 addresses; it needs 3 blocks');
    // Without strict affinity too, and with maxBlocksPerHost unset: Calico's default of 20.
    expect(refused(`pools: [{cidr: 198.19.0.0/24, blockSize: 31}]\nhosts: [{name: a, workloads: [${Array.from({ length: 41 }, (_, i) => `a${i}`).join(', ')}]}]\n`)).toBe(
      "t.yaml: hosts[0].workloads: host a has 41 workloads, but a host may hold at most 20 blocks (ipam.maxBlocksPerHost, Calico's default 20) of 2 IPv4 addresses (/31): 40 addresses; it needs 21 blocks",
    );
  });

  it('accepts the built-in topologies and the test fixtures (fails-midway.yaml fails only while building)', () => {
    for (const t of ['two-host', 'test/fixtures/borrowing.yaml', 'test/fixtures/two-host-tiny-blocks.yaml', 'test/fixtures/fails-midway.yaml', 'test/fixtures/mesh-bfd.yaml']) {
      expect(() => resolveTopology(t), t).not.toThrow();
    }
    expect(resolveTopology('mesh', { hosts: 200, workloads: 5 }).workloads).toHaveLength(1000);
    expect(resolveTopology('dual-stack', { hosts: 10, workloads: 10 }).workloads).toHaveLength(100);
  });
});
