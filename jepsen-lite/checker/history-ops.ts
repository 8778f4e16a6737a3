/**
 * Pairs a history's events into operations: each invoke with the next event of the same
 * process (its completion). A process has at most one operation outstanding (Jepsen's
 * contract), so "the next event of the same process" is the completion. An invoke with no
 * completion by the end of the history is indeterminate, like an info.
 */
import type { HistoryEvent } from '../history/types.js';

/** How an operation ended: ok happened, fail did not, info (or no completion) is unknown. */
export type OpOutcome = 'ok' | 'fail' | 'info';

/** One operation: its invoke and its completion event (null when it never completed). */
export interface PairedOp {
  invoke: HistoryEvent;
  completion: HistoryEvent | null;
  outcome: OpOutcome;
}

/** The operations of a history grouped by key, plus per-key descriptions of malformed events. */
export interface PairedHistory {
  byKey: Map<string, PairedOp[]>;
  /** key -> what was wrong (a harness bug): such keys can only be checked as 'unknown'. */
  malformed: Map<string, string>;
}

/** Groups the history's operations by key, in invoke order. */
export function pairOps(history: readonly HistoryEvent[]): PairedHistory {
  const byKey = new Map<string, PairedOp[]>();
  const malformed = new Map<string, string>();
  const open = new Map<number, PairedOp>();
  const flag = (key: string, why: string): void => {
    if (!malformed.has(key)) malformed.set(key, why);
  };
  for (const event of history) {
    if (event.type === 'invoke') {
      const previous = open.get(event.process);
      if (previous !== undefined) flag(previous.invoke.key, `process ${event.process} invoked again before its ${previous.invoke.f} completed`);
      const op: PairedOp = { invoke: event, completion: null, outcome: 'info' };
      open.set(event.process, op);
      let ops = byKey.get(event.key);
      if (ops === undefined) byKey.set(event.key, (ops = []));
      ops.push(op);
      continue;
    }
    const op = open.get(event.process);
    if (op === undefined) {
      flag(event.key, `process ${event.process} completed a ${event.f} it never invoked`);
      continue;
    }
    open.delete(event.process);
    if (op.invoke.key !== event.key || op.invoke.f !== event.f) {
      flag(op.invoke.key, `process ${event.process} invoked ${op.invoke.f} of ${op.invoke.key} but completed ${event.f} of ${event.key}`);
    }
    op.completion = event;
    op.outcome = event.type;
  }
  return { byKey, malformed };
}

/** The ns time an operation's effect can be no later than (Infinity when indeterminate). */
export function returnTime(op: PairedOp): number {
  return op.outcome === 'ok' && op.completion !== null ? op.completion.time : Infinity;
}

/** The events of an operation, invoke first. */
export function opEvents(op: PairedOp): HistoryEvent[] {
  return op.completion === null ? [op.invoke] : [op.invoke, op.completion];
}

/** The keys written with an exptime: checkExpiry checks them, checkRegister leaves them out. */
export function expiringKeysOf(history: readonly HistoryEvent[]): Set<string> {
  const keys = new Set<string>();
  for (const e of history) if (e.type === 'invoke' && e.f === 'write' && e.ttlSec !== undefined && e.ttlSec !== 0) keys.add(e.key);
  return keys;
}
