/**
 * Memory limit and LRU eviction: bytes never exceed the limit after an apply, evictions
 * are counted (with evicted_unfetched), dead items at the tail count as reclaimed, and
 * the LRU order decides who goes: bumped (read) keys survive, untouched old ones do not.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CacheOp, GetOp } from '../../src/cache/ops.js';
import { itemBytes } from '../../src/cache/item-table.js';
import { CacheStateMachine } from '../../src/cache/state-machine.js';

const nowMs = 1_700_000_000_000;
const key = (i: number): Buffer => Buffer.from(`key-${String(i).padStart(4, '0')}`);
const set = (k: Buffer, value = Buffer.alloc(100, 'v'), exptime = 0): CacheOp => ({
  type: 'store', mode: 'set', key: k, flags: 0, exptime, value,
});
const get = (k: Buffer): GetOp => ({ type: 'get', key: k });
/** Bytes of one test item: 8-byte key, 100-byte value. */
const oneItemBytes = itemBytes(8, 100, 0);

describe('eviction', () => {
  it('counts bytes like memcached (56-byte header, key+1, value+2, flags)', () => {
    const m = new CacheStateMachine({ memoryBytesMax: 1e9, itemBytesMax: 1 << 20 });
    // memcached 1.6.18: a 14-byte key with a 100-byte value is 173 bytes in `stats bytes`.
    m.apply(set(Buffer.from('abcdefghijklmn')), 1, nowMs);
    expect(m.stats().bytes).toBe(173);
    m.apply({ type: 'delete', key: Buffer.from('abcdefghijklmn') }, 2, nowMs);
    expect(m.stats().bytes).toBe(0);
  });

  it('never exceeds the limit and evicts from the LRU tail', () => {
    const limit = oneItemBytes * 10;
    const m = new CacheStateMachine({ memoryBytesMax: limit, itemBytesMax: 1 << 20 });
    for (let i = 0; i < 30; i++) {
      m.apply(set(key(i)), i + 1, nowMs);
      expect(m.stats().bytes).toBeLessThanOrEqual(limit);
    }
    const stats = m.stats();
    expect(stats.curr_items).toBe(10);
    expect(stats.evictions).toBe(20);
    expect(stats.evicted_unfetched).toBe(20);
    // The 10 most recent survive, the older ones are gone.
    for (let i = 0; i < 20; i++) expect(m.read(get(key(i)), nowMs)).toEqual({ kind: 'miss' });
    for (let i = 20; i < 30; i++) expect(m.read(get(key(i)), nowMs)!.kind).toBe('hit');
  });

  it('keeps bumped keys: a bump moves them to the head and marks them fetched', () => {
    const m = new CacheStateMachine({ memoryBytesMax: oneItemBytes * 4, itemBytesMax: 1 << 20 });
    let index = 0;
    for (let i = 0; i < 4; i++) m.apply(set(key(i)), ++index, nowMs);
    // Reads are pure; the leader's bump entry carries them: keys 0 and 1 were read.
    expect(m.read(get(key(0)), nowMs)!.kind).toBe('hit');
    m.apply({ type: 'bump', keys: [key(0), key(1)] }, ++index, nowMs + 1000);
    m.apply(set(key(4)), ++index, nowMs + 2000);
    m.apply(set(key(5)), ++index, nowMs + 2000);
    const alive = [0, 1, 2, 3, 4, 5].filter((i) => m.read(get(key(i)), nowMs + 2000)!.kind === 'hit');
    expect(alive).toEqual([0, 1, 4, 5]);
    expect(m.stats().evictions).toBe(2);
    expect(m.stats().evicted_unfetched).toBe(2);
    const hit = m.read(get(key(0)), nowMs + 3000);
    expect(hit).toMatchObject({ kind: 'hit', item: { fetched: true, lastAccessSec: 2 } });
  });

  it('counts a fetched item evicted as an eviction but not as unfetched', () => {
    const m = new CacheStateMachine({ memoryBytesMax: oneItemBytes * 2, itemBytesMax: 1 << 20 });
    m.apply(set(key(0)), 1, nowMs);
    m.apply({ type: 'bump', keys: [key(0)] }, 2, nowMs);
    m.apply(set(key(1)), 3, nowMs);
    m.apply(set(key(2)), 4, nowMs);
    expect(m.stats()).toMatchObject({ evictions: 1, evicted_unfetched: 0 });
  });

  it('reclaims expired items at the tail instead of counting them as evictions', () => {
    const m = new CacheStateMachine({ memoryBytesMax: oneItemBytes * 2, itemBytesMax: 1 << 20 });
    m.apply(set(key(0), undefined, 1), 1, nowMs);
    m.apply(set(key(1)), 2, nowMs);
    m.apply(set(key(2)), 3, nowMs + 5000);
    expect(m.stats()).toMatchObject({ evictions: 0, reclaimed: 1, expired_unfetched: 1, curr_items: 2 });
  });

  it('refuses an item larger than the whole memory limit instead of evicting everything', () => {
    const m = new CacheStateMachine({ memoryBytesMax: 300, itemBytesMax: 1 << 20 });
    m.apply(set(key(0)), 1, nowMs);
    const result = m.apply(set(key(1), Buffer.alloc(400)), 2, nowMs);
    expect(result).toEqual({ kind: 'server_error', message: 'out of memory storing object' });
    expect(m.read(get(key(0)), nowMs)!.kind).toBe('hit');
  });

  it('appends that grow items still respect the limit', () => {
    const limit = oneItemBytes * 3;
    const m = new CacheStateMachine({ memoryBytesMax: limit, itemBytesMax: 1 << 20 });
    let index = 0;
    for (let i = 0; i < 3; i++) m.apply(set(key(i)), ++index, nowMs);
    const appended = m.apply({ type: 'store', mode: 'append', key: key(0), flags: 0, exptime: 0, value: Buffer.alloc(50) }, ++index, nowMs);
    expect(appended).toMatchObject({ kind: 'stored', size: 150 });
    expect(m.stats().bytes).toBeLessThanOrEqual(limit);
    expect(m.read(get(key(0)), nowMs)!.kind).toBe('hit');
    expect(m.read(get(key(1)), nowMs)).toEqual({ kind: 'miss' });
  });

  it('holds bytes <= limit for random workloads with random sizes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 200, max: 5000 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 600 }), fc.boolean()), { minLength: 1, maxLength: 200 }),
        (limit, writes) => {
          const m = new CacheStateMachine({ memoryBytesMax: limit, itemBytesMax: 1 << 20 });
          let expectedEvictions = 0;
          writes.forEach(([k, size, bump], i) => {
            const before = m.stats();
            const result = m.apply(bump ? { type: 'bump', keys: [key(k)] } : set(key(k), Buffer.alloc(size)), i + 1, nowMs);
            const after = m.stats();
            expect(after.bytes).toBeLessThanOrEqual(limit);
            if (result.kind === 'stored') expect(m.read(get(key(k)), nowMs)!.kind).toBe('hit');
            expectedEvictions += after.evictions - before.evictions;
          });
          expect(m.stats().evictions).toBe(expectedEvictions);
        },
      ),
      { numRuns: 200 },
    );
  });
});
