/**
 * The LogStore contract, one suite run against every implementation (in the manner of
 * abstract-level's test suite). `harness.reopen` models a process restart.
 */
import { describe, expect, it } from 'vitest';
import { StorageError, type GroupState, type LogStore } from '../../src/storage/index.js';
import { EntryType, type Entry, type Snapshot } from '../../src/raft/types.js';

/** How the suite gets stores of one implementation. */
export interface LogStoreHarness {
  /** A fresh, empty store. */
  open(): Promise<LogStore>;
  /** Closes `store` (or abandons it, as a crash would) and opens it again over the same data. */
  reopen(store: LogStore): Promise<LogStore>;
  /** Releases everything the harness created for `store` (closes it if needed). */
  dispose(store: LogStore): Promise<void>;
}

/** An entry whose data is derived from (index, term), so contents are checkable. */
export function entry(index: number, term: number, bytes = 8): Entry {
  const data = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) data[i] = (index * 31 + term * 7 + i) & 0xff;
  return { term, index, type: EntryType.Normal, data };
}

/** Entries [from, to] of one term. */
export function entries(from: number, to: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push(entry(i, term));
  return out;
}

/** A snapshot at (index, term) with `bytes` of data derived from index. */
export function snapshot(index: number, term: number, bytes = 100): Snapshot {
  const data = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) data[i] = (index + i * 13) & 0xff;
  const confState = { voters: [1, 2, 3], learners: [4], votersOutgoing: [], learnersNext: [], autoLeave: false };
  return { meta: { index, term, confState }, data };
}

/** Bytes as base64: stores may return Buffer or Uint8Array, and deep-equal on big arrays is slow. */
function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** Plain comparable form of a group state. */
export function normalize(state: GroupState): unknown {
  const entries = state.entries.map((e) => ({ ...e, data: b64(e.data) }));
  const snap = state.snapshot === undefined ? undefined : { meta: state.snapshot.meta, data: b64(state.snapshot.data) };
  return { hardState: state.hardState, snapshot: snap, entries };
}

function indexes(state: GroupState): number[] {
  return state.entries.map((e) => e.index);
}

function terms(state: GroupState): number[] {
  return state.entries.map((e) => e.term);
}

/** Registers the contract suite for one implementation. */
export function logStoreContract(name: string, harness: LogStoreHarness): void {
  async function withStore(fn: (store: LogStore) => Promise<LogStore | void>): Promise<void> {
    let store = await harness.open();
    try {
      store = (await fn(store)) ?? store;
    } finally {
      await harness.dispose(store);
    }
  }

  describe(`LogStore contract: ${name}`, () => {
    it('starts empty', () =>
      withStore(async (s) => {
        expect(await s.groups()).toEqual([]);
        expect(await s.load(7)).toEqual({ hardState: { term: 0, vote: 0, commit: 0 }, entries: [] });
        expect(await s.getMeta('node-id')).toBeUndefined();
      }));

    it('appends entries and stores the hard state', () =>
      withStore(async (s) => {
        await s.write([{ group: 1, entries: entries(1, 3, 1), hardState: { term: 1, vote: 2, commit: 1 } }]);
        await s.write([{ group: 1, entries: entries(4, 5, 1), hardState: { term: 1, vote: 2, commit: 4 } }]);
        const st = await s.load(1);
        expect(normalize(st)).toEqual(normalize({ hardState: { term: 1, vote: 2, commit: 4 }, entries: entries(1, 5, 1) }));
        expect(st.snapshot).toBeUndefined();
      }));

    it('keeps entry data intact, including empty and large data', () =>
      withStore(async (s) => {
        const es = [entry(1, 1, 0), entry(2, 1, 1), entry(3, 1, 200_000), { ...entry(4, 1), type: EntryType.ConfChange }];
        await s.write([{ group: 0, entries: es }]);
        expect(normalize(await s.load(0))).toEqual(normalize({ hardState: { term: 0, vote: 0, commit: 0 }, entries: es }));
      }));

    it('replaces and truncates the log on conflict', () =>
      withStore(async (s) => {
        await s.write([{ group: 1, entries: entries(1, 10, 1) }]);
        await s.write([{ group: 1, entries: entries(6, 7, 2) }]);
        let st = await s.load(1);
        expect(indexes(st)).toEqual([1, 2, 3, 4, 5, 6, 7]);
        expect(terms(st)).toEqual([1, 1, 1, 1, 1, 2, 2]);
        await s.write([{ group: 1, entries: entries(3, 12, 3) }]);
        st = await s.load(1);
        expect(indexes(st)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        expect(normalize(st)).toEqual(normalize({ hardState: st.hardState, entries: [...entries(1, 2, 1), ...entries(3, 12, 3)] }));
        await s.write([{ group: 1, entries: entries(1, 1, 4) }]);
        expect(indexes(await s.load(1))).toEqual([1]);
      }));

    it('a snapshot replaces the log prefix it covers', () =>
      withStore(async (s) => {
        await s.write([{ group: 1, entries: entries(1, 10, 1) }]);
        await s.write([{ group: 1, snapshot: snapshot(6, 1) }]);
        const st = await s.load(1);
        expect(indexes(st)).toEqual([7, 8, 9, 10]);
        expect(st.snapshot?.meta).toEqual(snapshot(6, 1).meta);
        expect(Buffer.from(st.snapshot!.data)).toEqual(Buffer.from(snapshot(6, 1).data));
        // Appending continues after the log; a later conflict may reach back to the snapshot.
        await s.write([{ group: 1, entries: entries(7, 8, 2) }]);
        expect(indexes(await s.load(1))).toEqual([7, 8]);
      }));

    it('a snapshot past the end of the log empties it; the log resumes after the snapshot', () =>
      withStore(async (s) => {
        await s.write([{ group: 1, entries: entries(1, 3, 1) }]);
        await s.write([{ group: 1, snapshot: snapshot(20, 2) }]);
        expect(indexes(await s.load(1))).toEqual([]);
        await s.write([{ group: 1, entries: entries(21, 22, 2) }]);
        const st = await s.load(1);
        expect(indexes(st)).toEqual([21, 22]);
        expect(st.snapshot?.meta.index).toBe(20);
      }));

    it('a snapshot from the leader (snapshotReplacesLog) drops the entries after it too', () =>
      withStore(async (s) => {
        await s.write([{ group: 1, entries: entries(1, 10, 1) }]);
        await s.write([{ group: 1, snapshot: snapshot(5, 2), snapshotReplacesLog: true, entries: entries(6, 7, 3) }]);
        const st = await s.load(1);
        expect(indexes(st)).toEqual([6, 7]);
        expect(terms(st)).toEqual([3, 3]);
        await s.write([{ group: 1, snapshot: snapshot(6, 3), snapshotReplacesLog: true }]);
        expect(indexes(await s.load(1))).toEqual([]);
      }));

    it('a newer snapshot replaces the stored one, whatever their sizes', () =>
      withStore(async (s) => {
        await s.write([{ group: 1, snapshot: snapshot(5, 1, 5000) }]);
        await s.write([{ group: 1, snapshot: snapshot(9, 1, 10) }]);
        let st = await s.load(1);
        expect(st.snapshot?.meta.index).toBe(9);
        expect(Buffer.from(st.snapshot!.data)).toEqual(Buffer.from(snapshot(9, 1, 10).data));
        await s.write([{ group: 1, snapshot: snapshot(12, 2, 0) }]);
        st = await s.load(1);
        expect(st.snapshot?.meta).toEqual(snapshot(12, 2).meta);
        expect(st.snapshot?.data.byteLength).toBe(0);
        await s.write([{ group: 1, snapshot: snapshot(13, 2, 7000) }]);
        expect(Buffer.from((await s.load(1)).snapshot!.data)).toEqual(Buffer.from(snapshot(13, 2, 7000).data));
      }));

    it('compaction up to the snapshot keeps the log after it', () =>
      withStore(async (s) => {
        await s.write([{ group: 1, entries: entries(1, 10, 1) }]);
        await s.write([{ group: 1, snapshot: snapshot(4, 1), compactBefore: 5 }]);
        await s.write([{ group: 1, compactBefore: 3 }]);
        expect(indexes(await s.load(1))).toEqual([5, 6, 7, 8, 9, 10]);
      }));

    it('refuses writes that would leave a hole in the log (programmer errors)', () =>
      withStore(async (s) => {
        await s.write([{ group: 1, entries: entries(1, 5, 1) }]);
        expect(() => s.write([{ group: 2, entries: entries(2, 3, 1) }])).toThrow(/hole/);
        expect(() => s.write([{ group: 1, entries: entries(7, 8, 1) }])).toThrow(/hole/);
        expect(() => s.write([{ group: 1, entries: [entry(6, 1), entry(8, 1)] }])).toThrow(/contiguous/);
        expect(() => s.write([{ group: 1, compactBefore: 4 }])).toThrow(/compaction/);
        await s.write([{ group: 3, snapshot: snapshot(10, 1) }]);
        expect(() => s.write([{ group: 3, entries: entries(10, 11, 1) }])).toThrow(/snapshot/);
        expect(() => s.write([{ group: 3, snapshot: snapshot(9, 1) }])).toThrow(/older/);
      }));

    it('a write with an invalid part changes nothing, and the store stays usable', () =>
      withStore(async (s) => {
        await s.write([{ group: 1, entries: entries(1, 3, 1) }]);
        const bad = [
          { group: 2, entries: entries(1, 2, 1), hardState: { term: 1, vote: 1, commit: 1 } },
          { group: 1, entries: entries(2, 2, 2) },
          { group: 1, entries: entries(4, 4, 2) },
        ];
        expect(() => s.write(bad)).toThrow(/hole/);
        expect(await s.groups()).toEqual([1]);
        expect(terms(await s.load(1))).toEqual([1, 1, 1]);
        await s.write([{ group: 1, entries: entries(4, 4, 1) }]);
        expect(indexes(await s.load(1))).toEqual([1, 2, 3, 4]);
      }));

    it('writes several groups in one call and lists them', () =>
      withStore(async (s) => {
        await s.write([
          { group: 3, entries: entries(1, 2, 1) },
          { group: 0, hardState: { term: 5, vote: 1, commit: 0 } },
          { group: 0xffffffff, snapshot: snapshot(3, 1) },
          { group: 16, entries: entries(1, 1, 1), hardState: { term: 1, vote: 0, commit: 1 } },
        ]);
        expect(await s.groups()).toEqual([0, 3, 16, 0xffffffff]);
        expect(indexes(await s.load(3))).toEqual([1, 2]);
        expect((await s.load(0)).hardState).toEqual({ term: 5, vote: 1, commit: 0 });
        expect((await s.load(0xffffffff)).snapshot?.meta.index).toBe(3);
        expect((await s.load(16)).hardState.commit).toBe(1);
        expect(indexes(await s.load(4))).toEqual([]);
      }));

    it('applies the writes of one group within a call in order', () =>
      withStore(async (s) => {
        await s.write([
          { group: 1, entries: entries(1, 5, 1) },
          { group: 1, entries: entries(4, 6, 2), hardState: { term: 2, vote: 1, commit: 1 } },
          { group: 1, hardState: { term: 2, vote: 1, commit: 3 } },
        ]);
        const st = await s.load(1);
        expect(terms(st)).toEqual([1, 1, 1, 2, 2, 2]);
        expect(st.hardState.commit).toBe(3);
      }));

    it('destroys a group, and may start it again in the same write', () =>
      withStore(async (s) => {
        await s.write([
          { group: 1, entries: entries(1, 5, 1), hardState: { term: 1, vote: 1, commit: 3 } },
          { group: 2, entries: entries(1, 2, 1) },
        ]);
        await s.write([{ group: 1, snapshot: snapshot(3, 1, 3000) }]);
        await s.write([{ group: 1, destroy: true }]);
        expect(await s.groups()).toEqual([2]);
        expect(await s.load(1)).toEqual({ hardState: { term: 0, vote: 0, commit: 0 }, entries: [] });
        await s.write([{ group: 2, destroy: true, entries: entries(1, 1, 4) }]);
        expect(terms(await s.load(2))).toEqual([4]);
        await s.write([{ group: 9, destroy: true }]);
        expect(await s.groups()).toEqual([2]);
      }));

    it('merges writes issued without awaiting, resolving them in order', () =>
      withStore(async (s) => {
        const done: number[] = [];
        const writes: Promise<void>[] = [];
        for (let i = 1; i <= 50; i++) {
          const w = s.write([{ group: i % 3, entries: [entry(Math.ceil(i / 3), 1)], hardState: { term: 1, vote: 0, commit: i } }]);
          writes.push(w.then(() => void done.push(i)));
        }
        await Promise.all(writes);
        expect(done).toEqual(Array.from({ length: 50 }, (_, k) => k + 1));
        expect(indexes(await s.load(1))).toEqual(Array.from({ length: 17 }, (_, k) => k + 1));
        expect((await s.load(2)).hardState.commit).toBe(50);
      }));

    it('load sees every write issued before it, synced or not', () =>
      withStore(async (s) => {
        void s.write([{ group: 1, entries: entries(1, 3, 1) }], { sync: false });
        void s.write([{ group: 1, entries: entries(4, 9, 1) }]);
        expect(indexes(await s.load(1))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
      }));

    it('load is consistent when writes are issued while it runs', () =>
      withStore(async (s) => {
        await s.write([{ group: 1, entries: entries(1, 5, 1) }]);
        const loading = s.load(1);
        const writing = s.write([{ group: 1, snapshot: snapshot(3, 1), entries: entries(5, 6, 2) }]);
        const st = await loading;
        await writing;
        const before = normalize({ hardState: st.hardState, entries: entries(1, 5, 1) });
        const after = normalize({ hardState: st.hardState, snapshot: snapshot(3, 1), entries: [entry(4, 1), ...entries(5, 6, 2)] });
        expect([before, after]).toContainEqual(normalize(st));
      }));

    it('stores node metadata', () =>
      withStore(async (s) => {
        await s.putMeta('node-id', new Uint8Array([1, 2]));
        await s.putMeta('cluster-id', new Uint8Array([9]));
        await s.putMeta('node-id', new Uint8Array([3]));
        expect(Buffer.from((await s.getMeta('node-id'))!)).toEqual(Buffer.from([3]));
        expect(Buffer.from((await s.getMeta('cluster-id'))!)).toEqual(Buffer.from([9]));
        expect(await s.groups()).toEqual([]);
      }));

    it('refuses use after close with STORAGE_CLOSED', async () => {
      const s = await harness.open();
      await Promise.all([s.close(), s.close()]);
      await expect(s.write([{ group: 1, entries: entries(1, 1, 1) }])).rejects.toMatchObject({ code: 'STORAGE_CLOSED' });
      await expect(s.load(1)).rejects.toBeInstanceOf(StorageError);
      await harness.dispose(s);
    });

    it('keeps everything across a reopen, and keeps planning truncations correctly', () =>
      withStore(async (s) => {
        await s.write([
          { group: 1, entries: entries(1, 10, 1), hardState: { term: 1, vote: 3, commit: 8 } },
          { group: 2, snapshot: snapshot(50, 4, 5000) },
          { group: 5, hardState: { term: 2, vote: 0, commit: 0 } },
        ]);
        await s.write([{ group: 1, snapshot: snapshot(4, 1) }, { group: 2, entries: entries(51, 53, 4) }]);
        await s.putMeta('node-id', new Uint8Array([7]));
        const before = await Promise.all([1, 2, 5].map((g) => s.load(g)));
        s = await harness.reopen(s);
        expect(await s.groups()).toEqual([1, 2, 5]);
        const after = await Promise.all([1, 2, 5].map((g) => s.load(g)));
        expect(after.map(normalize)).toEqual(before.map(normalize));
        expect(Buffer.from((await s.getMeta('node-id'))!)).toEqual(Buffer.from([7]));
        // The reopened store must know the stored bounds to delete the right keys.
        await s.write([{ group: 1, entries: entries(6, 6, 2) }, { group: 2, snapshot: snapshot(52, 4, 10) }]);
        await s.write([{ group: 5, destroy: true }]);
        s = await harness.reopen(s);
        expect(indexes(await s.load(1))).toEqual([5, 6]);
        expect(indexes(await s.load(2))).toEqual([53]);
        expect(Buffer.from((await s.load(2)).snapshot!.data)).toEqual(Buffer.from(snapshot(52, 4, 10).data));
        expect(await s.groups()).toEqual([1, 2]);
        return s;
      }));
  });
}
