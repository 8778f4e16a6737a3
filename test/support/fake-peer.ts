/**
 * A fake peer for hostile-input tests and the fuzzer: it dials a node's peer port (plain TCP
 * or TLS), completes the HMAC handshake with the cluster secret like a real node, and then
 * writes whatever frames it is given. Nothing here checks what the node answers beyond the
 * handshake: the point is what the node does with what it receives.
 */
import { once } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { encodeFrame, FrameDecoder, packr } from '../../src/transport/frame.js';
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
    const addr = { host: '127.0.0.1', port: 1 };
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
