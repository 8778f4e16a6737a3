/**
 * The whole-node simulator's parts on their own (test/cluster/sim/): the scheduler's
 * order, the simulated disk's durability, the simulated network's faults and requests,
 * the workload's classification, the shrinker's search. Milliseconds each.
 */
import { describe, expect, it } from 'vitest';
import { MessageType } from '../../src/raft/types.js';
import { Scheduler, harnessOwner } from './sim/scheduler.js';
import { generateSchedule, type Schedule } from './sim/schedule.js';
import { shrinkSchedule } from './sim/shrink.js';
import { SimDisk, SimLogStore } from './sim/sim-log-store.js';
import { SimNetwork } from './sim/sim-network.js';
import { Life, SimRuntime } from './sim/sim-runtime.js';
import { Rng } from './sim/scheduler.js';
import { surelyNotApplied } from '../../jepsen-lite/workload/ops.js';

describe('Scheduler', () => {
  it('runs soon events before timers due at the same instant, each class in FIFO order', async () => {
    const s = new Scheduler();
    const order: string[] = [];
    s.at(0, harnessOwner, () => {
      s.at(1000, null, () => order.push('t1'));
      s.at(1000, null, () => order.push('t2'));
      s.at(0, null, () => {
        order.push('t0');
        s.soon(null, () => order.push('s2'));
      });
      s.soon(null, () => order.push('s1'));
    });
    await s.run(10_000);
    expect(order).toEqual(['s1', 't0', 's2', 't1', 't2']);
    expect(s.nowUs).toBe(10_000);
  });

  it("drops a dead owner's events and cancelled ones", async () => {
    const s = new Scheduler();
    const life = new Life(1, 1);
    const ran: string[] = [];
    s.at(10, life, () => ran.push('dead'));
    s.at(10, null, () => ran.push('cancelled')).cancelled = true;
    s.at(20, null, () => ran.push('kept'));
    life.alive = false;
    await s.run(100);
    expect(ran).toEqual(['kept']);
  });

  it('stops at an event that throws, and at its event budget', async () => {
    const s = new Scheduler();
    s.at(5, harnessOwner, () => {
      throw new Error('boom');
    });
    await s.run(100);
    expect(String(s.error)).toMatch(/boom/);
    const t = new Scheduler();
    t.eventsMax = 3;
    const tick = (): void => void t.at(1, null, tick);
    tick();
    await t.run(1_000_000);
    expect(String(t.error)).toMatch(/runaway/);
  });
});

describe('SimRuntime', () => {
  it('offsets the wall clock by the node clock, never the monotonic one, and dies with its life', async () => {
    const s = new Scheduler();
    const life = new Life(1, 1);
    const clock = { offsetMs: 0 };
    const rt = new SimRuntime(s, life, clock, () => {});
    const fired: number[] = [];
    const every = rt.every(10, () => fired.push(rt.monoMs()));
    await s.run(35_000);
    expect(fired).toEqual([10, 20, 30]);
    clock.offsetMs = 60_000;
    expect(rt.nowMs() - rt.monoMs()).toBeGreaterThan(60_000);
    rt.cancel(every);
    rt.after(5, () => fired.push(-1));
    life.alive = false;
    await s.run(100_000);
    expect(fired).toEqual([10, 20, 30]);
  });
});

describe('SimLogStore', () => {
  const timing = { fsyncUsMin: 1000, fsyncUsMax: 1000 };
  const entry = (index: number) => ({ term: 1, index, type: 0, data: new Uint8Array([index]) });

  it('resolves writes in order once their fsync is done; a crash loses the unsynced ones', async () => {
    const s = new Scheduler();
    const disk = new SimDisk(timing, new Rng(1));
    const life = new Life(1, 1);
    const store = new SimLogStore(s, life, disk);
    const done: number[] = [];
    s.soon(null, () => {
      void store.write([{ group: 1, entries: [entry(1)] }]).then(() => done.push(1));
      void store.write([{ group: 1, entries: [entry(2)] }]).then(() => done.push(2));
    });
    await s.run(1500);
    expect(done).toEqual([1, 2]);
    s.soon(null, () => void store.write([{ group: 1, entries: [entry(3)] }]).then(() => done.push(3)));
    await s.run(1800);
    life.alive = false;
    store.crash();
    await s.run(10_000);
    expect(done).toEqual([1, 2]);
    expect(disk.writesLost).toBe(1);
    const restarted = new SimLogStore(s, new Life(1, 2), disk);
    expect((await restarted.load(1)).entries.map((e) => e.index)).toEqual([1, 2]);
  });
});

describe('SimNetwork', () => {
  const setup = () => {
    const s = new Scheduler();
    const net = new SimNetwork(s, 7, { delayUsMin: 100, delayUsMax: 500 });
    const a = net.attach(1, new Life(1, 1));
    const b = net.attach(2, new Life(2, 1));
    a.setPeer(2);
    b.setPeer(1);
    return { s, net, a, b };
  };

  it("delivers a turn's sends as one batch, in order; drops what crosses a cut link", async () => {
    const { s, net, a, b } = setup();
    const got: unknown[][] = [];
    b.onMessages((_from, msgs) => got.push(msgs));
    s.soon(null, () => {
      a.send(2, ['m', 1]);
      a.send(2, ['m', 2]);
    });
    await s.run(10_000);
    expect(got).toEqual([[['m', 1], ['m', 2]]]);
    net.cut(1, 2);
    s.soon(null, () => a.send(2, ['m', 3]));
    await s.run(20_000);
    net.uncut(1, 2);
    expect(got.length).toBe(1);
    expect(net.stats.cut).toBe(1);
  });

  it('answers requests; times out over a cut link; fails fast when the peer is down', async () => {
    const { s, net, a, b } = setup();
    b.onRequest((_from, payload) => Promise.resolve({ echo: payload }));
    const results: unknown[] = [];
    const settle = (p: Promise<unknown>) => p.then((v) => results.push(v), (e: { code: string; notSent?: boolean }) => results.push([e.code, e.notSent]));
    s.soon(null, () => void settle(a.request(2, 'hi', 100)));
    await s.run(50_000);
    net.cut(2, 1);
    s.soon(null, () => void settle(a.request(2, 'lost', 100)));
    await s.run(200_000);
    net.detach(2);
    s.soon(null, () => void settle(a.request(2, 'down', 100)));
    await s.run(300_000);
    expect(results).toEqual([{ echo: 'hi' }, ['ETIMEDOUT', undefined], ['EUNREACHABLE', true]]);
  });

  it('fails a request whose peer crashes while it waits as possibly sent', async () => {
    const { s, net, a, b } = setup();
    b.onRequest(() => new Promise(() => {}));
    const results: unknown[] = [];
    s.soon(null, () => void a.request(2, 'x', 1000).catch((e: { code: string; notSent: boolean }) => results.push([e.code, e.notSent])));
    await s.run(10_000);
    net.detach(2);
    await s.run(20_000);
    expect(results).toEqual([['EUNREACHABLE', false]]);
  });

  it('never duplicates a request, only Raft messages', async () => {
    const { s, net, a, b } = setup();
    net.addFaults({ dropP: 0, dupP: 1, reorderP: 0, reorderUsMax: 0, slowUsMax: 0 });
    let requests = 0;
    let batches = 0;
    b.onRequest(() => ++requests);
    b.onMessages(() => batches++);
    s.soon(null, () => {
      a.send(2, [1, MessageType.Heartbeat]);
      void a.request(2, 'once', 1000);
    });
    await s.run(100_000);
    expect([batches, requests]).toEqual([2, 1]);
  });
});

describe("workload classification (jepsen-lite's, which the simulator uses)", () => {
  it('a failed write is surely not applied only with ERR_NO_LEADER or ERR_NOT_BOOTSTRAPPED', () => {
    expect(surelyNotApplied('ERR_NO_LEADER no leader of group 2 answered within 5000 ms')).toBe(true);
    expect(surelyNotApplied('ERR_NOT_BOOTSTRAPPED cluster not bootstrapped yet')).toBe(true);
    expect(surelyNotApplied('ERR_OUTCOME_UNKNOWN outcome unknown: request to node 3 timed out')).toBe(false);
    expect(surelyNotApplied('ERR_NO_LEADERSHIP something else')).toBe(false);
    expect(surelyNotApplied('no leader of group 2 answered')).toBe(false);
  });
});

describe('schedules and shrinking', () => {
  it('generates the same schedule from the same seed, with keys in every group', () => {
    const a = generateSchedule(42, { nodes: 5 });
    expect(generateSchedule(42, { nodes: 5 })).toEqual(a);
    expect(a.keys.length).toBeGreaterThanOrEqual(a.groups);
    expect(a.clients.length).toBe(10);
  });

  it('keeps deleting faults, clients and ops while the failure stays', async () => {
    const s = generateSchedule(3, { nodes: 3 });
    // A stand-in failure: the schedule still holds client 0's third op and some crash.
    const needle = s.clients[0]!.ops[2]!;
    const fails = async (c: Schedule): Promise<boolean> => c.clients.some((cl) => cl.ops.includes(needle)) && c.faults.some((f) => f.kind === 'crash');
    expect(s.faults.some((f) => f.kind === 'crash')).toBe(true);
    const shrunk = await shrinkSchedule(s, fails, { attemptsMax: 500 });
    expect(shrunk.schedule.faults.length).toBe(1);
    expect(shrunk.schedule.clients.flatMap((c) => c.ops)).toEqual([needle]);
  });
});
