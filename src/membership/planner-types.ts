/**
 * Types of the rebalancing planner (planner.ts) and the node classification every part of
 * it shares. Pure: no clock, no randomness, no I/O.
 */
import type { NodeId } from '../raft/types.js';
import type { NodeState } from './meta-state.js';

/** A node as the planner sees it. */
export interface PlannerNode {
  id: NodeId;
  state: NodeState;
  /**
   * The node's failure zone (`--zone`): no two replicas of a group go into one zone while
   * enough zones have up nodes. A node without one is a zone of its own.
   */
  zone?: string | undefined;
}

/** The zone of a node: its own, else one of its own (`node:<id>`, which no --zone can name alike). */
export function zoneOf(node: Pick<PlannerNode, 'id' | 'zone'>): string {
  return node.zone === undefined || node.zone === '' ? `node:${node.id}` : `zone:${node.zone}`;
}

/** A data group as the planner sees it: its replica list and, when known, its leader. */
export interface PlannerGroup {
  id: number;
  /** Replica nodes, distinct; list order is the preferred-leader order (first live leads). */
  replicas: NodeId[];
  /** The current leader; when unknown, the first replica on an up node is taken. */
  leader?: NodeId | undefined;
}

/** A replica change already under way (recorded in the meta state). */
export interface MoveInFlight {
  group: number;
  /** The replica being removed (absent for a pure addition). */
  from?: NodeId | undefined;
  /** The replica being added (absent for a pure removal). */
  to?: NodeId | undefined;
}

/** Everything the planner decides from. */
export interface PlannerInput {
  nodes: PlannerNode[];
  groups: PlannerGroup[];
  movesInFlight: MoveInFlight[];
  /** The replication factor (RF). */
  replicas: number;
  /** Replica changes allowed at once (`--max-moves`), moves in flight included. */
  maxMoves: number;
  /**
   * Nodes dead for longer than `--dead-after`: their replicas are re-created elsewhere.
   * A node listed here counts as dead whatever its state says.
   */
  deadNodes?: NodeId[] | undefined;
  /** Leader transfers per plan (cheap: no data moves); unlimited when absent. */
  maxLeaderTransfers?: number | undefined;
  /**
   * Up nodes not steady yet (back from a partition or a restart and not yet reachable and
   * caught up for the hold time): they keep what they lead but get no new leadership, so
   * that leaders move to a returning node once, after it has settled.
   */
  leaderHoldNodes?: NodeId[] | undefined;
}

/** Why a move was planned (stable codes; `detail` says it in words). */
export type PlanReason =
  | 'dead-node' // the replica's node is dead past --dead-after, removed or unknown
  | 'draining-node' // the replica's node is draining
  | 'under-replicated' // fewer replicas than RF (or than the up nodes allow)
  | 'over-replicated' // more replicas than RF
  | 'zone-spread' // two replicas of the group share a zone while a zone without one has an up node
  | 'rebalance' // a node holds 2+ replicas more than another
  | 'leader-not-up' // the leader's node is not up
  | 'leader-balance'; // a node leads 2+ groups more than another

/**
 * A planned step. Semantics, so that every group keeps a quorum of live replicas:
 * - `add-replica`: add `to` as a learner, let it catch up, promote it to voter.
 * - `move`: `add-replica` of `to` first; only once `to` is a voter, remove `from` (if
 *   `from` leads the group, leadership is handed to another voter before it is removed).
 * - `remove-replica`: remove `from` from the group (leadership handed off first, as above).
 * - `transfer-leader`: make `to` (a replica) the group's preferred leader (first in its
 *   list) and hand leadership to it.
 */
export type PlannedMove =
  | { kind: 'add-replica'; group: number; to: NodeId; reason: PlanReason; detail: string }
  | { kind: 'move'; group: number; from: NodeId; to: NodeId; reason: PlanReason; detail: string }
  | { kind: 'remove-replica'; group: number; from: NodeId; reason: PlanReason; detail: string }
  | { kind: 'transfer-leader'; group: number; from: NodeId | undefined; to: NodeId; reason: PlanReason; detail: string };

/** A plan: the moves in priority order and notes on what cannot be done. */
export interface Plan {
  moves: PlannedMove[];
  /** Conditions the plan cannot fix (groups without quorum, RF above the up nodes). */
  notes: string[];
}

/**
 * How the planner treats a node:
 * - `up`: a target for replicas and leaders.
 * - `joining`: live but not a target yet (bootstrap places replicas on nodes before they
 *   register); its replicas are kept and count toward RF.
 * - `waiting`: dead, not yet past --dead-after; its replicas are kept (it may come back)
 *   and count toward RF, but not as live.
 * - `draining`: live; emptied, gets nothing new.
 * - `gone`: dead past --dead-after, removed, or unknown; emptied first.
 */
export type NodeRole = 'up' | 'joining' | 'waiting' | 'draining' | 'gone';

/** The role of every known node (unknown ids are `gone`). */
export function nodeRoles(input: Pick<PlannerInput, 'nodes' | 'deadNodes'>): Map<NodeId, NodeRole> {
  const dead = new Set(input.deadNodes ?? []);
  const roles = new Map<NodeId, NodeRole>();
  for (const node of input.nodes) roles.set(node.id, dead.has(node.id) ? 'gone' : roleOfState(node.state));
  return roles;
}

function roleOfState(state: NodeState): NodeRole {
  switch (state) {
    case 'up':
      return 'up';
    case 'joining':
      return 'joining';
    case 'dead':
      return 'waiting';
    case 'draining':
      return 'draining';
    case 'removed':
      return 'gone';
  }
}

/** The role of `id` (`gone` when the node is unknown). */
export function roleOf(roles: ReadonlyMap<NodeId, NodeRole>, id: NodeId): NodeRole {
  return roles.get(id) ?? 'gone';
}

/** True when a replica on a node of this role can vote (its process runs). */
export function isLive(role: NodeRole): boolean {
  return role === 'up' || role === 'joining' || role === 'draining';
}

/** True when replicas on a node of this role must go elsewhere. */
export function isEvacuated(role: NodeRole): boolean {
  return role === 'draining' || role === 'gone';
}

/** Live replicas of a group. */
export function liveCount(roles: ReadonlyMap<NodeId, NodeRole>, replicas: readonly NodeId[]): number {
  let live = 0;
  for (const id of replicas) if (isLive(roleOf(roles, id))) live++;
  return live;
}

/** True when a majority of the group's replicas are live (it can commit config changes). */
export function hasQuorum(roles: ReadonlyMap<NodeId, NodeRole>, replicas: readonly NodeId[]): boolean {
  return replicas.length > 0 && 2 * liveCount(roles, replicas) > replicas.length;
}

/**
 * The group's leader as far as the planner knows: the given leader if it is a live replica,
 * else the first replica on an up node (the host hands leadership to the first live replica
 * of the list), else the first live replica; undefined when the group cannot elect one.
 */
export function effectiveLeader(roles: ReadonlyMap<NodeId, NodeRole>, group: PlannerGroup): NodeId | undefined {
  if (!hasQuorum(roles, group.replicas)) return undefined;
  const given = group.leader;
  if (given !== undefined && group.replicas.includes(given) && isLive(roleOf(roles, given))) return given;
  const up = group.replicas.find((id) => roleOf(roles, id) === 'up');
  return up ?? group.replicas.find((id) => isLive(roleOf(roles, id)));
}
