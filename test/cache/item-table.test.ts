/**
 * The item table against a Map and an array: random inserts, removes, value changes and
 * LRU moves over thousands of keys (so the open-addressing index grows, probes long runs
 * and shifts entries back on deletion), checking lookups, values, byte counts and the LRU
 * order after every step. (node:assert in the loops: vitest's expect is too slow there.)
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ItemTable, NIL, hashKey, itemBytes, valueStringBytesMax } from '../../src/cache/item-table.js';

type TableOp =
  | { t: 'insert'; key: number; value: number; flags: number }
  | { t: 'remove'; key: number }
  | { t: 'set'; key: number; value: number }
  | { t: 'head'; key: number };

const allKeys: Buffer[] = Array.from({ length: 3000 }, (_, i) =>
  // Varied lengths, shared prefixes and binary bytes.
  Buffer.concat([Buffer.from(`k${i % 7}:`), Buffer.from([i & 0xff, i >> 8, 0, 255].slice(0, 1 + (i % 4))), Buffer.from(String(i))]),
);
const values: Buffer[] = [
  Buffer.alloc(0), Buffer.from('v'), Buffer.alloc(100, 'x'), Buffer.alloc(valueStringBytesMax, 'y'),
  Buffer.alloc(valueStringBytesMax + 1, 'z'), Buffer.from([0, 1, 2, 255, 254]),
];

const opArb = (keyMax: number): fc.Arbitrary<TableOp> =>
  fc.oneof(
    { weight: 5, arbitrary: fc.record({ t: fc.constant('insert' as const), key: fc.nat(keyMax), value: fc.nat(values.length - 1), flags: fc.constantFrom(0, 1, 0xffffffff) }) },
    { weight: 3, arbitrary: fc.record({ t: fc.constant('remove' as const), key: fc.nat(keyMax) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('set' as const), key: fc.nat(keyMax), value: fc.nat(values.length - 1) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('head' as const), key: fc.nat(keyMax) }) },
  );

function lruOrder(table: ItemTable): string[] {
  const order: string[] = [];
  for (let slot = table.head; slot !== NIL; slot = table.olderOf(slot)) order.push(table.keyBytes(slot).toString('latin1'));
  return order;
}

const seed = 12345;
/** The index's initial bucket count (ItemTable's bucketsInitial). */
const bucketsInitial = 2048;

/**
 * Keys whose home buckets straddle the end of the initial index, so probe runs wrap from
 * the last bucket to the first and deletions must shift entries back across the wrap.
 */
const wrappingKeys: Buffer[] = (() => {
  const picked: Buffer[] = [];
  for (let i = 0; picked.length < 24; i++) {
    const key = Buffer.from(`wrap-${i}`);
    const home = hashKey(key, seed) & (bucketsInitial - 1);
    if (home >= bucketsInitial - 6 || home <= 1) picked.push(key);
  }
  return picked;
})();

function check(ops: TableOp[], fullCheckEvery: number, keys: Buffer[] = allKeys): void {
  const table = new ItemTable(seed);
  const model = new Map<string, { value: Buffer; flags: number }>();
  let lru: string[] = [];
  const toHead = (id: string): void => {
    lru = [id, ...lru.filter((k) => k !== id)];
  };
  ops.forEach((op, step) => {
    const key = keys[op.key]!;
    const id = key.toString('latin1');
    const slot = table.find(key);
    assert.equal(slot !== NIL, model.has(id));
    switch (op.t) {
      case 'insert':
        if (slot !== NIL) break;
        table.insert(key, values[op.value]!, op.flags);
        model.set(id, { value: values[op.value]!, flags: op.flags });
        toHead(id);
        break;
      case 'remove':
        if (slot === NIL) break;
        table.remove(slot);
        model.delete(id);
        lru = lru.filter((k) => k !== id);
        break;
      case 'set':
        if (slot === NIL) break;
        table.setValue(slot, values[op.value]!, 7);
        model.set(id, { value: values[op.value]!, flags: 7 });
        break;
      case 'head':
        if (slot === NIL) break;
        table.moveToHead(slot);
        toHead(id);
        break;
    }
    assert.equal(table.size, model.size);
    if (step % fullCheckEvery !== 0 && step !== ops.length - 1) return;
    let bytes = 0;
    for (const [k, item] of model) {
      const found = table.find(Buffer.from(k, 'latin1'));
      assert.notEqual(found, NIL);
      assert.ok(table.valueBytes(found).equals(item.value));
      assert.equal(table.valueText(found), item.value.toString('latin1'));
      assert.equal(table.flags[found], item.flags);
      bytes += itemBytes(k.length, item.value.length, item.flags);
    }
    assert.equal(table.bytes, bytes);
    assert.deepEqual(lruOrder(table), lru);
  });
}

describe('ItemTable', () => {
  it('behaves like a Map plus a list under random operations (small key space)', () => {
    fc.assert(fc.property(fc.array(opArb(40), { maxLength: 300, size: 'max' }), (ops) => check(ops, 1)), { numRuns: 100 });
  });

  it('behaves like a Map plus a list while growing past several rehashes', () => {
    fc.assert(
      fc.property(fc.array(opArb(allKeys.length - 1), { minLength: 2000, maxLength: 6000 }), (ops) => check(ops, 500)),
      { numRuns: 8 },
    );
  });

  it('deletes correctly inside probe runs that wrap around the end of the index', () => {
    fc.assert(
      fc.property(fc.array(opArb(wrappingKeys.length - 1), { maxLength: 300, size: 'max' }), (ops) => check(ops, 1, wrappingKeys)),
      { numRuns: 200 },
    );
  });

  it('murmur3 matches the reference vectors', () => {
    // Reference values of MurmurHash3_x86_32.
    expect(hashKey(Buffer.alloc(0), 0)).toBe(0);
    expect(hashKey(Buffer.alloc(0), 1)).toBe(0x514e28b7);
    expect(hashKey(Buffer.from('test'), 0x9747b28c)).toBe(0x704b81dc);
    expect(hashKey(Buffer.from('Hello, world!'), 0x9747b28c)).toBe(0x24884cba);
    expect(hashKey(Buffer.from('The quick brown fox jumps over the lazy dog'), 0x9747b28c)).toBe(0x2fa826cd);
  });
});
