// The harness must catch known-bad server modes: with --unsafe-stale-reads any replica
// answers gets locally, so a node cut off from the majority serves stale values while
// writes go on through the majority; with --unsafe-ack-before-commit a leader answers
// STORED before committing, so a leader cut off from its followers acknowledges writes
// that are then lost. Both runs must be invalid.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { quietRun } from './test-support.js';

describe('jepsen-lite catches unsafe modes', () => {
  it('--unsafe-stale-reads with a node isolated: invalid', async () => {
    const run = await quietRun({ timeSec: 20, nemeses: ['isolate'], seed: 5, workload: 'register', serverArgs: '--unsafe-stale-reads' });
    const r = run.results;
    expect(r.outcome, `seed 5, run dir ${run.out}\n${run.lines.join('\n')}`).toBe('invalid');
    // Invalid because of what the checker found, not because a node crashed.
    expect(r.crashes).toEqual([]);
    expect(r.checks.register!.outcome).toBe('invalid');
    fs.rmSync(run.out, { recursive: true, force: true });
  });

  it('--unsafe-ack-before-commit with the leaders isolated: invalid', async () => {
    // A cut-off leader acknowledges writes only until check-quorum steps it down (~0.5-1 s),
    // so the leaders are isolated often, in short bursts, and ops time out quickly so the
    // clients of the cut-off node keep issuing instead of waiting for forwarded requests.
    const timing = { faultMsMin: 1000, faultMsMax: 2500, quietMsMin: 1000, quietMsMax: 2000 };
    const run = await quietRun({
      timeSec: 20, nemeses: ['isolate-leaders'], seed: 5, workload: 'register', serverArgs: '--unsafe-ack-before-commit', opTimeoutMs: 1000, timing,
    });
    const r = run.results;
    expect(r.outcome, `seed 5, run dir ${run.out}\n${run.lines.join('\n')}`).toBe('invalid');
    expect(r.crashes).toEqual([]);
    expect(r.checks.register!.outcome).toBe('invalid');
    fs.rmSync(run.out, { recursive: true, force: true });
  });
});
