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

interface Batch {
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: Error) => void;
}

function newBatch(): Batch {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Persists one merged batch of operations; must be atomic. */
export type PersistBatch<Op> = (ops: Op[]) => Promise<void>;

/** Merges submitted operations into batches with at most one in flight. */
export class GroupCommit<Op> {
  private pendingOps: Op[] = [];
  private pending: Batch | undefined;
  private inflight: Batch | undefined;
  private failure: StorageError | undefined;
  /** Batches persisted so far (for stats and tests). */
  batchCount = 0;

  constructor(private readonly persist: PersistBatch<Op>) {}

  /** The error that poisoned the queue, if any. */
  get failed(): StorageError | undefined {
    return this.failure;
  }

  /** Queues operations for the next batch; resolves when that batch is durable. */
  submit(ops: Op[]): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    for (let i = 0; i < ops.length; i++) this.pendingOps.push(ops[i]!);
    return this.join();
  }

  /** A promise for the batch that will carry operations pushed through `ops()` now. */
  join(): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.pending === undefined) {
      this.pending = newBatch();
      // Start on a microtask, not at once: writes issued in the same synchronous run
      // (several groups flushing in one turn) then share the first batch too.
      if (this.inflight === undefined) queueMicrotask(() => this.flush());
    }
    return this.pending.promise;
  }

  /** The array that the next batch will persist; callers may push to it, then `join()`. */
  ops(): Op[] {
    return this.pendingOps;
  }

  /** Resolves when everything submitted before this call is durable (or rejects if it failed). */
  barrier(): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const last = this.pending ?? this.inflight;
    return last === undefined ? Promise.resolve() : last.promise;
  }

  private flush(): void {
    const batch = this.pending;
    if (batch === undefined || this.inflight !== undefined) return;
    const ops = this.pendingOps;
    this.pending = undefined;
    this.pendingOps = [];
    this.inflight = batch;
    this.persist(ops).then(
      () => this.onPersisted(batch),
      (err: unknown) => this.onFailed(batch, err),
    );
  }

  private onPersisted(batch: Batch): void {
    this.inflight = undefined;
    this.batchCount++;
    batch.resolve();
    if (this.pending !== undefined) this.flush();
  }

  private onFailed(batch: Batch, err: unknown): void {
    this.inflight = undefined;
    this.failure = new StorageError('STORAGE_WRITE_FAILED', `log batch failed to persist: ${String(err)}`, {
      cause: err,
    });
    batch.reject(this.failure);
    if (this.pending !== undefined) this.pending.reject(this.failure);
    this.pending = undefined;
    this.pendingOps = [];
  }
}
