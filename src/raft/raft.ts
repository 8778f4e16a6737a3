/**
 * The Raft state machine (etcd-io/raft's raft.go): roles, elections, replication, commit,
 * ReadIndex, leader transfer and membership. Pure and synchronous: time is tick(),
 * randomness is config.random, output is queued messages and log changes that RawNode
 * hands to the host in a Ready.
 */
import assert from 'node:assert';
import {
  Changer,
  ConfChangeError,
  decodeConfChange,
  encodeConfChange,
  isLeaveJoint,
  type ChangeResult,
} from './conf-change.js';
import { ProposalDroppedError, SnapshotTemporarilyUnavailableError } from './errors.js';
import { RaftLog } from './log.js';
import { ReadOnly } from './read-only.js';
import { ProgressTracker } from './tracker.js';
import type {
  ConfChange,
  ConfState,
  Entry,
  HardState,
  Message,
  NodeId,
  RaftConfig,
  RaftLogger,
  ReadOnlyOption,
  ReadState,
  Role,
  Snapshot,
  SoftState,
} from './types.js';
import { EntryType, MessageType, NONE } from './types.js';
import {
  bytesEqual,
  isSendBeforePersistMsg,
  newMessage,
  payloadsBytes,
  voteRespMsgType,
} from './util.js';

/** Why a campaign starts: a normal pre-vote round, a real election, or a leader transfer. */
type CampaignType = 'preElection' | 'election' | 'transfer';

/** Vote context that marks a transfer campaign: it bypasses the followers' leader lease. */
const campaignTransferCtx = new TextEncoder().encode('CampaignTransfer');

const silentLogger: RaftLogger = { debug() {}, info() {}, warn() {} };

/** One node's Raft state; driven through RawNode. */
export class Raft {
  readonly id: NodeId;
  term = 0;
  vote: NodeId = NONE;
  readonly raftLog: RaftLog;
  readonly trk: ProgressTracker;
  role: Role = 'follower';
  /** This node is a learner in the current config. */
  isLearner = false;
  lead: NodeId = NONE;
  /** Target of a leadership transfer in progress (leader only). */
  leadTransferee: NodeId = NONE;
  /** Index of the last proposed conf change; a new one waits until it is applied. */
  pendingConfIndex = 0;
  /** Payload bytes of entries appended by this leader and not yet applied. */
  uncommittedBytes = 0;
  /** Pending ReadIndex requests of this leadership; discarded on any role change. */
  private readOnly: ReadOnly;
  readStates: ReadState[] = [];
  /** Messages the host may send before persisting this Ready (leader appends/heartbeats). */
  msgsBeforePersist: Message[] = [];
  /** Messages the host must send only after persisting this Ready. */
  msgsAfterPersist: Message[] = [];
  /** ReadIndex requests waiting for this leader's first commit in its term. */
  private pendingReadIndexMessages: Message[] = [];
  /** A broadcast of App messages is due at the next Ready (see scheduleBcast). */
  private bcastPending = false;
  /** The due broadcast must reach followers with nothing new too (the commit index moved). */
  private bcastEmptyPending = false;

  electionElapsed = 0;
  private heartbeatElapsed = 0;
  /** Ticks since this instance started: the clock of lease reads (never reset). */
  private ticks = 0;
  /** Leader: `ticks` when this leadership began (lease acks before it are void). */
  private leaderSinceTick = 0;
  /**
   * Lease mode: this node helps elect no one (grants no non-transfer vote or pre-vote, and
   * does not campaign) before this tick, an election timeout after it last heard from a
   * leader (or after a restart, when it may have acknowledged one just before crashing). Unlike etcd's check `lead !== NONE &&
   * electionElapsed < electionTimeout`, this promise survives term changes and restarts.
   */
  private votesRefusedUntilTick = 0;
  /** Leader: sent a TimeoutNow this term; a delayed one may start a lease-bypassing election. */
  private timeoutNowSent = false;
  private readonly leaseDriftTicks: number;
  private randomizedElectionTimeout = 0;
  readonly electionTimeout: number;
  readonly heartbeatTimeout: number;
  readonly checkQuorum: boolean;
  readonly preVote: boolean;
  readonly readOnlyOption: ReadOnlyOption;
  private readonly maxMsgBytes: number;
  private readonly maxUncommittedBytes: number;
  private readonly stepDownOnRemoval: boolean;
  private readonly random: () => number;
  readonly logger: RaftLogger;

  constructor(c: RaftConfig) {
    validateConfig(c);
    this.id = c.id;
    this.electionTimeout = c.electionTicks;
    this.heartbeatTimeout = c.heartbeatTicks;
    this.checkQuorum = c.checkQuorum;
    this.preVote = c.preVote;
    this.readOnlyOption = c.readOnlyOption;
    this.leaseDriftTicks = c.leaseDriftTicks ?? 1;
    this.maxMsgBytes = c.maxSizePerMsgBytes;
    this.maxUncommittedBytes = c.maxUncommittedBytes ?? 0;
    this.stepDownOnRemoval = c.stepDownOnRemoval ?? true;
    this.random = c.random;
    this.logger = c.logger ?? silentLogger;
    this.raftLog = new RaftLog(c.storage);
    this.trk = new ProgressTracker(c.maxInflightMsgs, c.maxInflightBytes);
    this.readOnly = new ReadOnly();

    const { hardState, confState } = c.storage.initialState();
    const restored = new Changer(this.trk, this.raftLog.lastIndex()).restore(confState);
    this.switchToConfig(restored);
    if (hardState.term !== 0 || hardState.vote !== NONE || hardState.commit !== 0) this.loadState(hardState);
    if (c.applied !== undefined && c.applied > 0) this.restoreApplied(c.applied);
    this.becomeFollower(this.term, NONE);
    // Bootstrap writes term 1 and the first election is at term 2: from term 2 on we may
    // have acknowledged a leader's heartbeat just before a crash, so its lease still binds us.
    if (this.readOnlyOption === 'lease' && this.term >= 2) this.votesRefusedUntilTick = this.electionTimeout;
  }

  /**
   * On restart the host's state machine may be ahead of the durable commit index (commit
   * is written lazily); what it applied was committed, so the commit index catches up.
   */
  private restoreApplied(applied: number): void {
    const log = this.raftLog;
    if (applied > log.committed) {
      assert(applied <= log.lastIndex(), `${this.id}: applied ${applied} beyond last index ${log.lastIndex()}`);
      this.logger.warn(`${this.id}: applied ${applied} ahead of durable commit ${log.committed}; catching up`);
      log.committed = applied;
    }
    log.appliedTo(applied);
  }

  softState(): SoftState {
    return { lead: this.lead, role: this.role };
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.raftLog.committed };
  }

  private loadState(hs: HardState): void {
    assert(
      hs.commit >= this.raftLog.committed && hs.commit <= this.raftLog.lastIndex(),
      `${this.id}: hard state commit ${hs.commit} out of range [${this.raftLog.committed}, ${this.raftLog.lastIndex()}]`,
    );
    this.raftLog.committed = hs.commit;
    this.term = hs.term;
    this.vote = hs.vote;
  }

  // ---- sending ----

  private send(m: Message): void {
    if (m.from === NONE) m.from = this.id;
    const t = m.type;
    if (t === MessageType.Vote || t === MessageType.VoteResp || t === MessageType.PreVote || t === MessageType.PreVoteResp) {
      // Vote messages carry the campaign's term, which may be ahead of ours (pre-vote).
      assert(m.term !== 0, `term should be set when sending ${MessageType[t]}`);
    } else {
      assert(m.term === 0, `term should not be set when sending ${MessageType[t]} (was ${m.term})`);
      // Forwarded ReadIndex keeps term 0: it is a local message at the leader.
      if (t !== MessageType.Prop && t !== MessageType.ReadIndex) m.term = this.term;
    }
    if (isSendBeforePersistMsg(t)) this.msgsBeforePersist.push(m);
    else this.msgsAfterPersist.push(m);
  }

  /** Sends App (or a snapshot) to `to` if it is not paused; returns whether a message went out. */
  private maybeSendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.trk.progress.get(to)!;
    if (pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.raftLog.term(prevIndex);
    let ents: Entry[] | undefined;
    if (prevTerm !== undefined) {
      try {
        ents = this.raftLog.entriesFrom(pr.next, this.maxMsgBytes);
      } catch {
        ents = undefined; // Compacted concurrently with our check: fall back to a snapshot.
      }
    }
    if (prevTerm === undefined || ents === undefined) return this.maybeSendSnapshot(to);
    if (ents.length === 0 && !sendIfEmpty) return false;
    this.send(
      newMessage({
        type: MessageType.App,
        to,
        index: prevIndex,
        logTerm: prevTerm,
        entries: ents,
        commit: this.raftLog.committed,
      }),
    );
    if (ents.length > 0) this.sentEntries(to, ents);
    return true;
  }

  private sentEntries(to: NodeId, ents: Entry[]): void {
    const pr = this.trk.progress.get(to)!;
    const last = ents[ents.length - 1]!.index;
    switch (pr.state) {
      case 'replicate':
        pr.optimisticUpdate(last);
        pr.inflights.add(last, payloadsBytes(ents));
        break;
      case 'probe':
        pr.msgAppFlowPaused = true;
        break;
      default:
        assert.fail(`${this.id}: sending append in unhandled state ${pr.state}`);
    }
  }

  private maybeSendSnapshot(to: NodeId): boolean {
    const pr = this.trk.progress.get(to)!;
    if (!pr.recentActive) {
      this.logger.debug(`${this.id}: not sending snapshot to ${to}, it is not recently active`);
      return false;
    }
    let snapshot;
    try {
      snapshot = this.raftLog.snapshot();
    } catch (err) {
      if (err instanceof SnapshotTemporarilyUnavailableError) return false;
      throw err;
    }
    assert(snapshot.meta.index > 0, `${this.id}: need a non-empty snapshot to send to ${to}`);
    pr.becomeSnapshot(snapshot.meta.index);
    this.logger.debug(`${this.id}: sending snapshot ${snapshot.meta.index} to ${to}`);
    this.send(newMessage({ type: MessageType.Snap, to, snapshot }));
    return true;
  }

  /**
   * Sends App to every follower, empty ones too when `withEmpty` (to carry a new commit
   * index); in replicate state keeps sending while the window allows.
   */
  private bcastAppend(withEmpty: boolean): void {
    for (const [id, pr] of this.trk.progress) {
      if (id === this.id) continue;
      if (!this.maybeSendAppend(id, withEmpty)) continue;
      while (pr.state === 'replicate' && pr.next <= this.raftLog.lastIndex() && this.maybeSendAppend(id, false)) {
        // Keep streaming: entries beyond one message's size limit go out in further messages.
      }
    }
  }

  /**
   * Asks for a broadcast at the next Ready. Deferring coalesces work: every proposal and
   * every commit advance between two Readies costs one App per follower, not one each.
   */
  private scheduleBcast(withEmpty: boolean): void {
    this.bcastPending = true;
    if (withEmpty) this.bcastEmptyPending = true;
  }

  /** Sends the deferred broadcast (called when a Ready is taken). */
  flushBcast(): void {
    if (this.bcastPending && this.role === 'leader') this.bcastAppend(this.bcastEmptyPending);
    this.bcastPending = false;
    this.bcastEmptyPending = false;
  }

  hasPendingBcast(): boolean {
    return this.bcastPending;
  }

  private sendHeartbeat(to: NodeId, context: Uint8Array | undefined): void {
    // Never tell a follower to commit beyond what it is known to have.
    const commit = Math.min(this.trk.progress.get(to)!.match, this.raftLog.committed);
    // `index` carries our clock, echoed back: the lease starts when the heartbeat was sent.
    this.send(newMessage({ type: MessageType.Heartbeat, to, commit, context, index: this.ticks }));
  }

  private bcastHeartbeat(): void {
    this.bcastHeartbeatWithCtx(this.readOnly.lastPendingRequestCtx());
  }

  private bcastHeartbeatWithCtx(context: Uint8Array | undefined): void {
    for (const id of this.trk.progress.keys()) {
      if (id !== this.id) this.sendHeartbeat(id, context);
    }
  }

  private sendTimeoutNow(to: NodeId): void {
    this.timeoutNowSent = true;
    this.send(newMessage({ type: MessageType.TimeoutNow, to }));
  }

  // ---- role transitions ----

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.abortLeaderTransfer();
    this.trk.resetVotes();
    const last = this.raftLog.lastIndex();
    for (const [id, pr] of this.trk.progress) {
      pr.match = 0;
      pr.next = last + 1;
      pr.state = 'probe';
      pr.pendingSnapshot = 0;
      pr.recentActive = false;
      pr.msgAppFlowPaused = false;
      pr.inflights.reset();
      pr.leaseAckTick = Number.NEGATIVE_INFINITY;
      // Our own entries count toward commit only once durable (thesis 10.2.1).
      if (id === this.id) pr.match = this.raftLog.stableLastIndex();
    }
    this.pendingConfIndex = 0;
    this.uncommittedBytes = 0;
    // Reads confirmed by a later leadership would not be linearizable: drop them.
    this.readOnly = new ReadOnly();
    this.pendingReadIndexMessages = [];
    this.bcastPending = false;
    this.bcastEmptyPending = false;
    this.timeoutNowSent = false;
    this.leaderSinceTick = this.ticks;
  }

  private resetRandomizedElectionTimeout(): void {
    const r = this.random();
    assert(r >= 0 && r < 1, `config.random() returned ${r}, want [0, 1)`);
    this.randomizedElectionTimeout = this.electionTimeout + Math.floor(r * this.electionTimeout);
  }

  becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.lead = lead;
    this.role = 'follower';
    this.logger.debug(`${this.id}: became follower at term ${this.term}`);
  }

  private becomeCandidate(): void {
    assert(this.role !== 'leader', 'invalid transition [leader -> candidate]');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = 'candidate';
    this.logger.debug(`${this.id}: became candidate at term ${this.term}`);
  }

  private becomePreCandidate(): void {
    assert(this.role !== 'leader', 'invalid transition [leader -> pre-candidate]');
    // Pre-candidates keep term and vote: the real campaign starts only if a quorum agrees.
    this.trk.resetVotes();
    this.lead = NONE;
    this.role = 'precandidate';
    this.logger.debug(`${this.id}: became pre-candidate at term ${this.term}`);
  }

  private becomeLeader(): void {
    assert(this.role !== 'follower', 'invalid transition [follower -> leader]');
    this.reset(this.term);
    this.lead = this.id;
    this.role = 'leader';
    const self = this.trk.progress.get(this.id);
    if (self !== undefined) {
      self.becomeReplicate();
      self.recentActive = true;
    }
    // Conf changes wait until everything up to here is applied (etcd's conservative choice).
    this.pendingConfIndex = this.raftLog.lastIndex();
    // The empty entry of our term: committing it commits every earlier entry, and until then
    // we serve no ReadIndex (we may not know the latest commit index).
    const ok = this.appendEntries([{ term: 0, index: 0, type: EntryType.Normal, data: new Uint8Array(0) }]);
    assert(ok, 'empty entry was dropped');
    this.scheduleBcast(true);
    this.logger.info(`${this.id}: became leader at term ${this.term}`);
  }

  // ---- elections ----

  private promotable(): boolean {
    const pr = this.trk.progress.get(this.id);
    return pr !== undefined && !pr.isLearner && !this.raftLog.hasPendingSnapshot();
  }

  private hup(t: CampaignType): void {
    if (this.role === 'leader') return;
    if (!this.promotable()) {
      this.logger.warn(`${this.id}: is unpromotable and can not campaign`);
      return;
    }
    if (this.hasUnappliedConfChanges()) {
      this.logger.warn(`${this.id}: cannot campaign at term ${this.term}: unapplied conf changes`);
      return;
    }
    if (t !== 'transfer' && this.readOnlyOption === 'lease' && this.ticks < this.votesRefusedUntilTick) {
      // Our own vote counts too: campaigning (e.g. the host's campaign()) while we promised
      // the leader its lease could elect a second leader that it does not know about.
      this.logger.info(`${this.id}: not campaigning at term ${this.term}: the leader's lease holds`);
      return;
    }
    this.campaign(t);
  }

  private hasUnappliedConfChanges(): boolean {
    const log = this.raftLog;
    if (log.applied >= log.committed) return false;
    const ents = log.slice(Math.max(log.applied + 1, log.firstIndex()), log.committed + 1, undefined);
    for (const e of ents) if (e.type === EntryType.ConfChange) return true;
    return false;
  }

  campaign(t: CampaignType): void {
    let term: number;
    let voteMsg: MessageType;
    if (t === 'preElection') {
      this.becomePreCandidate();
      voteMsg = MessageType.PreVote;
      term = this.term + 1; // Ask at the term we would campaign at, without moving to it.
    } else {
      this.becomeCandidate();
      voteMsg = MessageType.Vote;
      term = this.term;
    }
    const respType = voteRespMsgType(voteMsg);
    if (this.poll(this.id, respType, true) === 'won') {
      // A single-voter config: we won by our own vote.
      if (t === 'preElection') this.campaign('election');
      else this.becomeLeader();
      return;
    }
    const index = this.raftLog.lastIndex();
    const logTerm = this.raftLog.lastTerm();
    const context = t === 'transfer' ? campaignTransferCtx : undefined;
    for (const id of this.trk.voterIds()) {
      if (id === this.id) continue;
      this.send(newMessage({ type: voteMsg, to: id, term, index, logTerm, context }));
    }
  }

  private poll(id: NodeId, t: MessageType, granted: boolean): 'won' | 'lost' | 'pending' {
    this.logger.debug(`${this.id}: received ${MessageType[t]} ${granted ? 'grant' : 'rejection'} from ${id} at term ${this.term}`);
    this.trk.recordVote(id, granted);
    return this.trk.tallyVotes().result;
  }

  // ---- step ----

  /** Handles one message (local or from a peer); throws ProposalDroppedError for a refused proposal. */
  step(m: Message): void {
    if (m.term === 0) {
      // Local message.
    } else if (m.term > this.term) {
      if (m.type === MessageType.Vote || m.type === MessageType.PreVote) {
        const force = bytesEqual(m.context, campaignTransferCtx);
        if (!force && this.inLease()) {
          // We heard from a leader within the minimum election timeout: it is alive, so a
          // disruptive candidate (e.g. a rejoining partitioned node) is ignored.
          this.logger.debug(`${this.id}: ignored ${MessageType[m.type]} from ${m.from} at term ${m.term}: lease`);
          return;
        }
      }
      if (m.type === MessageType.PreVote) {
        // Never change our term in response to a PreVote.
      } else if (m.type === MessageType.PreVoteResp && !m.reject) {
        // A granted pre-vote carries the future term; we move to it only after a quorum.
      } else if (m.type === MessageType.App || m.type === MessageType.Heartbeat || m.type === MessageType.Snap) {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, NONE);
      }
    } else if (m.term < this.term) {
      this.stepLowerTerm(m);
      return;
    }
    this.stepCurrentTerm(m);
  }

  /** Whether we refuse to help elect a new leader (check-quorum's leader lease). */
  private inLease(): boolean {
    if (!this.checkQuorum) return false;
    if (this.lead !== NONE && this.electionElapsed < this.electionTimeout) return true;
    return this.readOnlyOption === 'lease' && this.ticks < this.votesRefusedUntilTick;
  }

  private stepLowerTerm(m: Message): void {
    if (m.type === MessageType.Heartbeat || m.type === MessageType.App) {
      // A stale leader (e.g. across a partition): our higher term in the reply makes it step
      // down, as in the Raft paper. etcd replies only under check-quorum or pre-vote; then a
      // node whose term grew past the leader's while it held a stale config (its votes going
      // only to departed members) is never caught up: the leader must learn the higher term.
      this.send(newMessage({ type: MessageType.AppResp, to: m.from }));
    } else if (m.type === MessageType.PreVote) {
      // Reject with our term so the pre-candidate learns it is behind.
      this.send(newMessage({ type: MessageType.PreVoteResp, to: m.from, term: this.term, reject: true }));
    }
    // Otherwise ignore.
  }

  private stepCurrentTerm(m: Message): void {
    switch (m.type) {
      case MessageType.Hup:
        this.hup(this.preVote ? 'preElection' : 'election');
        return;
      case MessageType.Vote:
      case MessageType.PreVote:
        this.handleVoteRequest(m);
        return;
      default:
        switch (this.role) {
          case 'leader':
            this.stepLeader(m);
            return;
          case 'candidate':
          case 'precandidate':
            this.stepCandidate(m);
            return;
          case 'follower':
            this.stepFollower(m);
            return;
        }
    }
  }

  private handleVoteRequest(m: Message): void {
    const canVote =
      this.vote === m.from ||
      (this.vote === NONE && this.lead === NONE) ||
      (m.type === MessageType.PreVote && m.term > this.term);
    // A stray higher-term response can move us to a new term with no leader and no vote;
    // in lease mode our promise to the last leader still holds there.
    const promised = this.vote !== m.from && !bytesEqual(m.context, campaignTransferCtx) && this.inLease();
    const respType = voteRespMsgType(m.type);
    if (canVote && !promised && this.raftLog.isUpToDate(m.index, m.logTerm)) {
      // Reply at the request's term: for a pre-vote it is the future term of the campaign.
      this.send(newMessage({ type: respType, to: m.from, term: m.term }));
      if (m.type === MessageType.Vote) {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send(newMessage({ type: respType, to: m.from, term: this.term, reject: true }));
    }
  }

  // ---- leader ----

  private stepLeader(m: Message): void {
    switch (m.type) {
      case MessageType.Beat:
        this.bcastHeartbeat();
        return;
      case MessageType.CheckQuorum:
        this.handleCheckQuorum();
        return;
      case MessageType.Prop:
        this.handleLeaderProp(m);
        return;
      case MessageType.ReadIndex:
        this.handleLeaderReadIndex(m);
        return;
      default:
        break;
    }
    const pr = this.trk.progress.get(m.from);
    if (pr === undefined) return; // Not a member (any more).
    switch (m.type) {
      case MessageType.AppResp:
        this.handleAppendResponse(m);
        return;
      case MessageType.HeartbeatResp:
        this.handleHeartbeatResponse(m);
        return;
      case MessageType.SnapStatus:
        if (pr.state !== 'snapshot') return;
        if (m.reject) pr.pendingSnapshot = 0; // Failed: probe from the match point instead.
        pr.becomeProbe();
        // Wait for a heartbeat response (or append response) before the next probe.
        pr.msgAppFlowPaused = true;
        return;
      case MessageType.Unreachable:
        // The follower may have lost appends: stop streaming optimistically.
        if (pr.state === 'replicate') pr.becomeProbe();
        return;
      case MessageType.TransferLeader:
        this.handleTransferLeader(m);
        return;
      default:
        return;
    }
  }

  private handleCheckQuorum(): void {
    if (!this.trk.quorumActive(this.id)) {
      this.logger.warn(`${this.id}: stepped down to follower since quorum is not active`);
      this.becomeFollower(this.term, NONE);
    }
    // Start a new activity window.
    for (const [id, pr] of this.trk.progress) if (id !== this.id) pr.recentActive = false;
  }

  private handleLeaderProp(m: Message): void {
    assert(m.entries.length > 0, `${this.id}: stepped empty MsgProp`);
    if (!this.trk.progress.has(this.id)) throw new ProposalDroppedError('leader was removed from the config');
    if (this.leadTransferee !== NONE) throw new ProposalDroppedError(`leadership transfer to ${this.leadTransferee} in progress`);
    for (let i = 0; i < m.entries.length; i++) {
      const e = m.entries[i]!;
      if (e.type === EntryType.ConfChange) this.checkConfChangeProposal(e, i);
    }
    if (!this.appendEntries(m.entries)) throw new ProposalDroppedError('too many uncommitted entries');
    this.scheduleBcast(false);
  }

  /** Refuses a conf change that cannot be applied after the current config (etcd's rules). */
  private checkConfChangeProposal(e: Entry, i: number): void {
    let cc: ConfChange;
    try {
      cc = decodeConfChange(e.data);
    } catch {
      throw new ProposalDroppedError('malformed conf change');
    }
    if (this.pendingConfIndex > this.raftLog.applied) {
      throw new ProposalDroppedError(`possible unapplied conf change at index ${this.pendingConfIndex} (applied to ${this.raftLog.applied})`);
    }
    const joint = this.trk.isJoint();
    const leave = isLeaveJoint(cc);
    if (joint && !leave) throw new ProposalDroppedError('must transition out of joint config first');
    if (!joint && leave) throw new ProposalDroppedError('not in joint state; refusing empty conf change');
    try {
      new Changer(this.trk, this.raftLog.lastIndex()).apply(cc);
    } catch (err) {
      if (err instanceof ConfChangeError) throw new ProposalDroppedError(`invalid conf change: ${err.message}`);
      throw err;
    }
    this.pendingConfIndex = this.raftLog.lastIndex() + i + 1;
  }

  /** Appends entries of our term to the leader's log; false if over the uncommitted limit. */
  private appendEntries(es: Entry[]): boolean {
    const li = this.raftLog.lastIndex();
    const bytes = payloadsBytes(es);
    // Always admit something when nothing is uncommitted, so large entries cannot stall us.
    if (this.maxUncommittedBytes > 0 && this.uncommittedBytes > 0 && bytes > 0 && this.uncommittedBytes + bytes > this.maxUncommittedBytes) {
      return false;
    }
    this.uncommittedBytes += bytes;
    for (let i = 0; i < es.length; i++) {
      es[i]!.term = this.term;
      es[i]!.index = li + 1 + i;
    }
    this.raftLog.append(es);
    // Our own progress moves only at advance(), once the host has persisted these entries.
    return true;
  }

  /** Reduces the uncommitted size by applied entries (leader). */
  reduceUncommittedBytes(ents: Entry[]): void {
    if (this.uncommittedBytes === 0) return;
    const bytes = payloadsBytes(ents);
    this.uncommittedBytes = bytes > this.uncommittedBytes ? 0 : this.uncommittedBytes - bytes;
  }

  private handleLeaderReadIndex(m: Message): void {
    // Until an entry of our term is committed we may not know the true commit index.
    if (!this.committedEntryInCurrentTerm()) {
      this.pendingReadIndexMessages.push(m);
      return;
    }
    this.sendReadIndexResponse(m);
  }

  private sendReadIndexResponse(m: Message): void {
    const ctx = m.context ?? new Uint8Array(0);
    if (this.trk.isSingleton() && this.trk.isVoter(this.id)) {
      this.respondToReadIndex(m, this.raftLog.committed);
      return;
    }
    if (this.readOnlyOption === 'lease' && this.leaseValid()) {
      this.respondToReadIndex(m, this.raftLog.committed);
      return;
    }
    this.readOnly.addRequest(this.raftLog.committed, m, ctx);
    const acks = this.readOnly.recvAck(this.id, ctx);
    if (acks !== undefined && this.trk.voteResultOf(acks) === 'won') {
      this.releaseReads(ctx);
      return;
    }
    this.bcastHeartbeatWithCtx(ctx);
  }

  private respondToReadIndex(req: Message, index: number): void {
    const context = req.context ?? new Uint8Array(0);
    if (req.from === NONE || req.from === this.id) {
      this.readStates.push({ index, context });
      return;
    }
    this.send(newMessage({ type: MessageType.ReadIndexResp, to: req.from, index, context }));
  }

  private releaseReads(ctx: Uint8Array): void {
    for (const rs of this.readOnly.advance(ctx)) this.respondToReadIndex(rs.req, rs.index);
  }

  private releasePendingReadIndexMessages(): void {
    if (this.pendingReadIndexMessages.length === 0 || !this.committedEntryInCurrentTerm()) return;
    const msgs = this.pendingReadIndexMessages;
    this.pendingReadIndexMessages = [];
    for (const m of msgs) this.sendReadIndexResponse(m);
  }

  /**
   * Lease mode: whether no other leader can have been elected yet. Each follower that
   * acknowledged our heartbeat sent at tick s refuses votes until an election timeout after
   * it received it (so after s + electionTimeout); with a quorum of such acks (in both
   * halves of a joint config) no candidate can win before s + electionTimeout, s being the
   * quorum's newest acked send tick. Clocks must tick at the same rate: leaseDriftTicks of
   * margin absorb our clock falling behind. A TimeoutNow (even a delayed one) starts an
   * election that bypasses the followers' promise, so once one is sent the lease is void.
   */
  private leaseValid(): boolean {
    if (this.leadTransferee !== NONE || this.timeoutNowSent) return false;
    const now = this.ticks;
    const anchor = this.trk.quorumLeaseAckTick(this.id, now);
    return anchor <= now && now < anchor + this.electionTimeout - this.leaseDriftTicks;
  }

  committedEntryInCurrentTerm(): boolean {
    return this.raftLog.termOrZero(this.raftLog.committed) === this.term;
  }

  private handleAppendResponse(m: Message): void {
    const pr = this.trk.progress.get(m.from)!;
    pr.recentActive = true;
    if (m.reject) {
      this.handleAppendRejection(m);
      return;
    }
    const oldPaused = pr.isPaused();
    // A caught-up follower in probe (after reportUnreachable) answers an empty probe with
    // its current match: that too lets it resume replicating.
    const caughtUpProbe = pr.state === 'probe' && pr.match === m.index;
    if (!pr.maybeUpdate(m.index) && !caughtUpProbe) return;
    if (pr.state === 'probe') {
      pr.becomeReplicate();
    } else if (pr.state === 'snapshot' && pr.match + 1 >= this.raftLog.firstIndex()) {
      // The follower caught up past our compaction point (via the snapshot or otherwise).
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === 'replicate') {
      pr.inflights.freeLE(m.index);
    }
    if (this.maybeCommit()) {
      this.onCommitAdvanced();
      this.scheduleBcast(true);
    } else if (oldPaused) {
      this.maybeSendAppend(m.from, false);
    }
    // Stream what the window now allows.
    while (pr.state === 'replicate' && pr.next <= this.raftLog.lastIndex() && this.maybeSendAppend(m.from, false)) {
      // Loop body intentionally empty.
    }
    if (m.from === this.leadTransferee && pr.match === this.raftLog.lastIndex()) {
      this.logger.info(`${this.id}: sent MsgTimeoutNow to ${m.from} after it caught up`);
      this.sendTimeoutNow(m.from);
    }
  }

  private handleAppendRejection(m: Message): void {
    const pr = this.trk.progress.get(m.from)!;
    // The follower hinted (index, term) of its log; jump to the last index where our log
    // could match, skipping whole terms (etcd's fast back-off).
    let nextProbeIdx = m.rejectHint;
    if (m.logTerm > 0) nextProbeIdx = this.raftLog.findConflictByTerm(m.rejectHint, m.logTerm).index;
    if (pr.maybeDecrTo(m.index, nextProbeIdx)) {
      if (pr.state === 'replicate') pr.becomeProbe();
      this.maybeSendAppend(m.from, true);
    }
  }

  private handleHeartbeatResponse(m: Message): void {
    const pr = this.trk.progress.get(m.from)!;
    pr.recentActive = true;
    pr.msgAppFlowPaused = false;
    // A full window with a live follower: its appends may have been lost, let one more through.
    if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirstOne();
    // Also probe a caught-up follower left in probe state, so it returns to replicate.
    if (pr.match < this.raftLog.lastIndex() || pr.state === 'probe') this.maybeSendAppend(m.from, true);
    // The echoed send tick; one outside this leadership's clock range is not ours (ignored).
    if (m.index > pr.leaseAckTick && m.index >= this.leaderSinceTick && m.index <= this.ticks) pr.leaseAckTick = m.index;
    // ReadIndex rounds run in lease mode too, whenever the lease is not valid.
    if (m.context === undefined || m.context.byteLength === 0) return;
    const acks = this.readOnly.recvAck(m.from, m.context);
    if (acks === undefined || this.trk.voteResultOf(acks) !== 'won') return;
    this.releaseReads(m.context);
  }

  private handleTransferLeader(m: Message): void {
    const pr = this.trk.progress.get(m.from)!;
    if (pr.isLearner) {
      this.logger.debug(`${this.id}: ignored transferring leadership to learner ${m.from}`);
      return;
    }
    const transferee = m.from;
    if (this.leadTransferee !== NONE) {
      if (this.leadTransferee === transferee) return; // Same transfer in progress.
      this.abortLeaderTransfer();
    }
    if (transferee === this.id) return;
    // Transfer must finish within an election timeout, counted from now.
    this.electionElapsed = 0;
    this.leadTransferee = transferee;
    if (pr.match === this.raftLog.lastIndex()) {
      this.sendTimeoutNow(transferee);
    } else {
      this.maybeSendAppend(transferee, true);
    }
  }

  abortLeaderTransfer(): void {
    this.leadTransferee = NONE;
  }

  /** Commits the quorum's index if it is of our term; true if the commit index moved. */
  maybeCommit(): boolean {
    return this.raftLog.maybeCommit(this.trk.committed(), this.term);
  }

  /** Work that waits for the commit index to move (leader). */
  onCommitAdvanced(): void {
    this.releasePendingReadIndexMessages();
  }

  /**
   * The host persisted entries up to (index, term): as leader, that is our own ack toward
   * the commit quorum (thesis 10.2.1).
   */
  onSelfPersisted(index: number, term: number): void {
    if (this.role !== 'leader' || this.raftLog.termOrZero(index) !== term) return;
    const pr = this.trk.progress.get(this.id);
    if (pr === undefined || !pr.maybeUpdate(index)) return;
    if (this.maybeCommit()) {
      this.onCommitAdvanced();
      this.scheduleBcast(true);
    }
  }

  // ---- candidate and follower ----

  private stepCandidate(m: Message): void {
    const myVoteResp = this.role === 'precandidate' ? MessageType.PreVoteResp : MessageType.VoteResp;
    switch (m.type) {
      case MessageType.Prop:
        throw new ProposalDroppedError(`no leader at term ${this.term}`);
      case MessageType.App:
        this.becomeFollower(m.term, m.from);
        this.handleAppendEntries(m);
        return;
      case MessageType.Heartbeat:
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case MessageType.Snap:
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      case MessageType.TimeoutNow:
        return;
      default:
        if (m.type === myVoteResp) this.handleVoteResponse(m);
        return;
    }
  }

  private handleVoteResponse(m: Message): void {
    const res = this.poll(m.from, m.type, !m.reject);
    if (res === 'won') {
      if (this.role === 'precandidate') {
        this.campaign('election');
      } else {
        this.becomeLeader();
      }
    } else if (res === 'lost') {
      // A rejected pre-vote may carry a higher term; step() already moved us to it then.
      this.becomeFollower(this.term, NONE);
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case MessageType.Prop:
        throw new ProposalDroppedError(this.lead === NONE ? `no leader at term ${this.term}` : `not leader (leader is ${this.lead})`);
      case MessageType.App:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppendEntries(m);
        return;
      case MessageType.Heartbeat:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return;
      case MessageType.Snap:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return;
      case MessageType.TransferLeader:
      case MessageType.ReadIndex:
        // Forward only our own requests: a request forwarded to us by a peer that thought we
        // lead is dropped (its sender times out and retries), so messages never bounce.
        if (!isLocalRequest(m)) return;
        if (this.lead === NONE) {
          this.logger.debug(`${this.id}: no leader at term ${this.term}; dropping ${MessageType[m.type]}`);
          return;
        }
        if (m.type === MessageType.TransferLeader && m.from === this.lead) {
          // The transferee already leads: nothing to transfer, and forwarding would address
          // the leader as both sender and receiver (found by the simulator, seed 605490910).
          this.logger.debug(`${this.id}: ${m.from} already leads at term ${this.term}; dropping TransferLeader`);
          return;
        }
        this.forwardToLeader(m);
        return;
      case MessageType.TimeoutNow:
        // Transfers never use pre-vote: the old leader asked for it, so disruption is intended.
        this.logger.info(`${this.id}: received MsgTimeoutNow from ${m.from}, starting election`);
        this.hup('transfer');
        return;
      case MessageType.ReadIndexResp:
        this.readStates.push({ index: m.index, context: m.context ?? new Uint8Array(0) });
        return;
      default:
        return;
    }
  }

  private forwardToLeader(m: Message): void {
    const fwd = newMessage({ type: m.type, to: this.lead, from: m.from, context: m.context });
    this.send(fwd);
  }

  /** A message of the current leader arrived: the lease we promised it starts over. */
  private heardFromLeader(): void {
    this.votesRefusedUntilTick = this.ticks + this.electionTimeout;
  }

  private handleAppendEntries(m: Message): void {
    this.heardFromLeader();
    const log = this.raftLog;
    if (m.index < log.committed) {
      this.send(newMessage({ type: MessageType.AppResp, to: m.from, index: log.committed }));
      return;
    }
    const lastNew = log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew !== undefined) {
      this.send(newMessage({ type: MessageType.AppResp, to: m.from, index: lastNew }));
      return;
    }
    // Reject with a hint: the last index at or before m.index whose term is <= m.logTerm,
    // so the leader can skip every entry of a conflicting term at once.
    const hint = log.findConflictByTerm(Math.min(m.index, log.lastIndex()), m.logTerm);
    this.send(
      newMessage({
        type: MessageType.AppResp,
        to: m.from,
        index: m.index,
        reject: true,
        rejectHint: hint.index,
        logTerm: hint.term,
      }),
    );
  }

  private handleHeartbeat(m: Message): void {
    this.heardFromLeader();
    this.raftLog.commitTo(m.commit);
    // Echo the leader's send tick (`index`): its lease is anchored there.
    this.send(newMessage({ type: MessageType.HeartbeatResp, to: m.from, context: m.context, index: m.index }));
  }

  private handleSnapshot(m: Message): void {
    const s = m.snapshot;
    assert(s !== undefined, 'MsgSnap without a snapshot');
    this.heardFromLeader();
    if (this.restore(s)) {
      this.logger.info(`${this.id}: restored snapshot at index ${s.meta.index} term ${s.meta.term}`);
      this.send(newMessage({ type: MessageType.AppResp, to: m.from, index: this.raftLog.lastIndex() }));
    } else {
      this.send(newMessage({ type: MessageType.AppResp, to: m.from, index: this.raftLog.committed }));
    }
  }

  /** Installs a snapshot if it is newer than our commit; false if ignored. */
  private restore(s: Snapshot): boolean {
    if (s.meta.index <= this.raftLog.committed) return false;
    if (this.role !== 'follower') {
      // Defensive, as etcd: only a follower installs a snapshot.
      this.becomeFollower(this.term + 1, NONE);
      return false;
    }
    const cs = s.meta.confState;
    // Unlike etcd we accept a snapshot that predates our own addition (a learner joining
    // after compaction): the entries after it add us, and until then we cannot campaign.
    if (this.raftLog.matchTerm(s.meta.index, s.meta.term)) {
      // We already have the log up to the snapshot: just fast-forward the commit.
      this.raftLog.commitTo(s.meta.index);
      return false;
    }
    this.raftLog.restore(s);
    const r = new Changer(this.trk, this.raftLog.lastIndex()).restore(cs);
    this.switchToConfig(r);
    return true;
  }

  // ---- membership ----

  /** Applies a committed ConfChange; returns the new ConfState. */
  applyConfChange(cc: ConfChange): ConfState {
    const r = new Changer(this.trk, this.raftLog.lastIndex()).apply(cc);
    return this.switchToConfig(r);
  }

  private switchToConfig(r: ChangeResult): ConfState {
    this.trk.config = r.config;
    this.trk.progress = r.progress;
    const cs = this.trk.confState();
    const pr = this.trk.progress.get(this.id);
    this.isLearner = pr !== undefined && pr.isLearner;
    if ((pr === undefined || this.isLearner) && this.role === 'leader') {
      // Removed (or demoted): a leader outside the config would lead a group it is not in.
      if (this.stepDownOnRemoval) this.becomeFollower(this.term, NONE);
      return cs;
    }
    if (this.role !== 'leader' || cs.voters.length === 0) return cs;
    // The quorum changed: the commit index may move, and new members need appends.
    if (this.maybeCommit()) {
      this.onCommitAdvanced();
      this.scheduleBcast(true);
    } else {
      for (const id of this.trk.progress.keys()) if (id !== this.id) this.maybeSendAppend(id, false);
    }
    if (this.leadTransferee !== NONE && !this.trk.isVoter(this.leadTransferee)) this.abortLeaderTransfer();
    return cs;
  }

  /** Called when the host applied up to `index`: a leader leaves an auto joint config. */
  maybeAutoLeaveJoint(): void {
    const cfg = this.trk.config;
    if (!cfg.autoLeave || this.role !== 'leader' || this.raftLog.applied < this.pendingConfIndex) return;
    if (!this.trk.isJoint()) return;
    const e: Entry = { term: 0, index: 0, type: EntryType.ConfChange, data: leaveJointData };
    // Leaving the joint config must not stall behind the uncommitted limit.
    const savedBytes = this.uncommittedBytes;
    this.uncommittedBytes = 0;
    this.appendEntries([e]);
    this.uncommittedBytes += savedBytes;
    this.pendingConfIndex = this.raftLog.lastIndex();
    this.scheduleBcast(false);
    this.logger.info(`${this.id}: initiating automatic transition out of joint configuration`);
  }

  /**
   * Whether this leader's group is idle: everything appended is committed, applied and on
   * every member, with nothing in flight. The host may then stop ticking it (and tell its
   * followers to stop ticking) until the next proposal, read or message; not ticking is
   * always safe, only liveness depends on waking up (e.g. when a peer goes down).
   */
  canQuiesce(): boolean {
    if (this.role !== 'leader' || this.leadTransferee !== NONE || this.bcastPending) return false;
    const log = this.raftLog;
    const last = log.lastIndex();
    if (log.committed !== last || log.applied !== last || log.unstable.entries.length > 0) return false;
    if (this.readOnly.pendingCount() > 0 || this.pendingReadIndexMessages.length > 0) return false;
    if (this.msgsBeforePersist.length > 0 || this.msgsAfterPersist.length > 0) return false;
    for (const [id, pr] of this.trk.progress) {
      if (id !== this.id && (pr.match !== last || pr.state !== 'replicate')) return false;
    }
    return true;
  }

  // ---- ticks ----

  /** One unit of logical time. */
  tick(): void {
    this.ticks++;
    if (this.role === 'leader') this.tickHeartbeat();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.step(newMessage({ type: MessageType.Hup, from: this.id }));
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTimeout) {
      this.electionElapsed = 0;
      if (this.checkQuorum) this.step(newMessage({ type: MessageType.CheckQuorum, from: this.id }));
      // A transfer that did not finish within an election timeout is abandoned.
      if (this.role === 'leader' && this.leadTransferee !== NONE) this.abortLeaderTransfer();
    }
    if (this.role !== 'leader') return;
    if (this.heartbeatElapsed >= this.heartbeatTimeout) {
      this.heartbeatElapsed = 0;
      this.step(newMessage({ type: MessageType.Beat, from: this.id }));
    }
  }
}

const leaveJointData = encodeConfChange({ changes: [], transition: 'auto' });

/** A ReadIndex or TransferLeader made on this node (not forwarded by a peer). */
function isLocalRequest(m: Message): boolean {
  return m.type === MessageType.ReadIndex ? m.from === NONE : m.term === 0;
}

function validateConfig(c: RaftConfig): void {
  assert(c.id !== NONE, 'cannot use none as id');
  assert(c.heartbeatTicks > 0, 'heartbeat tick must be greater than 0');
  assert(c.electionTicks > c.heartbeatTicks, 'election tick must be greater than heartbeat tick');
  assert(c.maxInflightMsgs > 0, 'max inflight messages must be greater than 0');
  assert(c.maxInflightBytes >= 0, 'max inflight bytes must be >= 0');
  assert(c.maxSizePerMsgBytes > 0, 'max size per message must be greater than 0');
  assert(c.readOnlyOption !== 'lease' || c.checkQuorum, 'checkQuorum must be enabled when readOnlyOption is lease');
  const drift = c.leaseDriftTicks ?? 1;
  assert(Number.isInteger(drift) && drift >= 0 && drift < c.electionTicks, 'leaseDriftTicks must be in [0, electionTicks)');
  assert(typeof c.random === 'function', 'config.random is required');
}
