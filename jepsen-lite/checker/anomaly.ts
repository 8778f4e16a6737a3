/**
 * Readable anomalies for non-linearizable keys: the op that could not be linearized at the
 * deepest point of the search, the values the key could hold when it completed, and the
 * events of the ops around it (concurrent ones, the latest writes before it, and for a
 * read the writes of the value it returned).
 */
import type { HistoryEvent } from '../history/types.js';
import { opEvents, returnTime, type PairedOp } from './history-ops.js';
import type { Blocked } from './linearizable.js';
import { OpKind, type ModelOp } from './register-model.js';

/** A consistency violation: what kind, a one-line explanation, and the events involved. */
export interface Anomaly {
  kind: string;
  message: string;
  /** The invoke and completion events of the ops involved, the offending op first. */
  ops: HistoryEvent[];
}

/** Concurrent ops listed in an anomaly, at most: the report has to stay readable. */
const concurrentOpsMax = 16;
/** Writes that completed before the offending op, listed for context. */
const precedingWritesMax = 2;
const valueCharsMax = 60;

/** A value for a message: JSON-quoted (truncated), or "absent" for null. */
export function formatValue(value: string | null): string {
  if (value === null) return 'absent';
  const quoted = JSON.stringify(value);
  return quoted.length > valueCharsMax ? `${quoted.slice(0, valueCharsMax - 2)}…"` : quoted;
}

/** "a", "a or b", "a, b or c". */
function formatChoices(values: (string | null)[], truncated: boolean): string {
  const parts = values.map(formatValue);
  if (truncated) parts.push('others');
  if (parts.length <= 1) return parts[0] ?? 'nothing';
  return `${parts.slice(0, -1).join(', ')} or ${parts[parts.length - 1]}`;
}

function valueOf(event: HistoryEvent | null): string | null {
  const value = event?.value;
  if (value === null || value === undefined) return null;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** What the op claimed, e.g. `read of "k" returned "3"`. */
function describeOp(op: PairedOp): string {
  const { invoke, completion } = op;
  const key = JSON.stringify(invoke.key);
  const ended = op.outcome === 'ok' ? 'succeeded' : 'had an unknown outcome';
  switch (invoke.f) {
    case 'read':
      return `read of ${key} returned ${formatValue(valueOf(completion))}`;
    case 'cas': {
      const [expected, next] = invoke.value as [string | null, string];
      return `cas of ${key} from ${formatValue(expected)} to ${formatValue(next)} ${ended}`;
    }
    case 'incr':
    case 'decr':
      return op.outcome === 'ok'
        ? `${invoke.f} of ${key} by ${valueOf(invoke)} returned ${valueOf(completion)}`
        : `${invoke.f} of ${key} by ${valueOf(invoke)} ${ended}`;
    case 'delete':
    case 'touch':
      return `${invoke.f} of ${key} ${ended}`;
    case 'cas-delete':
      return `cas-delete of ${key} expecting ${formatValue(valueOf(invoke))} ${ended}`;
    default:
      return `${invoke.f} of ${key} (${formatValue(valueOf(invoke))}) ${ended}`;
  }
}

/** True when the op's own precondition fails in every listed state (so the message can blame it). */
function refutedByStates(op: ModelOp, states: (string | null)[]): boolean {
  switch (op.kind) {
    case OpKind.Read:
      return !states.includes(valueOf(op.source.completion));
    case OpKind.Cas:
      return !states.includes((op.source.invoke.value as [string | null, string])[0]);
    case OpKind.CasDelete:
      return !states.includes(valueOf(op.source.invoke));
    case OpKind.Add:
      return !states.includes(null);
    case OpKind.Replace:
    case OpKind.Touch:
    case OpKind.Append:
    case OpKind.Prepend:
      return states.every((s) => s === null);
    case OpKind.Incr:
    case OpKind.Decr:
      return true;
    default:
      return false;
  }
}

function overlaps(a: PairedOp, b: PairedOp): boolean {
  return a.invoke.time <= returnTime(b) && b.invoke.time <= returnTime(a);
}

/** The value an op stores when it takes effect (undefined: it stores none we can name). */
function storedValue(op: PairedOp): string | null | undefined {
  switch (op.invoke.f) {
    case 'write':
    case 'add':
    case 'replace':
      return valueOf(op.invoke);
    case 'cas':
      return (op.invoke.value as [string | null, string])[1];
    case 'delete':
    case 'cas-delete':
      return null;
    case 'incr':
    case 'decr':
      return op.outcome === 'ok' ? valueOf(op.completion) : undefined;
    default:
      return undefined;
  }
}

/**
 * The ops an anomaly lists besides the offending one: for a read, the latest op that stored
 * the value it returned; the latest writes completed before it; ok ops overlapping it; info
 * ops invoked while it ran or that stored one of the values it met (other info ops invoked
 * earlier overlap everything after them and would drown the list).
 */
function contextOps(target: PairedOp, all: readonly ModelOp[], states: readonly (string | null)[]): PairedOp[] {
  const others = all.map((op) => op.source).filter((op) => op !== target);
  const context = new Set<PairedOp>();
  if (target.invoke.f === 'read') {
    const read = valueOf(target.completion);
    const writers = others.filter((op) => storedValue(op) === read && op.invoke.f !== 'delete' && op.invoke.time <= returnTime(target));
    if (writers.length > 0) context.add(writers[writers.length - 1]!);
  }
  others
    .filter((op) => storedValue(op) !== undefined && op.outcome === 'ok' && returnTime(op) < target.invoke.time)
    .sort((a, b) => returnTime(b) - returnTime(a))
    .slice(0, precedingWritesMax)
    .forEach((op) => context.add(op));
  // An info op matters if it ran while the target did, or stored one of the values reported.
  const during = (op: PairedOp): boolean =>
    op.outcome === 'ok'
      ? overlaps(op, target)
      : op.invoke.time <= returnTime(target) && (op.invoke.time >= target.invoke.time || states.includes(storedValue(op) as string | null));
  others
    .filter(during)
    .slice(0, concurrentOpsMax)
    .forEach((op) => context.add(op));
  return [...context].sort((a, b) => a.invoke.time - b.invoke.time);
}

/**
 * The ok reads that returned a value no op that could have taken effect stored (an incr or
 * decr of unknown outcome could have stored any decimal number, and one may store its
 * result space padded, so numbers are never claimed when there are any). Such a
 * read is an anomaly whatever order the search tried, so it is the one to report: the
 * search's deepest block can be another op that only failed because of it (found by the
 * register property test).
 */
function neverWrittenReads(all: readonly ModelOp[]): ModelOp[] {
  const arith = all.filter((op) => op.kind === OpKind.Incr || op.kind === OpKind.Decr);
  const anyNumber = arith.some((op) => op.info);
  const padded = arith.length > 0;
  const stored = new Set<string | null | undefined>(all.map((op) => storedValue(op.source)));
  return all.filter((op) => {
    if (op.kind !== OpKind.Read || op.source.outcome !== 'ok') return false;
    const read = valueOf(op.source.completion);
    return read !== null && !stored.has(read) && !(anyNumber && /^[0-9]+$/.test(read)) && !(padded && /^[0-9]+ +$/.test(read));
  });
}

/** The anomaly of a key whose search ended 'invalid'. */
export function describeBlocked(blocked: Blocked, all: readonly ModelOp[]): Anomaly {
  const unwritten = neverWrittenReads(all);
  if (unwritten.length > 0 && !unwritten.includes(blocked.op)) return describeNeverWritten(unwritten[0]!.source, all);
  const target = blocked.op.source;
  const choices = formatChoices(blocked.states, blocked.statesTruncated);
  const context = contextOps(target, all, blocked.states);
  const concurrentCount = context.filter((op) => op.outcome === 'ok' && overlaps(op, target)).length;
  let kind = `nonlinearizable-${target.invoke.f}`;
  let message: string;
  if (refutedByStates(blocked.op, blocked.states)) {
    message = `${describeOp(target)} but the value could only be ${choices}`;
  } else {
    message = `${describeOp(target)}, but no order of it and the ${concurrentCount} ops concurrent with it is consistent with the ops around it (values possible when it completed: ${choices})`;
  }
  if (unwritten.includes(blocked.op)) {
    kind = 'read-never-written';
    message += ` (no op that could have taken effect wrote ${formatValue(valueOf(target.completion))})`;
  }
  return { kind, message, ops: [target, ...context].flatMap(opEvents) };
}

/** A read of a value nothing wrote, reported on its own. */
function describeNeverWritten(target: PairedOp, all: readonly ModelOp[]): Anomaly {
  const read = formatValue(valueOf(target.completion));
  const message = `${describeOp(target)}, but no op that could have taken effect wrote ${read}`;
  return { kind: 'read-never-written', message, ops: [target, ...contextOps(target, all, [])].flatMap(opEvents) };
}
