import { describe, expect, it } from 'vitest';
import { history, type OpSpec } from './history-builder.js';
import { checkCounter, checkSet } from './index.js';

const init: OpSpec = { p: 99, f: 'write', key: 'counter', v: '0', start: 0, end: 1 };

/** An incr of the counter by `by` over [start, end] answering `out`. */
function incr(p: number, by: number, start: number, end: number | undefined, out?: number, type: OpSpec['type'] = 'ok'): OpSpec {
  return { p, f: 'incr', key: 'counter', v: String(by), start, end, type, out: out === undefined ? String(by) : String(out) };
}

function read(p: number, start: number, end: number, out: string | null, key = 'counter'): OpSpec {
  return { p, f: 'read', key, start, end, out };
}

describe('checkCounter', () => {
  it('accepts a counter whose final read counts every ok increment and some info ones', () => {
    const h = history([
      init,
      incr(0, 2, 10, 20, 2),
      incr(1, 3, 12, 18, 5),
      incr(2, 5, 15, 25, undefined, 'info'),
      incr(3, 4, 16, 17, undefined, 'fail'),
      read(4, 19, 21, '5'),
      read(4, 100, 101, '10'),
    ]);
    expect(checkCounter(h)).toMatchObject({
      outcome: 'valid', key: 'counter', final: 10, initial: 0, okSum: 5, infoSum: 5, lower: 5, upper: 10, violations: 0,
    });
  });

  it('rejects a final read below the acknowledged increments (a lost increment)', () => {
    const h = history([init, incr(0, 2, 10, 11, 2), incr(0, 3, 12, 13, 5), read(1, 20, 21, '2')]);
    const result = checkCounter(h);
    expect(result.outcome).toBe('invalid');
    expect(result.anomaly!.message).toBe(
      'the final read of "counter" returned 2 but acknowledged increments before it already sum to 5: increments were lost',
    );
    expect(result.anomaly!.ops).toHaveLength(2);
  });

  it('rejects a final read above every increment attempted (one counted twice)', () => {
    const h = history([init, incr(0, 2, 10, 11, 2), incr(1, 3, 12, undefined, undefined, 'info'), read(2, 20, 21, '8')]);
    const result = checkCounter(h);
    expect(result).toMatchObject({ outcome: 'invalid', lower: 2, upper: 5 });
    expect(result.anomaly!.message).toContain('counted twice');
  });

  it('rejects two ok increments answering the same value', () => {
    const h = history([init, incr(0, 1, 10, 20, 1), incr(1, 1, 11, 19, 1), read(2, 30, 31, '2')]);
    const result = checkCounter(h);
    expect(result.outcome).toBe('invalid');
    expect(result.anomaly!.message).toBe('two incrs of "counter" both returned 1');
  });

  it('rejects an increment reply above the final value', () => {
    const h = history([init, incr(0, 1, 10, 11, 1), incr(0, 1, 12, 13, 2), incr(1, 5, 5, undefined, undefined, 'info'), read(2, 30, 31, '1')]);
    expect(checkCounter(h).outcome).toBe('invalid');
  });

  it('rejects an intermediate read that went backwards past acknowledged increments', () => {
    const h = history([init, incr(0, 1, 10, 11, 1), incr(0, 1, 12, 13, 2), read(1, 14, 15, '1'), read(1, 30, 31, '2')]);
    const result = checkCounter(h);
    expect(result.outcome).toBe('invalid');
    expect(result.anomaly!.message).toContain('a read of "counter" returned 1');
  });

  it('is unknown without a successful final read', () => {
    const h = history([init, incr(0, 1, 10, 11, 1), { ...read(1, 20, 21, null), type: 'fail' }]);
    expect(checkCounter(h)).toMatchObject({ outcome: 'unknown', note: 'no read of the counter succeeded' });
    expect(checkCounter([])).toMatchObject({ outcome: 'unknown', key: null });
  });

  it('reads padded counter text as a number', () => {
    const h = history([init, incr(0, 1, 10, 11, 1), read(1, 20, 21, '1  ')]);
    expect(checkCounter(h)).toMatchObject({ outcome: 'valid', final: 1 });
  });
});

function append(p: number, token: string, start: number, end?: number, type: OpSpec['type'] = 'ok'): OpSpec {
  return { p, f: 'append', key: 'set', v: token, start, end, type };
}

describe('checkSet', () => {
  it('accepts a final read with every acknowledged token and some info ones', () => {
    const h = history([
      append(0, 'p0-0', 0, 1),
      append(1, 'p1-0', 0, 2),
      append(2, 'p2-0', 0, 3, 'info'),
      append(3, 'p3-0', 0, 3, 'info'),
      append(4, 'p4-0', 0, 3, 'fail'),
      append(5, 'p5-0', 0),
      read(6, 1, 2, ' p0-0', 'set'),
      read(6, 10, 11, ' p1-0 p0-0 p2-0', 'set'),
    ]);
    expect(checkSet(h)).toMatchObject({
      outcome: 'valid', acknowledged: 2, present: 3, lost: [], unexpected: [], recovered: 1, staleReads: 0,
    });
  });

  it('reports lost and unexpected tokens', () => {
    const h = history([append(0, 'a', 0, 1), append(0, 'b', 2, 3), read(1, 10, 11, 'a zz', 'set')]);
    const result = checkSet(h);
    expect(result).toMatchObject({ outcome: 'invalid', lost: ['b'], unexpected: ['zz'] });
    expect(result.anomaly!.kind).toBe('set-unexpected');
  });

  it('rejects a failed append that shows up, and a token applied twice', () => {
    const failed = checkSet(history([append(0, 'a', 0, 1, 'fail'), read(1, 10, 11, 'a', 'set')]));
    expect(failed).toMatchObject({ outcome: 'invalid', failedPresent: ['a'] });
    const twice = checkSet(history([append(0, 'a', 0, 1, 'info'), read(1, 10, 11, 'a a', 'set')]));
    expect(twice).toMatchObject({ outcome: 'invalid', duplicated: ['a'] });
  });

  it('rejects an earlier read missing a token acknowledged before it began', () => {
    const h = history([append(0, 'a', 0, 1), read(1, 5, 6, '', 'set'), read(1, 10, 11, 'a', 'set')]);
    const result = checkSet(h);
    expect(result).toMatchObject({ outcome: 'invalid', staleReads: 1, lost: [] });
    expect(result.anomaly!.message).toBe('a read of "set" is missing 1 acknowledged token(s), e.g. "a"');
  });

  it('is unknown without a successful read', () => {
    expect(checkSet(history([append(0, 'a', 0, 1)]))).toMatchObject({ outcome: 'unknown' });
  });
});
