/**
 * The simulation's one clock and event queue. Every timer of every simulated node, every
 * message in flight and every fsync in progress is an event here, ordered by
 * (virtual time, class, insertion order), so a run is a pure function of its seed.
 *
 * Virtual time counts whole microseconds and only moves forward. `soon` events (a node's
 * setImmediate) run before any timer due at the same instant, in FIFO order.
 *
 * JavaScript promises are real: a node's `.then` callbacks run as microtasks after the
 * event that resolved them. `run()` therefore awaits a macrotask turn (setImmediate) after
 * each event, which drains every microtask, before it takes the next event: the order of
 * everything that happens is still fixed by the queue alone.
 */
import assert from 'node:assert';
import { mixSeed, mulberry32 } from '../../raft/sim/prng.js';

export { mixSeed };

/** Who owns an event: a node incarnation's events die with it. */
export interface Owner {
  readonly alive: boolean;
  /** The node it belongs to, if any (named when one of its events throws). */
  readonly node?: number;
}

/** The class of an event at a given instant: soon before timers. */
const soonClass = 0;
const timerClass = 1;

/** An event in the queue. */
export interface SimEvent {
  atUs: number;
  cls: number;
  seq: number;
  owner: Owner | null;
  cancelled: boolean;
  fn: () => void;
}

/** An owner that never dies (the harness itself, the network). */
export const harnessOwner: Owner = { alive: true };

/** Events one instant may hold before the run is declared a livelock. */
const eventsPerInstantMax = 200_000;

/** The run's event budget ran out: a message storm or a node spinning on timers. */
export class RunawayError extends Error {
  constructor(eventsMax: number, atUs: number) {
    super(`runaway: more than ${eventsMax} events by virtual time ${Math.floor(atUs / 1000)} ms (a message storm?)`);
  }
}

/** Thrown when the queue spins at one instant (a node rescheduling itself forever). */
export class LivelockError extends Error {
  constructor(atUs: number) {
    super(`livelock: more than ${eventsPerInstantMax} events at virtual time ${atUs} us`);
  }
}

/** A seeded discrete-event scheduler (see the module doc). */
export class Scheduler {
  nowUs = 0;
  /** Events run so far (for figures). */
  eventsRun = 0;
  /** Events a run may take in all; past it the run stops with a RunawayError. */
  eventsMax = Infinity;
  private heap: SimEvent[] = [];
  private seqNext = 0;
  private eventsAtInstant = 0;
  /** Called after each event and its microtasks (the network flushes its outboxes here). */
  private readonly turnHooks: Array<() => void> = [];
  /** The first error an event threw; the run stops at it. */
  error: unknown = undefined;
  /** The owner of the event that threw it. */
  errorOwner: Owner | null = null;

  /** Schedules `fn` `delayUs` from now. */
  at(delayUs: number, owner: Owner | null, fn: () => void): SimEvent {
    assert(delayUs >= 0 && Number.isFinite(delayUs), `bad delay ${delayUs}`);
    return this.push(this.nowUs + Math.round(delayUs), timerClass, owner, fn);
  }

  /** Schedules `fn` now, before any timer due now (setImmediate). */
  soon(owner: Owner | null, fn: () => void): SimEvent {
    return this.push(this.nowUs, soonClass, owner, fn);
  }

  /** Registers a hook run after every event turn. */
  onTurnEnd(hook: () => void): void {
    this.turnHooks.push(hook);
  }

  /** The current virtual time in whole milliseconds. */
  get nowMs(): number {
    return Math.floor(this.nowUs / 1000);
  }

  /** Pending events (cancelled and dead-owner ones included until popped). */
  get pending(): number {
    return this.heap.length;
  }

  /**
   * Runs events until virtual time passes `untilUs`, `stop()` holds, or the queue empties.
   * Time ends at `untilUs` when the queue runs dry or the next event lies beyond it.
   */
  async run(untilUs: number, stop?: () => boolean): Promise<void> {
    while (this.error === undefined) {
      if (stop !== undefined && stop()) return;
      const ev = this.heap[0];
      if (ev === undefined || ev.atUs > untilUs) {
        this.nowUs = Math.max(this.nowUs, untilUs);
        return;
      }
      this.pop();
      if (ev.cancelled || (ev.owner !== null && !ev.owner.alive)) continue;
      if (++this.eventsRun > this.eventsMax) {
        this.error = new RunawayError(this.eventsMax, ev.atUs);
        return;
      }
      try {
        this.advanceTo(ev.atUs);
        ev.fn();
      } catch (err) {
        this.error = err;
        this.errorOwner = ev.owner;
        return;
      }
      await turn();
      for (const hook of this.turnHooks) hook();
    }
  }

  private advanceTo(atUs: number): void {
    if (atUs > this.nowUs) {
      this.nowUs = atUs;
      this.eventsAtInstant = 0;
    }
    if (++this.eventsAtInstant > eventsPerInstantMax) throw new LivelockError(atUs);
  }

  private push(atUs: number, cls: number, owner: Owner | null, fn: () => void): SimEvent {
    const ev: SimEvent = { atUs, cls, seq: this.seqNext++, owner, cancelled: false, fn };
    const h = this.heap;
    h.push(ev);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(ev, h[parent]!)) break;
      h[i] = h[parent]!;
      i = parent;
    }
    h[i] = ev;
    return ev;
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const r = l + 1;
      const c = r < h.length && before(h[r]!, h[l]!) ? r : l;
      if (!before(h[c]!, last)) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = last;
  }
}

function before(a: SimEvent, b: SimEvent): boolean {
  if (a.atUs !== b.atUs) return a.atUs < b.atUs;
  if (a.cls !== b.cls) return a.cls < b.cls;
  return a.seq < b.seq;
}

/** One macrotask turn: every microtask queued so far (and those they queue) has run. */
function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A seeded random stream (mulberry32); one per purpose, so streams do not disturb each other. */
export class Rng {
  private readonly next: () => number;

  constructor(...seedParts: number[]) {
    this.next = mulberry32(mixSeed(...seedParts));
  }

  /** A float in [0, 1). */
  float(): number {
    return this.next();
  }

  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return p > 0 && this.next() < p;
  }

  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    assert(items.length > 0, 'pick from an empty array');
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** One key of `weights`, chosen with probability proportional to its weight. */
  weighted<K extends string>(weights: Readonly<Record<K, number>>): K {
    const entries = Object.entries(weights) as Array<[K, number]>;
    const total = entries.reduce((sum, [, w]) => sum + w, 0);
    let x = this.next() * total;
    for (const [k, w] of entries) {
      x -= w;
      if (x < 0) return k;
    }
    return entries[entries.length - 1]![0];
  }

  /** `count` distinct elements of `items`, in random order. */
  sample<T>(items: readonly T[], count: number): T[] {
    const pool = [...items];
    const out: T[] = [];
    while (out.length < count && pool.length > 0) out.push(pool.splice(Math.floor(this.next() * pool.length), 1)[0]!);
    return out;
  }
}
