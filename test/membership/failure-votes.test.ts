/**
 * Failure detection by a majority of the meta voters (issue 10, item 4): the pure rule of
 * src/membership/failure-votes.ts, case by case.
 */
import { describe, expect, it } from 'vitest';
import { silentToMajority, type SilenceReport, type SilenceVoteInput } from '../../src/membership/failure-votes.js';
import type { NodeId } from '../../src/raft/types.js';

const deadAfterMs = 3000;

function input(selfSilent: Record<number, number>, reports: Record<number, { ageMs: number; silent: Record<number, number> }>, voters: NodeId[] = [1, 2, 3]): SilenceVoteInput {
  const nowMs = 100_000;
  const map = new Map<NodeId, SilenceReport>();
  for (const [from, r] of Object.entries(reports)) {
    map.set(Number(from), { receivedMs: nowMs - r.ageMs, silentMs: new Map(Object.entries(r.silent).map(([k, v]) => [Number(k), v])) });
  }
  return { nowMs, deadAfterMs, reportTtlMs: 5000, voters, self: 1, selfSilentMs: (id) => selfSilent[id] ?? 0, reports: map };
}

describe('silentToMajority', () => {
  it('one cut link (meta leader 1 to node 3) is not death: node 2 hears 3', () => {
    expect(silentToMajority(input({ 3: 60_000 }, { 2: { ageMs: 200, silent: { 3: 100 } } }), 3)).toBe(false);
  });

  it('a node silent to the meta leader and to another voter is dead', () => {
    expect(silentToMajority(input({ 3: 4000 }, { 2: { ageMs: 200, silent: { 3: 3500 } } }), 3)).toBe(true);
  });

  it('a report counts its age: 2.5 s silent reported 0.6 s ago is past 3 s', () => {
    expect(silentToMajority(input({ 3: 4000 }, { 2: { ageMs: 600, silent: { 3: 2500 } } }), 3)).toBe(true);
    expect(silentToMajority(input({ 3: 4000 }, { 2: { ageMs: 100, silent: { 3: 2500 } } }), 3)).toBe(false);
  });

  it('a stale report says nothing: the leader alone is no majority', () => {
    expect(silentToMajority(input({ 3: 60_000 }, { 2: { ageMs: 9000, silent: { 3: 60_000 } } }), 3)).toBe(false);
  });

  it('the target never counts as silent to itself; 5 voters need 3 silent votes', () => {
    const voters = [1, 2, 3, 4, 5];
    const reports = { 2: { ageMs: 100, silent: { 5: 9000 } }, 3: { ageMs: 100, silent: { 5: 0 } }, 5: { ageMs: 100, silent: { 5: 0 } } };
    expect(silentToMajority(input({ 5: 9000 }, reports, voters), 5)).toBe(false);
    expect(silentToMajority(input({ 5: 9000 }, { ...reports, 4: { ageMs: 100, silent: { 5: 9000 } } }, voters), 5)).toBe(true);
  });

  it('a learner target is judged by the voters alone', () => {
    expect(silentToMajority(input({ 6: 9000 }, { 2: { ageMs: 100, silent: { 6: 9000 } }, 6: { ageMs: 100, silent: {} } }), 6)).toBe(true);
  });
});
