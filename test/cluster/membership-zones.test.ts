/**
 * Zones with real processes (issue 15, item 7): 6 nodes in 3 zones (`--zone a|b|c`, two
 * nodes each), 6 groups, RF 3. The initial placement puts two replicas of a group in one
 * zone (it knows no zones); once the nodes have registered their zones the planner spreads
 * every group over the 3 zones, and draining a node keeps it so (its zone-mate takes its
 * replicas). Writes acknowledged before read back afterwards.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MemberCluster, missingThrough, settled, startWriters, type CtlStatus } from './membership-cluster.js';

const zones: Record<number, string> = { 1: 'a', 2: 'a', 3: 'b', 4: 'b', 5: 'c', 6: 'c' };
let c: MemberCluster;
const acked = new Map<string, string>();

beforeAll(async () => {
  const nodeOptions = Object.fromEntries(Object.entries(zones).map(([id, zone]) => [Number(id), { extra: ['--zone', zone] }]));
  c = await MemberCluster.start(6, 6, ['--groups', '6', '--replicas', '3', '--fsync', 'never'], nodeOptions);
}, 180_000);

afterAll(async () => {
  await c?.stop();
});

/** Every data group has 3 replicas in 3 distinct zones, as the meta state records the zones. */
function spread(s: CtlStatus): boolean {
  const zoneOf = new Map(s.nodes.map((n) => [n.id, n.zone]));
  return s.groups.filter((g) => g.id !== 0).every((g) => new Set(g.replicas.map((id) => zoneOf.get(id))).size === 3);
}

it('spreads every group over 3 zones, and keeps it so while a node drains', async () => {
  let s = await c.until((x) => x.nodes.every((n) => n.zone === zones[n.id]), 'zones registered');
  const writers = startWriters(c, [3, 5], acked);
  s = await c.until((x) => settled(x, 3) && spread(x), 'every group in 3 zones', 120_000);
  expect(spread(s)).toBe(true);
  await c.ctl('drain', 1);
  // Throughout the drain the meta state never lists two replicas of a group in one zone:
  // the drained node's replicas go to node 2, its zone-mate.
  let everNarrow = false;
  s = await c.until((x) => {
    if (!spread(x)) everNarrow = true;
    return x.nodes.find((n) => n.id === 1)?.state === 'removed' && settled({ ...x, nodes: x.nodes.filter((n) => n.id !== 1) }, 3);
  }, 'node 1 drained', 120_000);
  expect(everNarrow).toBe(false);
  expect(spread(s)).toBe(true);
  expect(s.groups.filter((g) => g.id !== 0).every((g) => g.replicas.includes(2))).toBe(true);
  await writers.stop();
  expect(acked.size).toBeGreaterThan(20);
  expect(await missingThrough(c, 3, acked)).toEqual([]);
}, 300_000);
