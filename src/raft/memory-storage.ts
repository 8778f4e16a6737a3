/**
 * MemoryStorage: the in-memory copy of a node's stable log, as in etcd-io/raft. The host
 * appends each Ready's entries here (after or while writing them to disk) so that Raft can
 * read its log synchronously. Entries live in an array after the compaction point
 * (`baseIndex`, whose term is kept): `ents[i]` has index `baseIndex + 1 + i`. The latest
 * snapshot is kept separately, for followers that fall behind the compaction point.
 *
 * Memory: `logBytes()` is the payload bytes of the entries held, so the host can snapshot
 * and compact by bytes as well as by entry count; `releaseSnapshotData(source)` drops the
 * latest snapshot's data (the host keeps it durable elsewhere) and makes snapshot() ask
 * `source` for a current one instead (raft-rs lets storage build snapshots on request
 * too), so a node does not hold a second copy of every group's state in memory.
 */
import assert from 'node:assert';
import type { ConfState, Entry, HardState, RaftStorage, Snapshot } from './types.js';
import { CompactedError, SnapOutOfDateError, UnavailableError } from './errors.js';
import { emptyConfState, emptyHardState, sliceLimited } from './util.js';

/**
 * Whether `data` is the whole of its ArrayBuffer. A payload that is a view into a larger
 * buffer (a received frame's socket chunk, an encoder's pool) would keep all of that
 * buffer alive as long as the entry is in the log; such payloads are stored as copies, so
 * the log's memory is its payload bytes. Measured (bench:memory, 100k items): the nodes'
 * arrayBuffers were 4x the log's payload bytes before.
 */
function ownsItsBuffer(data: Uint8Array): boolean {
  return data.byteOffset === 0 && data.byteLength === data.buffer.byteLength;
}

/** In-memory RaftStorage; see the module doc. */
export class MemoryStorage implements RaftStorage {
  private hardState: HardState = emptyHardState();
  private snap: Snapshot = { meta: { index: 0, term: 0, confState: emptyConfState() }, data: new Uint8Array(0) };
  private baseIndex = 0;
  private baseTerm = 0;
  private ents: Entry[] = [];
  /** Payload bytes of `ents`. */
  private entsBytes = 0;
  /** Builds a current snapshot once the latest one's data was released; null = use `snap`. */
  private snapSource: (() => Snapshot) | null = null;

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: { ...this.hardState }, confState: this.snap.meta.confState };
  }

  /** Records the durable hard state. */
  setHardState(hs: HardState): void {
    this.hardState = { term: hs.term, vote: hs.vote, commit: hs.commit };
  }

  entries(lo: number, hi: number, maxBytes?: number): Entry[] {
    if (lo <= this.baseIndex) throw new CompactedError(lo);
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi - 1);
    assert(lo <= hi, `entries: lo ${lo} > hi ${hi}`);
    const base = this.baseIndex + 1;
    return sliceLimited(this.ents, lo - base, hi - base, maxBytes);
  }

  term(index: number): number {
    if (index < this.baseIndex) throw new CompactedError(index);
    if (index === this.baseIndex) return this.baseTerm;
    const e = this.ents[index - this.baseIndex - 1];
    if (e === undefined) throw new UnavailableError(index);
    return e.term;
  }

  firstIndex(): number {
    return this.baseIndex + 1;
  }

  lastIndex(): number {
    return this.baseIndex + this.ents.length;
  }

  snapshot(): Snapshot {
    return this.snapSource === null ? this.snap : this.snapSource();
  }

  /** Payload bytes of the entries held (after the compaction point). */
  logBytes(): number {
    return this.entsBytes;
  }

  /**
   * Drops the latest snapshot's data, keeping its metadata (index, term, membership);
   * snapshot() then returns `source()`: a snapshot at least as new, which may throw
   * SnapshotTemporarilyUnavailableError. A new snapshot (created or applied) ends this.
   */
  releaseSnapshotData(source: () => Snapshot): void {
    this.snap = { meta: this.snap.meta, data: new Uint8Array(0) };
    this.snapSource = source;
  }

  /** Replaces the log and state with a snapshot (a follower installing the leader's snapshot). */
  applySnapshot(snap: Snapshot): void {
    if (snap.meta.index <= this.snap.meta.index && this.snap.meta.index > 0) {
      throw new SnapOutOfDateError(snap.meta.index);
    }
    this.snap = snap;
    this.snapSource = null;
    this.baseIndex = snap.meta.index;
    this.baseTerm = snap.meta.term;
    this.ents = [];
    this.entsBytes = 0;
  }

  /**
   * Records a snapshot of the state machine at `index` (<= last applied), for sending to
   * followers. Call compact(index) afterwards to drop the log before it.
   */
  createSnapshot(index: number, confState: ConfState | undefined, data: Uint8Array): Snapshot {
    if (index <= this.snap.meta.index) throw new SnapOutOfDateError(index);
    assert(index <= this.lastIndex(), `createSnapshot: index ${index} > last index ${this.lastIndex()}`);
    const meta = { index, term: this.term(index), confState: confState ?? this.snap.meta.confState };
    this.snap = { meta, data };
    this.snapSource = null;
    return this.snap;
  }

  /**
   * Drops the entries up to and including `index`, keeping its term as the new base.
   * Must not pass the applied index, nor the latest snapshot (followers behind the base
   * are sent that snapshot).
   */
  compact(index: number): void {
    if (index <= this.baseIndex) throw new CompactedError(index);
    assert(index <= this.lastIndex(), `compact: index ${index} > last index ${this.lastIndex()}`);
    const term = this.term(index);
    const dropped = index - this.baseIndex;
    for (let i = 0; i < dropped; i++) this.entsBytes -= this.ents[i]!.data.byteLength;
    this.ents = this.ents.slice(dropped);
    this.baseIndex = index;
    this.baseTerm = term;
  }

  /**
   * Appends entries, truncating any conflicting suffix first. Entries at or before the
   * compaction point are ignored.
   */
  append(entries: Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const last = entries[entries.length - 1]!.index;
    if (last < first) return;
    const from = entries[0]!.index < first ? first - entries[0]!.index : 0;
    const start = entries[from]!.index;
    assert(start <= this.lastIndex() + 1, `append: gap, last ${this.lastIndex()}, appending ${start}`);
    const keep = start - first;
    for (let i = keep; i < this.ents.length; i++) this.entsBytes -= this.ents[i]!.data.byteLength;
    if (keep < this.ents.length) this.ents.length = keep;
    for (let i = from; i < entries.length; i++) {
      const e = entries[i]!;
      // new Uint8Array(view) copies (Buffer#slice would not: it returns a view).
      this.ents.push(ownsItsBuffer(e.data) ? e : { ...e, data: new Uint8Array(e.data) });
      this.entsBytes += e.data.byteLength;
    }
  }
}
