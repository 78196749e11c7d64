import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, hostname, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { tryRun } from '../util/exec.js';
import { RESULTS_SCHEMA } from './result-kind.js';

/**
 * The common envelope of every run's `reports/<run-id>/results.json` (docs/results-schema.md):
 * who ran what, where, with which parts and options, then the kind-specific results. Builders
 * are pure; collecting the environment (a few `--version` calls, once per process) and writing
 * the file are the thin part.
 */

/** The schema tag of the envelope; the kinds whose `results` are specified are src/report/kinds.ts's. */
export { RESULTS_SCHEMA };

export interface Machine {
  hostname: string;
  /** `uname -r`. */
  kernel: string;
  cpus: number;
  cpuModel: string;
  memoryBytes: number;
}

/** Versions of what the figures depend on; "unknown" when a tool is missing or says nothing. */
export interface Versions {
  node: string;
  calicoSim: string;
  bird: string;
  etcd: string;
  iperf3: string;
  iptables: string;
  nft: string;
  kernel: string;
}

/** The lab(s) a run measured: the topology's name, and how many hosts and workloads it had. */
export interface TopologyInfo {
  name: string;
  hosts: number;
  workloads: number;
  /** When the run used more than one lab, or changed the topology (blocks, pool mode...). */
  describe?: string;
  /** Where the labs were built (netns, docker): figures differ between backends. Absent: netns. */
  backend?: string;
}

export interface RunReport<K extends string = string, P = unknown, R = unknown> {
  schema: typeof RESULTS_SCHEMA;
  runId: string;
  kind: K;
  /** ISO 8601, UTC. */
  startedAt: string;
  finishedAt: string;
  machine: Machine;
  versions: Versions;
  topology: TopologyInfo;
  /** The options the run was started with (CLI options, with defaults filled in). */
  parameters: P;
  results: R;
}

/** Pure: `<kind>-<UTC time>`, safe as a directory name and sorted by time within a kind. */
export function newRunId(kind: string, at: Date): string {
  return `${kind}-${at.toISOString().replace(/[:.]/g, '-')}`;
}

/** Pure: the envelope around a run's results. */
export function buildRunReport<K extends string, P, R>(o: {
  kind: K;
  runId: string;
  startedAt: Date;
  finishedAt: Date;
  machine: Machine;
  versions: Versions;
  topology: TopologyInfo;
  parameters: P;
  results: R;
}): RunReport<K, P, R> {
  return {
    schema: RESULTS_SCHEMA,
    runId: o.runId,
    kind: o.kind,
    startedAt: o.startedAt.toISOString(),
    finishedAt: o.finishedAt.toISOString(),
    machine: o.machine,
    versions: o.versions,
    topology: o.topology,
    parameters: o.parameters,
    results: o.results,
  };
}

/** Pure: the machine from what node:os reports. */
export function machineFrom(os: { hostname: string; release: string; cpus: { model: string }[]; totalmem: number }): Machine {
  return { hostname: os.hostname, kernel: os.release, cpus: os.cpus.length, cpuModel: os.cpus[0]?.model.trim() || 'unknown', memoryBytes: os.totalmem };
}

/** How each tool is asked for its version, and where the version is in what it prints. */
const TOOLS = {
  bird: { argv: ['bird', '--version'], re: /BIRD version (\S+)/ },
  etcd: { argv: ['etcd', '--version'], re: /etcd Version: (\S+)/ },
  iperf3: { argv: ['iperf3', '--version'], re: /iperf (\S+)/ },
  iptables: { argv: ['iptables', '--version'], re: /iptables v(\S+(?: \([^)]+\))?)/ },
  nft: { argv: ['nft', '--version'], re: /nftables v(\S+)/ },
} as const;
type Tool = keyof typeof TOOLS;

/** Pure: versions from the tools' `--version` output (stdout and stderr together). */
export function versionsFrom(outputs: Partial<Record<Tool, string>>, o: { node: string; calicoSim: string; kernel: string }): Versions {
  const v = (t: Tool) => TOOLS[t].re.exec(outputs[t] ?? '')?.[1] ?? 'unknown';
  return { node: o.node, calicoSim: o.calicoSim, bird: v('bird'), etcd: v('etcd'), iperf3: v('iperf3'), iptables: v('iptables'), nft: v('nft'), kernel: o.kernel };
}

function packageVersion(): string {
  try {
    // dist/report/ or src/report/: the package file is two levels up either way.
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

let environment: Promise<{ machine: Machine; versions: Versions }> | undefined;

/** The machine and the versions, asked once per process (five `--version` calls in parallel). */
export function collectEnvironment(): Promise<{ machine: Machine; versions: Versions }> {
  environment ??= (async () => {
    const tools = Object.keys(TOOLS) as Tool[];
    const outs = await Promise.all(
      tools.map(async (t) => {
        const [cmd, ...args] = TOOLS[t].argv;
        const r = await tryRun(cmd, args, { timeoutMs: 10_000 });
        return [t, `${r.stdout}\n${r.stderr}`] as const;
      }),
    );
    return {
      machine: machineFrom({ hostname: hostname(), release: release(), cpus: cpus(), totalmem: totalmem() }),
      versions: versionsFrom(Object.fromEntries(outs), { node: process.version, calicoSim: packageVersion(), kernel: release() }),
    };
  })();
  return environment;
}

/** Writes `<dir>/results.json` (the directory is made if needed); returns its path. */
export function writeRunReport(dir: string, report: RunReport): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'results.json');
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  return file;
}
