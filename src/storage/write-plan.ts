/**
 * Turns GroupWrites into key-level put/del operations for one LevelDB batch.
 *
 * Why individual deletes and not `db.clear()`: a LevelDB batch is atomic across a crash,
 * `clear` is not part of one. Deleting each key inside the batch makes every write() all
 * or nothing, so a crash at any point leaves the state after some prefix of the acked
 * batches: a clean, contiguous log. That needs the exact keys, so the planner keeps each
 * group's bounds in memory (loaded once at open): the log is [logFirst, logLast], always
 * starting right after the snapshot, and the snapshot's chunk count.
 *
 * Planning is transactional: a write() that breaks the log's rules (a programmer error,
 * reported by an assertion) changes neither the bounds nor the batch.
 */
import assert from 'node:assert';
import type { Entry, GroupId, Snapshot } from '../raft/types.js';
import { encodeEntry, encodeHardState, encodeSnapshotMeta } from './codec.js';
import { hardStateKey, logKey, snapshotChunkKey, snapshotKey } from './keys.js';
import type { GroupWrite } from './types.js';

/**
 * Planned operations as two parallel arrays (a value of undefined is a delete), reused from
 * one write() to the next so planning allocates no per-operation objects.
 */
export class PlannedOps {
  readonly keys: string[] = [];
  readonly values: Array<Uint8Array | undefined> = [];

  put(key: string, value: Uint8Array): void {
    this.keys.push(key);
    this.values.push(value);
  }

  del(key: string): void {
    this.keys.push(key);
    this.values.push(undefined);
  }

  get length(): number {
    return this.keys.length;
  }

  clear(): void {
    this.keys.length = 0;
    this.values.length = 0;
  }
}

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
  /** Bounds being changed by the write() being planned, committed only when all of it is valid. */
  private readonly touched = new Map<GroupId, GroupBounds>();

  constructor(
    /** Bounds of every group with stored state. */
    readonly bounds: Map<GroupId, GroupBounds>,
    private readonly snapshotChunkBytes: number,
  ) {
    assert(snapshotChunkBytes > 0);
  }

  /** Plans all of `writes` into `ops` (cleared first) and updates the bounds, or throws and changes nothing. */
  plan(writes: GroupWrite[], ops: PlannedOps): void {
    ops.clear();
    this.touched.clear();
    try {
      for (let i = 0; i < writes.length; i++) this.planOne(writes[i]!, ops);
    } catch (err) {
      ops.clear();
      throw err;
    }
    for (const [group, b] of this.touched) {
      if (isEmpty(b)) this.bounds.delete(group);
      else this.bounds.set(group, b);
    }
  }

  private planOne(w: GroupWrite, ops: PlannedOps): void {
    let b = this.touched.get(w.group);
    if (b === undefined) {
      b = { ...(this.bounds.get(w.group) ?? emptyBounds()) };
      this.touched.set(w.group, b);
    }
    if (w.destroy === true) this.planDestroy(w.group, b, ops);
    if (w.snapshot !== undefined) this.planSnapshot(w.group, b, w.snapshot, w.snapshotReplacesLog === true, ops);
    if (w.entries !== undefined && w.entries.length > 0) this.planEntries(w.group, b, w.entries, ops);
    if (w.compactBefore !== undefined) this.planCompact(w.group, b, w.compactBefore, ops);
    if (w.hardState !== undefined) {
      ops.put(hardStateKey(w.group), encodeHardState(w.hardState));
      b.hasHardState = true;
    }
    assert(b.logFirst === b.snapshotIndex + 1 && b.logLast >= b.snapshotIndex, 'group bounds invariant');
  }

  private planDestroy(group: GroupId, b: GroupBounds, ops: PlannedOps): void {
    deleteLog(group, b.logFirst, b.logLast, ops);
    deleteChunks(group, 0, b.snapshotChunks, ops);
    if (b.snapshotIndex > 0 || b.snapshotChunks > 0) ops.del(snapshotKey(group));
    if (b.hasHardState) ops.del(hardStateKey(group));
    Object.assign(b, emptyBounds());
  }

  private planSnapshot(group: GroupId, b: GroupBounds, snap: Snapshot, replacesLog: boolean, ops: PlannedOps): void {
    const index = snap.meta.index;
    assert(Number.isSafeInteger(index) && index > 0, `bad snapshot index ${index}`);
    assert(index >= b.snapshotIndex, `snapshot ${index} older than stored snapshot ${b.snapshotIndex}`);
    const data = snap.data;
    const chunks = Math.ceil(data.byteLength / this.snapshotChunkBytes);
    for (let i = 0; i < chunks; i++) {
      const start = i * this.snapshotChunkBytes;
      const value = data.subarray(start, Math.min(start + this.snapshotChunkBytes, data.byteLength));
      ops.put(snapshotChunkKey(group, i), value);
    }
    deleteChunks(group, chunks, b.snapshotChunks, ops);
    const meta = { meta: snap.meta, chunks, bytes: data.byteLength };
    ops.put(snapshotKey(group), encodeSnapshotMeta(meta));
    const deleteTo = replacesLog ? b.logLast : Math.min(index, b.logLast);
    deleteLog(group, b.logFirst, deleteTo, ops);
    b.logLast = replacesLog ? index : Math.max(index, b.logLast);
    b.logFirst = index + 1;
    b.snapshotIndex = index;
    b.snapshotChunks = chunks;
  }

  private planEntries(group: GroupId, b: GroupBounds, entries: Entry[], ops: PlannedOps): void {
    const first = entries[0]!.index;
    assert(first > b.snapshotIndex, `group ${group}: entry ${first} not after snapshot ${b.snapshotIndex}`);
    assert(first <= b.logLast + 1, `group ${group}: entry ${first} leaves a hole after ${b.logLast}`);
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      assert(e.index === first + i, `group ${group}: entries not contiguous at ${e.index}`);
      ops.put(logKey(group, e.index), encodeEntry(e));
    }
    const last = first + entries.length - 1;
    // Conflict truncation: the new entries replace everything from `first` on.
    deleteLog(group, last + 1, b.logLast, ops);
    b.logLast = last;
  }

  private planCompact(group: GroupId, b: GroupBounds, before: number, ops: PlannedOps): void {
    assert(before <= b.snapshotIndex + 1, `group ${group}: compaction to ${before} passes snapshot ${b.snapshotIndex}`);
    const to = Math.min(before - 1, b.logLast);
    deleteLog(group, b.logFirst, to, ops);
    if (to >= b.logFirst) b.logFirst = to + 1;
  }
}

function deleteLog(group: GroupId, from: number, to: number, ops: PlannedOps): void {
  for (let i = from; i <= to; i++) ops.del(logKey(group, i));
}

function deleteChunks(group: GroupId, from: number, toExclusive: number, ops: PlannedOps): void {
  for (let i = from; i < toExclusive; i++) ops.del(snapshotChunkKey(group, i));
}
