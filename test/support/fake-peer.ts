/**
 * A fake peer for hostile-input tests and the fuzzer: it dials a node's peer port (plain TCP
 * or TLS), completes the HMAC handshake with the cluster secret like a real node, and then
 * writes whatever frames it is given. Nothing here checks what the node answers beyond the
 * handshake: the point is what the node does with what it receives.
 */
import { once } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { encodeFrame, FrameDecoder, keepaliveFrame, packr } from '../../src/transport/frame.js';
import { computeProof, handshakeVersion, newNonce, parseChallenge, parseOk, type ProofInput } from '../../src/transport/handshake.js';

/** How to reach and authenticate to a node's peer port. */
export interface FakePeerOptions {
  host?: string;
  port: number;
  /** The node id the fake peer claims. */
  nodeId: number;
  /** The id of the node dialled (it is part of the proof). */
  serverId: number;
  clusterId?: string;
  secret?: string;
  /** Dial with TLS using these options (cert, key, ca). */
  tls?: tls.ConnectionOptions;
  /** Bound on connect plus handshake. */
  timeoutMs?: number;
  /** The port the fake peer says it listens on (where the node sends answers to requests); 1 when absent. */
  answerPort?: number;
}

/** The defaults of `memraft serve` without --cluster-secret. */
export const defaultClusterId = 'memraft';
export const defaultSecret = 'memraft-loopback-only';

/** An authenticated connection to a node's peer port. */
export class FakePeer {
  closed = false;
  private readonly decoder = new FrameDecoder();
  private readonly frames: unknown[] = [];
  private wake: (() => void) | null = null;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const body of this.decoder.push(chunk)) this.frames.push(packr.unpack(body));
      } catch {
        socket.destroy();
      }
      this.wake?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
    socket.on('error', () => {});
  }

  /** Connects and completes the handshake; rejects if the node refuses it. */
  static async connect(opts: FakePeerOptions): Promise<FakePeer> {
    const host = opts.host ?? '127.0.0.1';
    const socket = opts.tls === undefined ? net.connect({ host, port: opts.port, noDelay: true }) : tls.connect({ host, port: opts.port, ...opts.tls });
    const timer = setTimeout(() => socket.destroy(new Error('fake peer: handshake timed out')), opts.timeoutMs ?? 10_000);
    try {
      await once(socket, opts.tls === undefined ? 'connect' : 'secureConnect');
      const peer = new FakePeer(socket);
      await peer.handshake(opts);
      return peer;
    } catch (err) {
      socket.destroy();
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Writes one frame holding `payload` (a batch is `[msgs]` or `[msgs, calls]`). */
  send(payload: unknown): void {
    if (!this.closed) this.socket.write(encodeFrame(payload));
  }

  /** Writes raw bytes (frames built by hand, garbage). */
  write(bytes: Buffer): void {
    if (!this.closed) this.socket.write(bytes);
  }

  /** Resolves once the node closed the connection; false if it is still open after `timeoutMs`. */
  async closedWithin(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    return this.closed;
  }

  destroy(): void {
    this.socket.destroy();
  }

  private async next(): Promise<unknown> {
    while (this.frames.length === 0 && !this.closed) await new Promise<void>((resolve) => (this.wake = resolve));
    return this.frames.length > 0 ? this.frames.shift() : null;
  }

  private async handshake(opts: FakePeerOptions): Promise<void> {
    const clusterId = opts.clusterId ?? defaultClusterId;
    const secret = opts.secret ?? defaultSecret;
    const clientNonce = newNonce();
    const addr = { host: '127.0.0.1', port: opts.answerPort ?? 1 };
    this.send({ t: 'hello', v: handshakeVersion, clusterId, nodeId: opts.nodeId, nonce: clientNonce, addr });
    const challenge = parseChallenge(await this.next());
    if (challenge === null) throw new Error('fake peer: no challenge (refused)');
    const input: ProofInput = {
      clusterId, clientId: opts.nodeId, serverId: opts.serverId, clientNonce, serverNonce: Buffer.from(challenge.nonce), addr,
    };
    this.send({ t: 'auth', proof: computeProof(secret, 'C', input) });
    const ok = parseOk(await this.next());
    if (ok === null || !Buffer.from(ok.proof).equals(computeProof(secret, 'S', input))) throw new Error('fake peer: handshake refused');
  }
}

/**
 * Where a fake peer hears the node's answers to its requests: a node answers on its own
 * outbound link to the address the requester advertised, so this listener accepts that link
 * (answering its handshake as node `nodeId` with the secret's proof) and reports every
 * response call by request id. A request sent right after another frame on the same
 * connection is answered only if the node took that frame without resetting the link.
 */
export class AnswerListener {
  readonly answered = new Set<number>();
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private wake: (() => void) | null = null;

  private constructor(server: net.Server, readonly port: number) {
    this.server = server;
  }

  /** Listens on 127.0.0.1 (ephemeral port) as node `nodeId`. */
  static async start(nodeId: number, clusterId = defaultClusterId, secret = defaultSecret): Promise<AnswerListener> {
    let self: AnswerListener | null = null;
    const server = net.createServer((socket) => self!.accept(socket, nodeId, clusterId, secret));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    self = new AnswerListener(server, (server.address() as net.AddressInfo).port);
    return self;
  }

  /** Resolves true once request `id` was answered, false after `timeoutMs` or when `gaveUp()` turns true. */
  async answer(id: number, timeoutMs: number, gaveUp: () => boolean): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.answered.has(id) && !gaveUp() && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 20);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    return this.answered.delete(id);
  }

  /** Wakes waiters (call when something they check for may have changed). */
  poke(): void {
    this.wake?.();
  }

  close(): void {
    this.server.close();
    for (const s of this.sockets) s.destroy();
  }

  private accept(socket: net.Socket, nodeId: number, clusterId: string, secret: string): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => {});
    const decoder = new FrameDecoder();
    let input: ProofInput | null = null;
    let open = false;
    socket.on('data', (chunk: Buffer) => {
      let bodies: Buffer[];
      try {
        bodies = decoder.push(chunk);
      } catch {
        socket.destroy();
        return;
      }
      for (const body of bodies) {
        if (body.length === 1 && body[0] === 0xc0) continue; // keepalive
        const msg = packr.unpack(body) as Record<string, unknown> | unknown[];
        if (open) {
          this.onBatch(msg);
          continue;
        }
        const m = msg as Record<string, unknown>;
        if (m['t'] === 'hello') {
          const serverNonce = newNonce();
          input = {
            clusterId, clientId: m['nodeId'] as number, serverId: nodeId, clientNonce: Buffer.from(m['nonce'] as Uint8Array),
            serverNonce, addr: m['addr'] as { host: string; port: number },
          };
          socket.write(encodeFrame({ t: 'challenge', nodeId, nonce: serverNonce }));
        } else if (m['t'] === 'auth' && input !== null) {
          socket.write(encodeFrame({ t: 'ok', proof: computeProof(secret, 'S', input) }));
          open = true;
          // The accepting side's keepalives, as often as a node's (100 ms): a link that sent
          // and then hears nothing for 500 ms is presumed stalled and redialled, its unsent
          // answers dropped (outbound-link.ts).
          const keepalive = setInterval(() => socket.write(keepaliveFrame), 100);
          socket.on('close', () => clearInterval(keepalive));
        }
      }
    });
  }

  private onBatch(msg: unknown): void {
    if (!Array.isArray(msg) || !Array.isArray(msg[1])) return;
    for (const call of msg[1] as unknown[][]) if (call[0] === 1 || call[0] === 2) this.answered.add(call[1] as number);
    this.wake?.();
  }
}
