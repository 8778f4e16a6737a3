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
  /** App: index of the entry before `entries`; Vote: candidate's last log index. */
  index: number;
  entries: Entry[];
  commit: number;
  reject: boolean;
  /** AppResp rejection: the follower's hint for fast back-off. */
  rejectHint: number;
  /** AppResp rejection hint term (etcd's LogTerm on rejections). */
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
