/**
 * The harness's only source of randomness: the project's seeded PRNG (mulberry32,
 * src/raft/prng.ts) with the helpers the harness needs, so a run's fault schedule and op
 * mix replay from `--seed`.
 */
import { mulberry32 } from '../src/raft/prng.js';

/** A seeded pseudo-random generator with the helpers the harness needs. */
export class Rng {
  /** A float in [0, 1). */
  readonly next: () => number;

  constructor(private readonly seed: number) {
    this.next = mulberry32(seed);
  }

  /** An integer in [lo, hi] (inclusive). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** A float in [lo, hi). */
  float(lo: number, hi: number): number {
    return lo + this.next() * (hi - lo);
  }

  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** A shuffled copy (Fisher-Yates). */
  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }

  /** A derived generator with its own stream, from the seed alone (so one consumer's draws never shift another's). */
  fork(salt: number): Rng {
    return new Rng(Math.imul(this.seed ^ Math.imul(salt, 0x9e3779b1), 0x85ebca6b) ^ salt);
  }
}
