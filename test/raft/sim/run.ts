/**
 * Runs many simulations under fast-check: each run's input (node PRNG seed, Raft settings,
 * schedule) is generated from one fast-check seed, and a failure is shrunk to a minimal
 * schedule. The failure message carries the seed, the shrink path and the command that
 * replays it: `npm run sim -- --profile P --seed S --path P --trace`.
 */
import fc from 'fast-check';
import { actionArb, settingsArb, type ActionWeights } from './actions.js';
import type { DriverFault } from './sim-node.js';
import { Simulation, type SimInput, type SimShape, type SimStats } from './simulation.js';

/** A named cluster shape and schedule mix; a seed replays only under the same profile. */
export interface SimProfile {
  nodes: number;
  spares: number;
  actionsMax: number;
  weights: ActionWeights;
  readOnlyOption: 'safe' | 'lease';
}

/** The profiles `npm test` and `npm run sim` use. */
export const simProfiles = {
  n3: { nodes: 3, spares: 2, actionsMax: 400, weights: { membership: 2, faults: 1, nodeTicks: 10 }, readOnlyOption: 'safe' },
  n5: { nodes: 5, spares: 2, actionsMax: 400, weights: { membership: 2, faults: 1, nodeTicks: 10 }, readOnlyOption: 'safe' },
  /** Membership-heavy: learners, promotions, removals and compaction on a 3-node start. */
  churn3: {
    nodes: 3,
    spares: 5,
    actionsMax: 400,
    weights: { membership: 8, faults: 1, nodeTicks: 10 },
    readOnlyOption: 'safe',
  },
  /** Long schedules on 5 nodes, for soaks (`npm run sim -- --profile long5`). */
  long5: { nodes: 5, spares: 3, actionsMax: 1500, weights: { membership: 3, faults: 1, nodeTicks: 10 }, readOnlyOption: 'safe' },
  /**
   * Lease reads with every clock ticking in lockstep (no drift: the lease's clock
   * assumption), message delays unbounded; extra reads at stale leaders, where lease bugs show.
   */
  lease3: {
    nodes: 3,
    spares: 2,
    actionsMax: 400,
    weights: { membership: 1, faults: 1, nodeTicks: 0, staleReads: 6 },
    readOnlyOption: 'lease',
  },
} satisfies Record<string, SimProfile>;

/** A profile name. */
export type SimProfileName = keyof typeof simProfiles;

/** Options of one batch of simulation runs. */
export interface SimRunOptions {
  profile: SimProfileName;
  runs: number;
  seed?: number;
  path?: string;
  /** A deliberate driver bug, for the simulator's self-test. */
  driverFault?: DriverFault;
  /** Stop at the first failure without shrinking it. */
  noShrink?: boolean;
}

/** Sums of per-run figures over a batch. */
export interface SimTotals extends SimStats {
  runs: number;
}

/** The fast-check arbitrary of one run's input under a profile. */
export function simInputArb(p: SimProfile): fc.Arbitrary<SimInput> {
  return fc.record({
    seed: fc.integer({ min: 0, max: 0x7fffffff }),
    settings: settingsArb(p.readOnlyOption),
    actions: fc.array(actionArb(p.weights), { minLength: 50, maxLength: p.actionsMax, size: 'max' }),
  });
}

/** Options of a single run. */
export interface RunOneOptions {
  /** Print every step. */
  trace?: (line: string) => void;
  driverFault?: DriverFault;
}

/** Runs one input (no fast-check). */
export function runOne(profile: SimProfileName, input: SimInput, opts: RunOneOptions = {}): SimStats {
  const p: SimProfile = simProfiles[profile];
  const shape: SimShape = { nodes: p.nodes, spares: p.spares, ...opts };
  return new Simulation(input, shape).run();
}

/** The result of a batch: totals, or the failure report (with seed, path and replay command). */
export interface SimBatchResult {
  totals: SimTotals;
  seed: number;
  failure?: { report: string; counterexample: SimInput };
}

/** Runs a batch of simulations; never throws for a property failure (see `failure`). */
export function runSimulations(opts: SimRunOptions): SimBatchResult {
  const totals: SimTotals = {
    runs: 0,
    steps: 0,
    leaders: 0,
    committed: 0,
    readsServed: 0,
    messagesSent: 0,
    messagesLost: 0,
    livenessRounds: 0,
    writesAccepted: 0,
    snapshotsInstalled: 0,
    confChangesApplied: 0,
    confChangesCommitted: 0,
    crashes: 0,
  };
  const property = fc.property(simInputArb(simProfiles[opts.profile]), (input) => {
    addStats(totals, runOne(opts.profile, input, { driverFault: opts.driverFault }));
  });
  const details = fc.check(property, {
    numRuns: opts.runs,
    seed: opts.seed,
    path: opts.path,
    endOnFailure: opts.noShrink === true,
  });
  if (!details.failed) return { totals, seed: details.seed };
  const replay = `npm run sim -- --profile ${opts.profile} --seed=${details.seed} --path=${details.counterexamplePath} --trace`;
  const error = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
  const report = `${error}\n${fc.defaultReportMessage(details)}\nReplay: ${replay}`;
  return { totals, seed: details.seed, failure: { report, counterexample: details.counterexample![0] } };
}

function addStats(t: SimTotals, s: SimStats): void {
  t.runs++;
  for (const k of Object.keys(s) as (keyof SimStats)[]) t[k] += s[k];
}
