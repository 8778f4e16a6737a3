/**
 * The storage contract: what `cluster/` hands to the durable log store after each Raft
 * Ready, and what it gets back on restart. Implemented by `LevelLogStore` (LevelDB, the
 * real thing) and `MemoryLogStore` (simulations and tests of other layers).
 */
import type { Entry, GroupId, HardState, Snapshot } from '../raft/types.js';

/**
 * Everything one group wants persisted in one flush. The parts are applied in this order:
 * destroy, snapshot, entries, compactBefore, hardState (so a single write may destroy a
 * replica and start it again, or install a snapshot and append the entries after it).
 */
export interface GroupWrite {
  group: GroupId;
  /** The group's new hard state (term, vote, commit). */
  hardState?: HardState;
  /**
   * Appended, contiguous and ascending. Stored entries with index >= entries[0].index are
   * replaced or deleted (conflict truncation). entries[0].index must be in
   * (snapshot index, last stored index + 1]: the log never gets a hole.
   */
  entries?: Entry[];
  /** Replaces the group's snapshot; stored entries with index <= snapshot index are deleted. */
  snapshot?: Snapshot;
  /**
   * With `snapshot`: the snapshot came from the leader (Ready.snapshot) and so replaces the
   * whole log, as etcd's MemoryStorage.ApplySnapshot does; entries after the snapshot index
   * from a diverged history must not come back after a restart. Leave unset for a local
   * snapshot of applied state, which keeps the entries after it.
   */
  snapshotReplacesLog?: boolean;
  /**
   * Delete log entries with index < compactBefore (after a local snapshot). Must not pass
   * the stored snapshot (compactBefore <= snapshot index + 1), which would leave a hole
   * between the snapshot and the log on restart.
   */
  compactBefore?: number;
  /** Drop everything of this group (replica removed from this node). */
  destroy?: boolean;
}

/** Options of one `LogStore.write` call. */
export interface WriteOptions {
  /**
   * false: this write need not be durable when its promise resolves (etcd's !mustSync, e.g.
   * only commit indexes moved, which Raft recovers from the leader). It stays atomic and
   * ordered; a batch is fsynced if any write in it wants sync. Default true.
   */
  sync?: boolean;
}

/** A group's durable state as rebuilt on restart. */
export interface GroupState {
  /** { term: 0, vote: 0, commit: 0 } when none was ever written. */
  hardState: HardState;
  snapshot?: Snapshot;
  /** The log after the snapshot (or from index 1 without one), contiguous. */
  entries: Entry[];
}

/** The durable Raft log store of one node: all groups in one database. */
export interface LogStore {
  /**
   * Persists the writes of all groups as ONE atomic batch (one fsync when fsync is on);
   * resolves when durable. Calls made while a batch is in flight are merged into the next
   * batch, in call order, so callers may issue one write per flush without awaiting.
   */
  write(writes: GroupWrite[], options?: WriteOptions): Promise<void>;
  /** A group's durable state, after every write issued before this call. */
  load(group: GroupId): Promise<GroupState>;
  /** The groups that have any durable state, ascending. */
  groups(): Promise<GroupId[]>;
  /** Small node-level metadata (node id, cluster id); undefined when absent. */
  getMeta(key: string): Promise<Uint8Array | undefined>;
  /** Durably stores node-level metadata, ordered with `write` calls. */
  putMeta(key: string, value: Uint8Array): Promise<void>;
  /** Waits for issued writes, then releases the database. */
  close(): Promise<void>;
}

/** Stable codes of storage operating errors. */
export type StorageErrorCode =
  /** The database could not be opened (missing permissions, locked by another process, ...). */
  | 'STORAGE_OPEN_FAILED'
  /** The store was closed. */
  | 'STORAGE_CLOSED'
  /** A batch failed to persist; the store refuses further writes (the node must restart). */
  | 'STORAGE_WRITE_FAILED'
  /** Stored data does not decode or breaks the log's invariants. */
  | 'STORAGE_CORRUPT';

/** An operating error of the log store, with a stable code. */
export class StorageError extends Error {
  override name = 'StorageError';
  constructor(
    readonly code: StorageErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Default snapshot chunk size: big snapshots are split so no single LevelDB value is huge. */
export const snapshotChunkBytesDefault = 1024 * 1024;

/** The hard state of a group that never wrote one. */
export function emptyHardState(): HardState {
  return { term: 0, vote: 0, commit: 0 };
}
