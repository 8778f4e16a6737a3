// Fetch marks (src/cache/fetch-marks.ts): the leader's record of reads not yet logged.
import { describe, expect, it } from 'vitest';
import { FetchMarks } from '../../src/cache/fetch-marks.js';
import type { CacheOp, CacheResult } from '../../src/cache/ops.js';

const k = (s: string): Buffer => Buffer.from(s, 'latin1');
const hit = (key: string, lastAccessSec = 9): CacheResult => ({
  kind: 'hit',
  win: null,
  item: { key: k(key), value: k('v'), flags: 0, cas: 1, ttlSec: -1, lastAccessSec, fetched: false, stale: false },
});
const set = (key: string): CacheOp => ({ type: 'store', mode: 'set', key: k(key), flags: 0, exptime: 0, value: k('v') });

describe('FetchMarks', () => {
  it('merges a mark into an h/l answer: fetched, and seconds since the read', () => {
    const marks = new FetchMarks(10);
    marks.note(k('a'), 1_000);
    const r = hit('a');
    marks.merge(r, 3_500);
    expect(r).toMatchObject({ item: { fetched: true, lastAccessSec: 2 } });
    const other = hit('b');
    marks.merge(other, 3_500);
    expect(other).toMatchObject({ item: { fetched: false, lastAccessSec: 9 } });
  });

  it('an entry writing a marked key takes its mark as a bump placed before it; a flush drops all', () => {
    const marks = new FetchMarks(10);
    marks.note(k('a'), 1_000);
    marks.note(k('b'), 2_000);
    marks.note(k('a'), 1_500);
    expect(marks.takeFor([set('a'), set('c')])).toEqual({ type: 'bump', keys: [k('a')], atMs: [1_500] });
    expect(marks.takeFor([set('a')])).toBeNull();
    const r = hit('a');
    marks.merge(r, 2_000);
    expect(r.kind === 'hit' && r.item.fetched).toBe(false);
    expect(marks.takeFor([{ type: 'flush', delay: 0 }])).toBeNull();
    expect(marks.size).toBe(0);
  });

  it('the periodic bump takes every mark, which stays visible until the next one (its entry may not have applied)', () => {
    const marks = new FetchMarks(10);
    marks.note(k('a'), 1_000);
    expect(marks.takeAll()).toEqual({ type: 'bump', keys: [k('a')], atMs: [1_000] });
    const during = hit('a');
    marks.merge(during, 1_200);
    expect(during.kind === 'hit' && during.item.fetched).toBe(true);
    // A write after the bump: the fetch was of the old item.
    marks.takeFor([set('a')]);
    const afterWrite = hit('a');
    marks.merge(afterWrite, 1_300);
    expect(afterWrite.kind === 'hit' && afterWrite.item.fetched).toBe(false);
    marks.note(k('b'), 1_400);
    marks.takeAll();
    expect(marks.takeAll()).toBeNull();
    const later = hit('b');
    marks.merge(later, 2_000);
    expect(later.kind === 'hit' && later.item.fetched).toBe(false);
  });

  it('keeps at most keysMax keys', () => {
    const marks = new FetchMarks(2);
    for (const key of ['a', 'b', 'c']) marks.note(k(key), 1);
    expect(marks.size).toBe(2);
    expect(marks.full).toBe(true);
  });
});
