/**
 * A minority node: node 3's traffic with nodes 1 and 2 is dropped both ways (admin debug
 * endpoint, enabled for tests by MEMRAFT_DEBUG_ADMIN=1). The majority keeps serving; node
 * 3 answers SERVER_ERROR for every group (it can reach no quorum), never its stale data;
 * once healed it serves the new values.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKey, rangeIndexOf } from '../../src/membership/index.js';
import { ProcessCluster, TextClient } from './process-cluster.js';

let cluster: ProcessCluster;
const keys = Array.from({ length: 8 }, (_, i) => `part-${i}`);

beforeAll(async () => {
  cluster = await ProcessCluster.start(3, ['--groups', '4']);
});

afterAll(async () => {
  await cluster?.stop();
});

async function majorityLeadsEverything(): Promise<boolean> {
  const s = await cluster.status(1);
  return s !== null && s.groups.every((g) => g.leader === 1 || g.leader === 2);
}

describe('a partitioned minority node', () => {
  it('answers SERVER_ERROR, never stale data, and catches up when healed', async () => {
    const c1 = await TextClient.connect(cluster.clientPort(1));
    for (const k of keys) expect(await c1.set(k, 'old')).toBe('STORED\r\n');

    // A key of a group node 3 leads right now: once cut off, node 3 must answer its own
    // clients' write with SERVER_ERROR within the bounded time, not hang.
    const led = (await cluster.status(3))!.groups.filter((g) => g.id !== 0 && g.leader === 3).map((g) => g.id);
    let ledKey = '';
    for (let i = 0; led.length > 0 && ledKey === ''; i++) {
      if (led.includes(rangeIndexOf(hashKey(Buffer.from(`led-${i}`)), 4) + 1)) ledKey = `led-${i}`;
    }

    await cluster.block(3, [1, 2]);
    await cluster.block(1, [3]);
    await cluster.block(2, [3]);
    if (ledKey !== '') {
      const c3 = await TextClient.connect(cluster.clientPort(3));
      expect(await c3.set(ledKey, 'from-the-minority')).toMatch(/^SERVER_ERROR /);
      c3.close();
    }
    const deadline = Date.now() + 30_000;
    while (!(await majorityLeadsEverything())) {
      if (Date.now() > deadline) throw new Error('majority did not take over every group');
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const k of keys) expect(await c1.set(k, 'new')).toBe('STORED\r\n');

    // One connection per key, so the bounded forwarding waits run side by side.
    const minority = await Promise.all(keys.map(() => TextClient.connect(cluster.clientPort(3))));
    const replies = await Promise.all(keys.map((k, i) => minority[i]!.call(`get ${k}`)));
    for (const reply of replies) expect(reply).toMatch(/^SERVER_ERROR /);
    const write = await minority[0]!.set('part-minority', 'x');
    expect(write).toMatch(/^SERVER_ERROR /);

    await cluster.block(3, []);
    await cluster.block(1, []);
    await cluster.block(2, []);
    await cluster.waitReady([3]);
    for (const k of keys) expect(await minority[0]!.get(k)).toBe('new');
    for (const c of minority) c.close();
    c1.close();
  });
});
