// The report's text parts: the run summary, the per-check verdicts with their anomalies, and
// latency percentiles per operation. results.json may be partial (an aborted run), so every
// field is read defensively.
import type { HistoryEvent, Results } from '../history/types.js';
import type { Model, Op } from './model.js';
import { renderLockTables } from './lock.js';
import { showValue } from './timeline.js';
import { esc, num, sec } from './svg.js';

/** Anomalies rendered per check (the earliest); the rest are counted. */
export const anomaliesShownMax = 50;
/** Anomalies shown open per check; the others are folded into a <details> element. */
export const anomaliesOpenMax = 3;
/** List entries (lost elements, crash lines) shown before "and N more". */
export const listShownMax = 20;

/** A checker's anomaly as in the checker API. */
export interface Anomaly {
  kind: string;
  message: string;
  ops: HistoryEvent[];
}

/** results.json as read: any field may be missing (an aborted run). */
export type PartialResults = { [K in keyof Results]?: Results[K] | undefined };

/** The run summary at the top: big outcome badge and a grid of run facts. */
export function renderSummary(results: PartialResults, model: Model): string {
  const outcome = String(results.outcome ?? 'unknown');
  const facts: [string, string][] = [
    ['seed', String(results.seed ?? '?')],
    ['commit', String(results.commit ?? '?')],
    ['nodes', String(results.nodes ?? '?')],
    ['time', results.timeSec === undefined ? '?' : `${num(results.timeSec, 1)} s`],
    ['workload', String(results.workload ?? '?')],
    ['nemeses', nemesesFact(results)],
    ['ops', opsFact(results, model)],
    ...failReasonsFact(results),
    ['ops/s', results.opsPerSec === undefined ? '?' : num(results.opsPerSec, 1)],
    ['checker time', results.checkerMs === undefined ? '?' : `${num(results.checkerMs, 1)} ms`],
    ['crashes', crashesFact(results)],
    ['digests', digestsFact(results)],
    ['server args', String(results.serverArgs ?? '') || '(defaults)'],
  ];
  const extra = results as Record<string, unknown>;
  if (isRecord(extra.network)) facts.push(['network', compact(extra.network)]);
  const grid = facts.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('');
  const harnessError = typeof extra.harnessError === 'string' ? `<p class="harness-error"><b>Harness error:</b> ${esc(cut(extra.harnessError, 2000))}</p>` : '';
  return `<header><div class="outcome ${cls(outcome)}">${esc(outcome.toUpperCase())}</div><dl class="facts">${grid}</dl></header>${harnessError}${crashList(results)}${digestList(results)}`;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** name=value pairs of an object's scalar fields. */
function compact(o: Record<string, unknown>): string {
  return Object.entries(o)
    .filter(([, v]) => typeof v !== 'object')
    .map(([k, v]) => `${k}=${typeof v === 'number' ? num(v, 2) : String(v)}`)
    .join(' ');
}

function cls(outcome: string): string {
  return outcome === 'valid' || outcome === 'invalid' ? outcome : 'unknown';
}

/** The nemeses, each with how often it fired; one that never did says so. */
function nemesesFact(results: PartialResults): string {
  if (!Array.isArray(results.nemeses) || results.nemeses.length === 0) return 'none';
  const fired = (results as Record<string, unknown>).nemesesFired;
  if (!isRecord(fired)) return results.nemeses.join(', ');
  return results.nemeses.map((k) => {
    const n = Number(fired[k] ?? 0);
    return n > 0 ? `${k} ×${n}` : `${k} (did not fire)`;
  }).join(', ');
}

/** Failed ops by reason: normal cas mismatches apart from real errors. */
function failReasonsFact(results: PartialResults): [string, string][] {
  const r = (results as Record<string, unknown>).failReasons;
  if (!isRecord(r)) return [];
  const names: [string, string][] = [['casMismatch', 'cas mismatch (EXISTS, normal)'], ['keyState', 'key state (NOT_FOUND/NOT_STORED, normal)'],
    ['noLeader', 'no leader'], ['noReply', 'no reply (reads)'], ['error', 'error']];
  return [['fail reasons', names.map(([k, label]) => `${label} ${Number(r[k] ?? 0).toLocaleString('en-US')}`).join(' / ')]];
}

function opsFact(results: PartialResults, model: Model): string {
  const count = (r: string): number => model.ops.filter((o) => o.result === r).length;
  const ops = results.ops ?? model.ops.length;
  const ok = results.okOps ?? count('ok');
  const fail = results.failOps ?? count('fail');
  const info = results.infoOps ?? count('info');
  const counted = results.ops === undefined ? '' : ' (workload phase; the setup writes and final reads are in the history and the tables below, not counted here)';
  return `${ops.toLocaleString('en-US')} (ok ${ok.toLocaleString('en-US')} / fail ${fail.toLocaleString('en-US')} / info ${info.toLocaleString('en-US')})${counted}`;
}

function crashesFact(results: PartialResults): string {
  const crashes = Array.isArray(results.crashes) ? results.crashes : [];
  if (crashes.length === 0) return 'none';
  const nodes = [...new Set(crashes.map((c) => c.node))].join(', ');
  return `${crashes.length} (nodes ${nodes})`;
}

function crashList(results: PartialResults): string {
  const crashes = Array.isArray(results.crashes) ? results.crashes : [];
  if (crashes.length === 0) return '';
  const rows = crashes.slice(0, listShownMax).map((c) => `<li>node ${esc(String(c.node))}: <code>${esc(cut(String(c.line), 400))}</code></li>`);
  const more = crashes.length > listShownMax ? `<li>and ${crashes.length - listShownMax} more</li>` : '';
  return `<section class="crashes"><h3>Crashes</h3><ul>${rows.join('')}${more}</ul></section>`;
}

function digestsFact(results: PartialResults): string {
  const d = results.digests as (Results['digests'] & { converged?: boolean }) | undefined;
  if (d === undefined || d === null) return 'not compared';
  const groups = isRecord(d.groups) ? Object.keys(d.groups).length : 0;
  const verdict = d.agree ? 'agree' : 'DISAGREE';
  const converged = d.converged === false ? ', not converged' : '';
  return `${verdict} (${groups} groups${converged})`;
}

/** Replica digest rows of the groups that disagree or did not converge. */
interface GroupDigests {
  agree?: boolean;
  converged?: boolean;
  replicas?: { node: number; applied: number; digest: string | null }[];
}

/** A table of the groups whose replicas disagree or did not converge (the harness's digest report). */
function digestList(results: PartialResults): string {
  const groups = results.digests?.groups;
  if (!isRecord(groups)) return '';
  const bad = Object.entries(groups as Record<string, GroupDigests>).filter(([, g]) => isRecord(g) && (g.agree === false || g.converged === false));
  if (bad.length === 0) return '';
  const rows = bad.slice(0, listShownMax).map(([id, g]) => {
    const replicas = (Array.isArray(g.replicas) ? g.replicas : []).map((r) => `node ${r.node}: applied ${r.applied} digest ${r.digest ?? 'none'}`);
    const state = `${g.agree === false ? 'disagree' : 'agree'}${g.converged === false ? ', not converged' : ''}`;
    return `<tr><td>${esc(id)}</td><td>${esc(state)}</td><td>${esc(replicas.join('; '))}</td></tr>`;
  });
  const more = bad.length > listShownMax ? `<p class="note">and ${bad.length - listShownMax} more groups</p>` : '';
  return `<section class="crashes"><h3>Replica digests</h3><table class="ops"><thead><tr><th>group</th><th>state</th><th>replicas</th></tr></thead><tbody>${rows.join('')}</tbody></table>${more}</section>`;
}

function cut(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max - 3)}...` : s;
}

/** The checks section: one block per check, with anomalies and their ops for invalid ones. */
export function renderChecks(results: PartialResults): string {
  const checks = results.checks !== undefined && results.checks !== null ? Object.entries(results.checks) : [];
  if (checks.length === 0) return '<p class="note">results.json lists no checks.</p>';
  return checks.map(([name, check]) => renderCheck(name, (check ?? {}) as Record<string, unknown>)).join('');
}

function renderCheck(name: string, check: Record<string, unknown>): string {
  const outcome = String(check.outcome ?? 'unknown');
  const head = `<h3><span class="badge ${cls(outcome)}">${esc(outcome)}</span> ${esc(name)}</h3>`;
  const facts = checkFacts(check);
  const anomalies = collectAnomalies(check);
  anomalies.sort((a, b) => firstTime(a.anomaly) - firstTime(b.anomaly));
  const shown = anomalies.slice(0, anomaliesShownMax).map((a) => renderAnomaly(a.where, a.anomaly));
  const folded = shown.length > anomaliesOpenMax ? `<details><summary>${shown.length - anomaliesOpenMax} more anomalies</summary>${shown.slice(anomaliesOpenMax).join('')}</details>` : '';
  const more = anomalies.length > anomaliesShownMax ? `<p class="note">and ${anomalies.length - anomaliesShownMax} more anomalies not listed</p>` : '';
  const keyNote = keySummary(check);
  const count = anomalies.length > 1 ? `<p class="facts-line"><span class="fact"><b>anomalies</b> ${anomalies.length}, earliest first</span></p>` : '';
  return `<section class="check ${cls(outcome)}" data-check="${esc(name)}">${head}${facts}${renderLockTables(check)}${keyNote}${count}${shown.slice(0, anomaliesOpenMax).join('')}${folded}${more}</section>`;
}

/** Scalar details of a check (and short lists) as a line of name = value pairs. */
function checkFacts(check: Record<string, unknown>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(check)) {
    if (k === 'outcome' || k === 'anomaly' || k === 'anomalies' || k === 'keys') continue;
    if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean' || v === null) {
      parts.push(`<span class="fact"><b>${esc(k)}</b> ${esc(typeof v === 'number' ? num(v, 3) : String(v))}</span>`);
    } else if (Array.isArray(v)) {
      const list = v.slice(0, listShownMax).map((x) => showValue(x)).join(' ');
      const more = v.length > listShownMax ? ` and ${v.length - listShownMax} more` : '';
      parts.push(`<span class="fact"><b>${esc(k)}</b> ${v.length}${v.length > 0 ? `: ${esc(list + more)}` : ''}</span>`);
    }
  }
  return parts.length > 0 ? `<p class="facts-line">${parts.join('')}</p>` : '';
}

/** For per-key checks (register): how many keys had each outcome. */
function keySummary(check: Record<string, unknown>): string {
  const keys = check.keys;
  if (keys === null || typeof keys !== 'object') return '';
  const tally = new Map<string, number>();
  for (const k of Object.values(keys as Record<string, { outcome?: string }>)) {
    const o = String(k?.outcome ?? 'unknown');
    tally.set(o, (tally.get(o) ?? 0) + 1);
  }
  const text = [...tally].map(([o, n]) => `${n} ${o}`).join(', ');
  const notes = Object.entries(keys as Record<string, { outcome?: string; note?: unknown }>)
    .filter(([, k]) => typeof k?.note === 'string')
    .slice(0, listShownMax)
    .map(([key, k]) => `<li>${esc(key)}: ${esc(String(k.outcome))}, ${esc(String(k.note))}</li>`);
  return `<p class="facts-line"><span class="fact"><b>keys</b> ${esc(text)}</span></p>${notes.length > 0 ? `<ul class="notes">${notes.join('')}</ul>` : ''}`;
}

/** Anomalies of a check: its own, then each key's (register checks report per key). */
export function collectAnomalies(check: Record<string, unknown>): { where: string; anomaly: Anomaly }[] {
  const out: { where: string; anomaly: Anomaly }[] = [];
  if (isAnomaly(check.anomaly)) out.push({ where: '', anomaly: check.anomaly });
  // Checks that list several (lock): the first is also `anomaly`.
  if (Array.isArray(check.anomalies)) {
    for (const a of check.anomalies) {
      if (isAnomaly(a) && !(isAnomaly(check.anomaly) && a.message === check.anomaly.message && firstTime(a) === firstTime(check.anomaly))) out.push({ where: '', anomaly: a });
    }
  }
  const keys = check.keys;
  if (keys !== null && typeof keys === 'object') {
    for (const [key, k] of Object.entries(keys as Record<string, { anomaly?: unknown }>)) {
      if (isAnomaly(k?.anomaly)) out.push({ where: key, anomaly: k.anomaly });
    }
  }
  return out;
}

/** When the anomaly's offending op was invoked (its first event). */
function firstTime(a: Anomaly): number {
  const t = Array.isArray(a.ops) ? a.ops[0]?.time : undefined;
  return typeof t === 'number' ? t : Infinity;
}

function isAnomaly(a: unknown): a is Anomaly {
  return a !== null && typeof a === 'object' && typeof (a as Anomaly).message === 'string';
}

function renderAnomaly(where: string, a: Anomaly): string {
  const title = `${a.kind ?? 'anomaly'}${where === '' ? '' : ` on key ${where}`}`;
  const ops = pairEvents(Array.isArray(a.ops) ? a.ops : []);
  const rows = ops.map((op, i) => anomalyRow(op, i === 0)).join('');
  const head = '<tr><th></th><th>process</th><th>f</th><th>key</th><th>value</th><th>result</th><th>returned</th><th>invoked</th><th>completed</th><th>latency</th><th>node</th><th>error</th></tr>';
  const table = ops.length === 0 ? '' : `<table class="ops"><thead>${head}</thead><tbody>${rows}</tbody></table>`;
  return `<div class="anomaly"><p><b>${esc(title)}</b>: ${esc(a.message)}</p>${table}</div>`;
}

/** An op of an anomaly: its invoke and (if it has one) its completion. */
interface EventPair {
  invoke: HistoryEvent;
  completion: HistoryEvent | null;
}

/** Pairs an anomaly's events (each invoke followed by its completion) into ops, in the given order. */
export function pairEvents(events: HistoryEvent[]): EventPair[] {
  const out: EventPair[] = [];
  for (const e of events) {
    const last = out[out.length - 1];
    if (e.type !== 'invoke' && last !== undefined && last.completion === null && last.invoke.process === e.process) last.completion = e;
    else out.push(e.type === 'invoke' ? { invoke: e, completion: null } : { invoke: e, completion: e });
  }
  return out;
}

function anomalyRow(op: EventPair, offending: boolean): string {
  const { invoke, completion } = op;
  const latency = completion === null || completion === invoke ? '' : `${num((completion.time - invoke.time) / 1e6, 3)} ms`;
  const node = invoke.node ?? completion?.node;
  const cells = [
    offending ? 'offending' : '',
    `p${invoke.process}`,
    invoke.f,
    invoke.key,
    completion === invoke || invoke.f === 'read' ? '' : showValue(invoke.value),
    completion?.type ?? 'none',
    completion === null || completion.type !== 'ok' || (invoke.f !== 'read' && invoke.f !== 'incr' && invoke.f !== 'decr') ? '' : showValue(completion.value),
    completion === invoke ? '' : sec(invoke.time),
    completion === null ? '' : sec(completion.time),
    latency,
    node === undefined ? '' : String(node),
    completion?.error ?? '',
  ];
  const cls = `${esc(String(completion?.type ?? 'info'))}${offending ? ' offending' : ''}`;
  return `<tr class="${cls}">${cells.map((c) => `<td>${esc(String(c))}</td>`).join('')}</tr>`;
}

/** Ops and latency percentiles (ok ops) per operation kind. */
export function renderOpStats(model: Model): string {
  const byF = new Map<string, Op[]>();
  for (const o of model.ops) {
    let list = byF.get(o.f);
    if (list === undefined) byF.set(o.f, (list = []));
    list.push(o);
  }
  const rows = [...byF].sort(([a], [b]) => a.localeCompare(b)).map(([f, ops]) => statsRow(f, ops));
  rows.push(statsRow('all', model.ops));
  const head = '<tr><th>f</th><th>ops</th><th>ok</th><th>fail</th><th>info</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>max ms</th></tr>';
  return `<table class="stats"><thead>${head}</thead><tbody>${rows.join('')}</tbody></table><p class="note">Latency percentiles over ok ops.</p>`;
}

function statsRow(f: string, ops: Op[]): string {
  const lat = ops.filter((o) => o.result === 'ok').map((o) => o.latencyMs!).sort((a, b) => a - b);
  const q = (p: number): string => (lat.length === 0 ? '' : num(lat[Math.min(lat.length - 1, Math.floor(p * lat.length))]!, 3));
  const count = (r: string): string => ops.filter((o) => o.result === r).length.toLocaleString('en-US');
  const cells = [f, ops.length.toLocaleString('en-US'), count('ok'), count('fail'), count('info'), q(0.5), q(0.95), q(0.99), lat.length === 0 ? '' : num(lat[lat.length - 1]!, 3)];
  return `<tr>${cells.map((c, i) => (i === 0 ? `<th>${esc(c)}</th>` : `<td>${esc(c)}</td>`)).join('')}</tr>`;
}
