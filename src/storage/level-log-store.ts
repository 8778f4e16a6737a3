/**
 * The durable log store on LevelDB (`level`): one database per node holding every group's
 * log, hard state and snapshot, written with group commit (one atomic batch and at most one
 * fsync per batch). See keys.ts for the key scheme and write-plan.ts for crash atomicity.
 */
import { mkdir } from 'node:fs/promises';
import { Level } from 'level';
import type { Entry, GroupId, Snapshot } from '../raft/types.js';
import {
  copyConfState,
  decodeEntry,
  decodeHardState,
  decodeSnapshotMeta,
  decodeValue,
  encodeValue,
  formatVersion,
} from './codec.js';
import { GroupCommit } from './group-commit.js';
import {
  formatKey,
  groupEnd,
  groupsEnd,
  groupsStart,
  hardStateKey,
  keyGroup,
  logKeyIndex,
  logRange,
  metaKey,
  snapshotChunkRange,
  snapshotKey,
} from './keys.js';
import {
  emptyHardState,
  snapshotChunkBytesDefault,
  StorageError,
  type GroupState,
  type GroupWrite,
  type LogStore,
  type WriteOptions,
} from './types.js';
import { emptyBounds, PlannedOps, WritePlanner, type GroupBounds } from './write-plan.js';

type Db = Level<string, Uint8Array>;
type ReadSnapshot = ReturnType<Db['snapshot']>;
/**
 * LevelDB batches are built with the chained API: each put/del goes straight into the
 * native WriteBatch. Measured 3-4x the ops/s of db.batch(array), whose per-op option
 * spreading and encoding dominated the profile (scripts/bench-storage.ts).
 */
type Batch = ReturnType<Db['batch']>;

/** Entries fetched per iterator step on load: large steps amortise the native round trip. */
const loadStepEntries = 1024;
/**
 * Bytes an iterator step may buffer. classic-level's default (16 KiB) would cut a step of
 * 1 KiB entries to 16; recovery reads whole logs, so let a step hold 1024 typical entries.
 */
const loadStepBytesMax = 4 * 1024 * 1024;

/** Options of `LevelLogStore.open`. */
export interface LevelLogStoreOptions {
  /**
   * true: every batch is fsynced before write() resolves (the only safe setting).
   * false: UNSAFE, for benchmarks only (`--fsync never`): acknowledged writes can be lost
   * on power failure or an OS crash (a process crash alone keeps them: the OS has them).
   */
  fsync: boolean;
  /** Size of snapshot data chunks; default 1 MiB. */
  snapshotChunkBytes?: number;
  /** LevelDB memtable size (writeBufferSize); default `writeBufferBytesDefault`. */
  writeBufferBytes?: number;
}

/** LevelDB's default memtable size (4 MiB). */
export const writeBufferBytesDefault = 4 * 1024 * 1024;

/** The LevelDB-backed LogStore of one node. */
export class LevelLogStore implements LogStore {
  private readonly commit: GroupCommit<Batch>;
  private readonly planned = new PlannedOps();
  private closed = false;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly db: Db,
    private readonly planner: WritePlanner,
    private readonly fsync: boolean,
  ) {
    this.commit = new GroupCommit<Batch>({
      create: () => this.db.batch(),
      persist: (batch, sync) => (batch.length === 0 ? batch.close() : batch.write({ sync: this.fsync && sync })),
      discard: (batch) => void batch.close(),
    });
  }

  /** Opens (creating if needed) the store in `dir` and loads every group's bounds. */
  static async open(dir: string, opts: LevelLogStoreOptions): Promise<LevelLogStore> {
    const db: Db = new Level<string, Uint8Array>(dir, {
      keyEncoding: 'utf8',
      valueEncoding: 'view',
      writeBufferSize: opts.writeBufferBytes ?? writeBufferBytesDefault,
    });
    try {
      await mkdir(dir, { recursive: true });
      await db.open();
    } catch (err) {
      throw new StorageError('STORAGE_OPEN_FAILED', `cannot open log store at ${dir}: ${String(err)}`, { cause: err });
    }
    try {
      await checkFormat(db);
      const bounds = await scanBounds(db);
      const planner = new WritePlanner(bounds, opts.snapshotChunkBytes ?? snapshotChunkBytesDefault);
      return new LevelLogStore(db, planner, opts.fsync);
    } catch (err) {
      await db.close();
      throw err;
    }
  }

  /** Batches persisted so far (group commit makes this lower than the number of writes). */
  get batchCount(): number {
    return this.commit.batchCount;
  }

  write(writes: GroupWrite[], options?: WriteOptions): Promise<void> {
    const refused = this.refusal();
    if (refused !== undefined) return Promise.reject(refused);
    // Plan first (may throw an assertion and change nothing), then copy into the batch.
    const ops = this.planned;
    this.planner.plan(writes, ops);
    return this.commit.submit((batch) => {
      const { keys, values } = ops;
      for (let i = 0; i < keys.length; i++) {
        const value = values[i];
        if (value === undefined) batch.del(keys[i]!);
        else batch.put(keys[i]!, value);
      }
      ops.clear();
    }, options?.sync ?? true);
  }

  async load(group: GroupId): Promise<GroupState> {
    await this.readBarrier();
    // Read from one LevelDB snapshot, and derive everything from it rather than from the
    // in-memory bounds: those already include writes issued after this call.
    const snap = this.db.snapshot();
    try {
      const hs = await this.db.get(hardStateKey(group), { snapshot: snap });
      const snapshot = await this.loadSnapshot(group, snap);
      const entries = await this.loadEntries(group, (snapshot?.meta.index ?? 0) + 1, snap);
      const state: GroupState = { hardState: hs === undefined ? emptyHardState() : decodeHardState(hs), entries };
      if (snapshot !== undefined) state.snapshot = snapshot;
      return state;
    } finally {
      await snap.close();
    }
  }

  async groups(): Promise<GroupId[]> {
    await this.readBarrier();
    return [...this.planner.bounds.keys()].sort((a, b) => a - b);
  }

  async getMeta(key: string): Promise<Uint8Array | undefined> {
    await this.readBarrier();
    return this.db.get(metaKey(key));
  }

  putMeta(key: string, value: Uint8Array): Promise<void> {
    const refused = this.refusal();
    if (refused !== undefined) return Promise.reject(refused);
    return this.commit.submit((batch) => void batch.put(metaKey(key), value));
  }

  close(): Promise<void> {
    this.closing ??= this.closeOnce();
    return this.closing;
  }

  private async closeOnce(): Promise<void> {
    this.closed = true;
    // Issued writes still complete; a failed one has already rejected its callers.
    await this.commit.barrier().catch(() => undefined);
    await this.db.close();
  }

  private refusal(): StorageError | undefined {
    if (this.closed) return new StorageError('STORAGE_CLOSED', 'log store is closed');
    return this.commit.failed;
  }

  private async readBarrier(): Promise<void> {
    const refused = this.refusal();
    if (refused !== undefined) throw refused;
    await this.commit.barrier();
  }

  private async loadSnapshot(group: GroupId, snap: ReadSnapshot): Promise<Snapshot | undefined> {
    const metaBytes = await this.db.get(snapshotKey(group), { snapshot: snap });
    if (metaBytes === undefined) return undefined;
    const stored = decodeSnapshotMeta(metaBytes);
    const chunks = await this.db.values({ ...snapshotChunkRange(group), snapshot: snap }).all();
    if (chunks.length !== stored.chunks) {
      throw new StorageError('STORAGE_CORRUPT', `group ${group}: snapshot has ${chunks.length}/${stored.chunks} chunks`);
    }
    const data = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    if (data.byteLength !== stored.bytes) {
      throw new StorageError('STORAGE_CORRUPT', `group ${group}: snapshot has ${data.byteLength}/${stored.bytes} bytes`);
    }
    const meta = { index: stored.meta.index, term: stored.meta.term, confState: copyConfState(stored.meta.confState) };
    return { meta, data };
  }

  private async loadEntries(group: GroupId, first: number, snap: ReadSnapshot): Promise<Entry[]> {
    const entries: Entry[] = [];
    // fillCache off: a one-time scan of the whole log must not evict the hot blocks.
    const options = { snapshot: snap, highWaterMarkBytes: loadStepBytesMax, fillCache: false };
    const it = this.db.iterator({ ...logRange(group, first), ...options });
    try {
      let expected = first;
      for (;;) {
        const step = await it.nextv(loadStepEntries);
        if (step.length === 0) break;
        for (const [key, value] of step) {
          const index = logKeyIndex(key);
          if (index !== expected) {
            throw new StorageError('STORAGE_CORRUPT', `group ${group}: log index ${index} where ${expected} expected`);
          }
          entries.push(decodeEntry(index, value));
          expected++;
        }
      }
    } finally {
      await it.close();
    }
    return entries;
  }
}

async function checkFormat(db: Db): Promise<void> {
  const stored = await db.get(formatKey);
  if (stored === undefined) {
    await db.put(formatKey, encodeValue(formatVersion), { sync: true });
    return;
  }
  const version = decodeValue(stored);
  if (version !== formatVersion) {
    throw new StorageError('STORAGE_CORRUPT', `log store format ${String(version)}, expected ${formatVersion}`);
  }
}

/** Finds every group and its bounds with a few seeks per group (no full scan of the logs). */
async function scanBounds(db: Db): Promise<Map<GroupId, GroupBounds>> {
  const bounds = new Map<GroupId, GroupBounds>();
  const it = db.keys({ gte: groupsStart, lt: groupsEnd });
  try {
    for (;;) {
      const key = await it.next();
      if (key === undefined) break;
      const group = keyGroup(key);
      bounds.set(group, await groupBounds(db, group));
      it.seek(groupEnd(group));
    }
  } finally {
    await it.close();
  }
  return bounds;
}

async function groupBounds(db: Db, group: GroupId): Promise<GroupBounds> {
  const b = emptyBounds();
  const metaBytes = await db.get(snapshotKey(group));
  if (metaBytes !== undefined) {
    const stored = decodeSnapshotMeta(metaBytes);
    b.snapshotIndex = stored.meta.index;
    b.snapshotChunks = stored.chunks;
  }
  b.hasHardState = (await db.get(hardStateKey(group))) !== undefined;
  b.logFirst = b.snapshotIndex + 1;
  b.logLast = b.snapshotIndex;
  const first = await db.keys({ ...logRange(group, b.logFirst), limit: 1 }).all();
  if (first.length === 0) return b;
  const firstIndex = logKeyIndex(first[0]!);
  if (firstIndex !== b.logFirst) {
    throw new StorageError('STORAGE_CORRUPT', `group ${group}: log starts at ${firstIndex}, snapshot at ${b.snapshotIndex}`);
  }
  const last = await db.keys({ ...logRange(group, b.logFirst), limit: 1, reverse: true }).all();
  b.logLast = logKeyIndex(last[0]!);
  return b;
}
