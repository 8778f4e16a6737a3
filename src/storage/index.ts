/**
 * Durable Raft storage: the log, hard state and snapshot of every group on this node.
 *
 * How to drive it (like etcd's WAL behind raft's MemoryStorage):
 *   1. On start: `LevelLogStore.open(dir, { fsync: true })`; for each of `groups()`,
 *      `load(group)` and rebuild the group's in-memory Raft storage from
 *      snapshot, entries and hard state.
 *   2. After each Raft Ready of all groups in one flush: one `write([...GroupWrite])` with
 *      every group's hard state, entries and incoming snapshot (set `snapshotReplacesLog`
 *      for a snapshot from the leader). A follower sends its acks only after that write
 *      resolves; a leader may send its appends in parallel (Raft thesis 10.2.1).
 *   3. After a local snapshot: `write([{ group, snapshot }])` drops the entries it covers.
 *   4. A replica removed from this node: `write([{ group, destroy: true }])`.
 *
 * write() may be called per flush without awaiting the previous one: calls are merged into
 * one LevelDB batch per fsync and complete in call order. `write(w, { sync: false })` for a
 * Ready that does not need sync (etcd's !mustSync: only the commit index moved). Every write() is atomic across a
 * crash. A failed batch poisons the store (StorageError STORAGE_WRITE_FAILED): restart.
 */
export { LevelLogStore, type LevelLogStoreOptions } from './level-log-store.js';
export { MemoryLogStore } from './memory-log-store.js';
export {
  emptyHardState,
  snapshotChunkBytesDefault,
  StorageError,
  type GroupState,
  type GroupWrite,
  type LogStore,
  type StorageErrorCode,
  type WriteOptions,
} from './types.js';
