import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { blockOf } from '../ipam/blocks.js';
import { Ipam } from '../ipam/ipam.js';
import { routeConvergence, streamLoss, type StreamLoss } from '../measure/convergence.js';
import { RouteMonitor } from '../measure/route-monitor.js';
import { summarize, type Summary } from '../measure/stats.js';
import type { BgpTimers } from '../model/resources.js';
import { table } from '../report/table.js';
import { addHost, deleteHost } from '../sim/hosts.js';
import { addLabWorkload, deleteLabWorkload, down, heal, status, up, waitForRoutes, withDatastore } from '../sim/lab.js';
import { names } from '../sim/names.js';
import { readLabState, type LabState } from '../sim/state.js';
import { resolveTopology } from '../topologies/index.js';
import { ipBatch, run, sleep, waitFor } from '../util/exec.js';
import { BackendError, errorMessage } from '../util/errors.js';

const STREAM = fileURLToPath(new URL('../../dist/measure/udp-stream.js', import.meta.url));
const STREAM_PORT = 7788;
const RATE = 1000;

export type TimerSetting = 'default' | 'tuned' | 'bfd';
export const TIMER_SETTINGS: Record<TimerSetting, { timers: BgpTimers; describe: string }> = {
  default: { timers: {}, describe: "BIRD's defaults: hold 240 s, keepalive 80 s, graceful restart on" },
  tuned: { timers: { holdTime: 9, keepaliveTime: 3, gracefulRestart: false }, describe: 'hold 9 s, keepalive 3 s, no graceful restart' },
  bfd: { timers: { gracefulRestart: false, bfd: { intervalMs: 100, multiplier: 3 } }, describe: 'BFD 100 ms × 3, no graceful restart' },
};

export type EventId = 'workload-existing-block' | 'workload-new-block' | 'host-join' | 'host-crash' | 'rr-fail' | 'link-flap' | 'agent-restart' | 'etcd-restart';
export const EVENTS: Record<EventId, string> = {
  'workload-existing-block': 'a workload added in a block its host already has (its /32 on its own host)',
  'workload-new-block': 'a workload added in a block new to its host (the block on every other host)',
  'host-join': 'a host joins and starts a workload (its block on every other host)',
  'host-crash': "a host's link goes down for good (its block withdrawn everywhere): only the hold timer or BFD can tell",
  'rr-fail': 'one of two route reflectors loses its link for good (loss of a stream between two of its clients)',
  'link-flap': "a host's link goes down for 1 s and comes back (loss of a 1,000 pkt/s stream across it)",
  'agent-restart': "an agent is killed (-9) and restarted (loss of a stream to that host's workload)",
  'etcd-restart': 'etcd is killed (-9) and restarted (loss of a stream across the lab)',
};

export interface TrialResult { controlPlaneMs?: number; stream?: StreamLoss; note?: string }

export interface ConvergenceResults {
  kind: 'convergence';
  runId: string;
  machine: { cpus: number; kernel: string; node: string };
  parameters: { trials: number; streamRate: number; timerResolution: string };
  settings: { id: TimerSetting; describe: string }[];
  results: { event: EventId; setting: TimerSetting; trials: TrialResult[]; controlPlaneMs?: Summary; lossMs?: Summary; longestGapMs?: Summary }[];
}

/**
 * Convergence per event and per timer setting (RFC 4098/6412 style): control plane from
 * timestamped `ip monitor route` events in every host's kernel, data plane from the losses of a
 * constant-rate UDP stream across the affected path.
 */
export async function benchConvergence(o: { trials: number; events: EventId[]; settings: TimerSetting[]; reportDir: string; log: (l: string) => void }): Promise<ConvergenceResults> {
  const runId = `convergence-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  const dir = `${o.reportDir}/${runId}`;
  mkdirSync(dir, { recursive: true });
  const results: ConvergenceResults['results'] = [];
  for (const setting of o.settings) {
    const lab = `bench-conv-${setting}`.slice(0, 16);
    await down(lab);
    const plan = resolveTopology('mesh', { hosts: 3 });
    // 2-address blocks: a host's second workload fits its block, the third needs a new one.
    await up({ ...plan, pools: plan.pools.map((p) => ({ ...p, blockSize: 31 })), timers: TIMER_SETTINGS[setting].timers }, { name: lab });
    try {
      for (const event of o.events) {
        // Waiting out BIRD's default 240 s hold time five times is 20 minutes: one trial there.
        const trials = event === 'host-crash' && setting === 'default' ? 1 : o.trials;
        const rs: TrialResult[] = [];
        for (let t = 1; t <= trials; t++) {
          // A failed trial is reported, not fatal: the other events still get measured.
          const r = await trial(readLabState(lab), event, setting, t).catch((err: unknown): TrialResult => ({ note: `trial failed: ${errorMessage(err)}` }));
          rs.push(r);
          o.log(`${setting.padEnd(7)} ${event.padEnd(23)} trial ${t}/${trials}: ${describeTrial(r)}`);
        }
        const cp = rs.map((r) => r.controlPlaneMs).filter((x): x is number => x !== undefined);
        const loss = rs.map((r) => r.stream?.lossDerivedMs).filter((x): x is number => x !== undefined);
        const gap = rs.map((r) => r.stream?.longestGapMs).filter((x): x is number => x !== undefined);
        results.push({
          event, setting, trials: rs,
          ...(cp.length ? { controlPlaneMs: summarize(cp) } : {}),
          ...(loss.length ? { lossMs: summarize(loss), longestGapMs: summarize(gap) } : {}),
        });
      }
    } finally {
      await down(lab);
    }
  }
  const res: ConvergenceResults = {
    kind: 'convergence', runId,
    machine: { cpus: cpus().length, kernel: release(), node: process.version },
    parameters: { trials: o.trials, streamRate: RATE, timerResolution: `route events: 1 µs (ip -ts monitor); stream: ${1000 / RATE} ms (one packet)` },
    settings: o.settings.map((id) => ({ id, describe: TIMER_SETTINGS[id].describe })),
    results,
  };
  writeFileSync(`${dir}/results.json`, JSON.stringify(res, null, 2));
  writeFileSync(`${dir}/report.md`, convergenceMarkdown(res));
  o.log(`\n${convergenceMarkdown(res)}\nreport: ${dir}/report.md`);
  return res;
}

function describeTrial(r: TrialResult): string {
  const parts = [
    ...(r.controlPlaneMs !== undefined ? [`control plane ${r.controlPlaneMs.toFixed(1)} ms`] : []),
    ...(r.stream ? [`lost ${r.stream.lost}/${r.stream.sent} (${r.stream.lossDerivedMs} ms, longest gap ${r.stream.longestGapMs} ms)`] : []),
    ...(r.note ? [r.note] : []),
  ];
  return parts.join('; ');
}

async function trial(state: LabState, event: EventId, setting: TimerSetting, t: number): Promise<TrialResult> {
  const st = await status(state);
  const [h1, h2, h3] = state.hosts;
  const wOn = (h: string) => st.workloads.find((w) => w.host === h)!;
  const others = (h: string) => state.hosts.filter((x) => x.name !== h).map((x) => x.name);
  const mon = new RouteMonitor(state.hosts.map((h) => ({ name: h.name, netns: h.netns })));
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
        const port = names.fabricPort(h3!.name);
        const t0 = Date.now() * 1000;
        await ipBatch(state.fabric.netns, [`link set ${port} down`]);
        const holdMs = (TIMER_SETTINGS[setting].timers.holdTime ?? 240) * 1000;
        let controlPlaneMs: number | undefined;
        try {
          controlPlaneMs = await waitCp(t0, block, 'del', others(h3!.name), holdMs + 150_000);
        } catch {
          // never withdrawn within the wait: reported as such
        }
        await ipBatch(state.fabric.netns, [`link set ${port} up`]);
        await withDatastore(state, (ds) => waitForRoutes(ds, state, 60_000));
        return controlPlaneMs === undefined ? { note: 'not withdrawn within hold time + 150 s' } : { controlPlaneMs };
      }
      case 'rr-fail': {
        // Its own lab: 2 route reflectors (host1, host2) and 2 clients with a workload each.
        const rrLab = `bench-rr-${setting}`.slice(0, 16);
        await down(rrLab);
        const { state: rr } = await up({ ...resolveTopology('route-reflector', { hosts: 4 }), timers: TIMER_SETTINGS[setting].timers }, { name: rrLab });
        try {
          const rst = await status(rr);
          const [src, dst] = [rst.workloads.find((w) => w.host === 'host3')!, rst.workloads.find((w) => w.host === 'host4')!];
          const { timers } = TIMER_SETTINGS[setting];
          // Long enough for the dead reflector's sessions to be declared down (BFD, or the hold time).
          const holdS = timers.bfd ? 1 : timers.holdTime ?? 240;
          const seconds = Math.min(holdS + 5, 30);
          const stream = await withStream(src.netns, dst.netns, dst.ip, seconds, async () => {
            await sleep(1000);
            await ipBatch(rr.fabric.netns, [`link set ${names.fabricPort('host1')} down`]);
          });
          return { stream, ...(seconds < holdS ? { note: `stream of ${seconds} s, shorter than the ${holdS} s it takes to notice` } : {}) };
        } finally {
          await down(rrLab);
        }
      }
      case 'link-flap':
      case 'agent-restart':
      case 'etcd-restart': {
        const [src, dst] = [wOn(h1!.name), wOn(h3!.name)];
        const seconds = event === 'link-flap' ? 12 : 4;
        const stream = await withStream(src.netns, dst.netns, dst.ip, seconds, async () => {
          await sleep(1000);
          if (event === 'link-flap') {
            const port = names.fabricPort(h3!.name);
            await ipBatch(state.fabric.netns, [`link set ${port} down`]);
            await sleep(1000);
            await ipBatch(state.fabric.netns, [`link set ${port} up`]);
          } else if (event === 'agent-restart') {
            process.kill(h3!.agent.pid!, 'SIGKILL');
            await sleep(300);
            await heal(readLabState(state.lab));
          } else {
            process.kill(state.etcd.pid!, 'SIGKILL');
            await sleep(1000);
            await heal(readLabState(state.lab));
          }
        });
        await withDatastore(readLabState(state.lab), (ds) => waitForRoutes(ds, readLabState(state.lab), 60_000));
        return { stream };
      }
    }
  } finally {
    await mon.stop();
  }
}

/** A 1,000 pkt/s UDP stream from src to dst for `seconds`, with `during` run while it flows. */
async function withStream(srcNs: string, dstNs: string, dstIp: string, seconds: number, during: () => Promise<void>): Promise<StreamLoss> {
  const count = seconds * RATE;
  const recv = spawn('ip', ['netns', 'exec', dstNs, process.execPath, STREAM, 'recv', String(STREAM_PORT), String(seconds + 2)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const lines = createInterface({ input: recv.stdout! });
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new BackendError('stream receiver did not start')), 10_000);
    lines.on('line', (l) => {
      if (l === 'listening') { clearTimeout(timer); resolve(); } else out += l;
    });
  });
  const done = new Promise<void>((resolve) => recv.once('exit', () => resolve()));
  await ready;
  const send = run('ip', ['netns', 'exec', srcNs, process.execPath, STREAM, 'send', dstIp, String(STREAM_PORT), String(RATE), String(count)], { timeoutMs: (seconds + 30) * 1000 });
  await during();
  await send;
  await done;
  const { received } = JSON.parse(out) as { received: number[] };
  return streamLoss(received, count, RATE);
}

/** Pure: the report as Markdown. */
export function convergenceMarkdown(r: ConvergenceResults): string {
  const ms = (s?: Summary) => (s ? `${s.median.toFixed(1)} (${s.min.toFixed(1)}–${s.max.toFixed(1)})` : '-');
  return [
    `# Convergence (${r.runId})`,
    '',
    `${r.parameters.trials} trials per event and setting; stream ${r.parameters.streamRate} pkt/s; timer resolution: ${r.parameters.timerResolution}; ${r.machine.cpus} CPUs, kernel ${r.machine.kernel}.`,
    '',
    ...r.settings.map((s) => `- **${s.id}**: ${s.describe}`),
    '',
    ...[...new Set(r.results.map((x) => x.event))].map((e) => `- \`${e}\`: ${EVENTS[e]}`),
    '',
    '```',
    table(['event', 'timers', 'control plane ms, median (min–max)', 'loss ms (RFC 6412)', 'longest gap ms', 'trials'],
      r.results.map((x) => [x.event, x.setting, ms(x.controlPlaneMs), ms(x.lossMs), ms(x.longestGapMs), x.trials.length])),
    '```',
    '',
  ].join('\n');
}
