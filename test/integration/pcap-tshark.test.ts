/**
 * The pcap reader against real captures: two network namespaces joined by a veth pair and a
 * VXLAN tunnel over it, real tcpdump on the link, real traffic (ICMP, ICMPv6, TCP, UDP, IPv4 and
 * IPv6 fragments, MLD with a hop-by-hop header, all of it also inside VXLAN), and tshark as the
 * reference decoder: both must agree on every packet.
 *
 * Needs root (namespaces, capture), tcpdump, ping, bash, and tshark (installed here if missing).
 * Namespaces are named `pcaptest_<pid>_*` (never `csim_`: those belong to labs), addresses come
 * from 198.18.200.0/24 and 2001:db8:ff::/64 only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ipBatch, run, sleep, tryRun } from '../../src/util/exec.js';
import { readPcapFile, type InnerPacket, type Packet, type PcapCapture } from '../../src/verify/pcap.js';
import { checkCapture } from '../../src/verify/flows.js';

const IS_ROOT = process.getuid?.() === 0;
if (!IS_ROOT) console.warn('pcap-tshark.test.ts: skipped: needs root to create network namespaces and capture with tcpdump');

const PREFIX = 'pcaptest_';
const NS_A = `${PREFIX}${process.pid}_a`;
const NS_B = `${PREFIX}${process.pid}_b`;
const MAC_VA = '02:00:c6:12:c8:01';
const MAC_VB = '02:00:c6:12:c8:02';
const A4 = '198.18.200.1';
const B4 = '198.18.200.2';
const A6 = '2001:db8:ff::1:1';
const B6 = '2001:db8:ff::1:2';
// Inside the VXLAN tunnel (VNI 42).
const VA4 = '198.18.200.129';
const VB4 = '198.18.200.130';
const VA6 = '2001:db8:ff::2:1';
const VB6 = '2001:db8:ff::2:2';
const VNI = 42;
const TCP_PORT = 7777;
const UDP_PORT = 9999;

const procs: ChildProcess[] = [];
let dir = '';

/** Namespaces left by an earlier run of this file that was killed (its pid is gone). */
function staleNamespaces(): string[] {
  if (!existsSync('/run/netns')) return [];
  return readdirSync('/run/netns').filter((n) => {
    const m = new RegExp(`^${PREFIX}(\\d+)_`).exec(n);
    if (!m) return false;
    const pid = Number(m[1]);
    if (pid === process.pid) return true;
    try {
      process.kill(pid, 0);
      return false;
    } catch {
      return true;
    }
  });
}

async function cleanup(): Promise<void> {
  for (const p of procs) {
    if (p.exitCode === null && p.signalCode === null && p.pid) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  procs.length = 0;
  for (const ns of staleNamespaces()) await tryRun('ip', ['netns', 'del', ns]);
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = '';
}

/** Runs `argv` in a namespace in the background; resolves once `ready` shows on stderr/stdout. */
function background(ns: string, argv: string[], ready: RegExp, what: string): Promise<ChildProcess> {
  const child = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  procs.push(child);
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} not ready after 10 s: ${out.trim()}`)), 10_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      if (ready.test(out)) {
        clearTimeout(timer);
        resolve(child);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code}) before it was ready: ${out.trim()}`));
    });
  });
}

/** Stops tcpdump the way a user would (SIGINT: it flushes the file) and waits for it to exit. */
async function stopCapture(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) throw new Error(`tcpdump exited early with ${child.exitCode}`);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGINT');
  await Promise.race([exited, sleep(10_000).then(() => Promise.reject(new Error('tcpdump did not exit on SIGINT')))]);
}

async function inNs(ns: string, ...argv: string[]): Promise<string> {
  return run('ip', ['netns', 'exec', ns, ...argv], { timeoutMs: 20_000 });
}

async function ensureTshark(): Promise<void> {
  if ((await tryRun('sh', ['-c', 'command -v tshark'])).exitCode === 0) return;
  await run('sh', ['-c', 'echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections'], { timeoutMs: 30_000 });
  const r = await tryRun(
    'sh',
    [
      '-c',
      'DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends tshark || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends tshark)',
    ],
    { timeoutMs: 300_000 },
  );
  if (r.exitCode !== 0) throw new Error(`tshark is missing and could not be installed (apt-get install tshark): ${r.stderr.trim().split('\n').slice(-2).join(' | ')}`);
}

// ---------------------------------------------------------------------------------------------
// tshark's view of a file, one row per frame.

const FIELDS = [
  'frame.number',
  'frame.protocols',
  'eth.src',
  'eth.dst',
  'sll.src.eth',
  'ip.src',
  'ip.dst',
  'ip.ttl',
  'ip.frag_offset',
  'ip.flags.mf',
  'ipv6.src',
  'ipv6.dst',
  'ipv6.hlim',
  'ipv6.fraghdr.offset',
  'udp.srcport',
  'udp.dstport',
  'tcp.srcport',
  'tcp.dstport',
  'icmp.type',
  'icmpv6.type',
  'vxlan.vni',
] as const;
type Row = Record<(typeof FIELDS)[number], string[]>;

async function tshark(file: string): Promise<Row[]> {
  const out = await run(
    'tshark',
    [
      '-r',
      file,
      '-n',
      // Per-frame decoding, as our reader does: no reassembly across frames.
      '-o',
      'ip.defragment:FALSE',
      '-o',
      'ipv6.defragment:FALSE',
      '-o',
      'tcp.desegment_tcp_streams:FALSE',
      '-T',
      'fields',
      ...FIELDS.flatMap((f) => ['-e', f]),
      '-E',
      'separator=/t',
      '-E',
      'occurrence=a',
      '-E',
      'aggregator=,',
    ],
    { timeoutMs: 60_000 },
  );
  return out
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((line) => {
      const cols = line.split('\t');
      return Object.fromEntries(FIELDS.map((f, i) => [f, cols[i] ? cols[i]!.split(',') : []])) as Row;
    });
}

const TRANSPORTS = new Set(['tcp', 'udp', 'icmp', 'icmpv6']);
const EXT_HEADER: Record<string, number> = { 'ipv6.hopopts': 0, 'ipv6.routing': 43, 'ipv6.fraghdr': 44, 'ipv6.dstopts': 60 };

/** One IP layer as tshark saw it: which occurrence of ip/ipv6 fields it is, and what follows it. */
interface TsLayer {
  version: 4 | 6;
  src: string;
  dst: string;
  ttl: string;
  transport?: string;
  exts: number[];
  pos: number;
}

function layers(row: Row): { layers: TsLayer[]; tokens: string[] } {
  const tokens = row['frame.protocols'][0]!.split(':');
  const out: TsLayer[] = [];
  let n4 = 0;
  let n6 = 0;
  tokens.forEach((t, i) => {
    if (t !== 'ip' && t !== 'ipv6') return;
    const v4 = t === 'ip';
    const k = v4 ? n4++ : n6++;
    const layer: TsLayer = {
      version: v4 ? 4 : 6,
      src: (v4 ? row['ip.src'] : row['ipv6.src'])[k] ?? '?',
      dst: (v4 ? row['ip.dst'] : row['ipv6.dst'])[k] ?? '?',
      ttl: (v4 ? row['ip.ttl'] : row['ipv6.hlim'])[k] ?? '?',
      exts: [],
      pos: i,
    };
    let j = i + 1;
    while (j < tokens.length && tokens[j]! in EXT_HEADER) layer.exts.push(EXT_HEADER[tokens[j++]!]!);
    if (j < tokens.length && TRANSPORTS.has(tokens[j]!)) layer.transport = tokens[j]!;
    out.push(layer);
  });
  return { layers: out, tokens };
}

/** Every disagreement between our reader and tshark on one frame, as text. */
function compare(p: Packet, row: Row, linkType: number): string[] {
  const diffs: string[] = [];
  const eq = (what: string, ours: unknown, theirs: unknown) => {
    if (String(ours) !== String(theirs)) diffs.push(`#${p.index} ${what}: ours ${String(ours)}, tshark ${String(theirs)}`);
  };
  eq('frame number', p.index, row['frame.number'][0]);
  if (linkType === 1) {
    eq('eth.src', p.src_mac, row['eth.src'][0]);
    eq('eth.dst', p.dst_mac, row['eth.dst'][0]);
  } else {
    eq('sll source MAC', p.src_mac, row['sll.src.eth'][0]);
  }
  const { layers: ls, tokens } = layers(row);
  const outer = ls[0];
  eq('has IP', !!p.ip, !!outer);
  if (!p.ip || !outer) return diffs;
  const ipLayer = (ours: InnerPacket | Packet['ip'], theirs: TsLayer, label: string, l4: Packet['l4']) => {
    eq(`${label} version`, ours!.version, theirs.version);
    eq(`${label} src`, ours!.src, theirs.src);
    eq(`${label} dst`, ours!.dst, theirs.dst);
    eq(`${label} ttl`, ours!.ttl, theirs.ttl);
    eq(`${label} transport`, l4 && l4.protocol !== 'other' ? l4.protocol : 'none', theirs.transport ?? 'none');
    if (ours!.version === 6) eq(`${label} extension headers`, (ours!.extensionHeaders ?? []).join(' '), theirs.exts.join(' '));
  };
  ipLayer(p.ip, outer, 'outer', p.l4);
  // Transport details: the first occurrence of each field belongs to the outer packet.
  if (p.l4?.protocol === 'tcp') {
    eq('tcp.srcport', p.l4.srcPort, row['tcp.srcport'][0]);
    eq('tcp.dstport', p.l4.dstPort, row['tcp.dstport'][0]);
  } else if (p.l4?.protocol === 'udp') {
    eq('udp.srcport', p.l4.srcPort, row['udp.srcport'][0]);
    eq('udp.dstport', p.l4.dstPort, row['udp.dstport'][0]);
  } else if (p.l4?.protocol === 'icmp') {
    eq('icmp.type', p.l4.icmpType, row['icmp.type'][0]);
  } else if (p.l4?.protocol === 'icmpv6') {
    eq('icmpv6.type', p.l4.icmpType, row['icmpv6.type'][0]);
  }
  if (p.ip.fragment) {
    if (p.ip.version === 4) {
      // tshark 4.0 shows the IPv4 fragment offset in 8-octet units, as in the header
      eq('ip.frag_offset', p.ip.fragment.offset / 8, row['ip.frag_offset'][0]);
      eq('ip.flags.mf', p.ip.fragment.more ? 1 : 0, row['ip.flags.mf'][0] === 'True' || row['ip.flags.mf'][0] === '1' ? 1 : 0);
    } else {
      // ...and the IPv6 one too
      eq('ipv6.fraghdr.offset', p.ip.fragment.offset / 8, row['ipv6.fraghdr.offset'][0]);
    }
  } else if (p.ip.version === 4) {
    eq('ip.frag_offset', 0, row['ip.frag_offset'][0]);
  }
  // Encapsulation: VXLAN is the only one this lab makes, and tshark must see the same.
  const isVxlan = tokens.includes('vxlan');
  eq('encapsulation', p.encapsulation?.kind ?? 'none', isVxlan ? 'vxlan' : 'none');
  for (const other of ['gre', 'esp', 'geneve', 'wg', 'udpencap']) if (tokens.includes(other)) diffs.push(`#${p.index} tshark sees ${other}`);
  if (isVxlan && p.encapsulation) {
    eq('vxlan.vni', p.encapsulation.vni, row['vxlan.vni'][0]);
    const vxlanPos = tokens.indexOf('vxlan');
    const innerLayer = ls.find((l) => l.pos > vxlanPos);
    eq('vxlan inner has IP', !!p.encapsulation.inner, !!innerLayer);
    if (p.encapsulation.inner && innerLayer) {
      const inner = p.encapsulation.inner;
      ipLayer(inner, innerLayer, 'inner', inner.l4);
      // Cooked captures have no outer Ethernet header: the inner one is then the first.
      const k = linkType === 1 ? 1 : 0;
      eq('inner eth.src', inner.src_mac, row['eth.src'][k]);
      eq('inner eth.dst', inner.dst_mac, row['eth.dst'][k]);
      const ports = inner.l4?.protocol === 'tcp' ? row['tcp.srcport'] : inner.l4?.protocol === 'udp' ? row['udp.srcport'] : undefined;
      // The outer UDP takes the first udp.srcport occurrence.
      if (ports) eq('inner source port', inner.l4!.srcPort, inner.l4!.protocol === 'udp' ? ports[1] : ports[0]);
      if (inner.l4?.protocol === 'icmp') eq('inner icmp.type', inner.l4.icmpType, row['icmp.type'][0]);
      if (inner.l4?.protocol === 'icmpv6') eq('inner icmpv6.type', inner.l4.icmpType, row['icmpv6.type'][0]);
    }
  }
  return diffs;
}

// ---------------------------------------------------------------------------------------------

interface Capture {
  name: string;
  file: string;
  cap?: PcapCapture;
  rows?: Row[];
}
const captures: Capture[] = [];

describe.skipIf(!IS_ROOT)('pcap reader vs tshark on real tcpdump captures (root: namespaces pcaptest_*)', () => {
  beforeAll(async () => {
    await cleanup();
    await ensureTshark();
    dir = mkdtempSync(join(tmpdir(), 'pcaptest-'));
    await run('ip', ['netns', 'add', NS_A]);
    await run('ip', ['netns', 'add', NS_B]);
    await run('ip', ['-n', NS_A, 'link', 'add', 'va', 'address', MAC_VA, 'type', 'veth', 'peer', 'name', 'vb', 'address', MAC_VB, 'netns', NS_B]);
    const side = (me: string, peer: string, dev: string, a4: string, a6: string, v4: string, v6: string, vmac: string) => [
      'link set lo up',
      `addr add ${a4}/30 dev ${dev}`,
      `addr add ${a6}/112 dev ${dev} nodad`,
      `link set ${dev} up`,
      `link add vx0 address ${vmac} type vxlan id ${VNI} dstport 4789 remote ${peer} local ${me} dev ${dev}`,
      `addr add ${v4}/25 dev vx0`,
      `addr add ${v6}/112 dev vx0 nodad`,
      'link set vx0 up',
    ];
    await ipBatch(NS_A, side(A4, B4, 'va', A4, A6, VA4, VA6, '02:00:c6:12:c8:81'));
    await ipBatch(NS_B, side(B4, A4, 'vb', B4, B6, VB4, VB6, '02:00:c6:12:c8:82'));

    // A TCP server in B answering on every address (IPv4 and IPv6, plain and through the tunnel).
    const server = `require('net').createServer((s) => s.end('hello\\n')).listen(${TCP_PORT}, '::', () => console.log('listening'))`;
    await background(NS_B, [process.execPath, '-e', server], /listening/, 'TCP server');

    // Three captures at once: Ethernet on A's veth (µs), and B's `any` as SLL2 (ns) and as SLL.
    const tcpdump = async (ns: string, name: string, args: string[]) => {
      const file = join(dir, `${name}.pcap`);
      // -Z root: Debian's tcpdump otherwise drops to user tcpdump, who cannot write in our 0700 dir.
      const child = await background(ns, ['tcpdump', '-n', '-U', '-Z', 'root', '-s', '0', ...args, '-w', file], /listening on/, `tcpdump ${name}`);
      captures.push({ name, file });
      return child;
    };
    const dumps = [
      await tcpdump(NS_A, 'eth', ['-i', 'va']),
      await tcpdump(NS_B, 'sll2-nano', ['-i', 'any', '-y', 'LINUX_SLL2', '--time-stamp-precision=nano']),
      await tcpdump(NS_B, 'sll', ['-i', 'any', '-y', 'LINUX_SLL']),
    ];

    // Traffic. Plain, then through the VXLAN tunnel.
    for (const [d4, d6] of [
      [B4, B6],
      [VB4, VB6],
    ] as const) {
      await inNs(NS_A, 'ping', '-n', '-c', '2', '-i', '0.2', '-W', '2', d4);
      await inNs(NS_A, 'ping', '-6', '-n', '-c', '2', '-i', '0.2', '-W', '2', d6);
      expect(await inNs(NS_A, 'bash', '-c', `exec 3<>/dev/tcp/${d4}/${TCP_PORT} && timeout 5 cat <&3`)).toBe('hello');
      expect(await inNs(NS_A, 'bash', '-c', `exec 3<>/dev/tcp/${d6}/${TCP_PORT} && timeout 5 cat <&3`)).toBe('hello');
      // Nobody listens on UDP: B answers with ICMP port unreachable, quoting our headers.
      await inNs(NS_A, 'bash', '-c', `echo hi > /dev/udp/${d4}/${UDP_PORT}; echo hi > /dev/udp/${d6}/${UDP_PORT}`);
    }
    // Fragments: IPv4 (offset in the IP header) and IPv6 (fragment extension header).
    await inNs(NS_A, 'ping', '-n', '-c', '1', '-W', '2', '-s', '3000', B4);
    await inNs(NS_A, 'ping', '-6', '-n', '-c', '1', '-W', '2', '-s', '3000', B6);
    // A new address makes the kernel join its solicited-node group: MLDv2 with a hop-by-hop header.
    await ipBatch(NS_A, ['addr add 2001:db8:ff::1:99/112 dev va']);
    await sleep(1500);
    for (const d of dumps) await stopCapture(d);
    for (const c of captures) {
      c.cap = readPcapFile(c.file);
      c.rows = await tshark(c.file);
    }
  }, 180_000);

  afterAll(async () => {
    await cleanup();
  });

  it('the three captures have the expected link types and timestamp precision', () => {
    const byName = Object.fromEntries(captures.map((c) => [c.name, c.cap!]));
    expect(byName.eth).toMatchObject({ linkType: 1, nanosecond: false });
    expect(byName['sll2-nano']).toMatchObject({ linkType: 276, nanosecond: true });
    expect(byName.sll).toMatchObject({ linkType: 113, nanosecond: false });
    for (const c of captures) {
      expect(c.cap!.packets.length, c.name).toBeGreaterThan(30);
      const ts = c.cap!.packets.map((p) => p.timestampUs);
      // A capture on `any` (SLL/SLL2) merges per-CPU queues: the kernel's stamps may step back by
      // microseconds there. A misread field (seconds, or ns read as µs) is off by far more.
      expect(
        ts.every((t, i) => i === 0 || t >= ts[i - 1]! - 10_000),
        `${c.name} timestamps ascend (within 10 ms)`,
      ).toBe(true);
      expect(Math.abs(ts[0]! / 1000 - Date.now())).toBeLessThan(300_000);
    }
  });

  it('our reader and tshark agree on every packet: addresses, TTL, protocols, ports, ICMP types, fragments, IPv6 extension headers, VXLAN VNI and inner packet', () => {
    for (const c of captures) {
      expect(c.cap!.packets.length, `${c.name}: packet count`).toBe(c.rows!.length);
      const diffs = c.cap!.packets.flatMap((p, i) => compare(p, c.rows![i]!, c.cap!.linkType));
      expect(diffs, c.name).toEqual([]);
      expect(
        c.cap!.packets.filter((p) => p.error).map((p) => `#${p.index} ${p.error}`),
        `${c.name}: decode errors`,
      ).toEqual([]);
      // Not vacuous: many packets had an inner packet to compare, of both IP versions.
      const inner = c.cap!.packets.flatMap((p) => (p.encapsulation?.inner ? [p.encapsulation.inner.version] : []));
      expect(inner.filter((v) => v === 4).length, `${c.name}: VXLAN packets with inner IPv4`).toBeGreaterThan(5);
      expect(inner.filter((v) => v === 6).length, `${c.name}: VXLAN packets with inner IPv6`).toBeGreaterThan(5);
    }
  });

  it('the Ethernet capture holds every kind of traffic generated, so the agreement covers it', () => {
    const ps = captures.find((c) => c.name === 'eth')!.cap!.packets;
    const has = (what: string, f: (p: Packet) => boolean | undefined) =>
      expect(
        ps.some((p) => !p.encapsulation && f(p)),
        what,
      ).toBe(true);
    const inVxlan = (what: string, f: (i: InnerPacket) => boolean | undefined) =>
      expect(
        ps.some((p) => p.encapsulation?.kind === 'vxlan' && p.encapsulation.vni === VNI && p.encapsulation.inner && f(p.encapsulation.inner)),
        `vxlan: ${what}`,
      ).toBe(true);
    has('ICMP echo', (p) => p.ip?.src === A4 && p.ip.dst === B4 && p.l4?.icmpType === 8 && p.l4.icmpId !== undefined);
    has('ICMPv6 echo reply', (p) => p.ip?.src === B6 && p.ip.dst === A6 && p.l4?.icmpType === 129);
    has('TCP over IPv4', (p) => p.ip?.dst === B4 && p.l4?.protocol === 'tcp' && p.l4.dstPort === TCP_PORT);
    has('TCP over IPv6', (p) => p.ip?.dst === B6 && p.l4?.protocol === 'tcp' && p.l4.dstPort === TCP_PORT);
    has('UDP', (p) => p.ip?.dst === B4 && p.l4?.protocol === 'udp' && p.l4.dstPort === UDP_PORT);
    has('ICMP port unreachable', (p) => p.ip?.src === B4 && p.l4?.icmpType === 3);
    has('a later IPv4 fragment', (p) => p.ip?.version === 4 && (p.ip.fragment?.offset ?? 0) > 0 && p.l4 === undefined);
    has('an IPv6 fragment header', (p) => p.ip?.version === 6 && p.ip.fragment !== undefined && p.ip.extensionHeaders?.includes(44));
    has('MLDv2 with hop-by-hop options', (p) => p.ip?.version === 6 && p.ip.extensionHeaders?.[0] === 0 && p.l4?.icmpType === 143);
    inVxlan('ICMP', (i) => i.src === VA4 && i.dst === VB4 && i.l4?.protocol === 'icmp');
    inVxlan('ICMPv6', (i) => i.src === VA6 && i.dst === VB6 && i.l4?.protocol === 'icmpv6' && i.l4.icmpType === 128);
    inVxlan('TCP', (i) => i.dst === VB4 && i.l4?.protocol === 'tcp' && i.l4.dstPort === TCP_PORT);
    inVxlan('UDP', (i) => i.dst === VB6 && i.l4?.protocol === 'udp' && i.l4.dstPort === UDP_PORT);
    for (const p of ps.filter((x) => x.encapsulation)) {
      expect(p.ip, `#${p.index}`).toMatchObject({ src: expect.stringMatching(/^198\.18\.200\.[12]$/), dst: expect.stringMatching(/^198\.18\.200\.[12]$/) });
      expect(p.l4?.dstPort, `#${p.index}`).toBe(4789);
    }
  });

  it('the flow checker passes the plain traffic and flags every VXLAN packet, on a real capture', () => {
    const ps = captures.find((c) => c.name === 'eth')!.cap!.packets;
    // The veth ends play two "hosts" that are also the workloads; the tunnel plays an overlay.
    const exp = {
      workloads: [
        { name: 'a', ip: A4, ips: [A6] },
        { name: 'b', ip: B4, ips: [B6] },
      ],
      hosts: [
        { name: 'nsA', mac: MAC_VA },
        { name: 'nsB', mac: MAC_VB },
      ],
      expectedFlows: [
        { from: 'a', to: 'b', protocol: 'icmp' as const },
        { from: 'b', to: 'a', protocol: 'tcp' as const },
        { from: A6, to: B6, protocol: 'icmpv6' as const },
      ],
    };
    const r = checkCapture(ps, exp);
    const vxlanPackets = ps.filter((p) => p.encapsulation).length;
    expect(vxlanPackets).toBeGreaterThan(10);
    expect(r.violations.length).toBeGreaterThan(0);
    expect(r.violations.filter((v) => !/^encapsulated \(vxlan vni 42\): outer 198\.18\.200\.[12] > 198\.18\.200\.[12], inner /.test(v))).toEqual([]);
    expect(r.flows.filter((f) => !f.ok).reduce((n, f) => n + f.packets, 0)).toBe(vxlanPackets);
    expect(r.flows.filter((f) => f.ok && f.sample.encapsulation)).toEqual([]);

    // The tunnel's inner addresses as the expected workload flow: seen only inside VXLAN.
    const overlay = checkCapture(ps, {
      workloads: [
        { name: 'va', ip: VA4 },
        { name: 'vb', ip: VB4 },
      ],
      hosts: exp.hosts,
      expectedFlows: [{ from: 'va', to: 'vb', protocol: 'icmp' }],
    });
    expect(overlay.ok).toBe(false);
    expect(overlay.violations).toContainEqual(
      expect.stringMatching(/^expected flow 198\.18\.200\.129 \(workload va\) > 198\.18\.200\.130 \(workload vb\) \(icmp\) seen only inside vxlan encapsulation \(first #\d+\), never as plain IP$/),
    );
  });
});
