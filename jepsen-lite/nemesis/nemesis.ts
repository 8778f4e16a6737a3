/**
 * Runs faults against a live cluster and logs them to nemesis.jsonl: network faults
 * through the link proxies, process faults through signals, clock faults through the
 * nodes' test-only admin endpoint. One fault at a time; `healAll` undoes everything.
 * Joins and drains go to the membership nemesis, which finishes them in the background.
 */
import type { Cluster } from '../cluster/cluster.js';
import { delay } from '../cluster/cluster.js';
import type { NemesisLog, RunClock } from '../history/writer.js';
import type { NemesisEvent } from '../history/types.js';
import type { Rng } from '../random.js';
import { MembershipNemesis } from './membership.js';
import { describeFault, type Fault, type FaultStep, type ProcessTarget } from './schedule.js';
import { bridgeCuts, isolateCuts, majorityRingCuts, partitionCuts } from './topology.js';

/** A fault that is in effect. */
interface Active {
  fault: Fault;
  nodes: number[];
  detail: string;
}

/** Told when a fault starts and when one is healed (the availability probes). */
export interface NemesisObserver {
  faultStarting(): void;
  healed(fault: string, nodes: number[]): void;
}

/** Injects and heals faults. */
export class Nemesis {
  private active: Active | null = null;
  /** Told of fault starts and heals (null: nobody listens). */
  observer: NemesisObserver | null = null;
  /** Faults started so far, by kind. */
  readonly started = new Map<string, number>();
  readonly membership: MembershipNemesis;

  constructor(
    private readonly cluster: Cluster,
    private readonly log: NemesisLog,
    private readonly rng: Rng,
  ) {
    this.membership = new MembershipNemesis(cluster, log, rng.fork(7));
  }

  /** A one-line description of what is in effect now. */
  describe(): string {
    const a = this.active;
    return a === null ? 'none' : `${a.fault.kind} (${a.detail})`;
  }

  /** Starts a fault (healing the current one first). */
  async start(fault: Fault): Promise<void> {
    if (this.active !== null) await this.stop();
    this.started.set(fault.kind, (this.started.get(fault.kind) ?? 0) + 1);
    if (fault.kind === 'join') return this.membership.join(fault.node);
    if (fault.kind === 'drain') return this.membership.drain(fault.node);
    this.observer?.faultStarting();
    const nodes = await this.inject(fault);
    const detail = describeFault(fault) + (nodes.length > 0 ? ` -> nodes ${nodes.join(',')}` : '');
    this.active = { fault, nodes, detail };
    this.log.record({ fault: fault.kind, phase: 'start', nodes, detail, ...clockOffsets(fault) });
  }

  /** Stops the current fault. */
  async stop(): Promise<void> {
    const a = this.active;
    if (a === null) return;
    this.active = null;
    await this.undo(a);
    this.log.record({ fault: a.fault.kind, phase: 'stop', nodes: a.nodes, detail: a.detail, ...clockOffsets(a.fault) });
    this.observer?.healed(a.fault.kind, a.nodes);
  }

  /** Stops the current fault and makes sure every link passes, every node runs, every clock is true. */
  async healAll(): Promise<void> {
    await this.stop();
    this.cluster.network.heal();
    const members = this.cluster.members();
    for (const id of members) {
      if (this.cluster.state(id) === 'paused') this.cluster.resume(id);
      if (this.cluster.state(id) === 'killed') this.cluster.restart(id);
    }
    await Promise.all(members.map((id) => this.setClock(id, 0, 0)));
    this.log.record({ fault: 'heal', phase: 'start', nodes: members, detail: 'heal everything' });
  }

  /** Applies a fault; returns the nodes it hit. */
  private async inject(fault: Fault): Promise<number[]> {
    const net = this.cluster.network;
    const all = this.cluster.members();
    switch (fault.kind) {
      case 'partition':
        net.cut(partitionCuts(fault.halves));
        return fault.halves[0];
      case 'isolate':
        net.cut(isolateCuts(all, [fault.node]));
        return [fault.node];
      case 'isolate-leaders': {
        const leaders = await this.leaders(fault.countMax);
        net.cut(isolateCuts(all, leaders));
        return leaders;
      }
      case 'majority-ring':
        net.cut(majorityRingCuts(fault.ring));
        return all;
      case 'bridge':
        net.cut(bridgeCuts(fault.order));
        return [fault.order[Math.floor(fault.order.length / 2)]!];
      case 'delay':
        net.setAll({ kind: 'delay', delayMs: fault.delayMs, jitterMs: fault.jitterMs });
        return all;
      case 'loss':
        net.setAll({ kind: 'loss', lossP: fault.lossP, stallMs: fault.stallMs, resetP: fault.resetP });
        return all;
      case 'kill': {
        const nodes = await this.targets(fault.target);
        await Promise.all(nodes.map((id) => this.cluster.kill(id)));
        return nodes;
      }
      case 'kill-all': {
        await Promise.all(all.map((id) => this.cluster.kill(id)));
        return all;
      }
      case 'pause': {
        const nodes = await this.targets(fault.target);
        for (const id of nodes) this.cluster.pause(id);
        return nodes;
      }
      case 'clock':
        await Promise.all(fault.offsetsMs.map(([id, ms]) => this.setClock(id, ms, fault.strobeMs)));
        return fault.offsetsMs.map(([id]) => id);
      case 'join':
      case 'drain':
        throw new Error(`${fault.kind} is the membership nemesis's`);
    }
  }

  private async undo(a: Active): Promise<void> {
    switch (a.fault.kind) {
      case 'kill':
        for (const id of a.nodes) this.cluster.restart(id);
        return;
      case 'kill-all': {
        // One by one in the seeded order, each a moment after the previous (a random-order
        // cold start of the whole cluster).
        const order = a.fault.order;
        const rest = a.nodes.filter((id) => !order.includes(id));
        for (const id of [...order.filter((id) => a.nodes.includes(id)), ...rest]) {
          this.cluster.restart(id);
          await delay(100 + this.rng.int(0, 400));
        }
        return;
      }
      case 'pause':
        for (const id of a.nodes) this.cluster.resume(id);
        return;
      case 'clock':
        await Promise.all(a.nodes.map((id) => this.setClock(id, 0, 0)));
        return;
      default:
        this.cluster.network.heal();
    }
  }

  private async targets(t: ProcessTarget): Promise<number[]> {
    return t.kind === 'nodes' ? t.nodes : this.leaders(t.countMax);
  }

  /** The nodes leading the most data groups now (at most `countMax`); a random node if none answers. */
  private async leaders(countMax: number): Promise<number[]> {
    const led = await this.cluster.leaders();
    const ranked = [...led.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0]).map(([id]) => id);
    if (ranked.length === 0) return [this.rng.pick(this.cluster.members())];
    return ranked.slice(0, countMax).sort((a, b) => a - b);
  }

  private async setClock(id: number, offsetMs: number, strobeMs: number): Promise<void> {
    await this.cluster.admin(id, 'POST', `/debug/clock?offsetMs=${offsetMs}&strobeMs=${strobeMs}`);
  }
}

/** A clock fault's offsets for its nemesis.jsonl events (checkExpiry bounds the nodes' clocks with them). */
function clockOffsets(fault: Fault): Pick<NemesisEvent, 'offsetsMs'> {
  return fault.kind === 'clock' ? { offsetsMs: fault.offsetsMs } : {};
}

/** Runs a schedule on the run clock until its end or until `stopped()` says so. */
export async function runSchedule(nemesis: Nemesis, steps: readonly FaultStep[], clock: RunClock, stopped: () => boolean): Promise<void> {
  for (const step of steps) {
    if (!(await waitUntil(clock, step.startMs, stopped))) return;
    await nemesis.start(step.fault);
    const ranFully = await waitUntil(clock, step.stopMs, stopped);
    await nemesis.stop();
    if (!ranFully) return;
  }
}

/** Waits until the run clock reaches `atMs`; false if stopped first. */
async function waitUntil(clock: RunClock, atMs: number, stopped: () => boolean): Promise<boolean> {
  while (clock.nowMs() < atMs) {
    if (stopped()) return false;
    await delay(Math.min(100, atMs - clock.nowMs()));
  }
  return !stopped();
}
