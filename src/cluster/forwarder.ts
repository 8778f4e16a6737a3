/**
 * Running a request at its group's leader (DESIGN.md §2): here when our replica leads,
 * otherwise forwarded one hop to the leader we know of, following "not leader" hints and
 * waiting out elections until the request's deadline. Also the other end: serving the
 * requests other nodes forward to us (never forwarded again: one hop).
 *
 * Reads first try to be served where they arrive (see Replica.submitFollowerRead): only a
 * read index crosses the network. A read that cannot (no leader known, a write of its key
 * in flight from here, a learner replica, a win flag to hand out) is forwarded like a write.
 *
 * Failures are ClusterErrors (errors.ts): a read that found no leader is ERR_NO_LEADER; a
 * write is ERR_NO_LEADER only while it surely never left this node, and
 * ERR_OUTCOME_UNKNOWN once it may have been proposed.
 *
 * Fail fast (issue 10): a request gets `forwardTimeoutMs` (5 s) while its group's leader is
 * reachable, but only `leaderTimeoutMs` (1 s) when it is not: when this node knows no
 * leader, or the link to the leader is down, or the leader has been silent for an election
 * timeout (host.peerReachable), the request answers SERVER_ERROR at leaderTimeoutMs. A
 * client with a 1-3 s timeout then sees the error instead of a hang. Where it waits decides
 * the code. Once a group has had no reachable leader for a whole leader timeout (a
 * partition, not an election), new requests of it fail at once. Waiting for a leader
 * (never sent, or every send answered "not leader") is
 * ERR_NO_LEADER; in flight to an unreachable leader, or proposed by our own replica that
 * lost its leadership, a write is ERR_OUTCOME_UNKNOWN.
 *
 * Order: requests of one group leave here in the order they arrived, as a pipelining
 * client expects (memcached runs a connection's commands one after another: `set k`, then
 * `get k` in the same write, must read the set). Requests waiting for a leader wait in one
 * queue per group, in arrival order, polled by one timer and released together; a newer
 * request of that group queues behind them instead of overtaking. (With a timer per
 * request, timers drifting apart under load ran a pipelined `get` before its `set`.)
 */
import assert from 'node:assert';
import type { Logger } from 'pino';
import type { CacheOp, CacheResult } from '../cache/ops.js';
import type { GroupId, NodeId } from '../raft/types.js';
import type { GroupFactory, TransportLike } from './contracts.js';
import { ClusterError, NoLeaderError, OutcomeUnknownError, ReadTimeoutError, ShuttingDownError, fromWire, toWire } from './errors.js';
import type { HostMetrics } from './metrics.js';
import type { Replica, ReplicaDone } from './replica.js';
import type { Runtime, Timer } from './runtime.js';
import { decodeResults, encodeResults, isForwardAnswer, isForwardRequest, type ForwardAnswer, type ForwardRequest } from './wire.js';

/** The meta group's id. */
export const metaGroupId: GroupId = 0;

/** Called once with a request's results, or with the error that stopped it. */
export type GroupCallback = (results: unknown[] | null, error?: ClusterError) => void;

/** What the forwarder needs of its host. */
export interface ForwardingHost {
  readonly nodeId: NodeId;
  readonly runtime: Runtime;
  readonly transport: TransportLike;
  readonly factory: GroupFactory;
  readonly logger: Logger;
  readonly replicas: ReadonlyMap<GroupId, Replica>;
  readonly closed: boolean;
  readonly metrics: HostMetrics;
  /** Who may lead `group` when nothing better is known: its placed replicas (or every peer). */
  candidatesOf(group: GroupId): NodeId[];
  /** Asks for a flush that visits `r`. */
  scheduleFlush(r: Replica): void;
  /** Whether peer `id` is reachable now (link up, heard from within an election timeout); false for 0. */
  peerReachable(id: NodeId): boolean;
}

/** A request on its way to its group's leader. */
interface Attempt {
  /** Arrival order at this node (requests of a group leave in this order). */
  seq: number;
  group: GroupId;
  /** What a remote leader is sent (data ops are encoded only once one is needed). */
  request: ForwardRequest;
  ops: CacheOp[] | null;
  mutates: boolean;
  hint: NodeId;
  tries: number;
  deadlineMs: number;
  /** From here on (monotonic ms) the attempt fails as soon as its leader is unreachable. */
  failFastMs: number;
  /** The peer a remote try is in flight to (0 when none). */
  remoteTarget: NodeId;
  cb: GroupCallback;
  /** Set while the attempt runs at our own replica: the deadline sweep may answer it. */
  answered: boolean;
}

/** The requests of one group waiting for a leader to be elected or learned. */
interface LeaderWait {
  /** In arrival order (Attempt.seq). */
  attempts: Attempt[];
  /** The one poll timer of the group, or null while none is set. */
  timer: Timer | null;
  /** Polls so far without a leader (the poll interval backs off with them). */
  polls: number;
  /** A release is scheduled for the next turn (a leader became known). */
  releasing: boolean;
}

/** Longest wait for one forwarded read before trying elsewhere. */
const readAttemptMs = 1000;

/** Forwarded-request tries that follow a hint at once before backing off. */
const hintedTriesMax = 3;

/** Finds leaders and runs requests there. */
export class Forwarder {
  private readonly leaderHints = new Map<GroupId, NodeId>();
  /** Requests waiting for their group to have a leader, woken when one is known. */
  private readonly leaderWaits = new Map<GroupId, LeaderWait>();
  private seqNext = 1;
  /** Attempts running at our own replica, answered by the deadline sweep if nothing else does. */
  private readonly local = new Set<Attempt>();
  /** Attempts in flight to a remote leader, answered by the sweep when it becomes unreachable. */
  private readonly remote = new Set<Attempt>();
  /** Since when (monotonic ms) each group has had no leader this node can reach, as attempts last saw it. */
  private readonly unreachableSinceMs = new Map<GroupId, number>();

  constructor(
    private readonly host: ForwardingHost,
    private readonly forwardTimeoutMs: number,
    private readonly leaderTimeoutMs: number = forwardTimeoutMs,
  ) {}

  /** Runs data `ops` (all of one group) at the group's leader. */
  run(group: GroupId, ops: CacheOp[], mutates: boolean, cb: GroupCallback): void {
    const a = this.newAttempt(group, { t: 'ops', g: group, d: null }, ops, mutates, cb);
    if (!mutates && !this.waitsForLeader(group) && this.tryFollowerRead(a)) return;
    this.attempt(a);
  }

  /** Runs an encoded meta command at the meta leader. */
  runMeta(data: Uint8Array, cb: GroupCallback): void {
    this.attempt(this.newAttempt(metaGroupId, { t: 'meta', d: data }, null, true, cb));
  }

  /** The leader of `group` as this node knows it (0 = unknown). */
  leaderOf(group: GroupId): NodeId {
    const r = this.host.replicas.get(group);
    if (r !== undefined && r.lead !== 0) return r.lead;
    return this.leaderHints.get(group) ?? 0;
  }

  /** Notes who leads `group` (learned from a membership request's answer). */
  noteLeader(group: GroupId, lead: NodeId): void {
    // Our own leadership is our replica's to say: a hint naming us outlives the replica
    // once the group moves away.
    if (lead === 0 || lead === this.host.nodeId) this.leaderHints.delete(group);
    else this.leaderHints.set(group, lead);
  }

  /** Wakes the requests waiting for `group`'s leader: our replica learned it. */
  wakeLeaderWaiters(group: GroupId, lead: NodeId): void {
    const wait = this.leaderWaits.get(group);
    if (wait === undefined || wait.releasing || wait.attempts.length === 0) return;
    for (const a of wait.attempts) a.hint = lead === this.host.nodeId ? 0 : lead;
    if (wait.timer !== null) this.host.runtime.cancel(wait.timer);
    wait.timer = null;
    wait.releasing = true;
    // Not from inside the flush that learned the leader: the next turn. Until then the
    // queue stays in place, so requests arriving meanwhile still queue behind it.
    this.host.runtime.soon(() => this.releaseWaiters(group, wait));
  }

  /** Tries every waiting request of `group` again, oldest first. */
  private releaseWaiters(group: GroupId, wait: LeaderWait): void {
    if (wait.timer !== null) this.host.runtime.cancel(wait.timer);
    wait.timer = null;
    wait.releasing = false;
    const attempts = wait.attempts;
    wait.attempts = [];
    // The first that finds no leader again queues anew (the poll backs off further), and
    // attempt() puts every later one behind it: the order holds.
    for (const a of attempts) this.attempt(a);
    if (wait.attempts.length === 0 && this.leaderWaits.get(group) === wait) this.leaderWaits.delete(group);
  }

  /** Whether requests of `group` wait for a leader here (a new one must queue behind them). */
  private waitsForLeader(group: GroupId): boolean {
    return (this.leaderWaits.get(group)?.attempts.length ?? 0) > 0;
  }

  /**
   * Answers local attempts past their deadline (a leader cut off from its quorum), or past
   * their fail-fast point once our replica no longer leads; and remote attempts past their
   * fail-fast point whose leader became unreachable. Monotonic ms; called every tick.
   */
  sweepDeadlines(nowMs: number): void {
    for (const a of this.local) {
      const r = this.host.replicas.get(a.group);
      const lostLead = nowMs >= a.failFastMs && (r === undefined || !r.isLeader);
      if (nowMs < a.deadlineMs && !lostLead) continue;
      this.local.delete(a);
      a.answered = true;
      const why = lostLead ? `group ${a.group} lost its leader here before answering` : `no answer from group ${a.group} within ${this.forwardTimeoutMs} ms`;
      // Its proposal stays in the log and may still commit: the outcome is unknown.
      a.cb(null, a.mutates ? new OutcomeUnknownError(why) : new ReadTimeoutError(why));
    }
    for (const a of this.remote) {
      if (nowMs < a.failFastMs || this.host.peerReachable(a.remoteTarget)) continue;
      this.remote.delete(a);
      a.answered = true;
      const why = `leader ${a.remoteTarget} of group ${a.group} unreachable for ${this.leaderTimeoutMs} ms`;
      // A write may have reached the leader before the link failed.
      a.cb(null, a.mutates ? new OutcomeUnknownError(`outcome unknown: ${why}`) : new NoLeaderError(why));
    }
  }

  /**
   * Serves a request another node forwarded to us, if it is one (undefined otherwise).
   * We run it only if we lead the group; otherwise the answer names our leader. `ops` are
   * the request's ops, decoded and checked by the host (wire-check.ts checkPeerRequest).
   */
  serve(from: NodeId, payload: unknown, ops: CacheOp[] | undefined): Promise<ForwardAnswer> | ForwardAnswer | undefined {
    if (!isForwardRequest(payload)) return undefined;
    assert(payload.t === 'meta' || ops !== undefined, 'forwarded ops are checked before they are served');
    const group = payload.t === 'meta' ? metaGroupId : payload.g;
    const r = this.host.replicas.get(group);
    if (r === undefined || !r.isLeader) return { nl: r?.lead ?? 0 };
    this.host.metrics.paths.served++;
    return new Promise((resolve) => {
      const done: ReplicaDone = (results, hint, error) => {
        if (results !== null) resolve({ r: group === metaGroupId ? results : encodeResults(results as CacheResult[]) });
        else if (error !== undefined) resolve({ e: toWire(error) });
        else resolve({ nl: hint });
      };
      if (payload.t === 'meta') r.submitMeta(payload.d, done);
      else r.submit(ops!, done, payload.k === undefined ? undefined : { from, term: payload.k });
      this.host.scheduleFlush(r);
    });
  }

  private newAttempt(group: GroupId, request: ForwardRequest, ops: CacheOp[] | null, mutates: boolean, cb: GroupCallback): Attempt {
    const nowMs = this.host.runtime.monoMs();
    const deadlineMs = nowMs + this.forwardTimeoutMs;
    const failFastMs = nowMs + Math.min(this.leaderTimeoutMs, this.forwardTimeoutMs);
    const seq = this.seqNext++;
    return { seq, group, request, ops, mutates, hint: 0, tries: 0, deadlineMs, failFastMs, remoteTarget: 0, cb, answered: false };
  }

  /** A read served from our own replica once the leader confirmed its read index; false = not possible here. */
  private tryFollowerRead(a: Attempt): boolean {
    const r = this.host.replicas.get(a.group);
    if (r === undefined || !r.canReadAsFollower() || r.readsPendingWrite(a.ops!) || showsAccess(a.ops!)) return false;
    // A leader we cannot reach would not answer the read index question: the leader's way
    // fails fast instead.
    if (!this.host.peerReachable(r.lead)) return false;
    // Watched by the sweep like a remote try: its read index question is in flight to the leader.
    a.answered = false;
    a.remoteTarget = r.lead;
    this.remote.add(a);
    r.submitFollowerRead(a.ops!, (results, hint) => {
      if (a.answered) return;
      this.remote.delete(a);
      a.remoteTarget = 0;
      if (results !== null) {
        this.host.metrics.paths.followerReads++;
        return a.cb(results);
      }
      // Refused, timed out, lost the leader, or needs the log: the leader's way.
      a.hint = hint === this.host.nodeId ? 0 : hint;
      this.attempt(a);
    });
    this.host.scheduleFlush(r);
    return true;
  }

  /**
   * One try. Every earlier try of `a` ended in a "not leader" answer or a send that surely
   * never left, both of which mean it was not applied: so a write that runs out of time
   * here is ERR_NO_LEADER, not ERR_OUTCOME_UNKNOWN.
   */
  private attempt(a: Attempt): void {
    if (this.host.closed) return a.cb(null, new ShuttingDownError('no'));
    // Older requests of the group wait for a leader: behind them (arrival order).
    const wait = this.leaderWaits.get(a.group);
    if (wait !== undefined && wait.attempts.length > 0 && wait.attempts[0]!.seq < a.seq) return this.joinWait(wait, a);
    const nowMs = this.host.runtime.monoMs();
    if (nowMs >= a.deadlineMs) {
      return a.cb(null, new NoLeaderError(`no leader of group ${a.group} answered within ${this.forwardTimeoutMs} ms`));
    }
    const target = this.pickTarget(a);
    if (target === 0 && this.electable(a.group)) {
      // Nobody else to ask and a quorum within reach (a single-replica group electing itself,
      // as at a single node's start): an election, not a partition; wait up to the deadline.
      this.unreachableSinceMs.delete(a.group);
    } else if (target !== this.host.nodeId && !this.host.peerReachable(target)) {
      // Unreachable for a whole leader timeout already (a partition, not an election): the
      // request fails now rather than wait out a timeout of its own.
      const sinceMs = this.unreachableSinceMs.get(a.group) ?? nowMs;
      this.unreachableSinceMs.set(a.group, sinceMs);
      if (nowMs >= a.failFastMs || nowMs - sinceMs >= this.leaderTimeoutMs) {
        const why = target === 0 ? 'no leader known' : `node ${target} unreachable`;
        return a.cb(null, new NoLeaderError(`no reachable leader of group ${a.group} within ${this.leaderTimeoutMs} ms (${why})`));
      }
    } else {
      this.unreachableSinceMs.delete(a.group);
    }
    if (target === this.host.nodeId) return this.attemptLocal(a);
    if (target === 0) return this.retryLater(a);
    this.attemptRemote(a, target);
  }

  /** Whether a majority of `group`'s replicas is within reach (this node counts): a leader can be elected here. */
  private electable(group: GroupId): boolean {
    const voters = this.host.candidatesOf(group);
    const me = this.host.nodeId;
    const reachable = voters.filter((id) => id === me || this.host.peerReachable(id)).length;
    return voters.length > 0 && reachable > voters.length / 2;
  }

  /** Where to send the attempt: us only when our replica leads; a hint naming us (stale) is skipped. */
  private pickTarget(a: Attempt): NodeId {
    const me = this.host.nodeId;
    const r = this.host.replicas.get(a.group);
    if (r !== undefined && r.isLeader) return me;
    if (a.hint !== 0 && a.hint !== me) return a.hint;
    if (r !== undefined && r.lead !== 0 && r.lead !== me) return r.lead;
    const hinted = this.leaderHints.get(a.group);
    if (hinted !== undefined && hinted !== 0 && hinted !== me) return hinted;
    // No idea who leads: ask the replicas in turn (they answer with their leader).
    const candidates = this.host.candidatesOf(a.group).filter((id) => id !== me);
    if (candidates.length === 0) return 0;
    return candidates[a.tries % candidates.length]!;
  }

  private attemptLocal(a: Attempt): void {
    const r = this.host.replicas.get(a.group)!;
    a.answered = false;
    this.local.add(a);
    this.host.metrics.paths.local++;
    const done: ReplicaDone = (results, hint, error) => {
      if (a.answered) return;
      a.answered = true;
      this.local.delete(a);
      if (results !== null) return a.cb(results);
      if (error !== undefined) return a.cb(null, error);
      this.retry(a, hint === this.host.nodeId ? 0 : hint);
    };
    if (a.request.t === 'meta') r.submitMeta(a.request.d, done);
    else r.submit(a.ops!, done);
    this.host.scheduleFlush(r);
  }

  private attemptRemote(a: Attempt, target: NodeId): void {
    const remainingMs = Math.max(1, a.deadlineMs - this.host.runtime.monoMs());
    // A read may be retried elsewhere, so it does not give one silent node all its time;
    // a write's timeout is final (its outcome is unknown), so it waits as long as allowed.
    const timeoutMs = a.mutates ? remainingMs : Math.min(remainingMs, readAttemptMs);
    const request = a.request;
    this.host.metrics.paths.forwarded++;
    if (request.t === 'ops' && request.d === null) request.d = this.host.factory.encodeEntry(0, a.ops!);
    const payload = a.mutates ? request : this.withReadAck(request, a.group, target);
    // A write in flight from here: reads of its keys arriving here go the same way, behind it.
    const release = a.mutates && a.ops !== null ? this.host.replicas.get(a.group)?.noteWriting(a.ops) : undefined;
    a.answered = false;
    a.remoteTarget = target;
    this.remote.add(a);
    const settle = (): boolean => {
      release?.();
      if (a.answered) return false; // the sweep answered it: the leader became unreachable
      this.remote.delete(a);
      a.remoteTarget = 0;
      return true;
    };
    this.host.transport.request(target, payload, timeoutMs).then(
      (resp) => {
        if (settle()) this.onRemoteAnswer(a, target, resp);
      },
      (err: unknown) => {
        if (settle()) this.onRemoteError(a, target, err);
      },
    );
  }

  /**
   * A forwarded read carries our ack for its leader (see Replica.servesWithAck) when our
   * own replica of the group follows `target` in its current term: read now, after the
   * client invoked the read here.
   */
  private withReadAck(request: ForwardRequest, group: GroupId, target: NodeId): ForwardRequest {
    const r = this.host.replicas.get(group);
    if (request.t !== 'ops' || r === undefined) return request;
    const term = r.ackTermFor(target);
    return term === 0 ? request : { ...request, k: term };
  }

  private onRemoteAnswer(a: Attempt, target: NodeId, resp: unknown): void {
    if (!isForwardAnswer(resp)) {
      return a.cb(null, fromWire(resp));
    }
    if ('r' in resp) {
      this.leaderHints.set(a.group, target);
      return a.cb(a.request.t === 'meta' ? (resp.r as unknown[]) : decodeResults(resp.r));
    }
    if ('e' in resp) return a.cb(null, fromWire(resp.e));
    this.leaderHints.delete(a.group);
    this.retry(a, resp.nl === target ? 0 : resp.nl);
  }

  private onRemoteError(a: Attempt, target: NodeId, err: unknown): void {
    this.leaderHints.delete(a.group);
    const e = err as { code?: string; message?: string; notSent?: boolean };
    // Reads are safe to repeat; a write may be repeated only when it surely never left.
    const neverSent = e.code === 'EUNREACHABLE' && e.notSent === true;
    if (a.mutates && !neverSent) {
      return a.cb(null, new OutcomeUnknownError(`outcome unknown: ${e.message ?? String(err)}`));
    }
    this.host.logger.debug({ group: a.group, target, err: e.message }, 'forward failed, retrying');
    this.retry(a, 0);
  }

  private retry(a: Attempt, hint: NodeId): void {
    a.tries++;
    a.hint = hint;
    if (hint !== 0 && a.tries < hintedTriesMax) return this.attempt(a);
    this.retryLater(a);
  }

  private retryLater(a: Attempt): void {
    a.tries++;
    let wait = this.leaderWaits.get(a.group);
    if (wait === undefined) {
      wait = { attempts: [], timer: null, polls: 0, releasing: false };
      this.leaderWaits.set(a.group, wait);
    }
    this.joinWait(wait, a);
  }

  /** Puts `a` in its place (arrival order) in its group's queue and makes sure a poll is set. */
  private joinWait(wait: LeaderWait, a: Attempt): void {
    const list = wait.attempts;
    let i = list.length;
    while (i > 0 && list[i - 1]!.seq > a.seq) i--;
    list.splice(i, 0, a);
    if (wait.timer === null && !wait.releasing) this.schedulePoll(a.group, wait);
  }

  /**
   * An election is probably under way (~0.5-1 s): wait for our replica to learn the new
   * leader (wakeLeaderWaiters), polling gently meanwhile, and looking again at the first
   * fail-fast point among the waiting requests.
   */
  private schedulePoll(group: GroupId, wait: LeaderWait): void {
    wait.polls++;
    const nowMs = this.host.runtime.monoMs();
    let delayMs = Math.min(100, 10 * 2 ** Math.min(wait.polls, 4));
    for (const a of wait.attempts) if (a.failFastMs > nowMs) delayMs = Math.min(delayMs, Math.ceil(a.failFastMs - nowMs));
    wait.timer = this.host.runtime.after(delayMs, () => {
      wait.timer = null;
      this.releaseWaiters(group, wait);
    });
  }
}

/** True when a reply shows fetch state (meta h, l; me): the leader's fetch marks answer it. */
function showsAccess(ops: CacheOp[]): boolean {
  for (const op of ops) if (op.type === 'get' && op.access === true) return true;
  return false;
}
