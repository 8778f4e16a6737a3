import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import type { HistoryEvent, NemesisEvent } from '../history/types.js';
import { opsDetailedMax, renderReport } from './index.js';
import { pairFaults, pairOps } from './model.js';
import { renderRunDir } from './render.js';
import { generateRun, type SyntheticFault } from './synthetic.js';

const VOID = new Set(['meta', 'br', 'hr', 'img', 'input', 'link']);

/** Checks that every element is closed in order; returns the first problem or null. */
function tagProblem(html: string): string | null {
  const body = html.replace(/<(style|script)>[\s\S]*?<\/\1>/g, '<$1></$1>').replace(/<!DOCTYPE[^>]*>/i, '');
  const stack: string[] = [];
  const tag = /<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"]*")*)\s*(\/?)>|<|>/g;
  for (let m = tag.exec(body); m !== null; m = tag.exec(body)) {
    if (m[0] === '<' || m[0] === '>') return `stray ${m[0]} at ${m.index}: ${body.slice(m.index - 40, m.index + 40)}`;
    const [, close, name, , selfClose] = m as unknown as [string, string, string, string, string];
    if (selfClose === '/' || VOID.has(name.toLowerCase())) continue;
    if (close === '') {
      stack.push(name);
      continue;
    }
    const open = stack.pop();
    if (open !== name) return `</${name}> closes <${open}> at ${m.index}`;
  }
  if (stack.length > 0) return `unclosed: ${stack.join(' ')}`;
  if (/&(?!(amp|lt|gt|quot|#39);)/.test(body)) return 'unescaped &';
  return null;
}

/** The SVG element of one chart (class "chart NAME"). */
function chart(html: string, name: string): string {
  const start = html.indexOf(`<svg class="chart ${name}"`);
  expect(start).toBeGreaterThanOrEqual(0);
  return html.slice(start, html.indexOf('</svg>', start) + 6);
}

function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

const faults: SyntheticFault[] = [
  { fault: 'partition', startSec: 1, stopSec: 2, nodes: [1], detail: '{1} | {2,3}' },
  { fault: 'kill', startSec: 2.5, stopSec: 3, nodes: [2] },
  { fault: 'partition', startSec: 3.5, stopSec: 4, nodes: [3] },
  { fault: 'pause', startSec: 4.5, stopSec: null, nodes: [3] },
];

describe('renderReport', () => {
  const run = generateRun({ seed: 1, clients: 4, durationSec: 5, opsPerSec: 100, keys: 2, faults, anomaly: true });
  const html = renderReport(run);

  it('is a well-formed, self-contained page with the outcome', () => {
    expect(tagProblem(html)).toBeNull();
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).toContain('<div class="outcome invalid">INVALID</div>');
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    expect(count(html, '<script')).toBe(1); // only the inline tooltip helper
  });

  it('shades one rect per fault interval on every chart', () => {
    for (const name of ['timeline', 'latency', 'throughput']) {
      const svg = chart(html, name);
      expect(count(svg, '<rect class="fault"'), name).toBe(faults.length);
      expect(count(svg, 'data-fault="partition"'), name).toBe(2);
    }
    const strip = chart(html, 'faults');
    for (const kind of ['partition', 'kill', 'pause']) expect(strip).toContain(`>${kind}</text>`);
    expect(strip).toContain('url(#open-pause)'); // the fault that never stopped fades out
  });

  it('draws one lane per process id', () => {
    const processes = new Set(run.history.map((e) => e.process));
    expect(processes.size).toBeGreaterThan(4); // some timeouts made new processes take over
    const svg = chart(html, 'timeline');
    expect(count(svg, '<rect class="lane-bg')).toBe(processes.size);
    for (const p of processes) expect(svg).toContain(`data-process="${p}"`);
  });

  it('draws every op of a small history as its own bar, info bars faded to the end', () => {
    const svg = chart(html, 'timeline');
    const ops = run.history.filter((e) => e.type !== 'invoke');
    const bars = count(svg, '<rect class="ok') + count(svg, '<rect class="fail') + count(svg, '<rect class="info"') + count(svg, '<rect class="info anomaly');
    expect(bars).toBe(ops.length);
    const infos = ops.filter((e) => e.type === 'info').length;
    expect(infos).toBeGreaterThan(0);
    expect(count(svg, 'class="info-fade"')).toBe(infos);
  });

  it('highlights anomaly ops in the timeline and lists them in the checks', () => {
    const register = run.results.checks.register as unknown as { keys: Record<string, { anomaly?: { ops: HistoryEvent[] } }> };
    const anomalyOps = Object.values(register.keys).flatMap((k) => k.anomaly?.ops ?? []);
    expect(anomalyOps.length).toBeGreaterThan(0);
    const svg = chart(html, 'timeline');
    expect(count(svg, ' anomaly"')).toBe(1); // the offending op, listed first
    expect(count(svg, 'class="amark"')).toBe(1);
    expect(count(svg, ' context"')).toBe(anomalyOps.length / 2 - 1);
    const checks = html.slice(html.indexOf('data-check="register"'));
    expect(checks).toContain('stale-read on key');
    const table = checks.slice(0, checks.indexOf('</table>'));
    expect(count(table, '<tr class=')).toBe(anomalyOps.length / 2); // one row per op
    expect(count(table, 'offending"')).toBe(1);
  });

  it('escapes keys, values and errors from the history', () => {
    const evil: HistoryEvent[] = [
      { process: 0, type: 'invoke', f: 'write', key: '<script>alert(1)</script>', value: '"&\'<b>', time: 0 },
      { process: 0, type: 'info', f: 'write', key: '<script>alert(1)</script>', value: '"&\'<b>', time: 1e6, error: '</svg><i>' },
    ];
    const page = renderReport({ history: evil, nemesis: [{ time: 0, fault: '<x>', phase: 'start', detail: '&' }], results: { outcome: 'unknown' } });
    expect(tagProblem(page)).toBeNull();
    expect(count(page, '<script')).toBe(1);
    expect(page).toContain('&lt;script&gt;');
  });

  it('renders an aborted run: partial results, no nemesis, an invoke without completion', () => {
    const history: HistoryEvent[] = [
      { process: 3, type: 'invoke', f: 'read', key: 'k', value: null, time: 5 },
      { process: 3, type: 'ok', f: 'read', key: 'k', value: null, time: 2e6 },
      { process: 3, type: 'invoke', f: 'read', key: 'k', value: null, time: 3e6 },
    ];
    const page = renderReport({ history, nemesis: [], results: {} });
    expect(tagProblem(page)).toBeNull();
    expect(page).toContain('<div class="outcome unknown">UNKNOWN</div>');
    expect(page).toContain('No faults were injected');
    expect(count(chart(page, 'timeline'), '<rect class="info"')).toBe(1);
  });

  it('renders an empty history', () => {
    const page = renderReport({ history: [], nemesis: [], results: { outcome: 'valid' } });
    expect(tagProblem(page)).toBeNull();
    expect(page).toContain('VALID');
  });
});

describe('fault intervals', () => {
  const ev = (time: number, fault: string, phase: 'start' | 'stop', nodes?: number[]): NemesisEvent => ({ time, fault, phase, ...(nodes ? { nodes } : {}) });

  it('pairs a stop with the open start of the same fault and nodes; an unstopped fault lasts to the end', () => {
    const { faults: intervals } = pairFaults(
      [ev(1, 'kill', 'start', [1]), ev(2, 'kill', 'start', [2]), ev(3, 'partition', 'start'), ev(4, 'kill', 'stop', [2]), ev(5, 'kill', 'stop', [1])],
      100,
    );
    expect(intervals.map((f) => [f.fault, f.nodes?.[0], f.startNs, f.endNs, f.open])).toEqual([
      ['kill', 1, 1, 5, false],
      ['kill', 2, 2, 4, false],
      ['partition', undefined, 3, 100, true],
    ]);
  });

  it('draws a heal without stop as a marker, not as an interval', () => {
    const { faults: intervals, marks } = pairFaults([ev(1, 'partition', 'start'), ev(2, 'heal', 'start'), ev(2, 'partition', 'stop')], 10);
    expect(intervals).toHaveLength(1);
    expect(marks.map((m) => m.time)).toEqual([2]);
  });
});

describe('ops', () => {
  it('pairs invokes with completions per process and closes a re-invoked process as info', () => {
    const h: HistoryEvent[] = [
      { process: 1, type: 'invoke', f: 'write', key: 'a', value: '1', time: 0 },
      { process: 2, type: 'invoke', f: 'read', key: 'a', value: null, time: 1 },
      { process: 1, type: 'ok', f: 'write', key: 'a', value: '1', time: 2 },
      { process: 2, type: 'invoke', f: 'read', key: 'a', value: null, time: 3 },
      { process: 7, type: 'ok', f: 'read', key: 'a', value: null, time: 4 },
    ];
    const { ops, orphans } = pairOps(h, 10, new Map());
    expect(ops.map((o) => [o.process, o.result, o.startNs, o.endNs])).toEqual([
      [1, 'ok', 0, 2],
      [2, 'info', 1, 10],
      [2, 'info', 3, 10],
    ]);
    expect(orphans).toBe(1);
  });
});

describe('large histories', () => {
  it('a 60 s x 500 ops/s history (~30k ops) renders aggregated, well-formed and under 5 MB', () => {
    const big = generateRun({
      seed: 2,
      clients: 16,
      durationSec: 60,
      opsPerSec: 950,
      keys: 5,
      faults: faults.map((f) => ({ ...f, startSec: f.startSec * 12, stopSec: f.stopSec === null ? null : f.stopSec * 12 })),
      anomaly: true,
    });
    const ops = big.history.length / 2;
    expect(ops).toBeGreaterThan(25_000);
    expect(ops).toBeGreaterThan(opsDetailedMax);
    const t0 = performance.now();
    const page = renderReport(big);
    const ms = performance.now() - t0;
    console.log(`report: ${ops} ops -> ${(page.length / 1e6).toFixed(2)} MB in ${ms.toFixed(0)} ms`);
    expect(page.length).toBeLessThan(5e6);
    expect(tagProblem(page)).toBeNull();
    expect(page).toContain('aggregated into');
    const svg = chart(page, 'timeline');
    expect(count(svg, '<rect class="fault"')).toBe(faults.length);
    expect(count(svg, '<rect class="lane-bg')).toBe(new Set(big.history.map((e) => e.process)).size);
    // Aggregation keeps the ops a reader looks for: the offending op and every info op.
    expect(count(svg, 'class="amark"')).toBe(1);
    expect(count(svg, 'class="info-fade"')).toBe(big.history.filter((e) => e.type === 'info').length);
    expect(count(svg, '<rect class="b')).toBeLessThan(big.history.length / 2);
  });
});

describe('renderRunDir', () => {
  it('reads a run directory and writes report.html, skipping a cut last line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'jepsen-report-'));
    try {
      const run = generateRun({ seed: 3, clients: 2, durationSec: 1, opsPerSec: 50, keys: 1, faults: [], anomaly: false });
      writeFileSync(join(dir, 'history.jsonl'), run.history.map((e) => JSON.stringify(e)).join('\n') + '\n{"process":0,"ty');
      writeFileSync(join(dir, 'results.json'), JSON.stringify(run.results));
      const out = renderRunDir(dir);
      expect(out.path).toBe(join(dir, 'report.html'));
      expect(out.badLines).toBe(1);
      const page = readFileSync(out.path, 'utf8');
      expect(out.bytes).toBe(Buffer.byteLength(page));
      expect(page).toContain('<div class="outcome valid">VALID</div>');
      expect(tagProblem(page)).toBeNull();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
