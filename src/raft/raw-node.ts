/**
 * RawNode: the host-facing API of one Raft replica (etcd-io/raft's rawnode.go), returning
 * its work as Ready batches. See src/raft/index.ts for how to drive it.
 */
import assert from 'node:assert';
import { encodeConfChange } from './conf-change.js';
import type { MemoryStorage } from './memory-storage.js';
import { Raft } from './raft.js';
import type {
  ConfChange,
  ConfState,
  Entry,
  HardState,
  Message,
  NodeId,
  ProgressStatus,
  RaftConfig,
  RaftStatus,
  Ready,
  SoftState,
} from './types.js';
import { ConfChangeType, EntryType, MessageType } from './types.js';
import { hardStateEqual, isLocalMsg, isResponseMsg, newMessage } from './util.js';

/** One Raft replica driven by the host; see the module doc. */
export class RawNode {
  readonly id: NodeId;
  private readonly raft: Raft;
  private prevSoftState: SoftState;
  private prevHardState: HardState;
  /** A Ready was handed out and not yet advanced. */
  private outstanding = false;

  constructor(config: RaftConfig) {
    this.raft = new Raft(config);
    this.id = config.id;
    this.prevSoftState = this.raft.softState();
    this.prevHardState = this.raft.hardState();
  }

  /**
   * Prepares a brand-new group: writes one ConfChange entry per initial member at term 1,
   * all committed, into empty `storage`. The host must persist these entries and the hard
   * state (storage.entries(1, lastIndex+1), initialState().hardState) like any Ready's; the
   * node applies them from its first Ready's committedEntries (calling applyConfChange).
   * Every initial member bootstraps with the same lists.
   */
  static bootstrap(storage: MemoryStorage, voters: NodeId[], learners: NodeId[] = []): void {
    assert(storage.lastIndex() === 0 && storage.firstIndex() === 1, 'bootstrap needs an empty storage');
    assert(voters.length > 0, 'bootstrap needs at least one voter');
    const changes = [
      ...voters.map((nodeId) => ({ type: ConfChangeType.AddNode, nodeId })),
      ...learners.map((nodeId) => ({ type: ConfChangeType.AddLearnerNode, nodeId })),
    ];
    const ents: Entry[] = changes.map((c, i) => ({
      term: 1,
      index: i + 1,
      type: EntryType.ConfChange,
      data: encodeConfChange({ changes: [c], transition: 'auto' }),
    }));
    storage.append(ents);
    storage.setHardState({ term: 1, vote: 0, commit: ents.length });
  }

  /** Advances logical time by one tick (heartbeats, election timeouts, check-quorum). */
  tick(): void {
    this.raft.tick();
  }

  /**
   * Starts an election now (pre-vote first if enabled). In lease mode it is ignored while
   * this node still owes the last leader its lease (see "Lease reads" in src/raft/index.ts).
   */
  campaign(): void {
    this.raft.step(newMessage({ type: MessageType.Hup, from: this.id }));
  }

  /** Appends data to the log (leader only); throws ProposalDroppedError otherwise. */
  propose(data: Uint8Array): void {
    const e: Entry = { term: 0, index: 0, type: EntryType.Normal, data };
    this.raft.step(newMessage({ type: MessageType.Prop, from: this.id, entries: [e] }));
  }

  /** Appends many entries at once (one message, one broadcast); throws ProposalDroppedError. */
  proposeBatch(datas: Uint8Array[]): void {
    if (datas.length === 0) return;
    const ents: Entry[] = new Array<Entry>(datas.length);
    for (let i = 0; i < datas.length; i++) ents[i] = { term: 0, index: 0, type: EntryType.Normal, data: datas[i]! };
    this.raft.step(newMessage({ type: MessageType.Prop, from: this.id, entries: ents }));
  }

  /**
   * Proposes a membership change (leader only). Refused with ProposalDroppedError while
   * another change is unapplied, when it would be invalid, or joint-state rules forbid it.
   */
  proposeConfChange(cc: ConfChange): void {
    const e: Entry = { term: 0, index: 0, type: EntryType.ConfChange, data: encodeConfChange(cc) };
    this.raft.step(newMessage({ type: MessageType.Prop, from: this.id, entries: [e] }));
  }

  /** Steps a message from a peer; messages for other nodes and local-only types are ignored. */
  step(msg: Message): void {
    if (msg.to !== this.id || isLocalMsg(msg.type)) return;
    if (isResponseMsg(msg.type) && this.raft.role === 'leader' && !this.raft.trk.progress.has(msg.from)) return;
    this.raft.step(msg);
  }

  /**
   * Requests a linearizable read point; a ReadState with this context arrives in a later
   * Ready (serve the read once applied >= its index). May never arrive (no leader, leader
   * change): the host times the request out.
   */
  readIndex(context: Uint8Array): void {
    this.raft.step(newMessage({ type: MessageType.ReadIndex, context }));
  }

  /** Asks the leader to hand leadership to `to` (forwarded if this node is a follower). */
  transferLeader(to: NodeId): void {
    this.raft.step(newMessage({ type: MessageType.TransferLeader, from: to }));
  }

  /** Applies a committed ConfChange entry's change; returns the new membership. */
  applyConfChange(cc: ConfChange): ConfState {
    return this.raft.applyConfChange(cc);
  }

  /** The host could not reach `id`: the leader stops streaming to it optimistically. */
  reportUnreachable(id: NodeId): void {
    this.raft.step(newMessage({ type: MessageType.Unreachable, from: id }));
  }

  /** Outcome of sending a snapshot to `id`. */
  reportSnapshot(id: NodeId, ok: boolean): void {
    this.raft.step(newMessage({ type: MessageType.SnapStatus, from: id, reject: !ok }));
  }

  /** Whether ready() has anything (false while a Ready is outstanding). */
  hasReady(): boolean {
    if (this.outstanding) return false;
    const r = this.raft;
    if (r.hasPendingBcast() && r.role === 'leader') return true;
    if (r.msgsBeforePersist.length > 0 || r.msgsAfterPersist.length > 0) return true;
    if (r.raftLog.unstable.entries.length > 0 || r.raftLog.hasPendingSnapshot()) return true;
    if (r.readStates.length > 0 || r.raftLog.hasNextCommittedEnts()) return true;
    if (r.lead !== this.prevSoftState.lead || r.role !== this.prevSoftState.role) return true;
    // Compared field by field: hosts call this for every group on every flush.
    const hs = this.prevHardState;
    return r.term !== hs.term || r.vote !== hs.vote || r.raftLog.committed !== hs.commit;
  }

  /** The work to do now; call advance(rd) when done. One Ready at a time. */
  ready(): Ready {
    assert(!this.outstanding, 'ready() called before advance() of the previous Ready');
    const r = this.raft;
    r.flushBcast();
    const log = r.raftLog;
    const rd: Ready = {
      entries: log.unstable.entries.slice(),
      committedEntries: log.nextCommittedEnts(undefined),
      messagesBeforePersist: r.msgsBeforePersist,
      messages: r.msgsAfterPersist,
      readStates: r.readStates,
      mustSync: false,
    };
    const snap = log.unstable.snapshot;
    if (snap !== undefined) rd.snapshot = snap;
    const ss = r.softState();
    if (ss.lead !== this.prevSoftState.lead || ss.role !== this.prevSoftState.role) {
      rd.softState = ss;
      this.prevSoftState = ss;
    }
    const hs = r.hardState();
    if (!hardStateEqual(hs, this.prevHardState)) {
      rd.hardState = hs;
      rd.mustSync = hs.term !== this.prevHardState.term || hs.vote !== this.prevHardState.vote;
      this.prevHardState = hs;
    }
    if (rd.entries.length > 0 || snap !== undefined) rd.mustSync = true;
    r.msgsBeforePersist = [];
    r.msgsAfterPersist = [];
    r.readStates = [];
    this.outstanding = true;
    return rd;
  }

  /** Call after persisting rd and applying rd.committedEntries. */
  advance(rd: Ready): void {
    assert(this.outstanding, 'advance() without an outstanding Ready');
    this.outstanding = false;
    const r = this.raft;
    const log = r.raftLog;
    const ce = rd.committedEntries;
    if (ce.length > 0) {
      log.appliedTo(ce[ce.length - 1]!.index);
      if (r.role === 'leader') r.reduceUncommittedBytes(ce);
    } else if (rd.snapshot !== undefined) {
      log.appliedTo(rd.snapshot.meta.index);
    }
    if (rd.snapshot !== undefined) log.stableSnapTo(rd.snapshot.meta.index);
    if (rd.entries.length > 0) {
      const last = rd.entries[rd.entries.length - 1]!;
      log.stableTo(last.index, last.term);
      r.onSelfPersisted(last.index, last.term);
    }
    r.maybeAutoLeaveJoint();
  }

  /**
   * True when this leader's group is idle (all entries committed, applied and replicated
   * everywhere, nothing pending): the host may stop ticking it and its followers until new
   * work or a peer failure wakes them. Always false on followers and outside a Ready cycle.
   */
  canQuiesce(): boolean {
    return !this.outstanding && !this.hasReady() && this.raft.canQuiesce();
  }

  /** The node's Raft state (progress of followers on the leader). */
  /** The current term, without building a status (hot paths: read confirmations). */
  currentTerm(): number {
    return this.raft.term;
  }

  /** The commit index as this node knows it, without building a status. */
  commitIndex(): number {
    return this.raft.raftLog.committed;
  }

  status(): RaftStatus {
    const r = this.raft;
    const st: RaftStatus = {
      id: this.id,
      term: r.term,
      vote: r.vote,
      commit: r.raftLog.committed,
      applied: r.raftLog.applied,
      lead: r.lead,
      role: r.role,
      leadTransferee: r.leadTransferee,
      confState: r.trk.confState(),
    };
    if (r.role === 'leader') {
      const progress = new Map<NodeId, ProgressStatus>();
      for (const [id, pr] of r.trk.progress) progress.set(id, pr.status());
      st.progress = progress;
    }
    return st;
  }
}
