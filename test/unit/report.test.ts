import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { renderBarChart, renderCdfChart } from '../../src/report/charts.js';
import { diffResults, formatDiff } from '../../src/report/diff.js';
import { markdownToHtml, renderHtmlReport } from '../../src/report/html.js';
import { buildRunReport } from '../../src/report/run-report.js';
import { throughputMarkdown, writeThroughputReport, type Mode, type ThroughputResults } from '../../src/report/throughput-report.js';
import { InputError } from '../../src/util/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'csim-report-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Width and height from a PNG's IHDR, after checking the signature. */
function pngSize(b: Buffer): { width: number; height: number } {
  expect(b.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  expect(b.subarray(12, 16).toString('latin1')).toBe('IHDR');
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}

const PATHS = ['host-host', 'l3', 'vxlan', 'same-host'];
const MODES: Mode[] = ['tcp-1', 'tcp-4', 'udp'];

const ENV = {
  machine: { hostname: 'vm', kernel: '6.1.0', cpus: 2, cpuModel: 'AMD EPYC', memoryBytes: 24 * 2 ** 30 },
  versions: { node: 'v20.20.2', calicoSim: '0.1.0', bird: '2.0.12', etcd: '3.5.0', iperf3: '3.12', iptables: '1.8.9 (nf_tables)', nft: '1.0.6', kernel: '6.1.0' },
};

/**
 * A complete throughput run; `gbps(path, mode)` and `rtt(path)` set its medians. Trials spread
 * −10 %…+8 % around the throughput median and ±10 % around each RTT percentile.
 */
function results(o: { gbps?: (p: string, m: Mode) => number; rtt?: (p: string) => number } = {}): ThroughputResults {
  const gbps = o.gbps ?? ((p, m) => 10 + PATHS.indexOf(p) + MODES.indexOf(m) / 2);
  const rtt = o.rtt ?? ((p) => 0.05 + PATHS.indexOf(p) * 0.02);
  const spread = (v: number) => ({ n: 5, median: v, min: v * 0.9, max: v * 1.1 });
  return buildRunReport({
    kind: 'bench-throughput',
    runId: 'throughput-test',
    startedAt: new Date('2026-11-26T14:00:00Z'),
    finishedAt: new Date('2026-11-26T14:05:00Z'),
    ...ENV,
    topology: { name: 'two-host', hosts: 2, workloads: 3 },
    parameters: { trials: 5, durationS: 3, modes: MODES, pingsPerTrial: 200, pingIntervalMs: 5 },
    results: {
      paths: PATHS.map((id) => ({ id, describe: `the ${id} path` })),
      throughput: PATHS.flatMap((path) =>
        MODES.map((mode) => {
          const m = gbps(path, mode);
          return { path, mode, trials: [], gbps: { n: 5, median: m, min: m * 0.9, max: m * 1.08 }, retransmits: 3, cpuSender: 80, cpuReceiver: 70 };
        }),
      ),
      latency: PATHS.map((path) => {
        const base = rtt(path);
        const samplesMs = Array.from({ length: 200 }, (_, i) => base * (0.8 + (0.4 * ((i * 37) % 200)) / 200));
        return { path, samples: 200, p50Ms: base, p99Ms: base * 1.2, p50Trials: spread(base), p99Trials: spread(base * 1.2), samplesMs };
      }),
      ratios: { 'l3/host-host': 0.9, 'vxlan/host-host': 0.6, 'same-host/host-host': 1.4, 'l3/vxlan': 1.5 },
    },
  });
}

describe('charts (chart.js on @napi-rs/canvas)', () => {
  const bar = (values: number[]) =>
    renderBarChart({
      title: 'Throughput',
      labels: ['a', 'b', 'c'],
      yLabel: 'Gbit/s',
      series: [
        { label: 'tcp-1', values, min: values.map((v) => v * 0.9), max: values.map((v) => v * 1.1) },
        { label: 'udp', values: [1, 2, 3] },
      ],
    });
  it('a bar chart is a 900×500 PNG and changes with the data', async () => {
    const [one, two, again] = await Promise.all([bar([10, 12, 14]), bar([10, 6, 14]), bar([10, 12, 14])]);
    expect(pngSize(one)).toEqual({ width: 900, height: 500 });
    expect(pngSize(two)).toEqual({ width: 900, height: 500 });
    expect(one.equals(two)).toBe(false);
    expect(one.equals(again)).toBe(true);
  });
  it('a CDF chart is a 900×500 PNG and changes with the data', async () => {
    const cdf = (shift: number) => renderCdfChart({ title: 'RTT', xLabel: 'ms', series: [{ label: 'l3', values: [0.1, 0.2, 0.15, 0.3].map((v) => v + shift) }] });
    const [one, two] = await Promise.all([cdf(0), cdf(0.5)]);
    expect(pngSize(one)).toEqual({ width: 900, height: 500 });
    expect(one.equals(two)).toBe(false);
  });
});

describe('the HTML report', () => {
  it('converts the report Markdown and embeds the images', () => {
    const res = results();
    const png = Buffer.from('not really a png');
    const md = `${throughputMarkdown(res)}\n![the chart](chart.png)\n`;
    const html = renderHtmlReport({
      title: 'T <1>',
      markdown: md,
      images: [
        { name: 'chart.png', png, caption: 'the chart' },
        { name: 'extra.png', png, caption: 'extra' },
      ],
    });
    expect(html).toMatch(/^<!DOCTYPE html>/);
    expect(html).toContain('<title>T &lt;1&gt;</title>');
    expect(html).toContain('<h1>Throughput (throughput-test)</h1>');
    expect(html).toContain('<li><strong>l3</strong>: the l3 path</li>');
    expect(html).toMatch(/<pre><code>path\s+mode\s+Gbit\/s \(median\)/);
    expect(html).toMatch(/l3\s+tcp-1\s+11\.00\s+9\.90–11\.88/);
    expect(html).toContain('<li>l3/host-host: 90.0 %</li>');
    // Both images inline, the referenced one where the Markdown puts it, none left as a link.
    expect(html.split(`src="data:image/png;base64,${png.toString('base64')}"`)).toHaveLength(3);
    expect(html).not.toContain('src="chart.png"');
    expect(html.indexOf('the chart</figcaption>')).toBeLessThan(html.indexOf('extra</figcaption>'));
  });
  it('escapes code blocks and keeps paragraphs apart from lists', () => {
    expect(markdownToHtml('a\nb\n\n- x\n- y\ntext\n\n```\n<x> & y\n```')).toBe('<p>a b</p>\n<ul>\n<li>x</li>\n<li>y</li>\n</ul>\n<p>text</p>\n<pre><code>&lt;x&gt; &amp; y</code></pre>');
  });
});

describe('the throughput report files', () => {
  it('writes the charts, report.md linking them, and a self-contained report.html', async () => {
    const out = join(dir, 'run');
    mkdirSync(out);
    const files = await writeThroughputReport(results(), out);
    expect(files.map((f) => f.slice(out.length + 1))).toEqual(['throughput.png', 'rtt-cdf.png', 'report.md', 'report.html']);
    expect(pngSize(readFileSync(join(out, 'throughput.png')))).toEqual({ width: 900, height: 500 });
    expect(pngSize(readFileSync(join(out, 'rtt-cdf.png')))).toEqual({ width: 900, height: 500 });
    const md = readFileSync(join(out, 'report.md'), 'utf8');
    expect(md).toContain('](throughput.png)');
    expect(md).toContain('](rtt-cdf.png)');
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html.match(/src="data:image\/png;base64,/g)).toHaveLength(2);
  });
  it('without RTT samples (older results) there is no CDF chart', async () => {
    const out = join(dir, 'old-run');
    mkdirSync(out);
    const res = results();
    res.results.latency = res.results.latency.map(({ samplesMs: _, ...l }) => l);
    const files = await writeThroughputReport(res, out);
    expect(files.map((f) => f.slice(out.length + 1))).toEqual(['throughput.png', 'report.md', 'report.html']);
  });
});

describe('report diff', () => {
  const slower = results({ gbps: (p, m) => (p === 'l3' && m === 'tcp-1' ? 0.8 : 1) * (10 + PATHS.indexOf(p) + MODES.indexOf(m) / 2) });
  const laggier = results({ rtt: (p) => (p === 'vxlan' ? 1.3 : 1) * (0.05 + PATHS.indexOf(p) * 0.02) });

  it('flags a 20 % throughput drop at threshold 10, not at 50', () => {
    const d = diffResults(results(), slower, 10);
    expect(d.rows).toHaveLength(12 + 8);
    expect(d.regressions).toBe(1);
    const r = d.rows.find((x) => x.regression)!;
    expect(r.metric).toBe('l3 tcp-1 median');
    expect(r.changePct).toBeCloseTo(-20);
    expect(diffResults(results(), slower, 50).regressions).toBe(0);
    // The other way round it is an improvement.
    expect(diffResults(slower, results(), 10).regressions).toBe(0);
  });
  it('flags a 30 % RTT rise (p50 and p99) at threshold 10, not at 50', () => {
    const d = diffResults(results(), laggier, 10);
    expect(d.rows.filter((x) => x.regression).map((x) => x.metric)).toEqual(['vxlan RTT p50', 'vxlan RTT p99']);
    expect(d.rows.find((x) => x.metric === 'vxlan RTT p50')!.changePct).toBeCloseTo(30);
    expect(diffResults(results(), laggier, 50).regressions).toBe(0);
    expect(diffResults(laggier, results(), 10).regressions).toBe(0);
  });
  it('identical runs: no change, no regression', () => {
    const d = diffResults(results(), results(), 0);
    expect(d.regressions).toBe(0);
    expect(d.rows.every((r) => r.changePct === 0)).toBe(true);
    expect(formatDiff(d)).toMatch(/no regression beyond 0 % \(20 metrics\)$/);
  });
  it('the table shows the figures and marks the regressions', () => {
    const text = formatDiff(diffResults(results(), slower, 10));
    expect(text).toMatch(/l3 tcp-1 median\s+Gbit\/s\s+11\.00\s+9\.90–11\.88\s+8\.80\s+-20\.0 %\s+REGRESSION/);
    expect(text).toContain("a regression: the new median worse than the old by more than 10 % and outside the old run's min–max over its trials");
    expect(text).toMatch(/1 regression\(s\) beyond 10 %/);
  });
  it('different kinds, no common metric or a bad threshold are input errors', () => {
    expect(() => diffResults(results(), { kind: 'conformance' }, 10)).toThrow(InputError);
    expect(() => diffResults(results(), { kind: 'conformance' }, 10)).toThrow('cannot compare a bench-throughput run with a conformance run');
    expect(() => diffResults({ kind: 'conformance' }, { kind: 'conformance' }, 10)).toThrow(InputError);
    const other = { ...results(), results: { ...results().results, throughput: [], latency: [] } };
    expect(() => diffResults(results(), other, 10)).toThrow(/no metric in common/);
    expect(() => diffResults(results(), results(), NaN)).toThrow(InputError);
  });

  it('noise inside the old min–max is not a regression, even beyond the threshold', () => {
    // The old run's own trials went 20 % below (and RTTs 10 % above) its medians.
    const noisy = results();
    const l3 = noisy.results.throughput.find((x) => x.path === 'l3' && x.mode === 'tcp-1')!;
    l3.gbps = { ...l3.gbps, min: l3.gbps.median * 0.8 };
    const slightlySlower = results({
      gbps: (p, m) => (p === 'l3' && m === 'tcp-1' ? 0.85 : 1) * (10 + PATHS.indexOf(p) + MODES.indexOf(m) / 2),
      rtt: (p) => (p === 'vxlan' ? 1.08 : 1) * (0.05 + PATHS.indexOf(p) * 0.02),
    });
    const d = diffResults(noisy, slightlySlower, 5);
    expect(d.regressions).toBe(0);
    const row = d.rows.find((x) => x.metric === 'l3 tcp-1 median')!;
    expect(row).toMatchObject({ beyondThreshold: true, regression: false });
    expect(row.changePct).toBeCloseTo(-15);
    expect(d.rows.find((x) => x.metric === 'vxlan RTT p50')).toMatchObject({ beyondThreshold: true, regression: false });
    expect(formatDiff(d)).toMatch(/l3 tcp-1 median\s+Gbit\/s\s+11\.00\s+8\.80–11\.88\s+9\.35\s+-15\.0 %\s+within old min–max \(noise\)/);
    // The same drop from a run with a tight range is one.
    expect(diffResults(results(), slightlySlower, 5).rows.find((x) => x.metric === 'l3 tcp-1 median')!.regression).toBe(true);
  });
  it('a results file from before the envelope compares with a new one; its RTTs, with no range, by the threshold alone', () => {
    const r = results().results;
    const legacy = { kind: 'throughput', runId: 'old', results: r.throughput, latency: r.latency.map(({ p50Trials: _a, p99Trials: _b, ...l }) => l) };
    const d = diffResults(legacy, laggier, 10);
    expect(d.kind).toBe('bench-throughput');
    expect(d.rows.filter((x) => x.regression).map((x) => x.metric)).toEqual(['vxlan RTT p50', 'vxlan RTT p99']);
    expect(d.rows.find((x) => x.metric === 'vxlan RTT p50')!.oldMin).toBeUndefined();
    expect(diffResults(legacy, results(), 0).regressions).toBe(0);
  });
  it('an envelope that does not fit its schema is an input error', () => {
    const broken = { ...results(), results: { ...results().results, throughput: 'none' } };
    expect(() => diffResults(results(), broken, 10)).toThrow(/new: not a valid calico-sim\/results\/v1 file: results\.throughput/);
  });

  describe('the CLI', () => {
    const write = (name: string, r: unknown) => {
      const f = join(dir, name);
      writeFileSync(f, JSON.stringify(r));
      return f;
    };
    const cli = (...args: string[]) => execa(process.execPath, ['bin/calico-sim.js', 'report', 'diff', ...args], { reject: false, timeout: 30_000 });

    it('exits 1 on a regression, 0 on identical runs, 2 on bad input', async () => {
      const base = write('base.json', results());
      mkdirSync(join(dir, 'run-slower'));
      write('run-slower/results.json', slower);
      const bad = await cli(base, join(dir, 'run-slower'));
      expect(bad.exitCode, bad.stderr).toBe(1);
      expect(bad.stdout).toMatch(/l3 tcp-1 median.*REGRESSION/);
      const loose = await cli(base, join(dir, 'run-slower'), '--threshold', '50');
      expect(loose.exitCode, loose.stderr).toBe(0);
      const same = await cli(base, write('same.json', results()));
      expect(same.exitCode, same.stderr).toBe(0);
      expect(same.stdout).toMatch(/no regression beyond 10 %/);
      const kinds = await cli(base, write('conformance.json', { kind: 'conformance', checks: [] }));
      expect(kinds.exitCode).toBe(2);
      expect(kinds.stderr).toBe('calico-sim: cannot compare a bench-throughput run with a conformance run');
      expect((await cli(base, join(dir, 'missing.json'))).exitCode).toBe(2);
    });
  });
});
