/**
 * RaftLog: the whole log as Raft sees it — stable storage followed by unstable entries —
 * plus the commit and applied indexes. Modelled on etcd's log.go.
 */
import assert from 'node:assert';
import type { Entry, RaftStorage, Snapshot } from './types.js';
import { CompactedError } from './errors.js';
import { Unstable } from './log-unstable.js';
import { limitSize } from './util.js';

/** The log of one node; see the module doc. */
export class RaftLog {
  readonly storage: RaftStorage;
  readonly unstable: Unstable;
  /** Highest index known committed (on a quorum's stable storage). */
  committed: number;
  /** Highest index applied by the host (advance()). */
  applied: number;

  constructor(storage: RaftStorage) {
    this.storage = storage;
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    this.unstable = new Unstable(last + 1);
    this.committed = first - 1;
    this.applied = first - 1;
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  /** Last index that is durable and still part of this log (a leader's own match). */
  stableLastIndex(): number {
    return this.unstable.offset - 1;
  }

  /** Term of entry i, or undefined when it is compacted or beyond the last index. */
  term(i: number): number | undefined {
    if (i > this.lastIndex()) return undefined;
    const t = this.unstable.maybeTerm(i);
    if (t !== undefined) return t;
    if (i < this.firstIndex() - 1) return undefined;
    return this.storage.term(i);
  }

  /** Term of entry i, 0 when unknown (etcd's zeroTermOnOutOfBounds). */
  termOrZero(i: number): number {
    return this.term(i) ?? 0;
  }

  lastTerm(): number {
    const t = this.term(this.lastIndex());
    assert(t !== undefined, 'last term unknown');
    return t;
  }

  matchTerm(i: number, t: number): boolean {
    return this.term(i) === t;
  }

  /**
   * Appends the leader's entries after (index, logTerm) if our log matches there; returns
   * the new last index of those entries, or undefined on mismatch.
   */
  maybeAppend(index: number, logTerm: number, committed: number, ents: Entry[]): number | undefined {
    if (!this.matchTerm(index, logTerm)) return undefined;
    const lastNew = index + ents.length;
    const ci = this.findConflict(ents);
    if (ci !== 0) {
      assert(ci > this.committed, `entry ${ci} conflicts with committed entry ${this.committed}`);
      const start = ci - (index + 1);
      this.append(start === 0 ? ents : ents.slice(start));
    }
    this.commitTo(Math.min(committed, lastNew));
    return lastNew;
  }

  /** Appends entries (truncating a conflicting suffix); returns the new last index. */
  append(ents: Entry[]): number {
    if (ents.length === 0) return this.lastIndex();
    const after = ents[0]!.index - 1;
    assert(after >= this.committed, `append after ${after} is below committed ${this.committed}`);
    this.unstable.truncateAndAppend(ents);
    return this.lastIndex();
  }

  /** Index of the first entry whose term differs from ours (0 if none; new entries count as conflicts). */
  findConflict(ents: Entry[]): number {
    for (let i = 0; i < ents.length; i++) {
      const e = ents[i]!;
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * Fast back-off: the largest index <= `index` whose term is <= `term`, with its term
   * (0 if unknown). Used by a follower to hint, and by the leader to jump.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    for (; index > 0; index--) {
      const ourTerm = this.term(index);
      if (ourTerm === undefined) return { index, term: 0 };
      if (ourTerm <= term) return { index, term: ourTerm };
    }
    return { index: 0, term: 0 };
  }

  commitTo(toCommit: number): void {
    if (this.committed >= toCommit) return;
    assert(toCommit <= this.lastIndex(), `commit ${toCommit} is out of range [last ${this.lastIndex()}]`);
    this.committed = toCommit;
  }

  /** Commits maxIndex if its entry is of the current term (Raft's commit rule). */
  maybeCommit(maxIndex: number, term: number): boolean {
    if (maxIndex > this.committed && this.termOrZero(maxIndex) === term) {
      this.commitTo(maxIndex);
      return true;
    }
    return false;
  }

  appliedTo(i: number): void {
    if (i === 0) return;
    assert(this.committed >= i && i >= this.applied, `applied ${i} out of range [prev ${this.applied}, committed ${this.committed}]`);
    this.applied = i;
  }

  stableTo(i: number, t: number): void {
    this.unstable.stableTo(i, t);
  }

  stableSnapTo(i: number): void {
    this.unstable.stableSnapTo(i);
  }

  unstableEntries(): Entry[] {
    return this.unstable.entries;
  }

  hasPendingSnapshot(): boolean {
    return this.unstable.snapshot !== undefined;
  }

  hasNextCommittedEnts(): boolean {
    if (this.hasPendingSnapshot()) return false;
    return this.committed > Math.max(this.applied, this.firstIndex() - 1);
  }

  /** Committed entries not yet applied, at most maxBytes (at least one). */
  nextCommittedEnts(maxBytes: number | undefined): Entry[] {
    if (!this.hasNextCommittedEnts()) return [];
    const lo = Math.max(this.applied + 1, this.firstIndex());
    return this.slice(lo, this.committed + 1, maxBytes);
  }

  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  /** Installs a snapshot: the log becomes empty after it and everything up to it is committed. */
  restore(s: Snapshot): void {
    this.committed = s.meta.index;
    this.unstable.restore(s);
  }

  /** Whether a candidate's last (term, index) is at least as up to date as ours: term first, then index. */
  isUpToDate(lastIndex: number, term: number): boolean {
    const ourTerm = this.lastTerm();
    return term > ourTerm || (term === ourTerm && lastIndex >= this.lastIndex());
  }

  /** Entries from i to the end, at most maxBytes (at least one). Throws CompactedError. */
  entriesFrom(i: number, maxBytes: number | undefined): Entry[] {
    if (i > this.lastIndex()) return [];
    return this.slice(i, this.lastIndex() + 1, maxBytes);
  }

  /** Entries [lo, hi) from storage and/or unstable, at most maxBytes. Throws CompactedError. */
  slice(lo: number, hi: number, maxBytes: number | undefined): Entry[] {
    if (lo === hi) return [];
    if (lo < this.firstIndex()) throw new CompactedError(lo);
    assert(hi <= this.lastIndex() + 1, `slice [${lo},${hi}) beyond last index ${this.lastIndex()}`);
    const off = this.unstable.offset;
    if (lo >= off) return this.unstable.slice(lo, hi, maxBytes);
    const stored = this.storage.entries(lo, Math.min(hi, off), maxBytes);
    if (hi <= off || stored.length < Math.min(hi, off) - lo) return stored;
    const merged = stored.concat(this.unstable.slice(off, hi, maxBytes));
    return limitSize(merged, maxBytes);
  }
}
