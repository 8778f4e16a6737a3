/**
 * A LogStore in memory with the same semantics as LevelLogStore, for simulations and tests
 * of other layers. Writes take effect when write() is called and resolve on a microtask, in
 * call order. `reopen()` models a process restart: the new store sees exactly what was
 * written. The implementation is deliberately independent of LevelLogStore's (plain arrays,
 * no key scheme) so the shared contract suite checks one against the other.
 */
import assert from 'node:assert';
import type { Entry, GroupId, HardState, Snapshot } from '../raft/types.js';
import { copyConfState } from './codec.js';
import { emptyHardState, StorageError, type GroupState, type GroupWrite, type LogStore } from './types.js';

interface MemoryGroup {
  hardState: HardState | undefined;
  snapshot: Snapshot | undefined;
  /** The log after the snapshot: entries[i].index === snapshotIndex + 1 + i. */
  entries: Entry[];
}

/** What survives a `reopen()`. */
interface MemoryDisk {
  groups: Map<GroupId, MemoryGroup>;
  meta: Map<string, Uint8Array>;
}

function copyEntry(e: Entry): Entry {
  return { term: e.term, index: e.index, type: e.type, data: e.data };
}

function copySnapshot(s: Snapshot): Snapshot {
  return { meta: { index: s.meta.index, term: s.meta.term, confState: copyConfState(s.meta.confState) }, data: s.data };
}

function snapshotIndex(g: MemoryGroup): number {
  return g.snapshot?.meta.index ?? 0;
}

/** In-memory LogStore for simulations and tests; same contract as LevelLogStore. */
export class MemoryLogStore implements LogStore {
  private closed = false;
  private readonly disk: MemoryDisk;

  constructor(disk?: MemoryDisk) {
    this.disk = disk ?? { groups: new Map(), meta: new Map() };
  }

  /** Closes this store and returns a new one over the same contents (a process restart). */
  reopen(): MemoryLogStore {
    this.closed = true;
    return new MemoryLogStore(this.disk);
  }

  write(writes: GroupWrite[]): Promise<void> {
    if (this.closed) return Promise.reject(closedError());
    // Check all of it first: like LevelLogStore, a write that breaks the rules changes nothing.
    this.validate(writes);
    for (const w of writes) this.apply(w);
    return Promise.resolve();
  }

  async load(group: GroupId): Promise<GroupState> {
    this.checkOpen();
    const g = this.disk.groups.get(group);
    if (g === undefined) return { hardState: emptyHardState(), entries: [] };
    const state: GroupState = { hardState: { ...(g.hardState ?? emptyHardState()) }, entries: g.entries.map(copyEntry) };
    if (g.snapshot !== undefined) state.snapshot = copySnapshot(g.snapshot);
    return state;
  }

  async groups(): Promise<GroupId[]> {
    this.checkOpen();
    return [...this.disk.groups.keys()].sort((a, b) => a - b);
  }

  async getMeta(key: string): Promise<Uint8Array | undefined> {
    this.checkOpen();
    return this.disk.meta.get(key);
  }

  putMeta(key: string, value: Uint8Array): Promise<void> {
    if (this.closed) return Promise.reject(closedError());
    this.disk.meta.set(key, value);
    return Promise.resolve();
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private checkOpen(): void {
    if (this.closed) throw closedError();
  }

  private validate(writes: GroupWrite[]): void {
    const views = new Map<GroupId, { snap: number; last: number }>();
    for (const w of writes) {
      let v = views.get(w.group);
      if (v === undefined) {
        const g = this.disk.groups.get(w.group);
        const snap = g === undefined ? 0 : snapshotIndex(g);
        v = { snap, last: snap + (g?.entries.length ?? 0) };
        views.set(w.group, v);
      }
      if (w.destroy === true) v.snap = v.last = 0;
      if (w.snapshot !== undefined) {
        const index = w.snapshot.meta.index;
        assert(Number.isSafeInteger(index) && index > 0, `bad snapshot index ${index}`);
        assert(index >= v.snap, `snapshot ${index} older than stored snapshot ${v.snap}`);
        v.last = w.snapshotReplacesLog === true ? index : Math.max(v.last, index);
        v.snap = index;
      }
      if (w.entries !== undefined && w.entries.length > 0) {
        const first = w.entries[0]!.index;
        assert(first > v.snap, `group ${w.group}: entry ${first} not after snapshot ${v.snap}`);
        assert(first <= v.last + 1, `group ${w.group}: entry ${first} leaves a hole after ${v.last}`);
        w.entries.forEach((e, i) => assert(e.index === first + i, `group ${w.group}: entries not contiguous at ${e.index}`));
        v.last = first + w.entries.length - 1;
      }
      if (w.compactBefore !== undefined) {
        assert(w.compactBefore <= v.snap + 1, `group ${w.group}: compaction to ${w.compactBefore} passes snapshot ${v.snap}`);
      }
    }
  }

  private apply(w: GroupWrite): void {
    let g = this.disk.groups.get(w.group);
    if (w.destroy === true) g = undefined;
    g ??= { hardState: undefined, snapshot: undefined, entries: [] };
    if (w.snapshot !== undefined) applySnapshot(g, w.snapshot, w.snapshotReplacesLog === true);
    if (w.entries !== undefined && w.entries.length > 0) appendEntries(w.group, g, w.entries);
    if (w.compactBefore !== undefined) {
      assert(w.compactBefore <= snapshotIndex(g) + 1, `group ${w.group}: compaction passes the snapshot`);
    }
    if (w.hardState !== undefined) g.hardState = { ...w.hardState };
    const empty = g.hardState === undefined && g.snapshot === undefined && g.entries.length === 0;
    if (empty) this.disk.groups.delete(w.group);
    else this.disk.groups.set(w.group, g);
  }
}

function applySnapshot(g: MemoryGroup, snap: Snapshot, replacesLog: boolean): void {
  const index = snap.meta.index;
  assert(Number.isSafeInteger(index) && index > 0, `bad snapshot index ${index}`);
  assert(index >= snapshotIndex(g), `snapshot ${index} older than stored snapshot`);
  const keepFrom = index + 1 - (snapshotIndex(g) + 1);
  g.entries = replacesLog ? [] : g.entries.slice(keepFrom);
  g.snapshot = copySnapshot(snap);
}

function appendEntries(group: GroupId, g: MemoryGroup, entries: Entry[]): void {
  const first = entries[0]!.index;
  const offset = snapshotIndex(g) + 1;
  assert(first >= offset, `group ${group}: entry ${first} not after snapshot ${offset - 1}`);
  assert(first <= offset + g.entries.length, `group ${group}: entry ${first} leaves a hole`);
  g.entries.length = first - offset;
  for (let i = 0; i < entries.length; i++) {
    assert(entries[i]!.index === first + i, `group ${group}: entries not contiguous at ${entries[i]!.index}`);
    g.entries.push(copyEntry(entries[i]!));
  }
}

function closedError(): StorageError {
  return new StorageError('STORAGE_CLOSED', 'log store is closed');
}
