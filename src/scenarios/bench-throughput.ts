import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { createInterface } from 'node:readline';
import { parseIperf, parsePingTimes, type IperfResult } from '../measure/iperf.js';
import { quantile, summarize, type Summary } from '../measure/stats.js';
import { table } from '../report/table.js';
import { down, status, up } from '../sim/lab.js';
import { resolveTopology } from '../topologies/index.js';
import { run, tryRun } from '../util/exec.js';
import { BackendError } from '../util/errors.js';

export type Mode = 'tcp-1' | 'tcp-4' | 'udp';
export const MODES: Mode[] = ['tcp-1', 'tcp-4', 'udp'];

interface Path { id: string; describe: string; from: string; to: string; ip: string }

export interface ThroughputResults {
  kind: 'throughput';
  runId: string;
  machine: { cpus: number; kernel: string; node: string };
  versions: Record<string, string>;
  parameters: { trials: number; durationS: number; modes: Mode[] };
  paths: { id: string; describe: string }[];
  results: { path: string; mode: Mode; trials: IperfResult[]; gbps: Summary; retransmits?: number; cpuSender: number; cpuReceiver: number }[];
  latency: { path: string; samples: number; p50Ms: number; p99Ms: number; samplesMs?: number[] }[];
  /** Median TCP (1 stream) throughput of each path over the host↔host baseline, and L3 over VXLAN. */
  ratios: Record<string, number>;
}

const PORT = 5201;

/**
 * Throughput and latency of four paths measured side by side, trials alternating between them:
 * host↔host over the fabric (the physical limit here), workload↔workload across hosts by plain
 * routing (Calico's L3), the same over the VXLAN overlay, and two workloads on one host.
 */
export async function benchThroughput(o: { trials: number; durationS: number; reportDir: string; log: (l: string) => void }): Promise<ThroughputResults> {
  const runId = `throughput-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  const dir = `${o.reportDir}/${runId}`;
  mkdirSync(dir, { recursive: true });
  const labs = { l3: 'bench-l3', vxlan: 'bench-vxlan' };
  await Promise.all(Object.values(labs).map((l) => down(l)));
  try {
    o.log('building the labs: two-host (plain L3) and two-host over VXLAN');
    const two = resolveTopology('two-host');
    const l3 = await up(two, { name: labs.l3 });
    const vx = await up({ ...two, pools: two.pools.map((p) => ({ ...p, vxlan: true })) }, { name: labs.vxlan });
    const [s3, sv] = [await status(l3.state), await status(vx.state)];
    const wl = (st: typeof s3, host: string, i = 0) => st.workloads.filter((w) => w.host === host)[i]!;
    const paths: Path[] = [
      { id: 'host-host', describe: 'host ↔ host over the fabric (the physical limit)', from: l3.state.hosts[0]!.netns, to: l3.state.hosts[1]!.netns, ip: l3.state.hosts[1]!.ip },
      { id: 'l3', describe: 'workload ↔ workload across hosts, plain routing (Calico L3)', from: wl(s3, 'host1').netns, to: wl(s3, 'host2').netns, ip: wl(s3, 'host2').ip },
      { id: 'vxlan', describe: 'workload ↔ workload across hosts, VXLAN overlay', from: wl(sv, 'host1').netns, to: wl(sv, 'host2').netns, ip: wl(sv, 'host2').ip },
      { id: 'same-host', describe: 'workload ↔ workload on one host', from: wl(s3, 'host1').netns, to: wl(s3, 'host1', 1).netns, ip: wl(s3, 'host1', 1).ip },
    ];
    const trials = new Map<string, IperfResult[]>();
    const t0 = performance.now();
    for (let t = 1; t <= o.trials; t++) {
      for (const mode of MODES) {
        for (const p of paths) {
          const r = await iperf(p, mode, o.durationS);
          const key = `${p.id} ${mode}`;
          trials.set(key, [...(trials.get(key) ?? []), r]);
          o.log(`trial ${t}/${o.trials} ${mode.padEnd(5)} ${p.id.padEnd(9)} ${(r.bitsPerSecond / 1e9).toFixed(2)} Gbit/s  (${Math.round((performance.now() - t0) / 1000)} s)`);
        }
      }
    }
    const latency = [];
    for (const p of paths) {
      const out = await run('ip', ['netns', 'exec', p.from, 'ping', '-n', '-c', '200', '-i', '0.005', p.ip], { timeoutMs: 30_000 });
      const times = parsePingTimes(out);
      latency.push({ path: p.id, samples: times.length, p50Ms: quantile(times, 0.5), p99Ms: quantile(times, 0.99), samplesMs: times });
    }
    const results = paths.flatMap((p) => MODES.map((mode) => {
      const ts = trials.get(`${p.id} ${mode}`)!;
      const retrans = ts.filter((x) => x.retransmits !== undefined).map((x) => x.retransmits!);
      return {
        path: p.id, mode, trials: ts, gbps: summarize(ts.map((x) => x.bitsPerSecond / 1e9)),
        ...(retrans.length ? { retransmits: summarize(retrans).median } : {}),
        cpuSender: summarize(ts.map((x) => x.cpuSender)).median,
        cpuReceiver: summarize(ts.map((x) => x.cpuReceiver)).median,
      };
    }));
    const median = (path: string) => results.find((r) => r.path === path && r.mode === 'tcp-1')!.gbps.median;
    const ratios = {
      'l3/host-host': median('l3') / median('host-host'),
      'vxlan/host-host': median('vxlan') / median('host-host'),
      'same-host/host-host': median('same-host') / median('host-host'),
      'l3/vxlan': median('l3') / median('vxlan'),
    };
    const res: ThroughputResults = {
      kind: 'throughput', runId,
      machine: { cpus: cpus().length, kernel: release(), node: process.version },
      versions: await versions(),
      parameters: { trials: o.trials, durationS: o.durationS, modes: MODES },
      paths: paths.map(({ id, describe }) => ({ id, describe })),
      results, latency, ratios,
    };
    writeFileSync(`${dir}/results.json`, JSON.stringify(res, null, 2));
    const { writeThroughputReport } = await import('../report/throughput-report.js');
    await writeThroughputReport(res, dir);
    o.log(`\n${throughputMarkdown(res)}\nreport: ${dir}/report.md`);
    return res;
  } finally {
    await Promise.all(Object.values(labs).map((l) => down(l)));
  }
}

/** One iperf3 test: a one-off server in the destination namespace, the client in the source. */
async function iperf(p: Path, mode: Mode, durationS: number): Promise<IperfResult> {
  const server = spawn('ip', ['netns', 'exec', p.to, 'iperf3', '-s', '-1', '--forceflush', '-p', String(PORT)], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new BackendError('iperf3 server did not start')), 10_000);
      createInterface({ input: server.stdout! }).on('line', (l) => { if (l.includes('listening')) { clearTimeout(timer); resolve(); } });
      server.once('exit', (c) => { clearTimeout(timer); reject(new BackendError(`iperf3 server exited (${c})`)); });
    });
    const args = ['-c', p.ip, '-p', String(PORT), '-t', String(durationS), '-J',
      ...(mode === 'tcp-4' ? ['-P', '4'] : []), ...(mode === 'udp' ? ['-u', '-b', '0', '-l', '1400'] : [])];
    const r = await tryRun('ip', ['netns', 'exec', p.from, 'iperf3', ...args], { timeoutMs: (durationS + 20) * 1000 });
    return parseIperf(r.stdout);
  } finally {
    server.kill('SIGKILL');
  }
}

async function versions(): Promise<Record<string, string>> {
  const v = async (cmd: string, args: string[], re: RegExp) => {
    const r = await tryRun(cmd, args);
    return re.exec(`${r.stdout}\n${r.stderr}`)?.[1] ?? 'unknown';
  };
  return {
    bird: await v('bird', ['--version'], /BIRD version (\S+)/),
    iperf3: await v('iperf3', ['--version'], /iperf (\S+)/),
    etcd: await v('etcd', ['--version'], /etcd Version: (\S+)/),
  };
}

/** Pure: the report as Markdown — the table of medians with min/max, ratios, latency. */
export function throughputMarkdown(r: ThroughputResults): string {
  const g = (x: number) => x.toFixed(2);
  const rows = r.results.map((x) => [x.path, x.mode, g(x.gbps.median), `${g(x.gbps.min)}–${g(x.gbps.max)}`, x.retransmits ?? '-', `${Math.round(x.cpuSender)}/${Math.round(x.cpuReceiver)}`]);
  return [
    `# Throughput (${r.runId})`,
    '',
    `${r.parameters.trials} trials of ${r.parameters.durationS} s per path and mode, alternating; ${r.machine.cpus} CPUs, kernel ${r.machine.kernel}; BIRD ${r.versions.bird}, iperf3 ${r.versions.iperf3}.`,
    '',
    ...r.paths.map((p) => `- **${p.id}**: ${p.describe}`),
    '',
    '```',
    table(['path', 'mode', 'Gbit/s (median)', 'min–max', 'retransmits', 'CPU % snd/rcv'], rows),
    '```',
    '',
    'Ratios of median TCP (1 stream) throughput:',
    '',
    ...Object.entries(r.ratios).map(([k, v]) => `- ${k}: ${(100 * v).toFixed(1)} %`),
    '',
    '```',
    table(['path', 'RTT p50 (ms)', 'RTT p99 (ms)', 'samples'], r.latency.map((l) => [l.path, l.p50Ms.toFixed(3), l.p99Ms.toFixed(3), l.samples])),
    '```',
    '',
  ].join('\n');
}
