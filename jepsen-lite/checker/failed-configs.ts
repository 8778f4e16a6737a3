/**
 * The search's memo of configurations known to fail: (ok ops linearized, info ops
 * linearized, model state). Lowe's memoisation uses exact matches; because info ops are
 * optional, a configuration is also hopeless when a failed one had the same ok ops and
 * state and used a SUBSET of its info ops (the failed one could do everything it can, by
 * simply not using the extra info ops). That dominance check is what keeps histories with
 * many indeterminate writes tractable: using an info write that an ok write then
 * overwrites is pruned at once.
 *
 * A configuration reached through an info op is "restricted": the search does not follow
 * it with a blind overwrite (a write or delete), since skipping the info op reaches the same
 * state with more options left. A restricted configuration explores fewer children, so its
 * failure only dominates other restricted configurations; an unrestricted failure
 * dominates both kinds.
 *
 * Entries live in one growable Uint32Array (words: ok bitset, info bitset, state) with an
 * open-addressing table of entry numbers, so a million entries cost tens of MB rather
 * than a million typed-array objects.
 */

/** A set of failed configurations with exact and dominance lookups. */
export class FailedConfigs {
  private readonly okWords: number;
  private readonly infoWords: number;
  private readonly entryWords: number;
  private arena: Uint32Array;
  private hashes: Int32Array;
  private count = 0;
  /** Open addressing: entry number + 1, 0 = empty. */
  private table: Int32Array;
  private mask: number;

  constructor(okWords: number, infoWords: number) {
    this.okWords = okWords;
    this.infoWords = infoWords;
    this.entryWords = okWords + infoWords + 1;
    this.arena = new Uint32Array(this.entryWords * 1024);
    this.hashes = new Int32Array(1024);
    this.table = new Int32Array(2048);
    this.mask = 2047;
  }

  /** Number of configurations stored. */
  get size(): number {
    return this.count;
  }

  /** Records a failed configuration; `hash` must depend only on the ok bits and the state. */
  add(hash: number, okBits: Uint32Array, infoBits: Uint32Array, state: number, restricted: boolean): void {
    if (this.count * 2 >= this.table.length) this.growTable();
    if (this.count === this.hashes.length) this.growArena();
    const entry = this.count++;
    const at = entry * this.entryWords;
    this.arena.set(okBits, at);
    this.arena.set(infoBits, at + this.okWords);
    this.arena[at + this.okWords + this.infoWords] = (state << 1) | (restricted ? 1 : 0);
    this.hashes[entry] = hash;
    this.insert(entry, hash);
  }

  /**
   * True when a stored configuration has the same ok bits and state, a subset of the info
   * bits, and is unrestricted or restricted like this one.
   */
  dominates(hash: number, okBits: Uint32Array, infoBits: Uint32Array, state: number, restricted: boolean): boolean {
    const table = this.table;
    for (let slot = hash & this.mask; ; slot = (slot + 1) & this.mask) {
      const stored = table[slot]!;
      if (stored === 0) return false;
      const entry = stored - 1;
      if (this.hashes[entry] === hash && this.matches(entry, okBits, infoBits, state, restricted)) return true;
    }
  }

  private matches(entry: number, okBits: Uint32Array, infoBits: Uint32Array, state: number, restricted: boolean): boolean {
    const arena = this.arena;
    const at = entry * this.entryWords;
    const okWords = this.okWords;
    const stored = arena[at + okWords + this.infoWords]!;
    if (stored >>> 1 !== state || ((stored & 1) === 1 && !restricted)) return false;
    for (let i = 0; i < okWords; i++) if (arena[at + i] !== okBits[i]) return false;
    const infoAt = at + okWords;
    for (let i = 0; i < this.infoWords; i++) if ((arena[infoAt + i]! & ~infoBits[i]!) !== 0) return false;
    return true;
  }

  private insert(entry: number, hash: number): void {
    const table = this.table;
    let slot = hash & this.mask;
    while (table[slot] !== 0) slot = (slot + 1) & this.mask;
    table[slot] = entry + 1;
  }

  private growTable(): void {
    this.table = new Int32Array(this.table.length * 2);
    this.mask = this.table.length - 1;
    for (let entry = 0; entry < this.count; entry++) this.insert(entry, this.hashes[entry]!);
  }

  private growArena(): void {
    const hashes = new Int32Array(this.hashes.length * 2);
    hashes.set(this.hashes);
    this.hashes = hashes;
    const arena = new Uint32Array(this.arena.length * 2);
    arena.set(this.arena);
    this.arena = arena;
  }
}
