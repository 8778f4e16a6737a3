import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Level } from 'level';
import { Packr } from 'msgpackr';
import { LevelLogStore, type LogStore } from '../../src/storage/index.js';
import { entries, logStoreContract, snapshot } from './log-store-contract.js';

const dirs = new WeakMap<LogStore, string>();

/** Small chunks so the contract suite's snapshots span many chunks. */
const snapshotChunkBytes = 1000;

async function openAt(dir: string): Promise<LevelLogStore> {
  const store = await LevelLogStore.open(dir, { fsync: true, snapshotChunkBytes });
  dirs.set(store, dir);
  return store;
}

logStoreContract('LevelLogStore', {
  open: async () => openAt(await mkdtemp(join(tmpdir(), 'memraft-storage-'))),
  reopen: async (store) => {
    await store.close();
    return openAt(dirs.get(store)!);
  },
  dispose: async (store) => {
    await store.close();
    await rm(dirs.get(store)!, { recursive: true, force: true });
  },
});

describe('LevelLogStore', () => {
  it('chunks a multi-MiB snapshot with the default chunk size and reads it back', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'memraft-storage-'));
    let store = await LevelLogStore.open(dir, { fsync: false });
    try {
      const snap = snapshot(100, 3, 3.5 * 1024 * 1024);
      await store.write([{ group: 2, snapshot: snap, entries: entries(101, 102, 3) }]);
      await store.close();
      store = await LevelLogStore.open(dir, { fsync: false });
      const st = await store.load(2);
      expect(st.snapshot?.meta).toEqual(snap.meta);
      expect(Buffer.from(st.snapshot!.data).equals(Buffer.from(snap.data))).toBe(true);
      expect(st.entries.map((e) => e.index)).toEqual([101, 102]);
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('merges concurrent writes into fewer batches', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'memraft-storage-'));
    const store = await LevelLogStore.open(dir, { fsync: true });
    try {
      const writes: Promise<void>[] = [];
      for (let i = 1; i <= 100; i++) writes.push(store.write([{ group: 1, entries: entries(i, i, 1) }]));
      await Promise.all(writes);
      // Same-turn writes share the first batch: far fewer batches than writes.
      expect(store.batchCount).toBeLessThan(100);
      expect((await store.load(1)).entries.length).toBe(100);
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reports a second open of the same directory as STORAGE_OPEN_FAILED', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'memraft-storage-'));
    const store = await LevelLogStore.open(dir, { fsync: true });
    try {
      await expect(LevelLogStore.open(dir, { fsync: true })).rejects.toMatchObject({ code: 'STORAGE_OPEN_FAILED' });
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a database of another format, and a log with a hole, as STORAGE_CORRUPT', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'memraft-storage-'));
    try {
      const store = await LevelLogStore.open(dir, { fsync: true });
      await store.write([{ group: 1, entries: entries(1, 5, 1) }]);
      await store.close();
      // Damage the data underneath the store, with LevelDB itself.
      const raw = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
      await raw.del('g/00000001/log/0000000000000003');
      await raw.close();
      const reopened = await LevelLogStore.open(dir, { fsync: true });
      await expect(reopened.load(1)).rejects.toMatchObject({ code: 'STORAGE_CORRUPT' });
      await reopened.close();
      const raw2 = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
      await raw2.put('format', new Packr({ useRecords: false }).pack(99));
      await raw2.close();
      await expect(LevelLogStore.open(dir, { fsync: true })).rejects.toMatchObject({ code: 'STORAGE_CORRUPT' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
