/**
 * MemoryStorage's byte accounting and released snapshots (issue 15): logBytes() always
 * equals the payload bytes of the entries it holds, through appends that truncate a
 * conflicting suffix, compactions and installed snapshots; a released snapshot keeps its
 * metadata and snapshot() asks the source.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryStorage } from '../../src/raft/memory-storage.js';
import { EntryType, type Entry, type Snapshot } from '../../src/raft/types.js';

function entry(index: number, term: number, bytes: number): Entry {
  return { index, term, type: EntryType.Normal, data: new Uint8Array(bytes) };
}

function heldBytes(s: MemoryStorage): number {
  if (s.lastIndex() < s.firstIndex()) return 0;
  return s.entries(s.firstIndex(), s.lastIndex() + 1).reduce((sum, e) => sum + e.data.byteLength, 0);
}

type Step =
  | { kind: 'append'; back: number; sizes: number[] }
  | { kind: 'compact'; back: number }
  | { kind: 'snapshot'; ahead: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('append' as const), back: fc.nat(6), sizes: fc.array(fc.nat(300), { minLength: 1, maxLength: 6 }) }),
  fc.record({ kind: fc.constant('compact' as const), back: fc.nat(8) }),
  fc.record({ kind: fc.constant('snapshot' as const), ahead: fc.integer({ min: -3, max: 4 }) }),
);

describe('MemoryStorage.logBytes', () => {
  it('equals the payload bytes held after any appends, truncations, compactions and snapshots', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 40 }), (steps) => {
        const s = new MemoryStorage();
        let term = 1;
        for (const st of steps) {
          if (st.kind === 'append') {
            // Appending from `back` entries before the end truncates the suffix (a new term's entries).
            const start = Math.max(s.firstIndex(), s.lastIndex() + 1 - st.back);
            term++;
            s.append(st.sizes.map((bytes, i) => entry(start + i, term, bytes)));
          } else if (st.kind === 'compact') {
            const to = s.lastIndex() - st.back;
            if (to >= s.firstIndex()) s.compact(to);
          } else {
            const index = s.lastIndex() + st.ahead;
            if (index <= s.snapshot().meta.index) continue;
            const snap: Snapshot = { meta: { index, term: term + 1, confState: { voters: [1], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false } }, data: new Uint8Array(5) };
            s.applySnapshot(snap);
          }
          expect(s.logBytes()).toBe(heldBytes(s));
        }
      }),
      { numRuns: 300, seed: 15 },
    );
  });

  it('a released snapshot keeps its metadata; snapshot() then comes from the source, until a new one', () => {
    const s = new MemoryStorage();
    s.append([entry(1, 1, 10), entry(2, 1, 10), entry(3, 1, 10)]);
    const snap = s.createSnapshot(2, undefined, new Uint8Array(100));
    s.compact(2);
    expect(s.logBytes()).toBe(10);
    const fresh: Snapshot = { meta: { ...snap.meta, index: 3 }, data: new Uint8Array(7) };
    s.releaseSnapshotData(() => fresh);
    expect(s.snapshot()).toBe(fresh);
    expect(s.term(2)).toBe(1);
    // An older snapshot is still refused: the released one's index is kept.
    expect(() => s.applySnapshot({ ...snap, meta: { ...snap.meta, index: 1 } })).toThrow();
    const made = s.createSnapshot(3, undefined, new Uint8Array(3));
    expect(s.snapshot()).toBe(made);
  });
});
