// Membership under faults: a 3-node cluster grows by joins and shrinks by drains (the
// membership nemesis) while partitions come and go, register workload, ~45 s. The history
// must be linearizable, no node may crash, replica digests must agree, every join and
// drain must finish, and the joined nodes' links must have gone through the harness's
// proxies (else the partitions would not have cut them).
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { expandNemeses, makeSchedule, type FaultStep } from './nemesis/schedule.js';
import { quietRun } from './test-support.js';

const nemeses = ['membership', 'partition'];
const timeSec = 45;
const timing = { quietMsMin: 1000, quietMsMax: 2000, faultMsMin: 2000, faultMsMax: 4000 };
const spareIds = [4, 5, 6, 7, 8, 9, 10, 11];

function scheduleOf(seed: number): FaultStep[] {
  return makeSchedule(seed, [1, 2, 3], expandNemeses(nemeses), timeSec * 1000, timing, spareIds);
}

/** The first seed whose schedule joins twice, drains twice (one of them an initial node) and partitions in between. */
function membershipSeed(): number {
  for (let seed = 1; ; seed++) {
    const steps = scheduleOf(seed);
    const joins = steps.filter((s) => s.fault.kind === 'join').length;
    const drained = steps.flatMap((s) => (s.fault.kind === 'drain' ? [s.fault.node] : []));
    const cuts = steps.filter((s) => s.fault.kind !== 'join' && s.fault.kind !== 'drain').length;
    if (joins >= 2 && drained.length >= 2 && drained.some((n) => n <= 3) && cuts >= 4) return seed;
  }
}

describe('jepsen-lite membership nemesis', () => {
  it('joins and drains under partitions: valid, every change finished', async () => {
    const seed = membershipSeed();
    const run = await quietRun({ timeSec, nemeses, seed, timing, serverArgs: '--groups 8' });
    const r = run.results as typeof run.results & {
      membership?: { joined: number[]; drained: number[]; unfinished: string[] };
      network: { linkBytes: Record<string, number> };
    };
    const why = `seed ${seed}, run dir ${run.out}\n${run.lines.join('\n')}\n${JSON.stringify({ checks: r.checks, crashes: r.crashes, membership: r.membership }, null, 1).slice(0, 4000)}`;
    expect(r.outcome, why).toBe('valid');
    expect(r.crashes, why).toEqual([]);
    expect(r.digests.agree, why).toBe(true);
    const planned = scheduleOf(seed);
    const joins = planned.flatMap((s) => (s.fault.kind === 'join' ? [s.fault.node] : []));
    const drains = planned.flatMap((s) => (s.fault.kind === 'drain' ? [s.fault.node] : []));
    expect(r.membership?.unfinished, why).toEqual([]);
    expect([...r.membership!.joined].sort(), why).toEqual([...joins].sort());
    expect([...r.membership!.drained].sort(), why).toEqual([...drains].sort());
    // Traffic to and from each joined node went through the proxies of its links.
    for (const j of joins) {
      const links = Object.keys(r.network.linkBytes);
      const detail = `${why}\nbytes by link: ${JSON.stringify(r.network.linkBytes)}`;
      expect(links.filter((k) => k.startsWith(`${j}>`)).length, detail).toBeGreaterThan(0);
      expect(links.filter((k) => k.endsWith(`>${j}`)).length, detail).toBeGreaterThan(0);
    }
    fs.rmSync(run.out, { recursive: true, force: true });
  });
});
