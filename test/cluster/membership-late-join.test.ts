/**
 * A join long after the meta leader's election (found by jepsen-lite, membership,all seed
 * 14): the meta leader counted a new node's silence from its own election, so a node that
 * joined more than --dead-after later was marked dead at once, never added to the meta
 * group, and so never learned the cluster or came up (when the pass that saw it had another
 * meta config change to make first). With --dead-after 2s here, node 4 joins after the
 * cluster has run for longer than that: it must come up with replicas, never marked dead.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MemberCluster, settled } from './membership-cluster.js';

let c: MemberCluster;

beforeAll(async () => {
  c = await MemberCluster.start(3, 4, ['--groups', '4', '--fsync', 'never', '--dead-after', '2s']);
}, 120_000);

afterAll(async () => {
  await c?.stop();
});

it('brings up a node that joins later than --dead-after after the meta election', async () => {
  // The scenario itself, not synchronisation: the meta leader must have led for > 2 s.
  await new Promise((r) => setTimeout(r, 3000));
  c.spawn(4);
  const s = await c.until((x) => x.nodes.find((n) => n.id === 4)?.state === 'up' && x.groups.some((g) => g.id !== 0 && g.replicas.includes(4)) && settled(x, 3), 'node 4 up with replicas', 60_000);
  expect(s.groups.find((g) => g.id === 0)!.replicas).toContain(4);
  // Never marked dead on the way (it was not silent: it had only just joined). When that
  // happened in the same pass as another meta config change, the node stayed dead for good.
  for (const id of [1, 2, 3]) expect(c.logOf(id)).not.toMatch(/"dead":4,.*node marked dead/);
}, 120_000);
