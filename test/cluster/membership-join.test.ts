/**
 * Joining through the operator CLI and restarting a joined node, with real processes:
 * `memraft ctl join` records node 4 as `joining` (bad input is refused with exit 1 or 2),
 * node 4 then starts with --join and gets replicas. Later node 4 and the node it joined
 * through are both SIGKILLed, and node 4 restarted with the same arguments comes back
 * without that node: --join is used once per data directory.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MemberCluster, loads, missingThrough, runCli, settled, startWriters } from './membership-cluster.js';

let c: MemberCluster;
const acked = new Map<string, string>();
/** Node 4 joins through node 2's peer port. */
const via = 2;

beforeAll(async () => {
  c = await MemberCluster.start(3, 4, ['--groups', '8', '--fsync', 'never']);
}, 120_000);

afterAll(async () => {
  await c?.stop();
});

function ctlCli(...args: string[]): ReturnType<typeof runCli> {
  return runCli(['ctl', ...args, '--admin', `127.0.0.1:${c.adminPort(1)}`, '--admin-token', c.adminToken]);
}

it('refuses bad ctl join input clearly', async () => {
  const bad = await ctlCli('join', '7', 'nonsense');
  expect(bad.code).toBe(1);
  expect(bad.stdout).toContain('join node 7: bad peer address "nonsense"; want HOST:PORT');
  const usage = await ctlCli('join');
  expect(usage.code).toBe(2);
  expect(usage.stderr).toContain('Usage: memraft ctl');
  const noPeer = await ctlCli('join', '7');
  expect(noPeer.code).toBe(2);
  const badId = await ctlCli('join', 'x7', `127.0.0.1:${c.peerPort(1)}`);
  expect(badId.code).toBe(2);
  const unknown = await ctlCli('drain', '9');
  expect(unknown).toMatchObject({ code: 1, stdout: 'drain node 9: unknown node 9\n' });
  // A member's id with another address: refused, the recorded address stays (a typo must
  // not send new and restarted nodes to the wrong place).
  const taken = await ctlCli('join', '1', '127.0.0.1:1');
  expect(taken.code).toBe(1);
  expect(taken.stdout).toContain('join node 1: node 1 is already a member (up)');
  const s = await c.status();
  expect(s.nodes.map((n) => n.id)).toEqual([1, 2, 3]);
  expect(s.nodes.find((n) => n.id === 1)?.peer).toBe(`127.0.0.1:${c.peerPort(1)}`);
});

it('ctl join, then serve --join: the node comes up and gets replicas', async () => {
  const writers = startWriters(c, [1, 3], acked);
  const join = await ctlCli('join', '4', `127.0.0.1:${c.peerPort(4)}`);
  expect(join).toMatchObject({ code: 0, stdout: 'join node 4: ok\n' });
  expect((await c.status()).nodes.find((n) => n.id === 4)?.state).toBe('joining');
  const text = await ctlCli('status');
  expect(text.code).toBe(0);
  expect(text.stdout).toMatch(/^4 +joining /m);

  c.spawn(4, { via });
  const s = await c.until((x) => x.nodes.every((n) => n.state === 'up') && settled(x, 3) && (loads(x).get(4) ?? 0) >= 4, 'node 4 up with replicas');
  expect(s.nodes.map((n) => n.id)).toEqual([1, 2, 3, 4]);
  await writers.stop();
  expect(acked.size).toBeGreaterThan(50);
  for (const id of [1, 2, 3, 4]) expect(await missingThrough(c, id, acked)).toEqual([]);
});

it('a joined node restarts without the node it joined through', async () => {
  await c.kill(4);
  await c.kill(via);
  c.restart(4);
  const client = await c.connect(4);
  try {
    expect(await client.call('version')).toMatch(/^VERSION /);
    // At once, no waiting for ready: a write forwarded from a just restarted node used to
    // lose its answer (the leader's link to it was in backoff) and time out.
    // Keys of every group, so each leader answers a forwarded write.
    for (let i = 0; i < 32; i++) expect(await client.set(`after-restart-${i}`, `v${i}`)).toBe('STORED\r\n');
    for (let i = 0; i < 32; i++) expect(await client.get(`after-restart-${i}`)).toBe(`v${i}`);
    for (const [key, value] of [...acked].slice(-20)) expect(await client.get(key)).toBe(value);
  } finally {
    client.close();
  }
  expect(await missingThrough(c, 4, acked)).toEqual([]);
});

