// Known-bad modes added by issue 11, each caught by a short run (docs/jepsen-lite.md has the
// batch figures):
// - --unsafe-stale-reads with the set and counter workloads, which now read throughout the
//   run: a node cut off from the majority answers reads missing acknowledged appends or
//   increments (the register workload's short run is in unsafe.test.ts).
// - --unsafe-ack-before-durable with the kill-all nemesis: followers acknowledge appends
//   before writing them (their writes held back 40 ms), so when every node dies at once the
//   followers lose acknowledged entries, elect one of themselves, and the writes are gone.
// - --unsafe-leader-reads-without-readindex with leader pauses and 1 s op timeouts: a paused
//   leader resumes and answers the reads its clients sent meanwhile before it can hear of
//   the new term (and it answers a pipelined get behind an unanswered set of its key
//   without waiting for the set).
// The control for each (the default build, same flags, valid) is in docs/jepsen-lite.md.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { RunOptions } from './run.js';
import { quietRun } from './test-support.js';

type Case = Partial<RunOptions> & Pick<RunOptions, 'timeSec' | 'nemeses' | 'seed' | 'workload' | 'serverArgs'>;

/**
 * `checkerMust`: the workload's checker must be what found it (no crash); otherwise any
 * evidence counts (a crash, replicas that never converged, or the checker).
 */
async function expectCaught(c: Case, checkerMust = true): Promise<void> {
  const run = await quietRun(c);
  const r = run.results;
  const why = `seed ${c.seed}, run dir ${run.out}\n${run.lines.join('\n')}\n${JSON.stringify(r.checks, null, 1).slice(0, 3000)}`;
  expect(r.outcome, why).toBe('invalid');
  if (checkerMust) {
    // Invalid because of what the checker found, not because a node crashed.
    expect(r.crashes, why).toEqual([]);
    expect(r.checks[c.workload]!.outcome, why).toBe('invalid');
  }
  fs.rmSync(run.out, { recursive: true, force: true });
}

const shortFaults = { faultMsMin: 1500, faultMsMax: 2500, quietMsMin: 1000, quietMsMax: 2000 };

describe('jepsen-lite catches the issue 11 known-bad modes', () => {
  it('--unsafe-stale-reads, set workload, partitions, 12 s: invalid', async () => {
    await expectCaught({ timeSec: 12, nemeses: ['partition'], seed: 21, workload: 'set', serverArgs: '--unsafe-stale-reads', timing: shortFaults });
  });

  it('--unsafe-stale-reads, counter workload, partitions, 12 s: invalid', async () => {
    await expectCaught({ timeSec: 12, nemeses: ['partition'], seed: 21, workload: 'counter', serverArgs: '--unsafe-stale-reads', timing: shortFaults });
  });

  it('--unsafe-leader-reads-without-readindex, pauses, 15 s: invalid', async () => {
    await expectCaught({
      timeSec: 15, nemeses: ['pause'], seed: 3, workload: 'register', serverArgs: '--unsafe-leader-reads-without-readindex', opTimeoutMs: 1000, concurrency: 30,
      timing: { faultMsMin: 3000, faultMsMax: 4000, quietMsMin: 1000, quietMsMax: 2000 },
    });
  });

  it('--unsafe-ack-before-durable, kill-all, 20 s: invalid', async () => {
    // The lost entries show as a lost write (checker), or as a node tripping a Raft assertion
    // when a follower's log is shorter than it acknowledged (crash detector), or as a replica
    // that never catches up (not converged): each makes the run invalid.
    const timing = { faultMsMin: 2000, faultMsMax: 3000, quietMsMin: 2000, quietMsMax: 3000 };
    // A group may never recover: its final reads give up after 10 s, 2 s op timeouts.
    await expectCaught({
      timeSec: 20, nemeses: ['kill-all'], seed: 61, workload: 'register', serverArgs: '--unsafe-ack-before-durable', timing, opTimeoutMs: 2000, finalReadsBudgetMs: 10_000,
    }, false);
  });
});
