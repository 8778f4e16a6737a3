/**
 * The op and entry codec: every op round-trips (Buffers stay Buffers, bigints stay bigints
 * up to 2^64-1, absent fields stay absent), whether the input is a Buffer or a bare
 * Uint8Array copy as storage may hand back.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CacheOp } from '../../src/cache/ops.js';
import { decodeEntry, decodeOp, encodeEntry, encodeOp } from '../../src/cache/op-codec.js';
import { concreteOp, opSpecArb } from './op-arbitraries.js';

/** Drops undefined fields, so toStrictEqual compares what is present. */
function defined(op: CacheOp): Record<string, unknown> {
  return Object.fromEntries(Object.entries(op).filter(([, v]) => v !== undefined));
}

const opArb: fc.Arbitrary<CacheOp> = fc
  .tuple(opSpecArb, fc.integer({ min: 0, max: 2 ** 45 }), fc.option(fc.integer({ min: 1, max: 2 ** 53 - 1 })))
  .map(([spec, nowMs, cas]) => concreteOp(spec, nowMs, () => cas));

describe('op codec', () => {
  it('round-trips every op', () => {
    fc.assert(
      fc.property(opArb, fc.boolean(), (op, bare) => {
        const bytes = encodeOp(op);
        const decoded = decodeOp(bare ? new Uint8Array(bytes) : bytes);
        expect(defined(decoded)).toStrictEqual(defined(op));
        for (const value of Object.values(decoded)) {
          if (value instanceof Uint8Array) expect(Buffer.isBuffer(value)).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('keeps 64-bit deltas and initial values exact', () => {
    for (const delta of [0n, 1n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 1n]) {
      const op: CacheOp = { type: 'arith', key: Buffer.from('n'), incr: true, delta, initial: delta, vivify: 0 };
      const decoded = decodeOp(encodeOp(op));
      expect(decoded).toMatchObject({ delta, initial: delta });
      expect(typeof (decoded as { delta: unknown }).delta).toBe('bigint');
    }
  });

  it('round-trips entries (leader time plus a batch of ops)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 45 }), fc.array(opArb, { maxLength: 8 }), (nowMs, ops) => {
        const decoded = decodeEntry(new Uint8Array(encodeEntry({ nowMs, ops })));
        expect(decoded.nowMs).toBe(nowMs);
        expect(decoded.ops.map(defined)).toStrictEqual(ops.map(defined));
      }),
      { numRuns: 200 },
    );
  });

  it('keeps binary keys and values byte for byte', () => {
    const key = Buffer.from([0, 255, 128, 10, 13]);
    const value = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const decoded = decodeOp(encodeOp({ type: 'store', mode: 'set', key, flags: 0xffffffff, exptime: 0, value }));
    expect(decoded).toMatchObject({ key, value, flags: 0xffffffff });
  });
});
