/**
 * The docker backend: every node (the fabric with etcd, each host, router, outside client and
 * workload) is a container, made and removed through the Docker Engine API (dockerode).
 *
 * Containers start with `--network none`; their network namespaces are then named in /run/netns
 * (`ip netns attach`), and wired exactly as the netns backend wires namespaces: veths from the
 * fabric namespace (the etcd container's own) to each host's and router's eth0, the CNI's veths
 * from a host to its workloads. Docker's own networks are not used: a Docker bridge network puts
 * a bridge and a veth per container, with addresses and routes, in the machine's root namespace,
 * which a lab must never touch.
 *
 * BIRD, the agents and etcd run *inside* their containers (`docker exec`), as calico-node does,
 * so a container's CPU and memory limits are theirs. The containers mount the lab's state
 * directory at the same path (configs, BIRD's socket, logs), and, read-only, the machine's
 * Node.js, this project (the agent) and etcd: the image holds only the node's Debian packages
 * (docker-image.ts). Every container is labelled with its lab, so `down` finds everything by label
 * even when the state directory is gone.
 */
import { existsSync, mkdirSync, realpathSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { execa } from 'execa';
import { fileURLToPath } from 'node:url';
import type Docker from 'dockerode';
import type { LabPlan } from '../../model/topology.js';
import { checkLabName } from '../../model/names.js';
import { BackendError, errorMessage, InputError } from '../../util/errors.js';
import { ipBatch } from '../../util/exec.js';
import { pool } from '../../util/pool.js';
import type { DestroyReport } from '../backend.js';
import type { DaemonSpec } from '../daemons.js';
import { names } from '../names.js';
import { ensureNodeImage } from './docker-image.js';
import { NetnsBackend, labNetns, type NodeSpec } from './netns.js';
import { pidsInNetns, removeNetns, runAttached } from './procs.js';

/** The labels every container of a lab carries. */
export const LABELS = { lab: 'calico-sim.lab', role: 'calico-sim.role', node: 'calico-sim.node' } as const;

/** The project's root (src/ and dist/ sit at the same depth): mounted read-only for the agent. */
const PROJECT_ROOT = fileURLToPath(new URL('../../../', import.meta.url)).replace(/\/$/, '');
/** Containers made or removed at once. */
const PARALLEL = 8;

const HOW_TO_START = 'install and start it with: bash scripts/setup.sh --docker';

export class DockerBackend extends NetnsBackend {
  override readonly kind: string = 'docker';
  override readonly agentsInNodes: boolean = true;
  private client: Docker | undefined;
  private image: string | undefined;

  /** The Engine API client (DOCKER_HOST, else /var/run/docker.sock), loaded when first needed. */
  private async api(): Promise<Docker> {
    this.client ??= new (await import('dockerode')).default();
    return this.client;
  }

  /** Docker answers, and the node image is there (built now if it is not). */
  override async prepare(_plan: LabPlan, log: (line: string) => void): Promise<void> {
    try {
      await (await this.api()).ping();
    } catch (err) {
      throw new InputError(`the docker backend needs a running Docker engine, and none answers (${errorMessage(err)}): ${HOW_TO_START}`);
    }
    this.image = await ensureNodeImage(await this.api(), log);
  }

  /** A container per node, `--network none`, its network namespace named after the node. */
  protected override async makeNodes(nodes: readonly NodeSpec[]): Promise<void> {
    if (nodes.length === 0) return;
    const image = this.image ?? (await ensureNodeImage(await this.api(), () => undefined));
    const pids = await pool(
      nodes.map((n) => async () => {
        const container = await this.create(n, image);
        await container.start();
        const { State } = await container.inspect();
        if (!State.Pid) throw new BackendError(`container ${n.netns} did not start: ${State.Error || State.Status}`);
        // Docker mounts /proc/sys read-only. BIRD's and the agent's sysctls are all net.* (the
        // container's own namespace): make /proc/sys/net alone writable, from outside, in the
        // container's mount namespace; kernel.*, vm.* (the machine's) stay read-only.
        await execa('nsenter', ['-t', String(State.Pid), '-m', '--', 'sh', '-c', 'mount --bind /proc/sys/net /proc/sys/net && mount -o remount,bind,rw /proc/sys/net']);
        return State.Pid;
      }),
      PARALLEL,
    );
    await ipBatch(
      undefined,
      nodes.map((n, i) => `netns attach ${n.netns} ${pids[i]}`),
    );
  }

  private async create(n: NodeSpec, image: string): Promise<Docker.Container> {
    const stateDir = names.stateDir(n.lab);
    mkdirSync(stateDir, { recursive: true });
    // The nodes that run daemons see Node.js, the project and etcd at the machine's paths.
    const runsDaemons = n.role !== 'workload' && n.role !== 'client';
    const binds = [
      `${stateDir}:${stateDir}${runsDaemons ? '' : ':ro'}`,
      ...(runsDaemons ? [`${process.execPath}:${process.execPath}:ro`, `${PROJECT_ROOT}:${PROJECT_ROOT}:ro`] : []),
      ...(n.role === 'fabric' ? [`${realpathSync(whichEtcd())}:/usr/local/bin/etcd:ro`] : []),
    ];
    try {
      return await (await this.api()).createContainer({
        name: n.netns,
        Hostname: n.name,
        Image: image,
        Cmd: ['sleep', 'infinity'],
        Labels: { [LABELS.lab]: n.lab, [LABELS.role]: n.role, [LABELS.node]: n.name },
        HostConfig: {
          NetworkMode: 'none',
          // docker-init as pid 1: it reaps what an exec'd daemon leaves orphaned (sleep would not).
          Init: true,
          // BIRD and the agent program routes, rules and sysctls of the container's own namespace.
          CapAdd: ['NET_ADMIN', 'NET_RAW'],
          // Docker turns IPv6 off in a container without a Docker network; a dual-stack lab needs it.
          Sysctls: { 'net.ipv6.conf.all.disable_ipv6': '0', 'net.ipv6.conf.default.disable_ipv6': '0' },
          Binds: binds,
          ...(n.limits?.cpus ? { NanoCpus: Math.round(n.limits.cpus * 1e9) } : {}),
          ...(n.limits?.memoryMiB ? { Memory: n.limits.memoryMiB * 1024 * 1024 } : {}),
        },
      });
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode !== 409) throw new BackendError(`creating container ${n.netns}: ${errorMessage(err)}`, { cause: err });
      const other = await (await this.api())
        .getContainer(n.netns)
        .inspect()
        .catch(() => undefined);
      const owner = other?.Config.Labels?.[LABELS.lab];
      throw new InputError(
        owner === undefined
          ? `a container named ${n.netns} exists and is not calico-sim's: remove it (docker rm -f ${n.netns}) or choose another lab name`
          : `a container named ${n.netns} of lab ${owner} is left over: remove it with calico-sim down --lab ${owner}`,
      );
    }
  }

  override async removeNodes(netns: string[]): Promise<string[]> {
    const present = netns.filter((n) => existsSync(`/run/netns/${n}`));
    await this.removeContainers(netns);
    await removeNetns(present);
    return present;
  }

  private async removeContainers(containerNames: readonly string[]): Promise<void> {
    await pool(
      containerNames.map((name) => async () => {
        try {
          await (await this.api()).getContainer(name).remove({ force: true });
        } catch (err) {
          if ((err as { statusCode?: number }).statusCode !== 404) throw new BackendError(`removing container ${name}: ${errorMessage(err)}`, { cause: err });
        }
      }),
      PARALLEL,
    );
  }

  /** The container's main process: the way into its namespaces. */
  private async pidOf(container: string): Promise<number> {
    const { State } = await (await this.api()).getContainer(container).inspect();
    if (!State.Running || !State.Pid) throw new BackendError(`container ${container} is not running (${State.Status})`);
    return State.Pid;
  }

  /**
   * A daemon runs inside its node's container (`docker exec`, detached), its output appended to
   * its log in the lab's state directory; its pid is the machine's pid of that process.
   */
  override async startDaemon(spec: DaemonSpec): Promise<number> {
    mkdirSync(spec.cwd ?? dirname(spec.log), { recursive: true });
    for (const f of spec.staleFiles ?? []) rmSync(f, { force: true });
    const exec = await (await this.api()).getContainer(spec.netns).exec({
      Cmd: ['sh', '-c', 'exec "$@" >>"$0" 2>&1', spec.log, ...spec.argv],
      ...(spec.cwd ? { WorkingDir: spec.cwd } : {}),
      // The agent runs unconfined only where this says it is a lab's node (src/agent/main.ts).
      Env: [`CALICO_SIM_NODE=${spec.netns}`],
      AttachStdout: false,
      AttachStderr: false,
    });
    // Detached: the process runs on; the HTTP response that answered the start is all that is
    // left, and an open one would keep this CLI from exiting.
    const res: unknown = await exec.start({ Detach: true });
    (res as { destroy?: () => void } | undefined)?.destroy?.();
    const { Pid } = await exec.inspect();
    if (!Pid) throw new BackendError(`${spec.what} did not start in container ${spec.netns}`);
    return Pid;
  }

  /** `exec`: the command in all of the container's namespaces (its filesystem, processes, network). */
  override async attach(netns: string, argv: string[], o: { etcHosts?: string } = {}): Promise<number> {
    const pid = await this.pidOf(netns);
    // A private mount namespace for the command alone, so the bind mount over /etc/hosts stays its own.
    const withHosts = o.etcHosts ? ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', 'mount --bind "$0" /etc/hosts && exec "$@"', o.etcHosts, ...argv] : argv;
    return runAttached(['nsenter', '-t', String(pid), '-m', '-u', '-i', '-n', '-p', '--', ...withHosts]);
  }

  async nodeContainers(lab: string): Promise<Map<string, string>> {
    return new Map((await this.labContainers(lab)).map((c) => [(c.Names[0] ?? '').replace(/^\//, ''), c.Id.slice(0, 12)]));
  }

  /** Labs with a container on this engine (none when Docker does not answer). */
  override async labs(): Promise<string[]> {
    return [...new Set((await this.labContainers()).map((c) => c.Labels[LABELS.lab]!))].sort();
  }

  /** The containers of a lab (of every lab); none when Docker does not answer, unless `strict`. */
  private async labContainers(lab?: string, strict = false): Promise<Docker.ContainerInfo[]> {
    try {
      return await (await this.api()).listContainers({ all: true, filters: { label: [lab === undefined ? LABELS.lab : `${LABELS.lab}=${lab}`] } });
    } catch (err) {
      if (strict) throw err;
      return [];
    }
  }

  /** Every container of the lab (found by label), then its named namespaces and state directory. */
  override async destroy(lab: string): Promise<DestroyReport> {
    checkLabName(lab);
    const processes = pidsInNetns(labNetns(lab)).length;
    let unreachable: unknown;
    const containers = await this.labContainers(lab, true).catch((err: unknown) => {
      unreachable = err;
      return [];
    });
    await this.removeContainers(containers.map((c) => c.Id));
    const rest = await super.destroy(lab);
    // Its namespaces and state are gone; its containers, if any, wait for Docker to answer.
    if (unreachable)
      throw new BackendError(`lab ${lab}: Docker does not answer (${errorMessage(unreachable)}): its containers, if any, are left; start Docker and run calico-sim down --lab ${lab} again`);
    const namespaces = [...new Set([...rest.namespaces, ...containers.map((c) => (c.Names[0] ?? c.Id).replace(/^\//, ''))])].sort();
    return { ...rest, namespaces, processes: Math.max(processes, rest.processes) };
  }
}

function whichEtcd(): string {
  for (const dir of (process.env.PATH ?? '/usr/bin').split(':')) if (existsSync(`${dir}/etcd`)) return `${dir}/etcd`;
  throw new BackendError('etcd is not installed (Debian package etcd-server): run bash scripts/setup.sh');
}
