// checkLock on hand-made histories: the fence refusing a paused holder is valid; a holder
// that skips the fence and overwrites its successor is caught; tokens that do not rise, a
// read below an accepted token and a lock granted twice within its TTL are invalid.
import { describe, expect, it } from 'vitest';
import type { HistoryEvent, OpF, OpType } from '../history/types.js';
import { checkLock } from './lock.js';
import { readHistory } from './read-history.js';
import { checkRegister } from './register.js';

/** A history built op by op; times in ms. */
class H {
  readonly events: HistoryEvent[] = [];
  op(process: number, f: OpF, key: string, value: HistoryEvent['value'], type: Exclude<OpType, 'invoke'>, fromMs: number, toMs: number, done: HistoryEvent['value'] = value): this {
    this.events.push({ process, type: 'invoke', f, key, value, time: fromMs * 1e6 });
    this.events.push({ process, type, f, key, value: done, time: toMs * 1e6 });
    return this;
  }
  /** Sorted by time (ops of different processes interleave). */
  get history(): HistoryEvent[] {
    return [...this.events].sort((a, b) => a.time - b.time);
  }
}

const ttlMs = 2000;

/** A acquires (token 5) and writes; B acquires (token 9) after A's TTL passed while A is paused, and writes. */
function pausedHolder(h: H): H {
  return h
    .op(1, 'acquire', 'lock0', 'p1-1', 'ok', 0, 10, ['p1-1', '5'])
    .op(2, 'acquire', 'lock0', 'p2-1', 'fail', 20, 30, 'p2-1')
    .op(2, 'acquire', 'lock0', 'p2-2', 'ok', 2100, 2110, ['p2-2', '9'])
    .op(2, 'read', 'res0', null, 'ok', 2120, 2130, null)
    .op(2, 'add', 'res0', '9:p2-2.1', 'ok', 2140, 2150)
    .op(2, 'release', 'lock0', ['p2-2', '9'], 'ok', 2160, 2170);
}

describe('checkLock', () => {
  it('successive holders with rising tokens and a fenced cas loop: valid', () => {
    const h = new H()
      .op(1, 'acquire', 'lock0', 'p1-1', 'ok', 0, 10, ['p1-1', '5'])
      .op(1, 'read', 'res0', null, 'ok', 20, 30, null)
      .op(1, 'add', 'res0', '5:p1-1.1', 'ok', 40, 50)
      .op(1, 'release', 'lock0', ['p1-1', '5'], 'ok', 60, 70)
      .op(2, 'acquire', 'lock0', 'p2-1', 'ok', 80, 90, ['p2-1', '8'])
      .op(2, 'renew', 'lock0', ['p2-1', '8'], 'ok', 95, 99, ['p2-1', '9'])
      .op(2, 'read', 'res0', null, 'ok', 100, 110, '5:p1-1.1')
      .op(2, 'cas', 'res0', ['5:p1-1.1', '9:p2-1.1'], 'ok', 120, 130)
      .op(2, 'release', 'lock0', ['p2-1', '9'], 'ok', 140, 150)
      .op(1_000_000, 'read', 'res0', null, 'ok', 200, 210, '9:p2-1.1');
    const r = checkLock(h.history, { ttlMs });
    expect(r.outcome, JSON.stringify(r.anomalies)).toBe('valid');
    expect(r.holds).toBe(2);
    expect(r.overlaps).toBe(0);
    expect(r.resources.res0).toMatchObject({ writesOk: 2, maxToken: '9', finalToken: '9' });
    expect(r.locks.lock0!.renews.ok).toBe(1);
    // The lock keys are not registers (their items expire); the resource is.
    expect(Object.keys(checkRegister(h.history).keys)).toEqual(['res0']);
  });

  it('a paused holder that wakes after its successor wrote is refused by the fence: valid, one overlap after expiry', () => {
    const h = pausedHolder(new H())
      .op(1, 'read', 'res0', null, 'ok', 3000, 3010, '9:p2-2.1')
      .op(1, 'release', 'lock0', ['p1-1', '5'], 'fail', 3020, 3030, ['p1-1', '5'])
      .op(1_000_000, 'read', 'res0', null, 'ok', 4000, 4010, '9:p2-2.1');
    const r = checkLock(h.history, { ttlMs });
    expect(r.outcome, JSON.stringify(r.anomalies)).toBe('valid');
    expect(r).toMatchObject({ holds: 2, overlaps: 1, overlapsAfterExpiry: 1, overlapsEarly: 0, fencedOut: 1 });
    expect(checkRegister(h.history).outcome).toBe('valid');
  });

  it('the same holder skipping the fence (a plain set after its successor wrote): invalid, lower token accepted', () => {
    const h = pausedHolder(new H())
      .op(1, 'write', 'res0', '5:p1-1.1', 'ok', 3000, 3010)
      .op(1_000_000, 'read', 'res0', null, 'ok', 4000, 4010, '5:p1-1.1');
    const r = checkLock(h.history, { ttlMs });
    expect(r.outcome).toBe('invalid');
    expect(r.violations.fence).toBeGreaterThanOrEqual(1);
    expect(r.anomaly!.kind).toBe('lower-token-accepted');
    expect(r.anomaly!.message).toMatch(/token 5 after .*token 9/);
    expect(r.anomaly!.ops[0]).toMatchObject({ process: 1, f: 'write', value: '5:p1-1.1' });
    // Linearizable all the same: only the fence check sees it.
    expect(checkRegister(h.history).outcome).toBe('valid');
  });

  it('a write whose outcome is unknown is caught through the final read', () => {
    const h = pausedHolder(new H())
      .op(1, 'write', 'res0', '5:p1-1.1', 'info', 1500, 7500)
      .op(1_000_000, 'read', 'res0', null, 'ok', 8000, 8010, '5:p1-1.1');
    const r = checkLock(h.history, { ttlMs });
    expect(r.outcome).toBe('invalid');
    expect(r.anomaly!.message).toMatch(/read of "res0" returned token 5/);
  });

  it('history.jsonl with lock ops reads back (readHistory knows acquire, renew, release)', () => {
    const h = pausedHolder(new H()).op(1, 'renew', 'lock0', ['p1-1', '5'], 'fail', 3000, 3010);
    const text = h.history.map((e) => JSON.stringify(e)).join('\n') + '\n';
    expect(readHistory(text)).toEqual(h.history);
  });

  it('tokens that do not rise across holders: invalid', () => {
    const h = new H()
      .op(1, 'acquire', 'lock0', 'p1-1', 'ok', 0, 10, ['p1-1', '9'])
      .op(1, 'release', 'lock0', ['p1-1', '9'], 'ok', 20, 30)
      .op(2, 'acquire', 'lock0', 'p2-1', 'ok', 40, 50, ['p2-1', '7']);
    const r = checkLock(h.history, { ttlMs });
    expect(r.outcome).toBe('invalid');
    expect(r.anomaly!.kind).toBe('token-not-increasing');
  });

  it('one token granted twice: invalid', () => {
    const h = new H()
      .op(1, 'acquire', 'lock0', 'p1-1', 'ok', 0, 100, ['p1-1', '9'])
      .op(2, 'acquire', 'lock0', 'p2-1', 'ok', 5, 90, ['p2-1', '9']);
    expect(checkLock(h.history, { ttlMs }).anomalies.map((a) => a.kind)).toContain('token-repeated');
  });

  it('a second holder within the TTL: invalid, unless node clocks were skewed by then', () => {
    const h = new H()
      .op(1, 'acquire', 'lock0', 'p1-1', 'ok', 0, 10, ['p1-1', '5'])
      .op(2, 'acquire', 'lock0', 'p2-1', 'ok', 500, 510, ['p2-1', '9'])
      .op(1, 'release', 'lock0', ['p1-1', '5'], 'fail', 600, 610);
    const broken = checkLock(h.history, { ttlMs });
    expect(broken.outcome).toBe('invalid');
    expect(broken.anomaly!.kind).toBe('lock-held-twice');
    const skewed = checkLock(h.history, { ttlMs, clockFaultFromNs: 100e6 });
    expect(skewed.outcome).toBe('valid');
    expect(skewed.overlapsEarly).toBe(1);
  });

  it('an acquire whose reply arrives after its successor was granted is no early overlap', () => {
    // p1's add applied at once (token 5) but its reply was held up 2.6 s; the lock expired
    // and p2 got token 9 at 2.1 s, before p1 even knew it had held the lock.
    const h = new H()
      .op(1, 'acquire', 'lock0', 'p1-1', 'ok', 0, 2600, ['p1-1', '5'])
      .op(2, 'acquire', 'lock0', 'p2-1', 'ok', 2050, 2100, ['p2-1', '9'])
      .op(2, 'release', 'lock0', ['p2-1', '9'], 'ok', 2700, 2710)
      .op(1, 'release', 'lock0', ['p1-1', '5'], 'fail', 2800, 2810);
    const r = checkLock(h.history, { ttlMs });
    expect(r.outcome, JSON.stringify(r.anomalies)).toBe('valid');
    expect(r).toMatchObject({ overlaps: 1, overlapsAfterExpiry: 1, overlapsEarly: 0 });
  });

  it('a read below a token the resource accepted earlier: invalid', () => {
    const h = new H()
      .op(1, 'acquire', 'lock0', 'p1-1', 'ok', 0, 10, ['p1-1', '9'])
      .op(1, 'add', 'res0', '9:p1-1.1', 'ok', 20, 30)
      .op(2, 'read', 'res0', null, 'ok', 40, 50, '5:old');
    expect(checkLock(h.history, { ttlMs }).violations.fence).toBe(1);
  });
});
