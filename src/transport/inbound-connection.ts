/**
 * One accepted connection: handshake as the server, then decode frames and hand each
 * batch to the transport. Anything that is not a valid handshake, and any malformed frame
 * afterwards, closes this connection only; no input can crash the node.
 */
import net from 'node:net';
import type { Logger } from 'pino';
import type { NodeId } from '../raft/types.js';
import { decodeFrameBody, encodeFrame, FrameDecoder, frameHeaderBytes, keepaliveFrame } from './frame.js';
import {
  computeProof, handshakeFrameBytesMax, newNonce, parseAuth, parseHello, proofMatches,
  type Challenge, type Hello, type Ok, type PeerAddress, type ProofInput,
} from './handshake.js';
import type { TransportCounters } from './stats.js';

/** What an inbound connection needs from its transport. */
export interface InboundOptions {
  selfId: NodeId;
  clusterId: string;
  secret: string;
  frameBytesMax: number;
  handshakeTimeoutMs: number;
  /** Interval of keepalive frames to the connecting side once open. */
  keepaliveMs: number;
  counters: TransportCounters;
  logger: Logger;
  /** The peer proved the secret; from now on frames flow. */
  onAuthenticated: (conn: InboundConnection) => void;
  /** A decoded batch frame; returns false if its shape is invalid (the connection is closed). */
  onFrame: (conn: InboundConnection, payload: unknown) => boolean;
  onClosed: (conn: InboundConnection) => void;
}

type InboundState = 'hello' | 'auth' | 'open' | 'closed';

/** Bytes kept from before the hello, to name what connected when it is not a peer. */
const firstBytesKept = 40;

/**
 * Why a connection whose first bytes were not a frame is refused. Text (an HTTP request,
 * a memcached command) read as a length is a frame of about a gigabyte ("GET " is
 * 1195725856): say what it sent instead, since that is nearly always a client at the wrong port.
 */
function notAPeer(firstBytes: Buffer, why: string): string {
  const text = firstBytes.toString('latin1');
  const firstLine = /^[\x20-\x7e]{4,}/.exec(text);
  if (firstLine === null) return `not a memraft peer: ${why}`;
  return `not a memraft peer: it sent text ${JSON.stringify(firstLine[0])} (an HTTP or memcached client at the peer port?)`;
}

/** The server half of a peer connection. */
export class InboundConnection {
  /** The authenticated peer (0 until the handshake completes). */
  peerId: NodeId = 0;
  /** The address the peer listens on, as it advertised it (host resolved if it sent ''). */
  peerAddr: PeerAddress | null = null;

  private readonly socket: net.Socket;
  private readonly opts: InboundOptions;
  private readonly decoder = new FrameDecoder(handshakeFrameBytesMax);
  private readonly remote: string;
  private firstBytes: Buffer = Buffer.alloc(0);
  private state: InboundState = 'hello';
  private proofInput: ProofInput | null = null;
  private timer: NodeJS.Timeout | null;
  private keepaliveTimer: NodeJS.Timeout | null = null;

  constructor(socket: net.Socket, opts: InboundOptions) {
    this.socket = socket;
    this.opts = opts;
    this.remote = `${socket.remoteAddress}:${socket.remotePort}`;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 1000); // idle probes; liveness itself is the keepalive frames
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => opts.logger.debug({ remote: this.remote, err: err.message }, 'inbound peer connection error'));
    socket.on('close', () => this.onClose());
    this.timer = setTimeout(() => this.refuse('handshake timed out'), opts.handshakeTimeoutMs);
  }

  /** Whether the handshake completed and the connection is still open. */
  get open(): boolean {
    return this.state === 'open';
  }

  /** Closes the connection (used on transport close and when the peer reconnects). */
  destroy(): void {
    this.close();
  }

  private onData(chunk: Buffer): void {
    if (this.state === 'closed') return;
    if (this.state === 'hello' && this.firstBytes.length < firstBytesKept) {
      this.firstBytes = Buffer.concat([this.firstBytes, chunk.subarray(0, firstBytesKept - this.firstBytes.length)]);
    }
    let frames: Buffer[];
    try {
      frames = this.decoder.push(chunk);
    } catch (err) {
      const why = (err as Error).message;
      this.fail(this.state === 'hello' ? notAPeer(this.firstBytes, why) : why);
      return;
    }
    for (const body of frames) {
      if ((this.state as InboundState) === 'closed' || this.socket.destroyed) return;
      this.onFrameBody(body);
    }
  }

  private onFrameBody(body: Buffer): void {
    let payload: unknown;
    try {
      payload = decodeFrameBody(body);
    } catch (err) {
      this.fail((err as Error).message);
      return;
    }
    switch (this.state) {
      case 'hello':
        this.onHello(payload);
        return;
      case 'auth':
        this.onAuth(payload);
        return;
      case 'open':
        this.opts.counters.framesReceived++;
        this.opts.counters.bytesReceived += frameHeaderBytes + body.length;
        if (!this.opts.onFrame(this, payload)) this.fail('malformed batch');
        return;
      case 'closed':
        return;
    }
  }

  private onHello(payload: unknown): void {
    const hello = parseHello(payload);
    if (hello === null) return this.refuse('not a handshake');
    if (hello.clusterId !== this.opts.clusterId) return this.refuse(`wrong cluster id ${JSON.stringify(hello.clusterId)}`);
    if (hello.nodeId === this.opts.selfId) return this.refuse('peer claims our own node id');
    const serverNonce = newNonce();
    this.proofInput = {
      clusterId: this.opts.clusterId, clientId: hello.nodeId, serverId: this.opts.selfId,
      clientNonce: Buffer.from(hello.nonce), serverNonce, addr: hello.addr,
    };
    this.peerId = hello.nodeId;
    this.peerAddr = this.resolveAddr(hello);
    this.state = 'auth';
    const challenge: Challenge = { t: 'challenge', nodeId: this.opts.selfId, nonce: serverNonce };
    this.socket.write(encodeFrame(challenge));
  }

  private onAuth(payload: unknown): void {
    const auth = parseAuth(payload);
    if (auth === null || this.proofInput === null) return this.refuse('malformed auth');
    const expected = computeProof(this.opts.secret, 'C', this.proofInput);
    if (!proofMatches(expected, Buffer.from(auth.proof))) return this.refuse(`node ${this.peerId} failed to prove the cluster secret`);
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.state = 'open';
    this.decoder.frameBytesMax = this.opts.frameBytesMax;
    const ok: Ok = { t: 'ok', proof: computeProof(this.opts.secret, 'S', this.proofInput) };
    this.socket.write(encodeFrame(ok));
    this.keepaliveTimer = setInterval(() => this.sendKeepalive(), this.opts.keepaliveMs);
    this.keepaliveTimer.unref();
    this.opts.onAuthenticated(this);
  }

  // Skipped while earlier bytes are still unsent: the peer will hear from us anyway.
  private sendKeepalive(): void {
    if (this.state === 'open' && this.socket.writableLength === 0) this.socket.write(keepaliveFrame);
  }

  // A wildcard or empty advertised host means "reach me where I came from".
  private resolveAddr(hello: Hello): PeerAddress {
    const host = hello.addr.host;
    const wildcard = host === '' || host === '0.0.0.0' || host === '::';
    return { host: wildcard ? (this.socket.remoteAddress ?? '') : host, port: hello.addr.port };
  }

  private refuse(why: string): void {
    if (this.state === 'closed') return;
    this.opts.counters.handshakeFailures++;
    this.opts.logger.warn({ remote: this.remote }, `peer connection refused: ${why}`);
    this.close();
  }

  // A failure after or during the handshake caused by bad bytes.
  private fail(why: string): void {
    if (this.state !== 'open') return this.refuse(why);
    this.opts.counters.protocolErrors++;
    this.opts.logger.warn({ remote: this.remote, peer: this.peerId }, `peer connection closed: ${why}`);
    this.close();
  }

  private close(): void {
    this.socket.destroy();
    this.onClose();
  }

  private onClose(): void {
    if (this.state === 'closed') return;
    const wasOpen = this.state === 'open';
    this.state = 'closed';
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.keepaliveTimer !== null) clearInterval(this.keepaliveTimer);
    this.keepaliveTimer = null;
    if (wasOpen) this.opts.onClosed(this);
  }
}
