/**
 * The workloads: what ops the clients run and which keys the final reads cover.
 * - register: get / set / cas / add / delete (reads and writes a fifth of the time as meta
 *   mg / ms) on 25 active keys, and now and then a pipeline of ten requests on a key of its
 *   own (program order: ops.ts runPipeline); a key retires after about
 *   `opsPerKey` ops (about 30 s) and a fresh one takes its place (keeps each key's history
 *   small enough for the linearizability checker); values are unique.
 * - counter: incr by 1..5 on one key created first with `set 0`, and reads of it throughout
 *   the run (each checked against the increments acknowledged and invoked around it).
 * - set: append unique tokens "p<process>-<n>" (space separated) to one key created first,
 *   and reads of it throughout the run (each must hold every token acknowledged before it).
 * - lock: whole holds of a fenced lock (acquire, write the fenced resource, release), see lock.ts.
 */
import type { Rng } from '../random.js';
import type { McClient } from './client.js';
import { LockSteps, lockDefaults, lockKeys, type LockOptions, type StepContext } from './lock.js';
import type { Completion, OpActor, OpPlan } from './ops.js';

/** What the runner asks a workload. */
export interface Workload {
  readonly name: WorkloadName;
  /** Keys to create before the run, with their initial values. */
  readonly initial: Array<{ key: string; value: string }>;
  /** The next op of `process`. */
  next(process: number, rng: Rng): OpPlan;
  /** Every key the final reads must cover. */
  finalKeys(): string[];
  /** A workload whose steps are several ops runs them itself (next is then not called). */
  step?(client: McClient, actor: OpActor, rng: Rng, ctx: StepContext): Promise<Completion>;
}

/** The workload names the CLI accepts. */
export type WorkloadName = 'register' | 'counter' | 'set' | 'lock';

/** The workload names, for validation. */
export const workloadNames: readonly WorkloadName[] = ['register', 'counter', 'set', 'lock'];

/** Options of the register workload. */
export interface RegisterOptions {
  keysActive: number;
  opsPerKey: number;
}

/**
 * 25 keys at a time, each retired after about 600 ops: at the default 500 ops/s a key lives
 * about 30 s, across several fault windows (3-6 s faults after 2-4 s quiet), so a write lost
 * in one window is read (by the other processes, on the other nodes) in a later one. Before
 * issue 11 it was 5 keys of 200 ops (2-4 s each): the key of a lost write was retired before
 * the majority side read it, and --unsafe-ack-before-commit went unseen.
 */
export const registerDefaults: RegisterOptions = { keysActive: 25, opsPerKey: 600 };

/** The register workload (linearizable read/write/cas registers). */
export class RegisterWorkload implements Workload {
  readonly name = 'register' as const;
  readonly initial: Array<{ key: string; value: string }> = [];
  private readonly active: Array<{ key: string; left: number }> = [];
  private readonly used: string[] = [];
  private keyNext = 0;
  private valueNext = 0;
  /** Pipelines get keys of their own (p0, p1, ...), never read by anyone else. */
  private pipelineNext = 0;
  /** The keys of the latest writes: reads favour them (a write is soon read, by other processes). */
  private readonly recentWrites: string[] = [];

  constructor(private readonly options: RegisterOptions = registerDefaults) {
    // Staggered lifetimes, so keys retire one at a time rather than all together.
    for (let i = 0; i < options.keysActive; i++) {
      const k = this.freshKey();
      k.left = Math.max(1, Math.round((options.opsPerKey * (i + 1)) / options.keysActive));
      this.active.push(k);
    }
  }

  next(_process: number, rng: Rng): OpPlan {
    const slot = rng.int(0, this.active.length - 1);
    const dice = rng.next();
    if (dice < 0.5 && this.recentWrites.length > 0 && rng.chance(0.5)) {
      // Read back one of the latest writes (likely issued by another process, on another node).
      const key = rng.pick(this.recentWrites);
      if (this.active.some((k) => k.key === key)) return { f: 'read', key, value: null };
    }
    if (rng.chance(pipelineShare)) {
      const v = (): string => `v${++this.valueNext}`;
      return { f: 'write', key: `p${this.pipelineNext++}`, value: null, pipeline: [v(), v(), v()] };
    }
    const k = this.active[slot]!;
    // An op is a read, a write or a cas (the cas's gets counts as part of it).
    if (--k.left <= 0) this.active[slot] = this.freshKey();
    // A fifth of the reads and writes go in the meta protocol (mg / ms).
    const meta = rng.chance(metaShare);
    if (dice < 0.5) return { f: 'read', key: k.key, value: null, meta };
    this.recentWrites.push(k.key);
    if (this.recentWrites.length > recentWritesMax) this.recentWrites.shift();
    // A delete now and then (so reads see absent keys and adds succeed), and adds.
    if (dice < 0.54) return { f: 'delete', key: k.key, value: null };
    const value = `v${++this.valueNext}`;
    if (dice < 0.6) return { f: 'add', key: k.key, value };
    if (dice < 0.82) return { f: 'write', key: k.key, value, meta };
    return { f: 'cas', key: k.key, value };
  }

  finalKeys(): string[] {
    return [...this.used];
  }

  private freshKey(): { key: string; left: number } {
    const key = `r${this.keyNext++}`;
    this.used.push(key);
    return { key, left: this.options.opsPerKey };
  }
}

/** Share of the register workload's ops that are a pipeline of ten requests on a key of its own (ops.ts runPipeline). */
const pipelineShare = 0.04;

/** Share of the register workload's reads and writes sent as meta commands. */
const metaShare = 0.2;

/** Writes the register workload's reads favour. */
const recentWritesMax = 8;

/** Share of the counter and set workloads' ops that read the key mid-run. */
export const midRunReadShare = { counter: 0.25, set: 0.1 };

/** The counter workload. */
export class CounterWorkload implements Workload {
  readonly name = 'counter' as const;
  readonly initial = [{ key: 'counter', value: '0' }];

  next(_process: number, rng: Rng): OpPlan {
    if (rng.chance(midRunReadShare.counter)) return { f: 'read', key: 'counter', value: null };
    return { f: 'incr', key: 'counter', value: String(rng.int(1, 5)) };
  }

  finalKeys(): string[] {
    return ['counter'];
  }
}

/** The set workload (append-only tokens on one key). */
export class SetWorkload implements Workload {
  readonly name = 'set' as const;
  readonly initial = [{ key: 'set', value: '' }];
  private readonly sent = new Map<number, number>();

  next(process: number, rng: Rng): OpPlan {
    if (rng.chance(midRunReadShare.set)) return { f: 'read', key: 'set', value: null };
    const n = this.sent.get(process) ?? 0;
    this.sent.set(process, n + 1);
    return { f: 'append', key: 'set', value: `p${process}-${n}` };
  }

  finalKeys(): string[] {
    return ['set'];
  }
}

/** The lock workload (fenced locks, docs/locks.md). */
export class LockWorkload implements Workload {
  readonly name = 'lock' as const;
  readonly initial: Array<{ key: string; value: string }> = [];
  private readonly steps: LockSteps;

  constructor(readonly options: LockOptions = lockDefaults) {
    this.steps = new LockSteps(options);
  }

  next(): OpPlan {
    throw new Error('the lock workload runs whole steps (step)');
  }

  step(client: McClient, actor: OpActor, rng: Rng, ctx: StepContext): Promise<Completion> {
    return this.steps.step(client, actor, rng, ctx);
  }

  finalKeys(): string[] {
    return Array.from({ length: this.options.locks }, (_, i) => lockKeys(i).resource);
  }
}

/** Options a workload may take from the command line. */
export interface WorkloadFlags {
  /** lock: the known-bad client that writes the resource without the fence. */
  unsafeSkipFence?: boolean;
  /** lock: other options than lockDefaults. */
  lock?: Partial<LockOptions>;
}

/** A workload by name. */
export function makeWorkload(name: WorkloadName, flags: WorkloadFlags = {}): Workload {
  switch (name) {
    case 'lock':
      return new LockWorkload({ ...lockDefaults, ...flags.lock, unsafeSkipFence: flags.unsafeSkipFence === true });
    case 'register':
      return new RegisterWorkload();
    case 'counter':
      return new CounterWorkload();
    case 'set':
      return new SetWorkload();
  }
}
