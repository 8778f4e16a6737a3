// Turns the raw files into what the charts draw: ops (an invoke paired with its completion)
// and fault intervals (a nemesis start paired with its stop).
import type { HistoryEvent, NemesisEvent } from '../history/types.js';

/** The result of an op as drawn: an invoke with no completion counts as info (indeterminate). */
export type OpResult = 'ok' | 'fail' | 'info';

/** An op's part in an anomaly: the op that broke the model, or one listed around it. */
export type AnomalyRole = 'offending' | 'context';

/** One operation: an invoke and the completion of the same process that followed it. */
export interface Op {
  process: number;
  f: string;
  key: string;
  invoke: HistoryEvent;
  /** null when the history ends (or the process invokes again) before a completion. */
  completion: HistoryEvent | null;
  result: OpResult;
  startNs: number;
  /** Completion time; for an op without completion, the end of the run. */
  endNs: number;
  /** Completion latency in ms, null without completion. */
  latencyMs: number | null;
  /** Whether a checker named this op in an anomaly: as the offending op, or as context. */
  anomaly: AnomalyRole | null;
}

/** A fault from nemesis.jsonl: a start paired with the next stop of the same fault. */
export interface FaultInterval {
  fault: string;
  startNs: number;
  endNs: number;
  /** True when no stop event came: the fault lasts to the end of the run. */
  open: boolean;
  nodes?: number[];
  detail?: string;
}

/** Everything the charts need, derived once. */
export interface Model {
  ops: Op[];
  /** Process ids in ascending order: one timeline lane each. */
  processes: number[];
  faults: FaultInterval[];
  /** Instantaneous nemesis events (a `heal` with no stop) drawn as markers. */
  marks: NemesisEvent[];
  /** End of the time axis: the last event of the history or the nemesis, ns. */
  endNs: number;
  /** Completions whose process had no pending invoke (a malformed history). */
  orphans: number;
}

/** Key that identifies a history event for anomaly matching. */
export function eventId(e: HistoryEvent): string {
  return `${e.process}@${e.time}`;
}

/** Derives ops, lanes and fault intervals; `anomalyIds` maps eventId()s of ops to highlight to their role. */
export function buildModel(history: HistoryEvent[], nemesis: NemesisEvent[], anomalyIds: Map<string, AnomalyRole>): Model {
  let endNs = 0;
  for (const e of history) if (e.time > endNs) endNs = e.time;
  for (const e of nemesis) if (e.time > endNs) endNs = e.time;
  const { ops, orphans } = pairOps(history, endNs, anomalyIds);
  const processes = [...new Set(ops.map((o) => o.process))].sort((a, b) => a - b);
  const { faults, marks } = pairFaults(nemesis, endNs);
  return { ops, processes, faults, marks, endNs, orphans };
}

/** Pairs each invoke with the next completion of its process, in history order. */
export function pairOps(history: HistoryEvent[], endNs: number, anomalyIds: Map<string, AnomalyRole>): { ops: Op[]; orphans: number } {
  const pending = new Map<number, HistoryEvent>();
  const ops: Op[] = [];
  let orphans = 0;
  for (const e of history) {
    if (e.type === 'invoke') {
      const earlier = pending.get(e.process);
      if (earlier !== undefined) ops.push(makeOp(earlier, null, endNs, anomalyIds));
      pending.set(e.process, e);
      continue;
    }
    const invoke = pending.get(e.process);
    if (invoke === undefined) {
      orphans++;
      continue;
    }
    pending.delete(e.process);
    ops.push(makeOp(invoke, e, endNs, anomalyIds));
  }
  for (const invoke of pending.values()) ops.push(makeOp(invoke, null, endNs, anomalyIds));
  ops.sort((a, b) => a.startNs - b.startNs);
  return { ops, orphans };
}

function makeOp(invoke: HistoryEvent, completion: HistoryEvent | null, endNs: number, anomalyIds: Map<string, AnomalyRole>): Op {
  const result: OpResult = completion === null ? 'info' : (completion.type as OpResult);
  const anomaly = anomalyIds.get(eventId(invoke)) ?? (completion === null ? undefined : anomalyIds.get(eventId(completion))) ?? null;
  return {
    process: invoke.process,
    f: invoke.f,
    key: invoke.key,
    invoke,
    completion,
    result,
    startNs: invoke.time,
    endNs: completion === null ? Math.max(endNs, invoke.time) : completion.time,
    latencyMs: completion === null ? null : (completion.time - invoke.time) / 1e6,
    anomaly,
  };
}

/**
 * Pairs every start with the earliest open start of the same fault (and the same nodes when the
 * stop names them); a start without stop lasts to the end. A `heal` that is never stopped is an
 * instantaneous marker, not an interval: it would otherwise shade the rest of the run.
 */
export function pairFaults(nemesis: NemesisEvent[], endNs: number): { faults: FaultInterval[]; marks: NemesisEvent[] } {
  const events = [...nemesis].sort((a, b) => a.time - b.time);
  const open: FaultInterval[] = [];
  const faults: FaultInterval[] = [];
  const healStopped = events.some((e) => e.fault === 'heal' && e.phase === 'stop');
  const marks: NemesisEvent[] = [];
  for (const e of events) {
    if (e.fault === 'heal' && !healStopped) {
      marks.push(e);
      continue;
    }
    if (e.phase === 'start') {
      const interval = startInterval(e, endNs);
      open.push(interval);
      faults.push(interval);
      continue;
    }
    const i = matchOpen(open, e);
    if (i < 0) continue; // a stop without start: nothing to shade
    open[i]!.endNs = e.time;
    open[i]!.open = false;
    open.splice(i, 1);
  }
  return { faults, marks };
}

function startInterval(e: NemesisEvent, endNs: number): FaultInterval {
  const interval: FaultInterval = { fault: e.fault, startNs: e.time, endNs: Math.max(endNs, e.time), open: true };
  if (e.nodes !== undefined) interval.nodes = e.nodes;
  if (e.detail !== undefined) interval.detail = e.detail;
  return interval;
}

function matchOpen(open: FaultInterval[], stop: NemesisEvent): number {
  const sameNodes = (f: FaultInterval): boolean =>
    stop.nodes === undefined || f.nodes === undefined || sameSet(f.nodes, stop.nodes);
  const exact = open.findIndex((f) => f.fault === stop.fault && sameNodes(f));
  return exact >= 0 ? exact : open.findIndex((f) => f.fault === stop.fault);
}

function sameSet(a: number[], b: number[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(a);
  return b.every((x) => s.has(x));
}
