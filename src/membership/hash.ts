/**
 * The key hash and the hash ranges of the cluster (DESIGN.md §6).
 *
 * Hash: 32-bit FNV-1a over the key's bytes (offset basis 0x811c9dc5, prime 0x01000193),
 * as an unsigned number in [0, 2^32). It is fixed forever: a changed hash would move every
 * key to another group. FNV-1a is cheap for memcached's short keys (<= 250 bytes) and
 * spreads well enough once the space is cut into a handful of contiguous ranges.
 *
 * Ranges: `groups` contiguous, inclusive ranges [lo, hi] that cover [0, 2^32 - 1]; range i
 * (0-based) starts at ceil(i * 2^32 / groups), so `rangeIndexOf(h, groups)` is simply
 * floor(h * groups / 2^32). Data group ids are 1..groups (group 0 is the meta group).
 */
import assert from 'node:assert';

/** Size of the hash space (2^32). */
export const hashSpace = 0x1_0000_0000;

/** 32-bit FNV-1a of `key`, unsigned. */
export function hashKey(key: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** An inclusive range of hash values. */
export interface HashRange {
  lo: number;
  hi: number;
}

/** Splits the hash space into `groups` contiguous ranges of (nearly) equal size. */
export function splitHashSpace(groups: number): HashRange[] {
  assert(Number.isInteger(groups) && groups >= 1 && groups <= 65536, 'groups out of range');
  const ranges: HashRange[] = [];
  for (let i = 0; i < groups; i++) {
    const lo = Math.ceil((i * hashSpace) / groups);
    const hi = Math.ceil(((i + 1) * hashSpace) / groups) - 1;
    ranges.push({ lo, hi });
  }
  return ranges;
}

/** The 0-based index of the equal-split range holding hash `h`. */
export function rangeIndexOf(h: number, groups: number): number {
  return Math.floor((h * groups) / hashSpace);
}
