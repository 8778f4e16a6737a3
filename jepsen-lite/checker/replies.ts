/**
 * checkReplies: every reply the clients got must be one the protocol allows for its request.
 * A completion marked `anomaly` (an unknown reply kind, a VALUE line for another key or with a
 * wrong byte count, bytes nobody asked for) makes the run invalid, whatever its ok/fail/info
 * type: the server said something a memcached server never says. Reads history.jsonl alone.
 */
import type { HistoryEvent, Outcome } from '../history/types.js';
import type { Anomaly } from './anomaly.js';

/** The verdict of checkReplies. */
export interface RepliesResult {
  outcome: Outcome;
  /** Completions checked. */
  checked: number;
  /** Completions with an unexpected or malformed reply. */
  malformed: number;
  anomaly?: Anomaly;
}

/** Checks that no completion carries an anomaly. */
export function checkReplies(history: readonly HistoryEvent[]): RepliesResult {
  const result: RepliesResult = { outcome: 'valid', checked: 0, malformed: 0 };
  const invokes = new Map<number, HistoryEvent>();
  for (const e of history) {
    if (e.type === 'invoke') {
      invokes.set(e.process, e);
      continue;
    }
    result.checked++;
    if (e.anomaly === undefined) continue;
    result.malformed++;
    result.outcome = 'invalid';
    if (result.anomaly === undefined) {
      const invoke = invokes.get(e.process);
      result.anomaly = { kind: 'malformed-reply', message: `${e.f} of ${JSON.stringify(e.key)} at node ${e.node ?? '?'}: ${e.anomaly}`, ops: invoke ? [invoke, e] : [e] };
    }
  }
  return result;
}
