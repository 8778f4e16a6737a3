/**
 * fast-check generators of cache command sequences, shared by the model and determinism
 * tests. Commands are data; `concreteOp` turns one into a CacheOp at execution time, when
 * the current time and the key's current CAS (for real and stale CAS tokens) are known.
 */
import fc from 'fast-check';
import type { CacheOp, StoreMode } from '../../src/cache/ops.js';

/** A small key pool so that commands collide; includes binary bytes. */
export const keyPool: Buffer[] = ['a', 'b', 'c', 'key:with:more:bytes', '\u00ff\u0000\u0080'].map((k) =>
  Buffer.from(k, 'latin1'),
);

/** Values that exercise incr/decr parsing, padding, wrapping and sizes. */
export const valuePool: Buffer[] = [
  '', '0', '1', '9', '99', '100', ' 5', '7\t', '12 abc', 'abc', '+5', '-0', '-5', '0x5',
  '18446744073709551615', '18446744073709551616', '00000000000000000000001', 'x'.repeat(40), 'y'.repeat(200), 'z'.repeat(300),
].map((v) => Buffer.from(v, 'latin1'));

/** A raw exptime, or an offset from the current unix second (absolute exptime). */
export type ExptimeSpec = { raw: number } | { absOffsetSec: number };

/** How to build a CAS token. */
export type CasSpec = 'none' | 'current' | 'older' | 'zero' | 'huge' | { fixed: number };

export type OpSpec =
  | { t: 'get'; key: number; touch?: ExptimeSpec; vivify?: ExptimeSpec; recache?: number; touchFirst: boolean; noBump: boolean; newCas?: number; token: boolean }
  | {
      t: 'store'; mode: StoreMode; key: number; flags: number; exptime: ExptimeSpec; value: number; cas: CasSpec;
      invalidate: boolean; vivify?: ExptimeSpec; newCas?: number;
    }
  | { t: 'delete'; key: number; cas: CasSpec; invalidate: boolean; exptime?: ExptimeSpec; removeValue: boolean; newCas?: number }
  | {
      t: 'arith'; key: number; incr: boolean; delta: bigint; cas: CasSpec; vivify?: ExptimeSpec; initial?: bigint;
      exptime?: ExptimeSpec; newCas?: number;
    }
  | { t: 'touch'; key: number; exptime: ExptimeSpec }
  | { t: 'flush'; delay: ExptimeSpec }
  | { t: 'bump'; keys: number[] }
  | { t: 'expire'; scanMax: number };

/** A step: advance the clock, or run an op (in the previous op's entry when `sameEntry`). */
export type Command = { t: 'advance'; ms: number } | { t: 'op'; sameEntry: boolean; skipIndexes: number; op: OpSpec };

const keyArb = fc.integer({ min: 0, max: keyPool.length - 1 });

export const exptimeArb: fc.Arbitrary<ExptimeSpec> = fc.oneof(
  fc.constant({ raw: 0 }),
  fc.integer({ min: -3, max: -1 }).map((raw) => ({ raw })),
  fc.integer({ min: 1, max: 20 }).map((raw) => ({ raw })),
  fc.constantFrom({ raw: 2592000 }, { raw: 2592001 }),
  fc.integer({ min: -5, max: 25 }).map((absOffsetSec) => ({ absOffsetSec })),
);

const casArb: fc.Arbitrary<CasSpec> = fc.oneof(
  { weight: 3, arbitrary: fc.constant('current' as const) },
  { weight: 2, arbitrary: fc.constantFrom('none' as const, 'older' as const, 'zero' as const, 'huge' as const) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 60 }).map((fixed) => ({ fixed })) },
);

/** Mostly absent: `absentWeight` to 1. */
const optional = <T>(arb: fc.Arbitrary<T>, absentWeight = 3): fc.Arbitrary<T | undefined> =>
  fc.oneof({ weight: absentWeight, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });

const newCasArb = optional(fc.integer({ min: 1, max: 1_000_000 }), 10);

const getArb: fc.Arbitrary<OpSpec> = fc.record({
  t: fc.constant('get' as const),
  key: keyArb,
  touch: optional(exptimeArb),
  vivify: optional(exptimeArb),
  recache: optional(fc.integer({ min: 0, max: 30 })),
  touchFirst: fc.boolean(),
  noBump: fc.boolean(),
  newCas: newCasArb,
  token: fc.boolean(),
});

const storeArb: fc.Arbitrary<OpSpec> = fc.record({
  t: fc.constant('store' as const),
  mode: fc.constantFrom<StoreMode>('set', 'add', 'replace', 'append', 'prepend', 'cas'),
  key: keyArb,
  flags: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 0xffffffff })),
  exptime: exptimeArb,
  value: fc.integer({ min: 0, max: valuePool.length - 1 }),
  cas: fc.oneof({ weight: 3, arbitrary: fc.constant('none' as const) }, { weight: 2, arbitrary: casArb }),
  invalidate: fc.boolean(),
  vivify: optional(exptimeArb),
  newCas: newCasArb,
});

const deleteArb: fc.Arbitrary<OpSpec> = fc.record({
  t: fc.constant('delete' as const),
  key: keyArb,
  cas: fc.oneof({ weight: 3, arbitrary: fc.constant('none' as const) }, { weight: 1, arbitrary: casArb }),
  invalidate: fc.boolean(),
  exptime: optional(exptimeArb),
  removeValue: fc.boolean(),
  newCas: newCasArb,
});

const deltaArb = fc.oneof(
  fc.bigInt({ min: 0n, max: 200n }),
  fc.constantFrom(2n ** 64n - 1n, 2n ** 63n, 2n ** 64n - 100n),
);

const arithArb: fc.Arbitrary<OpSpec> = fc.record({
  t: fc.constant('arith' as const),
  key: keyArb,
  incr: fc.boolean(),
  delta: deltaArb,
  cas: fc.oneof({ weight: 3, arbitrary: fc.constant('none' as const) }, { weight: 1, arbitrary: casArb }),
  vivify: optional(exptimeArb),
  initial: optional(fc.oneof(fc.bigInt({ min: 0n, max: 1000n }), fc.constant(2n ** 64n - 1n))),
  exptime: optional(exptimeArb),
  newCas: newCasArb,
});

export const opSpecArb: fc.Arbitrary<OpSpec> = fc.oneof(
  { weight: 6, arbitrary: getArb },
  { weight: 8, arbitrary: storeArb },
  { weight: 3, arbitrary: deleteArb },
  { weight: 4, arbitrary: arithArb },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('touch' as const), key: keyArb, exptime: exptimeArb }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('flush' as const), delay: exptimeArb }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('bump' as const), keys: fc.uniqueArray(keyArb, { maxLength: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('expire' as const), scanMax: fc.integer({ min: 1, max: 4 }) }) },
);

export const commandArb: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 1,
    arbitrary: fc.oneof(fc.integer({ min: 0, max: 2500 }), fc.integer({ min: 0, max: 40_000 })).map((ms) => ({
      t: 'advance' as const,
      ms,
    })),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      t: fc.constant('op' as const),
      sameEntry: fc.boolean(),
      skipIndexes: fc.oneof({ weight: 5, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }) }),
      op: opSpecArb,
    }),
  },
);

/** Raw exptime of a spec at `nowMs`. */
export function rawExptime(spec: ExptimeSpec, nowMs: number): number {
  return 'raw' in spec ? spec.raw : Math.floor(nowMs / 1000) + spec.absOffsetSec;
}

function casToken(spec: CasSpec, currentCas: number | null): number | undefined {
  if (spec === 'none') return undefined;
  if (spec === 'zero') return 0;
  if (spec === 'huge') return -1;
  if (typeof spec === 'object') return spec.fixed;
  const cas = currentCas ?? 1;
  return spec === 'current' ? cas : Math.max(1, cas - 1);
}

const exp = (spec: ExptimeSpec | undefined, nowMs: number): number | undefined =>
  spec === undefined ? undefined : rawExptime(spec, nowMs);

/** The CacheOp of a spec, given the time and the key's current CAS (null when absent). */
export function concreteOp(spec: OpSpec, nowMs: number, casOf: (key: Buffer) => number | null): CacheOp {
  switch (spec.t) {
    case 'get':
      return {
        type: 'get', key: keyPool[spec.key]!, touch: exp(spec.touch, nowMs), vivify: exp(spec.vivify, nowMs),
        recache: spec.recache, touchFirst: spec.touchFirst || undefined, noBump: spec.noBump, newCas: spec.vivify === undefined ? undefined : spec.newCas,
        token: spec.token,
      };
    case 'store': {
      const key = keyPool[spec.key]!;
      const cas = casToken(spec.mode === 'cas' && spec.cas === 'none' ? 'current' : spec.cas, casOf(key));
      return {
        type: 'store', mode: spec.mode, key, flags: spec.flags, exptime: rawExptime(spec.exptime, nowMs),
        value: valuePool[spec.value]!, cas, newCas: spec.newCas, invalidate: spec.invalidate || undefined,
        vivify: spec.mode === 'append' || spec.mode === 'prepend' ? exp(spec.vivify, nowMs) : undefined,
      };
    }
    case 'delete': {
      const key = keyPool[spec.key]!;
      return {
        type: 'delete', key, cas: casToken(spec.cas, casOf(key)), newCas: spec.newCas,
        invalidate: spec.invalidate || undefined, exptime: spec.invalidate ? exp(spec.exptime, nowMs) : undefined,
        removeValue: spec.removeValue || undefined,
      };
    }
    case 'arith': {
      const key = keyPool[spec.key]!;
      return {
        type: 'arith', key, incr: spec.incr, delta: spec.delta, cas: casToken(spec.cas, casOf(key)),
        newCas: spec.newCas, vivify: exp(spec.vivify, nowMs), initial: spec.vivify === undefined ? undefined : spec.initial,
        exptime: exp(spec.exptime, nowMs),
      };
    }
    case 'touch':
      return { type: 'touch', key: keyPool[spec.key]!, exptime: rawExptime(spec.exptime, nowMs) };
    case 'flush':
      return { type: 'flush', delay: rawExptime(spec.delay, nowMs) };
    case 'bump':
      return { type: 'bump', keys: spec.keys.map((k) => keyPool[k]!) };
    case 'expire':
      return { type: 'expire', scanMax: spec.scanMax };
  }
}
