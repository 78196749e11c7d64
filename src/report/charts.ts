import { createCanvas } from '@napi-rs/canvas';
import { Chart, registerables, type ChartConfiguration, type Plugin } from 'chart.js';

// PNG charts drawn server-side: chart.js on a Skia canvas (@napi-rs/canvas), no browser, no DOM.
// Without a DOM chart.js picks its BasicPlatform; animation and responsiveness are off so one
// synchronous render is the whole chart.
Chart.register(...registerables);

const WIDTH = 900;
const HEIGHT = 500;
const FONT = 'DejaVu Sans, Helvetica, Arial, sans-serif';
Chart.defaults.font.family = FONT;
const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];

export interface BarSeries {
  label: string;
  values: number[];
  min?: number[];
  max?: number[];
  /** Text over a bar instead of its value (e.g. "not recovered"); drawn even where there is no bar. */
  notes?: (string | undefined)[];
}

/**
 * A chart to draw, as data: a report builds these purely (its captions and series testable without
 * a canvas) and `renderChart` draws them. `caption` goes under the image in report.md/report.html.
 */
export type ChartSpec = { name: string; caption: string } & ({ type: 'bar'; chart: BarChartOptions } | { type: 'cdf'; chart: CdfChartOptions });

export interface BarChartOptions {
  title: string;
  /** A second line under the title, e.g. how many trials a bar summarizes and what its whiskers are: the PNG may be seen without its caption. */
  subtitle?: string;
  labels: string[];
  series: BarSeries[];
  yLabel: string;
  logScale?: boolean;
  format?: (v: number) => string;
  width?: number;
  height?: number;
}

export interface CdfChartOptions {
  title: string;
  subtitle?: string;
  series: { label: string; values: number[] }[];
  xLabel: string;
}

/** Fills the canvas white before anything is drawn (a PNG is transparent otherwise). */
const whiteBackground: Plugin = {
  id: 'whiteBackground',
  beforeDraw: (chart) => {
    const { ctx, width, height } = chart;
    ctx.save();
    ctx.globalCompositeOperation = 'destination-over';
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(0, 0, width, height);
    ctx.restore();
  },
};

/** chart.js has no error bars: draw min–max whiskers with caps over each bar, after the bars. */
function errorBars(series: BarSeries[]): Plugin<'bar'> {
  return {
    id: 'errorBars',
    afterDatasetsDraw: (chart) => {
      const { ctx } = chart;
      const y = chart.scales.y!;
      ctx.save();
      ctx.strokeStyle = '#222222';
      ctx.lineWidth = 1.5;
      series.forEach((s, i) => {
        const meta = chart.getDatasetMeta(i);
        if (meta.hidden) return;
        meta.data.forEach((bar, j) => {
          const lo = s.min?.[j];
          const hi = s.max?.[j];
          if (lo === undefined || hi === undefined || !Number.isFinite(lo) || !Number.isFinite(hi)) return;
          const { x, width } = bar.getProps(['x', 'width'], true) as { x: number; width: number };
          const cap = Math.max(3, Math.min(10, width / 4));
          const [yLo, yHi] = [y.getPixelForValue(lo), y.getPixelForValue(hi)];
          ctx.beginPath();
          ctx.moveTo(x, yLo);
          ctx.lineTo(x, yHi);
          ctx.moveTo(x - cap, yLo);
          ctx.lineTo(x + cap, yLo);
          ctx.moveTo(x - cap, yHi);
          ctx.lineTo(x + cap, yHi);
          ctx.stroke();
        });
      });
      ctx.restore();
    },
  };
}

/**
 * Each bar's figure (or its note) written above it, over the whisker when there is one: the chart
 * then carries the same numbers as the report's table. A note where there is no bar sits on the axis.
 */
function valueLabels(series: BarSeries[], format: (v: number) => string): Plugin<'bar'> {
  return {
    id: 'valueLabels',
    afterDatasetsDraw: (chart) => {
      const { ctx, chartArea } = chart;
      const y = chart.scales.y!;
      ctx.save();
      ctx.font = `11px ${FONT}`;
      ctx.textAlign = 'center';
      ctx.textBaseline = 'bottom';
      series.forEach((s, i) => {
        const meta = chart.getDatasetMeta(i);
        if (meta.hidden) return;
        meta.data.forEach((bar, j) => {
          const v = s.values[j];
          const note = s.notes?.[j];
          const has = v !== undefined && Number.isFinite(v);
          if (!has && !note) return;
          const { x } = bar.getProps(['x'], true) as { x: number };
          const hi = s.max?.[j];
          const top = has ? Math.max(v, hi !== undefined && Number.isFinite(hi) ? hi : v) : NaN;
          const py = has ? Math.max(chartArea.top + 12, y.getPixelForValue(top) - 3) : chartArea.bottom - 3;
          ctx.fillStyle = '#222222';
          if (has) ctx.fillText(format(v), x, py);
          if (note) {
            // Upright, in the bar's own slot: a long note must not run over the neighbouring bars.
            ctx.save();
            ctx.fillStyle = '#b00020';
            ctx.translate(x, has ? py - 14 : py);
            ctx.rotate(-Math.PI / 2);
            ctx.textAlign = 'left';
            ctx.textBaseline = 'middle';
            ctx.fillText(note, 0, 0);
            ctx.restore();
          }
        });
      });
      ctx.restore();
    },
  };
}

async function render<T extends 'bar' | 'line'>(config: ChartConfiguration<T>, size: { width?: number; height?: number } = {}): Promise<Buffer> {
  const canvas = createCanvas(size.width ?? WIDTH, size.height ?? HEIGHT);
  const chart = new Chart(
    canvas as unknown as HTMLCanvasElement,
    {
      ...config,
      options: { ...config.options, responsive: false, animation: false, devicePixelRatio: 1 },
      plugins: [whiteBackground, ...(config.plugins ?? [])],
    } as ChartConfiguration<T>,
  );
  try {
    return await canvas.encode('png');
  } finally {
    chart.destroy();
  }
}

/** The title, the subtitle under it when there is one, and the legend: the same on every chart. */
const heading = (title: string, subtitle?: string) => ({
  title: { display: true, text: title, font: { size: 16 } },
  subtitle: { display: subtitle !== undefined, text: subtitle ?? '', font: { size: 12 }, padding: { bottom: 6 } },
  legend: { position: 'top' as const },
});

/** Draws a chart a report built as data (see `ChartSpec`). */
export function renderChart(spec: ChartSpec): Promise<Buffer> {
  return spec.type === 'bar' ? renderBarChart(spec.chart) : renderCdfChart(spec.chart);
}

const finiteOrNull = (v: number | undefined) => (v !== undefined && Number.isFinite(v) ? v : null);

const mantissa = (v: number) => v / 10 ** Math.floor(Math.log10(v));
const isNiceLog = (v: number) => v > 0 && [1, 2, 5].some((k) => Math.abs(mantissa(v) - k) < 1e-9);
/** The smallest 1, 2 or 5 × 10^k at or above v (v > 0). */
const niceAbove = (v: number) => {
  const e = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 5, 10].map((k) => k * e).find((x) => x >= v * (1 - 1e-12))!;
};

/**
 * Pure: the top of a linear y axis that leaves room over each bar for its upright note (drawn
 * after the bars, where the scale does not reckon with it): without it a long note over a tall
 * bar runs into the legend and the subtitle. `plotPx` is about the height of the plot area; a
 * note at 11 px is about 6.5 px a character, plus the value label and the gap under it.
 */
export function linearMax(series: BarSeries[], base: number, plotPx: number): number {
  const needs = series.flatMap((s) =>
    s.values.flatMap((v, j) => {
      const note = s.notes?.[j];
      if (!note || !Number.isFinite(v)) return []; // a note without a bar sits on the axis
      const hi = s.max?.[j];
      const barTop = Math.max(v, hi !== undefined && Number.isFinite(hi) ? hi : v);
      const free = 1 - (30 + 6.5 * note.length) / plotPx;
      return [barTop / Math.max(0.25, free)];
    }),
  );
  return Math.max(base, ...needs);
}

/**
 * A grouped bar chart (one group per label, one bar per series) with optional min–max error bars,
 * value labels (`format`) and a logarithmic y axis for figures that span decades.
 */
export function renderBarChart(opts: BarChartOptions): Promise<Buffer> {
  const all = opts.series.flatMap((s) => [...s.values, ...(s.max ?? [])]).filter(Number.isFinite);
  const top = Math.max(0, ...all);
  const positive = all.filter((v) => v > 0);
  const y = opts.logScale
    ? {
        type: 'logarithmic' as const,
        min: 10 ** Math.floor(Math.log10(Math.min(...positive, top || 1) / 1.5)),
        max: niceAbove(Math.max(top, 1) * 1.6),
        // Label 1, 2 and 5 × 10^k only: all nine per decade crowd each other.
        ticks: { callback: (v: number | string) => (isNiceLog(Number(v)) ? Number(v).toLocaleString('en-US') : '') },
      }
    : { beginAtZero: true, suggestedMax: linearMax(opts.series, top * (opts.format ? 1.12 : 1.05), (opts.height ?? HEIGHT) - 140) };
  return render<'bar'>(
    {
      type: 'bar',
      data: {
        labels: opts.labels,
        datasets: opts.series.map((s, i) => ({
          label: s.label,
          data: opts.labels.map((_, j) => finiteOrNull(s.values[j])).map((v) => (opts.logScale && v !== null && v <= 0 ? null : v)),
          backgroundColor: COLORS[i % COLORS.length],
        })),
      },
      options: {
        plugins: heading(opts.title, opts.subtitle),
        scales: {
          y: { ...y, title: { display: true, text: opts.yLabel } },
          x: { ticks: { font: { size: 13 } } },
        },
      },
      plugins: [errorBars(opts.series), ...(opts.format ? [valueLabels(opts.series, opts.format)] : [])],
    },
    opts,
  );
}

/** Empirical CDF of each series: a step line from 0 to 1 over the sorted values. */
export function renderCdfChart(opts: CdfChartOptions): Promise<Buffer> {
  return render<'line'>({
    type: 'line',
    data: {
      datasets: opts.series.map((s, i) => {
        const v = s.values.filter(Number.isFinite).sort((a, b) => a - b);
        return {
          label: s.label,
          data: v.length ? [{ x: v[0]!, y: 0 }, ...v.map((x, k) => ({ x, y: (k + 1) / v.length }))] : [],
          borderColor: COLORS[i % COLORS.length],
          backgroundColor: COLORS[i % COLORS.length],
          borderWidth: 2,
          pointRadius: 0,
          stepped: true,
        };
      }),
    },
    options: {
      parsing: false,
      plugins: heading(opts.title, opts.subtitle),
      scales: {
        x: { type: 'linear', title: { display: true, text: opts.xLabel } },
        y: { type: 'linear', min: 0, max: 1, title: { display: true, text: 'fraction of samples ≤ x' } },
      },
    },
  });
}

/**
 * Lines over a numeric x axis (e.g. figures against lab size), one per series; the y axis goes
 * logarithmic (and says so in its title) when the values span more than 50×.
 */
export function renderLineChart(opts: { title: string; xLabel: string; yLabel: string; series: { label: string; points: { x: number; y: number }[] }[] }): Promise<Buffer> {
  const ys = opts.series.flatMap((s) => s.points.map((p) => p.y)).filter((v) => Number.isFinite(v) && v > 0);
  const log = ys.length > 1 && Math.max(...ys) / Math.min(...ys) > 50;
  return render<'line'>({
    type: 'line',
    data: {
      datasets: opts.series.map((s, i) => ({
        label: s.label,
        data: s.points.filter((p) => Number.isFinite(p.y) && (!log || p.y > 0)),
        borderColor: COLORS[i % COLORS.length],
        backgroundColor: COLORS[i % COLORS.length],
        borderWidth: 2,
        pointRadius: 4,
      })),
    },
    options: {
      parsing: false,
      plugins: heading(opts.title),
      scales: {
        x: { type: 'linear', title: { display: true, text: opts.xLabel } },
        y: { type: log ? 'logarithmic' : 'linear', ...(log ? {} : { beginAtZero: true }), title: { display: true, text: `${opts.yLabel}${log ? ' (log scale)' : ''}` } },
      },
    },
  });
}
