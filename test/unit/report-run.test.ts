import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { StreamResult, TrialResult } from '../../src/measure/convergence.js';
import { summarizeTrials } from '../../src/measure/convergence.js';
import { convergenceCharts, convergenceMarkdown, convergenceSeries, lossCell, writeConvergenceReport, type ConvergenceResults } from '../../src/report/convergence-report.js';
import { diffResults } from '../../src/report/diff.js';
import { resultsJsonSchema, validateRunReport } from '../../src/report/results-schema.js';
import { buildRunReport, collectEnvironment, machineFrom, newRunId, RESULTS_SCHEMA, versionsFrom, writeRunReport } from '../../src/report/run-report.js';

const dir = mkdtempSync(join(tmpdir(), 'csim-run-report-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ENV = {
  machine: { hostname: 'vm', kernel: '6.1.0', cpus: 2, cpuModel: 'AMD EPYC', memoryBytes: 24 * 2 ** 30 },
  versions: { node: 'v20.20.2', calicoSim: '0.1.0', bird: '2.0.12', etcd: '3.4.23', iperf3: '3.12', iptables: '1.8.9 (nf_tables)', nft: '1.0.6', kernel: '6.1.0' },
};

const stream = (lost: number, recovered = true): StreamResult => ({ sent: 4000 + lost, received: 4000, lost, lossDerivedMs: lost, longestGapMs: lost, duplicates: 0, recovered });

/** A convergence run: two settings, a control-plane event, a stream event (one BFD trial never recovering). */
function convergence(o: { flapLoss?: number } = {}): ConvergenceResults {
  const cell = (event: 'host-crash' | 'link-flap', setting: 'tuned' | 'bfd', trials: TrialResult[]) => ({ event, setting, trials, ...summarizeTrials(trials) });
  const flap = o.flapLoss ?? 1013;
  return buildRunReport({
    kind: 'bench-convergence',
    runId: 'convergence-test',
    startedAt: new Date('2026-11-26T14:00:00Z'),
    finishedAt: new Date('2026-11-26T14:30:00Z'),
    ...ENV,
    topology: { name: 'mesh', hosts: 3, workloads: 3 },
    parameters: { trials: 3, events: ['host-crash', 'link-flap'], settings: ['tuned', 'bfd'], streamRatePps: 1000, streamCapS: 60 },
    results: {
      timerResolution: 'route events: 1 µs; stream: 1 ms',
      settings: [
        { id: 'tuned', describe: 'hold 9 s' },
        { id: 'bfd', describe: 'BFD 100 ms × 3' },
      ],
      events: [
        { id: 'host-crash', describe: 'a host goes away' },
        { id: 'link-flap', describe: 'a link flaps' },
      ],
      measurements: [
        cell('host-crash', 'tuned', [{ controlPlaneMs: 8730.7 }, { controlPlaneMs: 8060.6 }, { controlPlaneMs: 9369.7 }]),
        cell('link-flap', 'tuned', [{ stream: stream(flap) }, { stream: stream(flap - 1) }, { stream: stream(flap + 1) }]),
        cell('host-crash', 'bfd', [{ controlPlaneMs: 482.4 }, { controlPlaneMs: 455.3 }, { controlPlaneMs: 505.8 }]),
        cell('link-flap', 'bfd', [{ stream: stream(6100) }, { stream: stream(59_000, false), note: 'traffic not flowing again within 60 s' }, { stream: stream(11_200) }]),
      ],
    },
  });
}

function pngSize(b: Buffer): { width: number; height: number } {
  expect(b.subarray(1, 4).toString('latin1')).toBe('PNG');
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}

describe('the results envelope (pure builders)', () => {
  it('run ids sort by time and are directory names', () => {
    expect(newRunId('bench-throughput', new Date('2026-11-26T14:18:26.552Z'))).toBe('bench-throughput-2026-11-26T14-18-26-552Z');
  });
  it('versions from real --version output; a missing tool is "unknown"', () => {
    const v = versionsFrom(
      {
        bird: 'BIRD version 2.0.12\n',
        etcd: 'etcd Version: 3.4.23\nGit SHA: Not provided\n',
        iperf3: 'iperf 3.12 (cJSON 1.7.15)\nLinux vm 6.1.0',
        iptables: 'iptables v1.8.9 (nf_tables)\n',
        nft: 'nftables v1.0.6 (Lester Gooch #5)\n',
      },
      { node: 'v20.20.2', calicoSim: '0.1.0', kernel: '6.1.0' },
    );
    expect(v).toEqual(ENV.versions);
    expect(versionsFrom({ bird: '\nbash: bird: command not found' }, { node: 'v20', calicoSim: '0.1.0', kernel: 'k' }).bird).toBe('unknown');
  });
  it('the machine from node:os figures', () => {
    expect(machineFrom({ hostname: 'vm', release: '6.1.0', cpus: [{ model: 'AMD EPYC ' }, { model: 'AMD EPYC ' }], totalmem: 24 * 2 ** 30 })).toEqual(ENV.machine);
    expect(machineFrom({ hostname: 'vm', release: 'k', cpus: [], totalmem: 1 }).cpuModel).toBe('unknown');
  });
  it('the envelope: schema tag, ISO times, then what it was given', () => {
    const r = convergence();
    expect(r).toMatchObject({ schema: RESULTS_SCHEMA, kind: 'bench-convergence', startedAt: '2026-11-26T14:00:00.000Z', finishedAt: '2026-11-26T14:30:00.000Z' });
    expect(Object.keys(r)).toEqual(['schema', 'runId', 'kind', 'startedAt', 'finishedAt', 'machine', 'versions', 'topology', 'parameters', 'results']);
  });
});

describe('results.json validates against the schema', () => {
  it('a written convergence file validates; a broken one does not, and says where', () => {
    const file = writeRunReport(join(dir, 'conv'), convergence());
    const back = JSON.parse(readFileSync(file, 'utf8'));
    expect(validateRunReport(back)).toMatchObject({ ok: true });
    const broken = { ...back, results: { ...back.results, measurements: [{ event: 'x', setting: 'y', trials: [{ stream: { sent: 'many' } }] }] } };
    const v = validateRunReport(broken);
    expect(v.ok).toBe(false);
    expect(!v.ok && v.issues[0]).toMatch(/^results\.measurements\.0\.trials\.0\.stream\.sent: /);
    expect(validateRunReport({ ...back, schema: 'v0' }).ok).toBe(false);
    expect(validateRunReport({ ...back, startedAt: 'yesterday' }).ok).toBe(false);
  });
  it('the environment collected on this machine fits the envelope (other kinds: envelope only)', async () => {
    const env = await collectEnvironment();
    expect(env.versions.node).toBe(process.version);
    expect(env.versions.calicoSim).toMatch(/^\d+\.\d+\.\d+/);
    expect(await collectEnvironment()).toBe(env); // asked once
    const r = buildRunReport({
      kind: 'conformance',
      runId: 'c',
      startedAt: new Date(),
      finishedAt: new Date(),
      ...env,
      topology: { name: 'two-host', hosts: 2, workloads: 3 },
      parameters: { suite: ['two-host'] },
      results: { anything: true },
    });
    const back = JSON.parse(readFileSync(writeRunReport(join(dir, 'conformance'), r), 'utf8'));
    expect(validateRunReport(back)).toMatchObject({ ok: true });
  });
  it('the examples in docs/results-schema.md validate', () => {
    const doc = readFileSync(new URL('../../docs/results-schema.md', import.meta.url), 'utf8');
    const examples = [...doc.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => JSON.parse(m[1]!) as { kind: string });
    const specified = examples.filter((e) => e.kind.startsWith('bench-throughput') || e.kind.startsWith('bench-convergence'));
    expect(specified.map((e) => e.kind)).toEqual(['bench-throughput', 'bench-convergence']);
    for (const e of specified) expect(validateRunReport(e), e.kind).toMatchObject({ ok: true });
  });
  it('as JSON Schema: the envelope and a kind with its results', () => {
    const env = resultsJsonSchema() as { properties: Record<string, unknown>; required: string[] };
    expect(env.required).toEqual(['schema', 'runId', 'kind', 'startedAt', 'finishedAt', 'machine', 'versions', 'topology', 'parameters', 'results']);
    const conv = resultsJsonSchema('bench-convergence') as { properties: { kind: { const: string }; results: { properties: object } } };
    expect(conv.properties.kind.const).toBe('bench-convergence');
    expect(Object.keys(conv.properties.results.properties)).toEqual(['timerResolution', 'settings', 'events', 'measurements']);
  });
});

describe('the convergence report', () => {
  it('the table: medians with ranges; a stream that did not recover is said so, not averaged in', () => {
    const md = convergenceMarkdown(convergence());
    expect(md).toMatch(/host-crash\s+tuned\s+8730\.7 \(8060\.6–9369\.7\)\s+-\s+-\s+3/);
    expect(md).toMatch(/link-flap\s+tuned\s+-\s+1013\.0 \(1012\.0–1014\.0\)\s+1013\.0 \(1012\.0–1014\.0\)\s+3/);
    expect(md).toMatch(/link-flap\s+bfd\s+-\s+8650\.0 \(6100\.0–11200\.0\); 1\/3 not recovered within 60 s/);
    expect(md).toContain('- bfd · link-flap · trial 2: traffic not flowing again within 60 s');
    expect(lossCell({ event: 'link-flap', setting: 'bfd', trials: [{ stream: stream(60_000, false) }], notRecovered: 1 }, 30)).toBe('1/1 not recovered within 30 s');
  });
  it("the chart series carry the table's numbers", () => {
    const d = convergence().results;
    const cp = convergenceSeries(d, 'controlPlaneMs', 60);
    expect(cp.labels).toEqual(['host-crash']);
    expect(cp.series.map((s) => [s.label, s.values[0], s.min![0], s.max![0]])).toEqual([
      ['tuned', 8730.7, 8060.6, 9369.7],
      ['bfd', 482.4, 455.3, 505.8],
    ]);
    const loss = convergenceSeries(d, 'lossMs', 60);
    expect(loss.labels).toEqual(['link-flap']);
    expect(loss.series.map((s) => [s.label, s.values[0], s.notes![0]])).toEqual([
      ['tuned', 1013, undefined],
      ['bfd', 8650, '1/3 not recovered (60 s)'],
    ]);
  });
  it('each chart says how many trials a bar is the median of, and that the whiskers are their min–max', () => {
    const [cp, loss, ...rest] = convergenceCharts(convergence());
    expect(rest).toEqual([]);
    const cpNote = 'bar = median of 3 trials, whiskers = min–max of those trials';
    expect(cp).toMatchObject({ name: 'control-plane.png', caption: `Control-plane convergence: from the event until the route is in (or out of) every other host's kernel; ${cpNote}` });
    expect(cp!.type === 'bar' && cp!.chart.subtitle).toBe(cpNote);
    // A BFD link flap recovered in 2 of its 3 trials: its bar is the median of those 2.
    const lossNote = 'bar = median of 2–3 trials that recovered (per bar), whiskers = min–max of those trials';
    expect(loss).toMatchObject({ name: 'loss.png', caption: `Data-plane loss (RFC 6412: lost packets × 1 ms) of a 1000 pkt/s stream; ${lossNote}` });
    expect(loss!.type === 'bar' && loss!.chart.subtitle).toBe(lossNote);
  });
  it('writes both charts, report.md linking them, and a self-contained report.html', async () => {
    const out = join(dir, 'conv-report');
    writeRunReport(out, convergence());
    const files = await writeConvergenceReport(convergence(), out);
    expect(files.map((f) => f.slice(out.length + 1))).toEqual(['control-plane.png', 'loss.png', 'report.md', 'report.html']);
    expect(pngSize(readFileSync(join(out, 'control-plane.png')))).toEqual({ width: 1100, height: 560 });
    const md = readFileSync(join(out, 'report.md'), 'utf8');
    expect(md).toContain('](control-plane.png)');
    expect(md).toContain('](loss.png)');
    expect(readFileSync(join(out, 'report.html'), 'utf8').match(/src="data:image\/png;base64,/g)).toHaveLength(2);
  });
});

describe('report diff of convergence runs', () => {
  it('flags a loss beyond the threshold and the old range, and a stream that stopped recovering', () => {
    const d = diffResults(convergence(), convergence({ flapLoss: 2013 }), 10);
    expect(d.rows.filter((r) => r.regression).map((r) => r.metric)).toEqual(['link-flap tuned loss']);
    const worse = convergence();
    const m = worse.results.measurements.find((x) => x.event === 'link-flap' && x.setting === 'tuned')!;
    m.trials[0]!.stream = stream(60_000, false);
    Object.assign(m, summarizeTrials(m.trials));
    expect(
      diffResults(convergence(), worse, 10)
        .rows.filter((r) => r.regression)
        .map((r) => r.metric),
    ).toEqual(['link-flap tuned not recovered']);
    expect(diffResults(convergence(), convergence(), 0).regressions).toBe(0);
  });
});

describe('report diff of policy benchmark runs', () => {
  const s = (median: number, min: number, max: number) => ({ n: 5, median, min, max });
  const run = (enforce: number) =>
    buildRunReport({
      kind: 'bench-policy',
      runId: 'policy-test',
      startedAt: new Date('2026-11-26T16:00:00Z'),
      finishedAt: new Date('2026-11-26T16:15:00Z'),
      ...ENV,
      topology: { name: 'bench-policy', hosts: 3, workloads: 4 },
      parameters: { dataplanes: ['iptables'], sizes: [1000], variants: ['rules'], trials: 5, durationS: 3 },
      results: {
        rows: [
          {
            dataplane: 'iptables',
            variant: 'rules',
            size: 1000,
            enforceMs: s(enforce, 411, 1078),
            gbps: s(13.1, 11.0, 16.5),
            ratio: 1.09,
            connectMs: { p50: 0.73, p99: 4.3 },
            pingMs: { p50: 0.15, p99: 0.5 },
          },
          { dataplane: 'iptables', variant: 'none', size: 0, gbps: s(12.1, 9.1, 13.2), ratio: 1, connectMs: { p50: 0.59, p99: 4.6 }, pingMs: { p50: 0.14, p99: 0.28 } },
        ],
        trials: [],
      },
    });

  it('flags slower enforcement beyond the threshold and the old range; noise inside it is not', () => {
    expect(
      diffResults(run(542), run(1500), 10)
        .rows.filter((r) => r.regression)
        .map((r) => r.metric),
    ).toEqual(['iptables rules 1000 apply → enforced']);
    expect(diffResults(run(542), run(700), 10).regressions).toBe(0);
  });
});
