/**
 * The node-to-node transport: one outbound TCP connection per peer for sending, inbound
 * connections for receiving, batches coalesced per event-loop turn, and a request/response
 * layer multiplexed over the same connections.
 *
 * How to drive it:
 *   const t = new Transport({ nodeId, clusterId, secret, listen, peers });
 *   t.onMessages((from, msgs) => ...);  t.onPeerStatus((id, up) => ...);
 *   t.onRequest(async (from, payload) => answer);
 *   await t.start();
 *   t.send(peer, msg);                  // all sends to a peer in one turn leave as one frame
 *   await t.request(peer, payload, timeoutMs);
 *   await t.close();
 */
import assert from 'node:assert';
import net from 'node:net';
import { pino, type Logger } from 'pino';
import type { NodeId } from '../raft/types.js';
import {
  TransportClosedError, TransportRemoteError, TransportTimeoutError, TransportUnreachableError,
} from './errors.js';
import { frameBytesMaxDefault } from './frame.js';
import type { PeerAddress } from './handshake.js';
import { InboundConnection, type InboundOptions } from './inbound-connection.js';
import { OutboundLink, type LinkOptions } from './outbound-link.js';
import { createPeerServer, type PeerTlsOptions } from './peer-tls.js';
import { newCounters, type TransportCounters } from './stats.js';

/** Configuration of one node's transport. */
export interface TransportConfig {
  nodeId: NodeId;
  clusterId: string;
  /** Shared cluster secret; the handshake proves it with HMAC-SHA256 over fresh nonces. */
  secret: string;
  /** Where to listen; port 0 picks an ephemeral port (tests). */
  listen: PeerAddress;
  /** Address to tell peers we listen on; defaults to `listen` with the bound port (wildcard hosts: as seen by the peer). */
  advertise?: PeerAddress;
  peers?: Map<NodeId, PeerAddress>;
  /**
   * Where to dial these peers, whatever address we are given or they advertise
   * (--peer-addresses: NAT, proxies; jepsen-lite routes every link through its own proxy).
   */
  addressOverrides?: ReadonlyMap<NodeId, PeerAddress>;
  logger?: Logger;
  reconnectDelayMsMin?: number;
  reconnectDelayMsMax?: number;
  /** Per-peer bytes of frames waiting for connect or drain; beyond it the oldest are dropped and counted. */
  sendQueueBytesMax?: number;
  /** Largest frame body accepted after the handshake, and sent: bigger batches are split (same value cluster-wide). */
  frameBytesMax?: number;
  /** Time allowed for the handshake once connected, both directions. */
  handshakeTimeoutMs?: number;
  /** Time allowed for an outbound TCP connect (a dropped SYN would wait 1 s for its retransmission). */
  connectTimeoutMs?: number;
  /** Interval of keepalives on accepted connections (and of silence checks on our own). */
  keepaliveMs?: number;
  /** An idle outbound connection that hears no keepalive for this long is presumed dead and reconnected. */
  peerSilenceMsMax?: number;
  /** An outbound connection with traffic in flight that hears nothing for this long is reconnected. */
  stallMsMax?: number;
  /** Accepted connections at once (authenticated or not). */
  inboundConnectionsMax?: number;
  /** Peer TLS with mutual certificates (peer-tls.ts), under the HMAC handshake; plain TCP when absent. */
  tls?: PeerTlsOptions;
}

/** Handler of received batches: `msgs` is one frame's messages, in send order. */
export type MessagesHandler = (from: NodeId, msgs: unknown[]) => void;
/** Handler of outbound link status changes. */
export type PeerStatusHandler = (id: NodeId, up: boolean) => void;
/** Handler of requests; its return value (or resolved value) is the response. */
export type RequestHandler = (from: NodeId, payload: unknown) => Promise<unknown> | unknown;
/** Outgoing traffic filter: return false to drop everything sent to `to`. */
export type LinkFilter = (to: NodeId) => boolean;

/** A snapshot of the transport's counters plus per-peer link state. */
export interface TransportStats extends TransportCounters {
  peers: { id: NodeId; up: boolean; queuedBytes: number }[];
}

/** Call kinds inside a frame's second element: [kind, requestId, ...]. */
const callRequest = 0;
const callResponse = 1;
const callFailure = 2;

interface PendingRequest {
  to: NodeId;
  /** Whether the link was up at any time since the request was queued (it may have left). */
  mayHaveSent: boolean;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

const silentLogger = pino({ level: 'silent' });

/**
 * Keepalive interval of accepted connections: one Raft heartbeat (2 ticks of 50 ms). A link
 * with traffic in flight is presumed stalled after 5 missed keepalives (stallMsMax, 500 ms):
 * 300 ms, tried first, closed healthy links on a loaded 2-core machine (load average ~25) when
 * a peer's event loop stalled for 300-450 ms, failing the requests in flight on them.
 */
const keepaliveMsDefault = 100;
/** Floor of the stall limit, so a busy peer's event loop (GC, a large batch) is not taken for a cut. */
const stallMsMin = 500;

/** One node's end of the node-to-node network. */
export class Transport {
  private readonly config: TransportConfig;
  private readonly keepaliveMs: number;
  private readonly logger: Logger;
  private readonly counters = newCounters();
  private readonly peers = new Map<NodeId, PeerAddress>();
  /** Addresses advertised by authenticated nodes we have no configured peer entry for (joiners). */
  private readonly learned = new Map<NodeId, PeerAddress>();
  private readonly links = new Map<NodeId, OutboundLink>();
  private readonly inbound = new Map<NodeId, InboundConnection>();
  private readonly sockets = new Set<net.Socket>();
  private readonly pending = new Map<number, PendingRequest>();
  private dirty: OutboundLink[] = [];
  private flushScheduled = false;
  /**
   * Request ids start at a random point: a peer may answer a request of this node's
   * previous incarnation after a restart (its link keeps queued frames across reconnects),
   * and that answer must not settle a new request that happens to have the same id
   * (found by the cluster simulator, seed 5427).
   */
  private nextRequestId = 1 + Math.floor(Math.random() * 2 ** 48);
  private server: net.Server | null = null;
  private advertise: PeerAddress | null = null;
  private closed = false;
  private messagesHandler: MessagesHandler = () => {};
  private statusHandler: PeerStatusHandler = () => {};
  private requestHandler: RequestHandler | null = null;
  private linkFilter: LinkFilter | null = null;

  constructor(config: TransportConfig) {
    assert(Number.isSafeInteger(config.nodeId) && config.nodeId > 0, 'nodeId must be a positive integer');
    this.config = config;
    this.keepaliveMs = config.keepaliveMs ?? keepaliveMsDefault;
    assert((config.peerSilenceMsMax ?? 10_000) > this.keepaliveMs, 'peerSilenceMsMax must exceed keepaliveMs');
    this.logger = (config.logger ?? silentLogger).child({ component: 'transport', node: config.nodeId });
    for (const [id, addr] of config.peers ?? []) this.peers.set(id, this.addressOf(id, addr));
  }

  /** Starts listening and connecting to the configured peers; resolves with the bound port. */
  async start(): Promise<{ port: number }> {
    assert(this.server === null && !this.closed, 'start() called twice');
    const server = createPeerServer(this.config.tls, (socket) => this.onConnection(socket), (why, remote) => this.onTlsRefused(why, remote));
    server.maxConnections = this.config.inboundConnectionsMax ?? 1024;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.config.listen.port, this.config.listen.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.logger.error({ err: err.message }, 'peer listener error'));
    const port = (server.address() as net.AddressInfo).port;
    this.advertise = this.config.advertise ?? { host: advertisedHost(this.config.listen.host), port };
    for (const [id, addr] of this.peers) this.openLink(id, addr, true);
    this.logger.info({ port }, 'peer transport listening');
    return { port };
  }

  /** Adds or updates a peer; a changed address replaces the connection. */
  setPeer(id: NodeId, given: PeerAddress): void {
    assert(id !== this.config.nodeId, 'a node is not its own peer');
    const addr = this.addressOf(id, given);
    this.peers.set(id, { host: addr.host, port: addr.port });
    this.learned.delete(id);
    const link = this.links.get(id);
    if (link !== undefined && link.addr.host === addr.host && link.addr.port === addr.port) {
      link.persistent = true; // a joiner we were answering became a member: keep its link
      return;
    }
    if (link !== undefined) this.dropLink(link, 'peer address changed');
    if (this.server !== null && !this.closed) this.openLink(id, addr, true);
  }

  /** Forgets a peer: closes its outbound connection and fails its pending requests. */
  removePeer(id: NodeId): void {
    this.peers.delete(id);
    this.learned.delete(id);
    const link = this.links.get(id);
    if (link !== undefined) this.dropLink(link, 'peer removed');
  }

  /** Queues a message for `to`; all messages queued for a peer in one event-loop turn go out as one frame. */
  send(to: NodeId, msg: unknown): void {
    const link = this.sendableLink(to);
    if (link === null) return;
    link.msgs.push(msg);
    this.markDirty(link);
  }

  /** Sets the handler of received batches (one call per frame, in frame order per peer). */
  onMessages(handler: MessagesHandler): void {
    this.messagesHandler = handler;
  }

  /** Sets the handler told when a peer becomes unreachable (connect failed / dropped) and reachable again. */
  onPeerStatus(handler: PeerStatusHandler): void {
    this.statusHandler = handler;
  }

  /** Sets the handler that answers requests from other nodes. */
  onRequest(handler: RequestHandler): void {
    this.requestHandler = handler;
  }

  /**
   * Sends `payload` to `to` and resolves with its handler's answer. Fails fast with
   * TransportUnreachableError when the peer is known down, with TransportTimeoutError
   * (the request may have run) after `timeoutMs`, with TransportRemoteError if the handler threw.
   */
  request(to: NodeId, payload: unknown, timeoutMs: number): Promise<unknown> {
    if (this.closed) return Promise.reject(new TransportClosedError());
    const link = this.linkFor(to);
    if (link === null) return Promise.reject(new TransportUnreachableError(to, 'unknown node', true));
    if (!link.up && link.reported === false) return Promise.reject(new TransportUnreachableError(to, 'peer is down', true));
    return new Promise((resolve, reject) => {
      const id = this.nextRequestId++;
      const timer = setTimeout(() => this.onRequestTimeout(id, to, timeoutMs), timeoutMs);
      this.pending.set(id, { to, mayHaveSent: link.up, resolve, reject, timer });
      this.counters.requestsSent++;
      this.enqueueCall(link, [callRequest, id, payload]);
    });
  }

  /** Fault injection: drop all outgoing traffic to nodes for which `filter` returns false (null: deliver all). */
  setLinkFilter(filter: LinkFilter | null): void {
    this.linkFilter = filter;
  }

  /**
   * Closes the connection `id` sends to us on, because it sent something malformed; a real
   * node reconnects (and its sends resume in order on the new connection).
   */
  resetPeer(id: NodeId, why: string): void {
    const conn = this.inbound.get(id);
    if (conn === undefined) return;
    this.logger.debug({ peer: id, why }, 'peer connection reset');
    conn.destroy();
  }

  /** Whether the outbound connection to `id` is currently up. */
  isPeerUp(id: NodeId): boolean {
    return this.links.get(id)?.up ?? false;
  }

  /** Counters since start plus the state of each outbound link. */
  stats(): TransportStats {
    const peers = [...this.links.values()].map((l) => ({ id: l.peerId, up: l.up, queuedBytes: l.queuedBytesNow }));
    return { ...this.counters, peers };
  }

  /** Stops listening, closes every connection and fails pending requests with TransportClosedError. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const link of this.links.values()) link.close();
    this.links.clear();
    for (const socket of this.sockets) socket.destroy();
    for (const [id, req] of this.pending) {
      clearTimeout(req.timer);
      this.pending.delete(id);
      req.reject(new TransportClosedError());
    }
    const server = this.server;
    if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private openLink(id: NodeId, addr: PeerAddress, persistent: boolean): OutboundLink {
    assert(this.advertise !== null);
    const opts: LinkOptions = {
      selfId: this.config.nodeId, peerId: id, clusterId: this.config.clusterId, secret: this.config.secret,
      addr, advertise: this.advertise, persistent, ...(this.config.tls === undefined ? {} : { tls: this.config.tls }),
      reconnectDelayMsMin: this.config.reconnectDelayMsMin ?? 50,
      reconnectDelayMsMax: this.config.reconnectDelayMsMax ?? 500,
      sendQueueBytesMax: this.config.sendQueueBytesMax ?? 32 * 1024 * 1024,
      frameBytesMax: this.config.frameBytesMax ?? frameBytesMaxDefault,
      handshakeTimeoutMs: this.config.handshakeTimeoutMs ?? 2000,
      connectTimeoutMs: this.config.connectTimeoutMs ?? Math.min(300, this.config.handshakeTimeoutMs ?? 300),
      keepaliveMs: this.keepaliveMs,
      peerSilenceMsMax: this.config.peerSilenceMsMax ?? 10_000,
      stallMsMax: this.config.stallMsMax ?? Math.max(5 * this.keepaliveMs, stallMsMin),
      counters: this.counters, logger: this.logger,
      onStatus: (link, up) => this.onLinkStatus(link, up),
      onGone: (link) => this.onLinkGone(link),
    };
    const link = new OutboundLink(opts);
    this.links.set(id, link);
    link.start();
    return link;
  }

  private dropLink(link: OutboundLink, why: string): void {
    link.close();
    this.links.delete(link.peerId);
    this.failPending(link.peerId, why);
  }

  // Where to dial `id`: its --peer-addresses entry, else the address we were given.
  private addressOf(id: NodeId, given: PeerAddress): PeerAddress {
    return this.config.addressOverrides?.get(id) ?? given;
  }

  // The link to `to`, opening one to a learned address on demand (answers to joiners).
  private linkFor(to: NodeId): OutboundLink | null {
    const link = this.links.get(to);
    if (link !== undefined) return link;
    const addr = this.learned.get(to);
    if (addr === undefined || this.server === null || this.closed) return null;
    return this.openLink(to, addr, false);
  }

  // The link a message to `to` may be queued on, or null after counting why it is dropped.
  private sendableLink(to: NodeId): OutboundLink | null {
    if (this.closed) return null;
    if (this.linkFilter !== null && !this.linkFilter(to)) {
      this.counters.filtered++;
      return null;
    }
    const link = this.linkFor(to);
    if (link === null || (!link.up && link.reported === false)) {
      this.counters.dropped++;
      return null;
    }
    return link;
  }

  private enqueueCall(link: OutboundLink, call: unknown[]): void {
    if (this.linkFilter !== null && !this.linkFilter(link.peerId)) {
      this.counters.filtered++;
      return;
    }
    link.calls.push(call);
    this.markDirty(link);
  }

  private markDirty(link: OutboundLink): void {
    if (!link.dirty) {
      link.dirty = true;
      this.dirty.push(link);
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flush);
    }
  }

  // Once per event-loop turn: one frame per peer holding everything queued for it.
  private readonly flush = (): void => {
    this.flushScheduled = false;
    const dirty = this.dirty;
    this.dirty = [];
    for (const link of dirty) {
      if (this.links.get(link.peerId) === link) link.flush();
    }
  };

  private onLinkStatus(link: OutboundLink, up: boolean): void {
    if (this.links.get(link.peerId) !== link) return;
    this.logger.info({ peer: link.peerId, up }, up ? 'peer reachable' : 'peer unreachable');
    if (!up) this.failPending(link.peerId, 'connection lost');
    else for (const req of this.pending.values()) if (req.to === link.peerId) req.mayHaveSent = true;
    this.statusHandler(link.peerId, up);
  }

  private onLinkGone(link: OutboundLink): void {
    if (this.links.get(link.peerId) === link) this.links.delete(link.peerId);
  }

  private failPending(to: NodeId, why: string): void {
    for (const [id, req] of this.pending) {
      if (req.to !== to) continue;
      clearTimeout(req.timer);
      this.pending.delete(id);
      req.reject(new TransportUnreachableError(to, why, !req.mayHaveSent));
    }
  }

  private onRequestTimeout(id: number, to: NodeId, timeoutMs: number): void {
    const req = this.pending.get(id);
    if (req === undefined) return;
    this.pending.delete(id);
    this.counters.requestsTimedOut++;
    req.reject(new TransportTimeoutError(to, timeoutMs));
  }

  private onConnection(socket: net.Socket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    const opts: InboundOptions = {
      selfId: this.config.nodeId, clusterId: this.config.clusterId, secret: this.config.secret,
      frameBytesMax: this.config.frameBytesMax ?? frameBytesMaxDefault,
      handshakeTimeoutMs: this.config.handshakeTimeoutMs ?? 2000,
      keepaliveMs: this.keepaliveMs,
      counters: this.counters, logger: this.logger,
      onAuthenticated: (conn) => this.onInboundAuthenticated(conn),
      onFrame: (conn, payload) => this.onFrame(conn, payload),
      onClosed: (conn) => {
        if (this.inbound.get(conn.peerId) === conn) this.inbound.delete(conn.peerId);
      },
    };
    new InboundConnection(socket, opts);
  }

  // A dialler without a certificate from our CA: refused before any frame (rate-limited by its backoff).
  private onTlsRefused(why: string, remote: string): void {
    this.counters.handshakeFailures++;
    this.logger.warn({ remote }, `peer connection refused: ${why}`);
  }

  private onInboundAuthenticated(conn: InboundConnection): void {
    const previous = this.inbound.get(conn.peerId);
    // A node has one outbound link to us; a newer connection means the old one is dead.
    if (previous !== undefined) previous.destroy();
    this.inbound.set(conn.peerId, conn);
    // Our answers to its requests travel on our own link: do not leave that one in backoff.
    this.links.get(conn.peerId)?.reconnectNow();
    if (this.peers.has(conn.peerId) || conn.peerAddr === null) return;
    const known = this.learned.get(conn.peerId);
    const addr = this.addressOf(conn.peerId, conn.peerAddr);
    this.learned.set(conn.peerId, addr);
    const link = this.links.get(conn.peerId);
    if (link !== undefined && (known?.host !== addr.host || known.port !== addr.port)) {
      this.dropLink(link, 'peer address changed');
    }
  }

  private onFrame(conn: InboundConnection, payload: unknown): boolean {
    if (!Array.isArray(payload) || payload.length < 1 || payload.length > 2) return false;
    const msgs: unknown = payload[0];
    const calls: unknown = payload[1];
    if (!Array.isArray(msgs)) return false;
    if (calls !== undefined && !(Array.isArray(calls) && calls.every(isCall))) return false;
    this.counters.messagesReceived += msgs.length;
    if (msgs.length > 0) this.messagesHandler(conn.peerId, msgs);
    if (calls !== undefined && conn.open) {
      this.counters.messagesReceived += calls.length;
      for (const call of calls as unknown[][]) this.onCall(conn.peerId, call);
    }
    return true;
  }

  private onCall(from: NodeId, call: unknown[]): void {
    const id = call[1] as number;
    switch (call[0]) {
      case callRequest:
        this.onRequestCall(from, id, call[2]);
        return;
      case callResponse:
        this.settle(from, id, (req) => req.resolve(call[2]));
        return;
      case callFailure:
        this.settle(from, id, (req) => req.reject(new TransportRemoteError(from, String(call[2]), String(call[3]))));
        return;
    }
  }

  private settle(from: NodeId, id: number, finish: (req: PendingRequest) => void): void {
    const req = this.pending.get(id);
    if (req === undefined || req.to !== from) return; // late (timed out) or misdirected
    clearTimeout(req.timer);
    this.pending.delete(id);
    finish(req);
  }

  private onRequestCall(from: NodeId, id: number, payload: unknown): void {
    this.counters.requestsReceived++;
    const handler = this.requestHandler;
    if (handler === null) return this.reply(from, [callFailure, id, 'ENOHANDLER', 'no request handler']);
    let result: unknown;
    try {
      result = handler(from, payload);
    } catch (err) {
      return this.reply(from, failureCall(id, err));
    }
    if (!isThenable(result)) return this.reply(from, [callResponse, id, result]);
    result.then(
      (value) => this.reply(from, [callResponse, id, value]),
      (err: unknown) => this.reply(from, failureCall(id, err)),
    );
  }

  // Responses travel on our own outbound link to the requester.
  private reply(to: NodeId, call: unknown[]): void {
    if (this.closed) return;
    const link = this.linkFor(to);
    if (link === null) {
      this.counters.dropped++;
      this.logger.debug({ peer: to }, 'response dropped: no address for the requester');
      return;
    }
    this.enqueueCall(link, call);
  }
}

function advertisedHost(listenHost: string): string {
  return listenHost === '0.0.0.0' || listenHost === '::' ? '' : listenHost;
}

/** A call envelope: [request, id, payload], [response, id, value] or [failure, id, code, message]. */
function isCall(v: unknown): v is unknown[] {
  if (!Array.isArray(v) || !Number.isSafeInteger(v[1])) return false;
  if (v[0] === callRequest || v[0] === callResponse) return v.length === 3;
  return v[0] === callFailure && v.length === 4 && typeof v[2] === 'string' && typeof v[3] === 'string';
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

function failureCall(id: number, err: unknown): unknown[] {
  const code = typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : 'EREMOTE';
  const message = err instanceof Error ? err.message : String(err);
  return [callFailure, id, code, message];
}
