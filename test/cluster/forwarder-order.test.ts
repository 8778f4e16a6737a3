/**
 * Requests of one group leave a node in the order they arrived, even while they wait for a
 * leader (src/cluster/forwarder.ts, "Order"). A client that pipelines `set p1`, `get p1`,
 * `incr p1` in one write must see them run in that order; found as a flaky
 * test/server/raw-socket.test.ts at a node's start: under load the per-request poll timers
 * drifted apart and a `get` ran before its `set` (the reply said STORED, the get missed).
 *
 * The real Forwarder, over a seeded runtime whose timers fire late by a random amount (an
 * event loop under load), and one group replica that is elected at a random moment. The
 * replica records the order it was handed requests in.
 */
import fc from 'fast-check';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { CacheOp } from '../../src/cache/ops.js';
import { Forwarder, type ForwardingHost } from '../../src/cluster/forwarder.js';
import { HostMetrics } from '../../src/cluster/metrics.js';
import type { Replica, ReplicaDone } from '../../src/cluster/replica.js';
import type { Runtime, Timer } from '../../src/cluster/runtime.js';

/** A seeded event queue: virtual ms, `soon` before timers, timers late by up to `lateMs`. */
class JitteryRuntime implements Runtime {
  private now = 0;
  private order = 0;
  private readonly queue: Array<{ at: number; order: number; fn: () => void; timer: object }> = [];
  private readonly cancelled = new WeakSet<object>();
  constructor(
    private readonly random: () => number,
    private readonly lateMs: number,
  ) {}
  nowMs = (): number => this.now;
  monoMs = (): number => this.now;
  after(ms: number, fn: () => void): Timer {
    const timer = {};
    this.queue.push({ at: this.now + ms + Math.floor(this.random() * this.lateMs), order: this.order++, fn, timer });
    return timer;
  }
  every(): Timer {
    throw new Error('not used by the forwarder');
  }
  cancel(timer: Timer): void {
    this.cancelled.add(timer);
  }
  soon(fn: () => void): void {
    this.queue.push({ at: this.now, order: -1e9 + this.order++, fn, timer: {} });
  }
  fatal(err: unknown): never {
    throw err;
  }
  /** Runs `fn` at virtual time `at` (a client's write arriving, an election ending). */
  at(at: number, fn: () => void): void {
    this.queue.push({ at, order: this.order++, fn, timer: {} });
  }
  run(untilMs: number): void {
    for (;;) {
      this.queue.sort((a, b) => a.at - b.at || a.order - b.order);
      const next = this.queue.shift();
      if (next === undefined || next.at > untilMs) return;
      this.now = Math.max(this.now, next.at);
      if (!this.cancelled.has(next.timer)) next.fn();
    }
  }
}

/** The one replica of a single-node group: leads from `electedAtMs` on, records what it is handed. */
function fakeReplica(runtime: JitteryRuntime, electedAtMs: number, handed: number[]): Replica {
  const r = {
    group: 1,
    get isLeader() {
      return runtime.monoMs() >= electedAtMs;
    },
    get lead() {
      return runtime.monoMs() >= electedAtMs ? 1 : 0;
    },
    submit(ops: CacheOp[], done: ReplicaDone) {
      handed.push(Number((ops[0] as { key: Buffer }).key.toString()));
      runtime.soon(() => done([], 0));
    },
    canReadAsFollower: () => false,
    readsPendingWrite: () => false,
    noteWriting: () => () => {},
    ackTermFor: () => 0,
  };
  return r as unknown as Replica;
}

function runScenario(seed: number, lateMs: number, arrivals: Array<{ atMs: number; mutates: boolean }>, electedAtMs: number): { handed: number[]; answered: number } {
  let s = seed >>> 0 || 1;
  const random = (): number => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const runtime = new JitteryRuntime(random, lateMs);
  const handed: number[] = [];
  const replica = fakeReplica(runtime, electedAtMs, handed);
  const host: ForwardingHost = {
    nodeId: 1,
    runtime,
    transport: { request: () => Promise.reject(new Error('single node: nothing to forward')) } as never,
    factory: {} as never,
    logger: pino({ level: 'silent' }),
    replicas: new Map([[1, replica]]),
    closed: false,
    metrics: new HostMetrics(),
    candidatesOf: () => [1],
    scheduleFlush: () => {},
    peerReachable: () => false,
  };
  const forwarder = new Forwarder(host, 5000, 800);
  runtime.at(electedAtMs, () => forwarder.wakeLeaderWaiters(1, 1));
  let answered = 0;
  arrivals.forEach((arrival, i) => {
    const op: CacheOp = arrival.mutates
      ? ({ type: 'delete', key: Buffer.from(String(i)) } as CacheOp)
      : ({ type: 'get', key: Buffer.from(String(i)) } as CacheOp);
    runtime.at(arrival.atMs, () => forwarder.run(1, [op], arrival.mutates, (results) => void (results !== null && answered++)));
  });
  runtime.run(10_000);
  return { handed, answered };
}

describe('Forwarder: requests of a group leave in arrival order', () => {
  it('while they wait for an election, under timers that fire late (seeded)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.integer({ min: 0, max: 60 }),
        fc.integer({ min: 0, max: 1500 }),
        fc.array(fc.record({ atMs: fc.integer({ min: 0, max: 2000 }), mutates: fc.boolean() }), { minLength: 2, maxLength: 30 }),
        (seed, lateMs, electedAtMs, unsorted) => {
          const arrivals = [...unsorted].sort((a, b) => a.atMs - b.atMs);
          const { handed, answered } = runScenario(seed, lateMs, arrivals, electedAtMs);
          expect(answered).toBe(arrivals.length);
          expect(handed).toEqual(arrivals.map((_, i) => i));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a pipelined burst at a node start, with the poll timers drifting apart', () => {
    // The raw-socket case: 14 requests in one write before the group had a leader.
    const burst = Array.from({ length: 14 }, (_, i) => ({ atMs: 0, mutates: i % 2 === 0 }));
    for (let seed = 1; seed <= 50; seed++) {
      expect(runScenario(seed, 40, burst, 900).handed, `seed ${seed}`).toEqual(burst.map((_, i) => i));
    }
  });
});
