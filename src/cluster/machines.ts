/**
 * The two state machines a group replica can drive, behind one small interface: the cache
 * (data groups) and the meta state machine (group 0). The host applies committed entries
 * through this and never looks inside an entry's payload itself.
 */
import type { CacheOp, CacheResult, GetOp } from '../cache/ops.js';
import { MetaStateMachine, type MetaResult } from '../membership/index.js';
import type { CacheMachine, GroupFactory } from './contracts.js';

/** A replica's state machine. */
export interface GroupMachine {
  /** Index of the last entry applied (or restored from a snapshot). */
  readonly appliedIndex: number;
  /** Applies a non-empty normal entry; one result per op of the entry. */
  applyEntry(data: Uint8Array, index: number): unknown[];
  /** Records an entry without a payload for the machine (empty, ConfChange). */
  skip(index: number): void;
  /** The state as bytes, at `appliedIndex`. */
  snapshot(): Uint8Array;
  /** Replaces the state by a snapshot's taken at `index`. */
  restore(data: Uint8Array, index: number): void;
  /** Digest of the logical state. */
  digest(): string;
}

/**
 * How a batched entry's ops get distinct CAS uniques: op i of the entry at index n gets
 * n * casOpsPerEntryMax + i. Monotone across entries, distinct within one, identical on
 * every replica. Entries never hold more than this many ops.
 */
export const casOpsPerEntryMax = 1024;

/** A data group's cache behind the GroupMachine interface. */
export class CacheGroupMachine implements GroupMachine {
  private applied = 0;
  /** The largest entry time applied: the group's clock never runs backwards. */
  lastNowMs = 0;

  constructor(
    readonly cache: CacheMachine,
    private readonly factory: GroupFactory,
  ) {}

  get appliedIndex(): number {
    return this.applied;
  }

  applyEntry(data: Uint8Array, index: number): CacheResult[] {
    this.applied = index;
    const { nowMs, ops } = this.factory.decodeEntry(data);
    if (nowMs > this.lastNowMs) this.lastNowMs = nowMs;
    const results: CacheResult[] = new Array(ops.length);
    const casBase = index * casOpsPerEntryMax;
    for (let i = 0; i < ops.length; i++) results[i] = this.cache.apply(ops[i] as CacheOp, casBase + i, nowMs);
    return results;
  }

  /** A pure read at the leader's clock; null = must go through the log. */
  read(op: GetOp, nowMs: number): CacheResult | null {
    return this.cache.read(op, nowMs);
  }

  skip(index: number): void {
    this.applied = index;
  }

  snapshot(): Uint8Array {
    return this.cache.snapshot();
  }

  restore(data: Uint8Array, index: number): void {
    // A bootstrap snapshot of a brand-new group carries membership only, no state.
    if (data.length > 0) this.cache.restore(data);
    this.applied = index;
  }

  digest(): string {
    return this.cache.digest();
  }
}

/** The meta state machine behind the GroupMachine interface. */
export class MetaGroupMachine implements GroupMachine {
  readonly meta = new MetaStateMachine();

  get appliedIndex(): number {
    return this.meta.appliedIndex;
  }

  applyEntry(data: Uint8Array, index: number): MetaResult[] {
    return [this.meta.applyEntry(data, index)];
  }

  skip(index: number): void {
    this.meta.skip(index);
  }

  snapshot(): Uint8Array {
    return this.meta.snapshot();
  }

  restore(data: Uint8Array, index: number): void {
    // A bootstrap snapshot of a brand-new group carries membership only, no state.
    if (data.length > 0) this.meta.restore(data);
    if (this.meta.appliedIndex < index) this.meta.skip(index);
  }

  digest(): string {
    return this.meta.digest();
  }
}
