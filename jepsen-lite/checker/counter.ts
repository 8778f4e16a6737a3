/**
 * checkCounter: a counter key driven by incr. Every increment that was acknowledged must
 * be counted and none may be counted twice, so a read must lie between the sum of the ok
 * increments completed before it started and the sum of all (ok and info) increments
 * invoked before it ended; the final read in [okSum, okSum + infoSum] is the same rule at
 * the end of the run. The replies of ok incrs obey the same bounds, never exceed the final
 * value, and no two are equal (deltas are positive, so a monotone counter never repeats).
 */
import type { HistoryEvent, Outcome } from '../history/types.js';
import type { Anomaly } from './anomaly.js';
import { opEvents, pairOps, type PairedOp } from './history-ops.js';

/** The verdict of checkCounter. */
export interface CounterResult {
  outcome: Outcome;
  /** The counter key (the key with the most incr ops), null when the history has none. */
  key: string | null;
  /** The value of the final read (null when absent or never read). */
  final: number | null;
  /** The counter's value before the first incr (an ok write/add before it, else 0). */
  initial: number;
  okSum: number;
  infoSum: number;
  /** Bounds of the final value: initial + okSum and initial + okSum + infoSum. */
  lower: number;
  upper: number;
  /** Reads and incr replies checked against their bounds, and how many violated them. */
  checked: number;
  violations: number;
  anomaly?: Anomaly;
  /** Why the outcome is 'unknown'. */
  note?: string;
}

interface Increment {
  op: PairedOp;
  delta: number;
}

/** Sums of deltas of increments ordered by a time, for "sum of deltas before t" queries. */
class PrefixSums {
  private readonly times: number[];
  private readonly sums: number[];

  constructor(items: { time: number; delta: number }[]) {
    items.sort((a, b) => a.time - b.time);
    this.times = items.map((i) => i.time);
    this.sums = [0];
    for (const item of items) this.sums.push(this.sums[this.sums.length - 1]! + item.delta);
  }

  /** Sum of the deltas whose time is < t (or <= t when inclusive). */
  before(t: number, inclusive: boolean): number {
    let lo = 0;
    let hi = this.times.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const time = this.times[mid]!;
      if (time < t || (inclusive && time === t)) lo = mid + 1;
      else hi = mid;
    }
    return this.sums[lo]!;
  }
}

function numberOf(value: unknown): number | null {
  if (value === null || value === undefined) return null;
  const text = String(value).trim();
  return /^\d+$/.test(text) ? Number(text) : null;
}

function pickCounterKey(byKey: Map<string, PairedOp[]>): string | null {
  let best: string | null = null;
  let bestCount = 0;
  for (const [key, ops] of byKey) {
    const count = ops.filter((op) => op.invoke.f === 'incr').length;
    if (count > bestCount) [best, bestCount] = [key, count];
  }
  return best;
}

/** The counter's initial value, or a reason why the key is not a pure counter. */
function initialValue(ops: PairedOp[], firstIncrTime: number): number | string {
  let initial = 0;
  let initialTime = -Infinity;
  for (const op of ops) {
    const f = op.invoke.f;
    if (f === 'incr' || f === 'read' || op.outcome === 'fail') continue;
    if (op.invoke.time >= firstIncrTime || op.outcome !== 'ok' || (f !== 'write' && f !== 'add')) {
      return `the counter key was also changed by ${f} (${op.outcome}) while it was incremented`;
    }
    const value = numberOf(op.invoke.value);
    if (value === null) return `the counter key was initialised to a non-number ${JSON.stringify(op.invoke.value)}`;
    if (op.completion!.time > initialTime) [initial, initialTime] = [value, op.completion!.time];
  }
  return initial;
}

/** Checks the counter workload's history; 'unknown' when no final read succeeded. */
export function checkCounter(history: readonly HistoryEvent[]): CounterResult {
  const { byKey, malformed } = pairOps(history);
  const key = pickCounterKey(byKey);
  const result: CounterResult = {
    outcome: 'unknown', key, final: null, initial: 0, okSum: 0, infoSum: 0, lower: 0, upper: 0, checked: 0, violations: 0,
  };
  if (key === null) return { ...result, note: 'no incr ops in the history' };
  const ops = byKey.get(key)!;
  if (malformed.has(key)) return { ...result, note: `malformed history: ${malformed.get(key)}` };
  const incrs: Increment[] = ops
    .filter((op) => op.invoke.f === 'incr' && op.outcome !== 'fail')
    .map((op) => ({ op, delta: Number(op.invoke.value) }));
  const initial = initialValue(ops, incrs.reduce((t, i) => Math.min(t, i.op.invoke.time), Infinity));
  if (typeof initial === 'string') return { ...result, note: initial };
  result.initial = initial;
  for (const { op, delta } of incrs) {
    if (op.outcome === 'ok') result.okSum += delta;
    else result.infoSum += delta;
  }
  result.lower = initial + result.okSum;
  result.upper = result.lower + result.infoSum;
  const reads = ops.filter((op) => op.invoke.f === 'read' && op.outcome === 'ok');
  const finalRead = reads.reduce<PairedOp | null>((last, op) => (last === null || op.invoke.time > last.invoke.time ? op : last), null);
  if (finalRead !== null) result.final = numberOf(finalRead.completion!.value);
  findViolations(result, incrs, reads, finalRead);
  if (result.outcome !== 'invalid' && finalRead !== null) result.outcome = 'valid';
  if (finalRead === null && result.outcome !== 'invalid') result.note = 'no read of the counter succeeded';
  return result;
}

/** Checks every read and ok incr reply against its bounds; records the first violation. */
function findViolations(result: CounterResult, incrs: Increment[], reads: PairedOp[], finalRead: PairedOp | null): void {
  const completedOk = new PrefixSums(incrs.filter((i) => i.op.outcome === 'ok').map((i) => ({ time: i.op.completion!.time, delta: i.delta })));
  const invoked = new PrefixSums(incrs.map((i) => ({ time: i.op.invoke.time, delta: i.delta })));
  const violation = (message: string, involved: PairedOp[]): void => {
    result.violations++;
    result.outcome = 'invalid';
    if (result.anomaly === undefined) result.anomaly = { kind: 'counter', message, ops: involved.flatMap(opEvents) };
  };
  const within = (op: PairedOp, value: number | null, ownDelta: number, what: string): void => {
    result.checked++;
    const lower = result.initial + completedOk.before(op.invoke.time, false) + ownDelta;
    const upper = result.initial + invoked.before(op.completion!.time, true);
    if (value === null) violation(`${what} of ${JSON.stringify(result.key)} found no number (${JSON.stringify(op.completion!.value)}) where it should be in [${lower}, ${upper}]`, [op]);
    else if (value < lower) violation(`${what} of ${JSON.stringify(result.key)} returned ${value} but acknowledged increments before it already sum to ${lower}: increments were lost`, [op]);
    else if (value > upper) violation(`${what} of ${JSON.stringify(result.key)} returned ${value} but all increments invoked before it ended sum to ${upper}: an increment was counted twice or invented`, [op]);
  };
  for (const read of reads) within(read, numberOf(read.completion!.value), 0, read === finalRead ? 'the final read' : 'a read');
  const seen = new Map<number, PairedOp>();
  for (const { op, delta } of incrs) {
    if (op.outcome !== 'ok') continue;
    const reply = numberOf(op.completion!.value);
    within(op, reply, delta, `incr by ${delta}`);
    if (reply === null) continue;
    if (result.final !== null && reply > result.final) {
      violation(`incr of ${JSON.stringify(result.key)} returned ${reply}, more than the final value ${result.final}`, [op, finalRead!]);
    }
    const twin = seen.get(reply);
    if (twin !== undefined && delta > 0) violation(`two incrs of ${JSON.stringify(result.key)} both returned ${reply}`, [twin, op]);
    seen.set(reply, op);
  }
}
