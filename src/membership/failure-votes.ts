/**
 * Failure detection by more than one observer (issue 10): a node is dead only when a
 * majority of the meta group's voters have not heard from it for --dead-after. Each node
 * reports to the meta leader, about once a second, how long it has not heard from each
 * member (src/cluster/liveness-reports.ts); the meta leader counts itself with its own
 * clock. Pure: the caller hands in the time, its own view and the reports it holds.
 *
 * Rules, for a target node T and the voters V of the meta group:
 * - a voter's vote is "silent" when its view of T, aged by the time since it was reported,
 *   is at least --dead-after; T never counts as silent to itself;
 * - a report older than `reportTtlMs` (its sender is cut off from the leader, or slow)
 *   says nothing: an observer that cannot reach the leader cannot vouch either way;
 * - T is dead when more than half of V (T included, when it is a voter) vote silent.
 *
 * Worked example, voters 1 (meta leader), 2, 3; the link 1-3 is cut: 1 has not heard from 3
 * for 40 s, 2 reported 3 heard 0.3 s ago: 1 silent vote of 3, so 3 is not dead. Node 3
 * stopped: 1 and 2 both see it silent past --dead-after: 2 of 3, dead.
 */
import type { NodeId } from '../raft/types.js';

/** One observer's report: how long it had not heard from each node when it sent it. */
export interface SilenceReport {
  /** When the meta leader received it (its monotonic ms). */
  receivedMs: number;
  /** Milliseconds since the observer last heard from each node (nodes it never heard from: since it started). */
  silentMs: ReadonlyMap<NodeId, number>;
}

/** Everything the decision needs. */
export interface SilenceVoteInput {
  nowMs: number;
  deadAfterMs: number;
  reportTtlMs: number;
  /** Voters of the meta group. */
  voters: readonly NodeId[];
  /** The deciding node (the meta leader) and how long it has not heard from each node. */
  self: NodeId;
  selfSilentMs: (target: NodeId) => number;
  /** The latest report of each other node. */
  reports: ReadonlyMap<NodeId, SilenceReport>;
}

/** How long `observer` has seen `target` silent, or null when it has no fresh view. */
export function silenceSeenBy(input: SilenceVoteInput, observer: NodeId, target: NodeId): number | null {
  if (observer === target) return 0;
  if (observer === input.self) return input.selfSilentMs(target);
  const report = input.reports.get(observer);
  if (report === undefined) return null;
  const age = input.nowMs - report.receivedMs;
  if (age > input.reportTtlMs) return null;
  const silent = report.silentMs.get(target);
  return silent === undefined ? null : silent + age;
}

/** True when more than half of the meta voters have seen `target` silent for --dead-after. */
export function silentToMajority(input: SilenceVoteInput, target: NodeId): boolean {
  let silent = 0;
  for (const voter of input.voters) {
    const seen = silenceSeenBy(input, voter, target);
    if (seen !== null && seen >= input.deadAfterMs) silent++;
  }
  return 2 * silent > input.voters.length;
}
