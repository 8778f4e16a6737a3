/**
 * Leader balancing, the planner's last phase (run only once replica placement is settled
 * and no move is in flight): every group with a quorum gets its leader on an up node, and
 * leaders spread so that each up node leads floor or ceil of its fair share. A transfer
 * can only go to a replica, so the spread is balanced by chains of transfers
 * (planner-chains.ts); a group is transferred at most once per plan. Nodes on hold
 * (`leaderHoldNodes`: back from a partition or restart, not steady yet) get no leadership,
 * so leaders move to a returning node once, when it has settled, not back and forth.
 *
 * Worked example, 3 up nodes, 3 groups on all of them, every leader on node 1:
 * leaders [3, 0, 0] -> g1 to node 2 -> [2, 1, 0] -> g2 to node 3 -> [1, 1, 1].
 */
import type { NodeId } from '../raft/types.js';
import { ChainBalancer, type ChainItem } from './planner-chains.js';
import type { PlanWork } from './planner-work.js';
import { effectiveLeader, type PlannerGroup } from './planner-types.js';

/** Plans transfer-leader moves on `work` (at most `transfersMax`, or one chain). */
export function planLeaderTransfers(work: PlanWork, transfersMax: number): void {
  if (transfersMax <= 0) return;
  let left = transfersMax;
  const items: ChainItem[] = [];
  for (const group of work.groups) {
    const leader = effectiveLeader(work.roles, group);
    // A node on hold (not steady yet) keeps what it leads but takes no leadership.
    const up = group.replicas.filter((id) => work.role(id) === 'up' && (id === leader || !work.leaderHold.has(id))).sort((a, b) => a - b);
    if (leader !== undefined && up.length > 0) items.push({ id: group.id, on: leader, allowed: up });
  }
  const leaders = new ChainBalancer(work.up, () => 0, items.filter((i) => work.role(i.on) === 'up'));
  for (const item of items) {
    if (work.role(item.on) === 'up') continue;
    if (item.allowed.length === 0) continue;
    if (left-- === 0) return;
    const from = item.on;
    const to = leaders.leastLoaded(item.allowed);
    leaders.place(item, to);
    leaders.freeze(item);
    transfer(work, item.id, from, to, 'leader-not-up', `node ${from} is ${work.role(from)}`);
  }
  for (;;) {
    const chain = leaders.shortestChain();
    // A chain is never split; one longer than the limit still goes alone in a plan, or a
    // limit of 1 could leave leaders unbalanced for good.
    if (chain === null || (chain.length > left && left < transfersMax)) return;
    const first = chain[0]!.from;
    const last = chain.at(-1)!.to;
    const detail = `node ${first} leads ${leaders.load(first)} groups, node ${last} ${leaders.load(last)}`;
    leaders.apply(chain);
    for (const step of chain) {
      leaders.freeze(step.item);
      transfer(work, step.item.id, step.from, step.to, 'leader-balance', detail);
    }
    left = Math.max(0, left - chain.length);
  }
}

function transfer(work: PlanWork, group: PlannerGroup['id'], from: NodeId, to: NodeId, reason: 'leader-not-up' | 'leader-balance', detail: string): void {
  work.plan({ kind: 'transfer-leader', group, from, to, reason, detail });
}
