/**
 * `serve --drain-on-exit` (a preStop hook's job done by the node itself): SIGTERM to a node
 * under a write load drains it first (its replicas move to the others, it is marked
 * `removed`), then the process exits by itself with code 0. First node 4 of 4; then, with
 * node 5 joined, the meta leader itself (it hands meta leadership away before it leaves the
 * meta group). No acknowledged write is lost. Last, with 3 nodes left (RF 3), a SIGTERM
 * cannot drain: the node says so and exits at once.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MemberCluster, loads, missingThrough, settled, startWriters, type CtlStatus } from './membership-cluster.js';

let c: MemberCluster;
const acked = new Map<string, string>();
const drainOnExit = { extra: ['--drain-on-exit'] };

beforeAll(async () => {
  c = await MemberCluster.start(4, 5, ['--groups', '8', '--fsync', 'never'], { 1: drainOnExit, 2: drainOnExit, 3: drainOnExit, 4: drainOnExit });
}, 120_000);

afterAll(async () => {
  // SIGKILL: the 3 nodes left cannot be drained (RF 3), so a SIGTERM would wait for the drain.
  for (const id of [...c?.children.keys() ?? []]) await c.kill(id);
  await c?.stop();
});

const stateOf = (s: CtlStatus, id: number): string | undefined => s.nodes.find((n) => n.id === id)?.state;
const metaLeader = (s: CtlStatus): number => s.groups.find((g) => g.id === 0)?.leader ?? 0;

/** SIGTERM `id`: it exits 0 by itself, `removed`, and the rest settle without it. */
async function terminateDrained(id: number, rest: number[]): Promise<void> {
  expect(await c.terminate(id)).toEqual({ code: 0, signal: null });
  // drainSelf returns only once the meta state says `removed`: no waiting needed for that.
  expect(stateOf(await c.status(), id)).toBe('removed');
  const s = await c.until((x) => settled(x, 3) && !x.groups.find((g) => g.id === 0)!.replicas.includes(id), `settled without node ${id}`);
  expect([...loads(s).keys()].sort()).toEqual(rest);
}

it('drains node 4 on SIGTERM, then exits 0', async () => {
  const writers = startWriters(c, [1, 2], acked);
  await c.until((s) => (loads(s).get(4) ?? 0) > 0 && acked.size >= 50, 'node 4 holds replicas under load');
  await terminateDrained(4, [1, 2, 3]);
  await writers.stop();
  expect(acked.size).toBeGreaterThan(50);
  for (const id of [1, 2, 3]) expect(await missingThrough(c, id, acked)).toEqual([]);
}, 180_000);

it('drains the meta leader on SIGTERM, then exits 0', async () => {
  c.spawn(5, drainOnExit);
  let s = await c.until((x) => stateOf(x, 5) === 'up' && settled(x, 3) && (loads(x).get(5) ?? 0) > 0 && metaLeader(x) !== 0, 'node 5 up with replicas');
  const leader = metaLeader(s);
  const rest = [1, 2, 3, 5].filter((id) => id !== leader);
  const writers = startWriters(c, rest.slice(0, 2), acked);
  await terminateDrained(leader, rest);
  s = await c.status();
  expect(rest).toContain(metaLeader(s));
  await writers.stop();
  for (const id of rest) expect(await missingThrough(c, id, acked)).toEqual([]);
}, 180_000);

it('exits at once without draining when the others cannot take its replicas (3 nodes, RF 3)', async () => {
  const up = (await c.status()).nodes.filter((n) => n.state === 'up').map((n) => n.id);
  expect(up).toHaveLength(3);
  const id = up[0]!;
  // Without the refusal's code, drainSelf would ask again for 5 minutes: terminate's bound fails first.
  expect(await c.terminate(id)).toEqual({ code: 0, signal: null });
  expect(c.logOf(id)).toMatch(/cannot drain: exiting without draining/);
  expect(stateOf(await c.status(), id)).toBe('up');
}, 180_000);
