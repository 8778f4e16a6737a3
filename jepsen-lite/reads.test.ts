// The counter and set workloads read throughout the run (issue 11): against the default build
// under partitions every mid-run read is within its bounds, so the run is valid; the history
// is self-contained (the setup write is in it), so checking history.jsonl alone gives the
// same verdicts; and the replicas converged.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkCounter, checkReplies, checkSet, readHistory, type CounterResult, type SetResult } from './checker/index.js';
import { setupProcessBase } from './run.js';
import { quietRun } from './test-support.js';

describe('jepsen-lite reading workloads against the default build', () => {
  for (const workload of ['counter', 'set'] as const) {
    it(`${workload}, partitions, 10 s, reads throughout: valid, and history.jsonl alone gives the same verdict`, async () => {
      const seed = 4;
      const run = await quietRun({ timeSec: 10, nemeses: ['partition'], seed, workload, timing: { faultMsMin: 2000, faultMsMax: 3000, quietMsMin: 1000, quietMsMax: 2000 } });
      const r = run.results;
      const why = `seed ${seed}, run dir ${run.out}\n${run.lines.join('\n')}\n${JSON.stringify({ checks: r.checks, digests: r.digests }, null, 1).slice(0, 3000)}`;
      expect(r.outcome, why).toBe('valid');
      expect((r.digests as { converged?: boolean }).converged, why).toBe(true);
      const history = readHistory(fs.readFileSync(path.join(run.out, 'history.jsonl'), 'utf8'));
      // The setup write is in the file, first.
      expect(history[0], why).toMatchObject({ process: setupProcessBase, f: 'write', key: workload });
      // Reads happened mid-run (not only the final reads, process ids >= 1_000_000).
      const midReads = history.filter((e) => e.f === 'read' && e.type === 'ok' && e.process < 1_000_000).length;
      expect(midReads, why).toBeGreaterThan(10);
      const again = workload === 'counter' ? checkCounter(history) : checkSet(history);
      expect(again.outcome, why).toBe(r.checks[workload]!.outcome);
      expect(checkReplies(history).outcome).toBe(r.checks.replies!.outcome);
      if (workload === 'counter') expect((again as CounterResult).checked, why).toBeGreaterThan(midReads);
      else expect((again as SetResult).acknowledged, why).toBeGreaterThan(10);
      fs.rmSync(run.out, { recursive: true, force: true });
    });
  }
});
