import { describe, expect, it } from 'vitest';
import { checkCapture, type FlowExpectation } from '../../src/verify/flows.js';
import { readPcap, type Encapsulation, type L4Info, type Packet } from '../../src/verify/pcap.js';
import { eth, icmpEcho, ipv4Packet, pcap, udp as udpBytes, vxlan } from '../helpers/pcap-writer.js';

// Two hosts on one fabric link, one workload each (dual stack on w1), and the MACs of the
// hosts' fabric interfaces.
const H1 = { name: 'host1', mac: '02:00:00:00:00:01', ip: '198.18.200.1', ips: ['2001:db8:ff::1'] };
const H2 = { name: 'host2', mac: '02:00:00:00:00:02', ip: '198.18.200.2' };
const W1 = { name: 'w1', ip: '198.18.200.65', ips: ['2001:db8:ff::65'], host: 'host1' };
const W2 = { name: 'w2', ip: '198.18.200.129', ips: ['2001:db8:ff::129'], host: 'host2' };
const EXP: FlowExpectation = { workloads: [W1, W2], hosts: [H1, H2] };

let n = 0;
function pkt(src: string, dst: string, l4: L4Info, o: { smac?: string; dmac?: string; encap?: Encapsulation; noMacs?: boolean } = {}): Packet {
  n++;
  const v6 = src.includes(':');
  const proto = { tcp: 6, udp: 17, icmp: 1, icmpv6: 58, other: 0 }[l4.protocol];
  return {
    index: n,
    timestampUs: n * 1000,
    length: 100,
    capturedLength: 100,
    ...(o.noMacs ? {} : { src_mac: o.smac ?? H1.mac, dst_mac: o.dmac ?? H2.mac }),
    ethertype: v6 ? 0x86dd : 0x0800,
    ip: { version: v6 ? 6 : 4, src, dst, protocol: o.encap?.kind === 'ipip' ? 4 : proto, ttl: 63 },
    l4,
    ...(o.encap ? { encapsulation: o.encap } : {}),
  };
}
const tcp = (srcPort: number, dstPort: number): L4Info => ({ protocol: 'tcp', srcPort, dstPort });
const udp = (srcPort: number, dstPort: number): L4Info => ({ protocol: 'udp', srcPort, dstPort });
const echo = (type: number, id: number): L4Info => ({ protocol: 'icmp', icmpType: type, icmpCode: 0, icmpId: id });

/** A clean conversation: w1 pings w2 and opens TCP to it; the replies come back on host2's side. */
function cleanCapture(): Packet[] {
  n = 0;
  return [
    pkt(W1.ip, W2.ip, echo(8, 77)),
    pkt(W2.ip, W1.ip, echo(0, 77), { smac: H2.mac, dmac: H1.mac }),
    pkt(W1.ip, W2.ip, tcp(40000, 7777)),
    pkt(W2.ip, W1.ip, tcp(7777, 40000), { smac: H2.mac, dmac: H1.mac }),
    pkt(W1.ip, W2.ip, tcp(40000, 7777)),
    pkt(H1.ip, H2.ip, tcp(179, 50000)), // BGP between hosts: not workload traffic, not inspected
    pkt('2001:db8:ff::65', '2001:db8:ff::129', { protocol: 'icmpv6', icmpType: 128, icmpId: 5 }),
  ];
}

describe('checkCapture', () => {
  it('clean routed workload flows pass, grouped by addresses, protocol and ports', () => {
    const r = checkCapture(cleanCapture(), {
      ...EXP,
      expectedFlows: [
        { from: W1.ip, to: W2.ip, protocol: 'icmp' },
        { from: 'w2', to: 'w1', protocol: 'tcp' },
      ],
    });
    expect(r.violations).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.packetsInspected).toBe(6);
    expect(r.flows.map((f) => [f.key, f.packets, f.ok])).toEqual([
      ['icmp 198.18.200.65 > 198.18.200.129 id 77', 1, true],
      ['icmp 198.18.200.129 > 198.18.200.65 id 77', 1, true],
      ['tcp 198.18.200.65:40000 > 198.18.200.129:7777', 2, true],
      ['tcp 198.18.200.129:7777 > 198.18.200.65:40000', 1, true],
      ['icmpv6 2001:db8:ff::65 > 2001:db8:ff::129 id 5', 1, true],
    ]);
    expect(r.flows[2]!.sample.index).toBe(3);
    expect(r.notes).toEqual([]);
  });

  it('VXLAN between the hosts is a violation naming the kind, both address pairs and the packet', () => {
    const ps = cleanCapture();
    const inner = { version: 4 as const, src: W1.ip, dst: W2.ip, protocol: 1, ttl: 64, l4: echo(8, 9) };
    ps.push(pkt(H1.ip, H2.ip, udp(51000, 4789), { encap: { kind: 'vxlan', vni: 4096, inner } }));
    ps.push(pkt(H1.ip, H2.ip, udp(51000, 4789), { encap: { kind: 'vxlan', vni: 4096, inner } }));
    const r = checkCapture(ps, EXP);
    expect(r.ok).toBe(false);
    expect(r.packetsInspected).toBe(8);
    expect(r.violations).toEqual([
      'encapsulated (vxlan vni 4096): outer 198.18.200.1 > 198.18.200.2, inner 198.18.200.65 > 198.18.200.129 icmp — flow udp 198.18.200.1:51000 > 198.18.200.2:4789 [vxlan vni 4096: icmp 198.18.200.65 > 198.18.200.129 id 9], 2 of 2 packet(s), first #8',
    ]);
    const bad = r.flows.filter((f) => !f.ok);
    expect(bad).toHaveLength(1);
    expect(bad[0]!.problems).toEqual(['encapsulated (vxlan vni 4096): outer 198.18.200.1 > 198.18.200.2, inner 198.18.200.65 > 198.18.200.129 icmp']);
  });

  it('IP-in-IP is a violation, and an expected flow seen only inside it is "never as plain IP"', () => {
    n = 0;
    const inner = { version: 4 as const, src: W1.ip, dst: W2.ip, protocol: 6, ttl: 63, l4: tcp(40000, 7777) };
    const ps = [pkt(H1.ip, H2.ip, { protocol: 'other' }, { encap: { kind: 'ipip', inner } })];
    const r = checkCapture(ps, { ...EXP, expectedFlows: [{ from: 'w1', to: 'w2', protocol: 'tcp' }] });
    expect(r.ok).toBe(false);
    expect(r.violations).toEqual([
      'encapsulated (ipip): outer 198.18.200.1 > 198.18.200.2, inner 198.18.200.65 > 198.18.200.129 tcp — flow proto 4 198.18.200.1 > 198.18.200.2 [ipip: tcp 198.18.200.65:40000 > 198.18.200.129:7777], 1 of 1 packet(s), first #1',
      'expected flow 198.18.200.65 (workload w1 on host1) > 198.18.200.129 (workload w2 on host2) (tcp) seen only inside ipip encapsulation (first #1), never as plain IP',
    ]);
  });

  it("a NAT'd source (host1's address towards w2) fails both the NAT check and the expected flow", () => {
    n = 0;
    const ps = [
      pkt(H1.ip, W2.ip, tcp(61000, 7777)), // w1's connection, masqueraded to host1's address
      pkt(W2.ip, H1.ip, tcp(7777, 61000), { smac: H2.mac, dmac: H1.mac }),
    ];
    const r = checkCapture(ps, { ...EXP, expectedFlows: [{ from: W1.ip, to: W2.ip, protocol: 'tcp' }] });
    expect(r.ok).toBe(false);
    expect(r.violations).toEqual([
      "NAT suspected: 198.18.200.1 (host1's host address) > 198.18.200.129 (workload w2 on host2): only workload-to-workload traffic was expected, so the source must be a workload's own address, not a host's — flow tcp 198.18.200.1:61000 > 198.18.200.129:7777, 1 of 1 packet(s), first #1",
      "NAT suspected: 198.18.200.129 (workload w2 on host2) > 198.18.200.1 (host1's host address): only workload-to-workload traffic was expected, so the destination must be a workload's own address, not a host's — flow tcp 198.18.200.129:7777 > 198.18.200.1:61000, 1 of 1 packet(s), first #2",
      "expected flow 198.18.200.65 (workload w1 on host1) > 198.18.200.129 (workload w2 on host2) (tcp) not observed: packets to 198.18.200.129 came from 198.18.200.1 (host1's host address) instead (NAT?)",
    ]);
  });

  it('host-to-workload traffic is not NAT unless the expectation says only workloads talk', () => {
    n = 0;
    const ps = [pkt(H1.ip, W2.ip, echo(8, 1))];
    expect(checkCapture(ps, EXP).ok).toBe(true);
    expect(checkCapture(ps, { ...EXP, onlyWorkloadTraffic: true }).violations[0]).toMatch(/^NAT suspected: 198\.18\.200\.1 \(host1's host address\) > 198\.18\.200\.129/);
    // An expected flow from outside the workloads turns the default off.
    expect(checkCapture(ps, { ...EXP, expectedFlows: [{ from: H1.ip, to: W2.ip }] }).ok).toBe(true);
    // A host talking to its own workload is not NAT, but is still not workload traffic.
    const local = [pkt(H2.ip, W2.ip, echo(8, 1))];
    expect(checkCapture(local, { ...EXP, onlyWorkloadTraffic: true }).violations[0]).toMatch(/^unexpected traffic: 198\.18\.200\.2 \(host2's host address\) > 198\.18\.200\.129/);
    // An address that is neither a workload nor a host (e.g. a DNAT'd service address).
    const stray = [pkt(W1.ip, '198.18.200.250', tcp(1, 80))];
    expect(checkCapture(stray, { ...EXP, onlyWorkloadTraffic: true }).violations[0]).toMatch(/the destination is neither a workload nor a host/);
  });

  it('wrong MACs (a non-host MAC, or both MACs of one host) are "not a routed hop"', () => {
    n = 0;
    const ps = [
      pkt(W1.ip, W2.ip, echo(8, 1), { smac: '02:00:00:00:99:99' }), // e.g. the workload's own MAC: bridged, not routed
      pkt(W2.ip, W1.ip, echo(0, 1), { smac: H2.mac, dmac: H2.mac }),
      pkt(W1.ip, W2.ip, echo(8, 2)),
    ];
    const r = checkCapture(ps, EXP);
    expect(r.ok).toBe(false);
    expect(r.violations).toEqual([
      "not a routed hop: Ethernet 02:00:00:00:99:99 (not a host) > 02:00:00:00:00:02 (host2): both must be hosts' fabric MACs — flow icmp 198.18.200.65 > 198.18.200.129 id 1, 1 of 1 packet(s), first #1",
      "not a routed hop: Ethernet 02:00:00:00:00:02 > 02:00:00:00:00:02 are both host2's: the source and destination must be two different hosts — flow icmp 198.18.200.129 > 198.18.200.65 id 1, 1 of 1 packet(s), first #2",
    ]);
    expect(r.flows.map((f) => f.ok)).toEqual([false, false, true]);
  });

  it('host MACs are matched in any spelling; a cooked capture without MACs is a note, not a failure', () => {
    const upper = {
      ...EXP,
      hosts: [
        { ...H1, mac: '02-00-00-00-00-01' },
        { ...H2, mac: '02:00:00:00:00:02'.toUpperCase() },
      ],
    };
    expect(checkCapture(cleanCapture(), upper).ok).toBe(true);
    n = 0;
    const r = checkCapture([pkt(W1.ip, W2.ip, echo(8, 1), { noMacs: true })], EXP);
    expect(r.ok).toBe(true);
    expect(r.notes).toEqual(['routed-hop check skipped for 1 packet(s) without both Ethernet addresses (a Linux cooked or raw-IP capture)']);
  });

  it('a missing expected flow is "not observed"', () => {
    const r = checkCapture(cleanCapture(), {
      ...EXP,
      expectedFlows: [
        { from: 'w2', to: 'w1', protocol: 'icmp' },
        { from: '2001:DB8:FF::65', to: W2.ip },
        { from: W1.ip, to: W2.ip, protocol: 'udp' },
      ],
    });
    expect(r.ok).toBe(false);
    expect(r.violations).toEqual([
      // the ICMP flow w2 > w1 exists (echo reply), so that one passes
      'expected flow 2001:db8:ff::65 (workload w1 on host1) > 198.18.200.129 (workload w2 on host2) not observed: packets to 198.18.200.129 came from 198.18.200.65 (workload w1 on host1) instead; packets from 2001:db8:ff::65 went to 2001:db8:ff::129 (workload w2 on host2) instead (NAT?)',
      'expected flow 198.18.200.65 (workload w1 on host1) > 198.18.200.129 (workload w2 on host2) (udp) not observed in 7 packet(s)',
    ]);
  });

  it('encapsulation is inspected even between addresses the expectation does not know', () => {
    n = 0;
    const r = checkCapture([pkt('198.18.200.10', '198.18.200.11', udp(51820, 51820), { encap: { kind: 'wireguard' } })], { workloads: [], hosts: [] });
    expect(r.packetsInspected).toBe(1);
    expect(r.violations).toEqual([
      'encapsulated (wireguard): outer 198.18.200.10 > 198.18.200.11, inner packet not decodable — flow udp 198.18.200.10:51820 > 198.18.200.11:51820 [wireguard], 1 of 1 packet(s), first #1',
    ]);
    expect(r.notes).toEqual(['routed-hop check skipped: the expectation names no host MAC']);
  });

  it('multicast and broadcast (neighbour discovery) are neither NAT nor unrouted hops; encapsulated they still fail', () => {
    n = 0;
    const ps = [
      pkt('2001:db8:ff::65', 'ff02::1:ff00:129', { protocol: 'icmpv6', icmpType: 135 }, { dmac: '33:33:ff:00:01:29' }),
      pkt(W1.ip, '255.255.255.255', udp(68, 67), { dmac: 'ff:ff:ff:ff:ff:ff' }),
      pkt(W1.ip, '224.0.0.251', udp(5353, 5353), { dmac: '01:00:5e:00:00:fb' }),
    ];
    const exp = { ...EXP, onlyWorkloadTraffic: true };
    expect(checkCapture(ps, exp).violations).toEqual([]);
    ps.push(pkt(H1.ip, '239.1.1.1', udp(1, 4789), { encap: { kind: 'vxlan', vni: 1 } }));
    expect(checkCapture(ps, exp).violations).toEqual([expect.stringMatching(/^encapsulated \(vxlan vni 1\): outer 198\.18\.200\.1 > 239\.1\.1\.1, inner packet not decodable/)]);
  });

  it('an empty capture with no expected flows passes with nothing inspected', () => {
    expect(checkCapture([], EXP)).toEqual({ ok: true, packetsInspected: 0, flows: [], violations: [], notes: [] });
  });
});

describe('checkCapture on captured bytes: a UDP probe on an encapsulation port is not encapsulation', () => {
  const frame = (src: typeof W1, dst: typeof W1, datagram: Buffer) => {
    const [smac, dmac] = src === W1 ? [H1.mac, H2.mac] : [H2.mac, H1.mac];
    return { data: eth(dmac, smac, 0x0800, ipv4Packet({ src: src.ip, dst: dst.ip, proto: 17, ttl: 63 }, datagram)) };
  };
  const answer = Buffer.from(`w2 ${W1.ip}\n`);

  it("probes from 51820, and answers to 51820, 4789, 6081 and 4500, with the probe's text: no violation", () => {
    const packets = readPcap(
      pcap([
        frame(W1, W2, udpBytes(51820, 7777, Buffer.from('probe'))),
        frame(W2, W1, udpBytes(7777, 51820, answer)),
        ...[4789, 6081, 4500].flatMap((port) => [frame(W1, W2, udpBytes(port, 7777, Buffer.from('probe'))), frame(W2, W1, udpBytes(7777, port, answer))]),
      ]),
    ).packets;
    const r = checkCapture(packets, { ...EXP, expectedFlows: [{ from: 'w1', to: 'w2', protocol: 'udp' }] });
    expect(r.violations).toEqual([]);
    expect(r.packetsInspected).toBe(8);
  });

  it('a real VXLAN header between the same workloads is still a violation', () => {
    const inner = eth(H2.mac, H1.mac, 0x0800, ipv4Packet({ src: W1.ip, dst: W2.ip, proto: 1 }, icmpEcho(8, 9, 1)));
    const packets = readPcap(pcap([frame(W1, W2, udpBytes(51820, 4789, vxlan(7, inner)))])).packets;
    expect(checkCapture(packets, EXP).violations).toEqual([
      expect.stringMatching(/^encapsulated \(vxlan vni 7\): outer 198\.18\.200\.65 > 198\.18\.200\.129, inner 198\.18\.200\.65 > 198\.18\.200\.129 icmp/),
    ]);
  });
});
