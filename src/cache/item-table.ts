/**
 * The items of one group: a hash index, columnar item fields and an intrusive LRU list.
 *
 * Representation, chosen by measurement (test/cache/memory-footprint.mjs, 1,000,000 items
 * of 14-byte keys and 100-byte values):
 * - Each item is a slot number. Per-slot fields live in typed arrays (flags, CAS, write
 *   sequence, expiry, last access, LRU links, flag bits, key length, hash): 51 bytes per
 *   slot, invisible to the garbage collector.
 * - Key and value bytes are ONE latin1 string per item, key first (one byte per char, so
 *   any binary key or value round-trips). One string of 16 header bytes + key + value is
 *   the cheapest exact-size, compacting allocation JS offers; values over
 *   `valueStringBytesMax` keep only the key in the string and the value in a Buffer.
 * - The index is an open-addressing hash table (linear probing, backward-shift deletion)
 *   in an Int32Array of slot numbers, keyed by a seeded murmur3 hash of the key bytes, so
 *   a lookup hashes and compares the request's key Buffer without allocating.
 * Measured (node 20, 1M items, RSS growth per item): the first version (Map<string, slot>
 * plus separate key and value strings) cost 315-334 bytes (heap 197 MB); this layout costs
 * 248-250 bytes (heap 144 MB + 60 MB of typed arrays), 288 MB RSS for the whole process,
 * and sets ran ~1.6x faster (no key string per lookup). memcached itself: ~195 MB.
 *
 * The LRU is a doubly linked list through the `newer`/`older` slot arrays: `head` is the
 * most recently written or bumped item, `tail` the eviction candidate.
 *
 * The table knows nothing of TTLs or protocol semantics; it stores what it is told. Slot
 * numbers and the hash layout are physical: nothing logical (snapshots, digests, scan
 * order) depends on them, so replicas may differ there.
 */
import assert from 'node:assert';

/** No slot (end of a list, absent item). */
export const NIL = -1;

/** Flag bit: the item was read (bumped) since it was written (meta h, *_unfetched stats). */
export const FETCHED = 1;
/** Flag bit: marked stale by a meta invalidation (meta X). */
export const STALE = 2;
/** Flag bit: a win token (meta W) was handed out for this item; later readers see Z. */
export const WIN_SENT = 4;

/** Values longer than this are kept as Buffers instead of inside the item's string. */
export const valueStringBytesMax = 4096;

/** Longest key the table stores (memcached's is 250; binary keys are 16-bit lengths). */
export const keyBytesMax = 0xffff;

/** memcached's item header (48 bytes) plus its 8-byte CAS, counted per item in `bytes`. */
export const itemHeaderBytes = 56;

/** An item's size as memcached's `bytes` stat counts it (header, key+NUL, value+CRLF, flags). */
export function itemBytes(keyBytes: number, valueBytes: number, flags: number): number {
  return itemHeaderBytes + keyBytes + 1 + valueBytes + 2 + (flags === 0 ? 0 : 4);
}

/** murmur3 (32-bit) of `bytes`, seeded: spreads keys over the hash table. */
export function hashKey(bytes: Uint8Array, seed: number): number {
  let h = seed | 0;
  const length = bytes.length;
  const blocksEnd = length & ~3;
  let i = 0;
  for (; i < blocksEnd; i += 4) {
    let k = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = length & 3;
  if (tail !== 0) {
    let k = bytes[i]!;
    if (tail >= 2) k ^= bytes[i + 1]! << 8;
    if (tail === 3) k ^= bytes[i + 2]! << 16;
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
  }
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const slotsInitial = 1024;
const bucketsInitial = 2048;
/** Reused to build item strings (key + value) without intermediate strings. */
let scratch = Buffer.allocUnsafeSlow(8192);

/** latin1 string of key + value (value may be absent for large items). */
function itemText(key: Uint8Array, value: Uint8Array | null): string {
  const length = key.length + (value === null ? 0 : value.length);
  if (scratch.length < length) scratch = Buffer.allocUnsafeSlow(Math.max(length, scratch.length * 2));
  scratch.set(key, 0);
  if (value !== null) scratch.set(value, key.length);
  return scratch.toString('latin1', 0, length);
}

/** Items by key, with their fields in typed arrays and an LRU order. */
export class ItemTable {
  /** Slot -> key + value as latin1 (key only for large values); '' for free slots. */
  private texts: string[] = [];
  /** Values over valueStringBytesMax, by slot. */
  private readonly largeValues = new Map<number, Buffer>();
  private keyLengths = new Uint16Array(slotsInitial);
  private hashes = new Uint32Array(slotsInitial);
  /** Open-addressing index: slot + 1 per bucket, 0 = empty. Load kept at most 1/2. */
  private buckets = new Int32Array(bucketsInitial);
  private bucketMask = bucketsInitial - 1;
  private count = 0;
  flags = new Uint32Array(slotsInitial);
  cas = new Float64Array(slotsInitial);
  /** Write sequence: the state machine's counter when the item was last written (flush). */
  seq = new Float64Array(slotsInitial);
  expiresAtMs = new Float64Array(slotsInitial);
  accessMs = new Float64Array(slotsInitial);
  bits = new Uint8Array(slotsInitial);
  private newer = new Int32Array(slotsInitial).fill(NIL);
  private older = new Int32Array(slotsInitial).fill(NIL);
  /** Free slots form a stack threaded through `older`. */
  private freeHead = NIL;
  private slotsUsed = 0;
  /** Most recently used item. */
  head = NIL;
  /** Least recently used item: the next to evict. */
  tail = NIL;
  /** Sum of itemBytes() over all items. */
  bytes = 0;
  /** Position of the expiry scan: the next slot to examine walking from tail to head. */
  scanCursor = NIL;

  /** @param hashSeed seeds the key hash; a per-process random seed resists hash flooding. */
  constructor(private readonly hashSeed = 0x9747b28c) {}

  /** Number of items. */
  get size(): number {
    return this.count;
  }

  /** The slot of `key`, or NIL. */
  find(key: Uint8Array): number {
    const hash = hashKey(key, this.hashSeed);
    const mask = this.bucketMask;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const entry = this.buckets[i]!;
      if (entry === 0) return NIL;
      const slot = entry - 1;
      if (this.hashes[slot] === hash && this.keyEquals(slot, key)) return slot;
    }
  }

  /** Key length in bytes. */
  keyLength(slot: number): number {
    return this.keyLengths[slot]!;
  }

  /** Value length in bytes. */
  valueLength(slot: number): number {
    const large = this.largeValue(slot);
    return large === undefined ? this.texts[slot]!.length - this.keyLengths[slot]! : large.length;
  }

  /** A copy of the key. */
  keyBytes(slot: number): Buffer {
    return Buffer.from(this.texts[slot]!.slice(0, this.keyLengths[slot]!), 'latin1');
  }

  /** The value: a fresh copy for small values, the stored Buffer (do not mutate) for large. */
  valueBytes(slot: number): Buffer {
    const large = this.largeValue(slot);
    if (large !== undefined) return large;
    const text = this.texts[slot]!;
    const keyLength = this.keyLengths[slot]!;
    if (keyLength === text.length) return Buffer.alloc(0);
    return Buffer.from(text, 'latin1').subarray(keyLength);
  }

  /** The value as a latin1 string (for number parsing). */
  valueText(slot: number): string {
    const large = this.largeValue(slot);
    return large === undefined ? this.texts[slot]!.slice(this.keyLengths[slot]!) : large.toString('latin1');
  }

  /** Writes key then value bytes into `target` at `offset`; returns the bytes written. */
  writeItem(slot: number, target: Buffer, offset: number): number {
    const text = this.texts[slot]!;
    let written = target.write(text, offset, 'latin1');
    const large = this.largeValue(slot);
    if (large !== undefined) written += large.copy(target, offset + written);
    return written;
  }

  /** Size of the item in `slot` as counted in `bytes`. */
  itemBytes(slot: number): number {
    return itemBytes(this.keyLengths[slot]!, this.valueLength(slot), this.flags[slot]!);
  }

  /** Adds a new item (the key must be absent) at the LRU head; the caller fills the numeric fields. */
  insert(key: Uint8Array, value: Uint8Array, flags: number): number {
    assert(key.length <= keyBytesMax, 'key too long for the item table');
    if ((this.count + 1) * 2 > this.buckets.length) this.rehash(this.buckets.length * 2);
    const slot = this.allocateSlot();
    const hash = hashKey(key, this.hashSeed);
    this.hashes[slot] = hash;
    this.keyLengths[slot] = key.length;
    this.storeValue(slot, key, value);
    this.flags[slot] = flags;
    this.bytes += itemBytes(key.length, value.length, flags);
    const mask = this.bucketMask;
    let i = hash & mask;
    while (this.buckets[i] !== 0) i = (i + 1) & mask;
    this.buckets[i] = slot + 1;
    this.count++;
    this.linkHead(slot);
    return slot;
  }

  /** Replaces the value and client flags of an item, keeping its place and other fields. */
  setValue(slot: number, value: Uint8Array, flags: number): void {
    this.bytes -= this.itemBytes(slot);
    const text = this.texts[slot]!;
    const keyLength = this.keyLengths[slot]!;
    const key = Buffer.from(text.length === keyLength ? text : text.slice(0, keyLength), 'latin1');
    this.largeValues.delete(slot);
    this.storeValue(slot, key, value);
    this.flags[slot] = flags;
    this.bytes += this.itemBytes(slot);
  }

  /** Removes the item in `slot`. */
  remove(slot: number): void {
    this.bytes -= this.itemBytes(slot);
    this.removeFromIndex(slot);
    this.count--;
    this.unlink(slot);
    this.texts[slot] = '';
    this.largeValues.delete(slot);
    this.older[slot] = this.freeHead;
    this.freeHead = slot;
  }

  /** Moves the item to the LRU head. */
  moveToHead(slot: number): void {
    if (this.head === slot) return;
    this.unlink(slot);
    this.linkHead(slot);
  }

  /** The next item toward the head (more recently used), or NIL. */
  newerOf(slot: number): number {
    return this.newer[slot]!;
  }

  /** The next item toward the tail (less recently used), or NIL. */
  olderOf(slot: number): number {
    return this.older[slot]!;
  }

  /** Removes every item and resets the table to empty. */
  clear(): void {
    this.texts = [];
    this.largeValues.clear();
    this.buckets = new Int32Array(bucketsInitial);
    this.bucketMask = bucketsInitial - 1;
    this.count = 0;
    this.growTo(slotsInitial, true);
    this.freeHead = NIL;
    this.slotsUsed = 0;
    this.head = NIL;
    this.tail = NIL;
    this.bytes = 0;
    this.scanCursor = NIL;
  }

  private largeValue(slot: number): Buffer | undefined {
    return this.largeValues.size === 0 ? undefined : this.largeValues.get(slot);
  }

  private storeValue(slot: number, key: Uint8Array, value: Uint8Array): void {
    if (value.length <= valueStringBytesMax) {
      this.texts[slot] = itemText(key, value);
      return;
    }
    // An owned copy: the caller's value may be a view into a request or log entry.
    const owned = Buffer.allocUnsafeSlow(value.length);
    owned.set(value);
    this.largeValues.set(slot, owned);
    this.texts[slot] = itemText(key, null);
  }

  private keyEquals(slot: number, key: Uint8Array): boolean {
    const length = key.length;
    if (this.keyLengths[slot] !== length) return false;
    const text = this.texts[slot]!;
    for (let i = 0; i < length; i++) if (text.charCodeAt(i) !== key[i]) return false;
    return true;
  }

  /** Deletes the slot's bucket, shifting later members of its probe run back (no tombstones). */
  private removeFromIndex(slot: number): void {
    const mask = this.bucketMask;
    const buckets = this.buckets;
    let hole = this.hashes[slot]! & mask;
    while (buckets[hole] !== slot + 1) {
      assert(buckets[hole] !== 0, 'slot missing from the hash index');
      hole = (hole + 1) & mask;
    }
    for (let j = (hole + 1) & mask; buckets[j] !== 0; j = (j + 1) & mask) {
      const home = this.hashes[buckets[j]! - 1]! & mask;
      // The entry at j may move to the hole unless its home lies cyclically in (hole, j].
      const stays = hole <= j ? hole < home && home <= j : hole < home || home <= j;
      if (stays) continue;
      buckets[hole] = buckets[j]!;
      hole = j;
    }
    buckets[hole] = 0;
  }

  private rehash(bucketCount: number): void {
    const old = this.buckets;
    const buckets = new Int32Array(bucketCount);
    const mask = bucketCount - 1;
    for (let b = 0; b < old.length; b++) {
      const entry = old[b]!;
      if (entry === 0) continue;
      let i = this.hashes[entry - 1]! & mask;
      while (buckets[i] !== 0) i = (i + 1) & mask;
      buckets[i] = entry;
    }
    this.buckets = buckets;
    this.bucketMask = mask;
  }

  private linkHead(slot: number): void {
    this.older[slot] = this.head;
    this.newer[slot] = NIL;
    if (this.head !== NIL) this.newer[this.head] = slot;
    this.head = slot;
    if (this.tail === NIL) this.tail = slot;
  }

  private unlink(slot: number): void {
    const newer = this.newer[slot]!;
    const older = this.older[slot]!;
    // The expiry scan walks toward the head; it continues with the neighbour.
    if (this.scanCursor === slot) this.scanCursor = newer;
    if (newer === NIL) this.head = older;
    else this.older[newer] = older;
    if (older === NIL) this.tail = newer;
    else this.newer[older] = newer;
    this.newer[slot] = NIL;
    this.older[slot] = NIL;
  }

  private allocateSlot(): number {
    if (this.freeHead !== NIL) {
      const slot = this.freeHead;
      this.freeHead = this.older[slot]!;
      return slot;
    }
    if (this.slotsUsed === this.flags.length) this.growTo(this.flags.length * 2, false);
    return this.slotsUsed++;
  }

  private growTo(slots: number, fresh: boolean): void {
    this.keyLengths = grow(this.keyLengths, new Uint16Array(slots), fresh);
    this.hashes = grow(this.hashes, new Uint32Array(slots), fresh);
    this.flags = grow(this.flags, new Uint32Array(slots), fresh);
    this.cas = grow(this.cas, new Float64Array(slots), fresh);
    this.seq = grow(this.seq, new Float64Array(slots), fresh);
    this.expiresAtMs = grow(this.expiresAtMs, new Float64Array(slots), fresh);
    this.accessMs = grow(this.accessMs, new Float64Array(slots), fresh);
    this.bits = grow(this.bits, new Uint8Array(slots), fresh);
    this.newer = grow(this.newer, new Int32Array(slots).fill(NIL), fresh);
    this.older = grow(this.older, new Int32Array(slots).fill(NIL), fresh);
  }
}

type Column = Uint8Array | Uint16Array | Uint32Array | Int32Array | Float64Array;

function grow<T extends Column>(old: T, next: T, fresh: boolean): T {
  if (!fresh) next.set(old as never);
  return next;
}
