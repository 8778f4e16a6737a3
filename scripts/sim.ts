/**
 * `npm run sim -- [--runs N] [--seed S] [--path P] [--profile n3|n5|churn3|long5|lease3|all] [--trace]`
 *
 * Runs the deterministic Raft simulator (test/raft/sim/) outside vitest, for long soaks and
 * for replaying a failure: a failing batch prints its fast-check seed and shrink path; run
 * again with those (`--seed S --path P --trace`) to replay exactly the shrunk schedule with
 * every step, message and state change printed. `--input FILE` replays a counterexample
 * as printed (the `Counterexample: [...]` text), independent of seeds and generators.
 * Exit code 1 when an invariant breaks.
 * (Node 20 has no TypeScript loader; the npm script loads this file through Vite's module
 * runner, the same machinery vitest uses.)
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { runOne, runSimulations, simProfiles, type SimProfileName } from '../test/raft/sim/run.js';
import type { SimInput } from '../test/raft/sim/simulation.js';

const { values } = parseArgs({
  args: process.argv.slice(1).filter((a) => a !== '--'),
  options: {
    runs: { type: 'string', default: '1000' },
    seed: { type: 'string' },
    path: { type: 'string' },
    profile: { type: 'string', default: 'all' },
    trace: { type: 'boolean', default: false },
    input: { type: 'string' },
  },
  strict: true,
});

/** `all`: the profiles npm test runs; the long5 soak by name. */
function profilesOf(name: string): SimProfileName[] {
  if (name === 'all') return ['n3', 'n5', 'churn3', 'lease3'];
  if (!(name in simProfiles)) throw new Error(`unknown profile ${name}; one of: all, ${Object.keys(simProfiles).join(', ')}`);
  return [name as SimProfileName];
}

/** Parses a counterexample as fast-check prints it (`undefined` is not JSON). */
function readInput(file: string): SimInput {
  const text = readFileSync(file, 'utf8').replace(/^\s*Counterexample:\s*/, '').replace(/\bundefined\b/g, 'null');
  const parsed: unknown = JSON.parse(text);
  const input = (Array.isArray(parsed) ? parsed[0] : parsed) as SimInput;
  input.settings.maxUncommittedBytes ??= undefined;
  return input;
}

/** Replays one input with a full trace. */
function replayInput(file: string, profile: SimProfileName): number {
  try {
    const stats = runOne(profile, readInput(file), { trace: (line) => console.log(line) });
    console.log(`passed: ${JSON.stringify(stats)}`);
    return 0;
  } catch (err) {
    console.log(String(err));
    return 1;
  }
}

function main(): number {
  if (values.input !== undefined) {
    const profiles = profilesOf(values.profile!);
    if (profiles.length !== 1) throw new Error('--input replays under one --profile (the shape: nodes and spares)');
    return replayInput(values.input, profiles[0]!);
  }
  const runs = Number(values.runs);
  const seed = values.seed === undefined ? undefined : Number(values.seed);
  const profiles = profilesOf(values.profile!);
  if (values.path !== undefined && (seed === undefined || profiles.length !== 1)) {
    throw new Error('--path replays one failure: give it with --seed and one --profile');
  }
  for (const profile of profiles) {
    const started = performance.now();
    const r = runSimulations({ profile, runs, seed, path: values.path });
    const ms = Math.round(performance.now() - started);
    const t = r.totals;
    console.log(
      `${profile}: ${t.runs} runs in ${ms} ms, seed ${r.seed}: ${t.steps} steps, ${t.leaders} leader terms, ` +
        `${t.writesAccepted} writes accepted, ${t.committed} entries committed, ${t.readsServed} reads checked, ` +
        `${t.confChangesCommitted} membership changes committed, ${t.snapshotsInstalled} snapshots installed, ` +
        `${t.crashes} crashes, ${t.messagesSent} messages (${t.messagesLost} lost), ${t.livenessRounds} liveness rounds`,
    );
    if (r.failure === undefined) continue;
    console.log(`\nFAILED (${profile})\n${r.failure.report}`);
    if (values.trace) {
      console.log('\nTrace of the shrunk schedule:');
      try {
        runOne(profile, r.failure.counterexample, { trace: (line) => console.log(line) });
      } catch (err) {
        console.log(String(err));
      }
    }
    return 1;
  }
  return 0;
}

process.exitCode = main();
