// Latency over time (scatter, log scale) and throughput over time (stacked columns), both on
// the shared time axis with the fault intervals shaded behind.
import { legend, shadeFaults, svgOpen } from './faults.js';
import type { Model, Op } from './model.js';
import { esc, F_COLORS, fColor, niceStep, num, px, TYPE_COLORS, timeAxis, xOf, yAxisTitle, type Frame } from './svg.js';

/** Above this many distinct points the scatter draws smaller dots. */
const denseScatterPoints = 5000;
/** Latencies below this are drawn at this floor of the log scale (ms). */
export const latencyMsMin = 0.01;
const plotTopPx = 10;
const latencyPlotPx = 300;
const throughputPlotPx = 220;
/** Throughput bins: the smallest of these (s) that gives at most throughputBinsMax columns. */
const binSecChoices = [0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600];
/** Most columns of the throughput chart (finer bins would be too thin to read). */
export const throughputBinsMax = 150;

/** Renders the latency scatter: completion latency (ms, log scale) against invoke time. */
export function renderLatency(frame: Frame, model: Model): string {
  const timed = model.ops.filter((o) => o.latencyMs !== null);
  if (timed.length === 0) return '<p class="note">No completed ops: nothing to plot.</p>';
  const [lo, hi] = logDomain(timed);
  const y = (ms: number): number => {
    const t = (Math.log10(Math.max(ms, latencyMsMin)) - lo) / (hi - lo);
    return plotTopPx + (1 - t) * latencyPlotPx;
  };
  const out: string[] = [svgOpen(frame, plotTopPx + latencyPlotPx + 34, 'latency')];
  out.push(`<rect class="plot-bg" x="${frame.leftPx}" y="${plotTopPx}" width="${frame.plotWidthPx}" height="${latencyPlotPx}"/>`);
  out.push(shadeFaults(frame, model, plotTopPx, latencyPlotPx));
  out.push(timeAxis(frame, plotTopPx, latencyPlotPx));
  out.push(logTicks(frame, lo, hi, y));
  const { paths, points } = scatterPaths(frame, timed, y);
  // Dense scatters get smaller dots so that overlapping series still show through.
  out.push(points > denseScatterPoints ? `<g class="dense">${paths}</g>` : paths);
  out.push(anomalyRings(frame, timed, y));
  out.push('</svg>');
  const fs = orderedFs(new Set(timed.map((o) => o.f)));
  const keys = legend([
    ...fs.map((f): [string, string] => [f, fColor(f)]),
    ['ok', '#444', 'sw dot'],
    ['fail', '#444', 'sw cross'],
    ['info (time until the client gave up)', '#444', 'sw square'],
  ]);
  const note = `${timed.length.toLocaleString('en-US')} completed ops, ${points.toLocaleString('en-US')} distinct points (ops that fall on the same pixel with the same colour and marker are drawn once). x = invoke time, y = completion latency.`;
  return out.join('') + keys + `<p class="note">${esc(note)}</p>`;
}

/** Whole decades around the observed latencies, as log10 bounds. */
function logDomain(ops: Op[]): [number, number] {
  let min = Infinity;
  let max = 0;
  for (const o of ops) {
    const ms = Math.max(o.latencyMs!, latencyMsMin);
    if (ms < min) min = ms;
    if (ms > max) max = ms;
  }
  const lo = Math.floor(Math.log10(min));
  const hi = Math.max(Math.ceil(Math.log10(max)), lo + 1);
  return [lo, hi];
}

function logTicks(frame: Frame, lo: number, hi: number, y: (ms: number) => number): string {
  const out: string[] = [];
  for (let d = lo; d <= hi; d++) {
    const yy = px(y(10 ** d));
    out.push(`<line class="grid" x1="${frame.leftPx}" x2="${frame.leftPx + frame.plotWidthPx}" y1="${yy}" y2="${yy}"/>`);
    out.push(`<text class="tick" x="${frame.leftPx - 6}" y="${px(y(10 ** d) + 4)}" text-anchor="end">${decadeLabel(d)}</text>`);
  }
  out.push(yAxisTitle('latency (ms, log scale)', plotTopPx, latencyPlotPx));
  return out.join('');
}

function decadeLabel(d: number): string {
  const ms = 10 ** d;
  return ms >= 1000 ? `${ms / 1000} s` : d < 0 ? `${Number(ms.toFixed(-d))}` : String(ms);
}

/** Marker shape per result: a dot for ok, a cross for fail, a hollow square for info. */
function marker(result: string, x: number, y: number): string {
  const xs = px(x);
  const ys = px(y);
  if (result === 'ok') return `M${xs} ${ys}h0`;
  if (result === 'fail') return `M${px(x - 2.5)} ${px(y - 2.5)}l5 5m0-5l-5 5`;
  return `M${px(x - 2.5)} ${px(y - 2.5)}h5v5h-5z`;
}

/** One path per (f, result) series; duplicate pixels within a series are drawn once. */
function scatterPaths(frame: Frame, ops: Op[], y: (ms: number) => number): { paths: string; points: number } {
  const series = new Map<string, { seen: Set<number>; d: string[] }>();
  let points = 0;
  for (const o of ops) {
    const id = `${o.f}|${o.result}`;
    let s = series.get(id);
    if (s === undefined) series.set(id, (s = { seen: new Set(), d: [] }));
    const x = xOf(frame, o.startNs);
    const yy = y(o.latencyMs!);
    const pixel = Math.round(x) * 8192 + Math.round(yy);
    if (s.seen.has(pixel)) continue;
    s.seen.add(pixel);
    s.d.push(marker(o.result, x, yy));
    points++;
  }
  const out: string[] = [];
  // ok series first, the biggest at the bottom, so that rarer series and fail/info markers stay visible.
  const order = (id: string): number => (id.endsWith('|ok') ? 0 : id.endsWith('|fail') ? 1 : 2);
  const ids = [...series.keys()].sort((a, b) => order(a) - order(b) || series.get(b)!.d.length - series.get(a)!.d.length);
  for (const id of ids) {
    const [f, result] = id.split('|') as [string, string];
    out.push(`<path class="pts ${result}-pts" stroke="${fColor(f)}" d="${series.get(id)!.d.join('')}"/>`);
  }
  return { paths: out.join(''), points };
}

function anomalyRings(frame: Frame, ops: Op[], y: (ms: number) => number): string {
  return ops
    .filter((o) => o.anomaly === 'offending')
    .map((o) => `<circle class="aring" cx="${px(xOf(frame, o.startNs))}" cy="${px(y(o.latencyMs!))}" r="6"/>`)
    .join('');
}

/** Column series of the throughput chart, bottom to top: ok ops per f, then fail, then info. */
function throughputSeries(model: Model): { id: string; label: string; color: string }[] {
  const fs = orderedFs(new Set(model.ops.filter((o) => o.result === 'ok').map((o) => o.f)));
  return [
    ...fs.map((f) => ({ id: `ok:${f}`, label: `${f} ok`, color: fColor(f) })),
    { id: 'fail', label: 'fail (any f)', color: TYPE_COLORS.fail },
    { id: 'info', label: 'info (any f)', color: TYPE_COLORS.info },
  ];
}

/** The op kinds present, in the palette's order (unknown kinds last, sorted). */
function orderedFs(fs: Set<string>): string[] {
  const known = Object.keys(F_COLORS).filter((f) => fs.has(f));
  return [...known, ...[...fs].filter((f) => !(f in F_COLORS)).sort()];
}

/** Picks the throughput bin width in seconds for a run of `endNs`. */
export function throughputBinSec(endNs: number): number {
  const endSec = endNs / 1e9;
  return binSecChoices.find((b) => endSec / b <= throughputBinsMax) ?? binSecChoices[binSecChoices.length - 1]!;
}

/** Renders completions per second over time, stacked: ok by f, then fail, then info. */
export function renderThroughput(frame: Frame, model: Model): string {
  const binSec = throughputBinSec(frame.endNs);
  const binCount = Math.max(1, Math.ceil(frame.endNs / 1e9 / binSec));
  const series = throughputSeries(model);
  const counts = new Map(series.map((s) => [s.id, new Float64Array(binCount)]));
  for (const o of model.ops) {
    if (o.completion === null) continue;
    const bin = Math.min(binCount - 1, Math.floor(o.completion.time / 1e9 / binSec));
    counts.get(o.result === 'ok' ? `ok:${o.f}` : o.result)![bin]! += 1 / binSec;
  }
  const totals = new Float64Array(binCount);
  for (const c of counts.values()) c.forEach((v, i) => (totals[i]! += v));
  const yStep = niceStep(Math.max(...totals, 1), 4);
  const yMax = Math.ceil(Math.max(...totals, 1) / yStep) * yStep;
  const y = (v: number): number => plotTopPx + throughputPlotPx - (v / yMax) * throughputPlotPx;
  const out: string[] = [svgOpen(frame, plotTopPx + throughputPlotPx + 34, 'throughput')];
  out.push(`<rect class="plot-bg" x="${frame.leftPx}" y="${plotTopPx}" width="${frame.plotWidthPx}" height="${throughputPlotPx}"/>`);
  out.push(shadeFaults(frame, model, plotTopPx, throughputPlotPx));
  out.push(timeAxis(frame, plotTopPx, throughputPlotPx));
  out.push(linearTicks(frame, yMax, yStep, y, 'ops/s'));
  out.push(columns(frame, { binSec, binCount, series, counts, y }));
  out.push('</svg>');
  const note = `Completions per second in ${binSec}-s bins, by completion time; hover a column for its figures.`;
  return out.join('') + legend(series.map((s) => [s.label, s.color])) + `<p class="note">${esc(note)}</p>`;
}

interface Columns {
  binSec: number;
  binCount: number;
  series: { id: string; label: string; color: string }[];
  counts: Map<string, Float64Array>;
  y: (v: number) => number;
}

function columns(frame: Frame, c: Columns): string {
  const out: string[] = [];
  const binNs = c.binSec * 1e9;
  for (let i = 0; i < c.binCount; i++) {
    const x0 = xOf(frame, i * binNs);
    const w = Math.max(xOf(frame, (i + 1) * binNs) - x0 - (c.binCount > 60 ? 0.5 : 1.5), 0.5);
    let base = 0;
    const parts: string[] = [];
    for (const s of c.series) {
      const v = c.counts.get(s.id)![i]!;
      if (v === 0) continue;
      const top = c.y(base + v);
      out.push(`<rect x="${px(x0)}" y="${px(top)}" width="${px(w)}" height="${px(c.y(base) - top)}" fill="${s.color}"/>`);
      parts.push(`${s.label} ${num(v, 1)}/s`);
      base += v;
    }
    if (parts.length === 0) continue;
    const label = `${num(i * c.binSec, 2)}-${num((i + 1) * c.binSec, 2)} s: ${num(base, 1)} ops/s (${parts.join(', ')})`;
    out.push(`<rect class="hover" x="${px(x0)}" y="${plotTopPx}" width="${px(w)}" height="${throughputPlotPx}"><title>${esc(label)}</title></rect>`);
  }
  return out.join('');
}

function linearTicks(frame: Frame, yMax: number, step: number, y: (v: number) => number, unit: string): string {
  const out: string[] = [];
  for (let i = 0; i * step <= yMax + step / 1e6; i++) {
    const v = step * i;
    const yy = px(y(v));
    out.push(`<line class="grid" x1="${frame.leftPx}" x2="${frame.leftPx + frame.plotWidthPx}" y1="${yy}" y2="${yy}"/>`);
    out.push(`<text class="tick" x="${frame.leftPx - 6}" y="${px(y(v) + 4)}" text-anchor="end">${num(Number(v.toPrecision(4)), 1)}</text>`);
  }
  out.push(yAxisTitle(unit, plotTopPx, throughputPlotPx));
  return out.join('');
}
