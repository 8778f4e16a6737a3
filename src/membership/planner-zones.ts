/**
 * Zone spreading, the planner's second phase (after repairs, before rebalancing): a group
 * with two replicas in one zone (`--zone`) while some zone without a replica of it has an
 * up node gets one `move` from the crowded zone to that zone. Each such move adds a zone
 * to the group, so the phase ends; it stops at min(replicas, zones) distinct zones per
 * group. With fewer zones (with up nodes) than RF some groups keep two replicas in one
 * zone, the plan's notes say so, and the replicas spread over every zone there is.
 *
 * Nodes without a zone are each a zone of their own (zoneOf), so a cluster that sets no
 * zones never gets a move here: every replica of a group is on a distinct node already.
 *
 * Worked example, RF 3, nodes 1, 2 in zone a, 3, 4 in zone b, 5, 6 in zone c; group 1 on
 * [1, 2, 3]: nodes 1 and 2 share zone a, zone c has none of it: move the replica of the
 * most loaded of nodes 1 and 2 (one that does not lead, on ties) to the least loaded of
 * nodes 5 and 6: [1, 3, 5] (or [2, 3, 5]).
 */
import type { NodeId } from '../raft/types.js';
import type { PlanWork } from './planner-work.js';
import { effectiveLeader, type PlannedMove, type PlannerGroup } from './planner-types.js';

/** Plans zone-spreading moves within the budget; answers true when no more are needed. */
export function planZoneSpread(work: PlanWork): boolean {
  if (work.up.length >= work.rf && work.upZones < work.rf) {
    work.notes.push(`only ${work.upZones} zones have up nodes for RF ${work.rf}: groups spread over every zone, some keep two replicas in one`);
  }
  let done = true;
  for (const group of work.groups) {
    if (work.busy.has(group.id) || !work.quorate(group)) continue;
    const move = spreadMove(work, group);
    if (move === null) continue;
    done = false;
    if (work.budget === 0) return false;
    work.plan(move);
  }
  return done;
}

/** The move that adds a zone to `group`, or null when it spans every zone it can. */
function spreadMove(work: PlanWork, group: PlannerGroup): PlannedMove | null {
  const crowded = group.replicas
    .filter((id) => work.role(id) === 'up' && group.replicas.some((other) => other !== id && work.zone(other) === work.zone(id)))
    .sort((a, b) => a - b);
  if (crowded.length === 0) return null;
  const used = new Set(group.replicas.map((id) => work.zone(id)));
  const targets = work.up.filter((id) => !used.has(work.zone(id)));
  if (targets.length === 0) return null;
  const leader = effectiveLeader(work.roles, group);
  const rank = (id: NodeId): number => work.count(id) * 2 + (id === leader ? 0 : 1);
  const from = crowded.reduce((best, id) => (rank(id) > rank(best) ? id : best));
  const to = targets.reduce((best, id) => (work.count(id) < work.count(best) ? id : best));
  const detail = `nodes of zone ${work.zone(from)} hold 2+ replicas; zone ${work.zone(to)} none`;
  return { kind: 'move', group: group.id, from, to, reason: 'zone-spread', detail };
}

/** True when moving `group`'s replica from `donor` to `taker` spans no fewer zones. */
export function keepsZoneSpread(work: PlanWork, group: PlannerGroup, donor: NodeId, taker: NodeId): boolean {
  const after = group.replicas.map((id) => (id === donor ? taker : id));
  return work.zoneCount(after) >= work.zoneCount(group.replicas);
}
