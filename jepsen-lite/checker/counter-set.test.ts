import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { HistoryEvent } from '../history/types.js';
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

describe('checkSet: the quick pass for clean reads', () => {
  /**
   * A random set history: processes append unique tokens (applied at a random moment
   * between invoke and completion, or never for a fail; an info one may or may not be) and
   * read the value at their completion. Now and then the "server" misbehaves for every
   * later read alike (a failed append applied, an append applied twice, a token nobody
   * appended), and now and then one read is spoiled (a token dropped, repeated, swapped with
   * its neighbour, made up, one appended after the read ended, or the value cut mid-token).
   */
  function randomSetHistory(choices: number[]): HistoryEvent[] {
    let i = 0;
    const choose = (): number => choices[i++ % choices.length]!;
    const ops: OpSpec[] = [{ p: 99, f: 'write', key: 'set', v: '', start: 0, end: 1 }];
    let value = '';
    let token = 0;
    for (let t = 2; t < 2 + choices.length * 2; t += 2) {
      const p = Math.floor(choose() * 6);
      if (choose() < 0.7) {
        const v = `p${p}-${token++}`;
        const type: OpSpec['type'] = choose() < 0.8 ? 'ok' : choose() < 0.5 ? 'fail' : 'info';
        if (type === 'ok' || (type === 'info' && choose() < 0.5)) value += ` ${v}`;
        const bug = choose();
        if (bug < 0.02) value += type === 'fail' ? ` ${v}` : ` ${v} ${v}`;
        else if (bug < 0.03) value += ' zz';
        ops.push(append(100 + token, v, t, t + 1 + Math.floor(choose() * 4), type));
      } else {
        ops.push(read(200 + t, t - Math.floor(choose() * 4), t + 1, value, 'set'));
      }
    }
    ops.push(read(300, 10_000, 10_001, value, 'set'));
    const reads = ops.filter((op) => op.f === 'read');
    if (choose() < 0.7 && reads.length > 0) {
      const spoiled = reads[Math.floor(choose() * reads.length)]!;
      const tokens = String(spoiled.out).split(' ').filter((x) => x !== '');
      const at = Math.floor(choose() * Math.max(1, tokens.length));
      const how = Math.floor(choose() * 6);
      const later = String(ops[ops.length - 1]!.out).split(' ').filter((x) => x !== '')[tokens.length];
      if (how === 4 && later !== undefined) tokens.push(later);
      else if (how === 0) tokens.splice(at, 1);
      else if (how === 1 && tokens.length > 0) tokens.splice(at, 0, tokens[at]!);
      else if (how === 2 && at + 1 < tokens.length) [tokens[at], tokens[at + 1]] = [tokens[at + 1]!, tokens[at]!];
      else tokens.splice(at, 0, 'zz');
      spoiled.out = tokens.length === 0 ? '' : ` ${tokens.join(' ')}`;
      if (how === 5 && spoiled.out.length > 2) spoiled.out = spoiled.out.slice(0, -1);
    }
    return history(ops);
  }

  it('gives the same verdict and figures as checking every read token by token', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { minLength: 4, maxLength: 120 }), (choices) => {
        const h = randomSetHistory(choices);
        expect(checkSet(h)).toEqual(checkSet(h, { exhaustive: true }));
      }),
      { numRuns: 400 },
    );
  });

  it('takes a value cut mid-token as a token of its own (not a clean prefix)', () => {
    const h = history([append(0, 'p1-10', 0, 10), read(1, 2, 3, ' p1-1', 'set'), read(1, 20, 21, ' p1-10', 'set')]);
    expect(checkSet(h)).toMatchObject({ outcome: 'invalid', unexpected: ['p1-1'] });
  });

  it('still catches a stale read among clean ones', () => {
    const h = history([append(0, 'a', 0, 1), append(0, 'b', 2, 3), read(1, 4, 5, ' a b', 'set'), read(1, 6, 7, ' a', 'set'), read(1, 10, 11, ' a b', 'set')]);
    expect(checkSet(h)).toMatchObject({ outcome: 'invalid', staleReads: 1 });
  });
});
