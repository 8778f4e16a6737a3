/**
 * Turns GroupWrites into key-level put/del operations for one LevelDB batch.
 *
 * Why individual deletes and not `db.clear()`: a LevelDB batch is atomic across a crash,
 * `clear` is not part of one. Deleting each key inside the batch makes every write() all
 * or nothing, so a crash at any point leaves the state after some prefix of the acked
 * batches: a clean, contiguous log. That needs the exact keys, so the planner keeps each
 * group's bounds in memory (loaded once at open): the log is [logFirst, logLast], always
 * starting right after the snapshot, and the snapshot's chunk count.
 */
import assert from 'node:assert';
import type { Entry, GroupId, Snapshot } from '../raft/types.js';
import { encodeEntry, encodeHardState, encodeSnapshotMeta } from './codec.js';
import { hardStateKey, logKey, snapshotChunkKey, snapshotKey } from './keys.js';
import type { GroupWrite } from './types.js';

/** One operation of a LevelDB batch. */
export type BatchOp = { type: 'put'; key: string; value: Uint8Array } | { type: 'del'; key: string };

/** What is on disk for one group, kept in memory to plan deletes without reading. */
export interface GroupBounds {
  /** First stored log index; always snapshotIndex + 1. */
  logFirst: number;
  /** Last stored log index; logFirst - 1 when the log is empty. */
  logLast: number;
  /** Index of the stored snapshot; 0 when none. */
  snapshotIndex: number;
  /** Number of stored snapshot data chunks. */
  snapshotChunks: number;
  hasHardState: boolean;
}

/** Bounds of a group with nothing stored. */
export function emptyBounds(): GroupBounds {
  return { logFirst: 1, logLast: 0, snapshotIndex: 0, snapshotChunks: 0, hasHardState: false };
}

function isEmpty(b: GroupBounds): boolean {
  return b.logLast < b.logFirst && b.snapshotIndex === 0 && b.snapshotChunks === 0 && !b.hasHardState;
}

/** Plans batch operations from GroupWrites and keeps every group's bounds current. */
export class WritePlanner {
  constructor(
    /** Bounds of every group with stored state. */
    readonly bounds: Map<GroupId, GroupBounds>,
    private readonly snapshotChunkBytes: number,
  ) {
    assert(snapshotChunkBytes > 0);
  }

  /** Appends the operations for `w` to `ops`, in the order documented on GroupWrite. */
  plan(w: GroupWrite, ops: BatchOp[]): void {
    const b = this.bounds.get(w.group) ?? emptyBounds();
    if (w.destroy === true) this.planDestroy(w.group, b, ops);
    if (w.snapshot !== undefined) this.planSnapshot(w.group, b, w.snapshot, w.snapshotReplacesLog === true, ops);
    if (w.entries !== undefined && w.entries.length > 0) this.planEntries(w.group, b, w.entries, ops);
    if (w.compactBefore !== undefined) this.planCompact(w.group, b, w.compactBefore, ops);
    if (w.hardState !== undefined) {
      ops.push({ type: 'put', key: hardStateKey(w.group), value: encodeHardState(w.hardState) });
      b.hasHardState = true;
    }
    assert(b.logFirst === b.snapshotIndex + 1 && b.logLast >= b.snapshotIndex, 'group bounds invariant');
    if (isEmpty(b)) this.bounds.delete(w.group);
    else this.bounds.set(w.group, b);
  }

  private planDestroy(group: GroupId, b: GroupBounds, ops: BatchOp[]): void {
    deleteLog(group, b.logFirst, b.logLast, ops);
    deleteChunks(group, 0, b.snapshotChunks, ops);
    if (b.snapshotIndex > 0 || b.snapshotChunks > 0) ops.push({ type: 'del', key: snapshotKey(group) });
    if (b.hasHardState) ops.push({ type: 'del', key: hardStateKey(group) });
    Object.assign(b, emptyBounds());
  }

  private planSnapshot(group: GroupId, b: GroupBounds, snap: Snapshot, replacesLog: boolean, ops: BatchOp[]): void {
    const index = snap.meta.index;
    assert(Number.isSafeInteger(index) && index > 0, `bad snapshot index ${index}`);
    assert(index >= b.snapshotIndex, `snapshot ${index} older than stored snapshot ${b.snapshotIndex}`);
    const data = snap.data;
    const chunks = Math.ceil(data.byteLength / this.snapshotChunkBytes);
    for (let i = 0; i < chunks; i++) {
      const start = i * this.snapshotChunkBytes;
      const value = data.subarray(start, Math.min(start + this.snapshotChunkBytes, data.byteLength));
      ops.push({ type: 'put', key: snapshotChunkKey(group, i), value });
    }
    deleteChunks(group, chunks, b.snapshotChunks, ops);
    const meta = { meta: snap.meta, chunks, bytes: data.byteLength };
    ops.push({ type: 'put', key: snapshotKey(group), value: encodeSnapshotMeta(meta) });
    const deleteTo = replacesLog ? b.logLast : Math.min(index, b.logLast);
    deleteLog(group, b.logFirst, deleteTo, ops);
    b.logLast = replacesLog ? index : Math.max(index, b.logLast);
    b.logFirst = index + 1;
    b.snapshotIndex = index;
    b.snapshotChunks = chunks;
  }

  private planEntries(group: GroupId, b: GroupBounds, entries: Entry[], ops: BatchOp[]): void {
    const first = entries[0]!.index;
    assert(first > b.snapshotIndex, `group ${group}: entry ${first} not after snapshot ${b.snapshotIndex}`);
    assert(first <= b.logLast + 1, `group ${group}: entry ${first} leaves a hole after ${b.logLast}`);
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      assert(e.index === first + i, `group ${group}: entries not contiguous at ${e.index}`);
      ops.push({ type: 'put', key: logKey(group, e.index), value: encodeEntry(e) });
    }
    const last = first + entries.length - 1;
    // Conflict truncation: the new entries replace everything from `first` on.
    deleteLog(group, last + 1, b.logLast, ops);
    b.logLast = last;
  }

  private planCompact(group: GroupId, b: GroupBounds, before: number, ops: BatchOp[]): void {
    assert(before <= b.snapshotIndex + 1, `group ${group}: compaction to ${before} passes snapshot ${b.snapshotIndex}`);
    const to = Math.min(before - 1, b.logLast);
    deleteLog(group, b.logFirst, to, ops);
    if (to >= b.logFirst) b.logFirst = to + 1;
  }
}

function deleteLog(group: GroupId, from: number, to: number, ops: BatchOp[]): void {
  for (let i = from; i <= to; i++) ops.push({ type: 'del', key: logKey(group, i) });
}

function deleteChunks(group: GroupId, from: number, toExclusive: number, ops: BatchOp[]): void {
  for (let i = from; i < toExclusive; i++) ops.push({ type: 'del', key: snapshotChunkKey(group, i) });
}
