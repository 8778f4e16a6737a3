/**
 * mulberry32: a small, fast, seeded 32-bit PRNG returning numbers in [0, 1). The Raft core
 * never calls Math.random; hosts give each group `random: mulberry32(seed)` for its
 * election timeouts, and simulations and tests use the same generator so that every run
 * replays from its seed.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
