/**
 * Snapshots triggered by log bytes (issue 15), in the seeded whole-node simulator: with an
 * entry count that never triggers a snapshot (20,000) and a node log budget of 1,200 bytes (a few hundred per replica),
 * runs still snapshot, compact and install snapshots (the lazily built ones: a replica keeps
 * no snapshot data in memory), and stay linearizable with equal replica digests.
 */
import { describe, expect, it } from 'vitest';
import { generateSchedule, runSchedule } from './sim/index.js';

describe('cluster simulation: the in-memory log is bounded in bytes', () => {
  it('runs whose entry count never snapshots still snapshot by bytes, and pass', async () => {
    let taken = 0;
    let installed = 0;
    for (let seed = 1; seed <= 30; seed++) {
      const schedule = { ...generateSchedule(seed, { nodes: 3 }), snapshotEntriesMin: 20_000, logBytesMax: 1200 };
      const verdict = await runSchedule(schedule);
      expect(verdict.failure, `seed ${seed}: ${verdict.failure?.message}`).toBeUndefined();
      expect(verdict.ok).toBe(true);
      taken += verdict.stats.snapshotsTaken;
      installed += verdict.stats.snapshotsInstalled;
    }
    expect(taken).toBeGreaterThan(30);
    expect(installed).toBeGreaterThan(0);
  }, 120_000);
});
