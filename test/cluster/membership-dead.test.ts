/**
 * Replacing a dead node: one of 4 nodes is SIGKILLed for good; after --dead-after (3 s
 * here) the meta leader marks it dead and re-creates its replicas on the other three, so
 * every group is back at RF replicas on live nodes and every acknowledged write readable.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MemberCluster, missingThrough, settled, startWriters } from './membership-cluster.js';

let c: MemberCluster;
const acked = new Map<string, string>();

beforeAll(async () => {
  c = await MemberCluster.start(4, 4, ['--groups', '8', '--fsync', 'never', '--dead-after', '3s']);
}, 120_000);

afterAll(async () => {
  await c?.stop();
});

it('re-creates a dead node\'s replicas on the others', async () => {
  const writers = startWriters(c, [1, 2], acked);
  await c.until((s) => s.groups.some((g) => g.replicas.includes(4)), 'node 4 holds replicas');
  await c.kill(4);
  const s = await c.until((x) => x.nodes.find((n) => n.id === 4)?.state === 'dead' && x.moves.length === 0 && x.groups.filter((g) => g.id !== 0).every((g) => g.replicas.length === 3 && !g.replicas.includes(4)), 'replicas off node 4');
  expect(settled({ ...s, nodes: s.nodes.filter((n) => n.id !== 4) }, 3)).toBe(true);
  await writers.stop();
  expect(acked.size).toBeGreaterThan(50);
  for (const id of [1, 2, 3]) expect(await missingThrough(c, id, acked)).toEqual([]);
}, 180_000);
