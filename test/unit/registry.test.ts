import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { addOptions, toOption } from '../../src/cli/options.js';
import { BENCHMARKS, RUN_OPTIONS, SCENARIOS, type AnyBenchmark } from '../../src/cli/registry.js';
import { diffResults } from '../../src/report/diff.js';
import { RESULT_KIND_IDS, RESULT_KINDS, resultKind } from '../../src/report/kinds.js';
import { PolicyBenchResultsSchema } from '../../src/report/policy-report.js';
import { resultsJsonSchema, validateRunReport } from '../../src/report/results-schema.js';
import { buildRunReport } from '../../src/report/run-report.js';
import { POLICY_SCENARIOS } from '../../src/scenarios/policy.js';
import { InputError } from '../../src/util/errors.js';

const ENV = {
  machine: { hostname: 'vm', kernel: '6.1.0', cpus: 2, cpuModel: 'AMD EPYC', memoryBytes: 24 * 2 ** 30 },
  versions: { node: 'v20.20.2', calicoSim: '0.1.0', bird: '2.0.12', etcd: '3.4.23', iperf3: '3.12', iptables: '1.8.9 (nf_tables)', nft: '1.0.6', kernel: '6.1.0' },
};
const s = (median: number) => ({ n: 3, median, min: median * 0.9, max: median * 1.1 });
const at = new Date('2026-11-26T16:00:00Z');

/** One small but complete file of each registered kind. */
const SAMPLES: Record<string, unknown> = {
  'bench-throughput': buildRunReport({
    kind: 'bench-throughput',
    runId: 't',
    startedAt: at,
    finishedAt: at,
    ...ENV,
    topology: { name: 'two-host', hosts: 2, workloads: 4 },
    parameters: { trials: 3, durationS: 3, modes: ['tcp-1'], pingsPerTrial: 200, pingIntervalMs: 5 },
    results: {
      paths: [{ id: 'l3', describe: 'L3' }],
      throughput: [{ path: 'l3', mode: 'tcp-1', trials: [], gbps: s(10), cpuSender: 80, cpuReceiver: 70 }],
      latency: [{ path: 'l3', samples: 200, p50Ms: 0.05, p99Ms: 0.09 }],
      ratios: {},
    },
  }),
  'bench-convergence': buildRunReport({
    kind: 'bench-convergence',
    runId: 'c',
    startedAt: at,
    finishedAt: at,
    ...ENV,
    topology: { name: 'mesh', hosts: 3, workloads: 3 },
    parameters: { trials: 3, events: ['host-crash'], settings: ['bfd'], streamRatePps: 1000, streamCapS: 60 },
    results: {
      timerResolution: '1 µs',
      settings: [{ id: 'bfd', describe: 'BFD' }],
      events: [{ id: 'host-crash', describe: 'crash' }],
      measurements: [{ event: 'host-crash', setting: 'bfd', trials: [{ controlPlaneMs: 480 }], controlPlaneMs: s(480) }],
    },
  }),
  'bench-policy': buildRunReport({
    kind: 'bench-policy',
    runId: 'p',
    startedAt: at,
    finishedAt: at,
    ...ENV,
    topology: { name: 'bench-policy', hosts: 3, workloads: 4 },
    parameters: { dataplanes: ['nftables'], sizes: [1000], variants: ['members'], trials: 3, durationS: 3 },
    results: {
      rows: [
        { dataplane: 'nftables', variant: 'members', size: 1000, enforceMs: s(300), gbps: s(12), ratio: 0.97, connectMs: { p50: 0.2, p99: 0.5 }, pingMs: { p50: 0.09, p99: 0.2 } },
        { dataplane: 'nftables', variant: 'none', size: 0, gbps: s(12.4), ratio: 1, connectMs: { p50: 0.2, p99: 0.4 }, pingMs: { p50: 0.09, p99: 0.2 } },
      ],
      trials: [{ dataplane: 'nftables', variant: 'members', size: 1000, trial: 1, enforceMs: 305, gbps: 12.3 }],
    },
  }),
  'bench-scale': buildRunReport({
    kind: 'bench-scale',
    runId: 'sc',
    startedAt: at,
    finishedAt: at,
    ...ENV,
    topology: { name: 'mesh / route-reflector', hosts: 10, workloads: 10 },
    parameters: { modes: ['mesh', 'rr'], hosts: [10, 5000], workloadsPerHost: 1, agents: 'auto', timers: 'BFD' },
    results: {
      rows: [
        {
          mode: 'mesh',
          hosts: 10,
          ok: true,
          upMs: { namespaces: 100, etcd: 300, daemons: 400, workloads: 2000, 'bgp-converged': 500, total: 3300 },
          sessions: { total: 45, perHostMedian: 9, perHostMax: 9 },
          routesPerHost: { median: 9, max: 9 },
          memoryMB: { birdMedian: 3.1, birdMax: 3.3, birdTotal: 31, agentsTotal: 950, agentProcesses: 10, etcd: 40, total: 1021 },
          cpuSeconds: 12.5,
          newBlockMs: 180,
          crashWithdrawMs: 420,
          sampledHosts: 9,
        },
        { mode: 'rr', hosts: 5000, ok: false, reason: 'too large: needs about 1302.9 GB of memory' },
      ],
    },
  }),
};

describe('the registry, report side (src/report/kinds.ts)', () => {
  it('every kind has a schema that accepts its own files and a diff that finds figures in them', () => {
    expect(RESULT_KIND_IDS).toEqual(['bench-throughput', 'bench-convergence', 'bench-policy', 'bench-scale']);
    expect(Object.keys(SAMPLES)).toEqual([...RESULT_KIND_IDS]);
    for (const k of RESULT_KINDS) {
      const file = JSON.parse(JSON.stringify(SAMPLES[k.id]));
      expect(validateRunReport(file), k.id).toMatchObject({ ok: true });
      expect(k.schema.safeParse({ ...file, results: {} }).success, k.id).toBe(false);
      expect(k.metrics(file.results as never).length, k.id).toBeGreaterThan(0);
      const d = diffResults(file, file, 10);
      expect(d, k.id).toMatchObject({ kind: k.id, regressions: 0 });
      const json = resultsJsonSchema(k.id) as { properties: { kind: { const: string }; results: { type: string } } };
      expect(json.properties.kind.const).toBe(k.id);
      expect(json.properties.results.type).toBe('object');
    }
  });
  it('kinds are distinct, and an unregistered kind is checked against the envelope only', () => {
    expect(new Set(RESULT_KIND_IDS).size).toBe(RESULT_KIND_IDS.length);
    expect(resultKind('conformance')).toBeUndefined();
    expect((resultsJsonSchema() as { properties: { kind: { const?: string } } }).properties.kind.const).toBeUndefined();
  });
  it('report diff of two different kinds is refused, and says which', () => {
    for (const a of RESULT_KIND_IDS) {
      for (const b of RESULT_KIND_IDS.filter((x) => x !== a)) {
        expect(() => diffResults(SAMPLES[a] as object, SAMPLES[b] as object, 10)).toThrow(new InputError(`cannot compare a ${a} run with a ${b} run`));
      }
    }
  });
  it('bench-policy: a broken file says where; the example in docs/results-schema.md fits', () => {
    const broken = JSON.parse(JSON.stringify(SAMPLES['bench-policy'])) as { results: { rows: { gbps: unknown }[] } };
    broken.results.rows[0]!.gbps = 12;
    const v = validateRunReport(broken);
    expect(!v.ok && v.issues[0]).toMatch(/^results\.rows\.0\.gbps: /);
    const doc = readFileSync(new URL('../../docs/results-schema.md', import.meta.url), 'utf8');
    const example = [...doc.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => JSON.parse(m[1]!) as { kind: string; parameters: unknown; results: unknown }).find((e) => e.kind === 'bench-policy')!;
    expect(PolicyBenchResultsSchema.shape.parameters.safeParse(example.parameters).success).toBe(true);
    expect(PolicyBenchResultsSchema.shape.results.safeParse(example.results).success).toBe(true);
  });
});

describe('the registry, run side (src/cli/registry.ts)', () => {
  const benchmarks = Object.entries(BENCHMARKS) as [string, AnyBenchmark][];
  it('one benchmark per results kind, each with its own command', () => {
    expect(benchmarks.map(([k]) => k)).toEqual([...RESULT_KIND_IDS]);
    expect(new Set(benchmarks.map(([, b]) => b.command)).size).toBe(benchmarks.length);
  });
  it("every benchmark's options build, and their defaults parse", () => {
    for (const [kind, b] of benchmarks) {
      const cmd = addOptions(new Command(b.command).exitOverride(), b.options);
      cmd.parse([], { from: 'user' });
      for (const [key, spec] of Object.entries(b.options)) if (spec.default !== undefined) expect(cmd.opts()[key], `${kind} ${key}`).not.toBeUndefined();
      expect(b.description.length, kind).toBeGreaterThan(20);
    }
    expect(() => addOptions(new Command('run'), RUN_OPTIONS)).not.toThrow();
  });
  it('bad values are refused while commander parses, before anything runs', () => {
    const policy = BENCHMARKS['bench-policy'];
    const cmd = addOptions(new Command('policy').exitOverride(), policy.options);
    expect(() => cmd.parse(['--trials', '0x2'], { from: 'user' })).toThrow(new InputError('--trials takes a whole number ≥ 1, not "0x2"'));
    expect(() => cmd.parse(['--dataplane', 'pf'], { from: 'user' })).toThrow(/unknown dataplane "pf"/);
  });
  it('the policy scenarios are those of src/scenarios/policy.ts; options a scenario takes are options of run', () => {
    expect(Object.keys(SCENARIOS)).toEqual(['quickstart', ...POLICY_SCENARIOS.map((p) => p.id)]);
    for (const [name, sc] of Object.entries(SCENARIOS)) {
      for (const o of sc.takes) expect(Object.keys(RUN_OPTIONS), name).toContain(o);
    }
    expect(toOption(RUN_OPTIONS.break).long).toBe('--break');
  });
});

/**
 * The modules `calico-sim --help` loads: src/cli/main.ts and what it imports statically,
 * following relative imports (not `import type`, not `import()`). None may reach the engine.
 */
function staticClosure(entry: string): { files: string[]; packages: string[] } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    const src = readFileSync(file, 'utf8');
    for (const m of src.matchAll(/^(?:import|export)\s+(?!type\b)[^;]*?\bfrom\s+'([^']+)'/gm)) {
      const spec = m[1]!;
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
      else packages.add(spec);
    }
  };
  visit(entry);
  return { files: [...files].map((f) => f.slice(f.indexOf('/src/') + 1)).sort(), packages: [...packages].sort() };
}

describe('--help stays instant', () => {
  it('the CLI loads no engine, benchmark, scenario, zod or charts until a command runs', () => {
    const { files, packages } = staticClosure(join(fileURLToPath(new URL('../../src/cli/', import.meta.url)), 'main.ts'));
    expect(packages.filter((p) => !p.startsWith('node:'))).toEqual(['commander']);
    expect(files.filter((f) => !/^src\/(cli|util\/(errors|table|spawner)|topologies\/catalog)\.?/.test(f))).toEqual([]);
  });
});
