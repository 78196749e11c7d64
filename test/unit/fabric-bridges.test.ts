import { describe, expect, it } from 'vitest';
import { attachPortLines, MAX_FABRIC_NODES, NODE_PORTS_PER_BRIDGE, nodePortsPerBridge } from '../../src/sim/backends/fabric-bridges.js';

const ports = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `fp${i + from}`);
const masters = (lines: string[]) => lines.filter((l) => /^link set fp\d+ master /.test(l)).map((l) => l.split(' ')[4]!);

describe('fabric bridges: a Linux bridge takes 1,024 ports, so large labs get leaf bridges under br0', () => {
  it('a lab that fits on br0 gets no leaf: the lines are the ones a single bridge always had', () => {
    expect(attachPortLines(new Map([['br0', 0]]), ['fpa', 'fpb'])).toEqual(['link set fpa master br0', 'link set fpa up', 'link set fpb master br0', 'link set fpb up']);
  });

  it('past the ports of br0, a leaf bridge is made once, joined to br0 by a veth pair, and filled', () => {
    const lines = attachPortLines(new Map([['br0', NODE_PORTS_PER_BRIDGE - 1]]), ports(3));
    expect(masters(lines)).toEqual(['br0', 'br1', 'br1']);
    expect(lines.filter((l) => l === 'link add br1 type bridge')).toHaveLength(1);
    expect(lines).toContain('link add br1-up type veth peer name br1-sp');
    expect(lines).toContain('link set br1-sp master br0');
    expect(lines).toContain('link set br1-up master br1');
    // The leaf exists (and is joined) before the first port goes on it.
    expect(lines.indexOf('link set br1-sp master br0')).toBeLessThan(lines.indexOf('link set fp1 master br1'));
  });

  it('2,500 hosts at once: three bridges, none above its share', () => {
    const m = masters(attachPortLines(new Map(), ports(2500)));
    const per: Record<string, number> = {};
    for (const b of m) per[b] = (per[b] ?? 0) + 1;
    expect(per).toEqual({ br0: 1000, br1: 1000, br2: 500 });
  });

  it('counts node ports from the kernel, not the bridges or their uplinks, and reuses a leaf with room', () => {
    const links = [
      { ifname: 'br0' },
      { ifname: 'br1' },
      { ifname: 'br1-sp', master: 'br0' },
      { ifname: 'br1-up', master: 'br1' },
      { ifname: 'fp1', master: 'br0' },
      { ifname: 'fp2', master: 'br1' },
      { ifname: 'lo' },
    ];
    const count = nodePortsPerBridge(links);
    expect(Object.fromEntries(count)).toEqual({ br0: 1, br1: 1 });
    // br0 full: the new port goes on the existing br1, which is not made again.
    const lines = attachPortLines(
      new Map([
        ['br0', NODE_PORTS_PER_BRIDGE],
        ['br1', 1],
      ]),
      ['fp9'],
    );
    expect(lines).toEqual(['link set fp9 master br1', 'link set fp9 up']);
  });

  it('more than the fabric holds is refused, not half-planned', () => {
    expect(() => attachPortLines(new Map(), ports(MAX_FABRIC_NODES + 1))).toThrow(`at most ${MAX_FABRIC_NODES} hosts`);
  });
});
