import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Dataplane, DataplaneError, type ApplyResult, type ProcSys } from '../../src/agent/dataplane.js';
import { AGENT_ROUTE_PROTO, HOST_SYSCTLS, type DesiredRoute, type DesiredState } from '../../src/agent/desired.js';
import { BirdConfd } from '../../src/bgp/confd.js';
import { EMPTY_POLICY } from '../../src/policy/ir.js';
import { BackendError, CommandError } from '../../src/util/errors.js';
import type { CommandOptions, CommandResult, CommandRunner } from '../../src/util/exec.js';

/** A route as the kernel holds it (and `ip -j route` prints it). */
interface KernelRoute {
  dst: string;
  type?: 'blackhole';
  dev?: string;
  gateway?: string;
  protocol: string;
  scope?: string;
}

interface Call {
  argv: string[];
  input?: string;
}

/**
 * A kernel behind a CommandRunner: it records every command, answers `ip -j -batch -` of
 * `link show` and `route show table all proto N` from its state, and applies `ip -batch` route lines to it. The policy
 * tools succeed with nothing to say. Anything else is an unexpected command, and fails.
 */
class FakeKernel implements CommandRunner {
  calls: Call[] = [];
  /** The next this many `ip -batch` runs fail whole (as with EPERM): nothing changes. */
  failBatches = 0;
  /** Commands (argv joined with spaces) that fail with this stderr. */
  failing = new Map<string, string>();
  /** An interface's ifindex, when not its position + 1 (a veth made anew). */
  ifindex = new Map<string, number>();

  constructor(
    public routes: KernelRoute[],
    public links: string[],
  ) {}

  async run(argv: readonly string[], opts: CommandOptions = {}): Promise<CommandResult> {
    this.calls.push({ argv: [...argv], ...(opts.input !== undefined ? { input: opts.input } : {}) });
    const r = this.answer([...argv], opts.input ?? '');
    if (r.exitCode !== 0 && opts.reject !== false) throw new CommandError({ argv, ...r });
    return r;
  }

  private answer(argv: string[], input: string): CommandResult {
    const ok = (stdout = ''): CommandResult => ({ stdout, stderr: '', exitCode: 0 });
    const cmd = argv.join(' ');
    const failure = this.failing.get(cmd);
    if (failure !== undefined) return { stdout: '', stderr: failure, exitCode: 1 };
    if (argv[0] === 'nsenter' && argv[1]?.startsWith('--net=') && argv[2] === '--') return this.answer(argv.slice(3), input);
    const ip = argv[0] === 'ip' && argv[1] === '-n' ? ['ip', ...argv.slice(3)] : argv;
    if (ip.join(' ') === 'ip -j -batch -')
      return ok(
        input
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.stringify(this.read(l)))
          .join('\n'),
      );
    if (ip.join(' ') === 'ip -force -batch -') return this.batch(input);
    if (cmd === 'ipset list -n' || cmd === 'nft list tables') return ok();
    if (['ipset restore -exist', 'iptables-restore -w', 'ip6tables-restore -w', 'iptables-restore -w --noflush', 'ip6tables-restore -w --noflush'].includes(cmd)) return ok();
    if (argv[0] === 'sysctl') return ok();
    return { stdout: '', stderr: `fake kernel: unexpected command: ${cmd}`, exitCode: 127 };
  }

  /** `link show`, or `route show table all proto N` (both families, as the kernel dumps them). */
  private read(line: string): object[] {
    if (line === 'link show') return this.links.map((ifname, i) => ({ ifname, ifindex: this.ifindex.get(ifname) ?? i + 1 }));
    const proto = /^route show table all proto (\w+)$/.exec(line)?.[1];
    if (!proto) throw new Error(`fake kernel: cannot read "${line}"`);
    return this.routes
      .filter((r) => r.protocol === proto)
      .map(({ dst, ...rest }) => ({ ...(rest.type ? { type: rest.type } : {}), dst: dst.replace(dst.includes(':') ? /\/128$/ : /\/32$/, ''), ...rest, flags: [] }));
  }

  private batch(input: string): CommandResult {
    if (this.failBatches > 0) {
      this.failBatches--;
      return { stdout: '', stderr: 'RTNETLINK answers: Operation not permitted\nCommand failed -:1', exitCode: 1 };
    }
    const errors: string[] = [];
    input
      .split('\n')
      .filter(Boolean)
      .forEach((line, i) => {
        const words = line.split(' ');
        if (words[0] !== 'route' || (words[1] !== 'replace' && words[1] !== 'del')) throw new Error(`fake kernel: cannot do "${line}"`);
        const rest = words.slice(2);
        const blackhole = rest[0] === 'blackhole';
        if (blackhole) rest.shift();
        const dst = rest.shift()!;
        const arg = (k: string) => {
          const at = rest.indexOf(k);
          return at < 0 ? undefined : rest[at + 1];
        };
        const proto = arg('proto') ?? 'boot';
        if (words[1] === 'del') {
          const at = this.routes.findIndex((r) => r.dst === dst && r.protocol === proto && (!blackhole || r.type === 'blackhole'));
          if (at < 0) errors.push(`RTNETLINK answers: No such process\nCommand failed -:${i + 1}`);
          else this.routes.splice(at, 1);
          return;
        }
        const gateway = arg('via');
        const dev = arg('dev');
        const scope = arg('scope');
        const route: KernelRoute = blackhole
          ? { type: 'blackhole', dst, protocol: proto }
          : { dst, ...(gateway ? { gateway } : {}), ...(dev ? { dev } : {}), protocol: proto, ...(scope ? { scope } : {}) };
        this.routes = [...this.routes.filter((r) => r.dst !== dst), route];
      });
    return errors.length ? { stdout: '', stderr: errors.join('\n'), exitCode: 1 } : { stdout: '', stderr: '', exitCode: 0 };
  }
}

/** /proc/sys of the agent's own namespace, in memory; records what is written. */
class FakeProcSys implements ProcSys {
  values = new Map<string, string>();
  writes: string[] = [];
  read(key: string): string {
    return `${this.values.get(key) ?? '0'}\n`;
  }
  write(key: string, value: string): void {
    this.writes.push(`${key}=${value}`);
    this.values.set(key, value);
  }
}

/** Commands that only read the kernel. */
const isRead = (c: Call) => (c.argv[0] === 'ip' && c.argv.includes('-j')) || c.argv.join(' ') === 'ipset list -n' || c.argv.join(' ') === 'nft list tables';
const isBatch = (c: Call) => c.argv.includes('ip') && c.argv.includes('-batch') && c.argv.includes('-force');

const P = AGENT_ROUTE_PROTO;

const desired = (routes: DesiredRoute[], workloadIfaces: string[]): DesiredState => ({
  routes,
  workloadIfaces,
  natTable: '',
  policy: EMPTY_POLICY,
  policyDataplane: 'iptables',
  problems: [],
  bird: { host: 'h1', routerId: '198.18.0.11', asNumber: 64512, sessions: [], localBlocks: [], pools: [] },
});

/** Host h1: three workloads, of which cali3's veth does not exist yet (its blocks' blackholes are BIRD's). */
const H1 = desired(
  [
    { dst: '198.19.0.1/32', type: 'unicast', dev: 'cali1' },
    { dst: '198.19.0.2/32', type: 'unicast', dev: 'cali2' },
    { dst: 'fd00:10::1/128', type: 'unicast', dev: 'cali1' },
    { dst: '198.19.0.3/32', type: 'unicast', dev: 'cali3' },
  ],
  ['cali1', 'cali2', 'cali3'],
);
const LINKS = ['lo', 'eth0', 'cali1', 'cali2'];

const H1_BATCH = `${[
  `route replace 198.19.0.1/32 dev cali1 scope link proto ${P}`,
  `route replace 198.19.0.2/32 dev cali2 scope link proto ${P}`,
  `route replace fd00:10::1/128 dev cali1 proto ${P}`,
].join('\n')}\n`;

/** What the kernel holds once H1 is applied. */
const H1_KERNEL: KernelRoute[] = [
  { dst: '198.19.0.1/32', dev: 'cali1', protocol: String(P), scope: 'link' },
  { dst: '198.19.0.2/32', dev: 'cali2', protocol: String(P), scope: 'link' },
  { dst: 'fd00:10::1/128', dev: 'cali1', protocol: String(P) },
];

/**
 * Routes that are not the agent's: other protocols (the CNI's `static`, BIRD's blackhole and BGP
 * routes, the kernel's), and `boot` routes on other devices (the default route): never read as
 * ours, never touched.
 */
const FOREIGN: KernelRoute[] = [
  { dst: '198.18.0.0/16', dev: 'eth0', protocol: 'kernel', scope: 'link' },
  { dst: 'default', gateway: '198.18.0.1', dev: 'eth0', protocol: String(P) },
  { dst: '198.19.0.128/26', gateway: '198.18.0.12', dev: 'eth0', protocol: 'bird' },
  { type: 'blackhole', dst: '198.19.0.0/26', protocol: 'bird' },
  { dst: '198.19.0.5/32', dev: 'calistatic', protocol: 'static', scope: 'link' },
];

const byDst = (routes: KernelRoute[]) => [...routes].sort((a, b) => a.dst.localeCompare(b.dst));

interface Step {
  /** Done to the kernel before this apply: a route deleted by hand, a stale one left behind... */
  before?: (k: FakeKernel) => void;
  /** The `ip -batch` of this apply fails. */
  failBatch?: boolean;
  /** The text of the one `ip -batch` this apply runs; null: it runs none. */
  batch: string | null;
  /** What apply returns (or, when the batch fails, what the DataplaneError says it did). */
  result: ApplyResult;
  /** Nothing at all is written: no batch, no ruleset, no sysctl. */
  noWrite?: boolean;
}

interface Case {
  name: string;
  kernel: KernelRoute[];
  steps: Step[];
  /** The kernel's routes after the last step. */
  after: KernelRoute[];
}

const converged: ApplyResult = { added: 0, removed: 0, skipped: 1, policy: { chains: 0, sets: 0 } };
/** The first apply rewrites the whole ruleset: how many chains that is, is the compiler's business. */
const wholeRuleset = { chains: expect.any(Number) as number, sets: expect.any(Number) as number };
const fromEmpty = (policy = wholeRuleset): ApplyResult => ({ added: 3, removed: 0, skipped: 1, policy });

const cases: Case[] = [
  {
    name: 'from an empty kernel, one batch adds the workload routes (not the workload whose veth is missing)',
    kernel: [],
    steps: [{ batch: H1_BATCH, result: fromEmpty() }],
    after: H1_KERNEL,
  },
  {
    name: 'a second apply of the same desired state writes nothing',
    kernel: [...FOREIGN],
    steps: [
      { batch: H1_BATCH, result: fromEmpty() },
      { batch: null, result: converged, noWrite: true },
    ],
    after: [...FOREIGN, ...H1_KERNEL],
  },
  {
    name: 'a route deleted by hand is re-added and a stale route of ours removed, in one batch; routes of other protocols are left alone',
    kernel: [...FOREIGN],
    steps: [
      { batch: H1_BATCH, result: fromEmpty() },
      {
        before: (k) => {
          k.routes = k.routes.filter((r) => r.dst !== '198.19.0.2/32');
          k.routes.push({ dst: '198.19.0.9/32', dev: 'caligone', protocol: String(P), scope: 'link' });
        },
        batch: `${[`route del 198.19.0.9/32 dev caligone proto ${P}`, `route replace 198.19.0.2/32 dev cali2 scope link proto ${P}`].join('\n')}\n`,
        result: { added: 1, removed: 1, skipped: 1, policy: { chains: 0, sets: 0 } },
      },
      { batch: null, result: converged, noWrite: true },
    ],
    after: [...FOREIGN, ...H1_KERNEL],
  },
  {
    name: 'a route moved to another device is replaced; one that appears with its veth is added',
    kernel: [],
    steps: [
      { batch: H1_BATCH, result: fromEmpty() },
      {
        before: (k) => {
          k.routes = k.routes.map((r) => (r.dst === '198.19.0.1/32' ? { ...r, dev: 'caliold' } : r));
          k.links.push('cali3');
        },
        batch: `${[`route replace 198.19.0.1/32 dev cali1 scope link proto ${P}`, `route replace 198.19.0.3/32 dev cali3 scope link proto ${P}`].join('\n')}\n`,
        result: { added: 2, removed: 0, skipped: 0, policy: { chains: 0, sets: 0 } },
      },
    ],
    after: [...H1_KERNEL, { dst: '198.19.0.3/32', dev: 'cali3', protocol: String(P), scope: 'link' }],
  },
  {
    name: 'a failed batch makes apply throw, and the next apply retries it',
    kernel: [],
    steps: [
      { failBatch: true, batch: H1_BATCH, result: fromEmpty() },
      { batch: H1_BATCH, result: fromEmpty({ chains: 0, sets: 0 }) },
      { batch: null, result: converged, noWrite: true },
    ],
    after: H1_KERNEL,
  },
];

describe('Dataplane.apply against a fake kernel', () => {
  it.each(cases)('$name', async ({ kernel: initial, steps, after }) => {
    const kernel = new FakeKernel(structuredClone(initial), [...LINKS]);
    const procSys = new FakeProcSys();
    const dp = new Dataplane(undefined, { runner: kernel, procSys });
    for (const [i, step] of steps.entries()) {
      step.before?.(kernel);
      kernel.calls = [];
      procSys.writes = [];
      if (step.failBatch) kernel.failBatches = 1;
      const outcome = await dp.apply(H1).then(
        (result) => ({ result }),
        (err: unknown) => ({ err }),
      );
      let result: ApplyResult;
      if ('result' in outcome) {
        expect(step.failBatch, `step ${i}: apply succeeded`).toBeFalsy();
        result = outcome.result;
      } else {
        expect(step.failBatch, `step ${i}: ${String(outcome.err)}`).toBe(true);
        expect(outcome.err).toBeInstanceOf(DataplaneError);
        const e = outcome.err as DataplaneError;
        expect(e.failures.map((f) => f.step)).toEqual(['routes']);
        expect(e.cause).toBeInstanceOf(CommandError);
        expect(e.cause).toMatchObject({ argv: ['ip', '-force', '-batch', '-'], exitCode: 1, stderr: 'RTNETLINK answers: Operation not permitted\nCommand failed -:1' });
        expect(e.message).toBe('command failed: ip -force -batch - (exit code 1): RTNETLINK answers: Operation not permitted | Command failed -:1');
        result = e.result;
      }
      const batches = kernel.calls.filter(isBatch);
      expect(
        batches.map((c) => c.input),
        `step ${i}: batches`,
      ).toEqual(step.batch === null ? [] : [step.batch]);
      expect(result, `step ${i}: result`).toEqual(step.result);
      if (step.noWrite) {
        expect(
          kernel.calls.filter((c) => !isRead(c)),
          `step ${i}: writes`,
        ).toEqual([]);
        expect(procSys.writes, `step ${i}: sysctl writes`).toEqual([]);
      }
    }
    expect(byDst(kernel.routes)).toEqual(byDst(after));
  });

  it("reads only its protocol's routes on workload interfaces (Felix owns its interfaces' routes), and tells host routes from prefixes", async () => {
    const kernel = new FakeKernel([...FOREIGN, ...H1_KERNEL], [...LINKS]);
    const dp = new Dataplane(undefined, { runner: kernel, procSys: new FakeProcSys() });
    expect((await dp.readKernel()).routes).toEqual([
      { dst: '198.19.0.1/32', type: 'unicast', dev: 'cali1' },
      { dst: '198.19.0.2/32', type: 'unicast', dev: 'cali2' },
      { dst: 'fd00:10::1/128', type: 'unicast', dev: 'cali1' },
    ]);
    expect(kernel.calls.map((c) => [c.argv.join(' '), c.input])).toEqual([['ip -j -batch -', `link show\nroute show table all proto ${P}\n`]]);
  });

  it('in its own namespace, sets only the sysctls that differ, through /proc/sys', async () => {
    const kernel = new FakeKernel([], [...LINKS]);
    const procSys = new FakeProcSys();
    procSys.values.set('net.ipv4.ip_forward', '1');
    await new Dataplane(undefined, { runner: kernel, procSys }).apply(H1);
    expect(procSys.writes).toEqual([
      'net.ipv6.conf.all.forwarding=1',
      ...['cali1', 'cali2'].flatMap((i) => [`net.ipv4.conf.${i}.forwarding=1`, `net.ipv4.conf.${i}.rp_filter=1`, `net.ipv4.conf.${i}.proxy_arp=1`]),
    ]);
    expect(kernel.calls.filter((c) => c.argv.includes('sysctl'))).toEqual([]);
  });

  it('driving a named namespace, every command says which one (and /proc/sys is not touched)', async () => {
    const kernel = new FakeKernel([], [...LINKS]);
    const procSys = new FakeProcSys();
    await new Dataplane('csim-t-h1', { runner: kernel, procSys }).apply(H1);
    const sysctls = Object.entries({
      ...HOST_SYSCTLS,
      ...Object.fromEntries(
        ['cali1', 'cali2'].flatMap((i) => [
          [`net.ipv4.conf.${i}.forwarding`, '1'],
          [`net.ipv4.conf.${i}.rp_filter`, '1'],
          [`net.ipv4.conf.${i}.proxy_arp`, '1'],
          [`net.ipv4.neigh.${i}.proxy_delay`, '0'],
        ]),
      ),
    }).map(([k, v]) => `${k}=${v}`);
    expect(kernel.calls.map((c) => c.argv.join(' '))).toEqual([
      'nsenter --net=/run/netns/csim-t-h1 -- ipset list -n',
      'nsenter --net=/run/netns/csim-t-h1 -- iptables-restore -w',
      'nsenter --net=/run/netns/csim-t-h1 -- ip6tables-restore -w',
      'nsenter --net=/run/netns/csim-t-h1 -- nft list tables',
      'nsenter --net=/run/netns/csim-t-h1 -- ip -j -batch -',
      'nsenter --net=/run/netns/csim-t-h1 -- ip -force -batch -',
      `nsenter --net=/run/netns/csim-t-h1 -- sysctl -q -w ${sysctls.join(' ')}`,
    ]);
    expect(kernel.calls.find(isBatch)?.input).toBe(H1_BATCH);
    expect(procSys.writes).toEqual([]);
  });

  it('driving a named namespace, sysctls cost a process only when they change: once, then for a veth made anew', async () => {
    const kernel = new FakeKernel([], [...LINKS]);
    const dp = new Dataplane('csim-t-h1', { runner: kernel, procSys: new FakeProcSys() });
    const sysctlCalls = () => kernel.calls.filter((c) => c.argv.includes('sysctl')).map((c) => c.argv.slice(6));
    await dp.apply(H1);
    expect(sysctlCalls()).toHaveLength(1);
    await dp.apply(H1);
    expect(sysctlCalls()).toHaveLength(1); // nothing changed: no process
    kernel.ifindex.set('cali2', 99); // cali2 deleted and made again by a workload's CNI ADD
    await dp.apply(H1);
    expect(sysctlCalls()).toHaveLength(2);
    expect(sysctlCalls()[1]).toEqual(['net.ipv4.conf.cali2.forwarding=1', 'net.ipv4.conf.cali2.rp_filter=1', 'net.ipv4.conf.cali2.proxy_arp=1', 'net.ipv4.neigh.cali2.proxy_delay=0']);
  });

  it('a failed ruleset write does not stop the routes; the error keeps the command as cause, and the next apply rewrites the ruleset', async () => {
    const kernel = new FakeKernel([], [...LINKS]);
    kernel.failing.set('iptables-restore -w', 'iptables-restore: line 3 failed');
    const dp = new Dataplane(undefined, { runner: kernel, procSys: new FakeProcSys() });
    const err = await dp.apply(H1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataplaneError);
    const e = err as DataplaneError;
    expect(e.failures.map((f) => f.step)).toEqual(['policy']);
    expect(e.message).toBe('iptables policy: command failed: iptables-restore -w (exit code 1): iptables-restore: line 3 failed');
    expect(e.cause).toBeInstanceOf(BackendError);
    expect((e.cause as Error).cause).toMatchObject({ argv: ['iptables-restore', '-w'], exitCode: 1, stderr: 'iptables-restore: line 3 failed' });
    expect(kernel.calls.filter(isBatch).map((c) => c.input)).toEqual([H1_BATCH]);

    kernel.failing.clear();
    kernel.calls = [];
    await dp.apply(H1);
    expect(kernel.calls.map((c) => c.argv.join(' ')).filter((c) => c.includes('ipset') || c.includes('tables-restore'))).toEqual(['ipset list -n', 'iptables-restore -w', 'ip6tables-restore -w']);
  });

  it('two failed steps: the error says both, and its cause holds both', async () => {
    const kernel = new FakeKernel([], [...LINKS]);
    kernel.failing.set('iptables-restore -w', 'no iptables here');
    kernel.failBatches = 1;
    const err = (await new Dataplane(undefined, { runner: kernel, procSys: new FakeProcSys() }).apply(H1).catch((e: unknown) => e)) as DataplaneError;
    expect(err.failures.map((f) => f.step)).toEqual(['policy', 'routes']);
    expect(err.message).toBe(
      [
        'iptables policy: command failed: iptables-restore -w (exit code 1): no iptables here',
        'command failed: ip -force -batch - (exit code 1): RTNETLINK answers: Operation not permitted | Command failed -:1',
      ].join('; '),
    );
    expect(err.cause).toBeInstanceOf(AggregateError);
    expect((err.cause as AggregateError).errors).toEqual(err.failures.map((f) => f.error));
  });

  it('a kernel that cannot be read: apply throws the CommandError itself, and writes nothing after it', async () => {
    const kernel = new FakeKernel([], [...LINKS]);
    kernel.failing.set('ip -j -batch -', 'Cannot open netlink socket: Permission denied');
    const err = await new Dataplane(undefined, { runner: kernel, procSys: new FakeProcSys() }).apply(H1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandError);
    expect(err).toMatchObject({ argv: ['ip', '-j', '-batch', '-'], exitCode: 1 });
    expect(kernel.calls.filter(isBatch)).toEqual([]);
  });
});

describe('BirdConfd through a runner', () => {
  const dir = mkdtempSync(join(tmpdir(), 'calico-sim-confd-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const input = H1.bird;

  it('checks the new config with bird -p, moves it into place, reloads with birdc configure; a refused reload is retried', async () => {
    const config = join(dir, 'bird.conf');
    const socket = join(dir, 'bird.ctl');
    writeFileSync(socket, ''); // BIRD is running: its control socket exists
    const calls: string[] = [];
    let refuse = true;
    const runner: CommandRunner = {
      async run(argv, opts = {}) {
        calls.push(argv.join(' '));
        const r: CommandResult =
          argv[0] === 'bird'
            ? { stdout: '', stderr: '', exitCode: 0 }
            : refuse
              ? { stdout: '', stderr: 'Unable to connect to server control socket (bird.ctl): Connection refused', exitCode: 1 }
              : { stdout: 'BIRD 2.0.12 ready.\nReading configuration from bird.conf\nReconfigured', stderr: '', exitCode: 0 };
        if (r.exitCode !== 0 && opts.reject !== false) throw new CommandError({ argv, ...r });
        return r;
      },
    };
    const confd = new BirdConfd(config, socket, runner);
    const err = await confd.update(input).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect((err as Error).message).toBe('birdc configure failed: Unable to connect to server control socket (bird.ctl): Connection refused');
    expect((err as Error).cause).toMatchObject({ argv: ['birdc', '-s', socket, 'configure'], exitCode: 1 });
    expect(calls).toEqual([`bird -p -c ${config}.new`, `birdc -s ${socket} configure`]);
    expect(existsSync(config) && readFileSync(config, 'utf8')).toContain('router id 198.18.0.11;');

    refuse = false;
    calls.length = 0;
    expect(await confd.update(input)).toBe(false); // the file did not change, the reload was still owed
    expect(calls).toEqual([`birdc -s ${socket} configure`]);
    calls.length = 0;
    expect(await confd.update(input)).toBe(false);
    expect(calls).toEqual([]);
  });
});
