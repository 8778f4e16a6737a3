/**
 * The node-to-node half of linearizable reads without the log (see ReadRound and
 * FollowerRead in replica.ts): the questions every replica asked this turn go to each peer
 * as ONE flat message, whatever the number of groups and reads, and the answers come back
 * the same way. The transport then puts them into its one frame per peer per turn.
 *
 *   leader confirmation ('rc' -> 'ra'): answered at once from our in-memory Raft state;
 *   follower read index ('ri' -> 'ia'): answered by the leader's replica, at once when the
 *   question itself completes a quorum (3 voters), or after its own confirmation round.
 *
 * Self-clocked: while a question of a kind to a peer is unanswered, the next one waits and
 * gathers every read that arrives meanwhile (as etcd batches ReadIndex requests). Under
 * light load a read costs one round trip as before; under heavy load one round trip
 * carries the reads of a whole round trip, so socket writes per read fall as load rises
 * (a write syscall is the largest single cost per operation: docs/perf/profile.md).
 * An unanswered question (a lost message) holds the next one back at most `questionHoldMsMax`.
 */
import type { GroupId, NodeId } from '../raft/types.js';
import type { TransportLike } from './contracts.js';
import type { Replica } from './replica.js';
import type { Runtime } from './runtime.js';
import type { ReadRoundMessage } from './wire.js';

/** What the read rounds need of their host. */
export interface ReadRoundHost {
  readonly transport: TransportLike;
  readonly replicas: ReadonlyMap<GroupId, Replica>;
  readonly runtime: Runtime;
  /** When we last heard from a peer (monotonic ms). */
  lastHeardOf(id: NodeId): number | undefined;
  /** Asks for a flush that visits `r` (its reads may have queued work for the log). */
  scheduleFlush(r: Replica): void;
}

/**
 * A voter heard from within this long is asked alone when its yes completes the quorum;
 * otherwise every voter is asked (heartbeats every 100 ms keep a live peer fresher).
 */
const voterFreshMsMax = 150;

/** Longest a question waits behind an unanswered one to the same peer. */
const questionHoldMsMax = 20;

/** Collects the turn's questions per peer and answers the peers' questions. */
export class ReadRounds {
  /** Confirmation questions of this turn per peer: flat [group, term, seq, ...]. */
  private confirmOut = new Map<NodeId, number[]>();
  /** Read index questions of this turn per leader: flat [group, term, seq, ...]. */
  private indexOut = new Map<NodeId, number[]>();
  /** When the unanswered confirmation question to a peer was sent. */
  private readonly confirmSentMs = new Map<NodeId, number>();
  /** When the unanswered read index question to a leader was sent. */
  private readonly indexSentMs = new Map<NodeId, number>();

  constructor(private readonly host: ReadRoundHost) {}

  /**
   * A leader's round (term, seq) of `group`: asks the `needed` voters heard from most
   * recently when all of them are fresh (with 3 replicas one question, one answer), else
   * every other voter. Asking fewer is no less safe: only the count of yes matters.
   */
  queueRound(group: GroupId, term: number, seq: number, voters: NodeId[], needed: number): void {
    for (const id of this.askFor(voters, needed)) push(this.confirmOut, id, group, term, seq);
  }

  private askFor(voters: NodeId[], needed: number): NodeId[] {
    if (needed >= voters.length) return voters;
    const nowMs = this.host.runtime.monoMs();
    const heard = (id: NodeId): number => this.host.lastHeardOf(id) ?? -Infinity;
    const freshest = [...voters].sort((a, b) => heard(b) - heard(a)).slice(0, needed);
    return freshest.every((id) => nowMs - heard(id) <= voterFreshMsMax) ? freshest : voters;
  }

  /** A follower's read index question (term, seq) of `group` to its leader. */
  queueIndexRequest(leader: NodeId, group: GroupId, term: number, seq: number): void {
    push(this.indexOut, leader, group, term, seq);
  }

  /**
   * Sends the questions gathered so far, one message per peer and kind, to every peer with
   * no question of that kind unanswered. Called at the end of every flush.
   */
  sendQueued(): void {
    if (this.confirmOut.size === 0 && this.indexOut.size === 0) return;
    const nowMs = this.host.runtime.monoMs();
    this.sendReady('rc', this.confirmOut, this.confirmSentMs, nowMs);
    this.sendReady('ri', this.indexOut, this.indexSentMs, nowMs);
  }

  private sendReady(kind: 'rc' | 'ri', out: Map<NodeId, number[]>, sentMs: Map<NodeId, number>, nowMs: number): void {
    for (const [id, flat] of out) {
      const at = sentMs.get(id);
      if (at !== undefined && nowMs - at < questionHoldMsMax) continue;
      out.delete(id);
      sentMs.set(id, nowMs);
      this.host.transport.send(id, [kind, flat]);
    }
  }

  /** Handles a read round message from `from`. */
  onMessage(from: NodeId, t: ReadRoundMessage): void {
    const [kind, flat] = t;
    switch (kind) {
      case 'rc':
        return this.answerConfirm(from, flat);
      case 'ra':
        this.confirmSentMs.delete(from);
        return this.takeConfirmAnswers(from, flat);
      case 'ri':
        return this.answerIndex(from, flat);
      case 'ia':
        this.indexSentMs.delete(from);
        return this.takeIndexAnswers(flat);
    }
  }

  /** "Am I still your leader in this term?" from our in-memory Raft state, at once. */
  private answerConfirm(from: NodeId, flat: number[]): void {
    const answer: number[] = new Array(flat.length + flat.length / 3);
    let k = 0;
    for (let i = 0; i + 2 < flat.length; i += 3) {
      const r = this.host.replicas.get(flat[i]!);
      answer[k++] = flat[i]!;
      answer[k++] = flat[i + 1]!;
      answer[k++] = flat[i + 2]!;
      answer[k++] = r !== undefined && r.followsIn(from, flat[i + 1]!) ? 1 : 0;
    }
    this.host.transport.send(from, ['ra', answer.slice(0, k)]);
  }

  private takeConfirmAnswers(from: NodeId, flat: number[]): void {
    for (let i = 0; i + 3 < flat.length; i += 4) {
      const r = this.host.replicas.get(flat[i]!);
      if (r === undefined) continue;
      r.onReadAck(from, flat[i + 1]!, flat[i + 2]!, flat[i + 3] === 1);
      // A read the cache refuses to answer purely goes through the log: a batch to propose.
      this.host.scheduleFlush(r);
    }
  }

  /** A follower's read index questions: answered now where possible, the rest after a round. */
  private answerIndex(from: NodeId, flat: number[]): void {
    const now: number[] = [];
    for (let i = 0; i + 2 < flat.length; i += 3) {
      const group = flat[i]!;
      const seq = flat[i + 2]!;
      const r = this.host.replicas.get(group);
      if (r === undefined) {
        now.push(group, seq, -1);
        continue;
      }
      const index = r.readIndexFor(from, flat[i + 1]!, (late) => this.host.transport.send(from, ['ia', [group, seq, late]]));
      if (index !== null) now.push(group, seq, index);
      else this.host.scheduleFlush(r); // it rides on this turn's confirmation round
    }
    if (now.length > 0) this.host.transport.send(from, ['ia', now]);
  }

  private takeIndexAnswers(flat: number[]): void {
    for (let i = 0; i + 2 < flat.length; i += 3) {
      const r = this.host.replicas.get(flat[i]!);
      if (r === undefined) continue;
      r.onReadIndex(flat[i + 1]!, flat[i + 2]!);
      // The replica may lead by now: a read needing the log queues a batch to propose.
      this.host.scheduleFlush(r);
    }
  }
}

function push(out: Map<NodeId, number[]>, id: NodeId, group: GroupId, term: number, seq: number): void {
  let flat = out.get(id);
  if (flat === undefined) {
    flat = [];
    out.set(id, flat);
  }
  flat.push(group, term, seq);
}
