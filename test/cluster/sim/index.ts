/**
 * The whole-node simulator (issue 14): batches of seeded runs, their totals, and the
 * command that replays a run. Used by `npm run sim:cluster` (scripts/sim-cluster.ts) and
 * test/cluster/sim-cluster.test.ts. See README.md in this folder.
 */
import { generateSchedule, type Schedule } from './schedule.js';
import type { BugName } from './sim-node.js';
import { runSchedule, type RunStats, type Verdict } from './run.js';

export { generateSchedule, type Schedule } from './schedule.js';
export { runSchedule, type RunOptions, type RunStats, type Verdict, type Failure, type FailureKind } from './run.js';
export { shrinkSchedule, formatSchedule } from './shrink.js';
export { bugNames, type BugName } from './sim-node.js';

/** A batch of runs: seeds seed, seed+1, ..., seed+runs-1. */
export interface BatchOptions {
  runs: number;
  seed: number;
  nodes: number;
  bug?: BugName | null;
  /** Stop at the first failing run (default true). */
  stopAtFailure?: boolean;
  /** Told about every run as it ends. */
  onVerdict?: (v: Verdict, s: Schedule) => void;
}

/** Figures summed over a batch. */
export interface Totals {
  runs: number;
  passed: number;
  realMs: number;
  virtualMs: number;
  events: number;
  /** The most events one run took. */
  eventsRunMax: number;
  opsInvoked: number;
  opsOk: number;
  opsFail: number;
  opsInfo: number;
  okByF: Record<string, number>;
  readsOk: Record<string, number>;
  multiGetsOk: number;
  faults: Record<string, number>;
  crashes: number;
  restarts: number;
  writesLost: number;
  snapshotsTaken: number;
  snapshotsInstalled: number;
  framesDropped: number;
  framesDuplicated: number;
  framesReordered: number;
  framesCut: number;
  checkerUnknown: number;
}

/** The result of a batch: totals and the failing runs (with their schedules). */
export interface BatchResult {
  totals: Totals;
  failures: Array<{ verdict: Verdict; schedule: Schedule }>;
}

/** Runs a batch of seeds. */
export async function runSeeds(opts: BatchOptions): Promise<BatchResult> {
  const totals = emptyTotals();
  const failures: BatchResult['failures'] = [];
  for (let i = 0; i < opts.runs; i++) {
    const schedule = generateSchedule(opts.seed + i, { nodes: opts.nodes });
    const verdict = await runSchedule(schedule, { bug: opts.bug ?? null });
    addStats(totals, verdict);
    opts.onVerdict?.(verdict, schedule);
    if (verdict.ok) continue;
    failures.push({ verdict, schedule });
    if (opts.stopAtFailure !== false) break;
  }
  return { totals, failures };
}

/** The command that replays one seed. */
export function replayCommand(seed: number, nodes: number, bug?: BugName | null): string {
  const bugFlag = bug === undefined || bug === null ? '' : ` --bug ${bug}`;
  return `npm run sim:cluster -- --runs 1 --seed ${seed} --nodes ${nodes}${bugFlag} --verbose`;
}

function emptyTotals(): Totals {
  return {
    runs: 0, passed: 0, realMs: 0, virtualMs: 0, events: 0, eventsRunMax: 0, opsInvoked: 0, opsOk: 0, opsFail: 0, opsInfo: 0, okByF: {},
    readsOk: {}, multiGetsOk: 0, faults: {}, crashes: 0, restarts: 0, writesLost: 0,
    snapshotsTaken: 0, snapshotsInstalled: 0, framesDropped: 0, framesDuplicated: 0, framesReordered: 0, framesCut: 0, checkerUnknown: 0,
  };
}

function addStats(t: Totals, v: Verdict): void {
  const s: RunStats = v.stats;
  t.runs++;
  if (v.ok) t.passed++;
  t.realMs += s.realMs;
  t.virtualMs += s.virtualMs;
  t.events += s.events;
  t.eventsRunMax = Math.max(t.eventsRunMax, s.events);
  t.opsInvoked += s.ops.invoked;
  t.opsOk += s.ops.ok;
  t.opsFail += s.ops.fail;
  t.opsInfo += s.ops.info;
  for (const [f, n] of Object.entries(s.ops.okByF)) t.okByF[f] = (t.okByF[f] ?? 0) + n;
  for (const [path, n] of Object.entries(s.ops.readsOk)) t.readsOk[path] = (t.readsOk[path] ?? 0) + n;
  t.multiGetsOk += s.ops.multiGetsOk;
  for (const [k, n] of Object.entries(s.faults)) t.faults[k] = (t.faults[k] ?? 0) + n;
  t.crashes += s.crashes;
  t.restarts += s.restarts;
  t.writesLost += s.writesLost;
  t.snapshotsTaken += s.snapshotsTaken;
  t.snapshotsInstalled += s.snapshotsInstalled;
  t.framesDropped += s.net.dropped;
  t.framesDuplicated += s.net.duplicated;
  t.framesReordered += s.net.reordered;
  t.framesCut += s.net.cut;
  if (s.checker === 'unknown') t.checkerUnknown++;
}

/** Totals as one paragraph. */
export function describeTotals(t: Totals): string {
  const perSec = t.realMs > 0 ? ((t.runs * 1000) / t.realMs).toFixed(1) : '-';
  const byF = Object.entries(t.okByF).map(([f, n]) => `${f} ${n}`).join(', ');
  const faults = Object.entries(t.faults).map(([k, n]) => `${k} ${n}`).join(', ');
  return [
    `${t.passed}/${t.runs} runs passed in ${(t.realMs / 1000).toFixed(1)} s (${perSec} runs/s; ${(t.virtualMs / 1000).toFixed(0)} virtual s, ${t.events} events, at most ${t.eventsRunMax} in a run)`,
    `ops: ${t.opsInvoked} invoked, ${t.opsOk} ok (${byF}), ${t.opsFail} fail, ${t.opsInfo} info; reads ok by where they arrived: ${t.readsOk.leader ?? 0} at the leader, ${t.readsOk.follower ?? 0} at a follower, ${t.readsOk.remote ?? 0} at a node without a replica; ${t.multiGetsOk} multi-group gets`,
    `faults: ${faults}; ${t.crashes} crashes, ${t.restarts} restarts, ${t.writesLost} unsynced writes lost; frames dropped ${t.framesDropped}, duplicated ${t.framesDuplicated}, reordered ${t.framesReordered}, cut ${t.framesCut}`,
    `snapshots: ${t.snapshotsTaken} taken, ${t.snapshotsInstalled} installed; checker unknown: ${t.checkerUnknown}`,
  ].join('\n');
}
