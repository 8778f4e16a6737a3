/**
 * checkRegister: linearizability of every key of a register history, each key checked on
 * its own (P-compositionality: a history is linearizable iff each key's sub-history is).
 */
import type { HistoryEvent, Outcome } from '../history/types.js';
import { describeBlocked, type Anomaly } from './anomaly.js';
import { expiringKeysOf, pairOps } from './history-ops.js';
import { checkKey } from './linearizable.js';

/** Search effort allowed per key before its verdict is 'unknown' (plus registerStepsPerOpDefault per op). */
export const registerStepsMaxDefault = 2_000_000;

/**
 * Extra search effort per op of a key when stepsMax is not given: valid histories cost
 * roughly 20-70 steps per op at 10 clients (npm run bench:checker), so long keys get
 * proportionally more room rather than a spurious 'unknown'.
 */
export const registerStepsPerOpDefault = 200;

/** The verdict for one key. */
export interface KeyResult {
  outcome: Outcome;
  /** Operations (invocations) of the key in the history, whatever their outcome. */
  ops: number;
  /** Search effort spent: model steps plus backtracks. */
  steps: number;
  /** Time the key's check took. */
  ms?: number;
  anomaly?: Anomaly;
  /** Why the outcome is 'unknown' (effort limit or a malformed history). */
  note?: string;
}

/** The verdict of checkRegister: invalid if any key is, else unknown if any key is, else valid. */
export interface RegisterResult {
  outcome: Outcome;
  keys: { [key: string]: KeyResult };
  ms: number;
}

/** Options of checkRegister. */
export interface RegisterOptions {
  /** Search effort allowed per key (default registerStepsMaxDefault + registerStepsPerOpDefault per op). */
  stepsMax?: number;
  /** Size limit of a key's failed-configuration memo in 4-byte words (default 64 Mi words = 256 MiB). */
  memoWordsMax?: number;
}

/** Ops whose keys are not registers: the lock workload's lock keys. */
const notRegisterOps: ReadonlySet<string> = new Set(['acquire', 'renew', 'release']);

/** The worst of a set of outcomes: invalid > unknown > valid. */
export function combineOutcomes(outcomes: Iterable<Outcome>): Outcome {
  let combined: Outcome = 'valid';
  for (const outcome of outcomes) {
    if (outcome === 'invalid') return 'invalid';
    if (outcome === 'unknown') combined = 'unknown';
  }
  return combined;
}

/**
 * Checks that each key's operations are linearizable against a memcached register
 * (value or absent; read, write, cas, add, delete, incr, append, ...). Lock keys
 * (acquire/renew/release ops: their items expire by TTL, which no register op explains;
 * checkLock checks them) and keys written with an exptime (checkExpiry) are skipped.
 */
export function checkRegister(history: readonly HistoryEvent[], opts: RegisterOptions = {}): RegisterResult {
  const started = performance.now();
  const { byKey, malformed } = pairOps(history);
  const keys: { [key: string]: KeyResult } = {};
  const expiring = expiringKeysOf(history);
  for (const [key, paired] of byKey) {
    if (expiring.has(key) || paired.some((op) => notRegisterOps.has(op.invoke.f))) continue;
    const why = malformed.get(key);
    if (why !== undefined) {
      keys[key] = { outcome: 'unknown', ops: paired.length, steps: 0, note: `malformed history: ${why}` };
      continue;
    }
    const keyStarted = performance.now();
    const stepsMax = opts.stepsMax ?? registerStepsMaxDefault + registerStepsPerOpDefault * paired.length;
    const search = checkKey(paired, { stepsMax, memoWordsMax: opts.memoWordsMax });
    const result: KeyResult = { outcome: search.outcome, ops: paired.length, steps: search.steps };
    if (search.stopped === 'steps') result.note = `search stopped after ${stepsMax} steps`;
    if (search.stopped === 'memo') result.note = `search stopped: ${search.configs} failed configurations fill the memo`;
    if (search.blocked !== undefined) result.anomaly = describeBlocked(search.blocked, search.ops);
    result.ms = Math.round((performance.now() - keyStarted) * 10) / 10;
    keys[key] = result;
  }
  for (const [key, why] of malformed) {
    if (!byKey.has(key)) keys[key] = { outcome: 'unknown', ops: 0, steps: 0, note: `malformed history: ${why}` };
  }
  const outcome = combineOutcomes(Object.values(keys).map((k) => k.outcome));
  return { outcome, keys, ms: performance.now() - started };
}
