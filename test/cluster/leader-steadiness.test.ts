/**
 * No flapping (issue 10, item 3): the hysteresis of leader balancing
 * (src/cluster/leader-steadiness.ts), the planner's hold on unsteady nodes, and the rate
 * limit of `planned move` logs. Pure, on handed-in time.
 */
import { describe, expect, it } from 'vitest';
import { handOffTarget, LeadershipAges, PeerSteadiness } from '../../src/cluster/leader-steadiness.js';
import { LogLimiter } from '../../src/cluster/log-limiter.js';
import { planMoves, type PlannerInput } from '../../src/membership/planner.js';

describe('PeerSteadiness', () => {
  it('a peer is steady after being reachable at every check for steadyMs; any gap restarts the clock', () => {
    const s = new PeerSteadiness({ aliveMs: 2000, steadyMs: 5000 });
    for (let t = 0; t <= 4000; t += 1000) s.observe(3, t - 100, t);
    expect(s.isSteady(3, 4000)).toBe(false);
    s.observe(3, 4900, 5000);
    expect(s.isSteady(3, 5000)).toBe(true);
    s.observe(3, 5000, 8000); // 3 s silent: a gap
    expect(s.isSteady(3, 8000)).toBe(false);
    s.observe(3, 8900, 9000);
    expect(s.isSteady(3, 13_000)).toBe(false);
    s.observe(3, 13_900, 14_000);
    expect(s.isSteady(3, 14_000)).toBe(true);
    expect(s.unsteady([2, 3], 14_000)).toEqual([2]);
  });
});

/**
 * A heal, tick by tick (1 s, as the host's balance interval): group [3, 1, 2], node 3 cut
 * off for 20 s and node 1 leading meanwhile, node 3 back at t = 20 s and caught up 1 s
 * later. Answers when the leader handed off.
 */
function handOffsAfterHeal(healMs: number, horizonMs: number): number[] {
  const steadiness = new PeerSteadiness({ aliveMs: 2000, steadyMs: 5000 });
  const ages = new LeadershipAges();
  let leader = 1;
  let term = 2;
  const handOffs: number[] = [];
  for (let t = 0; t <= horizonMs; t += 1000) {
    const heard = (id: number): number | undefined => (id === 3 && t < healMs ? healMs - 20_000 : t - 50);
    for (const id of [1, 2, 3]) if (id !== leader) steadiness.observe(id, heard(id), t);
    ages.observe(1, term, t);
    const to = handOffTarget({
      me: leader,
      replicas: [3, 1, 2],
      leaving: 0,
      ledMs: ages.ageMs(1, t),
      steadyMs: 5000,
      eligible: (id) => t - (heard(id) ?? -Infinity) < 2000,
      steady: (id) => steadiness.isSteady(id, t),
      caughtUp: (id) => id !== 3 || t >= healMs + 1000,
    });
    if (to !== null) {
      handOffs.push(t);
      leader = to;
      term++;
    }
  }
  return handOffs;
}

describe('handOffTarget', () => {
  it('hands a group back to a returning node once, after it has been reachable and caught up for the hold time', () => {
    const handOffs = handOffsAfterHeal(20_000, 60_000);
    expect(handOffs).toEqual([25_000]);
  });

  it('keeps leadership while the preferred node is not steady, not caught up, or it led only briefly', () => {
    const base = { me: 1, replicas: [3, 1, 2], leaving: 0, steadyMs: 5000, eligible: () => true, steady: () => true, caughtUp: () => true };
    expect(handOffTarget({ ...base, ledMs: 10_000 })).toBe(3);
    expect(handOffTarget({ ...base, ledMs: 1000 })).toBeNull();
    expect(handOffTarget({ ...base, ledMs: 10_000, steady: () => false })).toBeNull();
    expect(handOffTarget({ ...base, ledMs: 10_000, caughtUp: () => false })).toBeNull();
    expect(handOffTarget({ ...base, ledMs: 10_000, leaving: 3 })).toBeNull(); // next preferred is us
    expect(handOffTarget({ ...base, ledMs: 10_000, eligible: (id) => id !== 3 })).toBeNull();
  });
});

describe('planner: leaderHoldNodes', () => {
  const state: PlannerInput = {
    nodes: [1, 2, 3].map((id) => ({ id, state: 'up' as const })),
    groups: [1, 2, 3].map((id) => ({ id, replicas: [1, 2, 3], leader: 1 })),
    movesInFlight: [],
    replicas: 3,
    maxMoves: 2,
  };
  it('balances leaders onto steady nodes only', () => {
    expect(planMoves(state).filter((m) => m.kind === 'transfer-leader').map((m) => m.to).sort()).toEqual([2, 3]);
    const held = planMoves({ ...state, leaderHoldNodes: [3] }).filter((m) => m.kind === 'transfer-leader');
    expect(held.map((m) => m.to)).toEqual([2]);
    expect(planMoves({ ...state, leaderHoldNodes: [2, 3] })).toEqual([]);
  });
});

describe('LogLimiter', () => {
  it('lets a key through once per interval and counts what it held back', () => {
    const limiter = new LogLimiter(30_000);
    expect(limiter.admit('m1', 0)).toBe(0);
    for (let t = 500; t < 30_000; t += 500) expect(limiter.admit('m1', t)).toBeNull();
    expect(limiter.admit('m2', 1000)).toBe(0);
    expect(limiter.admit('m1', 30_000)).toBe(59);
  });
});
