import { execa, type ResultPromise } from 'execa';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workloadIfaceSysctls } from '../../src/cni/sysctls.js';
import { HOST_VETH_MAC, WORKLOAD_GATEWAY, WORKLOAD_GATEWAY6 } from '../../src/cni/workload.js';
import type { ChainIR, HostPolicyIR, MatchIR, RuleIR } from '../../src/policy/ir.js';
import { defaultTierOf } from '../../src/policy/ir.js';
import { NftPolicy } from '../../src/policy/nftables-apply.js';
import { removeNetns } from '../../src/sim/backends/procs.js';
import { inNetns, ipBatch, run, setSysctls, tryRun, waitFor } from '../../src/util/exec.js';

/**
 * The nftables policy dataplane against the real kernel: a "host" namespace with two workloads
 * behind cali* veths (wired as src/cni/workload.ts does), real traffic through it, and every
 * golden script of the unit test fed to the real `nft`.
 */
const HOST = 'csim_t-nft_h';
const SCRATCH = 'csim_t-nft_s'; // golden checks, away from the traffic
const W = {
  a: { ns: 'csim_t-nft_a', iface: 'cali0000000000a', ip: '198.19.200.1', ip6: '2001:db8:1::a' },
  b: { ns: 'csim_t-nft_b', iface: 'cali0000000000b', ip: '198.19.200.2', ip6: '2001:db8:1::b' },
};
const ALL_NS = [HOST, SCRATCH, W.a.ns, W.b.ns];
const GOLDEN = fileURLToPath(new URL('../unit/golden/policy-nftables/', import.meta.url));

// ---- the IR states the host goes through -------------------------------------------------------
const anyM = (): MatchIR => ({ sets: [], notSets: [], ports: [], notPorts: [] });
const fromA = (m: Partial<MatchIR> = {}): MatchIR => ({ ...anyM(), sets: ['wa4'], ...m });
const rule = (r: Partial<RuleIR> & Pick<RuleIR, 'family' | 'action'>): RuleIR => ({ src: anyM(), dst: anyM(), ...r });
const profile = (direction: 'ingress' | 'egress'): ChainIR => ({
  id: 'kns',
  kind: 'profile',
  direction,
  name: 'Profile kns.default',
  rules: [rule({ family: 4, action: 'allow' }), rule({ family: 6, action: 'allow' })],
});
const policyB = (rules: RuleIR[]): ChainIR => ({ id: 'bweb', kind: 'policy', direction: 'ingress', name: 'NetworkPolicy default/b', rules });
const ep = (w: typeof W.a, policies: string[] = []) => ({
  iface: w.iface,
  name: `default/${w.ns}`,
  ingress: { tiers: defaultTierOf(policies), profiles: ['kns'] },
  egress: { tiers: [], profiles: ['kns'] },
});
const sets = [
  { id: 'wa4', family: 4 as const, members: [`${W.a.ip}/32`], source: 'selector app == a' },
  { id: 'wa6', family: 6 as const, members: [`${W.a.ip6}/128`], source: 'selector app == a' },
];
/** Profiles only: everything allowed. */
const open: HostPolicyIR = { sets, chains: [profile('ingress'), profile('egress')], endpoints: [ep(W.a), ep(W.b)] };
/** b accepts TCP 8080 and ping from a over IPv4; nothing else (IPv6 included). */
const web: HostPolicyIR = {
  sets,
  chains: [
    policyB([
      rule({ family: 4, action: 'allow', protocol: 6, src: fromA(), dst: { ...anyM(), ports: [{ first: 8080, last: 8080 }] } }),
      rule({ family: 4, action: 'allow', protocol: 1, icmp: { type: 8 }, src: fromA() }),
    ]),
    profile('ingress'),
    profile('egress'),
  ],
  endpoints: [ep(W.a), ep(W.b, ['bweb'])],
};
/** b accepts only UDP 53 from a: new TCP connections and pings are dropped. */
const lockdown: HostPolicyIR = {
  ...web,
  chains: [policyB([rule({ family: 4, action: 'allow', protocol: 17, src: fromA(), dst: { ...anyM(), ports: [{ first: 53, last: 53 }] } })]), profile('ingress'), profile('egress')],
};

/** a's egress allows only TCP 8080 and 9090; b's ingress as in `web`: each side drops something the other allows. */
const both: HostPolicyIR = {
  sets,
  chains: [
    {
      id: 'aeg',
      kind: 'policy',
      direction: 'egress',
      name: 'NetworkPolicy default/a',
      rules: [
        rule({
          family: 4,
          action: 'allow',
          protocol: 6,
          dst: {
            ...anyM(),
            ports: [
              { first: 8080, last: 8080 },
              { first: 9090, last: 9090 },
            ],
          },
        }),
      ],
    },
    ...web.chains,
  ],
  endpoints: [{ ...ep(W.a), egress: { tiers: defaultTierOf(['aeg']), profiles: ['kns'] } }, ep(W.b, ['bweb'])],
};

// ---- probes ------------------------------------------------------------------------------------
const node = (ns: string, script: string, ...args: string[]) => inNetns(ns, [process.execPath, '-e', script, ...args]);

async function ping(ns: string, ip: string): Promise<boolean> {
  const r = await tryRun('ip', ['netns', 'exec', ns, 'ping', '-n', '-q', '-c', '1', '-W', '1', ip]);
  return r.exitCode === 0;
}

const CONNECT = `const [h,p]=process.argv.slice(1);const s=require('net').connect(+p,h);
setTimeout(()=>{console.log('timeout');process.exit(2)},1000);
s.on('connect',()=>{console.log('connected');process.exit(0)});s.on('error',e=>{console.log(e.code);process.exit(1)})`;
/** A new TCP connection from `ns`: 'connected', 'timeout' (dropped) or an error code. */
async function connect(ns: string, ip: string, port: number): Promise<string> {
  const [cmd, ...args] = node(ns, CONNECT, ip, String(port));
  return (await tryRun(cmd!, args, { timeoutMs: 5000 })).stdout.trim();
}

const ECHO_SERVER = `const net=require('net');for(const p of [8080,9090])net.createServer(s=>s.pipe(s)).listen(p,'::')`;
/** Sends stdin lines over one TCP connection and prints what comes back. */
const LINE_CLIENT = `const [h,p]=process.argv.slice(1);const s=require('net').connect(+p,h);
s.on('data',d=>process.stdout.write(d));s.on('error',e=>{console.error(e.code);process.exit(1)});process.stdin.on('data',d=>s.write(d))`;

/** An established connection: `echo(text)` resolves once the text came back through the host. */
class Session {
  private out = '';
  constructor(private proc: ResultPromise) {
    proc.stdout!.on('data', (d: Buffer) => {
      this.out += d.toString();
    });
  }
  async echo(text: string): Promise<boolean> {
    this.proc.stdin!.write(`${text}\n`);
    return waitFor(`echo of ${text}`, async () => this.out.includes(text), 3000, 50).then(
      () => true,
      () => false,
    );
  }
}

// ---- nft helpers -------------------------------------------------------------------------------
async function nft(ns: string, args: string[], input?: string): Promise<string> {
  const [cmd, ...rest] = inNetns(ns, ['nft', ...args]);
  return run(cmd!, rest, input === undefined ? {} : { input });
}
const listRuleset = (ns: string) => nft(ns, ['list', 'ruleset']);

/**
 * The ruleset as a sorted list of objects without handles (and map/set elements sorted): equal
 * for two tables with the same content built in different orders (a delta appends new sets
 * and chains where a full rebuild puts them in IR order).
 */
async function content(ns: string): Promise<string> {
  const items = (JSON.parse(await nft(ns, ['-j', 'list', 'ruleset'])) as { nftables: Record<string, Record<string, unknown>>[] }).nftables;
  const perChain = new Map<string, number>();
  return items
    .filter((x) => !('metainfo' in x))
    .map((x) => {
      const [kind, v] = Object.entries(x)[0]!;
      const { handle: _h, ...rest } = v;
      if (Array.isArray(rest.elem)) rest.elem = rest.elem.map((e) => JSON.stringify(e)).sort();
      if (kind !== 'rule') return `${kind} ${JSON.stringify(rest)}`;
      const i = perChain.get(String(rest.chain)) ?? 0;
      perChain.set(String(rest.chain), i + 1);
      return `rule ${String(rest.chain)} ${String(i).padStart(4, '0')} ${JSON.stringify(rest)}`;
    })
    .sort()
    .join('\n');
}

// ---- the scratch host --------------------------------------------------------------------------
const children: ResultPromise[] = [];

beforeAll(async () => {
  await removeNetns(ALL_NS); // leftovers of a crashed run
  await ipBatch(
    undefined,
    ALL_NS.map((n) => `netns add ${n}`),
  );
  // The host-side link-local (the IPv6 gateway) must be usable at once: no DAD on new links.
  await setSysctls(HOST, { 'net.ipv4.ip_forward': '1', 'net.ipv6.conf.all.forwarding': '1', 'net.ipv6.conf.default.accept_dad': '0' });
  await ipBatch(HOST, [
    'link set lo up',
    'addr add 198.18.0.99/32 dev lo', // the host's own address (its fabric IP in a lab)
    // Proxy ARP answers for 169.254.1.1 only if the host routes it elsewhere (a lab host has a
    // default route for that); this host has no uplink, so a route to lo stands in.
    `route add ${WORKLOAD_GATEWAY}/32 dev lo`,
  ]);
  for (const w of Object.values(W)) {
    await ipBatch(HOST, [
      `link add ${w.iface} type veth peer name eth0 netns ${w.ns}`,
      `link set ${w.iface} address ${HOST_VETH_MAC}`,
      `link set ${w.iface} up`,
      `route replace ${w.ip}/32 dev ${w.iface} scope link`,
      `route replace ${w.ip6}/128 dev ${w.iface}`,
    ]);
    await setSysctls(HOST, workloadIfaceSysctls(w.iface));
    await ipBatch(w.ns, [
      'link set lo up',
      `addr add ${w.ip}/32 dev eth0`,
      `addr add ${w.ip6}/128 dev eth0 nodad`,
      'link set eth0 up',
      `route add ${WORKLOAD_GATEWAY} dev eth0 scope link`,
      `route add default via ${WORKLOAD_GATEWAY} dev eth0`,
      `route add default via ${WORKLOAD_GATEWAY6} dev eth0`,
    ]);
  }
  const [cmd, ...args] = node(W.b.ns, ECHO_SERVER);
  children.push(execa(cmd!, args, { reject: false }));
  await waitFor('echo server in b', async () => (await connect(W.a.ns, W.b.ip, 8080)) === 'connected', 10_000);
  await waitFor('IPv6 between the workloads (no policy yet)', () => ping(W.a.ns, W.b.ip6), 10_000);
});

afterAll(async () => {
  for (const c of children) c.kill();
  await removeNetns(ALL_NS);
});

describe('every golden script of the unit test is accepted by the real nft', () => {
  const files = readdirSync(GOLDEN)
    .filter((f) => f.endsWith('.nft'))
    .sort();

  it('full scripts pass `nft -c -f` (check mode) in a scratch namespace', async () => {
    const full = files.filter((f) => !f.endsWith('.delta.nft'));
    expect(full.length).toBeGreaterThanOrEqual(5);
    for (const f of full) await nft(SCRATCH, ['-c', '-f', join(GOLDEN, f)]);
  });

  it('each delta, checked and applied on top of base.nft, gives the same table as its full script', async () => {
    const deltas = files.filter((f) => f.endsWith('.delta.nft'));
    expect(deltas.length).toBeGreaterThanOrEqual(3);
    for (const f of deltas) {
      await nft(SCRATCH, ['-f', join(GOLDEN, 'base.nft')]);
      await nft(SCRATCH, ['-c', '-f', join(GOLDEN, f)]);
      await nft(SCRATCH, ['-f', '-'], readFileSync(join(GOLDEN, f), 'utf8'));
      const viaDelta = await content(SCRATCH);
      await nft(SCRATCH, ['-f', join(GOLDEN, f.replace('.delta.nft', '.full.nft'))]);
      expect(viaDelta, f).toBe(await content(SCRATCH));
    }
  });
});

describe('NftPolicy on a host namespace with two workloads, proven with real traffic', () => {
  let agent: NftPolicy;
  let session: Session;

  it('open (profiles only): pings both ways on IPv4 and IPv6, any TCP port', async () => {
    agent = new NftPolicy(HOST);
    expect(await agent.apply(open)).toEqual({ chains: 2 * (4 + 13 + 6), sets: 2 }); // per table (ip, ip6): 4 base chains + 13 of Calico (forward, input, output, wl-to-host, dispatch, host endpoint, host endpoint forward, failsafe, raw prerouting; the raw and mangle policy chains only with untracked or pre-DNAT policy) + 2 endpoints × 2 + 2 profile chains
    expect(await agent.apply(open)).toEqual({ chains: 0, sets: 0 });
    expect(await ping(W.a.ns, W.b.ip)).toBe(true);
    expect(await ping(W.b.ns, W.a.ip)).toBe(true);
    expect(await ping(W.a.ns, W.b.ip6)).toBe(true);
    expect(await connect(W.a.ns, W.b.ip, 9090)).toBe('connected');
  });

  it("a policy on b's ingress: the allowed flows pass, the others are dropped", async () => {
    // Delta, in each table: b's ingress chain rewritten, the policy chain added.
    expect(await agent.apply(web)).toEqual({ chains: 4, sets: 0 });
    expect(await connect(W.a.ns, W.b.ip, 8080)).toBe('connected');
    expect(await ping(W.a.ns, W.b.ip)).toBe(true);
    expect(await connect(W.a.ns, W.b.ip, 9090)).toBe('timeout'); // dropped, not refused
    expect(await ping(W.a.ns, W.b.ip6)).toBe(false); // a policy applies and has no IPv6 rule
    expect(await ping(W.b.ns, W.a.ip)).toBe(true); // a's ingress is its profile
    expect(await connect(W.b.ns, W.a.ip6, 9090)).not.toBe('timeout'); // nothing listens in a: refused, not dropped
  });

  it("a same-host packet passes both the source's egress and the destination's ingress", async () => {
    await agent.apply(both);
    expect(await connect(W.a.ns, W.b.ip, 8080)).toBe('connected'); // both allow
    expect(await connect(W.a.ns, W.b.ip, 9090)).toBe('timeout'); // a's egress allows, b's ingress drops
    expect(await ping(W.a.ns, W.b.ip)).toBe(false); // b's ingress allows, a's egress drops
    expect(await ping(W.b.ns, W.a.ip)).toBe(true); // profiles both ways (a's egress only sees the reply: established)
    await agent.apply(web);
  });

  it('an established TCP connection survives a change that denies new ones', async () => {
    const [cmd, ...args] = node(W.a.ns, LINE_CLIENT, W.b.ip, '8080');
    const proc = execa(cmd!, args, { reject: false });
    children.push(proc);
    session = new Session(proc);
    expect(await session.echo('before')).toBe(true);
    expect(await agent.apply(lockdown)).toEqual({ chains: 1, sets: 0 });
    expect(await connect(W.a.ns, W.b.ip, 8080)).toBe('timeout');
    expect(await ping(W.a.ns, W.b.ip)).toBe(false);
    expect(await session.echo('after-lockdown')).toBe(true);
    // The host itself is not policed on the way out (OUTPUT): it still reaches b.
    expect(await ping(HOST, W.b.ip)).toBe(true);
  });

  it('a label change only changes set members, and takes effect', async () => {
    const moved: HostPolicyIR = { ...web, sets: sets.map((s) => (s.id === 'wa4' ? { ...s, members: ['198.19.201.0/24'] } : s)) };
    await agent.apply(web);
    expect(await connect(W.a.ns, W.b.ip, 8080)).toBe('connected');
    expect(await agent.apply(moved)).toEqual({ chains: 0, sets: 1 });
    expect(await connect(W.a.ns, W.b.ip, 8080)).toBe('timeout');
    await agent.apply(lockdown);
  });

  it('a restarted agent rebuilds the same ruleset, and established connections live on', async () => {
    const before = await content(HOST); // built by a full apply and several deltas
    const first = new NftPolicy(HOST);
    expect(await first.apply(lockdown)).toEqual({ chains: 2 * (4 + 13 + 7), sets: 2 });
    const rebuilt = await listRuleset(HOST);
    expect(await content(HOST)).toBe(before); // same content (a delta appends, a rebuild orders by IR)
    await new NftPolicy(HOST).apply(lockdown);
    expect(await listRuleset(HOST)).toBe(rebuilt); // and a rebuild of a rebuild is identical, byte for byte
    expect(await session.echo('after-restart')).toBe(true);
    expect(await connect(W.a.ns, W.b.ip, 8080)).toBe('timeout');
  });

  it('a cali interface missing from the IR is cut off; remove() drops the table and is idempotent', async () => {
    await agent.apply({ ...open, endpoints: [ep(W.a)] });
    expect(await ping(W.a.ns, W.b.ip)).toBe(false);
    expect(await ping(W.b.ns, W.a.ip)).toBe(false);
    await agent.remove();
    await agent.remove();
    expect(await listRuleset(HOST)).toBe('');
    expect(await connect(W.a.ns, W.b.ip, 9090)).toBe('connected');
  });
});
