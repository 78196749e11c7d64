import { constants as osConstants } from 'node:os';
import { existsSync } from 'node:fs';
import { addWorkload } from '../cni/workload.js';
import { Datastore } from '../datastore/store.js';
import type { LabPlan } from '../model/topology.js';
import { InputError, InterruptedError, NoSuchLabError, errorMessage } from '../util/errors.js';
import { capacityProblems, describeEstimate, estimateLab, machineFacts } from './capacity.js';
import type { Backend, DestroyReport } from './backend.js';
import { allLabs, backendFor, DEFAULT_BACKEND } from './backends/index.js';
import { cniEnv } from './cni-env.js';
import { etcdSpec } from './daemons.js';
import { checkLabName } from '../model/names.js';
import { neighbourPreflight, requireRoot, requireTools } from './preflight.js';
import { claimStateDir, initialState, labPhase, readLabState, removeStaleClaims, thisBuilder, writeLabState, type LabPhase, type LabState } from './state.js';
import { registerNodes, seedDatastore, startHostDaemons, startRouters } from './bootstrap.js';
import { waitForRoutes } from './readiness.js';
import { pool } from '../util/pool.js';

export interface UpResult {
  state: LabState;
  /** Milliseconds per phase, and `total`. */
  timings: Record<string, number>;
  notes: string[];
}

type Log = (line: string) => void;

/**
 * Builds a lab from a validated plan: fabric and hosts, etcd, the datastore's initial resources,
 * BIRD and an agent per host, the workloads; returns once every host has learned every other
 * host's blocks by BGP. On any failure everything it made is removed again.
 */
export async function up(asked: LabPlan, opts: { name: string; backend?: string; log?: Log; ignoreLimits?: boolean }): Promise<UpResult> {
  const log = opts.log ?? (() => undefined);
  const lab = checkLabName(opts.name);
  requireRoot();
  requireTools();
  const backend = backendFor(opts.backend ?? asked.backend ?? DEFAULT_BACKEND);
  let plan = asked;
  if (backend.agentsInNodes) {
    // Its agents run inside the host containers, as calico-node does: one per host.
    if (plan.agents.mode === 'shared')
      throw new InputError(`the ${backend.kind} backend runs an agent inside each host container (as calico-node does): shared agent processes are for the netns backend`);
    plan = { ...plan, agents: { ...plan.agents, mode: 'per-host' } };
  }
  checkCapacity(plan, opts.ignoreLimits ?? false, log);
  // What the backend needs (an engine, an image), before anything is made.
  await backend.prepare(plan, log);
  const state = initialState(
    lab,
    plan,
    backend.kind,
    {
      fabric: backend.fabricNetns(lab),
      host: (h) => backend.hostNetns(lab, h),
      router: (r) => backend.routerNetns(lab, r),
      client: (c) => backend.clientNetns(lab, c),
    },
    thisBuilder(),
  );
  // SIGINT, SIGTERM and SIGHUP stop the build at its next step and remove what was made.
  const interrupt = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (interrupt.signal.aborted) return log(`${sig}: still removing what was made`);
    log(`${sig}: stopping, then removing what was made`);
    interrupt.abort(new InterruptedError(sig));
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of signals) process.on(s, onSignal);
  const step = () => interrupt.signal.throwIfAborted();
  try {
    await claimLab(backend, state, log);
  } catch (err) {
    for (const s of signals) process.off(s, onSignal);
    throw err;
  }
  // From here on the lab exists: lab.json names this process as its builder, so a kill -9
  // leaves a lab that `status`, `up` and `down --all` recognise as incomplete.
  const notes: string[] = [];
  const timings: Record<string, number> = {};
  const t0 = performance.now();
  let mark = t0;
  const phase = (what: string) => {
    const now = performance.now();
    timings[what] = Math.round(now - mark);
    mark = now;
    log(`${what}: ${timings[what]} ms`);
    step();
  };
  let ds: Datastore | undefined;
  try {
    notes.push(neighbourPreflight(estimateLab(plan).neighbours));
    for (const n of notes) log(`preflight: ${n}`);
    await backend.createFabric(lab, plan);
    step();
    await backend.addHosts(lab, plan, plan.hosts);
    step();
    await backend.addRouters(lab, plan, plan.routers);
    phase('namespaces');

    state.etcd.pid = await backend.startDaemon(etcdSpec(state));
    writeLabState(state);
    ds = new Datastore([state.etcd.clientUrl]);
    await ds.ready(15_000, interrupt.signal);
    phase('etcd');

    await seedDatastore(ds, plan);
    await registerNodes(ds, plan.hosts);
    step();
    await startHostDaemons(ds, state, state.hosts);
    await startRouters(state);
    writeLabState(state);
    phase('daemons');

    // The sandboxes in one batch; then the hosts WORKLOAD_HOSTS at a time, one host's workloads
    // in turn, so they fill a block before claiming the next (Calico's CNI plugin takes a
    // per-host IPAM lock for the same reason). All at once, a thousand hosts' namespace and veth
    // work contends for the kernel's locks until single commands take longer than 30 s.
    const sandboxes = plan.workloads.map((w) => backend.workloadNetns(lab, w.name));
    for (let i = 0; i < sandboxes.length; i += SANDBOX_BATCH) await backend.addWorkloadNetns(sandboxes.slice(i, i + SANDBOX_BATCH));
    step();
    const env = cniEnv(backend, { sandboxesMade: true });
    await pool(
      plan.hosts.map((h) => async () => {
        for (const w of plan.workloads.filter((x) => x.host === h.name)) {
          step();
          await addWorkload(
            ds!,
            {
              lab,
              name: w.name,
              host: w.host,
              hostNetns: backend.hostNetns(lab, w.host),
              ...(w.namespace ? { namespace: w.namespace } : {}),
              ...(w.labels ? { labels: w.labels } : {}),
              ...(w.ports ? { ports: w.ports } : {}),
            },
            env,
          );
        }
      }),
      WORKLOAD_HOSTS,
    );
    phase('workloads');

    // BGP needs longer on a large lab: every BIRD learns every block (measured: mesh 50 in 33 s).
    await waitForRoutes(ds, state, 30_000 + 1_000 * plan.hosts.length, interrupt.signal);
    phase('bgp-converged');
    delete state.builder;
    writeLabState(state);
    timings.total = Math.round(performance.now() - t0);
    return { state, timings, notes };
  } catch (err) {
    const why = interrupt.signal.aborted ? (interrupt.signal.reason as InterruptedError) : err;
    log(`up failed, removing what was made: ${errorMessage(why)}`);
    ds?.close();
    ds = undefined;
    await backend.destroy(lab);
    throw why;
  } finally {
    ds?.close();
    for (const s of signals) process.off(s, onSignal);
  }
}

/** Workload sandboxes made per `ip -batch` (each one slower as the mount table grows: keep a batch well inside its timeout). */
const SANDBOX_BATCH = 256;
/** Hosts whose workloads `up` adds at once (each add is a few commands and etcd writes). */
const WORKLOAD_HOSTS = 64;

/** Labs a running scenario owns: removed when a signal stops the process. */
const owned = new Set<string>();
let ownedHandler: ((sig: NodeJS.Signals) => void) | undefined;
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

function own(lab: string, log: Log): void {
  owned.add(lab);
  if (ownedHandler) return;
  ownedHandler = (sig) => {
    log(`${sig}: removing ${[...owned].join(', ')}`);
    void Promise.allSettled([...owned].map((l) => down(l))).then(() => process.exit(128 + (osConstants.signals[sig] ?? 0)));
  };
  for (const s of SIGNALS) process.on(s, ownedHandler!);
}

function disown(lab: string): void {
  owned.delete(lab);
  if (owned.size > 0 || !ownedHandler) return;
  for (const s of SIGNALS) process.off(s, ownedHandler!);
  ownedHandler = undefined;
}

/**
 * A lab for the length of `fn`: leftovers of an earlier run of the same name are removed, the lab
 * is built, `fn` runs, and the lab is removed again — also when `fn` throws, and when SIGINT,
 * SIGTERM or SIGHUP stops the process (which then exits 128 + the signal's number). `timings.down`
 * is the teardown's time in ms, set once it is done.
 */
export async function withLab<T>(plan: LabPlan, opts: { name: string; backend?: string; log?: Log }, fn: (lab: UpResult) => Promise<T>): Promise<T> {
  const log = opts.log ?? (() => undefined);
  await down(opts.name);
  const lab = await up(plan, opts);
  own(opts.name, log);
  try {
    return await fn(lab);
  } finally {
    const t0 = performance.now();
    try {
      await down(opts.name);
    } finally {
      disown(opts.name);
    }
    lab.timings.down = Math.round(performance.now() - t0);
  }
}

/** Refuses, before anything is made, a lab this machine cannot hold; says what it will cost. */
function checkCapacity(plan: LabPlan, ignoreLimits: boolean, log: Log): void {
  const estimate = estimateLab(plan);
  const { hard, soft } = capacityProblems(estimate, machineFacts());
  const what = `this lab (${describeEstimate(estimate)})`;
  if (hard.length) throw new InputError(`${plan.source}: too large: ${hard.join('; ')}`);
  if (soft.length && !ignoreLimits) throw new InputError(`${plan.source}: this machine cannot hold ${what}: ${soft.join('; ')} (build it anyway with --ignore-limits)`);
  if (soft.length) log(`preflight: over this machine's limits, building anyway (--ignore-limits): ${soft.join('; ')}`);
}

/**
 * Takes the lab's name, atomically. A lab of that name whose builder died (kill -9 of `up`) is
 * reaped first; one that is up, or still being built by a live process, is refused.
 */
async function claimLab(backend: Backend, state: LabState, log: Log): Promise<void> {
  const lab = state.lab;
  const exists = (why: string) => new InputError(`lab "${lab}" ${why}: use another --lab, or calico-sim down --lab ${lab}`);
  removeStaleClaims();
  // Leftovers of a lab whose state directory was removed by hand (namespaces only) have no
  // builder: they are reaped.
  if (!existsSync(state.dir) && (await backend.labs()).includes(lab)) {
    const left = await backend.destroy(lab);
    log(`reaped the leftovers of an earlier lab "${lab}" (${left.namespaces.length} namespaces, ${left.processes} processes)`);
  }
  if (claimStateDir(state)) return;
  let old: LabState;
  try {
    old = readLabState(lab);
  } catch {
    throw exists('already exists');
  }
  const phase = labPhase(old);
  if (phase === 'ready') throw exists('already exists');
  if (phase === 'building') throw exists(`is being built by process ${old.builder!.pid}`);
  const left = await backend.destroy(lab);
  log(`reaped lab "${lab}", left incomplete by process ${old.builder!.pid} that died while building it (${left.namespaces.length} namespaces, ${left.processes} processes)`);
  if (!claimStateDir(state)) throw exists('was taken again while reaping it');
}

/** The lab to act on: the named one (an empty or malformed name is an error), or the only one there is. */
export async function resolveLab(name: string | undefined): Promise<LabState> {
  if (name !== undefined) return readLabState(checkLabName(name));
  const labs = (await allLabs()).map((l) => l.lab);
  if (labs.length === 0) throw new NoSuchLabError(undefined, []);
  if (labs.length > 1) throw new InputError(`several labs are running (${labs.join(', ')}): say which with --lab`);
  return readLabState(labs[0]!);
}

export interface DownReport extends DestroyReport {
  /** What the lab was: built, still being built, or left incomplete by a builder that died. */
  phase?: LabPhase;
}

export async function down(name: string): Promise<DownReport> {
  requireRoot();
  checkLabName(name);
  let kind: string | undefined;
  let phase: LabPhase | undefined;
  try {
    const st = readLabState(name);
    kind = st.backend;
    phase = labPhase(st);
  } catch {
    // no state file (its directory was removed by hand): the system state is enough
  }
  // Without state (its directory was removed by hand), the backend that still holds it.
  const backend = kind ? backendFor(kind) : ((await allLabs()).find((l) => l.lab === name)?.backend ?? backendFor(DEFAULT_BACKEND));
  return { ...(await backend.destroy(name)), ...(phase ? { phase } : {}) };
}

export async function downAll(): Promise<DownReport[]> {
  requireRoot();
  removeStaleClaims();
  return Promise.all((await allLabs()).map((l) => down(l.lab)));
}

/** Opens the lab's datastore for the duration of `fn`. */
export async function withDatastore<T>(state: LabState, fn: (ds: Datastore) => Promise<T>, readyMs = 5_000): Promise<T> {
  const ds = new Datastore([state.etcd.clientUrl]);
  try {
    await ds.ready(readyMs);
    return await fn(ds);
  } finally {
    ds.close();
  }
}
