import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { diffResults } from '../../src/report/diff.js';
import { RESULT_KIND_IDS, RESULT_KINDS, resultKind } from '../../src/report/kinds.js';
import { PolicyBenchResultsSchema } from '../../src/report/policy-report.js';
import { resultsJsonSchema, validateRunReport } from '../../src/report/results-schema.js';
import { buildRunReport } from '../../src/report/run-report.js';
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
    kind: 'bench-throughput', runId: 't', startedAt: at, finishedAt: at, ...ENV, topology: { name: 'two-host', hosts: 2, workloads: 4 },
    parameters: { trials: 3, durationS: 3, modes: ['tcp-1'], pingsPerTrial: 200, pingIntervalMs: 5 },
    results: {
      paths: [{ id: 'l3', describe: 'L3' }],
      throughput: [{ path: 'l3', mode: 'tcp-1', trials: [], gbps: s(10), cpuSender: 80, cpuReceiver: 70 }],
      latency: [{ path: 'l3', samples: 200, p50Ms: 0.05, p99Ms: 0.09 }],
      ratios: {},
    },
  }),
  'bench-convergence': buildRunReport({
    kind: 'bench-convergence', runId: 'c', startedAt: at, finishedAt: at, ...ENV, topology: { name: 'mesh', hosts: 3, workloads: 3 },
    parameters: { trials: 3, events: ['host-crash'], settings: ['bfd'], streamRatePps: 1000, streamCapS: 60 },
    results: {
      timerResolution: '1 µs', settings: [{ id: 'bfd', describe: 'BFD' }], events: [{ id: 'host-crash', describe: 'crash' }],
      measurements: [{ event: 'host-crash', setting: 'bfd', trials: [{ controlPlaneMs: 480 }], controlPlaneMs: s(480) }],
    },
  }),
  'bench-policy': buildRunReport({
    kind: 'bench-policy', runId: 'p', startedAt: at, finishedAt: at, ...ENV, topology: { name: 'bench-policy', hosts: 3, workloads: 4 },
    parameters: { dataplanes: ['nftables'], sizes: [1000], variants: ['members'], trials: 3, durationS: 3 },
    results: {
      rows: [
        { dataplane: 'nftables', variant: 'members', size: 1000, enforceMs: s(300), gbps: s(12), ratio: 0.97, connectMs: { p50: 0.2, p99: 0.5 }, pingMs: { p50: 0.09, p99: 0.2 } },
        { dataplane: 'nftables', variant: 'none', size: 0, gbps: s(12.4), ratio: 1, connectMs: { p50: 0.2, p99: 0.4 }, pingMs: { p50: 0.09, p99: 0.2 } },
      ],
      trials: [{ dataplane: 'nftables', variant: 'members', size: 1000, trial: 1, enforceMs: 305, gbps: 12.3 }],
    },
  }),
};

describe('the registry, report side (src/report/kinds.ts)', () => {
  it('every kind has a schema that accepts its own files and a diff that finds figures in them', () => {
    expect(RESULT_KIND_IDS).toEqual(['bench-throughput', 'bench-convergence', 'bench-policy']);
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
