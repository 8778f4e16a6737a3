/**
 * A node's simulated disk (LogStoreLike, src/cluster/contracts.ts). The durable contents are
 * a MemoryLogStore (src/storage/memory-log-store.ts: the same GroupWrite semantics and
 * checks as LevelLogStore) that outlives every incarnation of the node; in front of it, the
 * writes not yet synced.
 *
 * Group commit as LevelLogStore does it: writes issued while a batch is being synced form
 * the next batch; a batch becomes durable after a seeded fsync delay, as one scheduler
 * event, and its writes' promises resolve in call order. A crash loses every write of the
 * batch in flight and every one queued behind it; a restart sees the durable contents only.
 */
import type { GroupWrite, LogStoreLike, StoredGroup } from '../../../src/cluster/contracts.js';
import type { GroupId } from '../../../src/raft/types.js';
import { MemoryLogStore } from '../../../src/storage/memory-log-store.js';
import type { Rng, Scheduler } from './scheduler.js';
import type { Life } from './sim-runtime.js';

/** fsync timing of a disk. */
export interface DiskTiming {
  fsyncUsMin: number;
  fsyncUsMax: number;
}

/** What survives a node's crashes: the durable contents and the disk's counters. */
export class SimDisk {
  readonly durable = new MemoryLogStore();
  /** Told of every write issued (the nemesis aims crashes at writes in flight). */
  readonly writeListeners = new Set<() => void>();
  /** Extra fsync delay while a slow-disk fault lasts. */
  slowUsMax = 0;
  batchesSynced = 0;
  writesSynced = 0;
  /** Writes lost to crashes before they were synced. */
  writesLost = 0;

  constructor(
    readonly timing: DiskTiming,
    readonly rng: Rng,
  ) {}
}

interface QueuedWrite {
  writes: GroupWrite[];
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** One incarnation's view of its disk. */
export class SimLogStore implements LogStoreLike {
  private queued: QueuedWrite[] = [];
  private syncing: QueuedWrite[] | null = null;
  /** When the batch being synced becomes durable (virtual us), if one is. */
  syncDoneAtUs: number | null = null;
  private batchScheduled = false;

  constructor(
    private readonly scheduler: Scheduler,
    private readonly life: Life,
    private readonly disk: SimDisk,
  ) {}

  /** Writes not yet durable (counted as lost if the node crashes now). */
  get unsyncedWrites(): number {
    return this.queued.length + (this.syncing?.length ?? 0);
  }

  write(writes: GroupWrite[]): Promise<void> {
    // A dead incarnation's promise never settles: nothing of it may run again.
    if (!this.life.alive) return new Promise(() => {});
    return new Promise((resolve, reject) => {
      this.queued.push({ writes: writes.map(copyWrite), resolve, reject });
      this.scheduleBatch();
      for (const listener of this.disk.writeListeners) listener();
    });
  }

  load(group: GroupId): Promise<StoredGroup> {
    return this.disk.durable.load(group);
  }

  groups(): Promise<GroupId[]> {
    return this.disk.durable.groups();
  }

  getMeta(key: string): Promise<Uint8Array | undefined> {
    return this.disk.durable.getMeta(key);
  }

  putMeta(key: string, value: Uint8Array): Promise<void> {
    return this.disk.durable.putMeta(key, value);
  }

  async close(): Promise<void> {}

  /** The node crashed: every write not yet synced is gone. */
  crash(): void {
    this.disk.writesLost += this.unsyncedWrites;
    this.queued = [];
    this.syncing = null;
    this.syncDoneAtUs = null;
  }

  /** Starts a batch at the end of this instant's soon events (writes of this turn join it). */
  private scheduleBatch(): void {
    if (this.syncing !== null || this.batchScheduled) return;
    this.batchScheduled = true;
    this.scheduler.soon(this.life, () => {
      this.batchScheduled = false;
      this.startBatch();
    });
  }

  private startBatch(): void {
    if (this.syncing !== null || this.queued.length === 0) return;
    const batch = this.queued;
    this.queued = [];
    this.syncing = batch;
    const { fsyncUsMin, fsyncUsMax } = this.disk.timing;
    const delayUs = this.disk.rng.int(fsyncUsMin, fsyncUsMax) + (this.disk.slowUsMax > 0 ? this.disk.rng.int(0, this.disk.slowUsMax) : 0);
    this.syncDoneAtUs = this.scheduler.at(delayUs, this.life, () => this.finishBatch(batch)).atUs;
  }

  private finishBatch(batch: QueuedWrite[]): void {
    if (this.syncing !== batch) return;
    this.syncing = null;
    this.syncDoneAtUs = null;
    this.disk.batchesSynced++;
    for (const w of batch) {
      try {
        // Validated and applied at once (MemoryLogStore resolves on a microtask).
        void this.disk.durable.write(w.writes);
        this.disk.writesSynced++;
        w.resolve();
      } catch (err) {
        w.reject(err);
      }
    }
    if (this.queued.length > 0) this.startBatch();
  }
}

/** A copy of what the caller handed in: later changes to its objects must not reach the disk. */
function copyWrite(w: GroupWrite): GroupWrite {
  const c: GroupWrite = { ...w };
  if (w.hardState !== undefined) c.hardState = { ...w.hardState };
  if (w.entries !== undefined) c.entries = w.entries.map((e) => ({ ...e }));
  return c;
}
