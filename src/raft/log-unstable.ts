/**
 * The unstable part of the log: entries (and possibly an incoming snapshot) not yet
 * persisted by the host. `entries[i]` has index `offset + i`; `offset - 1` is the last
 * index that is durable and consistent with this log. Modelled on etcd's log_unstable.go.
 */
import assert from 'node:assert';
import type { Entry, Snapshot } from './types.js';
import { sliceLimited } from './util.js';

/** Unstable entries and snapshot; see the module doc. */
export class Unstable {
  snapshot: Snapshot | undefined = undefined;
  entries: Entry[] = [];
  offset: number;

  constructor(offset: number) {
    this.offset = offset;
  }

  /** The first index if a snapshot is pending. */
  maybeFirstIndex(): number | undefined {
    return this.snapshot === undefined ? undefined : this.snapshot.meta.index + 1;
  }

  /** The last index if there are unstable entries or a snapshot. */
  maybeLastIndex(): number | undefined {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1;
    return this.snapshot === undefined ? undefined : this.snapshot.meta.index;
  }

  /** The term of index i if this part of the log knows it. */
  maybeTerm(i: number): number | undefined {
    if (i < this.offset) {
      if (this.snapshot !== undefined && this.snapshot.meta.index === i) return this.snapshot.meta.term;
      return undefined;
    }
    const e = this.entries[i - this.offset];
    return e === undefined ? undefined : e.term;
  }

  /** Entries up to (i, t) are durable: drop them, unless the log changed under them. */
  stableTo(i: number, t: number): void {
    const gt = this.maybeTerm(i);
    if (gt === undefined || i < this.offset) return;
    if (gt !== t) return;
    this.entries = this.entries.slice(i + 1 - this.offset);
    this.offset = i + 1;
  }

  /** The snapshot at index i is durable. */
  stableSnapTo(i: number): void {
    if (this.snapshot !== undefined && this.snapshot.meta.index === i) this.snapshot = undefined;
  }

  /** Replaces everything with an incoming snapshot. */
  restore(s: Snapshot): void {
    this.offset = s.meta.index + 1;
    this.entries = [];
    this.snapshot = s;
  }

  /** Appends entries, truncating a conflicting suffix (which may reach into stable storage). */
  truncateAndAppend(ents: Entry[]): void {
    const after = ents[0]!.index;
    const end = this.offset + this.entries.length;
    if (after === end) {
      for (let i = 0; i < ents.length; i++) this.entries.push(ents[i]!);
    } else if (after <= this.offset) {
      // The log is being replaced from before our offset: stable entries after `after` are stale.
      this.offset = after;
      this.entries = ents.slice();
    } else {
      assert(after < end, `unstable: gap appending ${after} after ${end - 1}`);
      this.entries = this.entries.slice(0, after - this.offset);
      for (let i = 0; i < ents.length; i++) this.entries.push(ents[i]!);
    }
  }

  /** Entries [lo, hi) held here, at most maxBytes (at least one). */
  slice(lo: number, hi: number, maxBytes?: number): Entry[] {
    assert(lo >= this.offset && hi <= this.offset + this.entries.length && lo <= hi, `unstable slice [${lo},${hi}) out of bounds`);
    return sliceLimited(this.entries, lo - this.offset, hi - this.offset, maxBytes);
  }
}
