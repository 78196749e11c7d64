import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { HostPlan, LabPlan, NodeLimits, RouterPlan } from '../../model/topology.js';
import { inNetns, ipBatch, ipJson, setSysctls, tryRun, type RunResult } from '../../util/exec.js';
import type { Helper, HelperOptions } from '../../util/node-runner.js';
import type { Backend, DestroyReport, Uplink } from '../backend.js';
import type { DaemonSpec } from '../daemons.js';
import { startHelper } from '../helper.js';
import { checkLabName, NETNS_PREFIX } from '../../model/names.js';
import { labOfNetns, names, STATE_ROOT } from '../names.js';
import { daemonEnding, isAlive, isStopped, pidsInNetns, removeNetns, runAttached, spawnDaemon } from './procs.js';
import { labsWithState } from '../state.js';
import { BackendError } from '../../util/errors.js';
import { attachPortLines, nodePortsPerBridge, SPINE_BRIDGE } from './fabric-bridges.js';

/** A node to make: its namespace's name, its lab, what it is, its name in the lab. */
export interface NodeSpec {
  netns: string;
  lab: string;
  role: 'fabric' | 'host' | 'router' | 'client' | 'workload';
  name: string;
  /** Resource limits (a container backend applies them; namespaces have none). */
  limits?: NodeLimits;
}

/** The embedded backend: plain network namespaces, veth pairs and Linux bridges (fabric-bridges.ts). */
export class NetnsBackend implements Backend {
  readonly kind: string = 'netns';
  readonly agentsInNodes: boolean = false;

  /** Nothing to prepare: namespaces need only the kernel and iproute2. */
  async prepare(_plan: LabPlan, _log: (line: string) => void): Promise<void> {}

  fabricNetns(lab: string): string {
    return names.fabricNs(lab);
  }

  hostNetns(lab: string, host: string): string {
    return names.hostNs(lab, host);
  }

  routerNetns(lab: string, router: string): string {
    return names.routerNs(lab, router);
  }

  clientNetns(lab: string, client: string): string {
    return names.clientNs(lab, client);
  }

  workloadNetns(lab: string, workload: string): string {
    return names.workloadNs(lab, workload);
  }

  async exec(netns: string | undefined, argv: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
    const [cmd, ...args] = inNetns(netns, argv);
    return tryRun(cmd!, args, opts);
  }

  spawn(netns: string | undefined, argv: string[], opts: HelperOptions): Promise<Helper> {
    return startHelper(inNetns(netns, argv), opts);
  }

  /** A user's command: `ip netns exec`, so /sys and /etc/netns/<ns>/ are the namespace's own. */
  attach(netns: string, argv: string[], o: { etcHosts?: string } = {}): Promise<number> {
    // ip netns exec runs the command in a mount namespace of its own whose mounts do not
    // propagate back (it remounts / as a slave): a bind mount over /etc/hosts there is seen by
    // that command alone.
    const withHosts = o.etcHosts ? ['sh', '-c', 'mount --bind "$0" /etc/hosts && exec "$@"', o.etcHosts, ...argv] : argv;
    return runAttached(['ip', 'netns', 'exec', netns, ...withHosts]);
  }

  async addWorkloadNetns(netns: readonly string[]): Promise<void> {
    // csim_<lab>_w_<workload>: lab names hold no "_".
    await this.makeNodes(netns.map((n) => ({ netns: n, lab: labOfNetns(n)!, role: 'workload', name: n.slice(n.indexOf('_w_') + 3) })));
  }

  /**
   * Makes the nodes' network namespaces, empty but for lo, each under its name in /run/netns.
   * The seam of a container backend: it starts a container per node and names its namespace.
   */
  protected async makeNodes(nodes: readonly NodeSpec[]): Promise<void> {
    await ipBatch(
      undefined,
      nodes.map((n) => `netns add ${n.netns}`),
    );
  }

  async removeNodes(netns: string[]): Promise<string[]> {
    const present = netns.filter((n) => existsSync(`/run/netns/${n}`));
    await removeNetns(present);
    return present;
  }

  /** A node's uplink is a veth whose fabric end sits on the bridge, in the fabric namespace. */
  uplink(lab: string, node: string): Uplink {
    return { netns: this.fabricNetns(lab), ifname: names.fabricPort(node) };
  }

  async setUplink(lab: string, node: string, up: boolean): Promise<void> {
    const l = this.uplink(lab, node);
    await ipBatch(l.netns, [`link set ${l.ifname} ${up ? 'up' : 'down'}`]);
  }

  /** Daemons run in their node's namespace, in a session of their own (`ip netns exec`). */
  async startDaemon(spec: DaemonSpec): Promise<number> {
    mkdirSync(spec.cwd ?? dirname(spec.log), { recursive: true });
    for (const f of spec.staleFiles ?? []) rmSync(f, { force: true });
    return spawnDaemon({ netns: spec.netns, argv: spec.argv, logFile: spec.log, cwd: spec.cwd });
  }

  daemonAlive(spec: DaemonSpec, pid: number | undefined): boolean {
    return isAlive(pid, spec.marks);
  }

  daemonStopped(pid: number | undefined): boolean {
    return isStopped(pid);
  }

  daemonEnding(pid: number | undefined): string | undefined {
    return daemonEnding(pid);
  }

  signalDaemon(pid: number, signal: NodeJS.Signals): void {
    process.kill(pid, signal);
  }

  async addRouters(lab: string, plan: LabPlan, routers: RouterPlan[]): Promise<void> {
    if (routers.length === 0) return;
    const clients = routers.flatMap((r) => r.clients.map((c) => ({ ...c, router: r })));
    await this.makeNodes([
      ...routers.map((r): NodeSpec => ({ netns: this.routerNetns(lab, r.name), lab, role: 'router', name: r.name })),
      ...clients.map((c): NodeSpec => ({ netns: this.clientNetns(lab, c.name), lab, role: 'client', name: c.name })),
    ]);
    await this.plugIntoFabric(
      lab,
      routers.map((r) => ({ port: names.fabricPort(r.name), netns: this.routerNetns(lab, r.name) })),
    );
    await Promise.all(
      routers.map(async (r) => {
        const ns = this.routerNetns(lab, r.name);
        await ipBatch(ns, [
          'link set lo up',
          `addr add ${r.ip}/${plan.fabric.prefixLength} dev eth0`,
          'link set eth0 up',
          'link add lan0 type bridge',
          `addr add ${r.network.gatewayIp}/${r.network.prefixLength} dev lan0`,
          'link set lan0 up',
          ...r.clients.flatMap((c) => [
            `link add ${names.fabricPort(c.name)} type veth peer name eth0 netns ${this.clientNetns(lab, c.name)}`,
            `link set ${names.fabricPort(c.name)} master lan0`,
            `link set ${names.fabricPort(c.name)} up`,
          ]),
        ]);
        await setSysctls(ns, { 'net.ipv4.ip_forward': '1' });
      }),
    );
    await Promise.all(
      clients.map((c) =>
        ipBatch(this.clientNetns(lab, c.name), [
          'link set lo up',
          `addr add ${c.ip}/${c.router.network.prefixLength} dev eth0`,
          'link set eth0 up',
          `route add default via ${c.router.network.gatewayIp} dev eth0`,
        ]),
      ),
    );
  }

  async createFabric(lab: string, plan: LabPlan): Promise<void> {
    const ns = this.fabricNetns(lab);
    await this.makeNodes([{ netns: ns, lab, role: 'fabric', name: 'fabric' }]);
    await ipBatch(ns, [
      'link set lo up',
      `link add ${SPINE_BRIDGE} type bridge`,
      `addr add ${plan.fabric.gatewayIp}/${plan.fabric.prefixLength} dev ${SPINE_BRIDGE}`,
      ...(plan.fabric6 ? [`addr add ${plan.fabric6.gatewayIp}/${plan.fabric6.prefixLength} dev ${SPINE_BRIDGE} nodad`] : []),
      `link set ${SPINE_BRIDGE} up`,
    ]);
  }

  /** A veth per node, `eth0` in the node's namespace, its fabric end on a bridge with room. */
  private async plugIntoFabric(lab: string, nodes: { port: string; netns: string }[]): Promise<void> {
    const fabric = this.fabricNetns(lab);
    const ports = nodePortsPerBridge(await ipJson<{ ifname: string; master?: string }[]>(fabric, ['link', 'show']));
    await ipBatch(fabric, [
      ...nodes.map((n) => `link add ${n.port} type veth peer name eth0 netns ${n.netns}`),
      ...attachPortLines(
        ports,
        nodes.map((n) => n.port),
      ),
    ]);
  }

  async addHosts(lab: string, plan: LabPlan, hosts: HostPlan[]): Promise<void> {
    await this.makeNodes(hosts.map((h): NodeSpec => ({ netns: this.hostNetns(lab, h.name), lab, role: 'host', name: h.name, ...(h.limits ? { limits: h.limits } : {}) })));
    await this.plugIntoFabric(
      lab,
      hosts.map((h) => ({ port: names.fabricPort(h.name), netns: this.hostNetns(lab, h.name) })),
    );
    // One batch per host namespace (ip -batch cannot switch namespaces), all at once.
    await Promise.all(
      hosts.map(async (h) => {
        const ns = this.hostNetns(lab, h.name);
        // Dual stack: interfaces made from now on (the workloads' cali veths) skip duplicate
        // address detection, so their link-local gateway address answers at once.
        if (plan.fabric6) await setSysctls(ns, { 'net.ipv6.conf.default.accept_dad': '0' });
        await ipBatch(ns, [
          'link set lo up',
          `addr add ${h.ip}/${h.prefixLength} dev eth0`,
          ...(plan.fabric6 && h.ip6 ? [`addr add ${h.ip6}/${plan.fabric6.prefixLength} dev eth0 nodad`] : []),
          'link set eth0 up',
          `route add default via ${plan.fabric.gatewayIp} dev eth0`,
        ]);
      }),
    );
  }

  async labs(): Promise<string[]> {
    const fromNetns = listNetns()
      .map(labOfNetns)
      .filter((l): l is string => !!l);
    // Only directories that are labs: a shared CALICO_SIM_STATE may hold other things.
    return [...new Set([...fromNetns, ...labsWithState()])].sort();
  }

  async destroy(lab: string): Promise<DestroyReport> {
    checkLabName(lab);
    const mine = labNetns(lab);
    // Every daemon of a lab (etcd, BIRD, agents, probes) runs in one of its namespaces;
    // deleting a namespace deletes the veths and the bridge inside it.
    const processes = pidsInNetns(mine).length;
    await removeNetns(mine);
    const stateDir = resolve(names.stateDir(lab));
    if (!stateDir.startsWith(`${resolve(STATE_ROOT)}/`)) throw new BackendError(`refusing to remove ${stateDir}: not below ${STATE_ROOT}`);
    const hadState = existsSync(stateDir);
    rmSync(stateDir, { recursive: true, force: true });
    return { lab, namespaces: mine, processes, stateDir: hadState ? stateDir : undefined };
  }
}

/** The named namespaces of a lab. */
export function labNetns(lab: string): string[] {
  return listNetns().filter((ns) => labOfNetns(ns) === lab);
}

function listNetns(): string[] {
  return existsSync('/run/netns') ? readdirSync('/run/netns').filter((n) => n.startsWith(NETNS_PREFIX)) : [];
}
