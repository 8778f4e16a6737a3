/**
 * Group commit: operations submitted while a batch is being persisted are merged into the
 * next batch, so a node does one LevelDB write (and one fsync) per batch however many
 * groups and callers contributed. At most one batch is in flight; batches complete in
 * submission order. All submitters of a batch share one promise (one allocation per batch,
 * not per call).
 *
 * A failed batch poisons the queue: the caller's in-memory view of the log no longer
 * matches the disk, and Raft must not acknowledge anything on top of an unknown state, so
 * every later submission fails too and the node has to restart (as etcd does on a failed
 * WAL fsync).
 */
import { StorageError } from './types.js';

interface Waiters {
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: Error) => void;
}

function newWaiters(): Waiters {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** How a GroupCommit makes, persists (atomically) and discards its batches. */
export interface BatchDriver<B> {
  create(): B;
  /** `sync` is false when no submitter of the batch needed it durable before resolving. */
  persist(batch: B, sync: boolean): Promise<void>;
  /** Releases a batch that will never be persisted (after a failure). */
  discard(batch: B): void;
}

/** Merges submitted operations into batches with at most one in flight. */
export class GroupCommit<B> {
  private pending: { batch: B; waiters: Waiters; sync: boolean } | undefined;
  private inflight: Waiters | undefined;
  private failure: StorageError | undefined;
  /** Batches persisted so far (for stats and tests). */
  batchCount = 0;

  constructor(private readonly driver: BatchDriver<B>) {}

  /** The error that poisoned the queue, if any. */
  get failed(): StorageError | undefined {
    return this.failure;
  }

  /**
   * Lets `fill` add operations to the next batch (synchronously; it must not throw after
   * adding some) and resolves when that batch is written; durable too unless every
   * submitter of the batch passed sync = false.
   */
  submit(fill: (batch: B) => void, sync = true): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.pending === undefined) {
      this.pending = { batch: this.driver.create(), waiters: newWaiters(), sync: false };
      // Start on a microtask, not at once: writes issued in the same synchronous run
      // (several groups flushing in one turn) then share the first batch too.
      if (this.inflight === undefined) queueMicrotask(() => this.flush());
    }
    if (sync) this.pending.sync = true;
    fill(this.pending.batch);
    return this.pending.waiters.promise;
  }

  /** Resolves when everything submitted before this call is durable (or rejects if it failed). */
  barrier(): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const last = this.pending?.waiters ?? this.inflight;
    return last === undefined ? Promise.resolve() : last.promise;
  }

  private flush(): void {
    const next = this.pending;
    if (next === undefined || this.inflight !== undefined) return;
    this.pending = undefined;
    this.inflight = next.waiters;
    this.driver.persist(next.batch, next.sync).then(
      () => this.onPersisted(next.waiters),
      (err: unknown) => this.onFailed(next.waiters, err),
    );
  }

  private onPersisted(waiters: Waiters): void {
    this.inflight = undefined;
    this.batchCount++;
    // Start the next batch before waking this one's waiters: the disk is never idle
    // while there is work, and acks go out while the next fsync runs.
    if (this.pending !== undefined) this.flush();
    waiters.resolve();
  }

  private onFailed(waiters: Waiters, err: unknown): void {
    this.inflight = undefined;
    this.failure = new StorageError('STORAGE_WRITE_FAILED', `log batch failed to persist: ${String(err)}`, {
      cause: err,
    });
    waiters.reject(this.failure);
    if (this.pending !== undefined) {
      this.pending.waiters.reject(this.failure);
      this.driver.discard(this.pending.batch);
    }
    this.pending = undefined;
  }
}
