/**
 * `calico-sim probe`: the reachability matrix of the conformance suite, on any running lab —
 * echo servers started in the probed workloads (and hosts named in --from/--to) for the run, one
 * cell per (from, to, protocol, family, port), each with its RTT and who answered.
 */
import { keys } from '../datastore/keys.js';
import type { WorkloadEndpoint } from '../model/resources.js';
import { backendOf } from '../sim/backends/index.js';
import { withDatastore } from '../sim/lab.js';
import type { LabState } from '../sim/state.js';
import { judgeExpectations, pickEndpoints, probePairs, type Expectation, type Mismatch, type ProbeEndpoint } from '../verify/probe-plan.js';
import { reachability, type Family, type PairResult, type Proto } from '../verify/reachability.js';

export interface ProbeOptions {
  from?: string;
  to?: string;
  protos: Proto[];
  families: Family[];
  ports: number[];
  /** Probe this many (from, to) pairs, picked at random, instead of all. */
  sample?: number;
  timeoutMs: number;
  expectations?: Expectation[];
}

/** What `probe --output json` prints (a contract: README, "probe"). */
export interface ProbeRun {
  lab: string;
  protos: Proto[];
  families: Family[];
  ports: number[];
  /** (from, to) pairs probed; each has a cell per protocol, family (both ends have it) and port. */
  pairs: number;
  cells: PairResult[];
  /** With --expect: the lines that did not hold (empty: all held). */
  mismatches?: Mismatch[];
  ms: number;
}

export async function probeLab(state: LabState, o: ProbeOptions): Promise<ProbeRun> {
  const t0 = performance.now();
  const weps = await withDatastore(state, async (ds) => (await ds.list<WorkloadEndpoint>(keys.workloadEndpoints)).items.map((i) => i.value));
  const all = weps
    .map((w): ProbeEndpoint => {
      const ip = (fam: string) => w.spec.ipNetworks.find((n) => n.includes(':') === (fam === '6'))?.split('/')[0];
      return {
        name: w.spec.workload,
        netns: w.spec.netns,
        ip: ip('4') ?? ip('6')!,
        ...(ip('4') && ip('6') ? { ip6: ip('6')! } : {}),
        namespace: w.metadata.namespace ?? 'default',
        labels: w.metadata.labels ?? {},
      };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
  // A host by name: its own namespace, its fabric address (host endpoint policy, failsafe ports).
  const hosts = state.hosts.map((h): ProbeEndpoint => ({ name: h.name, netns: h.netns, ip: h.ip, namespace: '', labels: {} }));
  const pairs = probePairs(pickEndpoints(all, o.from, '--from', hosts), pickEndpoints(all, o.to, '--to', hosts), o.sample);
  const wanted = new Set(pairs.map(([f, t]) => `${f.name}>${t.name}`));
  const sources = [...new Map(pairs.map(([f]) => [f.name, f])).values()];
  const targets = [...new Map(pairs.map(([, t]) => [t.name, t])).values()];
  const cells =
    pairs.length === 0
      ? []
      : await reachability({
          runner: backendOf(state),
          endpoints: targets,
          sources,
          protos: o.protos,
          families: o.families,
          ports: o.ports,
          timeoutMs: o.timeoutMs,
          only: (f, t) => wanted.has(`${f.name}>${t.name}`),
        });
  cells.sort((a, b) => a.from.localeCompare(b.from) || a.to.localeCompare(b.to) || a.proto.localeCompare(b.proto) || a.family - b.family || (a.port ?? 0) - (b.port ?? 0));
  return {
    lab: state.lab,
    protos: o.protos,
    families: o.families,
    ports: o.ports,
    pairs: pairs.length,
    cells,
    ...(o.expectations ? { mismatches: judgeExpectations(cells, o.expectations) } : {}),
    ms: Math.round(performance.now() - t0),
  };
}
