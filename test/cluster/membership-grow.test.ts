/**
 * Grow 3 -> 5 nodes by `serve --join` under a steady write load, then shrink 5 -> 3 by
 * `ctl drain`: every acknowledged write stays readable through every remaining node, every
 * group ends with RF replicas on up nodes, and no node holds more than ceil(G*RF/N).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MemberCluster, loads, missingThrough, settled, startWriters } from './membership-cluster.js';

let c: MemberCluster;
const acked = new Map<string, string>();

beforeAll(async () => {
  c = await MemberCluster.start(3, 5, ['--groups', '8', '--fsync', 'never']);
}, 120_000);

afterAll(async () => {
  await c?.stop();
});

it('grows 3 -> 5 and shrinks back by drain without losing an acknowledged write', async () => {
  const writers = startWriters(c, [1, 2], acked);
  c.spawn(4);
  c.spawn(5);
  // Balanced: no node over ceil(G*RF/N). Waited for, not sampled: "settled" (no move in
  // flight) also holds for a moment between two planner passes while one node still holds 6.
  const balanced = (x: Parameters<typeof loads>[0]): boolean => [...loads(x).values()].every((n) => n <= Math.ceil((8 * 3) / 5));
  let s = await c.until((x) => x.nodes.filter((n) => n.state === 'up').length === 5 && settled(x, 3) && (loads(x).get(5) ?? 0) >= 4 && (loads(x).get(4) ?? 0) >= 4 && balanced(x), 'grown to 5, balanced');
  for (const n of loads(s).values()) expect(n).toBeLessThanOrEqual(Math.ceil((8 * 3) / 5));
  expect(await c.ctl('drain', 4)).toEqual({ ok: true });
  expect(await c.ctl('drain', 5)).toEqual({ ok: true });
  s = await c.until((x) => x.nodes.filter((n) => n.state === 'removed').length === 2 && settled(x, 3), 'drained 4 and 5');
  expect([...loads(s).keys()].sort()).toEqual([1, 2, 3]);
  await c.kill(4);
  await c.kill(5);
  await new Promise((r) => setTimeout(r, 1000)); // a little more load on the shrunk cluster
  await writers.stop();
  expect(acked.size).toBeGreaterThan(100);
  for (const id of [1, 2, 3]) expect(await missingThrough(c, id, acked)).toEqual([]);
}, 240_000);
