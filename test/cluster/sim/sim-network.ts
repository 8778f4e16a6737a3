/**
 * The simulated network between node incarnations, and each node's end of it (SimTransport,
 * the TransportLike seam of src/cluster/contracts.ts).
 *
 * Like the real transport (src/transport/transport.ts), everything a node sends to one peer
 * in one event turn leaves as one frame `[messages, calls]`, serialised with the transport's
 * own msgpackr codec (so the receiver never shares an object with the sender, and values
 * arrive as the wire makes them), and frames on a link arrive in order unless a fault says
 * otherwise. A frame takes a seeded delay; faults drop, duplicate (Raft messages only: TCP
 * never duplicates a request) and reorder frames, slow links down, and cut directed links
 * (partitions). A frame is lost when its link is cut at sending or at delivery, or when the
 * receiving incarnation is gone by then.
 *
 * Requests: `request()` fails at once with EUNREACHABLE (notSent) when the peer is down or
 * unknown, with EUNREACHABLE (may have been sent) when the peer crashes while it waits, and
 * with ETIMEDOUT when no answer came in time. Answers travel back over the network too.
 */
import { packr } from '../../../src/transport/frame.js';
import { TransportRemoteError, TransportTimeoutError, TransportUnreachableError } from '../../../src/transport/errors.js';
import type { TransportLike } from '../../../src/cluster/contracts.js';
import type { NodeId } from '../../../src/raft/types.js';
import { Rng, type Scheduler } from './scheduler.js';
import type { Life } from './sim-runtime.js';

/** Per-frame faults in force; each fault of a schedule adds one of these while it lasts. */
export interface LinkFaults {
  /** Probability that a frame is lost. */
  dropP: number;
  /** Probability that a frame's Raft messages arrive twice. */
  dupP: number;
  /** Probability that a frame skips the link's order and takes up to reorderUsMax more. */
  reorderP: number;
  reorderUsMax: number;
  /** Extra delay of every frame, uniform in [0, slowUsMax]. */
  slowUsMax: number;
}

/** The network's base timing. */
export interface NetTiming {
  delayUsMin: number;
  delayUsMax: number;
}

/** Counters of what the network did (non-vacuity figures). */
export interface NetStats {
  frames: number;
  messages: number;
  requests: number;
  cut: number;
  dropped: number;
  duplicated: number;
  reordered: number;
  lostToCrash: number;
  timeouts: number;
  unreachable: number;
}

type Call = [0, number, unknown] | [1, number, unknown] | [2, number, string, string];

interface Outbox {
  msgs: unknown[];
  calls: Call[];
}

/** The shared network: links, partitions, link faults, and who is up. */
export class SimNetwork {
  readonly stats: NetStats = { frames: 0, messages: 0, requests: 0, cut: 0, dropped: 0, duplicated: 0, reordered: 0, lostToCrash: 0, timeouts: 0, unreachable: 0 };
  private readonly endpoints = new Map<NodeId, SimTransport>();
  /** Directed link cuts, counted: overlapping partitions heal independently. */
  private readonly cuts = new Map<number, number>();
  private readonly faults = new Set<LinkFaults>();
  private readonly rngs = new Map<number, Rng>();
  /** Delivery time of the last in-order frame per link (FIFO). */
  private readonly lastAtUs = new Map<number, number>();
  private readonly dirty = new Set<SimTransport>();
  /** Draws each incarnation's first request id. */
  readonly firstRequestIdRng: Rng;

  constructor(
    readonly scheduler: Scheduler,
    private readonly seed: number,
    private readonly timing: NetTiming,
  ) {
    scheduler.onTurnEnd(() => this.flushOutboxes());
    this.firstRequestIdRng = new Rng(seed, 0x726571);
  }

  /** A fresh endpoint for a node incarnation (replacing its previous one). */
  attach(id: NodeId, life: Life): SimTransport {
    const t = new SimTransport(id, life, this);
    this.endpoints.set(id, t);
    return t;
  }

  /** The node's incarnation went away: peers see it down, requests waiting on it fail. */
  detach(id: NodeId): void {
    const gone = this.endpoints.get(id);
    if (gone === undefined) return;
    this.endpoints.delete(id);
    this.dirty.delete(gone);
    for (const t of this.endpoints.values()) t.peerGone(id);
  }

  /** A node incarnation is up and listening: peers see it up. */
  announce(id: NodeId): void {
    for (const t of this.endpoints.values()) if (t.id !== id) t.peerUp(id);
  }

  /** Whether `id` has a live endpoint. */
  isUp(id: NodeId): boolean {
    return this.endpoints.get(id)?.life.alive === true;
  }

  /** Cuts the directed link from -> to until `uncut`. */
  cut(from: NodeId, to: NodeId): void {
    const k = linkKey(from, to);
    this.cuts.set(k, (this.cuts.get(k) ?? 0) + 1);
  }

  /** Undoes one `cut(from, to)`. */
  uncut(from: NodeId, to: NodeId): void {
    const k = linkKey(from, to);
    const n = (this.cuts.get(k) ?? 0) - 1;
    if (n <= 0) this.cuts.delete(k);
    else this.cuts.set(k, n);
  }

  /** Whether the directed link from -> to is cut. */
  isCut(from: NodeId, to: NodeId): boolean {
    return this.cuts.size > 0 && this.cuts.has(linkKey(from, to));
  }

  /** Puts a link fault in force until `removeFaults` of the same object. */
  addFaults(f: LinkFaults): void {
    this.faults.add(f);
  }

  removeFaults(f: LinkFaults): void {
    this.faults.delete(f);
  }

  /** Every cut and link fault lifted. */
  healAll(): void {
    this.cuts.clear();
    this.faults.clear();
  }

  /** Notes that `t` has something to send at the end of this turn. */
  markDirty(t: SimTransport): void {
    this.dirty.add(t);
  }

  private flushOutboxes(): void {
    if (this.dirty.size === 0) return;
    // Insertion order of the set: deterministic.
    const senders = [...this.dirty];
    this.dirty.clear();
    for (const t of senders) {
      for (const [to, box] of t.takeOutboxes()) this.transmit(t, to, box);
    }
  }

  /** Sends one frame from `from` to `to` through the faults in force. */
  private transmit(from: SimTransport, to: NodeId, box: Outbox): void {
    this.stats.frames++;
    this.stats.messages += box.msgs.length;
    const dest = this.endpoints.get(to);
    if (dest === undefined || !dest.life.alive) {
      this.stats.lostToCrash++;
      return;
    }
    if (this.isCut(from.id, to)) {
      this.stats.cut++;
      return;
    }
    const rng = this.rngOf(from.id, to);
    const f = this.effectiveFaults();
    if (rng.chance(f.dropP)) {
      this.stats.dropped++;
      return;
    }
    const frame = packr.pack([box.msgs, box.calls]);
    const delayUs = this.deliveryDelayUs(from.id, to, rng, f);
    this.scheduleDelivery(from.id, dest, frame, delayUs, false);
    if (box.msgs.length > 0 && rng.chance(f.dupP)) {
      this.stats.duplicated++;
      this.scheduleDelivery(from.id, dest, frame, delayUs + rng.int(0, this.timing.delayUsMax * 4), true);
    }
  }

  private deliveryDelayUs(from: NodeId, to: NodeId, rng: Rng, f: LinkFaults): number {
    let delayUs = rng.int(this.timing.delayUsMin, this.timing.delayUsMax);
    if (f.slowUsMax > 0) delayUs += rng.int(0, f.slowUsMax);
    const k = linkKey(from, to);
    const nowUs = this.scheduler.nowUs;
    if (rng.chance(f.reorderP)) {
      this.stats.reordered++;
      return delayUs + rng.int(0, f.reorderUsMax);
    }
    const atUs = Math.max(nowUs + delayUs, this.lastAtUs.get(k) ?? 0);
    this.lastAtUs.set(k, atUs);
    return atUs - nowUs;
  }

  private scheduleDelivery(from: NodeId, dest: SimTransport, frame: Buffer, delayUs: number, duplicate: boolean): void {
    this.scheduler.at(delayUs, dest.life, () => {
      if (this.isCut(from, dest.id)) {
        this.stats.cut++;
        return;
      }
      const [msgs, calls] = packr.unpack(frame) as [unknown[], Call[]];
      dest.receive(from, msgs, duplicate ? [] : calls);
    });
  }

  private effectiveFaults(): LinkFaults {
    const f: LinkFaults = { dropP: 0, dupP: 0, reorderP: 0, reorderUsMax: 0, slowUsMax: 0 };
    for (const x of this.faults) {
      f.dropP = Math.max(f.dropP, x.dropP);
      f.dupP = Math.max(f.dupP, x.dupP);
      f.reorderP = Math.max(f.reorderP, x.reorderP);
      f.reorderUsMax = Math.max(f.reorderUsMax, x.reorderUsMax);
      f.slowUsMax = Math.max(f.slowUsMax, x.slowUsMax);
    }
    return f;
  }

  private rngOf(from: NodeId, to: NodeId): Rng {
    const k = linkKey(from, to);
    let rng = this.rngs.get(k);
    if (rng === undefined) this.rngs.set(k, (rng = new Rng(this.seed, 0x6e6574, from, to)));
    return rng;
  }
}

function linkKey(from: NodeId, to: NodeId): number {
  return from * 1024 + to;
}

interface PendingRequest {
  to: NodeId;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
  timer: { cancelled: boolean };
}

type MessagesHandler = (from: NodeId, msgs: unknown[]) => void;
type RequestHandler = (from: NodeId, payload: unknown) => Promise<unknown> | unknown;

/** One node incarnation's transport (TransportLike). */
export class SimTransport implements TransportLike {
  private readonly peers = new Set<NodeId>();
  private readonly outboxes = new Map<NodeId, Outbox>();
  private readonly pending = new Map<number, PendingRequest>();
  /** Random first id per incarnation, as the real transport's (a late answer to a previous incarnation must not match). */
  private requestIdNext: number;
  private messagesHandler: MessagesHandler = () => {};
  private statusHandler: (id: NodeId, up: boolean) => void = () => {};
  private requestHandler: RequestHandler | null = null;
  private linkFilter: ((to: NodeId) => boolean) | null = null;
  private closed = false;

  constructor(
    readonly id: NodeId,
    readonly life: Life,
    private readonly net: SimNetwork,
  ) {
    this.requestIdNext = 1 + Math.floor(net.firstRequestIdRng.float() * 2 ** 48);
  }

  setPeer(id: NodeId): void {
    this.peers.add(id);
  }

  send(to: NodeId, msg: unknown): void {
    if (!this.canSend(to)) return;
    this.outbox(to).msgs.push(msg);
  }

  onMessages(handler: MessagesHandler): void {
    this.messagesHandler = handler;
  }

  onPeerStatus(handler: (id: NodeId, up: boolean) => void): void {
    this.statusHandler = handler;
  }

  onRequest(handler: RequestHandler): void {
    this.requestHandler = handler;
  }

  setLinkFilter(fn: ((to: NodeId) => boolean) | null): void {
    this.linkFilter = fn;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  request(to: NodeId, payload: unknown, timeoutMs: number): Promise<unknown> {
    // A dead incarnation's promise never settles: nothing of it may run again.
    if (!this.life.alive || this.closed) return new Promise(() => {});
    if (!this.peers.has(to) || !this.net.isUp(to)) {
      this.net.stats.unreachable++;
      return Promise.reject(new TransportUnreachableError(to, this.peers.has(to) ? 'peer is down' : 'unknown node', true));
    }
    this.net.stats.requests++;
    return new Promise((resolve, reject) => {
      const id = this.requestIdNext++;
      const timer = this.net.scheduler.at(Math.max(1, timeoutMs) * 1000, this.life, () => {
        if (!this.pending.delete(id)) return;
        this.net.stats.timeouts++;
        reject(new TransportTimeoutError(to, timeoutMs));
      });
      this.pending.set(id, { to, resolve, reject, timer });
      if (this.canSend(to)) this.outbox(to).calls.push([0, id, payload]);
    });
  }

  /** The outboxes filled this turn (emptied). */
  takeOutboxes(): Map<NodeId, Outbox> {
    const out = new Map(this.outboxes);
    this.outboxes.clear();
    return out;
  }

  /** A frame arrived from `from`. */
  receive(from: NodeId, msgs: unknown[], calls: Call[]): void {
    if (!this.life.alive || this.closed) return;
    if (msgs.length > 0) this.messagesHandler(from, msgs);
    for (const call of calls) this.onCall(from, call);
  }

  /** Peer `id` crashed: its link drops, requests waiting on it fail (they may have run). */
  peerGone(id: NodeId): void {
    if (!this.life.alive) return;
    for (const [reqId, req] of this.pending) {
      if (req.to !== id) continue;
      this.pending.delete(reqId);
      req.timer.cancelled = true;
      this.net.stats.unreachable++;
      // The connection's end is seen a moment later, in an event of its own.
      this.net.scheduler.soon(this.life, () => req.reject(new TransportUnreachableError(id, 'connection lost', false)));
    }
    this.net.scheduler.soon(this.life, () => this.statusHandler(id, false));
  }

  /** Peer `id` (re)started. */
  peerUp(id: NodeId): void {
    if (this.life.alive) this.net.scheduler.soon(this.life, () => this.statusHandler(id, true));
  }

  private canSend(to: NodeId): boolean {
    if (!this.life.alive || this.closed || to === this.id) return false;
    return this.linkFilter === null || this.linkFilter(to);
  }

  private outbox(to: NodeId): Outbox {
    let box = this.outboxes.get(to);
    if (box === undefined) {
      this.outboxes.set(to, (box = { msgs: [], calls: [] }));
      this.net.markDirty(this);
    }
    return box;
  }

  private onCall(from: NodeId, call: Call): void {
    switch (call[0]) {
      case 0:
        return this.onRequestCall(from, call[1], call[2]);
      case 1:
        return this.settle(from, call[1], (req) => req.resolve(call[2]));
      case 2:
        return this.settle(from, call[1], (req) => req.reject(new TransportRemoteError(from, call[2], call[3])));
    }
  }

  private settle(from: NodeId, id: number, finish: (req: PendingRequest) => void): void {
    const req = this.pending.get(id);
    if (req === undefined || req.to !== from) return; // late (timed out) or misdirected
    this.pending.delete(id);
    req.timer.cancelled = true;
    finish(req);
  }

  private onRequestCall(from: NodeId, id: number, payload: unknown): void {
    const handler = this.requestHandler;
    if (handler === null) return this.reply(from, [2, id, 'ENOHANDLER', 'no request handler']);
    let result: unknown;
    try {
      result = handler(from, payload);
    } catch (err) {
      return this.reply(from, failureCall(id, err));
    }
    if (!isThenable(result)) return this.reply(from, [1, id, result]);
    result.then(
      (value) => this.reply(from, [1, id, value]),
      (err: unknown) => this.reply(from, failureCall(id, err)),
    );
  }

  private reply(to: NodeId, call: Call): void {
    if (this.canSend(to)) this.outbox(to).calls.push(call);
  }
}

function failureCall(id: number, err: unknown): Call {
  const e = err as { code?: unknown; message?: unknown };
  return [2, id, typeof e?.code === 'string' ? e.code : 'EREMOTE', typeof e?.message === 'string' ? e.message : String(err)];
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}
