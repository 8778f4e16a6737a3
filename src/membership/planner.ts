/**
 * The rebalancing planner (DESIGN.md §6): a pure, deterministic function from the cluster's
 * membership and placement to an ordered list of moves. No clock, no randomness; every tie
 * is broken by node or group id, and the input's array order does not matter.
 *
 * How it decides, in priority order (each group gets at most one move per plan, and at
 * most `maxMoves` replica changes run at once, the moves in flight included):
 * 1. Repair (planner-repairs.ts), on the state where the moves in flight have completed:
 *    replicas on gone nodes (dead past --dead-after, removed, unknown) and groups below
 *    RF first, then replicas on draining nodes, then groups above RF. Replicas to
 *    re-create go to up nodes chosen together so that the loads end even. With no spare
 *    up node an evacuated replica is removed: a group then keeps as many replicas as
 *    there are up nodes (the best possible when RF > up nodes). No step can lose a
 *    group's quorum, and groups without a quorum of live replicas are left alone (no
 *    config change can commit there); both are reported in the plan's notes.
 * 2. Zones, once nothing needs repair (planner-zones.ts): a group with two replicas in one
 *    zone while a zone without one has an up node gets a move there. Repair targets are
 *    chosen in zones the group is not in already, and rebalancing never narrows a group's
 *    zones, so once spread a placement stays spread (through drains and dead nodes too).
 * 3. Rebalance, once nothing needs repair: while some up node holds 2+ replicas more than
 *    another, move one replica from the most to the least loaded (a group the donor does
 *    not lead, if any). Each such move lowers the sum of squared counts, so planning on
 *    the resulting states terminates, and it stops at max - min <= 1, which every state
 *    with quorate groups can reach (a node with more replicas than another holds a group
 *    the other does not). A balanced state therefore gets no move at all.
 *    With zones the spread stops where no move keeps every group's zones (nodes of a small
 *    zone hold more replicas).
 * 4. Leaders, once replica placement is settled and no move is in flight
 *    (planner-leaders.ts): leaders move off non-up nodes, then spread evenly.
 *
 * Only `up` nodes get new replicas or leaders. `joining` nodes and dead nodes still within
 * --dead-after keep their replicas (which count toward RF). While a joining node holds
 * replicas the cluster is still starting (bootstrap places replicas before the nodes
 * register), so phases 2 to 4 wait: balancing a half-registered cluster would churn.
 *
 * Worked example, 3 up nodes, 4 groups, RF 3, node 4 added: 12 replicas over 4 nodes is 3
 * each, so three moves (one from each of nodes 1, 2, 3) go to node 4.
 */
import { NONE, type NodeId } from '../raft/types.js';
import type { MetaView } from './meta-state.js';
import { planLeaderTransfers } from './planner-leaders.js';
import { planRepairs } from './planner-repairs.js';
import { keepsZoneSpread, planZoneSpread } from './planner-zones.js';
import { PlanWork } from './planner-work.js';
import { effectiveLeader, type Plan, type PlannedMove, type PlannerGroup, type PlannerInput } from './planner-types.js';

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
  const starting = joiningWithReplicas(work);
  if (starting.length > 0) work.notes.push(`node ${starting.join(', ')} joining with replicas: balancing waits until up`);
  let placed = repairsPending === 0 && starting.length === 0;
  if (placed) placed = planZoneSpread(work);
  if (placed) placed = planRebalance(work);
  if (placed && work.moves.length === 0 && work.inFlight === 0) {
    planLeaderTransfers(work, input.maxLeaderTransfers ?? Number.POSITIVE_INFINITY);
  }
  return { moves: work.moves, notes: work.notes };
}

/** Joining nodes that hold replicas (ascending). */
function joiningWithReplicas(work: PlanWork): NodeId[] {
  const ids = new Set<NodeId>();
  for (const g of work.groups) for (const id of g.replicas) if (work.role(id) === 'joining') ids.add(id);
  return [...ids].sort((a, b) => a - b);
}

/** Options for `plannerInputFromMeta`. */
export interface MetaPlannerOptions {
  /** Each group's current leader, when known. */
  leaders?: ReadonlyMap<number, NodeId>;
  deadNodes?: NodeId[];
  maxMoves?: number;
  maxLeaderTransfers?: number;
  leaderHoldNodes?: NodeId[];
}

/** The planner's input from the meta view (plus leaders and failure-detector facts). */
export function plannerInputFromMeta(view: Readonly<MetaView>, options: MetaPlannerOptions = {}): PlannerInput {
  return {
    nodes: view.nodes.map((n) => ({ id: n.id, state: n.state, zone: n.zone })),
    groups: view.groups.map((g) => ({ id: g.id, replicas: [...g.replicas], leader: options.leaders?.get(g.id) })),
    // The meta log writes NONE (0) for a move's absent side (a pure addition or removal).
    movesInFlight: view.moves.map((m) => ({ group: m.group, from: orUndefined(m.from), to: orUndefined(m.to) })),
    replicas: view.config.replicas,
    maxMoves: options.maxMoves ?? maxMovesDefault,
    deadNodes: options.deadNodes,
    maxLeaderTransfers: options.maxLeaderTransfers,
    leaderHoldNodes: options.leaderHoldNodes,
  };
}

function orUndefined(id: NodeId): NodeId | undefined {
  return id === NONE ? undefined : id;
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
    if (!work.quorate(group) || !keepsZoneSpread(work, group, donor, taker)) continue;
    if (effectiveLeader(work.roles, group) !== donor) return group;
    led ??= group;
  }
  return led;
}
