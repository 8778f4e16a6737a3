/**
 * The seam between client connections and whatever executes cache ops: the local state
 * machine (single node, no Raft) or the cluster (route to the group leader, Raft log).
 */
import type { CacheOp, CacheResult } from '../cache/ops.js';

/** Called exactly once per `execute`, possibly synchronously, with one result per op in order. */
export type ExecuteCallback = (results: CacheResult[]) => void;

export interface Executor {
  /**
   * Execute the ops of one request. Ops on different keys may run in different groups;
   * the callback receives all results in op order. Failures that are not the cache's own
   * answers (no leader reachable in time, ...) come back as `server_error` results.
   */
  execute(ops: CacheOp[], done: ExecuteCallback): void;
  /** memcached `stats` for a group name ('' = general, 'settings', 'items', 'slabs', 'raft', ...); null = unknown group. */
  stats(group: string): Array<[string, string]> | null;
  /** memcached `stats reset`: zero the executor's resettable counters (not replicated state). */
  resetStats(): void;
  /** Stops accepting work and releases resources. */
  close(): Promise<void>;
  /** Resolves when the node must stop serving for good (a removed cluster node), with the reason. */
  readonly mustStop?: Promise<Error>;
}
