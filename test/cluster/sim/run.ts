/**
 * One seeded run of whole nodes in one process:
 *   1. boot: start every node; wait until each sees a leader for every group;
 *   2. workload: the clients run their ops while the nemesis starts and undoes faults,
 *      for the schedule's `runMs` of virtual time;
 *   3. heal: every fault undone, crashed nodes restarted, clients stop issuing; wait
 *      until every outstanding op has its answer and every group's replicas have applied
 *      the same index;
 *   4. final reads of every key, then converge again;
 *   5. verdict: the history must be linearizable (jepsen-lite's checker), replicas of each
 *      group must have equal digests at their (equal) applied index, and no node may have
 *      died of an error (a thrown exception or Runtime.fatal).
 * A run is a pure function of its schedule and bug variant.
 */
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { checkRegister } from '../../../jepsen-lite/checker/index.js';
import type { HistoryEvent } from '../../../jepsen-lite/history/types.js';
import type { Replica } from '../../../src/cluster/replica.js';
import { Nemesis } from './faults.js';
import { Rng, RunawayError, Scheduler } from './scheduler.js';
import type { FaultKind, Schedule } from './schedule.js';
import { SimDisk } from './sim-log-store.js';
import { SimNetwork, type NetStats } from './sim-network.js';
import { SimNode, simLogger, type BugName, type NodeWorld } from './sim-node.js';
import { Workload, type WorkloadStats } from './workload.js';

/** Options of one run (besides its schedule). */
export interface RunOptions {
  /** A known-bad variant to run instead of the correct build. */
  bug?: BugName | null;
  /** Fault, crash and phase lines, stamped with virtual time. */
  trace?: (line: string) => void;
  /** A pino level for the nodes' own logs (stdout), e.g. 'info'. */
  logLevel?: string;
}

/** What can be wrong with a run. */
export type FailureKind = 'linearizability' | 'digest' | 'convergence' | 'bootstrap' | 'node-error' | 'runaway';

/** Why a run failed. */
export interface Failure {
  kind: FailureKind;
  message: string;
}

/** Figures of one run (non-vacuity checks add these up). */
export interface RunStats {
  virtualMs: number;
  events: number;
  realMs: number;
  ops: WorkloadStats;
  faults: Record<FaultKind, number>;
  crashes: number;
  restarts: number;
  writesLost: number;
  snapshotsTaken: number;
  snapshotsInstalled: number;
  net: NetStats;
  /** The checker's verdict ('unknown': its search limits were reached). */
  checker: 'valid' | 'invalid' | 'unknown';
}

/** The verdict of one run. */
export interface Verdict {
  seed: number;
  ok: boolean;
  failure?: Failure;
  stats: RunStats;
  /** sha256 of the history (the determinism check compares these). */
  historyHash: string;
  history: HistoryEvent[];
}

/** Virtual time allowed for booting, and for converging after healing. */
const bootMsMax = 30_000;
const settleMsMax = 60_000;
/** How often convergence is checked while settling. */
const pollMs = 100;
/**
 * Events a run may take: runs of the correct build take about 4,000-5,000 (at most ~7,000
 * in 1,000 seeds); far more means a message storm, which is a failure of its own.
 */
const eventsMax = 200_000;

/** Runs one schedule to its verdict. */
export async function runSchedule(schedule: Schedule, opts: RunOptions = {}): Promise<Verdict> {
  return new ClusterRun(schedule, opts).run();
}

/** One run's world: scheduler, network, nodes, clients, nemesis. */
class ClusterRun {
  private readonly scheduler = new Scheduler();
  private readonly network: SimNetwork;
  private readonly nodes: SimNode[];
  private readonly workload: Workload;
  private readonly nemesis: Nemesis;
  private readonly nodeErrors: string[] = [];
  private readonly startedMs = performance.now();

  constructor(
    private readonly s: Schedule,
    private readonly opts: RunOptions,
  ) {
    this.scheduler.eventsMax = eventsMax;
    this.network = new SimNetwork(this.scheduler, s.seed, { delayUsMin: s.netDelayUsMin, delayUsMax: s.netDelayUsMax });
    const nodeIds = Array.from({ length: s.nodes }, (_, i) => i + 1);
    const world: NodeWorld = {
      scheduler: this.scheduler,
      network: this.network,
      seed: s.seed,
      nodeIds,
      groups: s.groups,
      snapshotEntriesMin: s.snapshotEntriesMin,
      logBytesMax: s.logBytesMax,
      bug: opts.bug ?? null,
      logger: simLogger(this.scheduler, opts.logLevel),
      onFatal: (node, err) => this.nodeError(node, 'Runtime.fatal', err),
    };
    const timing = { fsyncUsMin: s.fsyncUsMin, fsyncUsMax: s.fsyncUsMax };
    this.nodes = nodeIds.map((id) => new SimNode(id, world, new SimDisk(timing, new Rng(s.seed, 0x6469736b, id))));
    this.workload = new Workload(this.scheduler, this.access(), s.clients, opts.trace);
    this.nemesis = new Nemesis({
      seed: s.seed,
      scheduler: this.scheduler,
      network: this.network,
      nodes: this.nodes,
      groups: s.groups,
      onCrash: (node) => this.workload.onCrash(node),
      writeAcks: this.workload.writeAckListeners,
      trace: opts.trace,
    });
  }

  /**
   * A node's unhandled rejection is this run's verdict (a real process would die of it),
   * not an error of whatever runs the simulation (vitest): while a run lasts, only the run
   * listens for them.
   */
  async run(): Promise<Verdict> {
    const onRejection = (err: unknown): void => this.nodeError(0, 'unhandled rejection', err);
    const others = process.listeners('unhandledRejection');
    process.removeAllListeners('unhandledRejection');
    process.on('unhandledRejection', onRejection);
    try {
      const failure = await this.phases();
      // Rejections of the last turn are reported after it: one more turn hears them.
      await new Promise((resolve) => setImmediate(resolve));
      return this.verdict(failure ?? this.errorSoFar());
    } finally {
      process.off('unhandledRejection', onRejection);
      for (const listener of others) process.on('unhandledRejection', listener);
    }
  }

  /** The phases of the module doc; the first failure ends the run. */
  private async phases(): Promise<Failure | undefined> {
    for (const n of this.nodes) this.scheduler.soon(null, () => n.start());
    if (!(await this.settle(bootMsMax, () => this.allReady()))) return this.stuck('bootstrap', 'the cluster did not boot');
    this.trace('ready: workload starts');
    this.nemesis.schedule(this.s.faults, this.s.runMs);
    this.workload.start();
    await this.scheduler.run(this.scheduler.nowUs + this.s.runMs * 1000);
    if (this.errorSoFar() !== undefined) return this.errorSoFar();
    this.heal();
    if (!(await this.settle(settleMsMax, () => this.quiet()))) return this.stuck('convergence', 'no convergence after healing');
    this.trace('converged: final reads');
    this.workload.finalReads(this.s.keys, this.nodes.map((n) => n.id));
    if (!(await this.settle(settleMsMax, () => this.quiet()))) return this.stuck('convergence', 'no convergence after the final reads');
    return this.errorSoFar() ?? this.compareDigests();
  }

  private heal(): void {
    this.trace('heal: faults undone, nodes restarted, clients stop');
    this.workload.stop();
    this.nemesis.healAll();
    this.network.healAll();
    for (const n of this.nodes) {
      n.clock.offsetMs = 0;
      n.disk.slowUsMax = 0;
      this.scheduler.soon(null, () => n.start());
    }
  }

  /** Runs until `done` holds (checked every pollMs) or `msMax` passes; false on timeout or error. */
  private async settle(msMax: number, done: () => boolean): Promise<boolean> {
    const endUs = this.scheduler.nowUs + msMax * 1000;
    while (this.errorSoFar() === undefined) {
      if (done()) return true;
      if (this.scheduler.nowUs >= endUs) return false;
      await this.scheduler.run(Math.min(endUs, this.scheduler.nowUs + pollMs * 1000));
    }
    return false;
  }

  private allReady(): boolean {
    return this.nodes.every((n) => n.executor !== null && n.host!.allGroupsHaveLeaders());
  }

  /** Every op answered, every node ready, every group's replicas at one applied index. */
  private quiet(): boolean {
    if (this.workload.outstanding > 0 || !this.allReady()) return false;
    for (let g = 0; g <= this.s.groups; g++) {
      const replicas = this.replicasOf(g);
      const applied = replicas[0]?.machine.appliedIndex;
      if (replicas.some((r) => r.machine.appliedIndex !== applied || r.raft.status().commit !== applied)) return false;
    }
    return true;
  }

  private replicasOf(group: number): Replica[] {
    const out: Replica[] = [];
    for (const n of this.nodes) {
      const r = n.host?.replicas.get(group);
      if (r !== undefined) out.push(r);
    }
    return out;
  }

  /** Replicas of a group at one applied index must hold the same state. */
  private compareDigests(): Failure | undefined {
    for (let g = 0; g <= this.s.groups; g++) {
      const seen = new Map<string, number[]>();
      for (const n of this.nodes) {
        const r = n.host?.replicas.get(g);
        if (r === undefined) continue;
        const key = `applied ${r.machine.appliedIndex} digest ${r.machine.digest()}`;
        seen.set(key, [...(seen.get(key) ?? []), n.id]);
      }
      if (seen.size > 1) {
        const parts = [...seen].map(([k, ids]) => `nodes ${ids.join(',')}: ${k}`);
        return { kind: 'digest', message: `group ${g} replicas differ: ${parts.join('; ')}` };
      }
    }
    return undefined;
  }

  private verdict(failure: Failure | undefined): Verdict {
    const history = this.workload.history;
    const check = checkRegister(history);
    if (failure === undefined && check.outcome === 'invalid') failure = { kind: 'linearizability', message: describeInvalid(check.keys) };
    const verdict: Verdict = {
      seed: this.s.seed,
      ok: failure === undefined,
      stats: this.stats(check.outcome),
      historyHash: createHash('sha256').update(JSON.stringify(history)).digest('hex'),
      history,
    };
    if (failure !== undefined) verdict.failure = failure;
    return verdict;
  }

  private stats(checker: RunStats['checker']): RunStats {
    const sum = (f: (n: SimNode) => number): number => this.nodes.reduce((acc, n) => acc + f(n), 0);
    return {
      virtualMs: this.scheduler.nowMs,
      events: this.scheduler.eventsRun,
      realMs: Math.round(performance.now() - this.startedMs),
      ops: this.workload.stats,
      faults: this.nemesis.fired,
      crashes: this.nemesis.crashes,
      restarts: sum((n) => n.figures.starts) - this.nodes.length,
      writesLost: sum((n) => n.disk.writesLost),
      snapshotsTaken: sum((n) => n.snapshots().taken),
      snapshotsInstalled: sum((n) => n.snapshots().installed),
      net: this.network.stats,
      checker,
    };
  }

  /** A node died of an error: a real process would have exited. */
  private nodeError(node: number, how: string, err: unknown): void {
    const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
    this.nodeErrors.push(`node ${node} ${how} at ${this.scheduler.nowMs} ms: ${text}`);
  }

  private errorSoFar(): Failure | undefined {
    if (this.scheduler.error instanceof RunawayError) return { kind: 'runaway', message: `${this.scheduler.error.message} (${this.describeNodes()})` };
    if (this.scheduler.error !== undefined) this.nodeError(this.scheduler.errorOwner?.node ?? 0, 'exception in an event', this.scheduler.error);
    this.scheduler.error = undefined;
    if (this.nodeErrors.length === 0) return undefined;
    return { kind: 'node-error', message: this.nodeErrors.join('\n') };
  }

  private stuck(kind: FailureKind, what: string): Failure {
    return this.errorSoFar() ?? { kind, message: `${what} within the time allowed (${this.describeNodes()})` };
  }

  /** One line per node: up, and per group role/applied/commit. */
  private describeNodes(): string {
    return this.nodes
      .map((n) => {
        if (n.host === null) return `node ${n.id} down`;
        const groups = [...n.host.replicas.values()].map((r) => `g${r.group} ${r.role[0]} lead ${r.lead} applied ${r.machine.appliedIndex}/${r.raft.status().commit}`);
        return `node ${n.id}: ${groups.join(', ')}`;
      })
      .join('; ');
  }

  private access(): ConstructorParameters<typeof Workload>[1] {
    const node = (id: number): SimNode => this.nodes[id - 1]!;
    const anyHost = (): SimNode['host'] => this.nodes.find((n) => n.host !== null)?.host ?? null;
    const groupOf = (key: string): number => anyHost()?.meta.routing.groupOfKey(Buffer.from(key))?.id ?? -1;
    return {
      executor: (id) => {
        const n = node(id);
        return n.executor === null ? null : { execute: (ops, done) => void n.execute(ops, done) };
      },
      readPath: (id, key) => {
        const r = node(id).host?.replicas.get(groupOf(key));
        return r === undefined ? 'remote' : r.isLeader ? 'leader' : 'follower';
      },
      groupOf,
    };
  }

  private trace(line: string): void {
    this.opts.trace?.(`[${String(this.scheduler.nowMs).padStart(6)} ms] ${line}`);
  }
}

/** The first invalid key's anomaly, as the checker words it. */
function describeInvalid(keys: ReturnType<typeof checkRegister>['keys']): string {
  for (const [key, r] of Object.entries(keys)) {
    if (r.outcome !== 'invalid') continue;
    const ops = (r.anomaly?.ops ?? []).map((e) => JSON.stringify(e)).join('\n    ');
    return `key ${key}: ${r.anomaly?.message ?? 'not linearizable'}\n    ${ops}`;
  }
  return 'not linearizable';
}
