// The report's lock tables: drawn from checkLock's figures, absent for other checks.
import { describe, expect, it } from 'vitest';
import { collectAnomalies } from './header.js';
import { renderLockTables } from './lock.js';

const anomaly = (message: string, time: number) => ({ kind: 'lower-token-accepted', message, ops: [{ process: 1, type: 'invoke', f: 'write', key: 'res0', value: '5:a', time }] });

describe('report: lock check', () => {
  it('renders a row per lock and per resource with the violation counts', () => {
    const html = renderLockTables({
      outcome: 'invalid',
      locks: { lock0: { acquires: { ok: 7, fail: 30, info: 1 }, renews: { ok: 2, fail: 0, info: 0 }, releases: { ok: 6, fail: 1, info: 0 }, holds: 7, overlaps: 3, overlapsAfterExpiry: 3, overlapsEarly: 0, overlapMs: 812 } },
      resources: { res0: { writesOk: 6, writesInfo: 0, readsOk: 9, fencedOut: 2, maxToken: '91', finalToken: '91' } },
      violations: { tokenOrder: 0, fence: 4, earlyOverlap: 0 },
    });
    expect(html).toContain('<td>lock0</td><td>7 / 30 / 1</td>');
    expect(html).toContain('<td>res0</td><td>6</td><td>0</td><td>9</td><td>2</td><td>91</td><td>91</td>');
    expect(html).toMatch(/fence \(lower token accepted after a higher one\) 4/);
    expect(renderLockTables({ outcome: 'valid', keys: {} })).toBe('');
  });

  it('lists every anomaly of a check once (the first is also its anomaly)', () => {
    const first = anomaly('first', 1);
    const found = collectAnomalies({ outcome: 'invalid', anomaly: first, anomalies: [{ ...first }, anomaly('second', 2)] });
    expect(found.map((a) => a.anomaly.message)).toEqual(['first', 'second']);
  });
});
