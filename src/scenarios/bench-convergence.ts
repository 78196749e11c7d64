import { fileURLToPath } from 'node:url';
import { blockOf } from '../net/cidr.js';
import { Ipam } from '../ipam/ipam.js';
import { flowingAgainAt, routeConvergence, streamLoss, summarizeTrials, type RecvSample, type StreamResult, type TrialResult } from '../measure/convergence.js';
import { RouteMonitor } from '../measure/route-monitor.js';
import type { BgpTimers } from '../model/resources.js';
import { convergenceMarkdown, writeConvergenceReport, type ConvergenceCell, type ConvergenceResults, type EventId, type TimerSetting } from '../report/convergence-report.js';
import { buildRunReport, collectEnvironment, newRunId, writeRunReport } from '../report/run-report.js';
import { addHost, deleteHost } from '../sim/hosts.js';
import { addLabWorkload, deleteLabWorkload } from '../sim/workloads.js';
import { withLab, withDatastore } from '../sim/lab.js';
import { heal } from '../sim/heal.js';
import { status } from '../sim/status.js';
import { waitForRoutes } from '../sim/readiness.js';
import { backendOf } from '../sim/backends/index.js';
import { cutLink, restoreLink, signalDaemon } from '../sim/faults.js';
import { readLabState, type LabState } from '../sim/state.js';
import { resolveTopology } from '../topologies/index.js';
import { sleep, waitFor } from '../util/exec.js';
import type { Helper, NodeRunner } from '../util/node-runner.js';
import { errorMessage } from '../util/errors.js';
import { createProgress, type Progress } from '../util/progress.js';

// The result types and the Markdown live with the report (no engine import needed to render one).
export { convergenceMarkdown, type ConvergenceResults, type TrialResult };

const STREAM = fileURLToPath(new URL('../../dist/measure/udp-stream.js', import.meta.url));
const STREAM_PORT = 7788;
const RATE = 1000;
/**
 * The most a probe stream waits for traffic to flow again. A BFD-detected failure makes BIRD wait
 * its error wait time (5 s, doubling on repeated errors up to 30 s) before it reconnects: 60 s
 * covers that and the reconnect, so a longer outage is a finding, reported as not recovered.
 */
const STREAM_CAP_S = 60;

export const TIMER_SETTINGS: Record<TimerSetting, { timers: BgpTimers; describe: string }> = {
  default: { timers: {}, describe: "BIRD's defaults: hold 240 s, keepalive 80 s, graceful restart on" },
  tuned: { timers: { holdTime: 9, keepaliveTime: 3, gracefulRestart: false }, describe: 'hold 9 s, keepalive 3 s, no graceful restart' },
  bfd: { timers: { gracefulRestart: false, bfd: { intervalMs: 100, multiplier: 3 } }, describe: 'BFD 100 ms × 3, no graceful restart' },
};

export const EVENTS: Record<EventId, string> = {
  'workload-existing-block': 'a workload added in a block its host already has (its /32 on its own host)',
  'workload-new-block': 'a workload added in a block new to its host (the block on every other host)',
  'host-join': 'a host joins and starts a workload (its block on every other host)',
  'host-crash': "a host's link goes down for good (its block withdrawn everywhere): only the hold timer or BFD can tell",
  'rr-fail': 'one of two route reflectors loses its link for good (loss of a stream between two of its clients)',
  'link-flap': "a host's link goes down for 1 s and comes back (loss of a 1,000 pkt/s stream across it, kept up until traffic flows again)",
  'agent-restart': "an agent is killed (-9) and restarted (loss of a stream to that host's workload)",
  'bird-restart': "a host's BIRD is killed (-9) and restarted by heal (loss of a stream to that host's workload; graceful restart keeps the routes)",
  'etcd-restart': 'etcd is killed (-9) and restarted (loss of a stream across the lab)',
};

/**
 * Convergence per event and per timer setting (RFC 4098/6412 style): control plane from
 * timestamped `ip monitor route` events in every host's kernel, data plane from the losses of a
 * constant-rate UDP stream across the affected path.
 */
export async function benchConvergence(o: {
  trials: number;
  events: EventId[];
  settings: TimerSetting[];
  reportDir: string;
  log: (l: string) => void;
  /** Lab names are `<prefix>-conv-<setting>` and `<prefix>-rr-<setting>` (tests use `t-…`). Default "bench". */
  labPrefix?: string;
  progress?: Progress;
  /** Where the labs are built (netns, docker). */
  backend?: string;
}): Promise<ConvergenceResults> {
  const started = new Date();
  const runId = newRunId('bench-convergence', started);
  const dir = `${o.reportDir}/${runId}`;
  const progress = o.progress ?? createProgress({ log: o.log });
  const prefix = o.labPrefix ?? 'bench';
  const env = collectEnvironment();
  const measurements: ConvergenceCell[] = [];
  try {
    for (const setting of o.settings) {
      const lab = `${prefix}-conv-${setting}`.slice(0, 16);
      const plan = resolveTopology('mesh', { hosts: 3 });
      for (const event of o.events) {
        // A lab per event: BIRD doubles a session's error wait (5 s, up to 30 s) for each error
        // within 300 s, so an event measured after another in the same lab would inherit its
        // back-off (link-flap after host-crash: 26-31 s instead of 6-11 s).
        progress.step(`${setting} · ${event}: building a 3-host mesh`);
        // 2-address blocks: a host's second workload fits its block, the third needs a new one.
        await withLab({ ...plan, pools: plan.pools.map((p) => ({ ...p, blockSize: 31 })), timers: TIMER_SETTINGS[setting].timers }, { name: lab, backend: o.backend }, async () => {
          // Waiting out BIRD's default 240 s hold time five times is 20 minutes: one trial there.
          const trials = event === 'host-crash' && setting === 'default' ? 1 : o.trials;
          const rs: TrialResult[] = [];
          for (let t = 1; t <= trials; t++) {
            progress.trial(t, trials);
            // A failed trial is reported, not fatal: the other events still get measured.
            const r = await trial(readLabState(lab), event, setting, t, prefix).catch((err: unknown): TrialResult => ({ note: `trial failed: ${errorMessage(err)}` }));
            rs.push(r);
            progress.result(describeTrial(r));
          }
          measurements.push({ event, setting, trials: rs, ...summarizeTrials(rs) });
        });
      }
    }
    const res: ConvergenceResults = buildRunReport({
      kind: 'bench-convergence',
      runId,
      startedAt: started,
      finishedAt: new Date(),
      ...(await env),
      topology: {
        name: 'mesh',
        hosts: 3,
        workloads: 3,
        describe: 'a 3-host full mesh with /31 blocks, one workload per host (host-join adds a fourth host); rr-fail: route-reflector, 4 hosts (2 reflectors), in a lab of its own',
        backend: o.backend ?? 'netns',
      },
      parameters: { trials: o.trials, events: o.events, settings: o.settings, streamRatePps: RATE, streamCapS: STREAM_CAP_S },
      results: {
        timerResolution: `route events: 1 µs (ip -ts monitor); stream: ${1000 / RATE} ms (one packet)`,
        settings: o.settings.map((id) => ({ id, describe: TIMER_SETTINGS[id].describe })),
        events: o.events.map((id) => ({ id, describe: EVENTS[id] })),
        measurements,
      },
    });
    writeRunReport(dir, res);
    await writeConvergenceReport(res, dir);
    progress.done();
    o.log(`\n${convergenceMarkdown(res)}\nreport: ${dir}/report.md`);
    return res;
  } finally {
    progress.done();
  }
}

function describeTrial(r: TrialResult): string {
  const parts = [
    ...(r.controlPlaneMs !== undefined ? [`control plane ${r.controlPlaneMs.toFixed(1)} ms`] : []),
    ...(r.stream ? [`lost ${r.stream.lost}/${r.stream.sent} (${r.stream.lossDerivedMs} ms, longest gap ${r.stream.longestGapMs} ms)`] : []),
    ...(r.note ? [r.note] : []),
  ];
  return parts.join('; ');
}

const notRecovered = (s: StreamResult) => (s.recovered ? undefined : `traffic not flowing again within ${STREAM_CAP_S} s: the loss shown is only a lower bound`);
const notes = (...n: (string | undefined)[]) => {
  const text = n.filter(Boolean).join('; ');
  return text ? { note: text } : {};
};

async function trial(state: LabState, event: EventId, setting: TimerSetting, t: number, prefix: string): Promise<TrialResult> {
  const st = await status(state);
  const [h1, h2, h3] = state.hosts;
  const wOn = (h: string) => st.workloads.find((w) => w.host === h)!;
  const others = (h: string) => state.hosts.filter((x) => x.name !== h).map((x) => x.name);
  const backend = backendOf(state);
  const mon = await RouteMonitor.start(
    backend,
    state.hosts.map((h) => ({ name: h.name, netns: h.netns })),
  );
  await sleep(200); // the monitors are listening
  const cp = (t0: number, dst: string, kind: 'add' | 'del', hosts: string[]) => {
    const r = routeConvergence(mon.events(), t0, dst, kind, hosts);
    return r.convergedUs === undefined ? undefined : r.convergedUs / 1000;
  };
  const waitCp = async (t0: number, dst: string, kind: 'add' | 'del', hosts: string[], timeoutMs: number) =>
    waitFor(`${dst} ${kind} on ${hosts.join(', ')}`, async () => cp(t0, dst, kind, hosts), timeoutMs, 20);
  try {
    switch (event) {
      case 'workload-existing-block':
      case 'workload-new-block': {
        // host2 has one workload in a 2-address block: the first add fits it, the second does not.
        const first = `cv${t}a`;
        const t0 = Date.now() * 1000;
        const a = await addLabWorkload(state, first, h2!.name);
        const ipA = a.spec.ipNetworks[0]!.split('/')[0]!;
        let result: TrialResult;
        if (event === 'workload-existing-block') {
          result = { controlPlaneMs: await waitCp(t0, `${ipA}/32`, 'add', [h2!.name], 10_000) };
        } else {
          const t1 = Date.now() * 1000;
          const b = await addLabWorkload(state, `cv${t}b`, h2!.name);
          const block = blockOf(b.spec.ipNetworks[0]!.split('/')[0]!, 31);
          result = { controlPlaneMs: await waitCp(t1, block, 'add', others(h2!.name), 30_000) };
          await deleteLabWorkload(state, `cv${t}b`);
        }
        await deleteLabWorkload(state, first);
        // Give the emptied block back, so that the next trial's second workload needs a new one.
        await withDatastore(state, (ds) => new Ipam(ds).releaseEmptyBlocks(h2!.name));
        return result;
      }
      case 'host-join': {
        const name = `join${t}`;
        const existing = state.hosts.map((h) => h.name); // addHost adds the new one to state
        const t0 = Date.now() * 1000;
        try {
          await addHost(state, name);
          const w = await addLabWorkload(readLabState(state.lab), `${name}-w`, name);
          const block = blockOf(w.spec.ipNetworks[0]!.split('/')[0]!, 31);
          return { controlPlaneMs: await waitCp(t0, block, 'add', existing, 60_000) };
        } finally {
          if (readLabState(state.lab).hosts.some((h) => h.name === name)) await deleteHost(readLabState(state.lab), name);
        }
      }
      case 'host-crash': {
        const w3 = wOn(h3!.name);
        const block = blockOf(w3.ip, 31);
        const t0 = Date.now() * 1000;
        await cutLink(state, h3!.name);
        const holdMs = (TIMER_SETTINGS[setting].timers.holdTime ?? 240) * 1000;
        let controlPlaneMs: number | undefined;
        try {
          controlPlaneMs = await waitCp(t0, block, 'del', others(h3!.name), holdMs + 150_000);
        } catch {
          // never withdrawn within the wait: reported as such
        }
        await restoreLink(state, h3!.name);
        await withDatastore(state, (ds) => waitForRoutes(ds, state, 60_000));
        return controlPlaneMs === undefined ? { note: 'not withdrawn within hold time + 150 s' } : { controlPlaneMs };
      }
      case 'rr-fail': {
        // Its own lab: 2 route reflectors (host1, host2) and 2 clients with a workload each.
        const rrLab = `${prefix}-rr-${setting}`.slice(0, 16);
        return withLab({ ...resolveTopology('route-reflector', { hosts: 4 }), timers: TIMER_SETTINGS[setting].timers }, { name: rrLab, backend: state.backend }, async ({ state: rr }) => {
          const rst = await status(rr);
          const [src, dst] = [rst.workloads.find((w) => w.host === 'host3')!, rst.workloads.find((w) => w.host === 'host4')!];
          const { timers } = TIMER_SETTINGS[setting];
          // Long enough for the dead reflector's sessions to be declared down (BFD, or the hold time).
          const holdS = timers.bfd ? 1 : (timers.holdTime ?? 240);
          const seconds = Math.min(holdS + 5, 30);
          const stream = await withStream(backendOf(rr), src.netns, dst.netns, dst.ip, seconds, async () => {
            await sleep(1000);
            await cutLink(rr, 'host1');
          });
          const short = seconds < holdS ? `stream of ${seconds} s, shorter than the ${holdS} s it takes to notice` : undefined;
          return { stream, ...notes(short, notRecovered(stream)) };
        });
      }
      case 'link-flap':
      case 'agent-restart':
      case 'bird-restart':
      case 'etcd-restart': {
        const [src, dst] = [wOn(h1!.name), wOn(h3!.name)];
        // The minimum: 1 s before the event, the event, 2 s after; then until traffic flows again.
        const seconds = 4;
        const stream = await withStream(backend, src.netns, dst.netns, dst.ip, seconds, async () => {
          await sleep(1000);
          if (event === 'link-flap') {
            await cutLink(state, h3!.name);
            await sleep(1000);
            await restoreLink(state, h3!.name);
          } else if (event === 'agent-restart' || event === 'bird-restart') {
            signalDaemon(state, { node: h3!.name, daemon: event === 'agent-restart' ? 'agent' : 'bird' }, 'SIGKILL');
            await sleep(300);
            await heal(readLabState(state.lab));
          } else {
            signalDaemon(state, 'etcd', 'SIGKILL');
            await sleep(1000);
            await heal(readLabState(state.lab));
          }
        });
        await withDatastore(readLabState(state.lab), (ds) => waitForRoutes(ds, readLabState(state.lab), 60_000));
        return { stream, ...notes(notRecovered(stream)) };
      }
    }
  } finally {
    await mon.stop();
  }
}

/**
 * A 1,000 pkt/s UDP stream from src to dst with `during` run while it flows. It runs at least
 * `minS` seconds and then until it has flowed again at (nearly) full rate for a whole second after
 * `during` ended — so the loss counts the whole outage — or until STREAM_CAP_S, when it is
 * reported as not recovered (its loss is then only a lower bound, and summaries leave it out).
 */
async function withStream(runner: NodeRunner, srcNs: string, dstNs: string, dstIp: string, minS: number, during: () => Promise<void>): Promise<StreamResult> {
  const cap = Math.max(minS, STREAM_CAP_S);
  const samples: RecvSample[] = [];
  let out = '';
  const recv = await runner.spawn(dstNs, [process.execPath, STREAM, 'recv', String(STREAM_PORT), String(cap + 10)], {
    what: 'the stream receiver',
    ready: /^listening$/,
    onLine: (l) => {
      if (l.startsWith('n ')) samples.push({ atMs: performance.now(), received: Number(l.slice(2)) });
      else if (l !== 'listening') out += l;
    },
  });
  let sender: Helper | undefined;
  try {
    const t0 = performance.now();
    sender = await runner.spawn(srcNs, [process.execPath, STREAM, 'send', dstIp, String(STREAM_PORT), String(RATE), String(cap * RATE)], { what: 'the stream sender', stdin: true });
    let senderDone = false;
    void sender.exited.then(() => {
      senderDone = true;
    });
    // The sender is a fresh node process: let its first packets arrive before the event, so
    // that the time before the event really is what `during` waits.
    await waitFor('the probe stream to arrive', async () => (samples.at(-1)?.received ?? 0) > 0 || senderDone, 10_000, 20);
    await during();
    const since = performance.now();
    let recovered = false;
    for (;;) {
      recovered = flowingAgainAt(samples, since, RATE) !== undefined;
      if (recovered || senderDone || performance.now() - t0 >= cap * 1000) break;
      await sleep(50);
    }
    // Recovered: stop once the minimum is out (at once if it is). Not: stop now.
    if (!senderDone) sender.stdin!.end(`stop ${recovered ? minS * RATE : 0}\n`);
    await sender.exited;
    await sleep(300); // the last datagrams in flight
    await recv.stop('SIGTERM');
    const { sent: count } = JSON.parse(sender.output()) as { sent: number };
    const { received: seqs } = JSON.parse(out) as { received: number[] };
    return { ...streamLoss(seqs, count, RATE), recovered };
  } finally {
    await sender?.stop('SIGKILL');
    await recv.stop('SIGKILL');
  }
}
