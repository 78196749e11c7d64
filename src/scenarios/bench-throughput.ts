import { parsePingTimes, runIperf, type IperfResult } from '../measure/iperf.js';
import { quantile, summarize } from '../measure/stats.js';
import { buildRunReport, collectEnvironment, newRunId, writeRunReport } from '../report/run-report.js';
import { MODE_IPERF_ARGS, throughputMarkdown, writeThroughputReport, type LatencyCell, type Mode, type ThroughputCell, type ThroughputResults } from '../report/throughput-report.js';
import { withLab } from '../sim/lab.js';
import { status } from '../sim/status.js';
import { resolveTopology } from '../topologies/index.js';
import { backendOf } from '../sim/backends/index.js';
import { execOk, type NodeRunner } from '../util/node-runner.js';
import { createProgress, type Progress } from '../util/progress.js';

// The result types and the Markdown live with the report (no engine import needed to render one).
export { throughputMarkdown, type Mode, type ThroughputResults };
export const MODES: Mode[] = ['tcp-1', 'tcp-4', 'udp'];

interface Path {
  id: string;
  describe: string;
  from: string;
  to: string;
  ip: string;
  runner: NodeRunner;
}

const PORT = 5201;
const PINGS = 200;
const PING_INTERVAL_MS = 5;

/**
 * Throughput and latency of four paths measured side by side, trials alternating between them:
 * host↔host over the fabric (the physical limit here), workload↔workload across hosts by plain
 * routing (Calico's L3), the same over the VXLAN overlay, and two workloads on one host. Writes
 * reports/<run-id>/results.json (the common envelope, docs/results-schema.md) and the report.
 */
export async function benchThroughput(o: {
  trials: number;
  durationS: number;
  reportDir: string;
  log: (l: string) => void;
  /** Lab names are `<prefix>-l3` and `<prefix>-vxlan` (tests use `t-…`). Default "bench". */
  labPrefix?: string;
  progress?: Progress;
  /** Where the labs are built (netns, docker). */
  backend?: string;
}): Promise<ThroughputResults> {
  const started = new Date();
  const runId = newRunId('bench-throughput', started);
  const dir = `${o.reportDir}/${runId}`;
  const progress = o.progress ?? createProgress({ log: o.log });
  const prefix = o.labPrefix ?? 'bench';
  const labs = { l3: `${prefix}-l3`, vxlan: `${prefix}-vxlan` };
  const env = collectEnvironment();
  progress.step('building the labs: two-host (plain L3) and two-host over VXLAN');
  const two = resolveTopology('two-host');
  try {
    return await withLab(two, { name: labs.l3, backend: o.backend }, (l3) =>
      withLab({ ...two, pools: two.pools.map((p) => ({ ...p, vxlan: true })) }, { name: labs.vxlan, backend: o.backend }, async (vx) => {
        const [s3, sv] = [await status(l3.state), await status(vx.state)];
        const wl = (st: typeof s3, host: string, i = 0) => st.workloads.filter((w) => w.host === host)[i]!;
        const paths: Path[] = [
          {
            id: 'host-host',
            describe: 'host ↔ host over the fabric (the physical limit)',
            from: l3.state.hosts[0]!.netns,
            to: l3.state.hosts[1]!.netns,
            ip: l3.state.hosts[1]!.ip,
            runner: backendOf(l3.state),
          },
          {
            id: 'l3',
            describe: 'workload ↔ workload across hosts, plain routing (Calico L3)',
            from: wl(s3, 'host1').netns,
            to: wl(s3, 'host2').netns,
            ip: wl(s3, 'host2').ip,
            runner: backendOf(l3.state),
          },
          { id: 'vxlan', describe: 'workload ↔ workload across hosts, VXLAN overlay', from: wl(sv, 'host1').netns, to: wl(sv, 'host2').netns, ip: wl(sv, 'host2').ip, runner: backendOf(vx.state) },
          { id: 'same-host', describe: 'workload ↔ workload on one host', from: wl(s3, 'host1').netns, to: wl(s3, 'host1', 1).netns, ip: wl(s3, 'host1', 1).ip, runner: backendOf(l3.state) },
        ];
        const trials = new Map<string, IperfResult[]>();
        const pings = new Map<string, number[][]>();
        const add = <T>(m: Map<string, T[]>, k: string, v: T) => m.set(k, [...(m.get(k) ?? []), v]);
        progress.step('measuring'); // iperf3 per mode and path, then pings, alternating
        for (let t = 1; t <= o.trials; t++) {
          for (const mode of MODES) {
            for (const p of paths) {
              progress.trial(t, o.trials, `${mode} ${p.id}`);
              const r = await iperf(p, mode, o.durationS);
              add(trials, `${p.id} ${mode}`, r);
              progress.result(`${(r.bitsPerSecond / 1e9).toFixed(2)} Gbit/s`);
            }
          }
          for (const p of paths) {
            progress.trial(t, o.trials, `ping ${p.id}`);
            const out = await execOk(p.runner, p.from, ['ping', '-n', '-c', String(PINGS), '-i', String(PING_INTERVAL_MS / 1000), p.ip], { timeoutMs: 30_000 });
            const times = parsePingTimes(out);
            add(pings, p.id, times);
            progress.result(`RTT p50 ${quantile(times, 0.5).toFixed(3)} ms, p99 ${quantile(times, 0.99).toFixed(3)} ms`);
          }
        }
        const latency: LatencyCell[] = paths.map((p) => {
          const perTrial = pings.get(p.id)!.filter((x) => x.length);
          const all = perTrial.flat();
          return {
            path: p.id,
            samples: all.length,
            p50Ms: quantile(all, 0.5),
            p99Ms: quantile(all, 0.99),
            p50Trials: summarize(perTrial.map((x) => quantile(x, 0.5))),
            p99Trials: summarize(perTrial.map((x) => quantile(x, 0.99))),
            samplesMs: all,
          };
        });
        const throughput: ThroughputCell[] = paths.flatMap((p) =>
          MODES.map((mode) => {
            const ts = trials.get(`${p.id} ${mode}`)!;
            const retrans = ts.filter((x) => x.retransmits !== undefined).map((x) => x.retransmits!);
            return {
              path: p.id,
              mode,
              trials: ts,
              gbps: summarize(ts.map((x) => x.bitsPerSecond / 1e9)),
              ...(retrans.length ? { retransmits: summarize(retrans).median } : {}),
              cpuSender: summarize(ts.map((x) => x.cpuSender)).median,
              cpuReceiver: summarize(ts.map((x) => x.cpuReceiver)).median,
            };
          }),
        );
        const median = (path: string) => throughput.find((r) => r.path === path && r.mode === 'tcp-1')!.gbps.median;
        const ratios = {
          'l3/host-host': median('l3') / median('host-host'),
          'vxlan/host-host': median('vxlan') / median('host-host'),
          'same-host/host-host': median('same-host') / median('host-host'),
          'l3/vxlan': median('l3') / median('vxlan'),
        };
        const res: ThroughputResults = buildRunReport({
          kind: 'bench-throughput',
          runId,
          startedAt: started,
          finishedAt: new Date(),
          ...(await env),
          topology: {
            name: 'two-host',
            hosts: 2,
            workloads: s3.workloads.length,
            describe: 'two labs of the two-host topology: plain routing, and the same with a VXLAN pool',
            backend: o.backend ?? 'netns',
          },
          parameters: { trials: o.trials, durationS: o.durationS, modes: MODES, pingsPerTrial: PINGS, pingIntervalMs: PING_INTERVAL_MS },
          results: { paths: paths.map(({ id, describe }) => ({ id, describe })), throughput, latency, ratios },
        });
        writeRunReport(dir, res);
        await writeThroughputReport(res, dir);
        progress.done();
        o.log(`\n${throughputMarkdown(res)}\nreport: ${dir}/report.md`);
        return res;
      }),
    );
  } finally {
    progress.done();
  }
}

/** One iperf3 test of a path in a mode. */
function iperf(p: Path, mode: Mode, durationS: number): Promise<IperfResult> {
  // What the report says each mode runs (MODE_DESCRIPTIONS) is what runs.
  const clientArgs = [...MODE_IPERF_ARGS[mode]];
  return runIperf(p.runner, { from: p.from, to: p.to, ip: p.ip, port: PORT, durationS, clientArgs });
}
