/**
 * Regression: a response must reach a requester whose link from us was down (or still dialling). Node 1 knows
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
let gate: Gate | null = null;
afterEach(async () => {
  await closeAll(nodes);
  nodes = [];
  await gate?.close();
  gate = null;
});

/**
 * A listener in front of a node that, while shut, accepts connections and never answers nor
 * forwards them (what a dial begun during a cut, or to a SIGSTOPped process, sees: connected
 * or not, nothing comes back); once open, new connections reach the node.
 */
class Gate {
  open = false;
  readonly held: net.Socket[] = [];
  /** Bytes the held connections sent (a dialler's hello), read and discarded. */
  heldBytes = 0;
  private readonly piped: net.Socket[] = [];
  private readonly server: net.Server;
  port = 0;

  constructor(private readonly targetPort: number) {
    this.server = net.createServer((c) => {
      c.on('error', () => {});
      if (!this.open) {
        this.held.push(c);
        c.on('data', (chunk: Buffer) => (this.heldBytes += chunk.length));
        return;
      }
      const up = net.connect({ host, port: this.targetPort });
      up.on('error', () => c.destroy());
      c.on('close', () => up.destroy());
      up.on('close', () => c.destroy());
      c.pipe(up).pipe(c);
      this.piped.push(c, up);
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, host, r));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const s of [...this.held, ...this.piped]) s.destroy();
    await new Promise((r) => this.server.close(r));
  }
}

/** Resolves once `pred()` holds (polled: the conditions here have no event of their own). */
function until(pred: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const poll = setInterval(() => {
      if (!pred()) return;
      clearInterval(poll);
      resolve();
    }, 5);
  });
}

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

it('answers a peer that connects while our dial to it hangs (begun during the cut), without waiting out the dial', async () => {
  // A long handshake timeout: without the fix the answer waits for it (and the request times out first).
  const a = await startNode(1, { handshakeTimeoutMs: 60_000 });
  nodes.push(a);
  a.t.onRequest((from, payload) => ({ from, echo: payload }));
  const b = await startNode(2);
  nodes.push(b);
  gate = new Gate(b.port);
  await gate.start();
  a.t.setPeer(2, { host, port: gate.port });
  await until(() => gate!.heldBytes > 0); // node 1's dial is accepted and its hello lost
  expect(a.t.stats().connects).toBe(0);
  gate.open = true; // the heal: the hung dial stays hung, a new one would pass
  // Not a synchronisation: only a dial older than a heartbeat (100 ms) counts as lost.
  await new Promise((r) => setTimeout(r, 200));

  b.t.setPeer(1, { host, port: a.port });
  await expect(b.t.request(1, 'read?', 5000)).resolves.toEqual({ from: 2, echo: 'read?' });
});

it('keeps an answer queued on a dial that never came up for the next connection', async () => {
  // Node 2's link to node 1 is up first, so node 1 redials nothing when node 2 connects.
  const a = await startNode(1, { handshakeTimeoutMs: 1000 });
  nodes.push(a);
  a.t.onRequest((from, payload) => ({ from, echo: payload }));
  const b = await startNode(2);
  nodes.push(b);
  b.t.setPeer(1, { host, port: a.port });
  await b.probe.until(() => b.t.isPeerUp(1));
  gate = new Gate(b.port);
  await gate.start();
  a.t.setPeer(2, { host, port: gate.port });
  await until(() => gate!.heldBytes > 0);
  // Node 1's answer is queued on the hung dial; the network heals; the dial times out.
  const answer = b.t.request(1, 'write?', 5000);
  await until(() => a.t.stats().requestsReceived >= 1);
  gate.open = true;
  await expect(answer).resolves.toEqual({ from: 2, echo: 'write?' });
});
