import { once } from 'node:events';
import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { encodeFrame, Transport } from '../../src/transport/index.js';
import { closeAll, host, rawClient, rawPeerServer, startCluster, startNode, type TestNode } from './helpers.js';

// Everything here completes in well under a second; a hang should fail fast, not after 2 minutes.
vi.setConfig({ testTimeout: 30_000 });

let nodes: TestNode[] = [];
afterEach(async () => {
  await closeAll(nodes);
  nodes = [];
});

describe('transport: batches between real transports', () => {
  it('delivers everything sent to a peer in one turn as one batch, both directions', async () => {
    nodes = await startCluster(2);
    const [a, b] = nodes;
    a.t.send(2, { n: 1 });
    a.t.send(2, { n: 2 });
    a.t.send(2, { n: 3 });
    await b.probe.until(() => b.batches.length === 1);
    expect(b.batches[0]).toEqual({ from: 1, msgs: [{ n: 1 }, { n: 2 }, { n: 3 }] });
    expect(a.t.stats().framesSent).toBe(1);
    expect(a.t.stats().messagesSent).toBe(3);

    b.t.send(1, 'pong');
    await a.probe.until(() => a.batches.length === 1);
    expect(a.batches[0]).toEqual({ from: 2, msgs: ['pong'] });
    expect(b.t.stats().framesReceived).toBe(1);
    expect(b.t.stats().bytesReceived).toBe(a.t.stats().bytesSent);
  });

  it('preserves per-peer order across turns among three nodes, and binary payloads survive', async () => {
    nodes = await startCluster(3);
    const turns = 20;
    const perTurn = 25;
    for (let turn = 0; turn < turns; turn++) {
      for (const src of nodes) {
        for (const dst of nodes) {
          if (src === dst) continue;
          for (let i = 0; i < perTurn; i++) {
            const seq = turn * perTurn + i;
            src.t.send(dst.id, { seq, buf: Buffer.from([src.id, dst.id, seq & 0xff]), u8: new Uint8Array([seq % 7]) });
          }
        }
      }
      await new Promise((resolve) => setImmediate(resolve)); // next event-loop turn, not a delay
    }
    const total = turns * perTurn;
    for (const dst of nodes) {
      await dst.probe.until(() => nodes.every((src) => src === dst || dst.from(src.id).length === total));
      for (const src of nodes) {
        if (src === dst) continue;
        const got = dst.from(src.id) as { seq: number; buf: Buffer; u8: Uint8Array }[];
        expect(got.map((m) => m.seq)).toEqual([...Array(total).keys()]);
        for (const m of got) {
          expect(Buffer.isBuffer(m.buf)).toBe(true);
          expect([...m.buf]).toEqual([src.id, dst.id, m.seq & 0xff]);
          expect(m.u8).toBeInstanceOf(Uint8Array);
          expect([...m.u8]).toEqual([m.seq % 7]);
        }
      }
      // Coalescing: no more frames than turns per sender.
      expect(dst.batches.length).toBeLessThanOrEqual(turns * 2);
    }
  });

  it('carries large messages (several MiB) intact', async () => {
    nodes = await startCluster(2);
    const big = Buffer.alloc(5 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4096) big[i] = i & 0xff;
    nodes[0].t.send(2, { big });
    await nodes[1].probe.until(() => nodes[1].batches.length === 1);
    expect((nodes[1].batches[0].msgs[0] as { big: Buffer }).big.equals(big)).toBe(true);
  });
});

describe('transport: authentication and bad input', () => {
  it('refuses a peer with the wrong secret and delivers nothing from it', async () => {
    const a = await startNode(1);
    const c = await startNode(3, { secret: 'wrong' });
    nodes = [a, c];
    c.t.setPeer(1, { host, port: a.port });
    c.t.send(1, 'should not arrive');
    await c.probe.until(() => c.status.some((s) => s.id === 1 && !s.up));
    await a.probe.until(() => a.logs.some((l) => String(l['msg']).includes('failed to prove')));
    const warning = a.logs.find((l) => String(l['msg']).includes('failed to prove'))!;
    expect(warning['remote']).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(a.t.stats().handshakeFailures).toBeGreaterThanOrEqual(1);
    expect(c.t.isPeerUp(1)).toBe(false);
    expect(a.batches).toEqual([]);
  });

  it('refuses to talk to a listener that cannot prove the secret (client side check)', async () => {
    const fake = await rawPeerServer(1, 'not the secret');
    const c = await startNode(3);
    nodes = [c];
    try {
      c.t.setPeer(1, { host, port: fake.port });
      await c.probe.until(() => c.logs.some((l) => String(l['msg']).includes('failed to prove')));
      expect(c.t.isPeerUp(1)).toBe(false);
      c.t.send(1, 'not sent');
      expect(c.t.stats().framesSent).toBe(0);
    } finally {
      fake.close();
    }
  });

  it('refuses a node that reaches the wrong node id at an address', async () => {
    const a = await startNode(1);
    const c = await startNode(3);
    nodes = [a, c];
    c.t.setPeer(2, { host, port: a.port }); // node 1 listens there, not node 2
    await c.probe.until(() => c.logs.some((l) => String(l['msg']).includes('expected node 2, found node 1')));
    expect(c.t.isPeerUp(2)).toBe(false);
  });

  it('disconnects memcached clients (text, meta, binary) without answering them', async () => {
    nodes = [await startNode(1)];
    const binaryGet = Buffer.concat([Buffer.from([0x80, 0x00, 0x00, 0x03]), Buffer.alloc(8), Buffer.from([0, 0, 0, 3]), Buffer.alloc(12), Buffer.from('foo')]);
    for (const request of [Buffer.from('get foo\r\n'), Buffer.from('mg foo v\r\n'), Buffer.from('version\r\n'), binaryGet]) {
      const socket = net.connect({ host, port: nodes[0].port });
      await once(socket, 'connect');
      const received: Buffer[] = [];
      socket.on('data', (d: Buffer) => received.push(d));
      socket.write(request);
      await once(socket, 'close');
      expect(Buffer.concat(received).length).toBe(0);
    }
    expect(nodes[0].logs.filter((l) => String(l['msg']).includes('peer connection refused')).length).toBe(4);
    expect(nodes[0].logs[0]['remote']).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it('refuses an HTTP request at once with one line saying what it sent', async () => {
    nodes = [await startNode(1)];
    const socket = net.connect({ host, port: nodes[0].port });
    await once(socket, 'connect');
    const received: Buffer[] = [];
    socket.on('data', (d: Buffer) => received.push(d));
    // ctl status pointed at a peer port: "GET " read as a length would be a 1.2 GB frame.
    socket.write('GET /ctl/status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    await once(socket, 'close');
    expect(Buffer.concat(received).length).toBe(0);
    const refused = nodes[0].logs.filter((l) => String(l['msg']).includes('peer connection refused'));
    expect(refused.map((l) => l['msg'])).toEqual([
      'peer connection refused: not a memraft peer: it sent text "GET /ctl/status HTTP/1.1" (an HTTP or memcached client at the peer port?)',
    ]);
    expect(nodes[0].t.stats().handshakeFailures).toBe(1);
  });

  it('closes an authenticated connection that sends garbage, and keeps serving others', async () => {
    nodes = await startCluster(2);
    const [a, b] = nodes;
    for (const garbage of [
      Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]), // length far over the limit
      Buffer.from([0, 0, 0, 0]), // empty frame
      Buffer.concat([Buffer.from([0, 0, 0, 1]), Buffer.from([0xc1])]), // 0xc1 is never valid msgpack
      encodeFrame({ not: 'a batch' }), // valid msgpack, wrong shape
      encodeFrame([[1], [[7, 'x']]]), // malformed call
    ]) {
      const { socket } = await rawClient(a.port, { nodeId: 9, serverId: 1 });
      socket.write(garbage);
      await once(socket, 'close');
    }
    expect(a.t.stats().protocolErrors).toBe(5);
    expect(a.batches).toEqual([]);
    b.t.send(1, 'still fine');
    await a.probe.until(() => a.batches.length === 1);
    expect(a.batches[0].msgs).toEqual(['still fine']);
  });

  it('closes a connection that never completes the handshake', async () => {
    nodes = [await startNode(1, { handshakeTimeoutMs: 50 })];
    const socket = net.connect({ host, port: nodes[0].port });
    socket.write(Buffer.from([0, 0])); // half a header, then silence
    await once(socket, 'close');
    expect(nodes[0].t.stats().handshakeFailures).toBe(1);
  });
});

describe('transport: reconnect', () => {
  it('reports a restarted peer down then up again, and messages flow to the new incarnation', async () => {
    nodes = await startCluster(2);
    const [a, b] = nodes;
    a.t.send(2, 'before');
    await b.probe.until(() => b.batches.length === 1);
    const port = b.port;
    await b.t.close();
    await a.probe.until(() => a.status.some((s) => s.id === 2 && !s.up));
    expect(a.t.isPeerUp(2)).toBe(false);

    const b2 = await startNode(2, { listen: { host, port } });
    nodes = [a, b2];
    b2.t.setPeer(1, { host, port: a.port });
    await a.probe.until(() => a.t.isPeerUp(2));
    expect(a.status.filter((s) => s.id === 2).map((s) => s.up)).toEqual([true, false, true]);
    a.t.send(2, 'after');
    await b2.probe.until(() => b2.batches.length === 1);
    expect(b2.batches[0]).toEqual({ from: 1, msgs: ['after'] });
    await b2.probe.until(() => b2.t.isPeerUp(1));
    b2.t.send(1, 'back');
    await a.probe.until(() => a.from(2).includes('back'));
  });

  it('drops messages to a down peer and counts them', async () => {
    const a = await startNode(1);
    nodes = [a];
    const closed = net.createServer();
    closed.listen(0, host);
    await once(closed, 'listening');
    const port = (closed.address() as net.AddressInfo).port;
    closed.close();
    await once(closed, 'close');
    a.t.setPeer(2, { host, port });
    await a.probe.until(() => a.status.some((s) => s.id === 2 && !s.up));
    a.t.send(2, 'lost');
    expect(a.t.stats().dropped).toBe(1);
  });
});

describe('transport: link filter', () => {
  it('drops outgoing traffic to filtered peers only, until cleared', async () => {
    nodes = await startCluster(3);
    const [a, b, c] = nodes;
    a.t.setLinkFilter((to) => to !== 2);
    a.t.send(2, 'blocked');
    a.t.send(3, 'open');
    await c.probe.until(() => c.batches.length === 1);
    expect(a.t.stats().filtered).toBe(1);
    a.t.setLinkFilter(null);
    a.t.send(2, 'unblocked');
    await b.probe.until(() => b.batches.length === 1);
    expect(b.batches[0].msgs).toEqual(['unblocked']);
  });
});

describe('transport: a transport that is not started', () => {
  it('can be closed, and rejects requests', async () => {
    const t = new Transport({ nodeId: 1, clusterId: 'c', secret: 's', listen: { host, port: 0 } });
    await expect(t.request(2, 'x', 1000)).rejects.toMatchObject({ code: 'EUNREACHABLE' });
    await t.close();
    await expect(t.request(2, 'x', 1000)).rejects.toMatchObject({ code: 'ECLOSED' });
  });
});

describe('transport: peer changes', () => {
  it('follows a peer to a new address and forgets a removed peer', async () => {
    nodes = await startCluster(2);
    const [a, b] = nodes;
    const b2 = await startNode(2);
    nodes.push(b2);
    a.t.setPeer(2, { host, port: b2.port });
    await a.probe.until(() => a.t.isPeerUp(2));
    a.t.send(2, 'to the new address');
    await b2.probe.until(() => b2.batches.length === 1);
    expect(b.batches).toEqual([]);

    a.t.removePeer(2);
    expect(a.t.isPeerUp(2)).toBe(false);
    a.t.send(2, 'nowhere');
    await expect(a.t.request(2, 'x', 60_000)).rejects.toMatchObject({ code: 'EUNREACHABLE', notSent: true });
    expect(a.t.stats().peers.map((p) => p.id)).toEqual([]);
  });
});

describe('transport: address overrides (--peer-addresses)', () => {
  it('dials a peer at its override, whatever address it is given', async () => {
    const given = await startNode(2);
    const pinned = await startNode(2);
    const a = await startNode(1, { addressOverrides: new Map([[2, { host, port: pinned.port }]]) });
    nodes = [a, given, pinned];
    a.t.setPeer(2, { host, port: given.port });
    await a.probe.until(() => a.t.isPeerUp(2));
    a.t.send(2, 'via the override');
    await pinned.probe.until(() => pinned.batches.length === 1);
    expect(pinned.from(1)).toEqual(['via the override']);
    expect(given.batches).toEqual([]);
  });
});

describe('transport: handshake replay', () => {
  it('refuses a recorded handshake replayed on a new connection', async () => {
    nodes = [await startNode(1)];
    const port = nodes[0].port;
    // Record what a legitimate client sends.
    const sent: Buffer[] = [];
    const { socket } = await rawClient(port, { nodeId: 2, serverId: 1, record: sent });
    socket.destroy();
    expect(sent.length).toBe(2); // hello, auth
    // Replay both frames verbatim: the server's fresh nonce makes the old proof worthless.
    const replay = net.connect({ host, port });
    await once(replay, 'connect');
    replay.resume(); // read (and ignore) the challenge so the close is seen
    replay.write(Buffer.concat(sent));
    await once(replay, 'close');
    expect(nodes[0].logs.some((l) => String(l['msg']).includes('node 2 failed to prove the cluster secret'))).toBe(true);
    expect(nodes[0].t.stats().handshakeFailures).toBe(1);
  });
});

describe('transport: keepalive', () => {
  it('reconnects a link whose peer went silent without closing it', async () => {
    const fake = await rawPeerServer(2); // authenticates, then never writes again
    const a = await startNode(1, { keepaliveMs: 10, peerSilenceMsMax: 50 });
    nodes = [a];
    try {
      a.t.setPeer(2, { host, port: fake.port });
      await fake.next();
      await a.probe.until(() => a.status.filter((s) => s.id === 2).length >= 3);
      expect(a.status.filter((s) => s.id === 2).slice(0, 3).map((s) => s.up)).toEqual([true, false, true]);
      expect(a.t.stats().silentDisconnects).toBeGreaterThanOrEqual(1);
    } finally {
      await a.t.close();
      fake.close();
    }
  });

  it('keeps a healthy link up: keepalives are heard and accepted', async () => {
    nodes = await startCluster(2, { keepaliveMs: 5, peerSilenceMsMax: 5000 });
    const [a, b] = nodes;
    b.t.onRequest((_from, x) => x);
    // Round trips are the events we wait on while keepalives accumulate.
    for (let i = 0; a.t.stats().keepalivesReceived < 5; i++) await expect(a.t.request(2, i, 5000)).resolves.toBe(i);
    expect(a.t.stats()).toMatchObject({ silentDisconnects: 0, disconnects: 0, handshakeFailures: 0 });
    expect(a.status).toEqual([{ id: 2, up: true }]);
  });
});

describe('transport: frame size limit', () => {
  it('splits a batch over frameBytesMax into ordered frames, and drops a lone message over it', async () => {
    nodes = await startCluster(2, { frameBytesMax: 1000 });
    const [a, b] = nodes;
    a.t.send(2, { seq: 0, pad: Buffer.alloc(2000) }); // can never fit
    for (let seq = 1; seq <= 10; seq++) a.t.send(2, { seq, pad: Buffer.alloc(300) });
    await b.probe.until(() => b.from(1).length === 10);
    expect((b.from(1) as { seq: number }[]).map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(b.batches.length).toBeGreaterThanOrEqual(4);
    expect(a.t.stats()).toMatchObject({ dropped: 1, protocolErrors: 0 });
    expect(b.t.stats().protocolErrors).toBe(0);
  });
});
