// checkExpiry (issue 11, item 2: TTL'd sets with the expiry checked against the
// leader-stamped time bounds): correct histories are valid; a value lost before its expiry,
// served after it, or a value nobody wrote is invalid; clock faults widen the bounds.
import { describe, expect, it } from 'vitest';
import type { NemesisEvent } from '../history/types.js';
import { history, type OpSpec } from './history-builder.js';
import { checkExpiry } from './index.js';

const msNs = 1e6;
const write = (ttl: number, start = 0, end = 10, type: OpSpec['type'] = 'ok'): OpSpec => ({ p: 0, f: 'write', key: 't0', v: 'v1', ttl, start: start * msNs, end: end * msNs, type });
let reader = 1;
const read = (startMs: number, out: string | null, endMs = startMs + 5): OpSpec => ({ p: reader++, f: 'read', key: 't0', start: startMs * msNs, end: endMs * msNs, out });
const clock = (fromMs: number, toMs: number, offsetsMs: Array<[number, number]>): NemesisEvent[] => [
  { time: fromMs * msNs, fault: 'clock', phase: 'start', nodes: offsetsMs.map(([n]) => n), offsetsMs },
  { time: toMs * msNs, fault: 'clock', phase: 'stop', nodes: offsetsMs.map(([n]) => n), offsetsMs },
];

describe('checkExpiry', () => {
  it('accepts a value read while it lives and missed once it expired', () => {
    const r = checkExpiry(history([read(-100, null, -50), write(2), read(500, 'v1'), read(1400, 'v1'), read(2000, 'v1'), read(2600, null), read(5000, null)]), []);
    expect(r).toMatchObject({ outcome: 'valid', expiringKeys: 1, hits: 3, misses: 3 });
    // 500 and 1400 ms had to hit; 2600 and 5000 ms had to miss (2000 ms was within the slack).
    expect(r.heldToLive).toBe(2);
    expect(r.heldToExpired).toBe(2);
  });


  it('rejects an acknowledged value gone before its expiry', () => {
    const r = checkExpiry(history([write(3), read(500, 'v1'), read(1000, null)]), []);
    expect(r.outcome).toBe('invalid');
    expect(r.keys.t0!.anomaly!.kind).toBe('lost-before-expiry');
  });

  it('rejects a value served after it surely expired', () => {
    const r = checkExpiry(history([write(2), read(500, 'v1'), read(3000, 'v1')]), []);
    expect(r.outcome).toBe('invalid');
    expect(r.keys.t0!.anomaly!.kind).toBe('served-after-expiry');
    expect(r.keys.t0!.anomaly!.message).toContain('after it had surely expired');
  });

  it('bounds the stamp of an info write by the first read that saw it', () => {
    const h = history([write(1, 0, 10, 'info'), read(100, 'v1'), read(2000, 'v1')]);
    expect(checkExpiry(h, []).keys.t0!.anomaly!.kind).toBe('served-after-expiry');
    // Seen only late: it may have been applied late, so a late hit proves nothing.
    expect(checkExpiry(history([write(1, 0, 10, 'info'), read(2000, 'v1')]), []).outcome).toBe('valid');
  });

  it('widens the bounds by the clock offsets of a clock fault', () => {
    // A node ahead may read an item as expired early; a node behind may still serve it late.
    expect(checkExpiry(history([write(3), read(500, 'v1'), read(1000, null)]), clock(-100, 1200, [[1, 2500]])).outcome).toBe('valid');
    expect(checkExpiry(history([write(2), read(500, 'v1'), read(3000, 'v1')]), clock(2500, 3500, [[2, -2000]])).outcome).toBe('valid');
    // The same offsets an hour earlier change nothing.
    expect(checkExpiry(history([write(2), read(500, 'v1'), read(3000, 'v1')]), clock(-3.6e6, -3.59e6, [[2, -2000]])).outcome).toBe('invalid');
  });

  it('keeps a forward jump counting after it healed (stamps never go back)', () => {
    // A clock 10 s ahead until 0.5 s: the group's stamps stay ahead, so a write at 3 s may expire at once.
    const h = history([write(3, 3000, 3010), read(3100, null)]);
    expect(checkExpiry(h, clock(0, 500, [[1, 10_000]])).outcome).toBe('valid');
    expect(checkExpiry(h, []).outcome).toBe('invalid');
  });

  it('rejects a value never written, the value of a failed write, and a value read before its write', () => {
    expect(checkExpiry(history([write(2), read(100, 'v2')]), []).keys.t0!.anomaly!.kind).toBe('unexpected-value');
    expect(checkExpiry(history([write(2, 0, 10, 'fail'), read(100, 'v1')]), []).keys.t0!.anomaly!.kind).toBe('failed-write-read');
    expect(checkExpiry(history([read(-100, 'v1', -50), write(2)]), []).keys.t0!.anomaly!.kind).toBe('read-before-write');
  });

  it('answers unknown for an expiring key written twice', () => {
    const h = history([write(2), { ...write(2, 20, 30), p: 9 }]);
    expect(checkExpiry(h, [])).toMatchObject({ outcome: 'unknown' });
  });

  it('is valid with no expiring key', () => {
    expect(checkExpiry(history([{ p: 0, f: 'write', v: 'a', start: 0, end: 1 }]), [])).toMatchObject({ outcome: 'valid', expiringKeys: 0 });
  });
});
