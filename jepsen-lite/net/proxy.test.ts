// The link proxy's modes over real loopback sockets: an echo server behind a LinkProxy.
import { once } from 'node:events';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Rng } from '../random.js';
import { LinkProxy, type LinkMode } from './proxy.js';

interface Echo {
  server: net.Server;
  port: number;
  /** Bytes the server received, per accepted connection. */
  received: Buffer[][];
  accepted: number;
}

async function startEcho(): Promise<Echo> {
  const echo: Echo = { server: net.createServer(), port: 0, received: [], accepted: 0 };
  echo.server.on('connection', (s) => {
    const chunks: Buffer[] = [];
    echo.received.push(chunks);
    echo.accepted++;
    s.on('data', (d: Buffer) => {
      chunks.push(d);
      s.write(d);
    });
    s.on('error', () => {});
  });
  echo.server.listen(0, '127.0.0.1');
  await once(echo.server, 'listening');
  echo.port = (echo.server.address() as net.AddressInfo).port;
  return echo;
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function setup(mode: LinkMode = { kind: 'pass' }): Promise<{ echo: Echo; proxy: LinkProxy }> {
  const echo = await startEcho();
  const proxy = new LinkProxy({ host: '127.0.0.1', port: echo.port }, new Rng(7));
  await proxy.start();
  proxy.setMode(mode);
  cleanups.push(() => proxy.close(), () => new Promise<void>((r) => echo.server.close(() => r())));
  return { echo, proxy };
}

async function connect(port: number): Promise<net.Socket> {
  const s = net.connect({ host: '127.0.0.1', port });
  s.on('error', () => {});
  await once(s, 'connect');
  cleanups.push(() => void s.destroy());
  return s;
}

/** Resolves when the socket closes (events.once would reject on the ECONNRESET before it). */
function closeOf(s: net.Socket): Promise<void> {
  return new Promise((resolve) => s.once('close', () => resolve()));
}

/** Reads from `s` until `n` bytes arrived. */
function readBytes(s: net.Socket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const onData = (d: Buffer): void => {
      chunks.push(d);
      got += d.length;
      if (got >= n) {
        s.off('data', onData);
        resolve(Buffer.concat(chunks));
      }
    };
    s.on('data', onData);
    s.once('close', () => reject(new Error(`closed after ${got} of ${n} bytes`)));
  });
}

/** Writes `count` numbered lines, one write each (so the proxy sees many chunks). */
function numbered(count: number): Buffer {
  return Buffer.from(Array.from({ length: count }, (_, i) => `line ${i}\n`).join(''));
}

async function sendInPieces(s: net.Socket, data: Buffer, pieces: number): Promise<void> {
  const size = Math.ceil(data.length / pieces);
  for (let i = 0; i < data.length; i += size) {
    s.write(data.subarray(i, i + size));
    await new Promise((r) => setImmediate(r));
  }
}

describe('LinkProxy', () => {
  it('pass: forwards both directions intact', async () => {
    const { proxy } = await setup();
    const s = await connect(proxy.port);
    const data = numbered(2000);
    const echoed = readBytes(s, data.length);
    await sendInPieces(s, data, 50);
    expect((await echoed).equals(data)).toBe(true);
    expect(proxy.stats.bytesForwarded).toBe(2 * data.length);
  });

  it('delay: every byte arrives, in order', async () => {
    const { proxy } = await setup({ kind: 'delay', delayMs: 5, jitterMs: 5 });
    const s = await connect(proxy.port);
    const data = numbered(1000);
    const echoed = readBytes(s, data.length);
    await sendInPieces(s, data, 100);
    expect((await echoed).equals(data)).toBe(true);
  });

  it('loss: lost chunks stall rather than vanish, so the stream stays intact', async () => {
    const { proxy } = await setup({ kind: 'loss', lossP: 0.5, stallMs: 5, resetP: 0 });
    const s = await connect(proxy.port);
    const data = numbered(1000);
    const echoed = readBytes(s, data.length);
    await sendInPieces(s, data, 100);
    expect((await echoed).equals(data)).toBe(true);
  });

  it('loss with resetP 1: the connection is reset', async () => {
    const { proxy } = await setup({ kind: 'loss', lossP: 0, stallMs: 0, resetP: 1 });
    const s = await connect(proxy.port);
    const closed = closeOf(s);
    s.write('hello\n');
    await closed;
    expect(proxy.stats.resets).toBe(1);
  });

  it('drop: bytes vanish while the socket stays open; the broken stream is reset when the link heals', async () => {
    const { echo, proxy } = await setup();
    const s = await connect(proxy.port);
    const first = readBytes(s, 6);
    s.write('hello\n');
    expect((await first).toString()).toBe('hello\n');
    proxy.setMode({ kind: 'drop' });
    const closed = closeOf(s);
    s.write('lost bytes\n');
    // The server got only what was sent before the drop, when the link heals and resets the stream.
    await new Promise<void>((resolve) => {
      const poll = (): void => (proxy.stats.bytesDropped >= 11 ? resolve() : void setImmediate(poll));
      poll();
    });
    expect(s.destroyed).toBe(false);
    proxy.setMode({ kind: 'pass' });
    await closed;
    expect(Buffer.concat(echo.received[0]!).toString()).toBe('hello\n');
    // A new connection after the heal works.
    const s2 = await connect(proxy.port);
    const again = readBytes(s2, 6);
    s2.write('again\n');
    expect((await again).toString()).toBe('again\n');
  });

  it('drop: a connection made during the drop never reaches the target', async () => {
    const { echo, proxy } = await setup({ kind: 'drop' });
    const s = await connect(proxy.port);
    const closed = closeOf(s);
    s.write('knock knock\n');
    await new Promise<void>((resolve) => {
      const poll = (): void => (proxy.stats.bytesDropped >= 12 ? resolve() : void setImmediate(poll));
      poll();
    });
    proxy.setMode({ kind: 'pass' });
    await closed;
    expect(echo.accepted).toBe(0);
  });

  it('reset: open connections are reset and new ones refused', async () => {
    const { proxy } = await setup();
    const s = await connect(proxy.port);
    const first = readBytes(s, 3);
    s.write('hi\n');
    await first;
    const closed = closeOf(s);
    proxy.setMode({ kind: 'reset' });
    await closed;
    const s2 = net.connect({ host: '127.0.0.1', port: proxy.port });
    s2.on('error', () => {});
    await closeOf(s2);
    expect(proxy.stats.resets).toBe(2);
  });
});
