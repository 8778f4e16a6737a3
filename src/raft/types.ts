/**
 * Raft data types shared by `raft/` (the pure state machine), `storage/` (which persists
 * entries, hard state and snapshots) and `cluster/` (which moves messages between nodes).
 * Modelled on etcd-io/raft's raftpb. Plain objects so msgpackr encodes them directly.
 */

/** A node id. 0 means "none" (no vote, no leader). */
export type NodeId = number;

/** The id of a Raft group on a node (0 = the meta group). */
export type GroupId = number;

export const NONE: NodeId = 0;

export enum EntryType {
  /** Application data (possibly empty: a new leader's no-op). */
  Normal = 0,
  /** `data` is an encoded ConfChange. */
  ConfChange = 1,
}

/** One log entry. */
export interface Entry {
  term: number;
  index: number;
  type: EntryType;
  data: Uint8Array;
}

/** The state that must be durable before any message that depends on it is sent. */
export interface HardState {
  term: number;
  vote: NodeId;
  commit: number;
}

/** Membership of a group. With joint consensus, `votersOutgoing` is non-empty while in the joint config. */
export interface ConfState {
  voters: NodeId[];
  learners: NodeId[];
  votersOutgoing: NodeId[];
  learnersNext: NodeId[];
  autoLeave: boolean;
}

export interface SnapshotMeta {
  index: number;
  term: number;
  confState: ConfState;
}

/** A snapshot of the application state at `meta.index`. */
export interface Snapshot {
  meta: SnapshotMeta;
  data: Uint8Array;
}

export enum MessageType {
  Hup = 0,
  Beat = 1,
  Prop = 2,
  App = 3,
  AppResp = 4,
  Vote = 5,
  VoteResp = 6,
  Snap = 7,
  Heartbeat = 8,
  HeartbeatResp = 9,
  Unreachable = 10,
  SnapStatus = 11,
  CheckQuorum = 12,
  TransferLeader = 13,
  TimeoutNow = 14,
  ReadIndex = 15,
  ReadIndexResp = 16,
  PreVote = 17,
  PreVoteResp = 18,
}

/** A Raft message. Fields not used by a type are left at 0 / empty. */
export interface Message {
  type: MessageType;
  to: NodeId;
  from: NodeId;
  term: number;
  /** App: term of the entry before `entries`; Vote: candidate's last log term. */
  logTerm: number;
  /**
   * App: index of the entry before `entries`; Vote: candidate's last log index.
   * Heartbeat: the leader's tick count when it was sent, echoed in HeartbeatResp (lease reads).
   */
  index: number;
  entries: Entry[];
  commit: number;
  reject: boolean;
  /** AppResp rejection: the follower's hint for fast back-off (with its term in `logTerm`, as etcd). */
  rejectHint: number;
  /** Snap: the snapshot to install. */
  snapshot?: Snapshot;
  /** ReadIndex request context, echoed back; heartbeat context for read confirmation. */
  context?: Uint8Array;
}

export enum ConfChangeType {
  AddNode = 0,
  RemoveNode = 1,
  AddLearnerNode = 2,
}

export interface ConfChangeSingle {
  type: ConfChangeType;
  nodeId: NodeId;
}

/** A membership change. More than one change, or `transition` = 'joint', enters joint consensus. */
export interface ConfChange {
  changes: ConfChangeSingle[];
  /** 'auto': joint when needed, left automatically; 'explicit': joint, left by an empty ConfChange. */
  transition: 'auto' | 'explicit';
  context?: Uint8Array;
}

/** The role of a node in its group. */
export type Role = 'follower' | 'precandidate' | 'candidate' | 'leader';

/** Volatile state reported in a Ready when it changes (not persisted). */
export interface SoftState {
  lead: NodeId;
  role: Role;
}

/** The answer to a readIndex(context): serve the read once applied >= index. */
export interface ReadState {
  index: number;
  context: Uint8Array;
}

/** The stable log as Raft reads it: synchronous, in memory (MemoryStorage), kept in step with disk by the host. */
export interface RaftStorage {
  /** Hard state and membership at startup. */
  initialState(): { hardState: HardState; confState: ConfState };
  /** Entries [lo, hi), at most maxBytes (but at least one entry if any). Throws CompactedError if lo is compacted. */
  entries(lo: number, hi: number, maxBytes?: number): Entry[];
  /** Term of entry `index`; the snapshot's index is valid too. Throws CompactedError / UnavailableError. */
  term(index: number): number;
  /** First available entry index (snapshot index + 1). */
  firstIndex(): number;
  /** Last entry index (the snapshot index if the log is empty). */
  lastIndex(): number;
  /** The latest snapshot; throws SnapshotTemporarilyUnavailableError if not ready. */
  snapshot(): Snapshot;
}

/** The minimal logger Raft writes to (pino-compatible). */
export interface RaftLogger {
  debug(...a: unknown[]): void;
  info(...a: unknown[]): void;
  warn(...a: unknown[]): void;
}

/**
 * How a leader answers ReadIndex: 'safe' confirms leadership with a heartbeat quorum;
 * 'lease' answers at once while its heartbeat lease is valid (needs checkQuorum and clocks
 * that tick at the same rate; see src/raft/index.ts), else falls back to 'safe'.
 */
export type ReadOnlyOption = 'safe' | 'lease';

/** Configuration of one Raft node (one replica of one group). */
export interface RaftConfig {
  id: NodeId;
  /** Election timeout base; the randomized timeout is in [electionTicks, 2*electionTicks). Default 10. */
  electionTicks: number;
  /** Leader heartbeat interval in ticks. Default 2. */
  heartbeatTicks: number;
  storage: RaftStorage;
  /** Last applied index on restart (0 = from the storage's first index - 1). */
  applied?: number;
  /** Max bytes of entries in one App message (at least one entry is always sent). */
  maxSizePerMsgBytes: number;
  /** Max App messages in flight per follower (flow control). */
  maxInflightMsgs: number;
  /** Max entry payload bytes in flight per follower (0 = unlimited). */
  maxInflightBytes: number;
  /** Proposals are dropped while the uncommitted payload exceeds this (0/undefined = unlimited). */
  maxUncommittedBytes?: number;
  checkQuorum: boolean;
  preVote: boolean;
  readOnlyOption: ReadOnlyOption;
  /**
   * Lease mode: ticks the leader's lease is shortened by, to absorb clock drift (how many
   * ticks the leader's clock may fall behind a follower's within one election timeout).
   * Default 1; must be below electionTicks.
   */
  leaseDriftTicks?: number;
  /** Seeded PRNG in [0,1) for the election timeout. */
  random: () => number;
  /** Leader steps down when a config change removes it (default true). */
  stepDownOnRemoval?: boolean;
  logger?: RaftLogger;
}

/** Everything the host must do after a batch of Raft activity; see src/raft/index.ts for the recipe. */
export interface Ready {
  /** Set when lead or role changed. */
  softState?: SoftState;
  /** Set when term, vote or commit changed: persist. */
  hardState?: HardState;
  /** Persist (append to stable storage, truncating any conflicting suffix). */
  entries: Entry[];
  /** Persist and apply (replaces the state machine and the log before it). */
  snapshot?: Snapshot;
  /** Apply in order, only after this Ready's entries/hardState are durable. */
  committedEntries: Entry[];
  /** Leader's App/Heartbeat/Snap/TimeoutNow: may be sent at once, in parallel with persisting (thesis 10.2.1). */
  messagesBeforePersist: Message[];
  /** Every other message (votes, responses, ...): send only after this Ready is durable. */
  messages: Message[];
  readStates: ReadState[];
  /** True when hardState or entries must be fsynced (term/vote/entries changed). */
  mustSync: boolean;
}

/** Replication state of one follower as the leader sees it. */
export type ProgressState = 'probe' | 'replicate' | 'snapshot';

/** A follower's progress in RaftStatus (leader only). */
export interface ProgressStatus {
  match: number;
  next: number;
  state: ProgressState;
  recentActive: boolean;
  isLearner: boolean;
  pendingSnapshot: number;
  inflightMsgs: number;
}

/** A snapshot of a node's Raft state for /status and tests. */
export interface RaftStatus {
  id: NodeId;
  term: number;
  vote: NodeId;
  commit: number;
  applied: number;
  lead: NodeId;
  role: Role;
  leadTransferee: NodeId;
  /** Present on the leader. */
  progress?: Map<NodeId, ProgressStatus>;
  confState: ConfState;
}
