/**
 * Seeded pseudo-random numbers for the simulator. The Raft core takes `random` from its
 * config (it never calls Math.random), so a run is fully determined by the fast-check input.
 */

export { mulberry32 } from '../../../src/raft/prng.js';

/** Mixes numbers into one 32-bit seed (so each node incarnation gets its own stream). */
export function mixSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}
