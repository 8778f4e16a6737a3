// The rest of a cache user's command set in checkRegister (issue 11, item 2): replace,
// touch, decr, cas-delete (md C<cas> after mg c), the per-key reads of a multi-key get (each
// its own sub-process) and the noreply set recorded as an info write before a read. For each:
// a correct history is valid, a planted wrong one invalid.
import { describe, expect, it } from 'vitest';
import { subProcessBase } from '../history/types.js';
import { history } from './history-builder.js';
import { checkRegister, checkReplies } from './index.js';
import { countCompletions } from '../run.js';

describe('checkRegister: replace', () => {
  it('accepts replace on a present key and a failed replace on an absent one', () => {
    const h = history([
      { p: 0, f: 'replace', v: 'a', start: 0, end: 1, type: 'fail' },
      { p: 0, f: 'read', start: 2, end: 3, out: null },
      { p: 0, f: 'write', v: 'b', start: 4, end: 5 },
      { p: 0, f: 'replace', v: 'c', start: 6, end: 7 },
      { p: 0, f: 'read', start: 8, end: 9, out: 'c' },
    ]);
    expect(checkRegister(h).outcome).toBe('valid');
  });

  it('rejects a replace that succeeds on an absent key', () => {
    const h = history([
      { p: 0, f: 'write', v: 'a', start: 0, end: 1 },
      { p: 0, f: 'delete', start: 2, end: 3 },
      { p: 0, f: 'replace', v: 'b', start: 4, end: 5 },
    ]);
    const result = checkRegister(h);
    expect(result.outcome).toBe('invalid');
    expect(result.keys.k!.anomaly!.message).toBe('replace of "k" ("b") succeeded but the value could only be absent');
  });

  it('rejects a read of the old value after an ok replace', () => {
    const h = history([
      { p: 0, f: 'write', v: 'a', start: 0, end: 1 },
      { p: 0, f: 'replace', v: 'b', start: 2, end: 3 },
      { p: 1, f: 'read', start: 4, end: 5, out: 'a' },
    ]);
    expect(checkRegister(h).outcome).toBe('invalid');
  });

  it('lets an info write nobody reads make a later replace succeed (never dropped as unobservable)', () => {
    const h = history([
      { p: 0, f: 'delete', start: 0, end: 1, type: 'fail' },
      { p: 1, f: 'write', v: 'x', start: 2, end: 3, type: 'info' },
      { p: 0, f: 'replace', v: 'y', start: 4, end: 5 },
      { p: 0, f: 'read', start: 6, end: 7, out: 'y' },
    ]);
    expect(checkRegister(h).outcome).toBe('valid');
  });
});

describe('checkRegister: touch', () => {
  it('accepts touch on a present key (value unchanged) and a failed touch on an absent one', () => {
    const h = history([
      { p: 0, f: 'touch', start: 0, end: 1, type: 'fail' },
      { p: 0, f: 'write', v: 'a', start: 2, end: 3 },
      { p: 0, f: 'touch', start: 4, end: 5 },
      { p: 0, f: 'read', start: 6, end: 7, out: 'a' },
    ]);
    expect(checkRegister(h).outcome).toBe('valid');
  });

  it('accepts an ok touch concurrent with a delete (it ran first)', () => {
    const h = history([
      { p: 0, f: 'write', v: 'a', start: 0, end: 1 },
      { p: 1, f: 'delete', start: 2, end: 10 },
      { p: 2, f: 'touch', start: 3, end: 9 },
      { p: 0, f: 'read', start: 11, end: 12, out: null },
    ]);
    expect(checkRegister(h).outcome).toBe('valid');
  });

  it('rejects a touch that succeeds on an absent key', () => {
    const h = history([
      { p: 0, f: 'write', v: 'a', start: 0, end: 1 },
      { p: 0, f: 'delete', start: 2, end: 3 },
      { p: 1, f: 'touch', start: 4, end: 5 },
    ]);
    const result = checkRegister(h);
    expect(result.outcome).toBe('invalid');
    expect(result.keys.k!.anomaly!.message).toBe('touch of "k" succeeded but the value could only be absent');
  });

  it('lets an info write nobody reads make a later touch succeed', () => {
    const h = history([
      { p: 1, f: 'write', v: 'x', start: 0, end: 1, type: 'info' },
      { p: 0, f: 'touch', start: 2, end: 3 },
    ]);
    expect(checkRegister(h).outcome).toBe('valid');
  });
});

describe('checkRegister: decr', () => {
  it("follows memcached's decr: floors at 0, keeps the stored length (space padded)", () => {
    const h = history([
      { p: 0, f: 'write', v: '100', start: 0, end: 1 },
      { p: 0, f: 'decr', v: '1', start: 2, end: 3, out: '99' },
      { p: 1, f: 'read', start: 4, end: 5, out: '99 ' },
      { p: 0, f: 'decr', v: '500', start: 6, end: 7, out: '0' },
      { p: 1, f: 'read', start: 8, end: 9, out: '0  ' },
      { p: 0, f: 'incr', v: '7', start: 10, end: 11, out: '7' },
      { p: 1, f: 'read', start: 12, end: 13, out: '7  ' },
    ]);
    expect(checkRegister(h).outcome).toBe('valid');
  });

  it('rejects a decr below zero, a wrong reply, and an unpadded read after a shorter result', () => {
    const below = history([
      { p: 0, f: 'write', v: '5', start: 0, end: 1 },
      { p: 0, f: 'decr', v: '9', start: 2, end: 3, out: '18446744073709551612' },
    ]);
    expect(checkRegister(below).outcome).toBe('invalid');
    const wrong = history([
      { p: 0, f: 'write', v: '10', start: 0, end: 1 },
      { p: 0, f: 'decr', v: '1', start: 2, end: 3, out: '8' },
    ]);
    expect(checkRegister(wrong).keys.k!.anomaly!.message).toBe('decr of "k" by 1 returned 8 but the value could only be "10"');
    const unpadded = history([
      { p: 0, f: 'write', v: '10', start: 0, end: 1 },
      { p: 0, f: 'decr', v: '1', start: 2, end: 3, out: '9' },
      { p: 0, f: 'read', start: 4, end: 5, out: '9' },
    ]);
    expect(checkRegister(unpadded).outcome).toBe('invalid');
  });

  it('accepts an info decr seen later, and rejects a decr of an absent key that succeeds', () => {
    const info = history([
      { p: 0, f: 'write', v: '20', start: 0, end: 1 },
      { p: 1, f: 'decr', v: '3', start: 2, end: 3, type: 'info' },
      { p: 0, f: 'read', start: 4, end: 5, out: '17' },
    ]);
    expect(checkRegister(info).outcome).toBe('valid');
    const absent = history([{ p: 0, f: 'decr', v: '1', start: 0, end: 1, out: '0' }]);
    expect(checkRegister(absent).outcome).toBe('invalid');
  });
});

describe('checkRegister: cas-delete (md C<cas> after mg c)', () => {
  it('accepts a compare-and-delete of the value just read, and a failed one after another write', () => {
    const h = history([
      { p: 0, f: 'write', v: 'a', start: 0, end: 1 },
      { p: 1, f: 'read', start: 2, end: 3, out: 'a' },
      { p: 1, f: 'cas-delete', v: 'a', start: 4, end: 5 },
      { p: 0, f: 'read', start: 6, end: 7, out: null },
      { p: 0, f: 'write', v: 'b', start: 8, end: 9 },
      { p: 1, f: 'read', start: 10, end: 11, out: 'b' },
      { p: 0, f: 'write', v: 'c', start: 12, end: 13 },
      { p: 1, f: 'cas-delete', v: 'b', start: 14, end: 15, type: 'fail' },
      { p: 0, f: 'read', start: 16, end: 17, out: 'c' },
    ]);
    expect(checkRegister(h).outcome).toBe('valid');
  });

  it('rejects a compare-and-delete that succeeded after the value changed', () => {
    const h = history([
      { p: 0, f: 'write', v: 'a', start: 0, end: 1 },
      { p: 1, f: 'read', start: 2, end: 3, out: 'a' },
      { p: 0, f: 'write', v: 'b', start: 4, end: 5 },
      { p: 1, f: 'cas-delete', v: 'a', start: 6, end: 7 },
    ]);
    const result = checkRegister(h);
    expect(result.outcome).toBe('invalid');
    expect(result.keys.k!.anomaly!.message).toBe('cas-delete of "k" expecting "a" succeeded but the value could only be "b"');
  });

  it('rejects a read of the deleted value after an ok compare-and-delete', () => {
    const h = history([
      { p: 0, f: 'write', v: 'a', start: 0, end: 1 },
      { p: 1, f: 'cas-delete', v: 'a', start: 2, end: 3 },
      { p: 0, f: 'read', start: 4, end: 5, out: 'a' },
    ]);
    expect(checkRegister(h).outcome).toBe('invalid');
  });
});

describe('checkRegister: sub-processes', () => {
  const s = subProcessBase;

  it('checks the per-key reads of a multi-get on their own: two keys seen at different moments is valid', () => {
    // get a b, concurrent with writes of both: it saw b's new value and a's old one.
    const h = history([
      { p: 0, f: 'write', v: 'a1', key: 'a', start: 0, end: 1 },
      { p: 0, f: 'write', v: 'b1', key: 'b', start: 2, end: 3 },
      { p: s, f: 'read', key: 'a', start: 4, end: 20, out: 'a1' },
      { p: s + 1, f: 'read', key: 'b', start: 4, end: 20, out: 'b2' },
      { p: 1, f: 'write', v: 'a2', key: 'a', start: 5, end: 6 },
      { p: 1, f: 'write', v: 'b2', key: 'b', start: 7, end: 8 },
    ]);
    expect(checkRegister(h).outcome).toBe('valid');
  });

  it('rejects a multi-get key read that missed a write completed before the get was sent', () => {
    const h = history([
      { p: 0, f: 'write', v: 'a1', key: 'a', start: 0, end: 1 },
      { p: 0, f: 'write', v: 'a2', key: 'a', start: 2, end: 3 },
      { p: s, f: 'read', key: 'a', start: 4, end: 6, out: 'a1' },
      { p: s + 1, f: 'read', key: 'b', start: 4, end: 6, out: null },
    ]);
    const result = checkRegister(h);
    expect(result.outcome).toBe('invalid');
    expect(result.keys.a!.outcome).toBe('invalid');
    expect(result.keys.b!.outcome).toBe('valid');
  });

  it('a noreply set is an info write: its value or the older one may be read; a value nobody wrote may not', () => {
    for (const seen of ['old', 'new']) {
      const h = history([
        { p: 0, f: 'write', v: 'old', start: 0, end: 1 },
        { p: s, f: 'write', v: 'new', start: 2, end: 5, type: 'info' },
        { p: 1, f: 'read', start: 2, end: 5, out: seen },
      ]);
      expect(checkRegister(h).outcome).toBe('valid');
    }
    const h = history([
      { p: 0, f: 'write', v: 'old', start: 0, end: 1 },
      { p: s, f: 'write', v: 'new', start: 2, end: 5, type: 'info' },
      { p: 1, f: 'read', start: 2, end: 5, out: 'other' },
    ]);
    expect(checkRegister(h).outcome).toBe('invalid');
  });

  it('counts sub-process completions as workload ops, not the final reads', () => {
    const h = history([
      { p: 3, f: 'write', v: 'a', start: 0, end: 1 },
      { p: s, f: 'read', start: 2, end: 3, out: 'a' },
      { p: 1_000_000, f: 'read', start: 4, end: 5, out: 'a' },
    ]);
    expect(countCompletions(h, 1_000_000)).toEqual({ ok: 2, fail: 0, info: 0 });
  });

  it('an anomaly on a sub-process read makes checkReplies invalid', () => {
    const h = history([{ p: s, f: 'read', start: 0, end: 1, type: 'fail' }]);
    h[1]!.anomaly = 'a get of "a b" answered a VALUE of "b" out of order or twice';
    expect(checkReplies(h).outcome).toBe('invalid');
  });
});

describe('checkRegister: append and prepend', () => {
  it('accepts appends and prepends on a present key, failed ones on an absent key', () => {
    const h = history([
      { p: 0, f: 'append', v: 'a1', start: 0, end: 1, type: 'fail' },
      { p: 0, f: 'write', v: 'v', start: 2, end: 3 },
      { p: 0, f: 'append', v: 'a2', start: 4, end: 5 },
      { p: 1, f: 'prepend', v: 'a3', start: 6, end: 7 },
      { p: 0, f: 'read', start: 8, end: 9, out: 'a3 v a2' },
    ]);
    expect(checkRegister(h).outcome).toBe('valid');
  });

  it('orders concurrent appends either way, but each exactly once', () => {
    const ops = (out: string): Parameters<typeof history>[0] => [
      { p: 0, f: 'write', v: 'v', start: 0, end: 1 },
      { p: 1, f: 'append', v: 'a1', start: 2, end: 6 },
      { p: 2, f: 'append', v: 'a2', start: 3, end: 5, type: 'info' },
      { p: 0, f: 'read', start: 7, end: 8, out },
    ];
    expect(checkRegister(history(ops('v a2 a1'))).outcome).toBe('valid');
    expect(checkRegister(history(ops('v a1'))).outcome).toBe('valid');
    expect(checkRegister(history(ops('v a1 a1'))).outcome).toBe('invalid');
    expect(checkRegister(history(ops('v a2'))).outcome).toBe('invalid');
  });

  it('rejects an append that succeeds on an absent key', () => {
    const h = history([
      { p: 0, f: 'delete', start: 0, end: 1, type: 'fail' },
      { p: 0, f: 'append', v: 'a1', start: 2, end: 3 },
    ]);
    const result = checkRegister(h);
    expect(result.outcome).toBe('invalid');
    expect(result.keys.k!.anomaly!.message).toBe('append of "k" ("a1") succeeded but the value could only be absent');
  });

  it('rejects a prepend read on the wrong side', () => {
    const h = history([
      { p: 0, f: 'write', v: 'v', start: 0, end: 1 },
      { p: 0, f: 'prepend', v: 'a1', start: 2, end: 3 },
      { p: 1, f: 'read', start: 4, end: 5, out: 'v a1' },
    ]);
    expect(checkRegister(h).outcome).toBe('invalid');
  });

  it('keeps an info write read only inside a later append (never dropped as unobservable)', () => {
    const h = history([
      { p: 0, f: 'delete', start: 0, end: 1, type: 'fail' },
      { p: 1, f: 'write', v: 'x', start: 2, end: 3, type: 'info' },
      { p: 0, f: 'append', v: 'a1', start: 4, end: 5 },
      { p: 0, f: 'read', start: 6, end: 7, out: 'x a1' },
    ]);
    expect(checkRegister(h).outcome).toBe('valid');
  });
});
