/**
 * A plain, obviously-correct model of the cache's reply semantics, written from the
 * memcached protocol text (and the choices documented at the top of
 * src/cache/state-machine.ts), for the property test to compare against op by op.
 *
 * It deliberately shares no code with src/cache and uses different mechanisms: a Map of
 * plain objects, expiry as `null | absolute ms`, flush_all by clearing the map, number
 * parsing with a regular expression. It has no LRU order and no memory limit (the test
 * runs the real machine with a limit large enough never to evict).
 */
import type { ArithOp, CacheOp, CacheResult, DeleteOp, GetOp, ItemView, StoreOp } from '../../src/cache/ops.js';

interface ModelItem {
  value: Buffer;
  flags: number;
  cas: number;
  /** Absolute expiry in ms; null = never. */
  expiresAt: number | null;
  fetched: boolean;
  stale: boolean;
  winSent: boolean;
  accessMs: number;
}

const thirtyDaysSec = 2592000;
const twoTo64 = 2n ** 64n;

/** memcached's exptime rule, spelled out. */
function absoluteExpiry(exptime: number, nowMs: number): number | null {
  if (exptime === 0) return null;
  if (exptime < 0) return nowMs - 1;
  if (exptime <= thirtyDaysSec) return nowMs + exptime * 1000;
  return exptime * 1000;
}

/** safe_strtoull as a regular expression plus memcached's negative-number rule. */
function parseNumber(text: string): bigint | null {
  const match = /^[ \t\n\v\f\r]*([+-]?)([0-9]+)(?:[ \t\n\v\f\r\0]|$)/.exec(text);
  if (match === null) return null;
  const magnitude = BigInt(match[2]!);
  if (magnitude >= twoTo64) return null;
  if (match[1] !== '-') return magnitude;
  const wrapped = magnitude === 0n ? 0n : twoTo64 - magnitude;
  return wrapped >= 2n ** 63n ? null : wrapped;
}

/** The reference cache. */
export class ReferenceCache {
  private items = new Map<string, ModelItem>();
  private casLast = 0;
  private index = 0;
  private lastNowMs = -Infinity;
  private pendingFlushAt: number | null = null;

  constructor(private readonly itemBytesMax: number) {}

  /** The CAS of the live item under `key`, for building CAS tokens in tests. */
  casOf(key: Buffer, nowMs: number): number | null {
    const item = this.live(key.toString('latin1'), Math.max(nowMs, this.lastNowMs));
    return item === null ? null : item.cas;
  }

  /** A pure read, or null when the op must be applied (a stale item with no win sent). */
  read(op: GetOp, nowMs: number): CacheResult | null {
    const now = Math.max(nowMs, this.lastNowMs);
    if (this.pendingFlushAt !== null && now >= this.pendingFlushAt) return { kind: 'miss' };
    const item = this.live(op.key.toString('latin1'), now);
    if (item === null) return { kind: 'miss' };
    if (op.token !== true) return { kind: 'hit', item: this.view(op.key, item, now), win: null };
    if (item.stale && !item.winSent) return null;
    return { kind: 'hit', item: this.view(op.key, item, now), win: item.winSent ? 'Z' : null };
  }

  /** Applies an op as entry `index` at `nowMs`. */
  apply(op: CacheOp, index: number, nowMs: number): CacheResult {
    this.index = index;
    const now = Math.max(nowMs, this.lastNowMs);
    this.lastNowMs = now;
    if (this.pendingFlushAt !== null && now >= this.pendingFlushAt) {
      this.items.clear();
      this.pendingFlushAt = null;
    }
    switch (op.type) {
      case 'get':
        return this.get(op, now);
      case 'store':
        return this.store(op, now);
      case 'delete':
        return this.delete(op, now);
      case 'arith':
        return this.arith(op, now);
      case 'touch': {
        const item = this.live(op.key.toString('latin1'), now);
        if (item === null) return { kind: 'not_found' };
        item.expiresAt = absoluteExpiry(op.exptime, now);
        const view = this.view(op.key, item, now);
        item.fetched = true;
        item.accessMs = now;
        return { kind: 'touched', item: view };
      }
      case 'flush': {
        let at = now;
        if (op.delay > 0) at = op.delay <= thirtyDaysSec ? now + op.delay * 1000 : op.delay * 1000;
        if (at <= now) {
          this.items.clear();
          this.pendingFlushAt = null;
        } else {
          this.pendingFlushAt = at;
        }
        return { kind: 'ok' };
      }
      case 'bump':
        for (const key of op.keys) {
          const item = this.live(key.toString('latin1'), now);
          if (item !== null) {
            item.fetched = true;
            item.accessMs = now;
          }
        }
        return { kind: 'ok' };
      case 'expire':
      case 'limit':
        // The model has no memory limit: its tests never fill the cache.
        return { kind: 'ok' };
    }
  }

  private nextCas(): number {
    this.casLast = Math.max(this.casLast + 1, this.index);
    return this.casLast;
  }

  private live(key: string, now: number): ModelItem | null {
    const item = this.items.get(key);
    if (item === undefined) return null;
    if (item.expiresAt !== null && item.expiresAt <= now) return null;
    return item;
  }

  private view(key: Buffer, item: ModelItem, now: number): ItemView {
    return {
      key: Buffer.from(key),
      value: Buffer.from(item.value),
      flags: item.flags,
      cas: item.cas,
      ttlSec: item.expiresAt === null ? -1 : Math.max(0, Math.ceil((item.expiresAt - now) / 1000)),
      lastAccessSec: Math.max(0, Math.floor((now - item.accessMs) / 1000)),
      fetched: item.fetched,
      stale: item.stale,
    };
  }

  private put(key: string, value: Buffer, flags: number, expiresAt: number | null, now: number, newCas?: number): ModelItem {
    const seq = this.nextCas();
    const item: ModelItem = {
      value: Buffer.from(value),
      flags,
      cas: newCas ?? seq,
      expiresAt,
      fetched: false,
      stale: false,
      winSent: false,
      accessMs: now,
    };
    this.items.set(key, item);
    return item;
  }

  private get(op: GetOp, now: number): CacheResult {
    const key = op.key.toString('latin1');
    let item = this.live(key, now);
    let win: 'W' | 'Z' | null = null;
    if (item === null) {
      if (op.vivify === undefined) return { kind: 'miss' };
      item = this.put(key, Buffer.alloc(0), 0, absoluteExpiry(op.vivify, now), now, op.newCas);
      item.winSent = true;
      win = 'W';
    } else if (op.token === true) {
      if (op.touch !== undefined && op.touchFirst === true) item.expiresAt = absoluteExpiry(op.touch, now);
      if (item.winSent) {
        win = 'Z';
      } else {
        // R: the remaining TTL (before this request's T) is below the token.
        const recacheAt = op.recache !== undefined && op.recache > 0 ? absoluteExpiry(op.recache, now) : null;
        const recacheWins = recacheAt !== null && item.expiresAt !== null && item.expiresAt < recacheAt;
        if (item.stale || recacheWins) {
          item.winSent = true;
          win = 'W';
        }
      }
      if (op.touch !== undefined) item.expiresAt = absoluteExpiry(op.touch, now);
    } else if (op.touch !== undefined) {
      item.expiresAt = absoluteExpiry(op.touch, now);
    }
    const view = this.view(op.key, item, now);
    if (op.noBump !== true) {
      item.fetched = true;
      item.accessMs = now;
    }
    return { kind: 'hit', item: view, win };
  }

  private itemTooLarge(key: Buffer, valueBytes: number, flags: number): boolean {
    return 56 + key.length + 1 + valueBytes + 2 + (flags === 0 ? 0 : 4) > this.itemBytesMax;
  }

  private store(op: StoreOp, now: number): CacheResult {
    const key = op.key.toString('latin1');
    if (this.itemTooLarge(op.key, op.value.length, op.flags)) {
      if (op.mode === 'set' && op.cas === undefined) this.items.delete(key);
      return { kind: 'server_error', message: 'object too large for cache' };
    }
    const item = this.live(key, now);
    const stored = (it: ModelItem): CacheResult => ({ kind: 'stored', cas: it.cas, size: it.value.length });
    const exptime = absoluteExpiry(op.exptime, now);
    const casMode = op.mode === 'cas' || ((op.mode === 'set' || op.mode === 'replace') && op.cas !== undefined);
    if (casMode) {
      if (item === null) return { kind: 'not_found' };
      const token = op.cas ?? 0;
      if (token !== 0 && token === item.cas) return stored(this.put(key, op.value, op.flags, exptime, now, op.newCas));
      if (op.invalidate === true && token > 0 && token < item.cas) {
        const winSent = item.winSent;
        const next = this.put(key, op.value, op.flags, item.expiresAt, now, op.newCas);
        next.stale = true;
        next.winSent = winSent;
        return stored(next);
      }
      return { kind: 'exists' };
    }
    switch (op.mode) {
      case 'set':
        return stored(this.put(key, op.value, op.flags, exptime, now, op.newCas));
      case 'add':
        if (item !== null) {
          item.accessMs = now;
          return { kind: 'not_stored' };
        }
        return stored(this.put(key, op.value, op.flags, exptime, now, op.newCas));
      case 'replace':
        if (item === null) return { kind: 'not_stored' };
        return stored(this.put(key, op.value, op.flags, exptime, now, op.newCas));
      default: {
        if (item === null) {
          if (op.vivify === undefined) return { kind: 'not_stored' };
          return stored(this.put(key, op.value, op.flags, absoluteExpiry(op.vivify, now), now, op.newCas));
        }
        if (op.cas !== undefined && op.cas !== 0 && op.cas !== item.cas) return { kind: 'exists' };
        const value = op.mode === 'append' ? Buffer.concat([item.value, op.value]) : Buffer.concat([op.value, item.value]);
        if (this.itemTooLarge(op.key, value.length, item.flags)) return { kind: 'not_stored' };
        return stored(this.put(key, value, item.flags, item.expiresAt, now, op.newCas));
      }
    }
  }

  private delete(op: DeleteOp, now: number): CacheResult {
    const key = op.key.toString('latin1');
    const item = this.live(key, now);
    if (item === null) return { kind: 'not_found' };
    if (op.cas !== undefined && op.cas !== item.cas) return { kind: 'exists' };
    if (op.invalidate === true) {
      if (op.removeValue === true) {
        item.value = Buffer.alloc(0);
        item.flags = 0;
      }
      if (op.exptime !== undefined) item.expiresAt = absoluteExpiry(op.exptime, now);
      const seq = this.nextCas();
      item.cas = op.newCas ?? seq;
      item.stale = true;
      item.winSent = false;
      return { kind: 'deleted' };
    }
    if (op.removeValue === true) {
      this.put(key, Buffer.alloc(0), 0, item.expiresAt, now, op.newCas);
      return { kind: 'deleted' };
    }
    this.items.delete(key);
    return { kind: 'deleted' };
  }

  private arith(op: ArithOp, now: number): CacheResult {
    const key = op.key.toString('latin1');
    const item = this.live(key, now);
    if (item === null) {
      if (op.vivify === undefined) return { kind: 'not_found' };
      const initial = op.initial ?? 0n;
      const created = this.put(key, Buffer.from(String(initial)), 0, absoluteExpiry(op.exptime ?? op.vivify, now), now, op.newCas);
      return { kind: 'number', value: initial, cas: created.cas, item: this.view(op.key, created, now) };
    }
    // memcached do_add_delta: an empty value is non-numeric before the CAS check.
    if (item.value.length === 0) return { kind: 'client_error', message: 'cannot increment or decrement non-numeric value' };
    if (op.cas !== undefined && op.cas !== 0 && op.cas !== item.cas) return { kind: 'exists' };
    const current = parseNumber(item.value.toString('latin1'));
    if (current === null) return { kind: 'client_error', message: 'cannot increment or decrement non-numeric value' };
    let next: bigint;
    if (op.incr) next = (current + op.delta) % twoTo64;
    else next = op.delta > current ? 0n : current - op.delta;
    const digits = String(next);
    const oldLength = item.value.length;
    const expiresAt = op.exptime === undefined ? item.expiresAt : absoluteExpiry(op.exptime, now);
    let target: ModelItem;
    if (digits.length <= oldLength) {
      // memcached rewrites in place, padding with spaces, and keeps the item's flag bits.
      item.value = Buffer.from(digits.padEnd(oldLength, ' '));
      const seq = this.nextCas();
      item.cas = op.newCas ?? seq;
      item.expiresAt = expiresAt;
      item.accessMs = now;
      target = item;
    } else {
      target = this.put(key, Buffer.from(digits), item.flags, expiresAt, now, op.newCas);
    }
    return { kind: 'number', value: next, cas: target.cas, item: this.view(op.key, target, now) };
  }
}
