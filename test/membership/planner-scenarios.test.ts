/**
 * Named planner scenarios (DESIGN.md §6): growing 3 -> 4 and 3 -> 5 nodes, shrinking
 * 5 -> 3 by drain, a dead node of 4 replaced, RF above the up nodes, a starting cluster,
 * moves in flight and the budget. Each runs the planner to convergence and checks the
 * final rules (planner-harness.ts), then the scenario's own figures.
 */
import { describe, expect, it } from 'vitest';
import { MetaStateMachine } from '../../src/membership/meta-state.js';
import { initialPlacement } from '../../src/membership/placement.js';
import {
  maxMovesDefault,
  placementStats,
  planMoves,
  planPlacement,
  plannerInputFromMeta,
  type PlannedMove,
  type PlannerInput,
} from '../../src/membership/planner.js';
import { balancedCluster, checkFinal, initialCluster, converge, replicaMoves, withNode } from './planner-harness.js';

const groups = 16;
const rf = 3;

function grow(from: number, to: number): PlannerInput {
  let state = balancedCluster(from, groups, rf);
  for (let id = from + 1; id <= to; id++) state = withNode(state, id, 'up');
  return state;
}

function drain(from: number, to: number): PlannerInput {
  let state = balancedCluster(from, groups, rf);
  for (let id = to + 1; id <= from; id++) state = withNode(state, id, 'draining');
  return state;
}

function summary(moves: PlannedMove[]): string {
  const replica = replicaMoves(moves).length;
  return `${replica} replica moves, ${moves.length - replica} leader transfers`;
}

describe('planner scenarios (16 groups, RF 3)', () => {
  it('plans nothing on a balanced cluster; fixes the initial placement where it is off by 2', () => {
    const fixes: string[] = [];
    for (let n = 1; n <= 9; n++) {
      const initial = initialCluster(n, groups, rf);
      const stats = placementStats(initial);
      const moves = planMoves(initial);
      if (stats.replicasMax - stats.replicasMin <= 1) expect(replicaMoves(moves)).toEqual([]);
      else fixes.push(`n=${n}: ${stats.replicasMin}..${stats.replicasMax}`);
      expect(planMoves(balancedCluster(n, groups, rf))).toEqual([]);
    }
    console.log(`initialPlacement spread > 1 (16 groups, RF 3): ${fixes.join(', ') || 'none'}`);
  });

  it('3 -> 4 nodes: 12 moves (the ideal 48/4), all onto node 4', () => {
    const done = converge(grow(3, 4), 100);
    checkFinal(done.state, done.notes);
    const moves = replicaMoves(done.moves);
    console.log(`3 -> 4: ${summary(done.moves)} (ideal 12), ${done.rounds.length} rounds`);
    expect(moves).toHaveLength(12);
    expect(moves.every((m) => m.kind === 'move' && m.to === 4 && m.reason === 'rebalance')).toBe(true);
  });

  it('3 -> 5 nodes: 18 moves (ideal 48*2/5 = 19.2, the old nodes keep the ceil), all onto nodes 4 and 5', () => {
    const done = converge(grow(3, 5), 100);
    checkFinal(done.state, done.notes);
    const moves = replicaMoves(done.moves);
    console.log(`3 -> 5: ${summary(done.moves)} (ideal 19.2), ${done.rounds.length} rounds`);
    expect(moves).toHaveLength(18);
    expect(moves.every((m) => m.kind === 'move' && (m.to === 4 || m.to === 5))).toBe(true);
  });

  it('5 -> 3 by drain: exactly the drained nodes\' 18 replicas move', () => {
    const start = drain(5, 3);
    const drained = placementStats(start).nodes.filter((n) => n.id > 3).reduce((sum, n) => sum + n.replicas, 0);
    const done = converge(start, 100);
    checkFinal(done.state, done.notes);
    const moves = replicaMoves(done.moves);
    console.log(`5 -> 3: ${summary(done.moves)} (ideal ${drained}), ${done.rounds.length} rounds`);
    expect(moves).toHaveLength(drained);
    expect(moves.every((m) => m.kind === 'move' && m.from > 3 && m.to <= 3 && m.reason === 'draining-node')).toBe(true);
    expect(placementStats(done.state).nodes.filter((n) => n.id > 3).every((n) => n.replicas === 0)).toBe(true);
  });

  it('a dead node of 4 is replaced only once it is past --dead-after', () => {
    const dead = withNode(balancedCluster(4, groups, rf), 4, 'dead');
    expect(replicaMoves(planMoves(dead))).toEqual([]);
    const start = { ...dead, deadNodes: [4] };
    const first = planMoves(start);
    expect(first).toHaveLength(maxMovesDefault);
    expect(first.every((m) => m.kind === 'move' && m.from === 4 && m.reason === 'dead-node')).toBe(true);
    const done = converge(start, 100);
    checkFinal(done.state, done.notes);
    expect(replicaMoves(done.moves)).toHaveLength(12);
    expect(placementStats(done.state).nodes.map((n) => n.replicas)).toEqual([16, 16, 16, 0]);
  });

  it('RF above the up nodes: as many replicas as up nodes, and the plan says so', () => {
    const start = drain(3, 2);
    const plan = planPlacement(start);
    expect(plan.notes.some((n) => n.includes('RF 3 > 2 up nodes'))).toBe(true);
    expect(plan.moves.every((m) => m.kind === 'remove-replica' && m.from === 3 && m.detail.includes('no spare up node'))).toBe(true);
    const done = converge(start, 100);
    checkFinal(done.state, done.notes);
    expect(done.state.groups.every((g) => g.replicas.length === 2 && !g.replicas.includes(3))).toBe(true);
  });

  it('a dead node that comes back up gets its share again, without over-replication', () => {
    const gone = converge({ ...withNode(balancedCluster(4, groups, rf), 4, 'dead'), deadNodes: [4] }, 100).state;
    const back = withNode({ ...gone, deadNodes: [] }, 4, 'up');
    const done = converge(back, 100);
    checkFinal(done.state, done.notes);
    expect(replicaMoves(done.moves)).toHaveLength(12);
    expect(replicaMoves(done.moves).every((m) => m.kind === 'move' && m.to === 4)).toBe(true);
  });

  it('a starting cluster (nodes still joining) is left alone until they are up', () => {
    const start = initialCluster(6, groups, rf); // initialPlacement is off by 2 on 6 nodes
    const joining = { ...start, nodes: start.nodes.map((n) => ({ ...n, state: n.id <= 2 ? 'up' as const : 'joining' as const })) };
    const plan = planPlacement(joining);
    expect(plan.moves).toEqual([]);
    expect(plan.notes).toContain('node 3, 4, 5, 6 joining with replicas: balancing waits until up');
    expect(replicaMoves(planMoves(start))).toHaveLength(2);
  });

  it('a joining node without replicas gets none until it is up', () => {
    expect(planMoves(withNode(balancedCluster(3, groups, rf), 4, 'joining'))).toEqual([]);
  });

  it('limits leader transfers per plan to maxLeaderTransfers', () => {
    const start = balancedCluster(4, groups, rf);
    const allOnOne = { ...start, maxLeaderTransfers: 1, groups: start.groups.map((g) => ({ ...g, leader: g.replicas.includes(1) ? 1 : g.replicas[0] })) };
    const done = converge(allOnOne, 50);
    checkFinal(done.state, done.notes);
    expect(done.rounds.every((r) => r.moves.length === 1)).toBe(true);
    expect(planMoves({ ...allOnOne, maxLeaderTransfers: 0 })).toEqual([]);
  });

  it('moves the leadership of a draining node that cannot be emptied to an up replica', () => {
    // RF 3 on 3 nodes, node 3 draining, and its removal would lose quorum: node 2 is dead.
    const start = withNode(withNode(balancedCluster(3, groups, rf), 3, 'draining'), 2, 'dead');
    const led = { ...start, groups: start.groups.map((g) => ({ ...g, leader: 3 })) };
    const plan = planPlacement(led);
    expect(plan.notes.filter((n) => n.includes('removing its draining replica would lose quorum'))).toHaveLength(groups);
    expect(plan.moves).toHaveLength(groups);
    expect(plan.moves.every((m) => m.kind === 'transfer-leader' && m.to === 1 && m.reason === 'leader-not-up')).toBe(true);
  });

  it('counts moves in flight against maxMoves and never touches their groups', () => {
    const start = { ...grow(3, 4), movesInFlight: [{ group: 1, from: 1, to: 4 }] };
    const moves = planMoves(start);
    expect(moves).toHaveLength(1);
    expect(moves[0]!.group).not.toBe(1);
    expect(planMoves({ ...start, maxMoves: 1 })).toEqual([]);
  });

  it('spreads leaders over the up nodes by transfers to replicas', () => {
    const start = balancedCluster(4, groups, rf);
    const allOnOne = { ...start, groups: start.groups.map((g) => ({ ...g, leader: g.replicas.includes(1) ? 1 : g.replicas[0] })) };
    const moves = planMoves(allOnOne);
    expect(moves.length).toBeGreaterThan(0);
    expect(moves.every((m) => m.kind === 'transfer-leader')).toBe(true);
    const done = converge(allOnOne, 20);
    checkFinal(done.state, done.notes);
    expect(placementStats(done.state).nodes.map((n) => n.leaders)).toEqual([4, 4, 4, 4]);
  });

  it('builds its input from the meta view, leaders and dead nodes', () => {
    const meta = new MetaStateMachine();
    const ids = [1, 2, 3, 4];
    const config = { replicas: rf, groups, memoryBytesPerGroup: 1 << 20 };
    meta.apply({ type: 'bootstrap', config, nodes: ids.map((id) => ({ id, peer: `p${id}` })), groups: initialPlacement(ids, groups, rf) }, 1);
    ids.forEach((id, i) => meta.apply({ type: 'register', id, peer: `p${id}`, client: `c${id}`, admin: `a${id}` }, 2 + i));
    meta.apply({ type: 'node-state', id: 4, state: 'dead' }, 10);
    const leaders = new Map(meta.view.groups.map((g) => [g.id, g.replicas.at(-1)!]));
    const input = plannerInputFromMeta(meta.view, { leaders, deadNodes: [4] });
    expect(input.maxMoves).toBe(maxMovesDefault);
    expect(input.groups[0]!.leader).toBe(meta.view.groups[0]!.replicas.at(-1));
    const moves = planMoves(input);
    expect(moves).toHaveLength(maxMovesDefault);
    expect(moves.every((m) => m.kind === 'move' && m.from === 4)).toBe(true);
    // Moves in flight as the meta log records them (NONE = 0 for a removal's target).
    const [first, second] = moves as Array<Extract<PlannedMove, { kind: 'move' }>>;
    expect(meta.apply({ type: 'move-start', group: first!.group, from: first!.from, to: first!.to }, 11)).toEqual({ ok: true });
    expect(meta.apply({ type: 'move-start', group: second!.group, from: second!.from, to: 0 }, 12)).toEqual({ ok: true });
    const inFlight = plannerInputFromMeta(meta.view, { deadNodes: [4], maxMoves: 3 });
    expect(inFlight.movesInFlight).toEqual([
      { group: first!.group, from: 4, to: first!.to },
      { group: second!.group, from: 4, to: undefined },
    ]);
    const next = planMoves(inFlight);
    expect(next).toHaveLength(1);
    expect(next[0]!.kind === 'move' && next[0]!.from === 4 && next[0]!.group !== first!.group).toBe(true);
  });
});
