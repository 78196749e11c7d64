import { mkdirSync, readFileSync } from 'node:fs';
import { quantile } from '../measure/stats.js';
import { routeConvergence } from '../measure/convergence.js';
import { RouteMonitor } from '../measure/route-monitor.js';
import { blockOf } from '../net/cidr.js';
import { buildRunReport, collectEnvironment, newRunId, writeRunReport } from '../report/run-report.js';
import { type ScaleMode, scaleMarkdown, type ScaleResults, type ScaleRow, writeScaleReport } from '../report/scale-report.js';
import { backendOf } from '../sim/backends/index.js';
import { agentDaemons } from '../sim/daemons.js';
import { cutLink } from '../sim/faults.js';
import { withDatastore, withLab } from '../sim/lab.js';
import { waitForBgpSettled } from '../sim/readiness.js';
import type { LabState } from '../sim/state.js';
import { status } from '../sim/status.js';
import { addLabWorkload } from '../sim/workloads.js';
import { resolveTopology } from '../topologies/index.js';
import { InterruptedError, errorMessage } from '../util/errors.js';
import { sleep, waitFor } from '../util/exec.js';
import { ipJsonIn } from '../util/node-runner.js';
import { pool } from '../util/pool.js';
import { TIMER_SETTINGS } from './bench-convergence.js';

/** The churn timings watch every host up to this many, a random sample of this many above. */
const SAMPLE = 50;
const BFD_DESCRIBE = `${TIMER_SETTINGS.bfd.describe}, on the sessions of the host whose crash is timed`;
/** How many hosts' routes are read at once. */
const CONCURRENCY = 16;

/**
 * `calico-sim bench scale`: for each mode (full mesh, route reflectors) and size, a lab on the
 * whole stack (etcd, agents, BIRD), one workload per host, BFD on the sessions of the host whose
 * crash is timed (on every session BFD alone overloads 2 cores past ~50 mesh hosts); what `up`
 * took per phase, sessions, routes and memory per host, the daemons' CPU, then churn at that
 * size: a new block reaching every host, a crashed host's block leaving every kernel. A size the
 * machine cannot hold (by the estimate), or that fails, is a row saying why; the sweep goes on.
 */
export async function benchScale(o: {
  modes: ScaleMode[];
  hosts: number[];
  agents: 'auto' | 'per-host' | 'shared';
  reportDir: string;
  log: (l: string) => void;
  labPrefix?: string;
}): Promise<ScaleResults> {
  const started = new Date();
  const runId = newRunId('bench-scale', started);
  const dir = `${o.reportDir}/${runId}`;
  mkdirSync(dir, { recursive: true });
  const env = collectEnvironment();
  const rows: ScaleRow[] = [];
  for (const mode of o.modes) {
    for (const hosts of o.hosts) {
      o.log(`== ${mode === 'mesh' ? 'full mesh' : 'route reflectors'}, ${hosts} hosts`);
      const row = await scaleTrial(mode, hosts, o);
      rows.push(row);
      o.log(
        row.ok
          ? `   converged in ${((row.upMs?.total ?? 0) / 1000).toFixed(1)} s; new block everywhere in ${row.newBlockMs ?? '–'} ms; ${row.memoryMB?.total ?? '–'} MB`
          : `   not built: ${row.reason}`,
      );
    }
  }
  const res: ScaleResults = buildRunReport({
    kind: 'bench-scale',
    runId,
    startedAt: started,
    finishedAt: new Date(),
    ...(await env),
    topology: {
      name: 'mesh / route-reflector',
      hosts: Math.max(...o.hosts),
      workloads: Math.max(...o.hosts),
      describe: 'one lab per mode and size: mesh --hosts N, route-reflector --hosts N (2 reflectors), 1 workload per host',
    },
    parameters: { modes: o.modes, hosts: o.hosts, workloadsPerHost: 1, agents: o.agents, timers: BFD_DESCRIBE },
    results: { rows },
  });
  writeRunReport(dir, res);
  await writeScaleReport(res, dir);
  o.log(`\n${scaleMarkdown(res)}\nreport: ${dir}/report.html`);
  return res;
}

async function scaleTrial(mode: ScaleMode, hosts: number, o: { agents: 'auto' | 'per-host' | 'shared'; log: (l: string) => void; labPrefix?: string }): Promise<ScaleRow> {
  const base = resolveTopology(mode === 'mesh' ? 'mesh' : 'route-reflector', { hosts, workloads: 1 });
  // /31 blocks: a host's one workload leaves room for one more; the one after needs a new block.
  // The churn subject is the last host (a client in both modes): BFD runs on its sessions only.
  const subject = base.hosts.at(-1)!.name;
  const bfd = { ...TIMER_SETTINGS.bfd.timers.bfd!, nodes: [subject] };
  const plan = { ...base, pools: base.pools.map((p) => ({ ...p, blockSize: 31 })), timers: { ...TIMER_SETTINGS.bfd.timers, bfd }, agents: { ...base.agents, mode: o.agents } };
  const name = `${o.labPrefix ?? 'sc'}-${mode}-${hosts}`;
  try {
    return await withLab(plan, { name, log: (l) => o.log(`   ${l}`) }, async (lab) => ({ mode, hosts, ok: true, upMs: lab.timings, ...(await measure(lab.state, subject)) }));
  } catch (err) {
    if (err instanceof InterruptedError) throw err;
    return { mode, hosts, ok: false, reason: errorMessage(err) };
  }
}

async function measure(state: LabState, subjectName: string): Promise<Omit<ScaleRow, 'mode' | 'hosts' | 'ok'>> {
  const backend = backendOf(state);
  // `up` returns once every block is in every kernel; a session no route needs (between the two
  // route reflectors) may still be connecting then. Sessions are counted once all are Established.
  await withDatastore(state, (ds) => waitForBgpSettled(ds, state, 60_000 + 100 * state.hosts.length));
  const st = await status(state);
  const established = st.bgp.filter((b) => b.state === 'Established');
  const perHost = state.hosts.map((h) => established.filter((b) => b.host === h.name).length);
  const routes = await pool(
    state.hosts.map((h) => async () => (await ipJsonIn<unknown[]>(backend, h.netns, ['-4', 'route', 'show', 'proto', 'bird'])).length),
    CONCURRENCY,
  );
  const birdMB = state.hosts.map((h) => rssMB(h.bird.pid));
  const agents = agentDaemons(state).map((a) => a.hosts[0]!.agent.pid);
  const agentsMB = sum(agents.map(rssMB));
  const etcdMB = rssMB(state.etcd.pid);
  const pids = [state.etcd.pid, ...state.hosts.map((h) => h.bird.pid), ...agents];
  const cpuSeconds = sum(pids.map(cpuOf));

  // Churn, watched on every host but the one that changes (a random sample on large labs).
  const subject = state.hosts.find((h) => h.name === subjectName)!;
  const sample = shuffle(state.hosts.filter((h) => h.name !== subject.name)).slice(0, SAMPLE);
  const mon = await RouteMonitor.start(
    backend,
    sample.map((h) => ({ name: h.name, netns: h.netns })),
  );
  let newBlockMs: number | undefined;
  let crashWithdrawMs: number | undefined;
  let note: string | undefined;
  try {
    await sleep(300); // the monitors are listening
    const converged = (t0: number, dst: string, kind: 'add' | 'del') =>
      routeConvergence(
        mon.events(),
        t0,
        dst,
        kind,
        sample.map((h) => h.name),
      ).convergedUs;
    await addLabWorkload(state, 'scale-fill', subject.name); // fills the host's block
    const t0 = Date.now() * 1000;
    const w = await addLabWorkload(state, 'scale-new', subject.name);
    const block = blockOf(w.spec.ipNetworks[0]!.split('/')[0]!, 31);
    newBlockMs = (await waitFor(`${block} on every sampled host`, async () => converged(t0, block, 'add'), 60_000, 20)) / 1000;
    const t1 = Date.now() * 1000;
    await cutLink(state, subject.name);
    crashWithdrawMs = (await waitFor(`${block} withdrawn from every sampled host`, async () => converged(t1, block, 'del'), 60_000, 20)) / 1000;
  } catch (err) {
    if (err instanceof InterruptedError) throw err;
    // The lab converged; a churn timing that did not finish is said, the other figures stand.
    note = `churn not measured: ${errorMessage(err)}`;
  } finally {
    await mon.stop();
  }
  const round = (n: number) => Math.round(n * 10) / 10;
  return {
    sessions: { total: established.length / 2, perHostMedian: quantile(perHost, 0.5), perHostMax: Math.max(...perHost) },
    routesPerHost: { median: quantile(routes, 0.5), max: Math.max(...routes) },
    memoryMB: {
      birdMedian: round(quantile(birdMB, 0.5)),
      birdMax: round(Math.max(...birdMB)),
      birdTotal: round(sum(birdMB)),
      agentsTotal: round(agentsMB),
      agentProcesses: agents.length,
      etcd: round(etcdMB),
      total: round(sum(birdMB) + agentsMB + etcdMB),
    },
    cpuSeconds: round(cpuSeconds),
    ...(newBlockMs !== undefined ? { newBlockMs: round(newBlockMs) } : {}),
    ...(crashWithdrawMs !== undefined ? { crashWithdrawMs: round(crashWithdrawMs) } : {}),
    sampledHosts: sample.length,
    ...(note ? { note } : {}),
  };
}

/** Resident memory of a process, MB (0 when it is gone). */
function rssMB(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const kb = Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    return kb / 1024;
  } catch {
    return 0;
  }
}

/** CPU seconds a process has used (user + system; the kernel counts in 1/100 s here). */
function cpuOf(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return 0;
  }
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

function shuffle<T>(xs: T[]): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}
