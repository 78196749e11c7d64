import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { throughputMarkdown, type ThroughputResults } from '../scenarios/bench-throughput.js';
import { renderBarChart, renderCdfChart } from './charts.js';
import { renderHtmlReport, type ReportImage } from './html.js';

/**
 * The report files of a throughput run in `dir`: throughput.png (median Gbit/s per path, one bar
 * per mode, min–max whiskers), rtt-cdf.png (when the RTT samples were kept), report.md (the table
 * report with the charts linked) and report.html (the same, self-contained). Returns their paths.
 */
export async function writeThroughputReport(res: ThroughputResults, dir: string): Promise<string[]> {
  const images: ReportImage[] = [];
  const pathIds = res.paths.map((p) => p.id);
  const modes = res.parameters.modes;
  const cell = (path: string, mode: string) => res.results.find((r) => r.path === path && r.mode === mode)?.gbps;
  images.push({
    name: 'throughput.png',
    caption: `Median throughput of ${res.parameters.trials} trial(s) per path and mode; whiskers span min–max`,
    png: await renderBarChart({
      title: `Throughput (${res.runId})`,
      labels: pathIds,
      series: modes.map((mode) => ({
        label: mode,
        values: pathIds.map((p) => cell(p, mode)?.median ?? NaN),
        min: pathIds.map((p) => cell(p, mode)?.min ?? NaN),
        max: pathIds.map((p) => cell(p, mode)?.max ?? NaN),
      })),
      yLabel: 'Gbit/s',
    }),
  });
  const rtt = res.latency.filter((l) => l.samplesMs?.length);
  if (rtt.length) {
    images.push({
      name: 'rtt-cdf.png',
      caption: `Round-trip time per path: empirical CDF of ${rtt.map((l) => l.samplesMs!.length).join('/')} ping samples`,
      png: await renderCdfChart({
        title: `RTT (${res.runId})`,
        series: rtt.map((l) => ({ label: l.path, values: l.samplesMs! })),
        xLabel: 'RTT (ms)',
      }),
    });
  }
  const markdown = [
    throughputMarkdown(res).trimEnd(),
    '',
    '## Charts',
    '',
    ...images.flatMap((i) => [`![${i.caption}](${i.name})`, '']),
  ].join('\n');
  const files: string[] = [];
  const write = (name: string, data: string | Buffer) => {
    const f = join(dir, name);
    writeFileSync(f, data);
    files.push(f);
  };
  for (const i of images) write(i.name, i.png);
  write('report.md', markdown);
  write('report.html', renderHtmlReport({ title: `Throughput (${res.runId})`, markdown, images }));
  return files;
}
