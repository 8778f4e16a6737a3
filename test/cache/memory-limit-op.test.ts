/**
 * The logged `limit` op (issue 15): a group's memory limit changes at a log index, evicts
 * down to it there, travels in snapshots (so a replica restored from one evicts alike),
 * and is decoded from a version-2 snapshot (no limit) as the cache's own.
 */
import { describe, expect, it } from 'vitest';
import { decodeEntry, encodeEntry } from '../../src/cache/op-codec.js';
import type { CacheOp } from '../../src/cache/ops.js';
import { CacheStateMachine } from '../../src/cache/state-machine.js';

const nowMs = 1_700_000_000_000;
const set = (i: number): CacheOp => ({ type: 'store', mode: 'set', key: Buffer.from(`key-${i}`), flags: 0, exptime: 0, value: Buffer.alloc(100, 'v') });

describe('limit op', () => {
  it('lowers the limit at its index, evicting from the LRU tail there, and raises it again', () => {
    const m = new CacheStateMachine({ memoryBytesMax: 1 << 20, itemBytesMax: 1 << 16 });
    for (let i = 1; i <= 100; i++) m.apply(set(i), i, nowMs);
    const full = m.stats().bytes;
    m.apply({ type: 'limit', memoryBytesMax: Math.floor(full / 2) }, 101, nowMs);
    expect(m.stats().limit_maxbytes).toBe(Math.floor(full / 2));
    expect(m.stats().bytes).toBeLessThanOrEqual(full / 2);
    expect(m.stats().evictions).toBeGreaterThan(40);
    // The oldest went: key-1 is a miss, key-100 a hit.
    expect(m.read({ type: 'get', key: Buffer.from('key-1') }, nowMs)!.kind).toBe('miss');
    expect(m.read({ type: 'get', key: Buffer.from('key-100') }, nowMs)!.kind).toBe('hit');
    m.apply({ type: 'limit', memoryBytesMax: 1 << 20 }, 102, nowMs);
    for (let i = 200; i < 300; i++) m.apply(set(i), i, nowMs);
    expect(m.stats().evictions).toBeLessThan(60);
  });

  it('travels in snapshots: a restored replica evicts like the original', () => {
    const a = new CacheStateMachine({ memoryBytesMax: 1 << 20, itemBytesMax: 1 << 16 });
    for (let i = 1; i <= 50; i++) a.apply(set(i), i, nowMs);
    a.apply({ type: 'limit', memoryBytesMax: 4000 }, 51, nowMs);
    const b = new CacheStateMachine({ memoryBytesMax: 1 << 20, itemBytesMax: 1 << 16 });
    b.restore(a.snapshot());
    expect(b.stats().limit_maxbytes).toBe(4000);
    for (let i = 60; i < 90; i++) {
      a.apply(set(i), i, nowMs);
      b.apply(set(i), i, nowMs);
    }
    expect(b.digest()).toBe(a.digest());
    expect(b.stats().bytes).toBeLessThanOrEqual(4000);
  });

  it('round-trips through the entry codec', () => {
    const entry = { nowMs, ops: [{ type: 'limit', memoryBytesMax: 123_456_789 } as CacheOp] };
    expect(decodeEntry(encodeEntry(entry))).toEqual(entry);
  });
});
