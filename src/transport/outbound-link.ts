/**
 * One outbound connection to one peer: connect, handshake as the client, then write one frame
 * per event-loop turn. Owns the peer's send queue (bounded, oldest dropped first), honours
 * socket backpressure, and reconnects with exponential backoff and jitter.
 *
 * Liveness (heal fast, issue 10): the accepting side sends a keepalive every `keepaliveMs`
 * (100 ms by default, one Raft heartbeat). A link that has sent something since it last heard
 * from the peer and then hears nothing for `stallMsMax` (500 ms: five keepalives, so a
 * peer's event loop busy for a few hundred ms on a loaded machine is not taken for a cut) is
 * presumed cut or stalled: it is destroyed and redialled, rather than left to the kernel,
 * whose retransmission backoff (RTO doubling to seconds) would hold the queued bytes long
 * after the network healed. An idle link is closed only after `peerSilenceMsMax`. A dial
 * whose TCP connect does not complete within `connectTimeoutMs` (a dropped SYN waits a full
 * second for its first retransmission) is abandoned and retried after the short backoff.
 * TCP keepalive is on as well; TCP_USER_TIMEOUT would bound the kernel's retransmissions
 * too, but Node 20 does not expose it (net.Socket has no setsockopt), hence the checks here.
 */
import assert from 'node:assert';
import net from 'node:net';
import type { Logger } from 'pino';
import type { NodeId } from '../raft/types.js';
import { encodeFrame, FrameDecoder, frameHeaderBytes, isKeepalive, packr } from './frame.js';
import {
  computeProof, handshakeFrameBytesMax, handshakeVersion, newNonce, parseChallenge, parseOk,
  proofMatches, type Hello, type PeerAddress, type ProofInput,
} from './handshake.js';
import { dialPeer, type PeerTlsOptions } from './peer-tls.js';
import type { TransportCounters } from './stats.js';

/** What a link needs from its transport. */
export interface LinkOptions {
  selfId: NodeId;
  peerId: NodeId;
  clusterId: string;
  secret: string;
  /** Where the peer listens. */
  addr: PeerAddress;
  /** Where we listen, told to the peer so it can answer requests from a node it does not know yet. */
  advertise: PeerAddress;
  reconnectDelayMsMin: number;
  reconnectDelayMsMax: number;
  sendQueueBytesMax: number;
  /** The peer's frame limit (the same setting cluster-wide): larger batches are split. */
  frameBytesMax: number;
  handshakeTimeoutMs: number;
  /** A dial whose TCP connect has not completed after this long is abandoned and retried. */
  connectTimeoutMs: number;
  /** An up link whose peer sent no keepalive for this long is closed and reconnected. */
  peerSilenceMsMax: number;
  /** An up link that sent bytes and then heard nothing for this long is closed and reconnected. */
  stallMsMax: number;
  /** How often an up link checks for silence. */
  keepaliveMs: number;
  /** Persistent links reconnect forever; others (to learned addresses) give up on the first failure. */
  persistent: boolean;
  /** Peer TLS (peer-tls.ts); plain TCP when absent. */
  tls?: PeerTlsOptions;
  counters: TransportCounters;
  logger: Logger;
  onStatus: (link: OutboundLink, up: boolean) => void;
  onGone: (link: OutboundLink) => void;
}

type LinkState = 'connecting' | 'handshaking' | 'up' | 'backoff' | 'closed';

/**
 * TCP keepalive's idle time before its first probe. It only probes an idle connection (the
 * stall check above covers one with data in flight); Node 20 sets just this knob, the probe
 * interval and count stay the kernel's.
 */
const tcpKeepaliveIdleMs = 1000;

/**
 * A dial in progress this long when the peer connects to us is presumed lost (begun during a
 * cut) and is abandoned for a fresh one: one Raft heartbeat, many round trips on a LAN.
 */
const staleDialMs = 100;

/** Backoff before reconnect attempt `attempt` (0-based): exponential, capped, "equal jitter". */
export function reconnectDelayMs(attempt: number, minMs: number, maxMs: number): number {
  const ceilingMs = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
  return ceilingMs / 2 + Math.random() * (ceilingMs / 2);
}

/** The outbound half of the connection pair with one peer. */
export class OutboundLink {
  readonly peerId: NodeId;
  readonly addr: PeerAddress;
  /** Persistent links reconnect forever; a learned link becomes persistent when its node becomes a peer. */
  persistent: boolean;
  /** Messages queued this event-loop turn; the transport's flush turns them into one frame. */
  readonly msgs: unknown[] = [];
  /** Request/response envelopes queued this turn; they ride in the same frame. */
  readonly calls: unknown[] = [];
  /** Whether the transport has this link on its list to flush this turn. */
  dirty = false;
  /** The last status reported to the transport; null until the first connect succeeds or fails. */
  reported: boolean | null = null;

  private readonly opts: LinkOptions;
  private state: LinkState = 'connecting';
  private socket: net.Socket | null = null;
  private readonly queue: Buffer[] = [];
  private readonly queueCounts: number[] = [];
  private queuedBytes = 0;
  private waitingDrain = false;
  private attempt = 0;
  private timer: NodeJS.Timeout | null = null;
  private silenceTimer: NodeJS.Timeout | null = null;
  /** When the current connection last delivered bytes (Date.now ms). */
  private heardAtMs = 0;
  /** When we last wrote to the current connection (Date.now ms). */
  private wroteAtMs = 0;
  /** When the silence check last ran (Date.now ms): a late check means our own loop was blocked. */
  private checkedAtMs = 0;
  /** When the current dial began (Date.now ms). */
  private dialStartedMs = 0;
  /** The current dial replaced one abandoned by reconnectNow. */
  private redialled = false;
  /** The connection being closed never completed its TCP connect in time. */
  private connectTimedOut = false;
  private clientNonce: Buffer = Buffer.alloc(0);
  /** Set once the peer's challenge arrived; the next frame must be its 'ok'. */
  private proofInput: ProofInput | null = null;
  /** The last handshake refusal, so repeated identical ones are not logged as warnings again. */
  private lastRefusal = '';

  constructor(opts: LinkOptions) {
    this.opts = opts;
    this.peerId = opts.peerId;
    this.addr = opts.addr;
    this.persistent = opts.persistent;
  }

  /** Whether the handshake completed and the connection is open. */
  get up(): boolean {
    return this.state === 'up';
  }

  /** Bytes of encoded frames waiting for the connection or for 'drain'. */
  get queuedBytesNow(): number {
    return this.queuedBytes;
  }

  /** Starts the first connection attempt. */
  start(): void {
    this.connect();
  }

  /** Encodes this turn's messages as one frame and writes or queues it. */
  flush(): void {
    this.dirty = false;
    const count = this.msgs.length + this.calls.length;
    if (count === 0) return;
    if (this.state !== 'up' && this.reported === false) {
      // The peer is known to be down: Raft retries, and a stale backlog would only delay
      // fresh messages after reconnect. Calls are kept: they are answers to requests the
      // peer has just sent us (a request to a down peer fails at once), so it is alive.
      this.opts.counters.dropped += this.msgs.length;
      if (this.calls.length > 0) this.encode([], this.calls);
    } else {
      this.encode(this.msgs, this.calls);
    }
    this.msgs.length = 0;
    this.calls.length = 0;
  }

  // One frame, unless the batch exceeds the receiver's frame limit: then halves, in order.
  // A single message over the limit could never be delivered, so it is dropped and logged.
  private encode(msgs: unknown[], calls: unknown[]): void {
    const frame = encodeFrame(calls.length === 0 ? [msgs] : [msgs, calls]);
    const count = msgs.length + calls.length;
    if (frame.length - frameHeaderBytes <= this.opts.frameBytesMax) {
      this.emit(frame, count);
    } else if (count === 1) {
      this.opts.counters.dropped++;
      this.opts.logger.error({ peer: this.peerId, bytes: frame.length }, 'message larger than frameBytesMax dropped');
    } else if (msgs.length > 1) {
      const half = msgs.length >>> 1;
      this.encode(msgs.slice(0, half), []);
      this.encode(msgs.slice(half), calls);
    } else if (calls.length > 1) {
      const half = calls.length >>> 1;
      this.encode(msgs, calls.slice(0, half));
      this.encode([], calls.slice(half));
    } else {
      this.encode(msgs, []);
      this.encode([], calls);
    }
  }

  private emit(frame: Buffer, count: number): void {
    if (this.state === 'up' && !this.waitingDrain) this.write(frame, count);
    else this.enqueue(frame, count);
  }

  /**
   * The peer has just connected to us, so it is back: skips the rest of a reconnect backoff,
   * and abandons a dial still in progress for a fresh one. A dial begun during a cut (its SYN
   * or hello lost; or accepted by the kernel of a stopped process that never answers) would
   * otherwise hold our answers to the peer until its connect or handshake timeout, while the
   * peer's forwarded request waits out its own (issue 10, docs/availability.md "Where heal
   * time goes"). What is queued stays queued for the new connection.
   */
  reconnectNow(): void {
    if (this.state === 'backoff') {
      this.clearTimer();
      this.connect();
      return;
    }
    if (this.state !== 'connecting' && this.state !== 'handshaking') return;
    // A young dial is let be (both nodes dialling each other at once would otherwise abandon
    // each other's dials in turn), and a dial made here is never abandoned in its turn.
    if (this.redialled || Date.now() - this.dialStartedMs < staleDialMs) return;
    const stale = this.socket;
    this.clearTimer();
    this.socket = null; // its close event is then not ours to handle
    stale?.destroy();
    this.opts.counters.handshakeFailures++;
    this.opts.logger.debug({ peer: this.peerId }, 'peer link redialled: the peer connected to us meanwhile');
    this.connect();
    this.redialled = true;
  }

  /** Closes the link for good, without reporting a status change. */
  close(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.clearTimer();
    this.dropQueue();
    this.socket?.destroy();
    this.socket = null;
  }

  private connect(): void {
    this.state = 'connecting';
    this.dialStartedMs = Date.now();
    this.redialled = false;
    this.clientNonce = newNonce();
    this.proofInput = null;
    const { socket, readyEvent } = dialPeer(this.addr, this.opts.tls);
    this.socket = socket;
    const decoder = new FrameDecoder(handshakeFrameBytesMax);
    socket.on(readyEvent, () => this.onConnect(socket));
    socket.on('data', (chunk: Buffer) => this.onData(socket, decoder, chunk));
    socket.on('drain', () => this.onDrain(socket));
    socket.on('error', (err) => this.opts.logger.debug({ peer: this.peerId, err: err.message }, 'peer link error'));
    socket.on('close', () => this.onClose(socket));
    this.timer = setTimeout(() => this.onHandshakeTimeout(socket), this.opts.connectTimeoutMs);
  }

  private onConnect(socket: net.Socket): void {
    if (socket !== this.socket) return;
    this.state = 'handshaking';
    // The connect phase is over: the rest of the handshake gets its own, longer, allowance.
    this.clearTimer();
    this.timer = setTimeout(() => this.onHandshakeTimeout(socket), this.opts.handshakeTimeoutMs);
    socket.setKeepAlive(true, tcpKeepaliveIdleMs);
    const hello: Hello = {
      t: 'hello', v: handshakeVersion, clusterId: this.opts.clusterId, nodeId: this.opts.selfId,
      nonce: this.clientNonce, addr: this.opts.advertise,
    };
    socket.write(encodeFrame(hello));
  }

  private onData(socket: net.Socket, decoder: FrameDecoder, chunk: Buffer): void {
    if (socket !== this.socket) return;
    this.heardAtMs = Date.now();
    let bodies: Buffer[];
    try {
      bodies = decoder.push(chunk);
    } catch (err) {
      this.refuse(socket, `bad frame from peer: ${(err as Error).message}`);
      return;
    }
    for (const body of bodies) {
      if (socket.destroyed) return;
      if (this.state === 'up') {
        // The accepting side never writes anything but keepalives after 'ok'.
        if (isKeepalive(body)) this.opts.counters.keepalivesReceived++;
        else this.refuse(socket, 'unexpected data after handshake');
        continue;
      }
      let msg: unknown;
      try {
        msg = packr.unpack(body);
      } catch (err) {
        this.refuse(socket, `bad handshake frame: ${(err as Error).message}`);
        return;
      }
      this.onHandshakeFrame(socket, msg);
    }
  }

  private onHandshakeFrame(socket: net.Socket, msg: unknown): void {
    if (this.state !== 'handshaking') {
      this.refuse(socket, 'handshake message before connect');
      return;
    }
    if (this.proofInput === null) this.onChallenge(socket, msg);
    else this.onOk(socket, msg, this.proofInput);
  }

  private onChallenge(socket: net.Socket, msg: unknown): void {
    const challenge = parseChallenge(msg);
    if (challenge === null) {
      this.refuse(socket, 'malformed challenge');
      return;
    }
    if (challenge.nodeId !== this.peerId) {
      this.refuse(socket, `expected node ${this.peerId}, found node ${challenge.nodeId}`);
      return;
    }
    this.proofInput = {
      clusterId: this.opts.clusterId, clientId: this.opts.selfId, serverId: this.peerId,
      clientNonce: this.clientNonce, serverNonce: Buffer.from(challenge.nonce), addr: this.opts.advertise,
    };
    socket.write(encodeFrame({ t: 'auth', proof: computeProof(this.opts.secret, 'C', this.proofInput) }));
  }

  private onOk(socket: net.Socket, msg: unknown, input: ProofInput): void {
    const ok = parseOk(msg);
    if (ok === null) {
      this.refuse(socket, 'malformed ok');
      return;
    }
    if (!proofMatches(computeProof(this.opts.secret, 'S', input), Buffer.from(ok.proof))) {
      this.refuse(socket, 'peer failed to prove the cluster secret');
      return;
    }
    this.onUp(socket);
  }

  private onUp(socket: net.Socket): void {
    assert(this.state === 'handshaking');
    this.clearTimer();
    this.state = 'up';
    this.attempt = 0;
    this.lastRefusal = '';
    this.heardAtMs = Date.now();
    this.wroteAtMs = 0;
    this.checkedAtMs = this.heardAtMs;
    this.silenceTimer = setInterval(() => this.checkSilence(socket), this.opts.keepaliveMs);
    this.silenceTimer.unref();
    this.opts.counters.connects++;
    this.opts.logger.debug({ peer: this.peerId }, 'peer link up');
    if (this.reported !== true) {
      this.reported = true;
      this.opts.onStatus(this, true);
    }
    if (socket === this.socket && this.state === 'up') this.writeQueue();
  }

  private refuse(socket: net.Socket, why: string): void {
    this.opts.counters.handshakeFailures++;
    // A misconfigured peer fails the same way on every retry: warn once, then quietly.
    const level = why === this.lastRefusal ? 'debug' : 'warn';
    this.lastRefusal = why;
    this.opts.logger[level]({ peer: this.peerId, addr: `${this.addr.host}:${this.addr.port}` }, `peer link refused: ${why}`);
    socket.destroy();
  }

  /**
   * Closes a link that is silent for too long: `stallMsMax` while it has traffic to deliver
   * (bytes written since the peer was last heard, or waiting in the socket or our queue),
   * `peerSilenceMsMax` when idle.
   */
  private checkSilence(socket: net.Socket): void {
    if (socket !== this.socket || this.state !== 'up') return;
    const nowMs = Date.now();
    const lateMs = nowMs - this.checkedAtMs - this.opts.keepaliveMs;
    this.checkedAtMs = nowMs;
    // Our own event loop was blocked: timers run before pending socket reads, so what the
    // peer sent meanwhile has not been read yet. Judge again next time, not now.
    if (lateMs > this.opts.keepaliveMs) return;
    const silentMs = nowMs - this.heardAtMs;
    const sending = this.wroteAtMs > this.heardAtMs || socket.writableLength > 0 || this.queuedBytes > 0;
    const limitMs = sending ? Math.min(this.opts.stallMsMax, this.opts.peerSilenceMsMax) : this.opts.peerSilenceMsMax;
    if (silentMs <= limitMs) return;
    this.opts.counters.silentDisconnects++;
    const why = sending ? 'peer link stalled (sending, nothing heard), reconnecting' : 'peer link silent, reconnecting';
    this.opts.logger.info({ peer: this.peerId, silentMs, unsentBytes: socket.writableLength + this.queuedBytes }, why);
    socket.destroy();
  }

  private onHandshakeTimeout(socket: net.Socket): void {
    this.timer = null;
    if (socket !== this.socket || this.state === 'up') return;
    // An unanswered connect (a dropped SYN) already waited connectTimeoutMs: the next dial
    // comes after the shortest backoff, so a healed network is found within ~1/3 s.
    this.connectTimedOut = this.state === 'connecting';
    this.opts.counters.handshakeFailures++;
    this.opts.logger.debug({ peer: this.peerId }, 'peer link connect/handshake timed out');
    socket.destroy();
  }

  private onClose(socket: net.Socket): void {
    if (socket !== this.socket || this.state === 'closed') return;
    const wasUp = this.state === 'up';
    this.socket = null;
    this.proofInput = null;
    this.waitingDrain = false;
    this.clearTimer();
    this.opts.counters.disconnects++;
    // Frames queued for a connection that never came up were never written: they wait for the
    // next one (while the peer is known down only answers to its requests are queued, see
    // flush). A broken up connection may have taken part of them: its queue is dropped.
    if (wasUp) this.dropQueue();
    const wasReported = this.reported;
    this.reported = false;
    if (wasReported !== false) this.opts.onStatus(this, false);
    if ((this.state as LinkState) === 'closed') return; // the status handler may have closed us
    if (!this.persistent) {
      this.close();
      this.opts.onGone(this);
      return;
    }
    this.state = 'backoff';
    const delayMs = this.connectTimedOut ? this.opts.reconnectDelayMsMin : reconnectDelayMs(this.attempt++, this.opts.reconnectDelayMsMin, this.opts.reconnectDelayMsMax);
    this.connectTimedOut = false;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.connect();
    }, delayMs);
  }

  private write(frame: Buffer, count: number): void {
    const socket = this.socket;
    assert(socket !== null && this.state === 'up');
    this.opts.counters.framesSent++;
    this.opts.counters.bytesSent += frame.length;
    this.opts.counters.messagesSent += count;
    this.wroteAtMs = Date.now();
    if (!socket.write(frame)) this.waitingDrain = true;
  }

  private enqueue(frame: Buffer, count: number): void {
    this.queue.push(frame);
    this.queueCounts.push(count);
    this.queuedBytes += frame.length;
    while (this.queuedBytes > this.opts.sendQueueBytesMax && this.queue.length > 0) {
      this.queuedBytes -= this.queue.shift()!.length;
      this.opts.counters.dropped += this.queueCounts.shift()!;
    }
  }

  private onDrain(socket: net.Socket): void {
    if (socket !== this.socket || this.state !== 'up') return;
    this.waitingDrain = false;
    this.writeQueue();
  }

  // Writes queued frames until the socket pushes back; corked so they leave in one writev.
  private writeQueue(): void {
    if (this.queue.length === 0) return;
    const socket = this.socket;
    assert(socket !== null);
    socket.cork();
    while (this.queue.length > 0 && !this.waitingDrain) {
      const frame = this.queue.shift()!;
      this.queuedBytes -= frame.length;
      this.write(frame, this.queueCounts.shift()!);
    }
    socket.uncork();
  }

  private dropQueue(): void {
    for (const count of this.queueCounts) this.opts.counters.dropped += count;
    this.queue.length = 0;
    this.queueCounts.length = 0;
    this.queuedBytes = 0;
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.silenceTimer !== null) clearInterval(this.silenceTimer);
    this.silenceTimer = null;
  }
}
