/**
 * `npm run sim:cluster -- --runs N --seed S [--nodes 3|5] [--bug NAME] [--verbose]`
 *
 * Runs N seeded schedules of whole simulated nodes (test/cluster/sim/): seeds S .. S+N-1.
 * Exit 0 when every run passes. At the first failure: its seed, what failed, the command
 * that replays it, then a shrunk schedule (also written to a file that `--schedule FILE`
 * replays), exit 1.
 *
 *   --bug stale-reads|ack-before-commit|ack-before-durable   run a known-bad variant
 *   --verbose        one line per run; with --runs 1 the fault/crash trace of the run
 *   --log-level L    the nodes' own pino logs at level L (stdout), stamped with virtual ms
 *   --schedule FILE  replay a schedule printed by a failure (JSON)
 *   --no-shrink      report a failure without shrinking it
 *   --shrink-attempts N   full runs the shrinker may take (default 120)
 *   --keep-going     run every seed, then list the failing ones (the first is reported)
 * (Node 20 has no TypeScript loader; the npm script loads this file through Vite's module
 * runner, the same machinery vitest uses.)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  bugNames,
  describeTotals,
  formatSchedule,
  generateSchedule,
  replayCommand,
  runSchedule,
  runSeeds,
  shrinkSchedule,
  type BugName,
  type Schedule,
  type Verdict,
} from '../test/cluster/sim/index.js';

const { values } = parseArgs({
  args: process.argv.slice(1).filter((a) => a !== '--'),
  options: {
    runs: { type: 'string', default: '100' },
    seed: { type: 'string' },
    nodes: { type: 'string', default: '3' },
    bug: { type: 'string' },
    verbose: { type: 'boolean', default: false },
    'log-level': { type: 'string' },
    schedule: { type: 'string' },
    'no-shrink': { type: 'boolean', default: false },
    'keep-going': { type: 'boolean', default: false },
    'shrink-attempts': { type: 'string', default: '120' },
  },
  strict: true,
});

function bugOf(name: string | undefined): BugName | null {
  if (name === undefined) return null;
  if (!(bugNames as readonly string[]).includes(name)) throw new Error(`unknown --bug ${name}; one of: ${bugNames.join(', ')}`);
  return name as BugName;
}

const bug = bugOf(values.bug);
const nodes = Number(values.nodes);
if (nodes !== 3 && nodes !== 5) throw new Error('--nodes is 3 or 5');
const runs = Number(values.runs);
const seed = values.seed === undefined ? Math.floor(Math.random() * 1_000_000_000) : Number(values.seed);
const trace = values.verbose && (runs === 1 || values.schedule !== undefined) ? (line: string) => console.log(line) : undefined;

function describeRun(v: Verdict): string {
  const s = v.stats;
  const faults = Object.entries(s.faults).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(' ');
  return `seed ${v.seed}: ${v.ok ? 'ok' : `FAILED (${v.failure!.kind})`} ${s.realMs} ms real, ${s.virtualMs} virtual; ` +
    `ops ${s.ops.invoked} (ok ${s.ops.ok} fail ${s.ops.fail} info ${s.ops.info}); faults ${faults || 'none'}; ${s.crashes} crashes; history ${v.historyHash.slice(0, 12)}`;
}

/** Shrinks a failing schedule and prints it, with a file to replay it from. */
async function reportShrunk(schedule: Schedule, failed: Verdict): Promise<void> {
  const kind = failed.failure!.kind;
  console.log(`\nshrinking (each attempt is a full run) ...`);
  const shrunk = await shrinkSchedule(schedule, async (s) => (await runSchedule(s, { bug })).failure?.kind === kind, {
    attemptsMax: Number(values['shrink-attempts']),
    onProgress: (what) => console.log(`  kept: ${what}`),
  });
  const text = formatSchedule(shrunk.schedule);
  const file = path.join(os.tmpdir(), `sim-cluster-seed-${schedule.seed}${bug === null ? '' : `-${bug}`}.json`);
  writeFileSync(file, text + '\n');
  const last = await runSchedule(shrunk.schedule, { bug });
  console.log(`\nshrunk schedule (${shrunk.attempts} attempts; ${last.failure?.kind ?? 'passes?!'}), written to ${file}:\n${text}`);
  if (last.failure !== undefined) console.log(`\nthe shrunk run fails with:\n${last.failure.message}`);
  console.log(`\nreplay the shrunk schedule: npm run sim:cluster -- --schedule ${file}${bug === null ? '' : ` --bug ${bug}`} --verbose`);
}

async function replaySchedule(file: string): Promise<number> {
  const schedule = JSON.parse(readFileSync(file, 'utf8')) as Schedule;
  const v = await runSchedule(schedule, { bug, trace, logLevel: values['log-level'] });
  console.log(describeRun(v));
  if (v.failure !== undefined) console.log(v.failure.message);
  return v.ok ? 0 : 1;
}

async function main(): Promise<number> {
  if (values.schedule !== undefined) return replaySchedule(values.schedule);
  console.log(`sim:cluster: ${runs} runs from seed ${seed}, ${nodes} nodes${bug === null ? '' : `, bug ${bug}`}`);
  if (runs === 1) {
    const schedule = generateSchedule(seed, { nodes });
    const v = await runSchedule(schedule, { bug, trace, logLevel: values['log-level'] });
    console.log(describeRun(v));
    if (v.ok) return 0;
    return reportFailure(v, schedule);
  }
  const onVerdict = (v: Verdict): void => {
    if (values.verbose) console.log(describeRun(v));
  };
  const result = await runSeeds({ runs, seed, nodes, bug, stopAtFailure: !values['keep-going'], onVerdict });
  console.log(describeTotals(result.totals));
  if (result.failures.length > 0 && values['keep-going']) {
    console.log(`failing seeds: ${result.failures.map((f) => `${f.verdict.seed} (${f.verdict.failure!.kind})`).join(', ')}`);
  }
  const failed = result.failures[0];
  if (failed === undefined) return 0;
  return reportFailure(failed.verdict, failed.schedule);
}

async function reportFailure(v: Verdict, schedule: Schedule): Promise<number> {
  console.log(`\nFAILED: seed ${v.seed} (${v.failure!.kind})\n${v.failure!.message}`);
  console.log(`\nreplay: ${replayCommand(v.seed, nodes, bug)}`);
  if (!values['no-shrink']) await reportShrunk(schedule, v);
  return 1;
}

void main().then((code) => {
  process.exitCode = code;
});
