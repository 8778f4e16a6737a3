/**
 * Leader balancing, the planner's last phase (run only once replica placement is settled
 * and no move is in flight): every group with a quorum gets its leader on an up node, and
 * leaders spread so that each up node leads floor or ceil of its fair share.
 *
 * A transfer can only go to a replica, so balancing is a flow problem: a node leading too
 * many groups may hand one to a replica on a node leading fewer, or start a chain (node A
 * hands group g to B, B hands group h to C: A loses one, C gains one, B is unchanged).
 * The planner searches the shortest such chain breadth-first from the most loaded node
 * to any node leading at least two fewer, applies it, and repeats; each chain lowers the
 * sum of squared counts, so it terminates, and it stops when no chain helps.
 *
 * Worked example, 3 up nodes, 3 groups on all of them, every leader on node 1:
 * counts [3, 0, 0] -> g1 to node 2 -> [2, 1, 0] -> g2 to node 3 -> [1, 1, 1].
 */
import type { NodeId } from '../raft/types.js';
import type { PlanWork } from './planner-work.js';
import { effectiveLeader, type PlannerGroup } from './planner-types.js';

/** A transfer step found by the search: `group` goes from its leader to `to`. */
interface Step {
  group: PlannerGroup;
  from: NodeId;
  to: NodeId;
}

/** Plans transfer-leader moves on `work` (at most `transfersMax`). */
export function planLeaderTransfers(work: PlanWork, transfersMax: number): void {
  // While a joining node holds replicas the cluster is still starting: its leaders stay.
  if (work.groups.some((g) => g.replicas.some((id) => work.role(id) === 'joining'))) return;
  const leaders = new LeaderCounts(work);
  let left = transfersMax;
  for (const group of work.groups) {
    if (left === 0) return;
    const from = effectiveLeader(work.roles, group);
    if (from === undefined || work.role(from) === 'up' || !hasUpReplica(work, group)) continue;
    const to = leaders.leastLoaded(group.replicas.filter((id) => work.role(id) === 'up'));
    leaders.transfer(group, from, to);
    work.plan({ kind: 'transfer-leader', group: group.id, from, to, reason: 'leader-not-up', detail: `node ${from} is ${work.role(from)}` });
    left--;
  }
  for (;;) {
    const chain = leaders.shortestChain();
    if (chain === null || chain.length > left) return;
    const detail = `node ${chain[0]!.from} leads ${leaders.count(chain[0]!.from)} groups, node ${chain.at(-1)!.to} ${leaders.count(chain.at(-1)!.to)}`;
    for (const step of chain) {
      leaders.transfer(step.group, step.from, step.to);
      work.plan({ kind: 'transfer-leader', group: step.group.id, from: step.from, to: step.to, reason: 'leader-balance', detail });
    }
    left -= chain.length;
  }
}

function hasUpReplica(work: PlanWork, group: PlannerGroup): boolean {
  return group.replicas.some((id) => work.role(id) === 'up');
}

/** Leaders per up node and the groups each leads (groups not yet transferred in this plan). */
class LeaderCounts {
  private readonly led = new Map<NodeId, PlannerGroup[]>();

  constructor(private readonly work: PlanWork) {
    for (const id of work.up) this.led.set(id, []);
    for (const group of work.groups) {
      const leader = effectiveLeader(work.roles, group);
      if (leader !== undefined) this.led.get(leader)?.push(group);
    }
  }

  count(id: NodeId): number {
    return this.led.get(id)?.length ?? 0;
  }

  /** The node of `ids` leading the fewest groups (lowest id on ties). */
  leastLoaded(ids: NodeId[]): NodeId {
    return ids.reduce((best, id) => (this.count(id) < this.count(best) || (this.count(id) === this.count(best) && id < best) ? id : best));
  }

  transfer(group: PlannerGroup, from: NodeId, to: NodeId): void {
    const list = this.led.get(from);
    if (list !== undefined) list.splice(list.indexOf(group), 1);
    this.led.get(to)!.push(group);
  }

  /** The shortest chain from the most loaded node that lowers the spread, or null. */
  shortestChain(): Step[] | null {
    const sources = [...this.work.up].sort((a, b) => this.count(b) - this.count(a) || a - b);
    for (const source of sources) {
      const chain = this.chainFrom(source);
      if (chain !== null) return chain;
    }
    return null;
  }

  /** Breadth-first over "a leads g, b is an up replica of g" edges, groups by id. */
  private chainFrom(source: NodeId): Step[] | null {
    const limit = this.count(source) - 2;
    if (limit < 0) return null;
    const via = new Map<NodeId, Step | null>([[source, null]]);
    const queue = [source];
    for (let head = 0; head < queue.length; head++) {
      const from = queue[head]!;
      for (const group of this.movable(from)) {
        for (const to of [...group.replicas].sort((a, b) => a - b)) {
          if (via.has(to) || this.work.role(to) !== 'up') continue;
          via.set(to, { group, from, to });
          if (this.count(to) <= limit) return unwind(via, to);
          queue.push(to);
        }
      }
    }
    return null;
  }

  private movable(from: NodeId): PlannerGroup[] {
    return (this.led.get(from) ?? []).filter((g) => !this.work.busy.has(g.id)).sort((a, b) => a.id - b.id);
  }
}

function unwind(via: Map<NodeId, Step | null>, end: NodeId): Step[] {
  const chain: Step[] = [];
  for (let step = via.get(end)!; step !== null; step = via.get(step.from)!) chain.unshift(step);
  return chain;
}
