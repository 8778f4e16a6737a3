// The lock workload against the default build (docs/locks.md, docs/jepsen-lite.md): fenced
// clients under every fault, node pauses longer than the 2 s lock TTL among them, stay
// valid; the known-bad client that writes the resource with a plain set (--unsafe-skip-fence)
// is caught: a holder whose lock expired during a pause overwrites its successor's write.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { LockResult } from './checker/lock.js';
import { quietRun, seedWith } from './test-support.js';

// Client pauses beyond the TTL in a quarter of the holds (4% by default): a short run on a
// busy machine still has several stale holders.
const busyPauses = { pauseP: 0.25 };

describe('jepsen-lite --workload lock', () => {
  it('fenced clients, --nemesis all with a pause, 12 s: valid, the fence refused stale holders', async () => {
    const nemeses = ['all'];
    const seed = seedWith(['pause'], nemeses, 3, 12);
    const run = await quietRun({ timeSec: 12, nemeses, seed, workload: 'lock', lock: busyPauses });
    const r = run.results;
    const lock = r.checks.lock as unknown as LockResult;
    const why = `seed ${seed}, run dir ${run.out}\n${run.lines.join('\n')}\n${JSON.stringify({ ...r.checks, crashes: r.crashes }, null, 1).slice(0, 4000)}`;
    expect(r.outcome, why).toBe('valid');
    expect(r.checks.register!.outcome, why).toBe('valid');
    expect(lock.outcome, why).toBe('valid');
    expect(lock.holds, why).toBeGreaterThan(20);
    // Holders overlapped (client pauses outlast the TTL) and the fence turned the stale ones away.
    expect(lock.overlapsAfterExpiry, why).toBeGreaterThan(0);
    expect(lock.fencedOut, why).toBeGreaterThan(0);
    fs.rmSync(run.out, { recursive: true, force: true });
  });

  it('--unsafe-skip-fence, 12 s with node pauses: invalid, a lower token accepted after a higher one', async () => {
    const run = await quietRun({ timeSec: 12, nemeses: ['pause'], seed: 3, workload: 'lock', unsafeSkipFence: true, lock: busyPauses });
    const r = run.results;
    const lock = r.checks.lock as unknown as LockResult;
    const why = `seed 3, run dir ${run.out}\n${run.lines.join('\n')}\n${JSON.stringify(lock, null, 1).slice(0, 3000)}`;
    expect(r.outcome, why).toBe('invalid');
    expect(r.crashes, why).toEqual([]);
    expect(lock.outcome, why).toBe('invalid');
    expect(lock.violations.fence, why).toBeGreaterThan(0);
    expect(lock.anomaly?.kind, why).toBe('lower-token-accepted');
    fs.rmSync(run.out, { recursive: true, force: true });
  });
});
