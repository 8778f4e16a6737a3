/**
 * Balancing items over nodes by chains of reassignments, used by the planner for leaders
 * (a group's leadership may go to any up replica) and for repair targets (a replica to
 * re-create may go to any up node not holding its group).
 *
 * Each item sits on one node and may move to any of its allowed nodes. A node with too
 * many items may hand one to a node with fewer, or start a chain (node A hands item i to
 * B, B hands item j to C: A loses one, C gains one, B is unchanged). `shortestChain`
 * searches breadth-first from the most loaded node to any node with at least two fewer;
 * applying chains until none is left minimises the sum of squared loads (each chain
 * lowers it), so the loads end as even as the allowed sets permit.
 *
 * Worked example: items a (allowed 1, 2) and b (allowed 1, 3), both on node 1, and a base
 * of 1 on node 2: loads [2, 1, 0]. From node 1 a chain must end on a load <= 0: "a to
 * node 2" ends on load 1 (and node 2 has no item to pass on), "b to node 3" ends on 0.
 * Applied: loads [1, 1, 1].
 */
import type { NodeId } from '../raft/types.js';

/** An item on node `on`, allowed on `allowed` (ascending ids). */
export interface ChainItem {
  id: number;
  on: NodeId;
  allowed: readonly NodeId[];
}

/** One reassignment of a chain. */
export interface ChainStep {
  item: ChainItem;
  from: NodeId;
  to: NodeId;
}

/** Loads per node: a fixed base plus the items on each node. */
export class ChainBalancer {
  private readonly loads = new Map<NodeId, number>();
  private readonly byNode = new Map<NodeId, ChainItem[]>();

  /** `nodes` ascending; `base(node)` counts what is on a node besides `items`. */
  constructor(private readonly nodes: readonly NodeId[], base: (node: NodeId) => number, items: readonly ChainItem[]) {
    for (const node of nodes) {
      this.loads.set(node, base(node));
      this.byNode.set(node, []);
    }
    for (const item of [...items].sort((a, b) => a.id - b.id)) this.place(item, item.on);
  }

  /** The load of `node` (base plus items). */
  load(node: NodeId): number {
    return this.loads.get(node) ?? 0;
  }

  /** The least loaded of `nodes` (lowest id on ties). */
  leastLoaded(nodes: readonly NodeId[]): NodeId {
    return nodes.reduce((best, id) => (this.load(id) < this.load(best) || (this.load(id) === this.load(best) && id < best) ? id : best));
  }

  /** Adds an item, or moves one (`item.on` is updated). */
  place(item: ChainItem, on: NodeId): void {
    const list = this.byNode.get(item.on);
    const at = list?.indexOf(item) ?? -1;
    if (at >= 0) {
      list!.splice(at, 1);
      this.loads.set(item.on, this.load(item.on) - 1);
    }
    item.on = on;
    const target = this.byNode.get(on)!;
    target.splice(sortedIndex(target, item.id), 0, item);
    this.loads.set(on, this.load(on) + 1);
  }

  /** Keeps `item`'s load where it is but lets no later chain move it. */
  freeze(item: ChainItem): void {
    const list = this.byNode.get(item.on)!;
    list.splice(list.indexOf(item), 1);
  }

  /** The shortest chain from the most loaded node that lowers the spread, or null. */
  shortestChain(): ChainStep[] | null {
    const sources = [...this.nodes].sort((a, b) => this.load(b) - this.load(a) || a - b);
    for (const source of sources) {
      const chain = this.chainFrom(source);
      if (chain !== null) return chain;
    }
    return null;
  }

  /** Applies a chain's reassignments. */
  apply(chain: readonly ChainStep[]): void {
    for (const step of chain) this.place(step.item, step.to);
  }

  private chainFrom(source: NodeId): ChainStep[] | null {
    const limit = this.load(source) - 2;
    if (limit < 0) return null;
    const via = new Map<NodeId, ChainStep | null>([[source, null]]);
    const queue = [source];
    for (let head = 0; head < queue.length; head++) {
      const from = queue[head]!;
      for (const item of this.byNode.get(from)!) {
        for (const to of item.allowed) {
          if (via.has(to) || !this.loads.has(to)) continue;
          via.set(to, { item, from, to });
          if (this.load(to) <= limit) return unwind(via, to);
          queue.push(to);
        }
      }
    }
    return null;
  }
}

function sortedIndex(items: ChainItem[], id: number): number {
  let i = items.length;
  while (i > 0 && items[i - 1]!.id > id) i--;
  return i;
}

function unwind(via: Map<NodeId, ChainStep | null>, end: NodeId): ChainStep[] {
  const chain: ChainStep[] = [];
  for (let step = via.get(end)!; step !== null; step = via.get(step.from)!) chain.unshift(step);
  return chain;
}
