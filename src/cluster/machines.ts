/**
 * The two state machines a group replica can drive, behind one small interface: the cache
 * (data groups) and the meta state machine (group 0). The host applies committed entries
 * through this and never looks inside an entry's payload itself.
 */
import type { CacheResult, GetOp } from '../cache/ops.js';
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
    const entry = this.factory.decodeEntry(data);
    if (entry.nowMs > this.lastNowMs) this.lastNowMs = entry.nowMs;
    // The cache gives op i of a batched entry the CAS unique max(last + 1, index): distinct
    // within the entry, monotone across entries, the same on every replica.
    return this.cache.applyEntry(entry, index);
  }

  /** A pure read at the leader's clock; null = must go through the log. */
  read(op: GetOp, nowMs: number): CacheResult | null {
    return this.cache.read(op, nowMs);
  }

  skip(index: number): void {
    this.applied = index;
    this.cache.markApplied(index);
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
