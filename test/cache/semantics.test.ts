/**
 * Scenario tests of the cache semantics, one behaviour per case, with expectations taken
 * from the memcached protocol text and from memcached 1.6.18 itself (the reply it gave is
 * quoted next to each meta case).
 */
import { describe, expect, it } from 'vitest';
import type { CacheOp, CacheResult, GetOp } from '../../src/cache/ops.js';
import { CacheStateMachine } from '../../src/cache/state-machine.js';

const t0 = 1_700_000_000_000;
const k = (s: string): Buffer => Buffer.from(s, 'latin1');

/** A machine driven like a single-node leader: one index per applied op, explicit time. */
class Driver {
  readonly machine = new CacheStateMachine({ memoryBytesMax: 1 << 30, itemBytesMax: 1024 * 1024 });
  index = 0;
  nowMs = t0;

  apply(op: CacheOp): CacheResult {
    return this.machine.apply(op, ++this.index, this.nowMs);
  }

  /** A get as the server runs it: read() first, apply when declined. */
  get(key: string, extra: Partial<GetOp> = {}): CacheResult {
    const op: GetOp = { type: 'get', key: k(key), ...extra };
    if (extra.touch === undefined && extra.vivify === undefined && extra.recache === undefined) {
      const read = this.machine.read(op, this.nowMs);
      if (read !== null) return read;
    }
    return this.apply(op);
  }

  /** A meta get (mg): takes part in the win token protocol. */
  mg(key: string, extra: Partial<GetOp> = {}): CacheResult {
    return this.get(key, { token: true, ...extra });
  }

  set(key: string, value: string, extra: Partial<Extract<CacheOp, { type: 'store' }>> = {}): CacheResult {
    return this.apply({ type: 'store', mode: 'set', key: k(key), flags: 0, exptime: 0, value: k(value), ...extra });
  }

  value(key: string): string | null {
    const r = this.machine.read({ type: 'get', key: k(key), noBump: true }, this.nowMs);
    return r !== null && r.kind === 'hit' ? r.item.value.toString('latin1') : null;
  }

  advance(ms: number): void {
    this.nowMs += ms;
  }
}

function hit(result: CacheResult): Extract<CacheResult, { kind: 'hit' }> {
  expect(result.kind).toBe('hit');
  return result as Extract<CacheResult, { kind: 'hit' }>;
}

describe('storage modes', () => {
  it('add stores only when absent, replace only when present', () => {
    const d = new Driver();
    expect(d.apply({ type: 'store', mode: 'replace', key: k('a'), flags: 0, exptime: 0, value: k('1') })).toEqual({ kind: 'not_stored' });
    expect(d.apply({ type: 'store', mode: 'add', key: k('a'), flags: 0, exptime: 0, value: k('1') }).kind).toBe('stored');
    expect(d.apply({ type: 'store', mode: 'add', key: k('a'), flags: 0, exptime: 0, value: k('2') })).toEqual({ kind: 'not_stored' });
    expect(d.apply({ type: 'store', mode: 'replace', key: k('a'), flags: 0, exptime: 0, value: k('3') }).kind).toBe('stored');
    expect(d.value('a')).toBe('3');
  });

  it('append/prepend keep flags and exptime and need the item', () => {
    const d = new Driver();
    expect(d.apply({ type: 'store', mode: 'append', key: k('a'), flags: 0, exptime: 0, value: k('x') })).toEqual({ kind: 'not_stored' });
    d.set('a', 'mid', { flags: 42, exptime: 100 });
    expect(d.apply({ type: 'store', mode: 'append', key: k('a'), flags: 7, exptime: 5, value: k('>') })).toMatchObject({ kind: 'stored', size: 4 });
    expect(d.apply({ type: 'store', mode: 'prepend', key: k('a'), flags: 7, exptime: 5, value: k('<') })).toMatchObject({ kind: 'stored', size: 5 });
    expect(hit(d.get('a')).item).toMatchObject({ value: k('<mid>'), flags: 42, ttlSec: 100 });
  });

  it('append with vivify creates the item on a miss (meta ms MA N)', () => {
    const d = new Driver();
    expect(d.apply({ type: 'store', mode: 'append', key: k('a'), flags: 3, exptime: 0, value: k('x'), vivify: 50 }).kind).toBe('stored');
    expect(hit(d.get('a')).item).toMatchObject({ value: k('x'), flags: 3, ttlSec: 50 });
  });

  it('cas: EXISTS on mismatch, NOT_FOUND when absent, stores on match with a new CAS', () => {
    const d = new Driver();
    const cas = (value: string, token: number): CacheResult =>
      d.apply({ type: 'store', mode: 'cas', key: k('a'), flags: 0, exptime: 0, value: k(value), cas: token });
    expect(cas('x', 1)).toEqual({ kind: 'not_found' });
    const first = d.set('a', 'v1') as Extract<CacheResult, { kind: 'stored' }>;
    expect(cas('x', first.cas + 100)).toEqual({ kind: 'exists' });
    expect(cas('x', 0)).toEqual({ kind: 'exists' });
    const second = cas('v2', first.cas) as Extract<CacheResult, { kind: 'stored' }>;
    expect(second.kind).toBe('stored');
    expect(second.cas).toBeGreaterThan(first.cas);
    expect(cas('v3', first.cas)).toEqual({ kind: 'exists' });
    expect(d.value('a')).toBe('v2');
  });

  it('a CAS token turns set/replace into cas; add ignores it (memcached mset)', () => {
    const d = new Driver();
    // ms m6 1 MS C0 on a miss -> NF; ms m5 1 ME C99 on a miss -> HD, again -> NS.
    expect(d.set('m6', 'z', { cas: 0 })).toEqual({ kind: 'not_found' });
    expect(d.apply({ type: 'store', mode: 'add', key: k('m5'), flags: 0, exptime: 0, value: k('z'), cas: 99 }).kind).toBe('stored');
    expect(d.apply({ type: 'store', mode: 'add', key: k('m5'), flags: 0, exptime: 0, value: k('z'), cas: 99 })).toEqual({ kind: 'not_stored' });
    // ms m5 1 MS C0 when present -> EX; md m5 C0 -> EX.
    expect(d.set('m5', 'z', { cas: 0 })).toEqual({ kind: 'exists' });
    expect(d.apply({ type: 'delete', key: k('m5'), cas: 0 })).toEqual({ kind: 'exists' });
  });

  it('a too-large value is refused and a plain set drops the old value', () => {
    const d = new Driver();
    d.set('a', 'old');
    const big = 'x'.repeat(1024 * 1024);
    expect(d.set('a', big)).toEqual({ kind: 'server_error', message: 'object too large for cache' });
    expect(d.value('a')).toBeNull();
    // The limit counts the whole item (header, key, value), as memcached's item_size_ok.
    expect(d.set('b', 'x'.repeat(1024 * 1024 - 56 - 1 - 1 - 2)).kind).toBe('stored');
    expect(d.set('b', 'x'.repeat(1024 * 1024 - 56 - 1 - 1 - 1))).toMatchObject({ kind: 'server_error' });
  });

  it('E (newCas) sets the item CAS', () => {
    const d = new Driver();
    expect(d.set('a', 'v', { newCas: 12345 })).toMatchObject({ kind: 'stored', cas: 12345 });
    expect(hit(d.get('a')).item.cas).toBe(12345);
  });
});

describe('CAS uniques', () => {
  it('are the entry index for single-op entries and distinct within a batch', () => {
    const m = new CacheStateMachine({ memoryBytesMax: 1 << 20, itemBytesMax: 1 << 20 });
    const set = (key: string): CacheOp => ({ type: 'store', mode: 'set', key: k(key), flags: 0, exptime: 0, value: k('v') });
    expect(m.apply(set('a'), 5, t0)).toMatchObject({ cas: 5 });
    const batch = m.applyEntry({ nowMs: t0, ops: [set('a'), set('b'), set('c')] }, 6);
    expect(batch.map((r) => (r as { cas: number }).cas)).toEqual([6, 7, 8]);
    expect(m.apply(set('a'), 7, t0)).toMatchObject({ cas: 9 });
    expect(m.apply(set('a'), 20, t0)).toMatchObject({ cas: 20 });
    expect(m.appliedIndex).toBe(20);
  });

  it('touch does not change the CAS; incr, append and invalidate do', () => {
    const d = new Driver();
    d.set('a', '1');
    const cas0 = hit(d.get('a')).item.cas;
    d.apply({ type: 'touch', key: k('a'), exptime: 100 });
    expect(hit(d.get('a')).item.cas).toBe(cas0);
    d.apply({ type: 'arith', key: k('a'), incr: true, delta: 1n });
    const cas1 = hit(d.get('a')).item.cas;
    expect(cas1).toBeGreaterThan(cas0);
    d.apply({ type: 'store', mode: 'append', key: k('a'), flags: 0, exptime: 0, value: k('0') });
    const cas2 = hit(d.get('a')).item.cas;
    expect(cas2).toBeGreaterThan(cas1);
    d.apply({ type: 'delete', key: k('a'), invalidate: true });
    expect(hit(d.get('a')).item.cas).toBeGreaterThan(cas2);
  });
});

describe('incr/decr (memcached 1.6.18 replies)', () => {
  const cases: Array<[string, boolean, bigint, string | null, string | null]> = [
    // [stored value, incr, delta, reply number or null = non-numeric, value after]
    ['100', false, 1n, '99', '99 '],
    ['9 ', true, 1n, '10', '10'],
    ['99', true, 1n, '100', '100'],
    [' 5   ', true, 1n, '6', '6    '],
    ['+5', true, 1n, '6', '6 '],
    ['-0', true, 1n, '1', '1 '],
    ['12 abc', true, 1n, '13', '13    '],
    ['7\ta', true, 1n, '8', '8  '],
    ['0000000000000000000000001', true, 1n, '2', '2'.padEnd(25, ' ')],
    ['18446744073709551615', true, 2n, '1', '1'.padEnd(20, ' ')],
    ['-18446744073709551615', true, 1n, '2', '2'.padEnd(21, ' ')],
    ['10', false, 100n, '0', '0 '],
    ['', true, 1n, null, null],
    [' ', true, 1n, null, null],
    ['+', true, 1n, null, null],
    ['5a', true, 1n, null, null],
    ['0x5', true, 1n, null, null],
    ['-1', true, 1n, null, null],
    ['  -5', true, 1n, null, null],
    ['18446744073709551616', true, 1n, null, null],
  ];
  for (const [stored, incr, delta, reply, after] of cases) {
    it(`${incr ? 'incr' : 'decr'} ${delta} of ${JSON.stringify(stored)}`, () => {
      const d = new Driver();
      d.set('n', stored, { flags: 9 });
      const result = d.apply({ type: 'arith', key: k('n'), incr, delta });
      if (reply === null) {
        expect(result).toEqual({ kind: 'client_error', message: 'cannot increment or decrement non-numeric value' });
        expect(d.value('n')).toBe(stored);
      } else {
        expect(result).toMatchObject({ kind: 'number', value: BigInt(reply) });
        expect(d.value('n')).toBe(after);
        expect(hit(d.get('n')).item.flags).toBe(9);
      }
    });
  }

  it('misses without vivify; vivify creates with the initial value (ma N0 J5 -> 5, then 6)', () => {
    const d = new Driver();
    expect(d.apply({ type: 'arith', key: k('c'), incr: true, delta: 1n })).toEqual({ kind: 'not_found' });
    expect(d.apply({ type: 'arith', key: k('c'), incr: true, delta: 1n, vivify: 0, initial: 5n })).toMatchObject({ kind: 'number', value: 5n });
    expect(d.apply({ type: 'arith', key: k('c'), incr: true, delta: 1n })).toMatchObject({ kind: 'number', value: 6n });
  });

  it('checks a non-zero CAS and applies T on success', () => {
    const d = new Driver();
    d.set('c', '1');
    expect(d.apply({ type: 'arith', key: k('c'), incr: true, delta: 1n, cas: 999 })).toEqual({ kind: 'exists' });
    expect(d.apply({ type: 'arith', key: k('c'), incr: true, delta: 1n, cas: 0, exptime: 30 })).toMatchObject({ value: 2n, item: { ttlSec: 30 } });
  });
});

describe('TTLs', () => {
  it('relative, absolute, never, negative; expired items read as misses', () => {
    const d = new Driver();
    d.set('rel', 'v', { exptime: 10 });
    d.set('abs', 'v', { exptime: Math.floor(t0 / 1000) + 20 });
    d.set('max-relative', 'v', { exptime: 2592000 });
    d.set('past-absolute', 'v', { exptime: 2592001 });
    d.set('never', 'v', { exptime: 0 });
    d.set('negative', 'v', { exptime: -1 });
    expect(hit(d.get('rel')).item.ttlSec).toBe(10);
    expect(hit(d.get('abs')).item.ttlSec).toBe(20);
    expect(hit(d.get('max-relative')).item.ttlSec).toBe(2592000);
    expect(d.get('past-absolute')).toEqual({ kind: 'miss' });
    expect(hit(d.get('never')).item.ttlSec).toBe(-1);
    expect(d.get('negative')).toEqual({ kind: 'miss' });
    d.advance(9999);
    expect(d.get('rel').kind).toBe('hit');
    d.advance(1);
    expect(d.get('rel')).toEqual({ kind: 'miss' });
    d.advance(10_000);
    expect(d.get('abs')).toEqual({ kind: 'miss' });
    expect(d.get('never').kind).toBe('hit');
  });

  it('an add of a negative-TTL item is stored but reads as a miss; a later add succeeds', () => {
    const d = new Driver();
    expect(d.apply({ type: 'store', mode: 'add', key: k('a'), flags: 0, exptime: -1, value: k('v') }).kind).toBe('stored');
    expect(d.get('a')).toEqual({ kind: 'miss' });
    expect(d.apply({ type: 'store', mode: 'add', key: k('a'), flags: 0, exptime: 0, value: k('w') }).kind).toBe('stored');
    expect(d.value('a')).toBe('w');
  });

  it('touch and gat replace the expiry; touch of a missing key is not_found', () => {
    const d = new Driver();
    d.set('a', 'v', { exptime: 10 });
    expect(d.apply({ type: 'touch', key: k('a'), exptime: 100 })).toMatchObject({ kind: 'touched', item: { ttlSec: 100 } });
    expect(d.apply({ type: 'touch', key: k('zz'), exptime: 100 })).toEqual({ kind: 'not_found' });
    expect(hit(d.get('a', { touch: 5 })).item.ttlSec).toBe(5);
    d.advance(5000);
    expect(d.get('a')).toEqual({ kind: 'miss' });
  });

  it('the expire op removes dead items within its scan budget, continuing where it stopped', () => {
    const d = new Driver();
    for (let i = 0; i < 10; i++) d.set(`k${i}`, 'v', { exptime: i % 2 === 0 ? 1 : 0 });
    d.advance(2000);
    d.apply({ type: 'expire', scanMax: 4 });
    expect(d.machine.stats()).toMatchObject({ curr_items: 8, crawler_reclaimed: 2, crawler_items_checked: 4 });
    d.apply({ type: 'expire', scanMax: 100 });
    expect(d.machine.stats()).toMatchObject({ curr_items: 5, crawler_reclaimed: 5, crawler_items_checked: 10 });
  });

  it('the entry clock never runs backwards (a lagging new leader)', () => {
    const d = new Driver();
    d.set('a', 'v', { exptime: 1 });
    d.advance(2000);
    d.apply({ type: 'touch', key: k('other'), exptime: 0 });
    d.advance(-5000);
    expect(d.get('a')).toEqual({ kind: 'miss' });
  });
});

describe('flush_all', () => {
  it('invalidates everything written before it, not what is written after', () => {
    const d = new Driver();
    d.set('a', '1');
    d.set('b', '1');
    expect(d.apply({ type: 'flush', delay: 0 })).toEqual({ kind: 'ok' });
    d.set('b', '2');
    expect(d.get('a')).toEqual({ kind: 'miss' });
    expect(d.value('b')).toBe('2');
    expect(d.apply({ type: 'store', mode: 'add', key: k('a'), flags: 0, exptime: 0, value: k('3') }).kind).toBe('stored');
  });

  it('with a delay, invalidates items stored before the flush time once it has come', () => {
    const d = new Driver();
    d.set('a', '1');
    d.apply({ type: 'flush', delay: 10 });
    d.advance(5000);
    d.set('b', '1');
    expect(d.value('a')).toBe('1');
    d.advance(4999);
    expect(d.value('b')).toBe('1');
    d.advance(1);
    // Pure reads see the flush as soon as its time has come, before any apply.
    expect(d.get('a')).toEqual({ kind: 'miss' });
    expect(d.get('b')).toEqual({ kind: 'miss' });
    d.set('c', '1');
    expect(d.value('c')).toBe('1');
    expect(d.value('a')).toBeNull();
  });

  it('a new flush_all replaces a pending one but never revives flushed items', () => {
    const d = new Driver();
    d.set('a', '1');
    d.apply({ type: 'flush', delay: 0 });
    d.set('b', '1');
    d.apply({ type: 'flush', delay: 10 });
    d.apply({ type: 'flush', delay: 30 });
    d.advance(20_000);
    expect(d.value('a')).toBeNull();
    expect(d.value('b')).toBe('1');
    d.advance(10_000);
    expect(d.value('b')).toBeNull();
  });

  it('an immediate flush cancels a pending delayed one (memcached keeps one oldest_live)', () => {
    const d = new Driver();
    d.apply({ type: 'flush', delay: 10 });
    d.apply({ type: 'flush', delay: 0 });
    d.set('a', '1');
    d.advance(20_000);
    expect(d.value('a')).toBe('1');
  });
});

describe('meta get win/stale/vivify (memcached 1.6.18 replies)', () => {
  it('N vivifies an empty item and hands out W once, then Z', () => {
    const d = new Driver();
    // mg m1 v c N30 t -> "VA 0 c62 t30 W", again -> "VA 0 c62 t30 Z"
    const first = hit(d.mg('m1', { vivify: 30 }));
    expect(first.win).toBe('W');
    expect(first.item).toMatchObject({ value: Buffer.alloc(0), ttlSec: 30, flags: 0, stale: false });
    const second = hit(d.mg('m1', { vivify: 30 }));
    expect(second.win).toBe('Z');
    expect(second.item.cas).toBe(first.item.cas);
    // Plain reads also see Z, without going through the log.
    expect(d.machine.read({ type: 'get', key: k('m1'), token: true }, d.nowMs)).toMatchObject({ kind: 'hit', win: 'Z' });
  });

  it('a set replaces the stub: no win flags, not fetched (mg h0)', () => {
    const d = new Driver();
    d.mg('m1', { vivify: 30 });
    d.set('m1', 'hi');
    const r = hit(d.mg('m1'));
    expect(r.win).toBeNull();
    expect(r.item).toMatchObject({ value: k('hi'), fetched: false, ttlSec: -1 });
  });

  it('md I marks stale, bumps the CAS, and the next meta get wins (X W), later ones see Z X', () => {
    const d = new Driver();
    d.set('m1', 'hi');
    const casBefore = hit(d.mg('m1')).item.cas;
    expect(d.apply({ type: 'delete', key: k('m1'), invalidate: true, exptime: 30 })).toEqual({ kind: 'deleted' });
    // Answering would hand out the win token: read() declines, the op goes through the log.
    expect(d.machine.read({ type: 'get', key: k('m1'), token: true }, d.nowMs)).toBeNull();
    const won = hit(d.mg('m1'));
    expect(won.win).toBe('W');
    expect(won.item).toMatchObject({ stale: true, ttlSec: 30, value: k('hi') });
    expect(won.item.cas).toBeGreaterThan(casBefore);
    const later = hit(d.mg('m1'));
    expect(later.win).toBe('Z');
    expect(later.item.stale).toBe(true);
  });

  it('ms with an older CAS and I stores but stays stale, keeping TTL and the sent win (Z X)', () => {
    const d = new Driver();
    d.set('m1', 'hi');
    const oldCas = hit(d.mg('m1')).item.cas;
    d.apply({ type: 'delete', key: k('m1'), invalidate: true, exptime: 30 });
    d.mg('m1');
    const stored = d.set('m1', 'yo', { cas: oldCas, invalidate: true });
    expect(stored.kind).toBe('stored');
    const r = hit(d.mg('m1'));
    expect(r.win).toBe('Z');
    expect(r.item).toMatchObject({ stale: true, ttlSec: 30, value: k('yo') });
    // The matching CAS stores a fresh, valid item.
    d.set('m1', 'fresh', { cas: r.item.cas, invalidate: true });
    expect(hit(d.mg('m1'))).toMatchObject({ win: null, item: { stale: false, value: k('fresh') } });
  });

  it('I with a CAS that is not older is EXISTS; I on a miss is NOT_FOUND', () => {
    const d = new Driver();
    expect(d.set('m7', 'z', { cas: 1, invalidate: true })).toEqual({ kind: 'not_found' });
    d.set('m7', 'z');
    const cas = hit(d.mg('m7')).item.cas;
    expect(d.set('m7', 'z', { cas: cas + 1, invalidate: true })).toEqual({ kind: 'exists' });
  });

  it('R wins when the remaining TTL is below the token, once', () => {
    const d = new Driver();
    d.set('m2', 'x', { exptime: 100 });
    expect(hit(d.mg('m2', { recache: 30 })).win).toBeNull();
    // mg m2 R200 c t -> "HD c66 t100 W", again -> Z
    expect(hit(d.mg('m2', { recache: 200 })).win).toBe('W');
    expect(hit(d.mg('m2', { recache: 200 })).win).toBe('Z');
    // An item that never expires never wins by R.
    d.set('m3', 'x');
    expect(hit(d.mg('m3', { recache: 200 })).win).toBeNull();
  });

  it('R is strict: a remaining TTL equal to the token does not win', () => {
    const d = new Driver();
    d.set('m2', 'x', { exptime: 100 });
    expect(hit(d.mg('m2', { recache: 100 })).win).toBeNull();
    expect(hit(d.mg('m2', { recache: 101 })).win).toBe('W');
  });

    it('a text get of a stale item returns it without taking the token; the next mg wins', () => {
    const d = new Driver();
    d.set('m1', 'hi');
    d.apply({ type: 'delete', key: k('m1'), invalidate: true, exptime: 30 });
    // memcached 1.6.18: md m1 I; get m1 -> VALUE; mg m1 c v -> VA 2 c.. X W
    expect(d.machine.read({ type: 'get', key: k('m1') }, d.nowMs)).toMatchObject({ kind: 'hit', win: null });
    expect(hit(d.get('m1'))).toMatchObject({ win: null, item: { stale: true, value: k('hi') } });
    expect(hit(d.get('m1', { touch: 30 })).win).toBeNull();
    expect(hit(d.mg('m1')).win).toBe('W');
    expect(hit(d.mg('m1')).win).toBe('Z');
  });

it('h and l report the state before the request; u does not bump', () => {
    const d = new Driver();
    d.set('a', 'v');
    d.advance(3000);
    expect(hit(d.get('a', { touch: 100, noBump: true })).item).toMatchObject({ fetched: false, lastAccessSec: 3 });
    expect(hit(d.get('a', { touch: 100 })).item).toMatchObject({ fetched: false, lastAccessSec: 3 });
    expect(hit(d.get('a', { touch: 100 })).item).toMatchObject({ fetched: true, lastAccessSec: 0 });
  });

  it('md x empties the value and flags but keeps the item; with I it is a stale tombstone', () => {
    const d = new Driver();
    d.set('a', 'value', { flags: 5, exptime: 50 });
    expect(d.apply({ type: 'delete', key: k('a'), removeValue: true })).toEqual({ kind: 'deleted' });
    expect(hit(d.get('a')).item).toMatchObject({ value: Buffer.alloc(0), flags: 0, ttlSec: 50, stale: false });
    d.set('b', 'value', { flags: 5 });
    d.apply({ type: 'delete', key: k('b'), removeValue: true, invalidate: true });
    expect(hit(d.mg('b'))).toMatchObject({ win: 'W', item: { value: Buffer.alloc(0), stale: true } });
  });

  it('read() never changes state', () => {
    const d = new Driver();
    d.set('a', 'v', { exptime: 5 });
    d.get('b', { vivify: 10 });
    const digest = d.machine.digest();
    for (const key of ['a', 'b', 'c']) d.machine.read({ type: 'get', key: k(key) }, d.nowMs + 10_000);
    d.machine.read({ type: 'get', key: k('a') }, d.nowMs);
    expect(d.machine.digest()).toBe(digest);
  });
});

describe('issue 13: found by the differential test against memcached 1.6.18', () => {
  it('ma on an empty value is non-numeric before the CAS check (observed: ma k C99 -> CLIENT_ERROR)', () => {
    const d = new Driver();
    d.mg('e', { vivify: 0 });
    const nonNumeric = { kind: 'client_error', message: 'cannot increment or decrement non-numeric value' };
    expect(d.apply({ type: 'arith', key: k('e'), incr: true, delta: 1n, cas: 99 })).toEqual(nonNumeric);
    // A non-empty value that does not parse: the CAS is checked first (observed: EX).
    d.set('x', 'abc');
    expect(d.apply({ type: 'arith', key: k('x'), incr: true, delta: 1n, cas: 99 })).toEqual({ kind: 'exists' });
  });

  it('a bump entry records each key at its read time (never after the entry), so replicas agree on l', () => {
    const d = new Driver();
    d.set('a', 'v');
    d.advance(5000);
    d.apply({ type: 'bump', keys: [k('a')], atMs: [d.nowMs - 4000] });
    expect(hit(d.get('a', { noBump: true })).item).toMatchObject({ fetched: true, lastAccessSec: 4 });
  });
});

describe('issue 13: meta flags apply in the order given', () => {
  it('mg k T100 R2000 wins on an item without TTL (observed: HD W); mg k R2000 T100 does not', () => {
    const d = new Driver();
    d.set('a', 'v');
    expect(hit(d.mg('a', { touch: 100, recache: 2000, touchFirst: true })).win).toBe('W');
    d.set('b', 'v');
    expect(hit(d.mg('b', { touch: 100, recache: 2000 })).win).toBeNull();
    expect(hit(d.mg('b', { recache: 2000 })).win).toBe('W');
  });
});

it('issue 13: ma N with T: the item N creates takes the T TTL ("update TTL on success"; observed: ma k N0 T100, then t100)', () => {
  const d = new Driver();
  expect(d.apply({ type: 'arith', key: k('n'), incr: true, delta: 1n, vivify: 0, exptime: 100 })).toMatchObject({ kind: 'number', value: 0n });
  expect(hit(d.get('n')).item.ttlSec).toBe(100);
});
