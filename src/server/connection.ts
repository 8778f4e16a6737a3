/**
 * One client connection: socket bytes -> parser -> Executor -> encoder -> socket.
 *
 * Replies leave strictly in request order even when ops complete out of order: requests
 * whose answer is not ready wait in a per-connection queue of slots. When nothing is
 * pending and the executor answers synchronously (the single-node case), the reply is
 * encoded straight into the output list with no slot at all.
 *
 * Writes are coalesced: replies collect in `out` and go to the socket in one write at the
 * end of each data event, or once per event-loop turn for asynchronous completions.
 *
 * Backpressure: the connection stops pulling requests from the parser (and pauses the
 * socket) while the socket's write buffer is over its high-water mark or too many requests
 * are in flight; it resumes on 'drain' / completions. What the parser may hold is bounded.
 */
import assert from 'node:assert';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { opMutates, type CacheOp, type CacheResult } from '../cache/ops.js';
import type { CredentialCheck } from '../protocol/auth.js';
import type { Answer, ProtocolLimits, Request } from '../protocol/request.js';
import { multiGetReplyBytesMax } from '../protocol/text-encoder.js';
import type { Codec, RequestParser } from './codec.js';
import type { Executor } from './executor.js';
import type { ServerCounters } from './server-stats.js';

/** Per-connection limits. */
export interface ConnectionLimits {
  protocol: ProtocolLimits;
  /** Requests executing at once before the connection stops reading. */
  inflightRequestsMax: number;
  /** Bytes the parser may hold (one partial request plus a read chunk); past it, close. */
  bufferedBytesMax: number;
  /** Reply bytes collected before a write is forced mid-batch. */
  outBytesFlushMax: number;
  /**
   * Reply bytes the client has left unread (the socket's write buffer) before the connection
   * is closed: a client that sends without reading replies cannot make the node buffer without
   * bound (requests already in flight when reading paused still answer into this buffer).
   */
  writeBufferBytesMax: number;
  /** memcached's `-o idle_timeout`: a connection with nothing in flight and no traffic for this long is closed (0: never). */
  idleTimeoutMs: number;
}

/** The limits a server uses unless told otherwise, for a given item size max. */
export function defaultConnectionLimits(protocol: ProtocolLimits, idleTimeoutMs = 0): ConnectionLimits {
  return {
    protocol,
    inflightRequestsMax: 1024,
    // One whole item with its header, plus room for a pipelined read chunk behind it.
    bufferedBytesMax: protocol.itemBytesMax + 1024 * 1024,
    outBytesFlushMax: 256 * 1024,
    // Room for the largest multi-get reply plus a few items answered while reading paused.
    writeBufferBytesMax: 2 * multiGetReplyBytesMax + 4 * protocol.itemBytesMax,
    idleTimeoutMs,
  };
}

/** What a connection needs from the server around it. */
export interface ConnectionContext {
  executor: Executor;
  codec: Codec;
  counters: ServerCounters;
  limits: ConnectionLimits;
  /** The auth file's check when clients must authenticate (`-Y`); null when they need not. */
  auth: CredentialCheck | null;
  log: Logger;
  version: string;
  /** memcached `stats <group>` with the server's own figures merged in. */
  stats(group: string): Array<[string, string]> | null;
  /** Called once when the socket has closed. */
  onClose(connection: ClientConnection): void;
}

/** A request whose reply waits for its turn; `answer` is null until it completes. */
interface Slot {
  request: Request;
  answer: Answer | null;
  /** In flight at the executor with at least one read (see waitsForEarlierRead). */
  reads: boolean;
}

// Concatenating small replies into one buffer beats writev of many tiny buffers; above
// this size the copy costs more than the extra iovecs.
const concatBytesMax = 64 * 1024;

const noRequests: Request[] = [];

const bufferedOverflowReply = Buffer.from('SERVER_ERROR out of memory reading request\r\n');

/** Drives one client socket. */
export class ClientConnection {
  private readonly parser: RequestParser;
  /** Parsed requests not yet dispatched (waiting on backpressure); `backlogHead` is the next. */
  private backlog: Request[] = noRequests;
  private backlogHead = 0;
  private readonly slots: Slot[] = [];
  private slotsHead = 0;
  private readonly out: Buffer[] = [];
  private outBytes = 0;
  private inflight = 0;
  /** Requests in flight at the executor that read (Slot.reads). */
  private inflightReads = 0;
  /** The next request is a write waiting for an earlier read of its keys (waitsForEarlierRead). */
  private heldForRead = false;
  private flushScheduled = false;
  private readingPaused = false;
  /** No more requests are pulled: quit, a closing error, shutdown or overflow. */
  private closing = false;
  /** The client shut down its side: no more input, but what it sent is still answered. */
  private peerEnded = false;
  /** socket.end() was called. */
  private ended = false;
  /** The socket is gone; late completions are dropped. */
  private closed = false;

  constructor(
    private readonly socket: Socket,
    private readonly ctx: ConnectionContext,
  ) {
    this.parser = ctx.codec.createParser(ctx.limits.protocol, ctx.auth);
    socket.setNoDelay(true);
    socket.on('data', this.onData);
    socket.on('drain', this.onDrain);
    socket.on('error', this.onError);
    socket.on('close', this.onSocketClose);
    socket.on('end', this.onEnd);
    if (ctx.limits.idleTimeoutMs > 0) {
      socket.setTimeout(ctx.limits.idleTimeoutMs);
      socket.on('timeout', this.onIdle);
    }
  }

  /** Requests pulled but not yet written. */
  get pendingRequests(): number {
    return this.slots.length - this.slotsHead;
  }

  /** Stops taking requests, lets in-flight ones finish and be written, then closes. */
  shutdown(): void {
    if (this.closed) return;
    this.closing = true;
    this.updateReading();
    this.endIfDone();
  }

  /** Closes at once, dropping anything unwritten. */
  destroy(): void {
    this.closing = true;
    this.socket.destroy();
  }

  private readonly onData = (chunk: Buffer): void => {
    this.ctx.counters.bytesRead += chunk.length;
    if (this.closing) return;
    try {
      this.takeRequests(this.parser.feed(chunk));
      this.pump();
      this.flush();
      this.updateReading();
      this.endIfDone();
    } catch (err) {
      this.fail(err);
    }
  };

  private readonly onDrain = (): void => {
    try {
      this.pump();
      this.flush();
      this.updateReading();
      this.endIfDone();
    } catch (err) {
      this.fail(err);
    }
  };

  private readonly onError = (err: Error): void => {
    // Resets and broken pipes are the client's business; 'close' follows.
    this.ctx.log.debug({ err: err.message }, 'client socket error');
  };

  // No bytes either way for idleTimeoutMs. A request still in flight is not idleness (a slow
  // cluster answer): wait another period.
  private readonly onIdle = (): void => {
    if (this.closed) return;
    if (this.pendingRequests > 0 || this.backlogHead < this.backlog.length) {
      this.socket.setTimeout(this.ctx.limits.idleTimeoutMs);
      return;
    }
    this.ctx.counters.idleKicks++;
    this.ctx.log.debug('idle client connection closed');
    this.destroy();
  };

  private readonly onEnd = (): void => {
    // The client half-closed: answer what it sent, then close our side.
    this.peerEnded = true;
    this.endIfDone();
  };

  private readonly onSocketClose = (): void => {
    if (this.closed) return;
    this.closed = true;
    this.closing = true;
    this.ctx.onClose(this);
  };

  /** Queues freshly parsed requests behind any still waiting. */
  private takeRequests(requests: Request[]): void {
    if (requests.length === 0) return;
    if (this.backlogHead >= this.backlog.length) {
      this.backlog = requests;
      this.backlogHead = 0;
    } else {
      for (let i = 0; i < requests.length; i++) this.backlog.push(requests[i]!);
    }
  }

  /** Dispatches waiting requests while nothing asks to wait. */
  private pump(): void {
    const limits = this.ctx.limits;
    const backlog = this.backlog;
    this.heldForRead = false;
    while (
      this.backlogHead < backlog.length &&
      !this.closing &&
      this.inflight < limits.inflightRequestsMax &&
      !this.socket.writableNeedDrain
    ) {
      if (this.inflightReads > 0 && this.waitsForEarlierRead(backlog[this.backlogHead]!)) {
        // Everything behind it waits too (replies and effects stay in order); a completion pumps again.
        this.heldForRead = true;
        break;
      }
      this.dispatch(backlog[this.backlogHead++]!);
      if (this.outBytes >= limits.outBytesFlushMax) this.flush();
    }
    if (this.backlogHead >= backlog.length) {
      this.backlog = noRequests;
      this.backlogHead = 0;
    }
    if (!this.closing && this.parser.bufferedBytes > limits.bufferedBytesMax) this.overflow();
  }

  /**
   * Program order, as memcached keeps it (a connection's commands run one after another): a
   * write must not overtake a read of one of its keys sent before it on this connection. The
   * cluster serves a read at the state current when its read index is confirmed, which is
   * linearizable but may already hold a write sent after it: `get k` then `set k v` in one
   * pipeline answered v (found by jepsen-lite's pipelines under load). So a write waits while
   * an earlier read of one of its keys (of any key, for a keyless write: flush_all) is in
   * flight here. A read after a write needs no wait: the replica runs it through the log
   * behind the write (Replica.readsPendingWrite). Reads and writes of different keys still
   * overlap.
   */
  private waitsForEarlierRead(request: Request): boolean {
    if (request.kind !== 'ops' || !mutatesAny(request.ops)) return false;
    for (let i = this.slotsHead; i < this.slots.length; i++) {
      const slot = this.slots[i]!;
      if (slot.reads && slot.answer === null && slot.request.kind === 'ops' && readsKeyOf(slot.request.ops, request.ops)) return true;
    }
    return false;
  }

  private dispatch(request: Request): void {
    switch (request.kind) {
      case 'ops':
        return this.executeOps(request);
      case 'version':
        return this.answer(request, { kind: 'version', version: this.ctx.version });
      case 'stats':
        return this.answer(request, { kind: 'stats', stats: this.ctx.stats(request.group) });
      case 'verbosity':
        return this.answer(request, { kind: 'ok' });
      case 'noop':
        return this.answer(request, { kind: 'noop' });
      case 'quit':
        this.closing = true;
        return this.answer(request, { kind: 'quit' });
      case 'error':
        if (request.close) this.closing = true;
        return this.answer(request, { kind: 'ok' });
    }
  }

  /** Answers a request that needs no executor, in order behind anything pending. */
  private answer(request: Request, answer: Answer): void {
    if (this.pendingRequests === 0) this.emit(request, answer);
    else this.slots.push({ request, answer, reads: false });
  }

  private executeOps(request: Request & { kind: 'ops' }): void {
    let sync = true;
    let syncResults: CacheResult[] | null = null;
    let slot: Slot | null = null;
    this.ctx.executor.execute(request.ops, (results) => {
      if (sync) {
        syncResults = results;
        return;
      }
      assert(slot !== null && slot.answer === null, 'executor answered a request twice');
      this.inflight--;
      if (slot.reads) this.inflightReads--;
      slot.answer = { kind: 'ops', results };
      this.onAsyncAnswer();
    });
    sync = false;
    if (syncResults !== null) return this.answer(request, { kind: 'ops', results: syncResults });
    slot = { request, answer: null, reads: readsAny(request.ops) };
    this.slots.push(slot);
    this.inflight++;
    if (slot.reads) this.inflightReads++;
  }

  private onAsyncAnswer(): void {
    if (this.closed) return;
    try {
      this.drainSlots();
      this.scheduleFlush();
    } catch (err) {
      this.fail(err);
    }
  }

  /** Emits answered slots from the head of the queue, stopping at the first pending one. */
  private drainSlots(): void {
    const slots = this.slots;
    while (this.slotsHead < slots.length) {
      const slot = slots[this.slotsHead]!;
      if (slot.answer === null) break;
      slots[this.slotsHead++] = undefined as unknown as Slot;
      this.emit(slot.request, slot.answer);
    }
    if (this.slotsHead === slots.length) {
      slots.length = 0;
      this.slotsHead = 0;
    }
  }

  /** Encodes one reply into the output list. */
  private emit(request: Request, answer: Answer): void {
    const reply = this.ctx.codec.encode(request, answer);
    if (reply === null || reply.length === 0) return;
    this.out.push(reply);
    this.outBytes += reply.length;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(this.onFlushTurn);
  }

  private readonly onFlushTurn = (): void => {
    this.flushScheduled = false;
    if (this.closed) return;
    try {
      this.flush();
      // Completions may have made room for requests the parser still holds.
      this.pump();
      this.flush();
      this.updateReading();
      this.endIfDone();
    } catch (err) {
      this.fail(err);
    }
  };

  /** Writes everything collected, in one socket write when small. */
  private flush(): void {
    const out = this.out;
    if (out.length === 0 || this.closed) return;
    const socket = this.socket;
    if (out.length === 1) {
      socket.write(out[0]!);
    } else if (this.outBytes <= concatBytesMax) {
      socket.write(Buffer.concat(out, this.outBytes));
    } else {
      socket.cork();
      for (let i = 0; i < out.length; i++) socket.write(out[i]!);
      socket.uncork();
    }
    this.ctx.counters.bytesWritten += this.outBytes;
    out.length = 0;
    this.outBytes = 0;
    if (socket.writableLength > this.ctx.limits.writeBufferBytesMax) this.notReading();
  }

  private notReading(): void {
    this.ctx.log.warn({ unreadBytes: this.socket.writableLength }, 'client leaves its replies unread, closing');
    this.destroy();
  }

  /** Pauses or resumes socket reads to match what the connection can take. */
  private updateReading(): void {
    if (this.closed) return;
    const wait =
      this.closing || this.socket.writableNeedDrain || this.inflight >= this.ctx.limits.inflightRequestsMax || this.heldForRead;
    if (wait && !this.readingPaused) {
      this.readingPaused = true;
      this.socket.pause();
      if (!this.closing) this.ctx.counters.connYields++;
    } else if (!wait && this.readingPaused) {
      this.readingPaused = false;
      this.socket.resume();
    }
  }

  /** Once closing (or the client ended and every request was pulled) and all is written, ends the socket. */
  private endIfDone(): void {
    if (this.closed || this.ended || this.pendingRequests > 0) return;
    if (!this.closing && !(this.peerEnded && this.backlogHead >= this.backlog.length)) return;
    this.closing = true;
    this.ended = true;
    this.flush();
    // Close fully once written, as memcached does, rather than wait for the client's FIN.
    this.socket.end(() => this.socket.destroy());
  }

  private overflow(): void {
    this.ctx.log.warn({ bufferedBytes: this.parser.bufferedBytes }, 'client exceeded buffered bytes, closing');
    this.closing = true;
    this.answer({ kind: 'error', reply: bufferedOverflowReply, close: true }, { kind: 'ok' });
  }

  /** An exception while handling this connection: log it and close only this connection. */
  private fail(err: unknown): void {
    this.ctx.log.error({ err }, 'connection handler failed, closing connection');
    this.closing = true;
    this.socket.destroy();
  }
}

function mutatesAny(ops: readonly CacheOp[]): boolean {
  for (let i = 0; i < ops.length; i++) if (opMutates(ops[i]!)) return true;
  return false;
}

function readsAny(ops: readonly CacheOp[]): boolean {
  for (let i = 0; i < ops.length; i++) if (!opMutates(ops[i]!)) return true;
  return false;
}

/** Whether a read among `reads` reads a key `writes` writes (every key, for a keyless write). */
function readsKeyOf(reads: readonly CacheOp[], writes: readonly CacheOp[]): boolean {
  for (const w of writes) {
    if (!opMutates(w)) continue;
    const wKey = (w as { key?: Buffer }).key;
    for (const r of reads) {
      if (opMutates(r)) continue;
      const rKey = (r as { key?: Buffer }).key;
      if (wKey === undefined || (rKey !== undefined && rKey.equals(wKey))) return true;
    }
  }
  return false;
}
