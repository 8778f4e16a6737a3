/**
 * One group's replica on this node: its RawNode, in-memory stable log, state machine, and
 * the client work waiting on it (the batch of writes for the next entry, proposals waiting
 * for their index to commit, ReadIndex batches waiting for confirmation and apply).
 *
 * The host drives every replica through the same per-flush recipe (see host.ts):
 *   prepare()        propose this turn's batched entry, one readIndex for this turn's reads
 *   collect()        rd = ready(); note the index of our proposals; the durable part of rd
 *   (host: one storage write for all groups, then)
 *   afterPersist()   update the in-memory log, apply committed entries, answer proposals
 *                    and reads, then advance
 */
import assert from 'node:assert';
import type { CacheOp, CacheResult, GetOp } from '../cache/ops.js';
import { FetchMarks } from '../cache/fetch-marks.js';
import { opMutates } from '../cache/ops.js';
import { SnapshotTemporarilyUnavailableError } from '../raft/errors.js';
import { EntryType, type ConfState, type GroupId, type HardState, type NodeId, type Snapshot } from '../raft/types.js';
import type { GroupFactory, GroupWrite, RaftMemoryStorage, RaftNode, RaftReady, RaftRole } from './contracts.js';
import { OutcomeUnknownError, type ClusterError } from './errors.js';
import { CacheGroupMachine, type GroupMachine } from './machines.js';
import type { Runtime } from './runtime.js';

/**
 * Called once per submitted request: `results` in op order, or null with `error` unset when
 * this replica is not (or no longer) the leader and the caller should retry at `hint`, or
 * null with `error` set when the outcome is unknown (the write may or may not have happened).
 */
export type ReplicaDone = (results: unknown[] | null, hint: NodeId, error?: ClusterError) => void;

/** Answers a follower's read index question: the index, or -1 when refused. */
export type IndexReply = (index: number) => void;

/** Tunables of a replica. */
export interface ReplicaOptions {
  /** Take a snapshot after this many applied entries since the last one. */
  snapshotEntriesMin: number;
  /** Entries kept in memory behind a snapshot for slow followers. */
  snapshotKeepEntries: number;
  /**
   * The node's budget of in-memory Raft log payload bytes, shared evenly by its replicas: a
   * replica takes a snapshot when its log holds more than its share (one entry carries up to
   * entryOpsMax writes, so an entry count alone does not bound memory), and keeps at most a
   * quarter of its share behind the snapshot for slow followers.
   */
  logBytesMax: number;
  /** A proposal not committed after this long is answered with an error. */
  proposalTimeoutMs: number;
  /** Distinct keys remembered for the next bump entry. */
  bumpKeysMax: number;
  /** Ops batched into one entry at most (bounds entry size and apply pauses). */
  entryOpsMax: number;
  /**
   * true: reads are confirmed by the host's own quorum round (see ReadRound), which never
   * waits for a Ready; false: by Raft's ReadIndex / lease read (readStates of a Ready).
   */
  hostReadIndex: boolean;
  /** A read round not confirmed by a quorum within this long fails (the caller retries). */
  readRoundTimeoutMs: number;
  /**
   * A follower read whose read index the leader has not answered within this long goes the
   * leader's way instead (a question or answer lost on a link that was just coming back:
   * seen after heals, where waiting out readRoundTimeoutMs held reads ~1 s).
   */
  followerReadTimeoutMs: number;
  /**
   * Reads arriving at a follower are served from its own state once the leader confirmed
   * their read index (see FollowerRead); false: they are forwarded to the leader.
   */
  followerReads: boolean;
}

/** Defaults. */
export const defaultReplicaOptions: ReplicaOptions = {
  snapshotEntriesMin: 20_000,
  snapshotKeepEntries: 2_000,
  // With 16 groups, a replica snapshots at ~2 MiB of log and keeps 0.5 MiB: bench:memory
  // (1M items of 100 B) spends ~32 MiB per node on logs instead of up to gigabytes. The
  // price: a group's snapshot (~150 bytes per item) is written each time its log passes
  // its share, e.g. 8 MiB every 2 MiB of writes for a group of 60k items.
  logBytesMax: 32 * 1024 * 1024,
  proposalTimeoutMs: 10_000,
  bumpKeysMax: 65_536,
  entryOpsMax: 1024,
  hostReadIndex: true,
  readRoundTimeoutMs: 1000,
  followerReadTimeoutMs: 300,
  followerReads: true,
};

interface Waiter {
  /** Position of the request's first op in the entry's ops. */
  start: number;
  count: number;
  done: ReplicaDone;
}

interface Proposal {
  waiters: Waiter[];
  term: number;
  createdMs: number;
}

interface Read {
  ops: GetOp[];
  done: ReplicaDone;
}

/**
 * A read confirmation round (read-index mode): the leader numbers the reads queued in a
 * turn, asks every voter "am I still your leader in `term`?" (host message, answered
 * from the follower's in-memory Raft state without waiting for any Ready), and serves the
 * reads once a quorum said yes. Why that is linearizable: an ack was given after the
 * reads arrived, so no leader of a higher term had been elected when they arrived (its
 * voters' terms would exceed `term`, and a quorum of ours acked `term`), so every write
 * acknowledged before the reads arrived was committed by a leader of at most `term`; and
 * such writes are applied here once the leader has applied an entry of its own term
 * (checked when serving), because we acknowledge writes only after applying them. Same
 * argument as Raft's ReadIndex (thesis 6.4), with the commit index replaced by "applied
 * an entry of this term" and one round for all groups' reads of a turn (host.ts).
 */
interface ReadRound {
  seq: number;
  term: number;
  reads: Read[];
  /** Followers' read index questions riding on this round (answered with our commit index). */
  indexReplies: IndexReply[];
  acks: Set<NodeId>;
  createdMs: number;
}

/**
 * Reads served by a follower (Raft thesis 6.4, TiKV's follower read): the follower asks its
 * leader for a read index ('ri', one question per group per turn for all its reads), the
 * leader answers with its commit index once it knows it still leads (the question is the
 * follower's ack of the leader's term: with 3 voters the two make a quorum at once), and
 * the follower serves the reads from its own state once it has applied that index. Only
 * indexes cross the network; the leader does no work per read. Why it is linearizable:
 * the question is asked after the reads arrived, when no leader of a later term can exist
 * (it would need the follower's or the leader's vote, and both were still in `term`), so
 * the leader's commit index then covers every write acknowledged before the reads arrived
 * (committed in terms <= `term`; the leader has committed an entry of its own term) and
 * every entry any replica had applied; serving a state at or past it is serving the
 * state of a moment between the reads' arrival and their answer.
 */
interface FollowerBatch {
  seq: number;
  reads: Read[];
  /** The confirmed read index; -1 while waiting for the leader. */
  index: number;
  createdMs: number;
}

interface ReadBatch {
  reads: Read[];
  /** The read index once confirmed, -1 while waiting for the ReadState. */
  index: number;
  createdMs: number;
}

/** A group replica on this node. */
export class Replica {
  role: RaftRole = 'follower';
  /** True while a Ready of this replica waits for its durable write (no ready() until then). */
  persisting = false;
  private unsavedHardState: HardState | null = null;
  lead: NodeId = 0;
  /** Index of the last local snapshot (or installed one). */
  private snapshotIndex = 0;
  private confState: ConfState | undefined;

  private batchOps: CacheOp[] = [];
  private batchWaiters: Waiter[] = [];
  private metaQueue: Array<{ data: Uint8Array; done: ReplicaDone }> = [];
  /** Proposed this flush, by payload identity, waiting for ready() to tell their index. */
  private proposed = new Map<Uint8Array, Waiter[]>();
  private pending = new Map<number, Proposal>();

  private readQueue: Read[] = [];
  private readBatches = new Map<number, ReadBatch>();
  private readRounds: ReadRound[] = [];
  private readRoundSeq = 0;
  /** Followers' read index questions waiting for this turn's round (leader). */
  private indexQueue: IndexReply[] = [];
  /** Reads arrived here as a follower, for this turn's read index question. */
  private followerQueue: Read[] = [];
  /** Follower reads waiting for their read index, then for apply; in seq order. */
  private followerBatches: FollowerBatch[] = [];
  private followerSeq = 0;
  /** The group's current term as of the last Ready (a leader's term is durable). */
  term = 0;
  /** Term of the last applied entry: == term once a leader has applied its own first entry. */
  private appliedTerm = 0;
  /**
   * Asks the host to send a confirmation round for (term, seq) to the other voters; `needed`
   * of their yes make a quorum with ours (the host may ask just that many).
   */
  onReadRound: ((term: number, seq: number, voters: NodeId[], needed: number) => void) | null = null;
  /**
   * Asks the host to tell the leader which keys this follower's reads fetch (sent before
   * their read index question, so the leader knows the fetches before they are served).
   */
  onFetchMarks: ((leader: NodeId, keys: Buffer[]) => void) | null = null;
  /** Asks the host to send a read index question (term, seq) to the leader. */
  onReadIndexRequest: ((leader: NodeId, term: number, seq: number) => void) | null = null;
  private readCtxNext = 1;

  /**
   * Keys with a write submitted here and not yet answered ('' = a flush: every key). A
   * read of such a key goes through the log behind the write instead of through
   * ReadIndex, so a connection that pipelines `set k` then `get k` reads its own write
   * (ReadIndex alone would confirm a commit index that may precede the write).
   */
  private writing = new Map<string, number>();
  /** Fetches served without the log, until a bump entry carries them (leader; see fetch-marks.ts). */
  private readonly marks: FetchMarks;
  /** The periodic bump is due with the next entry (see queueBump). */
  private bumpDue = false;
  /** Entries this replica proposed (as leader), for metrics. */
  proposedEntries = 0;
  /** Snapshots taken locally / installed from the leader. */
  snapshotsTaken = 0;
  snapshotsInstalled = 0;
  /** Elections this replica saw: the terms it entered since it started. */
  elections = 0;
  /** Times it learned of a new leader. */
  leaderChanges = 0;
  /** Histogram hook: ms from proposal to answer. */
  onProposalLatency: ((ms: number) => void) | null = null;
  /** Called after a committed entry of the meta group was applied (the host reacts). */
  onApplied: ((index: number) => void) | null = null;
  /** Called when the replica learns of a (new) leader. */
  onLeaderKnown: ((lead: NodeId) => void) | null = null;
  /** Called after a snapshot replaced the machine's state. */
  onRestored: (() => void) | null = null;

  constructor(
    readonly group: GroupId,
    readonly nodeId: NodeId,
    readonly raft: RaftNode,
    readonly storage: RaftMemoryStorage,
    readonly machine: GroupMachine,
    private readonly factory: GroupFactory,
    private readonly options: ReplicaOptions,
    /** The node's clocks: wall (entry times, expiry) and monotonic (timeouts). */
    private readonly clock: Pick<Runtime, 'nowMs' | 'monoMs'>,
  ) {
    this.snapshotIndex = storage.firstIndex() - 1;
    this.term = storage.initialState().hardState.term;
    const st = raft.status();
    this.role = st.role;
    this.lead = st.lead;
    this.confState = st.confState;
    this.marks = new FetchMarks(options.bumpKeysMax);
    if (this.snapshotIndex > 0) this.releaseSnapshot();
  }

  /** True while this replica leads its group. */
  get isLeader(): boolean {
    return this.role === 'leader';
  }

  /** The data machine, for data groups. */
  get cacheMachine(): CacheGroupMachine | null {
    return this.machine instanceof CacheGroupMachine ? this.machine : null;
  }

  /** Queues a client request (ops of this group) for the next flush. */
  submit(ops: CacheOp[], done: ReplicaDone, ack?: { from: NodeId; term: number }): void {
    if (!this.isLeader) return done(null, this.lead);
    let reads = true;
    for (let i = 0; i < ops.length; i++) {
      if (opMutates(ops[i]!)) {
        reads = false;
        break;
      }
    }
    if (!reads || this.readsPendingWrite(ops)) return this.queueWrite(ops, done);
    const read: Read = { ops: ops as GetOp[], done };
    if (ack !== undefined && this.servesWithAck(ack.from, ack.term)) return this.serveRead(read, this.clock.nowMs());
    this.readQueue.push(read);
  }

  /**
   * A read forwarded by voter `from` carries its ack: "you lead me in `term`", given after
   * the read was invoked there (the client sent it to `from`). The ReadRound argument
   * holds for it as for an ack to a round, so with our own it may already be a quorum
   * (3 voters: always) and the read is served at once, with no round trip.
   */
  private servesWithAck(from: NodeId, term: number): boolean {
    if (!this.options.hostReadIndex || term !== this.term || this.appliedTerm !== this.term) return false;
    return this.hasReadQuorum(new Set([this.nodeId, from]));
  }

  /** True when a write of one of these keys (or a flush) is in flight from here. */
  readsPendingWrite(ops: CacheOp[]): boolean {
    const writing = this.writing;
    if (writing.size === 0) return false;
    if (writing.has('')) return true;
    for (let i = 0; i < ops.length; i++) if (writing.has((ops[i] as GetOp).key.toString('latin1'))) return true;
    return false;
  }

  /** Marks the keys of `ops` as being written until `done` runs. */
  private trackWriting(ops: CacheOp[], done: ReplicaDone): ReplicaDone {
    const release = this.noteWriting(ops);
    return (results, hint, error) => {
      release();
      done(results, hint, error);
    };
  }

  /**
   * Marks the keys of `ops` as being written (here, or forwarded from here) until the
   * returned function is called: reads of them then follow the write instead of being
   * served beside it.
   */
  noteWriting(ops: CacheOp[]): () => void {
    const ids: string[] = new Array(ops.length);
    for (let i = 0; i < ops.length; i++) {
      const key = (ops[i] as { key?: Buffer }).key;
      const id = key === undefined ? '' : key.toString('latin1');
      ids[i] = id;
      this.writing.set(id, (this.writing.get(id) ?? 0) + 1);
    }
    return () => {
      for (const id of ids) {
        const n = this.writing.get(id)! - 1;
        assert(n >= 0, 'a write released twice');
        if (n === 0) this.writing.delete(id);
        else this.writing.set(id, n);
      }
    };
  }

  /** True while reads arriving here may be served as a follower read (see FollowerBatch). */
  canReadAsFollower(): boolean {
    return this.options.hostReadIndex && this.options.followerReads && !this.isLeader && this.ackTermFor(this.lead) !== 0 && this.cacheMachine !== null;
  }

  /** Queues a read (ops of this group) to serve here once the leader confirms a read index. */
  submitFollowerRead(ops: CacheOp[], done: ReplicaDone): void {
    this.followerQueue.push({ ops: ops as GetOp[], done });
  }

  /**
   * The term in which this replica, a voter, follows `leader` now (0 when it does not):
   * a question or request sent to `leader` with it is an ack of its leadership.
   */
  ackTermFor(leader: NodeId): number {
    if (leader === 0 || leader === this.nodeId || this.lead !== leader || this.raft.currentTerm() !== this.term) return 0;
    const cs = this.confState;
    if (cs === undefined || !(cs.voters.includes(this.nodeId) || cs.votersOutgoing.includes(this.nodeId))) return 0;
    return this.term;
  }

  /** True when this replica follows `leader` in `term` ("still your follower?"). */
  followsIn(leader: NodeId, term: number): boolean {
    return this.lead === leader && this.raft.currentTerm() === term;
  }

  /**
   * A follower's read index question (leader side): the answer now (our commit index, or
   * -1 refused), or null when it rides on this turn's confirmation round and `reply` gets it.
   */
  readIndexFor(from: NodeId, term: number, reply: IndexReply): number | null {
    if (!this.isLeader || term !== this.term || this.raft.currentTerm() !== term) return -1;
    if (this.servesWithAck(from, term)) return this.raft.commitIndex();
    if (!this.options.hostReadIndex) return -1;
    this.indexQueue.push(reply);
    return null;
  }

  /** The leader's answer to follower read question `seq`. */
  onReadIndex(seq: number, index: number): void {
    const batch = this.followerBatches.find((b) => b.seq === seq);
    if (batch === undefined || batch.index >= 0) return;
    if (index < 0) {
      this.followerBatches.splice(this.followerBatches.indexOf(batch), 1);
      for (const r of batch.reads) r.done(null, this.lead);
      return;
    }
    batch.index = index;
    this.serveFollowerReads(this.clock.nowMs());
  }

  /** Queues an encoded meta command (meta group only). */
  submitMeta(data: Uint8Array, done: ReplicaDone): void {
    if (!this.isLeader) return done(null, this.lead);
    this.metaQueue.push({ data, done });
  }

  /** Queues leader housekeeping ops (bump, expire) into the next entry; no answer. */
  queueHousekeeping(op: CacheOp): void {
    if (!this.isLeader) return;
    this.batchOps.push(op);
  }

  /**
   * Asks for the fetches noted since the last bump to be proposed with the next entry, as a
   * bump op ahead of its other ops (a read served from the applied state happened before
   * any write queued since).
   */
  queueBump(): void {
    if (!this.isLeader || this.marks.size === 0) return;
    this.bumpDue = true;
  }

  /**
   * A follower's reads of `keys` (leader): noted as fetches now, before their read index is
   * answered, so an `h` read anywhere afterwards sees them. A key with a write in flight is
   * skipped: the fetch was of the item that write replaces.
   */
  noteFollowerFetches(keys: Uint8Array[]): void {
    if (!this.isLeader || this.cacheMachine === null) return;
    const nowMs = this.clock.nowMs();
    for (const bytes of keys) {
      // A copy: the bytes are a view into a peer frame.
      const key = Buffer.from(bytes);
      if (!this.writing.has(key.toString('latin1'))) this.marks.note(key, nowMs);
    }
  }

  /** True when prepare() has something to propose or confirm. */
  get hasQueued(): boolean {
    return (
      this.batchOps.length > 0 ||
      this.bumpDue ||
      this.metaQueue.length > 0 ||
      this.followerQueue.length > 0 ||
      ((this.readQueue.length > 0 || this.indexQueue.length > 0) && this.canStartReads)
    );
  }

  /** Reads wait (without spinning flushes) until a new leader applied an entry of its term. */
  private get canStartReads(): boolean {
    return !this.options.hostReadIndex || !this.isLeader || this.appliedTerm === this.term;
  }

  /** Proposes this turn's batched entry and asks one ReadIndex for this turn's reads. */
  prepare(nowMs: number): void {
    if (!this.hasQueued) return;
    if (this.followerQueue.length > 0) this.startFollowerReads();
    if (!this.isLeader) return this.failQueued();
    if (this.batchOps.length > 0 || this.bumpDue) this.proposeBatch(nowMs);
    for (const m of this.metaQueue) this.proposeOne(m.data, [{ start: 0, count: 1, done: m.done }]);
    this.metaQueue = [];
    if (this.readQueue.length === 0 && this.indexQueue.length === 0) return;
    if (!this.options.hostReadIndex) this.requestReadIndex();
    else if (this.canStartReads) this.startReadRound(nowMs);
  }

  /**
   * While this replica's Ready is being persisted (no ready() allowed): writes keep
   * batching for the next entry, but the turn's read round starts anyway (it needs no Ready).
   */
  prepareReads(nowMs: number): void {
    if (this.followerQueue.length > 0) this.startFollowerReads();
    if ((this.readQueue.length === 0 && this.indexQueue.length === 0) || !this.options.hostReadIndex) return;
    if (!this.isLeader) return this.failReadQueue();
    if (this.canStartReads) this.startReadRound(nowMs);
  }

  /** Asks the leader one read index for this turn's follower reads. */
  private startFollowerReads(): void {
    const reads = this.followerQueue;
    this.followerQueue = [];
    const leader = this.lead;
    const term = this.isLeader ? 0 : this.ackTermFor(leader);
    if (term === 0 || this.onReadIndexRequest === null) {
      // We lead now, or follow no one: the reads take the leader's way (the forwarder).
      for (const r of reads) r.done(null, leader);
      return;
    }
    if (this.onFetchMarks !== null) {
      const keys = fetchedKeys(reads);
      if (keys.length > 0) this.onFetchMarks(leader, keys);
    }
    const seq = ++this.followerSeq;
    this.followerBatches.push({ seq, reads, index: -1, createdMs: this.clock.monoMs() });
    this.onReadIndexRequest(leader, term, seq);
  }

  /** Serves the follower reads whose read index we have applied, in order. */
  private serveFollowerReads(nowMs: number): void {
    const batches = this.followerBatches;
    if (batches.length === 0) return;
    const applied = this.machine.appliedIndex;
    let kept = 0;
    for (let i = 0; i < batches.length; i++) {
      const b = batches[i]!;
      if (b.index < 0 || b.index > applied) {
        batches[kept++] = b;
        continue;
      }
      for (const r of b.reads) this.serveRead(r, nowMs);
    }
    batches.length = kept;
  }

  /** Takes the Ready; returns its durable part, or null when nothing needs persisting. */
  collect(): { rd: RaftReady; write: GroupWrite | null } {
    const rd = this.raft.ready();
    if (rd.hardState !== undefined) {
      // Every new term is one election (started here or by another replica).
      if (rd.hardState.term > this.term) this.elections += rd.hardState.term - this.term;
      this.term = rd.hardState.term;
    }
    if (this.proposed.size > 0) this.noteProposalIndexes(rd);
    if (!rd.mustSync) {
      // Only the commit index changed: Raft does not need it durable (a restarted node
      // learns it from the leader), so it is saved with the next write, not on its own.
      if (rd.hardState !== undefined) this.unsavedHardState = rd.hardState;
      return { rd, write: null };
    }
    const write: GroupWrite = { group: this.group };
    const hardState = rd.hardState ?? this.unsavedHardState;
    if (hardState !== null) write.hardState = hardState;
    this.unsavedHardState = null;
    if (rd.entries.length > 0) write.entries = rd.entries;
    if (rd.snapshot !== undefined) {
      write.snapshot = rd.snapshot;
      write.snapshotReplacesLog = true;
    }
    return { rd, write };
  }

  /** The latest hard state not written yet (commit-index changes), for a periodic save. */
  takeUnsavedHardState(): GroupWrite | null {
    const hs = this.unsavedHardState;
    if (hs === null) return null;
    this.unsavedHardState = null;
    return { group: this.group, hardState: hs };
  }

  /** After rd's durable part is on disk: update the in-memory log, apply, answer, advance. */
  afterPersist(rd: RaftReady, nowMs: number): void {
    if (rd.snapshot !== undefined) this.installSnapshot(rd.snapshot);
    if (rd.hardState !== undefined) this.storage.setHardState(rd.hardState);
    if (rd.entries.length > 0) this.storage.append(rd.entries);
    if (rd.softState !== undefined) this.changeSoftState(rd.softState.role, rd.softState.lead);
    for (const e of rd.committedEntries) this.applyCommitted(e.index, e.term, e.type, e.data);
    for (const rs of rd.readStates) this.confirmRead(rs.index, rs.context);
    this.serveConfirmedReads(nowMs);
    this.serveFollowerReads(nowMs);
    this.raft.advance(rd);
  }

  /**
   * Whether rd's committed entries may be applied before rd's own write is durable. They
   * may: a committed entry is durable on a quorum already (etcd's server applies in
   * parallel with its WAL write too), and answering its proposer then does not wait for the
   * fsync of the next batch, which the leader's Ready carries alongside. Not with a
   * snapshot to install first, nor with membership changes (kept in the plain order).
   */
  canApplyEarly(rd: RaftReady): boolean {
    if (rd.snapshot !== undefined) return false;
    for (const e of rd.committedEntries) if (e.type === EntryType.ConfChange) return false;
    return true;
  }

  /** The apply half of afterPersist, run while rd's write is in flight. */
  applyEarly(rd: RaftReady, nowMs: number): void {
    if (rd.softState !== undefined) this.changeSoftState(rd.softState.role, rd.softState.lead);
    for (const e of rd.committedEntries) this.applyCommitted(e.index, e.term, e.type, e.data);
    for (const rs of rd.readStates) this.confirmRead(rs.index, rs.context);
    this.serveConfirmedReads(nowMs);
    this.serveFollowerReads(nowMs);
  }

  /** The other half, once rd's write is durable: the in-memory log, then advance. */
  finishPersisted(rd: RaftReady): void {
    if (rd.hardState !== undefined) this.storage.setHardState(rd.hardState);
    if (rd.entries.length > 0) this.storage.append(rd.entries);
    this.raft.advance(rd);
  }

  /**
   * A local snapshot when enough entries were applied since the last one, or the in-memory
   * log outgrew this replica's share of logBytesMax (`replicasOnNode` share it); its durable
   * write. The log is then compacted, keeping at most snapshotKeepEntries and a quarter of
   * the share behind the snapshot, and the snapshot's data leaves memory.
   */
  maybeSnapshot(replicasOnNode: number): GroupWrite | null {
    const applied = this.machine.appliedIndex;
    if (applied <= this.snapshotIndex) return null;
    const byCount = applied - this.snapshotIndex >= this.options.snapshotEntriesMin;
    const logBytesShare = Math.floor(this.options.logBytesMax / Math.max(1, replicasOnNode));
    if (!byCount && this.storage.logBytes() <= logBytesShare) return null;
    if (applied > this.storage.lastIndex()) return null;
    const snap = this.storage.createSnapshot(applied, this.confState, this.machine.snapshot());
    const compactTo = this.compactionPoint(applied, logBytesShare >> 2);
    if (compactTo >= this.storage.firstIndex()) this.storage.compact(compactTo);
    this.snapshotIndex = applied;
    this.snapshotsTaken++;
    this.releaseSnapshot();
    // The stored commit index must not fall behind the snapshot (restart needs commit >= it).
    const write: GroupWrite = { group: this.group, snapshot: snap };
    if (this.unsavedHardState !== null) write.hardState = this.unsavedHardState;
    this.unsavedHardState = null;
    return write;
  }

  /** Bytes of the in-memory log (for metrics). */
  get logBytes(): number {
    return this.storage.logBytes();
  }

  /**
   * The index to compact to after a snapshot at `applied`: the entries after it, up to
   * `applied`, stay for slow followers, at most snapshotKeepEntries of them and at most
   * `keepBytes` of payload (at least none: the result never passes `applied`).
   */
  private compactionPoint(applied: number, keepBytes: number): number {
    const byCount = applied - this.options.snapshotKeepEntries;
    const lo = Math.max(byCount + 1, this.storage.firstIndex());
    if (lo > applied) return byCount;
    const kept = this.storage.entries(lo, applied + 1);
    let bytes = 0;
    for (let i = kept.length - 1; i >= 0; i--) {
      bytes += kept[i]!.data.byteLength;
      if (bytes > keepBytes) return kept[i]!.index;
    }
    return byCount;
  }

  /**
   * Drops the latest snapshot's data from memory: it is durable in the log store, and a
   * follower that needs one is sent a fresh snapshot of the state at the applied index.
   */
  private releaseSnapshot(): void {
    this.storage.releaseSnapshotData(() => this.currentSnapshot());
  }

  /** A snapshot of the machine now: at the applied index, which must be in the in-memory log. */
  private currentSnapshot(): Snapshot {
    const applied = this.machine.appliedIndex;
    // Applied early (before its entry reached the in-memory log): its term is unknown yet.
    if (applied > this.storage.lastIndex()) throw new SnapshotTemporarilyUnavailableError();
    assert(applied >= this.storage.firstIndex() - 1, `group ${this.group}: applied ${applied} behind the compaction point`);
    const confState = this.confState ?? this.storage.initialState().confState;
    return { meta: { index: applied, term: this.storage.term(applied), confState }, data: this.machine.snapshot() };
  }

  /** Fails work that waited too long (a lost leadership, a partition); `nowMs` is monotonic. */
  expireWaiting(nowMs: number): void {
    const timeoutMs = this.options.proposalTimeoutMs;
    for (const [index, p] of this.pending) {
      if (nowMs - p.createdMs < timeoutMs) continue;
      this.pending.delete(index);
      const err = new OutcomeUnknownError(`proposal not committed within ${timeoutMs} ms`);
      for (const w of p.waiters) w.done(null, this.lead, err);
    }
    const roundTimeoutMs = this.options.readRoundTimeoutMs;
    while (this.readRounds.length > 0 && nowMs - this.readRounds[0]!.createdMs >= roundTimeoutMs) {
      failRound(this.readRounds.shift()!, this.lead);
    }
    while (this.followerBatches.length > 0 && nowMs - this.followerBatches[0]!.createdMs >= this.options.followerReadTimeoutMs) {
      for (const r of this.followerBatches.shift()!.reads) r.done(null, this.lead);
    }
    for (const [ctx, b] of this.readBatches) {
      if (nowMs - b.createdMs < timeoutMs) continue;
      this.readBatches.delete(ctx);
      for (const r of b.reads) r.done(null, this.lead);
    }
  }

  /** Fails everything (shutdown). */
  failAll(err: ClusterError): void {
    this.failQueued();
    for (const p of this.pending.values()) for (const w of p.waiters) w.done(null, 0, err);
    this.pending.clear();
    this.failReads();
    const batches = this.followerBatches;
    this.followerBatches = [];
    for (const b of batches) for (const r of b.reads) r.done(null, 0, err);
  }

  private queueWrite(ops: CacheOp[], done: ReplicaDone): void {
    if (this.batchOps.length + ops.length > this.options.entryOpsMax && this.batchOps.length > 0) {
      // The entry is full: propose it now (bounded entry size); this request starts the next.
      this.proposeBatch(this.clock.nowMs());
    }
    this.batchWaiters.push({ start: this.batchOps.length, count: ops.length, done: this.trackWriting(ops, done) });
    for (let i = 0; i < ops.length; i++) this.batchOps.push(ops[i]!);
  }

  private proposeBatch(nowMs: number): void {
    const machine = this.cacheMachine;
    assert(machine !== null, 'data ops proposed to the meta group');
    // The leader's clock, never behind what the group already applied (monotone per group).
    const entryNowMs = Math.max(nowMs, machine.lastNowMs);
    // The fetches of keys this entry writes go first (see fetch-marks.ts).
    const bump = this.bumpDue ? this.marks.takeAll() : this.marks.takeFor(this.batchOps);
    this.bumpDue = false;
    if (bump !== null) {
      this.batchOps.unshift(bump);
      for (const w of this.batchWaiters) w.start++;
    }
    const data = this.factory.encodeEntry(entryNowMs, this.batchOps);
    const waiters = this.batchWaiters;
    this.batchOps = [];
    this.batchWaiters = [];
    this.proposeOne(data, waiters);
  }

  private proposeOne(data: Uint8Array, waiters: Waiter[]): void {
    try {
      this.raft.propose(data);
    } catch {
      // Not leader any more, transferring leadership, or over the uncommitted limit.
      for (const w of waiters) w.done(null, this.lead);
      return;
    }
    this.proposedEntries++;
    if (waiters.length > 0) this.proposed.set(data, waiters);
  }

  private noteProposalIndexes(rd: RaftReady): void {
    const nowMs = this.clock.monoMs();
    for (const e of rd.entries) {
      const waiters = this.proposed.get(e.data);
      if (waiters === undefined) continue;
      this.proposed.delete(e.data);
      this.pending.set(e.index, { waiters, term: e.term, createdMs: nowMs });
    }
    // Not in this Ready: the core dropped it without throwing; let the client retry.
    for (const waiters of this.proposed.values()) for (const w of waiters) w.done(null, this.lead);
    this.proposed.clear();
  }

  private startReadRound(nowMs: number): void {
    const round: ReadRound = {
      seq: ++this.readRoundSeq,
      term: this.term,
      reads: this.readQueue,
      indexReplies: this.indexQueue,
      acks: new Set([this.nodeId]),
      createdMs: this.clock.monoMs(),
    };
    this.readQueue = [];
    this.indexQueue = [];
    this.readRounds.push(round);
    if (this.hasReadQuorum(round.acks)) return this.serveReadRounds(nowMs);
    const others = this.votersOf().filter((id) => id !== this.nodeId);
    const cs = this.confState!;
    // In a joint configuration both majorities count: ask everyone.
    const needed = cs.votersOutgoing.length > 0 ? others.length : Math.floor(cs.voters.length / 2);
    if (this.onReadRound !== null) this.onReadRound(round.term, round.seq, others, needed);
  }

  /** A voter's answer to read round `seq` (and so to every earlier round of `term`). */
  onReadAck(from: NodeId, term: number, seq: number, ok: boolean): void {
    if (!ok || this.readRounds.length === 0) return;
    for (const round of this.readRounds) {
      if (round.seq > seq) break;
      if (round.term === term) round.acks.add(from);
    }
    this.serveReadRounds(this.clock.nowMs());
  }

  private serveReadRounds(nowMs: number): void {
    while (this.readRounds.length > 0) {
      const round = this.readRounds[0]!;
      if (!this.hasReadQuorum(round.acks)) return;
      this.readRounds.shift();
      const valid = this.isLeader && this.term === round.term && this.appliedTerm === round.term;
      if (!valid) {
        failRound(round, this.lead);
        continue;
      }
      for (const r of round.reads) this.serveRead(r, nowMs);
      if (round.indexReplies.length > 0) {
        const commit = this.raft.commitIndex();
        for (const reply of round.indexReplies) reply(commit);
      }
    }
  }

  private votersOf(): NodeId[] {
    const cs = this.confState;
    if (cs === undefined) return [this.nodeId];
    return cs.votersOutgoing.length === 0 ? cs.voters : [...new Set([...cs.voters, ...cs.votersOutgoing])];
  }

  private hasReadQuorum(acks: Set<NodeId>): boolean {
    const cs = this.confState;
    if (cs === undefined) return false;
    const majority = (ids: NodeId[]): boolean => {
      let n = 0;
      for (const id of ids) if (acks.has(id)) n++;
      return n > ids.length / 2;
    };
    return majority(cs.voters) && (cs.votersOutgoing.length === 0 || majority(cs.votersOutgoing));
  }

  private requestReadIndex(): void {
    const ctx = this.readCtxNext++;
    const context = Buffer.allocUnsafe(8);
    context.writeUInt32BE(this.group >>> 0, 0);
    context.writeUInt32BE(ctx >>> 0, 4);
    this.readBatches.set(ctx, { reads: this.readQueue, index: -1, createdMs: this.clock.monoMs() });
    this.readQueue = [];
    // Lease / Raft ReadIndex mode answers no follower questions (canReadAsFollower is false).
    for (const reply of this.indexQueue) reply(-1);
    this.indexQueue = [];
    this.raft.readIndex(context);
  }

  private confirmRead(index: number, context: Uint8Array): void {
    if (context.length !== 8) return;
    const ctx = Buffer.from(context.buffer, context.byteOffset, 8).readUInt32BE(4);
    const batch = this.readBatches.get(ctx);
    if (batch !== undefined) batch.index = index;
  }

  private serveConfirmedReads(nowMs: number): void {
    if (this.readBatches.size === 0) return;
    const applied = this.machine.appliedIndex;
    for (const [ctx, batch] of this.readBatches) {
      if (batch.index < 0 || batch.index > applied) continue;
      this.readBatches.delete(ctx);
      for (const r of batch.reads) this.serveRead(r, nowMs);
    }
  }

  /**
   * Serves a read from this replica's state: a leader's after its read round (or with a
   * voter's ack), a follower's once it applied the confirmed read index. A read the cache
   * will not answer purely (a win flag to hand out) goes through the log at a leader, and
   * back to the forwarder (null, hint) elsewhere. Only a leader notes keys for its bump
   * entries: it is the one that proposes them.
   */
  private serveRead(r: Read, nowMs: number): void {
    const machine = this.cacheMachine!;
    const at = Math.max(nowMs, machine.lastNowMs);
    const results: CacheResult[] = new Array(r.ops.length);
    for (let i = 0; i < r.ops.length; i++) {
      const op = r.ops[i]!;
      const res = machine.read(op, at);
      if (res !== null && res.kind === 'hit' && this.isLeader) {
        if (op.access === true) this.marks.merge(res, at);
        if (op.noBump !== true) this.noteRead(res.item.key, at);
      }
      if (res === null) {
        // Answering would change state (a win flag to hand out): through the log instead.
        if (this.isLeader) this.queueWrite(r.ops, r.done);
        else r.done(null, this.lead);
        return;
      }
      results[i] = res;
    }
    r.done(results, this.nodeId);
  }

  private noteRead(key: Buffer, nowMs: number): void {
    this.marks.note(key, nowMs);
  }

  private applyCommitted(index: number, term: number, type: EntryType, data: Uint8Array): void {
    if (index <= this.machine.appliedIndex) return; // already in the restored snapshot
    this.appliedTerm = term;
    let results: unknown[] | null = null;
    if (type === EntryType.ConfChange) {
      this.confState = this.raft.applyConfChange(this.factory.decodeConfChange(data));
      this.machine.skip(index);
    } else if (data.length === 0) {
      this.machine.skip(index);
    } else {
      results = this.machine.applyEntry(data, index);
    }
    const p = this.pending.get(index);
    if (p !== undefined) {
      this.pending.delete(index);
      this.answer(p, term, results);
    }
    if (this.onApplied !== null) this.onApplied(index);
  }

  private answer(p: Proposal, term: number, results: unknown[] | null): void {
    if (p.term !== term || results === null) {
      // Another leader's entry took this index: ours was never committed, safe to retry.
      for (const w of p.waiters) w.done(null, this.lead);
      return;
    }
    if (this.onProposalLatency !== null) this.onProposalLatency(this.clock.monoMs() - p.createdMs);
    for (const w of p.waiters) {
      w.done(w.start === 0 && w.count === results.length ? results : results.slice(w.start, w.start + w.count), this.nodeId);
    }
  }

  private installSnapshot(snap: Snapshot): void {
    this.snapshotsInstalled++;
    this.storage.applySnapshot(snap);
    this.machine.restore(snap.data, snap.meta.index);
    this.confState = snap.meta.confState;
    this.snapshotIndex = snap.meta.index;
    this.appliedTerm = snap.meta.term;
    this.releaseSnapshot();
    for (const [index, p] of this.pending) {
      if (index > snap.meta.index) continue;
      this.pending.delete(index);
      const err = new OutcomeUnknownError('replaced by a snapshot before its outcome was known');
      for (const w of p.waiters) w.done(null, this.lead, err);
    }
    if (this.onRestored !== null) this.onRestored();
  }

  private changeSoftState(role: RaftRole, lead: NodeId): void {
    const wasLeader = this.isLeader;
    const learned = lead !== 0 && lead !== this.lead;
    if (learned) this.leaderChanges++;
    this.role = role;
    this.lead = lead;
    if (learned && this.onLeaderKnown !== null) this.onLeaderKnown(lead);
    if (wasLeader && role !== 'leader') {
      // Queued work would need the leadership we lost; proposals already in the log keep
      // waiting for their index (they may still commit under the next leader). Fetch marks
      // not logged are lost with the leadership (soft state, see fetch-marks.ts).
      this.marks.clear();
      this.failQueued();
      this.failReads();
    }
  }

  private failQueued(): void {
    const waiters = this.batchWaiters;
    const meta = this.metaQueue;
    this.batchOps = [];
    this.batchWaiters = [];
    this.metaQueue = [];
    this.bumpDue = false;
    for (const w of waiters) w.done(null, this.lead);
    for (const m of meta) m.done(null, this.lead);
    this.failReadQueue();
  }

  private failReadQueue(): void {
    const reads = this.readQueue;
    const replies = this.indexQueue;
    const follower = this.followerQueue;
    this.readQueue = [];
    this.indexQueue = [];
    this.followerQueue = [];
    for (const r of reads) r.done(null, this.lead);
    for (const reply of replies) reply(-1);
    for (const r of follower) r.done(null, this.lead);
  }

  private failReads(): void {
    const batches = [...this.readBatches.values()];
    this.readBatches.clear();
    const rounds = this.readRounds;
    this.readRounds = [];
    for (const b of batches) for (const r of b.reads) r.done(null, this.lead);
    for (const round of rounds) failRound(round, this.lead);
  }
}

/** Fails a round's reads (retry at `hint`) and refuses its followers' questions. */
function failRound(round: ReadRound, hint: NodeId): void {
  for (const r of round.reads) r.done(null, hint);
  for (const reply of round.indexReplies) reply(-1);
}

/** The keys a batch of follower reads fetches (gets that bump), for the leader's fetch marks. */
function fetchedKeys(reads: Read[]): Buffer[] {
  const keys: Buffer[] = [];
  for (const r of reads) for (const op of r.ops) if (op.noBump !== true) keys.push(op.key);
  return keys;
}
