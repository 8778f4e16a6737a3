/**
 * The group state machine: applies cache ops from the Raft log, deterministically.
 *
 * Contract (DESIGN.md section 3): `apply` reads only its arguments and the prior state, so
 * every replica that applies the same (op, index, nowMs) sequence reaches the same state
 * and the same `digest()`. No clock, randomness or I/O is used here. `read` answers pure
 * reads at the leader without changing anything.
 *
 * How to drive it:
 *   - each committed entry: `applyEntry({ nowMs, ops }, index)` (or `apply` per op with the
 *     entry's index and time); entries without cache ops: `markApplied(index)`;
 *   - leader reads: `read(op, leaderNowMs)`; on null, propose the op instead;
 *   - periodically the leader proposes `{ type: 'bump', keys }` (keys read since the last
 *     bump) and `{ type: 'expire', scanMax }`;
 *   - snapshots: `snapshot()` / `restore(bytes)`; `digest()` to compare replicas.
 *
 * CAS uniques. Each write takes the next value of a counter `casLast`:
 * `max(casLast + 1, index)`. So the CAS of an item is the Raft index of the entry that last
 * wrote it when entries carry one write (the DESIGN.md rule), and the ops of a batched
 * entry still get distinct, increasing values (index, index+1, ...; a later entry then
 * continues above them). Deterministic, monotone, and every write changes the CAS. The
 * counter is part of the snapshot. Meta E (`newCas`) overrides the item's CAS but not the
 * counter. The same counter value is the item's write sequence `seq`, used by flush_all.
 *
 * Time. `nowMs` is the entry's leader timestamp; the machine clamps it to be monotone
 * (a new leader's clock may lag the old one's), so expiry and flush decisions never go
 * backwards. TTLs are converted to absolute ms expiries at apply (see item-time.ts).
 * An item is live when `expiresAtMs > now` and it is not flushed. Dead items read as
 * misses and are removed when an applied op touches them, by eviction, or by `expire`.
 *
 * flush_all. An immediate flush invalidates every item written before it: items whose
 * `seq` is below `flushSeq`. A delayed flush is pending with its time `pendingFlushAtMs`;
 * the first apply at or after that time turns it into a `flushSeq` boundary (every item
 * written so far was written before the flush time, because entry times are monotone),
 * and a read at or after that time sees everything as flushed. A new flush_all replaces a
 * pending one (memcached keeps one `oldest_live`), but never revives flushed items.
 *
 * Memory. `bytes` counts items like memcached does (56-byte header, key, value, CRLF,
 * flags); after an apply, while bytes > memoryBytesMax, the LRU tail is removed (dead
 * items count as reclaimed, live ones as evictions). A value whose item would exceed
 * itemBytesMax gets SERVER_ERROR object too large for cache. The limit starts at the
 * config's and changes only through a logged `limit` op (the leader proposes the group's
 * share of its replicas' -m), so it is part of the state: snapshots carry it.
 *
 * Deviations from memcached, on purpose: the LRU is one flat list (memcached's is
 * segmented per slab class); reads bump the LRU through the leader's `bump` op;
 * incr/decr of a missing key with `vivify` answers the initial value (as meta N does).
 */
import assert from 'node:assert';
import { applyDelta, counterText, parseCounter } from './counter-value.js';
import { elapsedSec, expiryMs, flushAtMs, ttlSec } from './item-time.js';
import { FETCHED, ItemTable, NIL, STALE, WIN_SENT, itemBytes } from './item-table.js';
import type {
  ArithOp,
  BumpOp,
  CacheOp,
  CacheResult,
  DeleteOp,
  ExpireOp,
  FlushOp,
  GetOp,
  ItemView,
  LimitOp,
  StoreOp,
  TouchOp,
  WinFlag,
} from './ops.js';
import { opMutates } from './ops.js';
import { decodeSnapshot, encodeSnapshot, snapshotDigest } from './snapshot-codec.js';
import type { CacheEntry } from './op-codec.js';

/** Limits of one group's cache. */
export interface CacheConfig {
  /** memcached -m: bytes of items (as `bytes` counts them) before evicting. */
  memoryBytesMax: number;
  /** memcached -I: the largest item (header + key + value) accepted. */
  itemBytesMax: number;
  /** Seed of the key hash (physical layout only, never visible in state): random per process resists hash flooding. */
  hashSeed?: number;
}

/** The state machine's figures for memcached `stats`, under memcached's names. */
export interface CacheStats {
  curr_items: number;
  total_items: number;
  bytes: number;
  limit_maxbytes: number;
  evictions: number;
  evicted_unfetched: number;
  expired_unfetched: number;
  reclaimed: number;
  crawler_reclaimed: number;
  crawler_items_checked: number;
}

/** Counters kept across apply, in snapshot order. */
export interface CacheCounters {
  totalItems: number;
  evictions: number;
  evictedUnfetched: number;
  expiredUnfetched: number;
  reclaimed: number;
  crawlerReclaimed: number;
  crawlerItemsChecked: number;
}

/** Every scalar of the state besides the items; what a snapshot carries next to them. */
export interface CacheScalars {
  appliedIndex: number;
  casLast: number;
  lastNowMs: number;
  flushSeq: number;
  pendingFlushAtMs: number;
  counters: CacheCounters;
  /** The memory limit in force (a `limit` op changes it); absent in version-2 snapshots. */
  memoryBytesMax?: number;
}

const emptyBuffer = Buffer.alloc(0);
const nonNumericMessage = 'cannot increment or decrement non-numeric value';
const tooLargeMessage = 'object too large for cache';
const outOfMemoryMessage = 'out of memory storing object';
const missResult: CacheResult = { kind: 'miss' };
const notFoundResult: CacheResult = { kind: 'not_found' };
const notStoredResult: CacheResult = { kind: 'not_stored' };
const existsResult: CacheResult = { kind: 'exists' };
const deletedResult: CacheResult = { kind: 'deleted' };
const okResult: CacheResult = { kind: 'ok' };

/** How a supplied CAS compares with the item's (memcached's do_store_item classes). */
const enum CasCheck {
  None,
  Match,
  Stale,
  BadValue,
}

function freshCounters(): CacheCounters {
  return {
    totalItems: 0,
    evictions: 0,
    evictedUnfetched: 0,
    expiredUnfetched: 0,
    reclaimed: 0,
    crawlerReclaimed: 0,
    crawlerItemsChecked: 0,
  };
}

/** The deterministic cache of one group (see the module doc). */
export class CacheStateMachine {
  private readonly items: ItemTable;
  /** Changed only by a logged `limit` op (and restore), so equal on every replica at equal index. */
  private memoryBytesMax: number;
  private readonly itemBytesMax: number;
  private appliedIndexValue = 0;
  /** Index of the entry being applied (CAS base). */
  private entryIndex = 0;
  private casLast = 0;
  private lastNowMs = -Infinity;
  /** Items with seq below this are flushed. */
  private flushSeq = 0;
  private pendingFlushAtMs = Infinity;
  private counters = freshCounters();

  constructor(config: CacheConfig) {
    assert(config.memoryBytesMax > 0 && config.itemBytesMax > 0, 'cache limits must be positive');
    this.memoryBytesMax = config.memoryBytesMax;
    this.itemBytesMax = config.itemBytesMax;
    this.items = new ItemTable(config.hashSeed);
  }

  /** Index of the last entry applied (or marked applied). */
  get appliedIndex(): number {
    return this.appliedIndexValue;
  }

  /** Applies a logged op at (index, nowMs). Deterministic: the same sequence gives the same state. */
  apply(op: CacheOp, index: number, nowMs: number): CacheResult {
    this.markApplied(index);
    this.entryIndex = index;
    const now = this.advanceClock(nowMs);
    const result = this.dispatch(op, now);
    if (this.items.bytes > this.memoryBytesMax) this.evict(now);
    return result;
  }

  /** Applies every op of a log entry, in order; one result per op. */
  applyEntry(entry: CacheEntry, index: number): CacheResult[] {
    const results: CacheResult[] = new Array(entry.ops.length);
    for (let i = 0; i < entry.ops.length; i++) results[i] = this.apply(entry.ops[i]!, index, entry.nowMs);
    if (entry.ops.length === 0) this.markApplied(index);
    return results;
  }

  /** Records that entry `index` (which holds no cache op) has been applied. */
  markApplied(index: number): void {
    // Not assert(cond, `...`): the message would be built on every apply.
    if (index < this.appliedIndexValue) assert.fail(`apply index ${index} below applied ${this.appliedIndexValue}`);
    this.appliedIndexValue = index;
  }

  /**
   * A pure read (GetOp without touch/vivify/recache) at time nowMs (the leader's clock):
   * never changes state; returns null when answering would change state (a meta get of a
   * stale item whose win flag has not been handed out yet): apply the op through the log
   * instead.
   */
  read(op: GetOp, nowMs: number): CacheResult | null {
    assert(!opMutates(op), 'read() takes only pure gets');
    const now = Math.max(nowMs, this.lastNowMs);
    if (this.pendingFlushAtMs <= now) return missResult;
    const slot = this.items.find(op.key);
    if (slot === NIL || !this.isLive(slot, now)) return missResult;
    const bits = this.items.bits[slot]!;
    if (op.token !== true) return { kind: 'hit', item: this.view(slot, op.key, now), win: null };
    if ((bits & STALE) !== 0 && (bits & WIN_SENT) === 0) return null;
    return { kind: 'hit', item: this.view(slot, op.key, now), win: (bits & WIN_SENT) !== 0 ? 'Z' : null };
  }

  /** Encodes the whole state (items in LRU order, counters, appliedIndex) with msgpackr. */
  snapshot(): Uint8Array {
    return encodeSnapshot(this.items, this.scalars());
  }

  /** Replaces the state by a snapshot's. */
  restore(data: Uint8Array): void {
    const scalars = decodeSnapshot(data, this.items);
    this.appliedIndexValue = scalars.appliedIndex;
    this.entryIndex = scalars.appliedIndex;
    this.casLast = scalars.casLast;
    this.lastNowMs = scalars.lastNowMs;
    this.flushSeq = scalars.flushSeq;
    this.pendingFlushAtMs = scalars.pendingFlushAtMs;
    this.counters = { ...scalars.counters };
    if (scalars.memoryBytesMax !== undefined) this.memoryBytesMax = scalars.memoryBytesMax;
  }

  /** A digest (hex string) of the full logical state, equal on replicas at equal appliedIndex. */
  digest(): string {
    return snapshotDigest(this.snapshot());
  }

  /** Figures for memcached `stats`, under memcached's names. */
  stats(): CacheStats {
    const c = this.counters;
    return {
      curr_items: this.items.size,
      total_items: c.totalItems,
      bytes: this.items.bytes,
      limit_maxbytes: this.memoryBytesMax,
      evictions: c.evictions,
      evicted_unfetched: c.evictedUnfetched,
      expired_unfetched: c.expiredUnfetched,
      reclaimed: c.reclaimed,
      crawler_reclaimed: c.crawlerReclaimed,
      crawler_items_checked: c.crawlerItemsChecked,
    };
  }

  private scalars(): CacheScalars {
    return {
      appliedIndex: this.appliedIndexValue,
      casLast: this.casLast,
      lastNowMs: this.lastNowMs,
      flushSeq: this.flushSeq,
      pendingFlushAtMs: this.pendingFlushAtMs,
      counters: this.counters,
      memoryBytesMax: this.memoryBytesMax,
    };
  }

  private dispatch(op: CacheOp, now: number): CacheResult {
    switch (op.type) {
      case 'get':
        return this.applyGet(op, now);
      case 'store':
        return this.applyStore(op, now);
      case 'delete':
        return this.applyDelete(op, now);
      case 'arith':
        return this.applyArith(op, now);
      case 'touch':
        return this.applyTouch(op, now);
      case 'flush':
        return this.applyFlush(op, now);
      case 'bump':
        return this.applyBump(op, now);
      case 'expire':
        return this.applyExpire(op, now);
      case 'limit':
        return this.applyLimit(op);
    }
  }

  /** Monotone entry time; a pending flush whose time has come becomes a seq boundary. */
  private advanceClock(nowMs: number): number {
    const now = Math.max(nowMs, this.lastNowMs);
    this.lastNowMs = now;
    if (this.pendingFlushAtMs <= now) {
      this.flushSeq = this.casLast + 1;
      this.pendingFlushAtMs = Infinity;
    }
    return now;
  }

  /** The next write sequence / CAS unique (see the module doc). */
  private nextSeq(): number {
    this.casLast = Math.max(this.casLast + 1, this.entryIndex);
    return this.casLast;
  }

  private isLive(slot: number, now: number): boolean {
    return this.items.expiresAtMs[slot]! > now && this.items.seq[slot]! >= this.flushSeq;
  }

  /** The live item's slot, or NIL; a dead item found on the way is removed. */
  private findLive(key: Buffer, now: number): number {
    const slot = this.items.find(key);
    if (slot === NIL || this.isLive(slot, now)) return slot;
    this.removeDead(slot);
    return NIL;
  }

  private removeDead(slot: number): void {
    this.counters.reclaimed++;
    if ((this.items.bits[slot]! & FETCHED) === 0) this.counters.expiredUnfetched++;
    this.items.remove(slot);
  }

  /** Marks the item read: LRU head, fetched, last access now (what a bump does). */
  private bump(slot: number, now: number): void {
    this.items.bits[slot]! |= FETCHED;
    this.items.accessMs[slot] = now;
    this.items.moveToHead(slot);
  }

  /** Writes the numeric fields of a freshly (re)written item and moves it to the head. */
  private written(slot: number, exptimeAtMs: number, newCas: number | undefined, bits: number, now: number): number {
    const seq = this.nextSeq();
    const cas = newCas ?? seq;
    const items = this.items;
    items.seq[slot] = seq;
    items.cas[slot] = cas;
    items.expiresAtMs[slot] = exptimeAtMs;
    items.accessMs[slot] = now;
    items.bits[slot] = bits;
    items.moveToHead(slot);
    return cas;
  }

  /** Stores a whole new value under `key` (new item, or replacing `slot`). Returns the slot. */
  private storeItem(key: Buffer, slot: number, value: Buffer, flags: number, expiresAtMs: number, newCas: number | undefined, bits: number, now: number): number {
    if (slot === NIL) slot = this.items.insert(key, value, flags);
    else this.items.setValue(slot, value, flags);
    this.counters.totalItems++;
    this.written(slot, expiresAtMs, newCas, bits, now);
    return slot;
  }

  /** What a reply needs of the item; `key` is the request's key, copied (never pins a request buffer). */
  private view(slot: number, key: Buffer, now: number): ItemView {
    const items = this.items;
    const bits = items.bits[slot]!;
    return {
      key: Buffer.from(key),
      value: items.valueBytes(slot),
      flags: items.flags[slot]!,
      cas: items.cas[slot]!,
      ttlSec: ttlSec(items.expiresAtMs[slot]!, now),
      lastAccessSec: elapsedSec(items.accessMs[slot]!, now),
      fetched: (bits & FETCHED) !== 0,
      stale: (bits & STALE) !== 0,
    };
  }

  private applyGet(op: GetOp, now: number): CacheResult {
    const key = op.key;
    const slot = this.findLive(key, now);
    if (slot === NIL) return op.vivify === undefined ? missResult : this.vivifyGet(key, op, now);
    const items = this.items;
    // memcached applies meta flags in the order given: R judges the TTL before T unless T
    // came first (mg k T100 R2000 wins on an item that had no TTL).
    if (op.touch !== undefined && op.touchFirst === true) items.expiresAtMs[slot] = expiryMs(op.touch, now);
    const win = op.token === true ? this.takeToken(slot, op.recache, now) : null;
    if (op.touch !== undefined && op.touchFirst !== true) items.expiresAtMs[slot] = expiryMs(op.touch, now);
    const item = this.view(slot, op.key, now);
    if (op.noBump !== true) this.bump(slot, now);
    return { kind: 'hit', item, win };
  }

  /** A meta get's win flag: Z once handed out, else W (and handed out) when stale or R says so. */
  private takeToken(slot: number, recache: number | undefined, now: number): WinFlag {
    const items = this.items;
    if ((items.bits[slot]! & WIN_SENT) !== 0) return 'Z';
    if ((items.bits[slot]! & STALE) === 0 && !this.recacheWins(slot, recache, now)) return null;
    items.bits[slot]! |= WIN_SENT;
    return 'W';
  }

  /** meta R: the item's remaining TTL is below the token (memcached: exptime < realtime(R)). */
  private recacheWins(slot: number, recache: number | undefined, now: number): boolean {
    if (recache === undefined || recache <= 0) return false;
    const expiresAtMs = this.items.expiresAtMs[slot]!;
    return expiresAtMs !== Infinity && expiresAtMs < expiryMs(recache, now);
  }

  /** meta N on a miss: an empty stub item, and this client wins the recache. */
  private vivifyGet(key: Buffer, op: GetOp, now: number): CacheResult {
    // The item gets N's TTL; T updates an item only on a hit (protocol text: "if hit").
    const expiresAtMs = expiryMs(op.vivify!, now);
    const slot = this.storeItem(key, NIL, emptyBuffer, 0, expiresAtMs, op.newCas, WIN_SENT, now);
    const item = this.view(slot, op.key, now);
    if (op.noBump !== true) this.bump(slot, now);
    return { kind: 'hit', item, win: 'W' };
  }

  private applyStore(op: StoreOp, now: number): CacheResult {
    const key = op.key;
    const flags = op.flags >>> 0;
    const size = itemBytes(op.key.length, op.value.length, flags);
    if (size > this.itemBytesMax) return this.refuseTooLarge(key, op);
    if (size > this.memoryBytesMax) return { kind: 'server_error', message: outOfMemoryMessage };
    const slot = this.findLive(key, now);
    // memcached: a CAS token turns set and replace into cas; add ignores it.
    const mode = (op.mode === 'set' || op.mode === 'replace') && op.cas !== undefined ? 'cas' : op.mode;
    if (slot === NIL) return this.storeMissing(key, op, mode, flags, now);
    switch (mode) {
      case 'add':
        // memcached bumps the existing item to the LRU head on a failed add.
        this.items.accessMs[slot] = now;
        this.items.moveToHead(slot);
        return notStoredResult;
      case 'cas':
        return this.storeCas(key, slot, op, flags, now);
      case 'append':
      case 'prepend':
        return this.storeConcat(key, slot, op, now);
      default:
        return this.stored(this.storeItem(key, slot, op.value, flags, expiryMs(op.exptime, now), op.newCas, 0, now), op.value.length);
    }
  }

  /** memcached: too large; a plain set also drops the old value so it cannot be read stale. */
  private refuseTooLarge(key: Buffer, op: StoreOp): CacheResult {
    if (op.mode === 'set' && op.cas === undefined) {
      const slot = this.items.find(key);
      if (slot !== NIL) this.items.remove(slot);
    }
    return { kind: 'server_error', message: tooLargeMessage };
  }

  private storeMissing(key: Buffer, op: StoreOp, mode: StoreOp['mode'], flags: number, now: number): CacheResult {
    switch (mode) {
      case 'set':
      case 'add':
        return this.stored(this.storeItem(key, NIL, op.value, flags, expiryMs(op.exptime, now), op.newCas, 0, now), op.value.length);
      case 'cas':
        return notFoundResult;
      case 'append':
      case 'prepend':
        if (op.vivify === undefined) return notStoredResult;
        return this.stored(this.storeItem(key, NIL, op.value, flags, expiryMs(op.vivify, now), op.newCas, 0, now), op.value.length);
      default:
        return notStoredResult;
    }
  }

  private casCheck(slot: number, cas: number | undefined, invalidate: boolean | undefined): CasCheck {
    if (cas === undefined || cas === 0) return CasCheck.None;
    const itemCas = this.items.cas[slot]!;
    if (cas === itemCas) return CasCheck.Match;
    // A CAS above 2^53 arrives as -1 and never matches nor counts as older.
    if (invalidate === true && cas > 0 && cas < itemCas) return CasCheck.Stale;
    return CasCheck.BadValue;
  }

  private storeCas(key: Buffer, slot: number, op: StoreOp, flags: number, now: number): CacheResult {
    const check = this.casCheck(slot, op.cas, op.invalidate);
    if (check === CasCheck.Match) {
      return this.stored(this.storeItem(key, slot, op.value, flags, expiryMs(op.exptime, now), op.newCas, 0, now), op.value.length);
    }
    if (check !== CasCheck.Stale) return existsResult;
    // meta I with an older CAS: store, but as stale, keeping the TTL and a handed-out win.
    const items = this.items;
    const bits = STALE | (items.bits[slot]! & WIN_SENT);
    return this.stored(this.storeItem(key, slot, op.value, flags, items.expiresAtMs[slot]!, op.newCas, bits, now), op.value.length);
  }

  private storeConcat(key: Buffer, slot: number, op: StoreOp, now: number): CacheResult {
    const check = this.casCheck(slot, op.cas, false);
    if (check !== CasCheck.None && check !== CasCheck.Match) return existsResult;
    const items = this.items;
    const old = items.valueBytes(slot);
    const flags = items.flags[slot]!;
    const size = itemBytes(op.key.length, old.length + op.value.length, flags);
    if (size > this.itemBytesMax || size > this.memoryBytesMax) return notStoredResult;
    const value = op.mode === 'append' ? Buffer.concat([old, op.value]) : Buffer.concat([op.value, old]);
    return this.stored(this.storeItem(key, slot, value, flags, items.expiresAtMs[slot]!, op.newCas, 0, now), value.length);
  }

  private stored(slot: number, size: number): CacheResult {
    return { kind: 'stored', cas: this.items.cas[slot]!, size };
  }

  private applyDelete(op: DeleteOp, now: number): CacheResult {
    const slot = this.findLive(op.key, now);
    if (slot === NIL) return notFoundResult;
    const items = this.items;
    if (op.cas !== undefined && op.cas !== items.cas[slot]) return existsResult;
    if (op.invalidate === true) return this.invalidate(slot, op, now);
    if (op.removeValue === true) {
      // memcached replaces the item by an empty one: new CAS, fresh flags, same TTL.
      items.setValue(slot, emptyBuffer, 0);
      this.written(slot, items.expiresAtMs[slot]!, op.newCas, 0, now);
      return deletedResult;
    }
    items.remove(slot);
    return deletedResult;
  }

  /** meta I: mark stale and bump the CAS, so the next meta get wins the recache. */
  private invalidate(slot: number, op: DeleteOp, now: number): CacheResult {
    const items = this.items;
    if (op.removeValue === true) items.setValue(slot, emptyBuffer, 0);
    if (op.exptime !== undefined) items.expiresAtMs[slot] = expiryMs(op.exptime, now);
    const seq = this.nextSeq();
    items.seq[slot] = seq;
    items.cas[slot] = op.newCas ?? seq;
    items.bits[slot] = (items.bits[slot]! | STALE) & ~WIN_SENT;
    return deletedResult;
  }

  private applyArith(op: ArithOp, now: number): CacheResult {
    const slot = this.findLive(op.key, now);
    if (slot === NIL) return op.vivify === undefined ? notFoundResult : this.vivifyArith(op, now);
    const items = this.items;
    // memcached do_add_delta: an empty value is non-numeric before any CAS check; a CAS of
    // 0 means "no check"; then the value must parse.
    if (items.valueLength(slot) === 0) return { kind: 'client_error', message: nonNumericMessage };
    if (op.cas !== undefined && op.cas !== 0 && op.cas !== items.cas[slot]) return existsResult;
    const oldText = items.valueText(slot);
    const current = parseCounter(oldText);
    if (current === null) return { kind: 'client_error', message: nonNumericMessage };
    const value = applyDelta(current, op.delta, op.incr);
    const text = counterText(value, oldText.length);
    // Written in place (padded) when it fits, keeping the item's flag bits; else a new item.
    const bits = text.length === oldText.length ? items.bits[slot]! : 0;
    items.setValue(slot, Buffer.from(text, 'latin1'), items.flags[slot]!);
    if (text.length !== oldText.length) this.counters.totalItems++;
    const expiresAtMs = op.exptime === undefined ? items.expiresAtMs[slot]! : expiryMs(op.exptime, now);
    const cas = this.written(slot, expiresAtMs, op.newCas, bits, now);
    return { kind: 'number', value, cas, item: this.view(slot, op.key, now) };
  }

  /** incr/decr miss with vivify: create the item holding the initial value. */
  private vivifyArith(op: ArithOp, now: number): CacheResult {
    const value = op.initial ?? 0n;
    // Created with N's TTL, then T "updates the TTL on success" (memcached: ma k N0 T100 -> t100).
    const expiresAtMs = expiryMs(op.exptime ?? op.vivify!, now);
    const slot = this.storeItem(op.key, NIL, Buffer.from(value.toString(), 'latin1'), 0, expiresAtMs, op.newCas, 0, now);
    return { kind: 'number', value, cas: this.items.cas[slot]!, item: this.view(slot, op.key, now) };
  }

  private applyTouch(op: TouchOp, now: number): CacheResult {
    const slot = this.findLive(op.key, now);
    if (slot === NIL) return notFoundResult;
    this.items.expiresAtMs[slot] = expiryMs(op.exptime, now);
    const item = this.view(slot, op.key, now);
    this.bump(slot, now);
    return { kind: 'touched', item };
  }

  private applyFlush(op: FlushOp, now: number): CacheResult {
    const atMs = flushAtMs(op.delay, now);
    if (atMs <= now) {
      this.flushSeq = this.casLast + 1;
      this.pendingFlushAtMs = Infinity;
    } else {
      this.pendingFlushAtMs = atMs;
    }
    return okResult;
  }

  /** Marks the keys read (fetched, LRU head) with their read times, never later than the entry's. */
  private applyBump(op: BumpOp, now: number): CacheResult {
    const atMs = op.atMs;
    for (let i = 0; i < op.keys.length; i++) {
      const slot = this.findLive(op.keys[i]!, now);
      if (slot === NIL) continue;
      const readMs = atMs === undefined ? now : Math.min(atMs[i] ?? now, now);
      this.bump(slot, Math.max(readMs, this.items.accessMs[slot]!));
    }
    return okResult;
  }

  /** Examines up to scanMax items from the scan cursor toward the head, removing dead ones. */
  private applyExpire(op: ExpireOp, now: number): CacheResult {
    const items = this.items;
    let slot = items.scanCursor === NIL ? items.tail : items.scanCursor;
    for (let examined = 0; slot !== NIL && examined < op.scanMax; examined++) {
      const newer = items.newerOf(slot);
      this.counters.crawlerItemsChecked++;
      if (!this.isLive(slot, now)) {
        this.counters.crawlerReclaimed++;
        this.removeDead(slot);
      }
      slot = newer;
    }
    items.scanCursor = slot;
    return okResult;
  }

  /** A new memory limit; apply() then evicts down to it like after any write. */
  private applyLimit(op: LimitOp): CacheResult {
    assert(Number.isSafeInteger(op.memoryBytesMax) && op.memoryBytesMax > 0, 'limit op needs a positive byte count');
    this.memoryBytesMax = op.memoryBytesMax;
    return okResult;
  }

  /** Removes items from the LRU tail until bytes fit the memory limit. */
  private evict(now: number): void {
    const items = this.items;
    while (items.bytes > this.memoryBytesMax && items.tail !== NIL) {
      const slot = items.tail;
      if (!this.isLive(slot, now)) {
        this.removeDead(slot);
        continue;
      }
      this.counters.evictions++;
      if ((items.bits[slot]! & FETCHED) === 0) this.counters.evictedUnfetched++;
      items.remove(slot);
    }
  }
}
