/**
 * checkExpiry: the register workload's expiring keys (written once with an exptime, then
 * read across their expiry; workloads.ts ExpiringKeys), held to the time bounds of the
 * leader-stamped expiry.
 *
 * The cluster stamps each entry with the leader's clock, never behind the group's previous
 * stamp (DESIGN.md section 3), so a write stored at stamp S with exptime T expires at
 * E = S + T; a read served at `at` = max(serving node's clock, group's last stamp) hits
 * while E > at. The harness does not see S or `at`, but it can bound them on its own clock
 * (nodes and harness share one machine; clock faults shift a node by the offsets that
 * nemesis.jsonl records):
 *   - S >= the write's invoke + the most negative clock offset then;
 *   - S <= what any node's clock can have read by the write's completion, or by the
 *     completion of any read that saw the value (it was applied, so stamped, by then);
 *     stamps never go back, so a forward clock jump keeps counting after it healed;
 *   - `at` lies in [read invoke + most negative offset, upper clock at read completion].
 * Two rules follow, each with `slackMs` to spare:
 *   - lost early: an acknowledged value read as absent (by a read invoked after the write
 *     completed) while `at` < E for certain;
 *   - served late: the value read while `at` >= E for certain.
 * And the plain ones: a read returns nothing but the value or absent, never the value of a
 * failed write, never the value before the write was invoked.
 */
import type { HistoryEvent, NemesisEvent, Outcome } from '../history/types.js';
import { formatValue, type Anomaly } from './anomaly.js';
import { expiringKeysOf, opEvents, pairOps, type PairedOp } from './history-ops.js';
import { combineOutcomes } from './register.js';

/** Options of checkExpiry. */
export interface ExpiryOptions {
  /** Spare time on every bound (ms): clock reading granularity, harness and nodes reading the wall clock apart. */
  slackMs?: number;
  /** A clock fault counts as in effect this long before its start and after its stop event (ms): the events are logged after the HTTP calls. */
  clockMarginMs?: number;
}

/** The verdict for one expiring key. */
export interface ExpiryKeyResult {
  outcome: Outcome;
  ops: number;
  anomaly?: Anomaly;
  note?: string;
}

/** The verdict of checkExpiry, with how many reads each time bound held to. */
export interface ExpiryResult {
  outcome: Outcome;
  /** Keys written with an exptime. */
  expiringKeys: number;
  /** Reads that returned the value / absent. */
  hits: number;
  misses: number;
  /** Reads that had to find the value (its expiry was surely later) / surely after it. */
  heldToLive: number;
  heldToExpired: number;
  keys: { [key: string]: ExpiryKeyResult };
  ms: number;
}

const defaultSlackMs = 500;
const defaultClockMarginMs = 2000;

/** Checks every key written with an exptime; 'valid' with no such key. */
export function checkExpiry(history: readonly HistoryEvent[], nemesis: readonly NemesisEvent[], opts: ExpiryOptions = {}): ExpiryResult {
  const started = performance.now();
  const clocks = new ClockBounds(nemesis, opts.clockMarginMs ?? defaultClockMarginMs);
  const slackMs = opts.slackMs ?? defaultSlackMs;
  const expiring = expiringKeysOf(history);
  const { byKey, malformed } = pairOps(history.filter((e) => expiring.has(e.key)));
  const result: ExpiryResult = { outcome: 'valid', expiringKeys: expiring.size, hits: 0, misses: 0, heldToLive: 0, heldToExpired: 0, keys: {}, ms: 0 };
  for (const [key, ops] of byKey) {
    const why = malformed.get(key);
    result.keys[key] = why !== undefined ? { outcome: 'unknown', ops: ops.length, note: `malformed history: ${why}` } : checkKey(ops, clocks, slackMs, result);
  }
  result.outcome = combineOutcomes(Object.values(result.keys).map((k) => k.outcome));
  result.ms = Math.round(performance.now() - started);
  return result;
}

const ms = (ns: number): number => ns / 1e6;

function checkKey(ops: PairedOp[], clocks: ClockBounds, slackMs: number, totals: ExpiryResult): ExpiryKeyResult {
  const writes = ops.filter((op) => op.invoke.f === 'write');
  const others = ops.filter((op) => op.invoke.f !== 'write' && op.invoke.f !== 'read');
  if (writes.length !== 1 || others.length > 0) {
    return { outcome: 'unknown', ops: ops.length, note: `an expiring key takes one write and reads; it had ${writes.length} writes and ${others.length} other ops` };
  }
  const w = writes[0]!;
  const value = w.invoke.value as string;
  const ttlMs = (w.invoke.ttlSec ?? 0) * 1000;
  const reads = ops.filter((op) => op.invoke.f === 'read' && op.outcome === 'ok');
  const bad = (kind: string, message: string, read: PairedOp): ExpiryKeyResult => ({
    outcome: 'invalid',
    ops: ops.length,
    anomaly: { kind, message, ops: [...opEvents(read), ...opEvents(w)] },
  });
  const invoked = ms(w.invoke.time);
  const completed = w.completion === null ? Infinity : ms(w.completion.time);
  const hits = reads.filter((r) => r.completion!.value === value);
  totals.hits += hits.length;
  totals.misses += reads.filter((r) => r.completion!.value === null).length;
  // The stamp: no earlier than the write's invoke on the slowest clock, no later than what
  // any clock read by the time the write (or a read of its value) completed.
  const stampMin = invoked + clocks.minOffset(invoked, completed);
  let stampMax = w.outcome === 'ok' ? clocks.upper(completed) : Infinity;
  for (const r of hits) stampMax = Math.min(stampMax, clocks.upper(ms(r.completion!.time)));
  for (const r of reads) {
    const got = r.completion!.value as string | null;
    const rInvoked = ms(r.invoke.time);
    const rCompleted = ms(r.completion!.time);
    if (got !== null && got !== value) return bad('unexpected-value', `read of ${formatValue(r.invoke.key)} returned ${formatValue(got)}; the only value written was ${formatValue(value)}`, r);
    if (got !== null && w.outcome === 'fail') return bad('failed-write-read', `read returned ${formatValue(got)}, the value of a write that failed`, r);
    if (got !== null && rCompleted < invoked) return bad('read-before-write', `read returned ${formatValue(got)} before its write was invoked`, r);
    // Surely live: the write was acknowledged before the read began, and
    // `at` <= upper(read completion) < stampMin + ttl <= E.
    const liveUntil = stampMin + ttlMs;
    if (w.outcome === 'ok' && rInvoked >= completed && clocks.upper(rCompleted) + slackMs < liveUntil) {
      totals.heldToLive++;
      if (got === null) return bad('lost-before-expiry', `read found the key absent ${Math.round(liveUntil - rCompleted)} ms before its value could expire (exptime ${ttlMs / 1000} s, the write acknowledged)`, r);
    }
    // Surely expired: `at` >= read invoke + min offset >= stampMax + ttl >= E.
    const goneFrom = stampMax + ttlMs;
    const atMin = rInvoked + clocks.minOffset(rInvoked, rCompleted);
    if (stampMax !== Infinity && atMin >= goneFrom + slackMs) {
      totals.heldToExpired++;
      if (got !== null) return bad('served-after-expiry', `read returned ${formatValue(got)} ${Math.round(atMin - goneFrom)} ms after it had surely expired (exptime ${ttlMs / 1000} s)`, r);
    }
  }
  return { outcome: 'valid', ops: ops.length };
}

/**
 * Bounds on the nodes' clocks (and the groups' stamps) in the harness's time, from the
 * clock faults of nemesis.jsonl. Without a clock fault every node reads the harness's
 * wall clock (same machine).
 */
export class ClockBounds {
  private readonly faults: Array<{ fromMs: number; toMs: number; minMs: number; maxMs: number }> = [];

  constructor(nemesis: readonly NemesisEvent[], marginMs: number) {
    let open: { fromMs: number; minMs: number; maxMs: number } | null = null;
    for (const e of nemesis) {
      const at = ms(e.time);
      if (e.fault === 'clock' && e.phase === 'start') {
        const offsets = (e.offsetsMs ?? []).map(([, o]) => o);
        // A clock fault logged without its offsets (an old nemesis.jsonl): a minute either way bounds every one the schedule makes.
        const [minMs, maxMs] = e.offsetsMs === undefined ? [-60_000, 60_000] : [Math.min(0, ...offsets), Math.max(0, ...offsets)];
        open = { fromMs: at - marginMs, minMs, maxMs };
      } else if (open !== null && ((e.fault === 'clock' && e.phase === 'stop') || e.fault === 'heal')) {
        this.faults.push({ ...open, toMs: at + marginMs });
        open = null;
      }
    }
    if (open !== null) this.faults.push({ ...open, toMs: Infinity });
  }

  /** The most negative clock offset (<= 0) any node may have had during [fromMs, toMs]. */
  minOffset(fromMs: number, toMs: number): number {
    let min = 0;
    for (const f of this.faults) if (f.fromMs <= toMs && fromMs <= f.toMs) min = Math.min(min, f.minMs);
    return min;
  }

  /**
   * The latest time any node's clock, or any stamp (stamps never go back), can have read
   * by harness time `atMs`: a forward jump keeps counting after its fault healed.
   */
  upper(atMs: number): number {
    let upper = atMs;
    for (const f of this.faults) if (f.fromMs <= atMs) upper = Math.max(upper, Math.min(f.toMs, atMs) + f.maxMs);
    return upper;
  }
}
