// A short real jepsen-lite run against the default build: 3 nodes, ~30 s, partitions and
// kill -9, register workload. It must be valid, with no crash and agreeing replica digests,
// and its expiring keys held to the bounds of their expiry (checkExpiry).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { quietRun, seedWith } from './test-support.js';

describe('jepsen-lite against the default build', () => {
  it('register, partition + kill, 30 s: valid', async () => {
    const nemeses = ['partition', 'kill'];
    const seed = seedWith(['kill', 'partition'], nemeses, 3, 30);
    const run = await quietRun({ timeSec: 30, nemeses, seed, workload: 'register' });
    const r = run.results;
    const why = `seed ${seed}, run dir ${run.out}\n${run.lines.join('\n')}\n${JSON.stringify({ checks: r.checks, crashes: r.crashes }, null, 1).slice(0, 4000)}`;
    expect(r.outcome, why).toBe('valid');
    expect(r.crashes, why).toEqual([]);
    expect(r.digests.agree, why).toBe(true);
    expect(r.okOps).toBeGreaterThan(100);
    // The expiring keys were read on both sides of their expiry and held to its bounds.
    const expiry = r.checks.expiry as { outcome: string; expiringKeys: number; heldToLive: number; heldToExpired: number };
    expect(expiry.outcome, why).toBe('valid');
    expect(expiry.expiringKeys).toBeGreaterThan(5);
    expect(expiry.heldToLive + expiry.heldToExpired).toBeGreaterThan(10);
    // The faults happened: a kill and a partition, each started and stopped.
    const starts = run.nemesis.filter((e) => e.phase === 'start').map((e) => e.fault);
    expect(starts).toContain('kill');
    expect(starts).toContain('partition');
    for (const file of ['history.jsonl', 'nemesis.jsonl', 'results.json', 'node-1.log']) expect(fs.existsSync(path.join(run.out, file))).toBe(true);
    fs.rmSync(run.out, { recursive: true, force: true });
  });
});
