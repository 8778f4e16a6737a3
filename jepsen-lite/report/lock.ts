// The lock check's tables in the report: per lock key (acquires, renews, releases, holds,
// overlapping holders split by whether the TTL had passed) and per fenced resource (writes,
// refusals by the fence, tokens), plus the violation counts. checkLock's shape
// (checker/lock.ts), read defensively.
import { esc, num } from './svg.js';

type Tally = { ok?: number; fail?: number; info?: number };

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function tally(t: unknown): string {
  if (!isRecord(t)) return '';
  const { ok, fail, info } = t as Tally;
  return `${ok ?? 0} / ${fail ?? 0} / ${info ?? 0}`;
}

function cell(v: unknown): string {
  return `<td>${esc(typeof v === 'number' ? num(v, 0) : v === null || v === undefined ? '-' : String(v))}</td>`;
}

/** The lock check's tables, or '' for any other check. */
export function renderLockTables(check: Record<string, unknown>): string {
  if (!isRecord(check.locks) || !isRecord(check.resources)) return '';
  const lockRows = Object.entries(check.locks).map(([key, f]) => {
    const l = isRecord(f) ? f : {};
    return `<tr><td>${esc(key)}</td><td>${tally(l.acquires)}</td><td>${tally(l.renews)}</td><td>${tally(l.releases)}</td>${cell(l.holds)}${cell(l.overlaps)}${cell(l.overlapsAfterExpiry)}${cell(l.overlapsEarly)}${cell(l.overlapMs)}</tr>`;
  });
  const resourceRows = Object.entries(check.resources).map(([key, f]) => {
    const r = isRecord(f) ? f : {};
    return `<tr><td>${esc(key)}</td>${cell(r.writesOk)}${cell(r.writesInfo)}${cell(r.readsOk)}${cell(r.fencedOut)}${cell(r.maxToken)}${cell(r.finalToken)}</tr>`;
  });
  const v = isRecord(check.violations) ? check.violations : {};
  const violations = `<p class="facts-line"><span class="fact"><b>violations</b> token order ${esc(String(v.tokenOrder ?? '?'))}, ` +
    `fence (lower token accepted after a higher one) ${esc(String(v.fence ?? '?'))}, lock held twice before its TTL without clock faults ${esc(String(v.earlyOverlap ?? '?'))}</span></p>`;
  return `${violations}<table class="stats lock"><tr><th>lock</th><th>acquire ok / fail / info</th><th>renew</th><th>release</th><th>holds</th><th>overlapping holders</th><th>after expiry</th><th>before TTL</th><th>overlap ms</th></tr>${lockRows.join('')}</table>` +
    `<table class="stats lock"><tr><th>resource</th><th>writes ok</th><th>writes info</th><th>reads ok</th><th>fenced out</th><th>max token</th><th>final token</th></tr>${resourceRows.join('')}</table>`;
}
