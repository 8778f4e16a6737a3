/**
 * Failure detection by more than one observer (issue 10, item 4), with real processes: a
 * node cut off from the meta leader only (that one link, both ways, through the test-only
 * /debug/block hook) stays up past several --dead-after, because the other voter still
 * hears it; the same node stopped is marked dead (both voters agree).
 * 3 nodes, --dead-after 2s.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MemberCluster } from './membership-cluster.js';

let c: MemberCluster;
const previousDebug = process.env.MEMRAFT_DEBUG_ADMIN;

beforeAll(async () => {
  process.env.MEMRAFT_DEBUG_ADMIN = '1'; // the children inherit it: /debug/block
  c = await MemberCluster.start(3, 3, ['--groups', '3', '--fsync', 'never', '--dead-after', '2s']);
}, 120_000);

afterAll(async () => {
  if (previousDebug === undefined) delete process.env.MEMRAFT_DEBUG_ADMIN;
  else process.env.MEMRAFT_DEBUG_ADMIN = previousDebug;
  await c?.stop();
});

async function block(id: number, peers: number[]): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${c.adminPort(id)}/debug/block?peers=${peers.join(',')}`, { method: 'POST' });
  expect(res.status).toBe(200);
}

it('a node cut off from the meta leader only is not declared dead; stopped, it is', async () => {
  const s = await c.status();
  const leader = s.groups.find((g) => g.id === 0)!.leader;
  const cut = [1, 2, 3].find((id) => id !== leader)!;
  await block(leader, [cut]);
  await block(cut, [leader]);
  const states = new Set<string>();
  // Several --dead-after (2 s) periods; the meta leader may change meanwhile (the cut node
  // hears no heartbeats), and whichever node leads must not mark `cut` dead.
  const until = Date.now() + 12_000;
  while (Date.now() < until) {
    try {
      const x = await c.status();
      states.add(x.nodes.find((n) => n.id === cut)!.state);
    } catch {
      // between meta leaders
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  expect([...states]).toEqual(['up']);
  await block(leader, []);
  await block(cut, []);
  await c.kill(cut);
  await c.until((x) => x.nodes.find((n) => n.id === cut)?.state === 'dead', `stopped node ${cut} marked dead`, 60_000);
}, 120_000);
