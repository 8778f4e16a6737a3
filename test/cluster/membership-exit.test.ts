/**
 * `serve --drain-on-exit` (a preStop hook's job done by the node itself): SIGTERM to node 4
 * of 4 under a write load drains it first (its replicas move to nodes 1..3, it is marked
 * `removed`), then the process exits by itself with code 0. No acknowledged write is lost.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MemberCluster, loads, missingThrough, settled, startWriters } from './membership-cluster.js';

let c: MemberCluster;
const acked = new Map<string, string>();

beforeAll(async () => {
  c = await MemberCluster.start(4, 4, ['--groups', '8', '--fsync', 'never'], { 4: { extra: ['--drain-on-exit'] } });
}, 120_000);

afterAll(async () => {
  await c?.stop();
});

it('drains node 4 on SIGTERM, then exits 0', async () => {
  const writers = startWriters(c, [1, 2], acked);
  await c.until((s) => (loads(s).get(4) ?? 0) > 0 && acked.size >= 50, 'node 4 holds replicas under load');
  const exit = await c.terminate(4);
  expect(exit).toEqual({ code: 0, signal: null });
  // drainSelf returns only once the meta state says `removed`: no waiting needed for that.
  let s = await c.status();
  expect(s.nodes.find((n) => n.id === 4)?.state).toBe('removed');
  s = await c.until((x) => settled(x, 3) && !x.groups.find((g) => g.id === 0)!.replicas.includes(4), 'settled on 1..3, node 4 out of the meta group');
  expect([...loads(s).keys()].sort()).toEqual([1, 2, 3]);
  await writers.stop();
  expect(acked.size).toBeGreaterThan(50);
  for (const id of [1, 2, 3]) expect(await missingThrough(c, id, acked)).toEqual([]);
}, 180_000);
