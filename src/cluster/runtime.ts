/**
 * Time and scheduling, handed to the host and everything it drives (DESIGN.md §10): the
 * cluster code never reads `Date.now()` or calls `setTimeout`/`setImmediate` itself, so a
 * whole node runs inside a seeded simulation (test/cluster/sim) on virtual time, exactly
 * as the Raft core runs on abstract ticks.
 *
 * `realRuntime()` is the process's own clock and timers; `nowMs()` includes the test-only
 * clock offset of clock.ts (jepsen-lite's clock nemesis).
 */
import { clockNowMs } from './clock.js';

/** An opaque handle of a pending timer. */
export type Timer = object;

/** The clock and the scheduler a node runs on. */
export interface Runtime {
  /** Wall-clock milliseconds: entry timestamps (and so TTLs), reads' expiry checks. */
  nowMs(): number;
  /**
   * Monotonic milliseconds: deadlines, timeouts and liveness, which must not stretch or
   * snap when the wall clock is stepped (found by the simulator's clock jumps).
   */
  monoMs(): number;
  /** Runs `fn` once after `ms`. */
  after(ms: number, fn: () => void): Timer;
  /** Runs `fn` every `ms` until cancelled. */
  every(ms: number, fn: () => void): Timer;
  /** Cancels a timer of `after` or `every` (a fired or cancelled one is a no-op). */
  cancel(timer: Timer): void;
  /** Runs `fn` after the current event-loop turn, before any timer (setImmediate). */
  soon(fn: () => void): void;
  /**
   * Called when the node cannot go on safely (a durable write failed): the real runtime
   * exits the process; a simulation records the failure.
   */
  fatal(err: unknown): never | void;
}

/** The process's own clock and timers. */
export function realRuntime(): Runtime {
  return {
    nowMs: clockNowMs,
    monoMs: () => performance.now(),
    after: (ms, fn) => setTimeout(fn, ms),
    every: (ms, fn) => setInterval(fn, ms),
    cancel: (timer) => clearTimeout(timer as NodeJS.Timeout),
    soon: (fn) => void setImmediate(fn),
    fatal: () => process.exit(70),
  };
}
