// The single-node executor over the real cache state machine: read recency reaches the LRU
// only through the bump entry, and memcached's command counters.
import { afterEach, describe, expect, it } from 'vitest';
import type { CacheOp, CacheResult } from '../../src/cache/ops.js';
import { createLocalExecutor } from '../../src/server/local-node.js';
import type { LocalExecutor } from '../../src/server/local-executor.js';

const executors: LocalExecutor[] = [];
afterEach(async () => {
  await Promise.all(executors.splice(0).map((e) => e.close()));
});

function executor(memoryBytesMax = 64 * 1024 * 1024): LocalExecutor {
  const e = createLocalExecutor(memoryBytesMax, 1024 * 1024);
  executors.push(e);
  return e;
}

function run(e: LocalExecutor, ...ops: CacheOp[]): CacheResult[] {
  let out: CacheResult[] | null = null;
  e.execute(ops, (results) => (out = results));
  expect(out).not.toBeNull(); // the local executor answers synchronously
  return out!;
}

const key = (k: string): Buffer => Buffer.from(k);
const set = (k: string, value = 'x'.repeat(100)): CacheOp => ({
  type: 'store', mode: 'set', key: key(k), flags: 0, exptime: 0, value: Buffer.from(value),
});
const get = (k: string): CacheOp => ({ type: 'get', key: key(k) });

function stat(e: LocalExecutor, name: string): string | undefined {
  return e.stats('')!.find(([n]) => n === name)?.[1];
}

describe('LocalExecutor', () => {
  it('gives each write the next index as its CAS', () => {
    const e = executor();
    const [a] = run(e, set('a'));
    const [b] = run(e, set('b'));
    expect(a).toMatchObject({ kind: 'stored' });
    expect((b as { cas: number }).cas).toBe((a as { cas: number }).cas + 1);
    expect(e.appliedIndex).toBe((b as { cas: number }).cas);
  });

  it('moves read keys to the LRU head only through the bump entry', () => {
    // ~175 bytes per item: 40 fit in 10 kB, 80 do not.
    const withBump = executor(10_000);
    const withoutBump = executor(10_000);
    for (const e of [withBump, withoutBump]) {
      for (let i = 0; i < 40; i++) run(e, set(`k${i}`));
      expect(run(e, get('k0'))[0]!.kind).toBe('hit');
    }
    withBump.bump();
    for (const e of [withBump, withoutBump]) for (let i = 40; i < 80; i++) run(e, set(`k${i}`));
    expect(run(withBump, get('k0'))[0]!.kind).toBe('hit');
    expect(run(withoutBump, get('k0'))[0]!.kind).toBe('miss');
    expect(Number(stat(withBump, 'evictions'))).toBeGreaterThan(0);
  });

  it('issue 13: a fetch shows as h1 (and l0) at once, before the bump entry applied; a write clears it', () => {
    const e = executor();
    const access = (k: string): CacheOp => ({ type: 'get', key: key(k), token: true, access: true });
    const fetched = (r: CacheResult): boolean => (r as { item: { fetched: boolean } }).item.fetched;
    run(e, set('h'));
    expect(fetched(run(e, access('h'))[0]!)).toBe(false); // h reports the state before the command
    expect(fetched(run(e, access('h'))[0]!)).toBe(true);
    run(e, set('g'));
    run(e, get('g'));
    const [afterGet] = run(e, access('g'));
    expect(fetched(afterGet!)).toBe(true);
    expect((afterGet as { item: { lastAccessSec: number } }).item.lastAccessSec).toBe(0);
    // A write replaces the item: the fetch was of the old one (memcached: h0 after a set).
    run(e, set('g'));
    expect(fetched(run(e, access('g'))[0]!)).toBe(false);
    // The bump entry carries the marks into the state: still h1 after it.
    run(e, get('b'), set('b'), get('b'));
    e.bump();
    expect(fetched(run(e, access('b'))[0]!)).toBe(true);
  });

  it('issue 13: stats reset zeroes what memcached zeroes (total_items, evictions, ...), not curr_items', () => {
    const e = executor(10_000);
    for (let i = 0; i < 80; i++) run(e, set(`k${i}`));
    run(e, get('k79'));
    expect(Number(stat(e, 'evictions'))).toBeGreaterThan(0);
    const items = stat(e, 'curr_items');
    e.resetStats();
    for (const name of ['total_items', 'evictions', 'evicted_unfetched', 'cmd_get', 'get_hits', 'cmd_set']) expect(stat(e, name)).toBe('0');
    expect(stat(e, 'curr_items')).toBe(items);
    run(e, set('after'));
    expect(stat(e, 'total_items')).toBe('1');
    expect(Number(stat(e, 'evictions'))).toBe(1);
  });

  it('counts commands under memcached stat names', () => {
    const e = executor();
    run(e, set('a'), get('a'), get('nope'));
    run(e, { type: 'store', mode: 'cas', key: key('a'), flags: 0, exptime: 0, value: Buffer.from('1'), cas: 999_999 });
    run(e, { type: 'store', mode: 'cas', key: key('zz'), flags: 0, exptime: 0, value: Buffer.from('1'), cas: 1 });
    run(e, set('n', '5'), { type: 'arith', key: key('n'), incr: true, delta: 2n }, { type: 'arith', key: key('m'), incr: false, delta: 1n });
    run(e, { type: 'touch', key: key('n'), exptime: 100 }, { type: 'delete', key: key('n') }, { type: 'delete', key: key('n') });
    run(e, { type: 'get', key: key('a'), touch: 100 }, { type: 'flush', delay: 0 });
    const stats = Object.fromEntries(e.stats('')!);
    expect(stats).toMatchObject({
      cmd_get: '3', get_hits: '1', get_misses: '1', cmd_set: '4', cas_badval: '1', cas_misses: '1',
      incr_hits: '1', decr_misses: '1', cmd_touch: '2', touch_hits: '2', delete_hits: '1', delete_misses: '1',
      cmd_flush: '1', limit_maxbytes: String(64 * 1024 * 1024), threads: '1',
    });
    expect(e.stats('items')).not.toBeNull();
    expect(e.stats('slabs')).not.toBeNull();
    expect(e.stats('no-such-group')).toBeNull();
  });
});
