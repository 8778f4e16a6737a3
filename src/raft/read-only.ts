/**
 * ReadIndex bookkeeping on the leader (etcd's read_only.go). Each request records the
 * commit index when it arrived; a heartbeat round carrying the newest request's context
 * confirms leadership, and one quorum of acknowledgements releases that request and
 * every request queued before it.
 */
import type { Message, NodeId } from './types.js';
import { bytesKey } from './util.js';

/** A pending read: the request, the commit index it must wait for, and the acks so far. */
export interface ReadIndexStatus {
  req: Message;
  index: number;
  acks: Set<NodeId>;
}

/** Pending ReadIndex requests in arrival order; see the module doc. */
export class ReadOnly {
  private readonly pending = new Map<string, ReadIndexStatus>();
  private queue: string[] = [];

  /** Queues a read at commit index `index`; a duplicate context is ignored. */
  addRequest(index: number, req: Message, context: Uint8Array): void {
    const key = bytesKey(context);
    if (this.pending.has(key)) return;
    this.pending.set(key, { req, index, acks: new Set() });
    this.queue.push(key);
  }

  /** Records that `id` confirmed leadership for `context`; the acks so far, or undefined if unknown. */
  recvAck(id: NodeId, context: Uint8Array): Set<NodeId> | undefined {
    const rs = this.pending.get(bytesKey(context));
    if (rs === undefined) return undefined;
    rs.acks.add(id);
    return rs.acks;
  }

  /** Releases the request for `context` and all queued before it. */
  advance(context: Uint8Array): ReadIndexStatus[] {
    const key = bytesKey(context);
    const at = this.queue.indexOf(key);
    if (at < 0) return [];
    const done: ReadIndexStatus[] = [];
    for (let i = 0; i <= at; i++) {
      const k = this.queue[i]!;
      done.push(this.pending.get(k)!);
      this.pending.delete(k);
    }
    this.queue = this.queue.slice(at + 1);
    return done;
  }

  /** The newest pending request's context (carried by heartbeats), if any. */
  lastPendingRequestCtx(): Uint8Array | undefined {
    if (this.queue.length === 0) return undefined;
    return this.pending.get(this.queue[this.queue.length - 1]!)!.req.context;
  }

  pendingCount(): number {
    return this.queue.length;
  }
}
