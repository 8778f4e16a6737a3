/**
 * Helpers for the planner tests: cluster builders, a convergence loop (plan, complete
 * every planned move, plan again) that checks each round's rules, and the rules a
 * converged placement must meet.
 */
import assert from 'node:assert';
import type { NodeId } from '../../src/raft/types.js';
import type { NodeState } from '../../src/membership/meta-state.js';
import { initialPlacement } from '../../src/membership/placement.js';
import { mulberry32 } from '../../src/raft/prng.js';
import {
  applyPlannedMove,
  effectiveLeader,
  hasQuorum,
  isEvacuated,
  nodeRoles,
  placementStats,
  planPlacement,
  roleOf,
  settleMovesInFlight,
  type PlannedMove,
  type PlannerInput,
} from '../../src/membership/planner.js';

/** A cluster of nodes 1..n (all `up`) with the initial placement of `groups` groups. */
export function initialCluster(n: number, groups: number, rf: number, maxMoves = 2): PlannerInput {
  return clusterOf(Array.from({ length: n }, (_, i) => i + 1), groups, rf, maxMoves);
}

/** A cluster of the nodes `ids` (all `up`) with the initial placement of `groups` groups. */
export function clusterOf(ids: NodeId[], groups: number, rf: number, maxMoves: number): PlannerInput {
  return {
    nodes: ids.map((id) => ({ id, state: 'up' as NodeState })),
    groups: initialPlacement(ids, groups, rf).map((g) => ({ id: g.id, replicas: g.replicas })),
    movesInFlight: [],
    replicas: rf,
    maxMoves,
  };
}

/** `initialCluster` after the planner settled it (initialPlacement can be off by 2). */
export function balancedCluster(n: number, groups: number, rf: number, maxMoves = 2): PlannerInput {
  return converge(initialCluster(n, groups, rf, maxMoves), 1000).state;
}

/** `state` with node `id` added (or its state changed) to `nodeState`. */
export function withNode(state: PlannerInput, id: NodeId, nodeState: NodeState): PlannerInput {
  const nodes = state.nodes.filter((n) => n.id !== id).concat({ id, state: nodeState });
  return { ...state, nodes };
}

/** What one planning round produced. */
export interface Round {
  moves: PlannedMove[];
  notes: string[];
}

/** The result of planning until nothing is left to plan. */
export interface Converged {
  state: PlannerInput;
  rounds: Round[];
  /** Every move of every round, in order. */
  moves: PlannedMove[];
  /** The notes of the last (empty) plan. */
  notes: string[];
}

/** Plans, completes every planned move (and those in flight), and repeats until a plan is empty. */
export function converge(start: PlannerInput, roundsMax: number): Converged {
  return convergeBy(start, roundsMax, (state, moves) => {
    let next = settleMovesInFlight(state);
    for (const move of moves) next = applyPlannedMove(next, move);
    return next;
  });
}

/**
 * Like `converge`, but as a cluster runs moves: planned replica changes go in flight and
 * each move in flight completes with probability 1/2 per round (seeded), so the planner
 * keeps seeing moves in flight. Leader transfers complete at once.
 */
export function convergeWithMovesInFlight(start: PlannerInput, roundsMax: number, seed: number): Converged {
  const random = mulberry32(seed);
  return convergeBy(start, roundsMax, (state, moves) => {
    const pending = [];
    let next = state;
    for (const move of state.movesInFlight) {
      if (random() < 0.5) next = { ...settleMovesInFlight({ ...next, movesInFlight: [move] }), movesInFlight: state.movesInFlight };
      else pending.push(move);
    }
    next = { ...next, movesInFlight: pending };
    for (const move of moves) {
      if (move.kind === 'transfer-leader') next = applyPlannedMove(next, move);
      else next.movesInFlight.push({ group: move.group, from: move.kind === 'add-replica' ? undefined : move.from, to: move.kind === 'remove-replica' ? undefined : move.to });
    }
    return next;
  });
}

/** The loop of both: plan, check the round, stop at an empty plan with nothing in flight, else `advance`. */
function convergeBy(start: PlannerInput, roundsMax: number, advance: (state: PlannerInput, moves: PlannedMove[]) => PlannerInput): Converged {
  let state = start;
  const rounds: Round[] = [];
  for (;;) {
    const plan = planPlacement(state);
    checkRound(state, plan.moves);
    if (plan.moves.length === 0 && state.movesInFlight.length === 0) {
      return { state, rounds, moves: rounds.flatMap((r) => r.moves), notes: plan.notes };
    }
    rounds.push(plan);
    assert(rounds.length <= roundsMax, `no convergence within ${roundsMax} rounds`);
    state = advance(state, plan.moves);
  }
}

/** The rules of one round: budget, one move per group, quorum kept, targets up. */
export function checkRound(state: PlannerInput, moves: PlannedMove[]): void {
  const replicaMoves = moves.filter((m) => m.kind !== 'transfer-leader');
  const budget = Math.max(0, state.maxMoves - state.movesInFlight.length);
  assert(replicaMoves.length <= budget, `${replicaMoves.length} replica moves with budget ${budget}`);
  const groups = moves.map((m) => m.group);
  assert.equal(new Set(groups).size, groups.length, 'two moves for one group');
  for (const m of state.movesInFlight) assert(!groups.includes(m.group), `move planned for group ${m.group} in flight`);
  if (moves.some((m) => m.kind === 'transfer-leader')) {
    assert.equal(replicaMoves.length, 0, 'leader transfers with replica moves pending');
    assert.equal(state.movesInFlight.length, 0, 'leader transfers with moves in flight');
  }
  const roles = nodeRoles(state);
  let settled = settleMovesInFlight(state);
  for (const move of moves) {
    const before = settled.groups.find((g) => g.id === move.group)!;
    assert(hasQuorum(roles, before.replicas), `move for group ${move.group} without quorum`);
    if (move.kind !== 'remove-replica') assert.equal(roleOf(roles, move.to), 'up', `target ${move.to} not up`);
    settled = applyPlannedMove(settled, move);
    const after = settled.groups.find((g) => g.id === move.group)!;
    assert(hasQuorum(roles, after.replicas), `move ${JSON.stringify(move)} loses quorum`);
    if (move.kind === 'move') assert(hasQuorum(roles, [...before.replicas, move.to]), 'joint step loses quorum');
  }
}

/**
 * Groups the planner may leave as they are: no quorum; or a draining replica that can be
 * neither replaced (no spare up node) nor removed without losing quorum (no gone replica,
 * no surplus dead one to remove first).
 */
export function blockedGroups(state: PlannerInput): Set<number> {
  const roles = nodeRoles(state);
  const up = state.nodes.filter((n) => roleOf(roles, n.id) === 'up').map((n) => n.id);
  const blocked = new Set<number>();
  for (const g of state.groups) {
    const role = (id: NodeId): string => roleOf(roles, id);
    const evacuated = g.replicas.filter((id) => isEvacuated(roleOf(roles, id)));
    const kept = g.replicas.length - evacuated.length;
    const spare = up.some((id) => !g.replicas.includes(id));
    const surplusDead = kept > state.replicas && g.replicas.some((id) => role(id) === 'waiting');
    const draining = g.replicas.filter((id) => role(id) === 'draining');
    const stuckDrain = draining.length > 0 && !spare && !surplusDead && !g.replicas.some((id) => role(id) === 'gone')
      && !hasQuorum(roles, g.replicas.filter((id) => id !== draining[0]));
    if (!hasQuorum(roles, g.replicas) || stuckDrain) blocked.add(g.id);
  }
  return blocked;
}

/** The rules of a converged placement; answers true when the balance rules applied too. */
export function checkFinal(state: PlannerInput, notes: string[]): boolean {
  const roles = nodeRoles(state);
  const up = state.nodes.filter((n) => roleOf(roles, n.id) === 'up').map((n) => n.id);
  const blocked = blockedGroups(state);
  for (const id of blocked) assert(notes.some((n) => n.startsWith(`group ${id}`)), `blocked group ${id} not noted`);
  for (const g of state.groups) {
    assert.equal(new Set(g.replicas).size, g.replicas.length, `group ${g.id} has duplicates`);
    if (blocked.has(g.id)) continue;
    assert(g.replicas.every((id) => !isEvacuated(roleOf(roles, id))), `group ${g.id} keeps a replica to evacuate`);
    const kept = g.replicas.length;
    const onAllUp = up.every((id) => g.replicas.includes(id));
    assert(kept === state.replicas || (kept < state.replicas && onAllUp), `group ${g.id}: ${kept} replicas, RF ${state.replicas}`);
  }
  // Balancing waits while a joining node holds replicas (the cluster is still starting).
  const starting = state.groups.some((g) => g.replicas.some((id) => roleOf(roles, id) === 'joining'));
  if (blocked.size > 0 || up.length === 0 || starting) return false;
  const stats = placementStats(state);
  assert(stats.replicasMax - stats.replicasMin <= 1, `replicas spread ${stats.replicasMin}..${stats.replicasMax}`);
  assert(stats.replicasMax <= stats.replicasCeil, `a node holds ${stats.replicasMax} > ${stats.replicasCeil}`);
  for (const g of state.groups) assert.equal(roleOf(roles, effectiveLeader(roles, g)!), 'up', `group ${g.id} led off an up node`);
  const fair = state.groups.length / up.length;
  assert(stats.leadersMin >= Math.floor(fair) && stats.leadersMax <= Math.ceil(fair), `leaders spread ${stats.leadersMin}..${stats.leadersMax}`);
  return true;
}

/** Replica changes (not leader transfers) of a list of moves. */
export function replicaMoves(moves: PlannedMove[]): PlannedMove[] {
  return moves.filter((m) => m.kind !== 'transfer-leader');
}
