/**
 * Fetches not yet in the log: what a leader (or the single-node executor) remembers of the
 * reads it served without an entry, until a `bump` entry carries them to every replica.
 *
 * memcached's meta `h` (hit before) and `l` (seconds since last access) report an item's
 * fetch state as of before the command. Reads are served without the log, so the state
 * machine learns of them only from the leader's bump entries (DESIGN.md section 3). To
 * answer `h` and `l` at once, the leader keeps these marks beside its state:
 *
 *   - a read served purely notes (key, time) here (`note`);
 *   - an `h`/`l` read answered at the leader merges the marks into its reply (`merge`), so
 *     `get k` then `mg k h` answers h1 before any bump entry applied;
 *   - an entry the leader proposes takes the marks of its own keys first (`takeFor`), as a
 *     bump op placed before the entry's ops: a read served from the applied state happened
 *     before every write not yet applied, so the write that follows clears the fetch mark
 *     as memcached's new item would be unfetched, and a logged `mg ... h` sees the mark;
 *   - the periodic bump entry takes the rest (`takeAll`). Until the next one, those marks
 *     stay visible to `merge` (as `sent`): the entry that carries them may not have applied
 *     yet, and a read must not see the fetch vanish in between. A write takes them too.
 *
 * The marks are soft state of one node: a leader that fails or hands leadership on
 * loses at most one bump interval of them (like memcached losing its LRU on restart), and only the log makes them
 * part of the replicated state. Times are the noting node's clock; the bump entry carries
 * them, so every replica records the same access times.
 */
import type { BumpOp, CacheOp, CacheResult } from './ops.js';
import { elapsedSec } from './item-time.js';

interface Mark {
  key: Buffer;
  atMs: number;
}

/** Pending fetch marks, by key (latin1 of the key bytes). */
export class FetchMarks {
  private readonly marks = new Map<string, Mark>();
  /** The marks the last `takeAll` gave to a bump entry that may not have applied yet. */
  private sent = new Map<string, Mark>();

  /** @param keysMax distinct keys kept at most; reads beyond it are not remembered. */
  constructor(private readonly keysMax: number) {}

  /** Number of keys marked. */
  get size(): number {
    return this.marks.size;
  }

  /** True when no more marks fit (the owner should propose a bump soon). */
  get full(): boolean {
    return this.marks.size >= this.keysMax;
  }

  /** Notes that `key` was fetched at `atMs`. */
  note(key: Buffer, atMs: number): void {
    const id = key.toString('latin1');
    const mark = this.marks.get(id);
    if (mark !== undefined) {
      if (atMs > mark.atMs) mark.atMs = atMs;
      return;
    }
    if (this.marks.size >= this.keysMax) return;
    this.marks.set(id, { key, atMs });
  }

  /** A hit read at `nowMs`: its item's fetch state with this node's marks included (h, l). */
  merge(result: CacheResult, nowMs: number): void {
    if (result.kind !== 'hit' || (this.marks.size === 0 && this.sent.size === 0)) return;
    const id = result.item.key.toString('latin1');
    const mark = this.marks.get(id) ?? this.sent.get(id);
    if (mark === undefined) return;
    result.item.fetched = true;
    result.item.lastAccessSec = Math.min(result.item.lastAccessSec, elapsedSec(mark.atMs, nowMs));
  }

  /** The bump op for the marks of the keys `ops` address (taken), or null when none is marked. */
  takeFor(ops: readonly CacheOp[]): BumpOp | null {
    if (this.marks.size === 0 && this.sent.size === 0) return null;
    let bump: BumpOp | null = null;
    for (const op of ops) {
      const key = (op as { key?: Buffer }).key;
      if (key === undefined) {
        // A flush (every key): the reads before it are moot, the items are going.
        if (op.type === 'flush') this.clear();
        continue;
      }
      const id = key.toString('latin1');
      this.sent.delete(id);
      const mark = this.marks.get(id);
      if (mark === undefined) continue;
      this.marks.delete(id);
      bump ??= { type: 'bump', keys: [], atMs: [] };
      bump.keys.push(mark.key);
      bump.atMs!.push(mark.atMs);
    }
    return bump;
  }

  /** The bump op of every mark (taken), or null when there is none. */
  takeAll(): BumpOp | null {
    // The previous bump entry has applied by now (an interval later): its marks are state.
    this.sent = new Map();
    if (this.marks.size === 0) return null;
    const keys: Buffer[] = new Array(this.marks.size);
    const atMs: number[] = new Array(this.marks.size);
    let i = 0;
    for (const [id, mark] of this.marks) {
      keys[i] = mark.key;
      atMs[i++] = mark.atMs;
      this.sent.set(id, mark);
    }
    this.marks.clear();
    return { type: 'bump', keys, atMs };
  }

  /** Drops every mark (leadership lost: the next leader starts without them). */
  clear(): void {
    this.marks.clear();
    this.sent.clear();
  }
}
