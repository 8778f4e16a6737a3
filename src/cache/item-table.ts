/**
 * The items of one group: a hash index, columnar item fields and an intrusive LRU list.
 *
 * Representation, chosen by measurement (scripts in test/cache/memory-footprint.ts):
 * - `Map<string, slot>`: the key as a latin1 string (one byte per key byte, so any binary
 *   key round-trips) maps to a small integer slot. A Map whose values are small integers
 *   costs only its hash-table entry per item; no per-item JS object exists.
 * - Per-slot fields live in typed arrays (flags, CAS, write sequence, expiry, last access,
 *   LRU links, flag bits): 45 bytes per slot, invisible to the garbage collector.
 * - Values up to `valueStringBytesMax` are latin1 strings (16 bytes of header, no pointers,
 *   cheap for the GC); larger ones are Buffers of their own. 1M Buffers would cost ~100
 *   bytes of JS objects each plus backing-store bookkeeping; 1M strings cost 16.
 * Measured with 1,000,000 items of 14-byte keys and 100-byte values: ~255 bytes per item
 * over an empty process (see the report in memory-footprint.ts).
 *
 * The LRU is a doubly linked list through the `newer`/`older` slot arrays: `head` is the
 * most recently written or bumped item, `tail` the eviction candidate.
 *
 * The table knows nothing of TTLs or protocol semantics; it stores what it is told.
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

/** Values longer than this are kept as Buffers instead of latin1 strings. */
export const valueStringBytesMax = 4096;

/** memcached's item header (48 bytes) plus its 8-byte CAS, counted per item in `bytes`. */
export const itemHeaderBytes = 56;

/** An item's size as memcached's `bytes` stat counts it (header, key+NUL, value+CRLF, flags). */
export function itemBytes(keyBytes: number, valueBytes: number, flags: number): number {
  return itemHeaderBytes + keyBytes + 1 + valueBytes + 2 + (flags === 0 ? 0 : 4);
}

/** A stored value: latin1 string for small values, an owned Buffer for large ones. */
export type StoredValue = string | Buffer;

/** The stored form of `bytes` (copied: the table never keeps a caller's memory). */
export function storedValue(bytes: Buffer): StoredValue {
  if (bytes.length <= valueStringBytesMax) return bytes.toString('latin1');
  const owned = Buffer.allocUnsafeSlow(bytes.length);
  bytes.copy(owned);
  return owned;
}

/** Length in bytes of a stored value. */
export function storedLength(value: StoredValue): number {
  return value.length;
}

/** The bytes of a stored value, as a Buffer. */
export function storedBytes(value: StoredValue): Buffer {
  return typeof value === 'string' ? Buffer.from(value, 'latin1') : value;
}

/** The stored value as a latin1 string (for number parsing). */
export function storedText(value: StoredValue): string {
  return typeof value === 'string' ? value : value.toString('latin1');
}

const slotsInitial = 1024;

/** Items by key, with their fields in typed arrays and an LRU order. */
export class ItemTable {
  private readonly slotByKey = new Map<string, number>();
  /** Slot -> key; '' for free slots. */
  private keys: string[] = [];
  private values: Array<StoredValue | undefined> = [];
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

  /** Number of items. */
  get size(): number {
    return this.slotByKey.size;
  }

  /** The slot of `key`, or NIL. */
  find(key: string): number {
    const slot = this.slotByKey.get(key);
    return slot === undefined ? NIL : slot;
  }

  key(slot: number): string {
    return this.keys[slot]!;
  }

  value(slot: number): StoredValue {
    return this.values[slot]!;
  }

  /** Size of the item in `slot` as counted in `bytes`. */
  itemBytes(slot: number): number {
    return itemBytes(this.keys[slot]!.length, this.values[slot]!.length, this.flags[slot]!);
  }

  /** Adds a new item at the LRU head; the caller fills the numeric fields. */
  insert(key: string, value: StoredValue, flags: number): number {
    assert(!this.slotByKey.has(key), 'insert of a key already present');
    const slot = this.allocateSlot();
    this.slotByKey.set(key, slot);
    this.keys[slot] = key;
    this.values[slot] = value;
    this.flags[slot] = flags;
    this.bytes += itemBytes(key.length, value.length, flags);
    this.linkHead(slot);
    return slot;
  }

  /** Replaces the value and client flags of an item, keeping its place and other fields. */
  setValue(slot: number, value: StoredValue, flags: number): void {
    this.bytes -= this.itemBytes(slot);
    this.values[slot] = value;
    this.flags[slot] = flags;
    this.bytes += this.itemBytes(slot);
  }

  /** Removes the item in `slot`. */
  remove(slot: number): void {
    const key = this.keys[slot]!;
    assert(this.slotByKey.get(key) === slot, 'remove of a slot not in the index');
    this.bytes -= this.itemBytes(slot);
    this.slotByKey.delete(key);
    this.unlink(slot);
    this.keys[slot] = '';
    this.values[slot] = undefined;
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
    this.slotByKey.clear();
    this.keys = [];
    this.values = [];
    this.growTo(slotsInitial, true);
    this.freeHead = NIL;
    this.slotsUsed = 0;
    this.head = NIL;
    this.tail = NIL;
    this.bytes = 0;
    this.scanCursor = NIL;
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

function grow<T extends Uint8Array | Uint32Array | Int32Array | Float64Array>(old: T, next: T, fresh: boolean): T {
  if (!fresh) next.set(old as never);
  return next;
}
