/**
 * A TCP proxy for one directed node-to-node link (the connection node i dials to node j),
 * so the harness can break the network without root. Modes:
 *
 * - `pass`: bytes flow as they come (with backpressure).
 * - `drop`: a black hole. Sockets stay open and every byte is discarded both ways, which is
 *   what a partition looks like to TCP. Discarding bytes inside a stream breaks its framing,
 *   so every connection that lost bytes is closed when the link leaves `drop` (to the node a
 *   connection that stalled and was then reset, as a long TCP outage ends); new connections
 *   accepted during `drop` never reach the target.
 * - `delay`: each chunk is held `delayMs` ± `jitterMs`, never reordered within a connection.
 * - `loss`: a lost TCP segment is retransmitted, so the receiver sees a stall, not a gap:
 *   a chunk is "lost" with probability `lossP` and then arrives `stallMs` late (holding back
 *   the chunks behind it); with probability `resetP` per chunk the connection is reset, as a
 *   connection that loses too much eventually is.
 * - `reset`: every open connection is reset, new ones are accepted and reset at once.
 */
import net from 'node:net';
import type { Rng } from '../random.js';

/** How a link treats its traffic. */
export type LinkMode =
  | { kind: 'pass' }
  | { kind: 'drop' }
  | { kind: 'delay'; delayMs: number; jitterMs: number }
  | { kind: 'loss'; lossP: number; stallMs: number; resetP: number }
  | { kind: 'reset' };

/** The `pass` mode. */
export const passMode: LinkMode = { kind: 'pass' };

/** Counters of one proxy. */
export interface ProxyStats {
  connections: number;
  bytesForwarded: number;
  bytesDropped: number;
  resets: number;
}

/** Bytes queued in one direction before its source is paused. */
const queuedBytesMax = 8 * 1024 * 1024;

/** One direction of a proxied connection: chunks from `src` released in order to `dst`. */
class Channel {
  private readonly queue: Array<{ chunk: Buffer; atMs: number }> = [];
  private queuedBytes = 0;
  private lastAtMs = 0;
  private timer: NodeJS.Timeout | null = null;
  private ended = false;

  constructor(
    private readonly proxy: LinkProxy,
    private readonly pipe: Pipe,
    private readonly src: net.Socket,
    private dst: net.Socket | null,
  ) {
    src.on('data', (chunk: Buffer) => this.onData(chunk));
    src.on('end', () => {
      this.ended = true;
      this.release();
    });
  }

  /** Sets the destination once the upstream socket exists. */
  attach(dst: net.Socket): void {
    this.dst = dst;
    this.release();
  }

  /** Discards everything queued (the link went down). */
  clear(): void {
    for (const q of this.queue) this.proxy.stats.bytesDropped += q.chunk.length;
    this.queue.length = 0;
    this.queuedBytes = 0;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.src.resume();
  }

  private onData(chunk: Buffer): void {
    const mode = this.proxy.mode;
    const nowMs = performance.now();
    switch (mode.kind) {
      case 'drop':
        this.pipe.tainted = true;
        this.proxy.stats.bytesDropped += chunk.length;
        return;
      case 'reset':
        return this.pipe.reset();
      case 'pass':
        return this.enqueue(chunk, nowMs);
      case 'delay': {
        const jitterMs = (this.proxy.rng.next() * 2 - 1) * mode.jitterMs;
        return this.enqueue(chunk, nowMs + Math.max(0, mode.delayMs + jitterMs));
      }
      case 'loss':
        if (this.proxy.rng.chance(mode.resetP)) return this.pipe.reset();
        return this.enqueue(chunk, nowMs + (this.proxy.rng.chance(mode.lossP) ? mode.stallMs : 0));
    }
  }

  private enqueue(chunk: Buffer, atMs: number): void {
    // Never before the chunk ahead of it: a TCP stream is delivered in order.
    this.lastAtMs = Math.max(this.lastAtMs, atMs);
    this.queue.push({ chunk, atMs: this.lastAtMs });
    this.queuedBytes += chunk.length;
    if (this.queuedBytes > queuedBytesMax) this.src.pause();
    this.release();
  }

  private release(): void {
    const dst = this.dst;
    if (dst === null || this.pipe.closed) return;
    const nowMs = performance.now();
    while (this.queue.length > 0 && this.queue[0]!.atMs <= nowMs) {
      const { chunk } = this.queue.shift()!;
      this.queuedBytes -= chunk.length;
      this.proxy.stats.bytesForwarded += chunk.length;
      if (!dst.write(chunk)) {
        this.src.pause();
        dst.once('drain', () => this.src.resume());
      }
    }
    if (this.queuedBytes <= queuedBytesMax / 2 && dst.writableNeedDrain !== true) this.src.resume();
    if (this.queue.length > 0) return this.arm(this.queue[0]!.atMs - nowMs);
    if (this.ended) dst.end();
  }

  private arm(waitMs: number): void {
    if (this.timer !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.release();
    }, Math.max(1, Math.ceil(waitMs)));
  }
}

/** One accepted connection and its upstream. */
class Pipe {
  /** Set when bytes were discarded: the stream is broken and must be closed when the link heals. */
  tainted = false;
  closed = false;
  private upstream: net.Socket | null = null;
  private readonly down: Channel;
  private up: Channel | null = null;

  constructor(
    private readonly proxy: LinkProxy,
    private readonly client: net.Socket,
  ) {
    client.on('error', () => this.close());
    client.on('close', () => this.close());
    this.down = new Channel(proxy, this, client, null);
  }

  /** Connects to the target (not while the link drops: a black hole never answers). */
  connect(): void {
    if (this.proxy.mode.kind === 'drop') {
      this.tainted = true;
      return;
    }
    const up = net.connect({ host: this.proxy.target.host, port: this.proxy.target.port, allowHalfOpen: true });
    up.setNoDelay(true);
    this.upstream = up;
    up.on('error', () => this.close());
    up.on('close', () => this.close());
    this.up = new Channel(this.proxy, this, up, this.client);
    this.down.attach(up);
  }

  /** Drops what is queued (the link went down). */
  clear(): void {
    this.down.clear();
    this.up?.clear();
  }

  /** Closes both sockets with a TCP reset. */
  reset(): void {
    if (this.closed) return;
    this.proxy.stats.resets++;
    this.client.resetAndDestroy();
    if (this.upstream !== null && !this.upstream.destroyed) {
      // A socket still connecting cannot be reset; destroy it instead.
      if (this.upstream.connecting) this.upstream.destroy();
      else this.upstream.resetAndDestroy();
    }
    this.close();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.client.destroy();
    this.upstream?.destroy();
    this.down.clear();
    this.up?.clear();
    this.proxy.forget(this);
  }
}

/** A proxy for one directed link: listens on 127.0.0.1, forwards to `target`. */
export class LinkProxy {
  mode: LinkMode = passMode;
  readonly stats: ProxyStats = { connections: 0, bytesForwarded: 0, bytesDropped: 0, resets: 0 };
  private readonly pipes = new Set<Pipe>();
  private server: net.Server | null = null;
  private portValue = 0;

  constructor(
    readonly target: { host: string; port: number },
    readonly rng: Rng,
  ) {}

  /** The port the proxy listens on (after start). */
  get port(): number {
    return this.portValue;
  }

  /** Starts listening on an ephemeral loopback port; resolves with it. */
  async start(): Promise<number> {
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: false }, (socket) => this.onConnection(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    this.portValue = (server.address() as net.AddressInfo).port;
    return this.portValue;
  }

  /** Changes the mode; the transitions close what must not survive them (see the file doc). */
  setMode(mode: LinkMode): void {
    const was = this.mode;
    this.mode = mode;
    if (mode.kind === 'reset') {
      for (const p of [...this.pipes]) p.reset();
      return;
    }
    if (mode.kind === 'drop') {
      for (const p of this.pipes) {
        p.tainted = true;
        p.clear();
      }
      return;
    }
    if (was.kind === 'drop' || was.kind === 'reset') {
      for (const p of [...this.pipes]) if (p.tainted) p.reset();
    }
  }

  /** Open proxied connections. */
  get openConnections(): number {
    return this.pipes.size;
  }

  /** Closes the listener and every connection. */
  async close(): Promise<void> {
    for (const p of [...this.pipes]) p.close();
    const server = this.server;
    if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Called by a pipe when it closes. */
  forget(pipe: Pipe): void {
    this.pipes.delete(pipe);
  }

  private onConnection(socket: net.Socket): void {
    this.stats.connections++;
    socket.setNoDelay(true);
    const pipe = new Pipe(this, socket);
    this.pipes.add(pipe);
    if (this.mode.kind === 'reset') return pipe.reset();
    pipe.connect();
  }
}
