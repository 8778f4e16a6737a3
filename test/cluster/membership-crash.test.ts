/**
 * Crashes in the middle of a move: while node 4 joins and replicas move onto it, SIGKILL
 * the meta leader (the new one resumes the move from its recorded phase), restart it, then
 * SIGKILL the source of a move in flight and restart it. One node is down at a time, so
 * every group keeps a quorum; at the end every move has completed or rolled back, every
 * group has RF replicas on up nodes and every acknowledged write is readable everywhere.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MemberCluster, missingThrough, settled, startWriters, type CtlStatus } from './membership-cluster.js';

let c: MemberCluster;
const acked = new Map<string, string>();

beforeAll(async () => {
  c = await MemberCluster.start(3, 4, ['--groups', '8', '--fsync', 'never', '--max-moves', '1']);
}, 120_000);

afterAll(async () => {
  await c?.stop();
});

async function restart(id: number): Promise<void> {
  await c.kill(id);
  c.spawn(id);
}

it('finishes or rolls back moves across meta-leader and source crashes', async () => {
  const writers = startWriters(c, [1, 2, 3], acked);
  c.spawn(4);
  const inFlight = (s: CtlStatus): boolean => s.moves.some((m) => m.from !== 0 && m.to === 4);
  let s = await c.until(inFlight, 'a move onto node 4');
  const metaLeader = s.groups.find((g) => g.id === 0)!.leader;
  await restart(metaLeader);
  s = await c.until((x) => inFlight(x) || x.moves.length === 0, 'meta leader back');
  s = await c.until(inFlight, 'another move onto node 4');
  const source = s.moves.find((m) => m.to === 4)!.from;
  await restart(source);
  s = await c.until((x) => x.nodes.every((n) => n.state === 'up') && settled(x, 3) && x.groups.some((g) => g.replicas.includes(4)), 'settled with node 4');
  await writers.stop();
  expect(acked.size).toBeGreaterThan(50);
  for (const id of [1, 2, 3, 4]) expect(await missingThrough(c, id, acked)).toEqual([]);
}, 240_000);
