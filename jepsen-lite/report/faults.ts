// Fault intervals drawn on the charts: a translucent band per interval behind every chart,
// and a strip with one row per fault kind that doubles as the legend.
import type { FaultInterval, Model } from './model.js';
import { esc, faultColor, px, sec, timeAxis, xOf, type Frame } from './svg.js';

/** Describes an interval for a tooltip. */
export function faultLabel(f: FaultInterval): string {
  const nodes = f.nodes !== undefined && f.nodes.length > 0 ? ` nodes ${f.nodes.join(',')}` : '';
  const detail = f.detail !== undefined && f.detail !== '' ? ` (${f.detail})` : '';
  const end = f.open ? 'end of run (no stop)' : sec(f.endNs);
  return `${f.fault}${nodes}${detail}: ${sec(f.startNs)} to ${end}`;
}

/** One translucent rect per fault interval over a plot area (class "fault", data-fault = kind). */
export function shadeFaults(frame: Frame, model: Model, topPx: number, heightPx: number): string {
  const out: string[] = [];
  for (const f of model.faults) {
    const x0 = xOf(frame, f.startNs);
    const w = Math.max(xOf(frame, f.endNs) - x0, 1);
    out.push(
      `<rect class="fault" data-fault="${esc(f.fault)}" x="${px(x0)}" y="${topPx}" width="${px(w)}" height="${heightPx}" fill="${faultColor(f.fault)}"><title>${esc(faultLabel(f))}</title></rect>`,
    );
  }
  for (const m of model.marks) {
    const x = px(xOf(frame, m.time));
    out.push(`<line class="mark" x1="${x}" x2="${x}" y1="${topPx}" y2="${topPx + heightPx}" stroke="${faultColor(m.fault)}"><title>${esc(`${m.fault} at ${sec(m.time)}`)}</title></line>`);
  }
  return out.join('');
}

/** The fault kinds in order of first appearance. */
export function faultKinds(model: Model): string[] {
  const kinds = new Set<string>();
  for (const f of model.faults) kinds.add(f.fault);
  for (const m of model.marks) kinds.add(m.fault);
  return [...kinds];
}

const ROW_PX = 18;

/** A chart with one row per fault kind and a bar per interval, labelled with its nodes. */
export function faultStrip(frame: Frame, model: Model): string {
  const kinds = faultKinds(model);
  if (kinds.length === 0) return '<p class="note">No faults were injected (nemesis.jsonl is empty).</p>';
  const top = 6;
  const heightPx = kinds.length * ROW_PX;
  const out: string[] = [svgOpen(frame, top + heightPx + 34, 'faults')];
  kinds.forEach((kind, row) => {
    const y = top + row * ROW_PX;
    out.push(`<text class="lane" x="${frame.leftPx - 6}" y="${y + ROW_PX / 2 + 4}" text-anchor="end">${esc(kind)}</text>`);
    out.push(`<rect class="band" x="${frame.leftPx}" y="${y}" width="${frame.plotWidthPx}" height="${ROW_PX - 2}"/>`);
  });
  out.push(timeAxis(frame, top, heightPx));
  for (const f of model.faults) out.push(faultBar(frame, f, top + kinds.indexOf(f.fault) * ROW_PX));
  for (const m of model.marks) {
    const x = px(xOf(frame, m.time));
    const y = top + kinds.indexOf(m.fault) * ROW_PX;
    out.push(`<path class="mark-tick" d="M${x} ${y}v${ROW_PX - 2}" stroke="${faultColor(m.fault)}"><title>${esc(`${m.fault} at ${sec(m.time)}`)}</title></path>`);
  }
  out.push('</svg>');
  return out.join('') + faultTotals(model);
}

function faultBar(frame: Frame, f: FaultInterval, y: number): string {
  const x0 = xOf(frame, f.startNs);
  const w = Math.max(xOf(frame, f.endNs) - x0, 2);
  const fill = f.open ? `url(#open-${gradientId(f.fault)})` : faultColor(f.fault);
  const text = f.nodes !== undefined && f.nodes.length > 0 ? `n${f.nodes.join(',')}` : '';
  const label = text !== '' && w > text.length * 6 + 6 ? `<text class="bar-label" x="${px(x0 + 3)}" y="${y + ROW_PX / 2 + 3}">${esc(text)}</text>` : '';
  return `<rect x="${px(x0)}" y="${y}" width="${px(w)}" height="${ROW_PX - 2}" fill="${fill}" opacity="0.85"><title>${esc(faultLabel(f))}</title></rect>${label}`;
}

function gradientId(fault: string): string {
  return fault.replace(/[^A-Za-z0-9_-]/g, '_');
}

/** Gradients for faults that never stopped (they fade towards the end of the run). */
export function faultGradients(model: Model): string {
  const kinds = new Set(model.faults.filter((f) => f.open).map((f) => f.fault));
  return [...kinds]
    .map((k) => `<linearGradient id="open-${gradientId(k)}"><stop offset="0" stop-color="${faultColor(k)}"/><stop offset="1" stop-color="${faultColor(k)}" stop-opacity="0.15"/></linearGradient>`)
    .join('');
}

/** Opens a chart's SVG element, sized by the frame and scaled to the page width. */
export function svgOpen(frame: Frame, heightPx: number, cls: string): string {
  return `<svg class="chart ${cls}" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="${cls} chart" viewBox="0 0 ${frame.widthPx} ${heightPx}" width="100%" preserveAspectRatio="xMinYMin meet">`;
}

/** One line per fault kind: how many intervals and how long in total. */
export function faultTotals(model: Model): string {
  const parts = faultKinds(model).map((kind) => {
    const intervals = model.faults.filter((f) => f.fault === kind);
    const marks = model.marks.filter((m) => m.fault === kind).length;
    const totalNs = intervals.reduce((sum, f) => sum + (f.endNs - f.startNs), 0);
    const open = intervals.some((f) => f.open) ? ', one never stopped' : '';
    const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
    const text = intervals.length > 0 ? `${plural(intervals.length, 'interval')}, ${(totalNs / 1e9).toFixed(1)} s in all${open}` : plural(marks, 'event');
    return `<span class="fact"><i class="sw" style="background:${faultColor(kind)}"></i><b>${esc(kind)}</b> ${esc(text)}</span>`;
  });
  return parts.length === 0 ? '' : `<div class="legend">${parts.join('')}</div>`;
}

/** Legend entries (swatch + name) as HTML. */
export function legend(entries: [label: string, color: string, cls?: string][]): string {
  const items = entries.map(([label, color, cls]) => `<span class="key"><i class="${cls ?? 'sw'}" style="background:${color}"></i>${esc(label)}</span>`);
  return `<div class="legend">${items.join('')}</div>`;
}
