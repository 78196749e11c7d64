import type { PolicyDataplaneKind } from '../model/resources.js';
import type { EventId, TimerSetting } from '../report/convergence-report.js';
import type { ResultKindId } from '../report/kinds.js';
import type { Variant } from '../report/policy-report.js';
import type { ScaleMode } from '../report/scale-report.js';
import { commaList, labArg, oneOf, text, wholeNumber, wholeNumberList, type OptionSpec, type OptionValues } from './options.js';

/**
 * The registry, run side: every `bench …` command and every `run …` scenario, with what it is,
 * the options it takes and how to run it. The CLI builds `bench`, `run` and `report schema` from
 * it; what a benchmark writes (the results schema, what `report diff` compares) is its kind's
 * entry in src/report/kinds.ts, and tsc requires one benchmark per kind there, under the kind's id.
 *
 * Only data and option parsers load here: a benchmark or a scenario loads what it runs
 * (etcd, gRPC, execa...) by dynamic import when it runs, so --help stays instant.
 */

type Log = (line: string) => void;
type Specs = Record<string, OptionSpec>;

export interface Benchmark<O extends Specs = Specs> {
  /** `calico-sim bench <command>`. */
  command: string;
  description: string;
  options: O;
  /** Runs it: it writes reports/<run-id>/ (the kind's results.json, report.md, report.html, charts). */
  run: (o: OptionValues<O>, log: Log) => Promise<unknown>;
}

/** Any benchmark, its options' types forgotten: what the CLI iterates over. */
export type AnyBenchmark = Omit<Benchmark, 'run'> & { run: (o: never, log: Log) => Promise<unknown> };

/**
 * A benchmark whose `run` sees its options typed. (`run` is a second argument: in one object
 * literal, tsc would not infer the options' types before typing `run`'s parameter.)
 */
const benchmark = <O extends Specs>(b: Omit<Benchmark<O>, 'run'>, run: Benchmark<O>['run']): Benchmark<O> => ({ ...b, run });

// The known values of the list options, checked by tsc against the types of what they select.
const keys = <T extends string>(set: Record<T, 1>) => Object.keys(set) as T[];
const DATAPLANES = keys<PolicyDataplaneKind>({ iptables: 1, nftables: 1 });
const SCALE_MODES = keys<ScaleMode>({ mesh: 1, rr: 1 });
const VARIANTS = keys<Variant>({ rules: 1, members: 1 });
export const CONVERGENCE_EVENTS = keys<EventId>({
  'workload-existing-block': 1,
  'workload-new-block': 1,
  'host-join': 1,
  'host-crash': 1,
  'rr-fail': 1,
  'link-flap': 1,
  'agent-restart': 1,
  'bird-restart': 1,
  'etcd-restart': 1,
});
export const TIMER_SETTINGS = keys<TimerSetting>({ default: 1, tuned: 1, bfd: 1 });

const trials = (dflt: string, description: string) => ({ flags: '--trials <n>', description, parse: wholeNumber({ min: 1 }), default: dflt });
const duration = { flags: '--duration <s>', description: 'seconds per iperf3 run', parse: wholeNumber({ min: 1, unit: 'seconds' }), default: '3' };
const reportDir = { flags: '--report-dir <dir>', description: 'where reports/<run-id>/ goes', parse: text, default: 'reports' };
/** `--backend`: where a scenario's or benchmark's lab is built. */
export const BACKENDS = ['netns', 'docker'] as const;
export const backendOption = { flags: '--backend <kind>', description: 'where the lab is built: netns (network namespaces) or docker (containers)', parse: oneOf(BACKENDS), default: 'netns' };

/** Every benchmark, under the id of the results kind it writes (src/report/kinds.ts). */
export const BENCHMARKS = {
  'bench-throughput': benchmark(
    {
      command: 'throughput',
      description:
        'iperf3 (TCP 1 and 4 streams, an unlimited-rate UDP blast and its loss) and ping RTT on four paths side by side: host↔host, L3 workloads across hosts, the same over VXLAN, one host',
      options: { trials: trials('5', 'trials per path and mode (at least 5 for figures worth quoting)'), duration, reportDir, backend: backendOption },
    },
    async (o, log) => {
      const { benchThroughput } = await import('../scenarios/bench-throughput.js');
      return benchThroughput({ trials: o.trials, durationS: o.duration, reportDir: o.reportDir, backend: o.backend, log });
    },
  ),
  'bench-convergence': benchmark(
    {
      command: 'convergence',
      description: 'control-plane (ip monitor route) and data-plane (1,000 pkt/s stream loss) convergence per event, with default, tuned and BFD timers',
      options: {
        trials: trials('5', 'trials per event and timer setting'),
        events: { flags: '--events <list>', description: `comma-separated events (default: all): ${CONVERGENCE_EVENTS.join(', ')}`, parse: commaList(CONVERGENCE_EVENTS, 'event') },
        timers: {
          flags: '--timers <list>',
          description: 'comma-separated timer settings (default: tuned,bfd,default): default is slow, a host crash waits out a 240 s hold time',
          parse: commaList(TIMER_SETTINGS, 'timer setting'),
        },
        reportDir,
        backend: backendOption,
      },
    },
    async (o, log) => {
      const { benchConvergence } = await import('../scenarios/bench-convergence.js');
      return benchConvergence({ trials: o.trials, events: o.events ?? CONVERGENCE_EVENTS, settings: o.timers ?? ['tuned', 'bfd', 'default'], reportDir: o.reportDir, backend: o.backend, log });
    },
  ),
  'bench-policy': benchmark(
    {
      command: 'policy',
      description:
        'network policy cost on iptables and nftables: apply → enforced on every host, throughput of an allowed flow, new-connection and ping latency, at 0…5,000 rules per endpoint (or set members)',
      options: {
        dataplane: { flags: '--dataplane <list>', description: 'comma-separated: iptables,nftables', parse: commaList(DATAPLANES, 'dataplane'), default: 'iptables,nftables' },
        sizes: { flags: '--sizes <list>', description: "rules per endpoint (or members of one rule's set), comma-separated", parse: wholeNumberList({ max: 20_000 }), default: '0,100,1000,5000' },
        variants: {
          flags: '--variants <list>',
          description: 'rules (N rules walked by every new flow), members (one rule, a set of N addresses)',
          parse: commaList(VARIANTS, 'variant'),
          default: 'rules,members',
        },
        trials: trials('3', 'trials per size'),
        duration,
        reportDir,
      },
    },
    async (o, log) => {
      const { benchPolicyRun } = await import('../scenarios/bench-policy.js');
      return benchPolicyRun({ dataplanes: o.dataplane, sizes: o.sizes, variants: o.variants, trials: o.trials, durationS: o.duration, reportDir: o.reportDir, log });
    },
  ),
  'bench-scale': benchmark(
    {
      command: 'scale',
      description:
        'full mesh against route reflectors as the lab grows (whole stack: etcd, agents, BIRD; 1 workload per host; BFD): up time per phase, sessions, routes and memory per host, daemon CPU, a new block reaching every host and a crashed host withdrawn everywhere, per size; charts against the number of hosts',
      options: {
        modes: { flags: '--modes <list>', description: 'comma-separated: mesh (node-to-node full mesh), rr (2 route reflectors)', parse: commaList(SCALE_MODES, 'mode'), default: 'mesh,rr' },
        hosts: {
          flags: '--hosts <list>',
          description: 'lab sizes, comma-separated (a size this machine cannot hold is reported as such)',
          parse: wholeNumberList({ min: 3, max: 1013 }),
          default: '10,25,50,100',
        },
        agents: {
          flags: '--agents <mode>',
          description: 'per-host, shared, or auto (per host up to 20 hosts, shared above)',
          parse: oneOf(['auto', 'per-host', 'shared'] as const),
          default: 'auto',
        },
        reportDir,
      },
    },
    async (o, log) => {
      const { benchScale } = await import('../scenarios/bench-scale.js');
      return benchScale({ modes: o.modes, hosts: o.hosts, agents: o.agents, reportDir: o.reportDir, log });
    },
  ),
} satisfies Record<ResultKindId, AnyBenchmark>;

/** The options of `run`: every scenario takes --lab (alias --name) and --report-dir, and declares which others it takes. */
export const RUN_OPTIONS = {
  lab: { flags: '--lab <lab>', description: "the lab (default: the scenario's own name)" },
  name: { flags: '--name <lab>', description: 'the same as --lab' },
  dataplane: { flags: '--dataplane <kind>', description: 'policy scenarios: the ruleset the agents program, iptables or nftables', parse: oneOf(DATAPLANES), default: 'iptables' },
  break: {
    flags: '--break <policy>',
    description: 'policy scenarios, a negative control: flip the first Allow rule of this policy to Deny (the run must then fail at the cells that rule allowed)',
    parse: text,
  },
  reportDir: { flags: '--report-dir <dir>', description: 'write the results as JSON here', parse: text },
  backend: backendOption,
} satisfies Specs;
export type RunOptions = OptionValues<typeof RUN_OPTIONS>;
/** Options a scenario may leave out of its `takes`. */
export const RUN_COMMON_OPTIONS = ['lab', 'name', 'reportDir', 'backend'] as const;

export interface Scenario {
  description: string;
  /** The options of RUN_OPTIONS beyond --name and --report-dir it takes; any other is refused. */
  takes: Exclude<keyof RunOptions, (typeof RUN_COMMON_OPTIONS)[number]>[];
  /** Runs it and prints as it goes; `passed` false means a check failed (exit code 1). */
  run: (o: RunOptions, print: Log) => Promise<{ passed: boolean }>;
}

/** A policy scenario of src/scenarios/policy.ts (its policies in examples/policy/, its expected matrix there). */
const policyScenario = (id: string, description: string): Scenario => ({
  description,
  takes: ['dataplane', 'break'],
  run: async (o, print) => {
    const { runPolicyScenario, printPolicyRun } = await import('../scenarios/policy.js');
    const r = await runPolicyScenario({ scenario: id, dataplane: o.dataplane, name: labArg(o), backend: o.backend, breakPolicy: o.break, log: print });
    printPolicyRun(r, print, o.reportDir);
    return r;
  },
});

/** Every scenario of `calico-sim run <scenario>`. */
export const SCENARIOS: Record<string, Scenario> = {
  quickstart: {
    description: 'two hosts: BGP sessions, routing tables, ICMP and TCP matrices, a summary, teardown',
    takes: [],
    run: async (o, print) => {
      const { quickstart } = await import('../scenarios/quickstart.js');
      return quickstart({ name: labArg(o), backend: o.backend, reportDir: o.reportDir, print });
    },
  },
  'tenant-isolation': policyScenario('tenant-isolation', 'two tenants over three hosts, dual stack: inside a tenant everything passes, across tenants nothing'),
  'security-groups': policyScenario('security-groups', 'web → app → db: each tier reaches the next on its port only; an unprotected client is reachable by all'),
  'default-deny': policyScenario('default-deny', 'a rule-less policy selects every workload: only TCP from the admin workload passes'),
};
