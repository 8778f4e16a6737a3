// The timeline: one lane per process id, a bar per op from invoke to completion, coloured by
// its result. Large histories are aggregated per pixel column so the page stays small.
import assert from 'node:assert';
import { legend, shadeFaults, svgOpen } from './faults.js';
import type { Model, Op } from './model.js';
import { esc, num, px, sec, TYPE_COLORS, timeAxis, xOf, yAxisTitle, type Frame } from './svg.js';

/** Histories with at most this many ops draw every op as its own bar with a tooltip. */
export const opsDetailedMax = 5000;
/** In aggregated mode, at most this many ops (the widest, plus every info and anomaly) keep their own bar. */
export const opsIndividualMax = 3000;
/** In aggregated mode, an op at least this wide keeps its own bar (slow ops stay visible). */
export const opWidePxMin = 4;
/** Upper bound on aggregation bins over all lanes; wider bins when there are many lanes. */
export const binsTotalMax = 50_000;
/** Height budget of all lanes together; lanes shrink (down to laneHeightPxMin) to fit it. */
export const lanesHeightPxMax = 640;
const laneHeightPxMin = 3;
const laneHeightPxMax = 16;
const topPx = 22;

/** Lane geometry: the y of each process id's lane. */
interface Lanes {
  heightPx: number;
  index: Map<number, number>;
}

/** How to read the lanes (issue 11): what a process is and why there are more than clients. */
export const lanesNote =
  'One lane per history process: a client slot runs one op at a time on its own connection; after an op ends in info ' +
  '(outcome unknown) the slot continues as a new process (old id + concurrency) on a new connection, so a run has more ' +
  'lanes than clients. Ids from 1000000 are the final reads (one per node), from 2000000 the setup writes.';

/** Renders the timeline section (SVG, legend, and a note on how it was drawn). */
export function renderTimeline(frame: Frame, model: Model): string {
  const lanes = layoutLanes(model.processes);
  const areaPx = Math.max(model.processes.length, 1) * lanes.heightPx;
  const detailed = model.ops.length <= opsDetailedMax;
  const out: string[] = [svgOpen(frame, topPx + areaPx + 34, 'timeline')];
  out.push(laneBands(frame, model.processes, lanes));
  out.push(shadeFaults(frame, model, topPx, areaPx));
  out.push(timeAxis(frame, topPx, areaPx));
  const drawn = detailed ? drawAll(frame, model.ops, lanes) : drawAggregated(frame, model, lanes);
  out.push(drawn.svg);
  out.push(anomalyMarks(frame, model.ops, lanes));
  out.push('</svg>');
  return out.join('') + timelineLegend(detailed) + `<p class="note">${esc(drawn.note)} ${esc(lanesNote)}</p>`;
}

function layoutLanes(processes: number[]): Lanes {
  const fit = Math.floor(lanesHeightPxMax / Math.max(processes.length, 1));
  const heightPx = Math.min(laneHeightPxMax, Math.max(laneHeightPxMin, fit));
  return { heightPx, index: new Map(processes.map((p, i) => [p, i])) };
}

function laneY(lanes: Lanes, process: number): number {
  const i = lanes.index.get(process);
  assert(i !== undefined, `no lane for process ${process}`);
  return topPx + i * lanes.heightPx;
}

/** Alternating lane backgrounds and process labels (thinned out when lanes are thin). */
function laneBands(frame: Frame, processes: number[], lanes: Lanes): string {
  const out: string[] = [];
  const every = Math.ceil(11 / lanes.heightPx);
  processes.forEach((p, i) => {
    const y = topPx + i * lanes.heightPx;
    out.push(`<rect class="lane-bg${i % 2 === 0 ? ' even' : ''}" data-process="${p}" x="${frame.leftPx}" y="${y}" width="${frame.plotWidthPx}" height="${lanes.heightPx}"/>`);
    if (i % every === 0) out.push(`<text class="lane" x="${frame.leftPx - 6}" y="${px(y + lanes.heightPx / 2 + 4)}" text-anchor="end">p${p}</text>`);
  });
  out.push(yAxisTitle('process', topPx, processes.length * lanes.heightPx));
  return out.join('');
}

/** Every op as its own bar with a tooltip. */
function drawAll(frame: Frame, ops: Op[], lanes: Lanes): { svg: string; note: string } {
  const out = ops.map((op) => opBar(frame, op, lanes));
  return { svg: out.join(''), note: `${ops.length.toLocaleString('en-US')} ops, each drawn as its own bar (hover for details).` };
}

/** One op's bar: solid from invoke to completion; an indeterminate op fades out to the end of the run. */
function opBar(frame: Frame, op: Op, lanes: Lanes): string {
  const h = barHeight(lanes);
  const y = px(laneY(lanes, op.process) + (lanes.heightPx - h) / 2);
  const x0 = xOf(frame, op.startNs);
  const done = op.completion === null ? op.startNs : op.completion.time;
  const w = Math.max(xOf(frame, done) - x0, 1);
  const cls = op.anomaly === null ? op.result : `${op.result} ${op.anomaly === 'offending' ? 'anomaly' : 'context'}`;
  const title = `<title>${esc(opLabel(op))}</title>`;
  let svg = `<rect class="${cls}" x="${px(x0)}" y="${y}" width="${px(w)}" height="${px(h)}">${title}</rect>`;
  if (op.result === 'info') {
    const fadeX = x0 + w;
    const fadeW = frame.leftPx + frame.plotWidthPx - fadeX;
    if (fadeW > 0.5) svg += `<rect class="info-fade" x="${px(fadeX)}" y="${y}" width="${px(fadeW)}" height="${px(h)}">${title}</rect>`;
  }
  return svg;
}

function barHeight(lanes: Lanes): number {
  return lanes.heightPx >= 6 ? lanes.heightPx - 3 : lanes.heightPx - 0.5;
}

/** Describes an op for a tooltip or a table. */
export function opLabel(op: Op): string {
  const c = op.completion;
  const latency = op.latencyMs === null ? 'no completion' : `${num(op.latencyMs, 3)} ms`;
  const out = c === null ? 'no completion (indeterminate)' : `${c.type} ${showValue(c.value)}`;
  const node = op.invoke.node ?? c?.node;
  const extra = [node === undefined ? '' : `node ${node}`, c?.error ?? ''].filter((s) => s !== '').join(', ');
  return `p${op.process} ${op.f} ${op.key} ${showValue(op.invoke.value)} -> ${out}; at ${sec(op.startNs)}, ${latency}${extra === '' ? '' : `; ${extra}`}`;
}

/** Shows a history value compactly (long values are cut). */
export function showValue(v: unknown): string {
  const s = typeof v === 'string' ? JSON.stringify(v) : v === null || v === undefined ? 'nil' : JSON.stringify(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** Selects the ops that keep their own bar in aggregated mode. */
function pickIndividual(frame: Frame, ops: Op[]): Set<Op> {
  const keep = new Set<Op>();
  const wide: { op: Op; w: number }[] = [];
  for (const op of ops) {
    if (op.result === 'info' || op.anomaly !== null) {
      keep.add(op);
      continue;
    }
    const w = xOf(frame, op.endNs) - xOf(frame, op.startNs);
    if (w >= opWidePxMin) wide.push({ op, w });
  }
  wide.sort((a, b) => b.w - a.w);
  for (const { op } of wide) {
    if (keep.size >= opsIndividualMax) break;
    keep.add(op);
  }
  return keep;
}

/**
 * Aggregated drawing: narrow ops are counted into pixel-column bins per lane, and each run of
 * bins with the same share of failures becomes one rect. Infos, anomalies and the widest ops
 * are drawn on top as their own bars.
 */
function drawAggregated(frame: Frame, model: Model, lanes: Lanes): { svg: string; note: string } {
  const keep = pickIndividual(frame, model.ops);
  const binPx = Math.max(1, Math.ceil((model.processes.length * frame.plotWidthPx) / binsTotalMax));
  const binCount = Math.ceil(frame.plotWidthPx / binPx);
  const ok = model.processes.map(() => new Uint32Array(binCount));
  const fail = model.processes.map(() => new Uint32Array(binCount));
  for (const op of model.ops) {
    if (keep.has(op)) continue;
    const lane = lanes.index.get(op.process)!;
    const counts = op.result === 'ok' ? ok[lane]! : fail[lane]!;
    const a = Math.min(binCount - 1, Math.floor((xOf(frame, op.startNs) - frame.leftPx) / binPx));
    const b = Math.min(binCount - 1, Math.floor((xOf(frame, op.endNs) - frame.leftPx) / binPx));
    for (let i = a; i <= b; i++) counts[i]!++;
  }
  const out: string[] = [];
  let rects = 0;
  model.processes.forEach((p, lane) => {
    const runs = binRuns(frame, ok[lane]!, fail[lane]!, binPx, laneY(lanes, p), lanes);
    rects += runs.length;
    out.push(...runs);
  });
  for (const op of keep) out.push(opBar(frame, op, lanes));
  const note =
    `${model.ops.length.toLocaleString('en-US')} ops (more than ${opsDetailedMax.toLocaleString('en-US')}): aggregated into ${binPx}-px columns per lane ` +
    `(${rects.toLocaleString('en-US')} bars; colour = share of failed ops in the column). ${keep.size.toLocaleString('en-US')} ops keep their own bar with a tooltip: ` +
    `every info and anomaly op and the slowest ops (at least ${opWidePxMin} px wide, at most ${opsIndividualMax.toLocaleString('en-US')}).`;
  return { svg: out.join(''), note };
}

/** Failure-share level of a bin: -1 empty, 0 all ok, 1..3 growing share of failed ops. */
function binLevel(okCount: number, failCount: number): number {
  if (okCount + failCount === 0) return -1;
  if (failCount === 0) return 0;
  return 1 + Math.min(2, Math.floor((failCount / (okCount + failCount)) * 3));
}

function binRuns(frame: Frame, ok: Uint32Array, fail: Uint32Array, binPx: number, laneTop: number, lanes: Lanes): string[] {
  const h = barHeight(lanes);
  const y = px(laneTop + (lanes.heightPx - h) / 2);
  const out: string[] = [];
  let runStart = 0;
  let runLevel = binLevel(ok[0]!, fail[0]!);
  for (let i = 1; i <= ok.length; i++) {
    const level = i < ok.length ? binLevel(ok[i]!, fail[i]!) : -2;
    if (level === runLevel) continue;
    if (runLevel >= 0) {
      const x = frame.leftPx + runStart * binPx;
      out.push(`<rect class="b${runLevel}" x="${px(x)}" y="${y}" width="${(i - runStart) * binPx}" height="${px(h)}"/>`);
    }
    runStart = i;
    runLevel = level;
  }
  return out;
}

/** Red markers above the lanes and a guide line down to each offending op. */
function anomalyMarks(frame: Frame, ops: Op[], lanes: Lanes): string {
  const out: string[] = [];
  for (const op of ops) {
    if (op.anomaly !== 'offending') continue;
    const x = px(xOf(frame, op.startNs));
    const y = laneY(lanes, op.process);
    out.push(`<path class="amark" d="M${x} ${topPx - 2}l-5 -9h10z"><title>${esc(`anomaly: ${opLabel(op)}`)}</title></path>`);
    out.push(`<line class="aline" x1="${x}" x2="${x}" y1="${topPx - 2}" y2="${y}"/>`);
  }
  return out.join('');
}

function timelineLegend(detailed: boolean): string {
  const entries: [string, string, string?][] = [
    ['ok', TYPE_COLORS.ok],
    ['fail', TYPE_COLORS.fail],
    ['info (indeterminate: fades to the end of the run)', TYPE_COLORS.info, 'sw fade'],
  ];
  if (!detailed) {
    entries.push(['columns with some failed ops', MIX_COLORS[1]!], ['mostly failed', MIX_COLORS[2]!]);
  }
  entries.push(['anomaly: offending op', '#d00000', 'sw anomaly-sw'], ['ops listed with it', '#222', 'sw context-sw']);
  return legend(entries);
}

/** Fill colours of the aggregated levels b0..b3 (ok blending into fail). */
export const MIX_COLORS = [TYPE_COLORS.ok, '#a5a83a', '#d99c20', TYPE_COLORS.fail];
