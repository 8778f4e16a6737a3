/**
 * The jepsen-lite checkers (pure; no I/O beyond parsing text handed in):
 * - checkRegister: linearizability of each key against a memcached register model
 *   (Wing & Gong / Lowe search with memoisation, per key), see linearizable.ts.
 * - checkCounter: the counter workload's bounds, see counter.ts.
 * - checkExpiry: keys written with an exptime against the stamped expiry's bounds, see expiry.ts.
 * - checkSet: the set workload's lost / unexpected tokens, see set.ts.
 * - checkLock: the lock workload's tokens, fence and overlapping holders, see lock.ts.
 * - checkReplies: no reply was unexpected or malformed, see replies.ts.
 * - readHistory: history.jsonl -> events.
 */
export type { Outcome } from '../history/types.js';
export type { Anomaly } from './anomaly.js';
export { checkRegister, combineOutcomes, registerStepsMaxDefault, registerStepsPerOpDefault, type KeyResult, type RegisterOptions, type RegisterResult } from './register.js';
export { checkCounter, type CounterResult } from './counter.js';
export { checkExpiry, ClockBounds, type ExpiryOptions, type ExpiryResult } from './expiry.js';
export { checkSet, setTokens, type SetOptions, type SetResult } from './set.js';
export { checkLock, type LockCheckOptions, type LockResult } from './lock.js';
export { readHistory, HistoryParseError } from './read-history.js';
export { checkReplies, type RepliesResult } from './replies.js';
