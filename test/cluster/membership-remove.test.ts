/**
 * `ctl remove` is safe (issue 15): a live, reachable node is refused unless `--force`, with
 * the reason printed; forced, every group keeps RF replicas (a spare node takes each one
 * before the old one goes); the removed node stops serving and exits non-zero with a
 * one-line reason; restarted, it refuses to start. A node removed while it was down (it
 * never applied its removal) learns it from the meta leader at its restart and exits too.
 * Real processes, 4 nodes, 4 groups, RF 3.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MemberCluster, runCli, settled, type CtlStatus, type Exit } from './membership-cluster.js';
import { TextClient } from './process-cluster.js';

let c: MemberCluster;

beforeAll(async () => {
  c = await MemberCluster.start(4, 4, ['--groups', '4', '--replicas', '3']);
}, 120_000);

afterAll(async () => {
  await c?.stop();
});

const stateOf = (s: CtlStatus, id: number): string | undefined => s.nodes.find((n) => n.id === id)?.state;

function exitOf(id: number, timeoutMs: number): Promise<Exit> {
  const child = c.children.get(id)!;
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`node ${id} did not exit within ${timeoutMs} ms; output:\n${c.logOf(id)}`)), timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}

async function refusesClients(port: number): Promise<boolean> {
  try {
    (await TextClient.connect(port)).close();
    return false;
  } catch {
    return true;
  }
}

it('refuses to remove a live node without --force, and says why', async () => {
  const admin = `127.0.0.1:${c.adminPort(1)}`;
  const r = await runCli(['ctl', 'remove', '4', '--admin', admin, '--admin-token', c.adminToken]);
  expect(r.code, r.stdout + r.stderr).toBe(1);
  expect(r.stdout).toMatch(/remove node 4: node 4 is up and reachable: .*drain it .*--force/);
  expect(stateOf(await c.status(), 4)).toBe('up');
}, 60_000);

it('forced, keeps every group at RF and the removed node exits with its reason; restarted, it refuses to start', async () => {
  const admin = `127.0.0.1:${c.adminPort(1)}`;
  const exited = exitOf(4, 60_000);
  const r = await runCli(['ctl', 'remove', '4', '--force', '--admin', admin, '--admin-token', c.adminToken]);
  expect(r.code, r.stdout + r.stderr).toBe(0);
  // At once a meta learner, not a voter, while its replicas are re-created (it follows the
  // meta log until then): a voter about to exit would count in the meta quorum. The old
  // code kept it a voter until no group listed it, then removed it outright.
  await c.until((x) => stateOf(x, 4) === 'removed' && (x.groups.find((m) => m.id === 0)?.learners ?? []).includes(4), 'node 4 demoted to a meta learner', 30_000);
  // Every group lists 3 replicas throughout (a move adds before it removes).
  let minReplicas = 3;
  const s = await c.until((x) => {
    for (const g of x.groups) if (g.id !== 0) minReplicas = Math.min(minReplicas, g.replicas.length);
    return stateOf(x, 4) === 'removed' && settled(x, 3);
  }, 'node 4 removed, its replicas re-created');
  expect(minReplicas).toBe(3);
  expect(s.groups.filter((g) => g.id !== 0).every((g) => !g.replicas.includes(4))).toBe(true);
  const exit = await exited;
  c.children.delete(4);
  expect(exit.code).toBe(1);
  expect(c.logOf(4)).toMatch(/memraft: node 4 was removed from the cluster/);
  expect(c.logOf(4)).not.toMatch(/fatal/);
  expect(await refusesClients(c.clientPort(4))).toBe(true);

  c.restart(4); // its output starts afresh
  const again = await exitOf(4, 30_000);
  c.children.delete(4);
  expect(again.code).toBe(1);
  const out = c.logOf(4);
  expect(out).toMatch(/node 4 was removed from the cluster/);
  expect(out).not.toMatch(/"msg":"listening"/);
}, 150_000);

it('a node removed while down learns it at its restart and exits', async () => {
  // Node 4 (removed above) is no meta voter any more (demoted at its removal), so losing
  // node 3 leaves 2 of 3 meta voters: no wait for the config change.
  await c.kill(3);
  // Node 3 may have led the meta group: ask until a new meta leader answers.
  const deadline = Date.now() + 60_000;
  let r: unknown;
  while (!((r = await c.ctl('remove', 3)) as { ok?: boolean }).ok && Date.now() < deadline) await new Promise((f) => setTimeout(f, 500));
  expect(r).toMatchObject({ ok: true });
  await c.until((x) => stateOf(x, 3) === 'removed', 'node 3 removed');
  c.restart(3);
  const exit = await exitOf(3, 60_000);
  c.children.delete(3);
  expect(exit.code).toBe(1);
  expect(c.logOf(3)).toMatch(/node 3 was removed from the cluster/);
}, 120_000);
