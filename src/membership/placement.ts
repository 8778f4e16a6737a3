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
 * Memory per group replica such that a node holding its fair share of replicas uses about
 * `nodeMemoryBytes` in total. Every replica of a group must use the same limit, or
 * eviction (and so the state) would differ between replicas.
 */
export function memoryBytesPerGroup(nodeMemoryBytes: number, nodes: number, groups: number, replicas: number): number {
  const replicasPerNode = (groups * Math.min(replicas, nodes)) / nodes;
  return Math.max(1024 * 1024, Math.floor(nodeMemoryBytes / Math.max(1, replicasPerNode)));
}
