// Small SVG/HTML building blocks shared by the report's charts: escaping, number formatting,
// the common time axis and the colour palettes. Pure string building, no DOM.

/** Escapes text for HTML/SVG element content and attribute values. */
export function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Formats a coordinate with at most one decimal (keeps the SVG small). */
export function px(n: number): string {
  return String(Math.round(n * 10) / 10);
}

/** Formats a number for people: integers plainly, others with `digits` significant decimals. */
export function num(n: number, digits = 2): string {
  if (!Number.isFinite(n)) return String(n);
  if (Number.isInteger(n)) return n.toLocaleString('en-US');
  const abs = Math.abs(n);
  const decimals = abs >= 100 ? 0 : abs >= 10 ? Math.min(1, digits) : digits;
  return n.toFixed(decimals);
}

/** Formats nanoseconds since the start of the run as seconds. */
export function sec(ns: number): string {
  return `${(ns / 1e9).toFixed(3)} s`;
}

/** Horizontal geometry shared by every chart so that their time axes line up. */
export interface Frame {
  /** Total SVG width. */
  widthPx: number;
  /** Left edge of the plot area (room for lane labels and y ticks). */
  leftPx: number;
  /** Width of the plot area. */
  plotWidthPx: number;
  /** End of the time axis, ns since the start of the run. */
  endNs: number;
}

/** The frame every chart uses: 1,360 px wide, scaled to the page by the viewBox. */
export function makeFrame(endNs: number): Frame {
  return { widthPx: 1360, leftPx: 90, plotWidthPx: 1250, endNs: Math.max(endNs, 1) };
}

/** Maps ns since the start of the run to an x coordinate. */
export function xOf(frame: Frame, ns: number): number {
  return frame.leftPx + (Math.min(Math.max(ns, 0), frame.endNs) / frame.endNs) * frame.plotWidthPx;
}

/** A "nice" step (1, 2 or 5 times a power of ten) that cuts `span` into about `count` pieces. */
export function niceStep(span: number, count: number): number {
  const raw = span / Math.max(count, 1);
  const power = 10 ** Math.floor(Math.log10(raw));
  const m = raw / power;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * power;
}

/** Vertical grid lines and second labels along the bottom of a plot area. */
export function timeAxis(frame: Frame, topPx: number, heightPx: number): string {
  const endSec = frame.endNs / 1e9;
  const step = niceStep(endSec, 12);
  const out: string[] = [];
  for (let s = 0; s <= endSec + 1e-9; s += step) {
    const x = px(xOf(frame, s * 1e9));
    out.push(`<line class="grid" x1="${x}" x2="${x}" y1="${topPx}" y2="${topPx + heightPx}"/>`);
    out.push(`<text class="tick" x="${x}" y="${topPx + heightPx + 14}" text-anchor="middle">${num(Number(s.toFixed(6)))}</text>`);
  }
  const right = frame.leftPx + frame.plotWidthPx;
  out.push(`<text class="axis" x="${right}" y="${topPx + heightPx + 28}" text-anchor="end">time since start (s)</text>`);
  return out.join('');
}

/** Colours for the result of an op: ok happened, fail did not, info unknown. */
export const TYPE_COLORS: Record<'ok' | 'fail' | 'info', string> = {
  ok: '#4caf50',
  fail: '#ff9800',
  info: '#9c27b0',
};

/** Colours per operation, chosen to stay apart from the ok/fail/info colours. */
export const F_COLORS: Record<string, string> = {
  read: '#1f77b4',
  write: '#17becf',
  cas: '#8c564b',
  add: '#e377c2',
  delete: '#7f7f7f',
  incr: '#bcbd22',
  append: '#393b79',
};

const FAULT_COLORS: Record<string, string> = {
  partition: '#e15759',
  isolate: '#f28e2b',
  'isolate-leaders': '#d37295',
  'majority-ring': '#b07aa1',
  bridge: '#9c755f',
  delay: '#4e79a7',
  loss: '#59a14f',
  kill: '#333333',
  pause: '#76b7b2',
  clock: '#edc948',
  heal: '#666666',
};

const FALLBACK_COLORS = ['#ff9da7', '#a0cbe8', '#ffbe7d', '#8cd17d', '#b6992d', '#499894', '#86bcb6', '#f1ce63'];

/** A stable colour for a fault kind (known kinds fixed, others hashed into a spare palette). */
export function faultColor(fault: string): string {
  const known = FAULT_COLORS[fault];
  if (known !== undefined) return known;
  let h = 0;
  for (let i = 0; i < fault.length; i++) h = (h * 31 + fault.charCodeAt(i)) >>> 0;
  return FALLBACK_COLORS[h % FALLBACK_COLORS.length]!;
}

/** A colour for an op kind not in the palette. */
export function fColor(f: string): string {
  return F_COLORS[f] ?? '#555555';
}

/** A y-axis title, rotated, centred on the plot area's height. */
export function yAxisTitle(text: string, topPx: number, heightPx: number): string {
  return `<text class="axis" transform="translate(16 ${px(topPx + heightPx / 2)}) rotate(-90)" text-anchor="middle">${esc(text)}</text>`;
}
