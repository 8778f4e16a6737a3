/**
 * The meta group beyond 5 nodes: of 6 nodes, 5 are meta voters and the sixth a learner.
 * Draining a voter removes it from the meta config and promotes the learner (5 voters
 * again). Then the meta leader is SIGKILLed: a new one is elected, a further drain is
 * accepted while the old leader is down and completes once it is back, and every
 * acknowledged write stays readable.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MemberCluster, missingThrough, settled, startWriters, type CtlStatus } from './membership-cluster.js';

let c: MemberCluster;
const acked = new Map<string, string>();

beforeAll(async () => {
  c = await MemberCluster.start(3, 6, ['--groups', '8', '--fsync', 'never']);
}, 120_000);

afterAll(async () => {
  await c?.stop();
});

function meta(s: CtlStatus): { voters: number[]; learners: number[]; leader: number } {
  const g = s.groups.find((x) => x.id === 0)!;
  return { voters: [...(g.voters ?? [])].sort(), learners: [...(g.learners ?? [])].sort(), leader: g.leader };
}

function stateOf(s: CtlStatus, id: number): string | undefined {
  return s.nodes.find((n) => n.id === id)?.state;
}

const upCount = (s: CtlStatus): number => s.nodes.filter((n) => n.state === 'up').length;

it('keeps 5 meta voters, promotes a learner when a voter leaves, survives losing the meta leader', async () => {
  const writers = startWriters(c, [1, 3], acked);
  c.spawn(4);
  c.spawn(5);
  await c.until((s) => meta(s).voters.length === 5, 'nodes 4 and 5 meta voters');
  // Node 6 joins only now, so it is the one left a learner (promotion order is by catch-up).
  c.spawn(6);
  let s = await c.until((x) => upCount(x) === 6 && settled(x, 3) && meta(x).learners.length === 1, 'six nodes up and settled');
  expect(meta(s)).toMatchObject({ voters: [1, 2, 3, 4, 5], learners: [6] });

  expect(await c.ctl('drain', 2)).toEqual({ ok: true });
  s = await c.until((x) => stateOf(x, 2) === 'removed' && settled(x, 3) && meta(x).voters.length === 5 && meta(x).learners.length === 0, 'node 2 drained, learner promoted');
  expect(meta(s).voters).toEqual([1, 3, 4, 5, 6]);
  await c.kill(2);

  const oldLeader = meta(s).leader;
  await c.kill(oldLeader);
  // The new meta leader shows a live leader for every group, those it holds no replica of too.
  s = await c.until((x) => meta(x).leader !== 0 && meta(x).leader !== oldLeader &&
    x.groups.every((g) => g.id === 0 || (g.leader !== 0 && g.leader !== oldLeader && g.replicas.includes(g.leader))), 'a new meta leader that knows every group leader');
  const next = [3, 1, 4, 5, 6].find((id) => id !== oldLeader)!;
  expect(await c.ctl('drain', next)).toEqual({ ok: true });
  c.restart(oldLeader);
  s = await c.until((x) => stateOf(x, next) === 'removed' && upCount(x) === 4 && settled(x, 3) && !meta(x).voters.includes(next), `node ${next} drained`);
  const up = s.nodes.filter((n) => n.state === 'up').map((n) => n.id).sort();
  expect(meta(s)).toMatchObject({ voters: up, learners: [] });
  await c.kill(next);

  await writers.stop();
  expect(acked.size).toBeGreaterThan(50);
  for (const id of up) expect(await missingThrough(c, id, acked)).toEqual([]);
}, 240_000);
