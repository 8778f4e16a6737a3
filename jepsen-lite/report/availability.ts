/**
 * Availability figures of a run (issue 10), for results.json and report.html:
 *
 * - per fault window: ops on the majority side and on the minority side (the nodes a
 *   partition, isolation, kill or pause cut off), ok / failed with a reply / no reply, and how
 *   long the minority side took to answer SERVER_ERROR (p50, p99);
 * - per heal and node: time from the heal to the node's first ok read and first ok write of
 *   every group (the heal probes of cluster/availability-probe.ts), summarised per fault kind;
 * - the longest client-visible unavailability: the longest time a node's clients went
 *   without an ok answer;
 * - leadership changes per heal: leader changes of each group from the heal until the next
 *   fault starts (the leader watch; a lower bound, see there).
 *
 * Pure: history, nemesis events, probes in; a plain object out.
 */
import type { HealProbe, LeaderChange } from '../cluster/availability-probe.js';
import type { HistoryEvent, NemesisEvent } from '../history/types.js';
import { esc } from './svg.js';

/** Faults that cut some nodes off from the rest (their `nodes` are the minority side). */
const cuttingFaults = new Set(['partition', 'isolate', 'isolate-leaders', 'kill', 'pause']);

/** A node that has not served every group this long after a heal is "not served" (a 3 s client timeout). */
const probeWindowMs = 3000;

/**
 * Process ids from here on are the final reads, setup writes and sub-processes (history/types.ts
 * subProcessBase), not the workers: a noreply set's sub-process never gets an answer by design,
 * and a multi-get's keys are one worker request (whose worker process records no op itself).
 */
const finalReadProcessBase = 1_000_000;

/** Ops of one side of a fault window. */
export interface SideOps {
  nodes: number[];
  ok: number;
  /** Failed or unknown with a reply line (SERVER_ERROR, NOT_FOUND, ...). */
  answeredNotOk: number;
  /** No reply: client timeout or broken connection. */
  noReply: number;
  /** ms from invoke to a SERVER_ERROR reply: p50, p99, max, count. */
  serverErrorMs: Quantiles | null;
}

/** p50, p99 and max of some ms values. */
export interface Quantiles {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

/** One fault window. */
export interface FaultWindow {
  fault: string;
  detail: string;
  startMs: number;
  stopMs: number;
  majority: SideOps;
  minority: SideOps;
}

/** Recovery after heals of one fault kind. */
export interface HealSummary {
  fault: string;
  heals: number;
  /** Per (heal, node) pairs of the nodes the fault hit: ms until every group served a read and a write. */
  hitServesAllMs: Quantiles | null;
  /** The same over every node. */
  allServesAllMs: Quantiles | null;
  /** (heal, node) pairs that did not serve every group although probed for at least 3 s. */
  notServed: number;
  /** (heal, node) pairs whose probes were stopped (next fault, end of run) before 3 s and before serving. */
  cutShort: number;
  /** Leader changes after these heals: the most for one group after one heal, and the total. */
  leaderChangesPerGroupMax: number;
  leaderChangesTotal: number;
}

/** The availability section of results.json. */
export interface Availability {
  windows: FaultWindow[];
  heals: Array<HealProbe & { servesAllMs: Record<string, number | null>; leaderChanges: Record<string, number> }>;
  healSummary: HealSummary[];
  longestUnavailable: { node: number; ms: number; fromMs: number; toMs: number } | null;
  longestUnavailableByNode: Record<string, number>;
}

/** Computes the figures. */
export function computeAvailability(history: readonly HistoryEvent[], nemesis: readonly NemesisEvent[], heals: readonly HealProbe[], leaderChanges: readonly LeaderChange[]): Availability {
  const ops = pairOps(history);
  const nodes = [...new Set(ops.map((o) => o.node))].sort((a, b) => a - b);
  const windows = faultWindows(nemesis, nodes).map((w) => ({ ...w, ...sides(w, ops) }));
  const healRows = heals.map((h, i) => {
    const untilMs = nextFaultStartMs(nemesis, h.healMs) ?? heals[i + 1]?.healMs ?? Infinity;
    return { ...h, servesAllMs: servesAll(h), leaderChanges: changesAfter(leaderChanges, h.healMs, untilMs) };
  });
  const { longest, byNode } = unavailability(ops);
  return { windows, heals: healRows, healSummary: summarise(healRows), longestUnavailable: longest, longestUnavailableByNode: byNode };
}

interface Op {
  node: number;
  f: string;
  invokeMs: number;
  doneMs: number;
  type: 'ok' | 'fail' | 'info';
  error: string | undefined;
}

function pairOps(history: readonly HistoryEvent[]): Op[] {
  const open = new Map<number, HistoryEvent>();
  const out: Op[] = [];
  for (const e of history) {
    if (e.process >= finalReadProcessBase || e.node === undefined) continue;
    if (e.type === 'invoke') {
      open.set(e.process, e);
      continue;
    }
    const inv = open.get(e.process);
    if (inv === undefined) continue;
    open.delete(e.process);
    out.push({ node: e.node, f: e.f, invokeMs: inv.time / 1e6, doneMs: e.time / 1e6, type: e.type, error: e.error });
  }
  return out;
}

function faultWindows(nemesis: readonly NemesisEvent[], nodes: number[]): Array<Omit<FaultWindow, 'majority' | 'minority'> & { minorityNodes: number[] }> {
  const out: Array<Omit<FaultWindow, 'majority' | 'minority'> & { minorityNodes: number[] }> = [];
  const started = new Map<string, NemesisEvent>();
  for (const e of nemesis) {
    if (e.phase === 'start') {
      started.set(e.fault, e);
      continue;
    }
    const s = started.get(e.fault);
    if (s === undefined) continue;
    started.delete(e.fault);
    const hit = s.nodes ?? [];
    let minorityNodes = cuttingFaults.has(e.fault) ? hit : [];
    // A partition names one half: the minority is whichever half is smaller.
    if (minorityNodes.length * 2 > nodes.length) minorityNodes = nodes.filter((n) => !minorityNodes.includes(n));
    out.push({ fault: e.fault, detail: s.detail ?? '', startMs: s.time / 1e6, stopMs: e.time / 1e6, minorityNodes });
  }
  return out;
}

function sides(w: { startMs: number; stopMs: number; minorityNodes: number[] }, ops: Op[]): { majority: SideOps; minority: SideOps } {
  const inWindow = ops.filter((o) => o.invokeMs >= w.startMs && o.invokeMs < w.stopMs);
  const minority = inWindow.filter((o) => w.minorityNodes.includes(o.node));
  const majority = inWindow.filter((o) => !w.minorityNodes.includes(o.node));
  const majorityNodes = [...new Set(majority.map((o) => o.node))].sort((a, b) => a - b);
  return { majority: sideOps(majorityNodes, majority), minority: sideOps(w.minorityNodes, minority) };
}

function sideOps(nodes: number[], ops: Op[]): SideOps {
  const serverErrors = ops.filter((o) => o.error?.startsWith('SERVER_ERROR') === true).map((o) => o.doneMs - o.invokeMs);
  const noReply = ops.filter((o) => o.type !== 'ok' && o.error !== undefined && /^E_[A-Z]+:/.test(o.error)).length;
  const ok = ops.filter((o) => o.type === 'ok').length;
  return { nodes, ok, answeredNotOk: ops.length - ok - noReply, noReply, serverErrorMs: quantiles(serverErrors) };
}

/** Per node: ms until every group served a read and a write after the heal (null: not all did). */
function servesAll(h: HealProbe): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const n of h.nodes) {
    let worst: number | null = 0;
    for (const g of n.groups) {
      if (worst === null || g.readMs === null || g.writeMs === null) worst = null;
      else worst = Math.max(worst, g.readMs, g.writeMs);
    }
    out[String(n.node)] = n.groups.length === 0 ? null : worst;
  }
  return out;
}

function nextFaultStartMs(nemesis: readonly NemesisEvent[], afterMs: number): number | null {
  for (const e of nemesis) if (e.phase === 'start' && e.time / 1e6 > afterMs) return e.time / 1e6;
  return null;
}

function changesAfter(changes: readonly LeaderChange[], fromMs: number, untilMs: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of changes) if (c.timeMs >= fromMs && c.timeMs < untilMs) out[String(c.group)] = (out[String(c.group)] ?? 0) + 1;
  return out;
}

function summarise(heals: Availability['heals']): HealSummary[] {
  const kinds = [...new Set(heals.map((h) => h.fault))];
  return kinds.map((fault) => {
    const of = heals.filter((h) => h.fault === fault);
    const hit: number[] = [];
    const all: number[] = [];
    let notServed = 0;
    let cutShort = 0;
    let perGroupMax = 0;
    let total = 0;
    for (const h of of) {
      for (const [node, ms] of Object.entries(h.servesAllMs)) {
        if (ms === null) {
          if (h.probedMs !== null && h.probedMs < probeWindowMs) cutShort++;
          else notServed++;
          continue;
        }
        all.push(ms);
        if (h.hit.includes(Number(node))) hit.push(ms);
      }
      for (const n of Object.values(h.leaderChanges)) {
        perGroupMax = Math.max(perGroupMax, n);
        total += n;
      }
    }
    return { fault, heals: of.length, hitServesAllMs: quantiles(hit), allServesAllMs: quantiles(all), notServed, cutShort, leaderChangesPerGroupMax: perGroupMax, leaderChangesTotal: total };
  });
}

/**
 * A gap in a node's client traffic longer than this means no client was trying it (the
 * workload's clients move to another node when theirs is down): an outage seen by clients
 * ends there.
 */
const untriedGapMs = 1000;

/**
 * The longest time clients of a node kept trying it without an ok answer, per node: from
 * the invoke of the first op that did not succeed after an ok, to the completion of the
 * next ok op (or of the last op tried before clients stopped trying that node).
 */
function unavailability(ops: Op[]): { longest: Availability['longestUnavailable']; byNode: Record<string, number> } {
  const byNode: Record<string, number> = {};
  let longest: Availability['longestUnavailable'] = null;
  const nodes = [...new Set(ops.map((o) => o.node))].sort((a, b) => a - b);
  for (const node of nodes) {
    const mine = ops.filter((o) => o.node === node).sort((a, b) => a.invokeMs - b.invokeMs);
    let best = { ms: 0, fromMs: 0, toMs: 0 };
    let downSinceMs: number | null = null;
    let triedUntilMs = -Infinity;
    const close = (toMs: number): void => {
      if (downSinceMs !== null && toMs - downSinceMs > best.ms) best = { ms: toMs - downSinceMs, fromMs: downSinceMs, toMs };
      downSinceMs = null;
    };
    // Completions in time order decide; invokes only open an outage and show clients trying.
    const events = mine.flatMap((o) => [{ atMs: o.invokeMs, op: o, done: false }, { atMs: o.doneMs, op: o, done: true }]).sort((a, b) => a.atMs - b.atMs);
    for (const e of events) {
      if (!e.done) {
        if (e.atMs > triedUntilMs + untriedGapMs) close(triedUntilMs);
        triedUntilMs = Math.max(triedUntilMs, e.atMs);
        continue;
      }
      triedUntilMs = Math.max(triedUntilMs, e.atMs);
      if (e.op.type === 'ok') close(e.atMs);
      else downSinceMs ??= e.op.invokeMs;
    }
    close(triedUntilMs);
    byNode[String(node)] = Math.round(best.ms);
    if (longest === null || best.ms > longest.ms) longest = { node, ms: Math.round(best.ms), fromMs: Math.round(best.fromMs), toMs: Math.round(best.toMs) };
  }
  return { longest, byNode };
}

/** p50, p99, max (nearest rank), or null for no values. */
export function quantiles(values: number[]): Quantiles | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const at = (q: number): number => Math.round(s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!);
  return { count: s.length, p50: at(0.5), p99: at(0.99), max: Math.round(s[s.length - 1]!) };
}

/** The report's Availability section body (empty when the run has no figures). */
export function renderAvailability(av: Availability | undefined): string {
  if (av === undefined || av === null) return '';
  const q = (x: Quantiles | null): string => (x === null ? '-' : `${x.p50} / ${x.p99} / ${x.max} (${x.count})`);
  const side = (s: SideOps): string => `${esc(s.nodes.join(',') || '-')}: ok ${s.ok}, replied ${s.answeredNotOk}, no reply ${s.noReply}`;
  const windows = av.windows.map((w) =>
    `<tr><td>${(w.startMs / 1000).toFixed(1)}-${(w.stopMs / 1000).toFixed(1)} s</td><td>${esc(w.fault)}</td><td>${esc(w.detail)}</td><td>${side(w.majority)}</td><td>${side(w.minority)}</td><td>${q(w.minority.serverErrorMs)}</td></tr>`).join('');
  const summary = av.healSummary.map((s) =>
    `<tr><td>${esc(s.fault)}</td><td>${s.heals}</td><td>${q(s.hitServesAllMs)}</td><td>${q(s.allServesAllMs)}</td><td>${s.notServed} (${s.cutShort} cut short)</td><td>${s.leaderChangesPerGroupMax}</td><td>${s.leaderChangesTotal}</td></tr>`).join('');
  const l = av.longestUnavailable;
  const longest = l === null ? 'none' : `${l.ms} ms at node ${l.node} (${(l.fromMs / 1000).toFixed(1)}-${(l.toMs / 1000).toFixed(1)} s); by node: ${esc(JSON.stringify(av.longestUnavailableByNode))}`;
  return `<p class="note">Minority = the nodes a partition, isolation, kill or pause cut off. ms as p50 / p99 / max (count).</p>
<table class="stats"><thead><tr><th>window</th><th>fault</th><th>detail</th><th>majority side</th><th>minority side</th><th>minority SERVER_ERROR ms</th></tr></thead><tbody>${windows}</tbody></table>
<h3>After heals: time until a node served a read and a write of every group (heal probes)</h3>
<table class="stats"><thead><tr><th>fault</th><th>heals</th><th>hit nodes ms</th><th>all nodes ms</th><th>not served in 3 s</th><th>leader changes / group / heal (max)</th><th>leader changes (total)</th></tr></thead><tbody>${summary}</tbody></table>
<p class="note">Longest client-visible unavailability: ${longest}</p>`;
}
