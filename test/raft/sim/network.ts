/**
 * The simulated network: a bag of messages in flight that the schedule delivers in any
 * order, drops or duplicates, and a set of directed link cuts (partitions). A message sent
 * over a cut link is lost; so is one whose link is cut when it would be delivered.
 */
import type { Entry, Message, NodeId } from './raft-api.js';

/** A message on the wire, with the incarnation of the sender that sent it. */
export interface InFlight {
  msg: Message;
  senderIncarnation: number;
}

/** Past this many messages in flight the oldest is lost (a bounded network buffer). */
const inFlightMax = 4096;

/** Messages in flight plus directed link cuts. */
export class SimNetwork {
  readonly inFlight: InFlight[] = [];
  private readonly cuts = new Set<number>();
  sentCount = 0;
  lostCount = 0;

  /**
   * Puts a copy of `msg` in flight (a copy, as a real transport would serialise it).
   * Returns false if the link is cut: the sender's transport knows the peer is unreachable.
   */
  send(msg: Message, senderIncarnation: number): boolean {
    this.sentCount++;
    if (this.isCut(msg.from, msg.to)) {
      this.lostCount++;
      return false;
    }
    if (this.inFlight.length >= inFlightMax) {
      this.inFlight.shift();
      this.lostCount++;
    }
    this.inFlight.push({ msg: cloneMessage(msg), senderIncarnation });
    return true;
  }

  /** Removes and returns the message at `pick` (modulo the count), or undefined if none. */
  take(pick: number): InFlight | undefined {
    if (this.inFlight.length === 0) return undefined;
    const i = pick % this.inFlight.length;
    return this.inFlight.splice(i, 1)[0];
  }

  /** Removes every message in flight, oldest first. */
  takeAll(): InFlight[] {
    return this.inFlight.splice(0, this.inFlight.length);
  }

  /** Puts a second copy of the message at `pick` in flight. */
  duplicate(pick: number): void {
    if (this.inFlight.length === 0) return;
    const f = this.inFlight[pick % this.inFlight.length]!;
    this.inFlight.push({ msg: cloneMessage(f.msg), senderIncarnation: f.senderIncarnation });
  }

  /** Whether the directed link from -> to is cut. */
  isCut(from: NodeId, to: NodeId): boolean {
    return this.cuts.size > 0 && this.cuts.has(linkKey(from, to));
  }

  /** Cuts the directed link from -> to. */
  cut(from: NodeId, to: NodeId): void {
    if (from !== to) this.cuts.add(linkKey(from, to));
  }

  /** Cuts both directions between every node of `a` and every node of `b`. */
  split(a: NodeId[], b: NodeId[]): void {
    for (const x of a) {
      for (const y of b) {
        this.cut(x, y);
        this.cut(y, x);
      }
    }
  }

  /** Restores every link. */
  heal(): void {
    this.cuts.clear();
  }

  /** The cut links, as "from->to" strings (for traces). */
  describeCuts(): string {
    return [...this.cuts].map((k) => `${Math.floor(k / 1024)}->${k % 1024}`).join(' ');
  }
}

function linkKey(from: NodeId, to: NodeId): number {
  return from * 1024 + to;
}

function cloneEntry(e: Entry): Entry {
  return { term: e.term, index: e.index, type: e.type, data: e.data };
}

/** A deep enough copy that no receiver shares mutable objects with the sender. */
export function cloneMessage(m: Message): Message {
  const copy: Message = { ...m, entries: m.entries.map(cloneEntry) };
  if (m.snapshot !== undefined) {
    const cs = m.snapshot.meta.confState;
    copy.snapshot = {
      data: m.snapshot.data,
      meta: {
        index: m.snapshot.meta.index,
        term: m.snapshot.meta.term,
        confState: {
          voters: [...cs.voters],
          learners: [...cs.learners],
          votersOutgoing: [...cs.votersOutgoing],
          learnersNext: [...cs.learnersNext],
          autoLeave: cs.autoLeave,
        },
      },
    };
  }
  return copy;
}
