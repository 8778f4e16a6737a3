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
 * Entries live in one growable Uint32Array with an open-addressing table of entry numbers,
 * so a million entries cost tens of MB rather than a million typed-array objects. Bitsets
 * are stored trimmed: the ok bits of a configuration are all ones up to about the search's
 * position in the history and all zeros after a window of pending ops, so only the words
 * between the first non-full and the last non-zero word are kept (a 10,000-op key stores
 * a few words per entry instead of 300). Entry layout: state << 1 | restricted, okLo, okHi,
 * infoLo, infoHi, ok words [okLo, okHi), info words [infoLo, infoHi).
 */

/** Default words the memo may hold (4 bytes each: 256 MiB) before the search gives up as 'unknown'. */
export const failedConfigWordsMaxDefault = 64 * 1024 * 1024;

const headerWords = 5;

/** A set of failed configurations with exact and dominance lookups. */
export class FailedConfigs {
  private arena = new Uint32Array(1 << 16);
  private used = 0;
  /** Per entry: its hash and its offset in the arena. */
  private hashes = new Int32Array(1024);
  private offsets = new Int32Array(1024);
  private count = 0;
  /** Open addressing: entry number + 1, 0 = empty. */
  private table = new Int32Array(2048);
  private mask = 2047;

  constructor(private readonly wordsMax = failedConfigWordsMaxDefault) {}

  /** Number of configurations stored. */
  get size(): number {
    return this.count;
  }

  /**
   * Records a failed configuration; `hash` must depend only on the ok bits and the state.
   * Returns false when the memo is full (wordsMax).
   */
  add(hash: number, okBits: Uint32Array, infoBits: Uint32Array, state: number, restricted: boolean): boolean {
    const okLo = firstNot(okBits, 0xffffffff);
    const okHi = lastNonZero(okBits) + 1;
    const infoLo = firstNot(infoBits, 0);
    const infoHi = lastNonZero(infoBits) + 1;
    const words = headerWords + Math.max(0, okHi - okLo) + Math.max(0, infoHi - infoLo);
    if (this.used + words > this.wordsMax) return false;
    if (this.used + words > this.arena.length) this.growArena(this.used + words);
    if (this.count * 2 >= this.table.length) this.growTable();
    if (this.count === this.hashes.length) this.growEntries();
    const at = this.used;
    const arena = this.arena;
    arena[at] = (state << 1) | (restricted ? 1 : 0);
    arena[at + 1] = okLo;
    arena[at + 2] = okHi;
    arena[at + 3] = infoLo;
    arena[at + 4] = infoHi;
    let w = at + headerWords;
    for (let i = okLo; i < okHi; i++) arena[w++] = okBits[i]!;
    for (let i = infoLo; i < infoHi; i++) arena[w++] = infoBits[i]!;
    this.used = w;
    const entry = this.count++;
    this.hashes[entry] = hash;
    this.offsets[entry] = at;
    this.insert(entry, hash);
    return true;
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
      if (this.hashes[entry] === hash && this.matches(this.offsets[entry]!, okBits, infoBits, state, restricted)) return true;
    }
  }

  private matches(at: number, okBits: Uint32Array, infoBits: Uint32Array, state: number, restricted: boolean): boolean {
    const arena = this.arena;
    const head = arena[at]!;
    if (head >>> 1 !== state || ((head & 1) === 1 && !restricted)) return false;
    const okLo = arena[at + 1]!;
    const okHi = arena[at + 2]!;
    let w = at + headerWords;
    // Exact ok bits: ones below okLo, the stored window, zeros from okHi.
    for (let i = 0; i < okLo; i++) if (okBits[i] !== 0xffffffff) return false;
    for (let i = okLo; i < okHi; i++) if (okBits[i] !== arena[w++]) return false;
    for (let i = Math.max(okHi, okLo); i < okBits.length; i++) if (okBits[i] !== 0) return false;
    // Stored info bits must be a subset of ours.
    const infoLo = arena[at + 3]!;
    const infoHi = arena[at + 4]!;
    for (let i = infoLo; i < infoHi; i++) if ((arena[w++]! & ~infoBits[i]!) !== 0) return false;
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

  private growEntries(): void {
    const hashes = new Int32Array(this.hashes.length * 2);
    hashes.set(this.hashes);
    this.hashes = hashes;
    const offsets = new Int32Array(this.offsets.length * 2);
    offsets.set(this.offsets);
    this.offsets = offsets;
  }

  private growArena(wordsMin: number): void {
    let length = this.arena.length * 2;
    while (length < wordsMin) length *= 2;
    const arena = new Uint32Array(Math.min(length, this.wordsMax));
    arena.set(this.arena.subarray(0, this.used));
    this.arena = arena;
  }
}

/** The index of the first word that is not `value` (bits.length when all are). */
function firstNot(bits: Uint32Array, value: number): number {
  let i = 0;
  while (i < bits.length && bits[i] === value) i++;
  return i;
}

/** The index of the last non-zero word (-1 when all are zero). */
function lastNonZero(bits: Uint32Array): number {
  let i = bits.length - 1;
  while (i >= 0 && bits[i] === 0) i--;
  return i;
}
