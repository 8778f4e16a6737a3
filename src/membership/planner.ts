/**
 * The rebalancing planner (DESIGN.md §6): a pure, deterministic function from the cluster's
 * membership and placement to an ordered list of moves. No clock, no randomness; every tie
 * is broken by node or group id, and the input's array order does not matter.
 *
 * How it decides, in priority order (each group gets at most one move per plan, and at
 * most `maxMoves` replica changes run at once, the moves in flight included):
 * 1. Repair, group by group, on the state where the moves in flight have completed:
 *    a. replicas on gone nodes (dead past --dead-after, removed, unknown) and groups below
 *       RF: move the replica (or add one) to the up node holding the fewest replicas;
 *    b. replicas on draining nodes: the same;
 *    c. groups above RF: remove a replica (a dead-but-waiting one first, else the one on
 *       the most loaded node).
 *    With no spare up node, an evacuated replica is removed instead: a group then keeps
 *    as many replicas as there are up nodes (the best possible when RF > up nodes).
 *    Groups without a quorum of live replicas cannot commit a config change: left alone.
 * 2. Rebalance, once nothing needs repair: while some up node holds 2+ replicas more than
 *    another, move one replica from the most to the least loaded (a group the donor does
 *    not lead, if any). Each such move lowers the sum of squared counts, so planning on
 *    the resulting states terminates, and it stops at max - min <= 1, which every state
 *    with quorate groups can reach (a node with more replicas than another holds a group
 *    the other does not).
 * 3. Leaders, once replica placement is settled and no move is in flight: see
 *    planner-leaders.ts.
 *
 * Nodes in state `joining` and dead nodes still within --dead-after keep their replicas
 * (they count toward RF) but get nothing new; only `up` nodes are targets.
 *
 * Worked example, 3 up nodes, 4 groups, RF 3, node 4 added: 12 replicas over 4 nodes is 3
 * each, so three moves (one from each of nodes 1, 2, 3) go to node 4.
 */
import type { NodeId } from '../raft/types.js';
import type { MetaView } from './meta-state.js';
import { planLeaderTransfers } from './planner-leaders.js';
import { PlanWork } from './planner-work.js';
import { effectiveLeader, isEvacuated, isLive, liveCount, type Plan, type PlannedMove, type PlannerGroup, type PlannerInput } from './planner-types.js';

export * from './planner-types.js';
export { applyPlannedMove, placementStats, settleMovesInFlight, type NodePlacement, type PlacementStats } from './planner-state.js';

/** Replica changes allowed at once when `--max-moves` is not given. */
export const maxMovesDefault = 2;

/** The moves that bring the cluster closer to its target placement, most urgent first. */
export function planMoves(input: PlannerInput): PlannedMove[] {
  return planPlacement(input).moves;
}

/** The moves, and notes on what the planner cannot fix. */
export function planPlacement(input: PlannerInput): Plan {
  const work = new PlanWork(input);
  if (work.up.length === 0) work.notes.push('no up node: nothing can be placed');
  if (work.up.length > 0 && work.up.length < work.rf) {
    work.notes.push(`RF ${work.rf} > ${work.up.length} up nodes: groups keep at most ${work.up.length} replicas on up nodes`);
  }
  const repairsPending = planRepairs(work);
  let placed = repairsPending === 0;
  if (placed) placed = planRebalance(work);
  if (placed && work.moves.length === 0 && work.inFlight === 0) {
    planLeaderTransfers(work, input.maxLeaderTransfers ?? Number.POSITIVE_INFINITY);
  }
  return { moves: work.moves, notes: work.notes };
}

/** Options for `plannerInputFromMeta`. */
export interface MetaPlannerOptions {
  /** Each group's current leader, when known. */
  leaders?: ReadonlyMap<number, NodeId>;
  deadNodes?: NodeId[];
  maxMoves?: number;
  maxLeaderTransfers?: number;
}

/** The planner's input from the meta view (plus leaders and failure-detector facts). */
export function plannerInputFromMeta(view: Readonly<MetaView>, options: MetaPlannerOptions = {}): PlannerInput {
  return {
    nodes: view.nodes.map((n) => ({ id: n.id, state: n.state })),
    groups: view.groups.map((g) => ({ id: g.id, replicas: [...g.replicas], leader: options.leaders?.get(g.id) })),
    movesInFlight: view.moves.map((m) => ({ group: m.group, from: m.from, to: m.to })),
    replicas: view.config.replicas,
    maxMoves: options.maxMoves ?? maxMovesDefault,
    deadNodes: options.deadNodes,
    maxLeaderTransfers: options.maxLeaderTransfers,
  };
}

/** Repair categories, most urgent first. */
const enum Urgency {
  Lost = 0, // a replica on a gone node, or fewer replicas than RF
  Draining = 1,
  Surplus = 2,
}

interface Repair {
  group: PlannerGroup;
  urgency: Urgency;
  live: number;
}

/** Plans repairs within the budget; answers how many groups still need one that can have it. */
function planRepairs(work: PlanWork): number {
  const repairs: Repair[] = [];
  for (const group of work.groups) {
    const live = liveCount(work.roles, group.replicas);
    if (!work.quorate(group)) {
      work.notes.push(`group ${group.id} has no quorum of live replicas (${live}/${group.replicas.length}): no change can commit`);
      continue;
    }
    const urgency = repairUrgency(work, group);
    if (urgency === null) continue;
    if (repairMove(work, group) === null) {
      work.notes.push(`group ${group.id}: its repair would remove a live replica and lose quorum`);
    } else {
      repairs.push({ group, urgency, live });
    }
  }
  repairs.sort((a, b) => a.urgency - b.urgency || a.live - b.live || a.group.id - b.group.id);
  for (const repair of repairs) {
    if (work.budget === 0) break;
    if (work.busy.has(repair.group.id)) continue;
    // Planned again: earlier repairs changed the counts that choose the target.
    work.plan(repairMove(work, repair.group)!);
  }
  return repairs.length;
}

function repairUrgency(work: PlanWork, group: PlannerGroup): Urgency | null {
  const evacuated = group.replicas.filter((id) => isEvacuated(work.role(id)));
  const kept = group.replicas.length - evacuated.length;
  if (evacuated.some((id) => work.role(id) === 'gone')) return Urgency.Lost;
  if (evacuated.length > 0) return Urgency.Draining;
  if (kept > work.rf) return Urgency.Surplus;
  if (kept < work.rf && spareNode(work, group) !== undefined) return Urgency.Lost;
  return null;
}

/** The up node without a replica of `group` holding the fewest replicas (lowest id on ties). */
function spareNode(work: PlanWork, group: PlannerGroup): NodeId | undefined {
  let best: NodeId | undefined;
  for (const id of work.up) {
    if (group.replicas.includes(id)) continue;
    if (best === undefined || work.count(id) < work.count(best)) best = id;
  }
  return best;
}

function repairMove(work: PlanWork, group: PlannerGroup): PlannedMove | null {
  const evacuated = group.replicas.filter((id) => isEvacuated(work.role(id))).sort((a, b) => a - b);
  const kept = group.replicas.length - evacuated.length;
  if (evacuated.length > 0) return evacuationMove(work, group, evacuated, kept);
  if (kept > work.rf) return surplusMove(work, group);
  const to = spareNode(work, group)!;
  return { kind: 'add-replica', group: group.id, to, reason: 'under-replicated', detail: `${kept} of RF ${work.rf} replicas` };
}

function evacuationMove(work: PlanWork, group: PlannerGroup, evacuated: NodeId[], kept: number): PlannedMove | null {
  // Gone nodes first: their replicas are lost redundancy, a draining node's still vote.
  const from = evacuated.find((id) => work.role(id) === 'gone') ?? evacuated[0]!;
  const reason = work.role(from) === 'gone' ? 'dead-node' : 'draining-node';
  const what = reason === 'dead-node' ? `node ${from} is dead, removed or unknown` : `node ${from} is draining`;
  const to = kept < work.rf ? spareNode(work, group) : undefined;
  if (to !== undefined) return { kind: 'move', group: group.id, from, to, reason, detail: what };
  if (!removalKeepsQuorum(work, group, from)) return null;
  const why = kept >= work.rf
    ? `${kept} other replicas already meet RF ${work.rf}`
    : `no spare up node (RF ${work.rf}, ${work.up.length} up): the group keeps ${group.replicas.length - 1} replicas`;
  return { kind: 'remove-replica', group: group.id, from, reason, detail: `${what}; ${why}` };
}

function surplusMove(work: PlanWork, group: PlannerGroup): PlannedMove | null {
  const from = surplusVictim(work, group);
  if (!removalKeepsQuorum(work, group, from)) return null;
  return { kind: 'remove-replica', group: group.id, from, reason: 'over-replicated', detail: `${group.replicas.length - 1} replicas left for RF ${work.rf}` };
}

/** A dead-but-waiting replica first, else the most loaded up node (not the leader if possible), else a joining one. */
function surplusVictim(work: PlanWork, group: PlannerGroup): NodeId {
  const sorted = [...group.replicas].sort((a, b) => a - b);
  const waiting = sorted.find((id) => work.role(id) === 'waiting');
  if (waiting !== undefined) return waiting;
  const up = sorted.filter((id) => work.role(id) === 'up');
  if (up.length === 0) return sorted[0]!;
  const rank = (id: NodeId): number => work.count(id) * 2 + (id === group.leader ? 0 : 1);
  return up.reduce((best, id) => (rank(id) > rank(best) ? id : best));
}

/** True when the group still has a quorum of live replicas once `from` is removed. */
function removalKeepsQuorum(work: PlanWork, group: PlannerGroup, from: NodeId): boolean {
  const live = liveCount(work.roles, group.replicas) - (isLive(work.role(from)) ? 1 : 0);
  return 2 * live > group.replicas.length - 1;
}

/** Plans rebalancing moves within the budget; answers true when no more are needed. */
function planRebalance(work: PlanWork): boolean {
  for (;;) {
    const move = rebalanceMove(work);
    if (move === null) return true;
    if (work.budget === 0) return false;
    work.plan(move);
  }
}

/** A move from the most loaded up node to the least loaded one it can go to, if any lowers the spread. */
function rebalanceMove(work: PlanWork): PlannedMove | null {
  const byLoad = [...work.up].sort((a, b) => work.count(a) - work.count(b) || a - b);
  for (let d = byLoad.length - 1; d >= 0; d--) {
    const donor = byLoad[d]!;
    for (const taker of byLoad) {
      if (work.count(donor) - work.count(taker) < 2) break;
      const group = movableGroup(work, donor, taker);
      if (group === undefined) continue;
      const detail = `node ${donor} holds ${work.count(donor)} replicas, node ${taker} ${work.count(taker)}`;
      return { kind: 'move', group: group.id, from: donor, to: taker, reason: 'rebalance', detail };
    }
  }
  return null;
}

/** A group on `donor` and not on `taker` that may move now; one `donor` does not lead first. */
function movableGroup(work: PlanWork, donor: NodeId, taker: NodeId): PlannerGroup | undefined {
  let led: PlannerGroup | undefined;
  for (const group of work.groups) {
    if (work.busy.has(group.id) || !group.replicas.includes(donor) || group.replicas.includes(taker)) continue;
    if (!work.quorate(group)) continue;
    if (effectiveLeader(work.roles, group) !== donor) return group;
    led ??= group;
  }
  return led;
}
