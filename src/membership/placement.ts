/**
 * Initial placement of group replicas over the first nodes (pure, deterministic).
 *
 * Group g (1-based) gets the replicas nodes[(g - 1 + k) mod N] for k = 0..R-1, N nodes
 * sorted by id, R = min(replicas, N). Every node therefore holds R*G/N replicas (+-1), and
 * the first replica of each list, the group's preferred leader, rotates over the nodes, so
 * leaders spread evenly too (leader balancing transfers leadership to the first live replica
 * in list order). Worked example, 3 nodes, 4 groups, R = 3:
 *   g1 [1,2,3]  g2 [2,3,1]  g3 [3,1,2]  g4 [1,2,3]
 */
import assert from 'node:assert';
import type { NodeId } from '../raft/types.js';
import { splitHashSpace } from './hash.js';
import type { MetaGroup } from './meta-state.js';

/** The most voters the meta group has; further nodes are learners of it. */
export const metaVotersMax = 5;

/** Ranges and replica lists for a brand-new cluster of `nodeIds`. */
export function initialPlacement(nodeIds: readonly NodeId[], groups: number, replicas: number): MetaGroup[] {
  assert(nodeIds.length >= 1, 'placement needs nodes');
  assert(replicas >= 1, 'replicas must be >= 1');
  const nodes = [...nodeIds].sort((a, b) => a - b);
  const count = Math.min(replicas, nodes.length);
  return splitHashSpace(groups).map((range, i) => {
    const list: NodeId[] = [];
    for (let k = 0; k < count; k++) list.push(nodes[(i + k) % nodes.length]!);
    return { id: i + 1, lo: range.lo, hi: range.hi, replicas: list, epoch: 1 };
  });
}

/** Voters and learners of the meta group (group 0) for the given nodes. */
export function metaMembers(nodeIds: readonly NodeId[]): { voters: NodeId[]; learners: NodeId[] } {
  const nodes = [...nodeIds].sort((a, b) => a - b);
  return { voters: nodes.slice(0, metaVotersMax), learners: nodes.slice(metaVotersMax) };
}

/**
 * The starting memory limit of a group replica, fixed in the meta config at bootstrap:
 * memcached's -m shared over the most replicas a first node holds (no floor: the node's
 * items never exceed -m). Every replica of a group must use the same limit, or eviction
 * (and so the state) would differ between replicas; groupMemoryBytes then adapts it.
 */
export function memoryBytesPerGroup(nodeMemoryBytes: number, nodes: number, groups: number, replicas: number): number {
  const replicasPerNode = Math.ceil((groups * Math.min(replicas, nodes)) / Math.max(1, nodes));
  return Math.max(1, Math.floor(nodeMemoryBytes / Math.max(1, replicasPerNode)));
}

/** What groupMemoryBytes reads of the meta view. */
export interface MemoryShareView {
  config: { memoryBytesPerGroup: number };
  nodes: ReadonlyArray<{ id: NodeId; memoryBytes?: number }>;
  groups: ReadonlyArray<{ id: number; replicas: readonly NodeId[] }>;
  moves: ReadonlyArray<{ group: number; to: NodeId }>;
}

/**
 * The memory limit group `group` should have now: for each node holding one of its
 * replicas (or receiving one in a move), that node's -m divided by the number of group
 * replicas it holds; the smallest of these. So on every node the limits of the groups it
 * holds add up to at most its -m, whatever the number of groups, and every replica of a
 * group gets the same figure (it is a pure function of the replicated meta view). The
 * group's leader proposes it as a `limit` entry of the group's own log, so replicas change
 * their limit at the same index. A node that has not registered its -m counts with the
 * bootstrap share. Worked example: -m 64 MiB on 3 nodes, 16 groups, 3 replicas: each node
 * holds 16 replicas, 4 MiB each; a fourth node joins and the 48 replicas spread 12 per
 * node: 5.33 MiB each.
 */
export function groupMemoryBytes(view: MemoryShareView, group: number): number {
  const held = new Map<NodeId, number>();
  const holders = new Set<NodeId>();
  const note = (g: number, id: NodeId): void => {
    held.set(id, (held.get(id) ?? 0) + 1);
    if (g === group) holders.add(id);
  };
  for (const g of view.groups) for (const id of g.replicas) note(g.id, id);
  for (const m of view.moves) if (m.to !== 0) note(m.group, m.to);
  let share = Infinity;
  for (const id of holders) {
    const memoryBytes = view.nodes.find((n) => n.id === id)?.memoryBytes;
    const nodeShare = memoryBytes === undefined ? view.config.memoryBytesPerGroup : Math.floor(memoryBytes / held.get(id)!);
    share = Math.min(share, nodeShare);
  }
  return share === Infinity ? view.config.memoryBytesPerGroup : Math.max(1, share);
}
