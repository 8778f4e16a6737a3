/**
 * The slices of the parts this host composes (raft, storage, transport, cache), as
 * structural interfaces. The host is written against these, so it reads as the recipe it
 * follows and can be driven by any implementation with the same shape; `node.ts` plugs in
 * the real RawNode, MemoryStorage, LevelLogStore, Transport and CacheStateMachine.
 */
import type { GroupWrite, GroupState as StoredGroup } from '../storage/types.js';
import type { CacheOp, CacheResult, GetOp } from '../cache/ops.js';
import type { ConfChange, ConfState, Entry, GroupId, HardState, Message, NodeId, Snapshot } from '../raft/types.js';

/** A group's role as Raft reports it. */
export type RaftRole = 'follower' | 'precandidate' | 'candidate' | 'leader';

/** What a RawNode hands out per Ready (src/raft). */
export interface RaftReady {
  softState?: { lead: NodeId; role: RaftRole };
  hardState?: HardState;
  entries: Entry[];
  snapshot?: Snapshot;
  committedEntries: Entry[];
  messagesBeforePersist: Message[];
  messages: Message[];
  readStates: Array<{ index: number; context: Uint8Array }>;
  mustSync: boolean;
}

/** The progress of one follower, as the leader tracks it. */
export interface RaftProgressView {
  match: number;
  next?: number;
  recentActive?: boolean;
}

/** RawNode.status(). */
export interface RaftStatusView {
  id: NodeId;
  term: number;
  vote: NodeId;
  commit: number;
  applied: number;
  lead: NodeId;
  role: RaftRole;
  leadTransferee: NodeId;
  progress?: Map<NodeId, RaftProgressView> | Record<string, RaftProgressView>;
  confState: ConfState;
}

/** The RawNode API (etcd-io/raft's RawNode). */
export interface RaftNode {
  tick(): void;
  campaign(): void;
  propose(data: Uint8Array): void;
  proposeConfChange(cc: ConfChange): void;
  step(msg: Message): void;
  readIndex(context: Uint8Array): void;
  transferLeader(to: NodeId): void;
  applyConfChange(cc: ConfChange): ConfState;
  reportUnreachable(id: NodeId): void;
  reportSnapshot(id: NodeId, ok: boolean): void;
  hasReady(): boolean;
  ready(): RaftReady;
  advance(rd: RaftReady): void;
  status(): RaftStatusView;
  /** The current term (cheap: no status object). */
  currentTerm(): number;
  /** The commit index this node knows (cheap: no status object). */
  commitIndex(): number;
}

/** The in-memory stable log a RawNode reads (raft MemoryStorage). */
export interface RaftMemoryStorage {
  initialState(): { hardState: HardState; confState: ConfState };
  entries(lo: number, hi: number, maxBytes?: number): Entry[];
  firstIndex(): number;
  lastIndex(): number;
  /** Term of entry `index` (the compaction point's too). */
  term(index: number): number;
  snapshot(): Snapshot;
  setHardState(hs: HardState): void;
  append(entries: Entry[]): void;
  applySnapshot(snap: Snapshot): void;
  createSnapshot(index: number, confState: ConfState | undefined, data: Uint8Array): Snapshot;
  compact(index: number): void;
  /** Payload bytes of the entries held in memory. */
  logBytes(): number;
  /** Drops the latest snapshot's data; snapshot() then asks `source` (see raft MemoryStorage). */
  releaseSnapshotData(source: () => Snapshot): void;
}

/** One group's persisted changes of a flush, and its durable state on restart: src/storage's own types. */
export type { GroupWrite, GroupState as StoredGroup } from '../storage/types.js';

/** The node's durable log store (src/storage LogStore). */
export interface LogStoreLike {
  write(writes: GroupWrite[]): Promise<void>;
  load(group: GroupId): Promise<StoredGroup>;
  groups(): Promise<GroupId[]>;
  getMeta(key: string): Promise<Uint8Array | undefined>;
  putMeta(key: string, value: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

/** The node-to-node transport (src/transport). */
export interface TransportLike {
  setPeer(id: NodeId, addr: { host: string; port: number }): void;
  send(to: NodeId, msg: unknown): void;
  onMessages(handler: (from: NodeId, msgs: unknown[]) => void): void;
  onPeerStatus(handler: (id: NodeId, up: boolean) => void): void;
  request(to: NodeId, payload: unknown, timeoutMs: number): Promise<unknown>;
  onRequest(handler: (from: NodeId, payload: unknown) => Promise<unknown> | unknown): void;
  setLinkFilter(fn: ((to: NodeId) => boolean) | null): void;
  /** Closes the connections `id` sent on (it sent something malformed); absent where links have no connections. */
  resetPeer?(id: NodeId, why: string): void;
  close(): Promise<void>;
}

/** The cache state machine of a data group (src/cache). */
export interface CacheMachine {
  /** Applies every op of an entry at log index `index`; one result per op. */
  applyEntry(entry: { nowMs: number; ops: CacheOp[] }, index: number): CacheResult[];
  /** Records an applied entry without cache ops. */
  markApplied(index: number): void;
  read(op: GetOp, nowMs: number): CacheResult | null;
  snapshot(): Uint8Array;
  restore(data: Uint8Array): void;
  digest(): string;
}

/** Item figures of one cache machine, for stats and metrics. */
export interface CacheFigures {
  currItems: number;
  totalItems: number;
  bytes: number;
  evictions: number;
  /** The group's memory limit in force (memcached's limit_maxbytes for this group). */
  limitBytes: number;
}

/** Builds the parts of one group replica; node.ts provides the real ones. */
export interface GroupFactory {
  /** A fresh in-memory stable log. */
  newStorage(): RaftMemoryStorage;
  /** Writes the initial membership of a brand-new group into `storage`. */
  bootstrap(storage: RaftMemoryStorage, voters: NodeId[], learners: NodeId[]): void;
  /** A RawNode over `storage`, `applied` being the index its state machine starts from. */
  newRaft(group: GroupId, storage: RaftMemoryStorage, applied: number): RaftNode;
  /** A cache machine with the group's memory limit. */
  newCache(memoryBytesMax: number): CacheMachine;
  /** Figures of a cache machine. */
  cacheFigures(cache: CacheMachine): CacheFigures;
  /** Encodes a data entry: the leader's time and a batch of ops. */
  encodeEntry(nowMs: number, ops: CacheOp[]): Uint8Array;
  /** Decodes a data entry. */
  decodeEntry(data: Uint8Array): { nowMs: number; ops: CacheOp[] };
  /** Decodes a ConfChange entry's payload. */
  decodeConfChange(data: Uint8Array): ConfChange;
}
