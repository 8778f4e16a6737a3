/**
 * Pure state transitions and figures for the planner's input: the state after a planned
 * move completes, the state once the moves in flight complete, and per-node counts. Used
 * by the planner itself, by its tests, and by simulations of a cluster driving moves.
 */
import assert from 'node:assert';
import type { NodeId } from '../raft/types.js';
import type { NodeState } from './meta-state.js';
import {
  effectiveLeader,
  nodeRoles,
  roleOf,
  type MoveInFlight,
  type NodeRole,
  type PlannedMove,
  type PlannerGroup,
  type PlannerInput,
} from './planner-types.js';

/** The state after `move` has completed (pure; asserts the move fits the state). */
export function applyPlannedMove(state: PlannerInput, move: PlannedMove): PlannerInput {
  const index = state.groups.findIndex((g) => g.id === move.group);
  assert(index >= 0, `planned move for unknown group ${move.group}`);
  const groups = [...state.groups];
  groups[index] = groupAfterMove(groups[index]!, move);
  return { ...state, groups };
}

/** One group after `move` (for that group) has completed. */
export function groupAfterMove(group: PlannerGroup, move: PlannedMove): PlannerGroup {
  const has = (id: NodeId): boolean => group.replicas.includes(id);
  switch (move.kind) {
    case 'add-replica':
      assert(!has(move.to), `group ${group.id} already has a replica on ${move.to}`);
      return { ...group, replicas: [...group.replicas, move.to] };
    case 'move':
      assert(has(move.from) && !has(move.to), `bad move ${move.from}->${move.to} for group ${group.id}`);
      return replaced(group, move.from, move.to);
    case 'remove-replica':
      assert(has(move.from), `group ${group.id} has no replica on ${move.from}`);
      return withoutReplica(group, move.from);
    case 'transfer-leader':
      assert(has(move.to), `leader ${move.to} is not a replica of group ${group.id}`);
      return { ...group, replicas: [move.to, ...group.replicas.filter((id) => id !== move.to)], leader: move.to };
  }
}

/** `to` takes `from`'s place in the list, so the list's leader order is kept. */
function replaced(group: PlannerGroup, from: NodeId, to: NodeId): PlannerGroup {
  const replicas = group.replicas.map((id) => (id === from ? to : id));
  return { ...group, replicas, leader: group.leader === from ? undefined : group.leader };
}

function withoutReplica(group: PlannerGroup, from: NodeId): PlannerGroup {
  const replicas = group.replicas.filter((id) => id !== from);
  return { ...group, replicas, leader: group.leader === from ? undefined : group.leader };
}

/** The state once every move in flight has completed (and none is in flight). */
export function settleMovesInFlight(state: PlannerInput): PlannerInput {
  if (state.movesInFlight.length === 0) return state;
  const byId = new Map(state.groups.map((g) => [g.id, g]));
  for (const move of state.movesInFlight) {
    const group = byId.get(move.group);
    if (group !== undefined) byId.set(group.id, settledGroup(group, move));
  }
  return { ...state, groups: state.groups.map((g) => byId.get(g.id)!), movesInFlight: [] };
}

/** Lenient: a move in flight may already be half done (`to` added, or `from` gone). */
function settledGroup(group: PlannerGroup, move: MoveInFlight): PlannerGroup {
  const { from, to } = move;
  let next = group;
  if (to !== undefined && !next.replicas.includes(to)) {
    next = from !== undefined && next.replicas.includes(from)
      ? replaced(next, from, to)
      : { ...next, replicas: [...next.replicas, to] };
  }
  if (from !== undefined && from !== to && next.replicas.includes(from)) next = withoutReplica(next, from);
  return next;
}

/** One node's share of the placement. */
export interface NodePlacement {
  id: NodeId;
  state: NodeState;
  role: NodeRole;
  replicas: number;
  leaders: number;
}

/** Per-node replica and leader counts; min/max over up nodes (0 when there is none). */
export interface PlacementStats {
  nodes: NodePlacement[];
  upNodes: number;
  replicasMin: number;
  replicasMax: number;
  leadersMin: number;
  leadersMax: number;
  /** ceil(groups * RF / up nodes): no up node should hold more (0 without up nodes). */
  replicasCeil: number;
}

/** Replica and leader counts per node of `state` (moves in flight not settled). */
export function placementStats(state: PlannerInput): PlacementStats {
  const roles = nodeRoles(state);
  const nodes = [...state.nodes]
    .sort((a, b) => a.id - b.id)
    .map((n): NodePlacement => ({ id: n.id, state: n.state, role: roleOf(roles, n.id), replicas: 0, leaders: 0 }));
  const byId = new Map(nodes.map((n) => [n.id, n]));
  for (const group of state.groups) {
    for (const id of group.replicas) {
      const node = byId.get(id);
      if (node !== undefined) node.replicas++;
    }
    const leader = effectiveLeader(roles, group);
    if (leader !== undefined) byId.get(leader)!.leaders++;
  }
  const up = nodes.filter((n) => n.role === 'up');
  const bound = (f: (n: NodePlacement) => number, pick: (...v: number[]) => number): number =>
    up.length === 0 ? 0 : pick(...up.map(f));
  return {
    nodes,
    upNodes: up.length,
    replicasMin: bound((n) => n.replicas, Math.min),
    replicasMax: bound((n) => n.replicas, Math.max),
    leadersMin: bound((n) => n.leaders, Math.min),
    leadersMax: bound((n) => n.leaders, Math.max),
    replicasCeil: up.length === 0 ? 0 : Math.ceil((state.groups.length * state.replicas) / up.length),
  };
}
