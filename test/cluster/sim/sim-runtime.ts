/**
 * The Runtime (src/cluster/runtime.ts) of one simulated node incarnation: its timers are
 * events of the shared Scheduler owned by the incarnation, so a crash drops them all at
 * once; its wall clock (nowMs) is virtual time plus the node's clock offset (a clock jump
 * moves the offset), its monotonic clock (monoMs) is virtual time.
 */
import type { Runtime, Timer } from '../../../src/cluster/runtime.js';
import type { Owner, Scheduler, SimEvent } from './scheduler.js';

/** Virtual time 0 as a wall clock: an ordinary recent date, so entry times look real. */
export const epochMs = 1_700_000_000_000;

/** One life of a node: everything it scheduled or started dies with it. */
export class Life implements Owner {
  alive = true;

  constructor(
    readonly node: number,
    readonly incarnation: number,
  ) {}
}

/** A node's hardware clock: its offset survives restarts, as a real machine's would. */
export interface NodeClock {
  offsetMs: number;
}

/** A pending timer of `after` or `every`. */
interface SimTimer {
  ev: SimEvent | null;
  cancelled: boolean;
}

/**
 * The simulated Runtime of one node incarnation. Its methods are bound (arrow fields): the
 * host hands `runtime.nowMs` around as a bare function, as the real runtime's allows.
 */
export class SimRuntime implements Runtime {
  constructor(
    private readonly scheduler: Scheduler,
    private readonly life: Life,
    private readonly clock: NodeClock,
    private readonly onFatal: (node: number, err: unknown) => void,
  ) {}

  readonly nowMs = (): number => epochMs + this.scheduler.nowMs + this.clock.offsetMs;

  /** Virtual time itself: clock jumps never touch it. */
  readonly monoMs = (): number => this.scheduler.nowUs / 1000;

  readonly after = (ms: number, fn: () => void): Timer => {
    const t: SimTimer = { ev: null, cancelled: false };
    if (!this.life.alive) return t;
    t.ev = this.scheduler.at(delayUsOf(ms), this.life, () => {
      t.ev = null;
      if (!t.cancelled) fn();
    });
    return t;
  };

  readonly every = (ms: number, fn: () => void): Timer => {
    const t: SimTimer = { ev: null, cancelled: false };
    const arm = (): void => {
      if (!this.life.alive || t.cancelled) return;
      t.ev = this.scheduler.at(delayUsOf(ms), this.life, () => {
        // Re-armed first, as setInterval is: fn may cancel it.
        arm();
        fn();
      });
    };
    arm();
    return t;
  };

  readonly cancel = (timer: Timer): void => {
    const t = timer as SimTimer;
    t.cancelled = true;
    if (t.ev !== null) t.ev.cancelled = true;
    t.ev = null;
  };

  readonly soon = (fn: () => void): void => {
    if (this.life.alive) this.scheduler.soon(this.life, fn);
  };

  readonly fatal = (err: unknown): void => {
    this.onFatal(this.life.node, err);
  };
}

/** Node's timers: a delay below 1 ms is 1 ms, as setTimeout's is. */
function delayUsOf(ms: number): number {
  return Math.max(1, Number.isFinite(ms) ? ms : 1) * 1000;
}
