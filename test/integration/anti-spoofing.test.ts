import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { down, up } from '../../src/sim/lab.js';
import { status } from '../../src/sim/status.js';
import { resolveTopology } from '../../src/topologies/index.js';

/**
 * Calico drops what a workload sends with a source address that is not its own (strict reverse
 * path filtering: the rp_filter sysctl on the workload's interface for IPv4, the raw table for
 * IPv6; felix/rules/static.go) and the tunnel packets it sends (felix/rules/endpoints.go). Each
 * check has its negative control: with the filter taken away, the same packet arrives.
 */
const LAB = 't-spoof';
const inNs = (netns: string, ...argv: string[]) => execa('ip', ['netns', 'exec', netns, ...argv], { reject: false });

/** How many packets matching `filter` reach `netns`'s eth0 while `send` runs. */
async function arriving(netns: string, filter: string, send: () => Promise<unknown>): Promise<number> {
  const dump = execa('ip', ['netns', 'exec', netns, 'timeout', '2', 'tcpdump', '-l', '-n', '-i', 'eth0', '-c', '5', filter], { reject: false });
  // tcpdump says on stderr when it listens.
  await new Promise<void>((resolve) => {
    const t = setTimeout(resolve, 1500);
    dump.stderr?.on('data', (d: Buffer) => {
      if (d.toString().includes('listening on')) {
        clearTimeout(t);
        resolve();
      }
    });
  });
  await send();
  const r = await dump;
  return String(r.stdout)
    .split('\n')
    .filter((l) => l.trim()).length;
}

describe('anti-spoofing and tunnel drops for workload traffic', () => {
  let w1: { netns: string; ip: string; ip6: string; interface: string };
  let w2: { netns: string; ip: string; ip6: string };
  let host1: string;
  beforeAll(async () => {
    await down(LAB);
    const { state } = await up(resolveTopology('dual-stack', { hosts: 2 }), { name: LAB });
    const st = await status(state);
    const [a, b] = [st.workloads.find((w) => w.host === 'host1')!, st.workloads.find((w) => w.host === 'host2')!];
    w1 = { netns: a.netns, ip: a.ip, ip6: a.ip6!, interface: a.interface };
    w2 = { netns: b.netns, ip: b.ip, ip6: b.ip6! };
    host1 = state.hosts[0]!.netns;
    // w1 takes addresses that are not its own (nobody's, in the pools).
    await inNs(w1.netns, 'ip', 'addr', 'add', '198.19.250.250/32', 'dev', 'eth0');
    await inNs(w1.netns, 'ip', 'addr', 'add', '2001:db8:1::fafa/128', 'dev', 'eth0', 'nodad');
  });
  afterAll(async () => {
    await down(LAB);
  });

  it('IPv4: a spoofed source is dropped at the host (rp_filter strict); with it off the packet arrives', async () => {
    const ping = (from: string) => () => inNs(w1.netns, 'ping', '-c', '2', '-i', '0.2', '-W', '1', '-I', from, w2.ip);
    expect(await arriving(w2.netns, `icmp and src ${w1.ip}`, ping(w1.ip))).toBeGreaterThan(0); // its own address passes
    expect(await arriving(w2.netns, 'icmp and src 198.19.250.250', ping('198.19.250.250'))).toBe(0);
    // Negative control: loose the filter on the host side; the spoofed packet gets through.
    await inNs(host1, 'sysctl', '-qw', `net.ipv4.conf.${w1.interface}.rp_filter=0`, 'net.ipv4.conf.all.rp_filter=0');
    try {
      expect(await arriving(w2.netns, 'icmp and src 198.19.250.250', ping('198.19.250.250'))).toBeGreaterThan(0);
    } finally {
      await inNs(host1, 'sysctl', '-qw', `net.ipv4.conf.${w1.interface}.rp_filter=1`);
    }
  });

  it('IPv6: a spoofed source is dropped in the raw table (rpfilter); without the rule the packet arrives', async () => {
    const ping = (from: string) => () => inNs(w1.netns, 'ping', '-6', '-c', '2', '-i', '0.2', '-W', '1', '-I', from, w2.ip6);
    expect(await arriving(w2.netns, `icmp6 and src ${w1.ip6}`, ping(w1.ip6))).toBeGreaterThan(0);
    expect((await inNs(host1, 'ip6tables', '-t', 'raw', '-S', 'cali-PREROUTING')).stdout).toMatch(/-i cali\+ .*-m rpfilter --invert -j DROP/);
    expect(await arriving(w2.netns, 'icmp6 and src 2001:db8:1::fafa', ping('2001:db8:1::fafa'))).toBe(0);
    // Negative control: without the rule (the agent's next full apply puts it back).
    await inNs(host1, 'ip6tables', '-t', 'raw', '-F', 'cali-PREROUTING');
    expect(await arriving(w2.netns, 'icmp6 and src 2001:db8:1::fafa', ping('2001:db8:1::fafa'))).toBeGreaterThan(0);
  });

  it('VXLAN and IP-in-IP sent by a workload are dropped; the same UDP to another port passes', async () => {
    const udp = (port: number) => () => inNs(w1.netns, 'bash', '-c', `for i in 1 2 3; do echo x > /dev/udp/${w2.ip}/${port}; sleep 0.1; done`);
    expect(await arriving(w2.netns, 'udp and dst port 4790', udp(4790))).toBeGreaterThan(0);
    expect(await arriving(w2.netns, 'udp and dst port 4789', udp(4789))).toBe(0);
    const ipip = () => inNs(w1.netns, 'python3', '-c', `import socket\ns=socket.socket(socket.AF_INET, socket.SOCK_RAW, 4)\nfor _ in range(3): s.sendto(b'x'*20, ('${w2.ip}', 0))`);
    expect(await arriving(w2.netns, 'ip proto 4', ipip)).toBe(0);
    const { stdout } = await inNs(host1, 'iptables', '-S', `cali-fw-${w1.interface}`);
    expect(stdout).toMatch(/-p udp .*--dport 4789 -j DROP/);
    const ipipRule = stdout.split('\n').find((l) => /-p ipencap .*-j DROP/.test(l))!;
    expect(ipipRule).toBeDefined();
    // Negative control: without the rule, the workload's policy (its profile allows all) lets it through.
    await execa('sh', ['-c', `ip netns exec ${host1} iptables ${ipipRule.replace(/^-A/, '-D')}`]);
    expect(await arriving(w2.netns, 'ip proto 4', ipip)).toBeGreaterThan(0);
  });
});
