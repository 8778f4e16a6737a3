/**
 * The workloads: what ops the clients run and which keys the final reads cover.
 * - register: get / set / cas / add / delete (reads and writes a fifth of the time as meta
 *   mg / ms) on 25 active keys, a few percent each of replace, touch, compare-and-delete
 *   (mg c, then md C<cas>), append / prepend, multi-key gets (each key a read of its own
 *   sub-process) and noreply sets followed by a get; incr / decr (text or meta ma) on 5 numeric keys
 *   written with decimal values; and now and then a pipeline of ten requests on a key of its
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
  /** Numeric keys (n0, n1, ...) for incr / decr, written only with decimal values. */
  private readonly numeric: Array<{ key: string; left: number }> = [];
  private numericNext = 0;
  /** Keys written once with a TTL, then read until after they expire (checkExpiry). */
  private readonly expiring = new ExpiringKeys();

  constructor(private readonly options: RegisterOptions = registerDefaults) {
    // Staggered lifetimes, so keys retire one at a time rather than all together.
    for (let i = 0; i < options.keysActive; i++) {
      const k = this.freshKey();
      k.left = Math.max(1, Math.round((options.opsPerKey * (i + 1)) / options.keysActive));
      this.active.push(k);
    }
    for (let i = 0; i < numericKeysActive; i++) {
      const k = this.freshNumericKey();
      k.left = Math.max(1, Math.round((this.numericOpsPerKey() * (i + 1)) / numericKeysActive));
      this.numeric.push(k);
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
    if (rng.chance(numericShare)) return this.nextNumeric(rng);
    if (rng.chance(expiringShare)) return this.expiring.next(rng, () => `v${++this.valueNext}`);
    const k = this.active[slot]!;
    // An op is a read, a write or a cas (the cas's gets counts as part of it).
    if (--k.left <= 0) this.active[slot] = this.freshKey();
    const command = this.nextCommand(k.key, rng);
    if (command !== null) return command;
    // A fifth of the reads, writes and compare-and-sets go in the meta protocol (mg / ms, mg c then ms C<cas>).
    const meta = rng.chance(metaShare);
    if (dice < 0.5) return { f: 'read', key: k.key, value: null, meta };
    this.recentWrites.push(k.key);
    if (this.recentWrites.length > recentWritesMax) this.recentWrites.shift();
    // A delete now and then (so reads see absent keys and adds succeed), and adds.
    if (dice < 0.54) return { f: 'delete', key: k.key, value: null };
    const value = `v${++this.valueNext}`;
    if (dice < 0.6) return { f: 'add', key: k.key, value };
    if (dice < 0.82) return { f: 'write', key: k.key, value, meta };
    return { f: 'cas', key: k.key, value, meta };
  }

  finalKeys(): string[] {
    return [...this.used, ...this.expiring.used];
  }

  /**
   * The rest of the command set on a register key, a few percent each (null: one of the
   * ops above): replace, touch, compare-and-delete, append, prepend, a multi-key get, a
   * noreply set + get.
   */
  private nextCommand(key: string, rng: Rng): OpPlan | null {
    let dice = rng.next();
    for (const [what, share] of commandShares) {
      if ((dice -= share) >= 0) continue;
      switch (what) {
        case 'replace':
          this.noteWrite(key);
          return { f: 'replace', key, value: `v${++this.valueNext}` };
        case 'touch':
          return { f: 'touch', key, value: null };
        case 'cas-delete':
          this.noteWrite(key);
          return { f: 'cas-delete', key, value: null };
        case 'multi-get':
          return { f: 'read', key, value: null, keys: this.multiGetKeys(key, rng) };
        case 'noreply':
          this.noteWrite(key);
          return { f: 'write', key, value: `v${++this.valueNext}`, noreply: true };
        case 'append':
        case 'prepend':
          this.noteWrite(key);
          return { f: what, key, value: `a${++this.valueNext}` };
      }
    }
    return null;
  }

  /** `key` and 1-3 other active keys (distinct, so most likely of other groups). */
  private multiGetKeys(key: string, rng: Rng): string[] {
    const keys = [key];
    const want = rng.int(2, 4);
    for (let tries = 0; keys.length < want && tries < 8; tries++) {
      const other = rng.pick(this.active).key;
      if (!keys.includes(other)) keys.push(other);
    }
    return keys;
  }

  /** An op on a numeric key: set of a decimal value, get, incr or decr (a third of those as meta ma). */
  private nextNumeric(rng: Rng): OpPlan {
    const slot = rng.int(0, this.numeric.length - 1);
    const k = this.numeric[slot]!;
    if (--k.left <= 0) this.numeric[slot] = this.freshNumericKey();
    const dice = rng.next();
    const meta = rng.chance(metaShare);
    if (dice < 0.3) return { f: 'read', key: k.key, value: null, meta };
    if (dice < 0.5) return { f: 'write', key: k.key, value: String(++this.valueNext), meta };
    return { f: dice < 0.75 ? 'incr' : 'decr', key: k.key, value: String(rng.int(1, 9)), meta: rng.chance(metaArithShare) };
  }

  private noteWrite(key: string): void {
    this.recentWrites.push(key);
    if (this.recentWrites.length > recentWritesMax) this.recentWrites.shift();
  }

  private freshKey(): { key: string; left: number } {
    const key = `r${this.keyNext++}`;
    this.used.push(key);
    return { key, left: this.options.opsPerKey };
  }

  /** A numeric key gets about a third of the ops a register key does, so it lives a third as many (about as long). */
  private numericOpsPerKey(): number {
    return Math.max(1, Math.round(this.options.opsPerKey / 3));
  }

  private freshNumericKey(): { key: string; left: number } {
    const key = `n${this.numericNext++}`;
    this.used.push(key);
    return { key, left: this.numericOpsPerKey() };
  }
}

/** Share of the register workload's ops that are a pipeline of ten requests on a key of its own (ops.ts runPipeline). */
const pipelineShare = 0.04;

/** Share of the register workload's ops on the numeric keys (set / get / incr / decr). */
const numericShare = 0.06;

/** Share of the numeric keys' incr / decr sent as meta `ma`. */
const metaArithShare = 1 / 3;

/** Numeric keys active at a time. */
const numericKeysActive = 5;

/**
 * Shares of the rest of the command set among the register workload's ops on register keys
 * (the remaining 84% are get / set / cas / add / delete as before).
 */
const commandShares: ReadonlyArray<readonly ['replace' | 'touch' | 'cas-delete' | 'multi-get' | 'noreply' | 'append' | 'prepend', number]> = [
  ['replace', 0.03],
  ['touch', 0.02],
  ['cas-delete', 0.02],
  ['multi-get', 0.03],
  ['noreply', 0.03],
  ['append', 0.02],
  ['prepend', 0.01],
];

/** Share of the register workload's ops on the expiring keys (ExpiringKeys). */
const expiringShare = 0.06;

/**
 * The expiring keys `t0`, `t1`, ...: each written exactly once, with an exptime of 1-3 s
 * (text `set` or, a fifth of the time, meta `ms ... T<ttl>`), by whichever process draws
 * its first op, then read (get or mg) by every process while it is among the latest
 * `readable` keys: before the write, while the value lives, and for seconds after it
 * expired. checkExpiry holds each read to the time bounds of the leader-stamped expiry.
 * A new key every `opsPerKey` of these ops: about every second at 500 ops/s, so each key
 * is read for about six seconds, across its expiry.
 */
export class ExpiringKeys {
  readonly used: string[] = [];
  private ops = 0;

  constructor(
    private readonly opsPerKey = 30,
    private readonly readable = 6,
  ) {}

  /** The next op on an expiring key; `value` makes a fresh unique value. */
  next(rng: Rng, value: () => string): OpPlan {
    const meta = rng.chance(metaShare);
    if (this.ops++ % this.opsPerKey === 0) {
      const key = `t${this.used.length}`;
      this.used.push(key);
      return { f: 'write', key, value: value(), ttlSec: rng.int(1, 3), meta };
    }
    const recent = this.used.slice(-this.readable);
    return { f: 'read', key: rng.pick(recent), value: null, meta };
  }
}

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
