import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { readFileSync, writeFileSync } from 'node:fs';
import { inNetns, ipBatch, processRunner, run, setSysctls, type CommandRunner } from '../util/exec.js';
import { BackendError, errorMessage } from '../util/errors.js';
import type { PolicyDataplaneKind } from '../model/resources.js';
import type { PolicyDataplane } from '../policy/ir.js';
import { IptablesPolicy } from '../policy/iptables-apply.js';
import { NftPolicy } from '../policy/nftables-apply.js';
import { workloadIfaceSysctls } from '../cni/sysctls.js';
import { AGENT_ROUTE_PROTO, HOST_SYSCTLS, FABRIC_DEVICE, isAgentRoute, VXLAN_DEVICE, VXLAN_PORT, VXLAN_VNI, type DesiredRoute, type DesiredState, type VxlanState } from './desired.js';

export interface ApplyResult {
  added: number;
  removed: number;
  skipped: number;
  /** Policy chains and sets written (0 when the policy did not change). */
  policy: { chains: number; sets: number };
}

/** A part of an apply that can fail on its own while the others go on. */
export type ApplyStep = 'policy' | 'vxlan' | 'routes' | 'sysctls' | 'nat';

/**
 * Some steps of an apply failed (the others were done). `result` says what the apply did or
 * tried; `failures` has each step's error (a CommandError, or an error wrapping one as `cause`).
 * The message is theirs, joined with `; `; `cause` is the error itself when there is one,
 * else an AggregateError of them all. Nothing is remembered as done: the next apply retries.
 */
export class DataplaneError extends BackendError {
  constructor(
    readonly result: ApplyResult,
    readonly failures: { step: ApplyStep; error: unknown }[],
  ) {
    const errors = failures.map((f) => f.error);
    const message = errors.map(errorMessage).join('; ');
    super(message, { cause: errors.length === 1 ? errors[0] : new AggregateError(errors, message) });
  }
}

/** Reads and writes /proc/sys of the namespace this process runs in (keys like `net.ipv4.ip_forward`). */
export interface ProcSys {
  read(key: string): string;
  write(key: string, value: string): void;
}

const procSysPath = (key: string) => `/proc/sys/${key.replaceAll('.', '/')}`;

/** The real /proc/sys. */
export const realProcSys: ProcSys = {
  read: (key) => readFileSync(procSysPath(key), 'utf8'),
  write: (key, value) => writeFileSync(procSysPath(key), value),
};

export interface DataplaneOptions {
  /** Runs every command (ip, bridge, sysctl, iptables-restore, ipset, nft): the real one unless given. */
  runner?: CommandRunner;
  /** /proc/sys, for the sysctls of the namespace this process runs in (no `netns`): the real one unless given. */
  procSys?: ProcSys;
}

/** The policy ruleset of a kind, for a namespace (undefined: the current one). */
export function policyDataplane(kind: PolicyDataplaneKind, netns: string | undefined, runner: CommandRunner = processRunner): PolicyDataplane {
  return kind === 'nftables' ? new NftPolicy(netns, runner) : new IptablesPolicy(netns, runner);
}

/** Pure: what to replace and what to delete so that `actual` becomes `desired`. */
export function diffRoutes(desired: DesiredRoute[], actual: DesiredRoute[]): { put: DesiredRoute[]; del: DesiredRoute[] } {
  const key = (r: DesiredRoute) => `${r.dst} dev ${r.dev} via ${r.via ?? '-'}`;
  const want = new Map(desired.map((r) => [r.dst, r]));
  const have = new Map(actual.map((r) => [r.dst, r]));
  return {
    put: desired.filter((r) => {
      const h = have.get(r.dst);
      return !h || key(h) !== key(r);
    }),
    del: actual.filter((r) => !want.has(r.dst)),
  };
}

/** Pure: one `ip -batch` line per route change. Every route we own carries AGENT_ROUTE_PROTO. */
export function routeLines(put: DesiredRoute[], del: DesiredRoute[]): string[] {
  return [
    ...del.map((r) => `route del ${r.dst} dev ${r.dev} proto ${AGENT_ROUTE_PROTO}`),
    ...put.map((r) =>
      r.via
        ? `route replace ${r.dst} via ${r.via} dev ${r.dev} onlink proto ${AGENT_ROUTE_PROTO}`
        : `route replace ${r.dst} dev ${r.dev}${r.dst.includes(':') ? '' : ' scope link'} proto ${AGENT_ROUTE_PROTO}`,
    ),
  ];
}

interface IpRoute {
  dst: string;
  type?: string;
  dev?: string;
  gateway?: string;
  table?: string;
  flags?: string[];
}

/**
 * The thin layer that touches one host's kernel. `netns` undefined means "the namespace this
 * process runs in" (the agent daemon); a name drives the host from outside with `ip -n`. Every
 * command goes through `options.runner`, as Felix's managers go through their shims: a test
 * gives a fake that records the commands and answers as a kernel would.
 */
export class Dataplane {
  /** What was last applied of things we cannot cheaply read back; re-applied on every change. */
  private applied = { vxlan: '', nat: '' };
  /** Sysctls written from outside the namespace, and the ifindex of each interface they name. */
  private readonly sysctlsWritten = new Map<string, string>();
  private readonly sysctlIfaces = new Map<string, number>();
  /** The ruleset last applied whole; undefined until the first apply succeeds. */
  private policy: PolicyDataplane | undefined;
  /** Rulesets of the other kind still to remove (a switch, or leftovers from before a restart). */
  private toRemove: PolicyDataplane[] | undefined;

  /** What runs its commands; the agent's BIRD reloads use it too unless told otherwise. */
  readonly runner: CommandRunner;
  private readonly procSys: ProcSys;

  constructor(
    readonly netns?: string,
    options: DataplaneOptions = {},
  ) {
    this.runner = options.runner ?? processRunner;
    this.procSys = options.procSys ?? realProcSys;
  }

  /**
   * Calls `onDeleted` whenever a route leaves this host's kernel (`ip monitor route`), so that a
   * route deleted by hand is put back in milliseconds, not at the next periodic pass — as Felix's
   * route table reacts to netlink. Returns the function that stops watching.
   */
  watchRouteDeletions(onDeleted: () => void): () => void {
    const [cmd, ...args] = inNetns(this.netns, ['ip', 'monitor', 'route']);
    const child = spawn(cmd!, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    child.once('error', () => undefined); // no `ip`: the periodic pass still repairs
    createInterface({ input: child.stdout! }).on('line', (l) => {
      if (l.startsWith('Deleted ')) onDeleted();
    });
    return () => child.kill();
  }

  /**
   * In one process (`ip -j -batch`): the interfaces of the namespace (name → ifindex; a veth made
   * again under its name has a new one) and the routes we own — our protocol's, IPv4 and IPv6
   * (`table all` dumps both families), in the main table, on workload interfaces and the VXLAN
   * device, as Felix owns the routes of the interfaces it manages (the default route, BIRD's, the
   * kernel's, the CNI's `proto static` ones are never touched).
   */
  async readKernel(): Promise<{ routes: DesiredRoute[]; links: Map<string, number> }> {
    const [cmd, ...args] = inNetns(this.netns, ['ip', '-j', '-batch', '-']);
    const out = await run(cmd!, args, { input: `link show\nroute show table all proto ${AGENT_ROUTE_PROTO}\n` }, this.runner);
    const [linkRows, routeRows] = out
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as unknown[]);
    if (!linkRows || !routeRows) throw new BackendError(`unexpected answer of ip -j -batch (link show, route show): ${out.slice(0, 200)}`);
    const links = new Map((linkRows as { ifname: string; ifindex: number }[]).map((r) => [r.ifname, r.ifindex]));
    const routes = (routeRows as IpRoute[])
      .filter((r) => (r.table ?? 'main') === 'main' && (r.type ?? 'unicast') === 'unicast' && isAgentRoute(r))
      .map((r): DesiredRoute => {
        const dst = r.dst.includes('/') ? r.dst : `${r.dst}/${r.dst.includes(':') ? 128 : 32}`;
        return { dst, type: 'unicast', dev: r.dev!, ...(r.gateway ? { via: r.gateway } : {}) };
      });
    return { routes, links };
  }

  /**
   * Reads the kernel, then converges it to `desired` in one route batch and one sysctl pass.
   * A step that fails does not stop the others: they all run, then a DataplaneError carries
   * every failure and what was done. Failing to read the kernel throws at once (a CommandError).
   */
  async apply(desired: DesiredState): Promise<ApplyResult> {
    const failures: { step: ApplyStep; error: unknown }[] = [];
    const step = async (name: ApplyStep, fn: () => Promise<void>) => {
      try {
        await fn();
      } catch (error) {
        failures.push({ step: name, error });
      }
    };
    // Policy first: a workload must never be reachable before its rules are in place (an
    // unknown cali interface is dropped by the dispatch chains until then).
    let policy = { chains: 0, sets: 0 };
    await step('policy', async () => {
      policy = await this.applyPolicy(desired);
    });
    const { routes: actual, links } = await this.readKernel();
    await step('vxlan', () => this.applyVxlan(desired.vxlan, links));
    // A workload's veth may not exist yet (its endpoint record can come first): skip it for now.
    const present = desired.routes.filter((r) => links.has(r.dev));
    const { put, del } = diffRoutes(present, actual);
    await step('routes', () => ipBatch(this.netns, routeLines(put, del), { force: true, runner: this.runner }));
    const sysctls: Record<string, string> = { ...HOST_SYSCTLS };
    for (const iface of desired.workloadIfaces.filter((i) => links.has(i))) Object.assign(sysctls, workloadIfaceSysctls(iface));
    await step('sysctls', () => this.setSysctls(sysctls, links));
    await step('nat', () => this.applyNat(desired.natTable));
    const result: ApplyResult = { added: put.length, removed: del.length, skipped: desired.routes.length - present.length, policy };
    if (failures.length) throw new DataplaneError(result, failures);
    return result;
  }

  /**
   * The policy ruleset of the lab's kind. The first apply rewrites all of ours (and removes the
   * other kind's, left by a switch while this agent was down); later ones change only the
   * difference. A switch of kind at run time removes the old ruleset after the new one is in.
   */
  private async applyPolicy(desired: DesiredState): Promise<{ chains: number; sets: number }> {
    const kind = desired.policyDataplane;
    const other = kind === 'nftables' ? 'iptables' : 'nftables';
    this.toRemove ??= [policyDataplane(other, this.netns, this.runner)];
    let r: { chains: number; sets: number };
    if (this.policy?.kind === kind) {
      r = await this.policy.apply(desired.policy);
    } else {
      const next = policyDataplane(kind, this.netns, this.runner);
      r = await next.apply(desired.policy);
      if (this.policy) this.toRemove.push(this.policy);
      this.policy = next;
    }
    // Only once the wanted ruleset is in; retried on every pass until it succeeds.
    const pending = this.toRemove.filter((d) => d.kind !== kind);
    this.toRemove = [];
    for (const d of pending) {
      try {
        await d.remove();
      } catch (err) {
        this.toRemove.push(d);
        throw err;
      }
    }
    return r;
  }

  /** The VXLAN device, its neighbour and forwarding entries per peer; removed when unwanted. */
  private async applyVxlan(v: VxlanState | undefined, links: Map<string, number>): Promise<void> {
    if (!v) {
      if (links.has(VXLAN_DEVICE)) await ipBatch(this.netns, [`link del ${VXLAN_DEVICE}`], { runner: this.runner });
      this.applied.vxlan = '';
      return;
    }
    const wanted = JSON.stringify(v);
    if (wanted === this.applied.vxlan && links.has(VXLAN_DEVICE)) return;
    if (!links.has(VXLAN_DEVICE)) {
      await ipBatch(
        this.netns,
        [
          `link add ${VXLAN_DEVICE} type vxlan id ${VXLAN_VNI} local ${v.localIp} dev ${FABRIC_DEVICE} dstport ${VXLAN_PORT} nolearning`,
          `link set ${VXLAN_DEVICE} address ${v.mac}`,
          `link set ${VXLAN_DEVICE} up`,
        ],
        { runner: this.runner },
      );
      links.set(VXLAN_DEVICE, -1);
    }
    await ipBatch(
      this.netns,
      v.peers.map((p) => `neigh replace ${p.ip} lladdr ${p.mac} dev ${VXLAN_DEVICE} nud permanent`),
      { runner: this.runner },
    );
    const fdb = `${v.peers.map((p) => `fdb replace ${p.mac} dev ${VXLAN_DEVICE} dst ${p.ip} self permanent`).join('\n')}\n`;
    const [cmd, ...args] = inNetns(this.netns, ['bridge', '-batch', '-']);
    if (v.peers.length) await run(cmd!, args, { input: fdb }, this.runner);
    this.applied.vxlan = wanted;
  }

  /** The whole `nat` table in one iptables-restore (only that table: filter is left alone). */
  private async applyNat(table: string): Promise<void> {
    if (table === this.applied.nat) return;
    // Never touched iptables and nothing wanted: stay away (no modules loaded for nothing).
    const text = table || '*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n';
    const [cmd, ...args] = inNetns(this.netns, ['iptables-restore', '-w']);
    await run(cmd!, args, { input: text }, this.runner);
    this.applied.nat = table;
  }

  /**
   * From outside the namespace a sysctl costs a process, so only what changed since the last
   * write is written (Felix too sets an interface's sysctls once, when it appears): a host's
   * settings once, a workload veth's when it appears — again if it is made anew (new ifindex).
   */
  private async setSysctls(values: Record<string, string>, links: Map<string, number>): Promise<void> {
    if (this.netns) {
      for (const [iface, index] of this.sysctlIfaces) {
        if (links.get(iface) === index) continue;
        this.sysctlIfaces.delete(iface);
        for (const k of this.sysctlsWritten.keys()) if (k.split('.').includes(iface)) this.sysctlsWritten.delete(k);
      }
      const todo = Object.fromEntries(Object.entries(values).filter(([k, v]) => this.sysctlsWritten.get(k) !== v));
      if (Object.keys(todo).length === 0) return;
      await setSysctls(this.netns, todo, this.runner);
      for (const [k, v] of Object.entries(todo)) this.sysctlsWritten.set(k, v);
      for (const [iface, index] of links) if (Object.keys(todo).some((k) => k.split('.').includes(iface))) this.sysctlIfaces.set(iface, index);
      return;
    }
    // In our own namespace: read /proc/sys and write only what differs, with no process at all.
    for (const [k, v] of Object.entries(values)) {
      if (this.procSys.read(k).trim() !== v) this.procSys.write(k, v);
    }
  }
}
