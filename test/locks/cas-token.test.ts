// The fencing token of docs/locks.md is a CAS unique: for it to fence, the CAS values a
// group hands out must rise with every write, whatever came before: deletes, expiry,
// flush_all, touch, batched entries (several ops in one log entry) and a replica that
// restarts from a snapshot (what a restart, a new replica or a moved one does). Seeded
// random entries through the real state machine; every CAS a write answers must be above
// every CAS answered before it in the group, and a key's CAS as read never goes back.
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../src/raft/prng.js';
import type { CacheOp, CacheResult } from '../../src/cache/ops.js';
import { CacheStateMachine } from '../../src/cache/state-machine.js';

const config = { memoryBytesMax: 1 << 20, itemBytesMax: 1 << 16 };
const keys = ['lock:a', 'lock:b', 'res:a', 'n'].map((k) => Buffer.from(k));

function randomOp(next: () => number, lastCas: Map<string, number>): CacheOp {
  const key = keys[Math.floor(next() * keys.length)]!;
  const value = Buffer.from(`v${Math.floor(next() * 1000)}`);
  const exptime = next() < 0.5 ? 1 : 0; // 1 s: expires as time advances
  const dice = next();
  if (dice < 0.3) return { type: 'store', mode: 'add', key, flags: 0, exptime, value };
  if (dice < 0.45) return { type: 'store', mode: 'set', key, flags: 0, exptime, value };
  if (dice < 0.6) return { type: 'store', mode: 'set', key, flags: 0, exptime, value, cas: lastCas.get(key.toString()) ?? 1 };
  if (dice < 0.7) return { type: 'delete', key, cas: next() < 0.5 ? lastCas.get(key.toString()) : undefined };
  if (dice < 0.78) return { type: 'delete', key, invalidate: true };
  if (dice < 0.85) return { type: 'touch', key, exptime: 2 };
  if (dice < 0.92) return { type: 'arith', key: keys[3]!, incr: true, delta: 1n, vivify: 0 };
  if (dice < 0.95) return { type: 'flush', delay: 0 };
  return { type: 'expire', scanMax: 10 };
}

function casOf(r: CacheResult): number | null {
  return r.kind === 'stored' || r.kind === 'number' ? r.cas : null;
}

describe('CAS uniques as fencing tokens', () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    it(`seed ${seed}: every write's CAS is above every earlier one, across snapshots and restores`, () => {
      const next = mulberry32(seed);
      let machine = new CacheStateMachine(config);
      let index = 0;
      let nowMs = 1_700_000_000_000;
      let highest = 0;
      let restores = 0;
      const lastCas = new Map<string, number>();
      for (let e = 0; e < 600; e++) {
        index += 1 + Math.floor(next() * 3); // entries without cache ops in between (config, no-ops)
        nowMs += Math.floor(next() * 600);
        const ops = Array.from({ length: 1 + Math.floor(next() * 3) }, () => randomOp(next, lastCas));
        const results = machine.applyEntry({ nowMs, ops }, index);
        results.forEach((r, i) => {
          const cas = casOf(r);
          if (cas === null) return;
          expect(cas, `entry ${index} op ${i}`).toBeGreaterThan(highest);
          highest = cas;
        });
        for (const key of keys) {
          const r = machine.read({ type: 'get', key }, nowMs);
          if (r?.kind !== 'hit') continue;
          const before = lastCas.get(key.toString());
          if (before !== undefined) expect(r.item.cas, `${key.toString()} after entry ${index}`).toBeGreaterThanOrEqual(before);
          lastCas.set(key.toString(), r.item.cas);
        }
        if (next() < 0.05) {
          // A restart, a new replica or a moved one: the state comes back from a snapshot.
          const copy = new CacheStateMachine(config);
          copy.restore(machine.snapshot());
          expect(copy.digest()).toBe(machine.digest());
          machine = copy;
          restores++;
        }
      }
      expect(restores).toBeGreaterThan(5);
      expect(highest).toBeGreaterThan(600);
    });
  }
});
