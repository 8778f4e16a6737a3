/**
 * Why ops failed, by category (results.json `failReasons`, the report's summary): a cas
 * whose token was stale (EXISTS) or an add/append/incr that found the key in the wrong state
 * is the workload's normal life, not an error; a missing leader, a timeout or a server error
 * is the cluster's.
 */
import { subProcessBase, type HistoryEvent } from './types.js';

/** Failed-op counts by reason. */
export interface FailReasons {
  /** cas EXISTS: the token was stale (another write came first). Normal. */
  casMismatch: number;
  /** NOT_FOUND / NOT_STORED / meta NS, EX, NF: the key was not in the state the op needs. Normal. */
  keyState: number;
  /** ERR_NO_LEADER / ERR_NOT_BOOTSTRAPPED: the group had no leader to run it. */
  noLeader: number;
  /** No reply in time, or the connection broke (reads only: a write without a reply is info). */
  noReply: number;
  /** Any other SERVER_ERROR / CLIENT_ERROR / ERROR. */
  error: number;
}

/** The reason category of one failed op's error text. */
export function failReasonOf(error: string | undefined): keyof FailReasons {
  const e = error ?? '';
  if (e === 'EXISTS' || e === 'EX') return 'casMismatch';
  if (e === 'NOT_FOUND' || e === 'NOT_STORED' || e === 'NS' || e === 'NF') return 'keyState';
  if (/ERR_NO_LEADER|ERR_NOT_BOOTSTRAPPED/.test(e)) return 'noLeader';
  if (/^E_(TIMEOUT|CONNECTION|CLOSED)/.test(e)) return 'noReply';
  return 'error';
}

/** Counts the failed completions of processes below `processBelow` (and of sub-processes) by reason. */
export function countFailReasons(history: readonly HistoryEvent[], processBelow: number): FailReasons {
  const counts: FailReasons = { casMismatch: 0, keyState: 0, noLeader: 0, noReply: 0, error: 0 };
  for (const e of history) if (e.type === 'fail' && (e.process < processBelow || e.process >= subProcessBase)) counts[failReasonOf(e.error)]++;
  return counts;
}
