/**
 * groupMemoryBytes (issue 15): a group's limit is the smallest share of -m among the nodes
 * holding it, so the limits of the groups on any node add up to at most its -m, whatever
 * the number of groups (no per-group floor).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { groupMemoryBytes, initialPlacement, memoryBytesPerGroup } from '../../src/membership/placement.js';

const mib = 1024 * 1024;

describe('memory shares', () => {
  it('one node with -m 8 and 16 groups: 16 limits of 0.5 MiB (it was 16 x 1 MiB)', () => {
    const view = {
      config: { memoryBytesPerGroup: memoryBytesPerGroup(8 * mib, 1, 16, 3) },
      nodes: [{ id: 1, memoryBytes: 8 * mib }],
      groups: initialPlacement([1], 16, 3),
      moves: [],
    };
    expect(view.config.memoryBytesPerGroup).toBe(mib / 2);
    const total = view.groups.reduce((sum, g) => sum + groupMemoryBytes(view, g.id), 0);
    expect(total).toBe(8 * mib);
  });

  it('on every node, the limits of the groups it holds (moves included) add up to at most its -m', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 7 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 3 }),
        fc.array(fc.integer({ min: 1, max: 4096 }), { minLength: 7, maxLength: 7 }),
        fc.boolean(),
        (n, groups, replicas, memories, withMove) => {
          const ids = Array.from({ length: n }, (_, i) => i + 1);
          const nodes = ids.map((id) => ({ id, memoryBytes: memories[id - 1]! * 1024 }));
          const placed = initialPlacement(ids, groups, replicas);
          const spare = ids.find((id) => !placed[0]!.replicas.includes(id));
          const moves = withMove && spare !== undefined ? [{ group: 1, to: spare }] : [];
          const view = { config: { memoryBytesPerGroup: 1 }, nodes, groups: placed, moves };
          for (const node of nodes) {
            const held = placed.filter((g) => g.replicas.includes(node.id) || moves.some((m) => m.group === g.id && m.to === node.id));
            const sum = held.reduce((s, g) => s + groupMemoryBytes(view, g.id), 0);
            expect(sum).toBeLessThanOrEqual(Math.max(node.memoryBytes, held.length));
          }
        },
      ),
      { numRuns: 300, seed: 15 },
    );
  });
});
