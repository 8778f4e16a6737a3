/**
 * Regression: a response must reach a requester whose link from us was down. Node 1 knows
 * node 2's address before node 2 runs (`memraft ctl join` records it; a restarted node is
 * the same case), so node 1's link to node 2 sits in reconnect backoff. Node 2 starts and
 * asks node 1 something: the answer used to be dropped with the Raft messages of a peer
 * "known down", and node 2's join (or forwarded write) timed out.
 */
import net from 'node:net';
import { afterEach, expect, it, vi } from 'vitest';
import { closeAll, host, startNode, type TestNode } from './helpers.js';

vi.setConfig({ testTimeout: 30_000 });

let nodes: TestNode[] = [];
afterEach(async () => {
  await closeAll(nodes);
  nodes = [];
});

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, host, r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

it('answers a peer that connects while our link to it is in backoff', async () => {
  // A long backoff: without the fix the answer waits for it (and the request times out first).
  const a = await startNode(1, { reconnectDelayMsMin: 60_000, reconnectDelayMsMax: 60_000 });
  nodes.push(a);
  a.t.onRequest((from, payload) => ({ from, echo: payload }));
  const port = await freePort();
  a.t.setPeer(2, { host, port });
  await a.probe.until(() => a.status.some((s) => s.id === 2 && !s.up));

  const b = await startNode(2, { listen: { host, port } });
  nodes.push(b);
  b.t.setPeer(1, { host, port: a.port });
  await expect(b.t.request(1, 'join?', 20_000)).resolves.toEqual({ from: 2, echo: 'join?' });
});
