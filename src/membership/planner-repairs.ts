/**
 * The planner's first phase: repairs, group by group (planner.ts gives the order of
 * priorities). For each group with a quorum, one step toward "RF replicas, none on a
 * draining or gone node", chosen so that no step can lose the quorum:
 * - a replica on a gone node: moved to a spare up node while the group is below RF, else
 *   removed (it does not vote, so removing it is always safe);
 * - a dead-but-waiting replica while the group is above RF: removed (same reason);
 * - a replica on a draining node: moved while below RF; else removed, unless removing a
 *   live replica would lose the quorum, in which case it is moved anyway (the move adds
 *   first) and the surplus goes in a later step; with no spare node either, it waits;
 * - above RF: the replica on the most loaded up node is removed (not the leader's if any
 *   other will do);
 * - below RF with a spare up node: a replica is added.
 *
 * Targets: every repair that needs one gets an up node not holding its group, in a zone
 * none of the group's staying replicas is in (when there is such a node); all of them
 * are assigned together (least loaded first, then chains of reassignments,
 * planner-chains.ts) so that the repairs together leave the loads as even as possible:
 * draining a node then moves exactly its replicas, with no rebalancing afterwards.
 */
import type { NodeId } from '../raft/types.js';
import { ChainBalancer, type ChainItem } from './planner-chains.js';
import type { PlanWork } from './planner-work.js';
import { effectiveLeader, isEvacuated, isLive, liveCount, type PlannedMove, type PlanReason, type PlannerGroup } from './planner-types.js';

/** Repair priorities, most urgent first. */
const enum Urgency {
  Lost = 0, // a replica on a gone node, or fewer replicas than RF
  Draining = 1,
  Surplus = 2,
}

/** One step for a group, its target (if it needs one) still to be chosen. */
interface Repair {
  group: PlannerGroup;
  urgency: Urgency;
  live: number;
  kind: 'move' | 'add-replica' | 'remove-replica';
  from: NodeId | undefined;
  reason: PlanReason;
  detail: string;
}

/** Plans repairs within the budget; answers how many groups still need one that can have it. */
export function planRepairs(work: PlanWork): number {
  const repairs: Repair[] = [];
  for (const group of work.groups) {
    const live = liveCount(work.roles, group.replicas);
    if (!work.quorate(group)) {
      work.notes.push(`group ${group.id} has no quorum of live replicas (${live}/${group.replicas.length}): no change can commit`);
      continue;
    }
    const repair = repairOf(work, group, live);
    if (repair === 'blocked') work.notes.push(`group ${group.id}: no spare up node, and removing its draining replica would lose quorum`);
    else if (repair !== null) repairs.push(repair);
  }
  repairs.sort((a, b) => a.urgency - b.urgency || a.live - b.live || a.group.id - b.group.id);
  const targets = assignTargets(work, repairs.filter((r) => r.kind !== 'remove-replica' && !work.busy.has(r.group.id)));
  for (const r of repairs) {
    if (work.budget === 0) break;
    if (work.busy.has(r.group.id)) continue;
    work.plan(toMove(r, targets.get(r.group.id)));
  }
  return repairs.length;
}

function toMove(r: Repair, to: NodeId | undefined): PlannedMove {
  const base = { group: r.group.id, reason: r.reason, detail: r.detail };
  switch (r.kind) {
    case 'move':
      return { ...base, kind: 'move', from: r.from!, to: to! };
    case 'add-replica':
      return { ...base, kind: 'add-replica', to: to! };
    case 'remove-replica':
      return { ...base, kind: 'remove-replica', from: r.from! };
  }
}

/** The group's next repair step, null when it needs none, 'blocked' when none is safe. */
function repairOf(work: PlanWork, group: PlannerGroup, live: number): Repair | 'blocked' | null {
  const of = (role: string): NodeId[] => group.replicas.filter((id) => work.role(id) === role).sort((a, b) => a - b);
  const gone = of('gone');
  const draining = of('draining');
  const waiting = of('waiting');
  const kept = group.replicas.length - gone.length - draining.length;
  const spare = work.up.some((id) => !group.replicas.includes(id));
  const repair = (urgency: Urgency, kind: Repair['kind'], from: NodeId | undefined, reason: PlanReason, detail: string): Repair =>
    ({ group, urgency, live, kind, from, reason, detail });
  const short = `${kept} of RF ${work.rf} replicas elsewhere`;
  if (gone.length > 0) {
    const what = `node ${gone[0]} is dead, removed or unknown`;
    if (kept < work.rf && spare) return repair(Urgency.Lost, 'move', gone[0], 'dead-node', `${what}; ${short}`);
    return repair(Urgency.Lost, 'remove-replica', gone[0], 'dead-node', `${what}; ${noReplacement(work, kept)}`);
  }
  if (kept > work.rf && waiting.length > 0) {
    return repair(Urgency.Surplus, 'remove-replica', waiting[0], 'over-replicated', `${kept} replicas for RF ${work.rf}; node ${waiting[0]} is dead`);
  }
  if (draining.length > 0) {
    const what = `node ${draining[0]} is draining`;
    if (kept < work.rf && spare) return repair(Urgency.Draining, 'move', draining[0], 'draining-node', `${what}; ${short}`);
    if (removalKeepsQuorum(work, group, draining[0]!)) {
      return repair(Urgency.Draining, 'remove-replica', draining[0], 'draining-node', `${what}; ${noReplacement(work, kept)}`);
    }
    if (spare) return repair(Urgency.Draining, 'move', draining[0], 'draining-node', `${what}; removing it first would lose quorum`);
    return 'blocked';
  }
  if (kept > work.rf) {
    const from = surplusVictim(work, group);
    if (!removalKeepsQuorum(work, group, from)) return 'blocked';
    return repair(Urgency.Surplus, 'remove-replica', from, 'over-replicated', `${kept} replicas for RF ${work.rf}`);
  }
  if (kept < work.rf && spare) return repair(Urgency.Lost, 'add-replica', undefined, 'under-replicated', short);
  return null;
}

function noReplacement(work: PlanWork, kept: number): string {
  if (kept >= work.rf) return `${kept} other replicas meet RF ${work.rf}`;
  return `no spare up node (RF ${work.rf}, ${work.up.length} up nodes): the group keeps ${kept} replicas`;
}

/**
 * The replica on an up node sharing its zone with another replica, else on the most loaded
 * up node (one the group's leader is not on, if any), else the lowest id.
 */
function surplusVictim(work: PlanWork, group: PlannerGroup): NodeId {
  const sorted = [...group.replicas].sort((a, b) => a - b);
  const up = sorted.filter((id) => work.role(id) === 'up');
  if (up.length === 0) return sorted[0]!;
  const leader = effectiveLeader(work.roles, group);
  const shared = (id: NodeId): boolean => group.replicas.some((other) => other !== id && work.zone(other) === work.zone(id));
  const rank = (id: NodeId): number => (shared(id) ? 1_000_000 : 0) + work.count(id) * 2 + (id === leader ? 0 : 1);
  return up.reduce((best, id) => (rank(id) > rank(best) ? id : best));
}

/** True when the group still has a quorum of live replicas once `from` is removed. */
function removalKeepsQuorum(work: PlanWork, group: PlannerGroup, from: NodeId): boolean {
  const live = liveCount(work.roles, group.replicas) - (isLive(work.role(from)) ? 1 : 0);
  return 2 * live > group.replicas.length - 1;
}

/** Targets for the repairs that need one, assigned together so that loads end even. */
function assignTargets(work: PlanWork, repairs: Repair[]): Map<number, NodeId> {
  const balancer = new ChainBalancer(work.up, (id) => work.count(id), []);
  const items: ChainItem[] = [];
  for (const r of repairs) {
    const leaving = r.group.replicas.filter((id) => id === r.from || isEvacuated(work.role(id)));
    const allowed = work.targetsFor(r.group, leaving);
    const item: ChainItem = { id: r.group.id, on: allowed[0]!, allowed };
    balancer.place(item, balancer.leastLoaded(allowed));
    items.push(item);
  }
  for (let chain = balancer.shortestChain(); chain !== null; chain = balancer.shortestChain()) balancer.apply(chain);
  return new Map(items.map((i) => [i.id, i.on]));
}
