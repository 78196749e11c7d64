import { readFileSync } from 'node:fs';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChainIR, HostPolicyIR, MatchIR, RuleIR } from '../../src/policy/ir.js';
import { defaultTierOf } from '../../src/policy/ir.js';
import { IptablesPolicy } from '../../src/policy/iptables-apply.js';
import { removeNetns } from '../../src/sim/backends/procs.js';
import { ipBatch, run, setSysctls, waitFor } from '../../src/util/exec.js';

/**
 * A "host" namespace routing for two workload namespaces behind cali veths (as src/cni/workload.ts
 * plumbs them: /32 and /128 addresses, 169.254.1.1 and the host veth's link-local as gateways),
 * policed by IptablesPolicy, proven with real traffic.
 */
const H = 'csim_t-ipt_h';
const W1 = 'csim_t-ipt_w1';
const W2 = 'csim_t-ipt_w2';
/** A bare namespace where the unit test's golden IR is applied, to prove the kernel takes it. */
const X = 'csim_t-ipt_x';
const ALL = [H, W1, W2, X];
const IF1 = 'caliipt000001';
const IF2 = 'caliipt000002';
const IP1 = '198.19.0.1',
  IP2 = '198.19.0.2',
  IP61 = '2001:db8:1::1',
  IP62 = '2001:db8:1::2';
const HOST_IP = '198.18.0.1',
  HOST_IP6 = '2001:db8:f::1';

const any = (): MatchIR => ({ sets: [], notSets: [], ports: [], notPorts: [] });
const rule = (family: 4 | 6, action: RuleIR['action'], over: Partial<RuleIR> = {}): RuleIR => ({ family, action, src: any(), dst: any(), ...over });
const from = (set: string): MatchIR => ({ ...any(), sets: [set] });
const port = (n: number): MatchIR => ({ ...any(), ports: [{ first: n, last: n }] });

/** w2's ingress: TCP 8080 and echo requests from w1 only (when `tcp`). */
const web = (tcp: boolean): ChainIR => ({
  id: 'web',
  kind: 'policy',
  direction: 'ingress',
  name: 'NetworkPolicy default/web',
  rules: [
    ...(tcp ? [rule(4, 'allow', { protocol: 6, src: from('w1'), dst: port(8080) }), rule(6, 'allow', { protocol: 6, src: from('w16'), dst: port(8080) })] : []),
    rule(4, 'allow', { protocol: 1, src: from('w1'), icmp: { type: 8 } }),
    rule(6, 'allow', { protocol: 58, src: from('w16'), icmp: { type: 128 } }),
  ],
});
const open = (direction: 'ingress' | 'egress'): ChainIR => ({ id: 'open', kind: 'profile', direction, name: 'Profile open', rules: [rule(4, 'allow'), rule(6, 'allow')] });

function irWith(tcp: boolean): HostPolicyIR {
  return {
    sets: [
      { id: 'w1', family: 4, members: [`${IP1}/32`], source: 'selector app == w1' },
      { id: 'w16', family: 6, members: [`${IP61}/128`], source: 'selector app == w1' },
    ],
    chains: [
      {
        id: 'noping6',
        kind: 'policy',
        direction: 'egress',
        name: 'NetworkPolicy default/noping6',
        rules: [rule(6, 'deny', { protocol: 58, icmp: { type: 128 } }), rule(4, 'allow'), rule(6, 'allow')],
      },
      web(tcp),
      open('egress'),
      open('ingress'),
    ],
    endpoints: [
      { iface: IF1, name: 'default/w1', ingress: { tiers: [], profiles: ['open'] }, egress: { tiers: [], profiles: ['open'] } },
      { iface: IF2, name: 'default/w2', ingress: { tiers: defaultTierOf(['web']), profiles: ['open'] }, egress: { tiers: defaultTierOf(['noping6']), profiles: ['open'] } },
    ],
  };
}

async function ns(netns: string, argv: string[], timeoutMs = 5000) {
  return execa('ip', ['netns', 'exec', netns, ...argv], { reject: false, timeout: timeoutMs });
}
async function ping(netns: string, ip: string): Promise<boolean> {
  return (await ns(netns, ['ping', '-n', '-q', '-c', '1', '-W', '1', ip])).exitCode === 0;
}
/** One TCP connect: `ok`, `refused` (RST: nothing listens) or `timeout` (dropped). */
async function connect(netns: string, ip: string, port: number): Promise<string> {
  const js =
    `const s=require('net').connect({host:'${ip}',port:${port}});s.setTimeout(800);` +
    `s.on('connect',()=>{console.log('ok');process.exit(0)});s.on('timeout',()=>{console.log('timeout');process.exit(0)});s.on('error',e=>{console.log(e.code==='ECONNREFUSED'?'refused':e.code);process.exit(0)})`;
  return String((await ns(netns, [process.execPath, '-e', js])).stdout).trim();
}
/** Filter tables and sets as text, without dates, counters and ipset's random hash seed. */
async function kernelState(netns: string): Promise<string> {
  const save = async (cmd: string) =>
    (await run('ip', ['netns', 'exec', netns, cmd, '-t', 'filter']))
      .split('\n')
      .filter((l) => !l.startsWith('#'))
      .map((l) => l.replace(/ \[\d+:\d+\]$/, ''))
      .join('\n');
  const sets = (await run('ip', ['netns', 'exec', netns, 'ipset', 'save']))
    .split('\n')
    .map((l) => l.replace(/ initval 0x[0-9a-f]+/, ''))
    .sort()
    .join('\n');
  return `${await save('iptables-save')}\n${await save('ip6tables-save')}\n${sets}`;
}

const procs: ResultPromise[] = [];
const started = Date.now();

beforeAll(async () => {
  await removeNetns(ALL); // a previous crashed run must not get in the way
  await ipBatch(
    undefined,
    ALL.map((n) => `netns add ${n}`),
  );
  // No DAD: addresses (the gateway link-local above all) are usable at once.
  const noDad = { 'net.ipv6.conf.all.accept_dad': '0', 'net.ipv6.conf.default.accept_dad': '0' };
  await Promise.all([H, W1, W2].map((n) => setSysctls(n, noDad)));
  await setSysctls(H, { 'net.ipv4.ip_forward': '1', 'net.ipv6.conf.all.forwarding': '1' });
  await ipBatch(H, ['link set lo up', `addr add ${HOST_IP}/32 dev lo`, `addr add ${HOST_IP6}/128 dev lo`]);
  for (const [w, iface, ip, ip6] of [
    [W1, IF1, IP1, IP61],
    [W2, IF2, IP2, IP62],
  ] as const) {
    await ipBatch(H, [
      `link add ${iface} type veth peer name eth0 netns ${w}`,
      `link set ${iface} address ee:ee:ee:ee:ee:ee`,
      `link set ${iface} up`,
      `route add ${ip}/32 dev ${iface} scope link`,
      `route add ${ip6}/128 dev ${iface}`,
    ]);
    await setSysctls(H, { [`net.ipv4.conf.${iface}.proxy_arp`]: '1', [`net.ipv4.neigh.${iface}.proxy_delay`]: '0' });
    await ipBatch(w, [
      'link set lo up',
      `addr add ${ip}/32 dev eth0`,
      'link set eth0 up',
      // Proxy ARP answers only for a target routed through another interface, and this host has
      // no fabric link to route 169.254.1.1 through: a static neighbour stands in for it.
      'neigh replace 169.254.1.1 lladdr ee:ee:ee:ee:ee:ee dev eth0 nud permanent',
      'route add 169.254.1.1 dev eth0 scope link',
      'route add default via 169.254.1.1 dev eth0',
      `addr add ${ip6}/128 dev eth0 nodad`,
      'route add default via fe80::ecee:eeff:feee:eeee dev eth0',
    ]);
  }
  // Echo servers on two ports in w2 (v4 and v6).
  for (const p of [8080, 9090]) {
    const server = execa('ip', ['netns', 'exec', W2, process.execPath, '-e', `require('net').createServer(s=>s.pipe(s)).listen(${p},'::',()=>console.log('listening'))`], { reject: false });
    procs.push(server);
    await new Promise<void>((resolve) => server.stdout!.once('data', () => resolve()));
  }
  // Plumbing works before any policy.
  await waitFor('w1 reaches w2 without policy', async () => (await ping(W1, IP2)) && (await ping(W1, IP62)), 10_000);
});

afterAll(async () => {
  for (const p of procs) p.kill();
  await removeNetns(ALL);
  console.log(`policy-iptables integration: ${((Date.now() - started) / 1000).toFixed(1)} s`);
});

describe('IptablesPolicy on a host namespace with two workloads', () => {
  const policy = new IptablesPolicy(H);
  let client: ResultPromise;
  let clientOut = '';
  const echoed = (word: string) => waitFor(`echo of ${word}`, async () => clientOut.includes(`echo:${word}`), 3000, 50);

  it('first apply writes everything; the allowed flows pass, the denied ones are dropped', async () => {
    const r = await policy.apply(irWith(true));
    expect(r).toEqual({ chains: 21, sets: 2 });
    expect(await connect(W1, IP2, 8080)).toBe('ok');
    expect(await connect(W1, IP62, 8080)).toBe('ok');
    expect(await connect(W1, IP2, 9090)).toBe('timeout'); // something listens, but no rule allows it
    expect(await ping(W1, IP2)).toBe(true);
    expect(await ping(W1, IP62)).toBe(true);
    // w2's egress: ping6 denied (to w1 through FORWARD, to the host through INPUT), IPv4 allowed.
    expect(await ping(W2, IP1)).toBe(true);
    expect(await ping(W2, IP61)).toBe(false);
    expect(await ping(W2, HOST_IP6)).toBe(false);
    expect(await ping(W2, HOST_IP)).toBe(true);
    expect(await ping(W1, HOST_IP6)).toBe(true);
    // The host reaches w2 on a port no rule allows: host → workload is not policed (OUTPUT).
    expect(await connect(H, IP2, 9090)).toBe('ok');
  });

  it('applying the same IR again runs nothing', async () => {
    expect(await policy.apply(irWith(true))).toEqual({ chains: 0, sets: 0 });
  });

  it('an established TCP connection survives a change that denies new ones', async () => {
    client = execa(
      'ip',
      [
        'netns',
        'exec',
        W1,
        process.execPath,
        '-e',
        `const s=require('net').connect(8080,'${IP2}',()=>console.log('connected'));s.setEncoding('utf8');s.on('data',d=>process.stdout.write('echo:'+d));process.stdin.on('data',d=>s.write(d));s.on('error',e=>console.log('error '+e.code))`,
      ],
      { reject: false, stdin: 'pipe' },
    );
    procs.push(client);
    client.stdout!.on('data', (d: Buffer) => {
      clientOut += d.toString();
    });
    await waitFor('client connected', async () => clientOut.includes('connected'), 3000, 50);
    client.stdin!.write('one\n');
    await echoed('one');

    const r = await policy.apply(irWith(false));
    expect(r).toEqual({ chains: 1, sets: 0 }); // cali-pi-web only
    expect(await connect(W1, IP2, 8080)).toBe('timeout');
    expect(await ping(W1, IP2)).toBe(true);
    client.stdin!.write('two\n');
    await echoed('two');
  });

  it('a restarted agent (a fresh IptablesPolicy) rebuilds exactly the same rules and drops stale sets', async () => {
    const before = await kernelState(H);
    await run('ip', ['netns', 'exec', H, 'ipset', 'create', 'cali40s:stale', 'hash:net']);
    const fresh = new IptablesPolicy(H);
    const r = await fresh.apply(irWith(false));
    expect(r).toEqual({ chains: 21, sets: 3 });
    expect(await kernelState(H)).toBe(before);
    expect(before).toContain(':cali-tw-caliipt000002 -');
    // The full rewrite swaps tables atomically: the established connection did not notice.
    client.stdin!.write('three\n');
    await echoed('three');
    expect(await fresh.apply(irWith(false))).toEqual({ chains: 0, sets: 0 });
  });

  it('remove() takes away every chain, hook and set of ours, and is idempotent', async () => {
    await policy.remove();
    const state = await kernelState(H);
    expect(state).not.toMatch(/cali/);
    expect(await connect(W1, IP2, 9090)).toBe('ok');
    expect(await ping(W2, IP61)).toBe(true);
    await policy.remove();
  });
});

describe("IptablesPolicy and the unit test's golden IR", () => {
  it('the kernel takes the full texts and the deltas; remove() leaves nothing', async () => {
    const ir = JSON.parse(readFileSync(new URL('../unit/golden/policy-iptables/host-ir.json', import.meta.url), 'utf8')) as HostPolicyIR;
    const p = new IptablesPolicy(X);
    expect((await p.apply(ir)).chains).toBe(23);
    let state = await kernelState(X);
    expect(state).toContain('-A cali-pi-npweb -p tcp -m comment --comment "NetworkPolicy tenant-a/web rule 1"');
    expect(state).toContain('add cali40s:all4 128.0.0.0/1');
    // Label change (set members only), then an endpoint gone: both deltas.
    const sets = ir.sets.map((s) => (s.id === 'web4' ? { ...s, members: ['198.19.0.1/32', '198.19.0.2/32'] } : s));
    expect(await p.apply({ ...ir, sets })).toEqual({ chains: 0, sets: 1 });
    expect(await kernelState(X)).toContain('add cali40s:web4 198.19.0.2');
    expect((await p.apply({ ...ir, sets, endpoints: ir.endpoints.slice(1) })).chains).toBe(4);
    state = await kernelState(X);
    expect(state).not.toContain('cali-tw-cali0123456789a');
    await p.remove();
    expect(await kernelState(X)).not.toMatch(/cali/);
  });
});
