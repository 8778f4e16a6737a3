/**
 * One jepsen-lite run: start a cluster behind the link proxies, drive the workload while
 * the nemesis injects the seeded fault schedule, heal, wait for recovery, read every key
 * through every node, compare replica digests, check the history, and write the run
 * directory (history.jsonl, nemesis.jsonl, results.json, node logs, report.html).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { AvailabilityProbe } from './cluster/availability-probe.js';
import { Cluster, type NetMode } from './cluster/cluster.js';
import { compareDigests, type DigestReport } from './cluster/digests.js';
import { detectCrashes } from './crash/detector.js';
import { subProcessBase, type HistoryEvent, type NemesisEvent, type Outcome, type Results } from './history/types.js';
import { countFailReasons, type FailReasons } from './history/fail-reasons.js';
import { HistoryWriter, NemesisLog, RunClock } from './history/writer.js';
import { Nemesis, runSchedule } from './nemesis/nemesis.js';
import type { MembershipReport } from './nemesis/membership.js';
import { defaultTiming, describeFault, expandNemeses, makeSchedule, type FaultStep, type ScheduleTiming } from './nemesis/schedule.js';
import { Rng } from './random.js';
import { computeAvailability, type Availability } from './report/availability.js';
import { McClient } from './workload/client.js';
import { runOp } from './workload/ops.js';
import { finalReads, Runner } from './workload/runner.js';
import type { LockOptions } from './workload/lock.js';
import { LockWorkload, makeWorkload, type Workload, type WorkloadName } from './workload/workloads.js';

/** The repository root (this file lives in jepsen-lite/). */
export const repoRoot = path.resolve(import.meta.dirname, '..');

/** Everything a run needs. */
export interface RunOptions {
  nodes: number;
  timeSec: number;
  /** `--nemesis` names (families or single faults). */
  nemeses: string[];
  workload: WorkloadName;
  seed: number;
  /** The run directory. */
  out: string;
  /** Extra `memraft serve` flags for every node, as one string. */
  serverArgs: string;
  concurrency: number;
  /** Total ops/s. */
  rate: number;
  opTimeoutMs: number;
  /** Longest wait for the cluster to recover after the final heal. */
  recoveryTimeoutMs: number;
  /** The memraft entry point (default dist/cli/main.js). */
  mainJs?: string;
  /** Fault and quiet durations of the schedule (default 3-6 s faults after 2-4 s quiet). */
  timing?: ScheduleTiming;
  /** Progress lines (default: stdout). */
  log?: (line: string) => void;
  /** Seconds between progress lines. */
  progressSec?: number;
  /** Lock workload: the known-bad client that writes the resource without the fence. */
  unsafeSkipFence?: boolean;
  /** Longest time the final reads keep trying (default 60 s; tests of broken modes use less). */
  finalReadsBudgetMs?: number;
  /** Lock workload: other options than the defaults (tests). */
  lock?: Partial<LockOptions>;
  /** How node-to-node links are made and broken (default proxy). */
  net?: NetMode;
}

/** Defaults of the optional CLI flags. */
export const runDefaults = {
  nodes: 3,
  timeSec: 60,
  nemeses: ['partition', 'kill'],
  workload: 'register' as WorkloadName,
  concurrency: 10,
  rate: 500,
  opTimeoutMs: 6000,
  recoveryTimeoutMs: 30_000,
};

/** The run's results plus what the caller may want in memory. */
export interface RunOutput {
  results: Results;
  history: HistoryEvent[];
  nemesis: NemesisEvent[];
  schedule: FaultStep[];
}

/** The commit under test (git rev-parse HEAD), or 'unknown' outside a git checkout. */
export function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

/** Splits `--server-args` like a shell would for simple cases (quotes group words). */
export function splitArgs(s: string): string[] {
  const out: string[] = [];
  for (const m of s.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)) out.push(m[1] ?? m[2] ?? m[3]!);
  return out;
}

/** Runs one test; never throws for a bad outcome (see results.outcome), only for harness errors. */
export async function runTest(o: RunOptions): Promise<RunOutput> {
  const log = o.log ?? ((line: string) => process.stdout.write(line + '\n'));
  prepareOutDir(o.out);
  const kinds = expandNemeses(o.nemeses);
  if (o.net === 'netns' && kinds.includes('delay')) {
    throw new Error('the delay nemesis needs the kernel netem qdisc, which --net netns does not use: run it with --net proxy');
  }
  const rng = new Rng(o.seed);
  const mainJs = o.mainJs ?? snapshotBuild(o.out);
  const commit = gitCommit();
  log(`jepsen-lite: seed ${o.seed} commit ${commit} nodes ${o.nodes} time ${o.timeSec}s workload ${o.workload} nemesis ${kinds.join(',') || 'none'} net ${o.net ?? 'proxy'}`);

  const ids = Array.from({ length: o.nodes }, (_, i) => i + 1);
  const spareIds = Array.from({ length: spareNodesMax }, (_, i) => o.nodes + i + 1);
  const schedule = makeSchedule(o.seed, ids, kinds, o.timeSec * 1000, o.timing ?? defaultTiming, spareIds);
  const spareNodes = Math.max(0, ...schedule.map((s) => (s.fault.kind === 'join' ? s.fault.node - o.nodes : 0)));
  const cluster = await Cluster.start({ nodes: o.nodes, spareNodes, dir: o.out, serverArgs: splitArgs(o.serverArgs), seed: o.seed, mainJs, net: o.net ?? 'proxy' });
  const clock = new RunClock();
  const ctx: RunContext = {
    o, log, cluster, clock, rng,
    history: new HistoryWriter(path.join(o.out, 'history.jsonl'), clock),
    nemesisLog: new NemesisLog(path.join(o.out, 'nemesis.jsonl'), clock),
    schedule,
    runner: null,
    probe: null,
    membership: null,
  };
  // Until compared, no evidence either way: a harness error before the comparison makes the
  // outcome unknown, not invalid (converged false and no groups say nothing was compared).
  let digests: DigestReport = { agree: true, converged: false, groups: {} };
  let mainPhaseSec = o.timeSec;
  let harnessError: string | null = null;
  const workload = makeWorkload(o.workload, { unsafeSkipFence: o.unsafeSkipFence, lock: o.lock });
  try {
    mainPhaseSec = await workloadPhase(ctx, workload);
    digests = await recoveryPhase(ctx, workload);
  } catch (err) {
    harnessError = err instanceof Error ? (err.stack ?? err.message) : String(err);
    log(`harness error: ${harnessError}`);
  } finally {
    ctx.runner?.stop();
    await ctx.probe?.stop();
    await cluster.stop();
    await ctx.history.close();
    await ctx.nemesisLog.close();
  }
  const results = await buildResults(ctx, workload, { commit, kinds, mainPhaseSec, digests, harnessError });
  fs.writeFileSync(path.join(o.out, 'results.json'), JSON.stringify(results, null, 2) + '\n');
  await writeReport(o.out, ctx.history.events, ctx.nemesisLog.events, results, log);
  log(`outcome: ${results.outcome} (ops ${results.ops}: ok ${results.okOps} fail ${results.failOps} info ${results.infoOps}; ${results.opsPerSec} ops/s; ` +
    `checker ${results.checkerMs} ms; crashes ${results.crashes.length}; digests ${digests.agree ? 'agree' : 'DISAGREE'}${digests.converged ? '' : ' (not converged)'})`);
  return { results, history: ctx.history.events, nemesis: ctx.nemesisLog.events, schedule: ctx.schedule };
}

/** What the phases of a run share. */
interface RunContext {
  o: RunOptions;
  log: (line: string) => void;
  cluster: Cluster;
  clock: RunClock;
  rng: Rng;
  history: HistoryWriter;
  nemesisLog: NemesisLog;
  schedule: FaultStep[];
  runner: Runner | null;
  /** Heal probes and the leader watch (availability figures). */
  probe: AvailabilityProbe | null;
  /** The joins and drains, once they settled (membership runs only). */
  membership: MembershipReport | null;
}

/**
 * Spare node ids a membership run may join, each once (a drained id is never reused); only
 * those the schedule does join get ports and proxies. Once spent, the schedule only drains.
 */
const spareNodesMax = 16;
/** Longest wait after the heal for joins and drains still in flight. */
const membershipSettleMs = 90_000;

/** The clients and the fault schedule for --time seconds, then heal; returns the phase's length in s. */
async function workloadPhase(ctx: RunContext, workload: Workload): Promise<number> {
  const { o, cluster, clock, log } = ctx;
  await createInitialKeys(ctx, workload, o.opTimeoutMs);
  const nemesis = new Nemesis(cluster, ctx.nemesisLog, ctx.rng.fork(2));
  const probe = new AvailabilityProbe(cluster, clock, groupsOf(splitArgs(o.serverArgs)));
  ctx.probe = probe;
  nemesis.observer = { faultStarting: () => probe.onFaultStart(), healed: (fault, nodes) => probe.onHeal(fault, nodes) };
  probe.start();
  const runner = new Runner({
    concurrency: o.concurrency, ratePerSec: o.rate, opTimeoutMs: o.opTimeoutMs, nodes: () => cluster.members(),
    portOf: (id) => cluster.clientEndpoint(id), history: ctx.history, workload, rng: ctx.rng.fork(1),
  });
  ctx.runner = runner;
  const startMs = clock.nowMs();
  const running = runner.run();
  let stopped = false;
  const progress = setInterval(() => log(progressLine(clock, runner, nemesis)), (o.progressSec ?? 5) * 1000);
  try {
    const faults = runSchedule(nemesis, ctx.schedule, clock, () => stopped);
    await waitMs(o.timeSec * 1000 - (clock.nowMs() - startMs));
    stopped = true;
    await faults;
    nemesis.observer = null;
    await probe.stop();
    await nemesis.healAll();
    runner.stop();
    await running;
    if (ctx.schedule.some((s) => s.fault.kind === 'join' || s.fault.kind === 'drain')) {
      ctx.membership = await nemesis.membership.settle(membershipSettleMs);
      log(`membership: joined ${ctx.membership.joined.join(',') || 'none'}; drained ${ctx.membership.drained.join(',') || 'none'}` +
        (ctx.membership.unfinished.length > 0 ? `; UNFINISHED ${ctx.membership.unfinished.join(', ')}` : ''));
    }
  } finally {
    clearInterval(progress);
  }
  log(`${progressLine(clock, runner, nemesis)} | healed; waiting for recovery`);
  return (clock.nowMs() - startMs) / 1000;
}

/** Waits for the healed cluster, reads every key through every node, compares replica digests. */
async function recoveryPhase(ctx: RunContext, workload: Workload): Promise<DigestReport> {
  const { o, cluster } = ctx;
  await cluster.waitReady(cluster.members(), o.recoveryTimeoutMs);
  const reads = await finalReads({
    nodes: cluster.members(), portOf: (id) => cluster.clientEndpoint(id), keys: workload.finalKeys(), history: ctx.history,
    processBase: finalReadProcessBase, opTimeoutMs: o.opTimeoutMs, triesMax: 5, budgetMs: o.finalReadsBudgetMs ?? finalReadsBudgetMs,
  });
  ctx.log(`final reads: ${reads.ok} ok, ${reads.failed} without an ok answer`);
  return compareDigests(cluster, 20_000);
}

/** Crash scan, checker, counts: results.json. */
async function buildResults(
  ctx: RunContext,
  workload: Workload,
  r: { commit: string; kinds: string[]; mainPhaseSec: number; digests: DigestReport; harnessError: string | null },
): Promise<ResultsOut> {
  const { o, cluster, history } = ctx;
  const crashes = detectCrashes(cluster.ids.map((id) => ({ node: id, file: cluster.logFile(id) })), cluster.unexpectedExits);
  const { checks, checkerMs } = await runChecks(workload, history.events, ctx.nemesisLog.events);
  const counts = countCompletions(history.events, finalReadProcessBase);
  const ops = counts.ok + counts.fail + counts.info;
  const results: ResultsOut = {
    outcome: 'unknown', seed: o.seed, commit: r.commit, nodes: o.nodes, timeSec: o.timeSec, nemeses: r.kinds, workload: o.workload,
    serverArgs: o.serverArgs, ops, okOps: counts.ok, failOps: counts.fail, infoOps: counts.info,
    opsPerSec: Math.round(ops / Math.max(r.mainPhaseSec, 0.001)), checkerMs: Math.round(checkerMs), checks,
    crashes, digests: r.digests,
  };
  results.outcome = overallOutcome(results, r.harnessError !== null);
  const extra = results as Results & { failReasons?: FailReasons; nemesesFired?: Record<string, number>; opsCounted?: string };
  extra.failReasons = countFailReasons(history.events, finalReadProcessBase);
  extra.nemesesFired = Object.fromEntries(r.kinds.map((k) => [k, ctx.nemesisLog.events.filter((e) => e.fault === k && e.phase === 'start').length]));
  extra.opsCounted = 'ops of the workload phase; the setup writes and the final reads are in history.jsonl but not counted';
  if (r.harnessError !== null) results.harnessError = r.harnessError;
  if (o.unsafeSkipFence === true) (results as Results & { unsafeSkipFence?: boolean }).unsafeSkipFence = true;
  results.schedule = ctx.schedule.map((s) => ({ startMs: s.startMs, stopMs: s.stopMs, fault: s.fault.kind, detail: describeFault(s.fault) }));
  results.network = { ...cluster.network.stats(), linkBytes: cluster.network.linkBytes() };
  if (ctx.membership !== null) results.membership = ctx.membership;
  results.net = o.net ?? 'proxy';
  if (ctx.probe !== null) {
    results.availability = computeAvailability(history.events, ctx.nemesisLog.events, ctx.probe.heals, ctx.probe.leaderChanges);
  }
  return results;
}

/** results.json as this harness writes it: the shared fields and the harness's own. */
type ResultsOut = Results & {
  harnessError?: string; schedule?: unknown; network?: unknown; membership?: MembershipReport; net?: NetMode; availability?: Availability;
};

/** Data groups per `--groups` in the server flags (default 16, the server's). */
function groupsOf(serverArgs: string[]): number {
  const i = serverArgs.findIndex((a) => a === '--groups' || a.startsWith('--groups='));
  if (i < 0) return 16;
  const v = serverArgs[i]!.includes('=') ? serverArgs[i]!.split('=')[1] : serverArgs[i + 1];
  const n = Number(v);
  return Number.isInteger(n) && n > 0 ? n : 16;
}

/** Longest time the final reads keep trying (default; RunOptions.finalReadsBudgetMs). */
const finalReadsBudgetMs = 60_000;

/** Process ids of the final reads start here (above every worker's). */
const finalReadProcessBase = 1_000_000;

/** Completions of the workload phase by type (the final reads and setup writes left out; sub-processes counted). */
export function countCompletions(history: readonly HistoryEvent[], processBelow: number): { ok: number; fail: number; info: number } {
  const counts = { ok: 0, fail: 0, info: 0 };
  for (const e of history) if (e.type !== 'invoke' && (e.process < processBelow || e.process >= subProcessBase)) counts[e.type]++;
  return counts;
}

/**
 * invalid if any check is, or a node crashed, or digests disagree, or (once compared) the
 * replicas did not converge; unknown if a check is or the harness failed.
 */
export function overallOutcome(r: Pick<Results, 'checks' | 'crashes' | 'digests'>, harnessFailed: boolean): Outcome {
  const outcomes = Object.values(r.checks).map((c) => c.outcome);
  const notConverged = !harnessFailed && (r.digests as { converged?: boolean }).converged === false;
  if (outcomes.includes('invalid') || r.crashes.length > 0 || !r.digests.agree || notConverged) return 'invalid';
  if (harnessFailed || outcomes.includes('unknown') || outcomes.length === 0) return 'unknown';
  return 'valid';
}

/** Runs the checker of the workload (the checker module is loaded lazily: a run still writes its files without it). */
async function runChecks(workload: Workload, history: HistoryEvent[], nemesis: NemesisEvent[]): Promise<{ checks: Results['checks']; checkerMs: number }> {
  const started = performance.now();
  const name = workload.name;
  let checker: typeof import('./checker/index.js');
  try {
    checker = await import('./checker/index.js');
  } catch (err) {
    return { checks: { [name]: { outcome: 'unknown', note: `checker unavailable: ${String(err)}` } }, checkerMs: 0 };
  }
  const checks: Results['checks'] = {};
  const run = (check: string, f: () => { outcome: Outcome }): void => {
    try {
      checks[check] = f() as Results['checks'][string];
    } catch (err) {
      checks[check] = { outcome: 'unknown', note: `checker failed: ${err instanceof Error ? err.stack : String(err)}` };
    }
  };
  if (workload instanceof LockWorkload) {
    // The resource keys are registers (linearizable); the lock keys and the fence: checkLock.
    run('register', () => checker.checkRegister(history));
    const clockFault = nemesis.find((e) => e.fault === 'clock' && e.phase === 'start');
    run('lock', () => checker.checkLock(history, { ttlMs: workload.options.ttlSec * 1000, clockFaultFromNs: clockFault?.time ?? null }));
  } else if (name === 'register') {
    run(name, () => checker.checkRegister(history));
    run('expiry', () => checker.checkExpiry(history, nemesis));
  }
  else if (name === 'counter') run(name, () => checker.checkCounter(history));
  else run(name, () => checker.checkSet(history));
  // Every workload: an unexpected or malformed reply is an anomaly of its own.
  run('replies', () => checker.checkReplies(history));
  return { checks, checkerMs: performance.now() - started };
}

/** Writes report.html through the report module's renderRunDir (loaded lazily: a run still writes its files without it). */
async function writeReport(dir: string, history: HistoryEvent[], nemesis: NemesisEvent[], results: Results, log: (l: string) => void): Promise<void> {
  try {
    const render = (await import('./report/render.js').catch(() => ({}))) as Record<string, unknown>;
    if (typeof render.renderRunDir === 'function') {
      (render.renderRunDir as (d: string) => unknown)(dir);
      return;
    }
    const report = (await import('./report/index.js')) as Record<string, unknown>;
    const html = (report.renderReport as (i: unknown) => string)({ history, nemesis, results });
    fs.writeFileSync(path.join(dir, 'report.html'), html);
  } catch (err) {
    log(`report.html not written: ${String(err)}`);
  }
}

/**
 * History process ids of the setup writes (above the final reads'): they are in the history
 * like every op, so a checker reading history.jsonl alone sees the initial values, but they
 * are not counted among the workload phase's ops.
 */
export const setupProcessBase = 2_000_000;

/** Creates the workload's initial keys through the first node that stores them, recording each try. */
async function createInitialKeys(ctx: RunContext, workload: Workload, opTimeoutMs: number): Promise<void> {
  const { cluster } = ctx;
  let process = setupProcessBase;
  for (const { key, value } of workload.initial) {
    let stored = false;
    for (let attempt = 0; attempt < 20 && !stored; attempt++) {
      const node = cluster.ids[attempt % cluster.ids.length]!;
      const client = await McClient.connect(cluster.clientEndpoint(node), opTimeoutMs).catch(() => null);
      if (client === null) continue;
      const done = await runOp(client, { process, node, history: ctx.history }, 'write', key, value);
      client.close();
      stored = done.type === 'ok';
      if (done.type === 'info') process++;
    }
    if (!stored) throw new Error(`could not create the initial key ${key}`);
  }
}

/**
 * Copies dist/ (with package.json, and node_modules as a link) into the run directory and
 * returns its entry point: every node of the run, restarts included, runs the same build
 * even if dist/ is rebuilt meanwhile (the tree is shared; `npm test` rebuilds).
 */
export function snapshotBuild(out: string): string {
  const dist = path.join(repoRoot, 'dist');
  if (!fs.existsSync(path.join(dist, 'cli/main.js'))) throw new Error(`${dist}/cli/main.js is missing: run npm run build first`);
  const root = path.join(out, 'memraft');
  fs.mkdirSync(root, { recursive: true });
  fs.cpSync(dist, path.join(root, 'dist'), { recursive: true, filter: (src) => !src.endsWith('.map') });
  fs.copyFileSync(path.join(repoRoot, 'package.json'), path.join(root, 'package.json'));
  fs.symlinkSync(path.join(repoRoot, 'node_modules'), path.join(root, 'node_modules'), 'dir');
  return path.join(root, 'dist/cli/main.js');
}

/** Makes `dir` an empty run directory; refuses a non-empty one that is not an old run. */
function prepareOutDir(dir: string): void {
  if (fs.existsSync(dir)) {
    const entries = fs.readdirSync(dir);
    const oldRun = entries.length === 0 || entries.includes('history.jsonl') || entries.includes('results.json') || entries.some((e) => /^node-\d+(\.log)?$/.test(e));
    if (!oldRun) throw new Error(`${dir} exists and is not a jepsen-lite run directory; refusing to clear it`);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  fs.mkdirSync(dir, { recursive: true });
}

function progressLine(clock: RunClock, runner: Runner, nemesis: Nemesis): string {
  const c = runner.counts;
  return `[${(clock.nowMs() / 1000).toFixed(1).padStart(6)}s] ok ${c.ok} fail ${c.fail} info ${c.info} | faults: ${nemesis.describe()}`;
}

function waitMs(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
