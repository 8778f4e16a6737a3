/**
 * checkSet: the set workload appends unique tokens to a key and finally reads it whole
 * (tokens separated by spaces). Every acknowledged append must be in the final read (else
 * "lost"); no token that was never attempted may appear ("unexpected"); a token whose append
 * failed (definitely not applied) must not appear either, nor may any token appear twice
 * (an append applied twice). Info appends may or may not appear ("recovered" when they do).
 * Earlier reads are checked too: a read must contain every token acknowledged before it
 * started ("stale").
 */
import type { HistoryEvent, Outcome } from '../history/types.js';
import type { Anomaly } from './anomaly.js';
import { opEvents, pairOps, type PairedOp } from './history-ops.js';

/** The verdict of checkSet (over every key with append ops). */
export interface SetResult {
  outcome: Outcome;
  /** Appends acknowledged (ok). */
  acknowledged: number;
  /** Tokens in the final read(s). */
  present: number;
  /** Acknowledged tokens missing from the final read. */
  lost: string[];
  /** Tokens in a read that no append ever attempted. */
  unexpected: string[];
  /** Tokens whose append failed (so did not happen) but that a read returned. */
  failedPresent: string[];
  /** Tokens a read returned more than once. */
  duplicated: string[];
  /** Info appends that turned out applied. */
  recovered: number;
  /** Reads (before the final one) missing a token acknowledged before they started. */
  staleReads: number;
  anomaly?: Anomaly;
  /** Why the outcome is 'unknown'. */
  note?: string;
}

/** The tokens of a read value ("a b c"). */
export function setTokens(value: unknown): string[] {
  if (value === null || value === undefined) return [];
  return String(value).split(/\s+/).filter((token) => token.length > 0);
}

interface KeyAppends {
  /** token -> its append op (the first, if a token was somehow appended twice). */
  byToken: Map<string, PairedOp>;
  reads: PairedOp[];
}

function collect(ops: PairedOp[]): KeyAppends {
  const byToken = new Map<string, PairedOp>();
  for (const op of ops) {
    if (op.invoke.f === 'append' && !byToken.has(String(op.invoke.value))) byToken.set(String(op.invoke.value), op);
  }
  return { byToken, reads: ops.filter((op) => op.invoke.f === 'read' && op.outcome === 'ok') };
}

/** Options of checkSet. */
export interface SetOptions {
  /** Check every read token by token (no quick pass for clean reads): the reference the tests compare against. */
  exhaustive?: boolean;
}

/** Checks the set workload's history; 'unknown' when a set key has no successful read. */
export function checkSet(history: readonly HistoryEvent[], opts: SetOptions = {}): SetResult {
  const { byKey, malformed } = pairOps(history);
  const result: SetResult = {
    outcome: 'valid', acknowledged: 0, present: 0, lost: [], unexpected: [], failedPresent: [], duplicated: [], recovered: 0, staleReads: 0,
  };
  const notes: string[] = [];
  let setKeys = 0;
  for (const [key, ops] of byKey) {
    if (!ops.some((op) => op.invoke.f === 'append')) continue;
    setKeys++;
    if (malformed.has(key)) notes.push(`key ${JSON.stringify(key)}: malformed history: ${malformed.get(key)}`);
    else if (!checkSetKey(key, collect(ops), result, opts.exhaustive === true)) notes.push(`key ${JSON.stringify(key)}: no read succeeded`);
  }
  if (setKeys === 0) notes.push('no append ops in the history');
  if (result.outcome === 'valid' && notes.length > 0) result.outcome = 'unknown';
  if (notes.length > 0) result.note = notes.join('; ');
  return result;
}

/** Checks one set key into `result`; false when it has no successful read. */
function checkSetKey(key: string, appends: KeyAppends, result: SetResult, exhaustive: boolean): boolean {
  const { byToken, reads } = appends;
  const anomaly = (kind: string, message: string, involved: PairedOp[]): void => {
    result.outcome = 'invalid';
    if (result.anomaly === undefined) result.anomaly = { kind, message, ops: involved.flatMap(opEvents) };
  };
  for (const op of byToken.values()) if (op.outcome === 'ok') result.acknowledged++;
  if (reads.length === 0) return false;
  const final = reads.reduce((last, op) => (op.invoke.time > last.invoke.time ? op : last));
  const clean = exhaustive ? () => false : cleanReads(appends);
  for (const read of reads) if (read === final || !clean(read)) checkReadTokens(key, read, read === final, appends, result, anomaly);
  return true;
}

/**
 * A quick test of the reads checkReadTokens would find nothing wrong with, so that a run's
 * few thousand reads of a value of tens of thousands of tokens are not each split and
 * compared token by token (that took 20-35 s per 60 s run). Appends to one key apply in
 * one order, so in a correct run every read is a prefix of the longest: a read whose value
 * is a prefix of it (at a token boundary, k tokens) is clean when those k tokens are each
 * appended once, by an append not failed and invoked before the read ended, and every
 * append acknowledged before the read began is among them. Any other read (and the final
 * one) takes the full check, so the verdict and the figures are the same.
 */
function cleanReads(appends: KeyAppends): (read: PairedOp) => boolean {
  const longest = appends.reads.reduce<string>((best, op) => {
    const v = op.completion!.value;
    return typeof v === 'string' && v.length > best.length ? v : best;
  }, '');
  // The canonical order, each token's end offset in `longest`, and its position.
  const ends: number[] = [];
  const position = new Map<string, number>();
  // latestInvoke[i]: the latest invoke of the appends of tokens 0..i (Infinity when one is
  // unknown, failed or repeated: no read that holds it is clean).
  const latestInvoke: number[] = [];
  for (const match of longest.matchAll(/\S+/g)) {
    const token = match[0];
    const op = appends.byToken.get(token);
    const ok = op !== undefined && op.outcome !== 'fail' && !position.has(token);
    const before = latestInvoke.length > 0 ? latestInvoke[latestInvoke.length - 1]! : -Infinity;
    latestInvoke.push(ok ? Math.max(before, op.invoke.time) : Infinity);
    if (!position.has(token)) position.set(token, ends.length);
    ends.push(match.index + token.length);
  }
  // Acknowledged appends by completion time, with the highest position among them so far
  // (Infinity for a token not in `longest`).
  const acked = [...appends.byToken.values()].filter((op) => op.outcome === 'ok').sort((a, b) => a.completion!.time - b.completion!.time);
  const ackedTimes = acked.map((op) => op.completion!.time);
  const highest: number[] = [];
  for (const op of acked) highest.push(Math.max(highest[highest.length - 1] ?? -1, position.get(String(op.invoke.value)) ?? Infinity));
  return (read) => {
    const v = read.completion!.value;
    if (typeof v !== 'string' || !longest.startsWith(v) || (v.length < longest.length && !/\s/.test(longest[v.length]!))) return false;
    if (v.length > 0 && /\s/.test(v[v.length - 1]!)) return false;
    const k = countBelow(ends, v.length, true);
    if (k > 0 && latestInvoke[k - 1]! > read.completion!.time) return false;
    const before = countBelow(ackedTimes, read.invoke.time);
    return before === 0 || highest[before - 1]! < k;
  };
}

/** How many of the sorted `xs` are below `x` (or equal to it, with `orEqual`): a binary search. */
function countBelow(xs: readonly number[], x: number, orEqual = false): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (xs[mid]! < x || (orEqual && xs[mid] === x)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

type Report = (kind: string, message: string, involved: PairedOp[]) => void;

/** The content checks of one read; the final read also decides lost and recovered tokens. */
function checkReadTokens(key: string, read: PairedOp, isFinal: boolean, appends: KeyAppends, result: SetResult, anomaly: Report): void {
  const tokens = setTokens(read.completion!.value);
  const present = new Set<string>();
  const name = `${isFinal ? 'the final read' : 'a read'} of ${JSON.stringify(key)}`;
  for (const token of tokens) {
    const append = appends.byToken.get(token);
    if (present.has(token)) {
      result.duplicated.push(token);
      anomaly('set-duplicate', `${name} returned ${JSON.stringify(token)} twice: an append was applied twice`, append ? [read, append] : [read]);
    }
    present.add(token);
    if (append === undefined) {
      result.unexpected.push(token);
      anomaly('set-unexpected', `${name} returned ${JSON.stringify(token)}, which no append attempted`, [read]);
    } else if (append.outcome === 'fail' || append.invoke.time > read.completion!.time) {
      result.failedPresent.push(token);
      anomaly('set-unexpected', `${name} returned ${JSON.stringify(token)}, whose append ${append.outcome === 'fail' ? 'failed' : 'started after the read ended'}`, [read, append]);
    } else if (isFinal && append.outcome === 'info') {
      result.recovered++;
    }
  }
  if (isFinal) result.present += present.size;
  const missing = [...appends.byToken].filter(([token, op]) => op.outcome === 'ok' && !present.has(token) && (isFinal || op.completion!.time < read.invoke.time));
  if (missing.length === 0) return;
  if (isFinal) result.lost.push(...missing.map(([token]) => token));
  else result.staleReads++;
  const [token, op] = missing[0]!;
  anomaly(isFinal ? 'set-lost' : 'set-stale-read', `${name} is missing ${missing.length} acknowledged token(s), e.g. ${JSON.stringify(token)}`, [read, op]);
}
