import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { trialCount, trialsNote } from '../../src/report/captions.js';
import { linearMax, renderBarChart, renderCdfChart } from '../../src/report/charts.js';
import { diffResults, formatDiff } from '../../src/report/diff.js';
import { markdownToHtml, renderHtmlReport } from '../../src/report/html.js';
import { buildRunReport } from '../../src/report/run-report.js';
import { MODE_IPERF_ARGS, throughputCharts, throughputMarkdown, writeThroughputReport, type Mode, type ThroughputResults } from '../../src/report/throughput-report.js';
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
 * −10 %…+8 % around the throughput median and ±10 % around each RTT percentile. UDP has no
 * retransmits; its trials lost 0.5–2 % of their datagrams, 0.9 % in the median.
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
          const cell = { path, mode, trials: [], gbps: { n: 5, median: m, min: m * 0.9, max: m * 1.08 }, cpuSender: 80, cpuReceiver: 70 };
          if (mode !== 'udp') return { ...cell, retransmits: 3 };
          return { ...cell, trials: [0.5, 0.9, 2, 0.7, 1.2].map((lostPercent) => ({ bitsPerSecond: m * 1e9, lostPercent, cpuSender: 80, cpuReceiver: 70 })) };
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
  it('a subtitle (what the bars are) is drawn into the image', async () => {
    const opts = { title: 'T', labels: ['a'], yLabel: 'Gbit/s', series: [{ label: 's', values: [1], min: [0.9], max: [1.1] }] };
    const [plain, noted] = await Promise.all([renderBarChart(opts), renderBarChart({ ...opts, subtitle: 'bar = median of 5 trials, whiskers = min–max of those trials' })]);
    expect(plain.equals(noted)).toBe(false);
  });
  it('a linear axis leaves room over a bar for its upright note; a note on the axis or none needs none', () => {
    const noted = [{ label: 's', values: [100, 50], max: [110, 60], notes: ['1/3 not recovered (60 s)', undefined] }];
    // 30 + 6.5 × 24 characters = 186 px of 360: the whisker top (110) may fill 174/360 of the axis.
    expect(linearMax(noted, 123, 360)).toBeCloseTo(110 / (174 / 360));
    expect(linearMax([{ label: 's', values: [100, NaN], notes: [undefined, 'no figure'] }], 123, 360)).toBe(123);
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

describe('chart notes: how many trials a bar is, and what its whiskers are', () => {
  it('the same count everywhere, counts that differ, a single trial', () => {
    expect(trialsNote([5, 5, 5])).toBe('bar = median of 5 trials, whiskers = min–max of those trials');
    expect(trialsNote([2, 3, undefined], 'that recovered')).toBe('bar = median of 2–3 trials that recovered (per bar), whiskers = min–max of those trials');
    expect(trialsNote([1, 3])).toBe('bar = median of 1–3 trials (per bar), whiskers = min–max of those trials; a bar of 1 trial has none');
    expect(trialsNote([1, 1])).toBe('bar = 1 trial, no whiskers');
    expect(trialsNote([])).toBe('no trials');
    expect([trialCount([5]), trialCount([1]), trialCount([3, 5])]).toEqual(['5 trials', '1 trial', '3–5 trials']);
  });
});

describe('the throughput report reads without knowing iperf3', () => {
  it('says what each mode is: UDP is an unlimited-rate blast, as the benchmark runs it', () => {
    expect(MODE_IPERF_ARGS.udp).toEqual(['-u', '-b', '0', '-l', '1400']); // src/scenarios/bench-throughput.ts `iperf`
    const md = throughputMarkdown(results());
    expect(md).toContain('- **tcp-1**: TCP, 1 stream (`iperf3`)');
    expect(md).toContain('- **tcp-4**: TCP, 4 parallel streams (`iperf3 -P 4`)');
    expect(md).toContain('- **udp**: unlimited-rate UDP blast (`iperf3 -u -b 0 -l 1400`): 1,400-byte datagrams sent as fast as the sender can');
    const html = renderHtmlReport({ title: 'T', markdown: md, images: [] });
    expect(html).toContain('<li><strong>udp</strong>: unlimited-rate UDP blast (<code>iperf3 -u -b 0 -l 1400</code>)');
  });
  it('UDP has a table of its own, with its loss; the TCP table states its trial count and holds TCP only', () => {
    const md = throughputMarkdown(results());
    const [tcp, udp] = md.slice(md.indexOf('TCP throughput, ')).split(/^UDP, /m);
    expect(tcp).toMatch(/^TCP throughput, median of 5 trials, min–max of those trials:/);
    expect(tcp).toMatch(/l3\s+tcp-4\s+11\.50\s+10\.35–12\.42\s+3\s+80\/70/);
    expect(tcp).not.toMatch(/\budp\b/);
    expect(udp).toMatch(/^unlimited rate \(`iperf3 -u -b 0 -l 1400`\): Gbit\/s received and % of datagrams lost, median of 5 trials, min–max of those trials:/);
    expect(udp).toMatch(/path\s+Gbit\/s received \(median\)\s+min–max\s+lost % \(median\)\s+lost % min–max\s+CPU % snd\/rcv/);
    // Median and range of the trials' lostPercent (0.5, 0.9, 2, 0.7, 1.2).
    expect(udp).toMatch(/l3\s+12\.00\s+10\.80–12\.96\s+0\.90\s+0\.50–2\.00\s+80\/70/);
    // Trials that did not record their loss (a file from before it was kept) show none, not a zero.
    const old = results();
    for (const c of old.results.throughput) c.trials = [];
    expect(throughputMarkdown(old)).toMatch(/l3\s+12\.00\s+10\.80–12\.96\s+-\s+-\s+80\/70/);
  });
  it('TCP and UDP are charted apart, each on its own axis; every chart states its trials and its whiskers', () => {
    const [tcp, udp, rtt, ...rest] = throughputCharts(results());
    expect(rest).toEqual([]);
    const note = 'bar = median of 5 trials, whiskers = min–max of those trials';
    expect(tcp).toMatchObject({ name: 'throughput.png', type: 'bar', caption: `TCP throughput per path (iperf3, tcp-1 and tcp-4): ${note}` });
    expect(tcp!.type === 'bar' && tcp!.chart).toMatchObject({ subtitle: note, labels: PATHS, yLabel: 'TCP throughput (Gbit/s)' });
    expect(tcp!.type === 'bar' && tcp!.chart.series.map((x) => x.label)).toEqual(['tcp-1: TCP, 1 stream', 'tcp-4: TCP, 4 streams']);
    expect(udp).toMatchObject({ name: 'udp.png', type: 'bar' });
    expect(udp!.caption).toBe(`Unlimited-rate UDP blast per path (iperf3 -u -b 0 -l 1400), on its own axis: Gbit/s the receiver got, ${note}; under each path, the median % of datagrams lost`);
    const u = udp!.type === 'bar' ? udp!.chart : undefined;
    expect(u).toMatchObject({ subtitle: `iperf3 -u -b 0 -l 1400; ${note}`, yLabel: 'UDP received (Gbit/s)' });
    expect(u!.labels).toEqual(PATHS.map((p) => `${p} (lost 0.90 %)`));
    expect(u!.series.map((x) => [x.label, x.values[1], x.min![1], x.max![1]])).toEqual([['udp: unlimited-rate UDP (-u -b 0)', 12, 12 * 0.9, 12 * 1.08]]);
    expect(rtt).toMatchObject({ name: 'rtt-cdf.png', type: 'cdf' });
    expect(rtt!.caption).toBe('Round-trip time per path: empirical CDF of 200/200/200/200 ping samples, every ping of the 5 trials pooled (200 per path and trial): a distribution, no whiskers');
    // A run without UDP has no UDP chart; one that counted fewer trials for a cell says so.
    const tcpOnly = results();
    tcpOnly.parameters.modes = ['tcp-1'];
    tcpOnly.results.throughput = tcpOnly.results.throughput.filter((x) => x.mode === 'tcp-1');
    tcpOnly.results.throughput[0]!.gbps.n = 3;
    const charts = throughputCharts(tcpOnly);
    expect(charts.map((c) => c.name)).toEqual(['throughput.png', 'rtt-cdf.png']);
    expect(charts[0]!.caption).toBe('TCP throughput per path (iperf3, tcp-1): bar = median of 3–5 trials (per bar), whiskers = min–max of those trials');
  });
});

describe('the throughput report files', () => {
  it('writes the charts, report.md linking them, and a self-contained report.html', async () => {
    const out = join(dir, 'run');
    mkdirSync(out);
    const files = await writeThroughputReport(results(), out);
    expect(files.map((f) => f.slice(out.length + 1))).toEqual(['throughput.png', 'udp.png', 'rtt-cdf.png', 'report.md', 'report.html']);
    for (const png of ['throughput.png', 'udp.png', 'rtt-cdf.png']) expect(pngSize(readFileSync(join(out, png)))).toEqual({ width: 900, height: 500 });
    const md = readFileSync(join(out, 'report.md'), 'utf8');
    expect(md).toContain('](throughput.png)');
    expect(md).toContain('](udp.png)');
    expect(md).toContain('](rtt-cdf.png)');
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html.match(/src="data:image\/png;base64,/g)).toHaveLength(3);
    // The captions, with the trial count and the whiskers, under the images.
    expect(html).toContain('<figcaption>TCP throughput per path (iperf3, tcp-1 and tcp-4): bar = median of 5 trials, whiskers = min–max of those trials</figcaption>');
    expect(html).toContain('<figcaption>Unlimited-rate UDP blast per path (iperf3 -u -b 0 -l 1400), on its own axis');
  });
  it('without RTT samples (older results) there is no CDF chart', async () => {
    const out = join(dir, 'old-run');
    mkdirSync(out);
    const res = results();
    res.results.latency = res.results.latency.map(({ samplesMs: _, ...l }) => l);
    const files = await writeThroughputReport(res, out);
    expect(files.map((f) => f.slice(out.length + 1))).toEqual(['throughput.png', 'udp.png', 'report.md', 'report.html']);
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
