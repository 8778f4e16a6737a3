/**
 * Determinism (DESIGN.md section 3): replicas fed the same log reach the same state.
 *
 * Two machines apply the same random entries (batches of ops with one leader time each);
 * one receives them through encodeEntry/decodeEntry as a follower would from the log.
 * Their digests must be equal after every entry. At a random point a snapshot of one is
 * restored into a fresh machine, and all three continue: digests stay equal. A small
 * memory limit makes eviction part of the run.
 */
import { readdirSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CacheOp } from '../../src/cache/ops.js';
import { decodeEntry, encodeEntry } from '../../src/cache/op-codec.js';
import { CacheStateMachine, type CacheConfig } from '../../src/cache/state-machine.js';
import { concreteOp, opSpecArb, type OpSpec } from './op-arbitraries.js';

interface EntrySpec {
  advanceMs: number;
  ops: OpSpec[];
}

const entryArb: fc.Arbitrary<EntrySpec> = fc.record({
  advanceMs: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 0, max: 30_000 })),
  ops: fc.array(opSpecArb, { minLength: 1, maxLength: 4 }),
});

const configs: CacheConfig[] = [
  { memoryBytesMax: 1e12, itemBytesMax: 1024 },
  // Room for a handful of items only: evictions happen all the time.
  { memoryBytesMax: 700, itemBytesMax: 512 },
];

/** Evictions seen per config across runs: the small config must really evict. */
const evictionsSeen = new Map<CacheConfig, number>();

function run(config: CacheConfig, entries: EntrySpec[], snapshotAt: number): void {
  const leader = new CacheStateMachine(config);
  const follower = new CacheStateMachine(config);
  let restored: CacheStateMachine | null = null;
  let nowMs = 1_700_000_000_000;
  let index = 0;
  entries.forEach((spec, position) => {
    nowMs += spec.advanceMs;
    index += 1;
    // CAS tokens from the leader's view, as a client would have read them.
    const casOf = (key: Buffer): number | null => {
      const hit = leader.read({ type: 'get', key, noBump: true }, nowMs);
      return hit !== null && hit.kind === 'hit' ? hit.item.cas : null;
    };
    const ops: CacheOp[] = spec.ops.map((op) => concreteOp(op, nowMs, casOf));
    const bytes = encodeEntry({ nowMs, ops });
    const expected = leader.applyEntry({ nowMs, ops }, index);
    expect(follower.applyEntry(decodeEntry(bytes), index)).toEqual(expected);
    if (restored !== null) expect(restored.applyEntry(decodeEntry(bytes), index)).toEqual(expected);
    const digest = leader.digest();
    expect(follower.digest()).toBe(digest);
    expect(follower.stats()).toEqual(leader.stats());
    if (restored !== null) expect(restored.digest()).toBe(digest);
    if (position === snapshotAt) {
      restored = new CacheStateMachine(config);
      restored.restore(follower.snapshot());
      expect(restored.digest()).toBe(digest);
      expect(restored.appliedIndex).toBe(index);
      expect(restored.stats()).toEqual(leader.stats());
    }
    expect(leader.stats().bytes).toBeLessThanOrEqual(config.memoryBytesMax);
  });
  evictionsSeen.set(config, (evictionsSeen.get(config) ?? 0) + leader.stats().evictions);
}

describe('CacheStateMachine determinism', () => {
  for (const config of configs) {
    it(`gives equal digests at equal applied index (memoryBytesMax ${config.memoryBytesMax})`, () => {
      fc.assert(
        fc.property(
          fc.array(entryArb, { minLength: 1, maxLength: 40, size: 'max' }),
          fc.nat(),
          (entries, at) => run(config, entries, at % entries.length),
        ),
        { numRuns: 150 },
      );
      if (config.memoryBytesMax < 1e6) expect(evictionsSeen.get(config)).toBeGreaterThan(0);
    });
  }

  it('src/cache reads no clock, randomness or I/O', () => {
    const dir = new URL('../../src/cache/', import.meta.url);
    const forbidden = /Date\.now|new Date\(|Math\.random|performance\.now|process\.hrtime|setTimeout|setInterval|setImmediate|from 'node:(fs|net|http|child_process|worker_threads)'|randomBytes|randomInt/;
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
      const code = readFileSync(new URL(file, dir), 'utf8').replace(/^\s*(\*|\/\/).*$/gm, '');
      expect(forbidden.exec(code)?.[0] ?? null, file).toBeNull();
    }
  });

  it('markApplied moves the applied index and the digest with it', () => {
    const a = new CacheStateMachine(configs[0]!);
    const before = a.digest();
    a.markApplied(7);
    expect(a.appliedIndex).toBe(7);
    expect(a.digest()).not.toBe(before);
    expect(() => a.markApplied(6)).toThrow();
  });

  it('restore replaces the previous state entirely', () => {
    const a = new CacheStateMachine(configs[0]!);
    const b = new CacheStateMachine(configs[0]!);
    const set = (key: string): CacheOp => ({ type: 'store', mode: 'set', key: Buffer.from(key), flags: 0, exptime: 0, value: Buffer.from('v') });
    a.apply(set('only-in-a'), 1, 1000);
    b.apply(set('only-in-b'), 1, 1000);
    b.apply(set('only-in-b-2'), 2, 1000);
    b.restore(a.snapshot());
    expect(b.digest()).toBe(a.digest());
    expect(b.read({ type: 'get', key: Buffer.from('only-in-b') }, 1000)).toEqual({ kind: 'miss' });
    expect(b.stats().curr_items).toBe(1);
  });
});
