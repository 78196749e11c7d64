import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ctl } from '../ctl/ctl.js';
import { parsePingTimes, runIperf } from '../measure/iperf.js';
import { quantile, summarize } from '../measure/stats.js';
import { planTopology } from '../model/topology.js';
import type { PolicyDataplaneKind } from '../model/resources.js';
import { trialsNote } from '../report/captions.js';
import { renderBarChart } from '../report/charts.js';
import { writeReportFiles, type ReportImage } from '../report/html.js';
import type { PolicyBenchData, PolicyBenchResults, PolicyBenchRow, Variant } from '../report/policy-report.js';
import { buildRunReport, collectEnvironment, newRunId, writeRunReport } from '../report/run-report.js';
import { table } from '../util/table.js';
import { withLab, withDatastore } from '../sim/lab.js';
import { status } from '../sim/status.js';
import type { LabState } from '../sim/state.js';
import { applyAndWait } from './policy.js';
import { backendOf } from '../sim/backends/index.js';
import { execOk, type Helper, type NodeRunner } from '../util/node-runner.js';
import { startServer } from '../verify/reachability.js';
import { BackendError } from '../util/errors.js';

const PROBE = fileURLToPath(new URL('../../dist/verify/probe.js', import.meta.url));
const IPERF_PORT = 5201;
/** Each apply opens a port no earlier policy opened: its first answer marks enforcement. */
const FIRST_MARK_PORT = 7100;
/** No policy ever opens this port: it answers everywhere once a delete is enforced everywhere. */
const UNPOLICED_PORT = 7099;
/** The filler rules' sources: addresses nothing in the lab uses (DESIGN.md's free fabric half). */
const FILLER_NET = [198, 18, 128, 0];

/**
 * One policy of the benchmark, pure. `rules`: `size` filler rules nothing matches (each a
 * different source /32), then the rule that allows the client; every new flow walks all of them.
 * `members`: one rule whose source set holds `size` addresses, the client's among them (a set
 * lookup, not a walk). The allowing rule opens TCP to iperf3's port and to `markPort`, and ICMP.
 */
export function benchPolicy(variant: Variant, size: number, clientIp: string, markPort: number): Record<string, unknown> {
  const filler = (i: number) => `${FILLER_NET[0]}.${FILLER_NET[1]}.${FILLER_NET[2]! + Math.floor(i / 256)}.${i % 256}/32`;
  const allow = { action: 'Allow', protocol: 'TCP', destination: { ports: [IPERF_PORT, markPort] } };
  const ingress =
    variant === 'rules'
      ? [
          ...Array.from({ length: size }, (_, i) => ({ action: 'Allow', protocol: 'TCP', source: { nets: [filler(i)] }, destination: { ports: [9] } })),
          { ...allow, source: { selector: "role == 'client'" } },
          { action: 'Allow', protocol: 'ICMP', source: { selector: "role == 'client'" } },
        ]
      : [
          { ...allow, source: { nets: [...Array.from({ length: Math.max(0, size - 1) }, (_, i) => filler(i)), `${clientIp}/32`] } },
          { action: 'Allow', protocol: 'ICMP', source: { nets: [`${clientIp}/32`] } },
        ];
  return {
    apiVersion: 'projectcalico.org/v3',
    kind: 'GlobalNetworkPolicy',
    metadata: { name: 'bench' },
    spec: { selector: "role == 'server'", types: ['Ingress'], ingress },
  };
}

const TOPOLOGY = {
  name: 'bench-policy',
  hosts: [
    {
      name: 'host1',
      workloads: [
        { name: 'client', labels: { role: 'client' } },
        { name: 'srv1', labels: { role: 'server' } },
      ],
    },
    { name: 'host2', workloads: [{ name: 'srv2', labels: { role: 'server' } }] },
    { name: 'host3', workloads: [{ name: 'srv3', labels: { role: 'server' } }] },
  ],
};

/**
 * Policy cost on both dataplanes: for each size (rules per endpoint, or members of one rule's
 * set), the time from `ctl apply` until every host enforces it (a port only the new policy opens
 * answers on a server on each of three hosts), iperf3 TCP throughput of an allowed flow across
 * hosts, and the latency of new connections and of pings. Sizes alternate within each trial.
 */
export async function benchPolicyRun(o: {
  dataplanes: PolicyDataplaneKind[];
  sizes: number[];
  variants: Variant[];
  trials: number;
  durationS: number;
  reportDir: string;
  log: (l: string) => void;
}): Promise<PolicyBenchResults> {
  const startedAt = new Date();
  const runId = newRunId('bench-policy', startedAt);
  const dir = `${o.reportDir}/${runId}`;
  mkdirSync(dir, { recursive: true });
  const rows: PolicyBenchRow[] = [];
  const trialLog: PolicyBenchData['trials'] = [];
  for (const dataplane of o.dataplanes) {
    const lab = `bp-${dataplane.slice(0, 3)}`;
    o.log(`== ${dataplane}: building a 3-host lab`);
    await withLab(planTopology({ ...TOPOLOGY, dataplane }, 'bench policy'), { name: lab }, async ({ state }) => {
      const st = await status(state);
      const w = (n: string) => st.workloads.find((x) => x.name === n)!;
      const client = w('client');
      const servers = ['srv1', 'srv2', 'srv3'].map(w);
      let markPort = FIRST_MARK_PORT;
      const servePorts = [UNPOLICED_PORT, ...Array.from({ length: o.trials * o.sizes.length * o.variants.length + 1 }, (_, i) => FIRST_MARK_PORT + i)];
      const runner = backendOf(state);
      const serving: Helper[] = [];
      try {
        await Promise.all(servers.map(async (s) => serving.push(await startServer(runner, s, servePorts))));
        // 'none' last: every measured apply starts from a policy that keeps its new port closed.
        const cases: { variant: Variant | 'none'; size: number }[] = [...o.variants.flatMap((v) => o.sizes.map((size) => ({ variant: v, size }))), { variant: 'none', size: 0 }];
        const samples = new Map<string, { enforce: number[]; gbps: number[]; connect: number[]; ping: number[] }>();
        for (let t = 1; t <= o.trials; t++) {
          await applyAndWait(state, [benchPolicy('rules', 0, client.ip, markPort)]);
          for (const c of cases) {
            const key = `${c.variant}/${c.size}`;
            const acc = samples.get(key) ?? { enforce: [], gbps: [], connect: [], ping: [] };
            samples.set(key, acc);
            let enforceMs: number | undefined;
            if (c.variant === 'none') {
              await withDatastore(state, (ds) => new Ctl(ds).delete([{ kind: 'GlobalNetworkPolicy', metadata: { name: 'bench' } }]));
              await waitAllAnswer(
                runner,
                client.netns,
                servers.map((s) => `${s.ip}:${UNPOLICED_PORT}`),
                10_000,
              );
            } else {
              markPort++;
              enforceMs = await applyAndMeasure(
                state,
                client.netns,
                servers.map((s) => s.ip),
                benchPolicy(c.variant, c.size, client.ip, markPort),
                markPort,
              );
              acc.enforce.push(enforceMs);
            }
            const ip = await runIperf(runner, { from: client.netns, to: servers[1]!.netns, ip: servers[1]!.ip, port: IPERF_PORT, durationS: o.durationS });
            acc.gbps.push(ip.bitsPerSecond / 1e9);
            acc.connect.push(...(JSON.parse(await execOk(runner, client.netns, [process.execPath, PROBE, 'connects', '100', `${servers[1]!.ip}:${markPort}`], { timeoutMs: 60_000 })) as number[]));
            acc.ping.push(...parsePingTimes(await execOk(runner, client.netns, ['ping', '-n', '-c', '50', '-i', '0.01', servers[1]!.ip], { timeoutMs: 30_000 })));
            trialLog.push({ dataplane, variant: c.variant, size: c.size, trial: t, ...(enforceMs !== undefined ? { enforceMs } : {}), gbps: ip.bitsPerSecond / 1e9 });
            o.log(
              `trial ${t}/${o.trials} ${dataplane} ${c.variant.padEnd(7)} ${String(c.size).padStart(5)}: ${enforceMs !== undefined ? `enforced on 3 hosts in ${enforceMs} ms, ` : ''}${(ip.bitsPerSecond / 1e9).toFixed(2)} Gbit/s`,
            );
          }
        }
        const base = summarize(samples.get('none/0')!.gbps).median;
        for (const c of cases) {
          const s = samples.get(`${c.variant}/${c.size}`)!;
          const gbps = summarize(s.gbps);
          rows.push({
            dataplane,
            variant: c.variant,
            size: c.size,
            ...(s.enforce.length ? { enforceMs: summarize(s.enforce) } : {}),
            gbps,
            ratio: gbps.median / base,
            connectMs: { p50: quantile(s.connect, 0.5), p99: quantile(s.connect, 0.99) },
            pingMs: { p50: quantile(s.ping, 0.5), p99: quantile(s.ping, 0.99) },
          });
        }
      } finally {
        await Promise.all(serving.map((s) => s.stop('SIGKILL')));
      }
    });
  }
  const { machine, versions } = await collectEnvironment();
  const res: PolicyBenchResults = buildRunReport({
    kind: 'bench-policy',
    runId,
    startedAt,
    finishedAt: new Date(),
    machine,
    versions,
    topology: { name: TOPOLOGY.name, hosts: 3, workloads: 4, describe: 'one lab per dataplane: client and srv1 on host1, srv2 on host2, srv3 on host3' },
    parameters: { dataplanes: o.dataplanes, sizes: o.sizes, variants: o.variants, trials: o.trials, durationS: o.durationS },
    results: { rows, trials: trialLog },
  });
  writeRunReport(dir, res);
  await writePolicyBenchReport(res, dir);
  o.log(`\n${policyBenchMarkdown(res)}\nreport: ${dir}/report.html`);
  return res;
}

/** Applies the policy and returns ms from the apply until the mark port answers on every server. */
async function applyAndMeasure(state: LabState, clientNs: string, serverIps: string[], policy: Record<string, unknown>, markPort: number): Promise<number> {
  let answer: (line: string) => void = () => undefined;
  const answered = new Promise<string>((resolve) => {
    answer = resolve;
  });
  const watcher = await backendOf(state).spawn(clientNs, [process.execPath, PROBE, 'until', '30000', ...serverIps.map((ip) => `${ip}:${markPort}`)], {
    what: 'the enforcement watcher',
    ready: /^ready$/,
    onLine: (l) => {
      if (l !== 'ready') answer(l);
    },
  });
  try {
    const t0 = Date.now();
    await withDatastore(state, (ds) => new Ctl(ds).apply([policy]));
    const firsts = JSON.parse(await answered) as (number | null)[];
    if (firsts.some((f) => f === null)) throw new BackendError(`port ${markPort} never answered on every host within 30 s of apply`);
    return Math.max(...(firsts as number[])) - t0;
  } finally {
    await watcher.stop('SIGKILL');
  }
}

async function waitAllAnswer(runner: NodeRunner, clientNs: string, targets: string[], deadlineMs: number): Promise<void> {
  const out = await execOk(runner, clientNs, [process.execPath, PROBE, 'until', String(deadlineMs), ...targets], { timeoutMs: deadlineMs + 5000 });
  if (out.includes('null')) throw new BackendError(`not every server answered within ${deadlineMs} ms: ${out}`);
}

/** Pure: the table, with the issue's targets (≥ 90 % throughput and ≤ 1 s enforcement at 1,000). */
export function policyBenchMarkdown(r: Pick<PolicyBenchResults, 'runId' | 'parameters' | 'results'>): string {
  const f = (n: number, d = 2) => n.toFixed(d);
  const rows = r.results.rows.map((x) => [
    x.dataplane,
    x.variant,
    x.variant === 'none' ? '-' : String(x.size),
    x.enforceMs ? `${Math.round(x.enforceMs.median)} (${Math.round(x.enforceMs.min)}–${Math.round(x.enforceMs.max)})` : '-',
    `${f(x.gbps.median)} (${f(x.gbps.min)}–${f(x.gbps.max)})`,
    `${f(x.ratio * 100, 1)} %`,
    `${f(x.connectMs.p50, 3)} / ${f(x.connectMs.p99, 3)}`,
    `${f(x.pingMs.p50, 3)} / ${f(x.pingMs.p99, 3)}`,
  ]);
  const at1000 = r.results.rows.filter((x) => x.size === 1000 && x.variant === 'rules');
  const verdicts = at1000.map(
    (x) =>
      `- ${x.dataplane}, 1,000 rules: throughput ${f(x.ratio * 100, 1)} % of no policy (target ≥ 90 %) ${x.ratio >= 0.9 ? '✔' : '✘'}; enforced on every host ${Math.round(x.enforceMs!.median)} ms after apply (target ≤ 1,000 ms) ${x.enforceMs!.median <= 1000 ? '✔' : '✘'}`,
  );
  return [
    `# Policy benchmark ${r.runId}`,
    '',
    `${r.parameters.trials} trials; iperf3 TCP, 1 stream, ${r.parameters.durationS} s, client on host1 → server on host2; enforcement = ctl apply → a port only the new policy opens answers on a server on each of 3 hosts (10 ms polling).`,
    '`rules`: N filler rules before the allowing one (every new flow walks them); `members`: one rule whose source set holds N addresses.',
    '',
    table(['dataplane', 'variant', 'size', 'apply → enforced, ms', 'Gbit/s median (min–max)', 'of no policy', 'new TCP conn p50/p99 ms', 'ping p50/p99 ms'], rows),
    '',
    ...verdicts,
    '',
  ].join('\n');
}

/**
 * report.md, report.html and two charts: apply → enforced, and throughput over no policy, per
 * size, one bar per dataplane and variant (median, whiskers min–max: the table's figures).
 */
export async function writePolicyBenchReport(r: PolicyBenchResults, dir: string): Promise<string[]> {
  const rows = r.results.rows.filter((x) => x.variant !== 'none');
  const keys = [...new Set(rows.map((x) => `${x.dataplane} ${x.variant}`))];
  const labels = r.parameters.sizes.map((n) => `${n.toLocaleString('en-US')}`);
  const cell = (k: string, size: number) => rows.find((x) => `${x.dataplane} ${x.variant}` === k && x.size === size);
  const base = (d: string) => r.results.rows.find((x) => x.dataplane === d && x.variant === 'none')!.gbps.median;
  const enforceNote = trialsNote(rows.map((x) => x.enforceMs?.n));
  const gbpsNote = trialsNote(rows.map((x) => x.gbps.n));
  const images: ReportImage[] = [
    {
      name: 'enforce.png',
      caption: `ctl apply → the policy is enforced on all 3 hosts (ms), per rules (or set members) per endpoint; ${enforceNote}`,
      png: await renderBarChart({
        title: `Policy apply → enforced on every host (${r.runId})`,
        subtitle: enforceNote,
        labels,
        yLabel: 'ms from ctl apply',
        format: (v) => v.toFixed(0),
        series: keys.map((k) => ({
          label: k,
          values: r.parameters.sizes.map((n) => cell(k, n)?.enforceMs?.median ?? NaN),
          min: r.parameters.sizes.map((n) => cell(k, n)?.enforceMs?.min ?? NaN),
          max: r.parameters.sizes.map((n) => cell(k, n)?.enforceMs?.max ?? NaN),
        })),
      }),
    },
    {
      name: 'throughput.png',
      caption: `iperf3 TCP throughput of an allowed flow, % of the same dataplane with no policy; ${gbpsNote}`,
      png: await renderBarChart({
        title: `Allowed-flow throughput vs no policy (${r.runId})`,
        subtitle: gbpsNote,
        labels,
        yLabel: '% of no-policy median',
        format: (v) => v.toFixed(0),
        series: keys.map((k) => {
          const d = k.split(' ')[0]!;
          const pct = (v: number | undefined) => (v === undefined ? NaN : (100 * v) / base(d));
          return {
            label: k,
            values: r.parameters.sizes.map((n) => pct(cell(k, n)?.gbps.median)),
            min: r.parameters.sizes.map((n) => pct(cell(k, n)?.gbps.min)),
            max: r.parameters.sizes.map((n) => pct(cell(k, n)?.gbps.max)),
          };
        }),
      }),
    },
  ];
  return writeReportFiles(dir, `Policy benchmark (${r.runId})`, policyBenchMarkdown(r), images);
}
