import net from 'node:net';
import { once } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TransportRemoteError, TransportTimeoutError, TransportUnreachableError } from '../../src/transport/index.js';
import { closeAll, host, startCluster, startNode, type TestNode } from './helpers.js';

// Everything here completes in well under a second; a hang should fail fast, not after 2 minutes.
vi.setConfig({ testTimeout: 30_000 });

let nodes: TestNode[] = [];
afterEach(async () => {
  await closeAll(nodes);
  nodes = [];
});

describe('transport: request/response', () => {
  it('answers with the handler result, sync or async, with binary payloads intact', async () => {
    nodes = await startCluster(2);
    const [a, b] = nodes;
    b.t.onRequest((from, payload) => {
      const p = payload as { op: string; v: Buffer };
      if (p.op === 'echo') return { from, v: p.v };
      return Promise.resolve({ from, len: p.v.length });
    });
    const v = Buffer.from([0, 1, 2, 255]);
    await expect(a.t.request(2, { op: 'echo', v }, 5000)).resolves.toEqual({ from: 1, v });
    await expect(a.t.request(2, { op: 'len', v }, 5000)).resolves.toEqual({ from: 1, len: 4 });
  });

  it('multiplexes many concurrent requests in both directions', async () => {
    nodes = await startCluster(3);
    for (const n of nodes) n.t.onRequest(async (from, payload) => ({ by: n.id, from, x: payload }));
    const calls: Promise<unknown>[] = [];
    const expected: unknown[] = [];
    for (const src of nodes) {
      for (const dst of nodes) {
        if (src === dst) continue;
        for (let i = 0; i < 200; i++) {
          calls.push(src.t.request(dst.id, i, 10_000));
          expected.push({ by: dst.id, from: src.id, x: i });
        }
      }
    }
    expect(await Promise.all(calls)).toEqual(expected);
  });

  it('reports a throwing handler as TransportRemoteError with the remote code', async () => {
    nodes = await startCluster(2);
    nodes[1].t.onRequest(() => {
      throw Object.assign(new Error('no leader'), { code: 'ENOLEADER' });
    });
    const err = await nodes[0].t.request(2, 'x', 5000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportRemoteError);
    expect(err).toMatchObject({ code: 'EREMOTE', remoteCode: 'ENOLEADER' });

    nodes[1].t.onRequest(() => Promise.reject(new Error('async failure')));
    await expect(nodes[0].t.request(2, 'x', 5000)).rejects.toMatchObject({ remoteCode: 'EREMOTE', message: /async failure/ });
  });

  it('answers ENOHANDLER when the peer has no request handler', async () => {
    nodes = await startCluster(2);
    await expect(nodes[0].t.request(2, 'x', 5000)).rejects.toMatchObject({ remoteCode: 'ENOHANDLER' });
  });

  it('times out with ETIMEDOUT when no answer comes, and ignores the late answer', async () => {
    nodes = await startCluster(2);
    let release: (v: unknown) => void = () => {};
    nodes[1].t.onRequest(() => new Promise((resolve) => (release = resolve)));
    const err = await nodes[0].t.request(2, 'slow', 30).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportTimeoutError);
    expect(err).toMatchObject({ code: 'ETIMEDOUT' });
    expect(nodes[0].t.stats().requestsTimedOut).toBe(1);
    release('late');
    // The late response must be dropped quietly; a fresh request still works.
    nodes[1].t.onRequest(() => 'fresh');
    await expect(nodes[0].t.request(2, 'again', 5000)).resolves.toBe('fresh');
  });

  it('times out requests dropped by the link filter (a partition)', async () => {
    nodes = await startCluster(2);
    nodes[1].t.onRequest(() => 'answer');
    nodes[0].t.setLinkFilter(() => false);
    await expect(nodes[0].t.request(2, 'x', 30)).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    // Responses are outgoing traffic too: block only node 2's answers.
    nodes[0].t.setLinkFilter(null);
    nodes[1].t.setLinkFilter(() => false);
    await expect(nodes[0].t.request(2, 'x', 30)).rejects.toMatchObject({ code: 'ETIMEDOUT' });
  });

  it('fails fast with EUNREACHABLE for a down or unknown peer', async () => {
    const a = await startNode(1);
    nodes = [a];
    await expect(a.t.request(7, 'x', 60_000)).rejects.toMatchObject({ code: 'EUNREACHABLE', notSent: true });
    const closed = net.createServer();
    closed.listen(0, host);
    await once(closed, 'listening');
    const port = (closed.address() as net.AddressInfo).port;
    closed.close();
    a.t.setPeer(2, { host, port });
    await a.probe.until(() => a.status.some((s) => s.id === 2 && !s.up));
    const err = await a.t.request(2, 'x', 60_000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportUnreachableError);
    expect(err).toMatchObject({ notSent: true });
  });

  it('fails pending requests when the connection to the peer drops', async () => {
    nodes = await startCluster(2);
    const [a, b] = nodes;
    let arrived = false;
    b.t.onRequest(() => {
      arrived = true;
      b.probe.notify();
      return new Promise(() => {}); // never answers
    });
    const pending = a.t.request(2, 'x', 60_000).catch((e: unknown) => e);
    await b.probe.until(() => arrived);
    await b.t.close();
    const err = await pending;
    expect(err).toMatchObject({ code: 'EUNREACHABLE', notSent: false });
  });

  it('answers a node it does not know through the address that node advertised (joins)', async () => {
    const a = await startNode(1);
    const j = await startNode(5);
    nodes = [a, j];
    a.t.onRequest((from, payload) => ({ welcome: from, payload }));
    j.t.setPeer(1, { host, port: a.port }); // a has no entry for node 5
    await expect(j.t.request(1, 'join me', 5000)).resolves.toEqual({ welcome: 5, payload: 'join me' });
    // Plain messages reach the joiner the same way.
    a.t.send(5, 'hello joiner');
    await j.probe.until(() => j.from(1).length === 1);
    // Once the joiner becomes a configured peer at that address, the same link carries on.
    const connects = a.t.stats().connects;
    a.t.setPeer(5, { host, port: j.port });
    a.t.send(5, 'member now');
    await j.probe.until(() => j.from(1).length === 2);
    expect(a.t.stats().connects).toBe(connects);
  });
});
