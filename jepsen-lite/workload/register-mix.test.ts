// The register workload's op mix (issue 11, item 2): the new commands come a modest share
// each, the old ops still dominate, multi-gets name distinct active keys, numeric keys are
// only ever written with decimal values, and the final reads cover every key used.
import { describe, expect, it } from 'vitest';
import { Rng } from '../random.js';
import type { OpPlan } from './ops.js';
import { RegisterWorkload } from './workloads.js';

function kindOf(plan: OpPlan): string {
  if (plan.pipeline !== undefined) return 'pipeline';
  if (plan.keys !== undefined) return 'multi-get';
  if (plan.noreply === true) return 'noreply';
  if (plan.key.startsWith('n')) return `numeric-${plan.f}`;
  return plan.f;
}

describe('RegisterWorkload', () => {
  it('runs the whole command set, each new op a few percent, get/set/cas still most', () => {
    const w = new RegisterWorkload();
    const rng = new Rng(11);
    const plans = Array.from({ length: 20_000 }, () => w.next(0, rng));
    const share = new Map<string, number>();
    for (const p of plans) share.set(kindOf(p), (share.get(kindOf(p)) ?? 0) + 1 / plans.length);
    for (const kind of ['replace', 'touch', 'cas-delete', 'multi-get', 'noreply', 'numeric-incr', 'numeric-decr']) {
      expect(share.get(kind), kind).toBeGreaterThan(0.005);
      expect(share.get(kind), kind).toBeLessThan(0.04);
    }
    const old = ['read', 'write', 'cas', 'add', 'delete'].reduce((sum, f) => sum + (share.get(f) ?? 0), 0);
    expect(old).toBeGreaterThan(0.8);
    for (const p of plans.filter((p) => p.keys !== undefined)) {
      expect(new Set(p.keys).size).toBe(p.keys!.length);
      expect(p.keys!.length).toBeGreaterThanOrEqual(1);
      expect(p.keys!.length).toBeLessThanOrEqual(4);
      expect(p.keys![0]).toBe(p.key);
    }
    for (const p of plans.filter((p) => p.key.startsWith('n') && p.f === 'write')) expect(p.value).toMatch(/^[0-9]+$/);
    const used = new Set(w.finalKeys());
    for (const p of plans.filter((p) => p.pipeline === undefined)) for (const k of p.keys ?? [p.key]) expect(used.has(k), k).toBe(true);
  });
});
